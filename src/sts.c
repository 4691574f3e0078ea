/*-------------------------------------------------------------------------
 *
 * sts.c
 *	  AWS STS AssumeRole and AssumeRoleWithWebIdentity, for the credential
 *	  providers that exchange one identity for a role's temporary keys.
 *
 * STS speaks the query protocol: a form-encoded POST answered with XML.
 * AssumeRole is SigV4-signed (service "sts") with the source credentials;
 * AssumeRoleWithWebIdentity is not signed, the token file is the proof.
 * The endpoint is regional (https://sts.REGION.amazonaws.com), or
 * awslambda.sts_endpoint / AWS_ENDPOINT_URL_STS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "lib/stringinfo.h"
#include "utils/guc.h"

#include "credentials.h"
#include "endpoint.h"
#include "http.h"
#include "parse.h"
#include "sigv4.h"
#include "signing.h"

#define STS_TIMEOUT_MS 5000
#define STS_VERSION "2011-06-15"

/* awslambda.sts_endpoint */
static char *sts_endpoint_setting = NULL;

void
awl_sts_define_settings(void)
{
	DefineCustomStringVariable("awslambda.sts_endpoint",
							   "Sets the AWS STS endpoint URL used to assume roles.",
							   "Empty means AWS_ENDPOINT_URL_STS, then https://sts.<region>.amazonaws.com.",
							   &sts_endpoint_setting,
							   "",
							   PGC_SUSET,
							   0,
							   awl_check_url_setting, NULL, NULL);
}

/* Text of <tag> in an STS reply, palloc'd; the malloc'd copy is wiped (it may be a secret). */
static char *
xml_value(const char *xml, const char *tag)
{
	char	   *v = awl_xml_text(xml, tag);
	char	   *copy;

	if (v == NULL)
		return NULL;
	copy = pstrdup(v);
	explicit_bzero(v, strlen(v));
	free(v);
	return copy;
}

/* Appends "&name=value" with value form-encoded. */
static void
add_param(StringInfo body, const char *name, const char *value)
{
	char	   *enc = awl_uri_encode(value, strlen(value), 0);

	if (enc == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	appendStringInfo(body, "&%s=%s", name, enc);
	explicit_bzero(enc, strlen(enc));
	free(enc);
}

static char *
sts_endpoint(const char *region)
{
	const char *env = getenv("AWS_ENDPOINT_URL_STS");

	if (sts_endpoint_setting && sts_endpoint_setting[0])
		return pstrdup(sts_endpoint_setting);
	if (env && env[0])
		return pstrdup(env);
	return psprintf("https://sts.%s.amazonaws.com", region ? region : "us-east-1");
}

/*
 * Sends one STS request; fills *out on success.  On failure returns false
 * with *why, and *skewed says whether STS refused a signature dated with
 * offset for clock skew (clock.c then knows AWS's time).  source is NULL for
 * the unsigned web identity call; a signed call's headers are assembled by
 * signing.c, as the Lambda requests' are.  A signed call leaves body as it
 * was; the unsigned one's is zeroed.
 */
static bool
sts_send(const char *region, StringInfo body, const AwlCredentials *source, long offset,
		 AwlCredentials *out, char **why, bool *skewed)
{
	char	   *base = sts_endpoint(region);
	const char *authority = strstr(base, "://");
	char	   *host;
	char	   *content_type;
	AwlSignedHeaders h = {0};
	AwlHttpRequest req = {.method = "POST", .wait = AWL_WAIT_CREDENTIALS,
		.connect_timeout_ms = STS_TIMEOUT_MS, .timeout_ms = STS_TIMEOUT_MS,
	.max_response = 64 * 1024};
	AwlHttpResponse resp;
	char	   *v;

	authority = authority ? authority + 3 : base;
	host = pnstrdup(authority, strcspn(authority, "/"));
	while (strlen(base) > 0 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';

	req.url = psprintf("%s/", base);
	/*
	 * Sending zeroes the body, also when it raises.  A signed call's may be
	 * sent again: it goes as a copy.  The web identity call's, which carries
	 * the token, goes as it is.
	 */
	req.body = source ? pnstrdup(body->data, body->len) : body->data;
	req.body_len = body->len;
	*skewed = false;
	if (source)
	{
		awl_signed_begin(&h, host, time(NULL) + offset);
		awl_signed_add(&h, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
		awl_signed_finish(&h, "POST", "/", NULL, req.body, req.body_len, source,
						  region ? region : "us-east-1", "sts", "STS");
		req.headers = (const char *const *) h.lines;
		req.nheaders = h.nlines;
	}
	else
	{
		content_type = pstrdup("Content-Type: application/x-www-form-urlencoded; charset=utf-8");
		req.headers = (const char *const *) &content_type;
		req.nheaders = 1;
	}
	/* The token or the signature in the lines, the web identity token in the body. */
	awl_http_perform_wiped(&req, &resp);

	if (resp.failure != AWL_HTTP_OK)
	{
		*why = psprintf("STS at \"%s\" is unreachable: %s", base, resp.error);
		return false;
	}
	if (resp.status != 200)
	{
		char	   *code = xml_value(resp.body, "Code");
		char	   *message = xml_value(resp.body, "Message");

		*skewed = source != NULL && awl_clock_skewed(&resp, code, offset, "STS");
		*why = psprintf("STS returned HTTP %ld%s%s%s%s", resp.status,
						code ? " " : "", code ? code : "",
						message ? ": " : "", message ? message : "");
		return false;
	}
	out->access_key_id = xml_value(resp.body, "AccessKeyId");
	out->secret_access_key = xml_value(resp.body, "SecretAccessKey");
	out->session_token = xml_value(resp.body, "SessionToken");
	v = xml_value(resp.body, "Expiration");
	out->expiration = v ? awl_parse_iso8601(v) : (time_t) -1;
	explicit_bzero(resp.body, resp.body_len);
	if (!out->access_key_id || !out->secret_access_key || !out->session_token ||
		out->expiration == (time_t) -1)
	{
		*why = pstrdup("STS returned a reply without complete credentials");
		return false;
	}
	return true;
}

/*
 * Calls STS; fills *out on success.  On failure returns false with *why.  A
 * signed call is dated with AWS's time as this backend knows it (clock.c);
 * refused for clock skew, it is signed again with the Date of the refusal and
 * sent once more, as the Lambda requests are.  body is zeroed.
 */
static bool
sts_call(const char *region, StringInfo body, const AwlCredentials *source,
		 AwlCredentials *out, char **why)
{
	bool		skewed;
	bool		ok;

	ok = sts_send(region, body, source, awl_clock_offset(), out, why, &skewed);
	if (!ok && skewed)
		ok = sts_send(region, body, source, awl_clock_offset(), out, why, &skewed);
	explicit_bzero(body->data, body->len);
	return ok;
}

static StringInfo
start_body(const char *action, const char *role_arn, const char *session_name)
{
	StringInfo	body = makeStringInfo();

	appendStringInfo(body, "Action=%s&Version=%s", action, STS_VERSION);
	add_param(body, "RoleArn", role_arn);
	add_param(body, "RoleSessionName", session_name);
	return body;
}

bool
awl_sts_assume_role(const char *region, const char *role_arn, const char *session_name,
					const char *external_id, const AwlCredentials *source,
					AwlCredentials *out, char **why)
{
	StringInfo	body = start_body("AssumeRole", role_arn, session_name);

	if (external_id)
		add_param(body, "ExternalId", external_id);
	return sts_call(region, body, source, out, why);
}

bool
awl_sts_assume_role_with_web_identity(const char *region, const char *role_arn,
									  const char *session_name, const char *token,
									  AwlCredentials *out, char **why)
{
	StringInfo	body = start_body("AssumeRoleWithWebIdentity", role_arn, session_name);

	add_param(body, "WebIdentityToken", token);
	return sts_call(region, body, NULL, out, why);
}
