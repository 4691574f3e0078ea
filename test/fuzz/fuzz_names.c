/*
 * libFuzzer target: function names, ARNs, qualifiers and allowed-function
 * patterns.  The input is "pattern NUL name".  Checks: no crash or undefined
 * behaviour; a parsed ARN's region passes the region check; the bare name
 * and qualifier lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 2);
	char	   *pattern;
	char	   *name;
	char		partition[32];
	char		region[65];
	size_t		bare_len;
	const char *bare;
	const char *q;

	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[size + 1] = '\0';
	pattern = buf;
	name = buf + strlen(buf) + 1;
	if (name > buf + size)
		name = buf + size;

	(void) awl_glob_match(pattern, name);
	if (awl_arn_parse(name, partition, sizeof(partition), region, sizeof(region)) &&
		!awl_region_name_ok(region, strlen(region)))
		abort();
	bare = awl_bare_name(name, &bare_len);
	if (bare < name || bare + bare_len > name + strlen(name))
		abort();
	q = awl_name_qualifier(name);
	if (q && (q < name || q > name + strlen(name)))
		abort();
	free(buf);
	return 0;
}
