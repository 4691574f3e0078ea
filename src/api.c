/*-------------------------------------------------------------------------
 *
 * api.c
 *	  The rich SQL API: awslambda_invoke() and the fan-out
 *	  awslambda_invoke_many().
 *
 * Both check their arguments the way Lambda would before anything is sent,
 * return a function error as data rather than raising it, and turn the
 * reply's headers into columns (the log tail decoded).  Fan-out keeps each
 * item's transport or API error in its row unless asked to fail fast.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "awslambda.h"

/* Lambda's request payload limits (bytes): synchronous, and Event (since 2025). */
#define MAX_SYNC_PAYLOAD	6291456
#define MAX_EVENT_PAYLOAD	1048576

/* Lambda's limit for X-Amz-Client-Context, counted in base64 bytes. */
#define MAX_CLIENT_CONTEXT	3583

/* Result columns shared by awslambda_invoke and awslambda_invoke_many. */
enum
{
	COL_STATUS_CODE,
	COL_PAYLOAD,
	COL_FUNCTION_ERROR,
	COL_EXECUTED_VERSION,
	COL_LOG_RESULT,
	COL_REQUEST_ID,
	COL_DURABLE_EXECUTION_ARN,	/* from 0.4.0 on; see invoke_columns_in() */
	NUM_INVOKE_COLS
};

/* Columns of awslambda_invoke_many after the invoke columns (the errors). */
#define NUM_MANY_EXTRA_COLS 3

/* Server-encoded text to a palloc'd UTF-8 string. */
static char *
to_utf8(const char *s, size_t *len)
{
	char	   *u = pg_server_to_any(s, strlen(s), PG_UTF8);

	if (len)
		*len = strlen(u);
	return u;
}

/* A jsonb value as UTF-8 JSON text. */
static char *
jsonb_to_utf8(Jsonb *jb, size_t *len)
{
	return to_utf8(JsonbToCString(NULL, &jb->root, VARSIZE(jb)), len);
}

static char *
required_text(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static const char *
optional_text(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* Checks a value against Lambda's (case-sensitive) enumeration. */
static void
check_choice(const char *value, const char *argname, const char *const *choices, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(value, choices[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for argument \"%s\": \"%s\"", argname, value),
			 n == 3 ? errhint("Valid values are \"%s\", \"%s\" and \"%s\" (case matters).",
							  choices[0], choices[1], choices[2])
			 : errhint("Valid values are \"%s\" and \"%s\" (case matters).",
					   choices[0], choices[1])));
}

size_t
awl_payload_limit(const char *invocation_type)
{
	return strcmp(invocation_type, "Event") == 0 ? MAX_EVENT_PAYLOAD : MAX_SYNC_PAYLOAD;
}

AwlInvokeError *
awl_payload_size_error(const char *invocation_type, size_t len)
{
	size_t		limit = awl_payload_limit(invocation_type);
	AwlInvokeError *err;

	if (len <= limit)
		return NULL;
	err = palloc0(sizeof(AwlInvokeError));
	err->sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
	err->message = psprintf("payload is too large for a Lambda %s invocation", invocation_type);
	err->detail = psprintf("The payload has %zu bytes in UTF-8; Lambda accepts at most %zu bytes for %s invocations.",
						   len, limit, invocation_type);
	return err;
}

/*
 * Refuses a payload (len bytes in UTF-8) over Lambda's limit for the
 * invocation type: 1 MB for Event, 6 MB otherwise.
 */
void
awl_check_payload_size(const char *invocation_type, size_t len)
{
	if (len > awl_payload_limit(invocation_type))
		awl_invoke_raise(awl_payload_size_error(invocation_type, len));
}

/* Is every byte of s one of these ASCII characters? (Never a multibyte one.) */
static bool
only_chars(const char *s, size_t len, const char *allowed)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c != '\0' && strchr(allowed, c) != NULL)))
			return false;
	}
	return true;
}

void
awl_check_tenant_id(const char *value)
{
	size_t		len = strlen(value);

	if (len < 1 || len > 256 || !only_chars(value, len, "._:/=+-@ ") ||
		value[0] == ' ' || value[len - 1] == ' ')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid tenant id \"%s\"", value),
				 errdetail("A tenant id has 1 to 256 characters: letters, digits, spaces and . _ : / = + - @; it does not begin or end with a space.")));
}

void
awl_check_durable_execution_name(const char *value)
{
	size_t		len = strlen(value);

	if (len < 1 || len > 64 || !only_chars(value, len, "_-"))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid durable execution name \"%s\"", value),
				 errdetail("A durable execution name has 1 to 64 characters: letters, digits, '_' and '-'.")));
}

void
awl_check_invocation_type(const char *value)
{
	static const char *const choices[] = {"RequestResponse", "Event", "DryRun"};

	check_choice(value, "invocation_type", choices, lengthof(choices));
}

void
awl_check_log_type(const char *value)
{
	static const char *const choices[] = {"None", "Tail"};

	check_choice(value, "log_type", choices, lengthof(choices));
}


void
awl_check_qualifier(const char *function_name, const char *qualifier)
{
	AwlFunctionName parts;

	if (!awl_qualifier_ok(qualifier, strlen(qualifier)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Lambda qualifier \"%s\"", qualifier),
				 errdetail("A qualifier is a version number, an alias, $LATEST or $LATEST.PUBLISHED, with 1 to %d characters.",
						   AWL_MAX_QUALIFIER)));
	awl_parse_function_name(function_name, &parts);
	if (parts.qualifier && (parts.qualifier_len != strlen(qualifier) ||
							strncmp(parts.qualifier, qualifier, parts.qualifier_len) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("qualifier \"%s\" conflicts with the qualifier \"%.*s\" in function name \"%s\"",
						qualifier, (int) parts.qualifier_len, parts.qualifier, function_name)));
}

/* A client context: a JSON object, sent base64-encoded within Lambda's limit. */
const char *
awl_encode_client_context(Jsonb *cc, const char *argname)
{
	size_t		len;
	char	   *json;
	int			enclen;
	char	   *b64;

	if (!JB_ROOT_IS_OBJECT(cc) || JB_ROOT_IS_SCALAR(cc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be a JSON object", argname),
				 errhint("Lambda hands the object's \"custom\", \"env\" and \"client\" members to the function.")));
	json = jsonb_to_utf8(cc, &len);
	enclen = 4 * (((int) len + 2) / 3);	/* exactly; pg_b64_enc_len() overestimates before 17 */
	if (enclen > MAX_CLIENT_CONTEXT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" is too large", argname),
				 errdetail("Encoded in base64 it has %d bytes; Lambda accepts at most %d.",
						   enclen, MAX_CLIENT_CONTEXT)));
	b64 = palloc(enclen + 1);
	enclen = awl_b64_encode(json, (int) len, b64, enclen);
	if (enclen < 0)
		elog(ERROR, "could not encode the client context");
	b64[enclen] = '\0';
	return b64;
}

/*
 * Fills the parts of a request common to every item from the arguments
 * (function_name, -, invocation_type, qualifier, log_type, client_context,
 * region, and tenant_id, durable_execution_name at tenant_argno), checked
 * as Lambda would check them.
 */
static void
request_from_args(FunctionCallInfo fcinfo, AwlInvokeRequest *req, int tenant_argno)
{
	char	   *name = required_text(fcinfo, 0, "function_name");

	memset(req, 0, sizeof(*req));
	req->function_name = to_utf8(name, NULL);
	req->invocation_type = required_text(fcinfo, 2, "invocation_type");
	awl_check_invocation_type(req->invocation_type);
	req->qualifier = optional_text(fcinfo, 3);
	if (req->qualifier)
	{
		awl_check_qualifier(req->function_name, req->qualifier);
		req->qualifier = to_utf8(req->qualifier, NULL);
	}
	req->log_type = optional_text(fcinfo, 4);
	if (req->log_type)
		awl_check_log_type(req->log_type);
	if (!PG_ARGISNULL(5))
		req->client_context = awl_encode_client_context(PG_GETARG_JSONB_P(5), "client_context");
	req->region = optional_text(fcinfo, 6);
	/* tenant_id and durable_execution_name: from 0.4.0's definitions on */
	if (PG_NARGS() > tenant_argno + 1)
	{
		req->tenant_id = optional_text(fcinfo, tenant_argno);
		if (req->tenant_id)
			awl_check_tenant_id(req->tenant_id);
		req->durable_execution_name = optional_text(fcinfo, tenant_argno + 1);
		if (req->durable_execution_name)
			awl_check_durable_execution_name(req->durable_execution_name);
	}
	awl_invoke_request_defaults(req);
}

static void
set_payload(AwlInvokeRequest *req, Jsonb *payload)
{
	if (payload == NULL)
	{
		req->payload = "";
		req->payload_len = 0;
	}
	else
		req->payload = jsonb_to_utf8(payload, &req->payload_len);
}

/* The log tail: base64 of the last 4 KB, which may start mid-character. */
static Datum
decode_log_result(const char *b64)
{
	int			len = (int) strlen(b64);
	char	   *raw = palloc(pg_b64_dec_len(len) + 1);
	int			n = awl_b64_decode(b64, len, raw, pg_b64_dec_len(len));
	char	   *s = raw;

	if (n < 0)
		return CStringGetTextDatum(b64);	/* not base64: show it as sent */
	raw[n] = '\0';
	while (n > 0 && ((unsigned char) *s & 0xC0) == 0x80)
	{
		s++;
		n--;
	}
	n = pg_encoding_verifymbstr(PG_UTF8, s, n);	/* keep the valid prefix */
	return PointerGetDatum(cstring_to_text(pg_any_to_server(s, n, PG_UTF8)));
}

/* Payload text to jsonb; an empty body (Event, DryRun) is NULL. */
static bool
payload_datum(const char *function_name, const AwlInvokeResult *res, Datum *d,
			  AwlInvokeError **err)
{
	if (res->payload_len == 0)
		return false;
	/* Checked first: a reply jsonb refuses fails this row, not the statement. */
	if ((*err = awl_jsonb_payload_error(function_name, res)) != NULL)
		return false;
	*d = DirectFunctionCall1(jsonb_in, CStringGetDatum(res->payload));
	return true;
}

/* Fills the six invoke columns from a successful result; false on a bad payload. */
static bool
invoke_columns(const char *function_name, const AwlInvokeResult *res,
			   Datum *values, bool *nulls, AwlInvokeError **err)
{
	values[COL_STATUS_CODE] = Int32GetDatum(res->status_code);
	nulls[COL_STATUS_CODE] = false;
	nulls[COL_PAYLOAD] = !payload_datum(function_name, res, &values[COL_PAYLOAD], err);
	if (*err)
		return false;
#define TEXT_COL(col, s) \
	do { nulls[col] = ((s) == NULL); \
		 if (s) values[col] = CStringGetTextDatum(s); } while (0)
	TEXT_COL(COL_FUNCTION_ERROR, res->function_error);
	TEXT_COL(COL_EXECUTED_VERSION, res->executed_version);
	TEXT_COL(COL_REQUEST_ID, res->request_id);
	TEXT_COL(COL_DURABLE_EXECUTION_ARN, res->durable_execution_arn);
#undef TEXT_COL
	nulls[COL_LOG_RESULT] = (res->log_result == NULL);
	if (res->log_result)
		values[COL_LOG_RESULT] = decode_log_result(res->log_result);
	return true;
}

PG_FUNCTION_INFO_V1(awslambda_invoke);

/*
 * awslambda_invoke(function_name, payload jsonb, invocation_type, qualifier,
 *					log_type, client_context jsonb, region, tenant_id,
 *					durable_execution_name)
 * RETURNS (status_code, payload jsonb, function_error, executed_version,
 *			log_result, request_id, durable_execution_arn)
 *
 * Before ALTER EXTENSION awslambda UPDATE to 0.4.0 the SQL definition has
 * neither the last two arguments nor the last column; both forms work.
 */
Datum
awslambda_invoke(PG_FUNCTION_ARGS)
{
	AwlInvokeRequest req;
	AwlInvokeResult res = {0};
	TupleDesc	tupdesc;
	Datum		values[NUM_INVOKE_COLS];
	bool		nulls[NUM_INVOKE_COLS];
	AwlInvokeError *err = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	request_from_args(fcinfo, &req, 7);
	set_payload(&req, PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1));
	awl_check_payload_size(req.invocation_type, req.payload_len);
	awl_invoke(&req, &res);
	if (!invoke_columns(req.function_name, &res, values, nulls, &err))
		awl_invoke_raise(err);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * Appends row ordinal of awslambda_invoke_many's result: the reply's
 * columns (the first ninvoke of awslambda_invoke's) and the error columns,
 * from res (NULL: not sent) or the refusal err; with fail_fast, raises the
 * row's error instead.
 */
static void
put_many_row(ReturnSetInfo *rsinfo, int ordinal, int ninvoke, const char *function_name,
			 AwlInvokeResult *res, AwlInvokeError *refused, bool fail_fast)
{
	Datum		values[1 + NUM_INVOKE_COLS + NUM_MANY_EXTRA_COLS];
	bool		nulls[1 + NUM_INVOKE_COLS + NUM_MANY_EXTRA_COLS];
	Datum		cols[NUM_INVOKE_COLS];
	bool		colnulls[NUM_INVOKE_COLS];
	AwlInvokeError *err = res ? res->error : refused;
	int			e = 1 + ninvoke;	/* the first error column */
	int			j;

	for (j = 0; j < (int) lengthof(nulls); j++)
		nulls[j] = true;
	for (j = 0; j < NUM_INVOKE_COLS; j++)
		colnulls[j] = true;
	values[0] = Int32GetDatum(ordinal);
	nulls[0] = false;
	/* A reply the row cannot hold keeps its status code, as the error says why. */
	if (err == NULL)
		(void) invoke_columns(function_name, res, cols, colnulls, &err);
	for (j = 0; j < ninvoke; j++)
	{
		values[1 + j] = cols[j];
		nulls[1 + j] = colnulls[j];
	}
	if (err && fail_fast)
		awl_invoke_raise(err);
	if (err)
	{
		values[e] = CStringGetTextDatum(unpack_sql_state(err->sqlstate));
		values[e + 1] = CStringGetTextDatum(err->message);
		nulls[e] = nulls[e + 1] = false;
		if (err->detail)
		{
			values[e + 2] = CStringGetTextDatum(err->detail);
			nulls[e + 2] = false;
		}
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(awslambda_invoke_many);

/*
 * awslambda_invoke_many(function_name, payloads jsonb[], invocation_type,
 *						 qualifier, log_type, client_context, region, fail_fast,
 *						 tenant_id, durable_execution_name)
 * RETURNS TABLE (ordinality, <the invoke columns>, error_sqlstate,
 *				  error_message, error_detail)
 *
 * All payloads go to the same function, awslambda.max_concurrency at a time;
 * rows come back in the array's order.  A payload over Lambda's limit is
 * not sent: its row carries the error (or, with fail_fast, the statement
 * fails before anything is sent).  The SQL definition from before 0.4.0
 * (no tenant_id, durable_execution_name, durable_execution_arn) works too.
 */
Datum
awslambda_invoke_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AwlInvokeRequest common;
	AwlInvokeRequest *reqs;
	AwlInvokeResult *results;
	AwlInvokeError **refused;
	int		   *sent_as;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	int			nsend = 0;
	int			ninvoke;
	int			i;
	bool		fail_fast = !PG_ARGISNULL(7) && PG_GETARG_BOOL(7);

	request_from_args(fcinfo, &common, 8);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"payloads\" must not be null")));
	arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("argument \"payloads\" must be a one-dimensional array")));
	deconstruct_array(arr, JSONBOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);

	InitMaterializedSRF(fcinfo, 0);
	if (n == 0)
		PG_RETURN_NULL();
	ninvoke = Min(NUM_INVOKE_COLS, rsinfo->setDesc->natts - 1 - NUM_MANY_EXTRA_COLS);

	/* Payloads over the limit are refused here, before anything is sent. */
	reqs = palloc(n * sizeof(AwlInvokeRequest));
	results = palloc0(n * sizeof(AwlInvokeResult));
	refused = palloc0(n * sizeof(AwlInvokeError *));
	sent_as = palloc(n * sizeof(int));
	for (i = 0; i < n; i++)
	{
		AwlInvokeRequest r = common;

		set_payload(&r, elem_nulls[i] ? NULL : DatumGetJsonbP(elems[i]));
		refused[i] = awl_payload_size_error(r.invocation_type, r.payload_len);
		if (refused[i] && fail_fast)
			awl_invoke_raise(refused[i]);
		sent_as[i] = refused[i] ? -1 : nsend;
		if (!refused[i])
			reqs[nsend++] = r;
	}
	if (nsend > 0)
		awl_invoke_many(reqs, results, nsend, awl_invoke_max_concurrency(), fail_fast);

	for (i = 0; i < n; i++)
		put_many_row(rsinfo, i + 1, ninvoke, common.function_name,
					 sent_as[i] >= 0 ? &results[sent_as[i]] : NULL, refused[i], fail_fast);
	PG_RETURN_NULL();
}
