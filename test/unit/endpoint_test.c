/*
 * Unit test of src/partition.c: Lambda's regional endpoints (plain, FIPS,
 * dual-stack, both) and each region's partition, against what botocore's
 * endpoint rules return (test/testdata/endpoints/lambda.txt, made by
 * generate.py there), and the SDK boolean settings.
 * Prints one line per failure and "endpoint: N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"

static int	passed;
static int	failed;

static void
check(int ok, const char *what, const char *input)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("FAIL %s: \"%s\"\n", what, input);
	}
}

static void
vectors(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[512];
	int			n = 0;

	if (f == NULL)
	{
		check(0, "cannot open", path);
		return;
	}
	while (fgets(line, sizeof(line), f))
	{
		char		region[128];
		char		url[256];
		char		partition[64];
		char		got[256];
		int			fips;
		int			dualstack;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%127s %d %d %255s %63s", region, &fips, &dualstack, url, partition) != 5)
		{
			check(0, "bad vector line", line);
			continue;
		}
		n++;
		check(awl_lambda_endpoint(region, fips, dualstack, got, sizeof(got)) > 0 &&
			  strcmp(got, url) == 0, "endpoint", line);
		check(strcmp(awl_partition_for_region(region)->id, partition) == 0, "partition", line);
	}
	fclose(f);
	check(n >= 100, "too few vectors in", path);
}

static void
small_buffer(void)
{
	char		buf[20];

	check(awl_lambda_endpoint("us-east-1", 0, 0, buf, sizeof(buf)) == -1,
		  "a buffer too small is refused", "us-east-1");
}

static void
booleans(void)
{
	check(awl_bool_setting("true") == 1, "bool", "true");
	check(awl_bool_setting(" TRUE\r") == 1, "bool", " TRUE\\r");
	check(awl_bool_setting("False") == 0, "bool", "False");
	check(awl_bool_setting("1") == -1, "bool", "1");
	check(awl_bool_setting("yes") == -1, "bool", "yes");
	check(awl_bool_setting("") == -1, "bool", "");
	check(awl_bool_setting("truex") == -1, "bool", "truex");
	check(awl_bool_setting(NULL) == -1, "bool", "(null)");
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../testdata";
	char		path[1024];

	snprintf(path, sizeof(path), "%s/endpoints/lambda.txt", dir);
	vectors(path);
	small_buffer();
	booleans();
	printf("endpoint: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
