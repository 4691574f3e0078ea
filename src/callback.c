/*-------------------------------------------------------------------------
 *
 * callback.c
 *	  Callbacks of finished invocations: each runs once, in its own
 *	  transaction together with the mark that it ran, as the role that
 *	  queued the invocation, confined (confine.c), within
 *	  awslambda.async_callback_timeout.  Its error is recorded, not raised.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "confine.h"
#include "deliver.h"
#include "dispatcher.h"
#include "queue.h"

/*
 * Checks that the callback recorded when the invocation was queued is still
 * that function (its OID names the same schema and function, taking the
 * queue's row) and that role may still execute it.
 */
static void
check_callback(Oid fn, const char *callback, Oid role)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;
	List	   *recorded;
	bool		same;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("callback %s(awslambda_invocations) no longer exists", callback)));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	recorded = awl_string_to_qualified_name_list(callback);
	same = list_length(recorded) == 2 &&
		strcmp(strVal(linitial(recorded)), get_namespace_name(proc->pronamespace)) == 0 &&
		strcmp(strVal(lsecond(recorded)), NameStr(proc->proname)) == 0 &&
		proc->pronargs == 1 && proc->proargtypes.values[0] == awl_dq.queue_rowtype &&
		!proc->proretset;
	ReleaseSysCache(tup);
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("callback %s(awslambda_invocations) no longer exists", callback),
				 errdetail("The function recorded when the invocation was queued was dropped or replaced.")));
	if (awl_proc_aclcheck(fn, role, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for callback %s", callback)));
}

/*
 * Calls function or procedure fn with the row, through the function manager:
 * by its OID, never by a name in SQL text.
 */
static void
call_routine(Oid fn, Datum row)
{
	FmgrInfo	flinfo;

	LOCAL_FCINFO(fcinfo, 1);

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = row;
	fcinfo->args[0].isnull = false;
	(void) FunctionCallInvoke(fcinfo);
}

/*
 * A callback that catches the cancel at its time limit (or keeps running
 * for another reason) is ended for good CALLBACK_GRACE_MS later: the
 * dispatcher exits with FATAL, which no exception block can catch, and the
 * launcher starts a new one; a callback that stops dispatchers this way
 * twice is not run again (awl_dispatcher_callback_begin).
 */
#define CALLBACK_GRACE_MS	5000

static void
callback_deadline_reached(void)
{
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static TimeoutId
callback_deadline(void)
{
	static TimeoutId id = MAX_TIMEOUTS;

	if (id == MAX_TIMEOUTS)
		id = RegisterTimeout(USER_TIMEOUT, callback_deadline_reached);
	return id;
}

/* One finished invocation whose callback is to run. */
typedef struct PendingCallback
{
	char	   *id;				/* uuid text */
	char	   *callback;		/* qualified name, as recorded */
	Oid			fn;				/* the function, as recorded */
	Oid			role;			/* who queued the invocation */
} PendingCallback;

/*
 * Runs one callback in its own transaction, together with the mark that it
 * ran: as the role that queued the invocation, confined (see confine.c).
 */
static void
run_callback(const PendingCallback *cb)
{
	Oid			types[1] = {UUIDOID};
	Datum		values[1];
	Datum		row;
	bool		isnull;
	AwlConfinement confinement;

	awl_deliver_begin("awslambda: run a callback");
	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(cb->id));
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(cb->role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that queued invocation %s (OID %u) no longer exists; its callback is not run",
						cb->id, cb->role)));
	if (!OidIsValid(cb->fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("callback %s(awslambda_invocations) was not resolved when the invocation was queued",
						cb->callback)));
	check_callback(cb->fn, cb->callback, cb->role);

	/* The row as it is now, handed over as the argument. */
	awl_deliver_run(psprintf("SELECT q FROM ONLY %s q WHERE q.id OPERATOR(pg_catalog.=) $1", awl_dq.queue),
		SPI_OK_SELECT, 1, types, values, NULL);
	if (SPI_processed != 1)
		elog(ERROR, "invocation %s disappeared", cb->id);
	row = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
					false, -1);

	awl_confine_enter(cb->role, &confinement);
	if (awl_async_callback_timeout_ms > 0)
	{
		/* A cancel at the limit; a callback that catches it is ended a while later. */
		enable_timeout_after(STATEMENT_TIMEOUT, awl_async_callback_timeout_ms);
		enable_timeout_after(callback_deadline(),
							 awl_async_callback_timeout_ms + CALLBACK_GRACE_MS);
	}
	call_routine(cb->fn, row);
	disable_timeout(STATEMENT_TIMEOUT, false);
	disable_timeout(callback_deadline(), false);
	awl_confine_leave(&confinement);
	CommandCounterIncrement();

	awl_deliver_run(psprintf("UPDATE ONLY %s SET callback_done_at = pg_catalog.clock_timestamp() "
				 "WHERE id OPERATOR(pg_catalog.=) $1", awl_dq.queue),
		SPI_OK_UPDATE, 1, types, values, NULL);
	awl_deliver_end();
}

static void
record_callback_error(const char *id, const char *message)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		values[2];

	awl_deliver_begin("awslambda: record a callback error");
	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(id));
	values[1] = CStringGetTextDatum(message);
	awl_deliver_run(psprintf("UPDATE ONLY %s SET callback_done_at = pg_catalog.clock_timestamp(), "
				 "callback_error = $2 WHERE id OPERATOR(pg_catalog.=) $1", awl_dq.queue),
		SPI_OK_UPDATE, 2, types, values, NULL);
	awl_deliver_end();
}

/*
 * The finished invocations whose callbacks are to run, at most limit, from
 * where the last look ended; palloc'd in cxt, *n of them.
 */
static PendingCallback *
find_callbacks(int limit, MemoryContext cxt, int *n_found)
{
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int32GetDatum(limit), TimestampTzGetDatum(awl_cursors.callbacks_from)};
	PendingCallback *pending;
	int			n;
	int			i;

	static SPIPlanPtr plan = NULL;

	awl_deliver_begin("awslambda: look for callbacks");
	awl_deliver_run_prepared(&plan, psprintf("SELECT id, callback, callback_fn, invoked_by, finished_at FROM ONLY %s "
								 "WHERE callback IS NOT NULL AND callback_done_at IS NULL "
								 "AND finished_at IS NOT NULL AND finished_at OPERATOR(pg_catalog.>=) $2 "
								 "ORDER BY finished_at LIMIT $1", awl_dq.queue),
				 SPI_OK_SELECT, 2, types, values);
	n = (int) SPI_processed;

	/*
	 * Each row found is marked done below (or the dispatcher stops, and the
	 * next starts from the beginning): the next look starts after them.
	 */
	if (n < limit)
		awl_cursors.callbacks_from = DT_NOEND;
	else
	{
		bool		isnull;

		awl_cursors.callbacks_from = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[n - 1],
														   SPI_tuptable->tupdesc, 5, &isnull));
	}
	pending = MemoryContextAllocZero(cxt, Max(n, 1) * sizeof(PendingCallback));
	for (i = 0; i < n; i++)
	{
		char	   *fn = awl_deliver_column_text(i, 3, cxt);

		pending[i].id = awl_deliver_column_text(i, 1, cxt);
		pending[i].callback = awl_deliver_column_text(i, 2, cxt);
		pending[i].fn = fn ? (Oid) strtoul(fn, NULL, 10) : InvalidOid;
		pending[i].role = (Oid) strtoul(awl_deliver_column_text(i, 4, cxt), NULL, 10);
	}
	awl_deliver_end();
	*n_found = n;
	return pending;
}

static void
callback_step(void *arg)
{
	run_callback((const PendingCallback *) arg);
}

/* After a callback raised, before the abort: its time limits are off. */
static void
callback_stop_timers(AwlDeliverCatch *c, ErrorData *edata)
{
	disable_timeout(STATEMENT_TIMEOUT, false);
	disable_timeout(callback_deadline(), false);
}

/* After the abort: session advisory locks the callback took outlive it. */
static void
callback_failed(AwlDeliverCatch *c, ErrorData *edata)
{
	const PendingCallback *cb = (const PendingCallback *) c->arg;

	LockReleaseSession(USER_LOCKMETHOD);
	c->what = psprintf("callback %s for invocation %s failed", cb->callback, cb->id);
}

/*
 * Runs one callback, noted in shared memory while it runs; its error (or
 * that it stopped dispatchers twice already) is recorded as its outcome.
 */
static void
callback_one(PendingCallback *cb, MemoryContext cxt)
{
	AwlDeliverCatch how = {.cxt = cxt, .before_abort = callback_stop_timers,
	.after_abort = callback_failed, .arg = cb};
	ErrorData  *edata;

	if (!awl_dispatcher_callback_begin(cb->id))
	{
		ereport(WARNING,
				(errmsg("awslambda dispatcher: callback %s for invocation %s is not run again: dispatchers stopped while running it",
						cb->callback, cb->id)));
		record_callback_error(cb->id,
							  "not run again: the dispatcher stopped while running this callback (it outran awslambda.async_callback_timeout by far, or ended the process)");
		return;
	}
	edata = awl_deliver_catch(callback_step, &how);
	if (edata)
		record_callback_error(cb->id, edata->message);
	awl_dispatcher_callback_end();
}

/*
 * Runs the callbacks of finished invocations, each in its own transaction
 * with the mark that it ran, so each runs once; returns how many.
 */
int
awl_deliver_callbacks(int limit)
{
	MemoryContext cxt;
	PendingCallback *pending;
	int			n;
	int			i;

	if (!awl_dq.has_callback_fn)
	{
		/* Until ALTER EXTENSION awslambda UPDATE adds it. */
		StartTransactionCommand();
		awl_dq.has_callback_fn = get_attnum(awl_queue_find(false), "callback_fn") != InvalidAttrNumber;
		CommitTransactionCommand();
		if (!awl_dq.has_callback_fn)
			return 0;
	}
	cxt = AllocSetContextCreate(TopMemoryContext, "awslambda callbacks",
								ALLOCSET_DEFAULT_SIZES);
	pending = find_callbacks(limit, cxt, &n);
	for (i = 0; i < n; i++)
		callback_one(&pending[i], cxt);
	MemoryContextDelete(cxt);
	return n;
}
