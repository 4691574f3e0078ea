/*-------------------------------------------------------------------------
 *
 * imds.c
 *	  The EC2 instance metadata service (IMDS) client and its session token.
 *
 * Every request carries an IMDSv2 session token (PUT /latest/api/token),
 * kept for its six-hour lifetime and fetched again once when the service
 * answers 401; IMDSv1 (no token) only when the token request is refused and
 * a superuser allows it with awslambda.imds_v1_fallback.  The service is at
 * awslambda.imds_endpoint, AWS_EC2_METADATA_SERVICE_ENDPOINT or
 * http://169.254.169.254.  Used for the instance's role credentials
 * (providers.c) and its region (region.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "utils/guc.h"

#include "awsconfig.h"
#include "credentials.h"
#include "endpoint.h"
#include "http.h"

#define IMDS_DEFAULT_ENDPOINT	"http://169.254.169.254"
#define IMDS_TOKEN_TTL			21600
#define IMDS_TIMEOUT_MS			1000

/* Settings */
static char *imds_endpoint_setting = NULL;
static bool imds_v1_fallback = false;

/* The IMDSv2 session token, and when it expires. */
static char *imds_token = NULL;
static time_t imds_token_expiration;

void
awl_imds_define_settings(void)
{
	DefineCustomStringVariable("awslambda.imds_endpoint",
							   "Sets the EC2 instance metadata service URL used for credentials and region.",
							   "Empty means AWS_EC2_METADATA_SERVICE_ENDPOINT, then http://169.254.169.254.",
							   &imds_endpoint_setting,
							   "",
							   PGC_SUSET,
							   0,
							   awl_check_url_setting, NULL, NULL);

	DefineCustomBoolVariable("awslambda.imds_v1_fallback",
							 "Allows instance metadata requests without an IMDSv2 session token.",
							 "Only used when the token request is refused; AWS_EC2_METADATA_V1_DISABLED=true still forbids it.",
							 &imds_v1_fallback,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

bool
awl_imds_disabled(void)
{
	return awl_env_is_true("AWS_EC2_METADATA_DISABLED");
}

/* Base URL of the instance metadata service, without a trailing slash. */
static char *
imds_endpoint(void)
{
	const char *ep = (imds_endpoint_setting && imds_endpoint_setting[0]) ? imds_endpoint_setting
		: awl_env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	char	   *copy = pstrdup(ep ? ep : IMDS_DEFAULT_ENDPOINT);
	size_t		len = strlen(copy);

	while (len > 0 && copy[len - 1] == '/')
		copy[--len] = '\0';
	return copy;
}

/* One request to the metadata service; false on transport failure. */
static bool
imds_request(const char *method, const char *path, const char *header,
			 AwlHttpResponse *resp, char **why)
{
	char	   *base = imds_endpoint();
	AwlHttpRequest req = {.wait = AWL_WAIT_CREDENTIALS};

	req.method = method;
	req.url = psprintf("%s%s", base, path);
	req.headers = &header;
	req.nheaders = header ? 1 : 0;
	req.connect_timeout_ms = IMDS_TIMEOUT_MS;
	req.timeout_ms = IMDS_TIMEOUT_MS;
	req.max_response = 64 * 1024;
	awl_http_perform(&req, resp);
	if (resp->failure != AWL_HTTP_OK)
	{
		*why = psprintf("instance metadata at \"%s\" is unreachable: %s",
						base, resp->error);
		return false;
	}
	return true;
}

/*
 * Returns the IMDSv2 token header line, NULL for the IMDSv1 fallback; sets
 * *ok false (with *why) when the service cannot be used at all.
 */
static char *
imds_token_header(bool *ok, char **why)
{
	AwlHttpResponse resp;
	const char *ttl = "X-aws-ec2-metadata-token-ttl-seconds: " CppAsString2(IMDS_TOKEN_TTL);

	*ok = true;
	if (imds_token && time(NULL) < imds_token_expiration - 60)
		return psprintf("X-aws-ec2-metadata-token: %s", imds_token);

	if (!imds_request("PUT", "/latest/api/token", ttl, &resp, why))
	{
		*ok = false;
		return NULL;
	}
	if (resp.status == 200 && resp.body_len > 0)
	{
		awl_secret_forget(&imds_token);
		imds_token = awl_secret_keep(resp.body);
		imds_token_expiration = time(NULL) + IMDS_TOKEN_TTL;
		explicit_bzero(resp.body, resp.body_len);
		return psprintf("X-aws-ec2-metadata-token: %s", imds_token);
	}
	if ((resp.status == 403 || resp.status == 404 || resp.status == 405) &&
		imds_v1_fallback && !awl_env_is_true("AWS_EC2_METADATA_V1_DISABLED"))
		return NULL;			/* IMDSv1: same GETs without a token */

	*ok = false;
	*why = psprintf("instance metadata refused a session token (HTTP %ld)%s", resp.status,
					imds_v1_fallback ? "" : " and \"awslambda.imds_v1_fallback\" is off");
	return NULL;
}

bool
awl_imds_get(const char *path, AwlHttpResponse *resp, char **why)
{
	int			attempt;

	for (attempt = 0; attempt < 2; attempt++)
	{
		bool		ok;
		bool		reached;
		char	   *header = imds_token_header(&ok, why);

		if (!ok)
			return false;
		reached = imds_request("GET", path, header, resp, why);
		if (header)
		{
			explicit_bzero(header, strlen(header));
			pfree(header);
		}
		if (!reached)
			return false;
		if (resp->status == 401 && attempt == 0)
		{
			awl_secret_forget(&imds_token);
			continue;
		}
		if (resp->status == 200)
			return true;
		*why = psprintf("instance metadata returned HTTP %ld for \"%s\"",
						resp->status, path);
		return false;
	}
	return false;
}
