/*-------------------------------------------------------------------------
 *
 * queue_control.h
 *	  Steering the queue from SQL: the controls (queue_control.c: the SQL
 *	  functions awslambda_retry, _retry_failed and _cancel) and the pauses
 *	  (queue_pause.c: awslambda_pause, _resume, awslambda_invocation_paused,
 *	  and the pauses as the dispatcher's claim sees them).
 *
 * Used by claim.c (the pauses) and by the two files.  Calls go one way:
 * claim.c -> queue_pause.c -> queue_control.c -> queue_table.c and
 * slots.c's rescan and wake-up; queue_control.c calls nothing of
 * queue_pause.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_QUEUE_CONTROL_H
#define AWL_QUEUE_CONTROL_H

#include "postgres.h"

/* in queue_control.c: what the controls and the pauses share */

/* The queue's three tables and their owner, found for each control. */
typedef struct AwlControlTables
{
	Oid			queue;			/* awslambda_invocations: finished rows */
	Oid			pending;		/* awslambda_invocations_pending */
	Oid			paused;			/* awslambda_paused_functions */
	Oid			owner;
} AwlControlTables;

/*
 * The table of paused patterns beside the queue table queue_relid: a member
 * of extension awslambda owned by the queue table's owner, or InvalidOid
 * (before 0.5.0, or a table of that name that is not the extension's, which
 * is ignored with a LOG line).  In a transaction.
 */
extern Oid	awl_control_find_paused(Oid queue_relid);

/* The queue's tables into *t; raises 55000 unless the extension is at 0.5.0 or later. */
extern void awl_control_find_tables(AwlControlTables *t);

/*
 * Runs sql (nargs parameters of types) as t's owner, naming no relation but
 * a and b (see awl_queue_execute_as); raises (XX000) unless SPI returns
 * expected.  In an SPI connection; returns SPI_processed.
 */
extern uint64 awl_control_run_as_owner(const AwlControlTables *t, Oid a, Oid b,
									   const char *sql, int expected, int nargs,
									   Oid *types, Datum *values, const char *nulls);

/*
 * Once per backend: the transaction callbacks that refuse PREPARE after a
 * control and ask the dispatcher to look again at the end (rows a control
 * locked, patterns resumed).  Cannot fail.
 */
extern void awl_control_register_callbacks(void);

/* This transaction resumed a pattern: at commit the dispatcher looks at its whole queue. */
extern void awl_control_resumed(void);

/*
 * Raises 22023 unless pattern is one function pattern as
 * awslambda.allowed_functions lists them (not empty, at most 256 bytes, no
 * commas, white space or control characters).
 */
extern void awl_control_check_pattern(const char *pattern);

/*
 * Whether pattern matches a function name as queued: one with a ':' the
 * name as given, others the bare function name.  *bare (NULL at first)
 * caches the bare name, palloc'd; the caller frees it.
 */
extern bool awl_control_pattern_matches(const char *pattern, const char *function_name,
										char **bare);

/* in queue_pause.c: the pauses */

/*
 * Reads the paused patterns of the queue table queue_relid's extension
 * (awslambda_paused_functions, 0.5.0 on; none before) into this process's
 * memory, for awl_control_paused; returns whether there are any, and sets
 * *released when a pause of the previous load is gone or reaches fewer
 * invocations (its role no longer a superuser), so that the rows it held
 * are looked at again.  Runs a transaction of its own (outside any); the
 * dispatcher calls it before each claim.
 */
extern bool awl_control_load_pauses(Oid queue_relid, bool *released);

/*
 * Whether the pauses last loaded hold back a queued invocation of
 * function_name (as queued) queued by invoked_by: a paused pattern matches
 * it (as awslambda.allowed_functions patterns match) and the role that
 * paused it is a member of invoked_by (a superuser: of every role).
 */
extern bool awl_control_paused(const char *function_name, Oid invoked_by);

#endif							/* AWL_QUEUE_CONTROL_H */
