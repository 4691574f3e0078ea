/*-------------------------------------------------------------------------
 *
 * queue_table.c
 *	  The queue's tables: which tables of this database are awslambda's
 *	  queue (awslambda_invocations and, from 0.4.0 on, its child
 *	  awslambda_invocations_pending), their names for SQL text, the callers'
 *	  cached lookup of them, and the check that awslambda's statements on
 *	  them name no other relation.
 *
 * Used by both sides of the queue: the callers' (queue.c) and the
 * dispatcher's (deliver.c); it calls neither.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "commands/extension.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "queue.h"

/* The schema and owner of an extension (PostgreSQL 15 exports no lookup of either). */
static void
extension_schema_owner(Oid ext, Oid *nsp, Oid *owner)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	*nsp = *owner = InvalidOid;
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		*nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
		*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

Oid
awl_queue_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* The table called name among the extension's member objects. */
static Oid
member_table(Oid ext, const char *name)
{
	Relation	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			found = InvalidOid;

	ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);
		char	   *relname;

		if (dep->classid != RelationRelationId || dep->deptype != DEPENDENCY_EXTENSION ||
			get_rel_relkind(dep->objid) != RELKIND_RELATION)
			continue;
		relname = get_rel_name(dep->objid);
		if (relname && strcmp(relname, name) == 0)
		{
			found = dep->objid;
			break;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The queue table of this database's awslambda: the table
 * awslambda_invocations that is a member object of the extension and owned
 * by the extension's owner.  InvalidOid (or an error, unless missing_ok)
 * when the extension, at a version with a queue, is not installed.  A table
 * of that name that is not the extension's own is never used: the
 * dispatcher would fire its triggers as superuser.  Shared by the callers'
 * side and the dispatcher.
 */
Oid
awl_queue_find(bool missing_ok)
{
	Oid			ext = get_extension_oid("awslambda", missing_ok);
	Oid			relid = InvalidOid;

	if (OidIsValid(ext))
	{
		Oid			nsp;
		Oid			owner;
		Oid			same_name;

		extension_schema_owner(ext, &nsp, &owner);
		relid = member_table(ext, "awslambda_invocations");
		if (OidIsValid(relid) && awl_queue_owner(relid) != owner)
		{
			ereport(LOG,
					(errmsg("awslambda: ignoring table \"awslambda_invocations\": it is not owned by the owner of extension \"awslambda\"")));
			relid = InvalidOid;
		}
		same_name = get_relname_relid("awslambda_invocations", nsp);
		if (!OidIsValid(relid) && OidIsValid(same_name))
			ereport(LOG,
					(errmsg("awslambda: ignoring table %s: it is not a member of extension \"awslambda\"",
							awl_queue_name(same_name))));
	}
	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"awslambda_invocations\" of extension \"awslambda\" does not exist"),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));
	return relid;
}

/*
 * The unfinished part of the queue (0.4.0 on): the table
 * awslambda_invocations_pending that is a member object of the extension,
 * owned by the extension's owner and a child of the queue table queue_relid.
 * InvalidOid before 0.4.0, when the queue table holds every row.
 */
Oid
awl_queue_find_pending(Oid queue_relid)
{
	Oid			ext = get_extension_oid("awslambda", true);
	Oid			relid;
	Oid			nsp;
	Oid			owner;

	if (!OidIsValid(ext) || !OidIsValid(queue_relid))
		return InvalidOid;
	relid = member_table(ext, "awslambda_invocations_pending");
	if (!OidIsValid(relid))
		return InvalidOid;
	extension_schema_owner(ext, &nsp, &owner);
	if (awl_queue_owner(relid) != owner ||
		!list_member_oid(find_inheritance_children(queue_relid, NoLock), relid))
	{
		ereport(LOG,
				(errmsg("awslambda: ignoring table \"awslambda_invocations_pending\": it is not owned by the owner of extension \"awslambda\" or does not inherit from its queue table")));
		return InvalidOid;
	}
	return relid;
}

/*
 * The queue table's name is put into SQL text, and the plan cache parses
 * that text again whenever it replans (after any schema rename, say).  A
 * database owner who renames the extension's schema (public, which it owns
 * on PostgreSQL 15) and plants a table of the old name there would have the
 * next replan resolve to its table, whose triggers would then run as the
 * queue's owner or as the dispatcher.  So while awslambda runs its own
 * statements on the queue, every statement's analysis (first or again) is
 * checked: each relation it names must be the queue table, by OID.
 */
static Oid	guarded_relid = InvalidOid;
static Oid	guarded_pending = InvalidOid;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;

static bool
names_only_queue(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, names_only_queue, context,
								 QTW_EXAMINE_RTES_BEFORE);
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION && rte->relid != guarded_relid &&
			(rte->relid != guarded_pending || !OidIsValid(guarded_pending)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("awslambda: a statement on the queue names relation %u, which is not the queue table %u or its pending part %u",
							rte->relid, guarded_relid, guarded_pending),
					 errdetail("The name of the queue table's schema may have been changed.")));
		return false;
	}
	return expression_tree_walker(node, names_only_queue, context);
}

static void
queue_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	if (OidIsValid(guarded_relid))
		(void) names_only_queue((Node *) query, NULL);
}

void
awl_queue_init(void)
{
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = queue_post_parse_analyze;
}

/*
 * Until awl_queue_guard_end(), statements analysed in this backend may name
 * no relation but relid (the queue) and pending, the queue's table of
 * unfinished invocations (awl_queue_find_pending; none when InvalidOid).
 * Only around awslambda's own statements on the queue: never while user
 * code runs.
 */
void
awl_queue_guard_begin_pair(Oid relid, Oid pending)
{
	guarded_relid = relid;
	guarded_pending = pending;
}

void
awl_queue_guard_end(void)
{
	guarded_relid = InvalidOid;
	guarded_pending = InvalidOid;
}

/* The queue table's name, qualified and quoted, for SQL text. */
char *
awl_queue_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * The queue table of the installed extension, its owner, its qualified name
 * and whether it has callback_fn, looked up once and forgotten when the
 * table or any schema changes (a trigger may queue thousands of invocations
 * per transaction: no catalog lookup per call).
 */
static AwlQueueTables cached = {InvalidOid, InvalidOid, InvalidOid, NULL, false, false, false};
static char cached_name[2 * NAMEDATALEN + 8];	/* of the table rows are inserted into */
static bool cache_callbacks_registered = false;

static void
forget_queue(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cached.relid || relid == cached.pending)
		cached.relid = InvalidOid;
}

/* A schema was renamed (or dropped): the queue's name may be another now. */
static void
forget_queue_name(Datum arg, int cacheid, uint32 hashvalue)
{
	cached.relid = InvalidOid;
}

const AwlQueueTables *
awl_queue_tables(void)
{
	static AwlQueueTables tables;

	if (!OidIsValid(cached.relid))
	{
		Oid			relid = awl_queue_find(false);

		cached.owner = awl_queue_owner(relid);
		cached.pending = awl_queue_find_pending(relid);
		strlcpy(cached_name,
				awl_queue_name(OidIsValid(cached.pending) ? cached.pending : relid),
				sizeof(cached_name));
		cached.has_callback_fn = get_attnum(relid, "callback_fn") != InvalidAttrNumber;
		cached.has_v04 = get_attnum(relid, "durable_execution_name") != InvalidAttrNumber;
		cached.has_v05 = OidIsValid(cached.pending) && cached.has_v04 &&
			get_attnum(relid, "dedup_key") != InvalidAttrNumber;
		if (!cache_callbacks_registered)
		{
			CacheRegisterRelcacheCallback(forget_queue, (Datum) 0);
			CacheRegisterSyscacheCallback(NAMESPACEOID, forget_queue_name, (Datum) 0);
			cache_callbacks_registered = true;
		}
		cached.insert_name = cached_name;
		cached.relid = relid;
	}
	/* A copy: what the caller holds stays as it is should an invalidation come meanwhile. */
	tables = cached;
	return &tables;
}

int
awl_queue_execute_as(Oid owner, Oid a, Oid b, SPIPlanPtr plan, const char *sql,
					 int nargs, Oid *types, Datum *values, const char *nulls)
{
	Oid			save_user;
	int			save_sec;
	volatile int rc = 0;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	awl_queue_guard_begin_pair(a, b);
	PG_TRY();
	{
		rc = plan ? SPI_execute_plan(plan, values, nulls, false, 0)
			: SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return rc;
}
