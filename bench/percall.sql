-- Time of each awslambda_fn call from PL/pgSQL, after a warm-up that opens
-- the connection and fetches credentials.  :calls is set by bench/run.
SELECT count(awslambda_fn('lambdaTest', '{}')) AS warmup FROM generate_series(1, 20);
CREATE TEMP TABLE t (ms float8);
DO $$
DECLARE
    t0 timestamptz;
BEGIN
    FOR i IN 1 .. current_setting('bench.calls')::int LOOP
        t0 := clock_timestamp();
        PERFORM awslambda_fn('lambdaTest', '{}');
        INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
END;
$$;
SELECT 'median ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) || ' ms, p95 '
       || round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 3) || ' ms'
  FROM t;
