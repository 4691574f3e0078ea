--
-- Endpoints as the AWS SDKs find them, from the profile in the shared config
-- file (test/run writes the profiles; none of these set-ups has
-- AWS_ENDPOINT_URL* in the environment): the profile's services section
-- wins over its endpoint_url; FIPS or dual-stack with a configured endpoint
-- URL is refused, as the SDKs' endpoint rules refuse it, and so are values
-- the SDKs could not use.  awslambda.endpoint_url, when set, wins over all.
--
\getenv mock_port MOCK_PORT
CREATE FUNCTION endpoint_seen() RETURNS TABLE (host_is_mock boolean, signing_region text)
LANGUAGE sql AS $$
    SELECT s->>'prev_host' = '127.0.0.1:' || current_setting('endpoint_test.mock_port'),
           s->>'prev_signing_region'
      FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb AS s) AS x
$$;
SELECT set_config('endpoint_test.mock_port', :'mock_port', false) IS NOT NULL AS port_known;

SET awslambda.endpoint_url = '';
-- services = mock-services: [services mock-services] lambda = / endpoint_url = the mock;
-- its own endpoint_url (a port that refuses) comes after.
SET awslambda.profile = 'endpoints';
SELECT awslambda_fn('lambdaTest', '{"via": "services section"}');
SELECT * FROM endpoint_seen();
SELECT awslambda_fn('arn:aws-cn:lambda:cn-northwest-1:123456789012:function:lambdaTest', '{"p": "aws-cn"}');
SELECT * FROM endpoint_seen();
-- The profile's endpoint_url alone.
SET awslambda.profile = 'global-endpoint';
SELECT awslambda_fn('lambdaTest', '{"via": "profile endpoint_url"}');
SELECT * FROM endpoint_seen();
-- Refused before anything is sent.
SET awslambda.profile = 'fips-custom';
SELECT awslambda_fn('lambdaTest', '{}');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', 'DryRun');
SET awslambda.profile = 'dualstack-custom';
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.profile = 'bad-boolean';
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.profile = 'missing-services';
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.profile = 'bad-endpoint';
SELECT awslambda_fn('lambdaTest', '{}');
-- awslambda.endpoint_url wins, whatever the profile asks for.
RESET awslambda.endpoint_url;
SET awslambda.profile = 'fips-custom';
SELECT awslambda_fn('lambdaTest', '{"via": "awslambda.endpoint_url"}');
SELECT * FROM endpoint_seen();
RESET awslambda.profile;

DROP FUNCTION endpoint_seen();
