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
/* aws_lambda.* settings of the RDS/Aurora-compatible functions */
extern char *awl_compat_endpoint_override;
extern int	awl_compat_connect_timeout_ms;
extern int	awl_compat_request_timeout_ms;

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

/* in sts.c */
extern bool awl_sts_assume_role(const char *region, const char *role_arn,
								const char *session_name, const char *external_id,
								const AwlCredentials *source, AwlCredentials *out,
								char **why);
extern bool awl_sts_assume_role_with_web_identity(const char *region, const char *role_arn,
												  const char *session_name,
												  const char *token,
												  AwlCredentials *out, char **why);

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
extern void awl_check_log_type(const char *value);
/*
 * Raises 22023 unless qualifier is a valid Invoke Qualifier, function_name
 * matches Lambda's grammar, and the name carries no other qualifier.
 */
extern void awl_check_qualifier(const char *function_name, const char *qualifier);
extern const char *awl_encode_client_context(Jsonb *cc, const char *argname);

/* in queue.c */
extern Oid	awl_queue_find(bool missing_ok);
extern Oid	awl_queue_find_pending(Oid queue_relid);
extern char *awl_queue_name(Oid relid);
extern void awl_queue_wake_at_commit(void);
extern void awl_queue_init(void);
extern void awl_queue_guard_begin(Oid relid);
extern void awl_queue_guard_begin_pair(Oid relid, Oid pending);
extern void awl_queue_guard_end(void);

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
extern bool awl_dispatcher_callback_begin(const char *id);
extern void awl_dispatcher_callback_end(void);

/* in deliver.c: the dispatcher's work on one database's queue */
extern bool awl_deliver_open(void);
extern bool awl_deliver_held(void);
extern void awl_deliver_recover(void);
extern int	awl_deliver_batch(int limit, bool *with_callbacks);
extern int	awl_deliver_callbacks(int limit);
extern void awl_deliver_cleanup(void);
extern long awl_deliver_next_due_ms(long cap_ms);

/* in jsonutil.c */
extern void awl_json_validate(const char *json, size_t len, const char *argname);
extern bool awl_json_is_valid(const char *json, size_t len);
extern bool awl_json_get_strings(const char *json, size_t len,
								 const char *const *keys, char **values, int nkeys);

#endif							/* AWSLAMBDA_H */
