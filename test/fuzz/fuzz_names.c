/*
 * libFuzzer target: function names, qualifiers and allowed-function
 * patterns.  The input is "pattern NUL name".  Checks: no crash or undefined
 * behaviour; every part of a parsed name lies inside the input, in order
 * (region, account, name, qualifier), and has the lengths Lambda allows; a
 * parsed region passes the region check and a parsed qualifier the qualifier
 * check; the whole input is accounted for; the parse is deterministic and
 * does not depend on bytes after the given length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static void
check_inside(const char *part, size_t len, const char *s, size_t slen)
{
	if (part == NULL)
	{
		if (len != 0)
			abort();
		return;
	}
	if (part < s || part + len > s + slen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 2);
	char	   *pattern;
	char	   *name;
	size_t		len;
	AwlFunctionName f;
	AwlFunctionName again;
	bool		ok;

	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[size + 1] = '\0';
	pattern = buf;
	name = buf + strlen(buf) + 1;
	if (name > buf + size)
		name = buf + size;
	len = buf + size - name;	/* may hold NUL bytes: they are not name characters */

	(void) awl_glob_match(pattern, name);
	(void) awl_qualifier_ok(pattern, strlen(pattern));

	ok = awl_function_name_parse(name, len, &f);
	if (ok)
	{
		const char *last = name;

		if (len < 1 || len > AWL_MAX_FUNCTION_NAME || f.name == NULL ||
			f.name_len < 1 || f.name_len > AWL_MAX_BARE_NAME ||
			f.qualifier_len > AWL_MAX_QUALIFIER)
			abort();
		check_inside(f.partition, f.partition_len, name, len);
		check_inside(f.region, f.region_len, name, len);
		check_inside(f.account, f.account_len, name, len);
		check_inside(f.name, f.name_len, name, len);
		check_inside(f.qualifier, f.qualifier_len, name, len);
		if (f.full_arn != (f.partition != NULL) || (f.full_arn && (!f.region || !f.account)))
			abort();
		if (f.region && f.region_len > 0 && !f.full_arn && f.region != name)
			abort();
		if (f.account && f.account_len != 12)
			abort();
		/* parts in order, and the name runs to the end or to ":qualifier" */
		if (f.region)
		{
			if (f.region < last)
				abort();
			last = f.region + f.region_len;
		}
		if (f.account)
		{
			if (f.account < last)
				abort();
			last = f.account + f.account_len;
		}
		if (f.name < last)
			abort();
		if (f.qualifier)
		{
			if (f.qualifier != f.name + f.name_len + 1 || f.name[f.name_len] != ':' ||
				f.qualifier + f.qualifier_len != name + len ||
				!awl_qualifier_ok(f.qualifier, f.qualifier_len))
				abort();
		}
		else if (f.name + f.name_len != name + len)
			abort();
		if (memchr(f.name, ':', f.name_len) || memchr(name, '\0', len))
			abort();
		/* a region a full ARN or partial form carries is region-shaped */
		if (f.region && f.region_len <= 64 && !awl_region_name_ok(f.region, f.region_len))
			abort();
	}
	else if (f.name != NULL || f.region != NULL || f.qualifier != NULL)
		abort();

	/* Deterministic, and blind to what follows the given length. */
	if (awl_function_name_parse(name, len, &again) != ok ||
		memcmp(&f, &again, sizeof(f)) != 0)
		abort();
	if (len > 0)
	{
		char	   *copy = malloc(len + 1);

		memcpy(copy, name, len);
		copy[len] = 'x';
		if (awl_function_name_parse(copy, len, &again) != ok ||
			(ok && (again.name - copy != f.name - name || again.name_len != f.name_len ||
					again.qualifier_len != f.qualifier_len || again.region_len != f.region_len)))
			abort();
		free(copy);
	}
	free(buf);
	return 0;
}
