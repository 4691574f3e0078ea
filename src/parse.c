/*-------------------------------------------------------------------------
 *
 * parse.c
 *	  Parsers of untrusted text: function names and ARNs, URLs, AWS config
 *	  files, HTTP header blocks, STS XML, ISO 8601 times.  Plain C with malloc,
 *	  no PostgreSQL, so test/fuzz/ can feed them arbitrary bytes under the
 *	  sanitizers.
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

/* ---- Function names -------------------------------------------------- */

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_letter(char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static bool
is_alnum(char c)
{
	return is_letter(c) || is_digit(c);
}

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

/* ---- URLs ------------------------------------------------------------ */

/* Parses a decimal IPv4 address a.b.c.d, each part 0..255 without leading zeros. */
static bool
parse_ipv4(const char *s, size_t len, unsigned char addr[4])
{
	const char *p = s;
	const char *end = s + len;
	int			i;

	for (i = 0; i < 4; i++)
	{
		int			v = 0;
		const char *start = p;

		while (p < end && is_digit(*p) && p - start < 3)
			v = v * 10 + (*p++ - '0');
		if (p == start || v > 255 || (p - start > 1 && *start == '0'))
			return false;
		addr[i] = (unsigned char) v;
		if (i < 3)
		{
			if (p >= end || *p != '.')
				return false;
			p++;
		}
	}
	return p == end;
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

/*
 * Parses an IPv6 address in any RFC 4291 spelling: eight groups of 1..4 hex
 * digits, one "::" for a run of zero groups, optionally a dotted IPv4 address
 * as the last 32 bits.  No zone identifier.
 */
static bool
parse_ipv6(const char *s, size_t len, unsigned char addr[16])
{
	const char *p = s;
	const char *end = s + len;
	int			n = 0;			/* bytes filled */
	int			gap = -1;		/* where "::" stands, in bytes */

	memset(addr, 0, 16);
	if (len >= 2 && p[0] == ':' && p[1] == ':')
	{
		gap = 0;
		p += 2;
		if (p == end)
			return true;
	}
	else if (len >= 1 && p[0] == ':')
		return false;
	while (p < end)
	{
		const char *start = p;
		unsigned	v = 0;
		int			h;

		while (p < end && p - start < 4 && (h = awl_hex_value(*p)) >= 0)
		{
			v = v * 16 + (unsigned) h;
			p++;
		}
		if (p == start)
			return false;
		if (p < end && *p == '.')
		{
			/* the rest is a dotted IPv4 address */
			if (n > 12 || !parse_ipv4(start, end - start, addr + n))
				return false;
			n += 4;
			break;
		}
		if (n > 14)
			return false;
		addr[n++] = (unsigned char) (v >> 8);
		addr[n++] = (unsigned char) (v & 0xff);
		if (p == end)
			break;
		if (*p != ':')
			return false;
		p++;
		if (p < end && *p == ':')
		{
			if (gap >= 0)
				return false;
			gap = n;
			p++;
			if (p == end)
				break;
		}
		else if (p == end)
			return false;		/* a trailing single ':' */
	}
	if (gap < 0)
		return n == 16;
	if (n == 16)
		return false;			/* "::" must stand for at least one group */
	memmove(addr + gap + (16 - n), addr + gap, n - gap);
	memset(addr + gap, 0, 16 - n);
	return true;
}

static bool
scheme_char(char c)
{
	return is_alnum(c) || c == '+' || c == '-' || c == '.';
}

/*
 * What a host name or IPv4 address may hold here: letters, digits, '-', '.',
 * '_', and bytes from 0x80 (an internationalised name, in UTF-8).
 */
static bool
host_char(char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || (unsigned char) c >= 0x80;
}

bool
awl_url_parse(const char *url, AwlUrl *out)
{
	const char *p = url;
	const char *authority;
	const char *auth_end;
	const char *at = NULL;
	const char *h;
	const char *c;

	memset(out, 0, sizeof(*out));
	out->port = -1;

	/* Nothing a request line or header could be split at, no spaces. */
	for (c = url; *c; c++)
		if ((unsigned char) *c <= 0x20 || *c == 0x7f)
			return false;

	/* scheme ":" "//" */
	if (!is_letter(*p))
		return false;
	while (scheme_char(*p))
		p++;
	if (p[0] != ':' || p[1] != '/' || p[2] != '/')
		return false;
	out->scheme = url;
	out->scheme_len = p - url;
	authority = p + 3;

	/* authority: up to the first '/', '?' or '#' */
	auth_end = authority + strcspn(authority, "/?#");
	for (c = authority; c < auth_end; c++)
		if (*c == '@')
			at = c;
	if (at)
	{
		out->userinfo = authority;
		out->userinfo_len = at - authority;
		h = at + 1;
	}
	else
		h = authority;

	/* host: [IPv6] or a name / IPv4 address */
	if (h < auth_end && *h == '[')
	{
		const char *close = memchr(h, ']', auth_end - h);

		if (close == NULL)
			return false;
		out->host = h + 1;
		out->host_len = close - (h + 1);
		out->host_is_ipv6 = true;
		if (!parse_ipv6(out->host, out->host_len, out->host_addr))
			return false;
		p = close + 1;
	}
	else
	{
		for (p = h; p < auth_end && *p != ':'; p++)
			if (!host_char(*p))
				return false;
		out->host = h;
		out->host_len = p - h;
	}
	if (out->host_len == 0)
		return false;

	/* port: ":" 1..65535 */
	if (p < auth_end)
	{
		long		port = 0;
		const char *start;

		if (*p != ':')
			return false;
		start = ++p;
		while (p < auth_end && is_digit(*p) && p - start < 5)
			port = port * 10 + (*p++ - '0');
		if (p == start || p != auth_end || port < 1 || port > 65535)
			return false;
		out->port = (int) port;
	}

	/* path, query, fragment */
	p = auth_end;
	out->path = p;
	out->path_len = strcspn(p, "?#");
	p += out->path_len;
	if (*p == '?')
	{
		out->query = p + 1;
		out->query_len = strcspn(p + 1, "#");
		p += 1 + out->query_len;
	}
	if (*p == '#')
	{
		out->fragment = p + 1;
		out->fragment_len = strlen(p + 1);
	}
	return true;
}

bool
awl_url_scheme_is(const AwlUrl *u, const char *scheme)
{
	return u->scheme_len == strlen(scheme) &&
		strncasecmp(u->scheme, scheme, u->scheme_len) == 0;
}

/* Is this IPv4 address one the container credentials may come from over http? */
static bool
container_ipv4(const unsigned char a[4])
{
	return a[0] == 127 ||
		(a[0] == 169 && a[1] == 254 && a[2] == 170 && (a[3] == 2 || a[3] == 23));
}

bool
awl_container_url_allowed(const char *url)
{
	AwlUrl	u;
	unsigned char a4[4];

	if (!awl_url_parse(url, &u) || u.userinfo != NULL)
		return false;
	if (awl_url_scheme_is(&u, "https"))
		return true;
	if (!awl_url_scheme_is(&u, "http"))
		return false;
	if (u.host_is_ipv6)
	{
		static const unsigned char loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
		static const unsigned char eks[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23};
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		return memcmp(u.host_addr, loopback, 16) == 0 ||
			memcmp(u.host_addr, eks, 16) == 0 ||
			(memcmp(u.host_addr, mapped, 12) == 0 && container_ipv4(u.host_addr + 12));
	}
	if (parse_ipv4(u.host, u.host_len, a4))
		return container_ipv4(a4);
	return u.host_len == 9 && strncasecmp(u.host, "localhost", 9) == 0;
}

bool
awl_endpoint_url_ok(const char *url)
{
	AwlUrl		u;

	return url != NULL &&
		(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
		awl_url_parse(url, &u) && u.userinfo == NULL && u.query == NULL &&
		u.fragment == NULL;
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
