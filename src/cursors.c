/*-------------------------------------------------------------------------
 *
 * cursors.c
 *	  Moving the claim's cursors (awl_cursors, see "Cursors" in deliver.h):
 *	  the keys of fresh invocations, the transactions watched, the
 *	  rewinds that sessions asked for, and the cursor's advance after a
 *	  claim.  The claim (claim.c) calls these; they call slots.c's
 *	  awl_dispatcher_take_rewind and nothing else of the asynchronous side.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "deliver.h"
#include "dispatcher.h"

/* A 32-bit xid from a snapshot (running, or its xmax) as a full one. */
FullTransactionId
awl_cursors_full_xid(TransactionId xid, FullTransactionId next)
{
	return FullTransactionIdFromU64(U64FromFullTransactionId(next) -
									(uint32) (XidFromFullTransactionId(next) - xid));
}

/* Orders fresh invocations' keys (queued_xact, id). */
int
awl_cursors_key_cmp(FullTransactionId ax, const pg_uuid_t *aid, FullTransactionId bx,
					const pg_uuid_t *bid)
{
	if (FullTransactionIdPrecedes(ax, bx))
		return -1;
	if (FullTransactionIdPrecedes(bx, ax))
		return 1;
	return memcmp(aid->data, bid->data, UUID_LEN);
}

/*
 * A session may have queued invocations for later, held rows that a claim
 * passed, resumed or rolled back a cancel (awl_dispatcher_rewind): the
 * cursors go back to them.  Before the snapshot of the claim that is to see
 * them (and before the pauses are read).
 */
void
awl_cursors_take_rewinds(void)
{
	uint64		x;
	TimestampTz due;

	if (!awl_dispatcher_take_rewind(&x, &due))
		return;
	if (x != PG_UINT64_MAX)
	{
		FullTransactionId fx = FullTransactionIdFromU64(x);
		pg_uuid_t	key;

		/* 0: from the beginning (past the rows of queued_xact 0, as the reset). */
		memset(&key, x == 0 ? 0xff : 0, sizeof(key));
		if (awl_cursors_key_cmp(fx, &key, awl_cursors.fresh_xact, &awl_cursors.fresh_id) < 0)
		{
			awl_cursors.fresh_xact = fx;
			awl_cursors.fresh_id = key;
		}
	}
	awl_cursors.retry_from = Min(awl_cursors.retry_from, due);
}

static void
watch_add(FullTransactionId x)
{
	int			i;

	for (i = 0; i < awl_cursors.nwatch; i++)
		if (FullTransactionIdEquals(awl_cursors.watch[i], x))
			return;
	if (awl_cursors.nwatch == awl_cursors.maxwatch)
	{
		awl_cursors.maxwatch = Max(64, awl_cursors.maxwatch * 2);
		awl_cursors.watch = awl_cursors.watch ? repalloc(awl_cursors.watch, awl_cursors.maxwatch * sizeof(FullTransactionId))
			: MemoryContextAlloc(TopMemoryContext, awl_cursors.maxwatch * sizeof(FullTransactionId));
	}
	awl_cursors.watch[awl_cursors.nwatch++] = x;
}

/*
 * Before looking for fresh invocations: a watched transaction that snap (a
 * snapshot taken before the statement's own) no longer sees running has
 * committed or aborted; the cursor goes back to its first key, once.
 */
void
awl_cursors_fresh_rewind(Snapshot snap)
{
	pg_uuid_t	nil = {{0}};
	int			kept = 0;
	int			i;

	for (i = 0; i < awl_cursors.nwatch; i++)
	{
		if (XidInMVCCSnapshot(XidFromFullTransactionId(awl_cursors.watch[i]), snap))
			awl_cursors.watch[kept++] = awl_cursors.watch[i];
		else if (awl_cursors_key_cmp(awl_cursors.watch[i], &nil, awl_cursors.fresh_xact, &awl_cursors.fresh_id) < 0)
		{
			awl_cursors.fresh_xact = awl_cursors.watch[i];
			awl_cursors.fresh_id = nil;
		}
	}
	awl_cursors.nwatch = kept;
}

/*
 * After a claim of fresh invocations under a statement whose snapshot is no
 * older than snap: if it took all it found (full is false), it took every
 * fresh row past the cursor that it could see, and the rows it could not see
 * belong to transactions running at snap (watched from now on) or later ones
 * (at or past snap's xmax); otherwise the next claim goes on after the last
 * row taken (lx, lid).
 */
void
awl_cursors_fresh_advance(Snapshot snap, bool full, FullTransactionId lx,
						  const pg_uuid_t *lid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	FullTransactionId nx = awl_cursors_full_xid(snap->xmax, next);
	pg_uuid_t	nil = {{0}};
	pg_uuid_t	nid = nil;
	uint32		i;

	if (full && awl_cursors_key_cmp(lx, lid, nx, &nil) < 0)
	{
		nx = lx;
		nid = *lid;
	}
	for (i = 0; i < snap->xcnt; i++)
	{
		FullTransactionId x = awl_cursors_full_xid(snap->xip[i], next);

		if (awl_cursors_key_cmp(x, &nil, nx, &nid) < 0)
			watch_add(x);
	}
	awl_cursors.fresh_xact = nx;
	awl_cursors.fresh_id = nid;
}

/* The uuid just before id (as a 128-bit number): "> pred(id)" is ">= id". */
pg_uuid_t
awl_cursors_uuid_pred(const pg_uuid_t *id)
{
	pg_uuid_t	p = *id;
	int			i;

	for (i = UUID_LEN - 1; i >= 0; i--)
		if (p.data[i]-- != 0)
			break;
	return p;
}
