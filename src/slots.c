/*-------------------------------------------------------------------------
 *
 * slots.c
 *	  The dispatchers' shared memory: one slot per database, saying whether
 *	  a dispatcher is wanted there, which process it is, the latch that
 *	  wakes it, the callback it is running and where its cursors must go
 *	  back to; and the wake-up (and rewind) a transaction that queued
 *	  invocations gives at its end.
 *
 * Every access to the slots, under their spinlock, is in this file; the
 * launcher, the dispatchers, the utility hook and the callers' side use the
 * functions below.  It calls nothing else of the asynchronous side.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "dispatcher.h"
#include "http.h"

/* How long DROP DATABASE waits for the database's dispatcher to exit. */
#define STOP_WAIT_MS		5000
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

/* Whether the postmaster preloaded the library (awl_slots_init ran). */
static bool preloaded = false;

/* This dispatcher's slot (awl_slots_take), or NULL. */
static DispatchSlot *my_slot = NULL;

/* Set when this transaction queued something: wake the dispatcher at commit. */
static bool wake_at_commit = false;
static bool xact_callback_registered = false;

/*
 * What the dispatcher is to be told at the end of this transaction (see
 * awl_dispatcher_rewind_at_end).
 */
static bool rewind_at_end = false;
static uint64 rewind_fresh = PG_UINT64_MAX;
static TimestampTz rewind_due = DT_NOEND;

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

/* From awl_dispatcher_init, in the postmaster: asks for the shared memory. */
void
awl_slots_init(void)
{
	preloaded = true;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = dispatcher_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = dispatcher_shmem_startup;
}

void
awl_dispatcher_require(bool queuing)
{
	if (!preloaded || shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("asynchronous Lambda invocations need awslambda in shared_preload_libraries"),
				 errdetail("Queued invocations are sent by a background dispatcher, which starts only when the server preloads the library."),
				 queuing ? errhint("Add awslambda to shared_preload_libraries in postgresql.conf and restart the server, or SET awslambda.async_mode = 'immediate' to send at once, inside the statement, without the guarantees.") : 0));
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

static void
queue_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			/* Both after the commit is visible: the dispatcher sees what it is told of. */
			if (rewind_at_end)
				awl_dispatcher_rewind(MyDatabaseId, rewind_fresh, rewind_due);
			rewind_at_end = false;
			if (wake_at_commit)
			{
				wake_at_commit = false;
				awl_dispatcher_wake(MyDatabaseId);
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* The rows this transaction locked are free again, as they were. */
			if (rewind_at_end)
				awl_dispatcher_rewind(MyDatabaseId, rewind_fresh, rewind_due);
			rewind_at_end = false;
			wake_at_commit = false;
			break;
		case XACT_EVENT_PREPARE:
			/* COMMIT PREPARED wakes the dispatcher; it or ROLLBACK PREPARED rewinds it (utility.c). */
			rewind_at_end = false;
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

static void
register_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(queue_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

/*
 * Wakes this database's dispatcher (or has one started) when the current
 * transaction commits; nothing if it aborts.
 */
void
awl_dispatcher_wake_at_commit(void)
{
	register_xact_callback();
	wake_at_commit = true;
}

/*
 * Merged with what this transaction asked before; told the dispatcher at
 * its end, commit or abort (queue_xact_callback).
 */
void
awl_dispatcher_rewind_at_end(uint64 queued_xact, TimestampTz due)
{
	register_xact_callback();
	if (!rewind_at_end)
	{
		rewind_fresh = PG_UINT64_MAX;
		rewind_due = DT_NOEND;
	}
	rewind_at_end = true;
	rewind_fresh = Min(rewind_fresh, queued_xact);
	rewind_due = Min(rewind_due, due);
}

/*
 * Tells the database's dispatcher that invocations may lie behind its
 * cursors: fresh ones from key (fresh_xact, any id) on (0: all of them;
 * PG_UINT64_MAX: none), and ones due by time from due on (DT_NOEND: none).
 * Merged with earlier requests it has not taken yet; sets its latch.
 * Nothing when the database has no dispatcher slot (a new dispatcher starts
 * from the beginning).
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
void
awl_dispatcher_stop(Oid dboid, bool at_once)
{
	DispatchSlot *slot;
	pid_t		pid = 0;
	Latch	   *latch = NULL;
	TimestampTz deadline;

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
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_WAIT_MS);
	for (;;)
	{
		bool		gone;

		SpinLockAcquire(&shared->mutex);
		gone = slot->dboid != dboid || slot->pid != pid;
		SpinLockRelease(&shared->mutex);
		if (gone || GetCurrentTimestamp() >= deadline)
			break;
		/* Polled: the dispatcher's exit sets no latch of ours. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 awl_wait_event(AWL_WAIT_DISPATCHER_STOP));
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* ---- For the launcher ------------------------------------------------ */

/* How many slots there are (max_worker_processes at server start). */
int
awl_slots_count(void)
{
	return shared->nslots;
}

/* Makes the launcher's latch the one a wake-up sets when no dispatcher runs. */
void
awl_slots_set_launcher_latch(Latch *latch)
{
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = latch;
	SpinLockRelease(&shared->mutex);
}

/*
 * Did a commit find no slot, and is one free now?  Then every database is
 * looked at again, as after a start (the one that asked among them).
 */
bool
awl_slots_overflow_with_free_slot(void)
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

/* Asks for a dispatcher in database dboid; false if no slot is free. */
bool
awl_slots_want(Oid dboid)
{
	DispatchSlot *slot;

	SpinLockAcquire(&shared->mutex);
	slot = find_slot(dboid, true);
	if (slot)
		slot->wanted = true;
	SpinLockRelease(&shared->mutex);
	return slot != NULL;
}

/* What slot i holds: its database, whether it is wanted, its dispatcher's PID. */
void
awl_slots_get(int i, Oid *dboid, bool *wanted, pid_t *pid)
{
	SpinLockAcquire(&shared->mutex);
	*dboid = shared->slots[i].dboid;
	*wanted = shared->slots[i].wanted;
	*pid = shared->slots[i].pid;
	SpinLockRelease(&shared->mutex);
}

/* ---- For a database's dispatcher --------------------------------------- */

/* Is another live process this slot's dispatcher?  Mutex held. */
static bool
slot_taken(DispatchSlot *slot)
{
	return slot->pid != 0 && slot->pid != MyProcPid &&
		(kill(slot->pid, 0) == 0 || errno != ESRCH);
}

/*
 * Takes the slot of database dboid for this process; false if there is no
 * free slot, or (with *duplicate its PID) if another live dispatcher has it.
 */
bool
awl_slots_take(Oid dboid, pid_t *duplicate)
{
	*duplicate = 0;
	SpinLockAcquire(&shared->mutex);
	my_slot = find_slot(dboid, true);
	if (my_slot && slot_taken(my_slot))
		*duplicate = my_slot->pid;
	else if (my_slot)
	{
		my_slot->pid = MyProcPid;
		my_slot->latch = MyLatch;
	}
	SpinLockRelease(&shared->mutex);
	if (*duplicate)
		my_slot = NULL;
	return my_slot != NULL;
}

/*
 * At exit: no latch to set any more; a database without the extension frees
 * its slot.  Only the slot's own dispatcher touches it, and the launcher is
 * told, so that it starts another one if the database still wants it (even a
 * launcher that did not start this one and has no handle on it).
 */
void
awl_slots_release(int code, Datum arg)
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
bool
awl_slots_asked_to_leave(void)
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

/* A rewind to the beginning of both scans, and a wake-up (see dispatcher.h). */
void
awl_dispatcher_rescan(Oid dboid)
{
	awl_dispatcher_rewind(dboid, 0, DT_NOBEGIN);
	awl_dispatcher_wake(dboid);
}

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
