/*-------------------------------------------------------------------------
 *
 * partition.h
 *	  AWS partitions and Lambda's regional endpoints, as the SDKs' endpoint
 *	  rules compute them; plain C without PostgreSQL, unit-tested in
 *	  test/unit/endpoint_test.c.
 *
 * Used by endpoint.c only; partition.c calls nothing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_PARTITION_H
#define AWL_PARTITION_H

#include <stdbool.h>
#include <stddef.h>

/* One partition of partitions.json, with the outputs Lambda's rules use. */
typedef struct AwlPartition
{
	const char *id;				/* "aws", "aws-cn", "aws-us-gov", ... */
	const char *dns_suffix;		/* "amazonaws.com" */
	const char *dualstack_dns_suffix;	/* "api.aws" */
} AwlPartition;

/*
 * The partition of a region, by the partitions' region patterns (aws-cn
 * for cn-*, aws-us-gov for us-gov-*, ...); "aws" for any region no pattern
 * matches, as the SDKs fall back.  Never NULL.
 */
extern const AwlPartition *awl_partition_for_region(const char *region);

/*
 * Writes Lambda's endpoint for region into buf (NUL-terminated) as the
 * service's endpoint rule set has it:
 *   https://lambda.REGION.DNS_SUFFIX, https://lambda-fips.REGION.DNS_SUFFIX,
 *   https://lambda.REGION.DUALSTACK_SUFFIX, https://lambda-fips.REGION.DUALSTACK_SUFFIX.
 * Returns the length, or -1 when buf is too small.  The region is not
 * judged here (callers check it is a region name).
 */
extern int	awl_lambda_endpoint(const char *region, bool fips, bool dualstack,
								char *buf, size_t size);

/*
 * An SDK boolean setting (AWS_USE_FIPS_ENDPOINT, use_fips_endpoint, ...):
 * 1 for "true", 0 for "false" (any case, blanks around ignored), -1 for
 * anything else.
 */
extern int	awl_bool_setting(const char *value);

#endif							/* AWL_PARTITION_H */
