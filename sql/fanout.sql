--
-- awslambda_invoke_many: one function, many payloads, concurrently; rows in
-- input order; per-item errors in the row unless fail_fast.
--
SELECT ordinality, status_code, payload, function_error, executed_version,
       error_sqlstate, error_message
  FROM awslambda_invoke_many('lambdaTest',
                             ARRAY['{"i":1}', '{"i":2}', NULL, '{"i":4}']::jsonb[]);

-- Order is the array's, whatever order the replies arrive in: later items sleep less.
SET awslambda.max_concurrency = 8;
SELECT array_agg((payload->>'slept')::float ORDER BY ordinality) AS slept_in_order
  FROM awslambda_invoke_many('lambdaSleep',
         ARRAY(SELECT json_build_object('seconds', (9 - i) * 0.02)::jsonb FROM generate_series(1, 8) i));

-- Concurrency: 40 calls of 200 ms each, 8 at a time, take about 1 s, not 8 s.
CREATE TEMP TABLE timing (started timestamptz);
INSERT INTO timing VALUES (clock_timestamp());
SELECT count(*) AS calls, count(*) FILTER (WHERE status_code = 200) AS ok
  FROM awslambda_invoke_many('lambdaSleep', array_fill('{"seconds":0.2}'::jsonb, ARRAY[40]));
SELECT clock_timestamp() - started < interval '4 seconds' AS concurrent FROM timing;

-- Connections are reused: a second batch of the same width opens none.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invoke_connections')::int AS conns_before \gset
SELECT count(*) FROM awslambda_invoke_many('lambdaTest', array_fill('{}'::jsonb, ARRAY[8]));
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invoke_connections')::int - :conns_before AS new_connections;
RESET awslambda.max_concurrency;

-- Per-item failures: function errors as data, API errors in the error columns.
SELECT ordinality, status_code, function_error, error_sqlstate, error_message, error_detail
  FROM awslambda_invoke_many('mockStatus', ARRAY[
         '{"status":429,"code":"TooManyRequestsException","message":"Rate Exceeded.","message_key":"message"}',
         '{"status":200,"raw":"not json"}',
         '{"status":500,"code":"ServiceException","message":"internal error","message_key":"Message"}']::jsonb[]);
SELECT ordinality, function_error, payload->>'errorMessage' AS error_message
  FROM awslambda_invoke_many('lambdaError', ARRAY['{"reason":"a"}', '{"reason":"b"}']::jsonb[]);
SELECT ordinality, status_code, error_sqlstate
  FROM awslambda_invoke_many('noSuchFunction', ARRAY['{}', '{}']::jsonb[]);
-- fail_fast raises the first failure instead.
SELECT * FROM awslambda_invoke_many('noSuchFunction', ARRAY['{}', '{}']::jsonb[], fail_fast => true);

-- Every invocation type, qualifier, log tail and client context apply to each item.
SELECT ordinality, status_code, payload IS NULL AS no_payload
  FROM awslambda_invoke_many('lambdaTest', ARRAY['{}', '{}']::jsonb[], 'Event');
SELECT ordinality, status_code
  FROM awslambda_invoke_many('lambdaTest', ARRAY['{}']::jsonb[], invocation_type => 'DryRun');
SELECT ordinality, executed_version, payload->'client_context'->'custom' AS custom,
       log_result LIKE 'START RequestId: %' AS has_log
  FROM awslambda_invoke_many('lambdaContext', ARRAY['{"n":1}', '{"n":2}']::jsonb[],
                             qualifier => 'prod', log_type => 'Tail',
                             client_context => '{"custom":{"batch":true}}');

-- Edge cases: empty array, NULL array, two dimensions, bad arguments.
SELECT count(*) FROM awslambda_invoke_many('lambdaTest', '{}'::jsonb[]);
SELECT * FROM awslambda_invoke_many('lambdaTest', NULL);
SELECT * FROM awslambda_invoke_many('lambdaTest', ARRAY[['{}'::jsonb], ['{}'::jsonb]]);
SELECT * FROM awslambda_invoke_many('lambdaTest', ARRAY['{}']::jsonb[], invocation_type => 'Sync');
SET awslambda.max_concurrency = 0;

-- From a set, with the payloads built by SQL.
SELECT ordinality, payload->>'id' AS id
  FROM awslambda_invoke_many('lambdaTest',
         ARRAY(SELECT jsonb_build_object('id', g) FROM generate_series(1, 5) g ORDER BY g));

-- A cancel stops every in-flight request at once and the backend carries on.
SET statement_timeout = '300ms';
SELECT count(*) FROM awslambda_invoke_many('lambdaSleep', array_fill('{"seconds":5}'::jsonb, ARRAY[20]));
RESET statement_timeout;
SELECT count(*) AS calls FROM awslambda_invoke_many('lambdaTest', array_fill('{}'::jsonb, ARRAY[20]));
