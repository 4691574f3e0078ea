/*-------------------------------------------------------------------------
 *
 * invoke.c
 *	  Lambda Invoke: one call or a fan-out, built, signed and sent, with the
 *	  rules for sending a request again.
 *
 * A batch of requests goes to http.c at once: each is signed just before
 * it starts (so the signature is fresh) and its reply interpreted as soon
 * as it is in (reply.c, errors.c).  Requests that failed in a way worth
 * another try go again in a later round, within the budget the retry rules
 * below give each of them.  The invoke area's settings of a call travel in
 * its request (awl_invoke_request_defaults).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <time.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "invoke_int.h"

/* Settings */
static int	connect_timeout_ms = 5000;
static int	request_timeout_ms = 905000;
static int	max_concurrency = 16;
static int	max_attempts = 3;

void
awl_invoke_define_settings(void)
{
	awl_target_define_settings();

	DefineCustomIntVariable("awslambda.connect_timeout_ms",
							"Sets the maximum time to establish a connection to Lambda.",
							NULL,
							&connect_timeout_ms,
							5000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.request_timeout_ms",
							"Sets the maximum time for a whole Lambda request, including the function's run time.",
							"Zero means no limit other than statement_timeout.",
							&request_timeout_ms,
							905000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.max_attempts",
							"Sets how many times a throttled or failed Lambda call is tried in all.",
							"Retried: throttling (429), server errors (500, 502-504) and connections that could not be made; never a call that may have reached the function. 1 means no retries.",
							&max_attempts,
							3, 1, 10,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.max_concurrency",
							"Sets how many requests one fan-out call keeps in flight at once.",
							NULL,
							&max_concurrency,
							16, 1, 1024,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

void
awl_invoke_request_defaults(AwlInvokeRequest *req)
{
	req->connect_timeout_ms = connect_timeout_ms;
	req->request_timeout_ms = request_timeout_ms;
	req->max_attempts = max_attempts;
}

int
awl_invoke_max_concurrency(void)
{
	return max_concurrency;
}

/*
 * The retry rules of an invocation, in one place.
 *
 * A request is sent again only when the reply says it was not carried out,
 * and only within its budget:
 *	 - refused for clock skew (see clock.c): once, signed with the corrected
 *	   clock;
 *	 - refused because the credentials are expired or unknown: once, with
 *	   freshly fetched ones, and only when new ones can be had (not the
 *	   environment's keys) and were in fact fetched (at most once a minute
 *	   per backend, see awl_credentials_rejected); other 403s (access
 *	   denied) keep the cached credentials and are final;
 *	 - throttled (429), a server error (500, 502-504, but not Lambda's
 *	   configuration errors) or a connection that could not be made (nothing
 *	   sent): again after a backoff, up to max_attempts in all.
 * Anything else, and anything that may have reached the function (a
 * timeout, a broken reply), is final: it is never sent twice.  A fan-out
 * with fail_fast raises a request's error as soon as it is final; the
 * dispatcher's stream (stream.c) uses the first two rules and leaves the
 * third to the queue's own backoff.
 */
AwlRetry
awl_retry_for(const AwlInvokeError *err, const AwlRetryBudget *budget)
{
	if (err == NULL)
		return AWL_RETRY_NONE;
	if (err->clock_skewed && budget->skew)
		return AWL_RETRY_SKEW;
	if (err->credentials_rejected && budget->credentials)
		return AWL_RETRY_CREDENTIALS;
	if (err->retryable && budget->attempts > 0)
		return AWL_RETRY_BACKOFF;
	return AWL_RETRY_NONE;
}

void
awl_batch_start(int i, AwlHttpRequest *hreq, void *arg)
{
	AwlInvokeBatch *b = (AwlInvokeBatch *) arg;
	const AwlInvokeRequest *req = &b->reqs[i];
	const AwlInvokeTarget *t = &b->targets[i];
	AwlSignedHeaders *h = palloc(sizeof(AwlSignedHeaders));

	b->offsets[i] = awl_clock_offset();
	awl_signed_begin(h, t->host, time(NULL) + b->offsets[i]);
	awl_signed_add(h, "X-Amz-Invocation-Type", req->invocation_type);
	if (req->log_type && strcmp(req->log_type, "None") != 0)
		awl_signed_add(h, "X-Amz-Log-Type", req->log_type);
	if (req->client_context)
		awl_signed_add(h, "X-Amz-Client-Context", req->client_context);
	if (req->tenant_id)
		awl_signed_add(h, "X-Amz-Tenant-Id", req->tenant_id);
	if (req->durable_execution_name)
		awl_signed_add(h, "X-Amz-Durable-Execution-Name", req->durable_execution_name);
	awl_signed_finish(h, "POST", t->path, t->query, req->payload, req->payload_len,
					  &b->cred, t->region, "lambda", "Lambda");
	b->headers[i] = h;

	hreq->method = "POST";
	hreq->url = t->query ? psprintf("%s%s?%s", t->base_url, t->path, t->query)
		: psprintf("%s%s", t->base_url, t->path);
	hreq->headers = (const char *const *) h->lines;
	hreq->nheaders = h->nlines;
	hreq->body = req->payload;
	hreq->body_len = req->payload_len;
	hreq->connect_timeout_ms = req->connect_timeout_ms;
	hreq->timeout_ms = req->request_timeout_ms;
	hreq->max_response = MAX_RESPONSE_BYTES;
	hreq->direct = true;
	awl_stats_start(&b->stats[i]);
}

void
awl_batch_wipe(AwlInvokeBatch *b, int i)
{
	if (b->headers[i] == NULL)
		return;
	awl_signed_wipe(b->headers[i]);
	b->headers[i] = NULL;
}

void
awl_batch_finish(int i, AwlHttpResponse *resp, void *arg)
{
	AwlInvokeBatch *b = (AwlInvokeBatch *) arg;
	const AwlInvokeRequest *req = &b->reqs[i];
	AwlInvokeResult *result = &b->results[i];

	awl_batch_wipe(b, i);
	memset(result, 0, sizeof(*result));

	if (resp->failure != AWL_HTTP_OK)
		result->error = awl_transport_error(req->function_name, &b->targets[i], resp,
											req->settings_prefix ? req->settings_prefix : "awslambda");
	else if (resp->status < 200 || resp->status > 299)
	{
		char	   *code = NULL;

		result->error = awl_api_error(req->function_name, resp, &code);
		if (awl_clock_skewed(resp, code, b->offsets[i], "Lambda"))
		{
			/* The clock, not the credentials: send again with the corrected one. */
			result->error->clock_skewed = true;
			result->error->credentials_rejected = false;
		}
		if (result->error->credentials_rejected)
			b->reset_credentials = true;	/* expired or revoked: fetch anew */
	}
	else
		awl_reply_result(req->function_name, resp, result);

	awl_stats_count(&b->stats[i], req, b->targets[i].region, b->async, resp, result);
	if (result->error && b->fail_fast &&
		awl_retry_for(result->error, &b->budget) == AWL_RETRY_NONE)
		awl_invoke_raise(result->error);
}

void
awl_batch_count_abandoned(AwlInvokeBatch *b, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		awl_stats_count(&b->stats[i], &b->reqs[i], b->targets[i].region, b->async, NULL, NULL);
}

/*
 * Sends one round of requests with the credentials at hand, each allowed
 * what budget says (for fail_fast: which errors are not final yet).
 * Returns whether the cached credentials were forgotten because AWS
 * rejected them (at most once a minute, see awl_credentials_rejected).
 */
static bool
run_round(const AwlInvokeRequest *reqs, AwlInvokeResult *results, int n,
		  int max_parallel, bool fail_fast, const AwlRetryBudget *budget)
{
	AwlInvokeBatch b = {0};
	int			i;

	b.reqs = reqs;
	b.results = results;
	b.fail_fast = fail_fast;
	b.budget = *budget;
	b.offsets = palloc0(n * sizeof(long));
	b.targets = palloc0(n * sizeof(AwlInvokeTarget));
	b.headers = palloc0(n * sizeof(AwlSignedHeaders *));
	b.stats = palloc0(n * sizeof(AwlStatsAttempt));

	/* Everything that may need instance metadata happens before the batch runs. */
	for (i = 0; i < n; i++)
		awl_target_resolve(&reqs[i], &b.targets[i]);
	awl_credentials_get(&b.cred);

	PG_TRY();
	{
		awl_http_perform_many(n, max_parallel, awl_batch_start, awl_batch_finish, &b);
	}
	PG_CATCH();
	{
		awl_batch_count_abandoned(&b, n);
		for (i = 0; i < n; i++)
			awl_batch_wipe(&b, i);
		if (b.reset_credentials)
			(void) awl_credentials_rejected();
		PG_RE_THROW();
	}
	PG_END_TRY();
	return b.reset_credentials && awl_credentials_rejected();
}

/*
 * Sends again the items whose error select allows to retry for the reason
 * why, each with the budget next; their new results replace the old.
 * Returns how many were sent.
 */
static int
resend(const AwlInvokeRequest *reqs, AwlInvokeResult *results, int n, int max_parallel,
	   bool fail_fast, AwlRetry why, const AwlRetryBudget *select,
	   const AwlRetryBudget *next)
{
	AwlInvokeRequest *again = palloc(n * sizeof(AwlInvokeRequest));
	AwlInvokeResult *again_results = palloc0(n * sizeof(AwlInvokeResult));
	int		   *index = palloc(n * sizeof(int));
	int			nagain = 0;
	int			i;

	for (i = 0; i < n; i++)
		if (results[i].error && awl_retry_for(results[i].error, select) == why)
		{
			again[nagain] = reqs[i];
			again[nagain].retry = true;
			index[nagain++] = i;
		}
	if (nagain > 0)
	{
		(void) run_round(again, again_results, nagain, max_parallel, fail_fast, next);
		for (i = 0; i < nagain; i++)
			results[index[i]] = again_results[i];
	}
	pfree(again);
	pfree(again_results);
	pfree(index);
	return nagain;
}

/*
 * Waits before attempt number "attempt" (2, 3, ...): full jitter over an
 * exponential cap (1 s, 2 s, 4 s, ... at most 20 s) as in the SDKs'
 * standard mode, but at least what Retry-After asked for.  The wait is a
 * latch wait, so a cancel or statement_timeout ends it at once.
 */
static void
backoff(int attempt, long retry_after_ms)
{
	long		cap = Min(20000L, 1000L << Min(attempt - 2, 5));
	long		delay = (long) (pg_prng_double(&pg_global_prng_state) * cap);
	TimestampTz until;

	delay = Min(Max(delay, retry_after_ms), 20000L);
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, awl_wait_event(AWL_WAIT_BACKOFF));
		ResetLatch(MyLatch);
	}
}

/*
 * The rounds of a batch, by the retry rules above: the first round; the
 * requests refused for clock skew, once more; those whose credentials were
 * rejected, once more if new ones were fetched; then, while attempts
 * remain, the retryable ones after a backoff.
 */
void
awl_invoke_many(const AwlInvokeRequest *reqs, AwlInvokeResult *results, int n,
				int max_parallel, bool fail_fast)
{
	int			attempts = Max(1, reqs[0].max_attempts);
	AwlRetryBudget first = {true, awl_credentials_refreshable(), attempts - 1};
	AwlRetryBudget resent = {false, false, attempts - 1};
	int			attempt = 1;
	int			i;

	if (n <= 0)
		return;
	/* Rejected credentials are sent again only when new ones were fetched. */
	first.credentials = run_round(reqs, results, n, max_parallel, fail_fast, &first) &&
		first.credentials;
	resend(reqs, results, n, max_parallel, fail_fast, AWL_RETRY_SKEW, &first, &resent);
	resend(reqs, results, n, max_parallel, fail_fast, AWL_RETRY_CREDENTIALS, &first, &resent);

	while (attempt < attempts)
	{
		AwlRetryBudget left = {false, false, attempts - attempt};
		AwlRetryBudget next = {false, false, attempts - attempt - 1};
		long		retry_after = 0;
		bool		any = false;

		for (i = 0; i < n; i++)
			if (awl_retry_for(results[i].error, &left) == AWL_RETRY_BACKOFF)
			{
				any = true;
				retry_after = Max(retry_after, results[i].error->retry_after_ms);
			}
		if (!any)
			break;
		attempt++;
		backoff(attempt, retry_after);
		/* Errors of a retry are raised below, once they carry the attempt count. */
		resend(reqs, results, n, max_parallel, false, AWL_RETRY_BACKOFF, &left, &next);
	}

	for (i = 0; i < n; i++)
	{
		AwlInvokeError *err = results[i].error;

		if (err && err->retryable && attempt > 1)
			err->detail = psprintf("%s (gave up after %d attempts)",
								   err->detail ? err->detail : "", attempt);
		if (err && fail_fast)
			awl_invoke_raise(err);
	}
}

void
awl_invoke(const AwlInvokeRequest *req, AwlInvokeResult *result)
{
	awl_invoke_many(req, result, 1, 1, true);
}
