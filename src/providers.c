/*-------------------------------------------------------------------------
 *
 * providers.c
 *	  The credential providers the chain (credentials.c) asks, 2 to 5:
 *	  web identity, the shared config files' profile, container
 *	  credentials and EC2 instance metadata.
 *
 * Each returns palloc'd credentials the chain copies into its cache and
 * then wipes, or says why it has none.  A provider that calls STS (a role
 * to assume) does so through sts.c; instance metadata through imds.c.
 * Secrets are wiped once read and never appear in a message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/guc.h"

#include "awslambda.h"
#include "awsconfig.h"
#include "credentials.h"
#include "http.h"
#include "parse.h"

#define ECS_DEFAULT_HOST		"http://169.254.170.2"
#define CONTAINER_TIMEOUT_MS	2000
#define MAX_ROLE_CHAIN			4
#define MAX_PROCESS_OUTPUT		(64 * 1024)

/* awslambda.credential_process_timeout_ms */
static int	credential_process_timeout_ms = 60000;

void
awl_providers_define_settings(void)
{
	DefineCustomIntVariable("awslambda.credential_process_timeout_ms",
							"Sets the maximum time a profile's credential_process may run.",
							"A helper still running then is killed, with its whole process group, and the call fails.",
							&credential_process_timeout_ms,
							60000, 1, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * Takes AccessKeyId, SecretAccessKey, Token and Expiration (v[0..3]) of a
 * credentials document (instance metadata, container agent, and from
 * v + 1 credential_process's) into *out, when it was parsed and is
 * complete; otherwise wipes the secrets it has and fails with *why =
 * incomplete.  An absent Expiration means none; from says who "returned"
 * or "printed" it, for the message.
 */
static AwlFound
take_document(char **v, bool parsed, bool complete, const char *from, char *incomplete,
			  AwlCredentials *out, char **why)
{
	if (!complete)
	{
		*why = incomplete;
		if (parsed && v[1])
			explicit_bzero(v[1], strlen(v[1]));
		if (parsed && v[2])
			explicit_bzero(v[2], strlen(v[2]));
		return AWL_FAILED;
	}
	out->access_key_id = v[0];
	out->secret_access_key = v[1];
	out->session_token = v[2];
	out->expiration = v[3] ? awl_parse_iso8601(v[3]) : 0;
	if (out->expiration == (time_t) -1)
	{
		*why = psprintf("%s an unreadable Expiration \"%s\"", from, v[3]);
		awl_credentials_wipe(out);
		return AWL_FAILED;
	}
	return AWL_FOUND;
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

static AwlFound
web_identity(const char *role_arn, const char *token_file, const char *session,
			 AwlCredentials *out, char **why)
{
	char	   *token = read_small_file(token_file, why);
	bool		ok;

	if (token == NULL)
		return AWL_FAILED;
	ok = awl_sts_assume_role_with_web_identity(awl_region_for_sts(), role_arn,
											   session_name(session), token, out, why);
	explicit_bzero(token, strlen(token));
	return ok ? AWL_FOUND : AWL_FAILED;
}

AwlFound
awl_provider_web_identity(AwlCredentials *out, char **why)
{
	const char *file = awl_env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = awl_env_nonempty("AWS_ROLE_ARN");

	if (file == NULL || role == NULL)
		return AWL_NOT_CONFIGURED;
	out->source = "web-identity";
	return web_identity(role, file, awl_env_nonempty("AWS_ROLE_SESSION_NAME"), out, why);
}

/* ---- shared config and credentials files --------------------------------- */

static AwlFound from_profile_named(const char *profile, int depth, AwlCredentials *out,
								   char **why);

/*
 * Runs credential_process (see process.c: cancellable, time-limited by
 * awslambda.credential_process_timeout_ms) and reads its JSON (Version 1)
 * from stdout.
 */
static AwlFound
credential_process(const char *command, AwlCredentials *out, char **why)
{
	static const char *const keys[] = {"Version", "AccessKeyId", "SecretAccessKey",
	"SessionToken", "Expiration"};
	char	   *v[lengthof(keys)];
	char	   *buf;
	size_t		n;
	int			rc;
	bool		parsed;

	if (!awl_run_helper("credential_process", command, credential_process_timeout_ms,
						MAX_PROCESS_OUTPUT, &buf, &n, &rc, why))
		return AWL_FAILED;
	if (rc != 0)
	{
		explicit_bzero(buf, n);
		*why = psprintf("credential_process failed: %s", wait_result_to_str(rc));
		return AWL_FAILED;
	}
	parsed = awl_json_get_strings(buf, n, keys, v, lengthof(keys));
	explicit_bzero(buf, n);
	return take_document(v + 1, parsed, parsed && v[0] && strcmp(v[0], "1") == 0 && v[1] && v[2],
						 "credential_process printed",
						 pstrdup("credential_process did not print a Version 1 credentials document"),
						 out, why);
}

/* role_arn with source_profile: the source's keys sign an AssumeRole call. */
static AwlFound
assume_role(const char *profile, const char *role_arn, const char *source_profile,
			int depth, AwlCredentials *out, char **why)
{
	AwlCredentials src = {0};
	AwlFound		f;
	bool		ok;

	if (depth >= MAX_ROLE_CHAIN)
	{
		*why = psprintf("profile \"%s\": role chain longer than %d profiles", profile, MAX_ROLE_CHAIN);
		return AWL_FAILED;
	}
	/* A source_profile naming itself means: its own static keys. */
	if (strcmp(source_profile, profile) == 0)
	{
		src.access_key_id = awl_config_value(profile, "aws_access_key_id", NULL);
		src.secret_access_key = awl_config_value(profile, "aws_secret_access_key", NULL);
		src.session_token = awl_config_value(profile, "aws_session_token", NULL);
		f = (src.access_key_id && src.secret_access_key) ? AWL_FOUND : AWL_NOT_CONFIGURED;
	}
	else
		f = from_profile_named(source_profile, depth + 1, &src, why);
	if (f != AWL_FOUND)
	{
		if (f == AWL_NOT_CONFIGURED)
			*why = psprintf("profile \"%s\": source_profile \"%s\" has no credentials",
							profile, source_profile);
		return AWL_FAILED;
	}
	ok = awl_sts_assume_role(awl_region_for_sts(), role_arn,
							 session_name(awl_config_value(profile, "role_session_name", NULL)),
							 awl_config_value(profile, "external_id", NULL), &src, out, why);
	awl_credentials_wipe(&src);
	return ok ? AWL_FOUND : AWL_FAILED;
}

static AwlFound
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
		return AWL_FAILED;
	}
	out->access_key_id = awl_config_value(profile, "aws_access_key_id", &exists);
	out->secret_access_key = awl_config_value(profile, "aws_secret_access_key", &exists);
	if (out->access_key_id && out->secret_access_key)
	{
		out->session_token = awl_config_value(profile, "aws_session_token", NULL);
		out->source = "profile";
		return AWL_FOUND;
	}
	if ((v = awl_config_value(profile, "credential_process", &exists)) != NULL)
	{
		out->source = "credential-process";
		return credential_process(v, out, why);
	}
	if (exists && out->access_key_id == NULL && out->secret_access_key == NULL)
		return AWL_NOT_CONFIGURED;	/* a profile with only region and such */
	if (exists)
	{
		*why = psprintf("profile \"%s\" has only one of aws_access_key_id and aws_secret_access_key",
						profile);
		return AWL_FAILED;
	}
	return AWL_NOT_CONFIGURED;
}

AwlFound
awl_provider_profile(AwlCredentials *out, char **why)
{
	bool		chosen;
	bool		exists = false;
	const char *profile = awl_profile_name(&chosen);
	AwlFound		f;

	out->source = "profile";
	f = from_profile_named(profile, 0, out, why);
	if (f == AWL_FAILED && out->source == NULL)
		out->source = "profile";

	/* As in the SDKs: a profile asked for by name must exist. */
	(void) awl_config_value(profile, "region", &exists);
	if (f == AWL_NOT_CONFIGURED && chosen && !exists)
	{
		*why = psprintf("profile \"%s\" was chosen but is not in \"%s\" or \"%s\"",
						profile, awl_config_file_path(true), awl_config_file_path(false));
		return AWL_FAILED;
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

/*
 * The container credentials URL: the ECS agent's path, or a full URL that
 * may carry the token; NULL with *why when the environment names one that
 * must not be used.
 */
static const char *
container_url(const char *relative, const char *full, char **why)
{
	char	   *url;

	if (relative)
	{
		/* A path on the ECS agent: "@host" or "evil/" must not change the host. */
		AwlUrl		u;

		url = psprintf("%s%s", ECS_DEFAULT_HOST, relative);
		if (relative[0] != '/' || !awl_url_parse(url, &u))
		{
			*why = psprintf("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \"%s\" is not a path", relative);
			return NULL;
		}
		return url;
	}
	if (!awl_container_url_allowed(full))
	{
		/* The authorization token must not travel in clear text to anyone else. */
		*why = psprintf("AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\" is neither https nor http to a loopback or container agent address, without user information",
						url_for_message(full));
		return NULL;
	}
	return full;
}

/*
 * The Authorization header line of the container authorization token
 * (palloc'd; the caller wipes it), NULL when there is none, or NULL with
 * *failed and *why when it cannot be read or holds a line break.
 */
static char *
container_token_header(bool *failed, char **why)
{
	const char *token_file = awl_env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *token_env = awl_env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char	   *token = NULL;
	char	   *header;

	*failed = false;
	if (token_file)
	{
		token = read_small_file(token_file, why);
		if (token == NULL)
		{
			*failed = true;
			return NULL;
		}
	}
	else if (token_env)
		token = pstrdup(token_env);
	if (token == NULL)
		return NULL;
	if (strpbrk(token, "\r\n"))
	{
		explicit_bzero(token, strlen(token));
		*why = pstrdup("the container authorization token contains a line break");
		*failed = true;
		return NULL;
	}
	header = psprintf("Authorization: %s", token);
	explicit_bzero(token, strlen(token));
	return header;
}

AwlFound
awl_provider_container(AwlCredentials *out, char **why)
{
	static const char *const keys[] = {"AccessKeyId", "SecretAccessKey", "Token",
	"Expiration", "Message"};
	char	   *v[lengthof(keys)];
	const char *relative = awl_env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = awl_env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char	   *header = NULL;
	bool		failed;
	AwlHttpRequest req = {.method = "GET", .wait = AWL_WAIT_CREDENTIALS,
		.connect_timeout_ms = CONTAINER_TIMEOUT_MS, .timeout_ms = CONTAINER_TIMEOUT_MS,
	.max_response = 64 * 1024};
	AwlHttpResponse resp;
	bool		parsed;

	if (relative == NULL && full == NULL)
		return AWL_NOT_CONFIGURED;
	out->source = "container";
	if ((req.url = container_url(relative, full, why)) == NULL)
		return AWL_FAILED;
	header = container_token_header(&failed, why);
	if (failed)
		return AWL_FAILED;
	req.headers = (const char *const *) &header;
	req.nheaders = header ? 1 : 0;
	awl_http_perform_wiped(&req, &resp);
	if (resp.failure != AWL_HTTP_OK)
	{
		*why = psprintf("container credentials endpoint \"%s\" is unreachable: %s", req.url, resp.error);
		return AWL_FAILED;
	}
	parsed = awl_json_get_strings(resp.body, resp.body_len, keys, v, lengthof(keys));
	explicit_bzero(resp.body, resp.body_len);
	return take_document(v, parsed, resp.status == 200 && parsed && v[0] && v[1] && v[3],
						 "container credentials endpoint returned",
						 psprintf("container credentials endpoint \"%s\" returned HTTP %ld%s%s",
								  req.url, resp.status, (parsed && v[4]) ? ": " : "",
								  (parsed && v[4]) ? v[4] : ""),
						 out, why);
}

/* ---- EC2 instance metadata ------------------------------------------------ */

AwlFound
awl_provider_instance_metadata(AwlCredentials *out, char **why)
{
	static const char *const keys[] = {"AccessKeyId", "SecretAccessKey", "Token",
	"Expiration", "Code", "Message"};
	char	   *v[lengthof(keys)];
	AwlHttpResponse resp;
	char	   *role;
	char	   *nl;
	const char *base = "/latest/meta-data/iam/security-credentials/";
	bool		parsed;

	if (awl_imds_disabled())
	{
		*why = pstrdup("instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
		return AWL_NOT_CONFIGURED;
	}
	out->source = "instance-metadata";
	if (!awl_imds_get(base, &resp, why))
		return AWL_NOT_CONFIGURED;	/* not on EC2, most likely */
	role = resp.body;
	if ((nl = strpbrk(role, "\r\n")) != NULL)
		*nl = '\0';
	if (role[0] == '\0' || strchr(role, '/') != NULL)
	{
		*why = pstrdup("instance metadata lists no IAM role for this instance");
		return AWL_NOT_CONFIGURED;
	}

	if (!awl_imds_get(psprintf("%s%s", base, role), &resp, why))
		return AWL_FAILED;
	parsed = awl_json_get_strings(resp.body, resp.body_len, keys, v, lengthof(keys));
	explicit_bzero(resp.body, resp.body_len);
	return take_document(v, parsed, parsed && v[0] && v[1] && v[3], "instance metadata returned",
						 psprintf("instance metadata returned no credentials for role \"%s\"%s%s",
								  role, (parsed && v[5]) ? ": " : "", (parsed && v[5]) ? v[5] : ""),
						 out, why);
}
