/*-------------------------------------------------------------------------
 *
 * parse.c
 *	  Parsers of untrusted text: function names and ARNs, AWS config files,
 *	  HTTP header blocks, STS XML, ISO 8601 times.  Plain C with malloc, no PostgreSQL, so
 *	  test/fuzz/ can feed them arbitrary bytes under the sanitizers.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "parse.h"

static char *
copy_range(const char *s, size_t len)
{
	char	   *out = malloc(len + 1);

	if (out)
	{
		memcpy(out, s, len);
		out[len] = '\0';
	}
	return out;
}

bool
awl_glob_match(const char *pattern, const char *s)
{
	const char *star = NULL;
	const char *resume = NULL;

	while (*s)
	{
		if (*pattern == '*')
		{
			star = pattern++;
			resume = s;
		}
		else if (*pattern == '?' || (*pattern != '\0' && *pattern == *s))
		{
			pattern++;
			s++;
		}
		else if (star)
		{
			pattern = star + 1;
			s = ++resume;
		}
		else
			return false;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

bool
awl_region_name_ok(const char *s, size_t len)
{
	size_t		i;
	bool		letter = false;

	if (len == 0 || len > 64)
		return false;
	for (i = 0; i < len; i++)
	{
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

const char *
awl_name_qualifier(const char *name)
{
	const char *fn = strstr(name, ":function:");
	const char *colon;

	if (fn)
		name = fn + strlen(":function:");
	else if (strncmp(name, "arn:", 4) == 0)
		return NULL;
	colon = strchr(name, ':');
	return colon ? colon + 1 : NULL;
}

const char *
awl_bare_name(const char *name, size_t *len)
{
	const char *fn = strstr(name, ":function:");

	if (fn)
		name = fn + strlen(":function:");
	*len = strcspn(name, ":");
	return name;
}

bool
awl_arn_parse(const char *arn, char *partition, size_t partition_size,
			  char *region, size_t region_size)
{
	const char *part[9];
	size_t		len[9];
	size_t		n = 0;
	const char *p = arn;

	/* Split on ':' into at most 9 fields; a tenth means too many. */
	for (;;)
	{
		const char *colon = strchr(p, ':');

		if (n == 9)
			return false;
		part[n] = p;
		len[n] = colon ? (size_t) (colon - p) : strlen(p);
		n++;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	if (!(n == 7 || n == 8) ||
		len[0] != 3 || strncmp(part[0], "arn", 3) != 0 ||
		len[1] < 3 || strncmp(part[1], "aws", 3) != 0 ||
		len[2] != 6 || strncmp(part[2], "lambda", 6) != 0 ||
		!awl_region_name_ok(part[3], len[3]) ||
		len[4] != 12 || strspn(part[4], "0123456789") < 12 ||
		len[5] != 8 || strncmp(part[5], "function", 8) != 0 ||
		len[6] == 0 || (n == 8 && len[7] == 0))
		return false;
	if (len[1] >= partition_size || len[3] >= region_size)
		return false;
	memcpy(partition, part[1], len[1]);
	partition[len[1]] = '\0';
	memcpy(region, part[3], len[3]);
	region[len[3]] = '\0';
	return true;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trims blanks off [*s, *e). */
static void
trim_range(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

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
		const char *eq;

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
		if (!in_section || (eq = memchr(s, '=', e - s)) == NULL)
			continue;
		{
			const char *ks = s;
			const char *ke = eq;
			const char *vs = eq + 1;
			const char *ve = e;
			const char *c;

			trim_range(&ks, &ke);
			if ((size_t) (ke - ks) != strlen(key) || strncasecmp(ks, key, ke - ks) != 0)
				continue;
			/* " #" or " ;" after a value starts a comment */
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
	}
	return NULL;
}

char *
awl_header_value(const char *headers, const char *name)
{
	size_t		namelen = strlen(name);
	const char *line = headers;

	while (line && *line)
	{
		const char *eol = strchr(line, '\n');
		const char *end = eol ? eol : line + strlen(line);

		if ((size_t) (end - line) > namelen && line[namelen] == ':' &&
			strncasecmp(line, name, namelen) == 0)
		{
			const char *v = line + namelen + 1;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return copy_range(v, end - v);
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

char *
awl_xml_text(const char *xml, const char *tag)
{
	static const struct
	{
		const char *entity;
		char		c;
	}			entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'},
	{"&quot;", '"'}, {"&apos;", '\''}};
	size_t		taglen = strlen(tag);
	char	   *open = malloc(taglen + 3);
	char	   *close = malloc(taglen + 4);
	const char *start = NULL;
	const char *stop = NULL;
	char	   *out = NULL;
	size_t		n = 0;

	if (open && close)
	{
		open[0] = '<';
		memcpy(open + 1, tag, taglen);
		memcpy(open + 1 + taglen, ">", 2);
		memcpy(close, "</", 2);
		memcpy(close + 2, tag, taglen);
		memcpy(close + 2 + taglen, ">", 2);
		start = strstr(xml, open);
		if (start)
		{
			start += taglen + 2;
			stop = strstr(start, close);
		}
	}
	if (stop && (out = malloc(stop - start + 1)) != NULL)
	{
		while (start < stop)
		{
			size_t		i;
			bool		done = false;

			for (i = 0; *start == '&' && i < sizeof(entities) / sizeof(entities[0]); i++)
			{
				size_t		elen = strlen(entities[i].entity);

				if ((size_t) (stop - start) >= elen &&
					strncmp(start, entities[i].entity, elen) == 0)
				{
					out[n++] = entities[i].c;
					start += elen;
					done = true;
					break;
				}
			}
			if (!done)
				out[n++] = *start++;
		}
		out[n] = '\0';
	}
	free(open);
	free(close);
	return out;
}

time_t
awl_parse_iso8601(const char *s)
{
	struct tm	tm = {0};
	int			n = 0;

	if (s == NULL ||
		sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return (time_t) -1;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0)
		return (time_t) -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}
