/*
 * The physical floor of a synchronous call: the same keep-alive HTTP POST of
 * the Invoke path with libcurl, in a loop, no PostgreSQL and no signing.
 *
 *   floor URL CALLS OUT   -> writes one latency per line (microseconds) to OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <curl/curl.h>

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void) ptr;
	(void) userdata;
	return size * nmemb;
}

int
main(int argc, char **argv)
{
	CURL	   *h;
	struct curl_slist *headers = NULL;
	FILE	   *out;
	long		calls;
	long		i;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s URL CALLS OUT\n", argv[0]);
		return 2;
	}
	calls = atol(argv[2]);
	out = fopen(argv[3], "w");
	curl_global_init(CURL_GLOBAL_ALL);
	h = curl_easy_init();
	if (out == NULL || h == NULL)
		return 1;
	headers = curl_slist_append(headers, "Content-Type:");
	headers = curl_slist_append(headers, "Expect:");
	headers = curl_slist_append(headers, "X-Amz-Invocation-Type: RequestResponse");
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	for (i = 0; i < calls + 20; i++)
	{
		struct timespec a,
					b;
		long		status = 0;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (curl_easy_perform(h) != CURLE_OK)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			return 1;
		if (i >= 20)			/* warm-up first */
			fprintf(out, "%.1f\n", (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3);
	}
	fclose(out);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return 0;
}
