/*-------------------------------------------------------------------------
 *
 * awslambda.h
 *	  Types, settings and cross-file prototypes of the awslambda extension.
 *
 * Data flows one way: SQL entry point (awslambda.c, api.c, rds_compat.c) ->
 * invoke.h (target.c, invoke.c, signing.c) -> credentials.h + sigv4.c ->
 * http.c -> reply.c, errors.c (interpret) -> result.  The invoke area's
 * API (invoke.h) is included here for every SQL entry point and the
 * dispatcher.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWSLAMBDA_H
#define AWSLAMBDA_H

#include "postgres.h"

#include <time.h>

#include "utils/jsonb.h"

#include "invoke.h"
#include "parse.h"
#include "pg_compat.h"

/* AWL_VERSION, the extension's version, comes from awslambda.control (Makefile). */
#ifndef AWL_VERSION
#error "AWL_VERSION must be defined by the build (see Makefile)"
#endif

/* Settings, defined in awslambda.c */
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
