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

/* A lone request already filled in, and where its response goes, for the pool. */
typedef struct AwlLone
{
	AwlHttpRequest req;
	AwlHttpResponse *resp;
} AwlLone;

static void
awl_lone_start(int i, AwlHttpRequest *req, void *arg)
{
	*req = ((AwlLone *) arg)->req;
}

static void
awl_lone_done(int i, AwlHttpResponse *resp, void *arg)
{
	*((AwlLone *) arg)->resp = *resp;
}

/* A lone request: on our own HTTP/1.1 when it can go there, else the pool. */
static void
awl_http_perform_lone(const AwlHttpRequest *req, AwlHttpResponse *resp)
{
	AwlLone		lone = {*req, resp};

	if (req->direct && awl_http_raw_usable(req))
		awl_http_raw_perform(req, resp);
	else
		awl_http_run_pool(1, 1, awl_lone_start, awl_lone_done, &lone);
}

void
awl_http_perform_many(int n, int max_parallel, AwlHttpStart start, AwlHttpDone done,
					  void *arg)
{
	AwlHttpRequest req;
	AwlHttpResponse resp;

	if (n != 1)
	{
		awl_http_run_pool(n, max_parallel, start, done, arg);
		return;
	}
	memset(&req, 0, sizeof(req));
	start(0, &req, arg);
	awl_http_perform_lone(&req, &resp);
	done(0, &resp, arg);
}

void
awl_http_perform(const AwlHttpRequest *req, AwlHttpResponse *resp)
{
	awl_http_perform_lone(req, resp);
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

