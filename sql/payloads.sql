--
-- Payloads up to Lambda's 6 MB limit, byte-exact in both directions.
--
CREATE TEMP TABLE sent (label text, body text);

-- 1 MiB request echoed back.
INSERT INTO sent SELECT '1MB', json_build_object('data', repeat('0123456789abcdef', 65536))::text;
SELECT label, length(body) AS request_bytes,
       (r::jsonb->>'data') = (body::jsonb->>'data') AS echoed_exactly
  FROM sent, LATERAL awslambda_fn('lambdaEcho', body) r WHERE label = '1MB';
-- The mock saw exactly the bytes we sent.
SELECT s->>'prev_body_length' AS received_bytes,
       s->>'prev_body_sha256' = encode(sha256(convert_to(body, 'UTF8')), 'hex') AS same_sha256
  FROM sent, LATERAL (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s) WHERE label = '1MB';

-- Exactly 6 MiB (6291456 bytes), the synchronous limit.
INSERT INTO sent SELECT '6MB', '{"data":"' || repeat('x', 6291456 - 11) || '"}';
SELECT label, octet_length(body) AS request_bytes,
       length(r::jsonb->>'data') = 6291456 - 11 AS echoed_length_ok
  FROM sent, LATERAL awslambda_fn('lambdaEcho', body) r WHERE label = '6MB';
SELECT s->>'prev_body_length' AS received_bytes,
       s->>'prev_body_sha256' = encode(sha256(convert_to(body, 'UTF8')), 'hex') AS same_sha256
  FROM sent, LATERAL (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s) WHERE label = '6MB';

-- One byte over: Lambda's 413, SQLSTATE 22023.
SELECT awslambda_fn('lambdaEcho', '{"data":"' || repeat('x', 6291456 - 10) || '"}');

-- Large responses: 6,000,000 bytes of data, compared with what SQL computes.
SELECT length(r::jsonb->>'data') AS response_chars,
       md5(r::jsonb->>'data') = md5(substr(repeat('0123456789abcdef', 375000), 1, 6000000)) AS same_md5
  FROM awslambda_fn('lambdaLargePayload', '{"size": 6000000}') r;
-- Over Lambda's response limit the function fails (Function.ResponseSizeTooLarge).
\set VERBOSITY terse
SELECT awslambda_fn('lambdaLargePayload', '{"size": 6291600}');
\set VERBOSITY default

-- Non-ASCII text travels as UTF-8 and comes back equal.
INSERT INTO sent VALUES ('utf8', '{"msg":"héllo wörld ✓ 日本"}');
SELECT r::jsonb->>'msg' AS msg, r::jsonb = body::jsonb AS equal
  FROM sent, LATERAL awslambda_fn('lambdaEcho', body) r WHERE label = 'utf8';
SELECT s->>'prev_body_sha256' = encode(sha256(convert_to(body, 'UTF8')), 'hex') AS same_sha256
  FROM sent, LATERAL (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s) WHERE label = 'utf8';
