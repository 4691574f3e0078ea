/*-------------------------------------------------------------------------
 *
 * queue_insert.h
 *	  Queuing an invocation without the executor: one row into the queue's
 *	  pending table, its defaults and index entries, as the table's owner.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_QUEUE_INSERT_H
#define AWL_QUEUE_INSERT_H

#include "queue.h"

/*
 * Inserts one row into q's pending table in the current transaction, as
 * the queue's owner, as an INSERT of these columns would: columns[i] (of
 * type types[i]) gets values[i], NULL where nulls[i] is 'n'; every other
 * column its default; NOT NULL is checked; every index gets its entry
 * (partial ones when the row satisfies their predicate; unique ones
 * checked); in a read-only transaction it raises as the INSERT would.
 * What the table needs is looked up once and again after it or
 * one of its indexes changes.  Returns false, having done nothing, when q
 * has no pending table or the table has something this path does not do
 * (triggers, rules, CHECK constraints, forced row security, generated or
 * identity columns, expression, exclusion or deferrable indexes, a column
 * missing or of another type): the caller then runs its INSERT instead.
 */
extern bool awl_queue_insert_direct(const AwlQueueTables *q, int ncolumns,
									const char *const *columns, const Oid *types,
									Datum *values, const char *nulls);

#endif							/* AWL_QUEUE_INSERT_H */
