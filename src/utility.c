/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  The utility statements the dispatchers react to: a command that needs
 *	  a database without other connections (DROP DATABASE, CREATE DATABASE
 *	  ... TEMPLATE, ALTER DATABASE ... SET TABLESPACE or RENAME) first has
 *	  that database's dispatcher leave; COMMIT PREPARED and CREATE or ALTER
 *	  EXTENSION awslambda wake the dispatcher for invocations nobody woke
 *	  it for; COMMIT PREPARED and ROLLBACK PREPARED have it look at its
 *	  whole queue again.
 *
 * A ProcessUtility hook, installed by awl_dispatcher_init; it calls only
 * slots.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/syscache.h"

#include "dispatcher.h"

static ProcessUtility_hook_type prev_process_utility_hook = NULL;

/*
 * May the current role create databases (CREATEDB, or a superuser)?  Read
 * here: have_createdb_privilege() is exported only by later minor releases
 * (not by 15.18, for one).
 */
static bool
may_create_databases(void)
{
	HeapTuple	tup;
	bool		result = false;

	if (superuser())
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	return result;
}

/* A database by name, if the current role may run cmd on it (as PostgreSQL would check). */
static Oid
database_if_owner(const char *name)
{
	Oid			dboid = get_database_oid(name, true);

	return OidIsValid(dboid) && awl_database_ownercheck(dboid, GetUserId()) ? dboid : InvalidOid;
}

/* Does CREATE DATABASE ... TEMPLATE name pass PostgreSQL's permission checks? */
static Oid
template_if_allowed(const char *name)
{
	Oid			dboid;
	bool		istemplate = false;
	HeapTuple	tup;

	if (!may_create_databases())
		return InvalidOid;
	dboid = get_database_oid(name, true);
	if (!OidIsValid(dboid))
		return InvalidOid;
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (HeapTupleIsValid(tup))
	{
		istemplate = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
		ReleaseSysCache(tup);
	}
	return istemplate || awl_database_ownercheck(dboid, GetUserId()) ? dboid : InvalidOid;
}

/*
 * The database a utility statement needs without other connections, if
 * PostgreSQL would let this role run it here (top level, outside a
 * transaction block where it requires that): DROP DATABASE, CREATE DATABASE
 * ... TEMPLATE, ALTER DATABASE ... SET TABLESPACE, ALTER DATABASE ...
 * RENAME.  Nobody else makes a dispatcher leave.
 */
static Oid
database_to_leave(Node *stmt, ProcessUtilityContext context, bool *drop)
{
	bool		top = context == PROCESS_UTILITY_TOPLEVEL && !IsTransactionBlock() &&
		!IsSubTransaction();
	ListCell   *lc;

	*drop = false;
	if (IsA(stmt, DropdbStmt) && top)
	{
		*drop = true;
		return database_if_owner(((DropdbStmt *) stmt)->dbname);
	}
	if (IsA(stmt, CreatedbStmt) && top)
	{
		foreach(lc, ((CreatedbStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg)
				return template_if_allowed(defGetString(opt));
		}
		return InvalidOid;
	}
	if (IsA(stmt, AlterDatabaseStmt) && top)
	{
		foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
		{
			if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
				return database_if_owner(((AlterDatabaseStmt *) stmt)->dbname);
		}
		return InvalidOid;
	}
	if (IsA(stmt, RenameStmt) && ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE &&
		may_create_databases())
		return database_if_owner(((RenameStmt *) stmt)->subname);
	return InvalidOid;
}

/* Does this statement create or update extension awslambda? */
static bool
installs_awslambda(Node *stmt)
{
	return (IsA(stmt, CreateExtensionStmt) &&
			strcmp(((CreateExtensionStmt *) stmt)->extname, "awslambda") == 0) ||
		(IsA(stmt, AlterExtensionStmt) &&
		 strcmp(((AlterExtensionStmt *) stmt)->extname, "awslambda") == 0);
}

/*
 * The utility statements the dispatchers must react to: those that need a
 * database without other connections (its dispatcher leaves first and comes
 * back afterwards unless the database is gone), those after which a
 * database may have invocations that nobody was woken for (COMMIT PREPARED,
 * CREATE or ALTER EXTENSION awslambda).
 */
static void
dispatcher_process_utility(PlannedStmt *pstmt, const char *queryString,
						   bool readOnlyTree, ProcessUtilityContext context,
						   ParamListInfo params, QueryEnvironment *queryEnv,
						   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		drop;
	volatile Oid left = database_to_leave(stmt, context, &drop);

	if (OidIsValid(left))
		awl_dispatcher_stop(left, drop);
	PG_TRY();
	{
		if (prev_process_utility_hook)
			prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params,
									  queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		/* The database stays (other sessions, say): so does its dispatcher. */
		if (OidIsValid(left))
			awl_dispatcher_wake(left);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (OidIsValid(left) && !drop)
		awl_dispatcher_wake(left);

	/* Only once it worked: nobody else wakes a dispatcher by trying. */
	if (installs_awslambda(stmt))
		awl_dispatcher_wake_at_commit();

	/*
	 * The prepared transaction's invocations are committed now: wake for
	 * them.  Whether it committed or not, it may have queued invocations for
	 * later or held rows a claim passed (see awl_dispatcher_rewind_at_end):
	 * the dispatcher looks at the whole queue again.
	 */
	if (IsA(stmt, TransactionStmt) &&
		(((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED ||
		 ((TransactionStmt *) stmt)->kind == TRANS_STMT_ROLLBACK_PREPARED) &&
		OidIsValid(get_extension_oid("awslambda", true)))
	{
		awl_dispatcher_rewind(MyDatabaseId, 0, DT_NOBEGIN);
		if (((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED)
			awl_dispatcher_wake(MyDatabaseId);
	}
}

/* From awl_dispatcher_init, in the postmaster: installs the hook above. */
void
awl_utility_init(void)
{
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = dispatcher_process_utility;
}
