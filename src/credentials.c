/*-------------------------------------------------------------------------
 *
 * credentials.c
 *	  Where awslambda finds AWS credentials and the default region.
 *
 * The providers are asked in the AWS SDKs' order, first match wins:
 *	 1. environment variables (read on every call, never cached);
 *	 2. web identity token file -> STS AssumeRoleWithWebIdentity (EKS IRSA);
 *	 3. the shared config/credentials files' profile: static keys, role_arn
 *		with source_profile -> STS AssumeRole, role_arn with
 *		web_identity_token_file, or credential_process;
 *	 4. container credentials (ECS, EKS Pod Identity);
 *	 5. EC2 instance metadata (IMDSv2; IMDSv1 only if a superuser allows it).
 * What 2-5 return is cached for the life of the backend and fetched again
 * ahead of its Expiration: 15 minutes before (a failure keeps the old keys
 * with a WARNING), 10 minutes before at the latest (a failure is an error).
 * Secrets are wiped when replaced and never appear in a message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"

#include "awslambda.h"
#include "http.h"
#include "parse.h"
#include "sigv4.h"

#define IMDS_DEFAULT_ENDPOINT	"http://169.254.169.254"
#define ECS_DEFAULT_HOST		"http://169.254.170.2"
#define IMDS_TOKEN_TTL			21600
#define IMDS_TIMEOUT_MS			1000
#define CONTAINER_TIMEOUT_MS	2000
#define ADVISORY_REFRESH_SECS	(15 * 60)
#define MANDATORY_REFRESH_SECS	(10 * 60)
/* Credentials handed out already inside the refresh window are re-fetched at most this often. */
#define MIN_REFRESH_INTERVAL	60
#define MAX_ROLE_CHAIN			4
#define MAX_PROCESS_OUTPUT		(64 * 1024)

/* What one provider made of its turn. */
typedef enum Found
{
	NOT_CONFIGURED,				/* nothing set up for it: ask the next */
	FOUND,
	FAILED						/* set up but broken: an error, with *why */
} Found;

typedef struct CredCache
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;
	time_t		expiration;		/* 0: does not expire */
	time_t		refresh_at;		/* 0: never */
	const char *source;
	char	   *imds_token;		/* IMDSv2 session token */
	time_t		imds_token_expiration;
	char	   *region;			/* from instance metadata */
	char	   *config_region;	/* the profile's region in the config file */
	bool		config_region_read; /* config_region is known (maybe NULL) */
} CredCache;

static MemoryContext awl_cred_cxt = NULL;
static CredCache cache;

/* Wipes and frees a secret string. */
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
	cache.source = NULL;
	/* and the signing key derived from the secret, with the signer's copy of it */
	awl_sigv4_forget();
}

/* Wipes the secrets of a transient credential set (palloc'd strings). */
static void
wipe_credentials(AwlCredentials *c)
{
	if (c->secret_access_key)
		explicit_bzero(unconstify(char *, c->secret_access_key), strlen(c->secret_access_key));
	if (c->session_token)
		explicit_bzero(unconstify(char *, c->session_token), strlen(c->session_token));
}

static char *
remember(const char *s)
{
	if (s == NULL)
		return NULL;
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

/*
 * Takes AccessKeyId, SecretAccessKey, Token and Expiration (v[0..3]) of a
 * credentials document (instance metadata, container agent) into *out.
 */
static Found
take_document(char **v, const char *from, AwlCredentials *out, char **why)
{
	out->access_key_id = v[0];
	out->secret_access_key = v[1];
	out->session_token = v[2];
	out->expiration = awl_parse_iso8601(v[3]);
	if (out->expiration == (time_t) -1)
	{
		*why = psprintf("%s returned an unreadable Expiration \"%s\"", from, v[3]);
		wipe_credentials(out);
		return FAILED;
	}
	return FOUND;
}

/* Reads a small file (a token) into a palloc'd string, trailing newline dropped. */
static char *
read_small_file(const char *path, char **why)
{
	FILE	   *f = AllocateFile(path, "r");
	char	   *buf;
	size_t		n;

	if (f == NULL)
	{
		*why = psprintf("could not read \"%s\": %m", path);
		return NULL;
	}
	buf = palloc(MAX_PROCESS_OUTPUT + 1);
	n = fread(buf, 1, MAX_PROCESS_OUTPUT, f);
	FreeFile(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0)
	{
		*why = psprintf("file \"%s\" is empty", path);
		return NULL;
	}
	return buf;
}

static char *
session_name(const char *configured)
{
	return configured ? pstrdup(configured) : psprintf("awslambda-%d", (int) getpid());
}

/* ---- web identity (EKS IRSA) --------------------------------------------- */

static Found
web_identity(const char *role_arn, const char *token_file, const char *session,
			 AwlCredentials *out, char **why)
{
	char	   *token = read_small_file(token_file, why);
	bool		ok;

	if (token == NULL)
		return FAILED;
	ok = awl_sts_assume_role_with_web_identity(awl_region_for_sts(), role_arn,
											   session_name(session), token, out, why);
	explicit_bzero(token, strlen(token));
	return ok ? FOUND : FAILED;
}

static Found
from_web_identity_env(AwlCredentials *out, char **why)
{
	const char *file = env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = env_nonempty("AWS_ROLE_ARN");

	if (file == NULL || role == NULL)
		return NOT_CONFIGURED;
	out->source = "web-identity";
	return web_identity(role, file, env_nonempty("AWS_ROLE_SESSION_NAME"), out, why);
}

/* ---- shared config and credentials files --------------------------------- */

static Found from_profile_named(const char *profile, int depth, AwlCredentials *out, char **why);

/*
 * Runs credential_process (see process.c: cancellable, time-limited by
 * awslambda.credential_process_timeout_ms) and reads its JSON (Version 1)
 * from stdout.
 */
static Found
credential_process(const char *command, AwlCredentials *out, char **why)
{
	static const char *const keys[] = {"Version", "AccessKeyId", "SecretAccessKey",
	"SessionToken", "Expiration"};
	char	   *v[lengthof(keys)];
	char	   *buf;
	size_t		n;
	int			rc;
	bool		parsed;

	if (!awl_run_helper("credential_process", command, awl_credential_process_timeout_ms,
						MAX_PROCESS_OUTPUT, &buf, &n, &rc, why))
		return FAILED;
	if (rc != 0)
	{
		explicit_bzero(buf, n);
		*why = psprintf("credential_process failed: %s", wait_result_to_str(rc));
		return FAILED;
	}
	parsed = awl_json_get_strings(buf, n, keys, v, lengthof(keys));
	explicit_bzero(buf, n);
	if (!parsed || !v[0] || strcmp(v[0], "1") != 0 || !v[1] || !v[2])
	{
		*why = pstrdup("credential_process did not print a Version 1 credentials document");
		if (parsed && v[2])
			explicit_bzero(v[2], strlen(v[2]));
		if (parsed && v[3])
			explicit_bzero(v[3], strlen(v[3]));
		return FAILED;
	}
	out->access_key_id = v[1];
	out->secret_access_key = v[2];
	out->session_token = v[3];
	out->expiration = v[4] ? awl_parse_iso8601(v[4]) : 0;
	if (out->expiration == (time_t) -1)
	{
		*why = psprintf("credential_process printed an unreadable Expiration \"%s\"", v[4]);
		wipe_credentials(out);
		return FAILED;
	}
	return FOUND;
}

/* role_arn with source_profile: the source's keys sign an AssumeRole call. */
static Found
assume_role(const char *profile, const char *role_arn, const char *source_profile,
			int depth, AwlCredentials *out, char **why)
{
	AwlCredentials src = {0};
	Found		f;
	bool		ok;

	if (depth >= MAX_ROLE_CHAIN)
	{
		*why = psprintf("profile \"%s\": role chain longer than %d profiles", profile, MAX_ROLE_CHAIN);
		return FAILED;
	}
	/* A source_profile naming itself means: its own static keys. */
	if (strcmp(source_profile, profile) == 0)
	{
		src.access_key_id = awl_config_value(profile, "aws_access_key_id", NULL);
		src.secret_access_key = awl_config_value(profile, "aws_secret_access_key", NULL);
		src.session_token = awl_config_value(profile, "aws_session_token", NULL);
		f = (src.access_key_id && src.secret_access_key) ? FOUND : NOT_CONFIGURED;
	}
	else
		f = from_profile_named(source_profile, depth + 1, &src, why);
	if (f != FOUND)
	{
		if (f == NOT_CONFIGURED)
			*why = psprintf("profile \"%s\": source_profile \"%s\" has no credentials",
							profile, source_profile);
		return FAILED;
	}
	ok = awl_sts_assume_role(awl_region_for_sts(), role_arn,
							 session_name(awl_config_value(profile, "role_session_name", NULL)),
							 awl_config_value(profile, "external_id", NULL), &src, out, why);
	wipe_credentials(&src);
	return ok ? FOUND : FAILED;
}

static Found
from_profile_named(const char *profile, int depth, AwlCredentials *out, char **why)
{
	bool		exists = false;
	char	   *role_arn = awl_config_value(profile, "role_arn", &exists);
	char	   *v;

	if (role_arn)
	{
		if ((v = awl_config_value(profile, "source_profile", NULL)) != NULL)
		{
			out->source = "profile-assume-role";
			return assume_role(profile, role_arn, v, depth, out, why);
		}
		if ((v = awl_config_value(profile, "web_identity_token_file", NULL)) != NULL)
		{
			out->source = "profile-web-identity";
			return web_identity(role_arn, v,
								awl_config_value(profile, "role_session_name", NULL), out, why);
		}
		*why = psprintf("profile \"%s\" has role_arn but neither source_profile nor web_identity_token_file",
						profile);
		return FAILED;
	}
	out->access_key_id = awl_config_value(profile, "aws_access_key_id", &exists);
	out->secret_access_key = awl_config_value(profile, "aws_secret_access_key", &exists);
	if (out->access_key_id && out->secret_access_key)
	{
		out->session_token = awl_config_value(profile, "aws_session_token", NULL);
		out->source = "profile";
		return FOUND;
	}
	if ((v = awl_config_value(profile, "credential_process", &exists)) != NULL)
	{
		out->source = "credential-process";
		return credential_process(v, out, why);
	}
	if (exists && out->access_key_id == NULL && out->secret_access_key == NULL)
		return NOT_CONFIGURED;	/* a profile with only region and such */
	if (exists)
	{
		*why = psprintf("profile \"%s\" has only one of aws_access_key_id and aws_secret_access_key",
						profile);
		return FAILED;
	}
	return NOT_CONFIGURED;
}

static Found
from_profile(AwlCredentials *out, char **why)
{
	bool		chosen;
	bool		exists = false;
	const char *profile = awl_profile_name(&chosen);
	Found		f;

	out->source = "profile";
	f = from_profile_named(profile, 0, out, why);
	if (f == FAILED && out->source == NULL)
		out->source = "profile";

	/* As in the SDKs: a profile asked for by name must exist. */
	(void) awl_config_value(profile, "region", &exists);
	if (f == NOT_CONFIGURED && chosen && !exists)
	{
		*why = psprintf("profile \"%s\" was chosen but is not in \"%s\" or \"%s\"",
						profile, awl_config_file_path(true), awl_config_file_path(false));
		return FAILED;
	}
	return f;
}

/* ---- container credentials (ECS, EKS Pod Identity) ----------------------- */

/* A URL for a message, its user information (perhaps a password) masked. */
static char *
url_for_message(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *authority = sep ? sep + 3 : url;
	size_t		len = strcspn(authority, "/?#");
	const char *at = NULL;
	const char *p;

	for (p = authority; p < authority + len; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return pstrdup(url);
	return psprintf("%.*s***%s", (int) (authority - url), url, at);
}

static Found
from_container(AwlCredentials *out, char **why)
{
	static const char *const keys[] = {"AccessKeyId", "SecretAccessKey", "Token",
	"Expiration", "Message"};
	char	   *v[lengthof(keys)];
	const char *relative = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *token_file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *token_env = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char	   *token = NULL;
	char	   *header = NULL;
	AwlHttpRequest req = {.wait = AWL_WAIT_CREDENTIALS};
	AwlHttpResponse resp;
	bool		parsed;

	if (relative == NULL && full == NULL)
		return NOT_CONFIGURED;
	out->source = "container";
	if (relative)
	{
		/* A path on the ECS agent: "@host" or "evil/" must not change the host. */
		awl_url		u;

		req.url = psprintf("%s%s", ECS_DEFAULT_HOST, relative);
		if (relative[0] != '/' || !awl_url_parse(req.url, &u))
		{
			*why = psprintf("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \"%s\" is not a path", relative);
			return FAILED;
		}
	}
	else if (!awl_container_url_allowed(full))
	{
		/* The authorization token must not travel in clear text to anyone else. */
		*why = psprintf("AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\" is neither https nor http to a loopback or container agent address, without user information",
						url_for_message(full));
		return FAILED;
	}
	else
		req.url = full;

	if (token_file)
	{
		token = read_small_file(token_file, why);
		if (token == NULL)
			return FAILED;
	}
	else if (token_env)
		token = pstrdup(token_env);
	if (token)
	{
		if (strpbrk(token, "\r\n"))
		{
			explicit_bzero(token, strlen(token));
			*why = pstrdup("the container authorization token contains a line break");
			return FAILED;
		}
		header = psprintf("Authorization: %s", token);
		explicit_bzero(token, strlen(token));
	}

	req.method = "GET";
	req.headers = (const char *const *) &header;
	req.nheaders = header ? 1 : 0;
	req.connect_timeout_ms = CONTAINER_TIMEOUT_MS;
	req.timeout_ms = CONTAINER_TIMEOUT_MS;
	req.max_response = 64 * 1024;
	PG_TRY();
	{
		awl_http_perform(&req, &resp);
	}
	PG_FINALLY();
	{
		if (header)
			explicit_bzero(header, strlen(header));
	}
	PG_END_TRY();

	if (resp.failure != AWL_HTTP_OK)
	{
		*why = psprintf("container credentials endpoint \"%s\" is unreachable: %s", req.url, resp.error);
		return FAILED;
	}
	parsed = awl_json_get_strings(resp.body, resp.body_len, keys, v, lengthof(keys));
	explicit_bzero(resp.body, resp.body_len);
	if (resp.status != 200 || !parsed || !v[0] || !v[1] || !v[3])
	{
		*why = psprintf("container credentials endpoint \"%s\" returned HTTP %ld%s%s", req.url,
						resp.status, (parsed && v[4]) ? ": " : "", (parsed && v[4]) ? v[4] : "");
		if (parsed && v[1])
			explicit_bzero(v[1], strlen(v[1]));
		if (parsed && v[2])
			explicit_bzero(v[2], strlen(v[2]));
		return FAILED;
	}
	return take_document(v, "container credentials endpoint", out, why);
}

/* ---- EC2 instance metadata ------------------------------------------------ */

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
	if (cache.imds_token && time(NULL) < cache.imds_token_expiration - 60)
		return psprintf("X-aws-ec2-metadata-token: %s", cache.imds_token);

	if (!imds_request("PUT", "/latest/api/token", ttl, &resp, why))
	{
		*ok = false;
		return NULL;
	}
	if (resp.status == 200 && resp.body_len > 0)
	{
		forget(&cache.imds_token);
		cache.imds_token = remember(resp.body);
		cache.imds_token_expiration = time(NULL) + IMDS_TOKEN_TTL;
		explicit_bzero(resp.body, resp.body_len);
		return psprintf("X-aws-ec2-metadata-token: %s", cache.imds_token);
	}
	if ((resp.status == 403 || resp.status == 404 || resp.status == 405) &&
		awl_imds_v1_fallback && !env_is_true("AWS_EC2_METADATA_V1_DISABLED"))
		return NULL;			/* IMDSv1: same GETs without a token */

	*ok = false;
	*why = psprintf("instance metadata refused a session token (HTTP %ld)%s", resp.status,
					awl_imds_v1_fallback ? "" : " and \"awslambda.imds_v1_fallback\" is off");
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
			forget(&cache.imds_token);
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

static Found
from_instance_metadata(AwlCredentials *out, char **why)
{
	static const char *const keys[] = {"AccessKeyId", "SecretAccessKey", "Token",
	"Expiration", "Code", "Message"};
	char	   *v[lengthof(keys)];
	AwlHttpResponse resp;
	char	   *role;
	char	   *nl;
	const char *base = "/latest/meta-data/iam/security-credentials/";
	bool		parsed;

	if (env_is_true("AWS_EC2_METADATA_DISABLED"))
	{
		*why = pstrdup("instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
		return NOT_CONFIGURED;
	}
	out->source = "instance-metadata";
	if (!imds_get(base, &resp, why))
		return NOT_CONFIGURED;	/* not on EC2, most likely */
	role = resp.body;
	if ((nl = strpbrk(role, "\r\n")) != NULL)
		*nl = '\0';
	if (role[0] == '\0' || strchr(role, '/') != NULL)
	{
		*why = pstrdup("instance metadata lists no IAM role for this instance");
		return NOT_CONFIGURED;
	}

	if (!imds_get(psprintf("%s%s", base, role), &resp, why))
		return FAILED;
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
		return FAILED;
	}
	return take_document(v, "instance metadata", out, why);
}

/* ---- the chain and its cache ---------------------------------------------- */

/*
 * Asks providers 2-5 in order; true with *out filled, or false with *why
 * and, when a configured provider failed, *failed naming it.
 */
static bool
resolve_chain(AwlCredentials *out, char **why, const char **failed)
{
	static Found (*const providers[]) (AwlCredentials *, char **) = {
		from_web_identity_env, from_profile, from_container, from_instance_metadata,
	};
	char	   *last_reason = NULL;
	size_t		i;

	for (i = 0; i < lengthof(providers); i++)
	{
		char	   *reason = NULL;
		Found		f;

		memset(out, 0, sizeof(*out));
		f = providers[i] (out, &reason);
		if (f == FOUND)
			return true;
		if (f == FAILED)
		{
			*why = reason;
			*failed = out->source;
			return false;
		}
		if (reason)
			last_reason = reason;
	}
	*why = last_reason ? psprintf("no web identity, profile or container credentials are configured, and %s",
								  last_reason)
		: pstrdup("no provider is configured");
	return false;
}

static void
store(const AwlCredentials *c, time_t now)
{
	forget_credentials();
	cache.access_key_id = remember(c->access_key_id);
	cache.secret_access_key = remember(c->secret_access_key);
	cache.session_token = remember(c->session_token);
	cache.expiration = c->expiration;
	cache.source = c->source;

	/*
	 * Refresh 15 minutes ahead; credentials that arrive already inside that
	 * window (static stability, as the SDKs allow) are used, but asked for
	 * again after a minute rather than on every call.
	 */
	if (c->expiration == 0)
		cache.refresh_at = 0;
	else
	{
		cache.refresh_at = c->expiration - ADVISORY_REFRESH_SECS;
		if (cache.refresh_at <= now)
			cache.refresh_at = Min(now + MIN_REFRESH_INTERVAL, c->expiration);
	}
}

static void
from_cache(AwlCredentials *out)
{
	out->access_key_id = cache.access_key_id;
	out->secret_access_key = cache.secret_access_key;
	out->session_token = cache.session_token;
	out->expiration = cache.expiration;
	out->source = cache.source;
}

void
awl_credentials_get(AwlCredentials *out)
{
	const char *akid = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	char	   *why = NULL;
	time_t		now = time(NULL);
	AwlCredentials fresh;
	const char *failed = NULL;

	memset(out, 0, sizeof(*out));

	/* 1. Environment: long-lived or externally rotated, never cached. */
	if (akid && secret)
	{
		out->access_key_id = akid;
		out->secret_access_key = secret;
		out->session_token = env_nonempty("AWS_SESSION_TOKEN");
		if (out->session_token == NULL)
			out->session_token = env_nonempty("AWS_SECURITY_TOKEN");
		out->source = "environment";
		return;
	}

	if (cache.access_key_id != NULL && (cache.refresh_at == 0 || now < cache.refresh_at))
	{
		from_cache(out);
		return;
	}

	if (resolve_chain(&fresh, &why, &failed))
	{
		store(&fresh, now);
		wipe_credentials(&fresh);
		from_cache(out);
		return;
	}

	if (cache.access_key_id != NULL && cache.expiration != 0 &&
		now < cache.expiration - MANDATORY_REFRESH_SECS)
	{
		/* Do not ask a failing service again on every call. */
		cache.refresh_at = now + MIN_REFRESH_INTERVAL;
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("could not refresh AWS credentials, using the cached ones"),
				 errdetail_internal("%s", why)));
		from_cache(out);
		return;
	}
	forget_credentials();

	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("could not obtain AWS credentials from provider \"%s\"", failed),
				 errdetail_internal("%s.", why),
				 errhint("Fix the provider's configuration; the providers after it are not asked while it is configured.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("could not find AWS credentials"),
			 errdetail("Tried environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, web identity, the shared config files, container credentials and instance metadata: %s.",
					   why),
			 errhint("Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the server's environment, configure a profile in the server user's ~/.aws/, or attach an IAM role to the instance or task.")));
}

void
awl_credentials_reset(void)
{
	forget_credentials();
	/* The profile may have changed too: read its region again when needed. */
	if (cache.config_region)
		pfree(cache.config_region);
	cache.config_region = NULL;
	cache.config_region_read = false;
}

bool
awl_credentials_rejected(void)
{
	static time_t last = 0;
	time_t		now = time(NULL);

	if (last != 0 && now >= last && now - last < MIN_REFRESH_INTERVAL)
		return false;
	last = now;
	forget_credentials();
	return true;
}

bool
awl_credentials_refreshable(void)
{
	return !(env_nonempty("AWS_ACCESS_KEY_ID") && env_nonempty("AWS_SECRET_ACCESS_KEY"));
}

/* ---- region ---------------------------------------------------------------- */

bool
awl_region_is_valid(const char *region)
{
	return region != NULL && awl_region_name_ok(region, strlen(region));
}

/* Region from an environment variable, checked. */
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

/* Setting, environment, then the profile's region in the config file; NULL if none. */
static const char *
configured_region(void)
{
	const char *r;
	bool		chosen;
	char	   *v;

	if (awl_region && awl_region[0])
		return awl_region;
	if ((r = env_region("AWS_REGION")) != NULL ||
		(r = env_region("AWS_DEFAULT_REGION")) != NULL)
		return r;

	/* Read once per backend (and per profile), not on every call. */
	if (!cache.config_region_read)
	{
		v = awl_config_value(awl_profile_name(&chosen), "region", NULL);
		cache.config_region = (v && awl_region_is_valid(v)) ? remember(v) : NULL;
		cache.config_region_read = true;
	}
	return cache.config_region;
}

/* The region STS calls are made in: configured, else the global us-east-1. */
const char *
awl_region_for_sts(void)
{
	const char *r = configured_region();

	return r ? r : "us-east-1";
}

/* The default region, or NULL with *why when none can be found. */
static const char *
find_region(char **why)
{
	const char *r = configured_region();
	AwlHttpResponse resp;

	if (r)
		return r;
	if (cache.region)
		return cache.region;

	if (env_is_true("AWS_EC2_METADATA_DISABLED"))
		*why = pstrdup("instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
	else if (imds_get("/latest/meta-data/placement/region", &resp, why))
	{
		char	   *nl = strpbrk(resp.body, "\r\n");

		if (nl)
			*nl = '\0';
		if (awl_region_is_valid(resp.body))
		{
			cache.region = remember(resp.body);
			return cache.region;
		}
		*why = psprintf("instance metadata returned an invalid region \"%s\"", resp.body);
	}
	return NULL;
}

const char *
awl_default_region_or_null(void)
{
	char	   *why = NULL;

	return find_region(&why);
}

const char *
awl_default_region(void)
{
	char	   *why = NULL;
	const char *r = find_region(&why);

	if (r)
		return r;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not determine the AWS region"),
			 errdetail("Setting \"awslambda.region\" is empty, AWS_REGION and AWS_DEFAULT_REGION are not set, the profile in the config file names no region, and %s.",
					   why),
			 errhint("Set \"awslambda.region\", for example with ALTER SYSTEM SET awslambda.region = 'us-east-1'.")));
	return NULL;				/* keep compiler quiet */
}
