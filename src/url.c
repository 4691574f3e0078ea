/*-------------------------------------------------------------------------
 *
 * url.c
 *	  URLs of endpoints and of the container credentials agent, parsed and
 *	  judged: IPv4 and IPv6 literals, ports, user information, schemes.
 *	  Plain C with malloc, no PostgreSQL (see parse.h; fuzzed by
 *	  test/fuzz/fuzz_url.c).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>
#include <strings.h>

#include "parse.h"
#include "parse_int.h"

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

/*
 * Parses [h, auth_end), the authority after any user information: a host
 * ([IPv6] or a name / IPv4 address) and an optional ":port" 1..65535.
 */
static bool
parse_authority_host(const char *h, const char *auth_end, AwlUrl *out)
{
	const char *p;

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
	return true;
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

	if (!parse_authority_host(h, auth_end, out))
		return false;

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
