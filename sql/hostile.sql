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

-- Names that try to leave the path or add headers are percent-encoded into
-- one path segment; Lambda (the mock) rejects them as names.
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
-- And the session is healthy.
SELECT awslambda_fn('lambdaTest', '{"after":"hostile input"}');
