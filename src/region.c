/*-------------------------------------------------------------------------
 *
 * region.c
 *	  The default AWS region: validated, discovered as the SDKs do, cached.
 *
 * awslambda.region, then AWS_REGION and AWS_DEFAULT_REGION (read on every
 * call), then the profile's region in the config file (read once per
 * backend and profile), then the instance's region from instance metadata
 * (asked once per backend).  A full function ARN's region wins over all of
 * them (target.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/memutils.h"

#include "awsconfig.h"
#include "credentials.h"
#include "parse.h"

/* awslambda.region */
static char *region_setting = NULL;

/* What was discovered, kept for the life of the backend. */
static char *imds_region = NULL;	/* from instance metadata */
static char *config_region = NULL;	/* the profile's region in the config file */
static bool config_region_read = false; /* config_region is known (maybe NULL) */

/* Region names go into host names: letters, digits and dashes only. */
static bool
check_region(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0' || awl_region_is_valid(*newval))
		return true;
	GUC_check_errdetail("An AWS region name such as \"us-east-1\" consists of lower-case letters, digits and dashes.");
	return false;
}

void
awl_region_define_settings(void)
{
	DefineCustomStringVariable("awslambda.region",
							   "Sets the default AWS region for Lambda invocations.",
							   "Empty means: AWS_REGION, then AWS_DEFAULT_REGION, then instance metadata. A full function ARN's region always wins.",
							   &region_setting,
							   "",
							   PGC_USERSET,
							   0,
							   check_region, NULL, NULL);
}

bool
awl_region_is_valid(const char *region)
{
	return region != NULL && awl_region_name_ok(region, strlen(region));
}

/* A copy that lives as long as the backend (region names are no secret). */
static char *
keep(const char *s)
{
	return MemoryContextStrdup(TopMemoryContext, s);
}

void
awl_region_forget_profile(void)
{
	if (config_region)
		pfree(config_region);
	config_region = NULL;
	config_region_read = false;
}

/* Region from an environment variable, checked. */
static const char *
env_region(const char *name)
{
	const char *r = awl_env_nonempty(name);

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

	if (region_setting && region_setting[0])
		return region_setting;
	if ((r = env_region("AWS_REGION")) != NULL ||
		(r = env_region("AWS_DEFAULT_REGION")) != NULL)
		return r;

	/* Read once per backend (and per profile), not on every call. */
	if (!config_region_read)
	{
		v = awl_config_value(awl_profile_name(&chosen), "region", NULL);
		config_region = (v && awl_region_is_valid(v)) ? keep(v) : NULL;
		config_region_read = true;
	}
	return config_region;
}

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
	if (imds_region)
		return imds_region;

	if (awl_imds_disabled())
		*why = pstrdup("instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
	else if (awl_imds_get("/latest/meta-data/placement/region", &resp, why))
	{
		char	   *nl = strpbrk(resp.body, "\r\n");

		if (nl)
			*nl = '\0';
		if (awl_region_is_valid(resp.body))
		{
			imds_region = keep(resp.body);
			return imds_region;
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
