/*-------------------------------------------------------------------------
 *
 * awslambda.c
 *	  Module entry: settings and the SQL-callable functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "awslambda.h"
#include "stats.h"

PG_MODULE_MAGIC;

char	   *awl_region = NULL;
char	   *awl_endpoint_url = NULL;
char	   *awl_imds_endpoint = NULL;
bool		awl_imds_v1_fallback = false;
char	   *awl_profile = NULL;
int			awl_credential_process_timeout_ms = 60000;
char	   *awl_sts_endpoint = NULL;
char	   *awl_allowed_functions = NULL;
char	   *awl_async_function_limits = NULL;
char	   *awl_async_batch_sizes = NULL;
char	   *awl_ca_file = NULL;
int			awl_connect_timeout_ms = 5000;
int			awl_request_timeout_ms = 905000;
int			awl_max_concurrency = 16;
int			awl_max_attempts = 3;
int			awl_async_mode = AWL_ASYNC_EVENT;
int			awl_async_max_attempts = 10;
int			awl_async_retention_s = 86400;
int			awl_async_callback_timeout_ms = 60000;
bool		awl_preloaded = false;

static const struct config_enum_entry async_mode_options[] = {
	{"event", AWL_ASYNC_EVENT, false},
	{"request_response", AWL_ASYNC_REQUEST_RESPONSE, false},
	{"immediate", AWL_ASYNC_IMMEDIATE, false},
	{NULL, 0, false}
};

/* Region names go into host names: letters, digits and dashes only. */
static bool
check_region(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0' || awl_region_is_valid(*newval))
		return true;
	GUC_check_errdetail("An AWS region name such as \"us-east-1\" consists of lower-case letters, digits and dashes.");
	return false;
}

/*
 * Endpoints must be plain http(s) URLs with a host, a valid port if any, and
 * no credentials, query, fragment, white space or control characters in them.
 */
static bool
check_function_limits(char **newval, void **extra, GucSource source)
{
	const char *why = NULL;

	if (awl_flow_check(*newval, false, &why))
		return true;
	GUC_check_errdetail("%s", why);
	return false;
}

static bool
check_batch_sizes(char **newval, void **extra, GucSource source)
{
	const char *why = NULL;

	if (awl_flow_check(*newval, true, &why))
		return true;
	GUC_check_errdetail("%s", why);
	return false;
}

static bool
check_url(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0')
		return true;
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
	{
		GUC_check_errdetail("The URL must start with \"http://\" or \"https://\".");
		return false;
	}
	if (!awl_endpoint_url_ok(v))
	{
		GUC_check_errdetail("The URL must name a host (an IPv6 address in brackets) and a port from 1 to 65535 if any, and contain no user information, query, fragment, white space or control characters.");
		return false;
	}
	return true;
}

/* Another profile means other credentials: drop the cached ones. */
static void
assign_profile(const char *newval, void *extra)
{
	awl_credentials_reset();
}

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("awslambda.region",
							   "Sets the default AWS region for Lambda invocations.",
							   "Empty means: AWS_REGION, then AWS_DEFAULT_REGION, then instance metadata. A full function ARN's region always wins.",
							   &awl_region,
							   "",
							   PGC_USERSET,
							   0,
							   check_region, NULL, NULL);

	DefineCustomStringVariable("awslambda.endpoint_url",
							   "Sets the Lambda endpoint URL, used as given.",
							   "For VPC endpoints, emulators and tests. Empty means AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, the profile's endpoint settings, then the regional endpoint (FIPS and dual-stack as configured).",
							   &awl_endpoint_url,
							   "",
							   PGC_SUSET,
							   0,
							   check_url, NULL, NULL);

	DefineCustomStringVariable("awslambda.imds_endpoint",
							   "Sets the EC2 instance metadata service URL used for credentials and region.",
							   "Empty means AWS_EC2_METADATA_SERVICE_ENDPOINT, then http://169.254.169.254.",
							   &awl_imds_endpoint,
							   "",
							   PGC_SUSET,
							   0,
							   check_url, NULL, NULL);

	DefineCustomBoolVariable("awslambda.imds_v1_fallback",
							 "Allows instance metadata requests without an IMDSv2 session token.",
							 "Only used when the token request is refused; AWS_EC2_METADATA_V1_DISABLED=true still forbids it.",
							 &awl_imds_v1_fallback,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("awslambda.profile",
							   "Sets the profile of the shared AWS config and credentials files to use.",
							   "Empty means AWS_PROFILE, then \"default\".",
							   &awl_profile,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, assign_profile, NULL);

	DefineCustomIntVariable("awslambda.credential_process_timeout_ms",
							"Sets the maximum time a profile's credential_process may run.",
							"A helper still running then is killed, with its whole process group, and the call fails.",
							&awl_credential_process_timeout_ms,
							60000, 1, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("awslambda.sts_endpoint",
							   "Sets the AWS STS endpoint URL used to assume roles.",
							   "Empty means AWS_ENDPOINT_URL_STS, then https://sts.<region>.amazonaws.com.",
							   &awl_sts_endpoint,
							   "",
							   PGC_SUSET,
							   0,
							   check_url, NULL, NULL);

	DefineCustomStringVariable("awslambda.allowed_functions",
							   "Limits which Lambda functions may be invoked.",
							   "Comma-separated patterns with * and ?, matched against the function name, or against the name as given when the pattern contains a colon (ARNs). Empty allows all. Set per role with ALTER ROLE ... SET.",
							   &awl_allowed_functions,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("awslambda.ca_file",
							   "Sets a file of PEM CA certificates to verify HTTPS endpoints with.",
							   "Empty means the system's CA store. For a private CA in front of a VPC endpoint or an emulator.",
							   &awl_ca_file,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.connect_timeout_ms",
							"Sets the maximum time to establish a connection to Lambda.",
							NULL,
							&awl_connect_timeout_ms,
							5000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.request_timeout_ms",
							"Sets the maximum time for a whole Lambda request, including the function's run time.",
							"Zero means no limit other than statement_timeout.",
							&awl_request_timeout_ms,
							905000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.max_attempts",
							"Sets how many times a throttled or failed Lambda call is tried in all.",
							"Retried: throttling (429), server errors (500, 502-504) and connections that could not be made; never a call that may have reached the function. 1 means no retries.",
							&awl_max_attempts,
							3, 1, 10,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.max_concurrency",
							"Sets how many requests one fan-out call keeps in flight at once.",
							NULL,
							&awl_max_concurrency,
							16, 1, 1024,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("awslambda.async_mode",
							 "Sets how awslambda_fn_async sends its invocation.",
							 "event: queued, sent as Event after commit; request_response: queued, sent as RequestResponse after commit, the result kept; immediate: sent as Event at once, inside the statement, whatever becomes of the transaction.",
							 &awl_async_mode,
							 AWL_ASYNC_EVENT,
							 async_mode_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.async_max_attempts",
							"Sets how many times the dispatcher tries a queued invocation in all.",
							"Retried with exponential backoff: throttling (429), server errors, timeouts and network failures. Other errors fail the invocation at once.",
							&awl_async_max_attempts,
							10, 1, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.async_retention",
							"Sets how long finished asynchronous invocations are kept.",
							"-1 keeps them until deleted by hand.",
							&awl_async_retention_s,
							86400, -1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("awslambda.async_callback_timeout",
							"Sets how long a callback of an asynchronous invocation may run.",
							"A callback still running then is cancelled and its error recorded. 0 means no limit.",
							&awl_async_callback_timeout_ms,
							60000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("awslambda.async_function_limits",
							   "Limits how many invocations of matching functions the dispatcher has in flight.",
							   "Comma-separated PATTERN=N entries, patterns as in awslambda.allowed_functions; the first that matches applies. Empty: only awslambda.max_concurrency limits.",
							   &awl_async_function_limits,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_function_limits, NULL, NULL);

	DefineCustomStringVariable("awslambda.async_batch_sizes",
							   "Has the dispatcher send queued invocations of matching functions as micro-batches.",
							   "Comma-separated PATTERN=N entries, patterns as in awslambda.allowed_functions; the first that matches applies: up to N invocations of one function (same qualifier, region and invocation type) go as one Invoke whose payload is {\"records\": [...], \"invocation_ids\": [...]}. Empty: one Invoke each.",
							   &awl_async_batch_sizes,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_batch_sizes, NULL, NULL);

	awl_stats_init(process_shared_preload_libraries_in_progress);

	MarkGUCPrefixReserved("awslambda");

	/* The dispatcher: only when the postmaster itself loads the library. */
	if (process_shared_preload_libraries_in_progress)
	{
		awl_preloaded = true;
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
	req.connect_timeout_ms = awl_connect_timeout_ms;
	req.request_timeout_ms = awl_request_timeout_ms;
	req.max_attempts = awl_max_attempts;
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
