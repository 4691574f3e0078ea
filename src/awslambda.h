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
 * Included by every PostgreSQL-side file, directly or through its area's
 * header.
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
 * Lambda's payload limit in bytes (UTF-8) for an invocation type: 1 MB for
 * "Event", 6 MB otherwise (RequestResponse, DryRun).  Cannot fail.
 */
extern size_t awl_payload_limit(const char *invocation_type);

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

/*
 * The asynchronous side and the statistics declare their own: queue.h,
 * dispatcher.h, deliver.h, flow.h, confine.h, stats.h.
 */

/* in jsonutil.c */
extern void awl_json_validate(const char *json, size_t len, const char *argname);
extern bool awl_json_is_valid(const char *json, size_t len);
extern bool awl_json_get_strings(const char *json, size_t len,
								 const char *const *keys, char **values, int nkeys);


#endif							/* AWSLAMBDA_H */
