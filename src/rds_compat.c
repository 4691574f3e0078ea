/*-------------------------------------------------------------------------
 *
 * rds_compat.c
 *	  aws_lambda.invoke as Amazon RDS/Aurora PostgreSQL define it, and its
 *	  aws_lambda.* settings.
 *
 * The aws_lambda extension's four overloads land here: a text function
 * name with a region argument, or the aws_commons ARN type carrying its
 * own region; json or jsonb payload and context (the result has the
 * payload's type).  Timeouts and the endpoint come from the aws_lambda.*
 * settings defined here (awl_rds_define_settings), everything else from
 * the shared invoke path.  Unlike awslambda_invoke, and as RDS documents,
 * a function error is raised and log_result is left base64-encoded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "awslambda.h"
#include "endpoint.h"

/* The aws_lambda.* settings (awl_rds_define_settings). */
static char *rds_endpoint_override = NULL;
static int	rds_connect_timeout_ms = 1000;
static int	rds_request_timeout_ms = 3000;

enum
{
	OUT_STATUS_CODE,
	OUT_PAYLOAD,
	OUT_EXECUTED_VERSION,
	OUT_LOG_RESULT,
	NUM_OUT
};

/*
 * The URL an aws_lambda.endpoint_override value stands for: a URL as given,
 * or, as a VPC endpoint's DNS name is usually given, a bare host[:port],
 * which means https (palloc'd then).
 */
static const char *
endpoint_override_url(const char *value)
{
	return strstr(value, "://") ? value : psprintf("https://%s", value);
}

/* Check hook of aws_lambda.endpoint_override: empty, or an http(s) endpoint URL. */
static bool
check_endpoint_override(char **newval, void **extra, GucSource source)
{
	char	   *v = *newval;
	char	   *url;
	bool		ok;

	if (v == NULL || v[0] == '\0')
		return true;
	url = unconstify(char *, endpoint_override_url(v));
	ok = awl_check_url_setting(&url, extra, source);
	if (url != v)
		pfree(url);
	return ok;
}

void
awl_rds_define_settings(void)
{
	DefineCustomIntVariable("aws_lambda.connect_timeout_ms",
							"Sets the maximum time aws_lambda.invoke waits to connect to Lambda.",
							NULL,
							&rds_connect_timeout_ms,
							1000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("aws_lambda.request_timeout_ms",
							"Sets the maximum time aws_lambda.invoke waits for Lambda's reply.",
							NULL,
							&rds_request_timeout_ms,
							3000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("aws_lambda.endpoint_override",
							   "Sets the Lambda endpoint aws_lambda.invoke uses, such as a VPC endpoint.",
							   "A host name (https is implied) or an http(s) URL. Empty means awslambda.endpoint_url, then the regional endpoint.",
							   &rds_endpoint_override,
							   "",
							   PGC_SUSET,
							   0,
							   check_endpoint_override, NULL, NULL);

	MarkGUCPrefixReserved("aws_lambda");
}

/* A json or jsonb argument as UTF-8 JSON text. */
static char *
json_arg_utf8(FunctionCallInfo fcinfo, int argno, Oid type, size_t *len)
{
	char	   *s;

	if (type == JSONBOID)
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(argno);

		s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	else
		s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	s = pg_server_to_any(s, strlen(s), PG_UTF8);
	*len = strlen(s);
	return s;
}

/* A json or jsonb context argument as the jsonb the shared checks expect. */
static Jsonb *
context_arg(FunctionCallInfo fcinfo, int argno, Oid type)
{
	if (type == JSONBOID)
		return PG_GETARG_JSONB_P(argno);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(text_to_cstring(PG_GETARG_TEXT_PP(argno)))));
}

static const char *
text_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* aws_lambda.invoke's arguments, whichever overload carried them. */
typedef struct RdsInvokeArgs
{
	const char *function_name;
	const char *region;
	const char *invocation_type;
	const char *log_type;
	Jsonb	   *context;
	const char *qualifier;
} RdsInvokeArgs;

/* Reads invocation_type, log_type, context and qualifier from position first. */
static void
optional_args(FunctionCallInfo fcinfo, int first, Oid json_type, RdsInvokeArgs *a)
{
	a->invocation_type = text_arg(fcinfo, first);
	a->log_type = text_arg(fcinfo, first + 1);
	a->context = PG_ARGISNULL(first + 2) ? NULL : context_arg(fcinfo, first + 2, json_type);
	a->qualifier = text_arg(fcinfo, first + 3);
}

/* The common body: invoke, then build (status_code, payload, executed_version, log_result). */
static Datum
rds_invoke(FunctionCallInfo fcinfo, const RdsInvokeArgs *a)
{
	Oid			payload_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	AwlInvokeRequest req = {0};
	AwlInvokeResult res = {0};
	TupleDesc	tupdesc;
	Datum		values[NUM_OUT];
	bool		nulls[NUM_OUT] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (a->function_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"function_name\" must not be null")));

	req.function_name = pg_server_to_any(a->function_name, strlen(a->function_name), PG_UTF8);
	req.invocation_type = a->invocation_type ? a->invocation_type : "RequestResponse";
	awl_check_invocation_type(req.invocation_type);
	req.log_type = a->log_type ? a->log_type : "None";
	awl_check_log_type(req.log_type);
	if (a->qualifier)
	{
		awl_check_qualifier(req.function_name, a->qualifier);
		req.qualifier = pg_server_to_any(a->qualifier, strlen(a->qualifier), PG_UTF8);
	}
	if (a->context)
		req.client_context = awl_encode_client_context(a->context, "context");
	req.region = a->region;
	if (PG_ARGISNULL(1))
		req.payload = "";
	else
	{
		req.payload = json_arg_utf8(fcinfo, 1, payload_type, &req.payload_len);
		awl_check_payload_size(req.invocation_type, req.payload_len);
	}
	if (rds_endpoint_override && rds_endpoint_override[0])
		req.endpoint_url = endpoint_override_url(rds_endpoint_override);
	req.settings_prefix = "aws_lambda";
	awl_invoke_request_defaults(&req);
	req.connect_timeout_ms = rds_connect_timeout_ms;
	req.request_timeout_ms = rds_request_timeout_ms;

	awl_invoke(&req, &res);

	/* RDS raises a function's error, with this message and detail. */
	if (res.function_error)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("lambda invocation failed"),
				 errdetail_internal("\"%s\" returned error \"%s\", details: \"%s\".",
									a->function_name, res.function_error, res.payload)));

	values[OUT_STATUS_CODE] = Int32GetDatum(res.status_code);
	if (res.payload_len == 0)
		nulls[OUT_PAYLOAD] = true;
	else
	{
		if (!awl_json_is_valid(res.payload, res.payload_len))
			awl_invoke_raise(awl_non_json_error(req.function_name, &res));
		values[OUT_PAYLOAD] = payload_type == JSONBOID
			? DirectFunctionCall1(jsonb_in, CStringGetDatum(res.payload))
			: PointerGetDatum(cstring_to_text_with_len(res.payload, res.payload_len));
	}
	nulls[OUT_EXECUTED_VERSION] = (res.executed_version == NULL);
	if (res.executed_version)
		values[OUT_EXECUTED_VERSION] = CStringGetTextDatum(res.executed_version);
	/* As in RDS, the log tail stays base64 (decode(log_result, 'base64')). */
	nulls[OUT_LOG_RESULT] = (res.log_result == NULL);
	if (res.log_result)
		values[OUT_LOG_RESULT] = CStringGetTextDatum(res.log_result);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * Splits the text form of an aws_commons._lambda_function_arn_1 value,
 * "(name,region)", fields optionally double-quoted.  False if s is not one.
 */
static bool
parse_arn_literal(const char *s, char **name, char **region)
{
	StringInfoData field[2];
	const char *p = s;
	int			i;

	if (*p++ != '(')
		return false;
	for (i = 0; i < 2; i++)
	{
		bool		quoted = (*p == '"');
		bool		empty = true;

		initStringInfo(&field[i]);
		if (quoted)
			p++;
		while (*p && (quoted ? true : (*p != ',' && *p != ')')))
		{
			if (quoted && *p == '"')
			{
				if (p[1] != '"')
				{
					p++;
					break;
				}
				p++;
			}
			else if (*p == '\\' && p[1])
				p++;
			appendStringInfoChar(&field[i], *p++);
			empty = false;
		}
		if (quoted)
			empty = false;
		if (*p != (i == 0 ? ',' : ')'))
			return false;
		p++;
		if (i == 0)
			*name = empty ? NULL : field[0].data;
		else
			*region = empty ? NULL : field[1].data;
	}
	return *p == '\0';
}

PG_FUNCTION_INFO_V1(aws_lambda_invoke);

/*
 * aws_lambda.invoke(function_name text, payload, region, invocation_type, log_type, context, qualifier)
 *
 * AWS's guide passes an aws_commons ARN value kept in a psql variable,
 * :'arn', which is an untyped literal: PostgreSQL then picks this text
 * overload.  So a name in the ARN type's text form is taken apart, and its
 * remaining arguments read in the ARN overload's positions when the region
 * slot holds an invocation type (a region never looks like one).
 */
Datum
aws_lambda_invoke(PG_FUNCTION_ARGS)
{
	Oid			json_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	RdsInvokeArgs	a = {0};
	char	   *arn_name = NULL;
	char	   *arn_region = NULL;

	a.function_name = text_arg(fcinfo, 0);
	a.region = text_arg(fcinfo, 2);
	optional_args(fcinfo, 3, json_type, &a);
	if (a.function_name == NULL || a.function_name[0] != '(' ||
		!parse_arn_literal(a.function_name, &arn_name, &arn_region))
		return rds_invoke(fcinfo, &a);

	a.function_name = arn_name;
	if (a.region && (strcmp(a.region, "RequestResponse") == 0 ||
					 strcmp(a.region, "Event") == 0 || strcmp(a.region, "DryRun") == 0))
	{
		/*
		 * Positions of the ARN overload: (arn, payload, invocation_type,
		 * log_type, context).  Slots the caller left out hold this
		 * overload's defaults, which mean "not given" there.
		 */
		const char *log_slot = text_arg(fcinfo, 3);
		const char *context_slot = text_arg(fcinfo, 4);

		if (!PG_ARGISNULL(5) || !PG_ARGISNULL(6))
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_FUNCTION),
					 errmsg("cannot tell which aws_lambda.invoke arguments were meant"),
					 errhint("Cast the function name to aws_commons._lambda_function_arn_1 or pass arguments by name.")));
		a.invocation_type = a.region;
		a.region = arn_region;
		a.log_type = (log_slot && strcmp(log_slot, "RequestResponse") != 0) ? log_slot : NULL;
		a.context = (context_slot && strcmp(context_slot, "None") != 0)
			? DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(context_slot))) : NULL;
		a.qualifier = NULL;
		return rds_invoke(fcinfo, &a);
	}
	if (a.region && arn_region && strcmp(a.region, arn_region) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("region \"%s\" conflicts with the region \"%s\" of the function ARN value",
						a.region, arn_region)));
	if (a.region == NULL)
		a.region = arn_region;
	return rds_invoke(fcinfo, &a);
}

PG_FUNCTION_INFO_V1(aws_lambda_invoke_arn);

/* aws_lambda.invoke(function_name aws_commons._lambda_function_arn_1, payload, invocation_type, ...) */
Datum
aws_lambda_invoke_arn(PG_FUNCTION_ARGS)
{
	RdsInvokeArgs	a = {0};

	if (!PG_ARGISNULL(0))
	{
		HeapTupleHeader arn = PG_GETARG_HEAPTUPLEHEADER(0);
		bool		isnull;
		Datum		d;

		d = GetAttributeByName(arn, "function_name", &isnull);
		if (!isnull)
			a.function_name = TextDatumGetCString(d);
		d = GetAttributeByName(arn, "region", &isnull);
		if (!isnull)
			a.region = TextDatumGetCString(d);
	}
	optional_args(fcinfo, 2, get_fn_expr_argtype(fcinfo->flinfo, 1), &a);
	return rds_invoke(fcinfo, &a);
}
