/*-------------------------------------------------------------------------
 *
 * deliver.h
 *	  The dispatcher's work on its database's queue: claim due
 *	  invocations, send them concurrently, record each outcome, run
 *	  callbacks, remove old rows.
 *
 * Delivery is at-least-once.  A claim is committed (status 'sending',
 * attempts + 1) before anything is sent, and the outcome is committed
 * after; a dispatcher that dies in between leaves 'sending' rows, which
 * the next one puts back in the queue.  So an invocation interrupted
 * mid-send may reach Lambda twice, always with the same id.
 *
 * Used by dispatcher.c, which calls the awl_deliver_* functions, and by
 * the files below, each calling only those after it (down the list) and
 * never back:
 *	claim.c    -> cursors.c, pipeline.c, deliver.c, flow.c, queue_pause.c
 *				  (the pauses)
 *	cursors.c  -> deliver.c (awl_cursors), slots.c (the rewinds)
 *	pipeline.c -> batch.c, outcome.c, deliver.c, flow.c, invoke.c and
 *				  stream.c (invoke.h)
 *	callback.c -> deliver.c, confine.c, slots.c, queue_table.c,
 *				  async_settings.c
 *	outcome.c  -> deliver.c, reply.c, async_settings.c
 *	cleanup.c  -> deliver.c, async_settings.c
 *	batch.c    -> api.c, reply.c; none of these
 *	deliver.c  -> queue_table.c
 * The settings they read are async_settings.c's (dispatcher.h), not
 * dispatcher.c's: nothing here calls dispatcher.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_DELIVER_H
#define AWL_DELIVER_H

#include "awslambda.h"

#include "access/transam.h"
#include "executor/spi.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* in deliver.c: the queue as the dispatcher holds it, and running SQL on it */

/*
 * The queue's tables, found by awl_deliver_open and followed through
 * renames and updates of the extension at the start of each of the
 * dispatcher's transactions (awl_deliver_begin).
 */
typedef struct AwlDeliverQueue
{
	char	   *queue;			/* the queue table (finished invocations from
								 * 0.4.0 on, all of them before), qualified
								 * and quoted */
	Oid			queue_relid;
	Oid			queue_rowtype;
	char	   *work;			/* where unfinished invocations are: the
								 * pending table (0.4.0), else the queue
								 * table; qualified and quoted */
	Oid			pending_relid;	/* InvalidOid before 0.4.0 */
	bool		has_callback_fn;	/* 0.3.0: callbacks wait for the update
									 * otherwise */
	bool		has_v04;		/* 0.4.0's columns (tenant id, durable
								 * execution); looked at per claim */
	bool		has_v05;		/* 0.5.0's (max_attempts, dedup_key, rows put
								 * aside until run_at), with a pending table
								 * and has_v04; looked at per claim */
} AwlDeliverQueue;

extern AwlDeliverQueue awl_dq;

/*
 * Cursors.  Each scan of an index whose entries the dispatcher makes dead
 * (claiming, finishing, running callbacks, removing) starts where the
 * previous one ended, so its cost does not grow with the dead entries that
 * earlier work left behind until autovacuum comes.
 *
 * Fresh invocations are claimed in the order (queued_xact, id).  All those
 * with a key up to fresh_from that were visible to an earlier claim have
 * been claimed; rows of transactions still running then are found later
 * because those transactions are watched (watch[]): when one of them has
 * ended, the cursor goes back to its first key once.
 *
 * Retries (queued, attempts > 0) are written by the dispatcher alone:
 * every one is due at or after retry_from.  So are (0.5.0) invocations put
 * aside until their run_at (queued_xact 0, found by due time like retries),
 * unless a session said otherwise (awl_dispatcher_rewind_at_end: the
 * cursors go back at the next claim).  Every finished invocation whose
 * callback is still to run finished at or after callbacks_from.  Every
 * finished row older than cleanup_from (failed ones: failed_cleanup_from)
 * that could be removed was removed.
 * All start from the beginning when the dispatcher starts, recovers or the
 * queue changes (awl_deliver_reset_cursors).
 */
typedef struct AwlDeliverCursors
{
	FullTransactionId fresh_xact;	/* fresh claims start after (fresh_xact,
									 * fresh_id) */
	pg_uuid_t	fresh_id;
	FullTransactionId *watch;	/* in TopMemoryContext */
	int			nwatch;
	int			maxwatch;
	TimestampTz retry_from;
	TimestampTz callbacks_from;
	TimestampTz cleanup_from;
	TimestampTz failed_cleanup_from;	/* the same for failed rows */
} AwlDeliverCursors;

extern AwlDeliverCursors awl_cursors;

/* Every cursor to the beginning; cannot fail. */
extern void awl_deliver_reset_cursors(void);

/*
 * Finds the queue of this database's awslambda into awl_dq; false if the
 * extension (at a version with a queue) is not installed.  Outside a
 * transaction; raises only catalog errors.
 */
extern bool awl_deliver_open(void);

/*
 * Whether the dispatcher must hold off (send, run callbacks, remove
 * nothing) because a logical replication subscription of this database
 * includes the queue's tables; says so in the log when that changes.
 * Outside a transaction.
 */
extern bool awl_deliver_held(void);

/*
 * Starts a transaction of its own with a snapshot and SPI, reporting
 * activity; follows renames of the queue's tables first (and exits the
 * process, with a LOG line, if the extension is gone).  awl_deliver_end
 * commits it; an error aborts it as usual.
 */
extern void awl_deliver_begin(const char *activity);
extern void awl_deliver_end(void);

/*
 * Runs sql (on the queue's tables alone: see awl_queue_guard_begin_pair) with
 * SPI; raises (XX000) unless SPI returns expected.  The result is in
 * SPI_tuptable / SPI_processed.
 */
extern void awl_deliver_run(const char *sql, int expected, int nargs, Oid *types,
							Datum *values, const char *nulls);

/*
 * Like awl_deliver_run, with *plan (a static of the caller, NULL at first)
 * prepared once for the dispatcher's life and kept; forgotten when the
 * queue's names change, so sql is planned again with the new names.
 */
extern void awl_deliver_run_prepared(SPIPlanPtr *plan, const char *sql, int expected,
									 int nargs, Oid *types, Datum *values);

/* A copy in cxt of column n of row row of SPI_tuptable, or NULL. */
extern char *awl_deliver_column_text(int row, int n, MemoryContext cxt);

/*
 * "Catch, log, abort, carry on" for one step of the dispatcher's work that
 * must not end the process: awl_deliver_catch runs step(arg); if it
 * raises, the error is copied into cxt and flushed, before_abort (if any)
 * runs, the transaction is aborted, a new one started if restart, then
 * after_abort (if any) runs and, if what is set by then, a WARNING
 * "awslambda dispatcher: WHAT: MESSAGE" is logged.  Returns the copy of the
 * error (the caller's to free, in cxt), or NULL if step returned.  The
 * hooks run in cxt and must not raise.
 */
typedef struct AwlDeliverCatch AwlDeliverCatch;
struct AwlDeliverCatch
{
	MemoryContext cxt;
	bool		restart;
	void		(*before_abort) (AwlDeliverCatch *c, ErrorData *edata);
	void		(*after_abort) (AwlDeliverCatch *c, ErrorData *edata);
	const char *what;
	void	   *arg;			/* step's and the hooks' argument */
};

extern ErrorData *awl_deliver_catch(void (*step) (void *arg), AwlDeliverCatch *c);

/* in cursors.c: moving the cursors (for claim.c) */

/*
 * A 32-bit xid from a snapshot (running, or its xmax) as a full one; next
 * is ReadNextFullTransactionId().
 */
extern FullTransactionId awl_cursors_full_xid(TransactionId xid, FullTransactionId next);

/* Orders fresh invocations' keys (queued_xact, id): <0, 0, >0. */
extern int	awl_cursors_key_cmp(FullTransactionId ax, const pg_uuid_t *aid, FullTransactionId bx,
								const pg_uuid_t *bid);

/*
 * Takes the rewinds sessions asked for (awl_dispatcher_rewind): the
 * cursors go back to them.  Before the snapshot of the claim that is to see
 * them (and before the pauses are read).  Cannot fail.
 */
extern void awl_cursors_take_rewinds(void);

/*
 * Before looking for fresh invocations: a watched transaction that snap (a
 * snapshot taken before the statement's own) no longer sees running has
 * ended; the fresh cursor goes back to its first key, once.  Cannot fail.
 */
extern void awl_cursors_fresh_rewind(Snapshot snap);

/*
 * After a claim of fresh invocations under a statement whose snapshot is no
 * older than snap: moves the fresh cursor past what it took, and watches
 * the transactions running at snap (see cursors.c).  full: it took as many
 * as it could, (lx, lid) being the last key taken.  Raises only out of
 * memory.
 */
extern void awl_cursors_fresh_advance(Snapshot snap, bool full, FullTransactionId lx,
									  const pg_uuid_t *lid);

/* The uuid just before id (as a 128-bit number): "> pred(id)" is ">= id". */
extern pg_uuid_t awl_cursors_uuid_pred(const pg_uuid_t *id);

/* in claim.c: claiming due invocations */

/*
 * Claims up to limit due invocations into the pipeline (see claim.c): they
 * are committed as 'sending', attempts counted, before anything is sent.
 * Returns how many; *more: cut short, more may be due; *limited: it left
 * rows of functions at their awslambda.async_function_limits; *moved: a
 * part cut short moved its cursor strictly forward (past rows left queued,
 * if it took none).  In its own transaction; raises SPI and catalog errors
 * (the dispatcher then exits and is started again).
 */
extern int	awl_deliver_claim(int limit, bool *more, bool *limited, bool *moved);

/* Milliseconds until the next queued invocation is due, at most cap_ms; own transaction. */
extern long awl_deliver_next_due_ms(long cap_ms);

/* in pipeline.c: what was claimed and is not recorded yet */

/* One claimed invocation and what became of it. */
typedef struct AwlClaimed
{
	char	   *id;				/* uuid text */
	char	   *function_name;
	int			attempts;		/* including this one */
	int			max_attempts;	/* its own limit, 0: awslambda.async_max_attempts */
	bool		request_response;
	const char *status;			/* new status */
	long		delay_ms;		/* before the next attempt, when re-queued */
	bool		has_callback;
} AwlClaimed;

/*
 * One claimed invocation on its way, in a memory context of its own: it
 * waits for a slot of the stream, is in flight, then has its result until
 * that is recorded.
 */
typedef struct AwlInFlight
{
	MemoryContext cxt;
	AwlClaimed	c;
	AwlInvokeRequest req;
	AwlInvokeResult result;
	int64		bytes;			/* payload bytes */
	bool		started;		/* handed to the stream */
	bool		answered;		/* result complete, not yet recorded */
	bool		callback;		/* has a callback to run once finished */
	char	   *queued_name;	/* function_name as queued (server encoding) */
	int			group;			/* its awslambda.async_function_limits group, or -1 */
	int			batch_size;		/* its awslambda.async_batch_sizes entry; 1: alone */
	struct AwlInFlight **members;	/* a micro-batch's first: the others it carries */
	int			nmembers;
} AwlInFlight;

/* Makes the pipeline's memory context (once); raises only out of memory. */
extern void awl_pipeline_begin(void);

/* How many invocations the pipeline holds, and their payload bytes. */
extern int	awl_deliver_in_pipeline(void);
extern int64 awl_pipeline_bytes(void);

/* The i-th invocation of the pipeline, oldest first (0 <= i < awl_deliver_in_pipeline()). */
extern AwlInFlight *awl_pipeline_item(int i);

/*
 * Puts row i of the claim's UPDATE ... RETURNING (SPI_tuptable: id,
 * function_name, qualifier, region, invocation_type, payload, attempts,
 * has a callback[, tenant_id, durable_execution_name[, max_attempts]])
 * into the pipeline, in a memory context of its own.
 */
extern void awl_pipeline_take(int i);

/*
 * Invocations a stopped dispatcher had in flight ('sending', not in this
 * one's pipeline) go back to the queue; the cursors start from the
 * beginning.  Own transaction.
 */
extern void awl_deliver_recover(void);

/*
 * Sends what the pipeline holds for at most wait_ms (see pipeline.c) and
 * records the outcomes that arrived; returns how many.  *with_callbacks:
 * one of them has a callback; *requeued: one was queued again.  An error of
 * one invocation, or of the stream as a whole, is that invocation's
 * outcome (logged as a WARNING); raises only what recording raises.
 */
extern int	awl_deliver_pump(long wait_ms, bool wake_on_latch, bool *with_callbacks,
							 bool *requeued);

/*
 * Before the dispatcher leaves: invocations still waiting for a slot go
 * back to the queue as they were, those in flight are finished and
 * recorded, so that nothing is sent twice.
 */
extern void awl_deliver_drain(void);

/*
 * awl_deliver_drain for grace_ms at most (negative: until done), as on an
 * exit by FATAL; returns how many are still in flight then (left 'sending':
 * the next dispatcher's recovery sends them again).
 */
extern int	awl_deliver_finish(long grace_ms);

/* in batch.c: micro-batches (awslambda.async_batch_sizes) */

/*
 * Makes items[first] (of n, the pipeline) a micro-batch carrying up to its
 * batch_size - 1 more waiting invocations of the same target, payload
 * {"records": [...], "invocation_ids": [...]} within Lambda's limit.
 * False, with the error as its result, when even its own payload would
 * exceed the limit.  Allocates in the invocation's context; raises only
 * out of memory.
 */
extern bool awl_batch_form(AwlInFlight **items, int n, int first);

/*
 * Gives a micro-batch's outcome (f's) to each invocation it carried: a
 * RequestResponse answer {"results": [...]} with one element per record
 * gives each its element.  Nothing for an invocation sent alone.
 */
extern void awl_batch_share_outcome(AwlInFlight *f);

/* in outcome.c: recording outcomes */

/*
 * Writes the outcome of n claimed invocations (status, retry time with
 * backoff, error columns; from 0.4.0 on, moving the finished ones out of
 * the pending table), in a transaction of its own.  Should that fail, each
 * is recorded alone, and one that still fails is recorded as failed without
 * its response (WARNING): an outcome that cannot be written must not leave
 * a row 'sending'.  Sets claimed[i].status.  cxt holds what it allocates.
 */
extern void awl_deliver_record(AwlClaimed *claimed, AwlInvokeResult *results, int n,
							   MemoryContext cxt);

/* in callback.c */

/*
 * Runs up to limit callbacks of finished invocations, each in its own
 * transaction with the mark that it ran, as the role that queued the
 * invocation, confined (confine.c) and within awslambda.async_callback_timeout;
 * a callback's error is recorded (and logged as a WARNING), not raised.
 * Returns how many it looked at.
 */
extern int	awl_deliver_callbacks(int limit);

/* in cleanup.c */

/*
 * Removes finished invocations older than awslambda.async_retention, and
 * failed ones older than awslambda.async_failed_retention (whose callbacks
 * ran), in chunks of their own transactions, oldest first, from where the
 * last round ended; every tenth round from the oldest row, so that a row
 * whose finish committed late (with an earlier time) goes too.
 */
extern void awl_deliver_cleanup(void);

#endif							/* AWL_DELIVER_H */
