/*-------------------------------------------------------------------------
 *
 * stats_sql.c
 *	  The SQL functions of the statistics: awslambda_stat_functions(), one
 *	  row per function name, region and kind with p50 and p99 estimated from
 *	  the latency histogram, and awslambda_stat_reset().  The rows are
 *	  stats.c's (awl_stats_rows).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "stats.h"

/* The bounds, in microseconds, of bucket b (the last one is open above). */
static void
bucket_bounds(int b, double *lo, double *hi)
{
	int			e = AWL_STATS_FIRST_OCTAVE + (b - 1) / AWL_STATS_SUB_BUCKETS;
	int			sub = (b - 1) % AWL_STATS_SUB_BUCKETS;

	if (b == 0)
	{
		*lo = 0;
		*hi = (double) (1 << AWL_STATS_FIRST_OCTAVE);
		return;
	}
	*lo = ldexp(4 + sub, e - 2);
	*hi = ldexp(5 + sub, e - 2);
}

/*
 * An estimate of the q-quantile of the times in c, in milliseconds: linear
 * within its histogram bucket, kept within the least and greatest time.
 */
static double
quantile_ms(const AwlStatsCounters *c, double q)
{
	int64		total = 0;
	int64		below = 0;
	double		rank;
	double		lo;
	double		hi;
	double		v;
	int			b;

	for (b = 0; b < AWL_STATS_NBUCKETS; b++)
		total += c->buckets[b];
	rank = q * (double) total;
	for (b = 0; b < AWL_STATS_NBUCKETS - 1; b++)
	{
		if ((double) (below + c->buckets[b]) >= rank && c->buckets[b] > 0)
			break;
		below += c->buckets[b];
	}
	bucket_bounds(b, &lo, &hi);
	if (b == AWL_STATS_NBUCKETS - 1)
		hi = Max(lo, (double) c->max_us);
	v = lo + (hi - lo) * (rank - (double) below) / (double) Max(c->buckets[b], 1);
	v = Max(v, (double) c->min_us);
	v = Min(v, (double) c->max_us);
	return v / 1000.0;
}

#define STAT_COLS 19

static void
put_row(ReturnSetInfo *rsinfo, const AwlStatsRow *e, bool overflow)
{
	Datum		values[STAT_COLS];
	bool		nulls[STAT_COLS] = {0};
	const AwlStatsCounters *c = &e->c;
	int			i = 0;

	if (overflow)
	{
		nulls[i++] = true;
		nulls[i++] = true;
	}
	else
	{
		values[i++] = CStringGetTextDatum(e->key.name);
		values[i++] = CStringGetTextDatum(e->key.region);
	}
	values[i++] = CStringGetTextDatum(e->key.async ? "async" : "sync");
	values[i++] = Int64GetDatum(c->calls);
	values[i++] = Int64GetDatum(c->succeeded);
	values[i++] = Int64GetDatum(c->function_errors);
	values[i++] = Int64GetDatum(c->throttled);
	values[i++] = Int64GetDatum(c->api_errors);
	values[i++] = Int64GetDatum(c->transport_errors);
	values[i++] = Int64GetDatum(c->aborted);
	values[i++] = Int64GetDatum(c->retries);
	values[i++] = Int64GetDatum(c->bytes_sent);
	values[i++] = Int64GetDatum(c->bytes_received);
	values[i++] = Float8GetDatum((double) c->total_us / 1000.0);
	values[i++] = Float8GetDatum((double) c->min_us / 1000.0);
	values[i++] = Float8GetDatum((double) c->max_us / 1000.0);
	values[i++] = Float8GetDatum(quantile_ms(c, 0.5));
	values[i++] = Float8GetDatum(quantile_ms(c, 0.99));
	values[i++] = TimestampTzGetDatum(e->since);
	Assert(i == STAT_COLS);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(awslambda_stat_functions);

/*
 * awslambda_stat_functions() RETURNS SETOF record: one row per function
 * name, region and kind, with preloading for the whole server, else for
 * this backend.  EXECUTE is granted to pg_read_all_stats (see the script).
 */
Datum
awslambda_stat_functions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AwlStatsRow *rows;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	rows = awl_stats_rows(&n);
	for (i = 0; i < n; i++)
		put_row(rsinfo, &rows[i], rows[i].overflow);
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(awslambda_stat_reset);

/*
 * awslambda_stat_reset() RETURNS void: forgets every row (with preloading,
 * the whole server's).  Superusers only, unless granted.
 */
Datum
awslambda_stat_reset(PG_FUNCTION_ARGS)
{
	awl_stats_reset();
	PG_RETURN_VOID();
}
