/*-------------------------------------------------------------------------
 *
 * flow.h
 *	  Per-function flow control of the dispatcher (flow.c): the settings
 *	  awslambda.async_function_limits and awslambda.async_batch_sizes, and
 *	  which entry of each a queued function falls under.  Calls nothing of
 *	  the asynchronous side.
 *
 * Used by async_settings.c (which defines the settings through it),
 * claim.c and pipeline.c; flow.c calls only parse.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_FLOW_H
#define AWL_FLOW_H

#include "awslambda.h"

/*
 * From awl_async_define_settings: defines awslambda.async_function_limits
 * and awslambda.async_batch_sizes (PGC_SIGHUP, checked: a list of
 * PATTERN=N).  Each is parsed once per process, at first use (a reload
 * restarts the dispatcher).
 */
extern void awl_flow_define_settings(void);

/*
 * The limit group of a queued function name (server encoding): the first
 * pattern of awslambda.async_function_limits that matches it (0, 1, ...),
 * or -1 for none.  Raises only out of memory.
 */
extern int	awl_flow_group(const char *function_name);

/* How many invocations of a group may be in flight at once (INT_MAX for -1). */
extern int	awl_flow_limit(int group);

/* How many groups awslambda.async_function_limits has. */
extern int	awl_flow_groups(void);

/* How many invocations of the function one micro-batch may carry (1: none). */
extern int	awl_flow_batch_size(const char *function_name);

#endif							/* AWL_FLOW_H */
