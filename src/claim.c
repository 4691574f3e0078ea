/*-------------------------------------------------------------------------
 *
 * claim.c
 *	  Claiming due invocations into the pipeline: the claim's statements,
 *	  using the cursors that keep each claim from walking again what an
 *	  earlier one took (cursors.c; see "Cursors" in deliver.h).
 *
 * A claim is committed (status 'sending', attempts + 1) before anything
 * is sent.  Retries that are due come first, in the order of their due
 * time, then fresh invocations in the order they were queued; a function
 * at its awslambda.async_function_limits is left queued.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "deliver.h"
#include "flow.h"
#include "queue_control.h"

/* While functions are paused, the whole queue is looked at again this often. */
#define PAUSE_RESCAN_MS		60000
/* A claim holds at most this many payload bytes (and at least one invocation). */
#define CLAIM_MAX_BYTES		(64 * 1024 * 1024)
/* A claim looks past rows of functions at their limit this often at most. */
#define CLAIM_PASSES		4

/*
 * The pending table's invocations due by time: retries, and (0.5.0) those
 * queued for a later run_at, which have queued_xact 0 (see
 * awl_dispatcher_rewind_at_end).  The predicate of the index they are found
 * by, which the queries repeat; one plan per version.
 */
#define DUE_BY_TIME(v05) ((v05) ? \
	"status OPERATOR(pg_catalog.=) 'queued' AND (attempts OPERATOR(pg_catalog.>) 0 " \
	"OR queued_xact OPERATOR(pg_catalog.=) '0'::pg_catalog.xid8)" : \
	"status OPERATOR(pg_catalog.=) 'queued' AND attempts OPERATOR(pg_catalog.>) 0")

/*
 * The columns the queue's tables have now: ALTER EXTENSION awslambda UPDATE
 * may have added some since the last look.  In a transaction.
 */
static void
look_at_versions(void)
{
	awl_dq.has_v04 = get_attnum(awl_dq.queue_relid, "durable_execution_name") != InvalidAttrNumber;
	awl_dq.has_v05 = OidIsValid(awl_dq.pending_relid) && awl_dq.has_v04 &&
		get_attnum(awl_dq.queue_relid, "dedup_key") != InvalidAttrNumber;
}

/* Milliseconds until the next queued invocation is due, at most cap_ms. */
long
awl_deliver_next_due_ms(long cap_ms)
{
	long		ms = cap_ms;
	bool		isnull;
	Datum		d;

	static SPIPlanPtr legacy_plan = NULL;
	static SPIPlanPtr plan[2] = {NULL, NULL};

	awl_cursors_take_rewinds();
	awl_deliver_begin("awslambda: look for due invocations");
	look_at_versions();
	if (!OidIsValid(awl_dq.pending_relid))
		awl_deliver_run_prepared(&legacy_plan, psprintf("SELECT pg_catalog.min(next_attempt_at) FROM %s "
											"WHERE status OPERATOR(pg_catalog.=) 'queued'", awl_dq.work),
					 SPI_OK_SELECT, 0, NULL, NULL);
	else
	{
		Oid			types[3] = {TIMESTAMPTZOID, XID8OID, UUIDOID};
		Datum		values[3];

		awl_cursors_fresh_rewind(GetActiveSnapshot());
		values[0] = TimestampTzGetDatum(awl_cursors.retry_from);
		values[1] = FullTransactionIdGetDatum(awl_cursors.fresh_xact);
		values[2] = UUIDPGetDatum(&awl_cursors.fresh_id);
		awl_deliver_run_prepared(&plan[awl_dq.has_v05], psprintf("SELECT LEAST((SELECT pg_catalog.min(next_attempt_at) FROM %s "
									 "WHERE %s "
									 "AND next_attempt_at OPERATOR(pg_catalog.>=) $1), "
									 "(SELECT next_attempt_at FROM %s "
									 "WHERE status OPERATOR(pg_catalog.=) 'queued' "
									 "AND attempts OPERATOR(pg_catalog.=) 0 "
									 "AND ROW(queued_xact, id) OPERATOR(pg_catalog.>) ROW($2, $3) "
									 "ORDER BY queued_xact, id LIMIT 1))", awl_dq.work,
									 DUE_BY_TIME(awl_dq.has_v05), awl_dq.work),
					 SPI_OK_SELECT, 3, types, values);
	}
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz due = DatumGetTimestampTz(d);

		ms = due <= now ? 0 : Min(cap_ms, (long) ((due - now + 999) / 1000));
	}
	awl_deliver_end();
	return ms;
}

/*
 * With awslambda.async_function_limits: how many invocations of each limit
 * group the pipeline holds (palloc'd, or NULL without limits), and in
 * names/nnames the function names, as queued, of the groups at their limit,
 * which a claim leaves alone (room for limit more is left in names).
 */
static int *
flow_counts(int limit, Datum **names, int *nnames)
{
	int			ngroups = awl_flow_groups();
	int			npipeline = awl_deliver_in_pipeline();
	int		   *counts = ngroups > 0 ? palloc0(ngroups * sizeof(int)) : NULL;
	int			i;

	*names = palloc((npipeline + CLAIM_PASSES * limit + 1) * sizeof(Datum));
	*nnames = 0;
	for (i = 0; counts && i < npipeline; i++)
		if (awl_pipeline_item(i)->group >= 0)
			counts[awl_pipeline_item(i)->group]++;
	for (i = 0; counts && i < npipeline; i++)
	{
		int			g = awl_pipeline_item(i)->group;

		if (g >= 0 && counts[g] >= awl_flow_limit(g))
			(*names)[(*nnames)++] = CStringGetTextDatum(awl_pipeline_item(i)->queued_name);
	}
	return counts;
}

/* What one part of a claim (retries, or fresh invocations) found and took. */
typedef struct ClaimPart
{
	int			asked;
	int			found;
	int			took;			/* rows taken into ids[] */
	bool		cut;			/* stopped short: the limit, or CLAIM_MAX_BYTES */
	int			last_taken;		/* the last row taken, -1 if none */
} ClaimPart;

/* One claim: what it took so far, and where its cursors are to go. */
typedef struct Claim
{
	int			limit;
	TimestampTz now;
	bool		v04;			/* with a pending table: retries, then fresh ones */
	bool		pausing;		/* some functions are paused (queue_control.c) */
	bool		lock_first;		/* the SELECT locks what it finds (see claim_select) */
	Snapshot	snap;			/* the claim's (v04) */
	Datum	   *ids;			/* the ids a part takes */
	Datum	   *names;			/* functions at their limit, as queued */
	int			nnames;
	int64		bytes;
	int		   *in_group;		/* in flight per limit group, or NULL */
	int			claimed;
	bool	   *more;

	/* The cursors' new places, settled at the end (see "Cursors"). */
	bool		retry_ran;
	bool		retry_full;		/* the retries' part was cut short */
	TimestampTz retry_next;
	TimestampTz retry_floor;
	bool		fresh_ran;
	bool		fresh_full;
	FullTransactionId fresh_last_x;
	pg_uuid_t	fresh_last_id;
	bool		fresh_floored;
	FullTransactionId fresh_floor_x;
	pg_uuid_t	fresh_floor_id;
} Claim;

/* The three kinds of claim part, each with its own predicate and order. */
typedef enum ClaimKind
{
	CLAIM_DUE,					/* before 0.4.0: every due row of the one table, by time */
	CLAIM_RETRY,				/* the pending table's retries and run_at rows that are due */
	CLAIM_FRESH					/* the pending table's fresh invocations, as queued */
} ClaimKind;

static ClaimKind
claim_kind(const Claim *cl, bool fresh)
{
	return !cl->v04 ? CLAIM_DUE : fresh ? CLAIM_FRESH : CLAIM_RETRY;
}

/*
 * The predicate of one kind of part, over the queue's unqualified columns,
 * with its parameters from $2 on ($1 is the caller's): the SELECT that
 * finds a part's rows and the lock that takes them (claim_mark) both use
 * it, so a row a concurrent transaction changed in between (a dedup
 * replace that gave it a later run_at, say) is taken only if it still
 * qualifies.
 */
static const char *
claim_where(ClaimKind kind)
{
	switch (kind)
	{
		case CLAIM_DUE:
			return "status OPERATOR(pg_catalog.=) 'queued' "
				"AND next_attempt_at OPERATOR(pg_catalog.<=) $2 "
				"AND NOT function_name OPERATOR(pg_catalog.=) ANY ($3)";
		case CLAIM_RETRY:
			return psprintf("%s AND next_attempt_at OPERATOR(pg_catalog.>=) $4 "
							"AND next_attempt_at OPERATOR(pg_catalog.<=) $2 "
							"AND NOT function_name OPERATOR(pg_catalog.=) ANY ($3)",
							DUE_BY_TIME(awl_dq.has_v05));
		case CLAIM_FRESH:
			break;
	}
	return "status OPERATOR(pg_catalog.=) 'queued' "
		"AND attempts OPERATOR(pg_catalog.=) 0 "
		"AND ROW(queued_xact, id) OPERATOR(pg_catalog.>) ROW($2, $3) "
		"AND NOT function_name OPERATOR(pg_catalog.=) ANY ($4)";
}

/*
 * The parameters of claim_where(kind) into types[1..] and values[1..];
 * returns how many there are with $1.
 */
static int
claim_params(const Claim *cl, ClaimKind kind, Datum name_array, Oid *types, Datum *values)
{
	if (kind == CLAIM_FRESH)
	{
		types[1] = XID8OID;
		values[1] = FullTransactionIdGetDatum(awl_cursors.fresh_xact);
		types[2] = UUIDOID;
		values[2] = UUIDPGetDatum(&awl_cursors.fresh_id);
		types[3] = TEXTARRAYOID;
		values[3] = name_array;
		return 4;
	}
	types[1] = TIMESTAMPTZOID;
	values[1] = TimestampTzGetDatum(cl->now);
	types[2] = TEXTARRAYOID;
	values[2] = name_array;
	if (kind == CLAIM_DUE)
		return 3;
	types[3] = TIMESTAMPTZOID;
	values[3] = TimestampTzGetDatum(awl_cursors.retry_from);
	return 4;
}

/*
 * Runs the SELECT of one part of a claim, cp->asked rows at most, past the
 * functions named in name_array: before 0.4.0 every due row by its time;
 * else the retries that are due (fresh false) or the fresh invocations
 * (fresh true), each from its cursor.  While functions are paused or
 * awslambda.async_function_limits applies, it locks nothing and claim_mark
 * locks the rows claim_pick takes, so that rows left queued get no lock, no
 * WAL record and no dirtied page each time a claim looks at them; otherwise
 * (cl->lock_first) it locks what it finds, FOR UPDATE SKIP LOCKED, which
 * costs the dispatcher about a tenth less CPU per invocation, and of those
 * rows only the ones past the byte cap are left.
 */
static void
claim_select(Claim *cl, bool fresh, ClaimPart *cp, Datum name_array)
{
	ClaimKind	kind = claim_kind(cl, fresh);
	Oid			types[4];
	Datum		values[4];
	int			nargs = claim_params(cl, kind, name_array, types, values);

	static SPIPlanPtr plans[3][2][2];

	types[0] = INT4OID;
	values[0] = Int32GetDatum(cp->asked);
	awl_deliver_run_prepared(&plans[kind][awl_dq.has_v05][cl->lock_first],
							 psprintf("SELECT id, pg_catalog.octet_length(payload), function_name, %s"
									  "invoked_by FROM %s WHERE %s ORDER BY %s LIMIT $1%s",
									  kind == CLAIM_DUE ? "" :
									  kind == CLAIM_RETRY ? "next_attempt_at, " : "queued_xact, ",
									  awl_dq.work, claim_where(kind),
									  kind == CLAIM_FRESH ? "queued_xact, id" : "next_attempt_at",
									  cl->lock_first ? " FOR UPDATE SKIP LOCKED" : ""),
							 SPI_OK_SELECT, nargs, types, values);
}

/*
 * Of the rows claim_select found, takes into cl->ids those that fit: while
 * the pipeline stays within CLAIM_MAX_BYTES (*full_of_bytes when not), and
 * not of a function at its limit (named in cl->names from now on, and
 * *at_limit).  Returns how many it took.
 */
static int
claim_pick(Claim *cl, ClaimPart *cp, bool *at_limit, bool *full_of_bytes)
{
	int			n = 0;
	int			i;
	bool		isnull;

	for (i = 0; i < cp->found; i++)
	{
		int64		size = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		int			group = cl->in_group ? awl_flow_group(SPI_getvalue(SPI_tuptable->vals[i],
																		SPI_tuptable->tupdesc, 3)) : -1;

		/*
		 * Paused (awslambda_pause): left queued, and the cursors may pass it;
		 * a resume has the scans start again (queue_control.c).
		 */
		if (cl->pausing &&
			awl_control_paused(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3),
							   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc,
															  cl->v04 ? 5 : 4, &isnull))))
		{
			cp->last_taken = i;
			continue;
		}
		if ((cl->claimed + n > 0 || awl_deliver_in_pipeline() > 0) &&
			awl_pipeline_bytes() + cl->bytes + size > CLAIM_MAX_BYTES)
		{
			*full_of_bytes = cp->cut = *cl->more = true;
			break;
		}
		/* Its function has as many in flight as awslambda.async_function_limits allows. */
		if (group >= 0 && cl->in_group[group] >= awl_flow_limit(group))
		{
			cl->names[cl->nnames++] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i],
																	   SPI_tuptable->tupdesc, 3));
			*at_limit = *cl->more = true;
			continue;
		}
		if (group >= 0)
			cl->in_group[group]++;
		cl->bytes += size;
		cl->ids[n++] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		cp->last_taken = i;
	}
	return n;
}

/* Where this part's cursor may go, from what it found (before the UPDATE of claim_mark). */
static void
claim_note_cursor(Claim *cl, bool fresh, const ClaimPart *cp)
{
	bool		isnull;

	if (cl->v04 && !fresh)
	{
		cl->retry_ran = true;
		cl->retry_full = cp->cut;
		if (cp->cut)
		{
			if (cp->last_taken >= 0)
				cl->retry_next = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[cp->last_taken],
																   SPI_tuptable->tupdesc, 4, &isnull));
		}
		else
			cl->retry_next = cl->now;
	}
	else if (fresh)
	{
		cl->fresh_ran = true;
		cl->fresh_full = cp->cut;
		if (cp->last_taken >= 0)
		{
			HeapTuple	last = SPI_tuptable->vals[cp->last_taken];

			cl->fresh_last_id = *DatumGetUUIDP(SPI_getbinval(last, SPI_tuptable->tupdesc, 1, &isnull));
			cl->fresh_last_x = DatumGetFullTransactionId(SPI_getbinval(last, SPI_tuptable->tupdesc, 4, &isnull));
		}
	}
}

/*
 * Locks the n rows taken unless claim_select did (those another
 * transaction holds are skipped, as are those that no longer qualify),
 * marks them 'sending', attempts + 1, and puts them into the pipeline.
 */
static void
claim_mark(Claim *cl, bool fresh, int n, Datum name_array)
{
	ClaimKind	kind = claim_kind(cl, fresh);
	int			returning = awl_dq.has_v05 ? 2 : awl_dq.has_v04 ? 1 : 0;
	Oid			types[4];
	Datum		values[4];
	int			nargs = claim_params(cl, kind, name_array, types, values);
	int			i;

	static SPIPlanPtr locked_plans[3];
	static SPIPlanPtr plans[3][3];

	types[0] = UUIDARRAYOID;
	values[0] = PointerGetDatum(construct_array(cl->ids, n, UUIDOID, UUID_LEN, false,
												TYPALIGN_CHAR));
	awl_deliver_run_prepared(cl->lock_first ? &locked_plans[returning] : &plans[kind][returning],
				 psprintf("UPDATE %s q SET status = 'sending', "
						  "attempts = q.attempts OPERATOR(pg_catalog.+) 1, "
						  "last_attempt_at = pg_catalog.clock_timestamp() "
						  "WHERE q.id OPERATOR(pg_catalog.=) ANY (%s) "
						  "RETURNING q.id, q.function_name, q.qualifier, q.region, "
						  "q.invocation_type, q.payload, q.attempts, "
						  "q.callback IS NOT NULL%s%s", awl_dq.work,
						  cl->lock_first ? "$1" :
						  psprintf("ARRAY(SELECT id FROM %s WHERE id OPERATOR(pg_catalog.=) ANY ($1) "
								   "AND %s FOR UPDATE SKIP LOCKED)", awl_dq.work, claim_where(kind)),
						  returning >= 1 ? ", q.tenant_id, q.durable_execution_name" : "",
						  returning >= 2 ? ", q.max_attempts" : ""),
				 SPI_OK_UPDATE_RETURNING, cl->lock_first ? 1 : nargs, types, values);
	for (i = 0; i < (int) SPI_processed; i++)
		awl_pipeline_take(i);
	cl->claimed += (int) SPI_processed;
}

/*
 * One part of one pass of a claim: finds, takes and marks what is due
 * (fresh: the fresh invocations, else the retries or, before 0.4.0,
 * everything due).
 */
static void
claim_part(Claim *cl, bool fresh, bool *at_limit, bool *full_of_bytes, bool *cut_by_limit)
{
	ClaimPart	cp = {0};
	int			n;
	Datum		name_array = PointerGetDatum(construct_array(cl->names, cl->nnames, TEXTOID, -1,
															 false, TYPALIGN_INT));

	cp.asked = cl->limit - cl->claimed;
	cp.last_taken = -1;
	claim_select(cl, fresh, &cp, name_array);
	cp.found = (int) SPI_processed;
	if (cp.found >= cp.asked)
		*cut_by_limit = cp.cut = *cl->more = true;
	n = claim_pick(cl, &cp, at_limit, full_of_bytes);
	claim_note_cursor(cl, fresh, &cp);
	if (n > 0)
		claim_mark(cl, fresh, n, name_array);
	elog(DEBUG1, "awslambda dispatcher: claimed %d of %d due invocations, %lld payload bytes",
		 n, cp.found, (long long) cl->bytes);
}

/*
 * Rows of functions at their limit were left queued (named in the query,
 * or skipped): no cursor passes the first of them.  Retries: only where
 * this claim looked, up to where its cursor would go.
 */
static void
claim_retry_floor(Claim *cl, Datum name_array)
{
	Oid			floor_types[3] = {TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		due_values[4];
	bool		isnull;

	static SPIPlanPtr retry_floor_plan[2] = {NULL, NULL};

	due_values[0] = name_array;
	due_values[1] = TimestampTzGetDatum(cl->retry_next);
	due_values[2] = TimestampTzGetDatum(awl_cursors.retry_from);
	awl_deliver_run_prepared(&retry_floor_plan[awl_dq.has_v05], psprintf("SELECT pg_catalog.min(next_attempt_at) FROM %s "
											 "WHERE %s "
											 "AND next_attempt_at OPERATOR(pg_catalog.>=) $3 "
											 "AND next_attempt_at OPERATOR(pg_catalog.<=) $2 "
											 "AND function_name OPERATOR(pg_catalog.=) ANY ($1)", awl_dq.work,
											 DUE_BY_TIME(awl_dq.has_v05)),
				 SPI_OK_SELECT, 3, floor_types, due_values);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			cl->retry_floor = DatumGetTimestampTz(d);
	}
}

/* Likewise for fresh invocations: the first of them left queued. */
static void
claim_fresh_floor(Claim *cl, Datum name_array)
{
	Oid			fresh_floor_types[5] = {TEXTARRAYOID, XID8OID, UUIDOID, XID8OID, UUIDOID};
	Datum		fresh_values[5];
	FullTransactionId upto_x = cl->fresh_last_x;
	pg_uuid_t	upto_id = cl->fresh_last_id;
	bool		isnull;

	static SPIPlanPtr fresh_floor_plan = NULL;

	if (!cl->fresh_full)
	{
		upto_x = awl_cursors_full_xid(cl->snap->xmax, ReadNextFullTransactionId());
		memset(upto_id.data, 0xff, UUID_LEN);
	}
	fresh_values[0] = name_array;
	fresh_values[1] = FullTransactionIdGetDatum(awl_cursors.fresh_xact);
	fresh_values[2] = UUIDPGetDatum(&awl_cursors.fresh_id);
	fresh_values[3] = FullTransactionIdGetDatum(upto_x);
	fresh_values[4] = UUIDPGetDatum(&upto_id);
	awl_deliver_run_prepared(&fresh_floor_plan, psprintf("SELECT id, queued_xact FROM %s "
											 "WHERE status OPERATOR(pg_catalog.=) 'queued' "
											 "AND attempts OPERATOR(pg_catalog.=) 0 "
											 "AND ROW(queued_xact, id) OPERATOR(pg_catalog.>) ROW($2, $3) "
											 "AND ROW(queued_xact, id) OPERATOR(pg_catalog.<=) ROW($4, $5) "
											 "AND function_name OPERATOR(pg_catalog.=) ANY ($1) "
											 "ORDER BY queued_xact, id LIMIT 1", awl_dq.work),
				 SPI_OK_SELECT, 5, fresh_floor_types, fresh_values);
	if (SPI_processed == 1)
	{
		HeapTuple	first = SPI_tuptable->vals[0];

		cl->fresh_floor_id = awl_cursors_uuid_pred(DatumGetUUIDP(SPI_getbinval(first, SPI_tuptable->tupdesc, 1, &isnull)));
		cl->fresh_floor_x = DatumGetFullTransactionId(SPI_getbinval(first, SPI_tuptable->tupdesc, 2, &isnull));
		cl->fresh_floored = true;
	}
}

/*
 * The cursors to their new places (see "Cursors").  True if a part cut short
 * moved its cursor forward (the others saw all there was).
 */
static bool
claim_settle(Claim *cl)
{
	TimestampTz retry_was = awl_cursors.retry_from;
	FullTransactionId fresh_was_x = awl_cursors.fresh_xact;
	pg_uuid_t	fresh_was_id = awl_cursors.fresh_id;

	if (cl->v04 && cl->nnames > 0)
	{
		Datum		name_array = PointerGetDatum(construct_array(cl->names, cl->nnames, TEXTOID, -1,
																 false, TYPALIGN_INT));

		if (cl->retry_ran)
			claim_retry_floor(cl, name_array);
		if (cl->fresh_ran)
			claim_fresh_floor(cl, name_array);
	}
	if (cl->retry_ran)
		awl_cursors.retry_from = Min(cl->retry_next, cl->retry_floor);
	if (cl->fresh_ran)
	{
		if (cl->fresh_floored &&
			awl_cursors_key_cmp(cl->fresh_floor_x, &cl->fresh_floor_id, cl->fresh_last_x, &cl->fresh_last_id) < 0)
		{
			cl->fresh_last_x = cl->fresh_floor_x;
			cl->fresh_last_id = cl->fresh_floor_id;
		}
		awl_cursors_fresh_advance(cl->snap, cl->fresh_full || cl->fresh_floored, cl->fresh_last_x, &cl->fresh_last_id);
	}
	return (cl->retry_ran && cl->retry_full && awl_cursors.retry_from > retry_was) ||
		(cl->fresh_ran && cl->fresh_full &&
		 awl_cursors_key_cmp(awl_cursors.fresh_xact, &awl_cursors.fresh_id, fresh_was_x, &fresh_was_id) > 0);
}

/*
 * Claims up to limit due invocations into the pipeline, keeping no more
 * than CLAIM_MAX_BYTES of payload in it (at least one invocation), nor more
 * of a function than awslambda.async_function_limits allows: committed as
 * 'sending', attempts counted, before anything is sent.  Retries that are due
 * come first, in the order of their due time, then fresh invocations in the
 * order they were queued, each from where the last claim ended (see
 * "Cursors"; before 0.4.0, every due row by its time).  The time is a
 * parameter (not clock_timestamp()) so that the index delivers rows in
 * order, without sorting a long backlog.  Rows of a function at its limit
 * are left queued, and no cursor passes them; from the next pass on (at
 * most CLAIM_PASSES) they are named in the query so that they do not hide
 * the rows behind them.  *more: the claim was cut short, so more may be
 * due; *limited: it left rows of functions at their limit; *moved: a part
 * cut short moved its cursor forward, past rows it left queued if it took
 * none (paused ones, or ones another transaction held), so a claim at once
 * goes on from there.
 */
int
awl_deliver_claim(int limit, bool *more, bool *limited, bool *moved)
{
	Claim		cl = {0};
	int			pass;
	bool		released = false;
	static TimestampTz last_pause_rescan = 0;
	static bool walking = false;	/* the last claim passed rows it left, and was cut short */

	/* A resume, a cancel rolled back, a run_at: rows the cursors passed are due again. */
	awl_cursors_take_rewinds();
	cl.limit = limit;
	cl.now = GetCurrentTimestamp();
	cl.more = more;
	cl.retry_next = awl_cursors.retry_from;
	cl.retry_floor = DT_NOEND;
	cl.fresh_last_x = InvalidFullTransactionId;
	cl.fresh_floor_x = InvalidFullTransactionId;

	awl_pipeline_begin();
	*more = false;
	*limited = false;
	*moved = false;
	if (limit <= 0)
		return 0;
	cl.pausing = awl_control_load_pauses(awl_dq.queue_relid, &released);

	/*
	 * The cursors pass paused rows.  A pause that ended without a resume
	 * (its row deleted, its role no longer a superuser) and, while there are
	 * pauses, once a minute (a role's membership may have changed, which
	 * nothing here hears of), though not while the claims are walking past
	 * rows they leave (a paused backlog that takes longer than that would
	 * otherwise never be walked to its end): every row is looked at again.
	 */
	if (released || (cl.pausing && !walking &&
					 TimestampDifferenceExceeds(last_pause_rescan, cl.now, PAUSE_RESCAN_MS)))
	{
		awl_deliver_reset_cursors();
		cl.retry_next = awl_cursors.retry_from;
		last_pause_rescan = cl.now;
	}
	awl_deliver_begin("awslambda: claim due invocations");
	cl.v04 = OidIsValid(awl_dq.pending_relid);
	look_at_versions();
	if (cl.v04)
	{
		cl.snap = GetActiveSnapshot();
		awl_cursors_fresh_rewind(cl.snap);
		cl.fresh_last_x = awl_cursors.fresh_xact;
		cl.fresh_last_id = awl_cursors.fresh_id;
	}
	cl.ids = palloc(limit * sizeof(Datum));
	cl.in_group = flow_counts(limit, &cl.names, &cl.nnames);
	cl.lock_first = !cl.pausing && cl.in_group == NULL;
	for (pass = 0; pass < CLAIM_PASSES && cl.claimed < limit; pass++)
	{
		bool		at_limit = false;
		bool		full_of_bytes = false;
		bool		cut_by_limit = false;
		int			part;

		for (part = cl.v04 ? 0 : 1; part < 2 && cl.claimed < limit && !full_of_bytes; part++)
			claim_part(&cl, cl.v04 && part == 1, &at_limit, &full_of_bytes, &cut_by_limit);
		/* Again only past rows at their limit, and if there may be others behind them. */
		if (full_of_bytes || !at_limit || !cut_by_limit)
			break;
	}
	*moved = claim_settle(&cl);
	walking = *more && *moved && cl.claimed == 0;
	*limited = cl.nnames > 0;
	awl_deliver_end();
	return cl.claimed;
}
