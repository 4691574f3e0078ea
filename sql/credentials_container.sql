--
-- Container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI points at the
-- mock's agent endpoint, the token comes from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
-- instance metadata is reachable too, and comes later in the chain.
--
SELECT source, has_session_token, expiration > now() AS expires_later, region
  FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"via":"container"}');
-- The token reaches this script through the client's environment only.
\getenv container_token CONTAINER_TOKEN
SELECT s->>'last_credential_source' AS credential_source,
       s->>'last_container_authorization_sha256' = encode(sha256(convert_to(:'container_token', 'UTF8')), 'hex') AS sent_token_file
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);

-- The agent demands the token: the file's token is accepted...
SELECT awslambda_fn('mockConfig', json_build_object('container_auth_token', :'container_token')::text) IS NOT NULL AS configured;
\c
SELECT awslambda_fn('lambdaTest', '{"token":"required"}');
-- ...another one is refused, and the error says where and why.
SELECT awslambda_fn('mockConfig', '{"container_auth_token": "some-other-token"}') IS NOT NULL AS configured;
\c
DO $$
DECLARE
    state text; detail text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{}');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'sqlstate %', state;
    RAISE NOTICE '%', regexp_replace(detail, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT');
END;
$$;
