-- Backend RSS before and after bench.calls awslambda_fn calls in one session
-- (bench/run, static endpoint), after 1,000 warm-up calls so that one-time
-- growth (caches, the PL/pgSQL function) is not counted: prints
-- "rss_before_kB rss_after_kB".
CREATE OR REPLACE FUNCTION pg_temp.calls(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. n LOOP
        PERFORM awslambda_fn('lambdaTest', '{}');
    END LOOP;
END $$;
SELECT pg_temp.calls(1000);
SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s+(\d+)') AS rss_before \gset
SELECT pg_temp.calls(current_setting('bench.calls')::int);
SELECT :rss_before || ' ' || substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s+(\d+)');
