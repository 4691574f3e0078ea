/*-------------------------------------------------------------------------
 *
 * http_stream.c
 *	  A stream of HTTP transfers for a caller that keeps working while they
 *	  run (the dispatcher, through stream.c): requests join one at a time,
 *	  each is reported as soon as it is complete, and the others go on.
 *
 * It has a multi handle and easy handles of its own, apart from the
 * backend's pool in http.c, whose slot handling and libcurl steps it shares
 * (http_int.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "http.h"
#include "http_int.h"

/*
 * A stream: transfers that join and leave one at a time, on a multi handle
 * and easy handles of its own (so that awl_http_perform, for credentials,
 * may run while its transfers are in flight; their messages never mix).
 */
struct AwlHttpStream
{
	CURLM	   *multi;
	AwlTransfer *slots;
	int			nslots;
	int			running;		/* slots with a transfer */
};

AwlHttpStream *
awl_http_stream_create(int max_parallel)
{
	AwlHttpStream *s;
	int			i;

	awl_http_init(0);			/* curl_global_init */
	s = MemoryContextAllocZero(TopMemoryContext, sizeof(AwlHttpStream));
	s->nslots = Max(1, Min(max_parallel, AWL_HTTP_MAX_PARALLEL));
	s->slots = MemoryContextAllocZero(TopMemoryContext, s->nslots * sizeof(AwlTransfer));
	s->multi = curl_multi_init();
	if (s->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP client handle")));
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long) s->nslots);
	for (i = 0; i < s->nslots; i++)
	{
		s->slots[i].multi = s->multi;
		s->slots[i].index = -1;
		s->slots[i].easy = curl_easy_init();
		if (s->slots[i].easy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create an HTTP client handle")));
	}
	return s;
}

int
awl_http_stream_idle_slots(const AwlHttpStream *s)
{
	return s->nslots - s->running;
}

int
awl_http_stream_running(const AwlHttpStream *s)
{
	return s->running;
}

void
awl_http_stream_add(AwlHttpStream *s, const AwlHttpRequest *req, MemoryContext cxt, void *tag)
{
	AwlTransfer *x = NULL;
	MemoryContext old;
	int			i;

	for (i = 0; i < s->nslots && x == NULL; i++)
		if (s->slots[i].index < 0)
			x = &s->slots[i];
	if (x == NULL)
		elog(ERROR, "awslambda: no idle HTTP slot in the stream");
	old = MemoryContextSwitchTo(cxt);
	x->req = *req;
	x->tag = tag;
	x->cxt = cxt;
	awl_http_setup(x);
	MemoryContextSwitchTo(old);
	if (curl_multi_add_handle(s->multi, x->easy) != CURLM_OK)
	{
		awl_http_detach(x);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not start an HTTP request")));
	}
	x->index = (int) (x - s->slots);
	s->running++;
}

int
awl_http_stream_drive(AwlHttpStream *s, long wait_ms, bool wake_on_latch,
					  AwlHttpStreamDone done, void *arg)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(wait_ms, 0));
	int			finished = 0;

	for (;;)
	{
		AwlTransfer *x;
		CURLcode	rc;
		long		left;

		awl_http_step(s->multi);
		while ((x = awl_http_next_done(s->multi, s->slots, s->nslots, &rc)) != NULL)
		{
			AwlHttpResponse resp;
			MemoryContext old = MemoryContextSwitchTo(x->cxt);
			void	   *tag;

			awl_http_collect(x, rc, &resp);
			MemoryContextSwitchTo(old);
			tag = x->tag;
			awl_http_detach(x);
			s->running--;
			finished++;
			done(tag, &resp, arg);
		}
		if (finished > 0 || s->running == 0)
			return finished;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
		if (left <= 0 || (wake_on_latch && MyLatch->is_set))
			return 0;
		awl_http_wait(s->multi, awl_wait_event(AWL_WAIT_DISPATCHER_SENDING),
					  (int) Min(left, AWL_HTTP_POLL_MS));
	}
}

void
awl_http_stream_abort(AwlHttpStream *s)
{
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (s->slots[i].index >= 0 || s->slots[i].list != NULL)
			awl_http_detach(&s->slots[i]);
	s->running = 0;
}
