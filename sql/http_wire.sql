--
-- The synchronous call's own HTTP/1.1 (src/http_raw.c, src/http_reply.c)
-- on the backend's kept connection: a connection the server dropped is
-- replaced, and the request sent once more, only when not one byte of the
-- reply came back; Connection: close and HTTP/1.0 replies end the
-- connection; bodies framed by the connection's end, chunked bodies, their
-- limit and malformed framing.
--
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'dropped')::int AS dropped_before \gset
SET awslambda.request_timeout_ms = 2000;
\set VERBOSITY terse
-- The server reads the next request on the kept connection and closes it
-- unanswered: that request goes once more, on a new connection.
SELECT awslambda_fn('mockStatus', '{"drop_next":true}');
SELECT awslambda_fn('lambdaTest', '{"after":"drop"}');
-- The server closes the kept connection while it is idle.
SELECT awslambda_fn('mockStatus', '{"idle_close":0.1}');
SELECT pg_sleep(0.4);
SELECT awslambda_fn('lambdaTest', '{"after":"idle close"}');
-- A reply that breaks off in its status line is never sent again.
SELECT awslambda_fn('lambdaTest', '{"before":"partial status"}');
SELECT awslambda_fn('mockStatus', '{"partial_status":true}');
SELECT awslambda_fn('lambdaTest', '{"after":"partial status"}');
-- After "Connection: close" or an HTTP/1.0 reply the connection is not used
-- again (the server keeps it open without reading: a request sent there
-- would time out).
SELECT awslambda_fn('mockStatus', '{"close_linger":5}');
SELECT awslambda_fn('lambdaTest', '{"after":"connection close"}');
SELECT awslambda_fn('mockStatus', '{"http10":5}');
SELECT awslambda_fn('lambdaTest', '{"after":"http/1.0"}');
-- A body that runs to the end of the connection.
SELECT awslambda_fn('mockStatus', '{"eof_body":true}');
-- Chunked: a chunk over the reply limit fails at once, a chunk size that is
-- not hexadecimal is refused, a correct one is read.
SELECT awslambda_fn('mockStatus', '{"chunked_huge":true}');
SELECT awslambda_fn('mockStatus', '{"bad_chunk":true}');
SELECT awslambda_fn('mockStatus', '{"chunked":true}');
SELECT awslambda_fn('lambdaTest', '{"after":"chunks"}');
-- "Content-Encoding: gzip" on an empty body: nothing to decode, no payload,
-- on the direct path as on libcurl's (a fan-out of one and one more).
SELECT status_code, payload IS NULL AS no_payload
  FROM awslambda_invoke('mockStatus', '{"gzip_empty":true}');
SELECT status_code, payload IS NULL AS no_payload, error_message
  FROM awslambda_invoke_many('mockStatus', ARRAY['{"gzip_empty":true}', '{"gzip_empty":true}']::jsonb[]);
SELECT awslambda_fn('lambdaTest', '{"after":"gzip empty"}');
-- A gzip body of a few KB that decodes past the 8 MiB limit (54000) on both
-- paths; one that decodes to just under it is read.
SELECT awslambda_fn('mockStatus', '{"gzip_bomb":8388609}');
SELECT error_sqlstate FROM awslambda_invoke_many('mockStatus', ARRAY['{"gzip_bomb":8388609}', '{}']::jsonb[]) WHERE ordinality = 1;
SELECT length(awslambda_fn('mockStatus', '{"gzip_bomb":8388608}'));
\set VERBOSITY default
RESET awslambda.request_timeout_ms;
-- 25 calls above and this one each reached the mock's functions once; one
-- request was dropped.
SELECT (s->>'invokes')::int - :invokes_before AS invokes_sent,
       (s->>'dropped')::int - :dropped_before AS dropped
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);

-- Over TLS: the server reads the request on the kept connection, closes it
-- unanswered and is down a moment (it refuses the new connection's
-- handshake).  The request may have reached the function: the failure is
-- not "could not connect" (08001, which is retried as surely unsent) but
-- 08006, and with retries allowed it is not sent again.
\getenv tls_port MOCK_TLS_PORT
SELECT 'https://127.0.0.1:' || :'tls_port' AS tls_url \gset
SELECT current_setting('data_directory') || '/../tls/cert.pem' AS ca_file \gset
SET awslambda.endpoint_url = :'tls_url';
SET awslambda.ca_file = :'ca_file';
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
SELECT awslambda_fn('mockStatus', '{"drop_refuse":0.5}');
SET awslambda.max_attempts = 3;
DO $$
DECLARE
    state text; msg text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{"after":"drop, down"}');
    RAISE NOTICE 'sent again, and answered';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RAISE NOTICE 'sqlstate %: %', state, msg;
END;
$$;
RESET awslambda.max_attempts;
SELECT pg_sleep(0.6);
-- mockStatus and this call reached functions; the dropped request went once.
SELECT (s->>'invokes')::int - :invokes_before AS invokes_sent,
       (s->>'refused')::int > 0 AS refused
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
RESET awslambda.ca_file;
RESET awslambda.endpoint_url;
