/*-------------------------------------------------------------------------
 *
 * deliver.c
 *	  The dispatcher's hold on its database's queue (awslambda_invocations):
 *	  which tables it is, followed through renames and updates of the
 *	  extension; the cursors of its scans; its transactions and statements
 *	  on the queue; whether a subscription holds it off; and the one way
 *	  its work catches an error and carries on (awl_deliver_catch).
 *
 * The rest of the work is in claim.c, pipeline.c, batch.c, outcome.c,
 * callback.c and cleanup.c (see deliver.h).
 *
 * From 0.4.0 on, unfinished invocations are rows of a table of their own
 * (awslambda_invocations_pending, a child of awslambda_invocations); a
 * finished one is moved into awslambda_invocations with its outcome.  And
 * no scan walks again what an earlier one took: see "Cursors" in deliver.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_subscription.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "deliver.h"
#include "queue.h"

AwlDeliverQueue awl_dq = {NULL, InvalidOid, InvalidOid, NULL, InvalidOid, false, false, false};

AwlDeliverCursors awl_cursors = {{0}, {{0}}, NULL, 0, 0, DT_NOBEGIN, DT_NOBEGIN, DT_NOBEGIN, DT_NOBEGIN};

void
awl_deliver_reset_cursors(void)
{
	/* (0, ff...ff): past the invocations put aside until run_at (queued_xact 0). */
	awl_cursors.fresh_xact = FullTransactionIdFromU64(0);
	memset(&awl_cursors.fresh_id, 0xff, sizeof(awl_cursors.fresh_id));
	awl_cursors.nwatch = 0;
	awl_cursors.retry_from = DT_NOBEGIN;
	awl_cursors.callbacks_from = DT_NOBEGIN;
	awl_cursors.cleanup_from = DT_NOBEGIN;
	awl_cursors.failed_cleanup_from = DT_NOBEGIN;
}

static void follow_queue_name(void);

void
awl_deliver_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgstat_report_activity(STATE_RUNNING, activity);
	follow_queue_name();
}

void
awl_deliver_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Every statement the dispatcher runs is on the queue's tables alone: while
 * it is analysed (or re-analysed by the plan cache) it may name no other
 * relation (see awl_queue_guard_begin_pair).
 */
void
awl_deliver_run(const char *sql, int expected, int nargs, Oid *types, Datum *values, const char *nulls)
{
	volatile int rc = 0;

	awl_queue_guard_begin_pair(awl_dq.queue_relid, awl_dq.pending_relid);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
	}
	PG_END_TRY();
	if (rc != expected)
		elog(ERROR, "awslambda dispatcher: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/* The statements planned once for the dispatcher's life, forgotten if the queue's name changes. */
static SPIPlanPtr *saved_plans[48];
static int	nsaved_plans = 0;

/* Finds the pending table of queue_relid anew (0.4.0), and work with it. */
static void
find_pending(void)
{
	awl_dq.pending_relid = awl_queue_find_pending(awl_dq.queue_relid);
	awl_deliver_reset_cursors();
}

/*
 * The queue's qualified names, as the SQL text has them, follow renames of
 * the tables or their schema: checked at the start of each of the
 * dispatcher's transactions; the saved plans are made anew with the new
 * names.  So does an update of the extension that moves unfinished
 * invocations to their own table: rows in flight are recorded there.
 */
static void
follow_queue_name(void)
{
	char	   *now;
	char	   *now_work;
	int			i;

	/* The extension dropped (and maybe created again) since: find its queue anew. */
	if (get_rel_name(awl_dq.queue_relid) == NULL ||
		(OidIsValid(awl_dq.pending_relid) && get_rel_name(awl_dq.pending_relid) == NULL))
	{
		Oid			relid = awl_queue_find(true);

		if (!OidIsValid(relid))
		{
			ereport(LOG,
					(errmsg("awslambda dispatcher: extension \"awslambda\" is gone from this database; exiting")));
			proc_exit(0);
		}
		awl_dq.queue_relid = relid;
		awl_dq.queue_rowtype = get_rel_type_id(relid);
		awl_dq.has_callback_fn = get_attnum(relid, "callback_fn") != InvalidAttrNumber;
		find_pending();
	}
	else if (!OidIsValid(awl_dq.pending_relid))
	{
		/* Until ALTER EXTENSION awslambda UPDATE to 0.4.0. */
		find_pending();
		if (OidIsValid(awl_dq.pending_relid))
			ereport(LOG,
					(errmsg("awslambda dispatcher: unfinished invocations are now kept in table %s",
							awl_queue_name(awl_dq.pending_relid))));
	}
	now = awl_queue_name(awl_dq.queue_relid);
	now_work = OidIsValid(awl_dq.pending_relid) ? awl_queue_name(awl_dq.pending_relid) : now;
	if (strcmp(now, awl_dq.queue) == 0 && strcmp(now_work, awl_dq.work) == 0)
		return;
	if (strcmp(now, awl_dq.queue) != 0)
		ereport(LOG,
				(errmsg("awslambda dispatcher: the queue table is now %s (was %s)", now, awl_dq.queue)));
	pfree(awl_dq.queue);
	pfree(awl_dq.work);
	awl_dq.queue = MemoryContextStrdup(TopMemoryContext, now);
	awl_dq.work = MemoryContextStrdup(TopMemoryContext, now_work);
	for (i = 0; i < nsaved_plans; i++)
	{
		SPI_freeplan(*saved_plans[i]);
		*saved_plans[i] = NULL;
	}
	nsaved_plans = 0;
}

/*
 * Runs a statement of the dispatcher's loop, planned once for the
 * dispatcher's life (the plan cache revalidates it should the table change).
 */
void
awl_deliver_run_prepared(SPIPlanPtr *plan, const char *sql, int expected, int nargs, Oid *types,
			 Datum *values)
{
	volatile int rc = 0;

	awl_queue_guard_begin_pair(awl_dq.queue_relid, awl_dq.pending_relid);
	PG_TRY();
	{
		if (*plan == NULL)
		{
			SPIPlanPtr	p;

			if (nsaved_plans >= (int) lengthof(saved_plans))
				elog(ERROR, "awslambda dispatcher: too many saved plans");
			p = SPI_prepare(sql, nargs, types);
			if (p == NULL)
				elog(ERROR, "awslambda dispatcher: could not plan \"%s\": %s", sql,
					 SPI_result_code_string(SPI_result));
			SPI_keepplan(p);
			*plan = p;
			saved_plans[nsaved_plans++] = plan;
		}
		rc = SPI_execute_plan(*plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
	}
	PG_END_TRY();
	if (rc != expected)
		elog(ERROR, "awslambda dispatcher: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/*
 * Does a logical replication subscription of this database include the
 * queue table?  Then its rows are the publisher's, which sends them: this
 * dispatcher holds off (sends, runs callbacks, removes nothing) until the
 * subscription is dropped or no longer includes the table.  In a
 * transaction.
 */
static bool
queue_subscribed(Oid relid)
{
	Relation	rel = table_open(SubscriptionRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
	HeapTuple	tup;
	bool		found = false;

	while (!found && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_subscription sub = (Form_pg_subscription) GETSTRUCT(tup);

		found = sub->subdbid == MyDatabaseId &&
			SearchSysCacheExists2(SUBSCRIPTIONRELMAP, ObjectIdGetDatum(relid),
								  ObjectIdGetDatum(sub->oid));
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Whether the dispatcher must hold off because the queue arrives by logical
 * replication (see queue_subscribed); says so in the log when that changes.
 */
bool
awl_deliver_held(void)
{
	static bool held = false;
	bool		now_held;

	StartTransactionCommand();
	now_held = queue_subscribed(awl_dq.queue_relid) ||
		(OidIsValid(awl_dq.pending_relid) && queue_subscribed(awl_dq.pending_relid));
	CommitTransactionCommand();
	if (now_held != held)
		ereport(LOG,
				(errmsg(now_held ?
						"awslambda dispatcher: the queue of this database is replicated from a publisher by a subscription; it is sent there, not here" :
						"awslambda dispatcher: the queue of this database is no longer replicated by a subscription; sending what is queued")));
	held = now_held;
	return held;
}

/*
 * Finds the queue of this database's awslambda; false if the extension (at
 * a version with a queue) is not installed.
 */
bool
awl_deliver_open(void)
{
	Oid			relid;

	StartTransactionCommand();
	relid = awl_queue_find(true);
	if (OidIsValid(relid))
	{
		awl_dq.queue = MemoryContextStrdup(TopMemoryContext, awl_queue_name(relid));
		awl_dq.queue_relid = relid;
		awl_dq.queue_rowtype = get_rel_type_id(relid);
		awl_dq.has_callback_fn = get_attnum(relid, "callback_fn") != InvalidAttrNumber;
		find_pending();
		awl_dq.work = MemoryContextStrdup(TopMemoryContext,
								   awl_queue_name(OidIsValid(awl_dq.pending_relid) ? awl_dq.pending_relid : relid));
		if (!awl_dq.has_callback_fn)
			ereport(LOG,
					(errmsg("awslambda dispatcher: extension \"awslambda\" in this database predates 0.3.0; callbacks wait until ALTER EXTENSION awslambda UPDATE")));
	}
	CommitTransactionCommand();
	return OidIsValid(relid);
}

/* A copy of column n of the current result row, in the caller's context. */
char *
awl_deliver_column_text(int row, int n, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, n);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

ErrorData *
awl_deliver_catch(void (*step) (void *arg), AwlDeliverCatch *c)
{
	MemoryContext old = CurrentMemoryContext;
	ErrorData  *volatile edata = NULL;

	PG_TRY();
	{
		step(c->arg);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(c->cxt);
		e = CopyErrorData();
		FlushErrorState();
		if (c->before_abort)
			c->before_abort(c, e);
		AbortCurrentTransaction();
		if (c->restart)
			StartTransactionCommand();
		if (c->after_abort)
			c->after_abort(c, e);
		if (c->what)
			ereport(WARNING,
					(errmsg("awslambda dispatcher: %s: %s", c->what, e->message)));
		MemoryContextSwitchTo(old);
		edata = e;
	}
	PG_END_TRY();
	return edata;
}
