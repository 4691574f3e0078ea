--
-- A server clock ten minutes behind AWS's (the mock pretends to run ahead):
-- Lambda refuses the signature ("Signature expired").  The backend adopts the
-- clock of the reply's Date header, as the AWS SDKs do, says so once in a
-- WARNING, and sends the call once more; later calls are signed right at
-- once.  The dispatcher, a process of its own, corrects itself the same way.
--
\set VERBOSITY terse
SELECT awslambda_fn('mockConfig', '{"clock_skew_seconds": 600, "reset_counters": true}')::jsonb->'clock_skew_seconds' AS skew;
\c
SELECT awslambda_fn('lambdaTest', '{"skewed": 1}');
-- The refused request, the one sent again, and this one.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes;
SELECT awslambda_fn('mockConfig', '{"reset_counters": true}') IS NOT NULL AS reset;
SELECT awslambda_fn('lambdaTest', '{"skewed": 2}');
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_without_retry;

-- In a fan-out every refused request is sent again; one WARNING.
\c
SELECT count(*) FILTER (WHERE status_code = 200) AS ok, count(error_sqlstate) AS failed
  FROM awslambda_invoke_many('lambdaTest', array_fill('{}'::jsonb, ARRAY[5]));
SELECT * FROM awslambda_invoke_many('lambdaTest', array_fill('{}'::jsonb, ARRAY[2]), fail_fast => true)
  WHERE error_sqlstate IS NOT NULL;

-- A queued invocation: sent, after one attempt.
CREATE FUNCTION wait_skewed(id uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '120 s';
BEGIN
    WHILE clock_timestamp() < deadline LOOP
        IF EXISTS (SELECT 1 FROM awslambda_invocations i WHERE i.id = $1 AND finished_at IS NOT NULL) THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END $$;
SELECT awslambda_invoke_async('lambdaTest', '{"skewed": "queued"}') AS skewed_id \gset
SELECT wait_skewed(:'skewed_id');
SELECT status, attempts, error_sqlstate, last_error FROM awslambda_invocations WHERE id = :'skewed_id';
DROP FUNCTION wait_skewed(uuid);

-- Refused as "not yet current" once the mock's clock is right again: the
-- correction goes back, with a WARNING, and the call succeeds.
SELECT awslambda_fn('mockConfig', '{"clock_skew_seconds": 0}')::jsonb->'clock_skew_seconds' AS skew;
SELECT awslambda_fn('lambdaTest', '{"skewed": "back"}');
SELECT awslambda_fn('lambdaTest', '{"skewed": "again"}');
