#!/usr/bin/env python3
"""The floor for one synchronous call: a signed Invoke over one kept-alive
HTTP/1.1 connection, straight from Python to the mock, timed from send to the
last byte of the reply.  Signing happens before the clock starts.

usage: http_baseline.py PORT CALLS   -> prints the median and p95 in ms
"""
import datetime
import http.client
import statistics
import sys
import time

import botocore.auth
import botocore.awsrequest
from botocore.credentials import Credentials

CREDS = Credentials('AKIDMOCKENV', 'mock-env-secret-key')
PATH = '/2015-03-31/functions/lambdaTest/invocations'


def signed_headers(host, body):
    req = botocore.awsrequest.AWSRequest(method='POST', url=f'http://{host}{PATH}', data=body,
                                         headers={'Host': host,
                                                  'X-Amz-Invocation-Type': 'RequestResponse'})
    signer = botocore.auth.SigV4Auth(CREDS, 'lambda', 'us-east-1')
    req.context['timestamp'] = datetime.datetime.utcnow().strftime('%Y%m%dT%H%M%SZ')
    signer.add_auth(req)
    return dict(req.headers.items())


def main(port, calls):
    host = f'127.0.0.1:{port}'
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    body = b'{}'
    times = []
    for i in range(calls + 20):
        headers = signed_headers(host, body)
        t0 = time.perf_counter()
        conn.request('POST', PATH, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 200:
            sys.exit(f'unexpected reply {resp.status}: {data[:200]!r}')
        if i >= 20:                      # the first calls warm up both sides
            times.append(elapsed * 1000)
    times.sort()
    print(f'median {statistics.median(times):.3f} ms, p95 {times[int(len(times) * 0.95)]:.3f} ms')


if __name__ == '__main__':
    main(int(sys.argv[1]), int(sys.argv[2]))
