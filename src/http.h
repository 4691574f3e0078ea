/*-------------------------------------------------------------------------
 *
 * http.h
 *	  One reused libcurl connection pool per backend, interrupt-aware.
 *
 * Used by the files that make requests (invoke.c, and stream.c through
 * http_stream.c, sts.c, imds.c, providers.c), by process.c and launcher.c
 * (the wait events), clock.c and errors.c (reply headers), dispatcher.c
 * and awslambda.c (the settings).  http.c calls only parse.c; nothing it
 * calls calls back.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AWL_HTTP_H
#define AWL_HTTP_H

/* Defines awslambda.ca_file; called once from _PG_init. */
extern void awl_http_define_settings(void);

/*
 * What a backend of ours waits for, each with a wait event of its own from
 * PostgreSQL 17 on (AwsLambdaHttp, ... in pg_stat_activity.wait_event).
 */
typedef enum AwlWait
{
	AWL_WAIT_HTTP = 0,			/* a Lambda request */
	AWL_WAIT_CREDENTIALS,		/* a credential or role request */
	AWL_WAIT_BACKOFF,			/* the delay before a retry */
	AWL_WAIT_DISPATCHER,		/* the dispatcher and its launcher, idle */
	AWL_WAIT_DISPATCHER_SENDING,	/* the dispatcher, with invocations in flight */
	AWL_WAIT_DISPATCHER_STOP,	/* a session, for a dispatcher to leave */
	AWL_WAIT_COUNT
} AwlWait;

/*
 * From now on a pending termination (pg_terminate_backend, a shutdown) no
 * longer aborts this process's transfers in flight; it still ends the
 * process at the next interrupt check between waits.  For the dispatcher,
 * which finishes what it sent before it exits.
 */
extern void awl_http_keep_transfers_on_die(void);

/* The wait event to report for a wait of that kind. */
extern uint32 awl_wait_event(AwlWait kind);

typedef struct AwlHttpRequest
{
	const char *method;			/* "GET", "PUT", "POST" */
	const char *url;
	const char *const *headers; /* "Name: value" lines */
	int			nheaders;
	const char *body;
	size_t		body_len;
	long		connect_timeout_ms; /* 0: libcurl's default */
	long		timeout_ms;		/* 0: no limit */
	size_t		max_response;	/* larger bodies fail the request */
	AwlWait		wait;			/* reported while waiting; 0: AWL_WAIT_HTTP */
	bool		direct;			/* a lone request may go over http_raw.c's own
								 * HTTP/1.1 when it sends the same bytes */
} AwlHttpRequest;

typedef enum AwlHttpFailure
{
	AWL_HTTP_OK = 0,
	AWL_HTTP_CONNECT,			/* could not resolve or connect */
	AWL_HTTP_TIMEOUT,			/* request_timeout_ms or connect timeout hit */
	AWL_HTTP_TRANSFER,			/* connection dropped, truncated body, ... */
	AWL_HTTP_TOO_LARGE			/* response over max_response */
} AwlHttpFailure;

typedef struct AwlHttpResponse
{
	AwlHttpFailure failure;
	char		error[256];		/* libcurl's description when failure != OK */
	long		status;
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		body_len;
	char	   *headers;		/* palloc'd header block of the final response */
} AwlHttpResponse;

/*
 * Fills request i just before it starts (so signatures are fresh); the
 * request, its header lines and its body must stay valid until its
 * AwlHttpDone call (libcurl reads the header lines in place, uncopied).
 */
typedef void (*AwlHttpStart) (int i, AwlHttpRequest *req, void *arg);

/* Receives the response of request i as soon as it is complete. */
typedef void (*AwlHttpDone) (int i, AwlHttpResponse *resp, void *arg);

/*
 * Performs n requests, at most max_parallel at a time, on the backend's
 * connection pool.  The callbacks run between transfers, never inside
 * libcurl, so they may raise errors; every transfer is then aborted.
 */
extern void awl_http_perform_many(int n, int max_parallel, AwlHttpStart start,
								  AwlHttpDone done, void *arg);

/*
 * Performs one request on the backend's shared connection pool; the
 * request's header lines and body must stay valid until it returns.  Transport
 * failures are reported in resp->failure; a query cancel or termination
 * aborts the transfer and is raised as the usual ERROR/FATAL.
 */
extern void awl_http_perform(const AwlHttpRequest *req, AwlHttpResponse *resp);

/*
 * A stream of transfers for a caller that keeps working while they run (the
 * dispatcher): requests join one at a time, each is reported as soon as it
 * is complete, and the others go on.  It has its own connections, apart
 * from the backend's pool, and lives as long as the backend.
 */
typedef struct AwlHttpStream AwlHttpStream;

/* Receives the response of the request tagged tag, allocated in its context. */
typedef void (*AwlHttpStreamDone) (void *tag, AwlHttpResponse *resp, void *arg);

/* A stream of at most max_parallel transfers at once. */
extern AwlHttpStream *awl_http_stream_create(int max_parallel);

/* How many more transfers may join now, and how many are running. */
extern int	awl_http_stream_idle_slots(const AwlHttpStream *s);
extern int	awl_http_stream_running(const AwlHttpStream *s);

/*
 * Starts req (an idle slot must exist); req's strings and body must stay
 * valid until it is reported, and its response is allocated in cxt.
 */
extern void awl_http_stream_add(AwlHttpStream *s, const AwlHttpRequest *req,
								MemoryContext cxt, void *tag);

/*
 * Runs the transfers for at most wait_ms, returning as soon as one or more
 * are complete (each passed to done, which may raise), none is running, or
 * (if wake_on_latch) MyLatch is set.  Returns how many completed.  A cancel
 * or termination is raised as usual; the caller then aborts the stream.
 */
extern int	awl_http_stream_drive(AwlHttpStream *s, long wait_ms, bool wake_on_latch,
								  AwlHttpStreamDone done, void *arg);

/* Ends every running transfer unanswered (their connections are closed). */
extern void awl_http_stream_abort(AwlHttpStream *s);

/*
 * awl_http_perform for a request that carries secrets: afterwards, also
 * when it raises, its header lines and its body are zeroed (they must be
 * writable: the caller's own palloc'd copies).
 */
extern void awl_http_perform_wiped(const AwlHttpRequest *req, AwlHttpResponse *resp);

/* Value of a response header (case-insensitive name), palloc'd, or NULL. */
extern char *awl_http_header(const AwlHttpResponse *resp, const char *name);

#endif							/* AWL_HTTP_H */
