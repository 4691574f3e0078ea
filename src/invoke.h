/*-------------------------------------------------------------------------
 *
 * invoke.h
 *	  Lambda Invoke from a backend or the dispatcher: one call, a fan-out, or
 *	  a stream, with the request, result and error types they share.
 *
 * target.c resolves where a call goes, invoke.c builds, signs (signing.c)
 * and sends it (http.c) with its retry rules, reply.c and errors.c read the
 * reply, clock.c keeps AWS's time, stream.c runs the dispatcher's stream.
 *
 * Used, through awslambda.h, by the SQL entry points (awslambda.c, api.c,
 * rds_compat.c, queue.c, queue_check.c, queue_control.c) and the
 * dispatcher (dispatcher.c, pipeline.c, batch.c), which call in; the
 * invoke area calls down (credentials.h, signing.h, http.h, stats.h),
 * never back into its callers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_INVOKE_H
#define AWL_INVOKE_H

#include "postgres.h"

#include "parse.h"
#include "pg_compat.h"

/* ---- in invoke.c: one call or a fan-out, with its retry rules ----------- */

/*
 * Defines the settings of the invoke area (awslambda.endpoint_url,
 * allowed_functions, connect_timeout_ms, request_timeout_ms, max_attempts,
 * max_concurrency); called once from _PG_init.
 */
extern void awl_invoke_define_settings(void);

/* One invocation: what the caller asks for, and what it is sent with. */
typedef struct AwlInvokeRequest
{
	const char *function_name;
	const char *qualifier;		/* NULL: none beyond what the name carries */
	const char *invocation_type;	/* RequestResponse, Event, DryRun */
	const char *log_type;		/* NULL or "None": not sent */
	const char *client_context; /* base64, NULL if none */
	const char *region;			/* NULL: from the ARN or the default chain */
	const char *payload;		/* UTF-8 JSON, already validated */
	size_t		payload_len;
	const char *endpoint_url;	/* NULL: awslambda.endpoint_url (read when
								 * sent) */
	const char *settings_prefix;	/* named in hints; NULL: "awslambda" */
	int			connect_timeout_ms; /* these three: see awl_invoke_request_defaults */
	int			request_timeout_ms; /* 0: none */
	int			max_attempts;	/* 1: no retries */
	bool		allowed_checked;	/* awslambda.allowed_functions already
									 * applied (when queued, by the caller) */
	const char *tenant_id;		/* X-Amz-Tenant-Id, checked; NULL: none */
	const char *durable_execution_name; /* X-Amz-Durable-Execution-Name,
										 * checked; NULL: none */
	bool		retry;			/* a later attempt of the same invocation (statistics) */
} AwlInvokeRequest;

/* A failed invocation, raised at once or kept per row by fan-out. */
typedef struct AwlInvokeError
{
	int			sqlstate;
	char	   *message;
	char	   *detail;			/* NULL if none */
	const char *hint;			/* NULL if none */
	bool		credentials_rejected;	/* expired or unknown credentials: worth
										 * one retry with new ones */
	bool		clock_skewed;	/* refused for clock skew: worth one retry
								 * with the corrected clock */
	bool		retryable;		/* throttled, server error, or nothing sent */
	long		retry_after_ms; /* from Retry-After, 0 if none */
	int			http_status;	/* the API's reply status, 0 if none */
	char	   *throttle_reason;	/* a 429's Reason (which limit), NULL if
									 * none */
} AwlInvokeError;

/* The outcome of one invocation; every string palloc'd in the caller's context. */
typedef struct AwlInvokeResult
{
	int			status_code;
	char	   *payload;		/* response body, NUL-terminated, UTF-8 */
	size_t		payload_len;
	char	   *function_error; /* X-Amz-Function-Error, NULL if none */
	char	   *executed_version;
	char	   *log_result;
	char	   *request_id;
	char	   *durable_execution_arn;	/* X-Amz-Durable-Execution-Arn, NULL if
										 * none */
	AwlInvokeError *error;		/* set instead of the above when it failed */
} AwlInvokeResult;

/*
 * Sets req's connect_timeout_ms, request_timeout_ms and max_attempts from
 * awslambda.connect_timeout_ms, request_timeout_ms and max_attempts: the
 * settings of a call travel in its request.  A caller with settings of its
 * own (aws_lambda.*, the dispatcher's one attempt) overrides them after.
 */
extern void awl_invoke_request_defaults(AwlInvokeRequest *req);

/* awslambda.max_concurrency: how many requests a fan-out keeps in flight. */
extern int	awl_invoke_max_concurrency(void);

/*
 * One invocation, retried as awl_invoke_many says; fills *result (palloc'd
 * in the current context).  Raises the API or transport error (after the
 * retries), and what awl_invoke_check raises; a function error is not
 * raised but returned in result->function_error.
 */
extern void awl_invoke(const AwlInvokeRequest *req, AwlInvokeResult *result);

/*
 * n invocations, at most max_parallel at a time; each result carries its own
 * error unless fail_fast, which raises the first one.  A problem with one
 * reply (an API error, a broken reply, a character the database encoding
 * cannot hold) stays in that result: without fail_fast, only what concerns
 * the whole batch (no credentials, a cancel, out of memory) raises, and the
 * results already complete are then left filled in.
 */
extern void awl_invoke_many(const AwlInvokeRequest *reqs, AwlInvokeResult *results,
							int n, int max_parallel, bool fail_fast);

/* ---- in target.c: where an invocation goes -------------------------------- */

/*
 * Checks what can be checked before sending (name, permission, region) and
 * returns the region the request would go to (palloc'd); raises like a
 * call would: 22023 for a name, region or endpoint configuration Lambda or
 * the SDKs refuse, 42501 when awslambda.allowed_functions does not allow
 * the function, 55000 when there is no region.
 */
extern char *awl_invoke_check(const AwlInvokeRequest *req);

/*
 * Splits a function name (UTF-8) by Lambda's grammar, see parse.h; parts
 * point into name.  Raises 22023 naming the accepted forms when it does
 * not match.
 */
extern void awl_parse_function_name(const char *name, AwlFunctionName *parts);

/* ---- in stream.c: the dispatcher's invocation stream ---------------------- */

/*
 * A stream of invocations for the dispatcher: each starts as soon as a slot
 * is free and is reported as soon as its reply is in, while the others go
 * on, so one slow invocation holds back only its own slot.  Like
 * awl_invoke_many without fail_fast and with max_attempts 1: each result
 * carries its own error; a request refused for clock skew, or for rejected
 * credentials once new ones are to be had, is sent once more first.
 */
typedef struct AwlInvokeStream AwlInvokeStream;
typedef void (*AwlInvokeStreamDone) (void *tag, AwlInvokeResult *result, void *arg);

/* A stream of at most max_parallel invocations in flight; lives as long as the backend. */
extern AwlInvokeStream *awl_invoke_stream_create(int max_parallel);

/*
 * Signs and starts req (an idle slot must exist).  req's strings, result and
 * cxt (where everything of this invocation is allocated) must stay valid
 * until done reports it.  Raises, starting nothing, if it cannot be sent
 * (no credentials, say).
 */
extern void awl_invoke_stream_add(AwlInvokeStream *s, const AwlInvokeRequest *req,
								  AwlInvokeResult *result, MemoryContext cxt, void *tag);

/*
 * Runs the stream for at most wait_ms (see awl_http_stream_drive) and calls
 * done(tag, result, arg) for every invocation whose result is complete
 * (except those kept for awl_invoke_stream_resend).  Returns how many were
 * reported.  After it raises, call awl_invoke_stream_harvest, then
 * awl_invoke_stream_abort: the invocations not reported have no result.
 */
extern int	awl_invoke_stream_poll(AwlInvokeStream *s, long wait_ms, bool wake_on_latch,
								   AwlInvokeStreamDone done, void *arg);

/*
 * Sends once more one of the requests awl_invoke_stream_poll kept for that
 * (refused for clock skew or rejected credentials); false if there is none.
 * Raises if it cannot (no new credentials): then call
 * awl_invoke_stream_resend_failed, and that refusal is its result.
 */
extern bool awl_invoke_stream_resend(AwlInvokeStream *s);

/* After awl_invoke_stream_resend raised: its request keeps its refusal as its result. */
extern void awl_invoke_stream_resend_failed(AwlInvokeStream *s);

/*
 * After an error: hands over every result already complete (those kept for
 * a resend with their refusal), so that awl_invoke_stream_abort ends only
 * what has no answer.
 */
extern int	awl_invoke_stream_harvest(AwlInvokeStream *s, AwlInvokeStreamDone done, void *arg);

/* Ends every invocation in flight without a result. */
extern void awl_invoke_stream_abort(AwlInvokeStream *s);

/*
 * How many more invocations may start now (slots neither in flight nor
 * holding a result to resend), and how many are in flight.
 */
extern int	awl_invoke_stream_idle_slots(const AwlInvokeStream *s);
extern int	awl_invoke_stream_running(const AwlInvokeStream *s);

/* ---- in errors.c: API and transport errors as SQLSTATEs ------------------ */

/* Raises err as an ERROR: its SQLSTATE, message, detail and hint. */
pg_noreturn extern void awl_invoke_raise(const AwlInvokeError *err);

/*
 * Raises a function error (result->function_error set) as 38000, with the
 * errorType and errorMessage of the payload and the payload in DETAIL.
 */
pg_noreturn extern void awl_raise_function_error(const char *function_name,
												 const AwlInvokeResult *result);

/* ---- in reply.c: what a successful reply holds ---------------------------- */

/*
 * The 08P01 error for a successful result whose payload is not JSON (palloc'd,
 * the payload's start in DETAIL); raises nothing.
 */
extern AwlInvokeError *awl_non_json_error(const char *function_name,
										  const AwlInvokeResult *result);

/*
 * NULL if a successful result's payload (in the database encoding) can
 * become a jsonb value; otherwise the error, without raising: 08P01 when it
 * is not JSON (or has a lone UTF-16 surrogate escape), 22P05 for \u0000 or
 * an escaped character the database encoding cannot hold.
 */
extern AwlInvokeError *awl_jsonb_payload_error(const char *function_name,
											   const AwlInvokeResult *result);

#endif							/* AWL_INVOKE_H */
