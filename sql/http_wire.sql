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
\set VERBOSITY default
RESET awslambda.request_timeout_ms;
-- 21 calls above and this one each reached the mock's functions once; one
-- request was dropped.
SELECT (s->>'invokes')::int - :invokes_before AS invokes_sent,
       (s->>'dropped')::int - :dropped_before AS dropped
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
