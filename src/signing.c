/*-------------------------------------------------------------------------
 *
 * signing.c
 *	  SigV4 header assembly: every signed header both in the signer's list
 *	  and on the wire, then the Authorization line, in one place.
 *
 * What is signed must be what is sent: each header is added once and goes
 * into both lists, Host included (libcurl then sends ours, not its own).
 * sigv4.c computes the signature (plain C, malloc'd); this file is its
 * PostgreSQL side, used by invoke.c for Lambda and by sts.c for AssumeRole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "signing.h"

/* a, b and c (c may be NULL) in one palloc'd string: cheaper than psprintf per call. */
static char *
concat3(const char *a, const char *b, const char *c)
{
	size_t		la = strlen(a);
	size_t		lb = strlen(b);
	size_t		lc = c ? strlen(c) : 0;
	char	   *s = palloc(la + lb + lc + 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c ? c : "", lc + 1);
	return s;
}

void
awl_signed_add(AwlSignedHeaders *h, const char *name, const char *value)
{
	if (h->nsig >= AWL_SIGNED_MAX_HEADERS)
		elog(ERROR, "awslambda: too many signed headers");
	h->sig[h->nsig].name = name;
	h->sig[h->nsig].value = value;
	h->lines[h->nlines++] = concat3(name, ": ", value);
	h->nsig++;
}

void
awl_signed_begin(AwlSignedHeaders *h, const char *host, time_t when)
{
	h->nsig = h->nlines = 0;
	awl_sigv4_amz_date(when, h->amz_date);
	awl_signed_add(h, "Host", host);
	awl_signed_add(h, "X-Amz-Date", h->amz_date);
}

void
awl_signed_finish(AwlSignedHeaders *h, const char *method, const char *path,
				  const char *query, const char *body, size_t body_len,
				  const AwlCredentials *cred, const char *region,
				  const char *service, const char *what)
{
	AwlSigV4Request sreq = {0};
	AwlSigV4Signing signing = {0};
	char	   *authz;

	if (cred->session_token)
		awl_signed_add(h, "X-Amz-Security-Token", cred->session_token);
	sreq.method = method;
	sreq.path = path;
	sreq.query = query;
	sreq.headers = h->sig;
	sreq.nheaders = h->nsig;
	sreq.body = (const unsigned char *) body;
	sreq.body_len = body_len;
	signing.access_key_id = cred->access_key_id;
	signing.secret_access_key = cred->secret_access_key;
	signing.region = region;
	signing.service = service;
	signing.amz_date = h->amz_date;
	authz = awl_sigv4_authorization(&sreq, &signing, NULL);
	if (authz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not sign the %s request", what)));
	h->lines[h->nlines++] = concat3("Authorization: ", authz, NULL);
	explicit_bzero(authz, strlen(authz));
	free(authz);
}

void
awl_signed_wipe(AwlSignedHeaders *h)
{
	int			j;

	for (j = 0; j < h->nlines; j++)
		explicit_bzero(h->lines[j], strlen(h->lines[j]));
	h->nlines = 0;
}
