/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  The queue of asynchronous invocations: its tables (queue_table.c) and
 *	  the callers' side that writes into them (queue.c).
 *
 * Calls go one way: queue.c (the SQL functions awslambda_fn_async and
 * awslambda_invoke_async) -> queue_check.c, queue_table.c and
 * dispatcher.h's wake-up and rewind (slots.c); queue_check.c -> the call's
 * checks (api.c, target.c) and slots.c's awl_dispatcher_require; queue_table.c calls nothing
 * of the asynchronous side.  deliver.c (the dispatcher's side),
 * queue_control.c and queue_pause.c (the controls) call queue_table.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_QUEUE_H
#define AWL_QUEUE_H

#include "executor/spi.h"
#include "utils/uuid.h"

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
 * awl_queue_guard_begin_pair and awl_queue_guard_end, lets statements name no
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

/* in queue_check.c: an invocation before it is queued */

/*
 * The checks a call would make now, under this session's settings, of an
 * invocation about to be queued (strings in the server encoding, payload
 * valid JSON; tenant_id, durable_execution_name NULL: none); returns the
 * region it goes to.  Raises what the call would raise, 55000 without the
 * library preloaded, 22023 for name_from_id with a durable execution name.
 */
extern const char *awl_queue_check_invocation(const char *function_name, const char *qualifier,
											  const char *region, const char *invocation_type,
											  const char *payload, const char *tenant_id,
											  const char *durable_execution_name,
											  bool name_from_id);

/*
 * Resolves a callback name to a function or procedure taking one row of
 * the queue table relid, which the caller may execute; returns its OID
 * (the dispatcher calls it by that) and sets *qualified to its qualified,
 * quoted name (palloc'd), for people to read.  Raises 42883 if there is
 * none, 42501 without EXECUTE, 42809 for a set-returning function.
 */
extern Oid	awl_queue_resolve_callback(const char *name, Oid relid, char **qualified);

/*
 * A new invocation id, palloc'd: a version 7 UUID (milliseconds since 1970,
 * then random bits), so ids of one moment sort together.  Raises XX000 if
 * no random bits could be had.
 */
extern pg_uuid_t *awl_queue_new_id(void);

#endif							/* AWL_QUEUE_H */
