/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Per-function statistics of Lambda invocations: the counters behind
 *	  awslambda_stat_functions() and awslambda_stat_reset() (stats_sql.c).
 *
 * A row is kept per function name as called, region and kind (sync: made
 * by a session inside its statement; async: made by the dispatcher for a
 * queued invocation), and counts HTTP attempts: how each ended, whether it
 * was a retry, payload bytes each way, time, and a latency histogram of
 * four buckets per power of two from which p50 and p99 are estimated.
 *
 * Preloaded, the rows live in shared memory: a fixed array of
 * awslambda.stat_max_functions entries, each with a spinlock, and a hash
 * from key to entry, both under one LWLock that only finding or creating
 * a row takes.  A backend remembers which entry each key it met has (and
 * the generation it had then), so a call costs a clock read, a lookup in
 * backend-local memory and a spinlock; a reset bumps the generation, and a
 * backend that finds its remembered entry of another generation looks again.
 * Without preloading, each backend keeps its own rows in local memory.
 *
 * When every entry is taken, calls of functions without one are counted in
 * an overflow row per kind (function name and region NULL) until a reset.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "stats.h"

#define TRANCHE_NAME		"awslambda stats"

/* One row.  In shared memory, counters and generation under mutex. */
typedef struct StatsEntry
{
	AwlStatsKey	key;
	slock_t		mutex;
	uint64		generation;		/* 0: free; else the one it was created in */
	TimestampTz since;
	AwlStatsCounters c;
} StatsEntry;

typedef struct StatsShared
{
	LWLock	   *lock;			/* the index, nused, generation; exclusive to add */
	uint64		generation;		/* bumped by each reset */
	int			max;
	int			nused;			/* entries[0 .. nused) are rows */
	StatsEntry	entries[FLEXIBLE_ARRAY_MEMBER]; /* max, then overflow sync and async */
} StatsShared;

typedef struct IndexEntry
{
	AwlStatsKey	key;
	int			slot;
} IndexEntry;

/* What a backend remembers of a key: its entry and the entry's generation. */
typedef struct CachedEntry
{
	AwlStatsKey	key;
	StatsEntry *entry;
	uint64		generation;
} CachedEntry;

/* What one attempt adds. */
typedef enum Outcome
{
	OUT_SUCCEEDED,
	OUT_FUNCTION_ERROR,
	OUT_THROTTLED,
	OUT_API_ERROR,
	OUT_TRANSPORT_ERROR,
	OUT_ABORTED
} Outcome;

typedef struct Sample
{
	Outcome		outcome;
	bool		retry;
	int64		sent;
	int64		received;
	int64		us;
} Sample;

/* awslambda.stat_max_functions */
static int	awl_stat_max_functions = 1000;

static StatsShared *shared = NULL;
static HTAB *shared_index = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Backend-local: the remembered entries, and without preloading the rows themselves. */
static MemoryContext stats_cxt = NULL;
static HTAB *cache = NULL;
static CachedEntry *last = NULL;
static int	nlocal = 0;
static StatsEntry local_overflow[2];

static bool
is_shared(void)
{
	return shared != NULL;
}

static Size
shared_size(void)
{
	return add_size(offsetof(StatsShared, entries),
					mul_size(awl_stat_max_functions + 2, sizeof(StatsEntry)));
}

static void
stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(shared_size(),
									hash_estimate_size(awl_stat_max_functions,
													   sizeof(IndexEntry))));
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

static void
stats_shmem_startup(void)
{
	HASHCTL		info;
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("awslambda stats", shared_size(), &found);
	if (!found)
	{
		memset(shared, 0, shared_size());
		shared->lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
		shared->generation = 1;
		shared->max = awl_stat_max_functions;
		for (i = 0; i < shared->max + 2; i++)
			SpinLockInit(&shared->entries[i].mutex);
		for (i = 0; i < 2; i++)
		{
			StatsEntry *o = &shared->entries[shared->max + i];

			o->key.async = i == 1;
			o->generation = shared->generation;
			o->since = GetCurrentTimestamp();
		}
	}
	info.keysize = sizeof(AwlStatsKey);
	info.entrysize = sizeof(IndexEntry);
	shared_index = ShmemInitHash("awslambda stats index", awl_stat_max_functions,
								 awl_stat_max_functions, &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The cache's allocator: returns NULL when out of memory instead of raising
 * (so that HASH_ENTER_NULL may be used while an error is being handled).
 */
static void *
stats_alloc(Size size)
{
	return MemoryContextAllocExtended(stats_cxt, size, MCXT_ALLOC_NO_OOM);
}

/* A fresh cache of remembered entries (and, without preloading, of rows). */
static void
make_cache(void)
{
	HASHCTL		info;

	info.keysize = sizeof(AwlStatsKey);
	info.entrysize = sizeof(CachedEntry);
	info.hcxt = stats_cxt;
	info.alloc = stats_alloc;
	cache = hash_create("awslambda stats cache", 64, &info,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT | HASH_ALLOC);
	last = NULL;
}

void
awl_stats_define_settings(bool preloading)
{
	/*
	 * It sizes shared memory when preloaded; otherwise it bounds each
	 * session's own rows, and PostgreSQL allows only settings read at
	 * postmaster start to be PGC_POSTMASTER.
	 */
	DefineCustomIntVariable("awslambda.stat_max_functions",
							"Sets the maximum number of rows awslambda_stat_functions keeps.",
							"One row per function name, region and kind. When all are taken, further functions are counted in one row per kind with a NULL function name, until awslambda_stat_reset().",
							&awl_stat_max_functions,
							1000, 10, 100000,
							preloading ? PGC_POSTMASTER : PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}

void
awl_stats_init(bool preloading)
{
	/* Made here, so that counting, which may run in error recovery, allocates no context. */
	stats_cxt = AllocSetContextCreate(TopMemoryContext, "awslambda stats",
									  ALLOCSET_SMALL_SIZES);
	make_cache();
	local_overflow[1].key.async = true;
	local_overflow[0].since = local_overflow[1].since = GetCurrentTimestamp();

	if (preloading)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = stats_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = stats_shmem_startup;
	}
}

/* The histogram bucket of a time in microseconds. */
static int
bucket_of(uint64 us)
{
	int			e;

	if (us < (UINT64CONST(1) << AWL_STATS_FIRST_OCTAVE))
		return 0;
	e = pg_leftmost_one_pos64(us);
	if (e > AWL_STATS_LAST_OCTAVE)
		return AWL_STATS_NBUCKETS - 1;
	return 1 + (e - AWL_STATS_FIRST_OCTAVE) * AWL_STATS_SUB_BUCKETS + (int) ((us >> (e - 2)) & 3);
}

static void
add_sample(AwlStatsCounters *c, const Sample *s)
{
	c->calls++;
	switch (s->outcome)
	{
		case OUT_SUCCEEDED:
			c->succeeded++;
			break;
		case OUT_FUNCTION_ERROR:
			c->function_errors++;
			break;
		case OUT_THROTTLED:
			c->throttled++;
			break;
		case OUT_API_ERROR:
			c->api_errors++;
			break;
		case OUT_TRANSPORT_ERROR:
			c->transport_errors++;
			break;
		case OUT_ABORTED:
			c->aborted++;
			break;
	}
	if (s->retry)
		c->retries++;
	c->bytes_sent += s->sent;
	c->bytes_received += s->received;
	c->total_us += s->us;
	if (c->calls == 1 || s->us < c->min_us)
		c->min_us = s->us;
	if (s->us > c->max_us)
		c->max_us = s->us;
	c->buckets[bucket_of((uint64) s->us)]++;
}

/* Forgets every remembered entry (after a reset). */
static void
forget_cache(void)
{
	HASH_SEQ_STATUS seq;
	CachedEntry *c;

	hash_seq_init(&seq, cache);
	while ((c = hash_seq_search(&seq)) != NULL)
		(void) hash_search(cache, &c->key, HASH_REMOVE, NULL);
	last = NULL;
}

/*
 * The shared entry of key, created if there is room, else the overflow row
 * of its kind; *generation is the one it must have.  Takes the LWLock, so
 * it runs once per backend and key (and again after a reset).
 */
static StatsEntry *
shared_entry(const AwlStatsKey *key, uint64 *generation)
{
	IndexEntry *ix;
	StatsEntry *e;
	TimestampTz now;

	LWLockAcquire(shared->lock, LW_SHARED);
	ix = hash_search(shared_index, key, HASH_FIND, NULL);
	if (ix)
	{
		e = &shared->entries[ix->slot];
		*generation = shared->generation;
		LWLockRelease(shared->lock);
		return e;
	}
	LWLockRelease(shared->lock);

	now = GetCurrentTimestamp();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	ix = hash_search(shared_index, key, HASH_FIND, NULL);
	if (ix == NULL && shared->nused < shared->max)
	{
		bool		found;

		ix = hash_search(shared_index, key, HASH_ENTER_NULL, &found);
		if (ix)
		{
			ix->slot = shared->nused++;
			e = &shared->entries[ix->slot];
			SpinLockAcquire(&e->mutex);
			e->key = *key;
			memset(&e->c, 0, sizeof(e->c));
			e->since = now;
			e->generation = shared->generation;
			SpinLockRelease(&e->mutex);
		}
	}
	e = ix ? &shared->entries[ix->slot] : &shared->entries[shared->max + (key->async ? 1 : 0)];
	*generation = shared->generation;
	LWLockRelease(shared->lock);
	return e;
}

/* A backend-local row of key, or the overflow row of its kind; never raises. */
static StatsEntry *
local_entry(const AwlStatsKey *key)
{
	StatsEntry *e = NULL;

	if (nlocal < awl_stat_max_functions)
		e = MemoryContextAllocExtended(stats_cxt, sizeof(StatsEntry),
									   MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (e == NULL)
		return &local_overflow[key->async ? 1 : 0];
	nlocal++;
	e->key = *key;
	e->generation = 1;
	e->since = GetCurrentTimestamp();
	return e;
}

/*
 * The entry counting calls of this function, region and kind, and the
 * generation it must have; remembered, so that the next call of the same
 * key finds it without a lock.  Never raises.
 */
static StatsEntry *
entry_for(const char *name, const char *region, bool async, uint64 *generation)
{
	AwlStatsKey	key;
	CachedEntry *c;
	StatsEntry *e;
	bool		found;

	if (last && last->key.async == async && strcmp(last->key.name, name) == 0 &&
		strcmp(last->key.region, region) == 0)
	{
		*generation = last->generation;
		return last->entry;
	}
	memset(&key, 0, sizeof(key));
	strlcpy(key.name, name, sizeof(key.name));
	strlcpy(key.region, region, sizeof(key.region));
	key.async = async;
	c = hash_search(cache, &key, HASH_FIND, NULL);
	if (c)
	{
		last = c;
		*generation = c->generation;
		return c->entry;
	}

	if (is_shared())
		e = shared_entry(&key, generation);
	else
	{
		e = local_entry(&key);
		*generation = e->generation;
	}
	/* Remembered within bounds: names beyond them are looked up each time. */
	if (hash_get_num_entries(cache) < 2 * (long) awl_stat_max_functions &&
		(c = hash_search(cache, &key, HASH_ENTER_NULL, &found)) != NULL)
	{
		c->entry = e;
		c->generation = *generation;
		last = c;
	}
	return e;
}

/* How an attempt ended, by its reply. */
static Outcome
outcome_of(const AwlHttpResponse *resp, const AwlInvokeResult *result)
{
	if (resp == NULL)
		return OUT_ABORTED;
	if (resp->failure != AWL_HTTP_OK)
		return OUT_TRANSPORT_ERROR;
	if (resp->status == 429)
		return OUT_THROTTLED;
	if (resp->status < 200 || resp->status > 299)
		return OUT_API_ERROR;
	if (result && result->function_error)
		return OUT_FUNCTION_ERROR;
	return OUT_SUCCEEDED;
}

void
awl_stats_count(AwlStatsAttempt *a, const AwlInvokeRequest *req, const char *region,
				bool async, const AwlHttpResponse *resp, const AwlInvokeResult *result)
{
	instr_time	elapsed;
	Sample		s;
	int			tries;

	if (!a->running || cache == NULL)
		return;
	a->running = false;
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, a->started);
	s.us = (int64) INSTR_TIME_GET_MICROSEC(elapsed);
	s.outcome = outcome_of(resp, result);
	s.retry = req->retry;
	s.sent = (int64) req->payload_len;
	s.received = resp ? (int64) resp->body_len : 0;
	if (region == NULL)
		region = "";

	for (tries = 0; tries < 2; tries++)
	{
		uint64		generation;
		StatsEntry *e = entry_for(req->function_name, region, async, &generation);

		if (!is_shared())
		{
			add_sample(&e->c, &s);
			return;
		}
		SpinLockAcquire(&e->mutex);
		if (e->generation == generation)
		{
			add_sample(&e->c, &s);
			SpinLockRelease(&e->mutex);
			return;
		}
		SpinLockRelease(&e->mutex);
		/* Reset since this backend found it: find it anew. */
		forget_cache();
	}
}


/* The k-th shared entry in use: the rows, then the two overflow rows. */
static StatsEntry *
shared_in_use(int k)
{
	return &shared->entries[k < shared->nused ? k : shared->max + (k - shared->nused)];
}

/* Copies of the shared rows with at least one call, consistent per row. */
static StatsEntry *
shared_rows(int *n)
{
	StatsEntry *rows;
	int			k;

	LWLockAcquire(shared->lock, LW_SHARED);
	rows = palloc((shared->nused + 2) * sizeof(StatsEntry));
	*n = 0;
	for (k = 0; k < shared->nused + 2; k++)
	{
		StatsEntry *e = shared_in_use(k);

		SpinLockAcquire(&e->mutex);
		rows[*n] = *e;
		SpinLockRelease(&e->mutex);
		if (rows[*n].c.calls > 0)
			(*n)++;
	}
	LWLockRelease(shared->lock);
	return rows;
}

/* A row for awl_stats_rows. */
static void
put_row(AwlStatsRow *row, const StatsEntry *e, bool overflow)
{
	row->key = e->key;
	row->since = e->since;
	row->c = e->c;
	row->overflow = overflow;
}

AwlStatsRow *
awl_stats_rows(int *n)
{
	AwlStatsRow *rows;

	*n = 0;
	if (is_shared())
	{
		int			nshared;
		StatsEntry *entries = shared_rows(&nshared);
		int			i;

		rows = palloc(Max(nshared, 1) * sizeof(AwlStatsRow));
		for (i = 0; i < nshared; i++)
			put_row(&rows[(*n)++], &entries[i], entries[i].key.name[0] == '\0');
		pfree(entries);
	}
	else
	{
		HASH_SEQ_STATUS seq;
		CachedEntry *c;
		int			i;

		rows = palloc((hash_get_num_entries(cache) + 2) * sizeof(AwlStatsRow));
		hash_seq_init(&seq, cache);
		while ((c = hash_seq_search(&seq)) != NULL)
			if (c->entry != &local_overflow[0] && c->entry != &local_overflow[1])
				put_row(&rows[(*n)++], c->entry, false);
		for (i = 0; i < 2; i++)
			if (local_overflow[i].c.calls > 0)
				put_row(&rows[(*n)++], &local_overflow[i], true);
	}
	return rows;
}

void
awl_stats_reset(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	if (is_shared())
	{
		HASH_SEQ_STATUS seq;
		IndexEntry *ix;
		int			k;

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		shared->generation++;
		for (k = 0; k < shared->nused + 2; k++)
		{
			StatsEntry *e = shared_in_use(k);
			bool		overflow = k >= shared->nused;

			/* Rows become free; the overflow rows stay, of the new generation. */
			SpinLockAcquire(&e->mutex);
			memset(&e->c, 0, sizeof(e->c));
			e->generation = overflow ? shared->generation : 0;
			e->since = now;
			SpinLockRelease(&e->mutex);
		}
		hash_seq_init(&seq, shared_index);
		while ((ix = hash_seq_search(&seq)) != NULL)
			(void) hash_search(shared_index, &ix->key, HASH_REMOVE, NULL);
		shared->nused = 0;
		LWLockRelease(shared->lock);
		forget_cache();
	}
	else
	{
		/* The rows and the cache that finds them are in stats_cxt. */
		cache = NULL;
		last = NULL;
		MemoryContextReset(stats_cxt);
		nlocal = 0;
		for (i = 0; i < 2; i++)
		{
			memset(&local_overflow[i].c, 0, sizeof(AwlStatsCounters));
			local_overflow[i].since = now;
		}
		make_cache();
	}
}
