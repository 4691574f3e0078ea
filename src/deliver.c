/*-------------------------------------------------------------------------
 *
 * deliver.c
 *	  The dispatcher's work on its database's queue (awslambda_invocations):
 *	  claim due invocations, send them concurrently, record each outcome,
 *	  run callbacks, remove old rows.
 *
 * Delivery is at-least-once.  A claim is committed (status 'sending',
 * attempts + 1) before anything is sent, and the outcome is committed
 * after; a dispatcher that dies in between leaves 'sending' rows, which
 * the next one puts back in the queue.  So an invocation interrupted
 * mid-send may reach Lambda twice, always with the same id.
 *
 * Throttling, server errors and network failures are retried with
 * exponential backoff and jitter (at least Retry-After), up to
 * awslambda.async_max_attempts (or the invocation's own max_attempts,
 * 0.5.0); other API errors fail at once.
 *
 * From 0.4.0 on, unfinished invocations are rows of a table of their own
 * (awslambda_invocations_pending, a child of awslambda_invocations); a
 * finished one is moved into awslambda_invocations with its outcome.  And
 * no scan walks again what an earlier one took: see "Cursors" below.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_subscription.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/base64.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/regproc.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/xid8.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/ruleutils.h"

#include "awslambda.h"

#define BACKOFF_BASE_MS		1000L
#define BACKOFF_CAP_MS		300000L
#define CLEANUP_CHUNK		10000
/* A claim holds at most this many payload bytes (and at least one invocation). */
#define CLAIM_MAX_BYTES		(64 * 1024 * 1024)
/* Answers are written together when they arrive within this long of the first. */
#define GATHER_MS			10
#define GATHER_MAX			256
/* A claim looks past rows of functions at their limit this often at most. */
#define CLAIM_PASSES		4

/*
 * The queue table (finished invocations from 0.4.0 on, all of them before),
 * qualified and quoted; found once at start.
 */
static char *queue = NULL;
static Oid	queue_relid = InvalidOid;
static Oid	queue_rowtype = InvalidOid;

/*
 * Where unfinished invocations are: the pending table (0.4.0), or the queue
 * table itself before (then pending_relid is InvalidOid).
 */
static char *work = NULL;
static Oid	pending_relid = InvalidOid;

/*
 * Cursors.  Each scan of an index whose entries the dispatcher makes dead
 * (claiming, finishing, running callbacks, removing) starts where the
 * previous one ended, so its cost does not grow with the dead entries that
 * earlier work left behind until autovacuum comes.
 *
 * Fresh invocations are claimed in the order (queued_xact, id).  All those
 * with a key up to fresh_from that were visible to an earlier claim have
 * been claimed; rows of transactions still running then are found later
 * because those transactions are watched (watch[]): when one of them has
 * ended, the cursor goes back to its first key once.
 *
 * Retries (queued, attempts > 0) are written by the dispatcher alone:
 * every one is due at or after retry_from.  Every finished invocation whose
 * callback is still to run finished at or after callbacks_from.  Every
 * finished row older than cleanup_from that could be removed was removed.
 * All start from the beginning when the dispatcher starts, recovers or the
 * queue changes.
 */
static FullTransactionId fresh_xact;	/* fresh claims start after (fresh_xact, fresh_id) */
static pg_uuid_t fresh_id;
static FullTransactionId *watch = NULL;
static int	nwatch = 0;
static int	maxwatch = 0;
static TimestampTz retry_from = DT_NOBEGIN;
static TimestampTz callbacks_from = DT_NOBEGIN;
static TimestampTz cleanup_from = DT_NOBEGIN;

/* Every cursor to the beginning. */
static void
reset_cursors(void)
{
	/* (0, ff...ff): past the invocations put aside until run_at (queued_xact 0). */
	fresh_xact = FullTransactionIdFromU64(0);
	memset(&fresh_id, 0xff, sizeof(fresh_id));
	nwatch = 0;
	retry_from = DT_NOBEGIN;
	callbacks_from = DT_NOBEGIN;
	cleanup_from = DT_NOBEGIN;
}
/* Whether it has callback_fn (0.3.0); callbacks wait for the update otherwise. */
static bool queue_has_callback_fn = false;
/* Whether it has 0.4.0's columns (tenant id, durable execution); per claim. */
static bool queue_has_v04 = false;
/* Whether it has 0.5.0's (max_attempts, dedup_key, run_at put aside); per claim. */
static bool queue_has_v05 = false;

/*
 * The pending table's invocations due by time: retries, and (0.5.0) those
 * queued for a later run_at, which have queued_xact 0 (see
 * awl_queue_rewind_at_end).  The index's predicate, which the queries
 * repeat.
 */
#define DUE_BY_TIME(v05) ((v05) ? \
	"status OPERATOR(pg_catalog.=) 'queued' AND (attempts OPERATOR(pg_catalog.>) 0 " \
	"OR queued_xact OPERATOR(pg_catalog.=) '0'::pg_catalog.xid8)" : \
	"status OPERATOR(pg_catalog.=) 'queued' AND attempts OPERATOR(pg_catalog.>) 0")

/*
 * A session may have queued invocations for later, or held rows that a
 * claim passed (awl_queue_rewind_at_end): the cursors go back to them.
 * Before the snapshot of the claim that is to see them.
 */
static int	fresh_key_cmp(FullTransactionId ax, const pg_uuid_t *aid, FullTransactionId bx,
						  const pg_uuid_t *bid);

static void
take_rewinds(void)
{
	uint64		x;
	TimestampTz due;

	if (!awl_dispatcher_take_rewind(&x, &due))
		return;
	if (x != PG_UINT64_MAX)
	{
		FullTransactionId fx = FullTransactionIdFromU64(x);
		pg_uuid_t	key;

		/* 0: from the beginning (past the rows of queued_xact 0, as reset_cursors). */
		memset(&key, x == 0 ? 0xff : 0, sizeof(key));
		if (fresh_key_cmp(fx, &key, fresh_xact, &fresh_id) < 0)
		{
			fresh_xact = fx;
			fresh_id = key;
		}
	}
	retry_from = Min(retry_from, due);
}

/* One claimed invocation and what became of it. */
typedef struct Claimed
{
	char	   *id;				/* uuid text */
	char	   *function_name;
	int			attempts;		/* including this one */
	int			max_attempts;	/* its own limit, 0: awslambda.async_max_attempts */
	bool		request_response;
	const char *status;			/* new status */
	long		delay_ms;		/* before the next attempt, when re-queued */
	bool		has_callback;
} Claimed;

static void follow_queue_name(void);

/* Runs SQL in a transaction of its own, with a snapshot. */
static void
begin_work(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgstat_report_activity(STATE_RUNNING, activity);
	follow_queue_name();
}

static void
end_work(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Every statement the dispatcher runs is on the queue's tables alone: while
 * it is analysed (or re-analysed by the plan cache) it may name no other
 * relation (see awl_queue_guard_begin).
 */
static void
run(const char *sql, int expected, int nargs, Oid *types, Datum *values, const char *nulls)
{
	volatile int rc = 0;

	awl_queue_guard_begin_pair(queue_relid, pending_relid);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
	}
	PG_END_TRY();
	if (rc != expected)
		elog(ERROR, "awslambda dispatcher: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/* The statements planned once for the dispatcher's life, forgotten if the queue's name changes. */
static SPIPlanPtr *saved_plans[32];
static int	nsaved_plans = 0;

/* Finds the pending table of queue_relid anew (0.4.0), and work with it. */
static void
find_pending(void)
{
	pending_relid = awl_queue_find_pending(queue_relid);
	reset_cursors();
}

/*
 * The queue's qualified names, as the SQL text has them, follow renames of
 * the tables or their schema: checked at the start of each of the
 * dispatcher's transactions; the saved plans are made anew with the new
 * names.  So does an update of the extension that moves unfinished
 * invocations to their own table: rows in flight are recorded there.
 */
static void
follow_queue_name(void)
{
	char	   *now;
	char	   *now_work;
	int			i;

	/* The extension dropped (and maybe created again) since: find its queue anew. */
	if (get_rel_name(queue_relid) == NULL ||
		(OidIsValid(pending_relid) && get_rel_name(pending_relid) == NULL))
	{
		Oid			relid = awl_queue_find(true);

		if (!OidIsValid(relid))
		{
			ereport(LOG,
					(errmsg("awslambda dispatcher: extension \"awslambda\" is gone from this database; exiting")));
			proc_exit(0);
		}
		queue_relid = relid;
		queue_rowtype = get_rel_type_id(relid);
		queue_has_callback_fn = get_attnum(relid, "callback_fn") != InvalidAttrNumber;
		find_pending();
	}
	else if (!OidIsValid(pending_relid))
	{
		/* Until ALTER EXTENSION awslambda UPDATE to 0.4.0. */
		find_pending();
		if (OidIsValid(pending_relid))
			ereport(LOG,
					(errmsg("awslambda dispatcher: unfinished invocations are now kept in table %s",
							awl_queue_name(pending_relid))));
	}
	now = awl_queue_name(queue_relid);
	now_work = OidIsValid(pending_relid) ? awl_queue_name(pending_relid) : now;
	if (strcmp(now, queue) == 0 && strcmp(now_work, work) == 0)
		return;
	if (strcmp(now, queue) != 0)
		ereport(LOG,
				(errmsg("awslambda dispatcher: the queue table is now %s (was %s)", now, queue)));
	pfree(queue);
	pfree(work);
	queue = MemoryContextStrdup(TopMemoryContext, now);
	work = MemoryContextStrdup(TopMemoryContext, now_work);
	for (i = 0; i < nsaved_plans; i++)
	{
		SPI_freeplan(*saved_plans[i]);
		*saved_plans[i] = NULL;
	}
	nsaved_plans = 0;
}

/*
 * Runs a statement of the dispatcher's loop, planned once for the
 * dispatcher's life (the plan cache revalidates it should the table change).
 */
static void
run_prepared(SPIPlanPtr *plan, const char *sql, int expected, int nargs, Oid *types,
			 Datum *values)
{
	volatile int rc = 0;

	awl_queue_guard_begin_pair(queue_relid, pending_relid);
	PG_TRY();
	{
		if (*plan == NULL)
		{
			SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

			if (p == NULL)
				elog(ERROR, "awslambda dispatcher: could not plan \"%s\": %s", sql,
					 SPI_result_code_string(SPI_result));
			SPI_keepplan(p);
			*plan = p;
			Assert(nsaved_plans < lengthof(saved_plans));
			saved_plans[nsaved_plans++] = plan;
		}
		rc = SPI_execute_plan(*plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
	}
	PG_END_TRY();
	if (rc != expected)
		elog(ERROR, "awslambda dispatcher: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/*
 * Does a logical replication subscription of this database include the
 * queue table?  Then its rows are the publisher's, which sends them: this
 * dispatcher holds off (sends, runs callbacks, removes nothing) until the
 * subscription is dropped or no longer includes the table.  In a
 * transaction.
 */
static bool
queue_subscribed(Oid relid)
{
	Relation	rel = table_open(SubscriptionRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
	HeapTuple	tup;
	bool		found = false;

	while (!found && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_subscription sub = (Form_pg_subscription) GETSTRUCT(tup);

		found = sub->subdbid == MyDatabaseId &&
			SearchSysCacheExists2(SUBSCRIPTIONRELMAP, ObjectIdGetDatum(relid),
								  ObjectIdGetDatum(sub->oid));
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Whether the dispatcher must hold off because the queue arrives by logical
 * replication (see queue_subscribed); says so in the log when that changes.
 */
bool
awl_deliver_held(void)
{
	static bool held = false;
	bool		now_held;

	StartTransactionCommand();
	now_held = queue_subscribed(queue_relid) ||
		(OidIsValid(pending_relid) && queue_subscribed(pending_relid));
	CommitTransactionCommand();
	if (now_held != held)
		ereport(LOG,
				(errmsg(now_held ?
						"awslambda dispatcher: the queue of this database is replicated from a publisher by a subscription; it is sent there, not here" :
						"awslambda dispatcher: the queue of this database is no longer replicated by a subscription; sending what is queued")));
	held = now_held;
	return held;
}

/*
 * Finds the queue of this database's awslambda; false if the extension (at
 * a version with a queue) is not installed.
 */
bool
awl_deliver_open(void)
{
	Oid			relid;

	StartTransactionCommand();
	relid = awl_queue_find(true);
	if (OidIsValid(relid))
	{
		queue = MemoryContextStrdup(TopMemoryContext, awl_queue_name(relid));
		queue_relid = relid;
		queue_rowtype = get_rel_type_id(relid);
		queue_has_callback_fn = get_attnum(relid, "callback_fn") != InvalidAttrNumber;
		find_pending();
		work = MemoryContextStrdup(TopMemoryContext,
								   awl_queue_name(OidIsValid(pending_relid) ? pending_relid : relid));
		if (!queue_has_callback_fn)
			ereport(LOG,
					(errmsg("awslambda dispatcher: extension \"awslambda\" in this database predates 0.3.0; callbacks wait until ALTER EXTENSION awslambda UPDATE")));
	}
	CommitTransactionCommand();
	return OidIsValid(relid);
}


/* A 32-bit xid from a snapshot (running, or its xmax) as a full one. */
static FullTransactionId
full_xid(TransactionId xid, FullTransactionId next)
{
	return FullTransactionIdFromU64(U64FromFullTransactionId(next) -
									(uint32) (XidFromFullTransactionId(next) - xid));
}

/* Orders fresh invocations' keys (queued_xact, id). */
static int
fresh_key_cmp(FullTransactionId ax, const pg_uuid_t *aid, FullTransactionId bx,
			  const pg_uuid_t *bid)
{
	if (FullTransactionIdPrecedes(ax, bx))
		return -1;
	if (FullTransactionIdPrecedes(bx, ax))
		return 1;
	return memcmp(aid->data, bid->data, UUID_LEN);
}

static void
watch_add(FullTransactionId x)
{
	int			i;

	for (i = 0; i < nwatch; i++)
		if (FullTransactionIdEquals(watch[i], x))
			return;
	if (nwatch == maxwatch)
	{
		maxwatch = Max(64, maxwatch * 2);
		watch = watch ? repalloc(watch, maxwatch * sizeof(FullTransactionId))
			: MemoryContextAlloc(TopMemoryContext, maxwatch * sizeof(FullTransactionId));
	}
	watch[nwatch++] = x;
}

/*
 * Before looking for fresh invocations: a watched transaction that snap (a
 * snapshot taken before the statement's own) no longer sees running has
 * committed or aborted; the cursor goes back to its first key, once.
 */
static void
fresh_rewind(Snapshot snap)
{
	pg_uuid_t	nil = {{0}};
	int			kept = 0;
	int			i;

	for (i = 0; i < nwatch; i++)
	{
		if (XidInMVCCSnapshot(XidFromFullTransactionId(watch[i]), snap))
			watch[kept++] = watch[i];
		else if (fresh_key_cmp(watch[i], &nil, fresh_xact, &fresh_id) < 0)
		{
			fresh_xact = watch[i];
			fresh_id = nil;
		}
	}
	nwatch = kept;
}

/*
 * After a claim of fresh invocations under a statement whose snapshot is no
 * older than snap: if it took all it found (full is false), it took every
 * fresh row past the cursor that it could see, and the rows it could not see
 * belong to transactions running at snap (watched from now on) or later ones
 * (at or past snap's xmax); otherwise the next claim goes on after the last
 * row taken (lx, lid).
 */
static void
fresh_advance(Snapshot snap, bool full, FullTransactionId lx, const pg_uuid_t *lid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	FullTransactionId nx = full_xid(snap->xmax, next);
	pg_uuid_t	nil = {{0}};
	pg_uuid_t	nid = nil;
	uint32		i;

	if (full && fresh_key_cmp(lx, lid, nx, &nil) < 0)
	{
		nx = lx;
		nid = *lid;
	}
	for (i = 0; i < snap->xcnt; i++)
	{
		FullTransactionId x = full_xid(snap->xip[i], next);

		if (fresh_key_cmp(x, &nil, nx, &nid) < 0)
			watch_add(x);
	}
	fresh_xact = nx;
	fresh_id = nid;
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
	bool		v05;

	take_rewinds();
	begin_work("awslambda: look for due invocations");
	v05 = get_attnum(queue_relid, "dedup_key") != InvalidAttrNumber;
	if (!OidIsValid(pending_relid))
		run_prepared(&legacy_plan, psprintf("SELECT pg_catalog.min(next_attempt_at) FROM %s "
											"WHERE status OPERATOR(pg_catalog.=) 'queued'", work),
					 SPI_OK_SELECT, 0, NULL, NULL);
	else
	{
		Oid			types[3] = {TIMESTAMPTZOID, XID8OID, UUIDOID};
		Datum		values[3];

		fresh_rewind(GetActiveSnapshot());
		values[0] = TimestampTzGetDatum(retry_from);
		values[1] = FullTransactionIdGetDatum(fresh_xact);
		values[2] = UUIDPGetDatum(&fresh_id);
		run_prepared(&plan[v05], psprintf("SELECT LEAST((SELECT pg_catalog.min(next_attempt_at) FROM %s "
										  "WHERE %s "
										  "AND next_attempt_at OPERATOR(pg_catalog.>=) $1), "
									 "(SELECT next_attempt_at FROM %s "
									 "WHERE status OPERATOR(pg_catalog.=) 'queued' "
									 "AND attempts OPERATOR(pg_catalog.=) 0 "
									 "AND ROW(queued_xact, id) OPERATOR(pg_catalog.>) ROW($2, $3) "
									 "ORDER BY queued_xact, id LIMIT 1))", work, DUE_BY_TIME(v05), work),
					 SPI_OK_SELECT, 3, types, values);
	}
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz due = DatumGetTimestampTz(d);

		ms = due <= now ? 0 : Min(cap_ms, (long) ((due - now + 999) / 1000));
	}
	end_work();
	return ms;
}

/* A copy of column n of the current result row, in the caller's context. */
static char *
column_text(int row, int n, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, n);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/* Lambda client context carrying the invocation id, base64. */
static char *
client_context_for(const char *id)
{
	char	   *json = psprintf("{\"custom\":{\"awslambda_invocation_id\":\"%s\"}}", id);
	int			len = pg_b64_enc_len((int) strlen(json));
	char	   *b64 = palloc(len + 1);

	len = awl_b64_encode(json, (int) strlen(json), b64, len);
	b64[len] = '\0';
	return b64;
}

/*
 * One claimed invocation on its way, in a memory context of its own: it
 * waits for a slot of the stream, is in flight, then has its result until
 * that is recorded.
 */
typedef struct InFlight
{
	MemoryContext cxt;
	Claimed		c;
	AwlInvokeRequest req;
	AwlInvokeResult result;
	int64		bytes;			/* payload bytes */
	bool		started;		/* handed to the stream */
	bool		answered;		/* result complete, not yet recorded */
	bool		callback;		/* has a callback to run once finished */
	char	   *queued_name;	/* function_name as queued (server encoding) */
	int			group;			/* its awslambda.async_function_limits group, or -1 */
	int			batch_size;		/* its awslambda.async_batch_sizes entry; 1: alone */
	struct InFlight **members;	/* a micro-batch's first: the others it carries */
	int			nmembers;
} InFlight;

/* The pipeline: what was claimed and is not recorded yet, oldest first. */
static MemoryContext pipeline_cxt = NULL;
static InFlight **pipeline = NULL;
static int	npipeline = 0;
static int	pipeline_cap = 0;
static int64 pipeline_bytes = 0;
static AwlInvokeStream *stream = NULL;

static void
pipeline_append(InFlight *f)
{
	if (npipeline == pipeline_cap)
	{
		pipeline_cap = Max(64, pipeline_cap * 2);
		pipeline = pipeline ? repalloc(pipeline, pipeline_cap * sizeof(InFlight *))
			: MemoryContextAlloc(pipeline_cxt, pipeline_cap * sizeof(InFlight *));
	}
	pipeline[npipeline++] = f;
	pipeline_bytes += f->bytes;
}

/* Forgets the invocations that match (recorded, or given back), keeping the order. */
static void
pipeline_remove(bool (*gone) (const InFlight *))
{
	int			kept = 0;
	int			i;

	for (i = 0; i < npipeline; i++)
	{
		InFlight   *f = pipeline[i];

		if (gone(f))
		{
			pipeline_bytes -= f->bytes;
			MemoryContextDelete(f->cxt);
		}
		else
			pipeline[kept++] = f;
	}
	npipeline = kept;
}

int
awl_deliver_in_pipeline(void)
{
	return npipeline;
}

/*
 * Invocations a stopped dispatcher had in flight go back to the queue; the
 * next scans start from the beginning.
 */
void
awl_deliver_recover(void)
{
	Oid			types[1] = {UUIDARRAYOID};
	Datum		values[1];
	Datum	   *ids;
	int			i;

	begin_work("awslambda: re-queue interrupted invocations");
	reset_cursors();
	/* Not this dispatcher's own (in flight while a subscription came and went). */
	ids = palloc(Max(npipeline, 1) * sizeof(Datum));
	for (i = 0; i < npipeline; i++)
		ids[i] = DirectFunctionCall1(uuid_in, CStringGetDatum(pipeline[i]->c.id));
	values[0] = PointerGetDatum(construct_array(ids, npipeline, UUIDOID, UUID_LEN, false,
												TYPALIGN_CHAR));
	run(psprintf("UPDATE %s SET status = 'queued', next_attempt_at = pg_catalog.now() "
				 "WHERE status OPERATOR(pg_catalog.=) 'sending' "
				 "AND NOT id OPERATOR(pg_catalog.=) ANY ($1)", work),
		SPI_OK_UPDATE, 1, types, values, NULL);
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("awslambda dispatcher: %llu interrupted invocations queued again",
						(unsigned long long) SPI_processed)));
	end_work();
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
	int		   *counts = ngroups > 0 ? palloc0(ngroups * sizeof(int)) : NULL;
	int			i;

	*names = palloc((npipeline + CLAIM_PASSES * limit + 1) * sizeof(Datum));
	*nnames = 0;
	for (i = 0; counts && i < npipeline; i++)
		if (pipeline[i]->group >= 0)
			counts[pipeline[i]->group]++;
	for (i = 0; counts && i < npipeline; i++)
	{
		int			g = pipeline[i]->group;

		if (g >= 0 && counts[g] >= awl_flow_limit(g))
			(*names)[(*nnames)++] = CStringGetTextDatum(pipeline[i]->queued_name);
	}
	return counts;
}

/* Puts claimed row i of the current result into the pipeline. */
static void
take_claimed(int i)
{
	MemoryContext cxt = AllocSetContextCreate(pipeline_cxt, "awslambda invocation",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	InFlight   *f = palloc0(sizeof(InFlight));
	Claimed    *c = &f->c;
	AwlInvokeRequest *r = &f->req;
	char	   *name = column_text(i, 2, cxt);
	char	   *payload = column_text(i, 6, cxt);

	f->cxt = cxt;
	f->queued_name = name;
	f->group = awl_flow_group(name);
	f->batch_size = awl_flow_batch_size(name);
	c->id = column_text(i, 1, cxt);
	c->function_name = name;
	c->attempts = atoi(column_text(i, 7, cxt));
	c->request_response = strcmp(column_text(i, 5, cxt), "RequestResponse") == 0;
	f->callback = strcmp(column_text(i, 8, cxt), "t") == 0;
	c->has_callback = f->callback;

	r->function_name = pg_server_to_any(name, strlen(name), PG_UTF8);
	r->qualifier = column_text(i, 3, cxt);
	r->region = column_text(i, 4, cxt);
	r->invocation_type = c->request_response ? "RequestResponse" : "Event";
	r->payload = pg_server_to_any(payload, strlen(payload), PG_UTF8);
	r->payload_len = strlen(r->payload);
	f->bytes = (int64) strlen(payload);
	r->client_context = c->request_response ? client_context_for(c->id) : NULL;
	r->connect_timeout_ms = awl_connect_timeout_ms;
	r->request_timeout_ms = awl_request_timeout_ms;
	r->max_attempts = 1;		/* retried through the queue, with backoff */
	r->allowed_checked = true;	/* by the caller, under its settings */
	r->retry = c->attempts > 1; /* for the statistics */
	if (queue_has_v04)
	{
		/* Checked when queued; ASCII, the same in every server encoding. */
		r->tenant_id = column_text(i, 9, cxt);
		r->durable_execution_name = column_text(i, 10, cxt);
	}
	if (queue_has_v05)
	{
		char	   *max_attempts = column_text(i, 11, cxt);

		c->max_attempts = max_attempts ? atoi(max_attempts) : 0;
	}
	MemoryContextSwitchTo(old);
	pipeline_append(f);
}

/* The uuid just before id (as a 128-bit number): "> pred(id)" is ">= id". */
static pg_uuid_t
uuid_pred(const pg_uuid_t *id)
{
	pg_uuid_t	p = *id;
	int			i;

	for (i = UUID_LEN - 1; i >= 0; i--)
		if (p.data[i]-- != 0)
			break;
	return p;
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
 * due; *limited: it left rows of functions at their limit.
 */
int
awl_deliver_claim(int limit, bool *more, bool *limited)
{
	Oid			due_types[4] = {INT4OID, TIMESTAMPTZOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		due_values[4];
	Oid			fresh_types[4] = {INT4OID, XID8OID, UUIDOID, TEXTARRAYOID};
	Datum		fresh_values[5];
	Oid			floor_types[3] = {TEXTARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid			fresh_floor_types[5] = {TEXTARRAYOID, XID8OID, UUIDOID, XID8OID, UUIDOID};
	Oid			claim_types[1] = {UUIDARRAYOID};
	Datum		claim_values[1];
	Datum	   *ids;
	Datum	   *names;
	int			nnames;
	int64		bytes = 0;
	int		   *in_group;
	int			claimed = 0;
	int			pass;
	bool		v04;
	Snapshot	snap = NULL;
	TimestampTz now = GetCurrentTimestamp();

	/* The cursors' new places, settled at the end (see "Cursors"). */
	bool		retry_ran = false;
	TimestampTz retry_next = retry_from;
	TimestampTz retry_floor = DT_NOEND;
	bool		fresh_ran = false;
	bool		fresh_full = false;
	FullTransactionId fresh_last_x = InvalidFullTransactionId;
	pg_uuid_t	fresh_last_id;
	bool		fresh_floored = false;
	FullTransactionId fresh_floor_x = InvalidFullTransactionId;
	pg_uuid_t	fresh_floor_id;

	static SPIPlanPtr due_plan = NULL;
	static SPIPlanPtr retry_plan[2] = {NULL, NULL};
	static SPIPlanPtr fresh_plan = NULL;
	static SPIPlanPtr retry_floor_plan[2] = {NULL, NULL};
	static SPIPlanPtr fresh_floor_plan = NULL;
	static SPIPlanPtr claim_plan = NULL;
	static SPIPlanPtr claim_plan_v04 = NULL;
	static SPIPlanPtr claim_plan_v05 = NULL;

	if (pipeline_cxt == NULL)
		pipeline_cxt = AllocSetContextCreate(TopMemoryContext, "awslambda pipeline",
											 ALLOCSET_DEFAULT_SIZES);
	*more = false;
	*limited = false;
	if (limit <= 0)
		return 0;
	take_rewinds();
	begin_work("awslambda: claim due invocations");
	v04 = OidIsValid(pending_relid);
	/* ALTER EXTENSION awslambda UPDATE may have added them since the last claim. */
	queue_has_v04 = get_attnum(queue_relid, "durable_execution_name") != InvalidAttrNumber;
	queue_has_v05 = v04 && queue_has_v04 &&
		get_attnum(queue_relid, "dedup_key") != InvalidAttrNumber;
	if (v04)
	{
		snap = GetActiveSnapshot();
		fresh_rewind(snap);
		fresh_last_x = fresh_xact;
		fresh_last_id = fresh_id;
	}
	ids = palloc(limit * sizeof(Datum));
	in_group = flow_counts(limit, &names, &nnames);
	for (pass = 0; pass < CLAIM_PASSES && claimed < limit; pass++)
	{
		bool		at_limit = false;
		bool		full_of_bytes = false;
		bool		cut_by_limit = false;
		int			part;

		for (part = v04 ? 0 : 1; part < 2 && claimed < limit && !full_of_bytes; part++)
		{
			ClaimPart	cp = {0};
			int			n = 0;
			int			i;
			bool		isnull;
			bool		fresh = v04 && part == 1;
			Datum		name_array = PointerGetDatum(construct_array(names, nnames, TEXTOID, -1,
																	 false, TYPALIGN_INT));

			cp.asked = limit - claimed;
			cp.last_taken = -1;
			if (!v04)
			{
				/* Before 0.4.0: every invocation in one table, the due ones by time. */
				due_values[0] = Int32GetDatum(cp.asked);
				due_values[1] = TimestampTzGetDatum(now);
				due_values[2] = name_array;
				run_prepared(&due_plan, psprintf("SELECT id, pg_catalog.octet_length(payload), function_name FROM %s "
												 "WHERE status OPERATOR(pg_catalog.=) 'queued' "
												 "AND next_attempt_at OPERATOR(pg_catalog.<=) $2 "
												 "AND NOT function_name OPERATOR(pg_catalog.=) ANY ($3) "
												 "ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED", work),
							 SPI_OK_SELECT, 3, due_types, due_values);
			}
			else if (!fresh)
			{
				due_values[0] = Int32GetDatum(cp.asked);
				due_values[1] = TimestampTzGetDatum(now);
				due_values[2] = name_array;
				due_values[3] = TimestampTzGetDatum(retry_from);
				run_prepared(&retry_plan[queue_has_v05], psprintf("SELECT id, pg_catalog.octet_length(payload), function_name, "
																  "next_attempt_at FROM %s "
																  "WHERE %s "
																  "AND next_attempt_at OPERATOR(pg_catalog.>=) $4 "
												   "AND next_attempt_at OPERATOR(pg_catalog.<=) $2 "
												   "AND NOT function_name OPERATOR(pg_catalog.=) ANY ($3) "
												   "ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED", work,
																  DUE_BY_TIME(queue_has_v05)),
							 SPI_OK_SELECT, 4, due_types, due_values);
			}
			else
			{
				fresh_values[0] = Int32GetDatum(cp.asked);
				fresh_values[1] = FullTransactionIdGetDatum(fresh_xact);
				fresh_values[2] = UUIDPGetDatum(&fresh_id);
				fresh_values[3] = name_array;
				run_prepared(&fresh_plan, psprintf("SELECT id, pg_catalog.octet_length(payload), function_name, "
												   "queued_xact FROM %s "
												   "WHERE status OPERATOR(pg_catalog.=) 'queued' "
												   "AND attempts OPERATOR(pg_catalog.=) 0 "
												   "AND ROW(queued_xact, id) OPERATOR(pg_catalog.>) ROW($2, $3) "
												   "AND NOT function_name OPERATOR(pg_catalog.=) ANY ($4) "
												   "ORDER BY queued_xact, id LIMIT $1 FOR UPDATE SKIP LOCKED", work),
							 SPI_OK_SELECT, 4, fresh_types, fresh_values);
			}
			cp.found = (int) SPI_processed;
			if (cp.found >= cp.asked)
				cut_by_limit = cp.cut = *more = true;
			for (i = 0; i < cp.found; i++)
			{
				int64		size = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
				int			group = in_group ? awl_flow_group(SPI_getvalue(SPI_tuptable->vals[i],
																			SPI_tuptable->tupdesc, 3)) : -1;

				if ((claimed + n > 0 || npipeline > 0) && pipeline_bytes + bytes + size > CLAIM_MAX_BYTES)
				{
					full_of_bytes = cp.cut = *more = true;
					break;
				}
				/* Its function has as many in flight as awslambda.async_function_limits allows. */
				if (group >= 0 && in_group[group] >= awl_flow_limit(group))
				{
					names[nnames++] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i],
																	   SPI_tuptable->tupdesc, 3));
					at_limit = *more = true;
					continue;
				}
				if (group >= 0)
					in_group[group]++;
				bytes += size;
				ids[n++] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
				cp.last_taken = i;
			}

			/* Where this part's cursor may go, from what it found (before the UPDATE below). */
			if (v04 && !fresh)
			{
				retry_ran = true;
				if (cp.cut)
				{
					if (cp.last_taken >= 0)
						retry_next = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[cp.last_taken],
																	   SPI_tuptable->tupdesc, 4, &isnull));
				}
				else
					retry_next = now;
			}
			else if (fresh)
			{
				fresh_ran = true;
				fresh_full = cp.cut;
				if (cp.last_taken >= 0)
				{
					HeapTuple	last = SPI_tuptable->vals[cp.last_taken];

					fresh_last_id = *DatumGetUUIDP(SPI_getbinval(last, SPI_tuptable->tupdesc, 1, &isnull));
					fresh_last_x = DatumGetFullTransactionId(SPI_getbinval(last, SPI_tuptable->tupdesc, 4, &isnull));
				}
			}
			if (n > 0)
			{
				claim_values[0] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false,
																  TYPALIGN_CHAR));
				run_prepared(queue_has_v05 ? &claim_plan_v05 : queue_has_v04 ? &claim_plan_v04 : &claim_plan,
							 psprintf("UPDATE %s q SET status = 'sending', "
									  "attempts = q.attempts OPERATOR(pg_catalog.+) 1, "
									  "last_attempt_at = pg_catalog.clock_timestamp() "
									  "WHERE q.id OPERATOR(pg_catalog.=) ANY ($1) "
									  "RETURNING q.id, q.function_name, q.qualifier, q.region, "
									  "q.invocation_type, q.payload, q.attempts, "
									  "q.callback IS NOT NULL%s%s", work,
									  queue_has_v04 ? ", q.tenant_id, q.durable_execution_name" : "",
									  queue_has_v05 ? ", q.max_attempts" : ""),
							 SPI_OK_UPDATE_RETURNING, 1, claim_types, claim_values);
				for (i = 0; i < (int) SPI_processed; i++)
					take_claimed(i);
				claimed += (int) SPI_processed;
			}
			elog(DEBUG1, "awslambda dispatcher: claimed %d of %d due invocations, %lld payload bytes",
				 n, cp.found, (long long) bytes);
		}
		/* Again only past rows at their limit, and if there may be others behind them. */
		if (full_of_bytes || !at_limit || !cut_by_limit)
			break;
	}

	/*
	 * Rows of functions at their limit were left queued (named in the query,
	 * or skipped): no cursor passes the first of them.
	 */
	if (v04 && nnames > 0)
	{
		Datum		name_array = PointerGetDatum(construct_array(names, nnames, TEXTOID, -1,
																 false, TYPALIGN_INT));
		bool		isnull;

		if (retry_ran)
		{
			/* Only where this claim looked: up to where its cursor would go. */
			due_values[0] = name_array;
			due_values[1] = TimestampTzGetDatum(retry_next);
			due_values[2] = TimestampTzGetDatum(retry_from);
			run_prepared(&retry_floor_plan[queue_has_v05], psprintf("SELECT pg_catalog.min(next_attempt_at) FROM %s "
																	"WHERE %s "
																	"AND next_attempt_at OPERATOR(pg_catalog.>=) $3 "
													 "AND next_attempt_at OPERATOR(pg_catalog.<=) $2 "
													 "AND function_name OPERATOR(pg_catalog.=) ANY ($1)", work,
																	DUE_BY_TIME(queue_has_v05)),
						 SPI_OK_SELECT, 3, floor_types, due_values);
			if (SPI_processed == 1)
			{
				Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

				if (!isnull)
					retry_floor = DatumGetTimestampTz(d);
			}
		}
		if (fresh_ran)
		{
			FullTransactionId upto_x = fresh_last_x;
			pg_uuid_t	upto_id = fresh_last_id;

			if (!fresh_full)
			{
				upto_x = full_xid(snap->xmax, ReadNextFullTransactionId());
				memset(upto_id.data, 0xff, UUID_LEN);
			}
			fresh_values[0] = name_array;
			fresh_values[1] = FullTransactionIdGetDatum(fresh_xact);
			fresh_values[2] = UUIDPGetDatum(&fresh_id);
			fresh_values[3] = FullTransactionIdGetDatum(upto_x);
			fresh_values[4] = UUIDPGetDatum(&upto_id);
			run_prepared(&fresh_floor_plan, psprintf("SELECT id, queued_xact FROM %s "
													 "WHERE status OPERATOR(pg_catalog.=) 'queued' "
													 "AND attempts OPERATOR(pg_catalog.=) 0 "
													 "AND ROW(queued_xact, id) OPERATOR(pg_catalog.>) ROW($2, $3) "
													 "AND ROW(queued_xact, id) OPERATOR(pg_catalog.<=) ROW($4, $5) "
													 "AND function_name OPERATOR(pg_catalog.=) ANY ($1) "
													 "ORDER BY queued_xact, id LIMIT 1", work),
						 SPI_OK_SELECT, 5, fresh_floor_types, fresh_values);
			if (SPI_processed == 1)
			{
				HeapTuple	first = SPI_tuptable->vals[0];

				fresh_floor_id = uuid_pred(DatumGetUUIDP(SPI_getbinval(first, SPI_tuptable->tupdesc, 1, &isnull)));
				fresh_floor_x = DatumGetFullTransactionId(SPI_getbinval(first, SPI_tuptable->tupdesc, 2, &isnull));
				fresh_floored = true;
			}
		}
	}
	if (retry_ran)
		retry_from = Min(retry_next, retry_floor);
	if (fresh_ran)
	{
		if (fresh_floored &&
			fresh_key_cmp(fresh_floor_x, &fresh_floor_id, fresh_last_x, &fresh_last_id) < 0)
		{
			fresh_last_x = fresh_floor_x;
			fresh_last_id = fresh_floor_id;
		}
		fresh_advance(snap, fresh_full || fresh_floored, fresh_last_x, &fresh_last_id);
	}
	*limited = nnames > 0;
	end_work();
	return claimed;
}

/*
 * Delay before attempt number attempts + 1: exponential (1 s, 2 s, 4 s, ...
 * at most 5 min) with jitter over its upper half, at least Retry-After.
 */
static long
backoff_ms(int attempts, long retry_after_ms)
{
	long		cap = Min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << Min(attempts - 1, 20));
	long		delay = cap / 2 + (long) (pg_prng_double(&pg_global_prng_state) * (cap / 2));

	return Max(delay, retry_after_ms);
}

/* Whether an error means "not done, try again later" for a queued invocation. */
static bool
worth_retrying(const AwlInvokeError *err)
{
	/*
	 * Unlike a call inside a statement, a queued invocation is delivered at
	 * least once: a timeout or broken reply is retried too.
	 */
	return err->retryable ||
		err->sqlstate == ERRCODE_CONNECTION_FAILURE ||
		err->sqlstate == ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
}

/* Outcome columns, one array each, written by one UPDATE ... FROM unnest(...). */
enum
{
	REC_ID,
	REC_STATUS,
	REC_HTTP_STATUS,
	REC_REQUEST_ID,
	REC_FUNCTION_ERROR,
	REC_RESPONSE,
	REC_SQLSTATE,
	REC_LAST_ERROR,
	REC_DETAIL,
	REC_NEXT_AT,
	NUM_REC_V03,				/* the columns up to 0.3.0 */
	REC_DURABLE_EXECUTION_ARN = NUM_REC_V03,
	REC_THROTTLE_REASON,
	NUM_REC
};

static const Oid rec_elem_types[NUM_REC] = {UUIDOID, TEXTOID, INT4OID, TEXTOID, TEXTOID,
TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
static const Oid rec_array_types[NUM_REC] = {UUIDARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID};

static void
set_text(Datum *values, bool *nulls, int col, const char *s)
{
	if (s)
	{
		values[col] = CStringGetTextDatum(s);
		nulls[col] = false;
	}
}

/* Fills the outcome columns of one claimed invocation. */
static void
outcome(Claimed *c, AwlInvokeResult *r, Datum *values, bool *nulls)
{
	AwlInvokeError *err = r->error;

	values[REC_ID] = DirectFunctionCall1(uuid_in, CStringGetDatum(c->id));
	nulls[REC_ID] = false;

	/* The response goes into a jsonb column: what jsonb refuses fails this row. */
	if (err == NULL && c->request_response && r->payload)
		err = awl_jsonb_payload_error(c->function_name, r);

	if (err)
	{
		int			max_attempts = c->max_attempts > 0 ? c->max_attempts : awl_async_max_attempts;
		bool		again = worth_retrying(err) && c->attempts < max_attempts;

		c->status = again ? "queued" : "failed";
		c->delay_ms = again ? backoff_ms(c->attempts, err->retry_after_ms) : 0;
		if (err->http_status)
		{
			values[REC_HTTP_STATUS] = Int32GetDatum(err->http_status);
			nulls[REC_HTTP_STATUS] = false;
		}
		set_text(values, nulls, REC_SQLSTATE, unpack_sql_state(err->sqlstate));
		set_text(values, nulls, REC_LAST_ERROR, err->message);
		set_text(values, nulls, REC_THROTTLE_REASON, err->throttle_reason);
		if (err->detail || (!again && worth_retrying(err)))
			set_text(values, nulls, REC_DETAIL,
					 psprintf("%s%s", err->detail ? err->detail : "",
							  again || !worth_retrying(err) ? ""
							  : psprintf(" (gave up after %d attempts)", c->attempts)));
	}
	else
	{
		c->status = !c->request_response ? "sent" : r->function_error ? "failed" : "succeeded";
		values[REC_HTTP_STATUS] = Int32GetDatum(r->status_code);
		nulls[REC_HTTP_STATUS] = false;
		set_text(values, nulls, REC_FUNCTION_ERROR, r->function_error);
		set_text(values, nulls, REC_DURABLE_EXECUTION_ARN, r->durable_execution_arn);
		if (r->function_error)
		{
			set_text(values, nulls, REC_SQLSTATE, "38000");
			set_text(values, nulls, REC_LAST_ERROR, "the function raised an error");
		}
		if (c->request_response && r->payload && r->payload_len > 0)
			set_text(values, nulls, REC_RESPONSE, r->payload);
	}
	set_text(values, nulls, REC_STATUS, c->status);
	set_text(values, nulls, REC_REQUEST_ID, r->request_id);
	if (strcmp(c->status, "queued") == 0)
	{
		values[REC_NEXT_AT] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																			   c->delay_ms));
		nulls[REC_NEXT_AT] = false;
	}
}

/* The queue table's columns (0.4.0), as the one-statement record names them. */
static const char *const known_columns[] = {
	"id", "function_name", "qualifier", "region", "invocation_type", "payload", "callback",
	"invoked_by", "status", "attempts", "enqueued_at", "next_attempt_at", "last_attempt_at",
	"finished_at", "http_status", "request_id", "function_error", "response", "error_sqlstate",
	"last_error", "error_detail", "callback_done_at", "callback_error", "callback_fn",
	"tenant_id", "durable_execution_name", "durable_execution_arn", "throttle_reason"
};

/* And those 0.5.0 added. */
static const char *const known_columns_v05[] = {"max_attempts", "dedup_key"};

/* The number of attributes of relation relid (dropped ones too), 0 if it is gone. */
static int
rel_natts(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int			natts;

	if (!HeapTupleIsValid(tup))
		return 0;
	natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	return natts;
}

/* Whether relation relid has exactly the known columns (and 0.5.0's with v05), and extra besides. */
static bool
has_columns(Oid relid, const char *extra, bool v05)
{
	int			natts = rel_natts(relid);
	int			found = 0;
	int			attnum;

	for (attnum = 1; attnum <= natts; attnum++)
	{
		HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
		Form_pg_attribute att;
		bool		known = false;
		int			i;

		if (!HeapTupleIsValid(tup))
			return false;
		att = (Form_pg_attribute) GETSTRUCT(tup);
		if (att->attisdropped)
			known = true;
		else if (extra && strcmp(NameStr(att->attname), extra) == 0)
		{
			known = true;
			found++;
		}
		else
		{
			for (i = 0; i < (int) lengthof(known_columns); i++)
				if (strcmp(NameStr(att->attname), known_columns[i]) == 0)
				{
					known = true;
					found++;
					break;
				}
			for (i = 0; v05 && !known && i < (int) lengthof(known_columns_v05); i++)
				if (strcmp(NameStr(att->attname), known_columns_v05[i]) == 0)
				{
					known = true;
					found++;
					break;
				}
		}
		ReleaseSysCache(tup);
		if (!known)
			return false;
	}
	return found == (int) lengthof(known_columns) + (extra ? 1 : 0) +
		(v05 ? (int) lengthof(known_columns_v05) : 0);
}

/*
 * Whether the queue's two tables have exactly the columns the one-statement
 * record names (a later version may add some: then the rows are moved as the
 * queue table's row type, with whatever columns it has).  Looked at again
 * when either table's number of columns changes.
 */
static bool
queue_columns_known(void)
{
	static int	queue_natts = -1;
	static int	pending_natts = -1;
	static bool known_v05 = false;
	static bool known = false;
	int			qn = rel_natts(queue_relid);
	int			pn = rel_natts(pending_relid);

	if (qn != queue_natts || pn != pending_natts || known_v05 != queue_has_v05)
	{
		known = has_columns(queue_relid, NULL, queue_has_v05) &&
			has_columns(pending_relid, "queued_xact", queue_has_v05);
		queue_natts = qn;
		pending_natts = pn;
		known_v05 = queue_has_v05;
	}
	return known;
}

/*
 * Writes the outcome of every claimed invocation.  From 0.4.0 on, one
 * statement updates the retries in the pending table and moves the finished
 * invocations, with their outcomes, into the queue table; before, one UPDATE
 * of the queue table.
 */
static void
record(Claimed *claimed, AwlInvokeResult *results, int n)
{
	Datum	   *cols[NUM_REC];
	bool	   *colnulls[NUM_REC];
	Datum		arrays[NUM_REC + 1];
	Oid			types[NUM_REC + 1];
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;
	int			k;
	int			nrec = queue_has_v04 ? NUM_REC : NUM_REC_V03;
	TimestampTz finished_at;
	bool		finished = false;
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_v04 = NULL;
	static SPIPlanPtr move_plan = NULL;
	static SPIPlanPtr record_plan[2] = {NULL, NULL};

	begin_work("awslambda: record outcomes");
	finished_at = GetCurrentTimestamp();
	for (k = 0; k < NUM_REC; k++)
	{
		cols[k] = palloc0(n * sizeof(Datum));
		colnulls[k] = palloc(n * sizeof(bool));
		memset(colnulls[k], true, n * sizeof(bool));
	}
	for (i = 0; i < n; i++)
	{
		Datum		values[NUM_REC] = {0};
		bool		nulls[NUM_REC];

		memset(nulls, true, sizeof(nulls));
		outcome(&claimed[i], &results[i], values, nulls);
		for (k = 0; k < NUM_REC; k++)
		{
			cols[k][i] = values[k];
			colnulls[k][i] = nulls[k];
		}
		/* The cursors of retries and callbacks stay behind what is written here. */
		if (!nulls[REC_NEXT_AT])
			retry_from = Min(retry_from, DatumGetTimestampTz(values[REC_NEXT_AT]));
		else
		{
			finished = true;
			if (claimed[i].has_callback)
				callbacks_from = Min(callbacks_from, finished_at);
		}
	}
	for (k = 0; k < NUM_REC; k++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(rec_elem_types[k], &typlen, &typbyval, &typalign);
		arrays[k] = PointerGetDatum(construct_md_array(cols[k], colnulls[k], 1, dims, lbs,
													   rec_elem_types[k], typlen, typbyval,
													   typalign));
		types[k] = rec_array_types[k];
	}
	if (OidIsValid(pending_relid) && queue_has_v04 && queue_columns_known())
	{
		/* The outcome columns, the finish time last. */
		arrays[NUM_REC] = TimestampTzGetDatum(finished_at);
		types[NUM_REC] = TIMESTAMPTZOID;
		run_prepared(&record_plan[queue_has_v05], psprintf("WITH u AS MATERIALIZED (SELECT * FROM ROWS FROM ("
											"pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), "
											"pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), "
											"pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
											"pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12)) "
											"AS u(id, status, http_status, request_id, function_error, response, sqlstate, "
											"last_error, detail, next_at, durable_execution_arn, throttle_reason)), "
											"requeued AS (UPDATE %s q SET status = u.status, http_status = u.http_status, "
											"request_id = u.request_id, function_error = u.function_error, "
											"response = u.response::pg_catalog.jsonb, error_sqlstate = u.sqlstate, "
											"last_error = u.last_error, error_detail = u.detail, "
											"next_attempt_at = COALESCE(u.next_at, q.next_attempt_at), finished_at = NULL, "
											"durable_execution_arn = COALESCE(u.durable_execution_arn, q.durable_execution_arn), "
											"throttle_reason = u.throttle_reason "
											"FROM u WHERE q.id OPERATOR(pg_catalog.=) u.id "
											"AND u.status OPERATOR(pg_catalog.=) 'queued'), "
											"moved AS (DELETE FROM ONLY %s p USING u "
											"WHERE p.id OPERATOR(pg_catalog.=) u.id "
											"AND u.status OPERATOR(pg_catalog.<>) 'queued' "
											"RETURNING p.id, p.function_name, p.qualifier, p.region, p.invocation_type, "
											"p.payload, p.callback, p.invoked_by, u.status, p.attempts, p.enqueued_at, "
											"p.next_attempt_at, p.last_attempt_at, u.http_status, u.request_id, "
											"u.function_error, u.response::pg_catalog.jsonb, u.sqlstate, u.last_error, "
											"u.detail, p.callback_done_at, p.callback_error, p.callback_fn, "
											"p.tenant_id, p.durable_execution_name, "
											"COALESCE(u.durable_execution_arn, p.durable_execution_arn), u.throttle_reason%s) "
											"INSERT INTO %s (id, function_name, qualifier, region, invocation_type, "
											"payload, callback, invoked_by, status, attempts, enqueued_at, "
											"next_attempt_at, last_attempt_at, http_status, request_id, function_error, "
											"response, error_sqlstate, last_error, error_detail, callback_done_at, "
											"callback_error, callback_fn, tenant_id, durable_execution_name, "
											"durable_execution_arn, throttle_reason%s, finished_at) "
											"SELECT moved.*, $%d FROM moved", work, work,
											queue_has_v05 ? ", p.max_attempts, p.dedup_key" : "", queue,
											queue_has_v05 ? ", max_attempts, dedup_key" : "", NUM_REC + 1),
					 SPI_OK_INSERT, NUM_REC + 1, types, arrays);
		end_work();
		return;
	}
	arrays[nrec] = TimestampTzGetDatum(finished_at);
	types[nrec] = TIMESTAMPTZOID;
	run_prepared(queue_has_v04 ? &plan_v04 : &plan,
				 psprintf("UPDATE %s q SET status = u.status, http_status = u.http_status, "
						  "request_id = u.request_id, function_error = u.function_error, "
						  "response = u.response::pg_catalog.jsonb, error_sqlstate = u.sqlstate, "
						  "last_error = u.last_error, error_detail = u.detail, "
						  "next_attempt_at = COALESCE(u.next_at, q.next_attempt_at), "
						  "finished_at = CASE WHEN u.status OPERATOR(pg_catalog.=) 'queued' THEN NULL "
						  "ELSE $%d END%s "
						  "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), "
						  "pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), "
						  "pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
						  "pg_catalog.unnest($10)%s) "
						  "AS u(id, status, http_status, request_id, function_error, response, sqlstate, "
						  "last_error, detail, next_at%s) WHERE q.id OPERATOR(pg_catalog.=) u.id", work,
						  nrec + 1,
						  queue_has_v04 ? ", durable_execution_arn = "
						  "COALESCE(u.durable_execution_arn, q.durable_execution_arn), "
						  "throttle_reason = u.throttle_reason" : "",
						  queue_has_v04 ? ", pg_catalog.unnest($11), pg_catalog.unnest($12)" : "",
						  queue_has_v04 ? ", durable_execution_arn, throttle_reason" : ""),
				 SPI_OK_UPDATE, nrec + 1, types, arrays);

	/*
	 * Finished: into the queue table, as its row type (so with whatever
	 * columns it has), out of the pending table.
	 */
	if (OidIsValid(pending_relid) && finished)
		run_prepared(&move_plan, psprintf("WITH moved AS (DELETE FROM ONLY %s p "
										  "WHERE p.id OPERATOR(pg_catalog.=) ANY ($1) "
										  "AND p.finished_at IS NOT NULL RETURNING p::%s AS r) "
										  "INSERT INTO %s SELECT (moved.r).* FROM moved",
										  work, queue, queue),
					 SPI_OK_INSERT, 1, types, arrays);
	end_work();
}

/* Records one row; if even that fails, records it as failed without its response. */
static void
record_one(Claimed *c, AwlInvokeResult *r, MemoryContext cxt)
{
	MemoryContext old = CurrentMemoryContext;

	PG_TRY();
	{
		record(c, r, 1);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		AwlInvokeError *err;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		err = palloc0(sizeof(AwlInvokeError));
		err->sqlstate = ERRCODE_PROTOCOL_VIOLATION;
		err->message = psprintf("could not record the outcome of invocation %s", c->id);
		err->detail = edata->message;
		ereport(WARNING, (errmsg("awslambda dispatcher: %s: %s", err->message, err->detail)));
		err->http_status = r->status_code;
		r->error = err;
		r->function_error = NULL;
		MemoryContextSwitchTo(old);
		record(c, r, 1);
	}
	PG_END_TRY();
}

/*
 * Records the outcomes of a batch.  Should that fail (a response that
 * json-c accepted but jsonb refuses, such as one with \u0000), each row is
 * recorded on its own, and a row that still fails is recorded as failed
 * without its response: an outcome that cannot be written must not leave
 * the row 'sending', to be sent again after every restart.
 */
static void
record_all(Claimed *claimed, AwlInvokeResult *results, int n, MemoryContext cxt)
{
	MemoryContext old = CurrentMemoryContext;
	volatile bool failed = false;

	PG_TRY();
	{
		record(claimed, results, n);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		FlushErrorState();
		AbortCurrentTransaction();
		failed = true;
	}
	PG_END_TRY();
	if (failed)
	{
		int			i;

		for (i = 0; i < n; i++)
			record_one(&claimed[i], &results[i], cxt);
	}
}

/* An error that stopped an invocation before Lambda answered: try again later. */
static void
set_unsent(InFlight *f, const ErrorData *edata)
{
	AwlInvokeError *err = MemoryContextAllocZero(f->cxt, sizeof(AwlInvokeError));

	err->sqlstate = edata->sqlerrcode;
	err->message = MemoryContextStrdup(f->cxt, edata->message);
	err->detail = edata->detail ? MemoryContextStrdup(f->cxt, edata->detail) : NULL;
	err->retryable = true;
	memset(&f->result, 0, sizeof(AwlInvokeResult));
	f->result.error = err;
	f->started = false;
	f->answered = true;
}

/*
 * Hands one waiting invocation to the stream.  If it cannot be sent (no
 * credentials, say), that error is its outcome; the others, and those in
 * flight, go on.  In a transaction, started anew after such an error.
 */
static void
start_one(InFlight *f)
{
	MemoryContext old = CurrentMemoryContext;

	PG_TRY();
	{
		awl_invoke_stream_add(stream, &f->req, &f->result, f->cxt, f);
		f->started = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(f->cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		StartTransactionCommand();
		set_unsent(f, edata);
		ereport(WARNING,
				(errmsg("awslambda dispatcher: could not send invocation %s: %s",
						f->c.id, edata->message)));
		FreeErrorData(edata);
		MemoryContextSwitchTo(old);
	}
	PG_END_TRY();
}

/* Lambda's payload limits, in bytes (UTF-8), by invocation type. */
#define EVENT_PAYLOAD_MAX			1048576
#define REQUEST_RESPONSE_PAYLOAD_MAX 6291456

/* Could f and g go in one Invoke: same function, qualifier, region and type? */
static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool
same_target(const InFlight *f, const InFlight *g)
{
	return strcmp(f->queued_name, g->queued_name) == 0 &&
		same_text(f->req.tenant_id, g->req.tenant_id) &&
		g->req.durable_execution_name == NULL &&
		f->c.request_response == g->c.request_response &&
		strcmp(f->req.region, g->req.region) == 0 &&
		((f->req.qualifier == NULL && g->req.qualifier == NULL) ||
		 (f->req.qualifier && g->req.qualifier && strcmp(f->req.qualifier, g->req.qualifier) == 0));
}

/*
 * Makes pipeline[first] a micro-batch: it carries up to batch_size - 1 more
 * waiting invocations of the same target (oldest first) while the payload
 * {"records": [...], "invocation_ids": [...]} stays within Lambda's limit
 * for the invocation type.  Always that form, even for one record, so that
 * the function sees one shape.  The ids travel in the payload (a client
 * context could not hold many).
 */
static bool
form_batch(int first)
{
	InFlight   *f = pipeline[first];
	size_t		max = f->c.request_response ? REQUEST_RESPONSE_PAYLOAD_MAX : EVENT_PAYLOAD_MAX;
	/* {"records":[...],"invocation_ids":[...]} and one record's share of it */
	size_t		size = 34 + f->req.payload_len + 38;
	MemoryContext old = MemoryContextSwitchTo(f->cxt);
	StringInfoData records;
	StringInfoData ids;
	int			i;
	int			k;

	if (size > max)
	{
		/* Not sent at all: unwrapped, it would reach the function in another shape. */
		AwlInvokeError *err = palloc0(sizeof(AwlInvokeError));

		err->sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		err->message = psprintf("the payload of invocation %s is too large for a micro-batch", f->c.id);
		err->detail = psprintf("With awslambda.async_batch_sizes, a payload of %zu bytes becomes %zu bytes; Lambda accepts at most %zu bytes for invocation type %s.",
							   f->req.payload_len, size, max, f->req.invocation_type);
		memset(&f->result, 0, sizeof(AwlInvokeResult));
		f->result.error = err;
		f->answered = true;
		MemoryContextSwitchTo(old);
		return false;
	}

	f->members = palloc(Max(f->batch_size - 1, 1) * sizeof(InFlight *));
	f->nmembers = 0;
	for (i = first + 1; i < npipeline && f->nmembers < f->batch_size - 1; i++)
	{
		InFlight   *g = pipeline[i];

		if (g->started || g->answered || !same_target(f, g))
			continue;
		if (size + g->req.payload_len + 1 + 39 > max)
			break;
		size += g->req.payload_len + 1 + 39;
		f->req.retry = f->req.retry || g->req.retry;	/* statistics */
		f->members[f->nmembers++] = g;
		g->started = true;		/* in flight with f */
	}
	initStringInfo(&records);
	initStringInfo(&ids);
	appendStringInfoString(&records, "{\"records\":[");
	appendBinaryStringInfo(&records, f->req.payload, (int) f->req.payload_len);
	appendStringInfo(&ids, "\"%s\"", f->c.id);
	for (k = 0; k < f->nmembers; k++)
	{
		appendStringInfoChar(&records, ',');
		appendBinaryStringInfo(&records, f->members[k]->req.payload,
							   (int) f->members[k]->req.payload_len);
		appendStringInfo(&ids, ",\"%s\"", f->members[k]->c.id);
	}
	appendStringInfo(&records, "],\"invocation_ids\":[%s]}", ids.data);
	f->req.payload = records.data;
	f->req.payload_len = records.len;
	f->req.client_context = NULL;
	pfree(ids.data);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * If json (which jsonb accepts) is an object whose "results" member is an
 * array of n elements, puts each element's text in each[] and returns true.
 */
static bool
results_of(const char *json, int n, char **each)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	JsonbValue	key;
	JsonbValue *array;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			k = 0;

	if (!JB_ROOT_IS_OBJECT(jb))
		return false;
	key.type = jbvString;
	key.val.string.val = "results";
	key.val.string.len = 7;
	array = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
	if (array == NULL || array->type != jbvBinary ||
		!JsonContainerIsArray(array->val.binary.data) ||
		JsonContainerSize(array->val.binary.data) != (uint32) n)
		return false;
	it = JsonbIteratorInit(array->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvBinary)
			each[k++] = JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
		else
		{
			Jsonb	   *scalar = JsonbValueToJsonb(&v);

			each[k++] = JsonbToCString(NULL, &scalar->root, VARSIZE(scalar));
		}
	}
	return k == n;
}

/*
 * The outcome of a micro-batch is each of its invocations' outcome.  A
 * RequestResponse function that answers {"results": [...]} with one element
 * per record gives each invocation its own element as its response.
 */
static void
share_outcome(InFlight *f)
{
	char	  **each = NULL;
	int			k;

	if (f->members == NULL)
		return;
	if (f->c.request_response && f->result.error == NULL && f->result.function_error == NULL &&
		f->result.payload)
	{
		MemoryContext old = MemoryContextSwitchTo(f->cxt);

		each = palloc((f->nmembers + 1) * sizeof(char *));
		/* Through jsonb, which keeps numbers exact (what jsonb refuses is left whole). */
		if (awl_jsonb_payload_error(f->c.function_name, &f->result) != NULL ||
			!results_of(f->result.payload, f->nmembers + 1, each))
			each = NULL;
		MemoryContextSwitchTo(old);
	}
	for (k = 0; k < f->nmembers; k++)
	{
		InFlight   *g = f->members[k];

		g->result = f->result;
		if (each)
		{
			g->result.payload = each[k + 1];
			g->result.payload_len = strlen(each[k + 1]);
		}
		g->started = false;
		g->answered = true;
	}
	if (each)
	{
		f->result.payload = each[0];
		f->result.payload_len = strlen(each[0]);
	}
}

/*
 * Sends once more a request the stream kept for that; true if there was
 * one.  If that fails (no new credentials), the refusal it had is its
 * outcome, and the others go on.
 */
static bool
resend_one(void)
{
	MemoryContext old = CurrentMemoryContext;
	volatile bool any = true;

	PG_TRY();
	{
		any = awl_invoke_stream_resend(stream);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(pipeline_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		StartTransactionCommand();
		awl_invoke_stream_resend_failed(stream);
		ereport(WARNING,
				(errmsg("awslambda dispatcher: could not send an invocation again: %s",
						edata->message)));
		FreeErrorData(edata);
		MemoryContextSwitchTo(old);
	}
	PG_END_TRY();
	return any;
}

/* Hands waiting invocations, oldest first, to the stream while it has idle slots. */
static void
start_waiting(void)
{
	int			i;

	while (resend_one())
		;

	for (i = 0; i < npipeline && awl_invoke_stream_idle_slots(stream) > 0; i++)
	{
		InFlight   *f = pipeline[i];

		if (f->started || f->answered)
			continue;
		/* A durable execution is started by name: one invocation, one name. */
		if (f->batch_size > 1 && f->req.durable_execution_name == NULL && !form_batch(i))
			continue;
		start_one(f);
		if (f->answered)
			share_outcome(f);	/* could not be sent: neither can the others */
	}
}

static void
invocation_answered(void *tag, AwlInvokeResult *result, void *arg)
{
	InFlight   *f = (InFlight *) tag;

	f->started = false;
	f->answered = true;
	share_outcome(f);
	(*(int *) arg) += 1 + f->nmembers;
}

/*
 * Runs the stream; true unless that failed as a whole (a lost HTTP client,
 * out of memory): then every invocation in flight counts as a failed,
 * retryable attempt, and those that had their answer keep it: an Event
 * Lambda accepted, or a function that ran, is not sent again because of
 * another invocation.
 */
static bool
poll_stream(long wait_ms, bool wake_on_latch, int *answered)
{
	MemoryContext old = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		(void) awl_invoke_stream_poll(stream, wait_ms, wake_on_latch, invocation_answered,
									  answered);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			unsent = 0;
		int			i;

		MemoryContextSwitchTo(pipeline_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* What was answered keeps its answer; only what has none is tried again. */
		(void) awl_invoke_stream_harvest(stream, invocation_answered, answered);
		awl_invoke_stream_abort(stream);
		AbortCurrentTransaction();
		StartTransactionCommand();
		for (i = 0; i < npipeline; i++)
			if (pipeline[i]->started)
			{
				set_unsent(pipeline[i], edata);
				unsent++;
				(*answered)++;
			}
		ereport(WARNING,
				(errmsg("awslambda dispatcher: could not send %d invocations: %s",
						unsent, edata->message)));
		FreeErrorData(edata);
		MemoryContextSwitchTo(old);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

static bool
is_answered(const InFlight *f)
{
	return f->answered;
}

/* Records every answered invocation with one statement, and forgets it. */
static int
record_answered(bool *with_callbacks, bool *requeued)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "awslambda outcomes",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Claimed    *claimed = palloc(Max(npipeline, 1) * sizeof(Claimed));
	AwlInvokeResult *results = palloc(Max(npipeline, 1) * sizeof(AwlInvokeResult));
	int			n = 0;
	int			i;

	for (i = 0; i < npipeline; i++)
		if (pipeline[i]->answered)
		{
			claimed[n] = pipeline[i]->c;
			results[n] = pipeline[i]->result;
			if (pipeline[i]->callback)
				*with_callbacks = true;
			n++;
		}
	MemoryContextSwitchTo(old);
	if (n > 0)
		record_all(claimed, results, n, cxt);
	for (i = 0; i < n; i++)
		if (claimed[i].status && strcmp(claimed[i].status, "queued") == 0)
			*requeued = true;
	MemoryContextDelete(cxt);
	pipeline_remove(is_answered);
	return n;
}

/*
 * Sends what the pipeline holds: starts waiting invocations as slots free
 * up and runs the transfers for at most wait_ms, returning early once some
 * have their answers (gathered for up to GATHER_MS, so that outcomes are
 * written a few at a time, not one commit each), when nothing is in flight,
 * or (wake_on_latch) when the latch is set.  Then records those outcomes.
 * A slow invocation holds back only its own slot.  Returns how many were
 * recorded; sets *with_callbacks if one of them has a callback, *requeued
 * if one was queued again for a later attempt.
 */
int
awl_deliver_pump(long wait_ms, bool wake_on_latch, bool *with_callbacks, bool *requeued)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(wait_ms, 0));
	TimestampTz gathered = 0;
	int			answered = 0;

	if (npipeline == 0)
		return 0;
	if (stream == NULL)
		stream = awl_invoke_stream_create(awl_max_concurrency);

	pgstat_report_activity(STATE_RUNNING, "awslambda: send invocations");
	/* A transaction (without a snapshot) for encoding conversion and the like. */
	StartTransactionCommand();
	for (;;)
	{
		TimestampTz now;
		TimestampTz stop;

		start_waiting();
		if (awl_invoke_stream_running(stream) == 0)
			break;
		now = GetCurrentTimestamp();
		stop = gathered ? Min(until, gathered) : until;
		if (!poll_stream(Max(0, TimestampDifferenceMilliseconds(now, stop)),
						 wake_on_latch && answered == 0, &answered))
			break;
		now = GetCurrentTimestamp();
		if (answered > 0 && gathered == 0)
			gathered = TimestampTzPlusMilliseconds(now, GATHER_MS);
		if (answered >= GATHER_MAX || now >= until || (gathered && now >= gathered))
			break;
		if (answered == 0 && wake_on_latch && MyLatch->is_set)
			break;
	}
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return record_answered(with_callbacks, requeued);
}

static bool
is_waiting(const InFlight *f)
{
	return !f->started && !f->answered;
}

/*
 * Before the dispatcher leaves: invocations still waiting for a slot go
 * back to the queue as they were (not sent, not counted as an attempt), and
 * those in flight are finished and recorded, so that nothing is sent twice.
 */
void
awl_deliver_drain(void)
{
	Oid			types[1] = {UUIDARRAYOID};
	Datum		values[1];
	Datum	   *ids = palloc(Max(npipeline, 1) * sizeof(Datum));
	int			n = 0;
	int			i;

	for (i = 0; i < npipeline; i++)
		if (is_waiting(pipeline[i]))
			ids[n++] = DirectFunctionCall1(uuid_in, CStringGetDatum(pipeline[i]->c.id));
	if (n > 0)
	{
		begin_work("awslambda: give back unsent invocations");
		values[0] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false,
													TYPALIGN_CHAR));
		run(psprintf("UPDATE %s q SET status = 'queued', "
					 "attempts = q.attempts OPERATOR(pg_catalog.-) 1 "
					 "WHERE q.id OPERATOR(pg_catalog.=) ANY ($1) "
					 "AND q.status OPERATOR(pg_catalog.=) 'sending'", queue),
			SPI_OK_UPDATE, 1, types, values, NULL);
		end_work();
		pipeline_remove(is_waiting);
	}
	pfree(ids);
	while (npipeline > 0)
	{
		bool		with_callbacks = false;
		bool		requeued = false;

		(void) awl_deliver_pump(1000, false, &with_callbacks, &requeued);
	}
}

/*
 * Checks that the callback recorded when the invocation was queued is still
 * that function (its OID names the same schema and function, taking the
 * queue's row) and that role may still execute it.
 */
static void
check_callback(Oid fn, const char *callback, Oid role)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;
	List	   *recorded;
	bool		same;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("callback %s(awslambda_invocations) no longer exists", callback)));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	recorded = awl_string_to_qualified_name_list(callback);
	same = list_length(recorded) == 2 &&
		strcmp(strVal(linitial(recorded)), get_namespace_name(proc->pronamespace)) == 0 &&
		strcmp(strVal(lsecond(recorded)), NameStr(proc->proname)) == 0 &&
		proc->pronargs == 1 && proc->proargtypes.values[0] == queue_rowtype &&
		!proc->proretset;
	ReleaseSysCache(tup);
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("callback %s(awslambda_invocations) no longer exists", callback),
				 errdetail("The function recorded when the invocation was queued was dropped or replaced.")));
	if (awl_proc_aclcheck(fn, role, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for callback %s", callback)));
}

/*
 * Calls function or procedure fn with the row, through the function manager:
 * by its OID, never by a name in SQL text.
 */
static void
call_routine(Oid fn, Datum row)
{
	FmgrInfo	flinfo;

	LOCAL_FCINFO(fcinfo, 1);

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = row;
	fcinfo->args[0].isnull = false;
	(void) FunctionCallInvoke(fcinfo);
}

/*
 * A callback that catches the cancel at its time limit (or keeps running
 * for another reason) is ended for good CALLBACK_GRACE_MS later: the
 * dispatcher exits with FATAL, which no exception block can catch, and the
 * launcher starts a new one; a callback that stops dispatchers this way
 * twice is not run again (awl_dispatcher_callback_begin).
 */
#define CALLBACK_GRACE_MS	5000

static void
callback_deadline_reached(void)
{
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static TimeoutId
callback_deadline(void)
{
	static TimeoutId id = MAX_TIMEOUTS;

	if (id == MAX_TIMEOUTS)
		id = RegisterTimeout(USER_TIMEOUT, callback_deadline_reached);
	return id;
}

/* One finished invocation whose callback is to run. */
typedef struct PendingCallback
{
	char	   *id;				/* uuid text */
	char	   *callback;		/* qualified name, as recorded */
	Oid			fn;				/* the function, as recorded */
	Oid			role;			/* who queued the invocation */
} PendingCallback;

/*
 * Runs one callback in its own transaction, together with the mark that it
 * ran: as the role that queued the invocation, confined (see confine.c).
 */
static void
run_callback(const PendingCallback *cb)
{
	Oid			types[1] = {UUIDOID};
	Datum		values[1];
	Datum		row;
	bool		isnull;
	AwlConfinement confinement;

	begin_work("awslambda: run a callback");
	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(cb->id));
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(cb->role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that queued invocation %s (OID %u) no longer exists; its callback is not run",
						cb->id, cb->role)));
	if (!OidIsValid(cb->fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("callback %s(awslambda_invocations) was not resolved when the invocation was queued",
						cb->callback)));
	check_callback(cb->fn, cb->callback, cb->role);

	/* The row as it is now, handed over as the argument. */
	run(psprintf("SELECT q FROM ONLY %s q WHERE q.id OPERATOR(pg_catalog.=) $1", queue),
		SPI_OK_SELECT, 1, types, values, NULL);
	if (SPI_processed != 1)
		elog(ERROR, "invocation %s disappeared", cb->id);
	row = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
					false, -1);

	awl_confine_enter(cb->role, &confinement);
	if (awl_async_callback_timeout_ms > 0)
	{
		/* A cancel at the limit; a callback that catches it is ended a while later. */
		enable_timeout_after(STATEMENT_TIMEOUT, awl_async_callback_timeout_ms);
		enable_timeout_after(callback_deadline(),
							 awl_async_callback_timeout_ms + CALLBACK_GRACE_MS);
	}
	call_routine(cb->fn, row);
	disable_timeout(STATEMENT_TIMEOUT, false);
	disable_timeout(callback_deadline(), false);
	awl_confine_leave(&confinement);
	CommandCounterIncrement();

	run(psprintf("UPDATE ONLY %s SET callback_done_at = pg_catalog.clock_timestamp() "
				 "WHERE id OPERATOR(pg_catalog.=) $1", queue),
		SPI_OK_UPDATE, 1, types, values, NULL);
	end_work();
}

static void
record_callback_error(const char *id, const char *message)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		values[2];

	begin_work("awslambda: record a callback error");
	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(id));
	values[1] = CStringGetTextDatum(message);
	run(psprintf("UPDATE ONLY %s SET callback_done_at = pg_catalog.clock_timestamp(), "
				 "callback_error = $2 WHERE id OPERATOR(pg_catalog.=) $1", queue),
		SPI_OK_UPDATE, 2, types, values, NULL);
	end_work();
}

/*
 * Runs the callbacks of finished invocations, each in its own transaction
 * with the mark that it ran, so each runs once; returns how many.
 */
int
awl_deliver_callbacks(int limit)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "awslambda callbacks",
											  ALLOCSET_DEFAULT_SIZES);
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int32GetDatum(limit), TimestampTzGetDatum(callbacks_from)};
	PendingCallback *pending;
	int			n;
	int			i;

	static SPIPlanPtr plan = NULL;

	if (!queue_has_callback_fn)
	{
		/* Until ALTER EXTENSION awslambda UPDATE adds it. */
		StartTransactionCommand();
		queue_has_callback_fn = get_attnum(awl_queue_find(false), "callback_fn") != InvalidAttrNumber;
		CommitTransactionCommand();
		if (!queue_has_callback_fn)
			return 0;
	}
	begin_work("awslambda: look for callbacks");
	run_prepared(&plan, psprintf("SELECT id, callback, callback_fn, invoked_by, finished_at FROM ONLY %s "
								 "WHERE callback IS NOT NULL AND callback_done_at IS NULL "
								 "AND finished_at IS NOT NULL AND finished_at OPERATOR(pg_catalog.>=) $2 "
								 "ORDER BY finished_at LIMIT $1", queue),
				 SPI_OK_SELECT, 2, types, values);
	n = (int) SPI_processed;

	/*
	 * Each row found is marked done below (or the dispatcher stops, and the
	 * next starts from the beginning): the next look starts after them.
	 */
	if (n < limit)
		callbacks_from = DT_NOEND;
	else
	{
		bool		isnull;

		callbacks_from = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[n - 1],
														   SPI_tuptable->tupdesc, 5, &isnull));
	}
	pending = MemoryContextAllocZero(cxt, Max(n, 1) * sizeof(PendingCallback));
	for (i = 0; i < n; i++)
	{
		char	   *fn = column_text(i, 3, cxt);

		pending[i].id = column_text(i, 1, cxt);
		pending[i].callback = column_text(i, 2, cxt);
		pending[i].fn = fn ? (Oid) strtoul(fn, NULL, 10) : InvalidOid;
		pending[i].role = (Oid) strtoul(column_text(i, 4, cxt), NULL, 10);
	}
	end_work();

	for (i = 0; i < n; i++)
	{
		MemoryContext old = CurrentMemoryContext;

		if (!awl_dispatcher_callback_begin(pending[i].id))
		{
			ereport(WARNING,
					(errmsg("awslambda dispatcher: callback %s for invocation %s is not run again: dispatchers stopped while running it",
							pending[i].callback, pending[i].id)));
			record_callback_error(pending[i].id,
								  "not run again: the dispatcher stopped while running this callback (it outran awslambda.async_callback_timeout by far, or ended the process)");
			continue;
		}
		PG_TRY();
		{
			run_callback(&pending[i]);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			disable_timeout(STATEMENT_TIMEOUT, false);
			disable_timeout(callback_deadline(), false);
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			/* Session advisory locks the callback took outlive the abort. */
			LockReleaseSession(USER_LOCKMETHOD);
			MemoryContextSwitchTo(old);
			ereport(WARNING,
					(errmsg("awslambda dispatcher: callback %s for invocation %s failed: %s",
							pending[i].callback, pending[i].id, edata->message)));
			record_callback_error(pending[i].id, edata->message);
		}
		PG_END_TRY();
		awl_dispatcher_callback_end();
	}
	MemoryContextDelete(cxt);
	return n;
}

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

		begin_work("awslambda: remove old invocations");
		values[1] = TimestampTzGetDatum(cleanup_from);
		run(psprintf("WITH removed AS (DELETE FROM ONLY %s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					 "SELECT ctid FROM ONLY %s WHERE finished_at OPERATOR(pg_catalog.<) $1 "
					 "AND finished_at OPERATOR(pg_catalog.>=) $2 "
					 "AND (callback IS NULL OR callback_done_at IS NOT NULL) "
					 "ORDER BY finished_at LIMIT %d)) RETURNING finished_at) "
					 "SELECT pg_catalog.count(*), pg_catalog.max(finished_at) FROM removed",
					 queue, queue, CLEANUP_CHUNK),
			SPI_OK_SELECT, 2, types, values, NULL);
		removed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		last = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		cleanup_from = Min(removed >= CLEANUP_CHUNK ? DatumGetTimestampTz(last) : cutoff,
						   callbacks_from);
		end_work();
		CHECK_FOR_INTERRUPTS();
	} while (removed >= CLEANUP_CHUNK);
}
