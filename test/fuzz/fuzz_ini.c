/*
 * libFuzzer target: the AWS config/credentials file reader on arbitrary text,
 * looking up keys of the default and a named profile in both file kinds, and
 * a service's setting in a services section.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"aws_access_key_id", "role_arn", "region", "x"};
	size_t		i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
	{
		bool		found = false;
		char	   *v;

		v = awl_ini_lookup((const char *) data, size, true, "default", keys[i], &found);
		if (v && !found)
			abort();			/* a value can only come from a section that exists */
		free(v);
		v = awl_ini_lookup((const char *) data, size, false, "cross", keys[i], &found);
		free(v);
		found = false;
		v = awl_ini_services_lookup((const char *) data, size, "dev", "lambda", keys[i], &found);
		if (v && !found)
			abort();
		free(v);
	}
	return 0;
}
