/*-------------------------------------------------------------------------
 *
 * queue_insert.c
 *	  Queuing an invocation without the executor (issue 16, item 5).
 *
 * A trigger queues one invocation per row.  Through SPI every queued row
 * paid the executor's start-up for a 30-column INSERT: a fresh EState, the
 * pending table's four indexes opened and their IndexInfo built, the three
 * partial indexes' predicates planned and compiled, a projection built, a
 * snapshot taken.  None of that changes between calls, so here it is done
 * once per backend (and again when the table or an index changes, as the
 * relcache tells): the row is formed from the values and the columns'
 * defaults, inserted with table_tuple_insert, and its index entries made
 * with index_insert, as ExecInsertIndexTuples would make them.
 *
 * The path is narrow on purpose: a plain heap table whose indexes are
 * btrees on columns, without triggers, rules, CHECK constraints, forced row
 * security, generated or identity columns, domains or type modifiers.
 * That is the extension's pending table as every version creates it;
 * anything else (say, a trigger an administrator added) makes
 * awl_queue_insert_direct return false and the caller runs its INSERT
 * through SPI, which does whatever the table has.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "queue_insert.h"

typedef struct DirectIndex
{
	Oid			oid;
	IndexInfo  *info;			/* BuildIndexInfo's, kept */
	ExprState  *predicate;		/* a partial index's, compiled; or NULL */
} DirectIndex;

typedef struct DirectCache
{
	bool		valid;			/* cleared by the relcache callback */
	bool		complete;		/* built to the end (not cut short by an error) */
	bool		usable;			/* the table is one this path handles */
	Oid			relid;
	int			ncolumns;		/* the caller's column list it was made for */
	const char *const *columns;
	int			natts;
	int		   *source;			/* per attribute: index into values, or -1 */
	ExprState **defaults;		/* per attribute: its default, or NULL */
	bool	   *notnull;
	int			nindexes;
	DirectIndex *indexes;
	ExprContext *econtext;		/* where defaults and predicates are evaluated */
	MemoryContext cxt;			/* all of the above */
} DirectCache;

static DirectCache cache;
static bool callback_registered = false;

/*
 * awl_queue_insert_direct calls under way in this backend: a default or an
 * index predicate (the owner's code) may queue an invocation itself, and
 * the cache it would rebuild is the one the outer call is evaluating.
 */
static int	direct_depth = 0;

static void
forget_cache(Datum arg, Oid relid)
{
	int			i;

	if (!cache.valid)
		return;
	if (relid == InvalidOid || relid == cache.relid)
	{
		cache.valid = false;
		return;
	}
	for (i = 0; i < cache.nindexes; i++)
		if (cache.indexes[i].oid == relid)
			cache.valid = false;
}

/*
 * A function or type changed: a default may have a SQL function inlined,
 * an immutable one folded, or a domain's constraints compiled into it, and
 * no relcache invalidation tells of that (the plan cache listens here too).
 */
static void
forget_cache_syscache(Datum arg, int cacheid, uint32 hashvalue)
{
	cache.valid = false;
}

/*
 * Records each index of rel (in the current context: the cache's); false
 * when one is not a plain immediate btree on columns.
 */
static bool
cache_indexes(Relation rel)
{
	List	   *index_oids = RelationGetIndexList(rel);
	ListCell   *lc;

	cache.indexes = palloc0(sizeof(DirectIndex) * Max(list_length(index_oids), 1));
	foreach(lc, index_oids)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);
		DirectIndex *di = &cache.indexes[cache.nindexes++];
		bool		plain;

		di->oid = lfirst_oid(lc);
		di->info = BuildIndexInfo(index);
		plain = index->rd_rel->relam == BTREE_AM_OID && index->rd_index->indimmediate &&
			di->info->ii_Expressions == NIL && di->info->ii_ExclusionOps == NULL;
		index_close(index, NoLock);
		if (!plain)
			return false;
		if (di->info->ii_Predicate != NIL)
			di->predicate = ExecInitQual((List *) expression_planner((Expr *) di->info->ii_Predicate),
										 NULL);
	}
	return true;
}

/* Looks rel over and records what an insert needs (or that it is not usable). */
static void
build_cache(Relation rel, int ncolumns, const char *const *columns, const Oid *types)
{
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old;
	int			i;
	int			found = 0;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_cache, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, forget_cache_syscache, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, forget_cache_syscache, (Datum) 0);
		callback_registered = true;
	}
	if (cache.cxt)
		MemoryContextDelete(cache.cxt);
	memset(&cache, 0, sizeof(cache));
	cache.cxt = AllocSetContextCreate(CacheMemoryContext, "awslambda queue insert",
									  ALLOCSET_SMALL_SIZES);
	cache.relid = RelationGetRelid(rel);
	cache.ncolumns = ncolumns;
	cache.columns = columns;
	cache.valid = true;
	old = MemoryContextSwitchTo(cache.cxt);

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != NULL ||
		rel->rd_rules != NULL || rel->rd_rel->relforcerowsecurity ||
		(desc->constr && desc->constr->num_check > 0))
		goto done;

	cache.natts = desc->natts;
	cache.source = palloc(sizeof(int) * desc->natts);
	cache.defaults = palloc0(sizeof(ExprState *) * desc->natts);
	cache.notnull = palloc0(sizeof(bool) * desc->natts);
	cache.econtext = CreateStandaloneExprContext();
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			c;

		cache.source[i] = -1;
		if (att->attisdropped)
			continue;
		/* A domain's constraints hold even on the NULL an INSERT gives. */
		if (att->attgenerated != '\0' || att->attidentity != '\0' ||
			get_typtype(att->atttypid) == TYPTYPE_DOMAIN)
			goto done;
		cache.notnull[i] = att->attnotnull;
		for (c = 0; c < ncolumns; c++)
			if (strcmp(NameStr(att->attname), columns[c]) == 0)
				break;
		if (c < ncolumns)
		{
			/* A type modifier would coerce the value: the INSERT's. */
			if (att->atttypid != types[c] || att->atttypmod != -1)
				goto done;
			cache.source[i] = c;
			found++;
		}
		else
		{
			Node	   *def = build_column_default(rel, i + 1);

			if (def)
				cache.defaults[i] = ExecInitExpr(expression_planner((Expr *) def), NULL);
			else if (att->attnotnull)
				goto done;		/* every row fails: the INSERT's error */
		}
	}
	if (found != ncolumns)
		goto done;

	cache.usable = cache_indexes(rel);
done:
	cache.complete = true;
	MemoryContextSwitchTo(old);
}

/*
 * The row into rel and its index entries (cache usable for rel); false,
 * having done nothing, when a given value is NULL in a NOT NULL column
 * (the INSERT then raises its error, with its detail).
 */
static bool
insert_row(Relation rel, Datum *values, const char *nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot;
	ExprContext *econtext = cache.econtext;
	int			i;

	for (i = 0; i < cache.natts; i++)
		if (cache.source[i] >= 0 && cache.notnull[i] && nulls[cache.source[i]] == 'n')
			return false;

	slot = table_slot_create(rel, NULL);
	ResetExprContext(econtext);
	ExecClearTuple(slot);
	for (i = 0; i < cache.natts; i++)
	{
		int			c = cache.source[i];

		if (c >= 0)
		{
			slot->tts_values[i] = values[c];
			slot->tts_isnull[i] = nulls[c] == 'n';
		}
		else if (cache.defaults[i])
			slot->tts_values[i] = ExecEvalExpr(cache.defaults[i], econtext, &slot->tts_isnull[i]);
		else
		{
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
		}
		if (slot->tts_isnull[i] && cache.notnull[i])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
							NameStr(TupleDescAttr(desc, i)->attname), RelationGetRelationName(rel)),
					 errtablecol(rel, i + 1)));
	}
	ExecStoreVirtualTuple(slot);

	/* As SPI does before each statement of a function that is not read-only. */
	CommandCounterIncrement();
	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);

	econtext->ecxt_scantuple = slot;
	for (i = 0; i < cache.nindexes; i++)
	{
		DirectIndex *di = &cache.indexes[i];
		Datum		ivalues[INDEX_MAX_KEYS];
		bool		iisnull[INDEX_MAX_KEYS];
		Relation	index;

		if (!di->info->ii_ReadyForInserts)
			continue;
		if (di->predicate && !ExecQual(di->predicate, econtext))
			continue;
		index = index_open(di->oid, RowExclusiveLock);
		FormIndexDatum(di->info, slot, NULL, ivalues, iisnull);
		index_insert(index, ivalues, iisnull, &slot->tts_tid, rel,
					 di->info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, di->info);
		index_close(index, NoLock);
	}
	econtext->ecxt_scantuple = NULL;
	ExecDropSingleTupleTableSlot(slot);
	return true;
}

bool
awl_queue_insert_direct(const AwlQueueTables *q, int ncolumns, const char *const *columns,
						const Oid *types, Datum *values, const char *nulls)
{
	Oid			save_user;
	int			save_sec;
	volatile bool done = false;

	if (!OidIsValid(q->pending) || direct_depth > 0)
		return false;
	/* What the executor checks of every INSERT into a table that is not temporary. */
	PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");

	/* As the owner, as the INSERT would run: its defaults and predicates too. */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(q->owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		/* Locked first: what the relcache then says stays so until commit. */
		Relation	rel = table_open(q->pending, RowExclusiveLock);

		if (!cache.valid || !cache.complete || cache.relid != q->pending || cache.ncolumns != ncolumns ||
			cache.columns != columns)
			build_cache(rel, ncolumns, columns, types);
		/*
		 * The INSERT's permission and row security checks, as the owner
		 * (who may have revoked its own right): what fails them is the
		 * INSERT's to report.
		 */
		if (cache.usable &&
			pg_class_aclcheck(q->pending, q->owner, ACL_INSERT) == ACLCHECK_OK &&
			check_enable_rls(q->pending, q->owner, true) != RLS_ENABLED)
		{
			direct_depth++;
			done = insert_row(rel, values, nulls);
			direct_depth--;
		}
		table_close(rel, NoLock);
	}
	PG_FINALLY();
	{
		direct_depth = 0;
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return done;
}
