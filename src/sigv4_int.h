/*-------------------------------------------------------------------------
 *
 * sigv4_int.h
 *	  What sigv4.c (the signature) and sigv4_canon.c (the canonical request)
 *	  share: a growable malloc'd string, and the canonical parts.  Plain C;
 *	  only those two files include it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_SIGV4_INT_H
#define AWL_SIGV4_INT_H

#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

/* A malloc'd growable string; any allocation failure sets failed. */
typedef struct AwlSigV4Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	int			failed;
} AwlSigV4Buf;

static inline void
buf_reserve(AwlSigV4Buf *b, size_t extra)
{
	size_t		need;
	char	   *p;

	if (b->failed)
		return;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap *= 2;
	p = realloc(b->data, b->cap);
	if (p == NULL)
	{
		b->failed = 1;
		return;
	}
	b->data = p;
}

static inline void
buf_add(AwlSigV4Buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void
buf_str(AwlSigV4Buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static inline void
buf_char(AwlSigV4Buf *b, char c)
{
	if (b->len + 2 <= b->cap && !b->failed)
	{
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
	}
	else
		buf_add(b, &c, 1);
}

/* Returns the string (never NULL unless failed), or NULL after freeing. */
static inline char *
buf_finish(AwlSigV4Buf *b)
{
	if (b->failed)
	{
		free(b->data);
		b->data = NULL;
		return NULL;
	}
	if (b->data == NULL)
		return strdup("");
	return b->data;
}

/* The canonical URI of path (as on the wire, before '?') appended to out. */
extern void awl_sigv4_canonical_uri(AwlSigV4Buf *out, const char *path);

/* The canonical query string of query (after '?', or NULL) appended to out. */
extern void awl_sigv4_canonical_query(AwlSigV4Buf *out, const char *query);

/*
 * The canonical headers (lower-cased, sorted, values trimmed, repeats
 * joined) appended to out, and their names, ';'-separated, to signed_list.
 */
extern void awl_sigv4_canonical_headers(AwlSigV4Buf *out, AwlSigV4Buf *signed_list,
										const AwlSigV4Header *headers, int n);

#endif							/* AWL_SIGV4_INT_H */
