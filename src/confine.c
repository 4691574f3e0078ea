/*-------------------------------------------------------------------------
 *
 * confine.c
 *	  The dispatcher runs as the bootstrap superuser.  Nothing a
 *	  non-superuser controls may steer that session, and user code it runs
 *	  (callbacks) runs with the rights and settings of the role that queued
 *	  the invocation, and leaves nothing behind.
 *
 * The dispatcher's own session:
 *	- search_path is pg_catalog, pg_temp for its whole life, set with the
 *	  highest priority a setting can have short of SET, so neither ALTER
 *	  DATABASE/ROLE ... SET nor a configuration reload changes it; its
 *	  statements qualify every function, operator and type besides;
 *	- a few settings that could stall or break it are fixed as autovacuum
 *	  fixes them (timeouts off, transaction_timeout too, read committed,
 *	  read-write, no SET ROLE);
 *	- awslambda's own settings and synchronous_commit are the server's
 *	  (postgresql.conf, ALTER SYSTEM, the command line): values that
 *	  per-database or per-role settings gave the session when it connected
 *	  are put back to what the postmaster had.
 *
 * A callback runs inside awl_confine_enter() / awl_confine_leave(): as its
 * role, under SECURITY_RESTRICTED_OPERATION (no SET ROLE, no temporary
 * tables, no WITH HOLD cursors, no LISTEN), in a GUC nest level of its own
 * in which the settings a new session of that role in this database would
 * have are applied (the server's values, then ALTER ROLE/DATABASE ... SET
 * read afresh from pg_db_role_setting), and which is undone afterwards,
 * whatever the callback SET.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_db_role_setting.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "confine.h"
#include "pg_compat.h"

/* What the dispatcher's statements resolve names in. */
#define DISPATCHER_SEARCH_PATH "pg_catalog, pg_temp"

/* Settings fixed for the dispatcher's session, whatever the server says. */
static const struct
{
	const char *name;
	const char *value;
}			fixed_settings[] = {
	{"search_path", DISPATCHER_SEARCH_PATH},
	{"statement_timeout", "0"},
	{"lock_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
#if PG_VERSION_NUM >= 170000
	/* Ends the process (FATAL), in a background worker too. */
	{"transaction_timeout", "0"},
#endif
	{"default_transaction_isolation", "read committed"},
	{"default_transaction_read_only", "off"},
	{"role", "none"},
	{"exit_on_error", "off"},

	/*
	 * Its statements find their rows by index.  A plan the plan cache made
	 * while the pending table was nearly empty (a sequential scan then costs
	 * nothing) would otherwise read the whole table for every batch once it
	 * has grown; callbacks get the server's value back.
	 */
	{"enable_seqscan", "off"},

	/*
	 * Before PostgreSQL 18 a disabled sequential scan that is still chosen
	 * (no index fits, as in the recovery's UPDATE) costs 1e10, far past
	 * jit_above_cost: without this, such a statement would be JIT-compiled,
	 * for milliseconds, every time it runs.  Callbacks get the server's value.
	 */
	{"jit", "off"},
};

/* A setting and the value the server gives it (before any per-database setting). */
typedef struct ServerSetting
{
	char	   *name;
	char	   *value;
} ServerSetting;

/* Captured before connecting: the server's values of the settings above and ours. */
static ServerSetting *captured = NULL;
static int	ncaptured = 0;

/*
 * Settings a callback's nest level starts from: the server's values of
 * those the dispatcher changed for itself.
 */
static ServerSetting *callback_base = NULL;
static int	ncallback_base = 0;

static bool
is_own_setting(const char *name)
{
	return strncmp(name, "awslambda.", 10) == 0 || strncmp(name, "aws_lambda.", 11) == 0;
}

/*
 * Settings the dispatcher's own session takes from the server, like its own:
 * awslambda's, and synchronous_commit, on which its promise that nothing
 * committed is lost (the claim's commit before a send, the outcome's) rests.
 */
static bool
is_server_valued(const char *name)
{
	return is_own_setting(name) || strcmp(name, "synchronous_commit") == 0;
}

static bool
is_fixed_setting(const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(fixed_settings); i++)
		if (strcmp(fixed_settings[i].name, name) == 0)
			return true;
	return false;
}

/* Every setting of the server, as PostgreSQL's GUC tables hold them. */
static struct config_generic **
all_settings(int *n)
{
	return awl_get_guc_variables(n);
}

static const char *
captured_value(const char *name)
{
	int			i;

	for (i = 0; i < ncaptured; i++)
		if (strcmp(captured[i].name, name) == 0)
			return captured[i].value;
	return NULL;
}

/*
 * Remembers the server's values of the fixed settings, awslambda's own and
 * every other one a session may change; called in the dispatcher before it
 * connects to its database, when its settings are still the postmaster's.
 */
void
awl_confine_capture(void)
{
	int			n;
	struct config_generic **vars = all_settings(&n);
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	int			i;

	captured = palloc0(n * sizeof(ServerSetting));
	for (i = 0; i < n; i++)
	{
		const char *name = vars[i]->name;
		const char *value;

		/* Ours, the fixed ones, and every one a session may change. */
		if (!is_own_setting(name) && !is_fixed_setting(name) &&
			vars[i]->context != PGC_SUSET && vars[i]->context != PGC_USERSET)
			continue;
		if (vars[i]->flags & GUC_CUSTOM_PLACEHOLDER)
			continue;
		value = GetConfigOption(name, true, false);
		captured[ncaptured].name = pstrdup(name);
		captured[ncaptured].value = pstrdup(value ? value : "");
		ncaptured++;
	}
	MemoryContextSwitchTo(old);
}

/*
 * Fixes the dispatcher's session after it connected: the fixed settings,
 * and awslambda's settings back to the server's where ALTER DATABASE/ROLE
 * ... SET (or a client) changed them.  Each is set with PGC_S_OVERRIDE,
 * which those sources and a reload cannot beat.
 */
void
awl_confine_session(void)
{
	int			n;
	struct config_generic **vars = all_settings(&n);
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	int			i;

	callback_base = palloc0((lengthof(fixed_settings) + n) * sizeof(ServerSetting));
	for (i = 0; i < (int) lengthof(fixed_settings); i++)
	{
		const char *server = captured_value(fixed_settings[i].name);

		SetConfigOption(fixed_settings[i].name, fixed_settings[i].value,
						PGC_SUSET, PGC_S_OVERRIDE);
		if (server && strcmp(fixed_settings[i].name, "role") != 0)
		{
			callback_base[ncallback_base].name = pstrdup(fixed_settings[i].name);
			callback_base[ncallback_base].value = pstrdup(server);
			ncallback_base++;
		}
	}
	for (i = 0; i < n; i++)
	{
		struct config_generic *var = vars[i];
		const char *server;

		if (!is_server_valued(var->name) ||
			var->source < PGC_S_GLOBAL || var->source > PGC_S_CLIENT ||
			(server = captured_value(var->name)) == NULL)
			continue;
		ereport(LOG,
				(errmsg("awslambda dispatcher: ignoring the per-database or per-role value of \"%s\"; the dispatcher uses the server's",
						var->name)));
		SetConfigOption(var->name, server, PGC_SUSET, PGC_S_OVERRIDE);
		callback_base[ncallback_base].name = pstrdup(var->name);
		callback_base[ncallback_base].value = pstrdup(server);
		ncallback_base++;
	}
	MemoryContextSwitchTo(old);
}

/*
 * Puts back the server's value of every setting that ALTER ROLE/DATABASE
 * ... SET gave the dispatcher's own session when it connected (the
 * bootstrap superuser's settings among them): a callback starts from the
 * server's values, then gets its own role's (apply_role_settings).
 */
static void
undo_connection_settings(void)
{
	int			n;
	struct config_generic **vars = all_settings(&n);
	int			i;

	for (i = 0; i < n; i++)
	{
		struct config_generic *var = vars[i];
		const char *server;

		if ((var->context != PGC_SUSET && var->context != PGC_USERSET) ||
			var->source < PGC_S_GLOBAL || var->source > PGC_S_CLIENT ||
			strcmp(var->name, "role") == 0 || strcmp(var->name, "session_authorization") == 0 ||
			(server = captured_value(var->name)) == NULL)
			continue;
		(void) set_config_option(var->name, server, PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, WARNING, false);
	}
}

/* Applies one pg_db_role_setting entry (an array of "name=value") in the current nest level. */
static void
apply_setting_array(Datum array)
{
	ArrayType  *a = DatumGetArrayTypeP(array);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	for (i = 0; i < nelems; i++)
	{
		char	   *s;
		char	   *name;
		char	   *value;

		if (nulls[i])
			continue;
		s = TextDatumGetCString(elems[i]);
		ParseLongOption(s, &name, &value);
		/* A session cannot SET these during a security-restricted operation. */
		if (value && strcmp(name, "role") != 0 && strcmp(name, "session_authorization") != 0)
			(void) set_config_option(name, value, PGC_SUSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, WARNING, false);
		pfree(s);
		awl_guc_free(name);
		if (value)
			awl_guc_free(value);
	}
}

/*
 * Applies the settings of ALTER ROLE/DATABASE ... SET that a new session of
 * role in this database would get, lowest precedence first: for all roles
 * and databases, this database, this role, this role in this database.
 */
static void
apply_role_settings(Oid role)
{
	const Oid	dbs[4] = {InvalidOid, MyDatabaseId, InvalidOid, MyDatabaseId};
	const Oid	roles[4] = {InvalidOid, InvalidOid, role, role};
	Relation	rel = table_open(DbRoleSettingRelationId, AccessShareLock);
	int			i;

	for (i = 0; i < 4; i++)
	{
		ScanKeyData keys[2];
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&keys[0], Anum_pg_db_role_setting_setdatabase, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(dbs[i]));
		ScanKeyInit(&keys[1], Anum_pg_db_role_setting_setrole, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(roles[i]));
		scan = systable_beginscan(rel, DbRoleSettingDatidRolidIndexId, true, NULL, 2, keys);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, Anum_pg_db_role_setting_setconfig,
										 RelationGetDescr(rel), &isnull);

			if (!isnull)
				apply_setting_array(d);
		}
		systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
}

/*
 * Starts running user code as role: switches to it under
 * SECURITY_RESTRICTED_OPERATION and opens a GUC nest level holding the
 * settings a session of that role in this database would have.  Must be
 * called inside a transaction; awl_confine_leave() (or the transaction's
 * abort) undoes all of it.
 */
void
awl_confine_enter(Oid role, AwlConfinement *c)
{
	int			i;

	GetUserIdAndSecContext(&c->save_user, &c->save_sec);
	SetUserIdAndSecContext(role, c->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	c->nest_level = NewGUCNestLevel();
	for (i = 0; i < ncallback_base; i++)
		(void) set_config_option(callback_base[i].name, callback_base[i].value,
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
								 WARNING, false);
	undo_connection_settings();
	apply_role_settings(role);
	/* Whatever the role's settings say, an error in a callback must not end the dispatcher. */
	(void) set_config_option("exit_on_error", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, WARNING, false);
#if PG_VERSION_NUM >= 170000
	/* Nor its time limit, which is awslambda.async_callback_timeout's. */
	(void) set_config_option("transaction_timeout", "0", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, WARNING, false);
#endif
}

/*
 * Ends what awl_confine_enter() began: every setting the user code changed
 * goes back, session-level advisory locks it took are released, and the
 * dispatcher's own user and security context return.
 */
void
awl_confine_leave(AwlConfinement *c)
{
	AtEOXact_GUC(false, c->nest_level);
	LockReleaseSession(USER_LOCKMETHOD);
	SetUserIdAndSecContext(c->save_user, c->save_sec);
}
