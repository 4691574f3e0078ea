/*-------------------------------------------------------------------------
 *
 * endpoint.c
 *	  Where a Lambda request goes, found as the AWS SDKs find it.
 *
 * awslambda.endpoint_url (or aws_lambda.endpoint_override) is used as
 * given.  Otherwise an endpoint URL configured for the SDKs, first found of
 * AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, the profile's services section
 * ("lambda = / endpoint_url = ...") and the profile's endpoint_url, unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS / ignore_configured_endpoint_urls is
 * true.  Otherwise Lambda's regional endpoint in the region's partition
 * (partition.c), FIPS and dual-stack as AWS_USE_FIPS_ENDPOINT /
 * use_fips_endpoint and AWS_USE_DUALSTACK_ENDPOINT / use_dualstack_endpoint
 * say; like the SDKs' endpoint rules, FIPS or dual-stack together with a
 * configured endpoint URL is an error.  The request is always signed for
 * the region itself.
 *
 * The environment and the profile are read once per backend (and again
 * when the profile in use changes), not per call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/memutils.h"

#include "awsconfig.h"
#include "endpoint.h"
#include "parse.h"
#include "partition.h"

/* What the environment and the profile configure, read once. */
typedef struct EndpointConfig
{
	bool		loaded;
	char	   *profile;		/* the profile it was read for */
	char	   *url;			/* a configured endpoint URL, or NULL */
	char	   *url_source;		/* where it came from, for messages */
	bool		fips;
	char	   *fips_source;
	bool		dualstack;
	char	   *dualstack_source;
} EndpointConfig;

static EndpointConfig config;
static MemoryContext config_context = NULL;

bool
awl_check_url_setting(char **newval, void **extra, GucSource source)
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

/*
 * A boolean from the environment variable, else from the profile's key;
 * false when neither is set.  *source names where a true came from.
 */
static bool
bool_setting(const char *env, const char *profile, const char *key, char **source)
{
	const char *v = awl_env_nonempty(env);
	char	   *pv = NULL;
	int			b;

	*source = NULL;
	if (v)
		*source = psprintf("environment variable %s", env);
	else if ((pv = awl_config_value(profile, key, NULL)) != NULL && pv[0])
	{
		v = pv;
		*source = psprintf("setting %s of profile \"%s\"", key, profile);
	}
	if (v == NULL)
		return false;
	b = awl_bool_setting(v);
	if (b < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" in %s", v, *source),
				 errhint("The value must be true or false.")));
	return b == 1;
}

/* An endpoint URL found in source: checked, or an error saying where it came from. */
static char *
checked_url(const char *url, char *source, char **source_out)
{
	if (!awl_endpoint_url_ok(url))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Lambda endpoint URL \"%s\" in %s", url, source),
				 errdetail("An endpoint URL starts with http:// or https://, names a host (an IPv6 address in brackets) and a port from 1 to 65535 if any, and has no user information, query, fragment, white space or control characters.")));
	*source_out = source;
	return pstrdup(url);
}

/* The endpoint URL configured for the SDKs (see the file header), or NULL. */
static char *
configured_url(const char *profile, char **source)
{
	const char *v;
	char	   *pv;
	char	   *ignore_source;

	if (bool_setting("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", profile,
					 "ignore_configured_endpoint_urls", &ignore_source))
		return NULL;
	if ((v = awl_env_nonempty("AWS_ENDPOINT_URL_LAMBDA")) != NULL)
		return checked_url(v, "environment variable AWS_ENDPOINT_URL_LAMBDA", source);
	if ((v = awl_env_nonempty("AWS_ENDPOINT_URL")) != NULL)
		return checked_url(v, "environment variable AWS_ENDPOINT_URL", source);
	if ((pv = awl_config_value(profile, "services", NULL)) != NULL && pv[0])
	{
		bool		exists;
		char	   *url = awl_config_services_value(pv, "lambda", "endpoint_url", &exists);

		if (!exists)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("profile \"%s\" names services section \"%s\", which the config file does not have",
							profile, pv)));
		if (url && url[0])
			return checked_url(url, psprintf("services section \"%s\" of profile \"%s\"", pv, profile),
							   source);
	}
	if ((pv = awl_config_value(profile, "endpoint_url", NULL)) != NULL && pv[0])
		return checked_url(pv, psprintf("setting endpoint_url of profile \"%s\"", profile), source);
	return NULL;
}

static char *
keep(const char *s)
{
	return s ? MemoryContextStrdup(config_context, s) : NULL;
}

/* The configuration for the profile in use, read when first needed or when the profile changed. */
static const EndpointConfig *
endpoint_config(void)
{
	bool		chosen;
	const char *profile = awl_profile_name(&chosen);
	EndpointConfig c = {0};

	if (config.loaded && strcmp(config.profile, profile) == 0)
		return &config;

	/* Read and check everything first: an error leaves the cache as it was. */
	c.url = configured_url(profile, &c.url_source);
	c.fips = bool_setting("AWS_USE_FIPS_ENDPOINT", profile, "use_fips_endpoint", &c.fips_source);
	c.dualstack = bool_setting("AWS_USE_DUALSTACK_ENDPOINT", profile, "use_dualstack_endpoint",
							   &c.dualstack_source);

	if (config_context == NULL)
		config_context = AllocSetContextCreate(TopMemoryContext, "awslambda endpoint settings",
											   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(config_context);
	config.profile = keep(profile);
	config.url = keep(c.url);
	config.url_source = keep(c.url_source);
	config.fips = c.fips;
	config.fips_source = keep(c.fips_source);
	config.dualstack = c.dualstack;
	config.dualstack_source = keep(c.dualstack_source);
	config.loaded = true;
	if (config.url)
		elog(DEBUG1, "awslambda: Lambda endpoint %s, from %s", config.url, config.url_source);
	return &config;
}

void
awl_endpoint_resolve(const char *override, const char *region, char **base_url, char **host)
{
	const char *url = override;
	const char *authority;
	size_t		len;

	if (url == NULL || url[0] == '\0')
	{
		const EndpointConfig *c = endpoint_config();

		if (c->url && (c->fips || c->dualstack))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a %s Lambda endpoint cannot be combined with a configured endpoint URL",
							c->fips ? "FIPS" : "dual-stack"),
					 errdetail("The %s asks for the %s endpoint, and the %s sets the endpoint URL \"%s\".",
							   c->fips ? c->fips_source : c->dualstack_source,
							   c->fips ? "FIPS" : "dual-stack", c->url_source, c->url),
					 errhint("Unset one of them, as the AWS SDKs require; \"awslambda.endpoint_url\" is used as given.")));
		if (c->url)
			url = c->url;
		else
		{
			char		buf[256];

			if (awl_lambda_endpoint(region, c->fips, c->dualstack, buf, sizeof(buf)) < 0)
				elog(ERROR, "Lambda endpoint for region \"%s\" is too long", region);
			*base_url = pstrdup(buf);
			*host = pstrdup(buf + strlen("https://"));
			return;
		}
	}
	authority = strstr(url, "://") + 3;	/* checked: a setting or configured URL */
	len = strcspn(authority, "/");
	*host = pnstrdup(authority, len);
	*base_url = pnstrdup(url, authority + len - url);
}
