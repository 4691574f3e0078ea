/*
 * Unit test of the HTTP/1.1 reply parser (src/http_reply.c): framing by
 * Content-Length, chunks and the connection's end; keep-alive decisions;
 * limits; malformed input refused.  Every reply is also fed one byte at a
 * time, which must give the same result.  Prints one line per failure and
 * "http_reply: N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_reply.h"

static int	passed;
static int	failed;

typedef struct Out
{
	char		head[AWL_REPLY_MAX_HEAD + 1];
	size_t		head_len;
	char		body[65536];
	size_t		body_len;
} Out;

static bool
sink_head(void *arg, const char *p, size_t n)
{
	Out		   *o = arg;

	if (n == 0)
	{
		o->head_len = 0;
		return true;
	}
	if (o->head_len + n > sizeof(o->head))
		return false;
	memcpy(o->head + o->head_len, p, n);
	o->head_len += n;
	return true;
}

static bool
sink_body(void *arg, const char *p, size_t n)
{
	Out		   *o = arg;

	if (o->body_len + n > sizeof(o->body))
		return false;
	memcpy(o->body + o->body_len, p, n);
	o->body_len += n;
	return true;
}

static AwlReplyParser parser;
static Out	out;

/* Parses in (whole, or byte by byte), then the connection's end if eof. */
static AwlReplyState
parse(const char *in, size_t len, size_t max_body, bool bytewise, bool eof, size_t *used)
{
	AwlReplyState st = AWL_REPLY_MORE;
	size_t		i = 0;

	memset(&out, 0, sizeof(out));
	awl_reply_init(&parser, max_body, sink_head, sink_body, &out);
	*used = 0;
	if (!bytewise)
		st = awl_reply_feed(&parser, in, len, used);
	else
		for (i = 0; i < len && st == AWL_REPLY_MORE; i++)
		{
			size_t		u;

			st = awl_reply_feed(&parser, in + i, 1, &u);
			*used += u;
		}
	if (eof && st == AWL_REPLY_MORE)
		st = awl_reply_eof(&parser);
	return st;
}

static void
check(bool ok, const char *what)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("FAIL %s\n", what);
	}
}

/* One case: expected state, status, body, keep-alive, bytes used (0: all). */
static void
expect(const char *what, const char *in, size_t max_body, bool eof, AwlReplyState want,
	   int status, const char *body, bool keep, size_t want_used)
{
	int			bytewise;

	for (bytewise = 0; bytewise <= 1; bytewise++)
	{
		size_t		used;
		AwlReplyState st = parse(in, strlen(in), max_body, bytewise, eof, &used);
		char		label[256];
		bool		ok = st == want;

		if (ok && want == AWL_REPLY_DONE)
			ok = parser.status == status && parser.keep_alive == keep &&
				out.body_len == strlen(body) && memcmp(out.body, body, out.body_len) == 0 &&
				used == (want_used ? want_used : strlen(in));
		snprintf(label, sizeof(label), "%s%s (state %d, status %d, keep %d, body \"%.*s\", error %s)",
				 what, bytewise ? " [bytewise]" : "", st, parser.status, parser.keep_alive,
				 (int) out.body_len, out.body, parser.error ? parser.error : "-");
		check(ok, label);
	}
}

#define MB (8 * 1024 * 1024)

int
main(void)
{
	static char big[AWL_REPLY_MAX_LINE + 200];
	static char many[AWL_REPLY_MAX_HEADERS * 8 + 100];
	size_t		used;
	int			i;
	char	   *p;

	/* Framing */
	expect("content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", MB, false,
		   AWL_REPLY_DONE, 200, "{}", true, 0);
	expect("no reason phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n{}", MB, false,
		   AWL_REPLY_DONE, 200, "{}", true, 0);
	expect("bare LF lines", "HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", MB, false,
		   AWL_REPLY_DONE, 200, "{}", true, 0);
	expect("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "1\r\n{\r\na;ext=1\r\n\"k\": \"abc\"\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n", MB, false,
		   AWL_REPLY_DONE, 200, "{\"k\": \"abc\"}", true, 0);
	expect("chunked upper-case hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
		   "A\r\n0123456789\r\n0\r\n\r\n", MB, false, AWL_REPLY_DONE, 200, "0123456789", true, 0);
	expect("to the end of the connection", "HTTP/1.1 200 OK\r\n\r\n{\"a\":1}", MB, true,
		   AWL_REPLY_DONE, 200, "{\"a\":1}", false, 0);
	expect("end of connection needed", "HTTP/1.1 200 OK\r\n\r\n{\"a\":1}", MB, false,
		   AWL_REPLY_MORE, 0, "", false, 0);
	expect("bytes beyond the reply", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200",
		   MB, false, AWL_REPLY_DONE, 200, "{}", true, 40);
	expect("100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
		   "Content-Length: 1\r\n\r\nx", MB, false, AWL_REPLY_DONE, 201, "x", true, 0);
	check(parse("HTTP/1.1 100 Continue\r\nA: b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", strlen("HTTP/1.1 100 Continue\r\nA: b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), MB, false, false, &used) == AWL_REPLY_DONE &&
		  out.head_len == 38 && memcmp(out.head, "HTTP/1.1 200 OK\r\n", 17) == 0,
		  "an interim reply's header block is dropped");
	expect("204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", MB, false,
		   AWL_REPLY_DONE, 204, "", true, 0);
	expect("Content-Length 0", "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", MB, false,
		   AWL_REPLY_DONE, 202, "", true, 0);
	expect("repeated equal Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		   "content-length: 1\r\n\r\nx", MB, false, AWL_REPLY_DONE, 200, "x", true, 0);
	expect("chunked wins over Content-Length, no reuse", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", MB, false,
		   AWL_REPLY_DONE, 200, "x", false, 0);

	/* The connection */
	expect("Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
		   MB, false, AWL_REPLY_DONE, 200, "x", false, 0);
	expect("Connection list with close", "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\n"
		   "Content-Length: 1\r\n\r\nx", MB, false, AWL_REPLY_DONE, 200, "x", false, 0);
	expect("HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", MB, false,
		   AWL_REPLY_DONE, 200, "x", false, 0);
	expect("HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
		   "Content-Length: 1\r\n\r\nx", MB, false, AWL_REPLY_DONE, 200, "x", true, 0);

	/* Encodings */
	check(parse("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n", strlen("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"), MB,
				false, false, &used) == AWL_REPLY_DONE && parser.encoding == AWL_ENC_GZIP,
		  "Content-Encoding: gzip");
	check(parse("HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 0\r\n\r\n", strlen("HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 0\r\n\r\n"), MB,
				false, false, &used) == AWL_REPLY_DONE && parser.encoding == AWL_ENC_DEFLATE,
		  "Content-Encoding: deflate");
	expect("Content-Encoding br refused", "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", MB,
		   false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("two Content-Encodings refused", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
		   "Content-Encoding: gzip\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("Transfer-Encoding gzip refused", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		   MB, false, AWL_REPLY_BAD, 0, "", false, 0);

	/* Limits */
	expect("Content-Length over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n",
		   MB, false, AWL_REPLY_TOO_LARGE, 0, "", false, 0);
	expect("Content-Length just at the limit", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		   3, false, AWL_REPLY_DONE, 200, "abc", true, 0);
	expect("Content-Length one over", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
		   3, false, AWL_REPLY_TOO_LARGE, 0, "", false, 0);
	expect("chunk over the limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n900000\r\n",
		   MB, false, AWL_REPLY_TOO_LARGE, 0, "", false, 0);
	expect("chunks adding up over the limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "2\r\nab\r\n2\r\ncd\r\n", 3, false, AWL_REPLY_TOO_LARGE, 0, "", false, 0);
	expect("body to the end over the limit", "HTTP/1.1 200 OK\r\n\r\nabcd", 3, true,
		   AWL_REPLY_TOO_LARGE, 0, "", false, 0);
	strcpy(big, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(big + strlen(big), 'h', AWL_REPLY_MAX_LINE);
	strcpy(big + 24 + AWL_REPLY_MAX_LINE, "\r\n\r\n");
	expect("header line over the limit", big, MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	p = many + sprintf(many, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i <= AWL_REPLY_MAX_HEADERS; i++)
		p += sprintf(p, "A: b\r\n");
	sprintf(p, "\r\n");
	expect("too many header lines", many, MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "10000000000000001\r\n", (size_t) -1, false, AWL_REPLY_BAD, 0, "", false, 0);

	/* Malformed */
	expect("not HTTP", "THIS IS NOT HTTP AT ALL\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("HTTP/2 status line", "HTTP/2 200\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("status with letters", "HTTP/1.1 2x0 OK\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("status 099", "HTTP/1.1 099 OK\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("101 refused", "HTTP/1.1 101 Switching Protocols\r\n\r\n", MB, false,
		   AWL_REPLY_BAD, 0, "", false, 0);
	expect("header without colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", MB, false,
		   AWL_REPLY_BAD, 0, "", false, 0);
	expect("folded header line", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", MB, false,
		   AWL_REPLY_BAD, 0, "", false, 0);
	expect("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", MB, false,
		   AWL_REPLY_BAD, 0, "", false, 0);
	expect("bare CR in a header", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", MB, false,
		   AWL_REPLY_BAD, 0, "", false, 0);
	check(parse("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", 27, MB, false, false, &used) == AWL_REPLY_BAD,
		  "NUL in a header");
	expect("conflicting Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		   "Content-Length: 2\r\n\r\nxx", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx", MB, false,
		   AWL_REPLY_BAD, 0, "", false, 0);
	expect("negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", MB, false,
		   AWL_REPLY_BAD, 0, "", false, 0);
	expect("chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		   MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("chunk without its CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "1\r\nxy\r\n0\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n", MB, false, AWL_REPLY_BAD, 0, "", false, 0);
	expect("truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", MB, true,
		   AWL_REPLY_BAD, 0, "", false, 0);
	expect("truncated chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", MB,
		   true, AWL_REPLY_BAD, 0, "", false, 0);
	expect("closed before any byte", "", MB, true, AWL_REPLY_BAD, 0, "", false, 0);
	expect("closed in the headers", "HTTP/1.1 200 OK\r\nContent-Le", MB, true,
		   AWL_REPLY_BAD, 0, "", false, 0);

	/* Once finished, feeding again changes nothing. */
	parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38, MB, false, false, &used);
	check(awl_reply_feed(&parser, "junk", 4, &used) == AWL_REPLY_DONE && used == 0,
		  "feeding a finished reply");

	printf("http_reply: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
