--
-- Failures: each raises an ERROR with a SQLSTATE by cause, and the session
-- keeps working afterwards.
--

-- The function itself raised: SQLSTATE 38000, message names errorType and
-- errorMessage, DETAIL is the raw error document.
\set VERBOSITY terse
SELECT awslambda_fn('lambdaError', '{"reason":"disk full"}');
\set VERBOSITY default
DO $$
DECLARE
    state text; msg text; detail text;
BEGIN
    PERFORM awslambda_fn('lambdaError', '{"reason":"disk full"}');
EXCEPTION WHEN external_routine_exception THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'sqlstate %: %', state, msg;
    RAISE NOTICE 'detail keys: %', (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(detail::jsonb) k);
    RAISE NOTICE 'detail errorMessage: %', detail::jsonb->>'errorMessage';
END;
$$;

-- Function not found: 42883, catchable by name.
SELECT awslambda_fn('noSuchFunction', '{}');
DO $$
BEGIN
    PERFORM awslambda_fn('noSuchFunction', '{}');
EXCEPTION WHEN undefined_function THEN
    RAISE NOTICE 'caught undefined_function';
END;
$$;

-- API errors as Lambda sends them (the mock's mockStatus forces a reply).
SELECT awslambda_fn('mockStatus', '{"status":429,"code":"TooManyRequestsException","message":"Rate Exceeded.","message_key":"message"}');
SELECT awslambda_fn('mockStatus', '{"status":400,"code":"InvalidRequestContentException","message":"Could not parse request body into json","message_key":"message"}');
SELECT awslambda_fn('mockStatus', '{"status":400,"code_in_body":"aws.lambda#InvalidParameterValueException","message":"code only in the body","message_key":"message"}');
SELECT awslambda_fn('mockStatus', '{"status":403,"code":"AccessDeniedException:http://internal.amazon.com/coral/","message":"not authorized to perform: lambda:InvokeFunction","message_key":"Message"}');
SELECT awslambda_fn('mockStatus', '{"status":413,"code":"RequestTooLargeException","message":"too large","message_key":"message"}');
SELECT awslambda_fn('mockStatus', '{"status":500,"code":"ServiceException","message":"internal error","message_key":"Message"}');
SELECT awslambda_fn('mockStatus', '{"status":502,"raw":"<html>Bad Gateway</html>","content_type":"text/html"}');
DO $$
BEGIN
    PERFORM awslambda_fn('mockStatus', '{"status":429,"code":"TooManyRequestsException","message":"Rate Exceeded.","message_key":"message"}');
EXCEPTION WHEN configuration_limit_exceeded THEN
    RAISE NOTICE 'caught configuration_limit_exceeded';
END;
$$;

-- Malformed and truncated replies.
SELECT awslambda_fn('mockStatus', '{"status":200,"raw":"not json at all"}');
\set VERBOSITY terse
SELECT awslambda_fn('mockStatus', '{"truncate":true}');
\set VERBOSITY default

-- Invalid JSON is refused before anything is sent: 22023.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
SELECT awslambda_fn('lambdaTest', '{"name":');
SELECT awslambda_fn('lambdaTest', '');
SELECT awslambda_fn('lambdaTest', 'not json');
SELECT awslambda_fn('lambdaTest', '{"a":1} trailing');
-- (the mockStats call below counts itself once)
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int - :invokes_before - 1 AS invokes_sent;

-- Nothing listening: 08001.  A request slower than request_timeout_ms: 08006.
SET awslambda.endpoint_url = 'http://127.0.0.1:1';
\set VERBOSITY terse
SELECT awslambda_fn('lambdaTest', '{}');
\set VERBOSITY default
RESET awslambda.endpoint_url;
SET awslambda.request_timeout_ms = 300;
\set VERBOSITY terse
SELECT awslambda_fn('lambdaSleep', '{"seconds": 3}');
\set VERBOSITY default
RESET awslambda.request_timeout_ms;

-- The session is healthy after all of that.
SELECT awslambda_fn('lambdaTest', '{"after":"errors"}');
