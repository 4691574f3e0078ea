--
-- Statistics without preloading: each session counts its own calls, in
-- memory of its own.  This server starts with awslambda.stat_max_functions
-- = 10 (see test/run), which bounds the rows a session keeps too.
--
SELECT awslambda_fn('lambdaTest', '{"local":1}') IS NOT NULL AS called;
SHOW awslambda.stat_max_functions;
SELECT function_error FROM awslambda_invoke('lambdaError', '{"local":2}');
-- The immediate mode calls from the session: sync.
SET awslambda.async_mode = immediate;
SELECT awslambda_fn_async('lambdaEcho', '{"local":3}') IS NOT NULL AS sent;
RESET awslambda.async_mode;
SELECT function_name, region, kind, calls, succeeded, function_errors, api_errors, retries,
       bytes_sent, bytes_received > 0 AS received, p50_time_ms > 0 AS timed
  FROM awslambda_stat_functions ORDER BY 1;

-- Another session does not see them.
\c -
SELECT count(*) AS rows_in_a_new_session FROM awslambda_stat_functions;

-- Ten rows at most; calls of further functions go to the overflow row of
-- their kind, function name and region NULL.
DO $$
BEGIN
    FOR g IN 1 .. 12 LOOP
        BEGIN
            PERFORM awslambda_fn('statsMissing' || g, '{}');
        EXCEPTION WHEN undefined_function THEN
            NULL;
        END;
    END LOOP;
    PERFORM awslambda_fn('statsMissing3', '{}');
EXCEPTION WHEN undefined_function THEN
    NULL;
END $$;
SELECT function_name, region, kind, calls, api_errors
  FROM awslambda_stat_functions ORDER BY function_name COLLATE "C" NULLS LAST;

-- A reset makes room again.
SELECT awslambda_stat_reset();
SELECT count(*) AS rows_after_reset FROM awslambda_stat_functions;
SELECT awslambda_fn('lambdaTest', '{"after":"reset"}') IS NOT NULL AS called;
SELECT awslambda_fn('lambdaTest', '{"after":"reset"}') IS NOT NULL AS called;
SELECT function_name, kind, calls, succeeded FROM awslambda_stat_functions;

-- The same privileges as with preloading.
CREATE ROLE regress_stats_local;
SET ROLE regress_stats_local;
SELECT count(*) FROM awslambda_stat_functions;
SELECT awslambda_stat_reset();
RESET ROLE;
GRANT pg_read_all_stats TO regress_stats_local;
SET ROLE regress_stats_local;
SELECT function_name, calls FROM awslambda_stat_functions;
RESET ROLE;
DROP ROLE regress_stats_local;
