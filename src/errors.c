/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  What a failed invocation means: API errors and transport failures as
 *	  SQLSTATEs (README "Errors"), with whether they are worth another try.
 *
 * An error is first a value (AwlInvokeError), kept per row by fan-out and
 * by the dispatcher, and raised only by awl_invoke_raise.  The error codes
 * Lambda documents for Invoke say more than the HTTP status; remote text is
 * bounded and sanitized here before it enters a message or, through
 * reply.c, a column.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "invoke_int.h"

/*
 * Makes remote text safe for an error message: control characters become
 * '?', and so does everything non-ASCII unless it is valid UTF-8 and the
 * server encoding can hold it unchanged (UTF8, or SQL_ASCII which takes bytes).
 */
static void
sanitize_remote_text(char *s)
{
	int			enc = GetDatabaseEncoding();
	bool		keep_utf8 = (enc == PG_UTF8 || enc == PG_SQL_ASCII) &&
		pg_verify_mbstr(PG_UTF8, s, strlen(s), true);

	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c < 0x20 || c == 0x7f || (c > 0x7f && !keep_utf8))
			*s = '?';
	}
}

/*
 * Remote text made safe for messages and columns (see sanitize_remote_text)
 * and at most max bytes long: longer text is cut at a character boundary and
 * ends in "...".  NULL stays NULL.
 */
char *
awl_bounded_remote_text(char *s, size_t max)
{
	size_t		len;
	int			keep;

	if (s == NULL)
		return NULL;
	sanitize_remote_text(s);
	len = strlen(s);
	if (len <= max)
		return s;
	/* s is ASCII or valid UTF-8 now */
	keep = pg_encoding_mbcliplen(PG_UTF8, s, (int) len, (int) (max - 3));
	memcpy(s + keep, "...", 4);
	return s;
}

char *
awl_remote_header(const AwlHttpResponse *resp, const char *name, size_t max)
{
	return awl_bounded_remote_text(awl_http_header(resp, name), max);
}

static char *
short_error_code(char *code)
{
	char	   *hash;

	if (code == NULL)
		return NULL;
	code[strcspn(code, ":")] = '\0';
	if ((hash = strrchr(code, '#')) != NULL)
		code = hash + 1;
	return code[0] ? code : NULL;
}

AwlInvokeError *
awl_invoke_error(int sqlstate, char *message, char *detail, const char *hint)
{
	AwlInvokeError *err = palloc0(sizeof(AwlInvokeError));

	err->sqlstate = sqlstate;
	err->message = message;
	err->detail = detail;
	err->hint = hint;
	return err;
}

/*
 * Whether a 401/403 says the credentials themselves are bad (expired or
 * unknown token, unknown key, a signature that expired), which new ones may
 * cure, rather than that the identity may not do this (AccessDenied...).
 */
static bool
credentials_rejected(long status, const char *code, const char *message)
{
	static const char *const codes[] = {"ExpiredToken", "ExpiredTokenException",
		"UnrecognizedClientException", "InvalidClientTokenId"};
	size_t		i;

	if (status != 401 && status != 403)
		return false;
	for (i = 0; code && i < lengthof(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	if (code && strcmp(code, "InvalidSignatureException") == 0 &&
		strncmp(message, "Signature expired", strlen("Signature expired")) == 0)
		return true;
	return strstr(message, "The security token included in the request is invalid") != NULL ||
		strstr(message, "The security token included in the request is expired") != NULL;
}

/*
 * Lambda's error codes whose SQLSTATE, or whether they are tried again,
 * differ from what the HTTP status alone says (README "Errors").  Retried:
 * what says "not yet" (a function still Pending or Inactive, a snapshot
 * being restored, a throttled start); never a configuration error, which
 * only a change of the function's set-up cures.
 */
typedef struct ApiCode
{
	const char *code;
	int			sqlstate;
	bool		retryable;
	const char *what;			/* the message, with the function's name */
	const char *hint;
} ApiCode;

#define NOT_READY_HINT "The function is being created, updated or restored; call it again when its state is Active."
#define CONFIG_HINT "The function's configuration (VPC, subnets, security groups, KMS key, runtime, package, file system, SnapStart) keeps Lambda from starting it; calling again does not help."

static const ApiCode api_codes[] = {
	{"DurableExecutionAlreadyStartedException", ERRCODE_UNIQUE_VIOLATION, false,
		"a durable execution of Lambda function \"%s\" with that name has already been started",
	"Lambda starts one execution per name: the same name with the same payload returns that execution, another payload needs another name."},
	{"RecursiveInvocationException", ERRCODE_STATEMENT_TOO_COMPLEX, false,
	"Lambda stopped a recursive invocation loop of function \"%s\"", NULL},
	{"ResourceNotReadyException", ERRCODE_CANNOT_CONNECT_NOW, true,
	"Lambda function \"%s\" is not ready to be invoked", NOT_READY_HINT},
	{"ResourceConflictException", ERRCODE_CANNOT_CONNECT_NOW, true,
	"Lambda function \"%s\" is not ready to be invoked", NOT_READY_HINT},
	{"SnapStartNotReadyException", ERRCODE_CANNOT_CONNECT_NOW, true,
	"Lambda function \"%s\" is not ready to be invoked", NOT_READY_HINT},
	{"SnapStartTimeoutException", ERRCODE_CANNOT_CONNECT_NOW, true,
	"Lambda function \"%s\" is not ready to be invoked", NOT_READY_HINT},
	{"CodeArtifactUserPendingException", ERRCODE_CANNOT_CONNECT_NOW, true,
	"Lambda function \"%s\" is not ready to be invoked", NOT_READY_HINT},
	{"EC2ThrottledException", ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, true,
	"Lambda throttled the invocation of function \"%s\"", NULL},
	{"EC2UnexpectedException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, true,
	"Lambda could not start function \"%s\"", NULL},
	{"EFSMountConnectivityException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, true,
	"Lambda could not start function \"%s\"", NULL},
	{"EFSMountTimeoutException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, true,
	"Lambda could not start function \"%s\"", NULL},
	{"S3FilesMountConnectivityException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, true,
	"Lambda could not start function \"%s\"", NULL},
	{"S3FilesMountTimeoutException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, true,
	"Lambda could not start function \"%s\"", NULL},
	{"EC2AccessDeniedException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"ENILimitReachedException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"SubnetIPAddressLimitReachedException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"InvalidSubnetIDException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"InvalidSecurityGroupIDException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"KMSAccessDeniedException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"KMSDisabledException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"KMSInvalidStateException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"KMSNotFoundException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"InvalidRuntimeException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"InvalidZipFileException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"EFSMountFailureException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"EFSIOException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"S3FilesMountFailureException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"SnapStartException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"SnapStartRegenerationFailureException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"CodeArtifactUserFailedException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"CodeArtifactUserDeletedException", ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION, false,
	"Lambda could not start function \"%s\"", CONFIG_HINT},
	{"NoPublishedVersionException", ERRCODE_UNDEFINED_FUNCTION, false,
	"Lambda function \"%s\" has no published version", NULL},
	{"ServiceQuotaExceededException", ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, false,
	"Lambda refused the invocation of function \"%s\" for a service quota", NULL},
	{"RequestTooLargeException", ERRCODE_INVALID_PARAMETER_VALUE, false,
	"the payload is too large for Lambda function \"%s\"", NULL},
	{"SerializedRequestEntityTooLargeException", ERRCODE_INVALID_PARAMETER_VALUE, false,
	"the payload is too large for Lambda function \"%s\"", NULL},
	{"UnsupportedMediaTypeException", ERRCODE_PROTOCOL_VIOLATION, false,
	"Lambda refused the request body for function \"%s\" as not JSON", NULL},
};

static const ApiCode *
find_api_code(const char *code)
{
	size_t		i;

	for (i = 0; code && i < lengthof(api_codes); i++)
		if (strcmp(code, api_codes[i].code) == 0)
			return &api_codes[i];
	return NULL;
}

/* The SQLSTATE, message and hint of an API error by its HTTP status alone. */
static void
by_status(long status, int *sqlstate, const char **what, const char **hint)
{
	switch (status)
	{
		case 404:
			*sqlstate = ERRCODE_UNDEFINED_FUNCTION;
			*what = "Lambda function \"%s\" was not found";
			break;
		case 401:
		case 403:
			*sqlstate = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
			*what = "AWS denied the invocation of Lambda function \"%s\"";
			*hint = "Check the server's AWS credentials, its clock, and that its IAM identity may call lambda:InvokeFunction.";
			break;
		case 429:
			*sqlstate = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
			*what = "Lambda throttled the invocation of function \"%s\"";
			break;
		default:
			if (status >= 400 && status < 500)
			{
				*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
				*what = "Lambda rejected the invocation of function \"%s\"";
			}
			else
			{
				*sqlstate = ERRCODE_CONNECTION_FAILURE;
				*what = "Lambda service error while invoking function \"%s\"";
			}
			break;
	}
}

/* What a reply's Retry-After asks for (whole seconds, at most 99999), 0 if nothing. */
static long
retry_after_ms(const AwlHttpResponse *resp)
{
	char	   *after = awl_http_header(resp, "Retry-After");

	if (after && strspn(after, "0123456789") == strlen(after) && strlen(after) < 6)
		return atol(after) * 1000L;
	return 0;
}

AwlInvokeError *
awl_api_error(const char *function_name, const AwlHttpResponse *resp, char **code_out)
{
	static const char *const keys[] = {"__type", "code", "Code", "message", "Message", "Reason"};
	char	   *v[lengthof(keys)];
	char	   *code = short_error_code(awl_remote_header(resp, "x-amzn-ErrorType", MAX_REMOTE_ID));
	char	   *message;
	char	   *reason = NULL;
	int			sqlstate;
	const char *what;
	const char *hint = NULL;
	const ApiCode *known;
	AwlInvokeError *err;

	if (awl_json_get_strings(resp->body, resp->body_len, keys, v, lengthof(keys)))
	{
		if (code == NULL)
			code = short_error_code(v[0] ? v[0] : v[1] ? v[1] : v[2]);
		message = v[3] ? v[3] : v[4];
		reason = v[5];
	}
	else
		message = pnstrdup(resp->body, Min(resp->body_len, 1000));	/* HTML from a proxy */
	if (message == NULL || message[0] == '\0')
		message = pstrdup("(no message)");
	code = awl_bounded_remote_text(code, MAX_REMOTE_ID);
	message = awl_bounded_remote_text(message, MAX_REMOTE_MESSAGE);
	reason = awl_bounded_remote_text(reason, MAX_REMOTE_ID);
	if (reason && reason[0] == '\0')
		reason = NULL;

	by_status(resp->status, &sqlstate, &what, &hint);
	/* A code Lambda documents for Invoke says more than its status. */
	known = resp->status >= 400 ? find_api_code(code) : NULL;
	if (known)
	{
		sqlstate = known->sqlstate;
		what = known->what;
		hint = known->hint;
	}

	err = awl_invoke_error(sqlstate, psprintf(what, function_name),
					 code ? (reason ? psprintf("%s (HTTP %ld, Reason: %s): %s", code, resp->status,
											   reason, message)
							 : psprintf("%s (HTTP %ld): %s", code, resp->status, message))
					 : psprintf("HTTP %ld: %s", resp->status, message),
					 hint);
	err->credentials_rejected = credentials_rejected(resp->status, code, message);
	err->throttle_reason = resp->status == 429 ? reason : NULL;
	*code_out = code;

	/*
	 * Throttling and server errors say the call was not carried out: worth
	 * another attempt, as in the SDKs' standard retry mode; but not the
	 * function configuration errors Lambda answers with 502.
	 */
	err->http_status = (int) resp->status;
	err->retryable = known ? known->retryable :
		(resp->status == 429 || resp->status == 500 || resp->status == 502 ||
		 resp->status == 503 || resp->status == 504);
	if (err->retryable)
		err->retry_after_ms = retry_after_ms(resp);
	return err;
}

AwlInvokeError *
awl_transport_error(const char *function_name, const AwlInvokeTarget *t,
				const AwlHttpResponse *resp, const char *settings)
{
	AwlInvokeError *err;

	switch (resp->failure)
	{
		case AWL_HTTP_CONNECT:
			/* Nothing was sent, so trying again cannot run the function twice. */
			err = awl_invoke_error(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
							 psprintf("could not connect to Lambda endpoint \"%s\"", t->base_url),
							 pstrdup(resp->error), NULL);
			err->retryable = true;
			return err;
		case AWL_HTTP_TIMEOUT:
			return awl_invoke_error(ERRCODE_CONNECTION_FAILURE,
							  psprintf("invocation of Lambda function \"%s\" timed out", function_name),
							  pstrdup(resp->error),
							  psprintf("Raise \"%s.request_timeout_ms\" or \"%s.connect_timeout_ms\" if the function needs longer.",
									   settings, settings));
		case AWL_HTTP_TOO_LARGE:
			return awl_invoke_error(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
							  psprintf("response of Lambda function \"%s\" exceeds %d bytes",
									   function_name, MAX_RESPONSE_BYTES),
							  NULL, NULL);
		default:
			return awl_invoke_error(ERRCODE_CONNECTION_FAILURE,
							  psprintf("could not read the response of Lambda function \"%s\"", function_name),
							  pstrdup(resp->error), NULL);
	}
}

void
awl_invoke_raise(const AwlInvokeError *err)
{
	ereport(ERROR,
			(errcode(err->sqlstate),
			 errmsg_internal("%s", err->message),
			 err->detail ? errdetail_internal("%s", err->detail) : 0,
			 err->hint ? errhint("%s", err->hint) : 0));
	pg_unreachable();
}

void
awl_raise_function_error(const char *function_name, const AwlInvokeResult *result)
{
	static const char *const keys[] = {"errorType", "errorMessage"};
	char	   *v[lengthof(keys)];

	if (!awl_json_get_strings(result->payload, result->payload_len, keys, v, lengthof(keys)))
		v[0] = v[1] = NULL;

	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("Lambda function \"%s\" failed: %s: %s", function_name,
					v[0] ? v[0] : result->function_error,
					v[1] ? v[1] : "(no message)"),
			 errdetail_internal("%s", result->payload)));
}
