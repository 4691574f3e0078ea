/*-------------------------------------------------------------------------
 *
 * sigv4_canon.c
 *	  The canonical request of AWS Signature Version 4: URI encoding, the
 *	  canonical path, query string and headers.
 *
 * Plain C with malloc, no PostgreSQL (see sigv4.c).  The rules follow the
 * generic (non-S3) signer: the path is normalized and percent-encoded once
 * more, query parameters are decoded, re-encoded and sorted, header names
 * are lower-cased and values trimmed with inner whitespace runs collapsed.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "sigv4.h"
#include "sigv4_int.h"

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

static void
encode_into(AwlSigV4Buf *b, const char *s, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		i;

	i = 0;
	while (i < len)
	{
		size_t		run = i;
		unsigned char c;

		/* Runs that stay as they are go in one piece. */
		while (run < len && (is_unreserved((unsigned char) s[run]) || (keep_slash && s[run] == '/')))
			run++;
		if (run > i)
			buf_add(b, s + i, run - i);
		if (run == len)
			break;
		c = (unsigned char) s[run];
		{
			char		esc[3] = {'%', hex[c >> 4], hex[c & 15]};

			buf_add(b, esc, 3);
		}
		i = run + 1;
	}
}

char *
awl_uri_encode(const char *s, size_t len, int keep_slash)
{
	AwlSigV4Buf			b = {0};

	encode_into(&b, s, len, keep_slash);
	return buf_finish(&b);
}

/* Decodes %XX escapes (and '+' stays '+': SigV4 does not treat it as space). */
static void
decode_into(AwlSigV4Buf *b, const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		int			hi,
					lo;

		if (s[i] == '%' && i + 2 < len &&
			(hi = awl_hex_value(s[i + 1])) >= 0 && (lo = awl_hex_value(s[i + 2])) >= 0)
		{
			buf_char(b, (char) (hi * 16 + lo));
			i += 2;
		}
		else
			buf_char(b, s[i]);
	}
}



/*
 * Canonical URI: remove empty, "." and ".." segments, keep a trailing
 * slash, then percent-encode every byte but unreserved ones and '/'.
 */
void
awl_sigv4_canonical_uri(AwlSigV4Buf *out, const char *path)
{
	size_t		plen = strlen(path);
	const char **seg;
	size_t	   *seglen;
	size_t		nseg = 0;
	size_t		i = 0;
	int			trailing;

	seg = malloc((plen / 2 + 2) * sizeof(*seg));
	seglen = malloc((plen / 2 + 2) * sizeof(*seglen));
	if (seg == NULL || seglen == NULL)
	{
		free(seg);
		free(seglen);
		out->failed = 1;
		return;
	}
	trailing = plen > 0 && path[plen - 1] == '/';
	while (i < plen)
	{
		size_t		start;
		size_t		n;

		while (i < plen && path[i] == '/')
			i++;
		start = i;
		while (i < plen && path[i] != '/')
			i++;
		n = i - start;
		if (n == 0 || (n == 1 && path[start] == '.'))
		{
			/* "." at the end acts like a trailing slash, as in "/a/." */
			if (n == 1 && i == plen)
				trailing = 1;
			continue;
		}
		if (n == 2 && path[start] == '.' && path[start + 1] == '.')
		{
			if (nseg > 0)
				nseg--;
			if (i == plen)
				trailing = 1;
			continue;
		}
		seg[nseg] = path + start;
		seglen[nseg] = n;
		nseg++;
	}

	buf_char(out, '/');
	for (i = 0; i < nseg; i++)
	{
		if (i > 0)
			buf_char(out, '/');
		encode_into(out, seg[i], seglen[i], 0);
	}
	if (trailing && nseg > 0)
		buf_char(out, '/');
	free(seg);
	free(seglen);
}

typedef struct QueryParam
{
	char	   *key;			/* encoded once */
	char	   *value;
} QueryParam;

static int
cmp_param(const void *a, const void *b)
{
	const QueryParam *pa = a;
	const QueryParam *pb = b;
	int			c = strcmp(pa->key, pb->key);

	return c != 0 ? c : strcmp(pa->value, pb->value);
}

/* Decodes one query component and encodes it the SigV4 way. */
static char *
requery(const char *s, size_t len)
{
	AwlSigV4Buf			raw = {0};
	AwlSigV4Buf			enc = {0};

	decode_into(&raw, s, len);
	if (raw.failed)
		return NULL;
	encode_into(&enc, raw.data ? raw.data : "", raw.len, 0);
	free(raw.data);
	return buf_finish(&enc);
}

void
awl_sigv4_canonical_query(AwlSigV4Buf *out, const char *query)
{
	QueryParam *params;
	size_t		nparams = 0;
	size_t		cap = 1;
	const char *p;
	size_t		i;

	if (query == NULL || *query == '\0')
		return;
	for (p = query; *p; p++)
		if (*p == '&')
			cap++;
	params = calloc(cap, sizeof(QueryParam));
	if (params == NULL)
	{
		out->failed = 1;
		return;
	}
	p = query;
	while (*p)
	{
		const char *amp = strchr(p, '&');
		size_t		n = amp ? (size_t) (amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);

		if (n > 0)
		{
			size_t		klen = eq ? (size_t) (eq - p) : n;

			params[nparams].key = requery(p, klen);
			params[nparams].value = eq ? requery(eq + 1, n - klen - 1) : strdup("");
			nparams++;
			if (params[nparams - 1].key == NULL || params[nparams - 1].value == NULL)
			{
				out->failed = 1;
				break;
			}
		}
		p += n;
		if (*p == '&')
			p++;
	}

	if (!out->failed)
	{
		qsort(params, nparams, sizeof(QueryParam), cmp_param);
		for (i = 0; i < nparams; i++)
		{
			if (i > 0)
				buf_char(out, '&');
			buf_str(out, params[i].key);
			buf_char(out, '=');
			buf_str(out, params[i].value);
		}
	}
	for (i = 0; i < nparams; i++)
	{
		free(params[i].key);
		free(params[i].value);
	}
	free(params);
}

typedef struct CanonHeader
{
	char	   *name;			/* lower case */
	AwlSigV4Buf			value;			/* trimmed, collapsed, repeats joined by ',' */
} CanonHeader;

static int
cmp_header(const void *a, const void *b)
{
	return strcmp(((const CanonHeader *) a)->name, ((const CanonHeader *) b)->name);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Appends a value trimmed, with every whitespace run (obs-fold too) as one space. */
static void
add_trimmed(AwlSigV4Buf *b, const char *v)
{
	int			pending_space = 0;

	while (is_space(*v))
		v++;
	while (*v)
	{
		const char *run = v;

		if (is_space(*v))
		{
			pending_space = 1;
			v++;
			continue;
		}
		if (pending_space)
			buf_char(b, ' ');
		pending_space = 0;
		while (*v && !is_space(*v))
			v++;
		buf_add(b, run, v - run);
	}
}

/*
 * Collects headers into h (calloc'd by the caller, n entries) by lower-cased
 * name, values trimmed and repeats joined by ','; returns how many distinct
 * names, with *failed set when out of memory.
 */
static int
collect_headers(CanonHeader *h, const AwlSigV4Header *headers, int n, int *failed)
{
	int			nh = 0;
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		char	   *name = strdup(headers[i].name);
		char	   *c;

		if (name == NULL)
		{
			*failed = 1;
			break;
		}
		for (c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char) (*c - 'A' + 'a');
		for (j = 0; j < nh; j++)
			if (strcmp(h[j].name, name) == 0)
				break;
		if (j < nh)
		{
			free(name);
			buf_char(&h[j].value, ',');
		}
		else
		{
			h[nh].name = name;
			nh++;
		}
		add_trimmed(&h[j].value, headers[i].value);
		if (h[j].value.failed)
			*failed = 1;
	}
	return nh;
}

void
awl_sigv4_canonical_headers(AwlSigV4Buf *out, AwlSigV4Buf *signed_list, const AwlSigV4Header *headers, int n)
{
	CanonHeader *h;
	int			nh;
	int			i;

	h = calloc(n > 0 ? n : 1, sizeof(CanonHeader));
	if (h == NULL)
	{
		out->failed = 1;
		return;
	}
	nh = collect_headers(h, headers, n, &out->failed);
	if (!out->failed)
	{
		qsort(h, nh, sizeof(CanonHeader), cmp_header);
		for (i = 0; i < nh; i++)
		{
			buf_str(out, h[i].name);
			buf_char(out, ':');
			if (h[i].value.data)
				buf_add(out, h[i].value.data, h[i].value.len);
			buf_char(out, '\n');
			if (i > 0)
				buf_char(signed_list, ';');
			buf_str(signed_list, h[i].name);
		}
	}
	for (i = 0; i < nh; i++)
	{
		free(h[i].name);
		free(h[i].value.data);
	}
	free(h);
}
