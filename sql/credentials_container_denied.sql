--
-- AWS_CONTAINER_CREDENTIALS_FULL_URI over plain http to an address that is
-- neither loopback nor a container agent's: refused as the SDKs refuse it,
-- before any request (instance metadata is reachable but never consulted).
--
SELECT awslambda_fn('lambdaTest', '{}');
