--
-- Credentials and region from the shared config and credentials files that
-- test/run writes (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE); a container
-- URL is configured too but comes later; instance metadata unreachable.
--
-- [default]: static keys in the credentials file, region in the config file.
SELECT source, access_key_id, has_session_token, expiration, region FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"profile":"default"}');
SELECT awslambda_fn('mockStats', '{}')::jsonb->>'last_access_key_id' AS signed_with;

-- A profile by name (superuser setting): credential_process, its own region.
SET awslambda.profile = 'process';
SELECT source, access_key_id, has_session_token, expiration, region FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"profile":"process"}');
SELECT payload->>'invoked_function_arn' AS arn FROM awslambda_invoke('lambdaContext', '{}');

-- Broken or missing profiles say what is wrong (with a region set, as those
-- profiles name none).
SET awslambda.region = 'us-east-1';
SET awslambda.profile = 'half';
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.profile = 'failing-process';
SELECT awslambda_fn('lambdaTest', '{}');
-- A helper that hangs (it and a child of its own sleep for ten minutes) is
-- killed with its whole process group when awslambda.credential_process_timeout_ms
-- (superuser) runs out, or when the statement is cancelled.  statement_timeout
-- makes a regression fail here instead of hanging.
SET statement_timeout = '5s';
SET awslambda.credential_process_timeout_ms = 500;
SET awslambda.profile = 'hanging-process';
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.credential_process_timeout_ms = '10min';
SET statement_timeout = '300ms';
SELECT awslambda_fn('lambdaTest', '{}');
RESET statement_timeout;
-- No child of this backend is left, not even a zombie (test/run checks that
-- the helpers' own children are gone too).
SELECT count(*) AS children FROM pg_ls_dir('/proc') AS p(name)
 WHERE name ~ '^[0-9]+$'
   AND substring(pg_read_file('/proc/' || name || '/stat', 0, 1024, true)
                 FROM '\) \S+ (\d+)')::int = pg_backend_pid();
-- There is always a limit.
DO $$ BEGIN SET awslambda.credential_process_timeout_ms = 0;
EXCEPTION WHEN invalid_parameter_value THEN RAISE NOTICE 'refused: %', SQLERRM LIKE '0 ms is outside the valid range%'; END $$;
RESET awslambda.credential_process_timeout_ms;
SET awslambda.profile = 'role-without-source';
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.profile = 'no-such-profile';
DO $$
DECLARE
    detail text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{}');
EXCEPTION WHEN invalid_authorization_specification THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE '%', regexp_replace(detail, '/tmp/awslambda\.[A-Za-z0-9]+', '$WORK', 'g');
END;
$$;
-- A profile with only a region: the chain goes on, to the container
-- credentials configured in this set-up, and takes the profile's region.
RESET awslambda.region;
SET awslambda.profile = 'region-only';
SELECT source, region FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"profile":"region-only"}');
RESET awslambda.profile;
SELECT source FROM awslambda_credentials();

-- Only a superuser picks the profile.
CREATE ROLE regress_profile_user;
SET ROLE regress_profile_user;
SET awslambda.profile = 'process';
SET awslambda.credential_process_timeout_ms = 1000;
RESET ROLE;
DROP ROLE regress_profile_user;

-- role_arn + source_profile: the default profile's keys sign STS AssumeRole
-- (the mock's STS, set by a superuser); the role's credentials sign the call.
\getenv mock_port MOCK_PORT
SELECT 'http://127.0.0.1:' || :'mock_port' AS mock_url \gset
SET awslambda.sts_endpoint = :'mock_url';
SET awslambda.profile = 'cross';
SELECT source, has_session_token, expiration > now() AS expires_later, region FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"profile":"cross"}');
SELECT s->>'last_credential_source' AS credential_source,
       s->'last_sts'->>'action' AS sts_action,
       s->'last_sts'->>'role_arn' AS role_arn,
       s->'last_sts'->>'role_session_name' AS session_name,
       s->'last_sts'->>'external_id' AS external_id,
       s->'last_sts'->>'signed_by' AS signed_by
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
-- Two hops: chained's source is cross, whose source is default.  (These
-- profiles name no region and, as in the SDKs, do not inherit default's.)
SET awslambda.region = 'us-east-1';
SET awslambda.profile = 'chained';
SELECT awslambda_fn('lambdaTest', '{"profile":"chained"}');
SELECT s->'last_sts'->>'role_arn' AS role_arn, s->'last_sts'->>'signed_by' LIKE 'ASIASTSR%' AS signed_by_first_hop
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
-- role_arn + web_identity_token_file in a profile.
SET awslambda.profile = 'irsa';
SELECT source FROM awslambda_credentials();
SELECT s->>'last_credential_source' AS credential_source, s->'last_sts'->>'role_arn' AS role_arn
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
-- STS refusing a request is an error naming STS's code and message.
SET awslambda.profile = 'bad-role';
SELECT awslambda_fn('lambdaTest', '{}');
-- STS unreachable.
SET awslambda.sts_endpoint = 'http://127.0.0.1:1';
SET awslambda.profile = 'cross';
\set VERBOSITY terse
SELECT awslambda_fn('lambdaTest', '{}');
\set VERBOSITY default
RESET awslambda.sts_endpoint;
RESET awslambda.profile;
RESET awslambda.region;

-- A server clock ten minutes behind AWS's (the mock pretends to run ahead):
-- STS refuses the AssumeRole signature as expired.  The backend takes AWS's
-- time from the refusal's Date, says so in one WARNING naming STS, signs the
-- request again and sends it once more; the call it was for goes through,
-- signed with the corrected clock as well.
SELECT awslambda_fn('mockConfig', '{"clock_skew_seconds": 600, "reset_counters": true}')::jsonb->'clock_skew_seconds' AS skew;
\c
SET awslambda.sts_endpoint = :'mock_url';
SET awslambda.profile = 'cross';
SELECT awslambda_fn('lambdaTest', '{"profile":"cross","skewed":true}');
SELECT (s->>'sts_assume_role_requests')::int AS sts_requests, (s->>'invokes')::int AS invokes
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
-- Back to a right clock, with the static keys (Lambda's control functions
-- answer whatever the clock).
RESET awslambda.profile;
SELECT awslambda_fn('mockConfig', '{"clock_skew_seconds": 0}')::jsonb->'clock_skew_seconds' AS skew;
\c
