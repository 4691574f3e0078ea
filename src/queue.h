/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  The queue of asynchronous invocations: its tables (queue_table.c) and
 *	  the callers' side that writes into them (queue.c).
 *
 * queue_table.c calls nothing of the asynchronous side; queue.c (the SQL
 * functions awslambda_fn_async and awslambda_invoke_async) calls it and
 * dispatcher.h's wake-up and rewind, and deliver.c (the dispatcher's side)
 * calls it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_QUEUE_H
#define AWL_QUEUE_H

#include "executor/spi.h"

#include "awslambda.h"

/* in queue_table.c */

/*
 * The queue table of this database's awslambda: the table
 * awslambda_invocations that is a member of the extension and owned by its
 * owner (a table of that name that is not is ignored, with a LOG line).
 * InvalidOid when there is none and missing_ok; else raises 42P01 with a
 * hint to update the extension.  In a transaction.
 */
extern Oid	awl_queue_find(bool missing_ok);

/*
 * The table of unfinished invocations (0.4.0 on) of the queue table
 * queue_relid: awslambda_invocations_pending, a member of the extension,
 * owned by its owner and a child of queue_relid; InvalidOid before 0.4.0
 * (or when it is not all of that, with a LOG line).  Never raises but for
 * catalog errors.  In a transaction.
 */
extern Oid	awl_queue_find_pending(Oid queue_relid);

/* The owner of relation relid; raises (XX000) if there is no such relation. */
extern Oid	awl_queue_owner(Oid relid);

/* The relation's name, qualified and quoted for SQL text; palloc'd. */
extern char *awl_queue_name(Oid relid);

/*
 * From _PG_init: installs the post-parse-analysis check that, between
 * awl_queue_guard_begin* and awl_queue_guard_end, lets statements name no
 * relation but the queue's tables (42501 otherwise).
 */
extern void awl_queue_init(void);

/*
 * Until awl_queue_guard_end(), statements analysed in this backend may name
 * only relid (and pending, the table of unfinished invocations, unless it
 * is InvalidOid).  Only around awslambda's own statements on the queue,
 * never while user code runs; cannot fail.  Pair with awl_queue_guard_end
 * in a PG_FINALLY.
 */
extern void awl_queue_guard_begin(Oid relid);
extern void awl_queue_guard_begin_pair(Oid relid, Oid pending);
extern void awl_queue_guard_end(void);

/*
 * Runs one statement as owner (callers get no right of their own on the
 * queue), naming no relation but a and b (the guard above): the prepared
 * plan, or, when plan is NULL, sql with nargs parameters of types.  In an
 * SPI connection; returns SPI's code; raises what the statement raises,
 * the caller's user and security context restored.
 */
extern int	awl_queue_execute_as(Oid owner, Oid a, Oid b, SPIPlanPtr plan, const char *sql,
								 int nargs, Oid *types, Datum *values, const char *nulls);

/* The queue's tables as a caller's session sees them (awl_queue_tables). */
typedef struct AwlQueueTables
{
	Oid			relid;			/* the queue table */
	Oid			owner;			/* its owner, who writes the rows */
	Oid			pending;		/* the pending table (0.4.0), or InvalidOid */
	const char *insert_name;	/* where rows go (pending, else the queue),
								 * qualified and quoted */
	bool		has_callback_fn;	/* 0.3.0's column callback_fn */
	bool		has_v04;		/* 0.4.0's tenant_id, durable_execution_name */
	bool		has_v05;		/* 0.5.0's max_attempts, dedup_key (with a
								 * pending table and has_v04) */
} AwlQueueTables;

/*
 * The queue's tables, looked up once per backend and looked up again after
 * the queue table or any schema changes (so a trigger that queues
 * thousands of invocations makes no catalog lookup per call).  The result
 * is static, valid until the next call.  Raises as awl_queue_find(false)
 * does when the extension has no queue.  In a transaction.
 */
extern const AwlQueueTables *awl_queue_tables(void);

#endif							/* AWL_QUEUE_H */
