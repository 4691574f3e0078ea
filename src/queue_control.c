/*-------------------------------------------------------------------------
 *
 * queue_control.c
 *	  Steering queued invocations from SQL: awslambda_retry(),
 *	  awslambda_retry_failed(), awslambda_cancel(), and what the controls
 *	  share with the pauses of queue_pause.c (the queue's tables, running
 *	  a statement as their owner, function patterns, the end of the
 *	  transaction).
 *
 * Each control acts only on the invocations its caller may see through
 * awslambda_invocations' row-level security (those queued by a role the
 * caller is a member of; a superuser's, on all), and writes the queue's
 * tables as their owner, as queuing does, in the caller's transaction.
 *
 * A retried invocation moves from the finished table back into the pending
 * one with the id of the retrying transaction as its queued_xact, so the
 * dispatcher's claim cursor finds it as it finds a fresh one.  A cancel
 * moves a queued row into the finished table; it locks the row first, so
 * that the dispatcher's claim (FOR UPDATE SKIP LOCKED) and a cancel never
 * both take it.  A claim that skipped a row locked by a cancel (or a retry)
 * that is then rolled back has passed it, and a resume lets go rows the
 * claim passed while they were paused: both ask the dispatcher to start its
 * scans from the beginning once (awl_dispatcher_rescan).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "awslambda.h"
#include "dispatcher.h"
#include "parse.h"
#include "queue.h"
#include "queue_control.h"

#define PAUSED_TABLE	"awslambda_paused_functions"

/*
 * A pattern's length in bytes, at most (longer than any function name or
 * ARN): the dispatcher reads every pause before each claim.
 */
#define MAX_PATTERN_BYTES	256

/* This transaction locked queue rows (cancel, retry) or resumed a pattern. */
static bool touched_rows = false;
static bool resumed = false;
static bool callbacks_registered = false;

/*
 * The table of paused patterns beside queue_relid: a member of extension
 * awslambda owned by the queue table's owner, or InvalidOid (before 0.5.0,
 * or a table of that name that is not the extension's, which is ignored).
 */
Oid
awl_control_find_paused(Oid queue_relid)
{
	Oid			ext = get_extension_oid("awslambda", true);
	Oid			relid;

	if (!OidIsValid(ext) || !OidIsValid(queue_relid))
		return InvalidOid;
	relid = get_relname_relid(PAUSED_TABLE, get_rel_namespace(queue_relid));
	if (!OidIsValid(relid))
		return InvalidOid;
	if (getExtensionOfObject(RelationRelationId, relid) != ext ||
		awl_queue_owner(relid) != awl_queue_owner(queue_relid))
	{
		ereport(LOG,
				(errmsg("awslambda: ignoring table \"%s\": it is not a member of extension \"awslambda\" owned by its owner",
						PAUSED_TABLE)));
		return InvalidOid;
	}
	return relid;
}

/* The queue's tables; raises unless the extension is at 0.5.0 or later. */
void
awl_control_find_tables(AwlControlTables *t)
{
	t->queue = awl_queue_find(false);
	t->pending = awl_queue_find_pending(t->queue);
	t->paused = awl_control_find_paused(t->queue);
	t->owner = awl_queue_owner(t->queue);
	if (!OidIsValid(t->pending) || !OidIsValid(t->paused))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue controls need version 0.5.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));
}

/*
 * Runs one statement as the queue's owner (callers get no rights on the
 * tables), naming no relation but a and b (see awl_queue_guard_begin_pair).
 * In an SPI connection.  Returns SPI_processed.
 */
uint64
awl_control_run_as_owner(const AwlControlTables *t, Oid a, Oid b, const char *sql,
						 int expected, int nargs, Oid *types, Datum *values,
						 const char *nulls)
{
	int			rc = awl_queue_execute_as(t->owner, a, b, NULL, sql, nargs, types, values, nulls);

	if (rc != expected)
		elog(ERROR, "awslambda: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	return SPI_processed;
}

static void
control_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (touched_rows || resumed)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has retried, cancelled or resumed asynchronous invocations")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (resumed)
				awl_dispatcher_rescan(MyDatabaseId);
			touched_rows = resumed = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* Rows the dispatcher skipped while they were locked are queued again. */
			if (touched_rows)
				awl_dispatcher_rescan(MyDatabaseId);
			touched_rows = resumed = false;
			break;
		case XACT_EVENT_PREPARE:
			touched_rows = resumed = false;
			break;
		default:
			break;
	}
}

static void
control_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	/* A savepoint rolled back may have unlocked rows the dispatcher skipped. */
	if (event == SUBXACT_EVENT_ABORT_SUB && touched_rows)
		awl_dispatcher_rescan(MyDatabaseId);
}

void
awl_control_register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(control_xact_callback, NULL);
	RegisterSubXactCallback(control_subxact_callback, NULL);
	callbacks_registered = true;
}

void
awl_control_resumed(void)
{
	resumed = true;
}

/*
 * The column list of the queue table (every column, so that columns added
 * later travel too) and, in the same order, the expressions that fill them
 * from the rows of alias src, the columns named in names[] taking exprs[]
 * instead.  Appended to cols and sel.
 */
static void
moved_columns(Oid relid, const char *src, const char *const *names,
			  const char *const *exprs, int n, StringInfo cols, StringInfo sel)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;
	int			k;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);
		const char *expr = NULL;

		if (att->attisdropped)
			continue;
		for (k = 0; k < n; k++)
			if (strcmp(names[k], name) == 0)
				expr = exprs[k];
		if (cols->len > 0)
		{
			appendStringInfoString(cols, ", ");
			appendStringInfoString(sel, ", ");
		}
		appendStringInfoString(cols, quote_identifier(name));
		if (expr)
			appendStringInfoString(sel, expr);
		else
			appendStringInfo(sel, "%s.%s", src, quote_identifier(name));
	}
	table_close(rel, AccessShareLock);
}

/* Raises 22023 unless pattern is one pattern as awslambda.allowed_functions lists them. */
void
awl_control_check_pattern(const char *pattern)
{
	const char *p;

	if (*pattern == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function pattern must not be empty")));
	if (strlen(pattern) > MAX_PATTERN_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function pattern is too long"),
				 errdetail("A pattern has at most %d bytes.", MAX_PATTERN_BYTES)));
	for (p = pattern; *p; p++)
		if (*p == ',' || *p == ' ' || *p == '\t' || (unsigned char) *p < 0x20)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid function pattern \"%s\"", pattern),
					 errdetail("A pattern is one function name, partial ARN or ARN, with * and ? as wildcards, and no commas or white space.")));
}

/*
 * Whether pattern matches a function name as queued: one with a ':' the
 * name as given, others the bare function name (as flow.c and
 * awslambda.allowed_functions match).  *bare caches the bare name.
 */
bool
awl_control_pattern_matches(const char *pattern, const char *function_name, char **bare)
{
	if (strchr(pattern, ':'))
		return awl_glob_match(pattern, function_name);
	if (*bare == NULL)
	{
		AwlFunctionName parts;

		if (!awl_function_name_parse(function_name, strlen(function_name), &parts))
			return false;
		*bare = pnstrdup(parts.name, parts.name_len);
	}
	return awl_glob_match(pattern, *bare);
}

/* Raises what a call would (42501 for awslambda.allowed_functions) if it could not be sent now. */
static void
check_sendable(const char *function_name, const char *qualifier, const char *region,
			   const char *invocation_type)
{
	AwlInvokeRequest req = {0};

	req.function_name = pg_server_to_any(function_name, strlen(function_name), PG_UTF8);
	req.qualifier = qualifier;
	req.region = region;
	req.invocation_type = invocation_type;
	(void) awl_invoke_check(&req);
}

/* The uuid argument as text, for messages. */
static char *
uuid_text(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * Moves the failed invocations among ids (that the caller may see) back
 * into the pending table, queued afresh; returns how many.
 */
static uint64
move_back(const AwlControlTables *t, Datum ids)
{
	static const char *const names[] = {"status", "attempts", "next_attempt_at", "finished_at",
	"callback_done_at", "callback_error"};
	static const char *const exprs[] = {"'queued'", "0", "pg_catalog.now()", "NULL", "NULL", "NULL"};
	StringInfoData cols;
	StringInfoData sel;
	Oid			types[2] = {UUIDARRAYOID, OIDOID};
	Datum		values[2];
	uint64		n;

	initStringInfo(&cols);
	initStringInfo(&sel);
	moved_columns(t->queue, "m", names, exprs, lengthof(names), &cols, &sel);
	values[0] = ids;
	values[1] = ObjectIdGetDatum(GetUserId());
	touched_rows = true;
	n = awl_control_run_as_owner(t, t->queue, t->pending,
								 psprintf("WITH m AS (DELETE FROM ONLY %s q "
										  "WHERE q.id OPERATOR(pg_catalog.=) ANY ($1) "
										  "AND q.status OPERATOR(pg_catalog.=) 'failed' "
										  "AND pg_catalog.pg_has_role($2, q.invoked_by, 'MEMBER') RETURNING q.*) "
										  "INSERT INTO %s (%s) SELECT %s FROM m",
										  awl_queue_name(t->queue), awl_queue_name(t->pending),
										  cols.data, sel.data),
								 SPI_OK_INSERT, 2, types, values, NULL);
	if (n > 0)
		awl_dispatcher_wake_at_commit();
	return n;
}

PG_FUNCTION_INFO_V1(awslambda_retry);

/*
 * awslambda_retry(id uuid) RETURNS boolean
 *
 * Queues a failed invocation again: attempts start over, the outcome of the
 * last attempt stays in the row until the next one.  False when there is no
 * failed invocation of that id that the caller may see.  Refused (42501)
 * when awslambda.allowed_functions no longer allows its function.
 */
Datum
awslambda_retry(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);
	AwlControlTables t;
	Oid			types[2] = {UUIDOID, OIDOID};
	Datum		values[2];
	Datum		one;
	bool		retried = false;

	awl_dispatcher_require(false);
	awl_control_find_tables(&t);
	awl_control_register_callbacks();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = UUIDPGetDatum(id);
	values[1] = ObjectIdGetDatum(GetUserId());
	if (awl_control_run_as_owner(&t, t.queue, InvalidOid,
								 psprintf("SELECT function_name, qualifier, region, invocation_type FROM ONLY %s q "
										  "WHERE q.id OPERATOR(pg_catalog.=) $1 "
										  "AND q.status OPERATOR(pg_catalog.=) 'failed' "
										  "AND pg_catalog.pg_has_role($2, q.invoked_by, 'MEMBER')",
										  awl_queue_name(t.queue)),
								 SPI_OK_SELECT, 2, types, values, NULL) == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		check_sendable(SPI_getvalue(row, desc, 1), SPI_getvalue(row, desc, 2),
					   SPI_getvalue(row, desc, 3), SPI_getvalue(row, desc, 4));
		one = PointerGetDatum(construct_array(values, 1, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		retried = move_back(&t, one) == 1;
		if (retried)
			elog(DEBUG1, "awslambda: invocation %s queued again", uuid_text(id));
	}
	SPI_finish();
	PG_RETURN_BOOL(retried);
}

PG_FUNCTION_INFO_V1(awslambda_retry_failed);

/*
 * awslambda_retry_failed(function_pattern text DEFAULT '*', since
 *		timestamptz DEFAULT NULL) RETURNS bigint
 *
 * awslambda_retry for every failed invocation the caller may see of a
 * function matching the pattern that finished at or after since (NULL: any
 * time); returns how many were queued again.  If one of them is of a
 * function awslambda.allowed_functions does not allow, raises (42501) and
 * queues none.
 */
Datum
awslambda_retry_failed(PG_FUNCTION_ARGS)
{
	char	   *pattern;
	AwlControlTables t;
	Oid			types[2] = {OIDOID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	Datum	   *ids;
	int			nids = 0;
	uint64		n;
	uint64		i;
	int64		retried = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"function_pattern\" must not be null")));
	pattern = text_to_cstring(PG_GETARG_TEXT_PP(0));
	awl_control_check_pattern(pattern);
	awl_dispatcher_require(false);
	awl_control_find_tables(&t);
	awl_control_register_callbacks();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	n = awl_control_run_as_owner(&t, t.queue, InvalidOid,
								 psprintf("SELECT id, function_name, qualifier, region, invocation_type FROM ONLY %s q "
										  "WHERE q.status OPERATOR(pg_catalog.=) 'failed' "
										  "AND pg_catalog.pg_has_role($1, q.invoked_by, 'MEMBER') "
										  "AND ($2::pg_catalog.timestamptz IS NULL "
										  "OR q.finished_at OPERATOR(pg_catalog.>=) $2)",
										  awl_queue_name(t.queue)),
								 SPI_OK_SELECT, 2, types, values, nulls);
	ids = palloc(Max(n, 1) * sizeof(Datum));
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(row, desc, 2);
		char	   *bare = NULL;
		bool		isnull;

		if (!awl_control_pattern_matches(pattern, name, &bare))
			continue;
		check_sendable(name, SPI_getvalue(row, desc, 3), SPI_getvalue(row, desc, 4),
					   SPI_getvalue(row, desc, 5));
		ids[nids++] = SPI_getbinval(row, desc, 1, &isnull);
	}
	if (nids > 0)
		retried = (int64) move_back(&t, PointerGetDatum(construct_array(ids, nids, UUIDOID,
																		UUID_LEN, false,
																		TYPALIGN_CHAR)));
	SPI_finish();
	PG_RETURN_INT64(retried);
}

PG_FUNCTION_INFO_V1(awslambda_cancel);

/*
 * awslambda_cancel(id uuid) RETURNS boolean
 *
 * A queued invocation the caller may see, not claimed by the dispatcher,
 * becomes 'cancelled' (finished, its callback not run) and is never sent.
 * False when it was already claimed or finished, or is not there for the
 * caller.  The row is locked: a cancel and the dispatcher's claim never
 * both take it (the loser waits for, or skips, the winner).
 */
Datum
awslambda_cancel(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"status", "finished_at", "callback_done_at",
	"callback_error"};
	static const char *const exprs[] = {"'cancelled'", "pg_catalog.now()",
		"CASE WHEN c.callback IS NULL THEN NULL ELSE pg_catalog.now() END",
	"CASE WHEN c.callback IS NULL THEN NULL ELSE 'not run: the invocation was cancelled' END"};
	AwlControlTables t;
	StringInfoData cols;
	StringInfoData sel;
	Oid			types[2] = {UUIDOID, OIDOID};
	Datum		values[2];
	uint64		n;

	awl_control_find_tables(&t);
	awl_control_register_callbacks();
	initStringInfo(&cols);
	initStringInfo(&sel);
	moved_columns(t.queue, "c", names, exprs, lengthof(names), &cols, &sel);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = ObjectIdGetDatum(GetUserId());
	touched_rows = true;
	n = awl_control_run_as_owner(&t, t.queue, t.pending,
								 psprintf("WITH c AS (DELETE FROM ONLY %s p "
										  "WHERE p.id OPERATOR(pg_catalog.=) $1 "
										  "AND p.status OPERATOR(pg_catalog.=) 'queued' "
										  "AND pg_catalog.pg_has_role($2, p.invoked_by, 'MEMBER') RETURNING p.*) "
										  "INSERT INTO %s (%s) SELECT %s FROM c",
										  awl_queue_name(t.pending), awl_queue_name(t.queue),
										  cols.data, sel.data),
								 SPI_OK_INSERT, 2, types, values, NULL);
	SPI_finish();
	PG_RETURN_BOOL(n == 1);
}

