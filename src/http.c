/*-------------------------------------------------------------------------
 *
 * http.c
 *	  HTTP transport for awslambda on libcurl.
 *
 * Each backend keeps one multi handle and a few easy handles for its whole
 * life, so TCP connections (and TLS sessions) are reused from call to call
 * (keep-alive), by one request or by many at once (fan-out).  Transfers are
 * driven by our own short-timeout wait loop
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
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "awslambda.h"
#include "http.h"
#include "http_int.h"
#include "parse.h"

/* awslambda.ca_file */
static char *ca_file_setting = NULL;

void
awl_http_define_settings(void)
{
	DefineCustomStringVariable("awslambda.ca_file",
							   "Sets a file of PEM CA certificates to verify HTTPS endpoints with.",
							   "Empty means the system's CA store. For a private CA in front of a VPC endpoint or an emulator.",
							   &ca_file_setting,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
}


const char *
awl_http_ca_file(void)
{
	return (ca_file_setting && ca_file_setting[0]) ? ca_file_setting : NULL;
}

/*
 * Easy handles live as long as the backend; they share the multi handle's
 * connection cache, so any of them reuses any idle connection.
 */
static CURLM *awl_multi = NULL;
static CURL **awl_easy = NULL;
static int	awl_neasy = 0;

bool
awl_buffer_append(AwlBuffer *buf, const char *ptr, size_t n)
{
	if (buf->len + n > buf->limit)
	{
		buf->overflow = true;
		return false;
	}
	if (buf->len + n + 1 > buf->cap)
	{
		/* Small first: most replies and their headers are a few hundred bytes. */
		size_t		newcap = Max(buf->cap * 2, 1024);
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

/* False in the dispatcher: it finishes its transfers before it exits. */
static bool die_aborts_transfers = true;

void
awl_http_keep_transfers_on_die(void)
{
	die_aborts_transfers = false;
}

int
awl_http_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
					  curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || (ProcDiePending && die_aborts_transfers)) ? 1 : 0;
}

/* Creates the multi handle and at least n easy handles. */
void
awl_http_init(int n)
{
	if (awl_multi == NULL)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not initialize libcurl")));
		awl_multi = curl_multi_init();
		if (awl_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create an HTTP client handle")));
		awl_easy = MemoryContextAllocZero(TopMemoryContext,
										  AWL_HTTP_MAX_PARALLEL * sizeof(CURL *));
	}
	if (awl_neasy < n)
	{
		/*
		 * Keep as many idle connections as the widest fan-out so far: by
		 * default libcurl keeps four per handle still running, and would
		 * close most of them as a batch winds down.
		 */
		curl_multi_setopt(awl_multi, CURLMOPT_MAXCONNECTS, (long) n);
	}
	while (awl_neasy < n)
	{
		CURL	   *h = curl_easy_init();

		if (h == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create an HTTP client handle")));
		awl_easy[awl_neasy++] = h;
	}
}

/*
 * What an easy handle was configured with, kept in its CURLOPT_PRIVATE: a
 * handle that has none (new, or reset) gets every constant option first.
 */
typedef struct AwlEasyConfig
{
	char	   *ca_file;		/* awslambda.ca_file when configured, malloc'd */
} AwlEasyConfig;

/*
 * Sets the options that are the same for every request on easy handle h:
 * from scratch (curl_easy_reset) so nothing of an earlier configuration
 * stays behind, for the current awslambda.ca_file.
 */
static void
awl_http_configure(CURL *h, AwlEasyConfig *cfg)
{
	const char *ca = (ca_file_setting && ca_file_setting[0]) ? ca_file_setting : NULL;

	curl_easy_reset(h);
	free(cfg->ca_file);
	cfg->ca_file = ca ? strdup(ca) : NULL;
	if (ca && cfg->ca_file == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	curl_easy_setopt(h, CURLOPT_PRIVATE, cfg);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "awslambda/" AWL_VERSION " libcurl/" LIBCURL_VERSION);
	/* Accept (and undo) any encoding libcurl knows, should a proxy compress. */
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, awl_http_progress);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, awl_body_callback);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, awl_header_callback);
}

/*
 * Sets the options of one request.  The constant ones stay on the handle
 * from call to call (set again when awslambda.ca_file changes); everything
 * a request may differ in is set every time, so nothing of the previous
 * request (its method, body, limits, headers) carries over.  libcurl reads
 * the header lines in place, without copies, until awl_http_detach.
 */
void
awl_http_setup(AwlTransfer *x)
{
	const AwlHttpRequest *req = &x->req;
	CURL	   *h = x->easy;
	AwlEasyConfig *cfg = NULL;
	const char *ca = (ca_file_setting && ca_file_setting[0]) ? ca_file_setting : NULL;
	static char no_content_type[] = "Content-Type:";
	static char no_expect[] = "Expect:";
	struct curl_slist *list;
	int			n = req->nheaders + 2;
	int			i;

	x->errbuf[0] = '\0';
	x->body.cxt = x->headers.cxt = CurrentMemoryContext;
	x->body.data = x->headers.data = NULL;
	x->body.len = x->body.cap = x->headers.len = x->headers.cap = 0;
	x->body.overflow = x->headers.overflow = false;
	x->body.limit = req->max_response;
	x->headers.limit = 256 * 1024;

	if (curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **) &cfg) != CURLE_OK || cfg == NULL)
	{
		cfg = MemoryContextAllocZero(TopMemoryContext, sizeof(AwlEasyConfig));
		awl_http_configure(h, cfg);
	}
	else if (ca ? (cfg->ca_file == NULL || strcmp(cfg->ca_file, ca) != 0) : cfg->ca_file != NULL)
		awl_http_configure(h, cfg);

	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	/* A Content-Length over the limit fails at once instead of after the download. */
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_response);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->body);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x->headers);

	if (strcmp(req->method, "GET") == 0)
	{
		/* No body of an earlier POST stays attached (POSTFIELDS implies POST). */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, (char *) NULL);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) -1);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, (char *) NULL);
	}
	else
	{
		/* POSTFIELDS does not copy: the body outlives the transfer. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body_len > 0 ? req->body : "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
						 strcmp(req->method, "POST") != 0 ? req->method : (char *) NULL);
	}

	/*
	 * The header list points at the request's own lines rather than copies,
	 * so the only copies of a token or a signature are the caller's, which
	 * it wipes.  "Content-Type:" and "Expect:" with no value stop libcurl
	 * from adding its form-urlencoded type and the 100-continue round trip.
	 */
	list = palloc(n * sizeof(struct curl_slist));
	list[0].data = no_content_type;
	list[1].data = no_expect;
	for (i = 0; i < req->nheaders; i++)
		list[i + 2].data = unconstify(char *, req->headers[i]);
	for (i = 0; i < n; i++)
		list[i].next = i + 1 < n ? &list[i + 1] : NULL;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	x->list = list;
}

AwlHttpFailure
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
		case CURLE_FILESIZE_EXCEEDED:
			return AWL_HTTP_TOO_LARGE;
		case CURLE_WRITE_ERROR:
			return body && body->overflow ? AWL_HTTP_TOO_LARGE : AWL_HTTP_TRANSFER;
		default:
			return AWL_HTTP_TRANSFER;
	}
}

/*
 * Takes a transfer off the multi handle.  A finished connection goes back to
 * the cache; an unfinished one is closed, so the next request starts clean.
 */
void
awl_http_detach(AwlTransfer *x)
{
	curl_multi_remove_handle(x->multi, x->easy);
	/* Nothing may point into the request, its buffers or this slot any more. */
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, (struct curl_slist *) NULL);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, (char *) NULL);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, (char *) NULL);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, (void *) NULL);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, (void *) NULL);
	if (x->list)
		pfree(x->list);
	x->list = NULL;
	x->index = -1;
}

/* Builds the response of a finished transfer. */
void
awl_http_collect(AwlTransfer *x, CURLcode rc, AwlHttpResponse *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->failure = awl_http_classify(rc, &x->body);
	if (resp->failure != AWL_HTTP_OK)
		strlcpy(resp->error, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc),
				sizeof(resp->error));
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = x->body.data ? x->body.data : pstrdup("");
	resp->body_len = x->body.len;
	resp->headers = x->headers.data ? x->headers.data : pstrdup("");
}

/* Starts request number index in transfer slot x. */
static void
awl_http_start(AwlTransfer *x, int index, AwlHttpStart start, void *arg)
{
	memset(&x->req, 0, sizeof(x->req));
	start(index, &x->req, arg);
	awl_http_setup(x);
	x->index = index;
	if (curl_multi_add_handle(x->multi, x->easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not start an HTTP request")));
}

/* The names of our wait events, by AwlWait. */
static const char *const awl_wait_names[AWL_WAIT_COUNT] = {
	[AWL_WAIT_HTTP] = "AwsLambdaHttp",
	[AWL_WAIT_CREDENTIALS] = "AwsLambdaCredentials",
	[AWL_WAIT_BACKOFF] = "AwsLambdaRetryBackoff",
	[AWL_WAIT_DISPATCHER] = "AwsLambdaDispatcherIdle",
	[AWL_WAIT_DISPATCHER_SENDING] = "AwsLambdaDispatcherSending",
	[AWL_WAIT_DISPATCHER_STOP] = "AwsLambdaDispatcherStop",
};

/*
 * The wait event for a wait of that kind, looked up once per backend: a
 * named one where the server has them (see pg_compat.h), else "Extension".
 */
uint32
awl_wait_event(AwlWait kind)
{
	static uint32 events[AWL_WAIT_COUNT];

	Assert(kind >= 0 && kind < AWL_WAIT_COUNT);
	if (events[kind] == 0)
		events[kind] = awl_wait_event_named(awl_wait_names[kind]);
	return events[kind];
}

void
awl_http_step(CURLM *multi)
{
	int			running = 0;
	CURLMcode	mc;

	CHECK_FOR_INTERRUPTS();
	/* Like a latch wait with WL_EXIT_ON_PM_DEATH: no orphan outlives the server. */
	if (!PostmasterIsAlive())
		proc_exit(1);

	mc = curl_multi_perform(multi, &running);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("HTTP client failure: %s", curl_multi_strerror(mc))));
}

AwlTransfer *
awl_http_next_done(CURLM *multi, AwlTransfer *slots, int nslots, CURLcode *rc)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(multi, &queued)) != NULL)
	{
		AwlTransfer *x = NULL;
		int			i;

		if (msg->msg != CURLMSG_DONE)
			continue;
		for (i = 0; i < nslots; i++)
			if (slots[i].index >= 0 && slots[i].easy == msg->easy_handle)
				x = &slots[i];
		if (x == NULL)
			continue;
		*rc = msg->data.result;

		/* An abort from the progress callback means an interrupt is pending: raise it. */
		if (*rc == CURLE_ABORTED_BY_CALLBACK)
			CHECK_FOR_INTERRUPTS();
		return x;
	}
	return NULL;
}

void
awl_http_wait(CURLM *multi, uint32 wait_event, int timeout_ms)
{
	CURLMcode	mc;

	pgstat_report_wait_start(wait_event);
	mc = curl_multi_wait(multi, NULL, 0, timeout_ms, NULL);
	pgstat_report_wait_end();
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("HTTP client failure: %s", curl_multi_strerror(mc))));
}

/*
 * Drives all transfers, checking for interrupts between short waits, and
 * refills each slot as soon as its transfer ends.
 */
static void
awl_http_run(AwlTransfer *slots, int nslots, int n, AwlHttpStart start,
			 AwlHttpDone done, void *arg)
{
	int			next = 0;
	int			finished = 0;
	int			i;
	uint32		wait_event = 0;

	for (i = 0; i < nslots && next < n; i++)
		awl_http_start(&slots[i], next++, start, arg);
	/* All requests of one run are of one kind: the first one says which. */
	if (n > 0)
		wait_event = awl_wait_event(slots[0].req.wait);

	while (finished < n)
	{
		AwlTransfer *x;
		CURLcode	rc;

		awl_http_step(awl_multi);
		while ((x = awl_http_next_done(awl_multi, slots, nslots, &rc)) != NULL)
		{
			AwlHttpResponse resp;
			int			index = x->index;

			awl_http_collect(x, rc, &resp);
			awl_http_detach(x);
			finished++;
			done(index, &resp, arg);
			if (next < n)
				awl_http_start(x, next++, start, arg);
		}
		if (finished >= n)
			break;
		awl_http_wait(awl_multi, wait_event, AWL_HTTP_POLL_MS);
	}
}

void
awl_http_run_pool(int n, int max_parallel, AwlHttpStart start, AwlHttpDone done,
				  void *arg)
{
	AwlTransfer *volatile slots;
	/* volatile: read in PG_CATCH (newer GCCs warn -Wclobbered otherwise) */
	volatile int nslots = Max(1, Min(Min(n, max_parallel), AWL_HTTP_MAX_PARALLEL));
	int			i;

	if (n <= 0)
		return;
	awl_http_init(nslots);
	slots = palloc0(nslots * sizeof(AwlTransfer));
	for (i = 0; i < nslots; i++)
	{
		slots[i].multi = awl_multi;
		slots[i].easy = awl_easy[i];
		slots[i].index = -1;
	}

	PG_TRY();
	{
		awl_http_run(slots, nslots, n, start, done, arg);
	}
	PG_CATCH();
	{
		for (i = 0; i < nslots; i++)
			if (slots[i].index >= 0 || slots[i].list != NULL)
				awl_http_detach(&slots[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pfree(slots);
}

char *
awl_http_header(const AwlHttpResponse *resp, const char *name)
{
	char	   *v = awl_header_value(resp->headers, name);
	char	   *copy;

	if (v == NULL)
		return NULL;
	copy = pstrdup(v);
	free(v);
	return copy;
}
