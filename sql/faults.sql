--
-- Network and protocol faults (the mock's mockStatus breaks its own reply):
-- each is a clear ERROR with a SQLSTATE, nothing is retried that may have
-- reached the function, and the next call works on the same backend.
--
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
SET awslambda.request_timeout_ms = 2000;
\set VERBOSITY terse
-- Not HTTP at all.
SELECT awslambda_fn('mockStatus', '{"garbage":true}');
SELECT awslambda_fn('lambdaTest', '{"after":"garbage"}');
-- Reset in the middle of the response.
SELECT awslambda_fn('mockStatus', '{"reset":true}');
SELECT awslambda_fn('lambdaTest', '{"after":"reset"}');
-- A body that trickles in slower than the request timeout.
SELECT awslambda_fn('mockStatus', '{"slow_body":5}');
SELECT awslambda_fn('lambdaTest', '{"after":"slow body"}');
-- A 2 GB Content-Length: refused at once, not downloaded.
SELECT awslambda_fn('mockStatus', '{"content_length":2147483648}');
SELECT awslambda_fn('lambdaTest', '{"after":"2 GB"}');
-- A header line of 200 kB.
SELECT awslambda_fn('mockStatus', '{"huge_header":200000}');
SELECT awslambda_fn('lambdaTest', '{"after":"huge header"}');
\set VERBOSITY default
-- Correct replies in other encodings are read as usual.
SELECT awslambda_fn('mockStatus', '{"gzip":true}');
SELECT awslambda_fn('mockStatus', '{"chunked":true}');
-- An error reply whose JSON is broken: the raw text is the message.
SELECT awslambda_fn('mockStatus', '{"status":400,"raw":"{\"message\": ","content_type":"application/json"}');
-- Accept, then silence until the request timeout.
SET awslambda.request_timeout_ms = 500;
\set VERBOSITY terse
SELECT awslambda_fn('lambdaSleep', '{"seconds": 3}');
\set VERBOSITY default
RESET awslambda.request_timeout_ms;
SELECT awslambda_fn('lambdaTest', '{"after":"faults"}');
-- 15 calls above and this one: each fault reached the mock exactly once
-- (broken replies and timeouts are not retried).
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int - :invokes_before AS invokes_sent;

-- TLS: the mock's HTTPS port has a self-signed certificate, which is refused
-- (08001) until a superuser names it as a CA file.
\getenv tls_port MOCK_TLS_PORT
SELECT 'https://127.0.0.1:' || :'tls_port' AS tls_url \gset
SET awslambda.endpoint_url = :'tls_url';
SET awslambda.max_attempts = 1;
DO $$
DECLARE
    state text; msg text; detail text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{}');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'sqlstate %: %', state, regexp_replace(msg, '[0-9]{4,5}', 'PORT');
    RAISE NOTICE 'certificate problem: %', detail ~* 'certificate';
END;
$$;
SELECT current_setting('data_directory') || '/../tls/cert.pem' AS ca_file \gset
SET awslambda.ca_file = :'ca_file';
SELECT awslambda_fn('lambdaTest', '{"over":"https"}');
-- A change of the CA file takes effect on the next call of the same session,
-- with a verified connection to the same endpoint kept alive: without it
-- the system's store refuses the certificate again, and so does a file
-- without certificates; with it back, the call goes through.
CREATE FUNCTION pg_temp.tls_call() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{}');
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN CASE WHEN detail ~* 'certificate|trust anchor' THEN 'refused (certificate)' ELSE 'failed: ' || detail END;
END;
$$;
-- Under valgrind, verifying against the whole system store is slow.
SET awslambda.connect_timeout_ms = 60000;
RESET awslambda.ca_file;
SELECT pg_temp.tls_call() AS without_ca_file;
SET awslambda.ca_file = :'ca_file';
SELECT pg_temp.tls_call() AS with_ca_file;
SET awslambda.ca_file = '/dev/null';
SELECT pg_temp.tls_call() AS with_an_empty_ca_file;
SET awslambda.ca_file = :'ca_file';
SELECT awslambda_fn('lambdaTest', '{"over":"https again"}');
RESET awslambda.connect_timeout_ms;
CREATE ROLE regress_tls_user;
SET ROLE regress_tls_user;
SET awslambda.ca_file = '/tmp/evil.pem';
RESET ROLE;
DROP ROLE regress_tls_user;
RESET awslambda.ca_file;
RESET awslambda.max_attempts;
RESET awslambda.endpoint_url;
