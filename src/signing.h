/*-------------------------------------------------------------------------
 *
 * signing.h
 *	  The headers of one SigV4-signed request, assembled in one place for
 *	  the Lambda requests (invoke.c) and the STS client (sts.c).
 *
 * Used by invoke.c and sts.c, which call signing.c and clock.c (AWS's
 * time, declared here too); signing.c calls sigv4.c, clock.c calls
 * http.c's header lookup, nothing of their callers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_SIGNING_H
#define AWL_SIGNING_H

#include "postgres.h"

#include <time.h>

#include "credentials.h"
#include "http.h"
#include "sigv4.h"

/* Host, X-Amz-Date, the operation's headers, the token, Authorization. */
#define AWL_SIGNED_MAX_HEADERS 12

/*
 * A request's headers, each both in the list that is signed and as the
 * "Name: value" line that is sent (lines, in the order added, then the
 * Authorization line).  The lines are palloc'd in the context current at
 * awl_signed_begin; the values are the caller's, not copied.
 */
typedef struct AwlSignedHeaders
{
	AwlSigV4Header sig[AWL_SIGNED_MAX_HEADERS];
	char	   *lines[AWL_SIGNED_MAX_HEADERS + 1];
	int			nsig;
	int			nlines;
	char		amz_date[17];	/* X-Amz-Date, YYYYMMDDTHHMMSSZ */
} AwlSignedHeaders;

/*
 * Begins the headers of a request to host (the URL's authority, as sent
 * in Host) made at time when (AWS's time as this backend knows it): adds
 * Host and X-Amz-Date.
 */
extern void awl_signed_begin(AwlSignedHeaders *h, const char *host, time_t when);

/* Adds one signed header; value must stay valid until awl_signed_finish. */
extern void awl_signed_add(AwlSignedHeaders *h, const char *name, const char *value);

/*
 * Adds X-Amz-Security-Token when cred has a session token, signs method,
 * path, query (NULL for none) and body with cred for region and service,
 * and adds the Authorization line.  Raises 53200 (naming what, e.g.
 * "Lambda") when the signer runs out of memory.
 */
extern void awl_signed_finish(AwlSignedHeaders *h, const char *method, const char *path,
							  const char *query, const char *body, size_t body_len,
							  const AwlCredentials *cred, const char *region,
							  const char *service, const char *what);

/* Zeroes every line (they hold the token and the signature); never raises. */
extern void awl_signed_wipe(AwlSignedHeaders *h);

/* ---- in clock.c: AWS's time as this backend knows it, for every signature -- */

/* Seconds to add to this server's clock to get AWS's (0 until a skew was seen). */
extern long awl_clock_offset(void);

/*
 * Whether a refusal (401/403 with a clock-skew code) came with a Date more
 * than 4 minutes from the time the request was signed with (offset: the
 * correction used then); if so, the correction becomes the Date's, with a
 * WARNING naming service (who refused: "Lambda", "STS") when that is a new
 * one, and the request is worth signing and sending once more.
 */
extern bool awl_clock_skewed(const AwlHttpResponse *resp, const char *code, long offset,
							 const char *service);

#endif							/* AWL_SIGNING_H */
