/*
 * Cost of signing one Invoke request (what every awslambda call does besides
 * HTTP): SigV4 over a typical Invoke with a session token, many times.
 *
 *   sign_bench [N]   -> prints microseconds per signature
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sigv4.h"

int
main(int argc, char **argv)
{
	AwlSigV4Header h[4] = {
		{"Host", "lambda.us-east-1.amazonaws.com"},
		{"X-Amz-Date", "20260101T000000Z"},
		{"X-Amz-Invocation-Type", "RequestResponse"},
		{"X-Amz-Security-Token", "IQoJb3JpZ2luX2VjEXAMPLEtokenEXAMPLEtokenEXAMPLEtokenEXAMPLEtokenEXAMPLEtoken"},
	};
	AwlSigV4Request r = {"POST", "/2015-03-31/functions/lambdaTest/invocations", NULL, h, 4,
	(const unsigned char *) "{\"name\":\"bob\"}", 14};
	AwlSigV4Signing s = {"ASIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	"us-east-1", "lambda", "20260101T000000Z"};
	int			n = argc > 1 ? atoi(argv[1]) : 200000;
	struct timespec a,
				b;
	int			i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		free(awl_sigv4_authorization(&r, &s, NULL));
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.2f us per signature (%d signatures)\n",
		   ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n, n);
	return 0;
}
