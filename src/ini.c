/*-------------------------------------------------------------------------
 *
 * ini.c
 *	  The AWS shared config and credentials files' INI text: profile
 *	  sections and "[services NAME]" blocks, read as the SDKs read them.
 *	  Plain C with malloc, no PostgreSQL (see parse.h; fuzzed by
 *	  test/fuzz/fuzz_ini.c).  awsconfig.c reads the files.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"
#include "parse_int.h"

static bool
range_equals(const char *s, const char *e, const char *word)
{
	size_t		n = strlen(word);

	return (size_t) (e - s) == n && strncmp(s, word, n) == 0;
}

/* Does the text between '[' and ']' name this profile in this kind of file? */
static bool
section_matches(const char *s, const char *e, bool credentials_file, const char *profile)
{
	trim_range(&s, &e);
	if (credentials_file)
		return range_equals(s, e, profile);
	if (strcmp(profile, "default") == 0 && range_equals(s, e, "default"))
		return true;
	if (e - s > 7 && strncmp(s, "profile", 7) == 0 && is_blank(s[7]))
	{
		s += 8;
		trim_range(&s, &e);
		return range_equals(s, e, profile);
	}
	return false;
}

/*
 * If [s, e) (trimmed) is "key = value" for this key (any case), the value,
 * trimmed and without a " #" or " ;" comment, malloc'd; else NULL with
 * *matched false.
 */
static char *
key_value(const char *s, const char *e, const char *key, bool *matched)
{
	const char *eq = memchr(s, '=', e - s);
	const char *ks = s;
	const char *ke = eq;
	const char *vs;
	const char *ve = e;
	const char *c;

	*matched = false;
	if (eq == NULL)
		return NULL;
	trim_range(&ks, &ke);
	if ((size_t) (ke - ks) != strlen(key) || strncasecmp(ks, key, ke - ks) != 0)
		return NULL;
	*matched = true;
	vs = eq + 1;
	trim_range(&vs, &ve);
	for (c = vs + 1; c < ve; c++)
		if ((*c == '#' || *c == ';') && is_blank(c[-1]))
		{
			ve = c;
			break;
		}
	trim_range(&vs, &ve);
	return copy_range(vs, ve - vs);
}

char *
awl_ini_lookup(const char *text, size_t len, bool credentials_file,
			   const char *profile, const char *key, bool *found_section)
{
	const char *end = text + len;
	const char *line = text;
	bool		in_section = false;

	while (line < end)
	{
		const char *eol = memchr(line, '\n', end - line);
		const char *s = line;
		const char *e = eol ? eol : end;
		bool		matched;
		char	   *v;

		line = eol ? eol + 1 : end;
		if (s < e && (*s == ' ' || *s == '\t'))
			continue;			/* nested setting or continuation */
		trim_range(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[')
		{
			const char *close = memchr(s, ']', e - s);

			in_section = section_matches(s + 1, close ? close : e, credentials_file, profile);
			if (in_section && found_section)
				*found_section = true;
			continue;
		}
		if (in_section && ((v = key_value(s, e, key, &matched)) != NULL || matched))
			return v;
	}
	return NULL;
}

/* Is the text between '[' and ']' "services NAME"? */
static bool
services_section(const char *s, const char *e, const char *name)
{
	trim_range(&s, &e);
	if (e - s <= 8 || strncmp(s, "services", 8) != 0 || !is_blank(s[8]))
		return false;
	s += 9;
	trim_range(&s, &e);
	return range_equals(s, e, name);
}

char *
awl_ini_services_lookup(const char *text, size_t len, const char *section,
						const char *service, const char *key, bool *found_section)
{
	const char *end = text + len;
	const char *line = text;
	bool		in_section = false;
	bool		in_service = false;

	while (line < end)
	{
		const char *eol = memchr(line, '\n', end - line);
		const char *s = line;
		const char *e = eol ? eol : end;
		bool		indented = s < e && (*s == ' ' || *s == '\t');
		bool		matched;
		char	   *v;

		line = eol ? eol + 1 : end;
		trim_range(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (indented)
		{
			/* A setting of the service block this line is nested in. */
			if (in_service && ((v = key_value(s, e, key, &matched)) != NULL || matched))
				return v;
			continue;
		}
		in_service = false;
		if (*s == '[')
		{
			const char *close = memchr(s, ']', e - s);

			in_section = services_section(s + 1, close ? close : e, section);
			if (in_section && found_section)
				*found_section = true;
			continue;
		}
		if (in_section && (v = key_value(s, e, service, &matched)) != NULL)
		{
			/* "lambda =" opens the block; a value on the same line is no block. */
			in_service = v[0] == '\0';
			free(v);
		}
	}
	return NULL;
}
