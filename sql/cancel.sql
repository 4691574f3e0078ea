--
-- statement_timeout and query cancel abort an in-flight request at once
-- (SQLSTATE 57014); the backend stays healthy and the next call works.
-- Timing is asserted loosely (well under the function's 10 s sleep); the
-- abort latency itself is measured by bench/, not here.
--
CREATE TEMP TABLE t (started timestamptz);
INSERT INTO t VALUES (clock_timestamp());
SET statement_timeout = '300ms';
SELECT awslambda_fn('lambdaSleep', '{"seconds": 10}');
RESET statement_timeout;
SELECT clock_timestamp() - started < interval '5 seconds' AS aborted_early FROM t;

-- Catchable as query_canceled inside PL/pgSQL, like any cancel.
SET statement_timeout = '300ms';
DO $$
BEGIN
    PERFORM awslambda_fn('lambdaSleep', '{"seconds": 10}');
EXCEPTION WHEN query_canceled THEN
    RAISE NOTICE 'caught query_canceled';
END;
$$;
RESET statement_timeout;

-- The same backend keeps working.
SELECT awslambda_fn('lambdaTest', '{"after":"cancel"}');
SELECT count(awslambda_fn('lambdaTest', '{}')) AS calls FROM generate_series(1, 5);
