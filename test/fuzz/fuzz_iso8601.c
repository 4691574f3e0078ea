/*
 * libFuzzer target: the Expiration parser (awl_parse_iso8601) on arbitrary
 * text.  Checks: no crash or undefined behaviour; a time it accepts, written
 * out again as YYYY-MM-DDTHH:MM:SSZ (with a fraction, with "+00:00"), parses
 * to the same value, and with anything appended it is refused; and every
 * time from year 0 to 9999 (picked from the input's first bytes) written
 * that way parses to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
#define FIRST	INT64_C(-62167219200)
#define LAST	INT64_C(253402300799)

/* Writes t in each accepted form and checks that all of them parse back to t. */
static void
check_round_trip(time_t t)
{
	static const char *const tails[] = {"Z", "+00:00", ".5Z", ".000000000000000001+00:00", ".Z"};
	struct tm	tm;
	char		text[64];
	size_t		i;

	if (gmtime_r(&t, &tm) == NULL)
		abort();				/* every time the parser returns is a real one */
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return;					/* four digits cannot hold it */
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++)
	{
		snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d%s",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
				 tm.tm_hour, tm.tm_min, tm.tm_sec, tails[i]);
		if (awl_parse_iso8601(text) != t)
			abort();
		strcat(text, "x");
		if (awl_parse_iso8601(text) != (time_t) -1)
			abort();			/* nothing may follow the zone */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 2);
	time_t		t;
	uint64_t	pick = 0;
	size_t		i;

	memcpy(text, data, size);
	text[size] = '\0';

	t = awl_parse_iso8601(text);
	if (t != (time_t) -1)
	{
		size_t		len = strlen(text);

		check_round_trip(t);
		text[len] = '!';
		text[len + 1] = '\0';
		if (awl_parse_iso8601(text) != (time_t) -1)
			abort();			/* an accepted text ends at the zone */
	}

	for (i = 0; i < size && i < 8; i++)
		pick = (pick << 8) | data[i];
	t = (time_t) (FIRST + (int64_t) (pick % (uint64_t) (LAST - FIRST + 1)));
	if (t != (time_t) -1)
		check_round_trip(t);

	if (awl_parse_iso8601(NULL) != (time_t) -1)
		abort();
	free(text);
	return 0;
}
