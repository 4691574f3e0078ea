/*-------------------------------------------------------------------------
 *
 * partition.c
 *	  AWS partitions and Lambda's regional endpoints (FIPS, dual-stack),
 *	  from botocore's partitions.json and Lambda's endpoint-rule-set-1.json.
 *
 * A partition's region pattern is PREFIX\w+-\d+ (for aws, one of several
 * two-letter prefixes), so it is matched here without a regex engine.
 * Every partition supports FIPS and dual-stack, so the rule set's "this
 * partition does not support" errors cannot arise.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "partition.h"

static const AwlPartition partitions[] = {
	{"aws", "amazonaws.com", "api.aws"},
	{"aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn"},
	{"aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu"},
	{"aws-iso", "c2s.ic.gov", "api.aws.ic.gov"},
	{"aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud"},
	{"aws-iso-e", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"},
	{"aws-iso-f", "csp.hci.ic.gov", "api.aws.hci.ic.gov"},
	{"aws-us-gov", "amazonaws.com", "api.aws"},
};

/* Region prefixes of the patterns, and the partition each means. */
static const struct
{
	const char *prefix;
	int			partition;
}			patterns[] = {
	{"us-", 0}, {"eu-", 0}, {"ap-", 0}, {"sa-", 0}, {"ca-", 0}, {"me-", 0},
	{"af-", 0}, {"il-", 0}, {"mx-", 0},
	{"cn-", 1},
	{"eusc-de-", 2},
	{"us-iso-", 3},
	{"us-isob-", 4},
	{"eu-isoe-", 5},
	{"us-isof-", 6},
	{"us-gov-", 7},
};

/* Does s match \w+-\d+ as a whole? */
static bool
word_dash_digits(const char *s)
{
	const char *p = s;
	const char *dash;

	while (*p && (isalnum((unsigned char) *p) || *p == '_'))
		p++;
	if (p == s || *p != '-')
		return false;
	dash = p++;
	while (*p && isdigit((unsigned char) *p))
		p++;
	return *p == '\0' && p > dash + 1;
}

const AwlPartition *
awl_partition_for_region(const char *region)
{
	size_t		i;

	for (i = 0; region && i < sizeof(patterns) / sizeof(patterns[0]); i++)
	{
		size_t		n = strlen(patterns[i].prefix);

		if (strncmp(region, patterns[i].prefix, n) == 0 && word_dash_digits(region + n))
			return &partitions[patterns[i].partition];
	}
	return &partitions[0];
}

int
awl_lambda_endpoint(const char *region, bool fips, bool dualstack, char *buf, size_t size)
{
	const AwlPartition *p = awl_partition_for_region(region);
	int			n;

	n = snprintf(buf, size, "https://%s.%s.%s", fips ? "lambda-fips" : "lambda", region,
				 dualstack ? p->dualstack_dns_suffix : p->dns_suffix);
	return (n < 0 || (size_t) n >= size) ? -1 : n;
}

int
awl_bool_setting(const char *value)
{
	const char *s = value;
	size_t		len;

	if (s == NULL)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	if (len == 4 && strncasecmp(s, "true", 4) == 0)
		return 1;
	if (len == 5 && strncasecmp(s, "false", 5) == 0)
		return 0;
	return -1;
}
