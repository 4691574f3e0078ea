/*-------------------------------------------------------------------------
 *
 * http_perform.c
 *	  The HTTP entry points: a request, a request carrying secrets, many at
 *	  once.  A lone request goes on our own HTTP/1.1 (http_raw.c) when it
 *	  can, everything else on libcurl's pool (http.c).  Calls go down from
 *	  here to those two, never back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "http.h"
#include "http_int.h"

/* A lone request already filled in (awl_http_perform_many), for the pool. */
typedef struct AwlFilled
{
	AwlHttpRequest req;
	AwlHttpDone done;
	void	   *arg;
} AwlFilled;

static void
awl_filled_start(int i, AwlHttpRequest *req, void *arg)
{
	*req = ((AwlFilled *) arg)->req;
}

static void
awl_filled_done(int i, AwlHttpResponse *resp, void *arg)
{
	AwlFilled  *f = (AwlFilled *) arg;

	f->done(i, resp, f->arg);
}

void
awl_http_perform_many(int n, int max_parallel, AwlHttpStart start, AwlHttpDone done,
					  void *arg)
{
	AwlFilled	f;

	if (n != 1)
	{
		awl_http_run_pool(n, max_parallel, start, done, arg);
		return;
	}

	/* A lone request: on our own HTTP/1.1 when it can go there, else the pool. */
	memset(&f.req, 0, sizeof(f.req));
	start(0, &f.req, arg);
	if (f.req.direct && awl_http_raw_usable(&f.req))
	{
		AwlHttpResponse resp;

		awl_http_raw_perform(&f.req, &resp);
		done(0, &resp, arg);
		return;
	}
	f.done = done;
	f.arg = arg;
	awl_http_run_pool(1, 1, awl_filled_start, awl_filled_done, &f);
}

/* The single request of awl_http_perform, handed to the callbacks. */
typedef struct AwlSingle
{
	const AwlHttpRequest *req;
	AwlHttpResponse *resp;
} AwlSingle;

static void
awl_single_start(int i, AwlHttpRequest *req, void *arg)
{
	*req = *((AwlSingle *) arg)->req;
}

static void
awl_single_done(int i, AwlHttpResponse *resp, void *arg)
{
	*((AwlSingle *) arg)->resp = *resp;
}

void
awl_http_perform(const AwlHttpRequest *req, AwlHttpResponse *resp)
{
	AwlSingle	single = {req, resp};

	awl_http_perform_many(1, 1, awl_single_start, awl_single_done, &single);
}

/* Zeroes a request's header lines and body. */
static void
wipe_request(const AwlHttpRequest *req)
{
	int			i;

	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i])
			explicit_bzero(unconstify(char *, req->headers[i]), strlen(req->headers[i]));
	if (req->body_len > 0)
		explicit_bzero(unconstify(char *, req->body), req->body_len);
}

void
awl_http_perform_wiped(const AwlHttpRequest *req, AwlHttpResponse *resp)
{
	PG_TRY();
	{
		awl_http_perform(req, resp);
	}
	PG_CATCH();
	{
		wipe_request(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	wipe_request(req);
}

