/*
 * libFuzzer target: SigV4 canonicalization of arbitrary paths, queries,
 * header names and values, and bodies.  The input is split on NUL bytes into
 * path, query, header name, header value and body.  Checks: no crash or
 * undefined behaviour, a result for every input, a stable signature.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

static const char *
next_field(const uint8_t **data, size_t *size, char *buf, size_t cap)
{
	size_t		n = 0;

	while (*size > 0 && **data != 0 && n + 1 < cap)
	{
		buf[n++] = (char) **data;
		(*data)++;
		(*size)--;
	}
	if (*size > 0)
	{
		(*data)++;
		(*size)--;
	}
	buf[n] = '\0';
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		path[512],
				query[512],
				hname[128],
				hvalue[512];
	AwlSigV4Header headers[3];
	AwlSigV4Request req = {0};
	AwlSigV4Signing sig = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	"us-east-1", "lambda", "20260101T000000Z"};
	AwlSigV4Trace trace = {0};
	char	   *a;
	char	   *b;
	char	   *enc;

	next_field(&data, &size, path, sizeof(path));
	next_field(&data, &size, query, sizeof(query));
	next_field(&data, &size, hname, sizeof(hname));
	next_field(&data, &size, hvalue, sizeof(hvalue));

	headers[0].name = "Host";
	headers[0].value = "lambda.us-east-1.amazonaws.com";
	headers[1].name = hname[0] ? hname : "X-Amz-Date";
	headers[1].value = hvalue;
	headers[2].name = "x-amz-date";
	headers[2].value = "20260101T000000Z";
	req.method = "POST";
	req.path = path;
	req.query = query[0] ? query : NULL;
	req.headers = headers;
	req.nheaders = 3;
	req.body = data;
	req.body_len = size;

	a = awl_sigv4_authorization(&req, &sig, &trace);
	b = awl_sigv4_authorization(&req, &sig, NULL);
	if (a == NULL || b == NULL || strcmp(a, b) != 0 || trace.canonical_request == NULL)
		abort();				/* signing must be total and deterministic */
	enc = awl_uri_encode(path, strlen(path), 1);
	if (enc == NULL || strlen(enc) < strlen(path))
		abort();
	free(a);
	free(b);
	free(enc);
	free(trace.canonical_request);
	free(trace.string_to_sign);
	return 0;
}
