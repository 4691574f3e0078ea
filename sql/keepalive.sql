--
-- One reused connection per backend: 100 calls from a fresh session open a
-- single TCP connection to the endpoint (the mock counts accepted connections).
--
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'connections')::int AS connections_before \gset
\c
SELECT count(awslambda_fn('lambdaTest', json_build_object('i', i)::text)) AS calls
  FROM generate_series(1, 100) i;
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'connections')::int - :connections_before AS new_connections;

-- Requests carry no Content-Type (like botocore) and no Expect: 100-continue,
-- even for bodies over 1 MiB.
SELECT count(*) FROM awslambda_fn('lambdaEcho', json_build_object('data', repeat('y', 2000000))::text) r;
SELECT s->'prev_content_type' AS content_type, s->'prev_expect' AS expect
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
