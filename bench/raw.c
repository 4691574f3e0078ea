/*
 * What the synchronous call would cost with the request written by hand on
 * a connection libcurl opened (CURLOPT_CONNECT_ONLY): the request of a
 * signed Invoke (its size: Host, User-Agent, Accept, Accept-Encoding,
 * X-Amz-Date, X-Amz-Invocation-Type, an Authorization line of the real
 * length) assembled per call, sent with curl_easy_send, and the reply read
 * with curl_easy_recv up to its Content-Length.  No PostgreSQL, no signing:
 * the counterpart of floor.c for issue 16's phase-1 question.
 *
 *   raw URL CALLS OUT   -> writes one latency per line (microseconds) to OUT
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

static char *
put(char *p, const char *s)
{
	size_t		n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static int
wait_socket(curl_socket_t fd, short events)
{
	struct pollfd pfd = {fd, events, 0};

	return poll(&pfd, 1, 10000) == 1 ? 0 : -1;
}

/* Sends the whole buffer. */
static int
send_all(CURL *h, curl_socket_t fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		size_t		n = 0;
		CURLcode	rc = curl_easy_send(h, buf, len, &n);

		if (rc == CURLE_AGAIN)
		{
			if (wait_socket(fd, POLLOUT) != 0)
				return -1;
			continue;
		}
		if (rc != CURLE_OK)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Reads one reply: header block, then Content-Length bytes; returns the status. */
static int
read_reply(CURL *h, curl_socket_t fd, char *buf, size_t cap)
{
	size_t		len = 0;
	char	   *end = NULL;
	long		clen = -1;
	int			status;
	char	   *p;

	for (;;)
	{
		size_t		n = 0;
		CURLcode	rc;

		if (end)
		{
			size_t		head = (size_t) (end - buf) + 4;

			if (len >= head + (size_t) clen)
				break;
		}
		rc = curl_easy_recv(h, buf + len, cap - len, &n);
		if (rc == CURLE_AGAIN)
		{
			if (wait_socket(fd, POLLIN) != 0)
				return -1;
			continue;
		}
		if (rc != CURLE_OK || n == 0)
			return -1;
		len += n;
		if (end == NULL && (end = memmem(buf, len, "\r\n\r\n", 4)) != NULL)
		{
			for (p = buf; p < end; p++)
				if (p[0] == '\n' && strncasecmp(p + 1, "Content-Length:", 15) == 0)
					clen = strtol(p + 16, NULL, 10);
			if (clen < 0)
				return -1;
		}
	}
	if (len < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
		return -1;
	status = atoi(buf + 9);
	return status;
}

int
main(int argc, char **argv)
{
	CURL	   *h;
	FILE	   *out;
	long		calls;
	long		i;
	curl_socket_t fd;
	char		host[256];
	char		path[1024];
	const char *hp;
	const char *pp;
	static char req[4096];
	static char reply[65536];
	static const char authz[] = "Authorization: AWS4-HMAC-SHA256 "
		"Credential=AKIAIOSFODNN7EXAMPLE/20261201/us-east-1/lambda/aws4_request, "
		"SignedHeaders=host;x-amz-date;x-amz-invocation-type, "
		"Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s URL CALLS OUT\n", argv[0]);
		return 2;
	}
	calls = atol(argv[2]);
	out = fopen(argv[3], "w");
	/* http://HOST/PATH */
	hp = strstr(argv[1], "://");
	if (out == NULL || hp == NULL || (pp = strchr(hp + 3, '/')) == NULL)
		return 2;
	snprintf(host, sizeof(host), "%.*s", (int) (pp - hp - 3), hp + 3);
	snprintf(path, sizeof(path), "%s", pp);

	curl_global_init(CURL_GLOBAL_ALL);
	h = curl_easy_init();
	if (h == NULL)
		return 1;
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	if (curl_easy_perform(h) != CURLE_OK ||
		curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
		return 1;

	for (i = 0; i < calls + 20; i++)
	{
		struct timespec a,
					b;
		char	   *p = req;
		const char *body = "{}";
		char		date[17];
		char		clen[24];
		time_t		now = time(NULL);
		struct tm	tm;

		clock_gettime(CLOCK_MONOTONIC, &a);
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(clen, sizeof(clen), "%zu", strlen(body));
		p = put(p, "POST ");
		p = put(p, path);
		p = put(p, " HTTP/1.1\r\nHost: ");
		p = put(p, host);
		p = put(p, "\r\nUser-Agent: awslambda/0.5.0 libcurl/7.88.1\r\nAccept: */*\r\n"
				"Accept-Encoding: deflate, gzip, br, zstd\r\nX-Amz-Date: ");
		p = put(p, date);
		p = put(p, "\r\nX-Amz-Invocation-Type: RequestResponse\r\n");
		p = put(p, authz);
		p = put(p, "\r\nContent-Length: ");
		p = put(p, clen);
		p = put(p, "\r\n\r\n");
		p = put(p, body);
		if (send_all(h, fd, req, (size_t) (p - req)) != 0)
			return 1;
		if (read_reply(h, fd, reply, sizeof(reply)) != 200)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (i >= 20)			/* warm-up first */
			fprintf(out, "%.1f\n", (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3);
	}
	fclose(out);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return 0;
}
