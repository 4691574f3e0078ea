-- Backend RSS before and after bench.calls awslambda_fn calls in one session
-- (bench/run, static endpoint): prints "rss_before_kB rss_after_kB".
SELECT awslambda_fn('lambdaTest', '{}') IS NOT NULL AS warm;
SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s+(\d+)') AS rss_before \gset
DO $$
BEGIN
    FOR i IN 1 .. current_setting('bench.calls')::int LOOP
        PERFORM awslambda_fn('lambdaTest', '{}');
    END LOOP;
END $$;
SELECT :rss_before || ' ' || substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmRSS:\s+(\d+)');
