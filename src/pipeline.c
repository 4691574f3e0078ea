/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  The pipeline: the invocations the dispatcher claimed and has not
 *	  recorded yet, oldest first.  Each waits for a slot of the invoke
 *	  stream, is in flight, then has its result until that is recorded;
 *	  a slow invocation holds back only its own slot.
 *
 * Throttling, server errors and network failures are retried through the
 * queue with exponential backoff (outcome.c); an error that stops one
 * invocation before Lambda answered is that invocation's outcome, and the
 * others go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "deliver.h"
#include "flow.h"

/* Answers are written together when they arrive within this long of the first. */
#define GATHER_MS			10
#define GATHER_MAX			256

/* Lambda client context carrying the invocation id, base64. */
static char *
client_context_for(const char *id)
{
	char	   *json = psprintf("{\"custom\":{\"awslambda_invocation_id\":\"%s\"}}", id);
	int			len = pg_b64_enc_len((int) strlen(json));
	char	   *b64 = palloc(len + 1);

	len = awl_b64_encode(json, (int) strlen(json), b64, len);
	b64[len] = '\0';
	return b64;
}

/* The pipeline: what was claimed and is not recorded yet, oldest first. */
static MemoryContext pipeline_cxt = NULL;
static AwlInFlight **pipeline = NULL;
static int	npipeline = 0;
static int	pipeline_cap = 0;
static int64 pipeline_bytes = 0;
static AwlInvokeStream *stream = NULL;

static void
pipeline_append(AwlInFlight *f)
{
	if (npipeline == pipeline_cap)
	{
		pipeline_cap = Max(64, pipeline_cap * 2);
		pipeline = pipeline ? repalloc(pipeline, pipeline_cap * sizeof(AwlInFlight *))
			: MemoryContextAlloc(pipeline_cxt, pipeline_cap * sizeof(AwlInFlight *));
	}
	pipeline[npipeline++] = f;
	pipeline_bytes += f->bytes;
}

/* Forgets the invocations that match (recorded, or given back), keeping the order. */
static void
pipeline_remove(bool (*gone) (const AwlInFlight *))
{
	int			kept = 0;
	int			i;

	for (i = 0; i < npipeline; i++)
	{
		AwlInFlight   *f = pipeline[i];

		if (gone(f))
		{
			pipeline_bytes -= f->bytes;
			MemoryContextDelete(f->cxt);
		}
		else
			pipeline[kept++] = f;
	}
	npipeline = kept;
}

void
awl_pipeline_begin(void)
{
	if (pipeline_cxt == NULL)
		pipeline_cxt = AllocSetContextCreate(TopMemoryContext, "awslambda pipeline",
											 ALLOCSET_DEFAULT_SIZES);
}

int
awl_deliver_in_pipeline(void)
{
	return npipeline;
}

int64
awl_pipeline_bytes(void)
{
	return pipeline_bytes;
}

AwlInFlight *
awl_pipeline_item(int i)
{
	return pipeline[i];
}

/*
 * Invocations a stopped dispatcher had in flight go back to the queue; the
 * next scans start from the beginning.
 */
void
awl_deliver_recover(void)
{
	Oid			types[1] = {UUIDARRAYOID};
	Datum		values[1];
	Datum	   *ids;
	int			i;

	awl_deliver_begin("awslambda: re-queue interrupted invocations");
	awl_deliver_reset_cursors();
	/* Not this dispatcher's own (in flight while a subscription came and went). */
	ids = palloc(Max(npipeline, 1) * sizeof(Datum));
	for (i = 0; i < npipeline; i++)
		ids[i] = DirectFunctionCall1(uuid_in, CStringGetDatum(pipeline[i]->c.id));
	values[0] = PointerGetDatum(construct_array(ids, npipeline, UUIDOID, UUID_LEN, false,
												TYPALIGN_CHAR));
	awl_deliver_run(psprintf("UPDATE %s SET status = 'queued', next_attempt_at = pg_catalog.now() "
				 "WHERE status OPERATOR(pg_catalog.=) 'sending' "
				 "AND NOT id OPERATOR(pg_catalog.=) ANY ($1)", awl_dq.work),
		SPI_OK_UPDATE, 1, types, values, NULL);
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("awslambda dispatcher: %llu interrupted invocations queued again",
						(unsigned long long) SPI_processed)));
	awl_deliver_end();
}

/* Puts claimed row i of the current result into the pipeline. */
void
awl_pipeline_take(int i)
{
	MemoryContext cxt = AllocSetContextCreate(pipeline_cxt, "awslambda invocation",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AwlInFlight   *f = palloc0(sizeof(AwlInFlight));
	AwlClaimed    *c = &f->c;
	AwlInvokeRequest *r = &f->req;
	char	   *name = awl_deliver_column_text(i, 2, cxt);
	char	   *payload = awl_deliver_column_text(i, 6, cxt);

	f->cxt = cxt;
	f->queued_name = name;
	f->group = awl_flow_group(name);
	f->batch_size = awl_flow_batch_size(name);
	c->id = awl_deliver_column_text(i, 1, cxt);
	c->function_name = name;
	c->attempts = atoi(awl_deliver_column_text(i, 7, cxt));
	c->request_response = strcmp(awl_deliver_column_text(i, 5, cxt), "RequestResponse") == 0;
	f->callback = strcmp(awl_deliver_column_text(i, 8, cxt), "t") == 0;
	c->has_callback = f->callback;

	r->function_name = pg_server_to_any(name, strlen(name), PG_UTF8);
	r->qualifier = awl_deliver_column_text(i, 3, cxt);
	r->region = awl_deliver_column_text(i, 4, cxt);
	r->invocation_type = c->request_response ? "RequestResponse" : "Event";
	r->payload = pg_server_to_any(payload, strlen(payload), PG_UTF8);
	r->payload_len = strlen(r->payload);
	f->bytes = (int64) strlen(payload);
	r->client_context = c->request_response ? client_context_for(c->id) : NULL;
	awl_invoke_request_defaults(r);
	r->max_attempts = 1;		/* retried through the queue, with backoff */
	r->allowed_checked = true;	/* by the caller, under its settings */
	r->retry = c->attempts > 1; /* for the statistics */
	if (awl_dq.has_v04)
	{
		/* Checked when queued; ASCII, the same in every server encoding. */
		r->tenant_id = awl_deliver_column_text(i, 9, cxt);
		r->durable_execution_name = awl_deliver_column_text(i, 10, cxt);
	}
	if (awl_dq.has_v05)
	{
		char	   *max_attempts = awl_deliver_column_text(i, 11, cxt);

		c->max_attempts = max_attempts ? atoi(max_attempts) : 0;
	}
	MemoryContextSwitchTo(old);
	pipeline_append(f);
}

/* An error that stopped an invocation before Lambda answered: try again later. */
static void
set_unsent(AwlInFlight *f, const ErrorData *edata)
{
	AwlInvokeError *err = MemoryContextAllocZero(f->cxt, sizeof(AwlInvokeError));

	err->sqlstate = edata->sqlerrcode;
	err->message = MemoryContextStrdup(f->cxt, edata->message);
	err->detail = edata->detail ? MemoryContextStrdup(f->cxt, edata->detail) : NULL;
	err->retryable = true;
	memset(&f->result, 0, sizeof(AwlInvokeResult));
	f->result.error = err;
	f->started = false;
	f->answered = true;
}

/* Hands f to the stream (a step of start_one). */
static void
start_step(void *arg)
{
	AwlInFlight *f = (AwlInFlight *) arg;

	awl_invoke_stream_add(stream, &f->req, &f->result, f->cxt, f);
	f->started = true;
}

/* After start_step raised: that error is f's outcome. */
static void
start_failed(AwlDeliverCatch *c, ErrorData *edata)
{
	AwlInFlight *f = (AwlInFlight *) c->arg;

	set_unsent(f, edata);
	c->what = psprintf("could not send invocation %s", f->c.id);
}

/*
 * Hands one waiting invocation to the stream.  If it cannot be sent (no
 * credentials, say), that error is its outcome; the others, and those in
 * flight, go on.  In a transaction, started anew after such an error.
 */
static void
start_one(AwlInFlight *f)
{
	AwlDeliverCatch c = {.cxt = f->cxt, .restart = true, .after_abort = start_failed, .arg = f};
	ErrorData  *edata;

	edata = awl_deliver_catch(start_step, &c);
	if (edata)
		FreeErrorData(edata);
}

/* Sends once more a request the stream kept (a step of resend_one). */
static void
resend_step(void *arg)
{
	*(bool *) arg = awl_invoke_stream_resend(stream);
}

/* After resend_step raised: the refusal the request had is its outcome. */
static void
resend_failed(AwlDeliverCatch *c, ErrorData *edata)
{
	awl_invoke_stream_resend_failed(stream);
}

/*
 * Sends once more a request the stream kept for that; true if there was
 * one.  If that fails (no new credentials), the refusal it had is its
 * outcome, and the others go on.
 */
static bool
resend_one(void)
{
	bool		any = true;
	AwlDeliverCatch c = {.cxt = pipeline_cxt, .restart = true, .after_abort = resend_failed,
	.what = "could not send an invocation again", .arg = &any};
	ErrorData  *edata;

	edata = awl_deliver_catch(resend_step, &c);
	if (edata)
		FreeErrorData(edata);
	return any;
}

/* Hands waiting invocations, oldest first, to the stream while it has idle slots. */
static void
start_waiting(void)
{
	int			i;

	while (resend_one())
		;

	for (i = 0; i < npipeline && awl_invoke_stream_idle_slots(stream) > 0; i++)
	{
		AwlInFlight   *f = pipeline[i];

		if (f->started || f->answered)
			continue;
		/* A durable execution is started by name: one invocation, one name. */
		if (f->batch_size > 1 && f->req.durable_execution_name == NULL && !awl_batch_form(pipeline, npipeline, i))
			continue;
		start_one(f);
		if (f->answered)
			awl_batch_share_outcome(f);	/* could not be sent: neither can the others */
	}
}

static void
invocation_answered(void *tag, AwlInvokeResult *result, void *arg)
{
	AwlInFlight   *f = (AwlInFlight *) tag;

	f->started = false;
	f->answered = true;
	awl_batch_share_outcome(f);
	(*(int *) arg) += 1 + f->nmembers;
}

/* A poll of the stream, and what became of it. */
typedef struct StreamPoll
{
	long		wait_ms;
	bool		wake_on_latch;
	int		   *answered;
	char		what[64];		/* the WARNING after a failure */
} StreamPoll;

static void
poll_step(void *arg)
{
	StreamPoll *p = (StreamPoll *) arg;

	(void) awl_invoke_stream_poll(stream, p->wait_ms, p->wake_on_latch, invocation_answered,
								  p->answered);
}

/* After poll_step raised, before the abort: what was answered keeps its answer. */
static void
poll_harvest(AwlDeliverCatch *c, ErrorData *edata)
{
	StreamPoll *p = (StreamPoll *) c->arg;

	(void) awl_invoke_stream_harvest(stream, invocation_answered, p->answered);
	awl_invoke_stream_abort(stream);
}

/* After the abort: only what has no answer is tried again. */
static void
poll_failed(AwlDeliverCatch *c, ErrorData *edata)
{
	StreamPoll *p = (StreamPoll *) c->arg;
	int			unsent = 0;
	int			i;

	for (i = 0; i < npipeline; i++)
		if (pipeline[i]->started)
		{
			set_unsent(pipeline[i], edata);
			unsent++;
			(*p->answered)++;
		}
	snprintf(p->what, sizeof(p->what), "could not send %d invocations", unsent);
	c->what = p->what;
}

/*
 * Runs the stream; true unless that failed as a whole (a lost HTTP client,
 * out of memory): then every invocation in flight counts as a failed,
 * retryable attempt, and those that had their answer keep it: an Event
 * Lambda accepted, or a function that ran, is not sent again because of
 * another invocation.
 */
static bool
poll_stream(long wait_ms, bool wake_on_latch, int *answered)
{
	StreamPoll	p = {.wait_ms = wait_ms, .wake_on_latch = wake_on_latch, .answered = answered};
	AwlDeliverCatch c = {.cxt = pipeline_cxt, .restart = true, .before_abort = poll_harvest,
	.after_abort = poll_failed, .arg = &p};
	ErrorData  *edata;

	edata = awl_deliver_catch(poll_step, &c);
	if (edata == NULL)
		return true;
	FreeErrorData(edata);
	return false;
}

static bool
is_answered(const AwlInFlight *f)
{
	return f->answered;
}

/* Records every answered invocation with one statement, and forgets it. */
static int
record_answered(bool *with_callbacks, bool *requeued)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "awslambda outcomes",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AwlClaimed    *claimed = palloc(Max(npipeline, 1) * sizeof(AwlClaimed));
	AwlInvokeResult *results = palloc(Max(npipeline, 1) * sizeof(AwlInvokeResult));
	int			n = 0;
	int			i;

	for (i = 0; i < npipeline; i++)
		if (pipeline[i]->answered)
		{
			claimed[n] = pipeline[i]->c;
			results[n] = pipeline[i]->result;
			if (pipeline[i]->callback)
				*with_callbacks = true;
			n++;
		}
	MemoryContextSwitchTo(old);
	if (n > 0)
		awl_deliver_record(claimed, results, n, cxt);
	for (i = 0; i < n; i++)
		if (claimed[i].status && strcmp(claimed[i].status, "queued") == 0)
			*requeued = true;
	MemoryContextDelete(cxt);
	pipeline_remove(is_answered);
	return n;
}

/*
 * Sends what the pipeline holds: starts waiting invocations as slots free
 * up and runs the transfers for at most wait_ms, returning early once some
 * have their answers (gathered for up to GATHER_MS, so that outcomes are
 * written a few at a time, not one commit each), when nothing is in flight,
 * or (wake_on_latch) when the latch is set.  Then records those outcomes.
 * A slow invocation holds back only its own slot.  Returns how many were
 * recorded; sets *with_callbacks if one of them has a callback, *requeued
 * if one was queued again for a later attempt.
 */
int
awl_deliver_pump(long wait_ms, bool wake_on_latch, bool *with_callbacks, bool *requeued)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(wait_ms, 0));
	TimestampTz gathered = 0;
	int			answered = 0;

	if (npipeline == 0)
		return 0;
	if (stream == NULL)
		stream = awl_invoke_stream_create(awl_invoke_max_concurrency());

	pgstat_report_activity(STATE_RUNNING, "awslambda: send invocations");
	/* A transaction (without a snapshot) for encoding conversion and the like. */
	StartTransactionCommand();
	for (;;)
	{
		TimestampTz now;
		TimestampTz stop;

		start_waiting();
		if (awl_invoke_stream_running(stream) == 0)
			break;
		now = GetCurrentTimestamp();
		stop = gathered ? Min(until, gathered) : until;
		if (!poll_stream(Max(0, TimestampDifferenceMilliseconds(now, stop)),
						 wake_on_latch && answered == 0, &answered))
			break;
		now = GetCurrentTimestamp();
		if (answered > 0 && gathered == 0)
			gathered = TimestampTzPlusMilliseconds(now, GATHER_MS);
		if (answered >= GATHER_MAX || now >= until || (gathered && now >= gathered))
			break;
		if (answered == 0 && wake_on_latch && MyLatch->is_set)
			break;
	}
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return record_answered(with_callbacks, requeued);
}

static bool
is_waiting(const AwlInFlight *f)
{
	return !f->started && !f->answered;
}

/*
 * Invocations still waiting for a slot go back to the queue as they were
 * (not sent, not counted as an attempt).
 */
static void
give_back_waiting(void)
{
	Oid			types[1] = {UUIDARRAYOID};
	Datum		values[1];
	Datum	   *ids = palloc(Max(npipeline, 1) * sizeof(Datum));
	int			n = 0;
	int			i;

	for (i = 0; i < npipeline; i++)
		if (is_waiting(pipeline[i]))
			ids[n++] = DirectFunctionCall1(uuid_in, CStringGetDatum(pipeline[i]->c.id));
	if (n > 0)
	{
		awl_deliver_begin("awslambda: give back unsent invocations");
		values[0] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false,
													TYPALIGN_CHAR));
		awl_deliver_run(psprintf("UPDATE %s q SET status = 'queued', "
					 "attempts = q.attempts OPERATOR(pg_catalog.-) 1 "
					 "WHERE q.id OPERATOR(pg_catalog.=) ANY ($1) "
					 "AND q.status OPERATOR(pg_catalog.=) 'sending'", awl_dq.queue),
			SPI_OK_UPDATE, 1, types, values, NULL);
		awl_deliver_end();
		pipeline_remove(is_waiting);
	}
	pfree(ids);
}

/*
 * Before the dispatcher leaves: invocations still waiting for a slot go
 * back to the queue as they were, and those in flight are finished and
 * recorded, so that nothing is sent twice.
 */
void
awl_deliver_drain(void)
{
	(void) awl_deliver_finish(-1);
}

int
awl_deliver_finish(long grace_ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(grace_ms, 0));

	give_back_waiting();
	while (npipeline > 0)
	{
		long		left = grace_ms < 0 ? 1000 :
			TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
		bool		with_callbacks = false;
		bool		requeued = false;

		if (left <= 0)
			break;
		(void) awl_deliver_pump(Min(left, 1000), false, &with_callbacks, &requeued);
		if (npipeline > 0 && (stream == NULL || awl_invoke_stream_running(stream) == 0))
			break;				/* nothing more will be answered */
	}
	return npipeline;
}
