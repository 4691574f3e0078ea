/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The "awslambda launcher": the background process that starts an
 *	  "awslambda dispatcher" for every database that wants one.
 *
 * At server start each connectable database is looked at once (so
 * invocations queued before a crash are sent); later a commit that queued
 * something in a database without a running dispatcher asks for one (see
 * slots.c).  A dispatcher that stops is started again after
 * RESTART_DELAY_MS at the earliest.  It calls only slots.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "dispatcher.h"
#include "http.h"

/* A stopped dispatcher is started again after this long at the earliest. */
#define RESTART_DELAY_MS	1000
/* Even without a wake-up, the launcher looks at the slots this often. */
#define IDLE_LOOK_MS		10000

/*
 * Every connectable database, to be looked at once after the server starts:
 * its queue may hold invocations from before.  Kept in the launcher's memory
 * until a slot is free for each.
 */
static Oid *unseen = NULL;
static int	nunseen = 0;

static void
list_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			cap = 16;

	StartTransactionCommand();
	if (unseen)
		pfree(unseen);
	nunseen = 0;
	unseen = MemoryContextAlloc(TopMemoryContext, cap * sizeof(Oid));
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate)
			continue;
		if (nunseen == cap)
		{
			cap *= 2;
			unseen = repalloc(unseen, cap * sizeof(Oid));
		}
		unseen[nunseen++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
}

/* Asks for a dispatcher in as many listed databases as slots allow. */
static void
want_unseen_databases(void)
{
	while (nunseen > 0)
	{
		if (!awl_slots_want(unseen[nunseen - 1]))
			return;				/* all slots taken: again when one is free */
		nunseen--;
	}
}

static bool
start_dispatcher(Oid dboid, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker = {0};

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "awslambda");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "awl_dispatcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "awslambda dispatcher for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "awslambda dispatcher");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

/* What the launcher knows of the dispatchers it started, one entry per slot. */
typedef struct LaunchedSlot
{
	BackgroundWorkerHandle *handle; /* NULL: none started by this launcher */
	Oid			dboid;			/* the database the handle is for */
	TimestampTz started;		/* when the last one was started, 0: never */
} LaunchedSlot;

/*
 * Starts the dispatcher slot i wants, unless one runs or was started less
 * than RESTART_DELAY_MS ago; lowers *wait_ms to when to look again.  False
 * when no background worker slot is free: the rest waits for the next look.
 */
static bool
launch_slot(int i, LaunchedSlot *l, TimestampTz now, long *wait_ms)
{
	Oid			dboid;
	bool		wanted;
	pid_t		running_pid;
	pid_t		pid;

	awl_slots_get(i, &dboid, &wanted, &running_pid);

	/* A handle of a database that gave its slot back is stale. */
	if (l->handle && l->dboid != dboid)
	{
		pfree(l->handle);
		l->handle = NULL;
	}
	if (!OidIsValid(dboid) || !wanted)
		return true;

	/*
	 * Running, or about to: started by this launcher, or by an earlier one
	 * (which left no handle) and registered in its slot.
	 */
	if (running_pid != 0)
		return true;
	if (l->handle && GetBackgroundWorkerPid(l->handle, &pid) != BGWH_STOPPED)
		return true;
	if (l->started != 0 && TimestampDifferenceMilliseconds(l->started, now) < RESTART_DELAY_MS)
	{
		*wait_ms = Min(*wait_ms, RESTART_DELAY_MS -
					   TimestampDifferenceMilliseconds(l->started, now));
		return true;
	}
	if (l->handle)
		pfree(l->handle);
	l->handle = NULL;
	l->started = now;
	l->dboid = dboid;
	if (!start_dispatcher(dboid, &l->handle))
	{
		/* No free background worker slot now: try again later. */
		ereport(LOG,
				(errmsg("could not start an awslambda dispatcher for database %u", dboid),
				 errhint("Raise max_worker_processes.")));
		l->handle = NULL;
		*wait_ms = Min(*wait_ms, RESTART_DELAY_MS);
		return false;
	}
	return true;
}

void
awl_launcher_main(Datum arg)
{
	int			n;
	LaunchedSlot *launched;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	n = awl_slots_count();
	launched = palloc0(n * sizeof(LaunchedSlot));
	awl_slots_set_launcher_latch(MyLatch);

	list_databases();

	for (;;)
	{
		long		wait_ms = IDLE_LOOK_MS;
		TimestampTz now = GetCurrentTimestamp();
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (awl_slots_overflow_with_free_slot())
			list_databases();
		want_unseen_databases();
		if (nunseen > 0)
			wait_ms = Min(wait_ms, RESTART_DELAY_MS);

		for (i = 0; i < n; i++)
			if (!launch_slot(i, &launched[i], now, &wait_ms))
				break;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(wait_ms, 1), awl_wait_event(AWL_WAIT_DISPATCHER));
		ResetLatch(MyLatch);
	}
}
