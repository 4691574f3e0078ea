/*-------------------------------------------------------------------------
 *
 * queue_check.c
 *	  An invocation about to be queued (queue.c's awl_enqueue), before its
 *	  row is written: the checks a call would make now under the caller's
 *	  settings, its callback resolved to a routine the caller may execute,
 *	  and its id.
 *
 * Calls invoke.h's checks and slots.c's awl_dispatcher_require; nothing
 * of the asynchronous side calls back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>

#include "catalog/pg_proc.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "dispatcher.h"
#include "queue.h"

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
Oid
awl_queue_resolve_callback(const char *name, Oid relid, char **qualified)
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

/*
 * A version 7 UUID: milliseconds since 1970 in the first 48 bits, then
 * random bits.  Ids of one moment sort together, so the primary key grows at
 * its right edge instead of touching random pages.
 */
pg_uuid_t *
awl_queue_new_id(void)
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
const char *
awl_queue_check_invocation(const char *function_name, const char *qualifier,
						   const char *region, const char *invocation_type,
						   const char *payload, const char *tenant_id,
						   const char *durable_execution_name, bool name_from_id)
{
	AwlInvokeRequest req = {0};
	const char *target_region;

	awl_dispatcher_require(true);
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
