/*-------------------------------------------------------------------------
 *
 * invoke_int.h
 *	  What the files of the invoke area share among themselves (target.c,
 *	  invoke.c, stream.c, reply.c, errors.c, clock.c); nothing outside the
 *	  area includes it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_INVOKE_INT_H
#define AWL_INVOKE_INT_H

#include "awslambda.h"
#include "credentials.h"
#include "http.h"
#include "signing.h"
#include "stats.h"

/* Lambda's synchronous response limit is 6 MB; leave room for error documents. */
#define MAX_RESPONSE_BYTES	(8 * 1024 * 1024)
/* Bounds of remote text kept: error codes, request ids, versions; messages; log tails. */
#define MAX_REMOTE_ID		256
#define MAX_REMOTE_MESSAGE	4096
#define MAX_LOG_RESULT		16384	/* Lambda sends 4 KB, 5464 bytes in base64 */
#define MAX_REMOTE_ARN		2048	/* a durable execution ARN has at most 1024 */

/* Where one invocation goes. */
typedef struct AwlInvokeTarget
{
	char	   *region;
	char	   *base_url;		/* scheme://authority, no trailing slash */
	char	   *host;			/* authority as sent in Host */
	char	   *path;			/* wire path, encoded */
	char	   *query;			/* wire query or NULL */
} AwlInvokeTarget;

/* ---- in target.c ---------------------------------------------------------- */

/* Defines awslambda.endpoint_url and awslambda.allowed_functions. */
extern void awl_target_define_settings(void);

/*
 * Resolves region, endpoint and path of req into *t (palloc'd); raises as
 * awl_invoke_check says.
 */
extern void awl_target_resolve(const AwlInvokeRequest *req, AwlInvokeTarget *t);

/* ---- in invoke.c: the retry rules and the batch machinery ----------------- */

/* What an invocation may still be sent again for; see invoke.c for the rules. */
typedef struct AwlRetryBudget
{
	bool		skew;			/* once, signed with the corrected clock */
	bool		credentials;	/* once, with newly fetched credentials */
	int			attempts;		/* attempts left for a retryable error */
} AwlRetryBudget;

typedef enum AwlRetry
{
	AWL_RETRY_NONE,				/* the error is final */
	AWL_RETRY_SKEW,				/* refused for clock skew */
	AWL_RETRY_CREDENTIALS,		/* the credentials were rejected */
	AWL_RETRY_BACKOFF			/* throttled, server error, not connected */
} AwlRetry;

/* The one predicate: whether err may be sent again within budget, and why. */
extern AwlRetry awl_retry_for(const AwlInvokeError *err, const AwlRetryBudget *budget);

/* What one batch of invocations (or a stream's slots) shares while libcurl runs it. */
typedef struct AwlInvokeBatch
{
	const AwlInvokeRequest *reqs;
	AwlInvokeResult *results;
	AwlInvokeTarget *targets;
	AwlCredentials cred;
	AwlSignedHeaders **headers; /* per request: its lines, wiped when done */
	bool		fail_fast;
	AwlRetryBudget budget;		/* what a failed request may still be sent for */
	long	   *offsets;		/* per request: the clock correction it was signed with */
	bool		reset_credentials;
	bool		async;			/* the dispatcher's stream (statistics) */
	AwlStatsAttempt *stats;		/* per request: its attempt being timed */
} AwlInvokeBatch;

/* AwlHttpStart: builds and signs request i of the batch arg just before it is sent. */
extern void awl_batch_start(int i, AwlHttpRequest *hreq, void *arg);

/*
 * AwlHttpDone: interprets the reply to request i into its result; with
 * fail_fast, raises its error unless the budget allows sending it again.
 */
extern void awl_batch_finish(int i, AwlHttpResponse *resp, void *arg);

/* Zeroes and forgets the header lines (token, signature) of request i. */
extern void awl_batch_wipe(AwlInvokeBatch *b, int i);

/* Counts the first n attempts of b still in flight as abandoned (statistics; never raises). */
extern void awl_batch_count_abandoned(AwlInvokeBatch *b, int n);

/* ---- in errors.c ---------------------------------------------------------- */

/* A new error (palloc'd; the strings are taken, not copied). */
extern AwlInvokeError *awl_invoke_error(int sqlstate, char *message, char *detail,
										const char *hint);

/*
 * The error for a non-2xx reply from the Lambda API, its SQLSTATE by status
 * and error code (README "Errors"), whether it is retryable or says the
 * credentials were rejected; *code_out is the short error code or NULL.
 */
extern AwlInvokeError *awl_api_error(const char *function_name, const AwlHttpResponse *resp,
									 char **code_out);

/* The error for a transfer that did not produce a reply; settings names the hint's prefix. */
extern AwlInvokeError *awl_transport_error(const char *function_name, const AwlInvokeTarget *t,
										   const AwlHttpResponse *resp, const char *settings);

/*
 * Remote text made safe for messages and columns (control characters and,
 * unless the server encoding holds UTF-8, non-ASCII become '?') and at most
 * max bytes long, cut at a character boundary with "..."; in place, NULL
 * stays NULL.
 */
extern char *awl_bounded_remote_text(char *s, size_t max);

/* A reply header's value, bounded and sanitized (palloc'd), or NULL if absent. */
extern char *awl_remote_header(const AwlHttpResponse *resp, const char *name, size_t max);

/* ---- in reply.c ----------------------------------------------------------- */

/*
 * Fills *result from a 2xx reply: the payload converted to the database
 * encoding and the headers, bounded; or result->error when the body is not
 * valid UTF-8 or holds a character the database encoding cannot hold.
 * Raises nothing but out of memory.
 */
extern void awl_reply_result(const char *function_name, const AwlHttpResponse *resp,
							 AwlInvokeResult *result);

#endif							/* AWL_INVOKE_INT_H */
