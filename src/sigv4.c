/*-------------------------------------------------------------------------
 *
 * sigv4.c
 *	  AWS Signature Version 4 (header form) for one HTTP request.
 *
 * Plain C with malloc and OpenSSL, no PostgreSQL headers, so that
 * test/unit/sigv4_test.c can check it against the official AWS vectors.
 * The rules follow the generic (non-S3) signer: the path is normalized and
 * percent-encoded once more, query parameters are decoded, re-encoded and
 * sorted, header names are lower-cased and values trimmed with inner
 * whitespace runs collapsed.  Key material is wiped before returning, but
 * for the signing key of the last signature (and the secret it came from),
 * kept for the next one until awl_sigv4_forget().
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SHA256_Init() and friends: deprecated in OpenSSL 3 but direct, see sha256(). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* A malloc'd growable string; any allocation failure sets failed. */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	int			failed;
} Buf;

static void
buf_reserve(Buf *b, size_t extra)
{
	size_t		need;
	char	   *p;

	if (b->failed)
		return;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap *= 2;
	p = realloc(b->data, b->cap);
	if (p == NULL)
	{
		b->failed = 1;
		return;
	}
	b->data = p;
}

static void
buf_add(Buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_str(Buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_char(Buf *b, char c)
{
	if (b->len + 2 <= b->cap && !b->failed)
	{
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
	}
	else
		buf_add(b, &c, 1);
}

/* Returns the string (never NULL unless failed), or NULL after freeing. */
static char *
buf_finish(Buf *b)
{
	if (b->failed)
	{
		free(b->data);
		b->data = NULL;
		return NULL;
	}
	if (b->data == NULL)
		return strdup("");
	return b->data;
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

static void
encode_into(Buf *b, const char *s, size_t len, int keep_slash)
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
	Buf			b = {0};

	encode_into(&b, s, len, keep_slash);
	return buf_finish(&b);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX escapes (and '+' stays '+': SigV4 does not treat it as space). */
static void
decode_into(Buf *b, const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		int			hi,
					lo;

		if (s[i] == '%' && i + 2 < len &&
			(hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0)
		{
			buf_char(b, (char) (hi * 16 + lo));
			i += 2;
		}
		else
			buf_char(b, s[i]);
	}
}

/*
 * SHA-256 with OpenSSL's low-level functions: the EVP interface of OpenSSL 3
 * dispatches through its provider on every initialisation, which costs more
 * than hashing a short request.  The context is wiped: it may have seen a
 * token.  Returns 0 on failure.
 */
static int
sha256(const void *data, size_t len, unsigned char out[32])
{
	SHA256_CTX	c;
	int			ok = SHA256_Init(&c) && SHA256_Update(&c, data, len) && SHA256_Final(out, &c);

	OPENSSL_cleanse(&c, sizeof(c));
	return ok;
}

void
awl_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	int			i;

	if (!sha256(data, len, md))
		memset(md, 0, sizeof(md));	/* only without memory; the caller's result is then wrong but defined */
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
	{
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void
awl_sigv4_amz_date(time_t t, char out[17])
{
	/* Calls come many to a second: format each second once. */
	static time_t last_t = (time_t) -1;
	static char last[17];
	struct tm	tm;

	if (t != last_t)
	{
		gmtime_r(&t, &tm);
		if (strftime(last, sizeof(last), "%Y%m%dT%H%M%SZ", &tm) == 0)
			last[0] = '\0';
		last_t = t;
	}
	memcpy(out, last, 17);
}

/*
 * Canonical URI: remove empty, "." and ".." segments, keep a trailing
 * slash, then percent-encode every byte but unreserved ones and '/'.
 */
static void
canonical_uri(Buf *out, const char *path)
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
	Buf			raw = {0};
	Buf			enc = {0};

	decode_into(&raw, s, len);
	if (raw.failed)
		return NULL;
	encode_into(&enc, raw.data ? raw.data : "", raw.len, 0);
	free(raw.data);
	return buf_finish(&enc);
}

static void
canonical_query(Buf *out, const char *query)
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
	Buf			value;			/* trimmed, collapsed, repeats joined by ',' */
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
add_trimmed(Buf *b, const char *v)
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

/* Writes canonical headers into out and the signed-header list into signed_list. */
static void
canonical_headers(Buf *out, Buf *signed_list, const AwlSigV4Header *headers, int n)
{
	CanonHeader *h;
	int			nh = 0;
	int			i,
				j;

	h = calloc(n > 0 ? n : 1, sizeof(CanonHeader));
	if (h == NULL)
	{
		out->failed = 1;
		return;
	}
	for (i = 0; i < n; i++)
	{
		char	   *name = strdup(headers[i].name);
		char	   *c;

		if (name == NULL)
		{
			out->failed = 1;
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
			out->failed = 1;
	}

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

/* An HMAC-SHA256 key (RFC 2104) as the hash states after its two pads. */
typedef struct HmacKey
{
	SHA256_CTX	inner;
	SHA256_CTX	outer;
} HmacKey;

static int
hmac_init(HmacKey *hk, const unsigned char *key, size_t keylen)
{
	unsigned char k[64] = {0};
	unsigned char pad[64];
	int			ok = 1;
	int			i;

	if (keylen > sizeof(k))
		ok = sha256(key, keylen, k);
	else
		memcpy(k, key, keylen);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	ok = ok && SHA256_Init(&hk->inner) && SHA256_Update(&hk->inner, pad, 64);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && SHA256_Init(&hk->outer) && SHA256_Update(&hk->outer, pad, 64);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok;
}

/* HMAC of msg under a prepared key, which stays usable. */
static int
hmac_final(const HmacKey *hk, const char *msg, size_t len, unsigned char out[32])
{
	SHA256_CTX	c = hk->inner;
	unsigned char inner[32];
	int			ok;

	ok = SHA256_Update(&c, msg, len) && SHA256_Final(inner, &c);
	c = hk->outer;
	ok = ok && SHA256_Update(&c, inner, 32) && SHA256_Final(out, &c);
	OPENSSL_cleanse(&c, sizeof(c));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok;
}

/* HMAC-SHA256 of a NUL-terminated message. */
static int
hmac(const unsigned char *key, size_t keylen, const char *msg, unsigned char out[32])
{
	HmacKey		hk;
	int			ok = hmac_init(&hk, key, keylen) && hmac_final(&hk, msg, strlen(msg), out);

	OPENSSL_cleanse(&hk, sizeof(hk));
	return ok;
}

/*
 * The last signing key, prepared for HMAC, and what it was derived from: it
 * changes once a day per secret, so the four-HMAC chain is skipped on almost
 * every call (the AWS SDKs cache it too).  The secret is kept to recognise
 * it, compared in constant time; date, region and service are not secret.
 */
static struct
{
	int			valid;
	char	   *secret;			/* malloc'd copy */
	size_t		secret_len;
	char		date[9];
	char	   *region;			/* malloc'd */
	char	   *service;		/* malloc'd */
	HmacKey		key;
}			cached;

void
awl_sigv4_forget(void)
{
	if (cached.secret)
	{
		OPENSSL_cleanse(cached.secret, cached.secret_len);
		free(cached.secret);
	}
	free(cached.region);
	free(cached.service);
	OPENSSL_cleanse(&cached, sizeof(cached));	/* zeroes: nothing is valid */
}

/* kSigning = HMAC chain over date, region, service, "aws4_request". */
static int
derive_signing_key(const AwlSigV4Signing *sig, const char *date, unsigned char out[32])
{
	size_t		slen = strlen(sig->secret_access_key);
	unsigned char *k0 = malloc(slen + 5);
	unsigned char k[32];
	int			ok;

	if (k0 == NULL)
		return 0;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, sig->secret_access_key, slen + 1);
	ok = hmac(k0, slen + 4, date, k) &&
		hmac(k, 32, sig->region, k) &&
		hmac(k, 32, sig->service, k) &&
		hmac(k, 32, "aws4_request", out);
	OPENSSL_cleanse(k0, slen + 4);
	OPENSSL_cleanse(k, sizeof(k));
	free(k0);
	return ok;
}

/* The prepared signing key for sig on date (YYYYMMDD), from the cache if it is that one. */
static const HmacKey *
signing_key(const AwlSigV4Signing *sig, const char *date)
{
	size_t		slen = strlen(sig->secret_access_key);
	unsigned char key[32];
	int			ok;

	if (cached.valid && slen == cached.secret_len &&
		strcmp(date, cached.date) == 0 &&
		strcmp(sig->region, cached.region) == 0 &&
		strcmp(sig->service, cached.service) == 0 &&
		CRYPTO_memcmp(sig->secret_access_key, cached.secret, slen) == 0)
		return &cached.key;

	awl_sigv4_forget();
	cached.secret = malloc(slen + 1);
	cached.region = strdup(sig->region);
	cached.service = strdup(sig->service);
	if (cached.secret == NULL || cached.region == NULL || cached.service == NULL ||
		strlen(date) >= sizeof(cached.date))
	{
		awl_sigv4_forget();
		return NULL;
	}
	memcpy(cached.secret, sig->secret_access_key, slen + 1);
	cached.secret_len = slen;
	strcpy(cached.date, date);
	ok = derive_signing_key(sig, date, key) && hmac_init(&cached.key, key, 32);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
	{
		awl_sigv4_forget();
		return NULL;
	}
	cached.valid = 1;
	return &cached.key;
}

char *
awl_sigv4_authorization(const AwlSigV4Request *req, const AwlSigV4Signing *sig,
						AwlSigV4Trace *trace)
{
	Buf			creq = {0};
	Buf			signed_list = {0};
	Buf			sts = {0};
	Buf			authz = {0};
	char		date[9];
	char		hash[65];
	const HmacKey *key;
	unsigned char mac[32];
	char		sighex[65];
	static const char hex[] = "0123456789abcdef";
	int			i;
	char	   *result = NULL;

	if (trace)
		trace->canonical_request = trace->string_to_sign = NULL;
	if (strlen(sig->amz_date) < 8)
		return NULL;
	memcpy(date, sig->amz_date, 8);
	date[8] = '\0';

	buf_str(&creq, req->method);
	buf_char(&creq, '\n');
	canonical_uri(&creq, req->path);
	buf_char(&creq, '\n');
	canonical_query(&creq, req->query);
	buf_char(&creq, '\n');
	canonical_headers(&creq, &signed_list, req->headers, req->nheaders);
	buf_char(&creq, '\n');
	if (signed_list.data)
		buf_add(&creq, signed_list.data, signed_list.len);
	buf_char(&creq, '\n');
	awl_sha256_hex(req->body ? (const void *) req->body : "", req->body_len, hash);
	buf_str(&creq, hash);
	if (creq.failed || signed_list.failed)
		goto done;

	awl_sha256_hex(creq.data, creq.len, hash);
	buf_str(&sts, ALGORITHM "\n");
	buf_str(&sts, sig->amz_date);
	buf_char(&sts, '\n');
	buf_str(&sts, date);
	buf_char(&sts, '/');
	buf_str(&sts, sig->region);
	buf_char(&sts, '/');
	buf_str(&sts, sig->service);
	buf_str(&sts, "/aws4_request\n");
	buf_str(&sts, hash);
	if (sts.failed)
		goto done;

	if ((key = signing_key(sig, date)) == NULL || !hmac_final(key, sts.data, sts.len, mac))
		goto done;
	for (i = 0; i < 32; i++)
	{
		sighex[2 * i] = hex[mac[i] >> 4];
		sighex[2 * i + 1] = hex[mac[i] & 15];
	}
	sighex[64] = '\0';

	buf_str(&authz, ALGORITHM " Credential=");
	buf_str(&authz, sig->access_key_id);
	buf_char(&authz, '/');
	buf_str(&authz, date);
	buf_char(&authz, '/');
	buf_str(&authz, sig->region);
	buf_char(&authz, '/');
	buf_str(&authz, sig->service);
	buf_str(&authz, "/aws4_request, SignedHeaders=");
	buf_add(&authz, signed_list.data, signed_list.len);
	buf_str(&authz, ", Signature=");
	buf_str(&authz, sighex);
	result = buf_finish(&authz);

done:
	OPENSSL_cleanse(mac, sizeof(mac));
	if (trace && result)
	{
		trace->canonical_request = buf_finish(&creq);
		trace->string_to_sign = buf_finish(&sts);
	}
	else
	{
		/* The canonical request holds the session token; wipe it. */
		if (creq.data)
			OPENSSL_cleanse(creq.data, creq.len);
		free(creq.data);
		free(sts.data);
	}
	free(signed_list.data);
	return result;
}
