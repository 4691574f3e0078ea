--
-- One reused connection per backend: after a fresh session's first call
-- (which opens its connection to the endpoint, and here one more to the
-- instance metadata for credentials, on the same mock), 100 calls open no
-- TCP connection (the mock counts accepted connections).
--
\c
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'connections')::int AS connections_before \gset
SELECT count(awslambda_fn('lambdaTest', json_build_object('i', i)::text)) AS calls
  FROM generate_series(1, 100) i;
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'connections')::int - :connections_before AS new_connections;

-- Requests carry no Content-Type (like botocore) and no Expect: 100-continue,
-- even for bodies over 1 MiB.
SELECT count(*) FROM awslambda_fn('lambdaEcho', json_build_object('data', repeat('y', 2000000))::text) r;
SELECT s->'prev_content_type' AS content_type, s->'prev_expect' AS expect
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
