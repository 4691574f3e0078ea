-- awslambda_fn from a PL/pgSQL loop, each call timed; :calls and :out are set by bench/run.
CREATE TEMP TABLE lat (us float8);
DO $$
DECLARE
    t0 timestamptz;
BEGIN
    FOR i IN 1 .. 20 LOOP
        PERFORM awslambda_fn('lambdaTest', '{}');
    END LOOP;
    FOR i IN 1 .. current_setting('bench.calls')::int LOOP
        t0 := clock_timestamp();
        PERFORM awslambda_fn('lambdaTest', '{}');
        INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1e6);
    END LOOP;
END;
$$;
COPY lat TO STDOUT;
