/*-------------------------------------------------------------------------
 *
 * queue_control.h
 *	  Steering the queue: pauses as the dispatcher's claim sees them
 *	  (queue_control.c; the SQL functions awslambda_retry, _retry_failed,
 *	  _cancel, _pause, _resume and awslambda_invocation_paused are there
 *	  too).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_QUEUE_CONTROL_H
#define AWL_QUEUE_CONTROL_H

#include "postgres.h"

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
