--
-- AWS_CONTAINER_CREDENTIALS_FULL_URI with an IPv6 literal in brackets,
-- http://[::ffff:127.0.0.1]:PORT/...: IPv6 loopback spellings (and EKS Pod
-- Identity's fd00:ec2::23) are allowed over http.  This one is the IPv4
-- loopback mapped into IPv6, which reaches the mock on 127.0.0.1.
--
SELECT source, has_session_token, expiration > now() AS expires_later
  FROM awslambda_credentials();
SELECT awslambda_fn('lambdaTest', '{"via":"container over IPv6"}');
SELECT s->>'last_credential_source' AS credential_source
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
