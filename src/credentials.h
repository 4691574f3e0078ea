/*-------------------------------------------------------------------------
 *
 * credentials.h
 *	  AWS credentials and the default region: the provider chain and its
 *	  cache, the providers, the instance-metadata client, region discovery,
 *	  and the STS calls some providers make.
 *
 * Calls go one way: credentials.c (the chain; it also defines the area's
 * settings through each file's own function) -> providers.c -> sts.c,
 * imds.c, region.c, awsconfig.c, process.c; region.c -> imds.c; sts.c ->
 * signing.c; all of them -> secret.c, http.c, parse.c.  Nothing below
 * calls back up: sts.c shares only the AwlCredentials type.
 *
 * Used by the invoke area (invoke.c and stream.c get credentials,
 * target.c the region) and awslambda.c (the settings, and the functions
 * that show credentials and region); those call in, nothing here calls
 * them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_CREDENTIALS_H
#define AWL_CREDENTIALS_H

#include "postgres.h"

#include <time.h>

#include "http.h"

/* One set of AWS credentials. */
typedef struct AwlCredentials
{
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;	/* NULL for long-term keys */
	time_t		expiration;		/* 0: does not expire */
	const char *source;			/* which provider, for introspection */
} AwlCredentials;

/* ---- in credentials.c: the chain and its cache ---------------------------- */

/*
 * Defines the settings of the credentials area (awslambda.region,
 * awslambda.profile, awslambda.imds_endpoint, awslambda.imds_v1_fallback,
 * awslambda.credential_process_timeout_ms, awslambda.sts_endpoint); called
 * once from _PG_init.
 */
extern void awl_credentials_define_settings(void);

/*
 * The credentials to sign with now: the environment's keys (never cached),
 * else the cached ones of the chain, fetched again ahead of their
 * expiration.  *out points into the environment or into the cache: valid
 * until the next call of this or awl_credentials_rejected; the caller does
 * not free or keep it.  Raises 28000 when no provider has credentials or a
 * configured one fails (a WARNING instead while the cached ones are still
 * good); a cancel while a provider waits is raised as usual.
 */
extern void awl_credentials_get(AwlCredentials *out);

/*
 * Forgets the cached credentials because AWS rejected them (an expired or
 * unknown token or key), so the next call fetches new ones; does so at most
 * once a minute per backend, so that a loop of rejected calls does not ask
 * the provider each time.  Returns whether they were forgotten.  Never raises.
 */
extern bool awl_credentials_rejected(void);

/*
 * Whether new credentials could be fetched at all: false when the
 * environment's keys, which are never refreshed, are in use.  Never raises.
 */
extern bool awl_credentials_refreshable(void);

/* ---- in providers.c: the providers the chain asks, 2 to 5 ----------------- */

/* What one provider made of its turn. */
typedef enum AwlFound
{
	AWL_NOT_CONFIGURED,			/* nothing set up for it: ask the next */
	AWL_FOUND,
	AWL_FAILED					/* set up but broken: an error, with *why */
} AwlFound;

/*
 * A provider: fills *out (palloc'd strings the caller wipes, see
 * awl_credentials_wipe) and out->source on AWL_FOUND, sets out->source and
 * *why (palloc'd, for a message; may be set with AWL_NOT_CONFIGURED too) on
 * the others.  Raises only for a cancel or out of memory.
 */
typedef AwlFound (*AwlCredentialProvider) (AwlCredentials *out, char **why);

/* AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN -> AssumeRoleWithWebIdentity. */
extern AwlFound awl_provider_web_identity(AwlCredentials *out, char **why);

/* The profile of the shared files: keys, role_arn, credential_process. */
extern AwlFound awl_provider_profile(AwlCredentials *out, char **why);

/* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI (ECS, EKS Pod Identity). */
extern AwlFound awl_provider_container(AwlCredentials *out, char **why);

/* The instance's IAM role from EC2 instance metadata. */
extern AwlFound awl_provider_instance_metadata(AwlCredentials *out, char **why);

/* Defines awslambda.credential_process_timeout_ms (see credentials.c). */
extern void awl_providers_define_settings(void);

/* ---- in secret.c: long-lived copies of secrets, wiped when dropped -------- */

/*
 * A copy of s (NULL stays NULL) in the "awslambda credentials" memory
 * context, which lives as long as the backend; drop it with
 * awl_secret_forget.
 */
extern char *awl_secret_keep(const char *s);

/* Wipes, frees and sets to NULL *s, a copy from awl_secret_keep (or NULL). */
extern void awl_secret_forget(char **s);

/* Wipes the secret key and token of c in place (their memory stays the caller's). */
extern void awl_credentials_wipe(AwlCredentials *c);

/* ---- in imds.c: the EC2 instance-metadata client and its session token ---- */

/* Defines awslambda.imds_endpoint and awslambda.imds_v1_fallback. */
extern void awl_imds_define_settings(void);

/* Whether AWS_EC2_METADATA_DISABLED is true (the SDKs then never ask it). */
extern bool awl_imds_disabled(void);

/*
 * GETs path from the instance metadata service with an IMDSv2 session token
 * (kept for its lifetime, fetched again once on a 401), or without one when
 * the token is refused and awslambda.imds_v1_fallback allows it.  True with
 * *resp (palloc'd body, HTTP 200); false with *why (palloc'd) when the
 * service cannot be reached or does not answer 200.  Raises only for a
 * cancel or out of memory.
 */
extern bool awl_imds_get(const char *path, AwlHttpResponse *resp, char **why);

/* ---- in region.c: the default region, validated and cached ---------------- */

/* Defines awslambda.region. */
extern void awl_region_define_settings(void);

/* Whether region is a region name (letters, digits and dashes); false for NULL. */
extern bool awl_region_is_valid(const char *region);

/*
 * The default region: awslambda.region, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's region, then instance metadata (cached).  The string lives as
 * long as the setting or the cache; the caller does not free it.  Raises
 * 55000 naming what was tried when there is none, 22023 for an invalid
 * region in an environment variable.
 */
extern const char *awl_default_region(void);

/* The same, or NULL instead of the 55000 error. */
extern const char *awl_default_region_or_null(void);

/*
 * The region STS calls are made in: the configured one (as above, without
 * instance metadata), else us-east-1.  Never NULL; raises like
 * awl_default_region for an invalid region in the environment.
 */
extern const char *awl_region_for_sts(void);

/* Forgets the profile's region read from the config file (the profile changed). */
extern void awl_region_forget_profile(void);

/* ---- in sts.c: AssumeRole and AssumeRoleWithWebIdentity ------------------- */

/* Defines awslambda.sts_endpoint. */
extern void awl_sts_define_settings(void);

/*
 * Exchanges source (signed with, in region) for role_arn's temporary
 * credentials: true with *out (palloc'd strings; the caller wipes them), or
 * false with *why (palloc'd) when STS cannot be reached, refuses or answers
 * without complete credentials.  external_id may be NULL.  Raises only for
 * a cancel or out of memory.
 */
extern bool awl_sts_assume_role(const char *region, const char *role_arn,
								const char *session_name, const char *external_id,
								const AwlCredentials *source, AwlCredentials *out,
								char **why);

/* The same for a web identity token (an unsigned call). */
extern bool awl_sts_assume_role_with_web_identity(const char *region, const char *role_arn,
												  const char *session_name,
												  const char *token,
												  AwlCredentials *out, char **why);

#endif							/* AWL_CREDENTIALS_H */
