#!/usr/bin/python3
"""Local mock of AWS Lambda Invoke and EC2 instance metadata (IMDSv2).

usage: /usr/bin/python3 mock_lambda.py --port-file PATH [--handlers DIR] [--log PATH]

One HTTP/1.1 server on 127.0.0.1 (ephemeral port, written to --port-file)
answers two APIs:

* Lambda Invoke, POST /2015-03-31/functions/{FunctionName}/invocations.
  Every request must carry a SigV4 signature that botocore (Debian's
  python3-botocore) recomputes to the same value, so a signer that passes
  here signs like the AWS SDKs.  Functions are Python files
  <handlers>/<FunctionName>.py defining lambda_handler(event, context);
  mockStats, mockConfig and mockStatus are built in (see README.md).
* IMDSv2 under /latest/: session tokens, a role "mock-role" whose
  credentials are freshly issued on every fetch (and then accepted for
  signing), and the region.

Requires Python 3 and python3-botocore only.  Nothing secret (tokens,
signatures, secret keys) is ever written to the log.
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import hmac
import http.server
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import string
import sys
import threading
import time
import traceback
import types
import uuid
from urllib.parse import unquote

import botocore.auth
import botocore.awsrequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

import mock_sts  # STS and container credentials, next to this file

ACCOUNT_ID = '123456789012'
SYNC_PAYLOAD_LIMIT = 6291456        # 6 MiB, RequestResponse and DryRun
EVENT_PAYLOAD_LIMIT = 1048576       # 1 MiB, Event (since 2025)
RESPONSE_LIMIT = 6291556            # what Lambda reports for too-big results
MAX_BODY_READ = 64 * 1024 * 1024    # beyond this we refuse without reading
CLOCK_SKEW_SECONDS = 300            # AWS accepts X-Amz-Date within 5 minutes
FUNCTION_TIMEOUT_MS = 900000        # what get_remaining_time_in_millis counts from

ENV_ACCESS_KEY_ID = 'AKIDMOCKENV'
ENV_SECRET_ACCESS_KEY = 'mock-env-secret-key'
IMDS_ROLE = 'mock-role'

# Versions and aliases every mock function has; alias "prod" points at 1, and
# so does $LATEST.PUBLISHED (the latest published version).  A handler file
# with PUBLISHED_VERSIONS = False has none of them but $LATEST.
QUALIFIER_VERSIONS = {'$LATEST': '$LATEST', '1': '1', 'prod': '1', '$LATEST.PUBLISHED': '1'}

# Lambda's error shapes spell the message member differently (spec §2.1).
# Where Debian's botocore knows the shape, its model decides (message_key).
LOWERCASE_MESSAGE_CODES = {
    'TooManyRequestsException', 'RequestTooLargeException',
    'InvalidParameterValueException', 'InvalidRequestContentException',
    'UnsupportedMediaTypeException', 'ResourceConflictException',
    'ValidationException', 'SerializedRequestEntityTooLargeException',
    'ResourceNotReadyException',
}

# Invoke's request headers of late 2025, as the 2026 model has them; used when
# the installed botocore's model predates them (see invoke_header_rules).
TENANT_ID_RULE = ('X-Amz-Tenant-Id', 1, 256, r'[a-zA-Z0-9\._:\/=+\-@ ]+')
DURABLE_NAME_RULE = ('X-Amz-Durable-Execution-Name', 1, 64, r'[a-zA-Z0-9-_]+')

# The model's FunctionName pattern (2026), quoted in ValidationException text.
FUNCTION_NAME_PATTERN = (
    r'(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:'
    r'\d{12}:|(((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?))'
    r'(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?')

_REGION = r'(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d'
_QUALIFIER = r'\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+'
# The same pattern with the parts Lambda reads from it, in the same order of
# preference ("function:secret", "us-east-1:secret" and "123456789012:secret"
# all name the function "secret"): partition, region and account of a full
# ARN, region and account of a partial form, name, qualifier.
FUNCTION_NAME_RE = re.compile(
    rf'(?:arn:(aws[a-zA-Z-]*)?:lambda:({_REGION}):(\d{{12}}):'
    rf'|(?:({_REGION}):)?(?:(\d{{12}}):)?)'
    rf'(?:function:)?([a-zA-Z0-9_.-]+)(?::({_QUALIFIER}))?')
QUALIFIER_PARAM_RE = re.compile(r'\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_$-]{1,128}')
REGION_RE = re.compile(_REGION)

INVOKE_PATH_RE = re.compile(r'/2015-03-31/functions/([^/?]+)/invocations')
AMZ_DATE_FORMAT = '%Y%m%dT%H%M%SZ'
BAD_SIGNATURE_MESSAGE = ('The request signature we calculated does not match the '
                         'signature you provided. Check your AWS Secret Access Key '
                         'and signing method.')
INVALID_TOKEN_MESSAGE = 'The security token included in the request is invalid.'


# ---------------------------------------------------------------------------
# Errors and replies


def message_key_for(code):
    return message_key(code)   # defined below, with the model


class ApiError(Exception):
    """A Lambda/AWS API error reply: status, x-amzn-ErrorType, JSON body."""

    def __init__(self, status, code, message, extra=None, close=False):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.close = close      # drop the connection after replying

    def body(self):
        key = message_key_for(self.code)
        doc = dict(self.extra)
        doc.update({'Type': 'User' if self.status < 500 else 'Service', key: self.message})
        return json.dumps(doc, separators=(',', ':')).encode()


class ForcedResponse:
    """A reply spelled out by mockStatus; the server sends it verbatim."""

    def __init__(self, status, headers, body, truncate=False, fault=None):
        self.status = status
        self.headers = headers      # list of (name, value)
        self.body = body            # bytes
        self.truncate = truncate    # announce more bytes than sent, then close
        self.fault = fault          # (kind, argument) for a broken reply, see send_fault


def iso8601(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


def amz_date(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        AMZ_DATE_FORMAT)


def partition_for_region(region):
    if region.startswith('cn-'):
        return 'aws-cn'
    if region.startswith('us-gov-'):
        return 'aws-us-gov'
    return 'aws'


def function_arn(region, name, qualifier=None, account=ACCOUNT_ID, partition=None):
    arn = f'arn:{partition or partition_for_region(region)}:lambda:{region}:{account}:function:{name}'
    return f'{arn}:{qualifier}' if qualifier else arn


# ---------------------------------------------------------------------------
# What botocore's Lambda model says, where its version knows it


def _lambda_model():
    try:
        import botocore.session
        return botocore.session.get_session().get_service_model('lambda')
    except Exception:  # no model data: the built-in tables below apply
        return None


LAMBDA_MODEL = _lambda_model()


def message_key(code):
    """'message' or 'Message': the member the model's error shape has, else our table."""
    if LAMBDA_MODEL is not None:
        try:
            shape = LAMBDA_MODEL.shape_for(code)
            if 'message' in shape.members:
                return 'message'
            if 'Message' in shape.members:
                return 'Message'
        except Exception:
            pass
    return 'message' if code in LOWERCASE_MESSAGE_CODES else 'Message'


def invoke_header_rules():
    """(header, min, max, pattern, source) for TenantId and DurableExecutionName.

    From the installed botocore's Invoke input shape when it has the member
    (botocore 1.42 and later), else from the 2026 model's values above.
    """
    rules = {}
    members = {}
    if LAMBDA_MODEL is not None:
        members = LAMBDA_MODEL.operation_model('Invoke').input_shape.members
    for member, fallback in (('TenantId', TENANT_ID_RULE),
                             ('DurableExecutionName', DURABLE_NAME_RULE)):
        shape = members.get(member)
        if shape is not None:
            meta = shape.metadata
            rules[member] = (shape.serialization.get('name', fallback[0]),
                             meta.get('min', fallback[1]), meta.get('max', fallback[2]),
                             meta.get('pattern', fallback[3]), 'botocore')
        else:
            rules[member] = fallback + ('mock',)
    return rules


INVOKE_HEADER_RULES = invoke_header_rules()


# ---------------------------------------------------------------------------
# Shared state: counters, configuration, issued credentials


class MockState:
    """Everything the server remembers; one lock guards it all."""

    def __init__(self, handlers_dir):
        self.lock = threading.Lock()
        self.handlers = HandlerRegistry(handlers_dir)
        self.config = {'imds_expiry_seconds': 21600, 'imds_region': 'us-east-1',
                       'imds_expired_next': 0, 'sts_expiry_seconds': 3600,
                       'imds_token_status': None, 'imds_delay_ms': 0, 'imds_delay_requests': 0,
                       'container_auth_token': None, 'throttle_per_second': 0,
                       'clock_skew_seconds': 0}
        self.throttle_window = (0, 0)  # (epoch second, invokes accepted in it)
        self.sources = {}             # access key id -> which endpoint issued it
        self.last_sts = None
        self.last_container_auth = None
        self.secrets_log = None       # file every issued secret is appended to
        self.imds_tokens = {}         # token -> expiry epoch
        self.issued = {}              # access key id -> (secret, token, expiry epoch)
        self.issued_count = 0
        self._reset_counters()

    def _reset_counters(self):
        # connections: every TCP connection accepted; invoke_connections /
        # imds_connections split them by the kind of their first request, so
        # a keep-alive test can ignore the extension's metadata traffic.
        self.counters = dict.fromkeys(
            ('connections', 'dropped', 'refused', 'proxied', 'invoke_connections', 'imds_connections', 'requests', 'invokes',
             'imds_token_requests', 'imds_role_requests', 'imds_credential_requests',
             'imds_region_requests', 'sts_assume_role_requests', 'sts_web_identity_requests',
             'container_credential_requests'), 0)
        self.events = []              # async (Event) invocations, oldest first
        self.accepted = []            # (function, type, payload text, client context id)
        self.throttled = 0            # invokes refused by throttle_per_second
        self.last_invoke = None       # summary of the newest invoke request
        self.forced_attempts = {}     # mockStatus payload sha256 -> times seen
        self.durable = {}             # (function, execution name) -> execution

    def count(self, name):
        with self.lock:
            self.counters[name] += 1

    # -- invoke bookkeeping --------------------------------------------------

    def swap_last_invoke(self, summary):
        """Remember this invoke; return the one before it (for prev_* stats)."""
        with self.lock:
            prev, self.last_invoke = self.last_invoke, summary
            return prev

    def record_event(self, function, qualifier, request_id, body):
        entry = {'function': function, 'qualifier': qualifier, 'request_id': request_id,
                 'payload_sha256': hashlib.sha256(body).hexdigest(),
                 'payload_length': len(body), 'status': 'queued'}
        with self.lock:
            self.events.append(entry)
        return entry

    def record_accepted(self, function, invocation_type, body, client_context):
        custom = client_context.custom if client_context else None
        invocation_id = custom.get('awslambda_invocation_id') if isinstance(custom, dict) else None
        with self.lock:
            self.accepted.append((function, invocation_type, body.decode('utf-8', 'replace'),
                                  invocation_id))

    def take_throttle_slot(self):
        """False when this second's throttle_per_second invokes were already let through."""
        with self.lock:
            limit = self.config['throttle_per_second']
            if not limit:
                return True
            second = int(time.time())
            start, used = self.throttle_window
            if start != second:
                start, used = second, 0
            if used >= limit:
                self.throttled += 1
                return False
            self.throttle_window = (start, used + 1)
            return True

    def accepted_summary(self, event):
        """mockAccepted: what reached a function (2xx), for delivery tests."""
        function = event.get('function') if isinstance(event, dict) else None
        with self.lock:
            rows = [a for a in self.accepted if function is None or a[0] == function]
            throttled = self.throttled
        payloads = [r[2] for r in rows]
        result = {'count': len(rows), 'distinct_payloads': len(set(payloads)),
                  'throttled': throttled,
                  'types': sorted(set(r[1] for r in rows)),
                  'invocation_ids': [r[3] for r in rows if r[3]]}
        if isinstance(event, dict) and event.get('payloads'):
            result['payloads'] = payloads
        return result

    def durable_start(self, function, name, body):
        """('new' | 'same' | 'conflict', execution dict) for a start of that name."""
        sha = hashlib.sha256(body).hexdigest()
        with self.lock:
            execution = self.durable.get((function, name))
            if execution is None:
                execution = {'function': function, 'name': name, 'payload_sha256': sha,
                             'id': uuid.uuid4().hex, 'starts': 1, 'reply': None}
                self.durable[(function, name)] = execution
                return 'new', execution
            execution['starts'] += 1
            return ('same' if execution['payload_sha256'] == sha else 'conflict'), execution

    def durable_summary(self):
        with self.lock:
            return [{k: v for k, v in e.items() if k != 'reply'} for e in self.durable.values()]

    def set_event_status(self, entry, status):
        with self.lock:
            entry['status'] = status

    # -- credentials -----------------------------------------------------------

    def lookup_secret(self, access_key_id):
        """Return (secret, required session token or None, expiry or None), or None."""
        if access_key_id == ENV_ACCESS_KEY_ID:
            return ENV_SECRET_ACCESS_KEY, None, None
        with self.lock:
            return self.issued.get(access_key_id)

    def issue_imds_token(self, ttl):
        token = base64.b64encode(secrets.token_bytes(42)).decode()
        now = time.time()
        with self.lock:
            # Forget expired tokens so a long test run does not grow the dict.
            self.imds_tokens = {t: e for t, e in self.imds_tokens.items() if e > now}
            self.imds_tokens[token] = now + ttl
        return token

    def imds_token_valid(self, token):
        with self.lock:
            expiry = self.imds_tokens.get(token or '')
        return expiry is not None and expiry > time.time()

    def issue_credential(self, prefix='ASIAMOCK', source='imds', seconds=None):
        """A new temporary credential, valid `seconds` (default imds_expiry_seconds)."""
        now = time.time()
        with self.lock:
            self.issued_count += 1
            akid = '%s%0*d' % (prefix, 16 - len(prefix), self.issued_count)
            expiry = now + (self.config['imds_expiry_seconds'] if seconds is None else seconds)
            if source == 'imds' and self.config['imds_expired_next'] > 0:
                # Hand out one already-expired credential (clock skew, stale cache).
                self.config['imds_expired_next'] -= 1
                expiry = now - 60
            secret = random_b64_text(40)
            token = session_token()
            self.issued[akid] = (secret, token, expiry)
            self.sources[akid] = source
        self.log_secrets(secret, token)
        return {'Code': 'Success', 'LastUpdated': iso8601(now), 'Type': 'AWS-HMAC',
                'AccessKeyId': akid, 'SecretAccessKey': secret, 'Token': token,
                'Expiration': iso8601(expiry)}

    def log_secrets(self, *values):
        """For the test harness's check that no secret leaks into PostgreSQL's output."""
        if self.secrets_log:
            with self.lock, open(self.secrets_log, 'a') as f:
                for v in values:
                    f.write(v + '\n')

    def credential_source(self, akid):
        if akid == ENV_ACCESS_KEY_ID:
            return 'env'
        with self.lock:
            return self.sources.get(akid)

    def sts_expiry(self):
        with self.lock:
            return self.config['sts_expiry_seconds']

    def container_auth_token(self):
        with self.lock:
            return self.config['container_auth_token']

    def record_sts(self, summary):
        with self.lock:
            self.last_sts = summary

    def record_container_authorization(self, value):
        with self.lock:
            self.last_container_auth = (hashlib.sha256(value.encode()).hexdigest()
                                        if value is not None else None)

    def region(self):
        with self.lock:
            return self.config['imds_region']

    # -- control functions (called through normal signed invokes) -------------

    def stats(self, context):
        headers = context.request_headers
        prev = context.prev_invoke or {}
        with self.lock:
            result = dict(self.counters)
            result.update({
                'last_access_key_id': context.access_key_id,
                'last_content_type': headers.get('content-type'),
                'last_expect': headers.get('expect'),
                'last_user_agent': headers.get('user-agent'),
                'events': [dict(e) for e in self.events],
                'config': {k: v for k, v in self.config.items() if k != 'container_auth_token'},
                'credentials_issued': self.issued_count,
                'last_sts': dict(self.last_sts) if self.last_sts else None,
                'last_container_authorization_sha256': self.last_container_auth,
            })
        result['last_credential_source'] = self.credential_source(context.access_key_id)
        for key in ('function', 'body_sha256', 'body_length', 'content_type', 'expect',
                    'access_key_id', 'invocation_type', 'log_type', 'client_context', 'host',
                    'signing_region', 'tenant_id', 'durable_execution_name'):
            result['prev_' + key] = prev.get(key)
        result['durable_executions'] = self.durable_summary()
        result['invoke_header_rules'] = {k: v[4] for k, v in INVOKE_HEADER_RULES.items()}
        return result

    def configure(self, event):
        if not isinstance(event, dict):
            raise ValueError('mockConfig expects a JSON object')
        with self.lock:
            if 'imds_expiry_seconds' in event:
                value = event['imds_expiry_seconds']
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError('imds_expiry_seconds must be an integer')
                # Zero or negative is allowed: it hands out expired credentials.
                self.config['imds_expiry_seconds'] = value
            if 'imds_expired_next' in event:
                value = event['imds_expired_next']
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError('imds_expired_next must be a non-negative integer')
                self.config['imds_expired_next'] = value
            if 'imds_delay_ms' in event:
                value = event['imds_delay_ms']
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError('imds_delay_ms must be a non-negative integer')
                self.config['imds_delay_ms'] = value
                self.config['imds_delay_requests'] = event.get('imds_delay_requests', 1)
            if 'imds_token_status' in event:
                value = event['imds_token_status']
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError('imds_token_status must be an integer or null')
                self.config['imds_token_status'] = value
            if 'sts_expiry_seconds' in event:
                value = event['sts_expiry_seconds']
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError('sts_expiry_seconds must be an integer')
                self.config['sts_expiry_seconds'] = value
            if 'container_auth_token' in event:
                value = event['container_auth_token']
                if value is not None and not isinstance(value, str):
                    raise ValueError('container_auth_token must be a string or null')
                self.config['container_auth_token'] = value
            if 'throttle_per_second' in event:
                value = event['throttle_per_second']
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError('throttle_per_second must be a non-negative integer')
                self.config['throttle_per_second'] = value
            if 'clock_skew_seconds' in event:
                value = event['clock_skew_seconds']
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError('clock_skew_seconds must be an integer')
                self.config['clock_skew_seconds'] = value
            if 'imds_region' in event:
                if not isinstance(event['imds_region'], str):
                    raise ValueError('imds_region must be a string')
                self.config['imds_region'] = event['imds_region']
            if event.get('reset_counters'):
                self._reset_counters()
            return {k: v for k, v in self.config.items() if k != 'container_auth_token'}

    def clock_skew(self):
        """Seconds the mock's pretended clock runs ahead of the real one."""
        with self.lock:
            return self.config['clock_skew_seconds']

    def forced_response(self, event, body):
        return build_forced_response(self, event, body)

    def forced_attempt(self, body):
        """How many times this exact mockStatus payload has arrived (1 = first)."""
        key = hashlib.sha256(body).hexdigest()
        with self.lock:
            self.forced_attempts[key] = self.forced_attempts.get(key, 0) + 1
            return self.forced_attempts[key]


def random_b64_text(length):
    alphabet = string.ascii_letters + string.digits + '+/'
    return ''.join(secrets.choice(alphabet) for _ in range(length))


def session_token():
    """~300 chars shaped like a real STS token: base64 with '/', '+' and '='."""
    while True:
        # 'IQoJb3JpZ2luX2Vj' is how real tokens begin; 212 bytes -> '=' padding.
        token = 'IQoJb3JpZ2luX2Vj' + base64.b64encode(secrets.token_bytes(212)).decode()
        if '/' in token and '+' in token and token.endswith('='):
            return token


# ---------------------------------------------------------------------------
# Control function mockStatus: an API-level reply chosen by the test


def build_forced_response(state, event, body):
    if not isinstance(event, dict):
        raise ValueError('mockStatus expects a JSON object')
    times = event.get('times')
    if times is not None:
        # Force only the first `times` arrivals of this exact payload, so a
        # test can watch a client retry and then succeed.
        attempt = state.forced_attempt(body)
        if attempt > int(times):
            return {'forced': False, 'attempt': attempt}
    request_id = str(uuid.uuid4())
    for kind in FAULTS:
        if kind in event:
            return ForcedResponse(200, [('x-amzn-RequestId', request_id),
                                        ('Content-Type', 'application/json')],
                                  b'{"fault": "' + kind.encode() + b'"}',
                                  fault=(kind, event[kind]))
    if event.get('truncate'):
        return ForcedResponse(200, [('x-amzn-RequestId', request_id),
                                    ('Content-Type', 'application/json')],
                              b'{"partial"', truncate=True)
    status = int(event.get('status', 200))
    headers = [('x-amzn-RequestId', request_id)]
    for name, value in (event.get('headers') or {}).items():
        # A header given here replaces the mock's own of that name.  Values go
        # out as Latin-1, so "\u00ff" is the byte 0xFF (invalid UTF-8) and
        # "\u0001" a control character, as a hostile endpoint could send them.
        headers = [h for h in headers if h[0].lower() != str(name).lower()]
        headers.append((str(name), str(value)))
    if 'raw' in event:
        headers.append(('Content-Type', event.get('content_type', 'application/json')))
        return ForcedResponse(status, headers, str(event['raw']).encode('utf-8'))
    code = event.get('code')
    code_in_body = event.get('code_in_body')
    message = event.get('message', 'forced by mockStatus')
    message_key = event.get('message_key') or message_key_for(
        (code or code_in_body or '').split(':')[0].split('#')[-1])
    doc = {}
    if status == 429:
        doc['Reason'] = event.get('reason', 'ConcurrentInvocationLimitExceeded')
    if code_in_body:
        doc['__type'] = code_in_body
    doc['Type'] = event.get('type', 'User' if status < 500 else 'Service')
    doc[message_key] = message
    if code:
        headers.append(('x-amzn-ErrorType', code))
    headers.append(('Content-Type', 'application/json'))
    return ForcedResponse(status, headers, json.dumps(doc, separators=(',', ':')).encode())


# mockStatus keys that make the reply itself broken (network and protocol faults).
FAULTS = ('garbage', 'reset', 'slow_body', 'content_length', 'gzip', 'chunked', 'huge_header',
          'drop_next', 'idle_close', 'partial_status', 'http10', 'close_linger', 'eof_body',
          'chunked_huge', 'bad_chunk', 'gzip_empty', 'drop_refuse', 'gzip_bomb')


def send_fault(handler, resp):
    """Write a reply broken in the way resp.fault asks, straight to the socket.

    garbage: bytes that are not HTTP, then close.  reset: headers and part of
    the body, then a TCP reset.  slow_body: the body one byte at a time over
    the given seconds.  content_length: announce that many bytes, send the
    short body, close.  gzip / chunked: a correct reply in that encoding.
    huge_header: one header line of the given length.
    Kept connections: drop_next: a correct reply, and the next request on
    this connection is read and answered by closing it.  idle_close: a
    correct reply, and the connection closed after the given seconds idle.
    partial_status: the first bytes of a status line, then close.
    http10 / close_linger: a correct HTTP/1.0 reply (no keep-alive), or one
    with "Connection: close", then the connection held open, unread, for
    the given seconds.  eof_body: no Content-Length, the body up to the
    close.  chunked_huge: a chunk announced larger than 8 MiB.  bad_chunk:
    a chunk size that is not hexadecimal.  gzip_empty: "Content-Encoding:
    gzip" on an empty body (Content-Length: 0), which libcurl accepts.
    gzip_bomb: a gzip body of a few KB that decodes to the given bytes.
    drop_refuse: as drop_next, and for the given seconds after the drop the
    HTTPS port closes new connections before the TLS handshake (the
    endpoint went down right after reading the request).
    """
    kind, arg = resp.fault
    out = handler.wfile
    head = [b'HTTP/1.1 200 OK'] + [f'{n}: {v}'.encode() for n, v in resp.headers]
    body = resp.body
    handler.reply_status = 200
    handler.close_connection = True
    if kind == 'garbage':
        out.write(b'THIS IS NOT HTTP AT ALL\r\n\r\n')
    elif kind == 'reset':
        out.write(b'\r\n'.join(head + [b'Content-Length: 1000', b'', b'{"partial":']))
        out.flush()
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack('ii', 1, 0))
    elif kind == 'slow_body':
        out.write(b'\r\n'.join(head + [f'Content-Length: {len(body)}'.encode(), b'', b'']))
        out.flush()
        for i in range(len(body)):
            time.sleep(float(arg) / len(body))
            out.write(body[i:i + 1])
            out.flush()
    elif kind == 'content_length':
        out.write(b'\r\n'.join(head + [f'Content-Length: {int(arg)}'.encode(), b'', body]))
    elif kind == 'gzip':
        packed = gzip.compress(body)
        out.write(b'\r\n'.join(head + [b'Content-Encoding: gzip',
                                        f'Content-Length: {len(packed)}'.encode(), b'', packed]))
    elif kind == 'gzip_bomb':
        packed = gzip.compress(b'"' + b'x' * (int(arg) - 2) + b'"')
        out.write(b'\r\n'.join(head + [b'Content-Encoding: gzip',
                                        f'Content-Length: {len(packed)}'.encode(), b'', packed]))
    elif kind == 'gzip_empty':
        out.write(b'\r\n'.join(head + [b'Content-Encoding: gzip', b'Content-Length: 0', b'', b'']))
    elif kind == 'chunked':
        chunks = b''.join(b'%x\r\n%s\r\n' % (1, body[i:i + 1]) for i in range(len(body)))
        out.write(b'\r\n'.join(head + [b'Transfer-Encoding: chunked', b'', chunks + b'0\r\n\r\n']))
    elif kind in ('drop_next', 'idle_close', 'drop_refuse'):
        out.write(b'\r\n'.join(head + [f'Content-Length: {len(body)}'.encode(), b'', body]))
        handler.close_connection = False
        if kind in ('drop_next', 'drop_refuse'):
            handler.drop_next = True
            handler.refuse_after_drop = float(arg) if kind == 'drop_refuse' else 0.0
        else:
            conn = handler.connection
            threading.Timer(float(arg), lambda: conn.shutdown(socket.SHUT_RDWR)).start()
    elif kind == 'partial_status':
        out.write(b'HTTP/1.1 2')
    elif kind in ('http10', 'close_linger'):
        if kind == 'http10':
            head[0] = b'HTTP/1.0 200 OK'
        else:
            head.append(b'Connection: close')
        out.write(b'\r\n'.join(head + [f'Content-Length: {len(body)}'.encode(), b'', body]))
        out.flush()
        time.sleep(float(arg))
    elif kind == 'eof_body':
        out.write(b'\r\n'.join(head + [b'', body]))
    elif kind == 'chunked_huge':
        out.write(b'\r\n'.join(head + [b'Transfer-Encoding: chunked', b'', b'900000', body]))
    elif kind == 'bad_chunk':
        out.write(b'\r\n'.join(head + [b'Transfer-Encoding: chunked', b'', b'zz', body, b'0', b'', b'']))
    elif kind == 'huge_header':
        out.write(b'\r\n'.join(head + [b'X-Huge: ' + b'h' * int(arg),
                                        f'Content-Length: {len(body)}'.encode(), b'', body]))
    out.flush()


CONTROL_FUNCTIONS = {
    'mockStats': lambda event, context: context.mock.stats(context),
    'mockConfig': lambda event, context: context.mock.configure(event),
    'mockStatus': lambda event, context: context.mock.forced_response(
        event, context.request_body),
    'mockAccepted': lambda event, context: context.mock.accepted_summary(event),
}


# ---------------------------------------------------------------------------
# Handler files


class HandlerRegistry:
    """Loads <dir>/<FunctionName>.py on first use; reloads when the file changes."""

    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.cache = {}     # name -> (mtime_ns, lambda_handler)

    def get(self, name):
        return self.get_with_options(name)[0]

    def get_with_options(self, name):
        """(handler or None, options): options from the handler file's module
        attributes TENANT_ISOLATION, DURABLE and PUBLISHED_VERSIONS."""
        if name in CONTROL_FUNCTIONS:
            return CONTROL_FUNCTIONS[name], {}
        path = os.path.join(self.directory, name + '.py')
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return None, {}
        with self.lock:
            cached = self.cache.get(name)
            if cached and cached[0] == mtime:
                return cached[1], cached[2]
            options = {}
            try:
                spec = importlib.util.spec_from_file_location('mock_handler_' + name, path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                handler = module.lambda_handler
                options = {'tenant_isolation': bool(getattr(module, 'TENANT_ISOLATION', False)),
                           'durable': bool(getattr(module, 'DURABLE', False)),
                           'published': bool(getattr(module, 'PUBLISHED_VERSIONS', True))}
            except Exception as exc:
                handler = import_error_handler(name, exc)
            self.cache[name] = (mtime, handler, options)
            return handler, options


def import_error_handler(name, exc):
    """A broken handler file fails each invoke like Lambda: Runtime.ImportModuleError."""
    error_class = type('Runtime.ImportModuleError', (Exception,), {})
    message = f"Unable to import module '{name}': {exc}"

    def handler(event, context):
        raise error_class(message)
    return handler


class LambdaContext:
    """What the Python runtime hands a handler, plus the mock's own extras."""

    def __init__(self, state, fn, request_id, headers, body, access_key_id,
                 prev_invoke, client_context):
        self.function_name = fn.name
        self.function_version = fn.executed_version
        self.invoked_function_arn = fn.invoked_arn
        self.aws_request_id = request_id
        self.memory_limit_in_mb = 128
        self.log_group_name = '/aws/lambda/' + fn.name
        self.log_stream_name = 'mock'
        self.client_context = client_context
        self.tenant_id = headers.get('x-amz-tenant-id')
        self.identity = None
        self.mock = state
        self.request_headers = headers          # lower-case names
        self.request_body = body                # raw bytes
        self.access_key_id = access_key_id
        self.prev_invoke = prev_invoke
        self._deadline = time.monotonic() + FUNCTION_TIMEOUT_MS / 1000.0

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def run_handler(handler, event, context):
    """Run a handler; return (function_error, body bytes, log text)."""
    try:
        result = handler(event, context)
    except Exception as exc:  # the function failed: Lambda reports, not raises
        doc = {'errorMessage': str(exc), 'errorType': type(exc).__name__,
               'requestId': context.aws_request_id,
               'stackTrace': handler_stack(exc)}
        return 'Unhandled', json.dumps(doc).encode(), f'[ERROR] {type(exc).__name__}: {exc}\n'
    if isinstance(result, ForcedResponse):
        return None, result, ''
    try:
        body = json.dumps(result).encode('utf-8')
    except (TypeError, ValueError) as exc:
        doc = {'errorMessage': f'Unable to marshal response: {exc}',
               'errorType': 'Runtime.MarshalError', 'requestId': context.aws_request_id,
               'stackTrace': []}
        return 'Unhandled', json.dumps(doc).encode(), ''
    if len(body) > RESPONSE_LIMIT:
        return 'Unhandled', json.dumps({
            'errorMessage': 'Response payload size exceeded maximum allowed payload '
                            f'size ({RESPONSE_LIMIT} bytes).',
            'errorType': 'Function.ResponseSizeTooLarge'}, separators=(',', ':')).encode(), ''
    return None, body, ''


def handler_stack(exc):
    """The traceback frames of the handler's own code, formatted like the runtime."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.abspath(__file__)
    frames = [f for f in frames if os.path.abspath(f.filename) != here]
    return traceback.format_list(frames)


# ---------------------------------------------------------------------------
# SigV4 verification with botocore


class _ListedHeadersSigner(botocore.auth.SigV4Auth):
    """SigV4Auth that canonicalizes exactly the headers named in SignedHeaders.

    Stock SigV4Auth signs every header of the request except a small
    blacklist; a verifier must instead use the client's list, including
    headers botocore itself would skip (user-agent, expect).
    """

    def __init__(self, credentials, region, signed_headers, service='lambda'):
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers     # [(lower-case name, value)]

    def headers_to_sign(self, request):
        header_map = HTTPHeaders()
        for name, value in self._signed_headers:
            header_map[name] = value
        return header_map


def parse_authorization(value):
    """Split 'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'."""
    algorithm, _, rest = value.strip().partition(' ')
    if algorithm != 'AWS4-HMAC-SHA256':
        raise ApiError(403, 'IncompleteSignatureException',
                       f"Unsupported AWS 'algorithm': '{algorithm[:32]}'")
    fields = {}
    for part in rest.split(','):
        key, sep, val = part.strip().partition('=')
        if sep:
            fields[key] = val
    missing = [k for k in ('Credential', 'Signature', 'SignedHeaders') if not fields.get(k)]
    if missing:
        raise ApiError(403, 'IncompleteSignatureException', ' '.join(
            f"Authorization header requires '{k}' parameter." for k in missing))
    scope = fields['Credential'].split('/')
    if len(scope) != 5 or not scope[0]:
        raise ApiError(403, 'IncompleteSignatureException',
                       "Credential must have exactly 5 slash-delimited elements, "
                       "e.g. keyid/date/region/service/term")
    return scope, fields['SignedHeaders'].split(';'), fields['Signature']


def check_request_time(amzdate, scope_date, now):
    try:
        signed_at = datetime.datetime.strptime(amzdate, AMZ_DATE_FORMAT).replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        raise ApiError(403, 'IncompleteSignatureException',
                       f"Date must be in ISO-8601 'basic format'. Got '{amzdate[:40]}'. "
                       "See http://en.wikipedia.org/wiki/ISO_8601")
    if scope_date != amzdate[:8]:
        raise ApiError(403, 'InvalidSignatureException',
                       'Date in Credential scope does not match YYYYMMDD from ISO-8601 '
                       f"version of date from HTTP: '{scope_date}' != '{amzdate[:8]}', "
                       f"from '{amzdate}'.")
    if signed_at < now - CLOCK_SKEW_SECONDS:
        raise ApiError(403, 'InvalidSignatureException',
                       f'Signature expired: {amzdate} is now earlier than '
                       f'{amz_date(now - CLOCK_SKEW_SECONDS)} ({amz_date(now)} - 5 min.)')
    if signed_at > now + CLOCK_SKEW_SECONDS:
        raise ApiError(403, 'InvalidSignatureException',
                       f'Signature not yet current: {amzdate} is still later than '
                       f'{amz_date(now + CLOCK_SKEW_SECONDS)} ({amz_date(now)} + 5 min.)')


def verify_sigv4(state, method, raw_target, headers, body, now=None, service_name='lambda',
                 check_time=True):
    """Check a request's SigV4 signature as AWS would.

    headers: list of (name, value) as received (any case, repeats kept).
    Returns (access_key_id, scope_region); raises ApiError (403) otherwise.
    On a mismatch the error carries the expected canonical request (session
    token blanked) so the log shows what the client should have signed.
    """
    now = time.time() if now is None else now
    by_name = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    auth = by_name.get('authorization')
    if not auth:
        raise ApiError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token')
    (akid, scope_date, region, service, terminator), signed, signature = \
        parse_authorization(auth[0])
    if service != service_name:
        raise ApiError(403, 'InvalidSignatureException',
                       f"Credential should be scoped to correct service: '{service_name}'. ")
    if terminator != 'aws4_request':
        raise ApiError(403, 'InvalidSignatureException',
                       "Credential should be scoped with a valid terminator: "
                       f"'aws4_request', not '{terminator[:32]}'. ")
    if not REGION_RE.fullmatch(region):
        raise ApiError(403, 'InvalidSignatureException',
                       'Credential should be scoped to a valid region. ')
    if 'x-amz-date' not in by_name:
        raise ApiError(403, 'IncompleteSignatureException',
                       "Authorization header requires existence of either a "
                       "'X-Amz-Date' or a 'Date' header.")
    if check_time:
        check_request_time(by_name['x-amz-date'][0].strip(), scope_date, now)
    signed_lower = [h.strip().lower() for h in signed]
    # The mock's own rule beyond AWS's: every operation header sent is signed.
    required = ['host', 'x-amz-date'] + [
        h for h in ('x-amz-security-token', 'x-amz-tenant-id', 'x-amz-durable-execution-name')
        if h in by_name]
    for name in required:
        if name not in signed_lower:
            raise ApiError(403, 'InvalidSignatureException',
                           f"'{name}' must be a 'SignedHeader' in the AWS Authorization.")

    found = state.lookup_secret(akid)
    if found is None:
        raise ApiError(403, 'UnrecognizedClientException', INVALID_TOKEN_MESSAGE)
    secret, wanted_token, expiry = found
    sent_token = by_name.get('x-amz-security-token', [None])[0]
    if sent_token != wanted_token:
        # A long-term key with a token, or a temporary key with a wrong/no token.
        raise ApiError(403, 'UnrecognizedClientException', INVALID_TOKEN_MESSAGE)
    if expiry is not None and expiry <= now:
        raise ApiError(403, 'ExpiredTokenException',
                       'The security token included in the request is expired')
    sent_sha = by_name.get('x-amz-content-sha256')
    if sent_sha and sent_sha[0] != hashlib.sha256(body).hexdigest():
        raise ApiError(403, 'InvalidSignatureException',
                       "The provided 'x-amz-content-sha256' header does not match "
                       "what was computed.")

    expected, creq = compute_signature(method, raw_target, by_name, signed_lower, body,
                                       akid, secret, region, by_name['x-amz-date'][0].strip(),
                                       service_name)
    if not hmac.compare_digest(expected, signature):
        err = ApiError(403, 'InvalidSignatureException', BAD_SIGNATURE_MESSAGE)
        # For the log only: what we signed, with the session token blanked.
        err.canonical_request = creq.replace(sent_token, '<token>') if sent_token else creq
        err.signed_headers = ';'.join(signed_lower)
        raise err
    return akid, region


def compute_signature(method, raw_target, by_name, signed_lower, body, akid, secret,
                      region, amzdate, service='lambda'):
    """botocore's signature for the request; returns (hex signature, canonical request).

    The path goes in exactly as received on the wire: botocore percent-
    encodes it once more, which is the SigV4 rule for non-S3 services.  The
    query is decoded into params so botocore re-encodes it once, the way AWS
    canonicalizes it whatever encoding the client put on the wire.
    """
    raw_path, _, raw_query = raw_target.partition('?')
    params = []
    for pair in raw_query.split('&') if raw_query else []:
        key, _, value = pair.partition('=')
        params.append((unquote(key), unquote(value)))
    listed = [(name, value) for name in dict.fromkeys(signed_lower)
              for value in by_name.get(name, [])]
    request = botocore.awsrequest.AWSRequest(
        method=method, url='http://mock-lambda' + raw_path, data=body, params=params)
    # Use the client's timestamp; add_auth() would restamp with "now".
    request.context['timestamp'] = amzdate
    signer = _ListedHeadersSigner(Credentials(akid, secret), region, listed, service)
    creq = signer.canonical_request(request)
    sts = signer.string_to_sign(request, creq)
    return signer.signature(sts, request), creq


# ---------------------------------------------------------------------------
# Function names


class FunctionRef(types.SimpleNamespace):
    """name, qualifier (or None), executed_version, invoked_arn."""


def validation_error(name):
    return ApiError(400, 'ValidationException',
                    f"1 validation error detected: Value '{name}' at 'functionName' failed "
                    "to satisfy constraint: Member must satisfy regular expression "
                    f"pattern: {FUNCTION_NAME_PATTERN}")


def resolve_function(raw_name, qualifier_param, scope_region):
    """Parse the FunctionName forms Lambda accepts; raise ApiError like Lambda."""
    if not 1 <= len(raw_name) <= 256:
        raise validation_error(raw_name)
    m = FUNCTION_NAME_RE.fullmatch(raw_name)
    if not m or len(m.group(6)) > 64:
        raise validation_error(raw_name)
    partition, arn_region, arn_account, region, account, name, qualifier = m.groups()
    region = arn_region or region or scope_region
    account = arn_account or account or ACCOUNT_ID
    if qualifier_param is not None:
        if not QUALIFIER_PARAM_RE.fullmatch(qualifier_param):
            raise ApiError(400, 'ValidationException',
                           f"1 validation error detected: Value '{qualifier_param}' at "
                           "'qualifier' failed to satisfy constraint: Member must satisfy "
                           "regular expression pattern: (|[a-zA-Z0-9$_-]+)")
        if qualifier is not None and qualifier != qualifier_param:
            raise ApiError(400, 'InvalidParameterValueException',
                           'The derived qualifier from the function name does not match '
                           'the specified qualifier.')
        qualifier = qualifier_param
    if region != scope_region:
        raise ApiError(404, 'ResourceNotFoundException',
                       f"Functions from '{region}' are not reachable in this region "
                       f"('{scope_region}')")
    arn_partition = partition or partition_for_region(region)
    if account != ACCOUNT_ID:
        raise ApiError(404, 'ResourceNotFoundException', 'Function not found: ' + function_arn(
            region, name, qualifier, account, arn_partition))
    return FunctionRef(name=name, qualifier=qualifier,
                       executed_version=QUALIFIER_VERSIONS.get(qualifier or '$LATEST'),
                       invoked_arn=function_arn(region, name, qualifier, partition=arn_partition))


# ---------------------------------------------------------------------------
# HTTP server


class MockHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True            # idle keep-alive clients must not block exit
    request_queue_size = 128         # many backends may connect at once

    def __init__(self, address, handler_class, state, log):
        self.state = state
        self.log = log
        super().__init__(address, handler_class)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        # Clients dropping idle keep-alive connections is normal; keep such
        # noise out of stderr and anything else on one log line.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            self.log.write(f'{client_address[1]} connection closed: {type(exc).__name__}')
        else:
            self.log.write(f'{client_address[1]} error: ' +
                           traceback.format_exc().replace('\n', ' | '))

    def get_request(self):
        # mockStatus drop_refuse: the HTTPS port closes connections before the handshake.
        if isinstance(self.socket, ssl.SSLSocket) and \
                time.monotonic() < getattr(self.state, 'refuse_tls_until', 0.0):
            conn, _ = socket.socket.accept(self.socket)
            conn.close()
            self.state.count('refused')
            raise OSError('refused before the TLS handshake (drop_refuse)')
        return super().get_request()

    def process_request(self, request, client_address):
        # Called once per accepted TCP connection: what keep-alive tests count.
        self.state.count('connections')
        super().process_request(request, client_address)


class Logger:
    """One line per request, to a file or stderr; thread-safe."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.stream = open(path, 'a', buffering=1) if path else sys.stderr

    def write(self, line):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
        with self.lock:
            self.stream.write(f'{stamp[:-4]}Z {line}\n')
            self.stream.flush()


class MockRequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'mock-lambda/1.0'
    sys_version = ''
    disable_nagle_algorithm = True   # headers and body leave without delay
    timeout = 600                    # drop idle keep-alive connections eventually

    # http.server calls these for its own replies (malformed requests).
    def log_request(self, code='-', size='-'):
        pass

    def log_message(self, fmt, *args):
        self.server.log.write(f'{self.client_address[1]} {fmt % args}')

    def do_GET(self):
        self._dispatch()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_GET

    # -- plumbing ------------------------------------------------------------------

    def date_time_string(self, timestamp=None):
        # Every reply's Date header shows the mock's (possibly skewed) clock.
        # A skewed reply is sent early in a second: the server subtracts its
        # own whole seconds from the Date's when the reply arrives, so one
        # written at x.9 and read at (x+1).1 (slow under valgrind) would show
        # a skew one second short of the configured one.
        if timestamp is None:
            skew = self.server.state.clock_skew()
            if skew:
                into = time.time() % 1.0
                if into > 0.2:
                    time.sleep(1.0 - into + 0.01)
            timestamp = time.time() + skew
        return super().date_time_string(timestamp)

    def _dispatch(self):
        state = self.server.state
        if self.path.startswith('http://'):
            # A request sent to us as its HTTP proxy (absolute form): served as our own.
            state.count('proxied')
            self.path = '/' + self.path.split('/', 3)[3] if self.path.count('/') >= 3 else '/'
        if getattr(self, 'drop_next', False):
            # mockStatus drop_next: this request is read, then its connection closed unanswered.
            self.drop_next = False
            self.close_connection = True
            state.count('dropped')
            if getattr(self, 'refuse_after_drop', 0.0) > 0:
                state.refuse_tls_until = time.monotonic() + self.refuse_after_drop
            self._read_body(MAX_BODY_READ)
            self.server.log.write(f'{self.client_address[1]} {self.command} {self.path} dropped')
            return
        state.count('requests')
        started = time.monotonic()
        self.note = {}               # extra fields for this request's log line
        self.reply_status, self.reply_length, self.body_length = 0, 0, 0
        path = self.path.partition('?')[0]
        if not getattr(self, 'connection_classified', False):
            # One handler object serves one TCP connection: classify it once.
            self.connection_classified = True
            if path.startswith('/latest/'):
                state.count('imds_connections')
            elif path.startswith('/2015-03-31/'):
                state.count('invoke_connections')
        try:
            if path.startswith('/latest/'):
                self._imds(path)
            elif path.startswith('/2015-03-31/'):
                self._invoke()
            elif path == '/':
                self._sts()
            elif path.startswith('/container-credentials/') and self.command == 'GET':
                self._read_body(MAX_BODY_READ)
                status, body = mock_sts.handle_container(state, self._header_list(), self.note)
                self._send(status, [('Content-Type', 'application/json')], body)
            else:
                self._send(404, [('Content-Type', 'text/plain')], b'Not Found\n')
        except ApiError as err:
            self._send_error(err)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            self.note['error'] = 'client went away'
        except Exception:
            self.server.log.write('internal error: ' + traceback.format_exc().replace('\n', ' | '))
            self._send_error(ApiError(500, 'ServiceException', 'mock internal error'))
        elapsed = (time.monotonic() - started) * 1000
        extra = ''.join(f' {k}={v}' for k, v in self.note.items())
        self.server.log.write(
            f'{self.client_address[1]} {self.command} {self.path} {self.reply_status} '
            f'in={self.body_length} out={self.reply_length} {elapsed:.1f}ms{extra}')

    def _send(self, status, headers, body=b'', close=False, announce=None):
        """Reply with Content-Length (keep-alive needs it); `announce` overrides
        the length to fake a truncated reply."""
        self.reply_status, self.reply_length = status, len(body)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body) if announce is None else announce))
        if close and announce is None:
            self.send_header('Connection', 'close')     # also sets close_connection
        self.close_connection = self.close_connection or close
        self.end_headers()
        if body and self.command != 'HEAD':
            self.wfile.write(body)

    def _send_error(self, err):
        self.note['error'] = err.code
        if getattr(err, 'canonical_request', None):
            self.note['signed_headers'] = err.signed_headers
            self.note['expected_creq'] = json.dumps(err.canonical_request)
        self._send(err.status, [('x-amzn-RequestId', str(uuid.uuid4())),
                                ('x-amzn-ErrorType', err.code),
                                ('Content-Type', 'application/json')],
                   err.body(), close=err.close)

    def _header_list(self):
        """Headers as sent: original names, repeats kept, values as UTF-8 text."""
        result = []
        for name, value in self.headers.items():
            # http.client decodes header bytes as Latin-1; SigV4 hashes UTF-8.
            try:
                value = value.encode('latin-1').decode('utf-8')
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
            result.append((name, value))
        return result

    def _read_body(self, limit):
        """The request body (Content-Length or chunked), or ApiError if too big."""
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get('Content-Length', '0'))
        except ValueError:
            raise ApiError(400, 'InvalidRequestContentException', 'Invalid Content-Length',
                           close=True)
        if length > limit:
            # Too big to bother reading; the connection cannot be reused.
            raise ApiError(413, 'RequestTooLargeException',
                           f'{length} byte payload is too large', close=True)
        body = self.rfile.read(length) if length > 0 else b''
        self.body_length = len(body)
        return body

    def _read_chunked(self, limit):
        body = bytearray()
        while True:
            size = int(self.rfile.readline(1024).split(b';')[0].strip() or b'0', 16)
            if size == 0:
                while self.rfile.readline(65536) not in (b'\r\n', b'\n', b''):
                    pass            # trailers
                self.body_length = len(body)
                return bytes(body)
            if len(body) + size > limit:
                raise ApiError(413, 'RequestTooLargeException', 'payload is too large',
                               close=True)
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    # -- Lambda Invoke -------------------------------------------------------------

    def _invoke(self):
        state = self.server.state
        raw_path, _, raw_query = self.path.partition('?')
        match = INVOKE_PATH_RE.fullmatch(raw_path)
        if self.command != 'POST' or not match:
            self._read_body(MAX_BODY_READ)      # keep the connection in sync
            raise ApiError(404, 'UnknownOperationException', 'Unknown operation')
        state.count('invokes')
        body = self._read_body(MAX_BODY_READ)
        headers = self._header_list()
        lower = {}
        for name, value in headers:
            key = name.lower()
            lower[key] = f'{lower[key]},{value}' if key in lower else value

        # Authentication comes first, as with AWS.
        try:
            # With a skewed clock the control functions stay reachable whatever
            # clock the client signs with, so a test can always turn it off.
            skew = state.clock_skew()
            akid, scope_region = verify_sigv4(
                state, self.command, self.path, headers, body, now=time.time() + skew,
                check_time=not (skew and unquote(match.group(1)) in CONTROL_FUNCTIONS))
        finally:
            prev = state.swap_last_invoke(self._invoke_summary(match, body, lower))
        self.note['akid'] = akid

        invocation_type = lower.get('x-amz-invocation-type', 'RequestResponse')
        self.note['type'] = invocation_type
        if invocation_type not in ('RequestResponse', 'Event', 'DryRun'):
            raise ApiError(400, 'InvalidParameterValueException',
                           f'Unsupported invocation type {invocation_type}')
        limit = EVENT_PAYLOAD_LIMIT if invocation_type == 'Event' else SYNC_PAYLOAD_LIMIT
        if len(body) > limit:
            kind = 'Event' if invocation_type == 'Event' else 'RequestResponse'
            raise ApiError(413, 'RequestTooLargeException',
                           f'{len(body)} byte payload is too large for the {kind} '
                           f'invocation type (limit {limit} bytes)')

        qualifier_param = None
        for pair in raw_query.split('&') if raw_query else []:
            key, _, value = pair.partition('=')
            if unquote(key) == 'Qualifier':
                qualifier_param = unquote(value)
        fn = resolve_function(unquote(match.group(1)), qualifier_param, scope_region)
        self.note['fn'] = fn.name
        handler, options = state.handlers.get_with_options(fn.name)
        qualifier = fn.qualifier or '$LATEST'
        published = options.get('published', True)
        if handler is None or qualifier not in QUALIFIER_VERSIONS or (
                not published and qualifier not in ('$LATEST', '$LATEST.PUBLISHED')):
            raise ApiError(404, 'ResourceNotFoundException',
                           'Function not found: ' + fn.invoked_arn)
        if qualifier == '$LATEST.PUBLISHED' and not published:
            raise ApiError(400, 'NoPublishedVersionException',
                           'The function has no published versions available.')
        tenant_id, durable_name = self._check_invoke_headers(lower, fn, options)
        if invocation_type == 'DryRun':
            self._send(204, [('x-amzn-RequestId', str(uuid.uuid4()))])
            return

        if fn.name not in CONTROL_FUNCTIONS and not state.take_throttle_slot():
            raise ApiError(429, 'TooManyRequestsException', 'Rate Exceeded.',
                           {'Reason': 'ReservedFunctionConcurrentInvocationLimitExceeded'})
        event = parse_event(body)
        request_id = str(uuid.uuid4())
        context = LambdaContext(state, fn, request_id, lower, body, akid, prev,
                                parse_client_context(lower.get('x-amz-client-context')))
        execution = None
        extra = []
        if options.get('durable'):
            # One execution per name: the same payload again gets it back,
            # another payload is refused (spec §1.1).
            name = durable_name or uuid.uuid4().hex
            outcome, execution = state.durable_start(fn.name, name, body)
            if outcome == 'conflict':
                raise ApiError(409, 'DurableExecutionAlreadyStartedException',
                               f'Durable execution {name} has already been started with a '
                               'different input.')
            base = fn.invoked_arn[:-(len(fn.qualifier) + 1)] if fn.qualifier else fn.invoked_arn
            extra = [('X-Amz-Durable-Execution-Arn',
                      f'{base}:{fn.executed_version}/durable-execution/{name}/{execution["id"]}')]
            self.note['durable'] = outcome
            if outcome == 'same':
                if invocation_type == 'Event' or execution['reply'] is None:
                    self._send(202 if invocation_type == 'Event' else 200,
                               [('x-amzn-RequestId', request_id)] + extra,
                               b'' if invocation_type == 'Event' else b'{"running": true}')
                else:
                    status, headers, reply = execution['reply']
                    self._send(status, [(n, v) for n, v in headers if n != 'x-amzn-RequestId']
                               + [('x-amzn-RequestId', request_id)], reply)
                return
        if fn.name not in CONTROL_FUNCTIONS:
            state.record_accepted(fn.name, invocation_type, body, context.client_context)
        if invocation_type == 'Event':
            self._invoke_async(handler, event, context, fn, body)
            self._send(202, [('x-amzn-RequestId', request_id)] + extra)
            return
        self._invoke_sync(handler, event, context, fn, lower.get('x-amz-log-type') == 'Tail',
                          extra, execution)

    def _check_invoke_headers(self, lower, fn, options):
        """X-Amz-Tenant-Id and X-Amz-Durable-Execution-Name: their model
        constraints (botocore's where it knows them), and what the function
        allows.  Returns both values (None when absent)."""
        values = []
        for member in ('TenantId', 'DurableExecutionName'):
            header, low, high, pattern, _ = INVOKE_HEADER_RULES[member]
            value = lower.get(header.lower())
            if value is not None and not (low <= len(value) <= high
                                          and re.fullmatch(pattern, value)):
                raise ApiError(400, 'ValidationException',
                               f"1 validation error detected: Value '{value}' at "
                               f"'{member[0].lower() + member[1:]}' failed to satisfy "
                               f"constraint: Member must satisfy regular expression pattern: "
                               f"{pattern}")
            values.append(value)
        tenant_id, durable_name = values
        if fn.name in CONTROL_FUNCTIONS:
            return tenant_id, durable_name
        self.note.update({k: v for k, v in (('tenant', tenant_id), ('durable_name', durable_name))
                          if v is not None})
        if options.get('tenant_isolation') and tenant_id is None:
            raise ApiError(400, 'InvalidParameterValueException',
                           f'Function {fn.name} has tenant isolation enabled: the invocation '
                           'must provide a tenant ID (X-Amz-Tenant-Id).')
        if tenant_id is not None and not options.get('tenant_isolation'):
            raise ApiError(400, 'InvalidParameterValueException',
                           f'Function {fn.name} does not have tenant isolation enabled: '
                           'the invocation must not provide a tenant ID.')
        if durable_name is not None and not options.get('durable'):
            raise ApiError(400, 'InvalidParameterValueException',
                           f'Function {fn.name} is not a durable function: the invocation '
                           'must not provide a durable execution name.')
        return tenant_id, durable_name

    def _invoke_summary(self, match, body, lower):
        scope = re.search(r'Credential=[^/,\s]+/\d{8}/([^/,\s]+)/', lower.get('authorization') or '')
        return {'function': unquote(match.group(1)),
                'host': lower.get('host'),
                'signing_region': scope.group(1) if scope else None,
                'tenant_id': lower.get('x-amz-tenant-id'),
                'durable_execution_name': lower.get('x-amz-durable-execution-name'),
                'body_sha256': hashlib.sha256(body).hexdigest(), 'body_length': len(body),
                'content_type': lower.get('content-type'), 'expect': lower.get('expect'),
                'access_key_id': credential_key_id(lower.get('authorization')),
                'invocation_type': lower.get('x-amz-invocation-type'),
                'log_type': lower.get('x-amz-log-type'),
                'client_context': lower.get('x-amz-client-context')}

    def _invoke_async(self, handler, event, context, fn, body):
        entry = self.server.state.record_event(fn.name, fn.qualifier, context.aws_request_id,
                                               body)

        def work():
            self.server.state.set_event_status(entry, 'running')
            error, _, _ = run_handler(handler, event, context)
            self.server.state.set_event_status(entry, 'error' if error else 'ok')

        threading.Thread(target=work, name='event-' + fn.name, daemon=True).start()

    def _invoke_sync(self, handler, event, context, fn, tail, extra=(), execution=None):
        started = time.monotonic()
        error, body, log_text = run_handler(handler, event, context)
        if isinstance(body, ForcedResponse) and body.fault:
            self.note['fault'] = body.fault[0]
            send_fault(self, body)
            return
        if isinstance(body, ForcedResponse):
            self.note['forced'] = body.status
            self._send(body.status, body.headers, body.body, close=body.truncate,
                       announce=1000 if body.truncate else None)
            return
        headers = [('Content-Type', 'application/json'),
                   ('X-Amz-Executed-Version', fn.executed_version),
                   ('x-amzn-RequestId', context.aws_request_id)] + list(extra)
        if error:
            self.note['function_error'] = error
            headers.append(('X-Amz-Function-Error', error))
        if tail:
            headers.append(('X-Amz-Log-Result', fake_log(
                context, fn, log_text, (time.monotonic() - started) * 1000)))
        if execution is not None:
            execution['reply'] = (200, headers, body)
        self._send(200, headers, body)

    # -- STS -------------------------------------------------------------------------

    def _sts(self):
        body = self._read_body(MAX_BODY_READ)
        headers = self._header_list()

        def verify(service):
            # Checked against the mock's clock, skewed or not, as the Lambda requests are.
            state = self.server.state
            akid, _ = verify_sigv4(state, self.command, self.path, headers, body,
                                   now=time.time() + state.clock_skew(), service_name=service)
            return akid

        status, reply = mock_sts.handle_sts(self.server.state, verify, self.command,
                                            self.path, headers, body, self.note)
        self._send(status, [('Content-Type', 'text/xml'),
                            ('x-amzn-RequestId', str(uuid.uuid4()))], reply)

    # -- IMDSv2 ----------------------------------------------------------------------

    def _imds(self, path):
        state = self.server.state
        with state.lock:
            delay = 0
            if state.config['imds_delay_requests'] > 0:
                state.config['imds_delay_requests'] -= 1
                delay = state.config['imds_delay_ms']
        if delay:
            time.sleep(delay / 1000.0)      # a slow or overloaded metadata service
        self._read_body(MAX_BODY_READ)
        if path == '/latest/api/token':
            self._imds_token()
            return
        if self.command not in ('GET', 'HEAD'):
            self._send(405, [('Content-Type', 'text/plain')], b'Method Not Allowed\n')
            return
        role_paths = ('/latest/meta-data/iam/security-credentials/',
                      '/latest/meta-data/iam/security-credentials')
        counter = None
        if path in role_paths:
            counter = 'imds_role_requests'
        elif path.startswith(role_paths[0]):
            counter = 'imds_credential_requests'
        elif path in ('/latest/meta-data/placement/region',
                      '/latest/meta-data/placement/availability-zone',
                      '/latest/dynamic/instance-identity/document'):
            counter = 'imds_region_requests'
        if counter:
            state.count(counter)
        v1_only = state.config.get('imds_token_status') is not None
        if not v1_only and not state.imds_token_valid(self.headers.get('X-aws-ec2-metadata-token')):
            self._send(401, [('Content-Type', 'text/plain')], b'Unauthorized\n')
            return
        text = self._imds_document(path, counter)
        if text is None:
            self._send(404, [('Content-Type', 'text/plain')], b'Not Found\n')
        else:
            ctype = 'application/json' if text.startswith('{') else 'text/plain'
            self._send(200, [('Content-Type', ctype)], text.encode())

    def _imds_token(self):
        state = self.server.state
        state.count('imds_token_requests')
        refused = state.config.get('imds_token_status')
        if refused is not None:
            # An IMDSv1-only service, or a proxy in the way: the token call fails.
            self._send(refused, [('Content-Type', 'text/plain')], b'Refused\n')
            return
        if self.command != 'PUT':
            self._send(405, [('Content-Type', 'text/plain')], b'Method Not Allowed\n')
            return
        if self.headers.get('X-Forwarded-For') is not None:
            # IMDS refuses tokens to requests that went through a proxy.
            self._send(403, [('Content-Type', 'text/plain')], b'Forbidden\n')
            return
        ttl = self.headers.get('X-aws-ec2-metadata-token-ttl-seconds', '')
        if not ttl.strip().isdigit() or not 1 <= int(ttl) <= 21600:
            self._send(400, [('Content-Type', 'text/plain')], b'Bad Request\n')
            return
        token = state.issue_imds_token(int(ttl))
        state.log_secrets(token)
        self._send(200, [('Content-Type', 'text/plain'),
                         ('X-aws-ec2-metadata-token-ttl-seconds', str(int(ttl)))],
                   token.encode())

    def _imds_document(self, path, counter):
        state = self.server.state
        region = state.region()
        if counter == 'imds_role_requests':
            return IMDS_ROLE
        if counter == 'imds_credential_requests':
            if path.rstrip('/').rsplit('/', 1)[-1] != IMDS_ROLE:
                return None
            creds = state.issue_credential()
            self.note['issued'] = creds['AccessKeyId']
            return json.dumps(creds, indent=2)
        if path.endswith('/region'):
            return region
        if path.endswith('/availability-zone'):
            return region + 'a'
        if path.endswith('/document'):
            return json.dumps({'accountId': ACCOUNT_ID, 'region': region,
                               'availabilityZone': region + 'a',
                               'instanceId': 'i-0123456789abcdef0'}, indent=2)
        return None


def credential_key_id(authorization):
    """The access key id from an Authorization header (it is not a secret)."""
    m = re.search(r'Credential=([^/,\s]+)/', authorization or '')
    return m.group(1) if m else None


def parse_event(body):
    """The request body as the handler's event; Lambda-style 400 if not JSON."""
    if not body.strip():
        return {}
    try:
        return json.loads(body.decode('utf-8'), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, 'InvalidRequestContentException',
                       f'Could not parse request body into json: {exc}')


def _reject_constant(name):
    # Python accepts NaN/Infinity; Lambda's JSON parser does not.
    raise ValueError(f"Unrecognized token '{name}'")


def parse_client_context(value):
    """X-Amz-Client-Context (base64 JSON) as the runtime's client_context object."""
    if not value:
        return None
    try:
        doc = json.loads(base64.b64decode(value, validate=True))
        if not isinstance(doc, dict):
            raise ValueError('not an object')
    except ValueError:
        raise ApiError(400, 'InvalidRequestContentException',
                       'Client context must be a valid Base64-encoded JSON object.')
    return types.SimpleNamespace(custom=doc.get('custom'), env=doc.get('env'),
                                 client=doc.get('client'))


def fake_log(context, fn, text, elapsed_ms):
    rid = context.aws_request_id
    log = (f'START RequestId: {rid} Version: {fn.executed_version}\n{text}'
           f'END RequestId: {rid}\n'
           f'REPORT RequestId: {rid}\tDuration: {elapsed_ms:.2f} ms\t'
           f'Billed Duration: {max(1, int(elapsed_ms + 0.999))} ms\t'
           f'Memory Size: 128 MB\tMax Memory Used: 40 MB\t\n')
    return base64.b64encode(log.encode()[-4096:]).decode()


# ---------------------------------------------------------------------------
# Entry point


def write_port_file(path, port):
    """Write atomically, so a poller never reads a half-written number."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(f'{port}\n')
    os.replace(tmp, path)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description='Mock AWS Lambda Invoke + IMDSv2 endpoint')
    parser.add_argument('--port-file', required=True, help='where to write the port number')
    parser.add_argument('--handlers', default=os.path.join(here, 'handlers'),
                        help='directory of <FunctionName>.py handlers')
    parser.add_argument('--log', help='request log file (default: stderr)')
    parser.add_argument('--tls-cert', help='also serve HTTPS with this PEM certificate')
    parser.add_argument('--tls-key', help='private key of --tls-cert')
    parser.add_argument('--tls-port-file', help='where to write the HTTPS port number')
    parser.add_argument('--secrets-log',
                        help='append every secret key, session token and IMDS token issued')
    args = parser.parse_args(argv)

    log = Logger(args.log)
    state = MockState(os.path.abspath(args.handlers))
    state.secrets_log = args.secrets_log
    server = MockHTTPServer(('127.0.0.1', 0), MockRequestHandler, state, log)
    port = server.server_address[1]

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.2},
                              name='accept', daemon=True)
    thread.start()
    tls_server = None
    if args.tls_cert:
        # The same endpoints over TLS, for the client's certificate checks.
        tls_server = MockHTTPServer(('127.0.0.1', 0), MockRequestHandler, state, log)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        tls_server.socket = context.wrap_socket(tls_server.socket, server_side=True)
        threading.Thread(target=tls_server.serve_forever, kwargs={'poll_interval': 0.2},
                         name='accept-tls', daemon=True).start()
        write_port_file(args.tls_port_file, tls_server.server_address[1])
    write_port_file(args.port_file, port)
    log.write(f'listening on 127.0.0.1:{port} handlers={state.handlers.directory}')
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if tls_server:
        tls_server.shutdown()
        tls_server.server_close()
    log.write('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
