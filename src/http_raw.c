/*-------------------------------------------------------------------------
 *
 * http_raw.c
 *	  The synchronous call's own HTTP/1.1: one kept connection per backend,
 *	  opened by libcurl (CURLOPT_CONNECT_ONLY: resolving, connecting, TLS
 *	  and its verification, the connect timeout), on which we write the
 *	  request ourselves (curl_easy_send) and read the reply (curl_easy_recv,
 *	  parsed by http_reply.c).  libcurl's request path formats every header
 *	  byte through its printf engine and parses the URL and looks for a
 *	  connection to reuse per call; this does neither.
 *
 * Only requests it can send exactly as libcurl would go this way (see
 * awl_http_raw_usable); anything else, and everything whenever a proxy is
 * configured in the environment, takes the libcurl path in http.c.
 *
 * A kept connection is reused as safely as libcurl does: checked before
 * the send (a connection the server closed while idle is replaced), and
 * when the server closes it with not one reply byte sent, the request goes
 * once more on a fresh connection.  After any reply byte, never again.
 * Waits are short polls with interrupt checks between them, like the
 * libcurl path, so cancel, statement_timeout and termination act at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <zlib.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "awslambda.h"
#include "http.h"
#include "http_int.h"
#include "http_reply.h"

/* What libcurl sends for our CURLOPT_USERAGENT. */
#define RAW_USER_AGENT "awslambda/" AWL_VERSION " libcurl/" LIBCURL_VERSION

/* The backend's one raw connection. */
typedef struct AwlRawConn
{
	CURLM	   *multi;			/* holds easy while it owns a connection */
	CURL	   *easy;
	bool		configured;		/* easy has the constant options for ca_file */
	bool		connected;
	curl_socket_t fd;
	bool		tls;
	char	   *origin;			/* "scheme://authority" it was opened to, malloc'd */
	char	   *ca_file;		/* awslambda.ca_file it was verified with, malloc'd */
	char		errbuf[CURL_ERROR_SIZE];
	AwlReplyParser *parser;		/* in TopMemoryContext */
} AwlRawConn;

static AwlRawConn raw;

/* The variables libcurl takes a proxy from, in both cases (it reads some in one). */
static const char *const proxy_variables[] = {
	"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
};

/*
 * Whether the environment names a proxy libcurl could use; read once per
 * backend (its environment is the server's, which SQL cannot change).
 */
static bool
proxy_in_environment(void)
{
	static int	found = -1;
	int			i;

	if (found >= 0)
		return found;
	found = 0;
	for (i = 0; i < (int) lengthof(proxy_variables); i++)
	{
		const char *v = getenv(proxy_variables[i]);

		if (v && v[0])
			found = 1;
	}
	return found;
}

/* The characters a request target may have to go out unchanged by libcurl. */
static bool
target_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		(c != '\0' && strchr("-._~%/:?=&,+!$'()*;@", c) != NULL);
}

static bool
authority_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
}

/*
 * Splits url into its origin's length and its request target; false when
 * libcurl might send it differently (dot segments it would remove, a
 * fragment, user information, characters it would encode).
 */
static bool
split_url(const char *url, size_t *origin_len, const char **target, bool *tls)
{
	const char *a;
	const char *p;

	if (strncmp(url, "http://", 7) == 0)
		a = url + 7, *tls = false;
	else if (strncmp(url, "https://", 8) == 0)
		a = url + 8, *tls = true;
	else
		return false;
	for (p = a; *p && *p != '/'; p++)
		if (!authority_char_ok((unsigned char) *p))
			return false;
	if (p == a || *p != '/')
		return false;
	*origin_len = (size_t) (p - url);
	*target = p;
	for (; *p; p++)
		if (!target_char_ok((unsigned char) *p))
			return false;
	if (strstr(*target, "/.") != NULL)
		return false;
	return true;
}

/*
 * Header lines as libcurl would send them unchanged: "Name: value" with a
 * value (libcurl drops a line whose value is blank), no line breaks, and
 * none of the headers libcurl itself writes or replaces.
 */
static bool
headers_ok(const AwlHttpRequest *req, const char **host)
{
	int			i;

	*host = NULL;
	for (i = 0; i < req->nheaders; i++)
	{
		const char *h = req->headers[i];
		const char *colon = strchr(h, ':');
		const char *v;

		if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL)
			return false;
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (*v == '\0' || colon[1] != ' ')
			return false;
		if (pg_strncasecmp(h, "Host:", 5) == 0)
		{
			if (*host)
				return false;
			*host = h;
		}
		else if (pg_strncasecmp(h, "X-Amz-", 6) != 0 &&
				 pg_strncasecmp(h, "Authorization:", 14) != 0)
			return false;
	}
	return *host != NULL;
}

bool
awl_http_raw_usable(const AwlHttpRequest *req)
{
	size_t		origin_len;
	const char *target;
	const char *host;
	bool		tls;

	if (!req->direct || strcmp(req->method, "POST") != 0)
		return false;
	/* libcurl would go through the proxy: so must we, by going through libcurl. */
	if (proxy_in_environment())
		return false;
	return split_url(req->url, &origin_len, &target, &tls) && headers_ok(req, &host);
}

/* Closes the raw connection, if any; never raises. */
static void
raw_close(void)
{
	if (raw.connected)
		curl_multi_remove_handle(raw.multi, raw.easy);	/* closes a CONNECT_ONLY one */
	raw.connected = false;
	raw.fd = CURL_SOCKET_BAD;
}

static void
raw_init(void)
{
	if (raw.multi && raw.easy)
		return;
	awl_http_init(0);			/* curl_global_init */
	if (raw.parser == NULL)
		raw.parser = MemoryContextAlloc(TopMemoryContext, sizeof(AwlReplyParser));
	if (raw.multi == NULL)
		raw.multi = curl_multi_init();
	if (raw.easy == NULL)
		raw.easy = curl_easy_init();
	raw.fd = CURL_SOCKET_BAD;
	if (raw.multi == NULL || raw.easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP client handle")));
}

/*
 * Whether the kept connection can carry a request: nothing has arrived on
 * it since the last reply.  A readable idle connection was closed by the
 * server (or sent what it should not have); TLS records without data
 * (session tickets) are read and leave it usable.
 */
static bool
raw_alive(void)
{
	struct pollfd pfd = {raw.fd, POLLIN, 0};
	char		c;
	ssize_t		n;

	if (poll(&pfd, 1, 0) == 0)
		return true;
	if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
		return false;
	n = recv(raw.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	if (raw.tls)
	{
		char		buf[256];
		size_t		got = 0;
		CURLcode	rc = curl_easy_recv(raw.easy, buf, sizeof(buf), &got);

		return rc == CURLE_AGAIN;
	}
	return false;
}

/* Milliseconds left before deadline (0: none), at least 0; -1 without one. */
static long
left_ms(TimestampTz deadline)
{
	if (deadline == 0)
		return -1;
	return Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline));
}

/*
 * Sets the connection handle's constant options, again only when
 * awslambda.ca_file (ca) changed since; raises 53200 out of memory.
 */
static void
raw_configure(const char *ca)
{
	if (raw.configured &&
		(raw.ca_file == NULL ? ca == NULL : (ca != NULL && strcmp(raw.ca_file, ca) == 0)))
		return;
	raw.configured = false;
	curl_easy_reset(raw.easy);
	free(raw.ca_file);
	raw.ca_file = ca ? strdup(ca) : NULL;
	curl_easy_setopt(raw.easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(raw.easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(raw.easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca)
		curl_easy_setopt(raw.easy, CURLOPT_CAINFO, ca);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(raw.easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(raw.easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(raw.easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* We speak HTTP/1.1 on it: TLS must not agree on h2 (ALPN). */
	curl_easy_setopt(raw.easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(raw.easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(raw.easy, CURLOPT_XFERINFOFUNCTION, awl_http_progress);
	curl_easy_setopt(raw.easy, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(raw.easy, CURLOPT_ERRORBUFFER, raw.errbuf);
	if (ca && raw.ca_file == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	raw.configured = true;
}

/*
 * Opens the connection for origin, with libcurl's connect under our
 * interrupt checks; false with resp's failure set if it cannot.
 */
static bool
raw_connect(const AwlHttpRequest *req, const char *origin, bool tls, TimestampTz deadline,
			uint32 wait_event, AwlHttpResponse *resp)
{
	const char *ca = awl_http_ca_file();
	long		left = left_ms(deadline);
	CURLMsg    *msg = NULL;
	CURLcode	rc;
	int			queued;

	raw_close();
	raw_configure(ca);
	free(raw.origin);
	raw.origin = strdup(origin);
	if (raw.origin == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	raw.tls = tls;
	raw.errbuf[0] = '\0';
	curl_easy_setopt(raw.easy, CURLOPT_URL, req->url);
	curl_easy_setopt(raw.easy, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	curl_easy_setopt(raw.easy, CURLOPT_TIMEOUT_MS, left < 0 ? 0L : Max(1L, left));
	if (curl_multi_add_handle(raw.multi, raw.easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not start an HTTP request")));
	raw.connected = true;		/* attached: raw_close detaches it */

	for (;;)
	{
		awl_http_step(raw.multi);
		while ((msg = curl_multi_info_read(raw.multi, &queued)) != NULL)
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == raw.easy)
				break;
		if (msg)
			break;
		awl_http_wait(raw.multi, wait_event, AWL_HTTP_POLL_MS);
	}
	rc = msg->data.result;
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		CHECK_FOR_INTERRUPTS();
	if (rc == CURLE_OK &&
		(curl_easy_getinfo(raw.easy, CURLINFO_ACTIVESOCKET, &raw.fd) != CURLE_OK ||
		 raw.fd == CURL_SOCKET_BAD))
		rc = CURLE_COULDNT_CONNECT;
	if (rc != CURLE_OK)
	{
		resp->failure = awl_http_classify(rc, NULL);
		strlcpy(resp->error, raw.errbuf[0] ? raw.errbuf : curl_easy_strerror(rc),
				sizeof(resp->error));
		raw_close();
		return false;
	}
	return true;
}

/*
 * Waits until the connection is ready for events, checking for interrupts
 * every AWL_HTTP_POLL_MS; false when the deadline passed first.
 */
static bool
raw_wait(short events, TimestampTz deadline, uint32 wait_event)
{
	for (;;)
	{
		struct pollfd pfd = {raw.fd, events, 0};
		long		left = left_ms(deadline);
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (left == 0)
			return false;
		pgstat_report_wait_start(wait_event);
		rc = poll(&pfd, 1, left < 0 ? AWL_HTTP_POLL_MS : (int) Min(left, AWL_HTTP_POLL_MS));
		pgstat_report_wait_end();
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return true;		/* let the send or receive report the error */
	}
}

/* How an exchange on the connection ended. */
typedef enum RawEnd
{
	RAW_OK,
	RAW_FAILED,					/* resp says why */
	RAW_STALE					/* nothing came back: the connection was dead */
} RawEnd;

static RawEnd
raw_fail(AwlHttpResponse *resp, AwlHttpFailure failure, const char *fmt,...)
	pg_attribute_printf(3, 4);

static RawEnd
raw_fail(AwlHttpResponse *resp, AwlHttpFailure failure, const char *fmt,...)
{
	va_list		ap;

	resp->failure = failure;
	va_start(ap, fmt);
	vsnprintf(resp->error, sizeof(resp->error), fmt, ap);
	va_end(ap);
	return RAW_FAILED;
}

static RawEnd
raw_timeout(AwlHttpResponse *resp, TimestampTz start, size_t received)
{
	return raw_fail(resp, AWL_HTTP_TIMEOUT,
					"Operation timed out after %ld milliseconds with %zu bytes received",
					TimestampDifferenceMilliseconds(start, GetCurrentTimestamp()), received);
}

/* Sends len bytes of buf. */
static RawEnd
raw_send(const char *buf, size_t len, TimestampTz start, TimestampTz deadline,
		 uint32 wait_event, AwlHttpResponse *resp)
{
	while (len > 0)
	{
		size_t		n = 0;
		CURLcode	rc = curl_easy_send(raw.easy, buf, len, &n);

		if (rc == CURLE_AGAIN)
		{
			if (!raw_wait(POLLOUT, deadline, wait_event))
				return raw_timeout(resp, start, 0);
			continue;
		}
		if (rc != CURLE_OK)
		{
			char		c;

			snprintf(resp->error, sizeof(resp->error), "Send failure: %s",
					 raw.errbuf[0] ? raw.errbuf : curl_easy_strerror(rc));
			/* Bytes of a reply already there (say, an early refusal): never again. */
			if (recv(raw.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
			{
				resp->failure = AWL_HTTP_TRANSFER;
				return RAW_FAILED;
			}
			/* Nothing came back: the caller decides whether to send again. */
			return RAW_STALE;
		}
		buf += n;
		len -= n;
	}
	return RAW_OK;
}

/* The sinks of the reply parser: the header block and the body. */
typedef struct RawSinks
{
	AwlBuffer	headers;
	AwlBuffer	body;
} RawSinks;

static bool
sink_head(void *arg, const char *p, size_t n)
{
	RawSinks   *s = (RawSinks *) arg;

	if (n == 0)
	{
		s->headers.len = 0;		/* an interim reply's block */
		return true;
	}
	return awl_buffer_append(&s->headers, p, n);
}

static bool
sink_body(void *arg, const char *p, size_t n)
{
	return awl_buffer_append(&((RawSinks *) arg)->body, p, n);
}

/* Reads the reply into sinks through the parser. */
static RawEnd
raw_receive(AwlReplyParser *parser, TimestampTz start, TimestampTz deadline,
			uint32 wait_event, bool may_be_stale, AwlHttpResponse *resp, bool *keep)
{
	char		buf[16384];
	size_t		received = 0;
	AwlReplyState st = AWL_REPLY_MORE;

	*keep = false;
	while (st == AWL_REPLY_MORE)
	{
		size_t		n = 0;
		size_t		used = 0;
		CURLcode	rc = curl_easy_recv(raw.easy, buf, sizeof(buf), &n);

		if (rc == CURLE_AGAIN)
		{
			if (!raw_wait(POLLIN, deadline, wait_event))
				return raw_timeout(resp, start, received);
			continue;
		}
		if (rc != CURLE_OK || n == 0)
		{
			/* Closed (or reset) without one byte of reply: the kept connection was dead. */
			if (received == 0 && may_be_stale)
				return RAW_STALE;
			if (rc != CURLE_OK)
				return raw_fail(resp, AWL_HTTP_TRANSFER, "Recv failure: %s",
								raw.errbuf[0] ? raw.errbuf : curl_easy_strerror(rc));
			st = awl_reply_eof(parser);
			break;
		}
		received += n;
		st = awl_reply_feed(parser, buf, n, &used);
		if (st == AWL_REPLY_DONE && used < n)
			parser->keep_alive = false; /* bytes beyond the reply: do not trust it */
	}
	if (st == AWL_REPLY_TOO_LARGE)
		return raw_fail(resp, AWL_HTTP_TOO_LARGE, "Maximum file size exceeded");
	if (st == AWL_REPLY_BAD)
		return raw_fail(resp, AWL_HTTP_TRANSFER, "Invalid HTTP reply: %s", parser->error);
	*keep = parser->keep_alive;
	return RAW_OK;
}

/* Undoes gzip or deflate into out, within limit. */
static bool
raw_inflate(const AwlBuffer *in, AwlReplyEncoding enc, AwlBuffer *out, AwlHttpResponse *resp)
{
	z_stream	z;
	char		chunk[16384];
	int			zrc = Z_OK;
	bool		raw_deflate = false;

	for (;;)
	{
		memset(&z, 0, sizeof(z));
		/* gzip; "deflate" is the zlib format, or raw deflate from some servers */
		if (inflateInit2(&z, enc == AWL_ENC_GZIP ? 15 + 16 : raw_deflate ? -15 : 15) != Z_OK)
		{
			raw_fail(resp, AWL_HTTP_TRANSFER, "could not start decoding");
			return false;
		}
		z.next_in = (Bytef *) (in->data ? in->data : "");
		z.avail_in = (uInt) in->len;
		out->len = 0;
		do
		{
			z.next_out = (Bytef *) chunk;
			z.avail_out = sizeof(chunk);
			zrc = inflate(&z, Z_NO_FLUSH);
			if (zrc != Z_OK && zrc != Z_STREAM_END)
				break;
			if (!awl_buffer_append(out, chunk, sizeof(chunk) - z.avail_out))
			{
				inflateEnd(&z);
				if (out->overflow)
					raw_fail(resp, AWL_HTTP_TOO_LARGE, "Maximum file size exceeded");
				else
					raw_fail(resp, AWL_HTTP_TRANSFER, "out of memory");
				return false;
			}
		} while (zrc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
		inflateEnd(&z);
		if (zrc == Z_DATA_ERROR && enc == AWL_ENC_DEFLATE && !raw_deflate && out->len == 0)
		{
			raw_deflate = true;
			continue;
		}
		break;
	}
	if (zrc != Z_STREAM_END)
	{
		raw_fail(resp, AWL_HTTP_TRANSFER, "Error while processing content unencoding: %s",
				 z.msg ? z.msg : "truncated data");
		return false;
	}
	return true;
}

/*
 * Writes the request into a palloc'd buffer as libcurl would (the request
 * line, Host, User-Agent, Accept, Accept-Encoding, the other header lines
 * in order, Content-Length), the body too when it is small.
 */
static char *
raw_request(const AwlHttpRequest *req, const char *target, size_t *len, bool *body_in)
{
	size_t		cap = 256 + strlen(target) + strlen(RAW_USER_AGENT);
	char	   *buf;
	char	   *p;
	char		clen[32];
	const char *host = NULL;
	int			i;

	for (i = 0; i < req->nheaders; i++)
	{
		cap += strlen(req->headers[i]) + 2;
		if (pg_strncasecmp(req->headers[i], "Host:", 5) == 0)
			host = req->headers[i];
	}
	*body_in = req->body_len <= 65536;
	if (*body_in)
		cap += req->body_len;
	buf = palloc(cap);
	p = buf;
#define PUT(s, n) (memcpy(p, (s), (n)), p += (n))
#define PUTS(s) PUT((s), strlen(s))
	PUTS("POST ");
	PUTS(target);
	PUTS(" HTTP/1.1\r\n");
	PUTS(host);
	PUTS("\r\nUser-Agent: " RAW_USER_AGENT "\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip\r\n");
	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i] != host)
		{
			PUTS(req->headers[i]);
			PUT("\r\n", 2);
		}
	snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n\r\n", req->body_len);
	PUTS(clen);
	if (*body_in && req->body_len > 0)
		PUT(req->body, req->body_len);
#undef PUT
#undef PUTS
	Assert((size_t) (p - buf) <= cap);
	*len = (size_t) (p - buf);
	return buf;
}

/* One exchange on the connection: the request out, the reply in. */
static RawEnd
raw_exchange(const AwlHttpRequest *req, const char *msg, size_t msg_len, bool body_in,
			 TimestampTz start, TimestampTz deadline, uint32 wait_event, bool reused,
			 RawSinks *sinks, AwlHttpResponse *resp, bool *sent)
{
	AwlReplyParser *parser = raw.parser;
	bool		keep = false;
	RawEnd		end;

	sinks->headers.len = sinks->body.len = 0;
	sinks->headers.overflow = sinks->body.overflow = false;
	awl_reply_init(parser, req->max_response, sink_head, sink_body, sinks);
	raw.errbuf[0] = '\0';
	end = raw_send(msg, msg_len, start, deadline, wait_event, resp);
	if (end == RAW_OK && !body_in)
		end = raw_send(req->body, req->body_len, start, deadline, wait_event, resp);
	if (end == RAW_STALE && !reused)
		resp->failure = AWL_HTTP_TRANSFER, end = RAW_FAILED;
	*sent = end == RAW_OK;		/* the whole request is with the server */
	if (end == RAW_OK)
		end = raw_receive(parser, start, deadline, wait_event, reused, resp, &keep);
	if (end != RAW_OK || !keep)
		raw_close();
	if (end == RAW_OK)
		resp->status = parser->status;
	return end;
}

/*
 * The request on the kept connection when it can carry it, else on a new
 * one; once more on a new one when the kept one turned out dead.
 */
static RawEnd
raw_attempts(const AwlHttpRequest *req, const char *origin, bool tls, const char *msg,
			 size_t msg_len, bool body_in, TimestampTz start, TimestampTz deadline,
			 uint32 wait_event, RawSinks *sinks, AwlHttpResponse *resp)
{
	const char *ca = awl_http_ca_file();
	RawEnd		end = RAW_FAILED;
	bool		sent = false;
	int			attempt;

	for (attempt = 0; attempt < 2; attempt++)
	{
		bool		reused = raw.connected && attempt == 0 &&
			strcmp(raw.origin, origin) == 0 &&
			(raw.ca_file == NULL ? ca == NULL : (ca != NULL && strcmp(raw.ca_file, ca) == 0)) &&
			raw_alive();

		if (!reused && !raw_connect(req, origin, tls, deadline, wait_event, resp))
		{
			/*
			 * The first attempt's whole request reached a server that closed
			 * without a reply byte: it may have run the function, so a failed
			 * reconnect is not "could not connect" (which callers send again
			 * as surely unsent).
			 */
			if (sent && resp->failure == AWL_HTTP_CONNECT)
			{
				char		why[sizeof(resp->error)];

				strlcpy(why, resp->error, sizeof(why));
				snprintf(resp->error, sizeof(resp->error),
						 "Connection closed after the request was sent, then: %s", why);
				resp->failure = AWL_HTTP_TRANSFER;
			}
			return RAW_FAILED;
		}
		end = raw_exchange(req, msg, msg_len, body_in, start, deadline, wait_event,
						   reused, sinks, resp, &sent);
		if (end != RAW_STALE)
			break;
	}
	return end;
}

void
awl_http_raw_perform(const AwlHttpRequest *req, AwlHttpResponse *resp)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz deadline = req->timeout_ms > 0 ?
		TimestampTzPlusMilliseconds(start, req->timeout_ms) : 0;
	uint32		wait_event = awl_wait_event(req->wait);
	size_t		origin_len;
	const char *target;
	bool		tls;
	char	   *origin;
	char	   *msg;
	size_t		msg_len;
	bool		body_in;
	RawSinks	sinks;
	RawEnd		end = RAW_FAILED;

	memset(resp, 0, sizeof(*resp));
	memset(&sinks, 0, sizeof(sinks));
	sinks.headers.cxt = sinks.body.cxt = CurrentMemoryContext;
	sinks.headers.limit = AWL_REPLY_MAX_HEAD;
	sinks.body.limit = req->max_response;
	raw_init();
	if (!split_url(req->url, &origin_len, &target, &tls))
		elog(ERROR, "awslambda: URL not for the direct path");
	origin = pnstrdup(req->url, origin_len);
	msg = raw_request(req, target, &msg_len, &body_in);

	PG_TRY();
	{
		end = raw_attempts(req, origin, tls, msg, msg_len, body_in, start, deadline,
						   wait_event, &sinks, resp);
	}
	PG_CATCH();
	{
		raw_close();
		explicit_bzero(msg, msg_len);
		PG_RE_THROW();
	}
	PG_END_TRY();
	explicit_bzero(msg, msg_len);
	pfree(msg);
	pfree(origin);

	/* An empty body has nothing to decode (libcurl takes it as it is, too). */
	if (end == RAW_OK && raw.parser->encoding != AWL_ENC_IDENTITY && sinks.body.len > 0)
	{
		AwlBuffer	decoded = {CurrentMemoryContext, NULL, 0, 0, req->max_response, false};

		if (raw_inflate(&sinks.body, raw.parser->encoding, &decoded, resp))
		{
			if (sinks.body.data)
				pfree(sinks.body.data);
			sinks.body = decoded;
		}
		else
			end = RAW_FAILED;
	}
	if (end != RAW_OK)
		resp->status = 0;
	resp->body = sinks.body.data ? sinks.body.data : pstrdup("");
	resp->body_len = sinks.body.len;
	resp->headers = sinks.headers.data ? sinks.headers.data : pstrdup("");
}
