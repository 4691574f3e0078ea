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
 * Used by invoke.c (which counts each attempt), stats_sql.c (which reads
 * the counters for SQL) and awslambda.c (the set-up); stats.c calls
 * nothing of awslambda's other files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_STATS_H
#define AWL_STATS_H

#include "portability/instr_time.h"
#include "utils/timestamp.h"

#include "awslambda.h"
#include "http.h"

/* One attempt being timed: set by awl_stats_start, consumed by awl_stats_count. */
typedef struct AwlStatsAttempt
{
	instr_time	started;
	bool		running;
} AwlStatsAttempt;

/* in stats.c */

/*
 * From _PG_init: defines awslambda.stat_max_functions (PGC_POSTMASTER when
 * the postmaster preloads the library, which sizes shared memory by it;
 * else PGC_SIGHUP, bounding each session's own rows).
 */
extern void awl_stats_define_settings(bool preloading);

/*
 * From _PG_init, after awl_stats_define_settings: makes the backend's
 * memory for counting and, when the postmaster preloads the library, asks
 * for the shared memory and the lock of the counters.
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

/* Between stats.c and stats_sql.c: the rows awslambda_stat_functions shows. */

#define AWL_STATS_REGION_MAX 64	/* see awl_region_name_ok */
/* Latency buckets in microseconds: [0, 16), then four per power of two. */
#define AWL_STATS_FIRST_OCTAVE 4	/* 16 us */
#define AWL_STATS_LAST_OCTAVE 30	/* from 2^30 us (18 min) on: the last bucket */
#define AWL_STATS_SUB_BUCKETS 4
#define AWL_STATS_NBUCKETS	(1 + (AWL_STATS_LAST_OCTAVE - AWL_STATS_FIRST_OCTAVE + 1) * \
							 AWL_STATS_SUB_BUCKETS)

/* What a row counts: a function name as called, a region, a kind. */
typedef struct AwlStatsKey
{
	char		name[AWL_MAX_FUNCTION_NAME + 1];
	char		region[AWL_STATS_REGION_MAX + 1];
	bool		async;
} AwlStatsKey;

typedef struct AwlStatsCounters
{
	int64		calls;
	int64		succeeded;
	int64		function_errors;
	int64		throttled;
	int64		api_errors;
	int64		transport_errors;
	int64		aborted;
	int64		retries;
	int64		bytes_sent;
	int64		bytes_received;
	int64		total_us;
	int64		min_us;
	int64		max_us;
	int64		buckets[AWL_STATS_NBUCKETS];
} AwlStatsCounters;

/* A copy of one row. */
typedef struct AwlStatsRow
{
	AwlStatsKey key;
	TimestampTz since;
	AwlStatsCounters c;
	bool		overflow;		/* the row of functions without one of their own */
} AwlStatsRow;

/*
 * Copies of the rows to show (palloc'd, *n of them): preloaded, the whole
 * server's with at least one call, each consistent; else this backend's.
 * Takes the counters' lock shared; raises only out of memory.
 */
extern AwlStatsRow *awl_stats_rows(int *n);

/* Forgets every row (preloaded: the whole server's, under the counters' lock). */
extern void awl_stats_reset(void);

#endif							/* AWL_STATS_H */
