/*-------------------------------------------------------------------------
 *
 * cleanup.c
 *	  Retention: finished invocations older than awslambda.async_retention
 *	  are removed, once their callbacks ran.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"

#include "deliver.h"
#include "dispatcher.h"

#define CLEANUP_CHUNK		10000

/*
 * Every that many removal rounds, a round starts from the oldest row instead
 * of where the last one ended: a row can be finished with a time already
 * behind that place (awslambda_cancel dates it with its transaction's start,
 * and the transaction may commit much later), and would stay otherwise.
 */
#define CLEANUP_FROM_OLDEST_EVERY	10

/*
 * Removes finished invocations older than retention_s, the failed ones or
 * the others, in chunks, oldest first, from where the last removal ended
 * (*from; no row with a callback still to run is older than callbacks_from).
 */
static void
cleanup_finished(bool failed, int retention_s, TimestampTz *from)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	TimestampTz cutoff = GetCurrentTimestamp() - (TimestampTz) retention_s * USECS_PER_SEC;
	int64		removed;

	values[0] = TimestampTzGetDatum(cutoff);
	do
	{
		bool		isnull;
		Datum		last;

		awl_deliver_begin("awslambda: remove old invocations");
		values[1] = TimestampTzGetDatum(*from);
		awl_deliver_run(psprintf("WITH removed AS (DELETE FROM ONLY %s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					 "SELECT ctid FROM ONLY %s WHERE finished_at OPERATOR(pg_catalog.<) $1 "
					 "AND finished_at OPERATOR(pg_catalog.>=) $2 "
					 "AND status OPERATOR(pg_catalog.%s) 'failed' "
					 "AND (callback IS NULL OR callback_done_at IS NOT NULL) "
					 "ORDER BY finished_at LIMIT %d)) RETURNING finished_at) "
					 "SELECT pg_catalog.count(*), pg_catalog.max(finished_at) FROM removed",
					 awl_dq.queue, awl_dq.queue, failed ? "=" : "<>", CLEANUP_CHUNK),
			SPI_OK_SELECT, 2, types, values, NULL);
		removed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		last = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		*from = Min(removed >= CLEANUP_CHUNK ? DatumGetTimestampTz(last) : cutoff,
					awl_cursors.callbacks_from);
		awl_deliver_end();
		CHECK_FOR_INTERRUPTS();
	} while (removed >= CLEANUP_CHUNK);
}

/*
 * Removes finished invocations older than awslambda.async_retention, and
 * failed ones older than awslambda.async_failed_retention (-1: neither).
 */
void
awl_deliver_cleanup(void)
{
	static int	rounds = 0;

	if (++rounds >= CLEANUP_FROM_OLDEST_EVERY)
	{
		rounds = 0;
		awl_cursors.cleanup_from = DT_NOBEGIN;
		awl_cursors.failed_cleanup_from = DT_NOBEGIN;
	}
	if (awl_async_retention_s >= 0)
		cleanup_finished(false, awl_async_retention_s, &awl_cursors.cleanup_from);
	if (awl_async_failed_retention_s >= 0)
		cleanup_finished(true, awl_async_failed_retention_s, &awl_cursors.failed_cleanup_from);
}
