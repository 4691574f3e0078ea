/*-------------------------------------------------------------------------
 *
 * dispatcher.h
 *	  The background processes that send queued invocations: the settings
 *	  of the asynchronous side (async_settings.c), the set-up and a
 *	  database's dispatcher (dispatcher.c), the launcher (launcher.c),
 *	  their shared memory and wake-ups (slots.c), and the utility
 *	  statements they react to (utility.c).
 *
 * Used by awslambda.c (the set-up and the settings), by the callers' side
 * (queue.c, queue_check.c, queue_control.c: slots.c's wake-ups, rewinds
 * and awl_dispatcher_require) and by the dispatcher's work (callback.c and
 * cursors.c: slots.c; outcome.c, cleanup.c and callback.c: the settings).
 * Calls go one way: dispatcher.c -> deliver.h (the work on a database's
 * queue), utility.c, confine.c, slots.c, async_settings.c; launcher.c,
 * utility.c -> slots.c; async_settings.c -> flow.c; slots.c calls none of
 * them.  Nothing calls dispatcher.c (the launcher starts it by name).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_DISPATCHER_H
#define AWL_DISPATCHER_H

#include "awslambda.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"

/* in async_settings.c */

/* How awslambda_fn_async sends (awslambda.async_mode). */
typedef enum AwlAsyncMode
{
	AWL_ASYNC_EVENT,			/* queued, sent as Event after commit */
	AWL_ASYNC_REQUEST_RESPONSE, /* queued, sent as RequestResponse, result kept */
	AWL_ASYNC_IMMEDIATE			/* sent as Event inside the statement */
} AwlAsyncMode;

/*
 * Settings of the asynchronous side, defined by awl_async_define_settings
 * and read only by its files: queue.c (the mode), outcome.c, cleanup.c and
 * callback.c (flow.c has its own).
 */
extern int	awl_async_mode;		/* AwlAsyncMode */
extern int	awl_async_max_attempts;
extern int	awl_async_retention_s;
extern int	awl_async_failed_retention_s;
extern int	awl_async_callback_timeout_ms;

/*
 * From _PG_init, preloaded or not: defines the awslambda.async_* settings
 * (with flow.c's awslambda.async_function_limits and async_batch_sizes).
 */
extern void awl_async_define_settings(void);

/* in dispatcher.c */

/*
 * From _PG_init, only when the postmaster preloads the library: asks for
 * the slots' shared memory, installs the utility hook and registers the
 * launcher.  Raises only what RegisterBackgroundWorker raises.
 */
extern void awl_dispatcher_init(void);

/*
 * The main function of a database's dispatcher (a background worker, arg
 * the database's OID); never returns.  Exits when the database has no
 * awslambda or already has a dispatcher, on a reload (to be started again
 * with the new settings) or when a command needs the database without
 * connections, after finishing what it has in flight.
 */
PGDLLEXPORT void awl_dispatcher_main(Datum arg);

/* in launcher.c */

/*
 * The launcher's main function (a background worker without a database);
 * never returns.  Starts a dispatcher in every database whose slot wants
 * one, at most once a second per database.
 */
PGDLLEXPORT void awl_launcher_main(Datum arg);

/* in utility.c */

/* From awl_dispatcher_init: installs the ProcessUtility hook. */
extern void awl_utility_init(void);

/* in slots.c */

/* From awl_dispatcher_init: asks for the slots' shared memory (postmaster). */
extern void awl_slots_init(void);

/*
 * Raises 55000 unless queued invocations can be sent (the library preloaded,
 * its shared memory attached).  queuing: the caller queues (the hint then offers
 * awslambda.async_mode = 'immediate' too).
 */
extern void awl_dispatcher_require(bool queuing);

/*
 * After a commit that queued invocations in database dboid: sets its
 * dispatcher's latch, or asks the launcher to start one.  With no slot
 * free, says so (WARNING) and has the launcher look again when one frees.
 * Nothing without shared memory.  Never raises but that WARNING.
 */
extern void awl_dispatcher_wake(Oid dboid);

/*
 * Wakes this database's dispatcher (awl_dispatcher_wake) when the current
 * transaction commits; nothing if it aborts or is prepared (COMMIT
 * PREPARED wakes it, see utility.c).
 */
extern void awl_dispatcher_wake_at_commit(void);

/*
 * Invocations this transaction queued for later (due at due), or rows of the
 * pending table it locked (a claim's FOR UPDATE SKIP LOCKED passes them: a
 * fresh one of key queued_xact, 0 for one due by time at due), may lie
 * behind the dispatcher's cursors once it ends: at its end (commit or
 * abort), the dispatcher is told to look again from there
 * (awl_dispatcher_rewind).  PG_UINT64_MAX / DT_NOEND: nothing of that kind.
 * A prepared transaction's end makes the dispatcher look at its whole queue
 * (utility.c).  Cannot fail but for out of memory.
 */
extern void awl_dispatcher_rewind_at_end(uint64 queued_xact, TimestampTz due);

/*
 * Tells database dboid's dispatcher that invocations may lie behind its
 * cursors: fresh ones from key (fresh_xact, any id) on (0: all of them,
 * PG_UINT64_MAX: none) and ones due by time from due on (DT_NOEND: none);
 * merged with requests it has not taken yet, and its latch set.  Nothing if
 * the database has no dispatcher slot.  Cannot fail.
 */
extern void awl_dispatcher_rewind(Oid dboid, uint64 fresh_xact, TimestampTz due);

/*
 * In a dispatcher: takes the requests of awl_dispatcher_rewind for its
 * database into *fresh_xact and *due; false if there are none.  Cannot fail.
 */
extern bool awl_dispatcher_take_rewind(uint64 *fresh_xact, TimestampTz *due);

/*
 * Makes database dboid's dispatcher leave and not come back until woken:
 * at once (SIGTERM) when at_once, else after its round, so nothing in
 * flight is sent twice; waits at most 5 s for it to be gone.  Raises only
 * on a cancel while waiting.
 */
extern void awl_dispatcher_stop(Oid dboid, bool at_once);

/*
 * In a dispatcher: notes that the callback of invocation id (uuid text) is
 * about to run; false (and forgotten) if a dispatcher of this database
 * already died twice while running it, so it must not run again.  The note
 * is in shared memory and outlives the process.  Cannot fail.
 */
extern bool awl_dispatcher_callback_begin(const char *id);

/* The callback noted by awl_dispatcher_callback_begin is done, one way or another. */
extern void awl_dispatcher_callback_end(void);

/*
 * Asks the database's dispatcher to start both its scans of the queue from
 * the beginning at its next claim (awl_dispatcher_rewind(dboid, 0,
 * DT_NOBEGIN)) and wakes it: rows its cursors passed while they were locked
 * or paused are due again (queue_control.c).  Never raises but
 * awl_dispatcher_wake's WARNING.
 */
extern void awl_dispatcher_rescan(Oid dboid);

/* For the launcher: the number of slots (max_worker_processes at start). */
extern int	awl_slots_count(void);

/* For the launcher: the latch a wake-up sets when no dispatcher runs. */
extern void awl_slots_set_launcher_latch(Latch *latch);

/*
 * For the launcher: whether a wake-up found no free slot and one is free
 * now (the flag is then cleared): every database is to be looked at again.
 */
extern bool awl_slots_overflow_with_free_slot(void);

/* For the launcher: asks for a dispatcher in dboid; false if no slot is free. */
extern bool awl_slots_want(Oid dboid);

/* For the launcher: slot i's database, whether it is wanted, its dispatcher's PID (0: none). */
extern void awl_slots_get(int i, Oid *dboid, bool *wanted, pid_t *pid);

/*
 * For a dispatcher: takes the slot of dboid (this process, its latch);
 * false if none is free, or another live dispatcher has it (*duplicate is
 * then its PID, else 0).
 */
extern bool awl_slots_take(Oid dboid, pid_t *duplicate);

/*
 * For a dispatcher, at exit (an on_shmem_exit callback, or called): no
 * latch to set any more; the slot is freed if arg (a bool) says so or no
 * dispatcher is wanted; the launcher is told.
 */
extern void awl_slots_release(int code, Datum arg);

/*
 * For a dispatcher: has a command that needs the database without
 * connections asked it to leave?  Says so in the log when it has.
 */
extern bool awl_slots_asked_to_leave(void);

#endif							/* AWL_DISPATCHER_H */
