--
-- The server's environment holds no keys: credentials and region come from
-- EC2 instance metadata (IMDSv2, served by the mock), are cached per backend
-- and refreshed ahead of their Expiration.
--
\c
SELECT s->>'last_access_key_id' LIKE 'ASIAMOCK%' AS key_from_imds,
       (s->>'imds_token_requests')::int > 0 AS used_imdsv2_token,
       (s->>'imds_region_requests')::int > 0 AS region_from_imds
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);

-- Cached: twenty calls, no further metadata round trip.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int AS fetches_before \gset
SELECT count(awslambda_fn('lambdaTest', '{}')) AS calls FROM generate_series(1, 20);
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int - :fetches_before AS new_fetches;

-- Credentials valid for 15 min + 8 s: used while outside the 15-minute
-- refresh window, replaced by new ones once inside it.
SELECT awslambda_fn('mockConfig', '{"imds_expiry_seconds": 908}')::jsonb->'imds_expiry_seconds' AS expiry;
\c
SELECT awslambda_fn('mockStats', '{}')::jsonb->>'last_access_key_id' AS key1 \gset
SELECT awslambda_fn('mockStats', '{}')::jsonb->>'last_access_key_id' = :'key1' AS same_key_while_fresh;
SELECT pg_sleep(9);
SELECT awslambda_fn('mockStats', '{}')::jsonb->>'last_access_key_id' <> :'key1' AS refreshed_key;

-- Instance metadata handing out an already-expired credential: AWS (the
-- mock) rejects it, the backend fetches a new one and sends the call once
-- more, so the caller sees no failure.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'credentials_issued')::int AS issued_before \gset
SELECT awslambda_fn('mockConfig', '{"imds_expiry_seconds": 21600, "imds_expired_next": 1}')::jsonb->'imds_expired_next' AS expired_next;
\c
SELECT awslambda_fn('lambdaTest', '{"after":"expired credential"}');
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'credentials_issued')::int - :issued_before AS credentials_fetched;
-- The same within a fan-out and with fail_fast.
SELECT awslambda_fn('mockConfig', '{"imds_expired_next": 1}')::jsonb->'imds_expired_next' AS expired_next;
\c
SELECT count(*) FILTER (WHERE status_code = 200) AS ok, count(error_sqlstate) AS failed
  FROM awslambda_invoke_many('lambdaTest', array_fill('{}'::jsonb, ARRAY[5]), fail_fast => true);

-- IMDSv1 only when a superuser allows it: instance metadata that refuses the
-- token call (an IMDSv1-only service, or a proxy in the way).
SELECT awslambda_fn('mockConfig', '{"imds_token_status": 403}')::jsonb->'imds_token_status' AS token_status;
\c
SELECT awslambda_fn('lambdaTest', '{}');
SET awslambda.imds_v1_fallback = on;
SELECT awslambda_fn('lambdaTest', '{"via":"IMDSv1"}');
SELECT source FROM awslambda_credentials();
SELECT awslambda_fn('mockConfig', '{"imds_token_status": null}')::jsonb->'imds_token_status' AS token_status;
RESET awslambda.imds_v1_fallback;
CREATE ROLE regress_imds_user;
SET ROLE regress_imds_user;
SET awslambda.imds_v1_fallback = on;
RESET ROLE;
DROP ROLE regress_imds_user;

-- A slow metadata service (its next reply takes 10 s) fails fast on the 1 s
-- timeouts (well within 8 s, also under valgrind), and the next call works again.
SELECT awslambda_fn('mockConfig', '{"imds_delay_ms": 10000, "imds_delay_requests": 1}')::jsonb->'imds_delay_ms' AS delay;
\c
CREATE TEMP TABLE t (started timestamptz);
INSERT INTO t VALUES (clock_timestamp());
DO $$
DECLARE
    detail text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{}');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'timed out: %', detail ~ 'timed out';
END;
$$;
SELECT clock_timestamp() - started < interval '8 seconds' AS failed_fast FROM t;
SELECT awslambda_fn('lambdaTest', '{"after":"slow metadata"}');

-- A 403 that denies the call (AccessDeniedException) says nothing about the
-- credentials: twenty of them fetch none.  One that says the credentials are
-- bad (ExpiredTokenException) has the backend fetch new ones and send once
-- more, but at most once a minute: twenty of them fetch one.
\c
SELECT awslambda_fn('lambdaTest', '{"before":"rejections"}');
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int AS fetches_before \gset
DO $$
BEGIN
    FOR i IN 1..20 LOOP
        BEGIN
            PERFORM awslambda_fn('mockStatus', '{"status": 403, "code": "AccessDeniedException", "message": "User is not authorized to perform: lambda:InvokeFunction"}');
        EXCEPTION WHEN invalid_authorization_specification THEN NULL;
        END;
    END LOOP;
END $$;
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int - :fetches_before AS fetches_after_access_denied;
DO $$
BEGIN
    FOR i IN 1..20 LOOP
        BEGIN
            PERFORM awslambda_fn('mockStatus', '{"status": 403, "code": "ExpiredTokenException", "message": "The security token included in the request is expired"}');
        EXCEPTION WHEN invalid_authorization_specification THEN NULL;
        END;
    END LOOP;
END $$;
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int - :fetches_before AS fetches_after_expired_token;
SELECT awslambda_fn('lambdaTest', '{"after":"rejections"}');

-- One backend and one kept-alive connection to the mock, requests of every
-- kind in turn on the same HTTP handle, which keeps its constant options
-- from call to call: a POST (invoke); new credentials (PUT for the token,
-- GETs for the role and the keys, each with 1 s timeouts and a 64 kB reply
-- limit); then POSTs with a reply over 64 kB and a run over 1 s.  Each works
-- only if nothing of the request before (method, body, limits) carried over.
\c
SELECT awslambda_fn('lambdaTest', '{"before":"methods"}');
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int AS fetches_before \gset
SET awslambda.profile = '';	-- another profile setting forgets the cached credentials
SELECT length(awslambda_fn('lambdaLargePayload', '{"size": 100000}')) > 100000 AS reply_over_64kb;
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int - :fetches_before AS credential_fetches;
SELECT awslambda_fn('lambdaSleep', '{"seconds": 1.5}');
SET awslambda.profile = '';
SELECT awslambda_fn('lambdaSleep', '{"seconds": 1.5}');
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'imds_credential_requests')::int - :fetches_before AS credential_fetches;
RESET awslambda.profile;
