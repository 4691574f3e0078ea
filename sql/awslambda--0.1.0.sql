/* awslambda--0.1.0.sql */

\echo Use "CREATE EXTENSION awslambda" to load this file. \quit

-- Synchronous invocation, as in the original article: returns the payload.
CREATE FUNCTION awslambda_fn(fn_name text, fn_args text)
RETURNS text
AS 'MODULE_PATHNAME', 'awslambda_fn'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION awslambda_fn(text, text) IS
'invoke an AWS Lambda function synchronously (RequestResponse) and return its response payload';
