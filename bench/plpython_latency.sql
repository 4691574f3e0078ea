-- The original PL/Python function, each call timed; bench.calls set by bench/run.
CREATE TEMP TABLE lat (us float8);
DO $$
DECLARE
    t0 timestamptz;
BEGIN
    PERFORM plpy_awslambda_fn('lambdaTest', '{}');
    FOR i IN 1 .. current_setting('bench.calls')::int LOOP
        t0 := clock_timestamp();
        PERFORM plpy_awslambda_fn('lambdaTest', '{}');
        INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1e6);
    END LOOP;
END;
$$;
COPY lat TO STDOUT;
