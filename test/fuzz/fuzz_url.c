/*
 * libFuzzer target: the URL parser and the container-credentials host
 * check.  Checks: no crash or undefined behaviour; the parts lie inside the
 * input, in order; a parsed port is 1..65535; an accepted URL has no user
 * information, and over http its host is one of the allowed spellings
 * (re-checked here independently); the results are deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* A few characters every allowed http host must consist of. */
static int
plausible_local_host(const AwlUrl *u)
{
	size_t		i;

	if (u->host_is_ipv6)
		return 1;				/* checked by address in url.c */
	if (u->host_len == 9 && strncasecmp(u->host, "localhost", 9) == 0)
		return 1;
	if (u->host_len < 7 || u->host_len > 15)
		return 0;
	for (i = 0; i < u->host_len; i++)
		if (!((u->host[i] >= '0' && u->host[i] <= '9') || u->host[i] == '.'))
			return 0;
	return (u->host_len >= 4 && strncmp(u->host, "127.", 4) == 0) ||
		(u->host_len == 13 && strncmp(u->host, "169.254.170.2", 13) == 0) ||
		(u->host_len == 14 && strncmp(u->host, "169.254.170.23", 14) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *url = malloc(size + 1);
	size_t		len;
	AwlUrl		u;
	AwlUrl		again;
	bool		parsed;
	bool		allowed;

	memcpy(url, data, size);
	url[size] = '\0';
	len = strlen(url);

	parsed = awl_url_parse(url, &u);
	allowed = awl_container_url_allowed(url);
	if (parsed)
	{
		const char *last = url;

		check_inside(u.scheme, u.scheme_len, url, len);
		check_inside(u.userinfo, u.userinfo_len, url, len);
		check_inside(u.host, u.host_len, url, len);
		check_inside(u.path, u.path_len, url, len);
		check_inside(u.query, u.query_len, url, len);
		check_inside(u.fragment, u.fragment_len, url, len);
		if (u.scheme != url || u.scheme_len == 0 || u.host == NULL || u.host_len == 0 ||
			u.path == NULL)
			abort();
		if (u.port != -1 && (u.port < 1 || u.port > 65535))
			abort();
		last = u.scheme + u.scheme_len;
		if (u.userinfo)
		{
			if (u.userinfo < last || u.userinfo[u.userinfo_len] != '@')
				abort();
			last = u.userinfo + u.userinfo_len;
		}
		if (u.host < last || memchr(u.host, '@', u.host_len) || memchr(u.host, '/', u.host_len))
			abort();
		last = u.host + u.host_len;
		if (u.path < last || (u.path_len > 0 && u.path[0] != '/'))
			abort();
		if (u.query && (u.query < u.path + u.path_len || u.query[-1] != '?'))
			abort();
		if (u.fragment && u.fragment[-1] != '#')
			abort();
		if (!u.host_is_ipv6 && memchr(u.host, ':', u.host_len))
			abort();
		if (!awl_url_parse(url, &again) ||
			memcmp(&u, &again, sizeof(u)) != 0)
			abort();
	}
	else if (awl_url_parse(url, &again))
		abort();

	if (allowed)
	{
		if (!parsed || u.userinfo != NULL)
			abort();
		if (!awl_url_scheme_is(&u, "https") &&
			!(awl_url_scheme_is(&u, "http") && plausible_local_host(&u)))
			abort();
	}
	if (awl_container_url_allowed(url) != allowed)
		abort();
	free(url);
	return 0;
}
