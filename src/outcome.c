/*-------------------------------------------------------------------------
 *
 * outcome.c
 *	  Recording what became of claimed invocations: sent, succeeded or
 *	  failed, or queued again for a later attempt with exponential backoff
 *	  and jitter (at least Retry-After), up to awslambda.async_max_attempts
 *	  (or the invocation's own max_attempts, 0.5.0).
 *
 * Throttling, server errors and network failures are retried; other API
 * errors fail at once.  All outcomes of a round are written by one
 * statement; from 0.4.0 on it also moves the finished invocations out of
 * the pending table into the queue table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "deliver.h"
#include "dispatcher.h"

#define BACKOFF_BASE_MS		1000L
#define BACKOFF_CAP_MS		300000L

/*
 * Delay before attempt number attempts + 1: exponential (1 s, 2 s, 4 s, ...
 * at most 5 min) with jitter over its upper half, at least Retry-After.
 */
static long
backoff_ms(int attempts, long retry_after_ms)
{
	long		cap = Min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << Min(attempts - 1, 20));
	long		delay = cap / 2 + (long) (pg_prng_double(&pg_global_prng_state) * (cap / 2));

	return Max(delay, retry_after_ms);
}

/* Whether an error means "not done, try again later" for a queued invocation. */
static bool
worth_retrying(const AwlInvokeError *err)
{
	/*
	 * Unlike a call inside a statement, a queued invocation is delivered at
	 * least once: a timeout or broken reply is retried too.
	 */
	return err->retryable ||
		err->sqlstate == ERRCODE_CONNECTION_FAILURE ||
		err->sqlstate == ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
}

/* Outcome columns, one array each, written by one UPDATE ... FROM unnest(...). */
enum
{
	REC_ID,
	REC_STATUS,
	REC_HTTP_STATUS,
	REC_REQUEST_ID,
	REC_FUNCTION_ERROR,
	REC_RESPONSE,
	REC_SQLSTATE,
	REC_LAST_ERROR,
	REC_DETAIL,
	REC_NEXT_AT,
	NUM_REC_V03,				/* the columns up to 0.3.0 */
	REC_DURABLE_EXECUTION_ARN = NUM_REC_V03,
	REC_THROTTLE_REASON,
	NUM_REC
};

static const Oid rec_elem_types[NUM_REC] = {UUIDOID, TEXTOID, INT4OID, TEXTOID, TEXTOID,
TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
static const Oid rec_array_types[NUM_REC] = {UUIDARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID};

static void
set_text(Datum *values, bool *nulls, int col, const char *s)
{
	if (s)
	{
		values[col] = CStringGetTextDatum(s);
		nulls[col] = false;
	}
}

/* Fills the outcome columns of one claimed invocation. */
static void
outcome(AwlClaimed *c, AwlInvokeResult *r, Datum *values, bool *nulls)
{
	AwlInvokeError *err = r->error;

	values[REC_ID] = DirectFunctionCall1(uuid_in, CStringGetDatum(c->id));
	nulls[REC_ID] = false;

	/* The response goes into a jsonb column: what jsonb refuses fails this row. */
	if (err == NULL && c->request_response && r->payload)
		err = awl_jsonb_payload_error(c->function_name, r);

	if (err)
	{
		int			max_attempts = c->max_attempts > 0 ? c->max_attempts : awl_async_max_attempts;
		bool		again = worth_retrying(err) && c->attempts < max_attempts;

		c->status = again ? "queued" : "failed";
		c->delay_ms = again ? backoff_ms(c->attempts, err->retry_after_ms) : 0;
		if (err->http_status)
		{
			values[REC_HTTP_STATUS] = Int32GetDatum(err->http_status);
			nulls[REC_HTTP_STATUS] = false;
		}
		set_text(values, nulls, REC_SQLSTATE, unpack_sql_state(err->sqlstate));
		set_text(values, nulls, REC_LAST_ERROR, err->message);
		set_text(values, nulls, REC_THROTTLE_REASON, err->throttle_reason);
		if (err->detail || (!again && worth_retrying(err)))
			set_text(values, nulls, REC_DETAIL,
					 psprintf("%s%s", err->detail ? err->detail : "",
							  again || !worth_retrying(err) ? ""
							  : psprintf(" (gave up after %d attempts)", c->attempts)));
	}
	else
	{
		c->status = !c->request_response ? "sent" : r->function_error ? "failed" : "succeeded";
		values[REC_HTTP_STATUS] = Int32GetDatum(r->status_code);
		nulls[REC_HTTP_STATUS] = false;
		set_text(values, nulls, REC_FUNCTION_ERROR, r->function_error);
		set_text(values, nulls, REC_DURABLE_EXECUTION_ARN, r->durable_execution_arn);
		if (r->function_error)
		{
			set_text(values, nulls, REC_SQLSTATE, "38000");
			set_text(values, nulls, REC_LAST_ERROR, "the function raised an error");
		}
		if (c->request_response && r->payload && r->payload_len > 0)
			set_text(values, nulls, REC_RESPONSE, r->payload);
	}
	set_text(values, nulls, REC_STATUS, c->status);
	set_text(values, nulls, REC_REQUEST_ID, r->request_id);
	if (strcmp(c->status, "queued") == 0)
	{
		values[REC_NEXT_AT] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																			   c->delay_ms));
		nulls[REC_NEXT_AT] = false;
	}
}

/* The queue table's columns (0.4.0), as the one-statement record names them. */
static const char *const known_columns[] = {
	"id", "function_name", "qualifier", "region", "invocation_type", "payload", "callback",
	"invoked_by", "status", "attempts", "enqueued_at", "next_attempt_at", "last_attempt_at",
	"finished_at", "http_status", "request_id", "function_error", "response", "error_sqlstate",
	"last_error", "error_detail", "callback_done_at", "callback_error", "callback_fn",
	"tenant_id", "durable_execution_name", "durable_execution_arn", "throttle_reason"
};

/* And those 0.5.0 added. */
static const char *const known_columns_v05[] = {"max_attempts", "dedup_key"};

/* The number of attributes of relation relid (dropped ones too), 0 if it is gone. */
static int
rel_natts(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int			natts;

	if (!HeapTupleIsValid(tup))
		return 0;
	natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	return natts;
}

/* Whether relation relid has exactly the known columns (and 0.5.0's with v05), and extra besides. */
static bool
has_columns(Oid relid, const char *extra, bool v05)
{
	int			natts = rel_natts(relid);
	int			found = 0;
	int			attnum;

	for (attnum = 1; attnum <= natts; attnum++)
	{
		HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
		Form_pg_attribute att;
		bool		known = false;
		int			i;

		if (!HeapTupleIsValid(tup))
			return false;
		att = (Form_pg_attribute) GETSTRUCT(tup);
		if (att->attisdropped)
			known = true;
		else if (extra && strcmp(NameStr(att->attname), extra) == 0)
		{
			known = true;
			found++;
		}
		else
		{
			for (i = 0; i < (int) lengthof(known_columns); i++)
				if (strcmp(NameStr(att->attname), known_columns[i]) == 0)
				{
					known = true;
					found++;
					break;
				}
			for (i = 0; v05 && !known && i < (int) lengthof(known_columns_v05); i++)
				if (strcmp(NameStr(att->attname), known_columns_v05[i]) == 0)
				{
					known = true;
					found++;
					break;
				}
		}
		ReleaseSysCache(tup);
		if (!known)
			return false;
	}
	return found == (int) lengthof(known_columns) + (extra ? 1 : 0) +
		(v05 ? (int) lengthof(known_columns_v05) : 0);
}

/*
 * Whether the queue's two tables have exactly the columns the one-statement
 * record names (a later version may add some: then the rows are moved as the
 * queue table's row type, with whatever columns it has).  Looked at again
 * when either table's number of columns changes.
 */
static bool
queue_columns_known(void)
{
	static int	queue_natts = -1;
	static int	pending_natts = -1;
	static bool known_v05 = false;
	static bool known = false;
	int			qn = rel_natts(awl_dq.queue_relid);
	int			pn = rel_natts(awl_dq.pending_relid);

	if (qn != queue_natts || pn != pending_natts || known_v05 != awl_dq.has_v05)
	{
		known = has_columns(awl_dq.queue_relid, NULL, awl_dq.has_v05) &&
			has_columns(awl_dq.pending_relid, "queued_xact", awl_dq.has_v05);
		queue_natts = qn;
		pending_natts = pn;
		known_v05 = awl_dq.has_v05;
	}
	return known;
}

/*
 * The outcome columns of n claimed invocations as arrays[0 .. NUM_REC) of
 * types[], one element per invocation; sets each one's status, moves the
 * cursors of retries and callbacks behind what is written, and sets
 * *finished if one of them finished.
 */
static void
outcome_arrays(AwlClaimed *claimed, AwlInvokeResult *results, int n, TimestampTz finished_at,
			   Datum *arrays, Oid *types, bool *finished)
{
	Datum	   *cols[NUM_REC];
	bool	   *colnulls[NUM_REC];
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;
	int			k;

	for (k = 0; k < NUM_REC; k++)
	{
		cols[k] = palloc0(n * sizeof(Datum));
		colnulls[k] = palloc(n * sizeof(bool));
		memset(colnulls[k], true, n * sizeof(bool));
	}
	for (i = 0; i < n; i++)
	{
		Datum		values[NUM_REC] = {0};
		bool		nulls[NUM_REC];

		memset(nulls, true, sizeof(nulls));
		outcome(&claimed[i], &results[i], values, nulls);
		for (k = 0; k < NUM_REC; k++)
		{
			cols[k][i] = values[k];
			colnulls[k][i] = nulls[k];
		}
		/* The cursors of retries and callbacks stay behind what is written here. */
		if (!nulls[REC_NEXT_AT])
			awl_cursors.retry_from = Min(awl_cursors.retry_from, DatumGetTimestampTz(values[REC_NEXT_AT]));
		else
		{
			*finished = true;
			if (claimed[i].has_callback)
				awl_cursors.callbacks_from = Min(awl_cursors.callbacks_from, finished_at);
		}
	}
	for (k = 0; k < NUM_REC; k++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(rec_elem_types[k], &typlen, &typbyval, &typalign);
		arrays[k] = PointerGetDatum(construct_md_array(cols[k], colnulls[k], 1, dims, lbs,
													   rec_elem_types[k], typlen, typbyval,
													   typalign));
		types[k] = rec_array_types[k];
	}
}

/*
 * From 0.4.0 on, with the columns known: one statement updates the retries
 * in the pending table and moves the finished invocations, with their
 * outcomes, into the queue table.  arrays[NUM_REC] is the finish time.
 */
static void
record_moving(Datum *arrays, Oid *types)
{
	static SPIPlanPtr record_plan[2] = {NULL, NULL};

	awl_deliver_run_prepared(&record_plan[awl_dq.has_v05], psprintf("WITH u AS MATERIALIZED (SELECT * FROM ROWS FROM ("
										"pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), "
										"pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), "
										"pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
										"pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12)) "
										"AS u(id, status, http_status, request_id, function_error, response, sqlstate, "
										"last_error, detail, next_at, durable_execution_arn, throttle_reason)), "
										"requeued AS (UPDATE %s q SET status = u.status, http_status = u.http_status, "
										"request_id = u.request_id, function_error = u.function_error, "
										"response = u.response::pg_catalog.jsonb, error_sqlstate = u.sqlstate, "
										"last_error = u.last_error, error_detail = u.detail, "
										"next_attempt_at = COALESCE(u.next_at, q.next_attempt_at), finished_at = NULL, "
										"durable_execution_arn = COALESCE(u.durable_execution_arn, q.durable_execution_arn), "
										"throttle_reason = u.throttle_reason "
										"FROM u WHERE q.id OPERATOR(pg_catalog.=) u.id "
										"AND u.status OPERATOR(pg_catalog.=) 'queued'), "
										"moved AS (DELETE FROM ONLY %s p USING u "
										"WHERE p.id OPERATOR(pg_catalog.=) u.id "
										"AND u.status OPERATOR(pg_catalog.<>) 'queued' "
										"RETURNING p.id, p.function_name, p.qualifier, p.region, p.invocation_type, "
										"p.payload, p.callback, p.invoked_by, u.status, p.attempts, p.enqueued_at, "
										"p.next_attempt_at, p.last_attempt_at, u.http_status, u.request_id, "
										"u.function_error, u.response::pg_catalog.jsonb, u.sqlstate, u.last_error, "
										"u.detail, p.callback_done_at, p.callback_error, p.callback_fn, "
										"p.tenant_id, p.durable_execution_name, "
										"COALESCE(u.durable_execution_arn, p.durable_execution_arn), u.throttle_reason%s) "
										"INSERT INTO %s (id, function_name, qualifier, region, invocation_type, "
										"payload, callback, invoked_by, status, attempts, enqueued_at, "
										"next_attempt_at, last_attempt_at, http_status, request_id, function_error, "
										"response, error_sqlstate, last_error, error_detail, callback_done_at, "
										"callback_error, callback_fn, tenant_id, durable_execution_name, "
										"durable_execution_arn, throttle_reason%s, finished_at) "
										"SELECT moved.*, $%d FROM moved", awl_dq.work, awl_dq.work,
										awl_dq.has_v05 ? ", p.max_attempts, p.dedup_key" : "", awl_dq.queue,
										awl_dq.has_v05 ? ", max_attempts, dedup_key" : "", NUM_REC + 1),
				 SPI_OK_INSERT, NUM_REC + 1, types, arrays);
}

/*
 * Before 0.4.0, or with columns a later version added: one UPDATE of the
 * table of unfinished invocations (the first nrec outcome columns, the
 * finish time after them), then the finished ones are moved.
 */
static void
record_updating(Datum *arrays, Oid *types, int nrec, bool finished)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_v04 = NULL;
	static SPIPlanPtr move_plan = NULL;

	awl_deliver_run_prepared(awl_dq.has_v04 ? &plan_v04 : &plan,
				 psprintf("UPDATE %s q SET status = u.status, http_status = u.http_status, "
						  "request_id = u.request_id, function_error = u.function_error, "
						  "response = u.response::pg_catalog.jsonb, error_sqlstate = u.sqlstate, "
						  "last_error = u.last_error, error_detail = u.detail, "
						  "next_attempt_at = COALESCE(u.next_at, q.next_attempt_at), "
						  "finished_at = CASE WHEN u.status OPERATOR(pg_catalog.=) 'queued' THEN NULL "
						  "ELSE $%d END%s "
						  "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), "
						  "pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), "
						  "pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
						  "pg_catalog.unnest($10)%s) "
						  "AS u(id, status, http_status, request_id, function_error, response, sqlstate, "
						  "last_error, detail, next_at%s) WHERE q.id OPERATOR(pg_catalog.=) u.id", awl_dq.work,
						  nrec + 1,
						  awl_dq.has_v04 ? ", durable_execution_arn = "
						  "COALESCE(u.durable_execution_arn, q.durable_execution_arn), "
						  "throttle_reason = u.throttle_reason" : "",
						  awl_dq.has_v04 ? ", pg_catalog.unnest($11), pg_catalog.unnest($12)" : "",
						  awl_dq.has_v04 ? ", durable_execution_arn, throttle_reason" : ""),
				 SPI_OK_UPDATE, nrec + 1, types, arrays);

	/*
	 * Finished: into the queue table, as its row type (so with whatever
	 * columns it has), out of the pending table.
	 */
	if (OidIsValid(awl_dq.pending_relid) && finished)
		awl_deliver_run_prepared(&move_plan, psprintf("WITH moved AS (DELETE FROM ONLY %s p "
										  "WHERE p.id OPERATOR(pg_catalog.=) ANY ($1) "
										  "AND p.finished_at IS NOT NULL RETURNING p::%s AS r) "
										  "INSERT INTO %s SELECT (moved.r).* FROM moved",
										  awl_dq.work, awl_dq.queue, awl_dq.queue),
					 SPI_OK_INSERT, 1, types, arrays);
}

/*
 * Writes the outcome of every claimed invocation, in a transaction of its
 * own: with record_moving from 0.4.0 on, else record_updating.
 */
static void
record(AwlClaimed *claimed, AwlInvokeResult *results, int n)
{
	Datum		arrays[NUM_REC + 1];
	Oid			types[NUM_REC + 1];
	int			nrec = awl_dq.has_v04 ? NUM_REC : NUM_REC_V03;
	TimestampTz finished_at;
	bool		finished = false;

	awl_deliver_begin("awslambda: record outcomes");
	finished_at = GetCurrentTimestamp();
	outcome_arrays(claimed, results, n, finished_at, arrays, types, &finished);
	if (OidIsValid(awl_dq.pending_relid) && awl_dq.has_v04 && queue_columns_known())
	{
		/* The outcome columns, the finish time last. */
		arrays[NUM_REC] = TimestampTzGetDatum(finished_at);
		types[NUM_REC] = TIMESTAMPTZOID;
		record_moving(arrays, types);
		awl_deliver_end();
		return;
	}
	arrays[nrec] = TimestampTzGetDatum(finished_at);
	types[nrec] = TIMESTAMPTZOID;
	record_updating(arrays, types, nrec, finished);
	awl_deliver_end();
}

/* What record_step records. */
typedef struct RecordStep
{
	AwlClaimed *claimed;
	AwlInvokeResult *results;
	int			n;
} RecordStep;

static void
record_step(void *arg)
{
	RecordStep *r = (RecordStep *) arg;

	record(r->claimed, r->results, r->n);
}

/* After one row could not be recorded: it is to be recorded as failed, without its response. */
static void
record_one_failed(AwlDeliverCatch *c, ErrorData *edata)
{
	RecordStep *rs = (RecordStep *) c->arg;
	AwlInvokeResult *r = rs->results;
	AwlInvokeError *err = palloc0(sizeof(AwlInvokeError));

	err->sqlstate = ERRCODE_PROTOCOL_VIOLATION;
	err->message = psprintf("could not record the outcome of invocation %s", rs->claimed->id);
	err->detail = edata->message;
	err->http_status = r->status_code;
	r->error = err;
	r->function_error = NULL;
	c->what = err->message;
}

/* Records one row; if even that fails, records it as failed without its response. */
static void
record_one(AwlClaimed *c, AwlInvokeResult *r, MemoryContext cxt)
{
	RecordStep	rs = {c, r, 1};
	AwlDeliverCatch how = {.cxt = cxt, .after_abort = record_one_failed, .arg = &rs};

	if (awl_deliver_catch(record_step, &how) != NULL)
		record(c, r, 1);
}

/*
 * Records the outcomes of a batch.  Should that fail (a response that
 * json-c accepted but jsonb refuses, such as one with \u0000), each row is
 * recorded on its own, and a row that still fails is recorded as failed
 * without its response: an outcome that cannot be written must not leave
 * the row 'sending', to be sent again after every restart.
 */
void
awl_deliver_record(AwlClaimed *claimed, AwlInvokeResult *results, int n, MemoryContext cxt)
{
	RecordStep	rs = {claimed, results, n};
	AwlDeliverCatch how = {.cxt = CurrentMemoryContext, .arg = &rs};
	ErrorData  *edata;

	edata = awl_deliver_catch(record_step, &how);
	if (edata)
	{
		int			i;

		FreeErrorData(edata);
		for (i = 0; i < n; i++)
			record_one(&claimed[i], &results[i], cxt);
	}
}
