--
-- Web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set,
-- so the backend exchanges the token file's contents for role credentials at
-- STS (the mock, via AWS_ENDPOINT_URL_STS).  The profile files, a container
-- URL and instance metadata are configured too: web identity comes first.
--
SELECT source, access_key_id ~ '^\*+' AS masked, has_session_token,
       expiration BETWEEN now() + interval '55 minutes' AND now() + interval '65 minutes' AS one_hour,
       region
  FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"via":"web identity"}');
-- The token reaches this script through the client's environment only.
\getenv web_token WEB_IDENTITY_TOKEN
SELECT s->>'last_credential_source' AS credential_source,
       s->'last_sts'->>'action' AS sts_action,
       s->'last_sts'->>'role_arn' AS role_arn,
       s->'last_sts'->>'role_session_name' AS session_name,
       s->'last_sts'->>'web_identity_token_sha256' = encode(sha256(convert_to(:'web_token', 'UTF8')), 'hex') AS sent_token_file
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);

-- Cached: more calls, no more STS round trips.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'sts_web_identity_requests')::int AS before \gset
SELECT count(awslambda_fn('lambdaTest', '{}')) AS calls FROM generate_series(1, 10);
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'sts_web_identity_requests')::int - :before AS new_sts_calls;

-- A new session asks STS again (the cache is per backend).
\c
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'sts_web_identity_requests')::int - :before AS new_sts_calls;
