--
-- Credentials and region from the shared config and credentials files that
-- test/run writes (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE); nothing in
-- the environment, instance metadata unreachable.
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
-- A profile with only a region: the chain goes on, and finds nothing here.
SET awslambda.profile = 'region-only';
\set VERBOSITY terse
SELECT awslambda_fn('lambdaTest', '{}');
\set VERBOSITY default
RESET awslambda.region;
RESET awslambda.profile;
SELECT source FROM awslambda_credentials();

-- Only a superuser picks the profile.
CREATE ROLE regress_profile_user;
SET ROLE regress_profile_user;
SET awslambda.profile = 'process';
RESET ROLE;
DROP ROLE regress_profile_user;
