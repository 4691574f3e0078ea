--
-- Hostile input: every bad argument is a clear error, nothing goes to an
-- unintended path or with injected headers, and the session keeps working.
--
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset

-- NULLs everywhere.
SELECT awslambda_fn(NULL, NULL) IS NULL AS null_result;
SELECT * FROM awslambda_invoke(NULL, NULL);
SELECT * FROM awslambda_invoke('lambdaTest', NULL, NULL);
SELECT status_code FROM awslambda_invoke('lambdaTest', NULL, 'RequestResponse', NULL, NULL, NULL, NULL);
SELECT * FROM awslambda_invoke_many(NULL, NULL);
SELECT count(*) FROM awslambda_invoke_many('lambdaTest', ARRAY[NULL, NULL]::jsonb[]);

-- Names that try to leave the path or add headers are outside Lambda's
-- grammar: refused before anything is sent (valid names are percent-encoded
-- into one path segment, see name_forms).
SELECT awslambda_fn('../../2015-03-31/functions/lambdaTest', '{}');
SELECT awslambda_fn('lambdaTest/invocations?x=1', '{}');
SELECT awslambda_fn('lambdaTest%2Finvocations', '{}');
SELECT awslambda_fn(E'lambdaTest\r\nX-Injected: 1', '{}');
SELECT awslambda_fn(E'lambda\nTest', '{}');
SELECT awslambda_fn('lambda Test', '{}');
SELECT awslambda_fn(E'lambda\tTest', '{}');
SELECT s->>'prev_function' AS last_name_seen FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
-- Header injection through other arguments is refused before sending.
SELECT * FROM awslambda_invoke('lambdaTest', '{}', qualifier => E'prod\r\nX-Injected: 1');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', log_type => E'Tail\r\nX-Injected: 1');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', invocation_type => E'Event\r\nX-Injected: 1');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', region => E'us-east-1\r\nX-Injected: 1');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', region => 'us-east-1.evil.example');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', qualifier => repeat('q', 1000));
SELECT awslambda_fn('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:prod:extra', '{}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1.evil.example:123456789012:function:lambdaTest', '{}');
SELECT awslambda_fn(repeat('a', 10 * 1024 * 1024), '{}');

-- Payloads: empty, huge (10 MB, over Lambda's limit), deeply nested.
SELECT awslambda_fn('lambdaEcho', '');
SELECT awslambda_fn('lambdaEcho', '{"data":"' || repeat('x', 10 * 1024 * 1024) || '"}');
SELECT length(awslambda_fn('lambdaEcho', repeat('[', 500) || repeat(']', 500))) AS nested_500;
SELECT awslambda_fn('lambdaEcho', repeat('[', 100000) || repeat(']', 100000));
-- Client context: huge and nested.
SELECT * FROM awslambda_invoke('lambdaTest', '{}', client_context => jsonb_build_object('custom', repeat('x', 1000000)));

-- Allowed-function patterns with odd characters are patterns, not code.
SET awslambda.allowed_functions = E'*\\, %, lambdaT*';
SELECT awslambda_fn('lambdaTest', '{"pattern":"ok"}');
RESET awslambda.allowed_functions;

-- Only the calls that were meant to be sent reached the mock.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int - :invokes_before AS invokes_sent;
-- Text from the network (reply headers, error codes) is bounded and made
-- safe: control characters and bytes that are not valid UTF-8 become '?'.
-- (The mock sends "\u00ff" as the byte 0xFF, "\u00c3\u00a9" as UTF-8 "é".)
SELECT status_code, payload, function_error, executed_version, request_id
  FROM awslambda_invoke('mockStatus', '{"raw": "{}", "headers": {"X-Amz-Function-Error": "Unhandled\u00ff\u0001", "X-Amz-Executed-Version": "1\u0007\u00c3", "x-amzn-RequestId": "req\u001b[31m-id\u00e9"}}');
SELECT function_error, request_id
  FROM awslambda_invoke('mockStatus', '{"raw": "{}", "headers": {"X-Amz-Function-Error": "Unhandled \u00c3\u00a9", "x-amzn-RequestId": "id-\u00c3\u00a9\u007f"}}');
SELECT length(executed_version) AS version_length, right(executed_version, 4) AS version_end,
       length(request_id) AS id_length, length(function_error) AS error_length
  FROM awslambda_invoke('mockStatus', jsonb_build_object('raw', '{}', 'headers',
       jsonb_build_object('X-Amz-Executed-Version', repeat('v', 60000), 'x-amzn-RequestId', repeat('r', 30000),
                          'X-Amz-Function-Error', repeat('E', 257))));
SELECT ordinality, function_error, request_id, error_sqlstate
  FROM awslambda_invoke_many('mockStatus', ARRAY['{"raw": "{}", "headers": {"X-Amz-Function-Error": "E\u00ff\u0002x", "x-amzn-RequestId": "\u0008id"}}']::jsonb[]);
-- The same in the error messages of awslambda_fn.
SELECT awslambda_fn('mockStatus', '{"raw": "{}", "headers": {"X-Amz-Function-Error": "Unhandled\u00ff\u0001"}}');
SELECT awslambda_fn('mockStatus', '{"status": 400, "code": "Bad\u00ffCode\u0007", "message": "m\u0001sg"}');
SELECT awslambda_fn('mockStatus', '{"status": 400, "code_in_body": "aws.lambda#Bad\u001bCode", "message": "caf\u00e9 \u0007"}');
DO $$
DECLARE
    msg text;
    detail text;
BEGIN
    PERFORM awslambda_fn('mockStatus', jsonb_build_object('raw', '{}', 'headers',
            jsonb_build_object('X-Amz-Function-Error', repeat('E', 60000)))::text);
EXCEPTION WHEN external_routine_exception THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RAISE NOTICE 'function error message of % bytes ending in "%"', length(msg), right(msg, 20);
END;
$$;
DO $$
DECLARE
    detail text;
BEGIN
    PERFORM awslambda_fn('mockStatus', jsonb_build_object('status', 400, 'code_in_body', repeat('C', 100000),
            'message', repeat('m', 100000))::text);
EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'API error detail of % bytes: %...%', length(detail), left(detail, 3), right(detail, 20);
END;
$$;

-- And the session is healthy.
SELECT awslambda_fn('lambdaTest', '{"after":"hostile input"}');
