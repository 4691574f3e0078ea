--
-- No keys in the environment, no region, and instance metadata unreachable:
-- clear errors that say what was tried.
--
\set VERBOSITY terse
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.region = 'us-east-1';
SELECT awslambda_fn('lambdaTest', '{}');
\set VERBOSITY default
DO $$
DECLARE
    state text; detail text; hint text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{}');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'sqlstate %', state;
    RAISE NOTICE 'detail starts: %', left(detail, 90);
    RAISE NOTICE 'hint: %', hint;
END;
$$;

-- A superuser can point awslambda.imds_endpoint at the metadata service.
\getenv mock_port MOCK_PORT
SELECT 'http://127.0.0.1:' || :'mock_port' AS imds_url \gset
SET awslambda.imds_endpoint = :'imds_url';
SELECT awslambda_fn('lambdaTest', '{"name":"via awslambda.imds_endpoint"}');
