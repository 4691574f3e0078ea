/* awslambda--0.1.0.sql */

\echo Use "CREATE EXTENSION awslambda" to load this file. \quit

-- Synchronous invocation, as in the original article: returns the payload.
CREATE FUNCTION awslambda_fn(fn_name text, fn_args text)
RETURNS text
AS 'MODULE_PATHNAME', 'awslambda_fn'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION awslambda_fn(text, text) IS
'invoke an AWS Lambda function synchronously (RequestResponse) and return its response payload';

-- The rich API: every Invoke parameter, the reply's headers as columns, and
-- a function error returned (function_error) instead of raised.
CREATE FUNCTION awslambda_invoke(
    function_name text,
    payload jsonb,
    invocation_type text DEFAULT 'RequestResponse',
    qualifier text DEFAULT NULL,
    log_type text DEFAULT 'None',
    client_context jsonb DEFAULT NULL,
    region text DEFAULT NULL,
    OUT status_code int,
    OUT payload jsonb,
    OUT function_error text,
    OUT executed_version text,
    OUT log_result text,
    OUT request_id text)
AS 'MODULE_PATHNAME', 'awslambda_invoke'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION awslambda_invoke(text, jsonb, text, text, text, jsonb, text) IS
'invoke an AWS Lambda function; returns status, payload, function error, executed version, decoded log tail and request id';

-- Fan-out: one function, many payloads, awslambda.max_concurrency in flight;
-- one row per payload in array order, per-item errors in the error_* columns.
CREATE FUNCTION awslambda_invoke_many(
    function_name text,
    payloads jsonb[],
    invocation_type text DEFAULT 'RequestResponse',
    qualifier text DEFAULT NULL,
    log_type text DEFAULT 'None',
    client_context jsonb DEFAULT NULL,
    region text DEFAULT NULL,
    fail_fast boolean DEFAULT false)
RETURNS TABLE (
    ordinality int,
    status_code int,
    payload jsonb,
    function_error text,
    executed_version text,
    log_result text,
    request_id text,
    error_sqlstate text,
    error_message text,
    error_detail text)
AS 'MODULE_PATHNAME', 'awslambda_invoke_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean) IS
'invoke an AWS Lambda function once per payload, concurrently; one row per payload in order';

-- Which credentials calls would use, never the secret.
CREATE FUNCTION awslambda_credentials(
    OUT source text,
    OUT access_key_id text,
    OUT has_session_token boolean,
    OUT expiration timestamptz,
    OUT region text)
AS 'MODULE_PATHNAME', 'awslambda_credentials'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION awslambda_credentials() IS
'the credential provider in use, the masked access key id, token presence, expiry and region; no secret';

-- Calls spend the server's AWS identity: only roles granted EXECUTE may.
REVOKE EXECUTE ON FUNCTION
    awslambda_fn(text, text),
    awslambda_invoke(text, jsonb, text, text, text, jsonb, text),
    awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean),
    awslambda_credentials()
  FROM PUBLIC;
