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
#include "utils/uuid.h"
#include "utils/regproc.h"

#include "dispatcher.h"
#include "queue.h"

/* The INSERT, prepared once per backend (and again if the extension is re-created). */
static SPIPlanPtr insert_plan = NULL;
static Oid	insert_plan_relid = InvalidOid;
static Oid	insert_plan_pending = InvalidOid;
static bool insert_plan_callback_fn = false;
static bool insert_plan_v04 = false;
static char insert_plan_name[2 * NAMEDATALEN + 8];	/* the name it was planned with */

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

/*
 * The checks a call would make now, under this session's settings, of an
 * invocation about to be queued (see awl_enqueue); returns the region it
 * goes to.  Raises what the call would raise.
 */
static const char *
check_invocation(const char *function_name, const char *qualifier, const char *region,
				 const char *invocation_type, const char *payload,
				 const char *tenant_id, const char *durable_execution_name, bool name_from_id)
{
	AwlInvokeRequest req = {0};
	const char *target_region;

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
	return target_region;
}

/*
 * The INSERT for the queue's tables q as they are now, prepared (and kept)
 * again when they changed since it was prepared.  SPI connected.
 */
static SPIPlanPtr
prepared_insert(const AwlQueueTables *q, bool has_callback_fn, bool has_v04)
{
	Oid			relid = q->relid;
	Oid			pending = q->pending;
	const char *queue_name = q->insert_name;

	if (insert_plan == NULL || insert_plan_relid != relid || insert_plan_pending != pending ||
		insert_plan_callback_fn != has_callback_fn || insert_plan_v04 != has_v04 ||
		strcmp(insert_plan_name, queue_name) != 0)
	{
		Oid			types[11] = {UUIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, OIDOID, OIDOID, TEXTOID, TEXTOID};

		/*
		 * It runs as the table's owner: it names no function, operator or
		 * type that the caller's search_path could resolve.
		 */
		char	   *sql = psprintf("INSERT INTO %s (id, function_name, qualifier, region, "
								   "invocation_type, payload, callback, invoked_by%s%s) "
								   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8%s%s)",
								   queue_name,
								   has_callback_fn ? ", callback_fn" : "",
								   has_v04 ? ", tenant_id, durable_execution_name" : "",
								   has_callback_fn ? ", $9" : "",
								   has_v04 ? ", $10, $11" : "");
		SPIPlanPtr	plan = prepare_guarded(sql, has_v04 ? 11 : has_callback_fn ? 9 : 8,
										   types, relid, pending);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (insert_plan)
			SPI_freeplan(insert_plan);
		SPI_keepplan(plan);
		insert_plan = plan;
		insert_plan_relid = relid;
		insert_plan_pending = pending;
		insert_plan_callback_fn = has_callback_fn;
		insert_plan_v04 = has_v04;
		strlcpy(insert_plan_name, queue_name, sizeof(insert_plan_name));
	}
	return insert_plan;
}

/* Writes the row, as the queue table's owner: callers get no INSERT right of their own. */
static void
insert_row(const AwlQueueTables *q, SPIPlanPtr plan, Datum *values, const char *nulls)
{
	Oid			save_user;
	int			save_sec;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(q->owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	awl_queue_guard_begin_pair(q->relid, q->pending);
	PG_TRY();
	{
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not queue the invocation");
	}
	PG_FINALLY();
	{
		awl_queue_guard_end();
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
}

/*
 * Queues one invocation; returns its id.  The strings are in the server
 * encoding; payload is valid JSON.  tenant_id and durable_execution_name
 * (NULL: none) are checked here; name_from_id makes the invocation id the
 * durable execution name, so that a delivery repeated after a crash starts
 * no second execution.
 */
static pg_uuid_t *
awl_enqueue(const char *function_name, const char *qualifier, const char *region,
			const char *invocation_type, const char *payload, const char *callback,
			const char *tenant_id, const char *durable_execution_name, bool name_from_id)
{
	const char *target_region;
	const AwlQueueTables *q;
	pg_uuid_t  *id;
	char	   *callback_name = NULL;
	Oid			callback_fn = InvalidOid;
	bool		has_callback_fn;
	bool		has_v04;
	SPIPlanPtr	plan;
	Datum		values[11];
	char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	target_region = check_invocation(function_name, qualifier, region, invocation_type,
									 payload, tenant_id, durable_execution_name, name_from_id);

	q = awl_queue_tables();
	/* A queue table from before 0.3.0 (the library was updated, the extension not yet). */
	has_callback_fn = q->has_callback_fn;
	if (callback && !has_callback_fn)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("callbacks need version 0.3.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));
	if (callback)
		callback_fn = resolve_callback(callback, q->relid, &callback_name);
	has_v04 = q->has_v04 && has_callback_fn;	/* 0.4.0 came after 0.3.0 */
	if ((tenant_id || durable_execution_name || name_from_id) && !has_v04)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tenant ids and durable execution names need version 0.4.0 of extension \"awslambda\""),
				 errhint("Run ALTER EXTENSION awslambda UPDATE.")));

	id = new_invocation_id();
	if (name_from_id)
		durable_execution_name = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
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

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = prepared_insert(q, has_callback_fn, has_v04);
	insert_row(q, plan, values, nulls);
	SPI_finish();

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
					 payload, NULL, NULL, NULL, false);
	PG_RETURN_TEXT_P(cstring_to_text(DatumGetCString(DirectFunctionCall1(uuid_out,
																		 UUIDPGetDatum(id)))));
}

PG_FUNCTION_INFO_V1(awslambda_invoke_async);

/*
 * awslambda_invoke_async(function_name text, payload jsonb, invocation_type
 *		text DEFAULT 'Event', qualifier text, region text, callback text,
 *		tenant_id text, durable_execution_name text,
 *		durable_execution_name_from_id boolean DEFAULT false)
 *		RETURNS uuid
 *
 * The last three arguments came with 0.4.0; the older definition works too.
 */
Datum
awslambda_invoke_async(PG_FUNCTION_ARGS)
{
	const char *type;
	bool		v04 = PG_NARGS() >= 9;

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

	PG_RETURN_UUID_P(awl_enqueue(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								 PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
								 PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
								 type,
								 JsonbToCString(NULL, &PG_GETARG_JSONB_P(1)->root, -1),
								 PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5)),
								 !v04 || PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6)),
								 !v04 || PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7)),
								 v04 && !PG_ARGISNULL(8) && PG_GETARG_BOOL(8)));
}
