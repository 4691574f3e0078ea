--
-- Statistics: awslambda_stat_functions counts every HTTP attempt per function
-- name as called, region and kind (sync: made by a session; async: by the
-- dispatcher), and awslambda_stat_reset() forgets them.  The server preloads
-- awslambda here (see test/run), so the counters are the whole server's.
-- Names are called in forms no other test uses (lambdaTest:prod, ...), so
-- nothing else lands in the rows checked.
--
SELECT awslambda_stat_reset();
SELECT count(*) AS rows_after_reset FROM awslambda_stat_functions;

-- A success, a function error, a missing function, another API error.
SELECT awslambda_fn('lambdaTest:prod', '{"stats":1}') AS reply \gset
SELECT function_error FROM awslambda_invoke('lambdaError:prod', '{"stats":2}');
\set VERBOSITY terse
SELECT awslambda_fn('noSuchStatsFunction', '{}');
SELECT awslambda_fn('mockStatus:prod', '{"stats":3,"times":1,"status":400,"code":"InvalidParameterValueException"}');
-- Throttled twice, then served: three attempts, two of them retries.
SELECT awslambda_fn('mockStatus:1', '{"stats":4,"times":2,"status":429,"code":"TooManyRequestsException"}');
-- A server error retried once, then served.
SELECT awslambda_fn('mockStatus:1', '{"stats":5,"times":1,"status":503,"code":"ServiceUnavailableException"}');
-- A timeout (not retried: the function may have run).
SET awslambda.request_timeout_ms = 300;
SELECT awslambda_fn('lambdaSleep:1', '{"seconds": 2}');
RESET awslambda.request_timeout_ms;
-- A connection that cannot be made, tried twice.
SET awslambda.max_attempts = 2;
SET awslambda.endpoint_url = 'http://127.0.0.1:1';
SELECT awslambda_fn('lambdaTest:1', '{}');
RESET awslambda.endpoint_url;
RESET awslambda.max_attempts;
-- Cancelled while in flight: counted as aborted.
SET statement_timeout = '300ms';
SELECT awslambda_fn('lambdaSleep:prod', '{"seconds": 2}');
RESET statement_timeout;
\set VERBOSITY default
-- The region of a full ARN; a fan-out counts each item.
SELECT awslambda_fn('arn:aws:lambda:eu-west-1:123456789012:function:lambdaTest', '{}') IS NOT NULL AS called;
SELECT count(*) AS items, count(error_sqlstate) AS failed
  FROM awslambda_invoke_many('lambdaEcho:prod', ARRAY['{"a":1}', '{"b":2}', '{"c":3}']::jsonb[]);

SELECT function_name, region, kind, calls, succeeded, function_errors, throttled, api_errors,
       transport_errors, aborted, retries
  FROM awslambda_stat_functions ORDER BY function_name, kind;

-- Payload bytes each way, for every attempt.
SELECT bytes_sent = octet_length('{"stats":1}') AS sent_ok,
       bytes_received = octet_length(:'reply') AS received_ok
  FROM awslambda_stat_functions WHERE function_name = 'lambdaTest:prod';
SELECT bytes_sent, bytes_received > 0 AS received
  FROM awslambda_stat_functions WHERE function_name = 'lambdaEcho:prod';
SELECT bytes_sent = 3 * octet_length('{"stats":4,"times":2,"status":429,"code":"TooManyRequestsException"}')
                  + 2 * octet_length('{"stats":5,"times":1,"status":503,"code":"ServiceUnavailableException"}')
       AS retried_payloads_counted_per_attempt
  FROM awslambda_stat_functions WHERE function_name = 'mockStatus:1';

-- Times: the timeout took about 300 ms, the cancel about as long.
SELECT function_name, min_time_ms >= 290 AND max_time_ms < 5000 AS about_300_ms,
       min_time_ms = max_time_ms AND p50_time_ms = min_time_ms AND p99_time_ms = max_time_ms AS one_call,
       total_time_ms = max_time_ms AND mean_time_ms = total_time_ms AS totals
  FROM awslambda_stat_functions WHERE function_name IN ('lambdaSleep:1', 'lambdaSleep:prod')
 ORDER BY 1;
-- Every row: min <= p50 <= p99 <= max <= total, mean = total / calls, since <= now.
SELECT count(*) AS rows,
       bool_and(min_time_ms <= p50_time_ms AND p50_time_ms <= p99_time_ms
                AND p99_time_ms <= max_time_ms AND max_time_ms <= total_time_ms) AS ordered,
       bool_and(abs(mean_time_ms - total_time_ms / calls) < 1e-9) AS mean,
       bool_and(stats_since <= now()) AS since
  FROM awslambda_stat_functions;

-- Percentiles from the histogram: nine calls of 50 ms and one of 1 s (the
-- mean, 145 ms, is neither).  The 50 ms calls take longer on a loaded
-- machine or under valgrind: p50 is among them, well below the slow one.
SELECT count(*) AS calls FROM awslambda_invoke_many('lambdaSleep:$LATEST',
    array_fill('{"seconds":0.05}'::jsonb, ARRAY[9]) || '{"seconds":1}'::jsonb);
SELECT calls, p50_time_ms BETWEEN 50 AND p99_time_ms / 2 AS p50_in_the_fast_calls,
       p99_time_ms BETWEEN 800 AND max_time_ms AS p99_in_the_slow_call,
       max_time_ms BETWEEN 1000 AND 3000 AS max_about_1_s
  FROM awslambda_stat_functions WHERE function_name = 'lambdaSleep:$LATEST';

-- The dispatcher's calls are counted as async, apart from the session's.
CREATE FUNCTION wait_finished() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '120 s';
BEGIN
    WHILE EXISTS (SELECT 1 FROM awslambda_invocations WHERE finished_at IS NULL) LOOP
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
    RETURN true;
END $$;
SELECT count(awslambda_fn_async('lambdaTest:prod', json_build_object('async', g)::text)) AS queued
  FROM generate_series(1, 3) g;
SELECT awslambda_invoke_async('lambdaError:prod', '{"async":4}', 'RequestResponse') IS NOT NULL AS queued;
SELECT awslambda_invoke_async('mockStatus:prod', '{"stats":6,"times":1,"status":429,"code":"TooManyRequestsException"}',
                              'RequestResponse') IS NOT NULL AS queued;
SELECT wait_finished();
SELECT function_name, region, kind, calls, succeeded, function_errors, throttled, api_errors,
       transport_errors, aborted, retries
  FROM awslambda_stat_functions WHERE function_name IN ('lambdaTest:prod', 'lambdaError:prod', 'mockStatus:prod')
 ORDER BY function_name, kind;

-- A reset forgets every row, the dispatcher's too.  The dispatcher remembers
-- where its row was; after a reset, when that entry belongs to another
-- function, it counts into a new row of its own.
SELECT awslambda_stat_reset();
SELECT count(*) AS rows_after_reset FROM awslambda_stat_functions;
SELECT awslambda_fn_async('lambdaTest:prod', '{"before":"reset"}') IS NOT NULL AS queued;
SELECT wait_finished();
SELECT function_name, kind, calls FROM awslambda_stat_functions ORDER BY 1, 2;
SELECT awslambda_stat_reset();
SELECT awslambda_fn('lambdaEcho:1', '{"after":"reset"}') IS NOT NULL AS called;
SELECT awslambda_fn_async('lambdaTest:prod', '{"after":"reset"}') IS NOT NULL AS queued;
SELECT wait_finished();
SELECT function_name, kind, calls, succeeded FROM awslambda_stat_functions ORDER BY 1, 2;

-- Privileges: pg_read_all_stats (and superusers) may read; a reset is for
-- superusers; both can be granted.
CREATE ROLE regress_stats_reader;
SET ROLE regress_stats_reader;
SELECT count(*) FROM awslambda_stat_functions;
SELECT count(*) FROM awslambda_stat_functions();
SELECT awslambda_stat_reset();
RESET ROLE;
GRANT pg_read_all_stats TO regress_stats_reader;
SET ROLE regress_stats_reader;
SELECT function_name, kind, calls FROM awslambda_stat_functions ORDER BY 1, 2;
SELECT count(*) AS rows FROM awslambda_stat_functions();
SELECT awslambda_stat_reset();
RESET ROLE;
GRANT EXECUTE ON FUNCTION awslambda_stat_reset() TO regress_stats_reader;
SET ROLE regress_stats_reader;
SELECT awslambda_stat_reset();
SELECT count(*) AS rows_after_reset FROM awslambda_stat_functions;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION awslambda_stat_reset() FROM regress_stats_reader;
REVOKE pg_read_all_stats FROM regress_stats_reader;
DROP ROLE regress_stats_reader;
DROP FUNCTION wait_finished();
