/*-------------------------------------------------------------------------
 *
 * awslambda.h
 *	  Types, settings and cross-file prototypes of the awslambda extension.
 *
 * Data flows one way: SQL entry point (awslambda.c) -> invoke.c ->
 * credentials.c + sigv4.c -> http.c -> invoke.c (interpret) -> result.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWSLAMBDA_H
#define AWSLAMBDA_H

#include "postgres.h"

#include <time.h>

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "parse.h"
#include "pg_compat.h"

/* AWL_VERSION, the extension's version, comes from awslambda.control (Makefile). */
#ifndef AWL_VERSION
#error "AWL_VERSION must be defined by the build (see Makefile)"
#endif

/* Settings, defined in awslambda.c */
extern char *awl_region;
extern char *awl_endpoint_url;
extern char *awl_imds_endpoint;
extern bool awl_imds_v1_fallback;
extern char *awl_profile;
extern int	awl_credential_process_timeout_ms;
extern char *awl_sts_endpoint;
extern char *awl_allowed_functions;
extern char *awl_ca_file;
extern int	awl_connect_timeout_ms;
extern int	awl_request_timeout_ms;
extern int	awl_max_concurrency;
extern int	awl_max_attempts;
/* Asynchronous invocations (queue.c, dispatcher.c, deliver.c) */
typedef enum AwlAsyncMode
{
	AWL_ASYNC_EVENT,			/* queued, sent as Event after commit */
	AWL_ASYNC_REQUEST_RESPONSE, /* queued, sent as RequestResponse, result kept */
	AWL_ASYNC_IMMEDIATE			/* sent as Event inside the statement */
} AwlAsyncMode;
extern int	awl_async_mode;
extern int	awl_async_max_attempts;
extern int	awl_async_retention_s;
extern int	awl_async_callback_timeout_ms;
extern bool awl_preloaded;

/* in credentials.c */
typedef struct AwlCredentials
{
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;	/* NULL for long-term keys */
	time_t		expiration;		/* 0: does not expire */
	const char *source;			/* which provider, for introspection */
} AwlCredentials;

extern void awl_credentials_get(AwlCredentials *out);
extern void awl_credentials_reset(void);

/*
 * Forgets the cached credentials because AWS rejected them (an expired or
 * unknown token or key), so the next call fetches new ones; does so at most
 * once a minute per backend, so that a loop of rejected calls does not ask
 * the provider each time.  Returns whether they were forgotten.
 */
extern bool awl_credentials_rejected(void);
extern bool awl_credentials_refreshable(void);
extern const char *awl_default_region(void);
extern const char *awl_default_region_or_null(void);
extern const char *awl_region_for_sts(void);
extern bool awl_region_is_valid(const char *region);

/* in process.c */
/*
 * Runs command with /bin/sh -c and collects its stdout, at most max_output
 * bytes, within timeout_ms (> 0).  True when the helper ended on its own:
 * *output (palloc'd, NUL-terminated; the caller wipes it), *len, and its wait
 * status in *status.  False with *why (naming what) when it could not be
 * started, printed too much or ran out of time, and has been killed.  A
 * cancel, statement_timeout or termination is raised as usual, the helper's
 * process group killed first.
 */
extern bool awl_run_helper(const char *what, const char *command, int timeout_ms,
						   size_t max_output, char **output, size_t *len, int *status,
						   char **why);

/* in awsconfig.c */
extern char *awl_config_file_path(bool credentials_file);
extern char *awl_config_value(const char *profile, const char *key, bool *profile_exists);
extern const char *awl_profile_name(bool *explicit_choice);
/*
 * The value of key in the service's block of the config file's
 * "[services SECTION]" section, palloc'd, or NULL; *section_exists says
 * whether that section is there at all.
 */
extern char *awl_config_services_value(const char *section, const char *service,
									   const char *key, bool *section_exists);

/* in sts.c */
extern bool awl_sts_assume_role(const char *region, const char *role_arn,
								const char *session_name, const char *external_id,
								const AwlCredentials *source, AwlCredentials *out,
								char **why);
extern bool awl_sts_assume_role_with_web_identity(const char *region, const char *role_arn,
												  const char *session_name,
												  const char *token,
												  AwlCredentials *out, char **why);

/* in endpoint.c */
/*
 * Where a request for region goes: override (awslambda.endpoint_url or
 * aws_lambda.endpoint_override; NULL or empty for none) as given; else the
 * endpoint URL configured for the AWS SDKs (AWS_ENDPOINT_URL_LAMBDA,
 * AWS_ENDPOINT_URL, the profile's services section, its endpoint_url);
 * else Lambda's endpoint in the region's partition, FIPS and dual-stack as
 * configured.  Sets *base_url (scheme://authority) and *host (the
 * authority), palloc'd.  Raises 22023 for a configuration the SDKs refuse
 * too (an invalid URL or boolean, FIPS or dual-stack with a configured
 * URL, a missing services section).
 */
extern void awl_endpoint_resolve(const char *override, const char *region,
								 char **base_url, char **host);

/* in invoke.c */
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
	const char *endpoint_url;	/* NULL: awslambda.endpoint_url */
	const char *settings_prefix;	/* named in hints; NULL: "awslambda" */
	int			connect_timeout_ms;
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

/* One invocation; raises on transport and API errors (not function errors). */
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
extern char *awl_invoke_check(const AwlInvokeRequest *req);

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

/* How many more invocations may start now, and how many are in flight. */
extern int	awl_invoke_stream_idle_slots(const AwlInvokeStream *s);
extern int	awl_invoke_stream_running(const AwlInvokeStream *s);

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
 * Splits a function name (UTF-8) by Lambda's grammar, see parse.h; raises
 * 22023 naming the accepted forms when it does not match.
 */
extern void awl_parse_function_name(const char *name, awl_function_name *parts);
pg_noreturn extern void awl_invoke_raise(const AwlInvokeError *err);
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
pg_noreturn extern void awl_raise_function_error(const char *function_name,
												 const AwlInvokeResult *result);

/* in api.c: argument checks shared with the compatibility functions */
extern void awl_check_invocation_type(const char *value);
extern void awl_check_payload_size(const char *invocation_type, size_t len);

/*
 * The error awl_check_payload_size raises (22023, the limit in DETAIL), or
 * NULL when the payload is within the limit; raises nothing.
 */
extern AwlInvokeError *awl_payload_size_error(const char *invocation_type, size_t len);

/*
 * Raise 22023 unless the value is a valid X-Amz-Tenant-Id (1 to 256 of
 * [a-zA-Z0-9._:/=+-@ ], not beginning or ending with a space, which HTTP
 * would drop) or X-Amz-Durable-Execution-Name (1 to 64 of [a-zA-Z0-9_-]).
 */
extern void awl_check_tenant_id(const char *value);
extern void awl_check_durable_execution_name(const char *value);
extern void awl_check_log_type(const char *value);
/*
 * Raises 22023 unless qualifier is a valid Invoke Qualifier, function_name
 * matches Lambda's grammar, and the name carries no other qualifier.
 */
extern void awl_check_qualifier(const char *function_name, const char *qualifier);
extern const char *awl_encode_client_context(Jsonb *cc, const char *argname);

/*
 * in rds_compat.c: Amazon RDS/Aurora's aws_lambda.invoke (the SQL functions
 * aws_lambda_invoke and aws_lambda_invoke_arn of extension aws_lambda)
 */

/*
 * Defines the aws_lambda.* settings, which apply to aws_lambda.invoke only:
 * connect_timeout_ms and request_timeout_ms (user-settable) and
 * endpoint_override (superuser; a bare host means https), and reserves the
 * prefix.  Called once, from _PG_init; raises only if PostgreSQL does.
 */
extern void awl_rds_define_settings(void);

/* in flow.c: awslambda.async_function_limits and awslambda.async_batch_sizes */
extern char *awl_async_function_limits;
extern char *awl_async_batch_sizes;

/*
 * Is value a valid awslambda.async_function_limits (or, with batch_sizes,
 * awslambda.async_batch_sizes)?  *why says what is wrong.
 */
extern bool awl_flow_check(const char *value, bool batch_sizes, const char **why);

/*
 * The limit group of a queued function name: the first pattern of the
 * setting that matches it (0, 1, ...), or -1 for none.
 */
extern int	awl_flow_group(const char *function_name);

/* How many invocations of a group may be in flight at once (INT_MAX for -1). */
extern int	awl_flow_limit(int group);

/* How many groups the setting has. */
extern int	awl_flow_groups(void);

/* How many invocations of the function one micro-batch may carry (1: none). */
extern int	awl_flow_batch_size(const char *function_name);

/* in queue.c */
extern Oid	awl_queue_find(bool missing_ok);
extern Oid	awl_queue_find_pending(Oid queue_relid);
extern char *awl_queue_name(Oid relid);
extern void awl_queue_wake_at_commit(void);
extern void awl_queue_init(void);
extern void awl_queue_guard_begin(Oid relid);
extern void awl_queue_guard_begin_pair(Oid relid, Oid pending);
extern void awl_queue_guard_end(void);
/*
 * Invocations this transaction queued for later (due at due), or rows of the
 * pending table it locked (a claim's FOR UPDATE SKIP LOCKED passes them: a
 * fresh one of key queued_xact, 0 for one due by time at due), may lie
 * behind the dispatcher's cursors once it ends: at its end (commit or
 * abort), the dispatcher is told to look again from there.  PG_UINT64_MAX /
 * DT_NOEND: nothing of that kind.  A prepared transaction's end makes the
 * dispatcher look at its whole queue (dispatcher.c).
 */
extern void awl_queue_rewind_at_end(uint64 queued_xact, TimestampTz due);

/* in confine.c: the dispatcher's session, and user code run from it */
typedef struct AwlConfinement
{
	Oid			save_user;
	int			save_sec;
	int			nest_level;
} AwlConfinement;

extern void awl_confine_capture(void);
extern void awl_confine_session(void);
extern void awl_confine_enter(Oid role, AwlConfinement *c);
extern void awl_confine_leave(AwlConfinement *c);

/* in dispatcher.c */
extern void awl_dispatcher_init(void);
extern bool awl_dispatcher_available(void);
extern void awl_dispatcher_wake(Oid dboid);
/* The dispatcher of dboid looks again from these keys (see awl_queue_rewind_at_end). */
extern void awl_dispatcher_rewind(Oid dboid, uint64 fresh_xact, TimestampTz due);
/* In a dispatcher: the requests of awl_dispatcher_rewind for its database, if any. */
extern bool awl_dispatcher_take_rewind(uint64 *fresh_xact, TimestampTz *due);
extern bool awl_dispatcher_callback_begin(const char *id);
extern void awl_dispatcher_callback_end(void);

/* in deliver.c: the dispatcher's work on one database's queue */
extern bool awl_deliver_open(void);
extern bool awl_deliver_held(void);
extern void awl_deliver_recover(void);
extern int	awl_deliver_claim(int limit, bool *more, bool *limited);
extern int	awl_deliver_pump(long wait_ms, bool wake_on_latch, bool *with_callbacks,
							 bool *requeued);
extern int	awl_deliver_in_pipeline(void);
extern void awl_deliver_drain(void);
extern int	awl_deliver_callbacks(int limit);
extern void awl_deliver_cleanup(void);
extern long awl_deliver_next_due_ms(long cap_ms);

/* in jsonutil.c */
extern void awl_json_validate(const char *json, size_t len, const char *argname);
extern bool awl_json_is_valid(const char *json, size_t len);
extern bool awl_json_get_strings(const char *json, size_t len,
								 const char *const *keys, char **values, int nkeys);


#endif							/* AWSLAMBDA_H */
