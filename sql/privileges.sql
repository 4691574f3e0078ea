--
-- Who may invoke what.  The invoking functions are not executable by PUBLIC;
-- awslambda.allowed_functions (superuser only, settable per role) limits
-- which functions a role may call, checked before anything is sent.
--
CREATE ROLE regress_app LOGIN;
SET ROLE regress_app;
SELECT awslambda_fn('lambdaTest', '{}');
SELECT * FROM awslambda_invoke('lambdaTest', '{}');
RESET ROLE;

-- The README's grants.
GRANT EXECUTE ON FUNCTION awslambda_fn(text, text) TO regress_app;
GRANT EXECUTE ON FUNCTION awslambda_invoke(text, jsonb, text, text, text, jsonb, text, text, text) TO regress_app;
GRANT EXECUTE ON FUNCTION awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean, text, text) TO regress_app;
SET ROLE regress_app;
SELECT awslambda_fn('lambdaTest', '{"granted":true}');
RESET ROLE;

-- Limit the role to functions named lambdaT* and one ARN; it takes effect at login.
ALTER ROLE regress_app SET awslambda.allowed_functions = 'lambdaT*, arn:aws:lambda:us-west-2:123456789012:function:lambdaEcho';
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
\c - regress_app
SHOW awslambda.allowed_functions;
SELECT awslambda_fn('lambdaTest', '{"allowed":"name"}');
SELECT awslambda_fn('lambdaTest:prod', '{"allowed":"alias"}');
SELECT awslambda_fn('123456789012:function:lambdaTest', '{"allowed":"partial ARN"}');
SELECT awslambda_fn('arn:aws:lambda:us-west-2:123456789012:function:lambdaEcho', '{"allowed":"ARN"}');
SELECT awslambda_fn('lambdaEcho', '{}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:123456789012:function:lambdaEcho', '{}');
-- A pattern with ':' matches the name exactly as given, so the same
-- function in another form is denied.
SELECT awslambda_fn('us-west-2:123456789012:function:lambdaEcho', '{}');
-- Lambda reads these as lambdaEcho, which lambdaT* does not allow.
SELECT awslambda_fn('function:lambdaEcho', '{}');
SELECT * FROM awslambda_invoke('lambdaError', '{}');
SELECT count(*) FROM awslambda_invoke_many('lambdaEcho', ARRAY['{}']::jsonb[]);
DO $$
BEGIN
    PERFORM awslambda_fn('mockStats', '{}');
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'caught insufficient_privilege';
END;
$$;
-- The role cannot widen its own limit.
SET awslambda.allowed_functions = '*';
ALTER ROLE regress_app SET awslambda.allowed_functions = '*';
SET awslambda.endpoint_url = 'http://127.0.0.1:9/';
\c - postgres
-- Denied calls sent nothing: the four allowed calls went out, plus this mockStats.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int - :invokes_before AS invokes_sent;

-- A superuser may set it for the session too.
SET awslambda.allowed_functions = 'mock*';
SELECT awslambda_fn('lambdaTest', '{}');

-- Patterns without ':' match the bare name as Lambda reads it: a prefix
-- "function:", "REGION:" or "ACCOUNT:" does not make the prefix the name.
SET awslambda.allowed_functions = 'mock*, function, us-east-1, 123456789012, lambdaEcho';
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
SELECT awslambda_fn('function:lambdaTest', '{}');
SELECT awslambda_fn('us-east-1:lambdaTest', '{}');
SELECT awslambda_fn('123456789012:lambdaTest', '{}');
SELECT awslambda_fn('us-east-1:123456789012:function:lambdaTest:prod', '{}');
SELECT * FROM awslambda_invoke('function:lambdaTest', '{}', qualifier => '$LATEST');
SELECT awslambda_fn('function:lambdaEcho', '{"allowed":"function:NAME"}');
SELECT awslambda_fn('us-east-1:lambdaEcho', '{"allowed":"REGION:NAME"}');
SELECT awslambda_fn('123456789012:lambdaEcho', '{"allowed":"ACCOUNT:NAME"}');
SELECT awslambda_fn('us-east-1:123456789012:function:lambdaEcho', '{"allowed":"REGION:ACCOUNT:function:NAME"}');
-- Only the four allowed calls (and this mockStats) went out.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int - :invokes_before AS invokes_sent;
RESET awslambda.allowed_functions;
SELECT awslambda_fn('lambdaTest', '{"after":"reset"}');

ALTER ROLE regress_app RESET awslambda.allowed_functions;
REVOKE ALL ON FUNCTION awslambda_fn(text, text) FROM regress_app;
REVOKE ALL ON FUNCTION awslambda_invoke(text, jsonb, text, text, text, jsonb, text, text, text) FROM regress_app;
REVOKE ALL ON FUNCTION awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean, text, text) FROM regress_app;
DROP ROLE regress_app;

-- Introspection shows where credentials come from, never a secret.
SELECT source, access_key_id ~ '^\*+[A-Z0-9]{4}$' AS masked, length(access_key_id) AS key_length,
       has_session_token, expiration > now() AS expires_later, region
  FROM awslambda_credentials();
SELECT access_key_id = (SELECT '************' || right(awslambda_fn('mockStats', '{}')::jsonb->>'last_access_key_id', 4)) AS matches_key_in_use
  FROM awslambda_credentials();
