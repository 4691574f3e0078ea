/*-------------------------------------------------------------------------
 *
 * dispatcher.c
 *	  The asynchronous side's set-up from _PG_init, and a database's
 *	  "awslambda dispatcher", the background process that sends the
 *	  queued invocations of its database (the settings are in
 *	  async_settings.c).
 *
 * With awslambda in shared_preload_libraries the postmaster starts one
 * "awslambda launcher" (launcher.c), which starts a dispatcher for every
 * database that wants one (slots.c).  A dispatcher in a database without
 * the extension gives its slot back and exits; one that stops for any
 * other reason (an error, pg_terminate_backend) is started again within a
 * second.
 *
 * The dispatcher's loop claims due invocations, sends them and records
 * their outcomes (claim.c, pipeline.c), runs callbacks (callback.c) and
 * removes old rows (cleanup.c).  Calls go one way: dispatcher.c ->
 * deliver.h's files -> queue_table.c; slots.c, confine.c and flow.c call
 * nothing of the others.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "confine.h"
#include "deliver.h"
#include "dispatcher.h"
#include "http.h"

/* Even without a wake-up, dispatchers look at their queue this often. */
#define IDLE_LOOK_MS		10000
/* Claimed per round; awslambda.max_concurrency of them are in flight. */
#define BATCH_PER_SLOT		8
/* A round of sending lasts at most this long before the loop looks around. */
#define PUMP_MAX_MS			1000
#define CALLBACKS_PER_ROUND 100
#define CLEANUP_EVERY_MS	60000
/*
 * Under load, a round starts at least this long after the previous one:
 * fewer, fuller batches and fewer commits (inside the 50 ms a commit may
 * wait to be sent).  A round costs about a millisecond of CPU whatever it
 * claims; 40 instead of 20 took the dispatcher's CPU per invocation down
 * by a tenth, and by a quarter with micro-batches (bench/README.md).
 */
#define COALESCE_MS			40
/*
 * A dispatcher ended by FATAL (pg_terminate_backend, a fast shutdown, a
 * callback's time limit) first lets its transfers in flight finish for at
 * most this long.
 */
#define EXIT_GRACE_MS		5000

/* From _PG_init in the postmaster: shared memory, hooks and the launcher. */
void
awl_dispatcher_init(void)
{
	BackgroundWorker worker = {0};

	awl_slots_init();
	awl_utility_init();

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
 * A database's dispatcher
 * ---------------------------------------------------------------------
 */

/* What the dispatcher's loop carries from one round to the next. */
typedef struct DispatchLoop
{
	TimestampTz last_cleanup;
	TimestampTz last_callbacks;
	TimestampTz last_claim;
	TimestampTz next_look;		/* claim then even if not woken */
	bool		woken;			/* a commit (or the start) asks for a claim */
	bool		more;			/* the last claim was full: more may be due */
	bool		limited;		/* it left rows of functions at their limit */
	bool		held;			/* the queue is a subscriber's copy */
	bool		more_callbacks;
	bool		recovered;
	bool		coalesced;		/* the coming claim waited for commits to gather */
} DispatchLoop;

/* One round of the loop. */
typedef struct DispatchRound
{
	int			capacity;
	int			in_pipeline;
	bool		may_claim;
	bool		with_callbacks;
	bool		requeued;
} DispatchRound;

/*
 * Takes a session lock on the queue's table relid that its statements' own
 * locks then find held: true if it was free at once.  So that nothing can
 * hold up an exit, which no interrupt can end.  release_exit_locks lets it
 * go, however the exit ends.
 */
static bool
queue_lock_at_exit(Oid relid)
{
	LOCKTAG		tag;

	if (!OidIsValid(relid))
		return true;
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	return LockAcquire(&tag, RowExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Last of the exit's clean-up but the process's own (an on_shmem_exit
 * callback: after PostgreSQL has aborted any transaction): the session
 * locks of queue_lock_at_exit, also when an error ended the recording.
 */
static void
release_exit_locks(int code, Datum arg)
{
	LockReleaseAll(DEFAULT_LOCKMETHOD, true);
}

/*
 * On an exit by FATAL, before the transaction is cleaned up (a
 * before_shmem_exit callback, run ahead of PostgreSQL's own): what Lambda
 * may already have received is answered and recorded, for EXIT_GRACE_MS at
 * most, rather than left 'sending' for the next dispatcher to send again.
 * A process that exits holds interrupts and ignores further signals, so
 * nothing here may wait without end: commits do not wait for a synchronous
 * standby (the same as a terminated session's), and nothing is recorded
 * unless the queue's tables can be locked at once.  An error while
 * recording is FATAL and ends the exit as before (those invocations are
 * sent again).  Not when the postmaster is gone (the server is going down).
 */
static void
finish_at_exit(int code, Datum arg)
{
	int			in_flight = awl_deliver_in_pipeline();
	bool		locked;
	int			left;

	if (code == 0 || in_flight == 0 || !PostmasterIsAlive())
		return;
	AbortOutOfAnyTransaction();
	disable_all_timeouts(false);
	error_context_stack = NULL;
	SetConfigOption("synchronous_commit", "local", PGC_SUSET, PGC_S_OVERRIDE);

	StartTransactionCommand();
	locked = queue_lock_at_exit(awl_dq.queue_relid) && queue_lock_at_exit(awl_dq.pending_relid);
	CommitTransactionCommand();
	if (!locked)
	{
		ereport(LOG,
				(errmsg_plural("awslambda dispatcher: %d claimed invocation is left to the next dispatcher: the queue is locked",
							   "awslambda dispatcher: %d claimed invocations are left to the next dispatcher: the queue is locked",
							   in_flight, in_flight)));
		return;
	}
	ereport(LOG,
			(errmsg_plural("awslambda dispatcher: finishing %d claimed invocation before exiting",
						   "awslambda dispatcher: finishing %d claimed invocations before exiting",
						   in_flight, in_flight)));
	left = awl_deliver_finish(EXIT_GRACE_MS);
	if (left > 0)
		ereport(LOG,
				(errmsg_plural("awslambda dispatcher: %d invocation still in flight is sent again by the next dispatcher",
							   "awslambda dispatcher: %d invocations still in flight are sent again by the next dispatcher",
							   left, left)));
}

/*
 * Connects to database dboid and takes its slot; exits when another
 * dispatcher has it, no slot is free, or the database has no awslambda.
 */
static void
dispatcher_start(Oid dboid)
{
	pid_t		duplicate = 0;
	bool		taken;

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
	taken = awl_slots_take(dboid, &duplicate);
	if (duplicate)
	{
		ereport(LOG,
				(errmsg("awslambda dispatcher: database %u already has one (PID %d); exiting",
						dboid, (int) duplicate)));
		proc_exit(0);
	}
	if (!taken)
		proc_exit(0);

	if (!awl_deliver_open())
	{
		/* No awslambda here (or not updated): nothing to send, ever. */
		awl_slots_release(0, BoolGetDatum(true));
		proc_exit(0);
	}
	on_shmem_exit(awl_slots_release, BoolGetDatum(false));
	on_shmem_exit(release_exit_locks, (Datum) 0);
	/* Runs before the slot is released: no second dispatcher meanwhile. */
	before_shmem_exit(finish_at_exit, (Datum) 0);
	awl_http_keep_transfers_on_die();
}

/* Leaves, after finishing what is in flight, on a reload or when asked to. */
static void
leave_if_asked(void)
{
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
	if (awl_slots_asked_to_leave())
	{
		awl_deliver_drain();
		proc_exit(0);
	}
}

/*
 * Under load, lets commits gather for a moment since the last claim: fewer,
 * fuller claims (an idle dispatcher goes at once).  True if it did: the
 * round is over.
 */
static bool
coalesce(DispatchLoop *d, DispatchRound *r, TimestampTz now)
{
	long		gap;

	if (!(d->woken && r->may_claim && !d->more &&
		  !TimestampDifferenceExceeds(d->last_claim, now, COALESCE_MS)))
		return false;
	gap = COALESCE_MS - TimestampDifferenceMilliseconds(d->last_claim, now);
	d->coalesced = true;
	if (r->in_pipeline > 0)
		(void) awl_deliver_pump(gap, false, &r->with_callbacks, &r->requeued);
	else
		(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, gap,
						 awl_wait_event(AWL_WAIT_DISPATCHER));
	d->more_callbacks = d->more_callbacks || r->with_callbacks;
	if (r->requeued)
		d->next_look = now;
	return true;
}

/*
 * Claims due invocations into the pipeline, unless the queue is a
 * subscriber's copy of a publisher's, which is the publisher's to send.
 */
static void
claim_round(DispatchLoop *d, DispatchRound *r, TimestampTz now)
{
	int			claimed;
	bool		moved;
	bool		under_load = d->coalesced;

	d->coalesced = false;
	d->held = awl_deliver_held();
	if (d->held)
	{
		/* What is in flight finishes; nothing more is claimed until a look says otherwise. */
		d->recovered = false;
		ResetLatch(MyLatch);
		d->woken = false;
		d->next_look = TimestampTzPlusMilliseconds(now, IDLE_LOOK_MS);
	}
	else
	{
		/*
		 * Whatever a crashed or stopped dispatcher (or, before a
		 * subscription was dropped, the publisher) had in flight is sent
		 * again.
		 */
		if (!d->recovered)
		{
			awl_deliver_recover();
			d->recovered = true;
		}
		/* Commits from here on set the latch again. */
		ResetLatch(MyLatch);
		claimed = awl_deliver_claim(r->capacity - r->in_pipeline, &d->more, &d->limited, &moved);
		d->last_claim = GetCurrentTimestamp();

		/*
		 * Cut short: again at once, from where it stopped, if it took
		 * something or passed rows it left queued (a paused backlog is
		 * walked through at the speed of the claim, not one claim a
		 * second); cut short by payload bytes in flight, once some are
		 * answered.
		 */
		d->woken = d->more && (claimed > 0 || moved);

		/*
		 * It took all that was due.  Under load (commits came within a
		 * window of the last claim), if that was something, commits keep
		 * waking us, and a look again after COALESCE_MS costs less than
		 * asking the queue each round when the next invocation is due (a
		 * transaction and a query planned each time, about 5% of the
		 * dispatcher's CPU under a trigger's load).  A look that finds
		 * nothing asks, and sleeps until then; so does a claim of a commit
		 * that came alone, which would otherwise pay for an empty look.
		 */
		if (!d->more && claimed > 0 && under_load)
			d->next_look = TimestampTzPlusMilliseconds(d->last_claim, COALESCE_MS);
		else if (!d->more)
			d->next_look = TimestampTzPlusMilliseconds(d->last_claim,
													   awl_deliver_next_due_ms(IDLE_LOOK_MS));
		else if (claimed == 0 && !moved)
			d->next_look = TimestampTzPlusMilliseconds(d->last_claim, PUMP_MAX_MS);

		/*
		 * Rows of functions at their limit count as due: look again when
		 * one of theirs is answered, or in a while, not at once (unless,
		 * cut short, the claim took some or passed rows it left: woken).
		 */
		if (d->limited)
			d->next_look = Max(d->next_look, TimestampTzPlusMilliseconds(d->last_claim, PUMP_MAX_MS));
	}
	r->in_pipeline = awl_deliver_in_pipeline();
	r->may_claim = r->in_pipeline == 0 || r->capacity - r->in_pipeline >= r->capacity / 2;
}

/*
 * Sends, and records outcomes as they arrive.  Comes back at once for
 * another claim if one is wanted and possible; otherwise when something is
 * answered, the latch is set, or the next invocation is due.
 */
static void
send_round(DispatchLoop *d, DispatchRound *r)
{
	long		wait_ms = PUMP_MAX_MS;

	if (r->in_pipeline == 0)
		return;
	if (d->woken && r->may_claim)
		wait_ms = 0;
	else if (!d->woken)
		wait_ms = Min(wait_ms, Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
																	  d->next_look)));
	if (awl_deliver_pump(wait_ms, r->may_claim, &r->with_callbacks, &r->requeued) > 0 &&
		(d->more || d->limited))
		d->woken = true;
	if (r->requeued)
		d->next_look = GetCurrentTimestamp();	/* a retry may be due before next_look */
}

/*
 * A subscriber's copies: the publisher runs their callbacks and removes
 * them.  Waits for what is in flight, or until woken or the next look.
 */
static void
held_round(DispatchLoop *d)
{
	if (awl_deliver_in_pipeline() > 0)
	{
		d->woken = MyLatch->is_set; /* look again (and reset it) */
		return;
	}
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), d->next_look)),
					 awl_wait_event(AWL_WAIT_DISPATCHER));
	d->woken = true;
}

/* Callbacks of finished invocations, and old rows removed, when due. */
static void
housekeeping(DispatchLoop *d, DispatchRound *r)
{
	TimestampTz now = GetCurrentTimestamp();

	if (r->with_callbacks || d->more_callbacks ||
		TimestampDifferenceExceeds(d->last_callbacks, now, IDLE_LOOK_MS))
	{
		d->more_callbacks = awl_deliver_callbacks(CALLBACKS_PER_ROUND) >= CALLBACKS_PER_ROUND;
		d->last_callbacks = now;
	}

	/* Once a minute, or more often with a shorter retention (-1, as uint32, is the longest). */
	if ((awl_async_retention_s >= 0 || awl_async_failed_retention_s >= 0) &&
		TimestampDifferenceExceeds(d->last_cleanup, now,
								   (int) Min((int64) CLEANUP_EVERY_MS,
											 (int64) Min((uint32) awl_async_retention_s,
														 (uint32) awl_async_failed_retention_s) * 1000)))
	{
		awl_deliver_cleanup();
		d->last_cleanup = now;
	}
	pgstat_report_stat(false);
}

void
awl_dispatcher_main(Datum arg)
{
	DispatchLoop d = {0};

	d.woken = true;
	dispatcher_start(DatumGetObjectId(arg));

	for (;;)
	{
		DispatchRound r = {0};
		TimestampTz now;

		r.capacity = awl_invoke_max_concurrency() * BATCH_PER_SLOT;
		r.in_pipeline = awl_deliver_in_pipeline();
		r.may_claim = r.in_pipeline == 0 || r.capacity - r.in_pipeline >= r.capacity / 2;

		CHECK_FOR_INTERRUPTS();
		leave_if_asked();

		now = GetCurrentTimestamp();
		if (now >= d.next_look)
			d.woken = true;
		if (coalesce(&d, &r, now))
			continue;
		if (d.woken && r.may_claim)
			claim_round(&d, &r, now);
		send_round(&d, &r);
		if (d.held)
		{
			held_round(&d);
			continue;
		}
		housekeeping(&d, &r);

		if (MyLatch->is_set)
			d.woken = true;
		if (d.woken || d.more_callbacks || awl_deliver_in_pipeline() > 0)
			continue;

		/* Idle: until a commit wakes us or the next invocation is due. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), d.next_look)),
						 awl_wait_event(AWL_WAIT_DISPATCHER));
		d.woken = true;
	}
}
