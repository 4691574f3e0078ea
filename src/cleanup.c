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
 * Removes finished invocations older than awslambda.async_retention, in
 * chunks, oldest first, from where the last removal ended (no row with a
 * callback still to run is older than callbacks_from).
 */
void
awl_deliver_cleanup(void)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	TimestampTz cutoff = GetCurrentTimestamp() -
		(TimestampTz) awl_async_retention_s * USECS_PER_SEC;
	int64		removed;

	values[0] = TimestampTzGetDatum(cutoff);
	do
	{
		bool		isnull;
		Datum		last;

		awl_deliver_begin("awslambda: remove old invocations");
		values[1] = TimestampTzGetDatum(awl_cursors.cleanup_from);
		awl_deliver_run(psprintf("WITH removed AS (DELETE FROM ONLY %s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					 "SELECT ctid FROM ONLY %s WHERE finished_at OPERATOR(pg_catalog.<) $1 "
					 "AND finished_at OPERATOR(pg_catalog.>=) $2 "
					 "AND (callback IS NULL OR callback_done_at IS NOT NULL) "
					 "ORDER BY finished_at LIMIT %d)) RETURNING finished_at) "
					 "SELECT pg_catalog.count(*), pg_catalog.max(finished_at) FROM removed",
					 awl_dq.queue, awl_dq.queue, CLEANUP_CHUNK),
			SPI_OK_SELECT, 2, types, values, NULL);
		removed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		last = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		awl_cursors.cleanup_from = Min(removed >= CLEANUP_CHUNK ? DatumGetTimestampTz(last) : cutoff,
						   awl_cursors.callbacks_from);
		awl_deliver_end();
		CHECK_FOR_INTERRUPTS();
	} while (removed >= CLEANUP_CHUNK);
}
