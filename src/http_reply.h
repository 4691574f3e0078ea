/*-------------------------------------------------------------------------
 *
 * http_reply.h
 *	  An HTTP/1.1 reply parser for untrusted bytes, fed as they arrive:
 *	  status line, header block, body by Content-Length, chunked or up to
 *	  the connection's end.  Plain C without PostgreSQL or allocation, so
 *	  test/fuzz/ and test/unit/ run it on its own; what it keeps goes to the
 *	  caller's sinks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_HTTP_REPLY_H
#define AWL_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

/* Limits: one header line (as libcurl's), the header block, header lines. */
#define AWL_REPLY_MAX_LINE		(100 * 1024)
#define AWL_REPLY_MAX_HEAD		(256 * 1024)
#define AWL_REPLY_MAX_HEADERS	200

typedef enum AwlReplyState
{
	AWL_REPLY_MORE = 0,			/* needs more bytes (or the end of the connection) */
	AWL_REPLY_DONE,				/* a complete reply */
	AWL_REPLY_BAD,				/* malformed, or a sink refused: error says why */
	AWL_REPLY_TOO_LARGE			/* the body exceeds max_body */
} AwlReplyState;

typedef enum AwlReplyEncoding
{
	AWL_ENC_IDENTITY = 0,
	AWL_ENC_GZIP,
	AWL_ENC_DEFLATE
} AwlReplyEncoding;

/*
 * Receives bytes the parser keeps: head gets every line of the final
 * header block as received (status line first, CRLF included; a call with
 * n == 0 drops what an interim 1xx reply had sent), body the body's bytes
 * (decoded from chunks, still content-encoded).  False stops the parse.
 */
typedef bool (*AwlReplySink) (void *arg, const char *p, size_t n);

typedef struct AwlReplyParser
{
	/* set by awl_reply_init */
	size_t		max_body;
	AwlReplySink head;
	AwlReplySink body;
	void	   *arg;

	/* what the reply said, valid from the end of its header block */
	int			status;			/* 100..999 */
	int			minor;			/* HTTP/1.minor */
	bool		keep_alive;		/* the connection may carry another request */
	bool		chunked;
	long long	content_length; /* -1: none */
	AwlReplyEncoding encoding;
	size_t		body_len;		/* body bytes so far */
	const char *error;			/* why AWL_REPLY_BAD, a static string */

	/* internal */
	int			state;
	int			nheaders;
	bool		conn_close;		/* Connection: close seen */
	bool		conn_keep;		/* Connection: keep-alive seen */
	size_t		head_len;
	unsigned long long chunk_left;
	size_t		line_len;
	char		line[AWL_REPLY_MAX_LINE];
} AwlReplyParser;

/*
 * Starts parsing one reply; its body may have at most max_body bytes
 * (counted before content decoding).
 */
extern void awl_reply_init(AwlReplyParser *p, size_t max_body, AwlReplySink head,
						   AwlReplySink body, void *arg);

/*
 * Feeds n received bytes; *used says how many belong to this reply (the
 * rest, after AWL_REPLY_DONE, was sent beyond it).  Returns the state;
 * once not AWL_REPLY_MORE, feeding again returns the same.
 */
extern AwlReplyState awl_reply_feed(AwlReplyParser *p, const char *data, size_t n,
									size_t *used);

/*
 * The connection ended: AWL_REPLY_DONE for a body that runs to the end of
 * the connection, AWL_REPLY_BAD (a truncated reply) otherwise.
 */
extern AwlReplyState awl_reply_eof(AwlReplyParser *p);

#endif							/* AWL_HTTP_REPLY_H */
