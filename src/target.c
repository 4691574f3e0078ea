/*-------------------------------------------------------------------------
 *
 * target.c
 *	  Where an invocation goes: the function name read by Lambda's grammar,
 *	  awslambda.allowed_functions, the region, the endpoint and the path.
 *
 * The function name goes into the path percent-encoded as the AWS SDKs do
 * (everything but A-Z a-z 0-9 - _ . ~), and sigv4.c encodes that path once
 * more for the canonical request.  A full ARN selects the region, and with
 * it the host and the signing scope.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/memutils.h"

#include "credentials.h"
#include "endpoint.h"
#include "invoke_int.h"
#include "parse.h"
#include "sigv4.h"

#define INVOKE_PATH_PREFIX	"/2015-03-31/functions/"

/* Settings */
static char *endpoint_url_setting = NULL;
static char *allowed_functions_setting = NULL;

void
awl_target_define_settings(void)
{
	DefineCustomStringVariable("awslambda.endpoint_url",
							   "Sets the Lambda endpoint URL, used as given.",
							   "For VPC endpoints, emulators and tests. Empty means AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, the profile's endpoint settings, then the regional endpoint (FIPS and dual-stack as configured).",
							   &endpoint_url_setting,
							   "",
							   PGC_SUSET,
							   0,
							   awl_check_url_setting, NULL, NULL);

	DefineCustomStringVariable("awslambda.allowed_functions",
							   "Limits which Lambda functions may be invoked.",
							   "Comma-separated patterns with * and ?, matched against the function name, or against the name as given when the pattern contains a colon (ARNs). Empty allows all. Set per role with ALTER ROLE ... SET.",
							   &allowed_functions_setting,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
}

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
	const char *setting = allowed_functions_setting;
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

	if (allowed_functions_setting == NULL || allowed_functions_setting[0] == '\0')
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
					   allowed_functions_setting)));
}

/* Resolves region, endpoint and path for one request. */
void
awl_target_resolve(const AwlInvokeRequest *req, AwlInvokeTarget *t)
{
	const char *name = req->function_name;
	const char *endpoint = req->endpoint_url ? req->endpoint_url : endpoint_url_setting;
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
	AwlInvokeTarget t = {0};

	awl_target_resolve(req, &t);
	return t.region;
}
