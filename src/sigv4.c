/*-------------------------------------------------------------------------
 *
 * sigv4.c
 *	  AWS Signature Version 4 (header form) for one HTTP request.
 *
 * Plain C with malloc and OpenSSL, no PostgreSQL headers, so that
 * test/unit/sigv4_test.c can check it against the official AWS vectors.
 * The canonical request is built by sigv4_canon.c; this file hashes it,
 * derives the signing key and signs.  Key material is wiped before returning, but
 * for the signing key of the last signature (and the secret it came from),
 * kept for the next one until awl_sigv4_forget().
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

/* SHA256_Init() and friends: deprecated in OpenSSL 3 but direct, see sha256(). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "sigv4.h"
#include "sigv4_int.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

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

/*
 * The canonical request of req into creq and its signed-header list into
 * signed_list; 0 when out of memory.
 */
static int
canonical_request(const AwlSigV4Request *req, AwlSigV4Buf *creq, AwlSigV4Buf *signed_list)
{
	char		hash[65];

	buf_str(creq, req->method);
	buf_char(creq, '\n');
	awl_sigv4_canonical_uri(creq, req->path);
	buf_char(creq, '\n');
	awl_sigv4_canonical_query(creq, req->query);
	buf_char(creq, '\n');
	awl_sigv4_canonical_headers(creq, signed_list, req->headers, req->nheaders);
	buf_char(creq, '\n');
	if (signed_list->data)
		buf_add(creq, signed_list->data, signed_list->len);
	buf_char(creq, '\n');
	awl_sha256_hex(req->body ? (const void *) req->body : "", req->body_len, hash);
	buf_str(creq, hash);
	return !(creq->failed || signed_list->failed);
}

/* The credential scope's tail after the date: "/REGION/SERVICE/aws4_request". */
static void
scope_tail(AwlSigV4Buf *b, const AwlSigV4Signing *sig)
{
	buf_char(b, '/');
	buf_str(b, sig->region);
	buf_char(b, '/');
	buf_str(b, sig->service);
	buf_str(b, "/aws4_request");
}

/* The string to sign for the canonical request creq into sts; 0 when out of memory. */
static int
string_to_sign(const AwlSigV4Buf *creq, const AwlSigV4Signing *sig, const char *date, AwlSigV4Buf *sts)
{
	char		hash[65];

	awl_sha256_hex(creq->data, creq->len, hash);
	buf_str(sts, ALGORITHM "\n");
	buf_str(sts, sig->amz_date);
	buf_char(sts, '\n');
	buf_str(sts, date);
	scope_tail(sts, sig);
	buf_char(sts, '\n');
	buf_str(sts, hash);
	return !sts->failed;
}

/* The Authorization value with the signature mac (malloc'd), or NULL. */
static char *
authorization_value(const AwlSigV4Signing *sig, const char *date, const AwlSigV4Buf *signed_list,
					const unsigned char mac[32])
{
	static const char hex[] = "0123456789abcdef";
	char		sighex[65];
	AwlSigV4Buf			authz = {0};
	int			i;

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
	scope_tail(&authz, sig);
	buf_str(&authz, ", SignedHeaders=");
	buf_add(&authz, signed_list->data, signed_list->len);
	buf_str(&authz, ", Signature=");
	buf_str(&authz, sighex);
	return buf_finish(&authz);
}

char *
awl_sigv4_authorization(const AwlSigV4Request *req, const AwlSigV4Signing *sig,
						AwlSigV4Trace *trace)
{
	AwlSigV4Buf			creq = {0};
	AwlSigV4Buf			signed_list = {0};
	AwlSigV4Buf			sts = {0};
	char		date[9];
	const HmacKey *key;
	unsigned char mac[32];
	char	   *result = NULL;

	if (trace)
		trace->canonical_request = trace->string_to_sign = NULL;
	if (strlen(sig->amz_date) < 8)
		return NULL;
	memcpy(date, sig->amz_date, 8);
	date[8] = '\0';

	if (canonical_request(req, &creq, &signed_list) &&
		string_to_sign(&creq, sig, date, &sts) &&
		(key = signing_key(sig, date)) != NULL &&
		hmac_final(key, sts.data, sts.len, mac))
		result = authorization_value(sig, date, &signed_list, mac);

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
