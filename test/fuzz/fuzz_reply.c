/*
 * libFuzzer target: what comes back over the network — an HTTP header
 * block (header lookup) and an STS XML document (element text with
 * entities).  Checks: no crash or undefined behaviour; results are no
 * longer than the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const headers[] = {"X-Amz-Function-Error", "x-amzn-RequestId", "Retry-After"};
	static const char *const tags[] = {"AccessKeyId", "SessionToken", "Expiration", "Code"};
	char	   *text = malloc(size + 1);
	size_t		i;

	memcpy(text, data, size);
	text[size] = '\0';
	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
	{
		char	   *v = awl_header_value(text, headers[i]);

		if (v && strlen(v) > size)
			abort();
		free(v);
	}
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
	{
		char	   *v = awl_xml_text(text, tags[i]);

		if (v && strlen(v) > size)
			abort();
		free(v);
	}
	free(text);
	return 0;
}
