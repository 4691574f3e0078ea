--
-- Retries, as in the AWS SDKs' standard mode: throttling (429), server errors
-- (500, 502-504) and connections that could not be made are tried again, up to
-- awslambda.max_attempts in all, with jittered exponential backoff and at
-- least Retry-After; nothing that may have reached the function is resent.
-- mockStatus's "times" forces its reply only for the first N arrivals of the
-- same payload ("n" keeps payloads apart); later ones answer with the attempt.
--

-- Throttled twice, then served: the caller sees only the success.
SELECT awslambda_fn('mockStatus', '{"n":1,"times":2,"status":429,"code":"TooManyRequestsException","message":"Rate Exceeded."}');
SHOW awslambda.max_attempts;
-- A 500, a 502 and a 503 are retried too.
SELECT awslambda_fn('mockStatus', '{"n":2,"times":1,"status":500,"code":"ServiceException"}');
SELECT awslambda_fn('mockStatus', '{"n":3,"times":1,"status":502,"raw":"<html>Bad Gateway</html>","content_type":"text/html"}');
SELECT awslambda_fn('mockStatus', '{"n":4,"times":2,"status":503,"code":"ServiceUnavailableException"}');

-- Still throttled after max_attempts: the error says how often it tried.
SELECT awslambda_fn('mockStatus', '{"n":5,"times":9,"status":429,"code":"TooManyRequestsException","message":"Rate Exceeded."}');
-- max_attempts = 1: no retry.
SET awslambda.max_attempts = 1;
SELECT awslambda_fn('mockStatus', '{"n":6,"times":1,"status":429,"code":"TooManyRequestsException","message":"Rate Exceeded."}');
SELECT awslambda_fn('mockStatus', '{"n":6,"times":1,"status":429,"code":"TooManyRequestsException","message":"Rate Exceeded."}');
RESET awslambda.max_attempts;
SET awslambda.max_attempts = 11;

-- Never retried: other client errors, function errors, timeouts and broken
-- replies (the function may have run).  The second call of each payload shows
-- the mock saw the first exactly once.
SELECT awslambda_fn('mockStatus', '{"n":7,"times":1,"status":400,"code":"InvalidParameterValueException"}');
SELECT awslambda_fn('mockStatus', '{"n":7,"times":1,"status":400,"code":"InvalidParameterValueException"}');
-- (DETAIL is libcurl's wording, which differs between its releases.)
\set VERBOSITY terse
SELECT awslambda_fn('mockStatus', '{"n":8,"times":1,"truncate":true}');
\set VERBOSITY default
SELECT awslambda_fn('mockStatus', '{"n":8,"times":1,"truncate":true}');
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
SET awslambda.request_timeout_ms = 300;
\set VERBOSITY terse
SELECT awslambda_fn('lambdaSleep', '{"seconds": 2}');
\set VERBOSITY default
RESET awslambda.request_timeout_ms;
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int - :invokes_before - 1 AS timed_out_calls_sent;
SELECT function_error FROM awslambda_invoke('lambdaError', '{"n":9}');

-- Retry-After is honoured: a 429 asking for 1 s makes the retry wait at least that.
CREATE TEMP TABLE t (started timestamptz);
INSERT INTO t VALUES (clock_timestamp());
SELECT awslambda_fn('mockStatus', '{"n":10,"times":1,"status":429,"code":"TooManyRequestsException","headers":{"Retry-After":"1"}}');
SELECT clock_timestamp() - started >= interval '1 second' AS waited FROM t;

-- The backoff is cancellable: statement_timeout ends it at once.
DELETE FROM t;
INSERT INTO t VALUES (clock_timestamp());
SET statement_timeout = '500ms';
SELECT awslambda_fn('mockStatus', '{"n":11,"times":9,"status":429,"code":"TooManyRequestsException","headers":{"Retry-After":"10"}}');
RESET statement_timeout;
SELECT clock_timestamp() - started < interval '5 seconds' AS cancelled_early FROM t;

-- Fan-out retries each item on its own; the rest are not sent again.
SELECT ordinality, status_code, payload->>'attempt' AS served_on_attempt, error_sqlstate
  FROM awslambda_invoke_many('mockStatus', ARRAY[
         '{"n":12,"times":1,"status":429,"code":"TooManyRequestsException"}',
         '{"n":13,"times":0,"status":429}',
         '{"n":14,"times":1,"status":400,"code":"InvalidParameterValueException"}',
         '{"n":15,"times":2,"status":503,"code":"ServiceUnavailableException"}']::jsonb[]);
SELECT payload->'attempt' AS item_3_now_on_attempt
  FROM awslambda_invoke('mockStatus', '{"n":14,"times":1,"status":400,"code":"InvalidParameterValueException"}');

-- A connection that cannot be made is retried (nothing was sent) and then reported.
SET awslambda.endpoint_url = 'http://127.0.0.1:1';
\set VERBOSITY terse
SELECT awslambda_fn('lambdaTest', '{}');
\set VERBOSITY default
RESET awslambda.endpoint_url;
