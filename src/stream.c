/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  The dispatcher's stream of invocations (awl_invoke_stream_*): each
 *	  starts as soon as a slot is free and is reported as soon as its reply
 *	  is in.
 *
 * It runs the batch machinery of invoke.c (signing, interpreting, the
 * statistics) one slot at a time on an HTTP stream of http_stream.c, and
 * sends a request once more by the first two retry rules of invoke.c
 * (clock skew, rejected credentials); the third is the queue's backoff.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "invoke_int.h"

/*
 * A stream of invocations: the batch machinery of invoke.c, slot by slot.  Each
 * slot holds a copy of its request, its target, its signed header lines and
 * the clock correction it was signed with, as AwlInvokeBatch does per request.
 */
struct AwlInvokeStream
{
	AwlHttpStream *http;
	AwlInvokeBatch b;				/* indexed by slot */
	AwlInvokeRequest *reqs;		/* b.reqs */
	AwlInvokeResult **out;		/* where each slot's result goes */
	void	  **tags;
	MemoryContext *cxts;
	uint64	   *signed_with;	/* the credentials generation of each slot */
	bool	   *busy;
	bool	   *answered;		/* complete, not yet handed over */
	bool	   *resent;			/* already sent a second time */
	bool	   *resend;			/* to be sent again by awl_invoke_stream_resend */
	int			nresend;
	int			resending;		/* the slot awl_invoke_stream_resend is starting, or -1 */
	uint64		generation;		/* bumped when rejected credentials are forgotten */
	int			nslots;
};

AwlInvokeStream *
awl_invoke_stream_create(int max_parallel)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	AwlInvokeStream *s = palloc0(sizeof(AwlInvokeStream));
	int			n;

	s->http = awl_http_stream_create(max_parallel);
	n = s->nslots = awl_http_stream_idle_slots(s->http);
	s->reqs = palloc0(n * sizeof(AwlInvokeRequest));
	s->out = palloc0(n * sizeof(AwlInvokeResult *));
	s->tags = palloc0(n * sizeof(void *));
	s->cxts = palloc0(n * sizeof(MemoryContext));
	s->signed_with = palloc0(n * sizeof(uint64));
	s->busy = palloc0(n * sizeof(bool));
	s->answered = palloc0(n * sizeof(bool));
	s->resent = palloc0(n * sizeof(bool));
	s->resend = palloc0(n * sizeof(bool));
	s->resending = -1;
	s->b.reqs = s->reqs;
	s->b.results = palloc0(n * sizeof(AwlInvokeResult));
	s->b.targets = palloc0(n * sizeof(AwlInvokeTarget));
	s->b.headers = palloc0(n * sizeof(AwlSignedHeaders *));
	s->b.offsets = palloc0(n * sizeof(long));
	s->b.fail_fast = false;
	s->b.async = true;
	s->b.stats = palloc0(n * sizeof(AwlStatsAttempt));
	MemoryContextSwitchTo(old);
	return s;
}

int
awl_invoke_stream_idle_slots(const AwlInvokeStream *s)
{
	return awl_http_stream_idle_slots(s->http) - s->nresend;
}

/* Signs slot i's request with the credentials at hand and starts it. */
static void
stream_start(AwlInvokeStream *s, int i)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxts[i]);
	AwlHttpRequest hreq = {0};

	awl_credentials_get(&s->b.cred);
	s->signed_with[i] = s->generation;
	awl_batch_start(i, &hreq, &s->b);
	PG_TRY();
	{
		awl_http_stream_add(s->http, &hreq, s->cxts[i], (void *) (intptr_t) i);
	}
	PG_CATCH();
	{
		awl_batch_wipe(&s->b, i);
		s->b.stats[i].running = false;	/* not sent */
		PG_RE_THROW();
	}
	PG_END_TRY();
	memset(&s->b.cred, 0, sizeof(s->b.cred));
	s->busy[i] = true;
	MemoryContextSwitchTo(old);
}

void
awl_invoke_stream_add(AwlInvokeStream *s, const AwlInvokeRequest *req,
					  AwlInvokeResult *result, MemoryContext cxt, void *tag)
{
	MemoryContext old;
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (!s->busy[i] && !s->answered[i] && !s->resend[i])
			break;
	if (i == s->nslots)
		elog(ERROR, "awslambda: no idle slot in the invocation stream");
	old = MemoryContextSwitchTo(cxt);
	s->reqs[i] = *req;
	memset(&s->b.targets[i], 0, sizeof(AwlInvokeTarget));
	awl_target_resolve(&s->reqs[i], &s->b.targets[i]);
	MemoryContextSwitchTo(old);
	s->out[i] = result;
	s->tags[i] = tag;
	s->cxts[i] = cxt;
	s->resent[i] = false;
	stream_start(s, i);
}

/* A reply arrived: interpret it in its invocation's context. */
static void
stream_answered(void *tag, AwlHttpResponse *resp, void *arg)
{
	AwlInvokeStream *s = (AwlInvokeStream *) arg;
	int			i = (int) (intptr_t) tag;
	MemoryContext old = MemoryContextSwitchTo(s->cxts[i]);

	awl_batch_finish(i, resp, &s->b);
	MemoryContextSwitchTo(old);
	s->busy[i] = false;
	s->answered[i] = true;
}

/*
 * Hands over every complete result.  With may_resend, a request refused for
 * clock skew, or for rejected credentials that were forgotten since it was
 * signed, is kept for awl_invoke_stream_resend instead (once), as
 * awl_invoke_many sends such requests once more.
 */
static int
stream_report(AwlInvokeStream *s, bool may_resend, AwlInvokeStreamDone done, void *arg)
{
	int			reported = 0;
	bool		refreshable = may_resend && awl_credentials_refreshable();
	int			i;

	for (i = 0; i < s->nslots; i++)
	{
		AwlInvokeError *err = s->b.results[i].error;
		AwlRetryBudget budget = {0};	/* nothing but what is granted below */

		if (!s->answered[i])
			continue;
		s->answered[i] = false;
		/* Once, for clock skew or rejected credentials forgotten since it was signed. */
		if (may_resend && !s->resent[i])
		{
			budget.skew = true;
			budget.credentials = refreshable && s->signed_with[i] < s->generation;
		}
		if (awl_retry_for(err, &budget) != AWL_RETRY_NONE)
		{
			s->resent[i] = s->resend[i] = true;
			s->reqs[i].retry = true;
			s->nresend++;
			continue;
		}
		*s->out[i] = s->b.results[i];
		memset(&s->b.results[i], 0, sizeof(AwlInvokeResult));
		reported++;
		done(s->tags[i], s->out[i], arg);
	}
	return reported;
}

int
awl_invoke_stream_poll(AwlInvokeStream *s, long wait_ms, bool wake_on_latch,
					   AwlInvokeStreamDone done, void *arg)
{
	(void) awl_http_stream_drive(s->http, wait_ms, wake_on_latch, stream_answered, s);
	if (s->b.reset_credentials)
	{
		s->b.reset_credentials = false;
		if (awl_credentials_rejected())
			s->generation++;
	}
	return stream_report(s, true, done, arg);
}

bool
awl_invoke_stream_resend(AwlInvokeStream *s)
{
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (s->resend[i])
			break;
	if (i == s->nslots)
		return false;
	s->resend[i] = false;
	s->nresend--;
	s->resending = i;
	stream_start(s, i);
	s->resending = -1;
	return true;
}

void
awl_invoke_stream_resend_failed(AwlInvokeStream *s)
{
	if (s->resending < 0)
		return;
	/* Its result is still the refusal it had: that is its outcome. */
	s->answered[s->resending] = true;
	s->resending = -1;
}

int
awl_invoke_stream_harvest(AwlInvokeStream *s, AwlInvokeStreamDone done, void *arg)
{
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (s->resend[i])
		{
			s->resend[i] = false;
			s->answered[i] = true;
		}
	s->nresend = 0;
	s->resending = -1;
	return stream_report(s, false, done, arg);
}

int
awl_invoke_stream_running(const AwlInvokeStream *s)
{
	return awl_http_stream_running(s->http);
}

void
awl_invoke_stream_abort(AwlInvokeStream *s)
{
	int			i;

	awl_http_stream_abort(s->http);
	awl_batch_count_abandoned(&s->b, s->nslots);
	for (i = 0; i < s->nslots; i++)
	{
		awl_batch_wipe(&s->b, i);
		s->busy[i] = s->answered[i] = s->resend[i] = false;
	}
	s->nresend = 0;
	s->resending = -1;
	s->b.reset_credentials = false;
}
