/*-------------------------------------------------------------------------
 *
 * parse.c
 *	  Parsers of untrusted text: function names and ARNs, glob patterns,
 *	  HTTP header blocks, STS XML, ISO 8601 times (URLs are in url.c, AWS
 *	  config files in ini.c).  Plain C with malloc, no PostgreSQL, so
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
#include "parse_int.h"

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

/* ---- Function names -------------------------------------------------- */

/* Does [p, end) read exactly "-[a-z]+-\d"? */
static bool
region_tail(const char *p, const char *end)
{
	const char *q;

	if (p >= end || *p != '-')
		return false;
	for (q = p + 1; q < end && is_lower(*q); q++)
		;
	return q > p + 1 && end - q == 2 && q[0] == '-' && is_digit(q[1]);
}

/* Does [p, end) match (eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}? */
static bool
region_match(const char *p, const char *end)
{
	int			eusc;

	for (eusc = 0; eusc < 2; eusc++)
	{
		const char *q = p;

		if (eusc)
		{
			if (end - p < 5 || strncmp(p, "eusc-", 5) != 0)
				break;
			q = p + 5;
		}
		if (end - q < 2 || !is_lower(q[0]) || !is_lower(q[1]))
			continue;
		q += 2;
		if (region_tail(q, end))
			return true;
		if (end - q >= 4 && strncmp(q, "-gov", 4) == 0 && region_tail(q + 4, end))
			return true;
		if (end - q >= 4 && strncmp(q, "-iso", 4) == 0 &&
			(region_tail(q + 4, end) ||
			 (q + 4 < end && is_lower(q[4]) && region_tail(q + 5, end))))
			return true;
	}
	return false;
}

/* Length of the run of [a-zA-Z0-9-_.] at p (a function name). */
static size_t
name_run(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && (is_alnum(*q) || *q == '-' || *q == '_' || *q == '.'))
		q++;
	return q - p;
}

/* Length of the region token at p, followed by ':', or 0. */
static size_t
region_token(const char *p, const char *end)
{
	const char *colon = memchr(p, ':', end - p);

	return (colon && region_match(p, colon)) ? (size_t) (colon - p) : 0;
}

/* 12 digits followed by ':'? */
static bool
account_token(const char *p, const char *end)
{
	size_t		i;

	if (end - p < 13 || p[12] != ':')
		return false;
	for (i = 0; i < 12; i++)
		if (!is_digit(p[i]))
			return false;
	return true;
}

/*
 * Matches [p, end) against (function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?
 * in the regular expression's order of preference ("function:" taken when
 * it can be) and fills the name and qualifier.
 */
static bool
match_name_rest(const char *p, const char *end, AwlFunctionName *out)
{
	int			with_function;

	for (with_function = 1; with_function >= 0; with_function--)
	{
		const char *q = p;
		size_t		n;

		if (with_function)
		{
			if (end - q < 9 || strncmp(q, "function:", 9) != 0)
				continue;
			q += 9;
		}
		n = name_run(q, end);
		if (n == 0)
			continue;
		out->name = q;
		out->name_len = n;
		out->qualifier = NULL;
		out->qualifier_len = 0;
		q += n;
		if (q == end)
			return true;
		if (*q != ':')
			continue;
		q++;
		if ((end - q == 7 && strncmp(q, "$LATEST", 7) == 0) ||
			(end - q == 17 && strncmp(q, "$LATEST.PUBLISHED", 17) == 0))
		{
			out->qualifier = q;
			out->qualifier_len = end - q;
			return true;
		}
		for (n = 0; q + n < end && (is_alnum(q[n]) || q[n] == '-' || q[n] == '_'); n++)
			;
		if (n > 0 && q + n == end)
		{
			out->qualifier = q;
			out->qualifier_len = n;
			return true;
		}
	}
	return false;
}

/* The grammar, without the length limits. */
static bool
match_function_name(const char *s, const char *end, AwlFunctionName *out)
{
	int			with_region;
	int			with_account;

	memset(out, 0, sizeof(*out));

	/* arn:(aws[a-zA-Z-]*)?:lambda:REGION:\d{12}: */
	if (end - s >= 4 && strncmp(s, "arn:", 4) == 0)
	{
		const char *p = s + 4;
		const char *q = p;
		size_t		rlen;

		if (end - q >= 3 && strncmp(q, "aws", 3) == 0)
			for (q += 3; q < end && (is_letter(*q) || *q == '-'); q++)
				;
		if (q < end && *q == ':' && end - q >= 8 && strncmp(q, ":lambda:", 8) == 0 &&
			(rlen = region_token(q + 8, end)) > 0 &&
			account_token(q + 9 + rlen, end) &&
			match_name_rest(q + 9 + rlen + 13, end, out))
		{
			out->full_arn = true;
			out->partition = p;
			out->partition_len = q - p;
			out->region = q + 8;
			out->region_len = rlen;
			out->account = q + 9 + rlen;
			out->account_len = 12;
			return true;
		}
		memset(out, 0, sizeof(*out));
	}

	/* ((REGION:)?(\d{12}:)?), each part taken when it can be */
	for (with_region = 1; with_region >= 0; with_region--)
	{
		const char *p = s;
		size_t		rlen = 0;

		if (with_region)
		{
			rlen = region_token(p, end);
			if (rlen == 0)
				continue;
			p += rlen + 1;
		}
		for (with_account = 1; with_account >= 0; with_account--)
		{
			const char *q = p;

			if (with_account)
			{
				if (!account_token(q, end))
					continue;
				q += 13;
			}
			if (match_name_rest(q, end, out))
			{
				if (with_region)
				{
					out->region = s;
					out->region_len = rlen;
				}
				if (with_account)
				{
					out->account = p;
					out->account_len = 12;
				}
				return true;
			}
		}
	}
	memset(out, 0, sizeof(*out));
	return false;
}

bool
awl_function_name_parse(const char *s, size_t len, AwlFunctionName *out)
{
	if (len < 1 || len > AWL_MAX_FUNCTION_NAME ||
		!match_function_name(s, s + len, out) ||
		out->name_len > AWL_MAX_BARE_NAME ||
		out->qualifier_len > AWL_MAX_QUALIFIER)
	{
		memset(out, 0, sizeof(*out));
		return false;
	}
	return true;
}

bool
awl_qualifier_ok(const char *s, size_t len)
{
	size_t		i;

	if (len < 1 || len > AWL_MAX_QUALIFIER)
		return false;
	if (len == 17 && strncmp(s, "$LATEST.PUBLISHED", 17) == 0)
		return true;
	for (i = 0; i < len; i++)
		if (!(is_alnum(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '$'))
			return false;
	return true;
}

int
awl_hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
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
