"""STS and container-credential endpoints of the mock (imported by mock_lambda.py).

STS speaks the query protocol: a form-encoded POST to "/" (or the same
parameters in a GET query), answered with XML in STS's namespace.
AssumeRoleWithWebIdentity is unsigned and checks the web identity token;
AssumeRole must be SigV4-signed for service "sts" by a credential the mock
knows.  Both issue temporary credentials that the Lambda part accepts.

The container endpoint answers GET /container-credentials/<anything> like
the ECS agent, optionally demanding an Authorization token.
"""
import hashlib
import json
import re
import uuid
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/'
WEB_IDENTITY_TOKEN = 'mock-web-identity-token-eks'
ROLE_ARN_RE = re.compile(r'arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,128}')
SESSION_NAME_RE = re.compile(r'[\w+=,.@-]{2,64}')
CONTAINER_ROLE_ARN = 'arn:aws:iam::123456789012:role/mock-task-role'


class StsError(Exception):
    """An STS error reply: <ErrorResponse> with Type, Code, Message."""

    def __init__(self, status, code, message, sender=True):
        super().__init__(message)
        self.status, self.code, self.message, self.sender = status, code, message, sender

    def body(self):
        return (f'<ErrorResponse xmlns="{STS_NS}">\n'
                f'  <Error>\n    <Type>{"Sender" if self.sender else "Receiver"}</Type>\n'
                f'    <Code>{escape(self.code)}</Code>\n'
                f'    <Message>{escape(self.message)}</Message>\n  </Error>\n'
                f'  <RequestId>{uuid.uuid4()}</RequestId>\n</ErrorResponse>\n').encode()


def credentials_xml(action, creds, role_arn, session_name, extra=''):
    role_name = role_arn.rsplit('/', 1)[-1]
    return (f'<{action}Response xmlns="{STS_NS}">\n'
            f'  <{action}Result>\n{extra}'
            f'    <Credentials>\n'
            f'      <AccessKeyId>{creds["AccessKeyId"]}</AccessKeyId>\n'
            f'      <SecretAccessKey>{escape(creds["SecretAccessKey"])}</SecretAccessKey>\n'
            f'      <SessionToken>{escape(creds["Token"])}</SessionToken>\n'
            f'      <Expiration>{creds["Expiration"]}</Expiration>\n'
            f'    </Credentials>\n'
            f'    <AssumedRoleUser>\n'
            f'      <AssumedRoleId>AROAMOCK{abs(hash(role_arn)) % 10**12:012d}:'
            f'{escape(session_name)}</AssumedRoleId>\n'
            f'      <Arn>arn:aws:sts::123456789012:assumed-role/{escape(role_name)}/'
            f'{escape(session_name)}</Arn>\n'
            f'    </AssumedRoleUser>\n'
            f'  </{action}Result>\n'
            f'  <ResponseMetadata>\n    <RequestId>{uuid.uuid4()}</RequestId>\n'
            f'  </ResponseMetadata>\n</{action}Response>\n').encode()


def sts_params(method, raw_query, headers, body):
    """The request's parameters: the form body of a POST, or the query string."""
    if method == 'POST':
        ctype = headers.get('content-type', '')
        if not ctype.startswith('application/x-www-form-urlencoded'):
            raise StsError(400, 'InvalidParameterValue',
                           'Content-Type must be application/x-www-form-urlencoded')
        text = body.decode('utf-8', 'replace')
    else:
        text = raw_query
    return dict(parse_qsl(text, keep_blank_values=True))


def duration(params, default):
    value = params.get('DurationSeconds')
    if value is None:
        return default
    if not value.isdigit() or not 900 <= int(value) <= 43200:
        raise StsError(400, 'ValidationError',
                       f"1 validation error detected: Value '{value}' at 'durationSeconds' "
                       'failed to satisfy constraint: Member must have value greater than or '
                       'equal to 900')
    return int(value)


def check_role(params):
    role_arn = params.get('RoleArn', '')
    session = params.get('RoleSessionName', '')
    if not ROLE_ARN_RE.fullmatch(role_arn):
        raise StsError(400, 'ValidationError',
                       f"1 validation error detected: Value '{role_arn[:100]}' at 'roleArn' "
                       'failed to satisfy constraint: Member must satisfy regular expression '
                       'pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF'
                       '\\uE000-\\uFFFD\\u10000-\\u10FFFF]+')
    if not SESSION_NAME_RE.fullmatch(session):
        raise StsError(400, 'ValidationError',
                       f"1 validation error detected: Value '{session[:70]}' at "
                       "'roleSessionName' failed to satisfy constraint: Member must satisfy "
                       'regular expression pattern: [\\w+=,.@-]*')
    return role_arn, session


def handle_sts(state, verify, method, raw_target, headers, body, note):
    """Serve one STS request; returns (status, body bytes).

    verify(service) checks the request's SigV4 signature and returns the
    signing access key id, raising the Lambda-style ApiError; its code is
    mapped to STS's spelling here.
    """
    lower = {name.lower(): value for name, value in headers}
    raw_query = raw_target.partition('?')[2]
    try:
        params = sts_params(method, raw_query, lower, body)
        action = params.get('Action', '')
        note['sts'] = action or '-'
        if params.get('Version') != '2011-06-15':
            raise StsError(400, 'InvalidAction', 'Could not find operation ' + action +
                           ' for version ' + params.get('Version', 'NO_VERSION_SPECIFIED'))
        if action == 'AssumeRoleWithWebIdentity':
            state.count('sts_web_identity_requests')
            role_arn, session = check_role(params)
            token = params.get('WebIdentityToken', '')
            state.record_sts({'action': action, 'role_arn': role_arn,
                              'role_session_name': session,
                              'web_identity_token_sha256': hashlib.sha256(token.encode()).hexdigest()})
            if token != WEB_IDENTITY_TOKEN:
                raise StsError(400, 'InvalidIdentityToken',
                               "Couldn't retrieve verification key from your identity provider,"
                               '  please reference AssumeRoleWithWebIdentity documentation for '
                               'requirements')
            creds = state.issue_credential('ASIASTSW', 'sts-web-identity',
                                           duration(params, state.sts_expiry()))
            extra = (f'    <SubjectFromWebIdentityToken>system:serviceaccount:default:app'
                     f'</SubjectFromWebIdentityToken>\n'
                     f'    <Audience>sts.amazonaws.com</Audience>\n')
            return 200, credentials_xml(action, creds, role_arn, session, extra)
        if action == 'AssumeRole':
            state.count('sts_assume_role_requests')
            try:
                akid = verify('sts')
            except Exception as err:     # the Lambda part's ApiError, in STS words
                code = getattr(err, 'code', 'SignatureDoesNotMatch')
                code = {'MissingAuthenticationTokenException': 'MissingAuthenticationToken',
                        'InvalidSignatureException': 'SignatureDoesNotMatch',
                        'UnrecognizedClientException': 'InvalidClientTokenId',
                        'ExpiredTokenException': 'ExpiredToken',
                        'IncompleteSignatureException': 'IncompleteSignature'}.get(code, code)
                raise StsError(403, code, str(err))
            role_arn, session = check_role(params)
            state.record_sts({'action': action, 'role_arn': role_arn,
                              'role_session_name': session, 'signed_by': akid,
                              'external_id': params.get('ExternalId')})
            creds = state.issue_credential('ASIASTSR', 'sts-assume-role',
                                           duration(params, state.sts_expiry()))
            return 200, credentials_xml(action, creds, role_arn, session)
        raise StsError(400, 'InvalidAction', f'Could not find operation {action}')
    except StsError as err:
        note['error'] = err.code
        return err.status, err.body()


def handle_container(state, headers, note):
    """Serve GET /container-credentials/...; returns (status, body bytes)."""
    state.count('container_credential_requests')
    auth = {name.lower(): value for name, value in headers}.get('authorization')
    state.record_container_authorization(auth)
    wanted = state.container_auth_token()
    if wanted is not None and auth != wanted:
        note['error'] = 'unauthorized'
        return 401, json.dumps({'code': 'AccessDeniedException',
                                'message': 'Authorization token is invalid'}).encode()
    creds = state.issue_credential('ASIACTR', 'container', state.sts_expiry())
    doc = {'AccessKeyId': creds['AccessKeyId'], 'SecretAccessKey': creds['SecretAccessKey'],
           'Token': creds['Token'], 'Expiration': creds['Expiration'],
           'RoleArn': CONTAINER_ROLE_ARN}
    return 200, json.dumps(doc, indent=2).encode()
