/*-------------------------------------------------------------------------
 *
 * http.c
 *	  HTTP transport for awslambda on libcurl.
 *
 * Each backend keeps one curl easy handle and one multi handle for its
 * whole life, so TLS sessions and TCP connections are reused from call to
 * call (keep-alive).  Transfers are driven by our own short-timeout wait loop
 * rather than curl_easy_perform(), so a query cancel, statement_timeout or
 * pg_terminate_backend() is noticed within a few milliseconds; the progress
 * callback also aborts the transfer from inside libcurl when one is pending.
 *
 * Nothing here calls ereport() while libcurl is on the stack: callbacks
 * only copy bytes, using allocations that return NULL instead of throwing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "awslambda.h"
#include "http.h"

/* How long one wait for socket activity may last before we look at interrupts. */
#define AWL_HTTP_POLL_MS 10

static CURL *awl_easy = NULL;
static CURLM *awl_multi = NULL;

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

/* Appends bytes; false on out-of-memory or when the limit is exceeded. */
static bool
awl_buffer_append(AwlBuffer *buf, const char *ptr, size_t n)
{
	if (buf->len + n > buf->limit)
	{
		buf->overflow = true;
		return false;
	}
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		newcap = Max(buf->cap * 2, 8192);
		char	   *newdata;

		while (newcap < buf->len + n + 1)
			newcap *= 2;
		newdata = MemoryContextAllocExtended(buf->cxt, newcap,
											 MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (newdata == NULL)
			return false;
		if (buf->len > 0)
			memcpy(newdata, buf->data, buf->len);
		if (buf->data)
			pfree(buf->data);
		buf->data = newdata;
		buf->cap = newcap;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return true;
}

static size_t
awl_body_callback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t		n = size * nmemb;

	return awl_buffer_append((AwlBuffer *) userdata, ptr, n) ? n : 0;
}

/* Keeps only the header block of the last response (drops "100 Continue"). */
static size_t
awl_header_callback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	AwlBuffer  *buf = (AwlBuffer *) userdata;
	size_t		n = size * nmemb;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		buf->len = 0;
	return awl_buffer_append(buf, ptr, n) ? n : 0;
}

/* Asks libcurl to abort when the backend has a cancel or die request pending. */
static int
awl_progress_callback(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
					  curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

/* Creates the per-backend handles on first use. */
static void
awl_http_init(void)
{
	if (awl_easy != NULL)
		return;

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
	awl_multi = curl_multi_init();
	awl_easy = curl_easy_init();
	if (awl_multi == NULL || awl_easy == NULL)
	{
		if (awl_easy)
			curl_easy_cleanup(awl_easy);
		if (awl_multi)
			curl_multi_cleanup(awl_multi);
		awl_easy = NULL;
		awl_multi = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP client handle")));
	}
}

/* Sets every option of one request; the handle is reset so nothing leaks between calls. */
static struct curl_slist *
awl_http_setup(const AwlHttpRequest *req, AwlBuffer *body, AwlBuffer *headers,
			   char *errbuf)
{
	struct curl_slist *list = NULL;
	CURL	   *h = awl_easy;
	int			i;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "awslambda/" AWL_VERSION " libcurl/" LIBCURL_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, awl_progress_callback);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, awl_body_callback);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, awl_header_callback);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, headers);

	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else
	{
		/* POSTFIELDS does not copy: the body outlives the transfer. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body_len > 0 ? req->body : "");
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}

	/*
	 * "Content-Type:" and "Expect:" with no value stop libcurl from adding
	 * its form-urlencoded type and the 100-continue round trip.
	 */
	list = curl_slist_append(list, "Content-Type:");
	if (list)
		list = curl_slist_append(list, "Expect:");
	for (i = 0; list != NULL && i < req->nheaders; i++)
	{
		struct curl_slist *next = curl_slist_append(list, req->headers[i]);

		if (next == NULL)
		{
			curl_slist_free_all(list);
			list = NULL;
		}
		else
			list = next;
	}
	if (list == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	return list;
}

/* Classifies a failed transfer for the caller's error mapping. */
static AwlHttpFailure
awl_http_classify(CURLcode rc, const AwlBuffer *body)
{
	switch (rc)
	{
		case CURLE_OK:
			return AWL_HTTP_OK;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
			return AWL_HTTP_CONNECT;
		case CURLE_OPERATION_TIMEDOUT:
			return AWL_HTTP_TIMEOUT;
		case CURLE_WRITE_ERROR:
			return body->overflow ? AWL_HTTP_TOO_LARGE : AWL_HTTP_TRANSFER;
		default:
			return AWL_HTTP_TRANSFER;
	}
}

/* Drives the transfer, checking for interrupts between short waits. */
static CURLcode
awl_http_run(void)
{
	for (;;)
	{
		int			running = 0;
		int			queued;
		CURLMsg    *msg;
		CURLMcode	mc;

		CHECK_FOR_INTERRUPTS();

		mc = curl_multi_perform(awl_multi, &running);
		if (mc != CURLM_OK)
			return CURLE_RECV_ERROR;

		while ((msg = curl_multi_info_read(awl_multi, &queued)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == awl_easy)
				return msg->data.result;
		}
		if (running == 0)
			return CURLE_RECV_ERROR;	/* finished without a DONE message */

		mc = curl_multi_wait(awl_multi, NULL, 0, AWL_HTTP_POLL_MS, NULL);
		if (mc != CURLM_OK)
			return CURLE_RECV_ERROR;
	}
}

/*
 * Ends a transfer.  Removing the handle returns a finished connection to the
 * pool and closes an interrupted one, so the next call starts clean.
 */
static void
awl_http_detach(struct curl_slist *list)
{
	curl_multi_remove_handle(awl_multi, awl_easy);
	curl_easy_setopt(awl_easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(awl_easy, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(list);
}

void
awl_http_perform(const AwlHttpRequest *req, AwlHttpResponse *resp)
{
	AwlBuffer	body = {0};
	AwlBuffer	headers = {0};
	char		errbuf[CURL_ERROR_SIZE];
	struct curl_slist *volatile list = NULL;
	volatile CURLcode rc = CURLE_OK;

	awl_http_init();

	memset(resp, 0, sizeof(*resp));
	errbuf[0] = '\0';
	body.cxt = headers.cxt = CurrentMemoryContext;
	body.limit = req->max_response;
	headers.limit = 256 * 1024;

	list = awl_http_setup(req, &body, &headers, errbuf);

	PG_TRY();
	{
		if (curl_multi_add_handle(awl_multi, awl_easy) != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not start an HTTP request")));
		rc = awl_http_run();
	}
	PG_CATCH();
	{
		awl_http_detach(list);
		PG_RE_THROW();
	}
	PG_END_TRY();
	awl_http_detach(list);

	/* An abort from the progress callback means an interrupt is pending: raise it. */
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		CHECK_FOR_INTERRUPTS();

	resp->failure = awl_http_classify(rc, &body);
	if (resp->failure != AWL_HTTP_OK)
		strlcpy(resp->error, errbuf[0] ? errbuf : curl_easy_strerror(rc),
				sizeof(resp->error));
	curl_easy_getinfo(awl_easy, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = body.data ? body.data : pstrdup("");
	resp->body_len = body.len;
	resp->headers = headers.data ? headers.data : pstrdup("");
}

char *
awl_http_header(const AwlHttpResponse *resp, const char *name)
{
	size_t		namelen = strlen(name);
	const char *line = resp->headers;

	while (line && *line)
	{
		const char *eol = strchr(line, '\n');
		const char *end = eol ? eol : line + strlen(line);

		if ((size_t) (end - line) > namelen && line[namelen] == ':' &&
			pg_strncasecmp(line, name, namelen) == 0)
		{
			const char *v = line + namelen + 1;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return pnstrdup(v, end - v);
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}
