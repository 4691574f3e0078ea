#!/usr/bin/python3
"""Self-test of the mock Lambda/IMDS endpoint.

Starts mock_lambda.py as a subprocess (the way test/lib.sh does), talks to
it with requests signed by botocore's SigV4Auth and with botocore's own
Lambda client and IMDS fetcher, and checks the replies.  It also runs the
mock's verifier over the stored SigV4 Lambda vectors.

Prints one line per failed check and finally
    mock selftest: N passed, N failed
Exit status 1 if anything failed.
"""
import base64
import calendar
import datetime
import email.utils
import hashlib
import http.client
import json
from urllib.parse import urlencode
import xml.etree.ElementTree as ET
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import botocore.auth
import botocore.awsrequest
import botocore.session
import botocore.utils
from botocore.config import Config
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mock_lambda  # noqa: E402  (for the in-process vector check)

ENV = ('AKIDMOCKENV', 'mock-env-secret-key', None)
REGION = 'us-east-1'
PASSED, FAILED = [], []


def check(name, ok, detail=''):
    (PASSED if ok else FAILED).append(name)
    if not ok:
        print(f'FAIL {name}: {detail}'[:2000])


# ---------------------------------------------------------------------------
# Driving the mock


class MockProcess:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='mock-selftest.')
        self.port_file = os.path.join(self.dir, 'port')
        self.log = os.path.join(self.dir, 'mock.log')
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, 'mock_lambda.py'),
             '--port-file', self.port_file, '--log', self.log])
        deadline = time.time() + 10
        while not os.path.exists(self.port_file):
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit('mock did not start')
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.host = f'127.0.0.1:{self.port}'

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def sign(method, host, target, body, creds, region=REGION, headers=None, timestamp=None):
    """Headers for a request signed with botocore's SigV4Auth.

    Like SigV4Auth.add_auth, but with a chosen timestamp when asked (to
    test clock skew); target is the wire path and query.
    """
    akid, secret, token = creds
    request = botocore.awsrequest.AWSRequest(
        method=method, url=f'http://{host}{target}', data=body,
        headers=dict(headers or {}, Host=host))
    signer = botocore.auth.SigV4Auth(Credentials(akid, secret, token), 'lambda', region)
    request.context['timestamp'] = timestamp or datetime.datetime.utcnow().strftime(
        '%Y%m%dT%H%M%SZ')
    signer._modify_request_before_signing(request)
    creq = signer.canonical_request(request)
    sts = signer.string_to_sign(request, creq)
    signer._inject_signature_to_request(request, signer.signature(sts, request))
    return dict(request.headers.items())


def wire_name(name):
    """FunctionName as the SDKs put it in the path (every reserved byte encoded)."""
    return botocore.utils.percent_encode(name)


class Reply:
    def __init__(self, resp):
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self.body = resp.read()

    def json(self):
        return json.loads(self.body)


def invoke(mock, name, payload=b'{}', creds=ENV, conn=None, query='', region=REGION,
           headers=None, timestamp=None, mutate=None):
    target = f'/2015-03-31/functions/{wire_name(name)}/invocations{query}'
    hdrs = sign('POST', mock.host, target, payload, creds, region, headers, timestamp)
    if mutate:
        target, hdrs, payload = mutate(target, hdrs, payload)
    own = conn is None
    conn = conn or http.client.HTTPConnection('127.0.0.1', mock.port, timeout=30)
    try:
        conn.request('POST', target, body=payload, headers=hdrs)
        return Reply(conn.getresponse())
    finally:
        if own:
            conn.close()


def imds(mock, method, path, headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', mock.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        return Reply(conn.getresponse())
    finally:
        conn.close()


def imds_credentials(mock):
    token = imds(mock, 'PUT', '/latest/api/token',
                 {'X-aws-ec2-metadata-token-ttl-seconds': '21600'}).body.decode()
    doc = imds(mock, 'GET', '/latest/meta-data/iam/security-credentials/mock-role',
               {'X-aws-ec2-metadata-token': token}).json()
    return doc['AccessKeyId'], doc['SecretAccessKey'], doc['Token']


def stats(mock, conn=None):
    return invoke(mock, 'mockStats', conn=conn).json()


def config(mock, **kw):
    return invoke(mock, 'mockConfig', json.dumps(kw).encode()).json()


def is_error(reply, status, code, message=None, key='Message'):
    try:
        doc = reply.json()
    except ValueError:
        return False
    return (reply.status == status and reply.headers.get('x-amzn-errortype') == code
            and 'x-amzn-requestid' in reply.headers
            and (message is None or doc.get(key) == message))


def describe(reply):
    return f'{reply.status} {reply.headers.get("x-amzn-errortype")} {reply.body[:300]!r}'


# ---------------------------------------------------------------------------
# Checks


def test_basic(mock):
    r = invoke(mock, 'lambdaTest', b'{"name":"bob"}')
    check('lambdaTest result', r.status == 200 and r.body == b'{"name": "bob", "Status": "OK"}',
          describe(r))
    check('success headers', r.headers.get('x-amz-executed-version') == '$LATEST'
          and r.headers.get('content-type') == 'application/json'
          and len(r.headers.get('x-amzn-requestid', '')) == 36, r.headers)
    body = '{"msg":"h\u00e9llo \u2713 \u65e5\u672c","n":[1,2.5,null]}'.encode()
    r = invoke(mock, 'lambdaEcho', body)
    check('echo UTF-8', r.status == 200 and r.json() == json.loads(body), describe(r))
    s = stats(mock)
    check('prev body sha256', s['prev_body_sha256'] == hashlib.sha256(body).hexdigest()
          and s['prev_body_length'] == len(body) and s['prev_function'] == 'lambdaEcho', s)
    check('stats: no content-type/expect', s['last_content_type'] is None
          and s['last_expect'] is None and s['last_access_key_id'] == 'AKIDMOCKENV', s)
    check('stats: no user agent', s['last_user_agent'] is None, s)
    s = invoke(mock, 'mockStats',
               mutate=lambda t, h, p: (t, dict(h, **{'User-Agent': 'selftest/1.0'}), p)).json()
    check('stats: the user agent of this request', s['last_user_agent'] == 'selftest/1.0', s)
    r = invoke(mock, 'lambdaEcho', b'')
    check('empty body is {}', r.status == 200 and r.body == b'{}', describe(r))
    r = invoke(mock, 'lambdaEcho', b'{}', headers={'Content-Type': 'application/json'})
    check('content-type recorded', stats(mock)['prev_content_type'] == 'application/json')


def test_auth(mock):
    r = invoke(mock, 'lambdaTest', creds=('AKIDMOCKENV', 'wrong-secret', None))
    check('wrong secret -> 403', is_error(r, 403, 'InvalidSignatureException',
                                          mock_lambda.BAD_SIGNATURE_MESSAGE), describe(r))
    r = invoke(mock, 'lambdaTest', b'{"a":1}',
               mutate=lambda t, h, b: (t, h, b'{"a":2}'))
    check('body changed after signing -> 403',
          is_error(r, 403, 'InvalidSignatureException'), describe(r))
    r = invoke(mock, 'lambdaTest', mutate=lambda t, h, b: (
        t, {k: v for k, v in h.items() if k != 'Authorization'}, b))
    check('no Authorization -> 403', is_error(
        r, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token'),
        describe(r))
    r = invoke(mock, 'lambdaTest', mutate=lambda t, h, b: (
        t, dict(h, Authorization='AWS4-HMAC-SHA256 Credential=AKIDMOCKENV'), b))
    check('garbled Authorization -> 403',
          is_error(r, 403, 'IncompleteSignatureException'), describe(r))
    r = invoke(mock, 'lambdaTest', creds=('AKIDUNKNOWN', 'x', None))
    check('unknown key -> 403', is_error(r, 403, 'UnrecognizedClientException',
                                         mock_lambda.INVALID_TOKEN_MESSAGE), describe(r))
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    r = invoke(mock, 'lambdaTest', timestamp=old.strftime('%Y%m%dT%H%M%SZ'))
    check('clock skew -> 403', is_error(r, 403, 'InvalidSignatureException')
          and r.json()['Message'].startswith('Signature expired: '), describe(r))
    r = invoke(mock, 'lambdaTest', creds=('AKIDMOCKENV', 'mock-env-secret-key', 'tok'))
    check('long-term key with token -> 403',
          is_error(r, 403, 'UnrecognizedClientException'), describe(r))
    # A header the client added after signing is harmless; a signed one must match.
    r = invoke(mock, 'lambdaTest', mutate=lambda t, h, b: (t, dict(h, Accept='*/*'), b))
    check('unsigned extra header ok', r.status == 200, describe(r))
    r = invoke(mock, 'lambdaTest', headers={'X-Amz-Log-Type': 'None'},
               mutate=lambda t, h, b: (t, dict(h, **{'X-Amz-Log-Type': 'Tail'}), b))
    check('signed header changed -> 403',
          is_error(r, 403, 'InvalidSignatureException'), describe(r))


def test_names(mock):
    def ok(label, name, version, query=''):
        r = invoke(mock, name, b'{"x":1}', query=query)
        check(label, r.status == 200 and r.headers.get('x-amz-executed-version') == version
              and r.json() == {'x': 1, 'Status': 'OK'}, describe(r))

    ok('name:prod', 'lambdaTest:prod', '1')
    ok('name:1', 'lambdaTest:1', '1')
    ok('name:$LATEST', 'lambdaTest:$LATEST', '$LATEST')
    ok('partial ARN', '123456789012:function:lambdaTest', '$LATEST')
    ok('partial ARN:prod', '123456789012:function:lambdaTest:prod', '1')
    ok('full ARN + Qualifier', 'arn:aws:lambda:us-east-1:123456789012:function:lambdaTest',
       '$LATEST', '?Qualifier=%24LATEST')
    ok('same qualifier twice', 'lambdaTest:prod', '1', '?Qualifier=prod')
    r = invoke(mock, 'arn:aws-cn:lambda:cn-north-1:123456789012:function:lambdaTest',
               region='cn-north-1')
    check('aws-cn ARN', r.status == 200, describe(r))

    r = invoke(mock, 'nope')
    check('unknown function -> 404', is_error(
        r, 404, 'ResourceNotFoundException',
        'Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope'), describe(r))
    r = invoke(mock, 'lambdaTest:staging')
    check('unknown alias -> 404', is_error(
        r, 404, 'ResourceNotFoundException',
        'Function not found: arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:staging'),
        describe(r))
    r = invoke(mock, 'arn:aws:lambda:us-west-2:123456789012:function:lambdaTest')
    check('ARN region != scope -> 404', is_error(
        r, 404, 'ResourceNotFoundException',
        "Functions from 'us-west-2' are not reachable in this region ('us-east-1')"),
        describe(r))
    r = invoke(mock, 'arn:aws:lambda:us-west-2:123456789012:function:lambdaTest',
               region='us-west-2')
    check('ARN signed for its region', r.status == 200, describe(r))
    r = invoke(mock, 'arn:aws:lambda:us-east-1:210987654321:function:lambdaTest')
    check('other account -> 404', is_error(r, 404, 'ResourceNotFoundException'), describe(r))
    r = invoke(mock, 'lambdaTest:prod', query='?Qualifier=1')
    check('qualifier mismatch -> 400', is_error(
        r, 400, 'InvalidParameterValueException',
        'The derived qualifier from the function name does not match the specified '
        'qualifier.', key='message'), describe(r))
    r = invoke(mock, 'lambdaTest/../lambdaTest')
    check('invalid name -> 400', is_error(r, 400, 'ValidationException'), describe(r))


def test_invocation_types(mock):
    config(mock, reset_counters=True)
    body = b'{"async":true}'
    r = invoke(mock, 'lambdaTest', body, headers={'X-Amz-Invocation-Type': 'Event'})
    check('Event -> 202', r.status == 202 and r.body == b'', describe(r))
    events = stats(mock)['events']
    check('Event recorded', len(events) == 1 and events[0]['function'] == 'lambdaTest'
          and events[0]['payload_sha256'] == hashlib.sha256(body).hexdigest(), events)
    r = invoke(mock, 'lambdaTest', headers={'X-Amz-Invocation-Type': 'DryRun'})
    check('DryRun -> 204', r.status == 204 and r.body == b'', describe(r))
    r = invoke(mock, 'nope', headers={'X-Amz-Invocation-Type': 'DryRun'})
    check('DryRun unknown -> 404', is_error(r, 404, 'ResourceNotFoundException'), describe(r))
    r = invoke(mock, 'lambdaTest', headers={'X-Amz-Invocation-Type': 'Sometimes'})
    check('bad invocation type -> 400',
          is_error(r, 400, 'InvalidParameterValueException'), describe(r))
    r = invoke(mock, 'lambdaTest', b'{"a":1}', headers={'X-Amz-Log-Type': 'Tail'})
    log = base64.b64decode(r.headers.get('x-amz-log-result', '')).decode()
    check('Tail log', r.status == 200 and log.startswith('START RequestId: ')
          and 'END RequestId: ' in log, describe(r))


def test_payloads(mock):
    big = b'{"data":"' + b'x' * (6291456 - 11) + b'"}'
    started = time.monotonic()
    r = invoke(mock, 'lambdaEcho', big)
    elapsed = time.monotonic() - started
    check('6 MiB echo', r.status == 200 and len(json.loads(r.body)['data']) == 6291456 - 11,
          describe(r))
    check('6 MiB echo < 1 s', elapsed < 1.0, f'{elapsed:.2f}s')
    over = b'{"data":"' + b'x' * (6291456 - 10) + b'"}'
    r = invoke(mock, 'lambdaEcho', over)
    check('6 MiB + 1 -> 413', is_error(
        r, 413, 'RequestTooLargeException', '6291457 byte payload is too large for the '
        'RequestResponse invocation type (limit 6291456 bytes)', key='message'), describe(r))
    r = invoke(mock, 'lambdaEcho', b'"' + b'y' * 1048576 + b'"',
               headers={'X-Amz-Invocation-Type': 'Event'})
    check('Event 1 MiB + 2 -> 413', is_error(
        r, 413, 'RequestTooLargeException', '1048578 byte payload is too large for the '
        'Event invocation type (limit 1048576 bytes)', key='message'), describe(r))
    r = invoke(mock, 'lambdaEcho', b'{"name":')
    check('bad JSON -> 400', is_error(r, 400, 'InvalidRequestContentException')
          and r.json()['message'].startswith('Could not parse request body into json: '),
          describe(r))
    r = invoke(mock, 'lambdaLargePayload', b'{"size": 100}')
    check('large payload data', r.status == 200 and r.json()['data'] ==
          ('0123456789abcdef' * 7)[:100], describe(r))
    r = invoke(mock, 'lambdaLargePayload', b'{"size": 6291600}')
    check('response too large', r.status == 200
          and r.headers.get('x-amz-function-error') == 'Unhandled'
          and r.json()['errorType'] == 'Function.ResponseSizeTooLarge', describe(r))


def test_function_errors(mock):
    r = invoke(mock, 'lambdaError', b'{"reason":"disk full"}')
    doc = r.json() if r.status == 200 else {}
    check('handler exception', r.headers.get('x-amz-function-error') == 'Unhandled'
          and doc.get('errorMessage') == 'something went wrong: disk full'
          and doc.get('errorType') == 'ValueError' and doc.get('stackTrace')
          and doc.get('requestId') == r.headers.get('x-amzn-requestid'), describe(r))

    def read(event):
        return invoke(mock, 'lambdaReadKinesisStream', json.dumps(event).encode())

    seen, seq, it = [], '', ''
    for _ in range(10):
        doc = read({'StreamName': 'SensorReadings', 'SequenceNumber': seq,
                    'NextShardIterator': it}).json()
        if not doc['Data']:
            break
        json.loads(doc['Data'])
        seen.append(doc['SequenceNumber'])
        seq, it = doc['SequenceNumber'], doc['NextShardIterator']
    check('kinesis reads 5 records', len(seen) == 5 and seen == sorted(seen, key=int)
          and doc == {'Data': '', 'SequenceNumber': seq, 'NextShardIterator': it}, seen)
    doc = read({'StreamName': 'SensorReadings', 'SequenceNumber': seen[1]}).json()
    check('kinesis after sequence number', doc['SequenceNumber'] == seen[2], doc)
    r = read({'StreamName': 'NoSuchStream', 'SequenceNumber': '', 'NextShardIterator': ''})
    check('kinesis unknown stream', r.headers.get('x-amz-function-error') == 'Unhandled'
          and r.json()['errorType'] == 'ResourceNotFoundException'
          and r.json()['errorMessage'] ==
          'Stream NoSuchStream under account 123456789012 not found.', describe(r))


def test_forced_status(mock):
    def forced(event):
        return invoke(mock, 'mockStatus', json.dumps(event).encode())

    r = forced({'status': 429, 'code': 'TooManyRequestsException',
                'message': 'Rate Exceeded.', 'message_key': 'message'})
    check('forced 429', is_error(r, 429, 'TooManyRequestsException', 'Rate Exceeded.',
                                 key='message')
          and r.json().get('Reason') == 'ConcurrentInvocationLimitExceeded', describe(r))
    r = forced({'status': 502, 'raw': '<html>Bad Gateway</html>', 'content_type': 'text/html'})
    check('forced 502 HTML', r.status == 502 and r.body == b'<html>Bad Gateway</html>'
          and 'x-amzn-errortype' not in r.headers, describe(r))
    r = forced({'status': 400, 'code_in_body': 'aws.lambda#InvalidParameterValueException',
                'message': 'm', 'message_key': 'message'})
    check('forced code in body', r.status == 400 and 'x-amzn-errortype' not in r.headers
          and r.json().get('__type') == 'aws.lambda#InvalidParameterValueException', describe(r))
    r = forced({'status': 200, 'raw': 'not json at all'})
    check('forced non-JSON 200', r.status == 200 and r.body == b'not json at all', describe(r))
    try:
        r = forced({'truncate': True})
        check('forced truncation', False, describe(r))
    except http.client.IncompleteRead as exc:
        check('forced truncation', len(exc.partial) == 10, exc)
    r = forced({'status': 500, 'code': 'ServiceException', 'times': 1})
    r2 = forced({'status': 500, 'code': 'ServiceException', 'times': 1})
    check('forced once, then success', r.status == 500 and r2.status == 200, describe(r2))


def test_imds(mock):
    config(mock, reset_counters=True)
    r = imds(mock, 'PUT', '/latest/api/token', {'X-aws-ec2-metadata-token-ttl-seconds': '0'})
    check('IMDS ttl 0 -> 400', r.status == 400, describe(r))
    r = imds(mock, 'PUT', '/latest/api/token', {'X-aws-ec2-metadata-token-ttl-seconds': '60',
                                                'X-Forwarded-For': '10.0.0.1'})
    check('IMDS X-Forwarded-For -> 403', r.status == 403, describe(r))
    r = imds(mock, 'PUT', '/latest/api/token', {'X-aws-ec2-metadata-token-ttl-seconds': '60'})
    token = r.body.decode()
    check('IMDS token', r.status == 200 and len(token) > 20, describe(r))
    role_path = '/latest/meta-data/iam/security-credentials/'
    r = imds(mock, 'GET', role_path)
    check('IMDS without token -> 401', r.status == 401, describe(r))
    r = imds(mock, 'GET', role_path, {'X-aws-ec2-metadata-token': 'bogus'})
    check('IMDS bad token -> 401', r.status == 401, describe(r))
    r = imds(mock, 'GET', role_path, {'X-aws-ec2-metadata-token': token})
    check('IMDS role', r.status == 200 and r.body == b'mock-role', describe(r))
    r = imds(mock, 'GET', role_path + 'other-role', {'X-aws-ec2-metadata-token': token})
    check('IMDS unknown role -> 404', r.status == 404, describe(r))
    r = imds(mock, 'GET', role_path + 'mock-role', {'X-aws-ec2-metadata-token': token})
    doc = r.json()
    check('IMDS credentials', r.status == 200 and doc['Code'] == 'Success'
          and doc['AccessKeyId'].startswith('ASIAMOCK') and len(doc['SecretAccessKey']) == 40
          and '/' in doc['Token'] and '+' in doc['Token'] and doc['Token'].endswith('=')
          and doc['Expiration'].endswith('Z'), doc)
    expires = calendar.timegm(time.strptime(doc['Expiration'], '%Y-%m-%dT%H:%M:%SZ'))
    check('IMDS expiry 6 h', abs(expires - time.time() - 21600) < 5, doc['Expiration'])
    r = imds(mock, 'GET', '/latest/meta-data/placement/region',
             {'X-aws-ec2-metadata-token': token})
    check('IMDS region', r.status == 200 and r.body == b'us-east-1', describe(r))
    check('IMDS other path -> 404', imds(mock, 'GET', '/latest/meta-data/ami-id', {
        'X-aws-ec2-metadata-token': token}).status == 404)

    creds = (doc['AccessKeyId'], doc['SecretAccessKey'], doc['Token'])
    r = invoke(mock, 'lambdaTest', b'{"name":"imds"}', creds=creds)
    check('invoke with IMDS credentials', r.status == 200, describe(r))
    s = stats(mock)
    check('IMDS counters', s['imds_token_requests'] == 3 and s['imds_role_requests'] == 3
          and s['imds_credential_requests'] == 2 and s['imds_region_requests'] == 1
          and s['prev_access_key_id'] == creds[0], s)
    r = invoke(mock, 'lambdaTest', creds=creds, mutate=lambda t, h, b: (
        t, {k: v for k, v in h.items() if k != 'X-Amz-Security-Token'}, b))
    check('IMDS key without token -> 403', r.status == 403, describe(r))
    flipped = creds[2][:100] + ('B' if creds[2][100] == 'A' else 'A') + creds[2][101:]
    r = invoke(mock, 'lambdaTest', creds=(creds[0], creds[1], flipped))
    check('IMDS key wrong token -> 403',
          is_error(r, 403, 'UnrecognizedClientException'), describe(r))
    r = invoke(mock, 'lambdaTest', creds=creds, mutate=lambda t, h, b: (
        t, dict(h, Authorization=h['Authorization'].replace(';x-amz-security-token', '')), b))
    check('unsigned token -> 403', is_error(r, 403, 'InvalidSignatureException'), describe(r))

    check('mockConfig', config(mock, imds_expiry_seconds=-10, imds_region='eu-west-1') ==
          {'imds_expiry_seconds': -10, 'imds_region': 'eu-west-1', 'imds_expired_next': 0,
           'sts_expiry_seconds': 3600, 'imds_token_status': None, 'imds_delay_ms': 0,
           'imds_delay_requests': 0, 'throttle_per_second': 0, 'clock_skew_seconds': 0})
    expired = imds_credentials(mock)
    r = invoke(mock, 'lambdaTest', creds=expired)
    check('expired credentials -> 403', is_error(
        r, 403, 'ExpiredTokenException',
        'The security token included in the request is expired'), describe(r))

    # botocore's own IMDS client and Lambda client against the mock.
    config(mock, imds_expiry_seconds=21600, imds_region='us-east-1')
    fetcher = botocore.utils.InstanceMetadataFetcher(
        timeout=2, num_attempts=1, base_url=f'http://127.0.0.1:{mock.port}')
    got = fetcher.retrieve_iam_role_credentials()
    check('botocore IMDS fetcher', got.get('role_name') == 'mock-role'
          and got.get('access_key', '').startswith('ASIAMOCK'), got.get('role_name'))
    client = botocore.session.get_session().create_client(
        'lambda', region_name=REGION, endpoint_url=f'http://127.0.0.1:{mock.port}',
        aws_access_key_id=got['access_key'], aws_secret_access_key=got['secret_key'],
        aws_session_token=got['token'], config=Config(retries={'max_attempts': 1}))
    for name, qualifier in (('lambdaTest', None), ('lambdaTest:prod', None),
                            ('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest',
                             '$LATEST')):
        kw = {'FunctionName': name, 'Payload': b'{"via":"botocore"}', 'LogType': 'Tail',
              'ClientContext': base64.b64encode(b'{"custom":{"a":1}}').decode()}
        if qualifier:
            kw['Qualifier'] = qualifier
        try:
            out = client.invoke(**kw)
            ok = out['StatusCode'] == 200 and json.loads(out['Payload'].read()) == {
                'via': 'botocore', 'Status': 'OK'}
        except Exception as exc:  # report, do not abort the run
            ok, out = False, exc
        check(f'botocore client invoke {name}', ok, out)


def test_keepalive(mock):
    config(mock, reset_counters=True)
    conn = http.client.HTTPConnection('127.0.0.1', mock.port, timeout=30)
    for i in range(4):
        r = invoke(mock, 'lambdaTest', json.dumps({'i': i}).encode(), conn=conn)
        check(f'keep-alive request {i}', r.status == 200, describe(r))
    s = stats(mock, conn=conn)
    conn.close()
    check('5 requests = 1 connection', s['connections'] == 1 and s['requests'] == 5
          and s['invokes'] == 5 and s['invoke_connections'] == 1
          and s['imds_connections'] == 0, s)


def test_expect_continue(mock):
    """A raw client that waits for 100 Continue before sending the body."""
    body = b'{"expect":"continue"}'
    target = '/2015-03-31/functions/lambdaEcho/invocations'
    hdrs = sign('POST', mock.host, target, body, ENV)
    hdrs.update({'Expect': '100-continue', 'Content-Length': str(len(body))})
    with socket.create_connection(('127.0.0.1', mock.port), timeout=10) as sock:
        head = f'POST {target} HTTP/1.1\r\n' + ''.join(f'{k}: {v}\r\n' for k, v in hdrs.items())
        sock.sendall(head.encode() + b'\r\n')
        interim = sock.recv(1024)
        sock.sendall(body)
        f = sock.makefile('rb')
        status = f.readline()
    check('Expect: 100-continue', interim.startswith(b'HTTP/1.1 100 Continue')
          and b' 200 ' in status, (interim, status))
    check('expect recorded', stats(mock)['prev_expect'] == '100-continue')


def test_chunked(mock):
    body = b'{"chunked":"' + b'z' * 70000 + b'"}'
    target = '/2015-03-31/functions/lambdaEcho/invocations'
    hdrs = sign('POST', mock.host, target, body, ENV)
    conn = http.client.HTTPConnection('127.0.0.1', mock.port, timeout=10)
    try:
        conn.request('POST', target, body=iter([body[:1000], body[1000:]]), headers=hdrs,
                     encode_chunked=True)
        r = Reply(conn.getresponse())
    finally:
        conn.close()
    check('chunked request body', r.status == 200 and r.body == json.dumps(
        json.loads(body)).encode(), describe(r))


def test_vectors():
    """The mock's verifier accepts every stored Lambda vector, and only as signed."""
    folder = os.path.join(HERE, '..', 'testdata', 'sigv4-lambda')
    if not os.path.isdir(folder):
        print('note: no testdata/sigv4-lambda, vector check skipped')
        return
    for case in sorted(os.listdir(folder)):
        meta_path = os.path.join(folder, case, 'case.json')
        if not os.path.exists(meta_path):
            continue
        with open(meta_path) as f:
            meta = json.load(f)
        with open(os.path.join(folder, case, case + '.sreq'), 'rb') as f:
            head, _, body = f.read().partition(b'\n\n')
        lines = head.decode().split('\n')
        method, target, _ = lines[0].split(' ')
        headers = [tuple(s.strip() for s in line.split(':', 1)) for line in lines[1:]]
        state = mock_lambda.MockState(HERE)
        state.issued[meta['access_key_id']] = (meta['secret_access_key'],
                                               meta['session_token'], None)
        now = calendar.timegm(time.strptime(meta['x_amz_date'], '%Y%m%dT%H%M%SZ'))
        try:
            got = mock_lambda.verify_sigv4(state, method, target, headers, body, now=now)
            check(f'vector {case}', got == (meta['access_key_id'], meta['region']), got)
        except mock_lambda.ApiError as err:
            check(f'vector {case}', False, f'{err.code}: {err.message}')
        try:
            mock_lambda.verify_sigv4(state, method, target, headers, body + b' ', now=now)
            check(f'vector {case} tampered', False, 'accepted')
        except mock_lambda.ApiError as err:
            check(f'vector {case} tampered', err.code == 'InvalidSignatureException', err.code)



def sts_request(mock, params, creds=None, service='sts'):
    """POST an STS query; signed with creds (SigV4, service `service`) when given."""
    body = urlencode(params).encode()
    headers = {'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'}
    if creds:
        akid, secret, token = creds
        request = botocore.awsrequest.AWSRequest(method='POST', url=f'http://{mock.host}/',
                                                 data=body, headers=dict(headers, Host=mock.host))
        botocore.auth.SigV4Auth(Credentials(akid, secret, token), service, 'us-east-1').add_auth(request)
        headers = dict(request.headers.items())
    conn = http.client.HTTPConnection('127.0.0.1', mock.port, timeout=10)
    try:
        conn.request('POST', '/', body=body, headers=headers)
        return Reply(conn.getresponse())
    finally:
        conn.close()


def sts_credentials(reply):
    ns = '{https://sts.amazonaws.com/doc/2011-06-15/}'
    root = ET.fromstring(reply.body)
    c = root.find(f'.//{ns}Credentials')
    return (c.find(f'{ns}AccessKeyId').text, c.find(f'{ns}SecretAccessKey').text,
            c.find(f'{ns}SessionToken').text, c.find(f'{ns}Expiration').text)


def sts_error_code(reply):
    try:
        return ET.fromstring(reply.body).find(
            './/{https://sts.amazonaws.com/doc/2011-06-15/}Code').text
    except (ET.ParseError, AttributeError):
        return None


def test_sts(mock):
    role = 'arn:aws:iam::123456789012:role/app'
    web = {'Action': 'AssumeRoleWithWebIdentity', 'Version': '2011-06-15', 'RoleArn': role,
           'RoleSessionName': 'selftest', 'WebIdentityToken': 'mock-web-identity-token-eks'}
    r = sts_request(mock, web)
    check('web identity -> 200', r.status == 200 and b'<AssumeRoleWithWebIdentityResult>' in r.body,
          describe(r))
    akid, secret, token, expiration = sts_credentials(r)
    check('web identity key', akid.startswith('ASIASTSW') and expiration.endswith('Z'), akid)
    r = invoke(mock, 'mockStats', creds=(akid, secret, token))
    s = r.json() if r.status == 200 else {}
    check('STS credential accepted by Lambda', r.status == 200
          and s.get('last_credential_source') == 'sts-web-identity', describe(r))
    check('last_sts has no token', s.get('last_sts', {}).get('action') == 'AssumeRoleWithWebIdentity'
          and 'mock-web-identity-token-eks' not in json.dumps(s), s.get('last_sts'))
    r = sts_request(mock, dict(web, WebIdentityToken='forged'))
    check('bad web identity token -> 400', r.status == 400
          and sts_error_code(r) == 'InvalidIdentityToken', describe(r))
    r = sts_request(mock, dict(web, RoleArn='not-an-arn'))
    check('bad role ARN -> 400', r.status == 400 and sts_error_code(r) == 'ValidationError',
          describe(r))

    assume = {'Action': 'AssumeRole', 'Version': '2011-06-15', 'RoleArn': role,
              'RoleSessionName': 'selftest', 'ExternalId': 'x-1'}
    r = sts_request(mock, assume, creds=ENV)
    check('AssumeRole signed -> 200', r.status == 200 and b'<AssumeRoleResult>' in r.body, describe(r))
    creds = sts_credentials(r)[:3]
    check('assumed role works', invoke(mock, 'mockStats', creds=creds).json().get(
        'last_credential_source') == 'sts-assume-role')
    check('last_sts signed_by', stats(mock)['last_sts'].get('signed_by') == 'AKIDMOCKENV')
    r = sts_request(mock, assume)
    check('AssumeRole unsigned -> 403', r.status == 403
          and sts_error_code(r) == 'MissingAuthenticationToken', describe(r))
    r = sts_request(mock, assume, creds=('AKIDMOCKENV', 'wrong', None))
    check('AssumeRole bad signature -> 403', r.status == 403
          and sts_error_code(r) == 'SignatureDoesNotMatch', describe(r))
    r = sts_request(mock, assume, creds=ENV, service='lambda')
    check('AssumeRole scoped to lambda -> 403', r.status == 403, describe(r))
    r = sts_request(mock, assume, creds=creds)
    check('AssumeRole with temporary creds -> 200', r.status == 200, describe(r))
    check('STS counters', stats(mock)['sts_assume_role_requests'] >= 4
          and stats(mock)['sts_web_identity_requests'] >= 3)


def test_container(mock):
    r = imds(mock, 'GET', '/container-credentials/role')
    check('container creds -> 200', r.status == 200 and r.json()['AccessKeyId'].startswith('ASIACTR'),
          describe(r))
    doc = r.json()
    r = invoke(mock, 'mockStats', creds=(doc['AccessKeyId'], doc['SecretAccessKey'], doc['Token']))
    check('container credential accepted', r.status == 200
          and r.json()['last_credential_source'] == 'container', describe(r))
    config(mock, container_auth_token='secret-agent-token')
    r = imds(mock, 'GET', '/container-credentials/role')
    check('container without token -> 401', r.status == 401, describe(r))
    r = imds(mock, 'GET', '/container-credentials/role', {'Authorization': 'secret-agent-token'})
    check('container with token -> 200', r.status == 200, describe(r))
    s = stats(mock)
    check('container auth recorded as hash', s['last_container_authorization_sha256'] ==
          hashlib.sha256(b'secret-agent-token').hexdigest()
          and 'secret-agent-token' not in json.dumps(s))
    config(mock, container_auth_token=None)
    check('container counter', stats(mock)['container_credential_requests'] == 3)

def test_delivery(mock):
    config(mock, reset_counters=True)
    invoke(mock, 'lambdaTest', b'{"n": 1}')
    invoke(mock, 'lambdaTest', b'{"n": 1}', headers={'X-Amz-Invocation-Type': 'Event'})
    cc = base64.b64encode(b'{"custom": {"awslambda_invocation_id": "abc"}}').decode()
    invoke(mock, 'lambdaEcho', b'{"n": 2}', headers={'X-Amz-Client-Context': cc})
    got = invoke(mock, 'mockAccepted', b'{"function": "lambdaTest", "payloads": true}').json()
    check('mockAccepted counts one function', got['count'] == 2 and got['distinct_payloads'] == 1
          and got['types'] == ['Event', 'RequestResponse'] and got['payloads'] == ['{"n": 1}'] * 2,
          got)
    got = invoke(mock, 'mockAccepted', b'{}').json()
    check('mockAccepted sees invocation ids', got['count'] == 3 and got['invocation_ids'] == ['abc'],
          got)
    config(mock, throttle_per_second=1)
    statuses = [invoke(mock, 'lambdaTest').status for _ in range(3)]
    config(mock, throttle_per_second=0)
    got = invoke(mock, 'mockAccepted', b'{}').json()
    check('throttle_per_second answers 429', 429 in statuses and 200 in statuses
          and got['throttled'] == statuses.count(429) and got['count'] == 3 + statuses.count(200),
          (statuses, got))
    check('throttle off again', invoke(mock, 'lambdaTest').status == 200)


def test_tenancy_durable(mock):
    """Tenant isolation, durable executions, $LATEST.PUBLISHED, the 2025 headers' rules."""
    tenant = {'X-Amz-Tenant-Id': 'blue.team:a/b=c+d-e@f g'}
    r = invoke(mock, 'lambdaTenant', b'{"n":1}', headers=tenant)
    check('tenant-isolated function with a tenant id', r.status == 200 and r.json() == {
        'tenant': 'blue.team:a/b=c+d-e@f g', 'event': {'n': 1}}, describe(r))
    s = stats(mock)
    check('stats: prev tenant id, host, signing region',
          s['prev_tenant_id'] == 'blue.team:a/b=c+d-e@f g' and s['prev_host'] == mock.host
          and s['prev_signing_region'] == REGION, s)
    r = invoke(mock, 'lambdaTenant', b'{}', headers={'X-Amz-Invocation-Type': 'Event', **tenant})
    check('tenant id with Event', r.status == 202, describe(r))
    r = invoke(mock, 'lambdaTenant')
    check('no tenant id -> 400', is_error(r, 400, 'InvalidParameterValueException', key='message')
          and 'tenant isolation' in r.json()['message'], describe(r))
    r = invoke(mock, 'lambdaTest', headers=tenant)
    check('tenant id for a plain function -> 400',
          is_error(r, 400, 'InvalidParameterValueException', key='message'), describe(r))
    for bad in ('x' * 257, 'a#b', 'caf\u00e9'):
        r = invoke(mock, 'lambdaTenant', headers={'X-Amz-Tenant-Id': bad})
        check(f'tenant id {bad[:10]!r} -> ValidationException',
              is_error(r, 400, 'ValidationException', key='message'), describe(r))

    def unsigned(name):
        def mutate(target, hdrs, payload):
            hdrs = dict(hdrs)
            hdrs[name] = 'blue'
            return target, hdrs, payload
        return mutate
    r = invoke(mock, 'lambdaTenant', mutate=unsigned('X-Amz-Tenant-Id'))
    check('unsigned tenant id -> 403', is_error(r, 403, 'InvalidSignatureException'), describe(r))

    r = invoke(mock, 'lambdaTest:$LATEST.PUBLISHED')
    check('$LATEST.PUBLISHED -> version 1', r.status == 200
          and r.headers.get('x-amz-executed-version') == '1', describe(r))
    r = invoke(mock, 'lambdaTest', query='?Qualifier=%24LATEST.PUBLISHED')
    check('?Qualifier=$LATEST.PUBLISHED', r.status == 200
          and r.headers.get('x-amz-executed-version') == '1', describe(r))
    r = invoke(mock, 'lambdaTenant:$LATEST.PUBLISHED', headers=tenant)
    check('no published version -> NoPublishedVersionException',
          is_error(r, 400, 'NoPublishedVersionException'), describe(r))

    name = {'X-Amz-Durable-Execution-Name': 'order-42_a'}
    r1 = invoke(mock, 'lambdaDurable', b'{"order":42}', headers=name)
    arn = r1.headers.get('x-amz-durable-execution-arn', '')
    check('durable start returns the ARN', r1.status == 200 and arn.startswith(
        'arn:aws:lambda:us-east-1:123456789012:function:lambdaDurable:$LATEST'
        '/durable-execution/order-42_a/'), describe(r1))
    r2 = invoke(mock, 'lambdaDurable', b'{"order":42}', headers=name)
    check('same name, same payload: the same execution',
          r2.status == 200 and r2.headers.get('x-amz-durable-execution-arn') == arn
          and r2.body == r1.body, describe(r2))
    r3 = invoke(mock, 'lambdaDurable', b'{"order":43}', headers=name)
    check('same name, other payload -> 409', is_error(
        r3, 409, 'DurableExecutionAlreadyStartedException'), describe(r3))
    runs = [e for e in stats(mock)['durable_executions'] if e['name'] == 'order-42_a']
    check('one execution, three starts', len(runs) == 1 and runs[0]['starts'] == 3, runs)
    r = invoke(mock, 'lambdaDurable', b'{}', headers={'X-Amz-Invocation-Type': 'Event'})
    check('unnamed Event start has an ARN', r.status == 202
          and '/durable-execution/' in r.headers.get('x-amz-durable-execution-arn', ''), describe(r))
    r = invoke(mock, 'lambdaTest', headers=name)
    check('durable name for a plain function -> 400',
          is_error(r, 400, 'InvalidParameterValueException', key='message'), describe(r))
    r = invoke(mock, 'lambdaDurable', headers={'X-Amz-Durable-Execution-Name': 'a.b'})
    check('durable name outside its pattern -> ValidationException',
          is_error(r, 400, 'ValidationException', key='message'), describe(r))

    # Error bodies: the message member as the model's shape spells it.
    for code, status, key in (('ResourceNotReadyException', 502, 'message'),
                              ('EC2AccessDeniedException', 502, 'Message'),
                              ('RecursiveInvocationException', 400, 'Message'),
                              ('DurableExecutionAlreadyStartedException', 409, 'Message')):
        r = invoke(mock, 'mockStatus', json.dumps({'status': status, 'code': code}).encode())
        check(f'{code} body uses {key}', is_error(r, status, code, key=key), describe(r))

    # botocore's own client, where its model knows the 2025 members.
    rules = stats(mock)['invoke_header_rules']
    client = botocore.session.get_session().create_client(
        'lambda', region_name=REGION, endpoint_url=f'http://127.0.0.1:{mock.port}',
        aws_access_key_id=ENV[0], aws_secret_access_key=ENV[1],
        config=Config(retries={'max_attempts': 1}))
    members = client.meta.service_model.operation_model('Invoke').input_shape.members
    if 'TenantId' in members and 'DurableExecutionName' in members:
        check('mock reads the header rules from botocore', rules == {
            'TenantId': 'botocore', 'DurableExecutionName': 'botocore'}, rules)
        out = client.invoke(FunctionName='lambdaTenant', TenantId='green', Payload=b'{}')
        check('botocore client: TenantId', json.loads(out['Payload'].read())['tenant'] == 'green',
              out)
        out = client.invoke(FunctionName='lambdaDurable', DurableExecutionName='via-botocore',
                            Payload=b'{}')
        check('botocore client: DurableExecutionArn',
              '/durable-execution/via-botocore/' in out.get('DurableExecutionArn', ''), out)
    else:
        check('header rules are the mock\'s own for this botocore', rules == {
            'TenantId': 'mock', 'DurableExecutionName': 'mock'}, rules)


def test_clock_skew(mock):
    config(mock, clock_skew_seconds=600)
    r = invoke(mock, 'lambdaTest')
    date = email.utils.parsedate_to_datetime(r.headers.get('date')).timestamp()
    check('clock_skew_seconds: Date is 10 min ahead', abs(date - time.time() - 600) < 5, r.headers)
    check('clock_skew_seconds: a request signed now has expired',
          is_error(r, 403, 'InvalidSignatureException') and
          r.json()['Message'].startswith('Signature expired: '), describe(r))
    ahead = datetime.datetime.fromtimestamp(time.time() + 600, datetime.timezone.utc)
    r = invoke(mock, 'lambdaTest', timestamp=ahead.strftime('%Y%m%dT%H%M%SZ'))
    check('clock_skew_seconds: signed at the mock\'s time -> 200', r.status == 200, describe(r))
    r = invoke(mock, 'lambdaTest', headers={'X-Amz-Invocation-Type': 'DryRun'})
    check('clock_skew_seconds: DryRun refused too', is_error(r, 403, 'InvalidSignatureException'),
          describe(r))
    check('clock_skew_seconds: control functions still reachable',
          stats(mock)['config']['clock_skew_seconds'] == 600)
    # As the extension reads it: the Date's whole seconds less its own at arrival,
    # here taken 0.3 s after a request sent late in a second.
    time.sleep(1.85 - time.time() % 1.0)
    r = invoke(mock, 'lambdaTest')
    time.sleep(0.3)
    seen = int(email.utils.parsedate_to_datetime(r.headers.get('date')).timestamp()) - int(time.time())
    check('clock_skew_seconds: a reply read late shows the whole skew', seen == 600, seen)
    config(mock, clock_skew_seconds=0)
    r = invoke(mock, 'lambdaTest')
    date = email.utils.parsedate_to_datetime(r.headers.get('date')).timestamp()
    check('clock_skew_seconds off again', r.status == 200 and abs(date - time.time()) < 5,
          describe(r))


def main():
    test_vectors()
    mock = MockProcess()
    try:
        for test in (test_basic, test_auth, test_names, test_invocation_types, test_payloads,
                     test_function_errors, test_forced_status, test_imds, test_keepalive,
                     test_expect_continue, test_chunked, test_sts, test_container,
                     test_delivery, test_tenancy_durable, test_clock_skew):
            try:
                test(mock)
            except Exception as exc:  # one broken group must not hide the others
                check(test.__name__, False, f'{type(exc).__name__}: {exc}')
    finally:
        status = mock.stop()
    check('clean exit on SIGTERM', status == 0, status)
    with open(mock.log) as f:
        log = f.read()
    check('log has no secrets', 'mock-env-secret-key' not in log and 'Signature=' not in log
          and 'IQoJb3JpZ2luX2Vj' not in log, 'secret material in log')
    print(f'mock selftest: {len(PASSED)} passed, {len(FAILED)} failed')
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
