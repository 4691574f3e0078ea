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
 * From 0.5.0 on, an invocation may be queued for later (run_at: put aside
 * with queued_xact 0, found by its due time), with its own max_attempts,
 * or with a dedup key that replaces (or keeps) an unclaimed invocation of
 * the same role, function and key instead of queuing another one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/xid8.h"

#include "dispatcher.h"
#include "queue.h"
#include "queue_insert.h"

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

/* The per-invocation options of awslambda_invoke_async (0.5.0). */
typedef struct QueueOptions
{
	bool		has_run_at;
	TimestampTz run_at;			/* not sent before then */
	int			max_attempts;	/* 0: awslambda.async_max_attempts */
	const char *dedup_key;		/* NULL: none */
	bool		keep;			/* dedup_mode 'keep' (else 'replace') */
} QueueOptions;

/*
 * The columns of the queuing INSERT of 0.5.0, in the order of the parameters
 * below ($1 .. $15), and their types: the direct insert's (queue_insert.c).
 */
static const char *const insert_columns[] = {
	"id", "function_name", "qualifier", "region", "invocation_type", "payload", "callback",
	"invoked_by", "callback_fn", "tenant_id", "durable_execution_name", "next_attempt_at",
	"queued_xact", "max_attempts", "dedup_key"
};
static const Oid insert_types[] = {
	UUIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, OIDOID, TEXTOID,
	TEXTOID, TIMESTAMPTZOID, XID8OID, INT4OID, TEXTOID
};

/* The longest dedup_key, in bytes (it is part of a unique index's entries). */
#define DEDUP_KEY_MAX	1024

/* The parameters of the queuing statements: $1 .. $NUM_PARAMS. */
enum
{
	P_ID,
	P_FUNCTION_NAME,
	P_QUALIFIER,
	P_REGION,
	P_INVOCATION_TYPE,
	P_PAYLOAD,
	P_CALLBACK,
	P_INVOKED_BY,
	P_CALLBACK_FN,				/* 0.3.0 */
	P_TENANT_ID,				/* 0.4.0 */
	P_DURABLE_EXECUTION_NAME,
	P_NEXT_ATTEMPT_AT,			/* 0.5.0 */
	P_QUEUED_XACT,
	P_MAX_ATTEMPTS,
	P_DEDUP_KEY,
	P_NAME_FROM_ID,				/* only the dedup replace's */
	NUM_PARAMS
};

StaticAssertDecl(lengthof(insert_columns) == P_NAME_FROM_ID &&
				 lengthof(insert_types) == P_NAME_FROM_ID,
				 "insert_columns and insert_types name the parameters before P_NAME_FROM_ID");

/* SPI_prepare of a statement on the queue's tables alone (see awl_queue_guard_begin_pair). */
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

/* prepare_guarded, the plan kept for the backend's life. */
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
 * The INSERT for the queue's tables q as they are now (from 0.5.0 on with
 * the dedup key's statements too), prepared (and kept) again when they
 * changed since it was prepared.  SPI connected.
 */
static SPIPlanPtr
prepared_insert(const AwlQueueTables *q, bool has_callback_fn, bool has_v04, bool has_v05)
{
	Oid			relid = q->relid;
	Oid			pending = q->pending;
	const char *queue_name = q->insert_name;

	if (insert_plan == NULL || insert_plan_relid != relid || insert_plan_pending != pending ||
		insert_plan_callback_fn != has_callback_fn || insert_plan_v04 != has_v04 ||
		insert_plan_v05 != has_v05 || strcmp(insert_plan_name, queue_name) != 0)
	{
		Oid			types[NUM_PARAMS] = {UUIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			TEXTOID, OIDOID, OIDOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, XID8OID, INT4OID, TEXTOID,
		BOOLOID};

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

		forget_plan(&insert_plan);
		forget_plan(&dedup_insert_plan);
		forget_plan(&dedup_find_plan);
		forget_plan(&dedup_replace_plan);
		insert_plan = keep_plan(sql, has_v05 ? P_NAME_FROM_ID : has_v04 ? P_NEXT_ATTEMPT_AT :
								has_callback_fn ? P_TENANT_ID : P_CALLBACK_FN,
								types, relid, pending);
		if (has_v05)
		{
			dedup_insert_plan = keep_plan(psprintf("%s ON CONFLICT (invoked_by, function_name, dedup_key) "
												   "WHERE %s DO NOTHING RETURNING id", sql, same_key),
										  NUM_PARAMS, types, relid, pending);
			dedup_find_plan = keep_plan(psprintf("SELECT id FROM %s WHERE invoked_by OPERATOR(pg_catalog.=) $8 "
												 "AND function_name OPERATOR(pg_catalog.=) $2 "
												 "AND dedup_key OPERATOR(pg_catalog.=) $15 AND %s LIMIT 1",
												 queue_name, same_key),
										NUM_PARAMS, types, relid, pending);
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
										   NUM_PARAMS, types, relid, pending);
		}
		insert_plan_relid = relid;
		insert_plan_pending = pending;
		insert_plan_callback_fn = has_callback_fn;
		insert_plan_v04 = has_v04;
		insert_plan_v05 = has_v05;
		strlcpy(insert_plan_name, queue_name, sizeof(insert_plan_name));
	}
	return insert_plan;
}

/*
 * Runs one of the queuing statements as the queue table's owner (callers
 * get no right of their own on the queue); returns SPI's code.
 */
static int
execute_as_owner(const AwlQueueTables *q, SPIPlanPtr plan, Datum *values, const char *nulls)
{
	return awl_queue_execute_as(q->owner, q->relid, q->pending, plan, NULL, 0, NULL, values, nulls);
}

/* The uuid in column 1 of the first result row, copied into cxt. */
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
 * unclaimed and a new invocation is made.  parked: the new invocation is
 * put aside until its run_at.
 */
static pg_uuid_t *
enqueue_dedup(const AwlQueueTables *q, Datum *values, const char *nulls, bool keep, bool parked,
			  MemoryContext cxt)
{
	int			round;

	for (round = 0; round < 1000; round++)
	{
		int			rc;

		CHECK_FOR_INTERRUPTS();
		rc = execute_as_owner(q, keep ? dedup_find_plan : dedup_replace_plan, values, nulls);
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
					awl_dispatcher_rewind_at_end(PG_UINT64_MAX, old_due);
				else
					awl_dispatcher_rewind_at_end(U64FromFullTransactionId(old_x), DT_NOEND);
				if (parked)
					awl_dispatcher_rewind_at_end(PG_UINT64_MAX,
												 DatumGetTimestampTz(values[P_NEXT_ATTEMPT_AT]));
			}
			return id;
		}
		rc = execute_as_owner(q, dedup_insert_plan, values, nulls);
		if (rc != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not queue the invocation: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
		{
			if (parked)
				awl_dispatcher_rewind_at_end(PG_UINT64_MAX,
											 DatumGetTimestampTz(values[P_NEXT_ATTEMPT_AT]));
			return result_id(cxt);
		}
		/* Another transaction queued the key and committed: look again. */
	}
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not queue the invocation with dedup key \"%s\": it kept changing",
					TextDatumGetCString(values[P_DEDUP_KEY]))));
	return NULL;				/* keep the compiler quiet */
}

/*
 * Queues one invocation; returns its id.  The strings are in the server
 * encoding; payload is valid JSON.  tenant_id and durable_execution_name
 * (NULL: none) are checked here; name_from_id makes the invocation id the
 * durable execution name, so that a delivery repeated after a crash starts
 * no second execution.  opts (NULL: none) are awslambda_invoke_async's
 * options of 0.5.0.
 *
 * Long: the version checks and the filling of every parameter of the row,
 * in the statement's order, read best in one place (the row itself is
 * written by queue_insert.c or, failing that, the prepared INSERT).
 */
static pg_uuid_t *
awl_enqueue(const char *function_name, const char *qualifier, const char *region,
			const char *invocation_type, const char *payload, const char *callback,
			const char *tenant_id, const char *durable_execution_name, bool name_from_id,
			const QueueOptions *opts)
{
	const char *target_region;
	const AwlQueueTables *q;
	pg_uuid_t  *id;
	char	   *callback_name = NULL;
	Oid			callback_fn = InvalidOid;
	bool		has_callback_fn;
	bool		has_v04;
	bool		has_v05;
	bool		parked = false;
	SPIPlanPtr	plan;
	MemoryContext cxt = CurrentMemoryContext;
	Datum		values[NUM_PARAMS];
	char		nulls[NUM_PARAMS];
	bool		with_options = opts &&
		(opts->has_run_at || opts->max_attempts > 0 || opts->dedup_key);

	target_region = awl_queue_check_invocation(function_name, qualifier, region,
											   invocation_type, payload, tenant_id,
											   durable_execution_name, name_from_id);

	q = awl_queue_tables();
	/* A queue table from before 0.3.0 (the library was updated, the extension not yet). */
	has_callback_fn = q->has_callback_fn;
	if (callback && !has_callback_fn)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("callbacks need version 0.3.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));
	if (callback)
		callback_fn = awl_queue_resolve_callback(callback, q->relid, &callback_name);
	has_v04 = q->has_v04 && has_callback_fn;	/* 0.4.0 came after 0.3.0 */
	if ((tenant_id || durable_execution_name || name_from_id) && !has_v04)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tenant ids and durable execution names need version 0.4.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));
	has_v05 = q->has_v05 && has_v04;
	if (with_options && !has_v05)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run_at, max_attempts and dedup_key need version 0.5.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));

	id = awl_queue_new_id();
	if (name_from_id)
		durable_execution_name = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
	memset(values, 0, sizeof(values));
	memset(nulls, ' ', sizeof(nulls));
	values[P_ID] = UUIDPGetDatum(id);
	values[P_FUNCTION_NAME] = CStringGetTextDatum(function_name);
	values[P_QUALIFIER] = qualifier ? CStringGetTextDatum(qualifier) : (Datum) 0;
	nulls[P_QUALIFIER] = qualifier ? ' ' : 'n';
	values[P_REGION] = CStringGetTextDatum(target_region);
	values[P_INVOCATION_TYPE] = CStringGetTextDatum(invocation_type);
	values[P_PAYLOAD] = CStringGetTextDatum(payload);
	values[P_CALLBACK] = callback ? CStringGetTextDatum(callback_name) : (Datum) 0;
	nulls[P_CALLBACK] = callback ? ' ' : 'n';
	values[P_INVOKED_BY] = ObjectIdGetDatum(GetUserId());
	values[P_CALLBACK_FN] = ObjectIdGetDatum(callback_fn);
	nulls[P_CALLBACK_FN] = callback ? ' ' : 'n';
	values[P_TENANT_ID] = tenant_id ? CStringGetTextDatum(tenant_id) : (Datum) 0;
	nulls[P_TENANT_ID] = tenant_id ? ' ' : 'n';
	values[P_DURABLE_EXECUTION_NAME] = durable_execution_name ?
		CStringGetTextDatum(durable_execution_name) : (Datum) 0;
	nulls[P_DURABLE_EXECUTION_NAME] = durable_execution_name ? ' ' : 'n';
	if (has_v05)
	{
		/*
		 * Due later: put aside for the dispatcher to find by its due time
		 * (queued_xact 0), where it is told to look at the end of this
		 * transaction; else a fresh invocation of this transaction.
		 */
		parked = opts && opts->has_run_at && opts->run_at > GetCurrentTimestamp();
		values[P_NEXT_ATTEMPT_AT] = TimestampTzGetDatum(opts && opts->has_run_at ? opts->run_at
														: GetCurrentTransactionStartTimestamp());
		values[P_QUEUED_XACT] = FullTransactionIdGetDatum(parked ? FullTransactionIdFromU64(0)
														  : GetTopFullTransactionId());
		values[P_MAX_ATTEMPTS] = Int32GetDatum(opts ? opts->max_attempts : 0);
		nulls[P_MAX_ATTEMPTS] = opts && opts->max_attempts > 0 ? ' ' : 'n';
		values[P_DEDUP_KEY] = opts && opts->dedup_key ? CStringGetTextDatum(opts->dedup_key) : (Datum) 0;
		nulls[P_DEDUP_KEY] = opts && opts->dedup_key ? ' ' : 'n';
		values[P_NAME_FROM_ID] = BoolGetDatum(name_from_id);
	}

	if (opts && opts->dedup_key)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		(void) prepared_insert(q, has_callback_fn, has_v04, has_v05);
		id = enqueue_dedup(q, values, nulls, opts->keep, parked, cxt);
		SPI_finish();
	}
	else
	{
		/*
		 * The row without the executor when the table allows (0.5.0's
		 * columns: all of them given), else the kept INSERT.
		 */
		if (!has_v05 ||
			!awl_queue_insert_direct(q, P_NAME_FROM_ID, insert_columns, insert_types, values, nulls))
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			plan = prepared_insert(q, has_callback_fn, has_v04, has_v05);
			if (execute_as_owner(q, plan, values, nulls) != SPI_OK_INSERT)
				elog(ERROR, "could not queue the invocation");
			SPI_finish();
		}
		if (parked)
			awl_dispatcher_rewind_at_end(PG_UINT64_MAX, opts->run_at);
	}

	awl_dispatcher_wake_at_commit();
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
	awl_invoke_request_defaults(&req);
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

/*
 * The options of awslambda_invoke_async (arguments 9 to 12: run_at,
 * max_attempts, dedup_key, dedup_mode) into *opts, checked; raises 22023
 * (or 22004) for a value out of their range.
 */
static void
options_from_args(FunctionCallInfo fcinfo, QueueOptions *opts)
{
	if (!PG_ARGISNULL(9))
	{
		opts->has_run_at = true;
		opts->run_at = PG_GETARG_TIMESTAMPTZ(9);
		if (TIMESTAMP_NOT_FINITE(opts->run_at))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("argument \"run_at\" must be a finite time")));
	}
	if (!PG_ARGISNULL(10))
	{
		opts->max_attempts = PG_GETARG_INT32(10);
		/* The range of awslambda.async_max_attempts. */
		if (opts->max_attempts < 1 || opts->max_attempts > 100)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("argument \"max_attempts\" must be between 1 and 100, not %d",
							opts->max_attempts)));
	}
	if (!PG_ARGISNULL(11))
	{
		opts->dedup_key = text_to_cstring(PG_GETARG_TEXT_PP(11));
		if (strlen(opts->dedup_key) > DEDUP_KEY_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("argument \"dedup_key\" is too long"),
					 errdetail("A dedup key has at most %d bytes; this one has %zu.",
							   DEDUP_KEY_MAX, strlen(opts->dedup_key))));
	}
	if (PG_ARGISNULL(12))
	{
		if (opts->dedup_key)
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
		opts->keep = strcmp(mode, "keep") == 0;
	}
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
		options_from_args(fcinfo, &opts);

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
