/*-------------------------------------------------------------------------
 *
 * queue_pause.c
 *	  Pausing functions of the queue: awslambda_pause(), awslambda_resume(),
 *	  awslambda_invocation_paused(), and the pauses as the dispatcher's
 *	  claim (awl_control_load_pauses, awl_control_paused) and
 *	  awslambda_queue_stats see them.
 *
 * A pause is a row of awslambda_paused_functions: a function pattern (as
 * awslambda.allowed_functions writes them) and the role that paused it.
 * The claim leaves queued the invocations it holds back of the roles the
 * pausing role is a member of (a superuser's: of every role).  The pauses
 * are written as the controls write (queue_control.c: the queue's tables,
 * as their owner, in the caller's transaction); a resume makes the
 * dispatcher look at its whole queue again at commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "queue.h"
#include "queue_control.h"

/*
 * How many patterns one role may have paused, since the dispatcher reads
 * every pause before each claim.
 */
#define MAX_PAUSES_PER_ROLE	100

/* One paused pattern, as the last load found it. */
typedef struct Pause
{
	char	   *pattern;
	Oid			role;			/* who paused it */
	bool		super;			/* a superuser: every role's invocations */
} Pause;

static MemoryContext pause_cxt = NULL;
static Pause *pauses = NULL;
static int	npauses = 0;

/* What awslambda_invocation_paused loaded last: valid for one command. */
static TimestampTz loaded_xact_start = 0;
static TimestampTz loaded_stmt_start = 0;
static CommandId loaded_cid = InvalidCommandId;

/* Reads the rows of table paused (as owner) into pauses[] (in pause_cxt). */
static void
read_pauses(Oid paused, Oid owner)
{
	AwlControlTables t = {0};
	MemoryContext old;
	uint64		n;
	uint64		i;

	t.owner = owner;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = awl_control_run_as_owner(&t, paused, InvalidOid,
								 psprintf("SELECT function_pattern, paused_by FROM %s", awl_queue_name(paused)),
								 SPI_OK_SELECT, 0, NULL, NULL, NULL);
	old = MemoryContextSwitchTo(pause_cxt);
	pauses = palloc0(Max(n, 1) * sizeof(Pause));
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Pause	   *p = &pauses[npauses++];

		p->pattern = pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		p->role = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
												 &isnull));
		p->super = superuser_arg(p->role);
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
}

/* Whether pauses[] (as loaded) has p, by the same role with the same reach. */
static bool
has_pause(const Pause *p)
{
	int			i;

	for (i = 0; i < npauses; i++)
		if (pauses[i].role == p->role && pauses[i].super == p->super &&
			strcmp(pauses[i].pattern, p->pattern) == 0)
			return true;
	return false;
}

/*
 * Reads the paused patterns of table paused (as owner) into pauses[];
 * returns whether one of those loaded before is gone or reaches less (its
 * role no longer a superuser).
 */
static bool
load_pauses(Oid paused, Oid owner)
{
	MemoryContext before = pause_cxt;
	Pause	   *before_pauses = pauses;
	int			nbefore = npauses;
	bool		released = false;
	int			i;

	pause_cxt = AllocSetContextCreate(TopMemoryContext, "awslambda pauses",
									  ALLOCSET_SMALL_SIZES);
	pauses = NULL;
	npauses = 0;
	PG_TRY();
	{
		if (OidIsValid(paused))
		{
			/* Dropped meanwhile (DROP EXTENSION): no pauses. */
			LockRelationOid(paused, AccessShareLock);
			if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(paused)))
				UnlockRelationOid(paused, AccessShareLock);
			else
				read_pauses(paused, owner);
		}
	}
	PG_CATCH();
	{
		/* The previous load stays, nothing leaks. */
		MemoryContextDelete(pause_cxt);
		pause_cxt = before;
		pauses = before_pauses;
		npauses = nbefore;
		PG_RE_THROW();
	}
	PG_END_TRY();
	for (i = 0; i < nbefore && !released; i++)
		released = !has_pause(&before_pauses[i]);
	if (before)
		MemoryContextDelete(before);
	return released;
}

bool
awl_control_load_pauses(Oid queue_relid, bool *released)
{
	Oid			paused;

	/*
	 * A transaction of its own: the claim's transaction then holds no lock
	 * on the pauses' table while it locks the queue's, the other way round
	 * from DROP EXTENSION (which would deadlock with it).
	 */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	paused = OidIsValid(queue_relid) && get_rel_name(queue_relid) ? awl_control_find_paused(queue_relid) : InvalidOid;
	*released = load_pauses(paused, OidIsValid(paused) ? awl_queue_owner(paused) : InvalidOid);
	PopActiveSnapshot();
	CommitTransactionCommand();
	loaded_cid = InvalidCommandId;	/* not a statement's view of them */
	return npauses > 0;
}

bool
awl_control_paused(const char *function_name, Oid invoked_by)
{
	char	   *bare = NULL;
	bool		paused = false;
	int			i;

	for (i = 0; i < npauses && !paused; i++)
		paused = awl_control_pattern_matches(pauses[i].pattern, function_name, &bare) &&
			(pauses[i].super || is_member_of_role(pauses[i].role, invoked_by));
	if (bare)
		pfree(bare);
	return paused;
}

PG_FUNCTION_INFO_V1(awslambda_pause);

/*
 * awslambda_pause(function_pattern text) RETURNS boolean
 *
 * From the next claim on, the dispatcher leaves queued invocations of
 * matching functions that the caller may see queued (new ones are still
 * accepted); what it claimed already is sent.  False if the caller had
 * paused that pattern already.
 */
Datum
awslambda_pause(PG_FUNCTION_ARGS)
{
	char	   *pattern = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AwlControlTables t;
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	uint64		n;

	awl_control_check_pattern(pattern);
	awl_control_find_tables(&t);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(pattern);
	values[1] = ObjectIdGetDatum(GetUserId());
	(void) awl_control_run_as_owner(&t, t.paused, InvalidOid,
									psprintf("SELECT pg_catalog.count(*) FROM %s p "
											 "WHERE p.paused_by OPERATOR(pg_catalog.=) $2 "
											 "AND p.function_pattern OPERATOR(pg_catalog.<>) $1",
											 awl_queue_name(t.paused)),
									SPI_OK_SELECT, 2, types, values, NULL);
	{
		bool		isnull;
		int64		others = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));

		if (others >= MAX_PAUSES_PER_ROLE)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("role \"%s\" has paused %d function patterns already",
							GetUserNameFromId(GetUserId(), false), MAX_PAUSES_PER_ROLE),
					 errhint("Resume one with awslambda_resume(), or pause a pattern that covers several.")));
	}
	n = awl_control_run_as_owner(&t, t.paused, InvalidOid,
								 psprintf("INSERT INTO %s (function_pattern, paused_by) VALUES ($1, $2) "
										  "ON CONFLICT DO NOTHING", awl_queue_name(t.paused)),
								 SPI_OK_INSERT, 2, types, values, NULL);
	SPI_finish();
	PG_RETURN_BOOL(n == 1);
}

PG_FUNCTION_INFO_V1(awslambda_resume);

/*
 * awslambda_resume(function_pattern text) RETURNS boolean
 *
 * Removes the pauses of exactly this pattern that the caller may see (its
 * own and those of roles it is a member of; a superuser: all); at commit
 * the dispatcher looks at its whole queue again, so what they held back is
 * sent promptly.  False if there was none.
 */
Datum
awslambda_resume(PG_FUNCTION_ARGS)
{
	char	   *pattern = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AwlControlTables t;
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	uint64		n;

	awl_control_find_tables(&t);
	awl_control_register_callbacks();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(pattern);
	values[1] = ObjectIdGetDatum(GetUserId());
	n = awl_control_run_as_owner(&t, t.paused, InvalidOid,
								 psprintf("DELETE FROM %s p WHERE p.function_pattern OPERATOR(pg_catalog.=) $1 "
										  "AND pg_catalog.pg_has_role($2, p.paused_by, 'MEMBER')",
										  awl_queue_name(t.paused)),
								 SPI_OK_DELETE, 2, types, values, NULL);
	SPI_finish();
	if (n > 0)
		awl_control_resumed();
	PG_RETURN_BOOL(n > 0);
}

PG_FUNCTION_INFO_V1(awslambda_invocation_paused);

/*
 * awslambda_invocation_paused(function_name text, invoked_by oid) RETURNS
 * boolean
 *
 * Whether a pause holds back queued invocations of function_name queued by
 * invoked_by; NULL when the caller may not see that role's invocations
 * (nothing is told about pauses of others').  The pauses are read once per
 * command.
 */
Datum
awslambda_invocation_paused(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			role = PG_GETARG_OID(1);
	TimestampTz xact_start = GetCurrentTransactionStartTimestamp();
	TimestampTz stmt_start = GetCurrentStatementStartTimestamp();
	CommandId	cid = GetCurrentCommandId(false);

	if (!is_member_of_role(GetUserId(), role))
		PG_RETURN_NULL();
	if (loaded_cid == InvalidCommandId || loaded_cid != cid ||
		loaded_xact_start != xact_start || loaded_stmt_start != stmt_start)
	{
		Oid			paused = awl_control_find_paused(awl_queue_find(false));

		(void) load_pauses(paused, OidIsValid(paused) ? awl_queue_owner(paused) : InvalidOid);
		loaded_xact_start = xact_start;
		loaded_stmt_start = stmt_start;
		loaded_cid = cid;
	}
	PG_RETURN_BOOL(awl_control_paused(name, role));
}
