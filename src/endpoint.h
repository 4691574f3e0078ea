/*-------------------------------------------------------------------------
 *
 * endpoint.h
 *	  Where a Lambda request goes, and the check of endpoint URL settings.
 *
 * Used by target.c and rds_compat.c, which call endpoint.c, and by
 * target.c, sts.c and imds.c, which hand awl_check_url_setting to their
 * settings as the check hook.  endpoint.c calls awsconfig.c, partition.c
 * and url.c, nothing of its callers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_ENDPOINT_H
#define AWL_ENDPOINT_H

#include "postgres.h"

#include "utils/guc.h"

/*
 * The check hook of the settings that hold an endpoint URL
 * (awslambda.endpoint_url, imds_endpoint, sts_endpoint, ...): empty, or an
 * http:// or https:// URL with a host (an IPv6 address in brackets), a
 * port from 1 to 65535 if any, and no user information, query, fragment,
 * white space or control characters; otherwise false with the rule in
 * GUC_check_errdetail.
 */
extern bool awl_check_url_setting(char **newval, void **extra, GucSource source);

/*
 * Where a request for region goes: override (awslambda.endpoint_url or
 * aws_lambda.endpoint_override; NULL or empty for none) as given; else the
 * endpoint URL configured for the AWS SDKs (AWS_ENDPOINT_URL_LAMBDA,
 * AWS_ENDPOINT_URL, the profile's services section, its endpoint_url);
 * else Lambda's endpoint in the region's partition, FIPS and dual-stack as
 * configured.  Sets *base_url (scheme://authority) and *host (the
 * authority), palloc'd.  Raises 22023 for a configuration the SDKs refuse
 * too (an invalid URL or boolean, FIPS or dual-stack with a configured
 * URL, a missing services section).
 */
extern void awl_endpoint_resolve(const char *override, const char *region,
								 char **base_url, char **host);

#endif							/* AWL_ENDPOINT_H */
