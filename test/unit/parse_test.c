/*
 * Unit test of the plain-C parsers in src/parse.c, url.c and ini.c that guard privilege
 * boundaries: the URL parser with the container-credentials host check, and
 * the function-name parser behind the allow-list, qualifier and region.
 * Prints one line per failure and "parse: N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static int	passed;
static int	failed;

static void
result(int ok, const char *what, const char *input)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("FAIL %s: \"%s\"\n", what, input);
	}
}

/* ---- URLs ---------------------------------------------------------------- */

static void
container(const char *url, int expect)
{
	result(awl_container_url_allowed(url) == (expect != 0),
		   expect ? "container URL should be allowed" : "container URL should be refused", url);
}

static void
url_parts(const char *url, const char *scheme, const char *userinfo, const char *host,
		  int port, const char *path, const char *query)
{
	AwlUrl		u;
	int			ok = awl_url_parse(url, &u);

#define PART_IS(p, len, want) \
	((want) == NULL ? (p) == NULL : ((p) != NULL && (len) == strlen(want) && strncmp((p), (want), (len)) == 0))
	ok = ok && PART_IS(u.scheme, u.scheme_len, scheme) &&
		PART_IS(u.userinfo, u.userinfo_len, userinfo) &&
		PART_IS(u.host, u.host_len, host) &&
		u.port == port &&
		PART_IS(u.path, u.path_len, path) &&
		PART_IS(u.query, u.query_len, query);
#undef PART_IS
	result(ok, "URL parts", url);
}

static void
url_invalid(const char *url)
{
	AwlUrl		u;

	result(!awl_url_parse(url, &u), "URL should not parse", url);
}

static void
url_tests(void)
{
	/* The parts. */
	url_parts("http://127.0.0.1:8080/v1/credentials?a=b", "http", NULL, "127.0.0.1", 8080,
			  "/v1/credentials", "a=b");
	url_parts("https://example.com", "https", NULL, "example.com", -1, "", NULL);
	url_parts("http://[fd00:ec2::23]/v1/credentials", "http", NULL, "fd00:ec2::23", -1,
			  "/v1/credentials", NULL);
	url_parts("http://[::1]:65535/", "http", NULL, "::1", 65535, "/", NULL);
	url_parts("http://u:p@host:1/x", "http", "u:p", "host", 1, "/x", NULL);
	url_parts("http://127.0.0.1@evil.example/", "http", "127.0.0.1", "evil.example", -1, "/", NULL);
	url_parts("http://a@b@c/", "http", "a@b", "c", -1, "/", NULL);
	url_parts("HTTP://Host_1.example", "HTTP", NULL, "Host_1.example", -1, "", NULL);

	/* Broken URLs. */
	url_invalid("");
	url_invalid("http:/host/");
	url_invalid("://host/");
	url_invalid("1http://host/");
	url_invalid("http://");
	url_invalid("http:///path");
	url_invalid("http://:80/");
	url_invalid("http://host:/");
	url_invalid("http://host:0/");
	url_invalid("http://host:65536/");
	url_invalid("http://host:123456/");
	url_invalid("http://host:-1/");
	url_invalid("http://host:8a/");
	url_invalid("http://host:80:81/");
	url_invalid("http://ho st/");
	url_invalid("http://host/pa th");
	url_invalid("http://host/\r\nX-Injected: 1");
	url_invalid("http://host\t/");
	url_invalid("http://ho%73t/");
	url_invalid("http://ho\\st/");
	url_invalid("http://[::1/");
	url_invalid("http://[]/");
	url_invalid("http://[::1]x/");
	url_invalid("http://[::1]:/");
	url_invalid("http://[fe80::1%25eth0]/");
	url_invalid("http://[1:2:3:4:5:6:7:8:9]/");
	url_invalid("http://[1:2:3:4:5:6:7]/");
	url_invalid("http://[1::2::3]/");
	url_invalid("http://[:1]/");
	url_invalid("http://[1:]/");
	url_invalid("http://[12345::]/");
	url_invalid("http://[::g]/");
	url_invalid("http://[1:2:3:4:5:6:7::8]/");
	url_invalid("http://[::1.2.3]/");
	url_invalid("http://[::256.0.0.1]/");
	url_invalid("http://[1.2.3.4::]/");
	url_parts("http://h\xc3\xa9st/", "http", NULL, "h\xc3\xa9st", -1, "/", NULL);
	container("http://h\xc3\xa9st/", 0);

	/* Container credentials: https anywhere. */
	container("https://example.com/creds", 1);
	container("https://127.attacker.example/", 1);
	container("HTTPS://example.com/", 1);
	/* http to the loopback and agent addresses, the host compared as a whole. */
	container("http://127.0.0.1/creds", 1);
	container("http://127.0.0.1:8080/creds", 1);
	container("http://127.255.254.1/", 1);
	container("http://127.0.0.1", 1);
	container("http://169.254.170.2/v2/credentials/x", 1);
	container("http://169.254.170.23/v1/credentials", 1);
	container("http://localhost:5000/creds", 1);
	container("http://LocalHost/creds", 1);
	container("http://[::1]/creds", 1);
	container("http://[::1]:8080/creds", 1);
	container("http://[0:0:0:0:0:0:0:1]/", 1);
	container("http://[0000:0000:0000:0000:0000:0000:0000:0001]/", 1);
	container("http://[::0:1]/", 1);
	container("http://[::ffff:127.0.0.1]/", 1);
	container("http://[::ffff:169.254.170.23]/", 1);
	container("http://[fd00:ec2::23]/v1/credentials", 1);
	container("http://[FD00:EC2::23]/v1/credentials", 1);
	container("http://[fd00:0ec2:0:0:0:0:0:0023]:80/", 1);
	container("http://[fd00:ec2:0::0:23]/", 1);
	/* ... and nothing else. */
	container("http://127.attacker.example/", 0);
	container("http://127.0.0.1.evil.example/", 0);
	container("http://127.0.0.1@evil.example/", 0);
	container("http://evil.example@127.0.0.1/", 0);
	container("http://127.0.0.1\\@evil.example/", 0);
	container("http://@127.0.0.1/", 0);
	container("http://user:pass@127.0.0.1/", 0);
	container("https://user@example.com/", 0);
	container("http://127.1/", 0);
	container("http://127.0.1/", 0);
	container("http://2130706433/", 0);
	container("http://0x7f.0.0.1/", 0);
	container("http://0177.0.0.1/", 0);
	container("http://127.0.0.01/", 0);
	container("http://127.0.0.256/", 0);
	container("http://127.0.0.1./", 0);
	container("http://127.0.0.1.", 0);
	container("http://128.0.0.1/", 0);
	container("http://169.254.170.3/", 0);
	container("http://169.254.170.230/", 0);
	container("http://169.254.170.2.evil.example/", 0);
	container("http://169.254.169.254/", 0);
	container("http://192.0.2.10/creds", 0);
	container("http://localhost.evil.example/", 0);
	container("http://localhostx/", 0);
	container("http://[::2]/", 0);
	container("http://[::]/", 0);
	container("http://[fd00:ec2::24]/", 0);
	container("http://[fd00:ec2::23:0]/", 0);
	container("http://[::ffff:192.0.2.10]/", 0);
	container("http://[::127.0.0.1]/", 0);
	container("http://::1/", 0);
	container("http://fd00:ec2::23/", 0);
	container("http://127.0.0.1:0/", 0);
	container("http://127.0.0.1:65536/", 0);
	container("http://127.0.0.1:80x/", 0);
	container("http://127.0.0.1:/", 0);
	container("http:///creds", 0);
	container("http://", 0);
	container("ftp://127.0.0.1/", 0);
	container("file:///etc/passwd", 0);
	container("gopher://127.0.0.1/", 0);
	container("127.0.0.1/creds", 0);
	container("http:127.0.0.1/creds", 0);
	container("http://127.0.0.1/\r\nX: 1", 0);
	container("", 0);
}

/* ---- Function names ------------------------------------------------------ */

static int
part_is(const char *p, size_t len, const char *want)
{
	if (want == NULL)
		return p == NULL && len == 0;
	return p != NULL && len == strlen(want) && strncmp(p, want, len) == 0;
}

static void
name_parts(const char *s, const char *partition, const char *region, const char *account,
		   const char *name, const char *qualifier)
{
	AwlFunctionName f;
	int			ok = awl_function_name_parse(s, strlen(s), &f);

	ok = ok && f.full_arn == (partition != NULL) &&
		part_is(f.partition, f.partition_len, partition) &&
		part_is(f.region, f.region_len, region) &&
		part_is(f.account, f.account_len, account) &&
		part_is(f.name, f.name_len, name) &&
		part_is(f.qualifier, f.qualifier_len, qualifier);
	result(ok, "name parts", s);
}

static void
name_invalid(const char *s)
{
	AwlFunctionName f;

	result(!awl_function_name_parse(s, strlen(s), &f) && f.name == NULL,
		   "name should be invalid", s);
}

static void
qualifier(const char *s, int expect)
{
	result(awl_qualifier_ok(s, strlen(s)) == (expect != 0),
		   expect ? "qualifier should be valid" : "qualifier should be invalid", s);
}

static char *
repeat(char c, size_t n, const char *prefix, const char *suffix)
{
	size_t		pl = strlen(prefix);
	size_t		sl = strlen(suffix);
	char	   *s = malloc(pl + n + sl + 1);

	memcpy(s, prefix, pl);
	memset(s + pl, c, n);
	memcpy(s + pl + n, suffix, sl + 1);
	return s;
}

static void
name_tests(void)
{
	char	   *s;
	AwlFunctionName f;

	/* Issue 13: these name the function "secret", not "function" etc. */
	name_parts("function:secret", NULL, NULL, NULL, "secret", NULL);
	name_parts("us-east-1:secret", NULL, "us-east-1", NULL, "secret", NULL);
	name_parts("123456789012:secret", NULL, NULL, "123456789012", "secret", NULL);
	name_parts("function:secret:prod", NULL, NULL, NULL, "secret", "prod");
	name_parts("us-east-1:function:secret", NULL, "us-east-1", NULL, "secret", NULL);

	/* The forms the README documents, and aws-wire-spec 1.2's examples. */
	name_parts("my-function", NULL, NULL, NULL, "my-function", NULL);
	name_parts("lambdaTest", NULL, NULL, NULL, "lambdaTest", NULL);
	name_parts("my-function:prod", NULL, NULL, NULL, "my-function", "prod");
	name_parts("my-function:7", NULL, NULL, NULL, "my-function", "7");
	name_parts("my-function:$LATEST", NULL, NULL, NULL, "my-function", "$LATEST");
	name_parts("my-function:$LATEST.PUBLISHED", NULL, NULL, NULL, "my-function", "$LATEST.PUBLISHED");
	name_parts("123456789012:function:my-function", NULL, NULL, "123456789012", "my-function", NULL);
	name_parts("123456789012:function:my-function:prod", NULL, NULL, "123456789012", "my-function", "prod");
	name_parts("us-east-1:123456789012:function:fn", NULL, "us-east-1", "123456789012", "fn", NULL);
	name_parts("us-east-1:123456789012:function:fn:$LATEST", NULL, "us-east-1", "123456789012", "fn", "$LATEST");
	name_parts("arn:aws:lambda:us-west-2:123456789012:function:my-function",
			   "aws", "us-west-2", "123456789012", "my-function", NULL);
	name_parts("arn:aws:lambda:us-west-2:123456789012:function:my-function:prod",
			   "aws", "us-west-2", "123456789012", "my-function", "prod");
	name_parts("arn:aws:lambda:us-west-2:123456789012:function:lambdaTest:$LATEST.PUBLISHED",
			   "aws", "us-west-2", "123456789012", "lambdaTest", "$LATEST.PUBLISHED");
	name_parts("arn:aws-cn:lambda:cn-north-1:123456789012:function:f", "aws-cn", "cn-north-1", "123456789012", "f", NULL);
	name_parts("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", "aws-us-gov", "us-gov-west-1", "123456789012", "f", NULL);
	name_parts("arn:aws-iso-b:lambda:us-isob-east-1:123456789012:function:f", "aws-iso-b", "us-isob-east-1", "123456789012", "f", NULL);
	name_parts("arn:aws-iso:lambda:us-iso-east-1:123456789012:function:f", "aws-iso", "us-iso-east-1", "123456789012", "f", NULL);
	name_parts("arn:aws-eusc:lambda:eusc-de-east-1:123456789012:function:f", "aws-eusc", "eusc-de-east-1", "123456789012", "f", NULL);
	name_parts("eusc-de-east-1:f", NULL, "eusc-de-east-1", NULL, "f", NULL);
	name_parts("us-gov-1:f", NULL, "us-gov-1", NULL, "f", NULL);
	name_parts("lambdaTest:1", NULL, NULL, NULL, "lambdaTest", "1");
	name_parts("a.b_c-D9", NULL, NULL, NULL, "a.b_c-D9", NULL);

	/* What the pattern also allows, read as a regex engine would. */
	name_parts("arn::lambda:us-east-1:123456789012:function:f", "", "us-east-1", "123456789012", "f", NULL);
	name_parts("arn:aws:lambda:us-east-1:123456789012:f", "aws", "us-east-1", "123456789012", "f", NULL);
	name_parts("arn:aws:lambda:us-east-1:123456789012:function", "aws", "us-east-1", "123456789012", "function", NULL);
	name_parts("arn:prod", NULL, NULL, NULL, "arn", "prod");
	name_parts("function", NULL, NULL, NULL, "function", NULL);
	name_parts("function:function", NULL, NULL, NULL, "function", NULL);
	name_parts("function:function:function", NULL, NULL, NULL, "function", "function");
	name_parts("us-east-1", NULL, NULL, NULL, "us-east-1", NULL);
	name_parts("123456789012", NULL, NULL, NULL, "123456789012", NULL);
	name_parts("123456789012:123456789012", NULL, NULL, "123456789012", "123456789012", NULL);
	name_parts("123456789012:123456789012:123456789012", NULL, NULL, "123456789012", "123456789012", "123456789012");
	name_parts("us-east-1:us-east-1:fn", NULL, "us-east-1", NULL, "us-east-1", "fn");
	name_parts("1234567890123:x", NULL, NULL, NULL, "1234567890123", "x");
	name_parts("us-east-12:x", NULL, NULL, NULL, "us-east-12", "x");
	name_parts("US-east-1:x", NULL, NULL, NULL, "US-east-1", "x");

	/* Not Lambda names: refused before anything is sent. */
	name_invalid("");
	name_invalid(":");
	name_invalid("fn:");
	name_invalid(":fn");
	name_invalid("fn::prod");
	name_invalid("fn:prod:extra");
	name_invalid("fn:$latest");
	name_invalid("fn:$LATEST.published");
	name_invalid("fn:$LATEST.");
	name_invalid("fn:$PROD");
	name_invalid("fn:1.0");
	name_invalid("fn/../fn");
	name_invalid("lambdaTest/invocations?x=1");
	name_invalid("lambdaTest%2Finvocations");
	name_invalid("lambda Test");
	name_invalid("lambdaTest\r\nX-Injected: 1");
	name_invalid("name with spaces & \xc3\xbcn\xc3\xaf" "code?");
	name_invalid("arn:aws:lambda:us-east-1:function:lambdaTest");
	name_invalid("arn:aws:s3:us-east-1:123456789012:function:lambdaTest");
	name_invalid("arn:aws:lambda:US_EAST:123456789012:function:lambdaTest");
	name_invalid("arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:prod:extra");
	name_invalid("arn:aws:lambda:us-east-1.evil.example:123456789012:function:lambdaTest");
	name_invalid("arn:aws:lambda:us-east-1:12:function:x");
	name_invalid("arn:azure:lambda:us-east-1:123456789012:function:x");
	name_invalid("arn:aws1:lambda:us-east-1:123456789012:function:x");
	name_invalid("arn:aws:lambda:us-east-1:123456789012:function:");
	name_invalid("arn:aws:lambda:us-east-1:123456789012:function:f:");
	name_invalid("us-east-1:123456789012:function:fn:prod:x");
	name_invalid("us-east-1:us-east-1:us-east-1:fn");
	name_invalid("123456789012:123456789012:123456789012:1");
	name_invalid("function:function:function:function");
	name_invalid("fn:pr$od");

	/* Lengths: 256 in all, 64 for the bare name, 128 for a qualifier. */
	s = repeat('x', 64, "", "");
	name_parts(s, NULL, NULL, NULL, s, NULL);
	free(s);
	s = repeat('x', 65, "", "");
	name_invalid(s);
	free(s);
	s = repeat('q', 128, "fn:", "");
	result(awl_function_name_parse(s, strlen(s), &f) && f.qualifier_len == 128, "128-byte qualifier", "fn:q...");
	free(s);
	s = repeat('q', 129, "fn:", "");
	name_invalid(s);
	free(s);
	s = repeat('q', 129, "arn:aws:lambda:us-east-1:123456789012:function:fn:", "");
	name_invalid(s);
	free(s);
	/* 256 exactly: a long region fills it */
	s = repeat('a', 256 - strlen("us--1:") - 2 - 64, "us-", "-1:");
	{
		char	   *t = repeat('n', 64, s, "");

		result(strlen(t) == 256 - 2 && awl_function_name_parse(t, strlen(t), &f) &&
			   f.name_len == 64, "254-byte name", "us-aaa...-1:nnn...");
		free(t);
		t = repeat('n', 64, s, ":1");
		result(strlen(t) == 256 && awl_function_name_parse(t, strlen(t), &f), "256-byte name", "us-aaa...-1:nnn...:1");
		free(t);
		t = repeat('n', 64, s, ":12");
		name_invalid(t);
		free(t);
	}
	free(s);
	s = repeat('a', 10000, "", "");
	name_invalid(s);
	free(s);
	/* embedded NUL: not a name character */
	result(!awl_function_name_parse("fn\0x", 4, &f), "name with NUL", "fn\\0x");
	result(awl_function_name_parse("fnX", 2, &f) && f.name_len == 2, "length bounds the parse", "fn|X");

	/* The separate Qualifier argument. */
	qualifier("$LATEST", 1);
	qualifier("$LATEST.PUBLISHED", 1);
	qualifier("prod", 1);
	qualifier("7", 1);
	qualifier("a-b_c", 1);
	qualifier("a$b", 1);
	qualifier("", 0);
	qualifier("1.0", 0);
	qualifier("$LATEST.published", 0);
	qualifier("no/slash", 0);
	qualifier("prod\r\nX-Injected: 1", 0);
	qualifier("pr od", 0);
	s = repeat('q', 128, "", "");
	qualifier(s, 1);
	free(s);
	s = repeat('q', 129, "", "");
	qualifier(s, 0);
	free(s);

	/* Every parsed qualifier passes the qualifier check. */
	{
		static const char *const names[] = {"fn:$LATEST", "fn:$LATEST.PUBLISHED", "fn:prod",
		"arn:aws:lambda:us-east-1:123456789012:function:fn:v-1_2"};
		size_t		i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			result(awl_function_name_parse(names[i], strlen(names[i]), &f) &&
				   awl_qualifier_ok(f.qualifier, f.qualifier_len), "parsed qualifier is valid", names[i]);
	}
}

/* ---- services sections of the config file ------------------------------ */

static void
services_value(const char *text, const char *section, const char *key, const char *want,
			   int want_found)
{
	bool		found = false;
	char	   *v = awl_ini_services_lookup(text, strlen(text), section, "lambda", key, &found);

	result(found == (want_found != 0) &&
		   (want == NULL ? v == NULL : (v != NULL && strcmp(v, want) == 0)),
		   "services section lookup", text);
	free(v);
}

static void
services_tests(void)
{
	const char *config =
		"[profile dev]\n"
		"services = dev-services\n"
		"endpoint_url = http://global.example\n"
		"[services dev-services]\n"
		"s3 =\n"
		"  endpoint_url = http://s3.example\n"
		"lambda =\n"
		"  # a comment\n"
		"  endpoint_url = http://127.0.0.1:4566 ; local\n"
		"  other = 1\n"
		"[services  empty ]\n"
		"lambda = http://not-a-block.example\n"
		"  endpoint_url = http://nested-under-a-value.example\n";

	services_value(config, "dev-services", "endpoint_url", "http://127.0.0.1:4566", 1);
	services_value(config, "dev-services", "missing", NULL, 1);
	services_value(config, "empty", "endpoint_url", NULL, 1);
	services_value(config, "dev", "endpoint_url", NULL, 0);
	services_value("[services x]\nlambda =\n\tendpoint_url=http://tab.example", "x",
				   "endpoint_url", "http://tab.example", 1);
	services_value("[services x]\nlambda =\nendpoint_url = http://not-nested.example\n", "x",
				   "endpoint_url", NULL, 1);
	services_value("[servicesx]\nlambda =\n  endpoint_url = http://y\n", "x",
				   "endpoint_url", NULL, 0);
	services_value("", "x", "endpoint_url", NULL, 0);
	/* The profile reader still skips nested lines. */
	{
		bool		found = false;
		char	   *v = awl_ini_lookup(config, strlen(config), false, "dev", "endpoint_url", &found);

		result(found && v && strcmp(v, "http://global.example") == 0, "profile value", config);
		free(v);
	}
	result(awl_endpoint_url_ok("http://127.0.0.1:4566") && awl_endpoint_url_ok("https://h/p") &&
		   !awl_endpoint_url_ok("ftp://h") && !awl_endpoint_url_ok("http://u@h") &&
		   !awl_endpoint_url_ok("http://h?q") && !awl_endpoint_url_ok("http://h#f") &&
		   !awl_endpoint_url_ok("http://h:0") && !awl_endpoint_url_ok(NULL),
		   "endpoint URLs", "(several)");
}

int
main(void)
{
	url_tests();
	name_tests();
	services_tests();
	printf("parse: %d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 100 ? 0 : 1;
}
