/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  AWS's time as this backend knows it, for signatures.
 *
 * AWS accepts a signature within 5 minutes of its own time.  When Lambda
 * refuses a request for clock skew, the Date of its reply tells how far
 * this server's clock is off; every later signature of the backend (and of
 * the dispatcher) is dated with that correction, as the AWS SDKs do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "http.h"
#include "signing.h"

/* AWS accepts signatures within 5 minutes of its time; correct beyond 4, as the SDKs do. */
#define CLOCK_SKEW_SECS		240

/*
 * Seconds to add to this server's clock to get AWS's, learnt from the Date
 * header of a reply that refused a request for clock skew; 0 until then.
 * Per backend (and per dispatcher), used for every signature.
 */
static long clock_offset = 0;

long
awl_clock_offset(void)
{
	return clock_offset;
}

static time_t
parse_http_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm	tm = {0};
	char		mon[4] = {0};
	const char *m;
	int			n = 0;

	if (s == NULL ||
		sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT%n", &tm.tm_mday, mon, &tm.tm_year,
			   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n == 0 ||
		strlen(mon) != 3 || (m = strstr(months, mon)) == NULL || (m - months) % 3 != 0 ||
		tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
		tm.tm_sec > 60 || tm.tm_year < 1970)
		return (time_t) -1;
	tm.tm_mon = (int) ((m - months) / 3);
	tm.tm_year -= 1900;
	return timegm(&tm);
}

/*
 * Whether a refusal (401/403 with one of the codes the AWS SDKs read as clock
 * skew) came with a Date more than 4 minutes from the time the request was
 * signed with (offset: the correction used then).  If so, the clock
 * correction becomes the Date's, with a WARNING when that is a new one, and
 * the request is worth sending once more.
 */
bool
awl_clock_skewed(const AwlHttpResponse *resp, const char *code, long offset, const char *service)
{
	static const char *const codes[] = {"InvalidSignatureException", "SignatureDoesNotMatch",
		"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "AuthFailure"};
	size_t		i;
	time_t		server;
	time_t		now;
	long		new_offset;

	if ((resp->status != 401 && resp->status != 403) || code == NULL)
		return false;
	for (i = 0; i < lengthof(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			break;
	if (i == lengthof(codes))
		return false;
	server = parse_http_date(awl_http_header(resp, "Date"));
	if (server == (time_t) -1)
		return false;
	now = time(NULL);
	new_offset = (long) (server - now);
	if (labs(new_offset - offset) <= CLOCK_SKEW_SECS)
		return false;
	if (labs(new_offset - clock_offset) > CLOCK_SKEW_SECS)
	{
		clock_offset = new_offset;
		if (labs(new_offset) <= CLOCK_SKEW_SECS)
			ereport(WARNING,
					(errmsg("this server's clock agrees with AWS's again; awslambda signs requests with it"),
					 errdetail("%s refused a request (%s) signed with the corrected time, and the Date of its reply is %ld seconds from this server's clock.",
							   service, code, labs(new_offset))));
		else
			ereport(WARNING,
					(errmsg("this server's clock differs from AWS's; awslambda now signs requests with AWS's time"),
					 errdetail("%s refused a request (%s), and the Date of its reply is %ld seconds %s this server's clock.",
							   service, code, labs(new_offset), new_offset > 0 ? "ahead of" : "behind"),
					 errhint("Synchronize the server's clock (NTP).")));
	}
	return true;
}
