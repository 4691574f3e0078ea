/*-------------------------------------------------------------------------
 *
 * awslambda.c
 *	  Module entry: settings and the SQL-callable functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "awslambda.h"
#include "credentials.h"
#include "dispatcher.h"
#include "http.h"
#include "queue.h"
#include "stats.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	awl_credentials_define_settings();
	awl_invoke_define_settings();
	awl_http_define_settings();

	awl_async_define_settings();
	awl_stats_define_settings(process_shared_preload_libraries_in_progress);
	awl_stats_init(process_shared_preload_libraries_in_progress);

	MarkGUCPrefixReserved("awslambda");

	/* The dispatcher: only when the postmaster itself loads the library. */
	if (process_shared_preload_libraries_in_progress)
	{
		awl_dispatcher_init();
	}

	/* The settings of Amazon RDS/Aurora's aws_lambda, for aws_lambda.invoke. */
	awl_rds_define_settings();

	/* The check that awslambda's statements on the queue name only the queue. */
	awl_queue_init();
}

/* Converts a text argument to a UTF-8 C string of known length. */
static char *
text_to_utf8(text *t, size_t *len)
{
	char	   *s = text_to_cstring(t);
	char	   *u = pg_server_to_any(s, strlen(s), PG_UTF8);

	*len = strlen(u);
	return u;
}

PG_FUNCTION_INFO_V1(awslambda_fn);

/*
 * awslambda_fn(fn_name text, fn_args text) RETURNS text
 *
 * Synchronous (RequestResponse) invocation; returns the function's payload
 * and raises the function's own error as SQLSTATE 38000.
 */
Datum
awslambda_fn(PG_FUNCTION_ARGS)
{
	text	   *args = PG_GETARG_TEXT_PP(1);
	AwlInvokeRequest req = {0};
	AwlInvokeResult res = {0};
	size_t		name_len;

	awl_json_validate(VARDATA_ANY(args), VARSIZE_ANY_EXHDR(args), "fn_args");

	req.function_name = text_to_utf8(PG_GETARG_TEXT_PP(0), &name_len);
	req.invocation_type = "RequestResponse";
	req.payload = text_to_utf8(args, &req.payload_len);
	awl_check_payload_size(req.invocation_type, req.payload_len);
	awl_invoke_request_defaults(&req);
	awl_invoke(&req, &res);

	if (res.function_error)
		awl_raise_function_error(req.function_name, &res);
	if (!awl_json_is_valid(res.payload, res.payload_len))
		awl_invoke_raise(awl_non_json_error(req.function_name, &res));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(res.payload, res.payload_len));
}

PG_FUNCTION_INFO_V1(awslambda_credentials);

/*
 * awslambda_credentials() RETURNS (source, access_key_id, has_session_token,
 *									 expiration, region)
 *
 * Which provider supplies the credentials calls would use now, without
 * secrets: the access key id is masked but for its last four characters.
 */
Datum
awslambda_credentials(PG_FUNCTION_ARGS)
{
	AwlCredentials cred;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	size_t		len;
	char	   *masked;
	const char *region;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	awl_credentials_get(&cred);

	len = strlen(cred.access_key_id);
	masked = palloc(len + 1);
	memset(masked, '*', len);
	masked[len] = '\0';
	if (len > 4)
		memcpy(masked + len - 4, cred.access_key_id + len - 4, 4);

	values[0] = CStringGetTextDatum(cred.source);
	values[1] = CStringGetTextDatum(masked);
	values[2] = BoolGetDatum(cred.session_token != NULL);
	if (cred.expiration == 0)
		nulls[3] = true;
	else
		values[3] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) cred.expiration));
	region = awl_default_region_or_null();
	if (region == NULL)
		nulls[4] = true;
	else
		values[4] = CStringGetTextDatum(region);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
