/*
 * sigv4_test.c
 *	  Checks src/sigv4.c (with sigv4_canon.c) against the AWS SigV4 test suite and the Lambda
 *	  vectors in test/testdata: for every case directory <name>/ holding
 *	  <name>.req, sign the request and compare the canonical request, string
 *	  to sign and Authorization byte for byte (and, for Lambda cases, the
 *	  signed request).  Region, service and date come from the .sts scope.
 *
 *	  usage: sigv4_test TESTDATA_DIR
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sigv4.h"

#define ACCESS_KEY "AKIDEXAMPLE"
#define SECRET_KEY "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define MAX_HEADERS 32

/* Cases the suite itself says SDKs skip (see testdata/sigv4/README.md). */
static const char *const skipped[] = {
	"get-space", "get-vanilla-query-order-key",
	"get-vanilla-query-order-key-case", "get-vanilla-query-order-value",
};

static int	passed,
			failed,
			nskipped;

static char *
read_file(const char *dir, const char *name, const char *ext)
{
	char		path[4096];
	FILE	   *f;
	long		n;
	char	   *s;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc(n + 1);
	if (fread(s, 1, n, f) != (size_t) n)
		n = 0;
	s[n] = '\0';
	fclose(f);
	return s;
}

/* A parsed .req; strings point into the (modified) file text. */
typedef struct ParsedReq
{
	char	   *method;
	char	   *path;
	char	   *query;
	AwlSigV4Header headers[MAX_HEADERS];
	char	   *values[MAX_HEADERS];	/* malloc'd, folded lines joined */
	int			nheaders;
	char	   *body;
} ParsedReq;

static int
parse_req(char *text, ParsedReq *r)
{
	char	   *line = text;
	char	   *next;
	char	   *sp;
	char	   *q;

	memset(r, 0, sizeof(*r));
	next = strchr(line, '\n');
	if (next)
		*next++ = '\0';
	sp = strchr(line, ' ');
	q = strstr(line, " HTTP/");
	if (sp == NULL || q == NULL || q < sp)
		return 0;
	*sp = '\0';
	*q = '\0';
	r->method = line;
	r->path = sp + 1;
	q = strchr(r->path, '?');
	if (q)
	{
		*q = '\0';
		r->query = q + 1;
	}

	while (next && *next != '\0' && *next != '\n')
	{
		char	   *colon;

		line = next;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if ((line[0] == ' ' || line[0] == '\t') && r->nheaders > 0)
		{
			/* obs-fold: continuation of the previous header's value */
			char	   *prev = r->values[r->nheaders - 1];
			char	   *joined = malloc(strlen(prev) + strlen(line) + 2);

			sprintf(joined, "%s\n%s", prev, line);
			free(prev);
			r->values[r->nheaders - 1] = joined;
			r->headers[r->nheaders - 1].value = joined;
			continue;
		}
		colon = strchr(line, ':');
		if (colon == NULL || r->nheaders == MAX_HEADERS)
			return 0;
		*colon = '\0';
		r->values[r->nheaders] = strdup(colon + 1);
		r->headers[r->nheaders].name = line;
		r->headers[r->nheaders].value = r->values[r->nheaders];
		r->nheaders++;
	}
	if (next && *next == '\n')
		r->body = next + 1;
	return 1;
}

static char *
line_of(const char *text, int n)
{
	const char *p = text;
	const char *end;
	char	   *s;

	while (n-- > 0 && p)
	{
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p == NULL)
		return strdup("");
	end = strchr(p, '\n');
	if (end == NULL)
		end = p + strlen(p);
	s = malloc(end - p + 1);
	memcpy(s, p, end - p);
	s[end - p] = '\0';
	return s;
}

static int
check(const char *name, const char *what, const char *got, const char *want)
{
	if (want == NULL)
	{
		printf("FAIL %s: missing .%s file\n", name, what);
		return 0;
	}
	if (got == NULL || strcmp(got, want) != 0)
	{
		printf("FAIL %s: %s differs\n--- want\n%s\n--- got\n%s\n", name, what, want,
			   got ? got : "(null)");
		return 0;
	}
	return 1;
}

/* The .sreq is the .req with "Authorization: ..." after the headers. */
static char *
expected_sreq(const char *req, const char *authz)
{
	const char *blank = strstr(req, "\n\n");
	size_t		head = blank ? (size_t) (blank - req) : strlen(req);
	char	   *s = malloc(strlen(req) + strlen(authz) + 32);

	memcpy(s, req, head);
	sprintf(s + head, "\nAuthorization: %s%s", authz, blank ? blank : "");
	return s;
}

static void
run_case(const char *dir, const char *name, int is_lambda)
{
	char	   *req_text = read_file(dir, name, "req");
	char	   *req_copy = strdup(req_text);
	char	   *creq = read_file(dir, name, "creq");
	char	   *sts = read_file(dir, name, "sts");
	char	   *authz = read_file(dir, name, "authz");
	char	   *sreq = is_lambda ? read_file(dir, name, "sreq") : NULL;
	char	   *amz_date = NULL;
	char	   *scope = NULL;
	char	   *token = NULL;
	char		region[64] = "",
				service[64] = "";
	ParsedReq	r;
	AwlSigV4Request sreq_in = {0};
	AwlSigV4Signing sig = {0};
	AwlSigV4Trace trace = {0};
	char	   *got;
	int			ok = 1;
	int			i;
	size_t		n;

	for (i = 0; i < (int) (sizeof(skipped) / sizeof(*skipped)); i++)
		if (strcmp(name, skipped[i]) == 0)
		{
			nskipped++;
			goto out;
		}

	if (sts == NULL || !parse_req(req_copy, &r))
	{
		printf("FAIL %s: cannot read the case\n", name);
		failed++;
		goto out;
	}
	amz_date = line_of(sts, 1);
	scope = line_of(sts, 2);
	if (sscanf(scope, "%*8[0-9]/%63[^/]/%63[^/]/aws4_request", region, service) != 2)
	{
		printf("FAIL %s: bad scope %s\n", name, scope);
		failed++;
		goto out;
	}

	/* The suite signs the token of get-vanilla-with-session-token without listing it. */
	if (creq && (token = strstr(creq, "\nx-amz-security-token:")) != NULL)
	{
		int			have = 0;

		for (i = 0; i < r.nheaders; i++)
			if (strcasecmp(r.headers[i].name, "X-Amz-Security-Token") == 0)
				have = 1;
		token = line_of(token + 1, 0);
		if (!have)
		{
			r.headers[r.nheaders].name = "X-Amz-Security-Token";
			r.values[r.nheaders] = strdup(token + strlen("x-amz-security-token:"));
			r.headers[r.nheaders].value = r.values[r.nheaders];
			r.nheaders++;
		}
	}

	sreq_in.method = r.method;
	sreq_in.path = r.path;
	sreq_in.query = r.query;
	sreq_in.headers = r.headers;
	sreq_in.nheaders = r.nheaders;
	sreq_in.body = (const unsigned char *) (r.body ? r.body : "");
	n = r.body ? strlen(r.body) : 0;
	sreq_in.body_len = n;
	sig.access_key_id = ACCESS_KEY;
	sig.secret_access_key = SECRET_KEY;
	sig.region = region;
	sig.service = service;
	sig.amz_date = amz_date;

	got = awl_sigv4_authorization(&sreq_in, &sig, &trace);
	ok = check(name, "creq", trace.canonical_request, creq) &&
		check(name, "sts", trace.string_to_sign, sts) &&
		check(name, "authz", got, authz);
	if (ok && is_lambda)
	{
		char	   *want = expected_sreq(req_text, got);

		ok = check(name, "sreq", want, sreq);
		free(want);
	}
	if (ok)
		passed++;
	else
		failed++;
	free(got);
	free(trace.canonical_request);
	free(trace.string_to_sign);
	for (i = 0; i < r.nheaders; i++)
		free(r.values[i]);

out:
	free(req_text);
	free(req_copy);
	free(creq);
	free(sts);
	free(authz);
	free(sreq);
	free(amz_date);
	free(scope);
	free(token);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Visits dir: if it holds <basename>.req it is a case, else recurse. */
static void
walk(const char *dir, const char *name, int is_lambda)
{
	char		probe[4096];
	struct stat st;
	DIR		   *d;
	struct dirent *e;
	char	   *names[256];
	int			n = 0;
	int			i;

	snprintf(probe, sizeof(probe), "%s/%s.req", dir, name);
	if (stat(probe, &st) == 0)
	{
		run_case(dir, name, is_lambda);
		return;
	}
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && n < 256)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_names);
	for (i = 0; i < n; i++)
	{
		char		sub[4096];

		snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			walk(sub, names[i], is_lambda);
		free(names[i]);
	}
}

/* Spot checks of the helpers the vectors do not reach directly. */
static void
helper_checks(void)
{
	char		date[17];
	char		hex[65];
	char	   *enc = awl_uri_encode("my-function:$LATEST/é", strlen("my-function:$LATEST/é"), 0);
	int			ok;

	awl_sigv4_amz_date((time_t) 1767225600, date);	/* 2026-01-01 00:00:00 UTC */
	awl_sha256_hex("", 0, hex);
	ok = check("helpers", "amz_date", date, "20260101T000000Z") &&
		check("helpers", "sha256", hex,
			  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") &&
		check("helpers", "uri_encode", enc, "my-function%3A%24LATEST%2F%C3%A9");
	free(enc);
	if (ok)
		passed++;
	else
		failed++;
}

/*
 * The signer keeps the signing key from one signature to the next.  Walk
 * through secret, date, region and service changing one at a time (a Gray
 * code; the two secrets differ in their last byte only), and check that each
 * signature, made with the kept key, is the one a fresh signer makes.
 */
static void
key_cache_checks(void)
{
	static const char *const secrets[] = {SECRET_KEY, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ"};
	static const char *const dates[] = {"20260101T000000Z", "20260102T000000Z"};
	static const char *const regions[] = {"us-east-1", "eu-west-1"};
	static const char *const services[] = {"lambda", "sts"};
	AwlSigV4Header h[] = {{"Host", "lambda.us-east-1.amazonaws.com"}, {"X-Amz-Date", NULL}};
	AwlSigV4Request r = {"POST", "/2015-03-31/functions/f/invocations", NULL, h, 2,
	(const unsigned char *) "{}", 2};
	int			ok = 1;
	int			i;

	for (i = 0; i < 34 && ok; i++)
	{
		int			g = (i % 17 == 16) ? 0 : (i % 17) ^ ((i % 17) >> 1);	/* back to the start once */
		AwlSigV4Signing sig = {ACCESS_KEY, secrets[g & 1], regions[(g >> 2) & 1],
		services[(g >> 3) & 1], dates[(g >> 1) & 1]};
		char	   *kept;
		char	   *fresh;

		h[1].value = sig.amz_date;
		kept = awl_sigv4_authorization(&r, &sig, NULL);
		awl_sigv4_forget();
		fresh = awl_sigv4_authorization(&r, &sig, NULL);
		ok = check("key-cache", "signature with the kept key", kept ? kept : "(null)",
				   fresh ? fresh : "(none)");
		free(kept);
		free(fresh);
	}
	if (ok)
		passed++;
	else
		failed++;
}

int
main(int argc, char **argv)
{
	char		path[4096];

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s TESTDATA_DIR\n", argv[0]);
		return 2;
	}
	helper_checks();
	key_cache_checks();
	snprintf(path, sizeof(path), "%s/sigv4", argv[1]);
	walk(path, "sigv4", 0);
	snprintf(path, sizeof(path), "%s/sigv4-lambda", argv[1]);
	walk(path, "sigv4-lambda", 1);
	printf("sigv4: %d passed, %d failed, %d skipped\n", passed, failed, nskipped);
	return failed == 0 && passed > 30 ? 0 : 1;
}
