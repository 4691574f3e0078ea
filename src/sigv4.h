/*-------------------------------------------------------------------------
 *
 * sigv4.h
 *	  AWS Signature Version 4 for one HTTP request, independent of PostgreSQL.
 *
 * Everything returned is malloc'd (NULL when out of memory) so that the
 * signer can be unit-tested outside a backend against the official vectors.
 * sigv4_canon.c builds the canonical request, sigv4.c signs; signing.c is
 * the PostgreSQL side that assembles a request's signed headers.
 *
 * Used by signing.c, credentials.c (forgetting the signing key), sts.c and
 * target.c (percent-encoding); sigv4.c -> sigv4_canon.c -> parse.c,
 * nothing back.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_SIGV4_H
#define AWL_SIGV4_H

#include <stddef.h>
#include <time.h>

typedef struct AwlSigV4Header
{
	const char *name;			/* as sent; lower-cased for signing */
	const char *value;			/* may hold obs-fold line breaks */
} AwlSigV4Header;

typedef struct AwlSigV4Request
{
	const char *method;
	const char *path;			/* as on the wire, before '?' */
	const char *query;			/* as on the wire, after '?', or NULL */
	const AwlSigV4Header *headers;	/* every header to sign */
	int			nheaders;
	const unsigned char *body;
	size_t		body_len;
} AwlSigV4Request;

typedef struct AwlSigV4Signing
{
	const char *access_key_id;
	const char *secret_access_key;
	const char *region;
	const char *service;
	const char *amz_date;		/* YYYYMMDDTHHMMSSZ, same as X-Amz-Date */
} AwlSigV4Signing;

/* Intermediate strings, for tests; free() both. */
typedef struct AwlSigV4Trace
{
	char	   *canonical_request;
	char	   *string_to_sign;
} AwlSigV4Trace;

/*
 * The value of the Authorization header for req signed with sig (malloc'd;
 * the caller wipes and frees it), or NULL when out of memory or
 * sig->amz_date is too short.  With trace, also the canonical request and
 * the string to sign (malloc'd, for tests).  Keeps the derived signing key
 * for the next call with the same secret, date, region and service.
 */
extern char *awl_sigv4_authorization(const AwlSigV4Request *req,
									 const AwlSigV4Signing *sig,
									 AwlSigV4Trace *trace);

/*
 * Percent-encodes s[0..len), all but A-Z a-z 0-9 - _ . ~ (and '/' if
 * keep_slash), as a malloc'd string, or NULL when out of memory.
 */
extern char *awl_uri_encode(const char *s, size_t len, int keep_slash);

/* The SHA-256 of data[0..len) as 64 lower-case hex digits and a NUL in out. */
extern void awl_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Wipes and forgets the signing key kept from the last signature (and the
 * copy of the secret it was derived from, kept to recognise it).
 */
extern void awl_sigv4_forget(void);

/* X-Amz-Date for t, in UTC. */
extern void awl_sigv4_amz_date(time_t t, char out[17]);

#endif							/* AWL_SIGV4_H */
