/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Asynchronous invocations, caller's side: awslambda_fn_async() and
 *	  awslambda_invoke_async() write a row into awslambda_invocations in
 *	  the caller's transaction and wake the database's dispatcher when that
 *	  transaction commits.  A rollback removes the row: nothing is sent.
 *
 * Everything that can be checked is checked here, under the caller's own
 * settings (function name, awslambda.allowed_functions, region, callback),
 * so the dispatcher never holds an invocation it cannot send.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/regproc.h"
#include "utils/xid8.h"

#include "awslambda.h"

/* Set when this transaction queued something: wake the dispatcher at commit. */
static bool wake_at_commit = false;
static bool xact_callback_registered = false;

/* The INSERT, prepared once per backend (and again if the extension is re-created). */
static SPIPlanPtr insert_plan = NULL;
static Oid	insert_plan_relid = InvalidOid;
static Oid	insert_plan_pending = InvalidOid;
static bool insert_plan_callback_fn = false;
static bool insert_plan_v04 = false;
static bool insert_plan_v05 = false;
static char insert_plan_name[2 * NAMEDATALEN + 8];	/* the name it was planned with */

/* With a dedup key (0.5.0): made with insert_plan, forgotten with it. */
static SPIPlanPtr dedup_insert_plan = NULL;
static SPIPlanPtr dedup_find_plan = NULL;
static SPIPlanPtr dedup_replace_plan = NULL;

/*
 * What the dispatcher is to be told at the end of this transaction (see
 * awl_queue_rewind_at_end).
 */
static bool rewind_at_end = false;
static uint64 rewind_fresh = PG_UINT64_MAX;
static TimestampTz rewind_due = DT_NOEND;

static void
queue_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			/* Both after the commit is visible: the dispatcher sees what it is told of. */
			if (rewind_at_end)
				awl_dispatcher_rewind(MyDatabaseId, rewind_fresh, rewind_due);
			rewind_at_end = false;
			if (wake_at_commit)
			{
				wake_at_commit = false;
				awl_dispatcher_wake(MyDatabaseId);
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* The rows this transaction locked are free again, as they were. */
			if (rewind_at_end)
				awl_dispatcher_rewind(MyDatabaseId, rewind_fresh, rewind_due);
			rewind_at_end = false;
			wake_at_commit = false;
			break;
		case XACT_EVENT_PREPARE:
			/* COMMIT PREPARED wakes the dispatcher, and it or ROLLBACK PREPARED rewinds it (dispatcher.c). */
			rewind_at_end = false;
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/*
 * Wakes this database's dispatcher (or has one started) when the current
 * transaction commits; nothing if it aborts.
 */
static void
register_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(queue_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

void
awl_queue_wake_at_commit(void)
{
	register_xact_callback();
	wake_at_commit = true;
}

void
awl_queue_rewind_at_end(uint64 queued_xact, TimestampTz due)
{
	register_xact_callback();
	if (!rewind_at_end)
	{
		rewind_fresh = PG_UINT64_MAX;
		rewind_due = DT_NOEND;
	}
	rewind_at_end = true;
	rewind_fresh = Min(rewind_fresh, queued_xact);
	rewind_due = Min(rewind_due, due);
}

/* Refuses to queue where no dispatcher can run, saying what to do. */
static void
require_dispatcher(void)
{
	if (!awl_dispatcher_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("asynchronous Lambda invocations need awslambda in shared_preload_libraries"),
				 errdetail("Queued invocations are sent by a background dispatcher, which starts only when the server preloads the library."),
				 errhint("Add awslambda to shared_preload_libraries in postgresql.conf and restart the server, or SET awslambda.async_mode = 'immediate' to send at once, inside the statement, without the guarantees.")));
}

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

/* The owner of a relation. */
static Oid
rel_owner(Oid relid)
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
		if (OidIsValid(relid) && rel_owner(relid) != owner)
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
	if (rel_owner(relid) != owner ||
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

/* From _PG_init: installs the check above. */
void
awl_queue_init(void)
{
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = queue_post_parse_analyze;
}

/*
 * Until awl_queue_guard_end(), statements analysed in this backend may name
 * no relation but relid (the queue).  Only around awslambda's own
 * statements on the queue: never while user code runs.
 */
void
awl_queue_guard_begin(Oid relid)
{
	awl_queue_guard_begin_pair(relid, InvalidOid);
}

/*
 * Like awl_queue_guard_begin, for statements that may also name pending,
 * the queue's table of unfinished invocations (awl_queue_find_pending), or
 * only relid when pending is InvalidOid.
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
static Oid	cached_relid = InvalidOid;
static Oid	cached_owner = InvalidOid;
static Oid	cached_pending = InvalidOid;	/* where rows are inserted (0.4.0) */
static char cached_name[2 * NAMEDATALEN + 8];	/* of the table rows are inserted into */
static bool cached_has_callback_fn = false;
static bool cached_has_v04 = false;	/* tenant_id, durable_execution_name (0.4.0) */
static bool cached_has_v05 = false;	/* max_attempts, dedup_key (0.5.0) */
static bool cache_callbacks_registered = false;

static void
forget_queue(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cached_relid || relid == cached_pending)
		cached_relid = InvalidOid;
}

/* A schema was renamed (or dropped): the queue's name may be another now. */
static void
forget_queue_name(Datum arg, int cacheid, uint32 hashvalue)
{
	cached_relid = InvalidOid;
}

static Oid
queue_relid(Oid *owner, Oid *pending)
{
	if (!OidIsValid(cached_relid))
	{
		Oid			relid = awl_queue_find(false);

		cached_owner = rel_owner(relid);
		cached_pending = awl_queue_find_pending(relid);
		strlcpy(cached_name,
				awl_queue_name(OidIsValid(cached_pending) ? cached_pending : relid),
				sizeof(cached_name));
		cached_has_callback_fn = get_attnum(relid, "callback_fn") != InvalidAttrNumber;
		cached_has_v04 = get_attnum(relid, "durable_execution_name") != InvalidAttrNumber;
		cached_has_v05 = OidIsValid(cached_pending) &&
			get_attnum(relid, "dedup_key") != InvalidAttrNumber;
		if (!cache_callbacks_registered)
		{
			CacheRegisterRelcacheCallback(forget_queue, (Datum) 0);
			CacheRegisterSyscacheCallback(NAMESPACEOID, forget_queue_name, (Datum) 0);
			cache_callbacks_registered = true;
		}
		cached_relid = relid;
	}
	*owner = cached_owner;
	*pending = cached_pending;
	return cached_relid;
}

/* The function or procedure name(rowtype), or InvalidOid. */
static Oid
lookup_callback(const char *name, Oid rowtype)
{
	ObjectWithArgs *routine = makeNode(ObjectWithArgs);

	routine->objname = awl_string_to_qualified_name_list(name);
	routine->objargs = list_make1(makeTypeNameFromOid(rowtype, -1));
	return LookupFuncWithArgs(OBJECT_ROUTINE, routine, true);
}

/*
 * Resolves a callback name to a function or procedure taking one
 * awslambda_invocations row, which the caller may execute; returns its OID
 * (the dispatcher calls it by that) and sets *qualified to its qualified,
 * quoted name, for people to read.
 */
static Oid
resolve_callback(const char *name, Oid relid, char **qualified)
{
	Oid			fn = lookup_callback(name, get_rel_type_id(relid));
	HeapTuple	tup;
	Form_pg_proc proc;

	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("callback %s(awslambda_invocations) does not exist", name),
				 errhint("A callback is a function or procedure with one argument of type awslambda_invocations.")));
	if (awl_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for callback %s", name)));
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if ((proc->prokind != PROKIND_FUNCTION && proc->prokind != PROKIND_PROCEDURE) ||
		proc->proretset)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("callback %s must be a function not returning a set, or a procedure", name)));
	*qualified = quote_qualified_identifier(get_namespace_name(proc->pronamespace),
											NameStr(proc->proname));
	ReleaseSysCache(tup);
	return fn;
}

/* SPI_prepare of a statement on the queue's tables alone (see awl_queue_guard_begin). */
static SPIPlanPtr
prepare_guarded(const char *sql, int nargs, Oid *types, Oid relid, Oid pending)
{
	SPIPlanPtr volatile plan = NULL;

	awl_queue_guard_begin_pair(relid, pending);
	PG_TRY();
	{
		plan = SPI_prepare(sql, nargs, types);
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
	}
	PG_END_TRY();
	return plan;
}

/*
 * A version 7 UUID: milliseconds since 1970 in the first 48 bits, then
 * random bits.  Ids of one moment sort together, so the primary key grows at
 * its right edge instead of touching random pages.
 */
static pg_uuid_t *
new_invocation_id(void)
{
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	struct timeval tv;
	uint64		ms;
	int			i;

	if (!pg_strong_random(id->data + 6, UUID_LEN - 6))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random invocation id")));
	gettimeofday(&tv, NULL);
	ms = (uint64) tv.tv_sec * 1000 + tv.tv_usec / 1000;
	for (i = 0; i < 6; i++)
		id->data[i] = (uint8) (ms >> (40 - 8 * i));
	id->data[6] = (id->data[6] & 0x0f) | 0x70;
	id->data[8] = (id->data[8] & 0x3f) | 0x80;
	return id;
}

/* The per-invocation options of awslambda_invoke_async (0.5.0). */
typedef struct QueueOptions
{
	bool		has_run_at;
	TimestampTz run_at;			/* not sent before then */
	int			max_attempts;	/* 0: awslambda.async_max_attempts */
	const char *dedup_key;		/* NULL: none */
	bool		keep;			/* dedup_mode 'keep' (else 'replace') */
} QueueOptions;

/* The longest dedup_key, in bytes (it is part of a unique index's entries). */
#define DEDUP_KEY_MAX	1024

/* SPI_prepare as the queue's statements are, kept for the backend's life. */
static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *types, Oid relid, Oid pending)
{
	SPIPlanPtr	plan = prepare_guarded(sql, nargs, types, relid, pending);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static void
forget_plan(SPIPlanPtr *plan)
{
	if (*plan)
		SPI_freeplan(*plan);
	*plan = NULL;
}

/*
 * Runs one of the queuing statements as the table's owner (callers get no
 * right of their own on the queue); returns SPI's code.
 */
static int
execute_as_owner(SPIPlanPtr plan, Datum *values, const char *nulls, Oid owner, Oid relid,
				 Oid pending)
{
	Oid			save_user;
	int			save_sec;
	volatile int rc = 0;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	awl_queue_guard_begin_pair(relid, pending);
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return rc;
}

/* The uuid in column 1 of the first result row, copied into the caller's context. */
static pg_uuid_t *
result_id(MemoryContext cxt)
{
	bool		isnull;
	pg_uuid_t  *id = MemoryContextAlloc(cxt, sizeof(pg_uuid_t));

	memcpy(id, DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										   &isnull)), sizeof(pg_uuid_t));
	return id;
}

/*
 * With a dedup key: the unclaimed invocation of this role, function and key
 * gets the new call's settings ('replace') or stays as it is ('keep'), and
 * its id is returned; without one, the new invocation is inserted.  A
 * concurrent transaction queuing the same key is waited for by the unique
 * index (and the loop looks again once it has ended); one whose claim holds
 * the row is waited for by FOR UPDATE, after which the row is no longer
 * unclaimed and a new invocation is made.
 */
static pg_uuid_t *
enqueue_dedup(Datum *values, char *nulls, bool keep, bool parked, Oid owner, Oid relid,
			  Oid pending, MemoryContext cxt)
{
	int			round;

	for (round = 0; round < 1000; round++)
	{
		int			rc;

		CHECK_FOR_INTERRUPTS();
		rc = execute_as_owner(keep ? dedup_find_plan : dedup_replace_plan, values, nulls,
							  owner, relid, pending);
		if (rc != (keep ? SPI_OK_SELECT : SPI_OK_UPDATE_RETURNING))
			elog(ERROR, "could not look for the queued invocation: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
		{
			pg_uuid_t  *id = result_id(cxt);

			if (!keep)
			{
				bool		isnull;
				FullTransactionId old_x = DatumGetFullTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
																				  SPI_tuptable->tupdesc, 2, &isnull));
				TimestampTz old_due = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
																		SPI_tuptable->tupdesc, 3, &isnull));

				/*
				 * The row was locked: a claim meanwhile passed it (should
				 * this transaction roll back, it is there as it was).
				 */
				if (U64FromFullTransactionId(old_x) == 0)
					awl_queue_rewind_at_end(PG_UINT64_MAX, old_due);
				else
					awl_queue_rewind_at_end(U64FromFullTransactionId(old_x), DT_NOEND);
				if (parked)
					awl_queue_rewind_at_end(PG_UINT64_MAX, DatumGetTimestampTz(values[11]));
			}
			return id;
		}
		rc = execute_as_owner(dedup_insert_plan, values, nulls, owner, relid, pending);
		if (rc != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not queue the invocation: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
		{
			if (parked)
				awl_queue_rewind_at_end(PG_UINT64_MAX, DatumGetTimestampTz(values[11]));
			return result_id(cxt);
		}
		/* Another transaction queued the key and committed: look again. */
	}
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not queue the invocation with dedup key \"%s\": it kept changing",
					TextDatumGetCString(values[14]))));
	return NULL;				/* keep the compiler quiet */
}

/*
 * Queues one invocation; returns its id.  The strings are in the server
 * encoding; payload is valid JSON.  tenant_id and durable_execution_name
 * (NULL: none) are checked here; name_from_id makes the invocation id the
 * durable execution name, so that a delivery repeated after a crash starts
 * no second execution.  opts (NULL: none) are awslambda_invoke_async's
 * options of 0.5.0.
 */
static pg_uuid_t *
awl_enqueue(const char *function_name, const char *qualifier, const char *region,
			const char *invocation_type, const char *payload, const char *callback,
			const char *tenant_id, const char *durable_execution_name, bool name_from_id,
			const QueueOptions *opts)
{
	AwlInvokeRequest req = {0};
	const char *target_region;
	Oid			relid;
	Oid			pending;
	Oid			owner;
	pg_uuid_t  *id;
	char	   *callback_name = NULL;
	Oid			callback_fn = InvalidOid;
	bool		has_callback_fn;
	bool		has_v04;
	bool		has_v05;
	bool		parked = false;
	char	   *queue_name;
	MemoryContext cxt = CurrentMemoryContext;
	Datum		values[16];
	char		nulls[16];
	Oid			types[16] = {UUIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, OIDOID, OIDOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, XID8OID, INT4OID, TEXTOID,
	BOOLOID};
	bool		with_options = opts &&
		(opts->has_run_at || opts->max_attempts > 0 || opts->dedup_key);

	require_dispatcher();
	if (tenant_id)
		awl_check_tenant_id(tenant_id);
	if (durable_execution_name)
		awl_check_durable_execution_name(durable_execution_name);
	if (durable_execution_name && name_from_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("arguments \"durable_execution_name\" and \"durable_execution_name_from_id\" exclude each other")));

	/* The checks a call would make now, under this session's settings. */
	req.function_name = pg_server_to_any(function_name, strlen(function_name), PG_UTF8);
	req.qualifier = qualifier;
	req.region = region;
	req.invocation_type = invocation_type;
	if (qualifier)
		awl_check_qualifier(function_name, qualifier);
	target_region = awl_invoke_check(&req);
	{
		const char *utf8 = pg_server_to_any(payload, strlen(payload), PG_UTF8);

		awl_check_payload_size(invocation_type, strlen(utf8));
	}

	relid = queue_relid(&owner, &pending);
	/* A queue table from before 0.3.0 (the library was updated, the extension not yet). */
	has_callback_fn = cached_has_callback_fn;
	if (callback && !has_callback_fn)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("callbacks need version 0.3.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));
	if (callback)
		callback_fn = resolve_callback(callback, relid, &callback_name);
	has_v04 = cached_has_v04 && has_callback_fn;	/* 0.4.0 came after 0.3.0 */
	if ((tenant_id || durable_execution_name || name_from_id) && !has_v04)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tenant ids and durable execution names need version 0.4.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));
	has_v05 = cached_has_v05 && has_v04;
	if (with_options && !has_v05)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run_at, max_attempts and dedup_key need version 0.5.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));

	id = new_invocation_id();
	if (name_from_id)
		durable_execution_name = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
	memset(nulls, ' ', sizeof(nulls));
	memset(values, 0, sizeof(values));
	values[0] = UUIDPGetDatum(id);
	values[1] = CStringGetTextDatum(function_name);
	values[2] = qualifier ? CStringGetTextDatum(qualifier) : (Datum) 0;
	nulls[2] = qualifier ? ' ' : 'n';
	values[3] = CStringGetTextDatum(target_region);
	values[4] = CStringGetTextDatum(invocation_type);
	values[5] = CStringGetTextDatum(payload);
	values[6] = callback ? CStringGetTextDatum(callback_name) : (Datum) 0;
	nulls[6] = callback ? ' ' : 'n';
	values[7] = ObjectIdGetDatum(GetUserId());
	values[8] = ObjectIdGetDatum(callback_fn);
	nulls[8] = callback ? ' ' : 'n';
	values[9] = tenant_id ? CStringGetTextDatum(tenant_id) : (Datum) 0;
	nulls[9] = tenant_id ? ' ' : 'n';
	values[10] = durable_execution_name ? CStringGetTextDatum(durable_execution_name) : (Datum) 0;
	nulls[10] = durable_execution_name ? ' ' : 'n';
	if (has_v05)
	{
		/*
		 * Due later: put aside for the dispatcher to find by its due time
		 * (queued_xact 0), where it is told to look at the end of this
		 * transaction; else a fresh invocation of this transaction.
		 */
		parked = opts && opts->has_run_at && opts->run_at > GetCurrentTimestamp();
		values[11] = TimestampTzGetDatum(opts && opts->has_run_at ? opts->run_at
										 : GetCurrentTransactionStartTimestamp());
		values[12] = FullTransactionIdGetDatum(parked ? FullTransactionIdFromU64(0)
											   : GetTopFullTransactionId());
		values[13] = Int32GetDatum(opts ? opts->max_attempts : 0);
		nulls[13] = opts && opts->max_attempts > 0 ? ' ' : 'n';
		values[14] = opts && opts->dedup_key ? CStringGetTextDatum(opts->dedup_key) : (Datum) 0;
		nulls[14] = opts && opts->dedup_key ? ' ' : 'n';
		values[15] = BoolGetDatum(name_from_id);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	queue_name = cached_name;
	if (insert_plan == NULL || insert_plan_relid != relid || insert_plan_pending != pending ||
		insert_plan_callback_fn != has_callback_fn || insert_plan_v04 != has_v04 ||
		insert_plan_v05 != has_v05 || strcmp(insert_plan_name, queue_name) != 0)
	{
		/*
		 * It runs as the table's owner: it names no function, operator or
		 * type that the caller's search_path could resolve.
		 */
		char	   *sql = psprintf("INSERT INTO %s (id, function_name, qualifier, region, "
								   "invocation_type, payload, callback, invoked_by%s%s%s) "
								   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8%s%s%s)",
								   queue_name,
								   has_callback_fn ? ", callback_fn" : "",
								   has_v04 ? ", tenant_id, durable_execution_name" : "",
								   has_v05 ? ", next_attempt_at, queued_xact, max_attempts, dedup_key" : "",
								   has_callback_fn ? ", $9" : "",
								   has_v04 ? ", $10, $11" : "",
								   has_v05 ? ", $12, $13, $14, $15" : "");
		/* The unclaimed invocation of a role, function and key (the unique index's). */
		const char *same_key = "dedup_key IS NOT NULL "
			"AND status OPERATOR(pg_catalog.=) 'queued' AND last_attempt_at IS NULL";

		if (insert_plan)
			SPI_freeplan(insert_plan);
		insert_plan = NULL;
		forget_plan(&dedup_insert_plan);
		forget_plan(&dedup_find_plan);
		forget_plan(&dedup_replace_plan);
		insert_plan = keep_plan(sql, has_v05 ? 16 : has_v04 ? 11 : has_callback_fn ? 9 : 8,
								types, relid, pending);
		if (has_v05)
		{
			dedup_insert_plan = keep_plan(psprintf("%s ON CONFLICT (invoked_by, function_name, dedup_key) "
												   "WHERE %s DO NOTHING RETURNING id", sql, same_key),
										  16, types, relid, pending);
			dedup_find_plan = keep_plan(psprintf("SELECT id FROM %s WHERE invoked_by OPERATOR(pg_catalog.=) $8 "
												 "AND function_name OPERATOR(pg_catalog.=) $2 "
												 "AND dedup_key OPERATOR(pg_catalog.=) $15 AND %s LIMIT 1",
												 queue_name, same_key),
										16, types, relid, pending);
			dedup_replace_plan = keep_plan(psprintf("WITH old AS (SELECT id, queued_xact, next_attempt_at FROM %s "
													"WHERE invoked_by OPERATOR(pg_catalog.=) $8 "
													"AND function_name OPERATOR(pg_catalog.=) $2 "
													"AND dedup_key OPERATOR(pg_catalog.=) $15 AND %s "
													"LIMIT 1 FOR UPDATE) "
													"UPDATE %s p SET qualifier = $3, region = $4, invocation_type = $5, "
													"payload = $6, callback = $7, callback_fn = $9, tenant_id = $10, "
													"durable_execution_name = CASE WHEN $16 "
													"THEN CAST(p.id AS pg_catalog.text) ELSE $11 END, "
													"next_attempt_at = $12, queued_xact = $13, max_attempts = $14 "
													"FROM old WHERE p.id OPERATOR(pg_catalog.=) old.id "
													"RETURNING p.id, old.queued_xact, old.next_attempt_at",
													queue_name, same_key, queue_name),
										   16, types, relid, pending);
		}
		insert_plan_relid = relid;
		insert_plan_pending = pending;
		insert_plan_callback_fn = has_callback_fn;
		insert_plan_v04 = has_v04;
		insert_plan_v05 = has_v05;
		strlcpy(insert_plan_name, queue_name, sizeof(insert_plan_name));
	}

	if (opts && opts->dedup_key)
		id = enqueue_dedup(values, nulls, opts->keep, parked, owner, relid, pending, cxt);
	else
	{
		if (execute_as_owner(insert_plan, values, nulls, owner, relid, pending) != SPI_OK_INSERT)
			elog(ERROR, "could not queue the invocation");
		if (parked)
			awl_queue_rewind_at_end(PG_UINT64_MAX, opts->run_at);
	}
	SPI_finish();

	awl_queue_wake_at_commit();
	return id;
}

/* Sends an Event at once, inside the statement (awslambda.async_mode = immediate). */
static text *
invoke_event_now(const char *function_name, const char *payload)
{
	AwlInvokeRequest req = {0};
	AwlInvokeResult res = {0};

	req.function_name = pg_server_to_any(function_name, strlen(function_name), PG_UTF8);
	req.invocation_type = "Event";
	req.payload = pg_server_to_any(payload, strlen(payload), PG_UTF8);
	req.payload_len = strlen(req.payload);
	awl_check_payload_size(req.invocation_type, req.payload_len);
	req.connect_timeout_ms = awl_connect_timeout_ms;
	req.request_timeout_ms = awl_request_timeout_ms;
	req.max_attempts = awl_max_attempts;
	awl_invoke(&req, &res);
	return res.request_id ? cstring_to_text(res.request_id) : NULL;
}

PG_FUNCTION_INFO_V1(awslambda_fn_async);

/*
 * awslambda_fn_async(fn_name text, fn_args text) RETURNS text
 *
 * Queues an invocation as awslambda.async_mode says (Event by default) and
 * returns its id; in immediate mode sends an Event now and returns Lambda's
 * request id.
 */
Datum
awslambda_fn_async(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *args = PG_GETARG_TEXT_PP(1);
	char	   *payload;
	pg_uuid_t  *id;

	awl_json_validate(VARDATA_ANY(args), VARSIZE_ANY_EXHDR(args), "fn_args");
	payload = text_to_cstring(args);

	if (awl_async_mode == AWL_ASYNC_IMMEDIATE)
	{
		text	   *request_id = invoke_event_now(name, payload);

		if (request_id == NULL)
			PG_RETURN_NULL();
		PG_RETURN_TEXT_P(request_id);
	}
	id = awl_enqueue(name, NULL, NULL,
					 awl_async_mode == AWL_ASYNC_REQUEST_RESPONSE ? "RequestResponse" : "Event",
					 payload, NULL, NULL, NULL, false, NULL);
	PG_RETURN_TEXT_P(cstring_to_text(DatumGetCString(DirectFunctionCall1(uuid_out,
																		 UUIDPGetDatum(id)))));
}

PG_FUNCTION_INFO_V1(awslambda_invoke_async);

/*
 * awslambda_invoke_async(function_name text, payload jsonb, invocation_type
 *		text DEFAULT 'Event', qualifier text, region text, callback text,
 *		tenant_id text, durable_execution_name text,
 *		durable_execution_name_from_id boolean DEFAULT false,
 *		run_at timestamptz, max_attempts int, dedup_key text,
 *		dedup_mode text DEFAULT 'replace')
 *		RETURNS uuid
 *
 * tenant_id and the durable execution's arguments came with 0.4.0, run_at
 * and the rest with 0.5.0; the older definitions work too.
 */
Datum
awslambda_invoke_async(PG_FUNCTION_ARGS)
{
	const char *type;
	bool		v04 = PG_NARGS() >= 9;
	bool		v05 = PG_NARGS() >= 13;
	QueueOptions opts = {0};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments \"function_name\", \"payload\" and \"invocation_type\" must not be null")));
	type = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(type, "Event") != 0 && strcmp(type, "RequestResponse") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for argument \"invocation_type\": \"%s\"", type),
				 errhint("Queued invocations are \"Event\" or \"RequestResponse\" (case matters).")));
	if (v05)
	{
		if (!PG_ARGISNULL(9))
		{
			opts.has_run_at = true;
			opts.run_at = PG_GETARG_TIMESTAMPTZ(9);
			if (TIMESTAMP_NOT_FINITE(opts.run_at))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("argument \"run_at\" must be a finite time")));
		}
		if (!PG_ARGISNULL(10))
		{
			opts.max_attempts = PG_GETARG_INT32(10);
			/* The range of awslambda.async_max_attempts. */
			if (opts.max_attempts < 1 || opts.max_attempts > 100)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("argument \"max_attempts\" must be between 1 and 100, not %d",
								opts.max_attempts)));
		}
		if (!PG_ARGISNULL(11))
		{
			opts.dedup_key = text_to_cstring(PG_GETARG_TEXT_PP(11));
			if (strlen(opts.dedup_key) > DEDUP_KEY_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("argument \"dedup_key\" is too long"),
						 errdetail("A dedup key has at most %d bytes; this one has %zu.",
								   DEDUP_KEY_MAX, strlen(opts.dedup_key))));
		}
		if (PG_ARGISNULL(12))
		{
			if (opts.dedup_key)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("argument \"dedup_mode\" must not be null")));
		}
		else
		{
			char	   *mode = text_to_cstring(PG_GETARG_TEXT_PP(12));

			if (strcmp(mode, "replace") != 0 && strcmp(mode, "keep") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for argument \"dedup_mode\": \"%s\"", mode),
						 errhint("It is \"replace\" (the new call's payload and settings win) or \"keep\" (the queued invocation stays as it is).")));
			opts.keep = strcmp(mode, "keep") == 0;
		}
	}

	PG_RETURN_UUID_P(awl_enqueue(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								 PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
								 PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
								 type,
								 JsonbToCString(NULL, &PG_GETARG_JSONB_P(1)->root, -1),
								 PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5)),
								 !v04 || PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6)),
								 !v04 || PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7)),
								 v04 && !PG_ARGISNULL(8) && PG_GETARG_BOOL(8),
								 v05 ? &opts : NULL));
}
