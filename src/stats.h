/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Per-function statistics of Lambda invocations (awslambda_stat_functions).
 *
 * Every HTTP attempt of an invocation is counted once it is answered, fails
 * or is abandoned, under its function name as called, its region, and
 * whether the dispatcher (async) or the calling session (sync) made it.
 * With the library preloaded the counters live in shared memory and cover
 * the whole server; otherwise each backend counts its own calls.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_STATS_H
#define AWL_STATS_H

#include "portability/instr_time.h"

#include "awslambda.h"
#include "http.h"

/* One attempt being timed: set by awl_stats_start, consumed by awl_stats_count. */
typedef struct AwlStatsAttempt
{
	instr_time	started;
	bool		running;
} AwlStatsAttempt;

/* Setting awslambda.stat_max_functions, defined in awl_stats_init. */
extern int	awl_stat_max_functions;

/*
 * From _PG_init: defines the setting and, when the postmaster preloads the
 * library, asks for the shared memory and the lock of the counters.
 */
extern void awl_stats_init(bool preloading);

/* Notes that an attempt starts now (a clock read; cannot fail). */
static inline void
awl_stats_start(AwlStatsAttempt *a)
{
	INSTR_TIME_SET_CURRENT(a->started);
	a->running = true;
}

/*
 * Counts the attempt a (if awl_stats_start started it and it was not counted
 * yet) of req, sent to region: resp is its reply (NULL: abandoned without
 * one, by a cancel or another error) and result what finish_invoke made of
 * it.  Never raises, so it may run while an error is being handled; with
 * the library preloaded it takes no lock but the counters' own spinlock
 * once the backend knows the function.
 */
extern void awl_stats_count(AwlStatsAttempt *a, const AwlInvokeRequest *req,
							const char *region, bool async,
							const AwlHttpResponse *resp, const AwlInvokeResult *result);

#endif							/* AWL_STATS_H */
