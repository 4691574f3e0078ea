/*-------------------------------------------------------------------------
 *
 * http_reply.c
 *	  The HTTP/1.1 reply parser of the synchronous call's own transport
 *	  (http_raw.c): bytes in as they arrive, the status, the few headers
 *	  that decide how the body is framed and whether the connection stays,
 *	  the header block and the body out to the caller's sinks.
 *
 * Everything is remote input: lines, the header block, the number of
 * header lines and the body are bounded, and what could frame the body in
 * two ways or smuggle a second reply (conflicting Content-Length, unknown
 * transfer codings, folded or NUL-bearing header lines, bare CRs) is
 * refused.  Plain C, no allocation, no PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>
#include <strings.h>

#include "http_reply.h"

enum
{
	ST_STATUS,
	ST_HEADER,
	ST_BODY_LEN,
	ST_BODY_EOF,
	ST_CHUNK_SIZE,
	ST_CHUNK_DATA,
	ST_CHUNK_END,
	ST_TRAILER,
	ST_DONE,
	ST_BAD,
	ST_LARGE
};

/* A chunk-size line is short; anything longer is not HTTP. */
#define MAX_CHUNK_LINE 1024

void
awl_reply_init(AwlReplyParser *p, size_t max_body, AwlReplySink head,
			   AwlReplySink body, void *arg)
{
	p->max_body = max_body;
	p->head = head;
	p->body = body;
	p->arg = arg;
	p->status = 0;
	p->minor = 0;
	p->keep_alive = false;
	p->chunked = false;
	p->content_length = -1;
	p->encoding = AWL_ENC_IDENTITY;
	p->body_len = 0;
	p->error = NULL;
	p->state = ST_STATUS;
	p->nheaders = 0;
	p->head_len = 0;
	p->chunk_left = 0;
	p->line_len = 0;
	p->conn_close = false;
	p->conn_keep = false;
}

static AwlReplyState
bad(AwlReplyParser *p, const char *why)
{
	p->state = ST_BAD;
	p->error = why;
	return AWL_REPLY_BAD;
}

static AwlReplyState
state_of(const AwlReplyParser *p)
{
	switch (p->state)
	{
		case ST_DONE:
			return AWL_REPLY_DONE;
		case ST_BAD:
			return AWL_REPLY_BAD;
		case ST_LARGE:
			return AWL_REPLY_TOO_LARGE;
		default:
			return AWL_REPLY_MORE;
	}
}

static bool
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		(c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* value[0..len) without leading and trailing spaces and tabs. */
static void
trim(const char **value, size_t *len)
{
	while (*len > 0 && (**value == ' ' || **value == '\t'))
		(*value)++, (*len)--;
	while (*len > 0 && ((*value)[*len - 1] == ' ' || (*value)[*len - 1] == '\t'))
		(*len)--;
}

static bool
token_is(const char *v, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(v, word, len) == 0;
}

/* "HTTP/1.x NNN[ reason]" */
static AwlReplyState
status_line(AwlReplyParser *p, const char *s, size_t len)
{
	int			status;

	if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
		s[8] != ' ' ||
		s[9] < '1' || s[9] > '9' || s[10] < '0' || s[10] > '9' ||
		s[11] < '0' || s[11] > '9' || (len > 12 && s[12] != ' '))
		return bad(p, "malformed status line");
	status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (status == 101)
		return bad(p, "unexpected protocol switch");
	p->status = status;
	p->minor = s[7] - '0';
	p->state = ST_HEADER;
	return AWL_REPLY_MORE;
}

/* The value of Content-Length: digits only, the same each time it is given. */
static AwlReplyState
content_length(AwlReplyParser *p, const char *v, size_t len)
{
	long long	n = 0;
	size_t		i;

	if (len == 0 || len > 18)
		return bad(p, "invalid Content-Length");
	for (i = 0; i < len; i++)
	{
		if (v[i] < '0' || v[i] > '9')
			return bad(p, "invalid Content-Length");
		n = n * 10 + (v[i] - '0');
	}
	if (p->content_length >= 0 && p->content_length != n)
		return bad(p, "conflicting Content-Length");
	p->content_length = n;
	return AWL_REPLY_MORE;
}

/* Connection: a comma-separated list of options. */
static void
connection_options(const char *v, size_t len, bool *close, bool *keep)
{
	while (len > 0)
	{
		const char *comma = memchr(v, ',', len);
		size_t		n = comma ? (size_t) (comma - v) : len;
		const char *t = v;
		size_t		tn = n;

		trim(&t, &tn);
		if (token_is(t, tn, "close"))
			*close = true;
		else if (token_is(t, tn, "keep-alive"))
			*keep = true;
		if (comma == NULL)
			break;
		v += n + 1;
		len -= n + 1;
	}
}

/* What the end of the header block decides: framing and the connection. */
static AwlReplyState
end_of_head(AwlReplyParser *p)
{
	if (p->status < 200)
	{
		/* An interim reply (100 Continue): its block is dropped, the real one follows. */
		if (!p->head(p->arg, NULL, 0))
			return bad(p, "out of memory");
		p->state = ST_STATUS;
		p->nheaders = 0;
		p->head_len = 0;
		p->chunked = false;
		p->content_length = -1;
		p->encoding = AWL_ENC_IDENTITY;
		p->conn_close = p->conn_keep = false;
		return AWL_REPLY_MORE;
	}
	p->keep_alive = !p->conn_close && (p->minor == 1 || p->conn_keep);
	if (p->status == 204 || p->status == 304)
	{
		p->state = ST_DONE;
		return AWL_REPLY_DONE;
	}
	if (p->chunked)
	{
		/* Both framings given: chunked wins, and the connection is not trusted again. */
		if (p->content_length >= 0)
			p->keep_alive = false;
		p->content_length = -1;
		p->state = ST_CHUNK_SIZE;
		return AWL_REPLY_MORE;
	}
	if (p->content_length >= 0)
	{
		if ((unsigned long long) p->content_length > p->max_body)
		{
			p->state = ST_LARGE;
			return AWL_REPLY_TOO_LARGE;
		}
		p->state = p->content_length == 0 ? ST_DONE : ST_BODY_LEN;
		return state_of(p);
	}
	/* Neither: the body runs to the end of the connection. */
	p->keep_alive = false;
	p->state = ST_BODY_EOF;
	return AWL_REPLY_MORE;
}

/* One header line (without its line end), or the empty line ending the block. */
static AwlReplyState
header_line(AwlReplyParser *p, const char *s, size_t len)
{
	const char *colon;
	const char *v;
	size_t		vlen;
	size_t		i;

	if (len == 0)
		return end_of_head(p);
	if (++p->nheaders > AWL_REPLY_MAX_HEADERS)
		return bad(p, "too many header lines");
	colon = memchr(s, ':', len);
	if (colon == NULL || colon == s)
		return bad(p, "malformed header line");
	for (i = 0; s + i < colon; i++)
		if (!is_tchar((unsigned char) s[i]))
			return bad(p, "malformed header line");	/* also a folded line */
	v = colon + 1;
	vlen = len - (size_t) (v - s);
	trim(&v, &vlen);

	if (token_is(s, colon - s, "Content-Length"))
		return content_length(p, v, vlen);
	if (token_is(s, colon - s, "Transfer-Encoding"))
	{
		if (!token_is(v, vlen, "chunked") || p->chunked)
			return bad(p, "unsupported Transfer-Encoding");
		p->chunked = true;
	}
	else if (token_is(s, colon - s, "Content-Encoding"))
	{
		if (p->encoding != AWL_ENC_IDENTITY)
			return bad(p, "unsupported Content-Encoding");
		if (token_is(v, vlen, "gzip") || token_is(v, vlen, "x-gzip"))
			p->encoding = AWL_ENC_GZIP;
		else if (token_is(v, vlen, "deflate"))
			p->encoding = AWL_ENC_DEFLATE;
		else if (!token_is(v, vlen, "identity"))
			return bad(p, "unsupported Content-Encoding");
	}
	else if (token_is(s, colon - s, "Connection"))
		connection_options(v, vlen, &p->conn_close, &p->conn_keep);
	return AWL_REPLY_MORE;
}

/* A chunk-size line: hex digits, optionally extensions after ';'. */
static AwlReplyState
chunk_size_line(AwlReplyParser *p, const char *s, size_t len)
{
	unsigned long long n = 0;
	size_t		i;

	for (i = 0; i < len && i < 16; i++)
	{
		int			d = (s[i] >= '0' && s[i] <= '9') ? s[i] - '0' :
			(s[i] >= 'a' && s[i] <= 'f') ? s[i] - 'a' + 10 :
			(s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 10 : -1;

		if (d < 0)
			break;
		n = n * 16 + (unsigned) d;
	}
	if (i == 0 || i >= 16)
		return bad(p, "malformed chunk size");
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < len && s[i] != ';')
		return bad(p, "malformed chunk size");
	if (n == 0)
	{
		p->state = ST_TRAILER;
		return AWL_REPLY_MORE;
	}
	if (n > p->max_body - p->body_len)
	{
		p->state = ST_LARGE;
		return AWL_REPLY_TOO_LARGE;
	}
	p->chunk_left = n;
	p->state = ST_CHUNK_DATA;
	return AWL_REPLY_MORE;
}

/* A complete line in p->line (without its line end) in the current state. */
static AwlReplyState
line_done(AwlReplyParser *p, size_t len)
{
	const char *s = p->line;

	switch (p->state)
	{
		case ST_STATUS:
			return status_line(p, s, len);
		case ST_HEADER:
			return header_line(p, s, len);
		case ST_CHUNK_SIZE:
			return chunk_size_line(p, s, len);
		case ST_CHUNK_END:
			if (len != 0)
				return bad(p, "malformed chunk end");
			p->state = ST_CHUNK_SIZE;
			return AWL_REPLY_MORE;
		case ST_TRAILER:
			if (len == 0)
			{
				p->state = ST_DONE;
				return AWL_REPLY_DONE;
			}
			if (++p->nheaders > AWL_REPLY_MAX_HEADERS)
				return bad(p, "too many header lines");
			if (memchr(s, ':', len) == NULL)
				return bad(p, "malformed trailer line");
			return AWL_REPLY_MORE;
		default:
			return bad(p, "internal parser state");
	}
}

/*
 * Takes line bytes from data until a line end; returns how many it used,
 * having handled the line when complete.
 */
static size_t
take_line(AwlReplyParser *p, const char *data, size_t n)
{
	bool		in_head = p->state == ST_STATUS || p->state == ST_HEADER;
	size_t		limit = in_head || p->state == ST_TRAILER ? AWL_REPLY_MAX_LINE : MAX_CHUNK_LINE;
	const char *nl = memchr(data, '\n', n);
	size_t		k = nl ? (size_t) (nl - data) + 1 : n;
	size_t		len;
	size_t		i;

	if (p->line_len + k > limit)
	{
		(void) bad(p, in_head ? "header line too long" : "line too long");
		return k;
	}
	if (in_head)
	{
		if (p->head_len + k > AWL_REPLY_MAX_HEAD)
		{
			(void) bad(p, "header block too large");
			return k;
		}
		p->head_len += k;
	}
	memcpy(p->line + p->line_len, data, k);
	p->line_len += k;
	if (nl == NULL)
		return k;

	/* A complete line: the bytes go to the header block as received. */
	if (in_head && !p->head(p->arg, p->line, p->line_len))
	{
		(void) bad(p, "out of memory");
		return k;
	}
	len = p->line_len - 1;
	if (len > 0 && p->line[len - 1] == '\r')
		len--;
	p->line_len = 0;
	for (i = 0; i < len; i++)
		if (p->line[i] == '\r' || p->line[i] == '\0')
		{
			(void) bad(p, "control character in a header line");
			return k;
		}
	(void) line_done(p, len);
	return k;
}

/* Passes body bytes on, within max_body. */
static bool
take_body(AwlReplyParser *p, const char *data, size_t k)
{
	if (k > p->max_body - p->body_len)
	{
		p->state = ST_LARGE;
		return false;
	}
	if (k > 0 && !p->body(p->arg, data, k))
	{
		(void) bad(p, "out of memory");
		return false;
	}
	p->body_len += k;
	return true;
}

AwlReplyState
awl_reply_feed(AwlReplyParser *p, const char *data, size_t n, size_t *used)
{
	size_t		i = 0;

	while (i < n && state_of(p) == AWL_REPLY_MORE)
	{
		size_t		k;

		switch (p->state)
		{
			case ST_BODY_LEN:
				k = (size_t) p->content_length - p->body_len;
				if (k > n - i)
					k = n - i;
				if (take_body(p, data + i, k) && p->body_len == (size_t) p->content_length)
					p->state = ST_DONE;
				break;
			case ST_BODY_EOF:
				k = n - i;
				(void) take_body(p, data + i, k);
				break;
			case ST_CHUNK_DATA:
				k = (size_t) (n - i < p->chunk_left ? n - i : p->chunk_left);
				if (take_body(p, data + i, k))
				{
					p->chunk_left -= k;
					if (p->chunk_left == 0)
						p->state = ST_CHUNK_END;
				}
				break;
			default:
				k = take_line(p, data + i, n - i);
				break;
		}
		i += k;
	}
	*used = i;
	return state_of(p);
}

AwlReplyState
awl_reply_eof(AwlReplyParser *p)
{
	if (p->state == ST_BODY_EOF)
		p->state = ST_DONE;
	else if (state_of(p) == AWL_REPLY_MORE)
		return bad(p, p->state == ST_STATUS && p->line_len == 0 && p->head_len == 0
				   ? "connection closed before the reply" : "connection closed before the end of the reply");
	return state_of(p);
}
