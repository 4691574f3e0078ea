--
-- Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and region from
-- AWS_REGION in the server's environment.  Web identity, profile files, a
-- container URL and instance metadata are configured as well: the
-- environment comes first, and none of them is consulted.
--
SELECT source, access_key_id, has_session_token, expiration, region FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"name":"bob"}');
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int AS fetches_before \gset
\c
SELECT count(awslambda_fn('lambdaTest', '{}')) AS calls FROM generate_series(1, 3);
SELECT s->>'last_access_key_id' AS access_key_id, s->>'last_credential_source' AS credential_source,
       (s->>'imds_credential_requests')::int - :fetches_before AS imds_credential_requests
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
-- The region setting overrides AWS_REGION.
SET awslambda.region = 'ap-southeast-2';
SELECT awslambda_fn('lambdaTest', '{"region":"ap-southeast-2"}');
SELECT awslambda_fn('arn:aws:lambda:ap-southeast-2:123456789012:function:lambdaTest', '{}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest', '{}');
