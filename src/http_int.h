/*-------------------------------------------------------------------------
 *
 * http_int.h
 *	  What the files of the HTTP area share: http.c (the backend's pool and
 *	  the steps of driving libcurl), used by http_stream.c (the dispatcher's
 *	  stream), http_raw.c (our own HTTP/1.1 for a lone request) and
 *	  http_perform.c (the entry points, which choose between the two).
 *	  Nothing outside the area includes it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_HTTP_INT_H
#define AWL_HTTP_INT_H

#include <curl/curl.h>

#include "http.h"

/* How long one wait for socket activity may last before we look at interrupts. */
#define AWL_HTTP_POLL_MS 10
/* Upper bound of concurrent transfers (and of easy handles kept per backend). */
#define AWL_HTTP_MAX_PARALLEL 1024

/* A growable byte buffer filled from libcurl callbacks. */
typedef struct AwlBuffer
{
	MemoryContext cxt;
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;
	bool		overflow;
} AwlBuffer;

/* One running transfer: its handle, request and what has arrived so far. */
typedef struct AwlTransfer
{
	CURLM	   *multi;			/* the multi handle it runs on */
	CURL	   *easy;
	int			index;			/* caller's request number, -1 when idle */
	void	   *tag;			/* a stream's caller's, for AwlHttpStreamDone */
	MemoryContext cxt;			/* a stream's: where the response goes */
	AwlHttpRequest req;
	struct curl_slist *list;
	AwlBuffer	body;
	AwlBuffer	headers;
	char		errbuf[CURL_ERROR_SIZE];
} AwlTransfer;
/* Appends bytes to buf; false on out-of-memory or when its limit is exceeded. */
extern bool awl_buffer_append(AwlBuffer *buf, const char *ptr, size_t n);

/*
 * libcurl's progress callback: aborts when a cancel or (unless
 * awl_http_keep_transfers_on_die was called) a termination is pending.
 */
extern int	awl_http_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
							  curl_off_t ultotal, curl_off_t ulnow);

/* Classifies a failed transfer (body: its buffer, or NULL) for the caller's error mapping. */
extern AwlHttpFailure awl_http_classify(CURLcode rc, const AwlBuffer *body);

/* awslambda.ca_file, or NULL when empty (the system's store). */
extern const char *awl_http_ca_file(void);

/*
 * Whether req may go over http_raw.c's own HTTP/1.1 on a CONNECT_ONLY
 * connection with the same bytes libcurl would send: a direct request,
 * POST, no proxy in the environment, a URL and header lines it writes
 * unchanged.
 */
extern bool awl_http_raw_usable(const AwlHttpRequest *req);

/*
 * Performs req (awl_http_raw_usable) on the backend's raw connection,
 * like awl_http_perform: transport failures in resp->failure, a cancel or
 * termination raised; the request buffer it wrote is zeroed.
 */
extern void awl_http_raw_perform(const AwlHttpRequest *req, AwlHttpResponse *resp);

/*
 * Performs n requests on the pool's easy handles, at most max_parallel at
 * once (awl_http_perform_many without the direct path); in http.c.
 */
extern void awl_http_run_pool(int n, int max_parallel, AwlHttpStart start,
							  AwlHttpDone done, void *arg);

/* Initializes libcurl once, the pool's multi handle and at least n easy handles. */
extern void awl_http_init(int n);

/*
 * Sets the options of x's request (x->req) on its easy handle, the response
 * buffers in the current memory context; raises 53200 out of memory.
 */
extern void awl_http_setup(AwlTransfer *x);

/* Takes x off its multi handle and forgets its request; never raises. */
extern void awl_http_detach(AwlTransfer *x);

/* The response of x's finished transfer (result rc), in the current context. */
extern void awl_http_collect(AwlTransfer *x, CURLcode rc, AwlHttpResponse *resp);

/*
 * Raises a pending cancel or termination, exits if the postmaster died,
 * then lets libcurl move multi's transfers on; raises XX000 if it fails.
 */
extern void awl_http_step(CURLM *multi);

/*
 * The next finished transfer of multi among slots (its result in *rc), or
 * NULL when there is none now; raises a pending interrupt that aborted one.
 */
extern AwlTransfer *awl_http_next_done(CURLM *multi, AwlTransfer *slots, int nslots,
									   CURLcode *rc);

/* Waits at most timeout_ms for socket activity on multi, reporting wait_event. */
extern void awl_http_wait(CURLM *multi, uint32 wait_event, int timeout_ms);

#endif							/* AWL_HTTP_INT_H */
