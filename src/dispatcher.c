/*-------------------------------------------------------------------------
 *
 * dispatcher.c
 *	  The background processes that send queued invocations.
 *
 * With awslambda in shared_preload_libraries the postmaster starts one
 * "awslambda launcher".  It starts an "awslambda dispatcher" for every
 * database that wants one: at server start each connectable database is
 * looked at once (so invocations queued before a crash are sent), and later
 * a commit that queued something in a database without a running
 * dispatcher asks for one.  A dispatcher in a database without the
 * extension gives its slot back and exits; one that stops for any other
 * reason (an error, pg_terminate_backend) is started again within a second.
 *
 * Shared memory holds one slot per database: whether a dispatcher is
 * wanted, and the latch that a committing backend sets to wake it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "awslambda.h"
#include "http.h"

/* A stopped dispatcher is started again after this long at the earliest. */
#define RESTART_DELAY_MS	1000
/* Even without a wake-up, dispatchers look at their queue this often. */
#define IDLE_LOOK_MS		10000
/* How long DROP DATABASE waits for the database's dispatcher to exit. */
#define STOP_WAIT_MS		5000
/* Claimed per round; awslambda.max_concurrency of them are in flight. */
#define BATCH_PER_SLOT		8
/* A round of sending lasts at most this long before the loop looks around. */
#define PUMP_MAX_MS			1000
#define CALLBACKS_PER_ROUND 100
#define CLEANUP_EVERY_MS	60000
/*
 * Under load, a round starts at least this long after the previous one:
 * fewer, fuller batches and fewer commits (well inside the 50 ms a commit
 * may wait to be sent).
 */
#define COALESCE_MS			20
/* A callback during which a dispatcher died this often is not run again. */
#define CALLBACK_DEATHS		2

typedef struct DispatchSlot
{
	Oid			dboid;			/* InvalidOid: slot free */
	bool		wanted;			/* the launcher keeps a dispatcher running */
	bool		leave;			/* the running dispatcher should leave after its round */
	pid_t		pid;			/* 0: none running */
	Latch	   *latch;			/* the running dispatcher's, or NULL */
	/* The callback being run (invocation id), and how often a dispatcher died in it. */
	char		callback_running[37];	/* uuid text, or empty */
	int			callback_deaths;
	/* Where the dispatcher's cursors must go back to (awl_dispatcher_rewind). */
	bool		rewind;
	uint64		rewind_fresh;	/* a queued_xact, 0: the beginning, PG_UINT64_MAX: none */
	TimestampTz rewind_due;		/* a due time, DT_NOEND: none */
} DispatchSlot;

typedef struct DispatchShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	bool		overflow;		/* a wake found no free slot: look again when one frees */
	int			nslots;
	DispatchSlot slots[FLEXIBLE_ARRAY_MEMBER];
} DispatchShared;

static DispatchShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

PGDLLEXPORT void awl_launcher_main(Datum arg);
PGDLLEXPORT void awl_dispatcher_main(Datum arg);

static Size
shared_size(void)
{
	return add_size(offsetof(DispatchShared, slots),
					mul_size(max_worker_processes, sizeof(DispatchSlot)));
}

static void
dispatcher_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
}

static void
dispatcher_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("awslambda dispatchers", shared_size(), &found);
	if (!found)
	{
		memset(shared, 0, shared_size());
		SpinLockInit(&shared->mutex);
		shared->nslots = max_worker_processes;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The slot of a database, optionally claiming a free one; mutex held. */
static DispatchSlot *
find_slot(Oid dboid, bool claim)
{
	DispatchSlot *free_slot = NULL;
	int			i;

	for (i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].dboid == dboid)
			return &shared->slots[i];
		if (free_slot == NULL && shared->slots[i].dboid == InvalidOid)
			free_slot = &shared->slots[i];
	}
	if (claim && free_slot)
	{
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->dboid = dboid;
	}
	return claim ? free_slot : NULL;
}

bool
awl_dispatcher_available(void)
{
	return awl_preloaded && shared != NULL;
}

/*
 * Called after a commit that queued invocations: wakes the database's
 * dispatcher, or asks the launcher to start one.  With no slot free, the
 * launcher is told to look again when one frees.
 */
void
awl_dispatcher_wake(Oid dboid)
{
	Latch	   *latch = NULL;
	DispatchSlot *slot;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	slot = find_slot(dboid, true);
	if (slot)
	{
		/* Wanted again, also if a dispatcher that was asked to leave still runs. */
		slot->wanted = true;
		slot->leave = false;
		latch = slot->latch ? slot->latch : shared->launcher_latch;
	}
	else
	{
		shared->overflow = true;
		latch = shared->launcher_latch;
	}
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
	if (slot == NULL)
		ereport(WARNING,
				(errmsg("no free awslambda dispatcher slot for database %u", dboid),
				 errdetail("Its invocations stay queued until a slot is free."),
				 errhint("Raise max_worker_processes.")));
}

/*
 * Tells the database's dispatcher that invocations may lie behind its
 * cursors: fresh ones from key (fresh_xact, any id) on (0: all of them;
 * PG_UINT64_MAX: none), and ones due by time from due on (DT_NOEND: none).
 * Merged with earlier requests it has not taken yet; wakes it.  Nothing
 * when the database has no dispatcher slot (a new dispatcher starts from
 * the beginning).
 */
void
awl_dispatcher_rewind(Oid dboid, uint64 fresh_xact, TimestampTz due)
{
	Latch	   *latch = NULL;
	DispatchSlot *slot;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	slot = find_slot(dboid, false);
	if (slot)
	{
		if (!slot->rewind)
		{
			slot->rewind = true;
			slot->rewind_fresh = fresh_xact;
			slot->rewind_due = due;
		}
		else
		{
			slot->rewind_fresh = Min(slot->rewind_fresh, fresh_xact);
			slot->rewind_due = Min(slot->rewind_due, due);
		}
		latch = slot->latch;
	}
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Makes the database's dispatcher leave it and not come back until woken:
 * at once (SIGTERM) for a database about to be dropped, else after the round
 * it is in, so that nothing in flight is sent twice.  Waits until it is gone,
 * at most STOP_WAIT_MS (PostgreSQL's own commands wait for other sessions
 * to leave a while longer).
 */
static void
stop_dispatcher(Oid dboid, bool at_once)
{
	DispatchSlot *slot;
	pid_t		pid = 0;
	Latch	   *latch = NULL;
	int			waited;

	SpinLockAcquire(&shared->mutex);
	slot = find_slot(dboid, false);
	if (slot)
	{
		slot->wanted = false;
		slot->leave = true;
		pid = slot->pid;
		latch = slot->latch;
	}
	SpinLockRelease(&shared->mutex);
	if (pid == 0)
		return;
	if (at_once)
		kill(pid, SIGTERM);
	else if (latch)
		SetLatch(latch);
	for (waited = 0; waited < STOP_WAIT_MS; waited += 10)
	{
		bool		gone;

		SpinLockAcquire(&shared->mutex);
		gone = slot->dboid != dboid || slot->pid != pid;
		SpinLockRelease(&shared->mutex);
		if (gone)
			break;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
}

/*
 * May the current role create databases (CREATEDB, or a superuser)?  Read
 * here: have_createdb_privilege() is exported only by later minor releases
 * (not by 15.18, for one).
 */
static bool
may_create_databases(void)
{
	HeapTuple	tup;
	bool		result = false;

	if (superuser())
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	return result;
}

/* A database by name, if the current role may run cmd on it (as PostgreSQL would check). */
static Oid
database_if_owner(const char *name)
{
	Oid			dboid = get_database_oid(name, true);

	return OidIsValid(dboid) && awl_database_ownercheck(dboid, GetUserId()) ? dboid : InvalidOid;
}

/* Does CREATE DATABASE ... TEMPLATE name pass PostgreSQL's permission checks? */
static Oid
template_if_allowed(const char *name)
{
	Oid			dboid;
	bool		istemplate = false;
	HeapTuple	tup;

	if (!may_create_databases())
		return InvalidOid;
	dboid = get_database_oid(name, true);
	if (!OidIsValid(dboid))
		return InvalidOid;
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (HeapTupleIsValid(tup))
	{
		istemplate = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
		ReleaseSysCache(tup);
	}
	return istemplate || awl_database_ownercheck(dboid, GetUserId()) ? dboid : InvalidOid;
}

/*
 * The database a utility statement needs without other connections, if
 * PostgreSQL would let this role run it here (top level, outside a
 * transaction block where it requires that): DROP DATABASE, CREATE DATABASE
 * ... TEMPLATE, ALTER DATABASE ... SET TABLESPACE, ALTER DATABASE ...
 * RENAME.  Nobody else makes a dispatcher leave.
 */
static Oid
database_to_leave(Node *stmt, ProcessUtilityContext context, bool *drop)
{
	bool		top = context == PROCESS_UTILITY_TOPLEVEL && !IsTransactionBlock() &&
		!IsSubTransaction();
	ListCell   *lc;

	*drop = false;
	if (IsA(stmt, DropdbStmt) && top)
	{
		*drop = true;
		return database_if_owner(((DropdbStmt *) stmt)->dbname);
	}
	if (IsA(stmt, CreatedbStmt) && top)
	{
		foreach(lc, ((CreatedbStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg)
				return template_if_allowed(defGetString(opt));
		}
		return InvalidOid;
	}
	if (IsA(stmt, AlterDatabaseStmt) && top)
	{
		foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
		{
			if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
				return database_if_owner(((AlterDatabaseStmt *) stmt)->dbname);
		}
		return InvalidOid;
	}
	if (IsA(stmt, RenameStmt) && ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE &&
		may_create_databases())
		return database_if_owner(((RenameStmt *) stmt)->subname);
	return InvalidOid;
}

/* Does this statement create or update extension awslambda? */
static bool
installs_awslambda(Node *stmt)
{
	return (IsA(stmt, CreateExtensionStmt) &&
			strcmp(((CreateExtensionStmt *) stmt)->extname, "awslambda") == 0) ||
		(IsA(stmt, AlterExtensionStmt) &&
		 strcmp(((AlterExtensionStmt *) stmt)->extname, "awslambda") == 0);
}

/*
 * The utility statements the dispatchers must react to: those that need a
 * database without other connections (its dispatcher leaves first and comes
 * back afterwards unless the database is gone), those after which a
 * database may have invocations that nobody was woken for (COMMIT PREPARED,
 * CREATE or ALTER EXTENSION awslambda).
 */
static void
dispatcher_process_utility(PlannedStmt *pstmt, const char *queryString,
						   bool readOnlyTree, ProcessUtilityContext context,
						   ParamListInfo params, QueryEnvironment *queryEnv,
						   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		drop;
	volatile Oid left = database_to_leave(stmt, context, &drop);

	if (OidIsValid(left))
		stop_dispatcher(left, drop);
	PG_TRY();
	{
		if (prev_process_utility_hook)
			prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params,
									  queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		/* The database stays (other sessions, say): so does its dispatcher. */
		if (OidIsValid(left))
			awl_dispatcher_wake(left);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (OidIsValid(left) && !drop)
		awl_dispatcher_wake(left);

	/* Only once it worked: nobody else wakes a dispatcher by trying. */
	if (installs_awslambda(stmt))
		awl_queue_wake_at_commit();

	/*
	 * The prepared transaction's invocations are committed now: wake for
	 * them.  Whether it committed or not, it may have queued invocations for
	 * later or held rows a claim passed (see awl_queue_rewind_at_end): the
	 * dispatcher looks at the whole queue again.
	 */
	if (IsA(stmt, TransactionStmt) &&
		(((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED ||
		 ((TransactionStmt *) stmt)->kind == TRANS_STMT_ROLLBACK_PREPARED) &&
		OidIsValid(get_extension_oid("awslambda", true)))
	{
		awl_dispatcher_rewind(MyDatabaseId, 0, DT_NOBEGIN);
		if (((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED)
			awl_dispatcher_wake(MyDatabaseId);
	}
}

/* From _PG_init in the postmaster: shared memory, hooks and the launcher. */
void
awl_dispatcher_init(void)
{
	BackgroundWorker worker = {0};

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = dispatcher_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = dispatcher_shmem_startup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = dispatcher_process_utility;

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "awslambda");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "awl_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "awslambda launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "awslambda launcher");
	RegisterBackgroundWorker(&worker);
}

/* ---------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------
 */

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

/*
 * Did a commit find no slot, and is one free now?  Then every database is
 * looked at again, as after a start (the one that asked among them).
 */
static bool
overflow_with_free_slot(void)
{
	bool		again = false;
	int			i;

	SpinLockAcquire(&shared->mutex);
	if (shared->overflow)
		for (i = 0; i < shared->nslots && !again; i++)
			again = shared->slots[i].dboid == InvalidOid;
	if (again)
		shared->overflow = false;
	SpinLockRelease(&shared->mutex);
	return again;
}

/* Asks for a dispatcher in as many listed databases as slots allow. */
static void
want_unseen_databases(void)
{
	while (nunseen > 0)
	{
		DispatchSlot *slot;

		SpinLockAcquire(&shared->mutex);
		slot = find_slot(unseen[nunseen - 1], true);
		if (slot)
			slot->wanted = true;
		SpinLockRelease(&shared->mutex);
		if (slot == NULL)
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

void
awl_launcher_main(Datum arg)
{
	int			n;
	BackgroundWorkerHandle **handles;
	Oid		   *handle_db;
	TimestampTz *started;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	n = shared->nslots;
	handles = palloc0(n * sizeof(*handles));
	handle_db = palloc0(n * sizeof(Oid));
	started = palloc0(n * sizeof(TimestampTz));

	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = MyLatch;
	SpinLockRelease(&shared->mutex);

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
		if (overflow_with_free_slot())
			list_databases();
		want_unseen_databases();
		if (nunseen > 0)
			wait_ms = Min(wait_ms, RESTART_DELAY_MS);

		for (i = 0; i < n; i++)
		{
			Oid			dboid;
			bool		wanted;
			pid_t		running_pid;
			pid_t		pid;

			SpinLockAcquire(&shared->mutex);
			dboid = shared->slots[i].dboid;
			wanted = shared->slots[i].wanted;
			running_pid = shared->slots[i].pid;
			SpinLockRelease(&shared->mutex);

			/* A handle of a database that gave its slot back is stale. */
			if (handles[i] && handle_db[i] != dboid)
			{
				pfree(handles[i]);
				handles[i] = NULL;
			}
			if (!OidIsValid(dboid) || !wanted)
				continue;

			/*
			 * Running, or about to: started by this launcher, or by an
			 * earlier one (which left no handle) and registered in its slot.
			 */
			if (running_pid != 0)
				continue;
			if (handles[i] && GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
				continue;
			if (started[i] != 0 && TimestampDifferenceMilliseconds(started[i], now) < RESTART_DELAY_MS)
			{
				wait_ms = Min(wait_ms, RESTART_DELAY_MS -
							  TimestampDifferenceMilliseconds(started[i], now));
				continue;
			}
			if (handles[i])
				pfree(handles[i]);
			handles[i] = NULL;
			started[i] = now;
			handle_db[i] = dboid;
			if (!start_dispatcher(dboid, &handles[i]))
			{
				/* No free background worker slot now: try again later. */
				ereport(LOG,
						(errmsg("could not start an awslambda dispatcher for database %u", dboid),
						 errhint("Raise max_worker_processes.")));
				handles[i] = NULL;
				wait_ms = Min(wait_ms, RESTART_DELAY_MS);
				break;
			}
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(wait_ms, 1), awl_wait_event(AWL_WAIT_DISPATCHER));
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * A database's dispatcher
 * ---------------------------------------------------------------------
 */

static DispatchSlot *my_slot = NULL;

/*
 * In a dispatcher: takes the requests of awl_dispatcher_rewind for its
 * database; false if there are none.
 */
bool
awl_dispatcher_take_rewind(uint64 *fresh_xact, TimestampTz *due)
{
	bool		any = false;

	if (my_slot == NULL)
		return false;
	SpinLockAcquire(&shared->mutex);
	if (my_slot->dboid == MyDatabaseId && my_slot->rewind)
	{
		any = true;
		*fresh_xact = my_slot->rewind_fresh;
		*due = my_slot->rewind_due;
		my_slot->rewind = false;
	}
	SpinLockRelease(&shared->mutex);
	return any;
}

/*
 * At exit: no latch to set any more; a database without the extension frees
 * its slot.  Only the slot's own dispatcher touches it, and the launcher is
 * told, so that it starts another one if the database still wants it (even a
 * launcher that did not start this one and has no handle on it).
 */
static void
release_slot(int code, Datum arg)
{
	bool		give_back = DatumGetBool(arg);
	Latch	   *launcher = NULL;

	if (my_slot == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	if (my_slot->dboid == MyDatabaseId && my_slot->pid == MyProcPid)
	{
		my_slot->latch = NULL;
		my_slot->pid = 0;
		if (give_back || !my_slot->wanted)
			my_slot->dboid = InvalidOid;
		launcher = shared->launcher_latch;
	}
	SpinLockRelease(&shared->mutex);
	if (launcher)
		SetLatch(launcher);
}

/*
 * Notes that the callback of invocation id is about to run; false (and
 * forgotten) if a dispatcher of this database already died CALLBACK_DEATHS
 * times while running it: it is not run again.  The note lives in shared
 * memory, so it outlives the dispatcher that a callback stopped (an
 * uncatchable time limit, exit_on_error).
 */
bool
awl_dispatcher_callback_begin(const char *id)
{
	bool		run = true;

	SpinLockAcquire(&shared->mutex);
	if (strcmp(my_slot->callback_running, id) == 0)
		run = ++my_slot->callback_deaths < CALLBACK_DEATHS;
	else
	{
		strlcpy(my_slot->callback_running, id, sizeof(my_slot->callback_running));
		my_slot->callback_deaths = 0;
	}
	if (!run)
		my_slot->callback_running[0] = '\0';
	SpinLockRelease(&shared->mutex);
	return run;
}

/* The callback noted by awl_dispatcher_callback_begin() is done, one way or another. */
void
awl_dispatcher_callback_end(void)
{
	SpinLockAcquire(&shared->mutex);
	my_slot->callback_running[0] = '\0';
	SpinLockRelease(&shared->mutex);
}

/* Has a command that needs the database without connections asked us to leave? */
static bool
asked_to_leave(void)
{
	bool		leave;

	SpinLockAcquire(&shared->mutex);
	leave = my_slot->leave;
	SpinLockRelease(&shared->mutex);
	if (leave)
		ereport(LOG,
				(errmsg("awslambda dispatcher: leaving database %u for a command that needs it without connections",
						MyDatabaseId)));
	return leave;
}

/* Is another live process this slot's dispatcher?  Mutex held. */
static bool
slot_taken(DispatchSlot *slot)
{
	return slot->pid != 0 && slot->pid != MyProcPid &&
		(kill(slot->pid, 0) == 0 || errno != ESRCH);
}

void
awl_dispatcher_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	TimestampTz last_cleanup = 0;
	TimestampTz last_callbacks = 0;
	TimestampTz last_claim = 0;
	TimestampTz next_look = 0;	/* claim then even if not woken */
	bool		woken = true;	/* a commit (or the start) asks for a claim */
	bool		more = false;	/* the last claim was full: more may be due */
	bool		limited = false;	/* it left rows of functions at their limit */
	bool		held = false;	/* the queue is a subscriber's copy */
	bool		more_callbacks = false;
	pid_t		duplicate = 0;
	bool		recovered = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/*
	 * It connects as the bootstrap superuser: the server's settings are
	 * remembered before the database's and role's own apply, and the session
	 * is fixed right after (see confine.c), before any statement runs.
	 */
	awl_confine_capture();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	awl_confine_session();
	pgstat_report_appname("awslambda dispatcher");

	/* Exactly one dispatcher per database: a second one leaves at once. */
	SpinLockAcquire(&shared->mutex);
	my_slot = find_slot(dboid, true);
	if (my_slot && slot_taken(my_slot))
		duplicate = my_slot->pid;
	else if (my_slot)
	{
		my_slot->pid = MyProcPid;
		my_slot->latch = MyLatch;
	}
	SpinLockRelease(&shared->mutex);
	if (duplicate)
	{
		ereport(LOG,
				(errmsg("awslambda dispatcher: database %u already has one (PID %d); exiting",
						dboid, (int) duplicate)));
		my_slot = NULL;
		proc_exit(0);
	}
	if (my_slot == NULL)
		proc_exit(0);

	if (!awl_deliver_open())
	{
		/* No awslambda here (or not updated): nothing to send, ever. */
		release_slot(0, BoolGetDatum(true));
		proc_exit(0);
	}
	on_shmem_exit(release_slot, BoolGetDatum(false));


	for (;;)
	{
		int			capacity = awl_max_concurrency * BATCH_PER_SLOT;
		int			in_pipeline = awl_deliver_in_pipeline();
		bool		may_claim = in_pipeline == 0 || capacity - in_pipeline >= capacity / 2;
		bool		with_callbacks = false;
		bool		requeued = false;
		int			claimed;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			/*
			 * The server's values that this session and its callbacks were
			 * fixed to (confine.c) may have changed: the launcher starts a new
			 * dispatcher at once, which takes them from the postmaster.
			 */
			ereport(LOG,
					(errmsg("awslambda dispatcher: restarting to apply the reloaded configuration")));
			awl_deliver_drain();
			proc_exit(0);
		}
		if (asked_to_leave())
		{
			awl_deliver_drain();
			proc_exit(0);
		}

		now = GetCurrentTimestamp();
		if (now >= next_look)
			woken = true;

		/*
		 * Under load, let commits gather for a moment since the last claim:
		 * fewer, fuller claims.  An idle dispatcher goes at once.
		 */
		if (woken && may_claim && !more &&
			!TimestampDifferenceExceeds(last_claim, now, COALESCE_MS))
		{
			long		gap = COALESCE_MS - TimestampDifferenceMilliseconds(last_claim, now);

			if (in_pipeline > 0)
				(void) awl_deliver_pump(gap, false, &with_callbacks, &requeued);
			else
				(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, gap,
								 awl_wait_event(AWL_WAIT_DISPATCHER));
			more_callbacks = more_callbacks || with_callbacks;
			if (requeued)
				next_look = now;
			continue;
		}

		if (woken && may_claim)
		{
			/* A subscriber's copy of a publisher's queue is the publisher's to send. */
			held = awl_deliver_held();
			if (held)
			{
				/* What is in flight finishes; nothing more is claimed until a look says otherwise. */
				recovered = false;
				ResetLatch(MyLatch);
				woken = false;
				next_look = TimestampTzPlusMilliseconds(now, IDLE_LOOK_MS);
			}
			else
			{
				/*
				 * Whatever a crashed or stopped dispatcher (or, before a
				 * subscription was dropped, the publisher) had in flight is
				 * sent again.
				 */
				if (!recovered)
				{
					awl_deliver_recover();
					recovered = true;
				}
				/* Commits from here on set the latch again. */
				ResetLatch(MyLatch);
				claimed = awl_deliver_claim(capacity - in_pipeline, &more, &limited);
				last_claim = GetCurrentTimestamp();
				/* Cut short by payload bytes in flight: again once some are answered. */
				woken = more && claimed > 0;
				if (!more)
					next_look = TimestampTzPlusMilliseconds(last_claim,
															awl_deliver_next_due_ms(IDLE_LOOK_MS));
				else if (claimed == 0)
					next_look = TimestampTzPlusMilliseconds(last_claim, PUMP_MAX_MS);

				/*
				 * Rows of functions at their limit count as due: look again
				 * when one of theirs is answered, or in a while, not at once.
				 */
				if (limited)
					next_look = Max(next_look, TimestampTzPlusMilliseconds(last_claim, PUMP_MAX_MS));
			}
			in_pipeline = awl_deliver_in_pipeline();
			may_claim = in_pipeline == 0 || capacity - in_pipeline >= capacity / 2;
		}

		/*
		 * Send, and record outcomes as they arrive.  Come back at once for
		 * another claim if one is wanted and possible; otherwise when
		 * something is answered, the latch is set, or the next invocation
		 * is due.
		 */
		if (in_pipeline > 0)
		{
			long		wait_ms = PUMP_MAX_MS;

			if (woken && may_claim)
				wait_ms = 0;
			else if (!woken)
				wait_ms = Min(wait_ms, Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
																			  next_look)));
			if (awl_deliver_pump(wait_ms, may_claim, &with_callbacks, &requeued) > 0 &&
				(more || limited))
				woken = true;
			if (requeued)
				next_look = GetCurrentTimestamp();	/* a retry may be due before next_look */
		}

		/* A subscriber's copies: the publisher runs their callbacks and removes them. */
		if (held)
		{
			if (awl_deliver_in_pipeline() > 0)
			{
				woken = MyLatch->is_set;	/* look again (and reset it) */
				continue;
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_look)),
							 awl_wait_event(AWL_WAIT_DISPATCHER));
			woken = true;
			continue;
		}

		now = GetCurrentTimestamp();
		if (with_callbacks || more_callbacks ||
			TimestampDifferenceExceeds(last_callbacks, now, IDLE_LOOK_MS))
		{
			more_callbacks = awl_deliver_callbacks(CALLBACKS_PER_ROUND) >= CALLBACKS_PER_ROUND;
			last_callbacks = now;
		}

		/* Once a minute, or more often with a shorter retention. */
		if (awl_async_retention_s >= 0 &&
			TimestampDifferenceExceeds(last_cleanup, now,
									   (int) Min((int64) CLEANUP_EVERY_MS,
												 (int64) awl_async_retention_s * 1000)))
		{
			awl_deliver_cleanup();
			last_cleanup = now;
		}
		pgstat_report_stat(false);

		if (MyLatch->is_set)
			woken = true;
		if (woken || more_callbacks || awl_deliver_in_pipeline() > 0)
			continue;

		/* Idle: until a commit wakes us or the next invocation is due. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_look)),
						 awl_wait_event(AWL_WAIT_DISPATCHER));
		woken = true;
	}
}
