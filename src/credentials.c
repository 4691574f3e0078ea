/*-------------------------------------------------------------------------
 *
 * credentials.c
 *	  Where awslambda finds AWS credentials: the provider chain and its cache.
 *
 * The providers are asked in the AWS SDKs' order, first match wins:
 *	 1. environment variables (read on every call, never cached);
 *	 2. web identity token file -> STS AssumeRoleWithWebIdentity (EKS IRSA);
 *	 3. the shared config/credentials files' profile: static keys, role_arn
 *		with source_profile -> STS AssumeRole, role_arn with
 *		web_identity_token_file, or credential_process;
 *	 4. container credentials (ECS, EKS Pod Identity);
 *	 5. EC2 instance metadata (IMDSv2; IMDSv1 only if a superuser allows it).
 * 2-5 are in providers.c.  What they return is cached for the life of the
 * backend and fetched again ahead of its Expiration: 15 minutes before (a
 * failure keeps the old keys with a WARNING), 10 minutes before at the
 * latest (a failure is an error).  Secrets are wiped when replaced and
 * never appear in a message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "awsconfig.h"
#include "credentials.h"
#include "sigv4.h"

#define ADVISORY_REFRESH_SECS	(15 * 60)
#define MANDATORY_REFRESH_SECS	(10 * 60)
/* Credentials handed out already inside the refresh window are re-fetched at most this often. */
#define MIN_REFRESH_INTERVAL	60

/* The credentials of providers 2-5, kept for the life of the backend. */
typedef struct CredCache
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;
	time_t		expiration;		/* 0: does not expire */
	time_t		refresh_at;		/* 0: never */
	const char *source;
} CredCache;

static CredCache cache;

static void
forget_credentials(void)
{
	awl_secret_forget(&cache.access_key_id);
	awl_secret_forget(&cache.secret_access_key);
	awl_secret_forget(&cache.session_token);
	cache.source = NULL;
	/* and the signing key derived from the secret, with the signer's copy of it */
	awl_sigv4_forget();
}

/* Another profile means other credentials: drop the cached ones. */
static void
profile_changed(const char *newval, void *extra)
{
	forget_credentials();
	/* The profile may have changed too: read its region again when needed. */
	awl_region_forget_profile();
}

void
awl_credentials_define_settings(void)
{
	awl_region_define_settings();
	awl_config_define_settings(profile_changed);
	awl_imds_define_settings();
	awl_providers_define_settings();
	awl_sts_define_settings();
}

/* ---- the chain and its cache ---------------------------------------------- */

/*
 * Asks providers 2-5 in order; true with *out filled, or false with *why
 * and, when a configured provider failed, *failed naming it.
 */
static bool
resolve_chain(AwlCredentials *out, char **why, const char **failed)
{
	static const AwlCredentialProvider providers[] = {
		awl_provider_web_identity, awl_provider_profile, awl_provider_container,
		awl_provider_instance_metadata,
	};
	char	   *last_reason = NULL;
	size_t		i;

	for (i = 0; i < lengthof(providers); i++)
	{
		char	   *reason = NULL;
		AwlFound	f;

		memset(out, 0, sizeof(*out));
		f = providers[i] (out, &reason);
		if (f == AWL_FOUND)
			return true;
		if (f == AWL_FAILED)
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
	cache.access_key_id = awl_secret_keep(c->access_key_id);
	cache.secret_access_key = awl_secret_keep(c->secret_access_key);
	cache.session_token = awl_secret_keep(c->session_token);
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
	const char *akid = awl_env_nonempty("AWS_ACCESS_KEY_ID");
	const char *secret = awl_env_nonempty("AWS_SECRET_ACCESS_KEY");
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
		out->session_token = awl_env_nonempty("AWS_SESSION_TOKEN");
		if (out->session_token == NULL)
			out->session_token = awl_env_nonempty("AWS_SECURITY_TOKEN");
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
		awl_credentials_wipe(&fresh);
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
	return !(awl_env_nonempty("AWS_ACCESS_KEY_ID") && awl_env_nonempty("AWS_SECRET_ACCESS_KEY"));
}

