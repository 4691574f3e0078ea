/*-------------------------------------------------------------------------
 *
 * invoke.c
 *	  Lambda Invoke: target resolution, request signing, reply mapping.
 *
 * The function name goes into the path percent-encoded as the AWS SDKs do
 * (everything but A-Z a-z 0-9 - _ . ~), and sigv4.c encodes that path once
 * more for the canonical request.  A full ARN selects the region, and with
 * it the host and the signing scope.  API errors become SQLSTATEs by cause
 * (see README "Errors").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "catalog/namespace.h"
#include "common/pg_prng.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "awslambda.h"
#include "credentials.h"
#include "endpoint.h"
#include "http.h"
#include "parse.h"
#include "sigv4.h"
#include "stats.h"

#define INVOKE_PATH_PREFIX	"/2015-03-31/functions/"
/* Lambda's synchronous response limit is 6 MB; leave room for error documents. */
#define MAX_RESPONSE_BYTES	(8 * 1024 * 1024)
/* Bounds of remote text kept: error codes, request ids, versions; messages; log tails. */
#define MAX_REMOTE_ID		256
#define MAX_REMOTE_MESSAGE	4096
#define MAX_LOG_RESULT		16384	/* Lambda sends 4 KB, 5464 bytes in base64 */
#define MAX_REMOTE_ARN		2048	/* a durable execution ARN has at most 1024 */
/* AWS accepts signatures within 5 minutes of its time; correct beyond 4, as the SDKs do. */
#define CLOCK_SKEW_SECS		240

/*
 * Seconds to add to this server's clock to get AWS's, learnt from the Date
 * header of a reply that refused a request for clock skew; 0 until then.
 * Per backend (and per dispatcher), used for every signature.
 */
static long clock_offset = 0;

/* Where one invocation goes. */
typedef struct InvokeTarget
{
	char	   *region;
	char	   *base_url;		/* scheme://authority, no trailing slash */
	char	   *host;			/* authority as sent in Host */
	char	   *path;			/* wire path, encoded */
	char	   *query;			/* wire query or NULL */
} InvokeTarget;

/* Copies a malloc'd string from sigv4.c into palloc'd memory. */
static char *
take_malloced(char *s)
{
	char	   *copy;

	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	copy = pstrdup(s);
	free(s);
	return copy;
}

static char *
uri_encode(const char *s)
{
	return take_malloced(awl_uri_encode(s, strlen(s), 0));
}

void
awl_parse_function_name(const char *name, AwlFunctionName *parts)
{
	if (awl_function_name_parse(name, strlen(name), parts))
		return;
	if (strncmp(name, "arn:", 4) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Lambda function ARN \"%s\"", name),
				 errdetail("A function ARN has the form arn:aws:lambda:REGION:ACCOUNT:function:NAME, optionally followed by :QUALIFIER.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid Lambda function name \"%s\"", name),
			 errdetail("A function is named NAME, NAME:QUALIFIER, ACCOUNT:function:NAME, REGION:ACCOUNT:function:NAME or arn:aws:lambda:REGION:ACCOUNT:function:NAME (the last three optionally followed by :QUALIFIER), in %d characters at most; NAME has 1 to %d letters, digits, '-', '_' or '.', and QUALIFIER is $LATEST, $LATEST.PUBLISHED, a version or an alias.",
					   AWL_MAX_FUNCTION_NAME, AWL_MAX_BARE_NAME)));
}

/*
 * awslambda.allowed_functions split into its patterns, kept until the
 * setting's text changes (SET, SET ROLE, a new login's role setting).
 */
static struct
{
	char	   *text;			/* the setting they were parsed from */
	char	   *buf;			/* a copy cut into the patterns */
	char	  **patterns;		/* trimmed, none empty */
	int			n;
}			allowed;

/* The patterns of awslambda.allowed_functions, parsed when the setting changed. */
static char **
allowed_list(int *n)
{
	const char *setting = awl_allowed_functions;
	char	   *copy;
	char	   *buf;
	char	  **patterns;
	char	   *tok;
	char	   *save = NULL;
	int			cap = 1;
	int			count = 0;
	const char *c;

	if (allowed.text == NULL || strcmp(allowed.text, setting) != 0)
	{
		for (c = setting; *c; c++)
			cap += (*c == ',');
		buf = MemoryContextStrdup(TopMemoryContext, setting);
		patterns = MemoryContextAlloc(TopMemoryContext, cap * sizeof(char *));
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			char	   *end;

			while (*tok == ' ' || *tok == '\t')
				tok++;
			end = tok + strlen(tok);
			while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (*tok)
				patterns[count++] = tok;
		}
		copy = MemoryContextStrdup(TopMemoryContext, setting);
		if (allowed.text)
		{
			pfree(allowed.text);
			pfree(allowed.buf);
			pfree(allowed.patterns);
		}
		allowed.text = copy;
		allowed.buf = buf;
		allowed.patterns = patterns;
		allowed.n = count;
	}
	*n = allowed.n;
	return allowed.patterns;
}

/*
 * Enforces awslambda.allowed_functions: a comma-separated list of patterns;
 * one with a ':' is matched against the name as given (ARNs), others against
 * the bare function name as Lambda reads it.  Empty allows everything.
 */
static void
check_allowed(const char *name, const AwlFunctionName *parts)
{
	char	  **patterns;
	char	   *bare = NULL;
	int			n;
	int			i;

	if (awl_allowed_functions == NULL || awl_allowed_functions[0] == '\0')
		return;
	patterns = allowed_list(&n);
	for (i = 0; i < n; i++)
	{
		if (strchr(patterns[i], ':'))
		{
			if (awl_glob_match(patterns[i], name))
				return;
			continue;
		}
		if (bare == NULL)
			bare = pnstrdup(parts->name, parts->name_len);
		if (awl_glob_match(patterns[i], bare))
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to invoke Lambda function \"%s\"", name),
			 errdetail("Setting \"awslambda.allowed_functions\" allows only: %s.",
					   awl_allowed_functions)));
}

/* Resolves region, endpoint and path for one request. */
static void
resolve_target(const AwlInvokeRequest *req, InvokeTarget *t)
{
	const char *name = req->function_name;
	const char *endpoint = req->endpoint_url ? req->endpoint_url : awl_endpoint_url;
	AwlFunctionName parts;

	/* Lambda's grammar, as Lambda reads it, before anything else. */
	awl_parse_function_name(name, &parts);

	if (!req->allowed_checked)
		check_allowed(name, &parts);

	/*
	 * The region of a full ARN, or of a partial form that has one
	 * (REGION:ACCOUNT:function:NAME), wins over every default: Lambda would
	 * 404 otherwise.
	 */
	if (parts.region)
	{
		t->region = pnstrdup(parts.region, parts.region_len);
		if (!awl_region_is_valid(t->region))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid AWS region \"%s\" in function name \"%s\"",
							t->region, name)));
		if (req->region && strcmp(req->region, t->region) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 parts.full_arn ?
					 errmsg("region \"%s\" conflicts with the region \"%s\" of function ARN \"%s\"",
							req->region, t->region, name) :
					 errmsg("region \"%s\" conflicts with the region \"%s\" in function name \"%s\"",
							req->region, t->region, name)));
	}
	else if (req->region)
	{
		if (!awl_region_is_valid(req->region))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid AWS region \"%s\"", req->region)));
		t->region = pstrdup(req->region);
	}
	else
		t->region = pstrdup(awl_default_region());

	awl_endpoint_resolve(endpoint, t->region, &t->base_url, &t->host);

	t->path = psprintf(INVOKE_PATH_PREFIX "%s/invocations", uri_encode(name));
	t->query = req->qualifier ? psprintf("Qualifier=%s", uri_encode(req->qualifier)) : NULL;
}

/*
 * Checks what can be checked before sending (name, permission, region) and
 * returns the region the request would go to; raises like a call would.
 */
char *
awl_invoke_check(const AwlInvokeRequest *req)
{
	InvokeTarget t = {0};

	resolve_target(req, &t);
	return t.region;
}

/* a, b and c (c may be NULL) in one palloc'd string: cheaper than psprintf per call. */
static char *
concat3(const char *a, const char *b, const char *c)
{
	size_t		la = strlen(a);
	size_t		lb = strlen(b);
	size_t		lc = c ? strlen(c) : 0;
	char	   *s = palloc(la + lb + lc + 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c ? c : "", lc + 1);
	return s;
}

/* Appends one header both to the signing list and to the wire lines. */
static void
add_header(AwlSigV4Header *sig, char **wire, int *n, const char *name, const char *value)
{
	sig[*n].name = name;
	sig[*n].value = value;
	wire[*n] = concat3(name, ": ", value);
	(*n)++;
}

/* Strips an AWS error code to its short name, as botocore does. */
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
static char *
bounded_remote_text(char *s, size_t max)
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

/* A reply header's value, bounded and sanitized, or NULL if absent. */
static char *
remote_header(const AwlHttpResponse *resp, const char *name, size_t max)
{
	return bounded_remote_text(awl_http_header(resp, name), max);
}

static AwlInvokeError *
make_error(int sqlstate, char *message, char *detail, const char *hint)
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

/* The error for a non-2xx reply from the Lambda API. */
static AwlInvokeError *
api_error(const char *function_name, const AwlHttpResponse *resp, char **code_out)
{
	static const char *const keys[] = {"__type", "code", "Code", "message", "Message", "Reason"};
	char	   *v[lengthof(keys)];
	char	   *code = short_error_code(remote_header(resp, "x-amzn-ErrorType", MAX_REMOTE_ID));
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
	code = bounded_remote_text(code, MAX_REMOTE_ID);
	message = bounded_remote_text(message, MAX_REMOTE_MESSAGE);
	reason = bounded_remote_text(reason, MAX_REMOTE_ID);
	if (reason && reason[0] == '\0')
		reason = NULL;

	switch (resp->status)
	{
		case 404:
			sqlstate = ERRCODE_UNDEFINED_FUNCTION;
			what = "Lambda function \"%s\" was not found";
			break;
		case 401:
		case 403:
			sqlstate = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
			what = "AWS denied the invocation of Lambda function \"%s\"";
			hint = "Check the server's AWS credentials, its clock, and that its IAM identity may call lambda:InvokeFunction.";
			break;
		case 429:
			sqlstate = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
			what = "Lambda throttled the invocation of function \"%s\"";
			break;
		default:
			if (resp->status >= 400 && resp->status < 500)
			{
				sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
				what = "Lambda rejected the invocation of function \"%s\"";
			}
			else
			{
				sqlstate = ERRCODE_CONNECTION_FAILURE;
				what = "Lambda service error while invoking function \"%s\"";
			}
			break;
	}
	/* A code Lambda documents for Invoke says more than its status. */
	known = resp->status >= 400 ? find_api_code(code) : NULL;
	if (known)
	{
		sqlstate = known->sqlstate;
		what = known->what;
		hint = known->hint;
	}

	err = make_error(sqlstate, psprintf(what, function_name),
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
	{
		char	   *after = awl_http_header(resp, "Retry-After");

		if (after && strspn(after, "0123456789") == strlen(after) && strlen(after) < 6)
			err->retry_after_ms = atol(after) * 1000L;
	}
	return err;
}

/* The error for a transfer that did not produce a reply. */
static AwlInvokeError *
transport_error(const char *function_name, const InvokeTarget *t,
				const AwlHttpResponse *resp, const char *settings)
{
	AwlInvokeError *err;

	switch (resp->failure)
	{
		case AWL_HTTP_CONNECT:
			/* Nothing was sent, so trying again cannot run the function twice. */
			err = make_error(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
							 psprintf("could not connect to Lambda endpoint \"%s\"", t->base_url),
							 pstrdup(resp->error), NULL);
			err->retryable = true;
			return err;
		case AWL_HTTP_TIMEOUT:
			return make_error(ERRCODE_CONNECTION_FAILURE,
							  psprintf("invocation of Lambda function \"%s\" timed out", function_name),
							  pstrdup(resp->error),
							  psprintf("Raise \"%s.request_timeout_ms\" or \"%s.connect_timeout_ms\" if the function needs longer.",
									   settings, settings));
		case AWL_HTTP_TOO_LARGE:
			return make_error(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
							  psprintf("response of Lambda function \"%s\" exceeds %d bytes",
									   function_name, MAX_RESPONSE_BYTES),
							  NULL, NULL);
		default:
			return make_error(ERRCODE_CONNECTION_FAILURE,
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

AwlInvokeError *
awl_non_json_error(const char *function_name, const AwlInvokeResult *result)
{
	return make_error(ERRCODE_PROTOCOL_VIOLATION,
					  psprintf("Lambda function \"%s\" returned a response that is not JSON",
							   function_name),
					  psprintf("The response has %zu bytes and starts with \"%s\".",
							   result->payload_len,
							   pnstrdup(result->payload,
										pg_mbcliplen(result->payload, (int) result->payload_len, 40))),
					  NULL);
}

/*
 * Converts valid UTF-8 to the database encoding without raising.  Returns
 * the text in the database encoding (s itself when nothing needs converting),
 * or NULL with *bad_at set to the byte offset of the first character the
 * database encoding cannot hold.
 */
static char *
utf8_to_server_noerror(const char *s, size_t len, size_t *outlen, size_t *bad_at)
{
	int			enc = GetDatabaseEncoding();
	Oid			proc;
	char	   *dest;
	int			done;

	*outlen = len;
	if (len == 0 || enc == PG_UTF8 || enc == PG_SQL_ASCII)
		return unconstify(char *, s);	/* SQL_ASCII takes the bytes as they are */
	proc = FindDefaultConversionProc(PG_UTF8, enc);
	if (!OidIsValid(proc))
	{
		*bad_at = 0;
		return NULL;
	}
	dest = palloc(len * MAX_CONVERSION_GROWTH + 1);
	done = pg_do_encoding_conversion_buf(proc, PG_UTF8, enc,
										 (unsigned char *) unconstify(char *, s), (int) len,
										 (unsigned char *) dest, (int) (len * MAX_CONVERSION_GROWTH + 1),
										 true);
	if (done < (int) len)
	{
		pfree(dest);
		*bad_at = (size_t) done;
		return NULL;
	}
	*outlen = strlen(dest);
	return dest;
}

/* "0xe2 0x82 0xac": the bytes of the UTF-8 character at s, for messages. */
static char *
utf8_char_bytes(const char *s, size_t left)
{
	StringInfoData buf;
	int			n = Min((int) left, pg_utf_mblen((const unsigned char *) s));
	int			j;

	initStringInfo(&buf);
	for (j = 0; j < n; j++)
		appendStringInfo(&buf, "%s0x%02x", j ? " " : "", (unsigned char) s[j]);
	return buf.data;
}

/* The error for a UTF-8 reply that holds a character the database encoding lacks. */
static AwlInvokeError *
untranslatable_error(const char *function_name, const char *s, size_t len, size_t at)
{
	/* The same message as PostgreSQL's own conversion error. */
	return make_error(ERRCODE_UNTRANSLATABLE_CHARACTER,
					  psprintf("character with byte sequence %s in encoding \"%s\" has no equivalent in encoding \"%s\"",
							   utf8_char_bytes(s + at, len - at), pg_enc2name_tbl[PG_UTF8].name,
							   GetDatabaseEncodingName()),
					  psprintf("The response of Lambda function \"%s\" has %zu bytes; that character is at byte %zu.",
							   function_name, len, at),
					  NULL);
}

/* The code unit of "\uXXXX" at s (s[0] is the backslash), or -1. */
static long
unicode_escape(const char *s, const char *end)
{
	long		v = 0;
	int			j;

	if (end - s < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	for (j = 2; j < 6; j++)
	{
		int			d = awl_hex_value(s[j]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Why jsonb would refuse a payload, or NULL; see awl_jsonb_payload_error. */
static AwlInvokeError *
jsonb_refusal(const char *function_name, const AwlInvokeResult *result)
{
	const char *s = result->payload;
	const char *end = s + result->payload_len;
	const char *p;
	bool		in_string = false;
	bool		utf8_db = GetDatabaseEncoding() == PG_UTF8;

	if (!awl_json_is_valid(result->payload, result->payload_len))
		return awl_non_json_error(function_name, result);

	/*
	 * json-c has read it; jsonb refuses more: \u0000, lone surrogates, and
	 * escapes of characters the database encoding cannot hold.  Escapes are
	 * ASCII, which every server encoding keeps as it is.
	 */
	for (p = s; p < end; p++)
	{
		long		cp;
		const char *at = p;

		if (*p == '"')
		{
			in_string = !in_string;
			continue;
		}
		if (!in_string || *p != '\\')
			continue;
		if (p + 1 < end && p[1] != 'u')
		{
			p++;				/* \" \\ \n ... */
			continue;
		}
		cp = unicode_escape(p, end);
		if (cp < 0)
			continue;			/* json-c accepted it; not ours to judge */
		p += 5;
		if (is_utf16_surrogate_first((pg_wchar) cp))
		{
			long		lo = unicode_escape(p + 1, end);

			if (lo < 0 || !is_utf16_surrogate_second((pg_wchar) lo))
				cp = -1;
			else
			{
				cp = surrogate_pair_to_codepoint((pg_wchar) cp, (pg_wchar) lo);
				p += 6;
			}
		}
		else if (is_utf16_surrogate_second((pg_wchar) cp))
			cp = -1;
		if (cp < 0)
			return make_error(ERRCODE_PROTOCOL_VIOLATION,
							  psprintf("Lambda function \"%s\" returned a response that jsonb cannot hold",
									   function_name),
							  psprintf("A \\u escape at byte %zu of %zu is a lone UTF-16 surrogate.",
									   (size_t) (at - s), result->payload_len),
							  NULL);
		if (cp == 0)
			return make_error(ERRCODE_UNTRANSLATABLE_CHARACTER,
							  psprintf("Lambda function \"%s\" returned a response that jsonb cannot hold",
									   function_name),
							  psprintf("\\u0000 at byte %zu of %zu cannot be converted to text.",
									   (size_t) (at - s), result->payload_len),
							  NULL);
		if (cp > 0x7f && !utf8_db)
		{
			unsigned char utf8[8] = {0};
			size_t		outlen;
			size_t		bad_at;

			unicode_to_utf8((pg_wchar) cp, utf8);
			if (utf8_to_server_noerror((char *) utf8, strlen((char *) utf8), &outlen, &bad_at) == NULL)
				return make_error(ERRCODE_UNTRANSLATABLE_CHARACTER,
								  psprintf("Lambda function \"%s\" returned a response that jsonb cannot hold",
										   function_name),
								  psprintf("The \\u escape of U+%04lX at byte %zu of %zu has no equivalent in encoding \"%s\".",
										   cp, (size_t) (at - s),
										   result->payload_len, GetDatabaseEncodingName()),
								  NULL);
		}
	}
	return NULL;
}

AwlInvokeError *
awl_jsonb_payload_error(const char *function_name, const AwlInvokeResult *result)
{
	AwlInvokeError *err = jsonb_refusal(function_name, result);

	if (err)
		err->http_status = result->status_code;
	return err;
}

/* Parses an HTTP date ("Tue, 01 Dec 2026 10:05:00 GMT"); (time_t) -1 otherwise. */
static time_t
parse_http_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm	tm = {0};
	char		mon[4] = {0};
	const char *m;
	int			n = 0;

	if (s == NULL ||
		sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT%n", &tm.tm_mday, mon, &tm.tm_year,
			   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n == 0 ||
		strlen(mon) != 3 || (m = strstr(months, mon)) == NULL || (m - months) % 3 != 0 ||
		tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
		tm.tm_sec > 60 || tm.tm_year < 1970)
		return (time_t) -1;
	tm.tm_mon = (int) ((m - months) / 3);
	tm.tm_year -= 1900;
	return timegm(&tm);
}

/*
 * Whether a refusal (401/403 with one of the codes the AWS SDKs read as clock
 * skew) came with a Date more than 4 minutes from the time the request was
 * signed with (offset: the correction used then).  If so, the clock
 * correction becomes the Date's, with a WARNING when that is a new one, and
 * the request is worth sending once more.
 */
static bool
clock_skewed(const AwlHttpResponse *resp, const char *code, long offset)
{
	static const char *const codes[] = {"InvalidSignatureException", "SignatureDoesNotMatch",
		"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "AuthFailure"};
	size_t		i;
	time_t		server;
	time_t		now;
	long		new_offset;

	if ((resp->status != 401 && resp->status != 403) || code == NULL)
		return false;
	for (i = 0; i < lengthof(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			break;
	if (i == lengthof(codes))
		return false;
	server = parse_http_date(awl_http_header(resp, "Date"));
	if (server == (time_t) -1)
		return false;
	now = time(NULL);
	new_offset = (long) (server - now);
	if (labs(new_offset - offset) <= CLOCK_SKEW_SECS)
		return false;
	if (labs(new_offset - clock_offset) > CLOCK_SKEW_SECS)
	{
		clock_offset = new_offset;
		if (labs(new_offset) <= CLOCK_SKEW_SECS)
			ereport(WARNING,
					(errmsg("this server's clock agrees with AWS's again; awslambda signs requests with it"),
					 errdetail("Lambda refused a request (%s) signed with the corrected time, and the Date of its reply is %ld seconds from this server's clock.",
							   code, labs(new_offset))));
		else
			ereport(WARNING,
					(errmsg("this server's clock differs from AWS's; awslambda now signs requests with AWS's time"),
					 errdetail("Lambda refused a request (%s), and the Date of its reply is %ld seconds %s this server's clock.",
							   code, labs(new_offset), new_offset > 0 ? "ahead of" : "behind"),
					 errhint("Synchronize the server's clock (NTP).")));
	}
	return true;
}

/* What one batch of invocations shares while libcurl runs it. */
typedef struct InvokeBatch
{
	const AwlInvokeRequest *reqs;
	AwlInvokeResult *results;
	InvokeTarget *targets;
	AwlCredentials cred;
	char	 ***lines;			/* per request: header lines, wiped when done */
	int		   *nlines;
	bool		fail_fast;
	bool		may_retry_expired;	/* a second round with new credentials may follow */
	bool		may_retry_skewed;	/* a second round with a corrected clock may follow */
	long	   *offsets;		/* per request: the clock correction it was signed with */
	bool		may_retry;		/* attempts remain for retryable errors */
	bool		reset_credentials;
	bool		async;			/* the dispatcher's stream (statistics) */
	AwlStatsAttempt *stats;		/* per request: its attempt being timed */
} InvokeBatch;

/* Builds and signs request i just before it is sent. */
static void
start_invoke(int i, AwlHttpRequest *hreq, void *arg)
{
	InvokeBatch *b = (InvokeBatch *) arg;
	const AwlInvokeRequest *req = &b->reqs[i];
	const InvokeTarget *t = &b->targets[i];
	AwlSigV4Header sig_headers[10];
	char	  **wire = palloc(11 * sizeof(char *));
	int			n = 0;
	char		amz_date[17];
	AwlSigV4Request sreq = {0};
	AwlSigV4Signing signing = {0};
	char	   *authz;

	b->offsets[i] = clock_offset;
	awl_sigv4_amz_date(time(NULL) + clock_offset, amz_date);
	add_header(sig_headers, wire, &n, "Host", t->host);
	add_header(sig_headers, wire, &n, "X-Amz-Date", amz_date);
	add_header(sig_headers, wire, &n, "X-Amz-Invocation-Type", req->invocation_type);
	if (req->log_type && strcmp(req->log_type, "None") != 0)
		add_header(sig_headers, wire, &n, "X-Amz-Log-Type", req->log_type);
	if (req->client_context)
		add_header(sig_headers, wire, &n, "X-Amz-Client-Context", req->client_context);
	if (req->tenant_id)
		add_header(sig_headers, wire, &n, "X-Amz-Tenant-Id", req->tenant_id);
	if (req->durable_execution_name)
		add_header(sig_headers, wire, &n, "X-Amz-Durable-Execution-Name",
				   req->durable_execution_name);
	if (b->cred.session_token)
		add_header(sig_headers, wire, &n, "X-Amz-Security-Token", b->cred.session_token);

	sreq.method = "POST";
	sreq.path = t->path;
	sreq.query = t->query;
	sreq.headers = sig_headers;
	sreq.nheaders = n;
	sreq.body = (const unsigned char *) req->payload;
	sreq.body_len = req->payload_len;
	signing.access_key_id = b->cred.access_key_id;
	signing.secret_access_key = b->cred.secret_access_key;
	signing.region = t->region;
	signing.service = "lambda";
	signing.amz_date = amz_date;
	authz = awl_sigv4_authorization(&sreq, &signing, NULL);
	if (authz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not sign the Lambda request")));
	wire[n++] = concat3("Authorization: ", authz, NULL);
	explicit_bzero(authz, strlen(authz));
	free(authz);
	b->lines[i] = wire;
	b->nlines[i] = n;

	hreq->method = "POST";
	hreq->url = t->query ? psprintf("%s%s?%s", t->base_url, t->path, t->query)
		: concat3(t->base_url, t->path, NULL);
	hreq->headers = (const char *const *) wire;
	hreq->nheaders = n;
	hreq->body = req->payload;
	hreq->body_len = req->payload_len;
	hreq->connect_timeout_ms = req->connect_timeout_ms;
	hreq->timeout_ms = req->request_timeout_ms;
	hreq->max_response = MAX_RESPONSE_BYTES;
	awl_stats_start(&b->stats[i]);
}

/* Zeroes and forgets the header lines (token, signature) of request i. */
static void
wipe_request(InvokeBatch *b, int i)
{
	char	  **lines = b->lines[i];
	int			j;

	if (lines == NULL)
		return;
	for (j = 0; j < b->nlines[i]; j++)
		explicit_bzero(lines[j], strlen(lines[j]));
	b->lines[i] = NULL;
}

/* Interprets the reply to request i into its result. */
static void
finish_invoke(int i, AwlHttpResponse *resp, void *arg)
{
	InvokeBatch *b = (InvokeBatch *) arg;
	const AwlInvokeRequest *req = &b->reqs[i];
	AwlInvokeResult *result = &b->results[i];

	wipe_request(b, i);
	memset(result, 0, sizeof(*result));

	if (resp->failure != AWL_HTTP_OK)
		result->error = transport_error(req->function_name, &b->targets[i], resp,
										req->settings_prefix ? req->settings_prefix : "awslambda");
	else if (resp->status < 200 || resp->status > 299)
	{
		char	   *code = NULL;

		result->error = api_error(req->function_name, resp, &code);
		if (clock_skewed(resp, code, b->offsets[i]))
		{
			/* The clock, not the credentials: send again with the corrected one. */
			result->error->clock_skewed = true;
			result->error->credentials_rejected = false;
		}
		if (result->error->credentials_rejected)
			b->reset_credentials = true;	/* expired or revoked: fetch anew */
	}
	else if (!pg_verify_mbstr(PG_UTF8, resp->body, (int) resp->body_len, true))
		result->error = make_error(ERRCODE_PROTOCOL_VIOLATION,
								   psprintf("Lambda function \"%s\" returned a response that is not valid UTF-8",
											req->function_name),
								   psprintf("The response has %zu bytes.", resp->body_len), NULL);
	else
	{
		/* Headers are remote text too: bounded and sanitized like messages. */
		result->function_error = remote_header(resp, "X-Amz-Function-Error", MAX_REMOTE_ID);
		result->executed_version = remote_header(resp, "X-Amz-Executed-Version", MAX_REMOTE_ID);
		result->log_result = remote_header(resp, "X-Amz-Log-Result", MAX_LOG_RESULT);
		result->request_id = remote_header(resp, "x-amzn-RequestId", MAX_REMOTE_ID);
		result->durable_execution_arn = remote_header(resp, "X-Amz-Durable-Execution-Arn",
													  MAX_REMOTE_ARN);
		/*
		 * Lambda speaks UTF-8; convert to the database encoding, without
		 * raising: a character the database cannot hold fails this
		 * invocation only, not the batch it is part of.
		 */
		{
			size_t		bad_at = 0;

			result->payload = utf8_to_server_noerror(resp->body, resp->body_len,
													 &result->payload_len, &bad_at);
			if (result->payload == NULL)
			{
				AwlInvokeError *err = untranslatable_error(req->function_name, resp->body,
														   resp->body_len, bad_at);
				char	   *request_id = result->request_id;

				err->http_status = (int) resp->status;
				memset(result, 0, sizeof(*result));
				result->request_id = request_id;
				result->error = err;
			}
			else
				result->status_code = (int) resp->status;	/* last: complete */
		}
	}

	awl_stats_count(&b->stats[i], req, b->targets[i].region, b->async, resp, result);
	if (result->error && b->fail_fast &&
		!(result->error->credentials_rejected && b->may_retry_expired) &&
		!(result->error->clock_skewed && b->may_retry_skewed) &&
		!(result->error->retryable && b->may_retry))
		awl_invoke_raise(result->error);
}

/* Counts the attempts of b still in flight as abandoned (statistics; never raises). */
static void
count_abandoned(InvokeBatch *b, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		awl_stats_count(&b->stats[i], &b->reqs[i], b->targets[i].region, b->async, NULL, NULL);
}

/*
 * Sends one round of requests with the credentials at hand.  Returns whether
 * the cached credentials were forgotten because AWS rejected them (at most
 * once a minute, see awl_credentials_rejected).
 */
static bool
run_round(const AwlInvokeRequest *reqs, AwlInvokeResult *results, int n,
		  int max_parallel, bool fail_fast, bool first, bool may_retry_expired, bool may_retry)
{
	InvokeBatch b = {0};
	int			i;

	b.reqs = reqs;
	b.results = results;
	b.fail_fast = fail_fast;
	b.may_retry_expired = first && may_retry_expired;
	b.may_retry_skewed = first;
	b.offsets = palloc0(n * sizeof(long));
	b.may_retry = may_retry;
	b.targets = palloc0(n * sizeof(InvokeTarget));
	b.lines = palloc0(n * sizeof(char **));
	b.nlines = palloc0(n * sizeof(int));
	b.stats = palloc0(n * sizeof(AwlStatsAttempt));

	/* Everything that may need instance metadata happens before the batch runs. */
	for (i = 0; i < n; i++)
		resolve_target(&reqs[i], &b.targets[i]);
	awl_credentials_get(&b.cred);

	PG_TRY();
	{
		awl_http_perform_many(n, max_parallel, start_invoke, finish_invoke, &b);
	}
	PG_CATCH();
	{
		count_abandoned(&b, n);
		for (i = 0; i < n; i++)
			wipe_request(&b, i);
		if (b.reset_credentials)
			(void) awl_credentials_rejected();
		PG_RE_THROW();
	}
	PG_END_TRY();
	return b.reset_credentials && awl_credentials_rejected();
}

static bool
is_rejected(const AwlInvokeError *err)
{
	return err->credentials_rejected;
}

static bool
is_skewed(const AwlInvokeError *err)
{
	return err->clock_skewed;
}

static bool
is_retryable(const AwlInvokeError *err)
{
	return err->retryable;
}

/*
 * Sends again the items whose error matches; their new results replace the
 * old.  Returns how many were sent.
 */
static int
resend(const AwlInvokeRequest *reqs, AwlInvokeResult *results, int n, int max_parallel,
	   bool fail_fast, bool (*match) (const AwlInvokeError *), bool may_retry)
{
	AwlInvokeRequest *again = palloc(n * sizeof(AwlInvokeRequest));
	AwlInvokeResult *again_results = palloc0(n * sizeof(AwlInvokeResult));
	int		   *index = palloc(n * sizeof(int));
	int			nagain = 0;
	int			i;

	for (i = 0; i < n; i++)
		if (results[i].error && match(results[i].error))
		{
			again[nagain] = reqs[i];
			again[nagain].retry = true;
			index[nagain++] = i;
		}
	if (nagain > 0)
	{
		(void) run_round(again, again_results, nagain, max_parallel, fail_fast, false, false,
						 may_retry);
		for (i = 0; i < nagain; i++)
			results[index[i]] = again_results[i];
	}
	pfree(again);
	pfree(again_results);
	pfree(index);
	return nagain;
}

/*
 * Waits before attempt number "attempt" (2, 3, ...): full jitter over an
 * exponential cap (1 s, 2 s, 4 s, ... at most 20 s) as in the SDKs'
 * standard mode, but at least what Retry-After asked for.  The wait is a
 * latch wait, so a cancel or statement_timeout ends it at once.
 */
static void
backoff(int attempt, long retry_after_ms)
{
	long		cap = Min(20000L, 1000L << Min(attempt - 2, 5));
	long		delay = (long) (pg_prng_double(&pg_global_prng_state) * cap);
	TimestampTz until;

	delay = Min(Max(delay, retry_after_ms), 20000L);
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, awl_wait_event(AWL_WAIT_BACKOFF));
		ResetLatch(MyLatch);
	}
}

/*
 * Runs a batch.  Requests that Lambda refused because the credentials had
 * expired or are unknown (a clock or cache that ran late, revoked keys) are
 * sent once more with freshly fetched ones, so the caller does not see the
 * failure; but new credentials are fetched for that at most once a minute
 * per backend, and other 403s (access denied) keep the cached ones
 * (environment keys cannot be refreshed and are not retried).  A refusal
 * for clock skew corrects this backend's clock from the reply's Date, as
 * the SDKs do, and is sent once more.  Throttled, server-error and
 * unconnectable requests are tried again, up to awslambda.max_attempts in
 * all, after a backoff; anything that was answered otherwise, or may have
 * reached the function (a timeout, a broken reply), is never sent twice.
 */
void
awl_invoke_many(const AwlInvokeRequest *reqs, AwlInvokeResult *results, int n,
				int max_parallel, bool fail_fast)
{
	bool		refreshable = awl_credentials_refreshable();
	bool		refreshed;
	int			max_attempts = Max(1, reqs[0].max_attempts);
	int			attempt = 1;
	int			i;

	if (n <= 0)
		return;
	/* Rejected credentials are sent again only when new ones will be fetched. */
	refreshed = run_round(reqs, results, n, max_parallel, fail_fast, true, refreshable,
						  max_attempts > 1);
	/* Refused for clock skew: once more, signed with the corrected clock. */
	resend(reqs, results, n, max_parallel, fail_fast, is_skewed, max_attempts > 1);
	if (refreshed && refreshable)
		resend(reqs, results, n, max_parallel, fail_fast, is_rejected, max_attempts > 1);

	while (attempt < max_attempts)
	{
		long		retry_after = 0;
		bool		any = false;

		for (i = 0; i < n; i++)
			if (results[i].error && results[i].error->retryable)
			{
				any = true;
				retry_after = Max(retry_after, results[i].error->retry_after_ms);
			}
		if (!any)
			break;
		attempt++;
		backoff(attempt, retry_after);
		/* Errors of a retry are raised below, once they carry the attempt count. */
		resend(reqs, results, n, max_parallel, false, is_retryable, attempt < max_attempts);
	}

	for (i = 0; i < n; i++)
	{
		AwlInvokeError *err = results[i].error;

		if (err && err->retryable && attempt > 1)
			err->detail = psprintf("%s (gave up after %d attempts)",
								   err->detail ? err->detail : "", attempt);
		if (err && fail_fast)
			awl_invoke_raise(err);
	}
}

/*
 * A stream of invocations: the batch machinery above, slot by slot.  Each
 * slot holds a copy of its request, its target, its signed header lines and
 * the clock correction it was signed with, as InvokeBatch does per request.
 */
struct AwlInvokeStream
{
	AwlHttpStream *http;
	InvokeBatch b;				/* indexed by slot */
	AwlInvokeRequest *reqs;		/* b.reqs */
	AwlInvokeResult **out;		/* where each slot's result goes */
	void	  **tags;
	MemoryContext *cxts;
	uint64	   *signed_with;	/* the credentials generation of each slot */
	bool	   *busy;
	bool	   *answered;		/* complete, not yet handed over */
	bool	   *resent;			/* already sent a second time */
	bool	   *resend;			/* to be sent again by awl_invoke_stream_resend */
	int			nresend;
	int			resending;		/* the slot awl_invoke_stream_resend is starting, or -1 */
	uint64		generation;		/* bumped when rejected credentials are forgotten */
	int			nslots;
};

AwlInvokeStream *
awl_invoke_stream_create(int max_parallel)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	AwlInvokeStream *s = palloc0(sizeof(AwlInvokeStream));
	int			n;

	s->http = awl_http_stream_create(max_parallel);
	n = s->nslots = awl_http_stream_idle_slots(s->http);
	s->reqs = palloc0(n * sizeof(AwlInvokeRequest));
	s->out = palloc0(n * sizeof(AwlInvokeResult *));
	s->tags = palloc0(n * sizeof(void *));
	s->cxts = palloc0(n * sizeof(MemoryContext));
	s->signed_with = palloc0(n * sizeof(uint64));
	s->busy = palloc0(n * sizeof(bool));
	s->answered = palloc0(n * sizeof(bool));
	s->resent = palloc0(n * sizeof(bool));
	s->resend = palloc0(n * sizeof(bool));
	s->resending = -1;
	s->b.reqs = s->reqs;
	s->b.results = palloc0(n * sizeof(AwlInvokeResult));
	s->b.targets = palloc0(n * sizeof(InvokeTarget));
	s->b.lines = palloc0(n * sizeof(char **));
	s->b.nlines = palloc0(n * sizeof(int));
	s->b.offsets = palloc0(n * sizeof(long));
	s->b.fail_fast = false;
	s->b.async = true;
	s->b.stats = palloc0(n * sizeof(AwlStatsAttempt));
	MemoryContextSwitchTo(old);
	return s;
}

int
awl_invoke_stream_idle_slots(const AwlInvokeStream *s)
{
	return awl_http_stream_idle_slots(s->http) - s->nresend;
}

/* Signs slot i's request with the credentials at hand and starts it. */
static void
stream_start(AwlInvokeStream *s, int i)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxts[i]);
	AwlHttpRequest hreq = {0};

	awl_credentials_get(&s->b.cred);
	s->signed_with[i] = s->generation;
	start_invoke(i, &hreq, &s->b);
	PG_TRY();
	{
		awl_http_stream_add(s->http, &hreq, s->cxts[i], (void *) (intptr_t) i);
	}
	PG_CATCH();
	{
		wipe_request(&s->b, i);
		s->b.stats[i].running = false;	/* not sent */
		PG_RE_THROW();
	}
	PG_END_TRY();
	memset(&s->b.cred, 0, sizeof(s->b.cred));
	s->busy[i] = true;
	MemoryContextSwitchTo(old);
}

void
awl_invoke_stream_add(AwlInvokeStream *s, const AwlInvokeRequest *req,
					  AwlInvokeResult *result, MemoryContext cxt, void *tag)
{
	MemoryContext old;
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (!s->busy[i] && !s->answered[i] && !s->resend[i])
			break;
	if (i == s->nslots)
		elog(ERROR, "awslambda: no idle slot in the invocation stream");
	old = MemoryContextSwitchTo(cxt);
	s->reqs[i] = *req;
	memset(&s->b.targets[i], 0, sizeof(InvokeTarget));
	resolve_target(&s->reqs[i], &s->b.targets[i]);
	MemoryContextSwitchTo(old);
	s->out[i] = result;
	s->tags[i] = tag;
	s->cxts[i] = cxt;
	s->resent[i] = false;
	stream_start(s, i);
}

/* A reply arrived: interpret it in its invocation's context. */
static void
stream_answered(void *tag, AwlHttpResponse *resp, void *arg)
{
	AwlInvokeStream *s = (AwlInvokeStream *) arg;
	int			i = (int) (intptr_t) tag;
	MemoryContext old = MemoryContextSwitchTo(s->cxts[i]);

	finish_invoke(i, resp, &s->b);
	MemoryContextSwitchTo(old);
	s->busy[i] = false;
	s->answered[i] = true;
}

/*
 * Hands over every complete result.  With may_resend, a request refused for
 * clock skew, or for rejected credentials that were forgotten since it was
 * signed, is kept for awl_invoke_stream_resend instead (once), as
 * awl_invoke_many sends such requests once more.
 */
static int
stream_report(AwlInvokeStream *s, bool may_resend, AwlInvokeStreamDone done, void *arg)
{
	int			reported = 0;
	bool		refreshable = may_resend && awl_credentials_refreshable();
	int			i;

	for (i = 0; i < s->nslots; i++)
	{
		AwlInvokeError *err = s->b.results[i].error;

		if (!s->answered[i])
			continue;
		s->answered[i] = false;
		if (may_resend && err && !s->resent[i] &&
			(err->clock_skewed ||
			 (err->credentials_rejected && refreshable && s->signed_with[i] < s->generation)))
		{
			s->resent[i] = s->resend[i] = true;
			s->reqs[i].retry = true;
			s->nresend++;
			continue;
		}
		*s->out[i] = s->b.results[i];
		memset(&s->b.results[i], 0, sizeof(AwlInvokeResult));
		reported++;
		done(s->tags[i], s->out[i], arg);
	}
	return reported;
}

int
awl_invoke_stream_poll(AwlInvokeStream *s, long wait_ms, bool wake_on_latch,
					   AwlInvokeStreamDone done, void *arg)
{
	(void) awl_http_stream_drive(s->http, wait_ms, wake_on_latch, stream_answered, s);
	if (s->b.reset_credentials)
	{
		s->b.reset_credentials = false;
		if (awl_credentials_rejected())
			s->generation++;
	}
	return stream_report(s, true, done, arg);
}

bool
awl_invoke_stream_resend(AwlInvokeStream *s)
{
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (s->resend[i])
			break;
	if (i == s->nslots)
		return false;
	s->resend[i] = false;
	s->nresend--;
	s->resending = i;
	stream_start(s, i);
	s->resending = -1;
	return true;
}

void
awl_invoke_stream_resend_failed(AwlInvokeStream *s)
{
	if (s->resending < 0)
		return;
	/* Its result is still the refusal it had: that is its outcome. */
	s->answered[s->resending] = true;
	s->resending = -1;
}

int
awl_invoke_stream_harvest(AwlInvokeStream *s, AwlInvokeStreamDone done, void *arg)
{
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (s->resend[i])
		{
			s->resend[i] = false;
			s->answered[i] = true;
		}
	s->nresend = 0;
	s->resending = -1;
	return stream_report(s, false, done, arg);
}

int
awl_invoke_stream_running(const AwlInvokeStream *s)
{
	return awl_http_stream_running(s->http);
}

void
awl_invoke_stream_abort(AwlInvokeStream *s)
{
	int			i;

	awl_http_stream_abort(s->http);
	count_abandoned(&s->b, s->nslots);
	for (i = 0; i < s->nslots; i++)
	{
		wipe_request(&s->b, i);
		s->busy[i] = s->answered[i] = s->resend[i] = false;
	}
	s->nresend = 0;
	s->resending = -1;
	s->b.reset_credentials = false;
}

void
awl_invoke(const AwlInvokeRequest *req, AwlInvokeResult *result)
{
	awl_invoke_many(req, result, 1, 1, true);
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
