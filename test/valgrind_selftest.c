/*
 * Deliberate memory errors for test/valgrind_selftest.py, which runs this
 * program under valgrind and checks what test/valgrind_check.py makes of it.
 *
 *	 valgrind_selftest ours	  misuses src/parse.c, linked in unchanged: an
 *							  invalid read, an invalid write, a jump on an
 *							  uninitialised byte, a definite leak, each with
 *							  its innermost frames in parse.c
 *	 valgrind_selftest theirs errors in this file only, and a block from
 *							  parse.c that is only possibly lost
 *
 * This file is not one of ours (it is not in src/), so every error the check
 * reports in "ours" is there because of a frame in parse.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"

static char *possibly_lost;

/* Through these the compiler cannot see the errors it would warn about. */
static void *volatile sink;
static volatile int past_end = 5;

static void
misuse_parse_c(void)
{
	char	   *region = malloc(4);
	char	   *pattern = malloc(8);
	char	   *partition = malloc(sizeof(AwlFunctionName) - sizeof(size_t));
	char	   *leak;

	/* Invalid read: a length beyond the block, the first four bytes pass. */
	memcpy(region, "us-e", 4);
	printf("region ok: %d\n", awl_region_name_ok(region, 8));

	/* Conditional jump on uninitialised bytes: the pattern was never written. */
	printf("glob: %d\n", awl_glob_match(pattern, "abc"));

	/* Invalid write: the result block is one field short of the struct it is given as. */
	sink = partition;
	printf("name: %d\n", awl_function_name_parse("us-gov-west-1:123456789012:function:f:prod", 41,
												 (AwlFunctionName *) sink));

	/* Definite leak: a result of awl_xml_text that is never freed. */
	leak = awl_xml_text("<a>leak</a>", "a");
	printf("xml: %s\n", leak);
	leak = NULL;

	free(region);
	free(pattern);
	free(partition);
}

static void
misuse_own_memory(void)
{
	char	   *p = malloc(4);
	char	   *unset = malloc(8);
	char	   *v;

	/* An invalid read, an invalid free and a leak, all in this file. */
	sink = p;
	printf("past the end: %d\n", ((char *) sink)[past_end]);
	free(p);
	free(sink);
	sink = malloc(16);
	sink = NULL;
	/* A syscall given uninitialised bytes, from this file. */
	if (write(STDOUT_FILENO, unset, 8) < 0)
		perror("write");
	free(unset);

	/* Only an interior pointer to parse.c's block remains: possibly lost. */
	v = awl_xml_text("<a>possibly</a>", "a");
	possibly_lost = v ? v + 1 : NULL;
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "ours") == 0)
		misuse_parse_c();
	else if (argc == 2 && strcmp(argv[1], "theirs") == 0)
		misuse_own_memory();
	else
	{
		fprintf(stderr, "usage: %s ours|theirs\n", argv[0]);
		return 2;
	}
	return 0;
}
