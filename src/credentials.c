/*-------------------------------------------------------------------------
 *
 * credentials.c
 *	  Where awslambda finds AWS credentials and the default region.
 *
 * Order as the AWS SDKs: environment variables, then EC2 instance metadata
 * (IMDSv2, falling back to IMDSv1 only where the token call is refused and
 * AWS_EC2_METADATA_V1_DISABLED is not set).  Instance-metadata credentials
 * are cached for the life of the backend and refreshed ahead of their
 * Expiration: an advisory refresh 15 minutes before (failure keeps the old
 * keys), a mandatory one 10 minutes before (failure is an error).  Secrets
 * are wiped from memory when replaced and never appear in a message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "utils/memutils.h"

#include "awslambda.h"
#include "http.h"

#define IMDS_DEFAULT_ENDPOINT	"http://169.254.169.254"
#define IMDS_TOKEN_TTL			21600
#define IMDS_TIMEOUT_MS			1000
#define ADVISORY_REFRESH_SECS	(15 * 60)
#define MANDATORY_REFRESH_SECS	(10 * 60)
/* Credentials handed out already inside the refresh window are re-fetched at most this often. */
#define MIN_REFRESH_INTERVAL	60

typedef struct ImdsCache
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;
	time_t		expiration;
	time_t		refresh_at;
	char	   *token;			/* IMDSv2 session token */
	time_t		token_expiration;
	char	   *region;
} ImdsCache;

static MemoryContext awl_cred_cxt = NULL;
static ImdsCache cache;

/* Wipes and frees a cached secret string. */
static void
forget(char **s)
{
	if (*s)
	{
		explicit_bzero(*s, strlen(*s));
		pfree(*s);
		*s = NULL;
	}
}

static void
forget_credentials(void)
{
	forget(&cache.access_key_id);
	forget(&cache.secret_access_key);
	forget(&cache.session_token);
}

static char *
remember(const char *s)
{
	if (awl_cred_cxt == NULL)
		awl_cred_cxt = AllocSetContextCreate(TopMemoryContext,
											 "awslambda credentials",
											 ALLOCSET_SMALL_SIZES);
	return MemoryContextStrdup(awl_cred_cxt, s);
}

static bool
env_is_true(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && pg_strcasecmp(v, "true") == 0;
}

static const char *
env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Base URL of the instance metadata service, without a trailing slash. */
static char *
imds_endpoint(void)
{
	const char *ep = (awl_imds_endpoint && awl_imds_endpoint[0]) ? awl_imds_endpoint
		: env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
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
	AwlHttpRequest req = {0};

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
 * Returns the IMDSv2 token header line, NULL for IMDSv1 fallback; sets *ok
 * false (with *why) when the service cannot be used at all.
 */
static char *
imds_token_header(bool *ok, char **why)
{
	AwlHttpResponse resp;
	const char *ttl = "X-aws-ec2-metadata-token-ttl-seconds: " CppAsString2(IMDS_TOKEN_TTL);

	*ok = true;
	if (cache.token && time(NULL) < cache.token_expiration - 60)
		return psprintf("X-aws-ec2-metadata-token: %s", cache.token);

	if (!imds_request("PUT", "/latest/api/token", ttl, &resp, why))
	{
		*ok = false;
		return NULL;
	}
	if (resp.status == 200 && resp.body_len > 0)
	{
		forget(&cache.token);
		cache.token = remember(resp.body);
		cache.token_expiration = time(NULL) + IMDS_TOKEN_TTL;
		explicit_bzero(resp.body, resp.body_len);
		return psprintf("X-aws-ec2-metadata-token: %s", cache.token);
	}
	if ((resp.status == 403 || resp.status == 404 || resp.status == 405) &&
		!env_is_true("AWS_EC2_METADATA_V1_DISABLED"))
		return NULL;			/* IMDSv1: same GETs without a token */

	*ok = false;
	*why = psprintf("instance metadata refused a session token (HTTP %ld)", resp.status);
	return NULL;
}

/* GETs a metadata path with the session token; retries once with a fresh token on 401. */
static bool
imds_get(const char *path, AwlHttpResponse *resp, char **why)
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
			forget(&cache.token);
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

/* Parses "2026-01-01T06:00:00Z"; returns (time_t) -1 on anything else. */
static time_t
parse_iso8601_utc(const char *s)
{
	struct tm	tm = {0};
	char		z = 0;

	if (s == NULL ||
		sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
		z != 'Z')
		return (time_t) -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* Fetches role credentials from instance metadata into the cache. */
static bool
imds_refresh(char **why)
{
	static const char *const keys[] = {"AccessKeyId", "SecretAccessKey", "Token",
	"Expiration", "Code", "Message"};
	char	   *v[lengthof(keys)];
	AwlHttpResponse resp;
	char	   *role;
	char	   *nl;
	time_t		expiration;
	time_t		now = time(NULL);
	const char *base = "/latest/meta-data/iam/security-credentials/";
	bool		parsed;

	if (!imds_get(base, &resp, why))
		return false;
	role = resp.body;
	if ((nl = strpbrk(role, "\r\n")) != NULL)
		*nl = '\0';
	if (role[0] == '\0' || strchr(role, '/') != NULL)
	{
		*why = pstrdup("instance metadata lists no IAM role for this instance");
		return false;
	}

	if (!imds_get(psprintf("%s%s", base, role), &resp, why))
		return false;
	parsed = awl_json_get_strings(resp.body, resp.body_len, keys, v, lengthof(keys));
	explicit_bzero(resp.body, resp.body_len);
	if (!parsed || !v[0] || !v[1] || !v[3])
	{
		*why = psprintf("instance metadata returned no credentials for role \"%s\"%s%s",
						role, (parsed && v[5]) ? ": " : "", (parsed && v[5]) ? v[5] : "");
		if (parsed && v[1])
			explicit_bzero(v[1], strlen(v[1]));
		if (parsed && v[2])
			explicit_bzero(v[2], strlen(v[2]));
		return false;
	}
	expiration = parse_iso8601_utc(v[3]);
	if (expiration == (time_t) -1)
	{
		*why = psprintf("instance metadata returned an unreadable Expiration \"%s\"", v[3]);
		explicit_bzero(v[1], strlen(v[1]));
		if (v[2])
			explicit_bzero(v[2], strlen(v[2]));
		return false;
	}

	forget_credentials();
	cache.access_key_id = remember(v[0]);
	cache.secret_access_key = remember(v[1]);
	cache.session_token = v[2] ? remember(v[2]) : NULL;
	cache.expiration = expiration;

	/*
	 * Refresh 15 minutes ahead; credentials that arrive already inside that
	 * window (static stability, as the SDKs allow) are used, but asked for
	 * again after a minute rather than on every call.
	 */
	cache.refresh_at = expiration - ADVISORY_REFRESH_SECS;
	if (cache.refresh_at <= now)
		cache.refresh_at = Min(now + MIN_REFRESH_INTERVAL, expiration);

	explicit_bzero(v[1], strlen(v[1]));
	if (v[2])
		explicit_bzero(v[2], strlen(v[2]));
	return true;
}

void
awl_credentials_get(AwlCredentials *out)
{
	const char *akid = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	char	   *why = NULL;
	time_t		now;

	/* 1. Environment: long-lived or externally rotated, never cached. */
	if (akid && secret)
	{
		out->access_key_id = akid;
		out->secret_access_key = secret;
		out->session_token = env_nonempty("AWS_SESSION_TOKEN");
		if (out->session_token == NULL)
			out->session_token = env_nonempty("AWS_SECURITY_TOKEN");
		return;
	}

	/* 2. Instance metadata, cached. */
	if (env_is_true("AWS_EC2_METADATA_DISABLED"))
		why = pstrdup("instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
	else
	{
		now = time(NULL);
		if (cache.access_key_id == NULL || now >= cache.refresh_at)
		{
			if (!imds_refresh(&why))
			{
				bool		usable = cache.access_key_id != NULL &&
					now < cache.expiration - MANDATORY_REFRESH_SECS;

				if (usable)
				{
					/* Do not ask a failing service again on every call. */
					cache.refresh_at = now + MIN_REFRESH_INTERVAL;
					ereport(WARNING,
							(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
							 errmsg("could not refresh AWS credentials, using the cached ones"),
							 errdetail_internal("%s", why)));
				}
				else
					forget_credentials();
			}
		}
		if (cache.access_key_id != NULL)
		{
			out->access_key_id = cache.access_key_id;
			out->secret_access_key = cache.secret_access_key;
			out->session_token = cache.session_token;
			return;
		}
	}

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("could not find AWS credentials"),
			 errdetail("Tried environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then instance metadata: %s.",
					   why),
			 errhint("Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the server's environment, or attach an IAM role to the instance.")));
}

void
awl_credentials_reset(void)
{
	forget_credentials();
}

bool
awl_region_is_valid(const char *region)
{
	const char *p;
	bool		letter = false;

	if (region == NULL || region[0] == '\0' || strlen(region) > 64)
		return false;
	for (p = region; *p; p++)
	{
		if (*p >= 'a' && *p <= 'z')
			letter = true;
		else if (!(*p >= '0' && *p <= '9') && *p != '-')
			return false;
	}
	return letter;
}

/* Region from the environment variable name, checked. */
static const char *
env_region(const char *name)
{
	const char *r = env_nonempty(name);

	if (r && !awl_region_is_valid(r))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid AWS region \"%s\" in environment variable %s", r, name)));
	return r;
}

const char *
awl_default_region(void)
{
	const char *r;
	char	   *why = NULL;
	AwlHttpResponse resp;

	if (awl_region && awl_region[0])
		return awl_region;
	if ((r = env_region("AWS_REGION")) != NULL ||
		(r = env_region("AWS_DEFAULT_REGION")) != NULL)
		return r;
	if (cache.region)
		return cache.region;

	if (env_is_true("AWS_EC2_METADATA_DISABLED"))
		why = pstrdup("instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
	else if (imds_get("/latest/meta-data/placement/region", &resp, &why))
	{
		char	   *nl = strpbrk(resp.body, "\r\n");

		if (nl)
			*nl = '\0';
		if (awl_region_is_valid(resp.body))
		{
			cache.region = remember(resp.body);
			return cache.region;
		}
		why = psprintf("instance metadata returned an invalid region \"%s\"", resp.body);
	}

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not determine the AWS region"),
			 errdetail("Setting \"awslambda.region\" is empty, AWS_REGION and AWS_DEFAULT_REGION are not set, and %s.",
					   why),
			 errhint("Set \"awslambda.region\", for example with ALTER SYSTEM SET awslambda.region = 'us-east-1'.")));
	return NULL;				/* keep compiler quiet */
}
