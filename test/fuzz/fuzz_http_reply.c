/*
 * libFuzzer target: the HTTP/1.1 reply parser (src/http_reply.c) on
 * arbitrary bytes, fed in pieces whose sizes the input's first byte picks,
 * then the connection's end.  Checks: no crash or undefined behaviour; the
 * body stays within max_body and is never longer than the input; a finished
 * reply used no more bytes than it was given; the header block it kept is
 * part of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_reply.h"

typedef struct Out
{
	size_t		head_len;
	size_t		body_len;
} Out;

static bool
sink_head(void *arg, const char *p, size_t n)
{
	Out		   *o = arg;

	o->head_len = n == 0 ? 0 : o->head_len + n;
	return true;
}

static bool
sink_body(void *arg, const char *p, size_t n)
{
	((Out *) arg)->body_len += n;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static AwlReplyParser parser;
	Out			out = {0, 0};
	size_t		max_body;
	size_t		piece;
	size_t		i;
	size_t		total_used = 0;
	AwlReplyState st = AWL_REPLY_MORE;

	if (size < 1)
		return 0;
	piece = 1 + data[0] % 17;
	max_body = (data[0] & 0x80) ? 64 : 8 * 1024 * 1024;
	data++, size--;
	awl_reply_init(&parser, max_body, sink_head, sink_body, &out);
	for (i = 0; i < size && st == AWL_REPLY_MORE; i += piece)
	{
		size_t		n = size - i < piece ? size - i : piece;
		size_t		used = 0;

		st = awl_reply_feed(&parser, (const char *) data + i, n, &used);
		if (used > n)
			abort();
		total_used += used;
	}
	if (st == AWL_REPLY_MORE)
		st = awl_reply_eof(&parser);
	if (out.body_len > max_body || out.body_len > size || out.head_len > size ||
		total_used > size || parser.body_len != out.body_len)
		abort();
	if (st == AWL_REPLY_BAD && parser.error == NULL)
		abort();
	if (st == AWL_REPLY_DONE && (parser.status < 100 || parser.status > 999))
		abort();
	return 0;
}
