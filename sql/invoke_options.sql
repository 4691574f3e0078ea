--
-- Per-invocation options of awslambda_invoke_async (0.5.0): run_at,
-- max_attempts, dedup_key and dedup_mode.  The server preloads awslambda
-- here (see test/run); arrivals are counted at the mock.
--
\set VERBOSITY terse
SELECT awslambda_fn('mockConfig', '{"reset_counters": true}') IS NOT NULL AS reset;

CREATE FUNCTION opt_wait(ids uuid[]) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '120 s';
BEGIN
    LOOP
        IF NOT EXISTS (SELECT 1 FROM awslambda_invocations
                       WHERE id = ANY (ids)
                         AND (finished_at IS NULL OR (callback IS NOT NULL AND callback_done_at IS NULL))) THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
CREATE FUNCTION opt_accepted(fn text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT awslambda_fn('mockAccepted', jsonb_build_object('function', fn, 'payloads', true)::text)::jsonb
$$;

-- The new arguments come last, with defaults: calls of 0.4.0, positional
-- or named, mean what they meant.
SELECT pg_get_function_identity_arguments('awslambda_invoke_async'::regproc);
SELECT awslambda_invoke_async('lambdaEcho', '{"old": "positional"}', 'RequestResponse', NULL, NULL, NULL,
                              NULL, NULL, false) AS old_pos \gset
SELECT awslambda_invoke_async(function_name => 'lambdaEcho', payload => '{"old": "named"}') AS old_named \gset
SELECT opt_wait(ARRAY[:'old_pos', :'old_named']::uuid[]);
SELECT invocation_type, status, attempts, max_attempts, dedup_key
  FROM awslambda_invocations WHERE id IN (:'old_pos', :'old_named') ORDER BY payload::text;

-- Checked when queued.
SELECT clock_timestamp() AS t0 \gset
SELECT awslambda_invoke_async('lambdaTest', '{}', max_attempts => 0);
SELECT awslambda_invoke_async('lambdaTest', '{}', max_attempts => 101);
SELECT awslambda_invoke_async('lambdaTest', '{}', run_at => 'infinity');
SELECT awslambda_invoke_async('lambdaTest', '{}', dedup_key => 'k', dedup_mode => 'Keep');
SELECT awslambda_invoke_async('lambdaTest', '{}', dedup_key => 'k', dedup_mode => NULL);
SELECT awslambda_invoke_async('lambdaTest', '{}', dedup_key => repeat('k', 1025));
SELECT count(*) AS nothing_queued FROM awslambda_invocations WHERE enqueued_at >= :'t0';

-- run_at: not sent before then.  An invocation due later is put aside
-- (queued_xact 0) and found by its due time; one due already is fresh.
SELECT clock_timestamp() + interval '2 s' AS due \gset
SELECT awslambda_invoke_async('lambdaTest', '{"run_at": "later"}', run_at => :'due') AS later \gset
SELECT awslambda_invoke_async('lambdaTest', '{"run_at": "past"}', run_at => now() - interval '1 h') AS past \gset
SELECT awslambda_invoke_async('lambdaTest', '{"run_at": "none"}') AS none \gset
SELECT opt_wait(ARRAY[:'past', :'none']::uuid[]);
SELECT payload, status, next_attempt_at = :'due'::timestamptz AS due_as_asked, queued_xact = '0' AS put_aside
  FROM awslambda_invocations_pending WHERE id = :'later';
SELECT payload, status FROM awslambda_invocations WHERE id IN (:'past', :'none') ORDER BY payload::text;
SELECT opt_wait(ARRAY[:'later']::uuid[]);
SELECT status, attempts, last_attempt_at >= :'due'::timestamptz AS not_before_run_at
  FROM awslambda_invocation(:'later');
SELECT count(*) FILTER (WHERE p LIKE '{"run_at": %') AS arrivals,
       count(*) FILTER (WHERE p = '{"run_at": "later"}') AS later_arrivals
  FROM jsonb_array_elements_text(opt_accepted('lambdaTest')->'payloads') p;

-- max_attempts overrides awslambda.async_max_attempts (10) for one
-- invocation: a 503 (retried) is tried once with 1, three times with 3.
SELECT awslambda_invoke_async('mockStatus', '{"n":"opt1","times":5,"status":503,"code":"ServiceUnavailableException"}',
                              'RequestResponse', max_attempts => 1) AS once \gset
SELECT awslambda_invoke_async('mockStatus', '{"n":"opt3","times":2,"status":503,"code":"ServiceUnavailableException"}',
                              'RequestResponse', max_attempts => 3) AS thrice \gset
SELECT opt_wait(ARRAY[:'once', :'thrice']::uuid[]);
SELECT max_attempts, status, attempts, http_status, error_detail, response
  FROM awslambda_invocations WHERE id IN (:'once', :'thrice') ORDER BY max_attempts;
-- The mock saw the first one once: its next arrival is its second.
SELECT awslambda_fn('mockStatus', '{"n":"opt1","times":1,"status":503,"code":"ServiceUnavailableException"}');

-- dedup_key: while unclaimed, a new call with the same key (same role and
-- function) replaces the invocation and returns its id; 'keep' leaves it.
SELECT clock_timestamp() + interval '1 h' AS far \gset
SELECT awslambda_invoke_async('lambdaEcho', '{"v": 1}', dedup_key => 'row-1', run_at => :'far') AS d1 \gset
SELECT awslambda_invoke_async('lambdaEcho', '{"v": 2}', dedup_key => 'row-1', run_at => :'far') = :'d1' AS same_id;
SELECT awslambda_invoke_async('lambdaEcho', '{"v": 3}', dedup_key => 'row-1', dedup_mode => 'keep') = :'d1' AS kept_id;
SELECT payload, next_attempt_at = :'far'::timestamptz AS run_at_kept FROM awslambda_invocation(:'d1');
-- Another key, another function, or no key: other invocations.
SELECT awslambda_invoke_async('lambdaEcho', '{"v": 4}', dedup_key => 'row-2', run_at => :'far') <> :'d1' AS other_key;
SELECT awslambda_invoke_async('lambdaTest', '{"v": 5}', dedup_key => 'row-1', run_at => :'far') <> :'d1' AS other_function;
-- A replace in a transaction that rolls back leaves the invocation as it was.
BEGIN;
SELECT awslambda_invoke_async('lambdaEcho', '{"v": "rolled back"}', dedup_key => 'row-1') = :'d1' AS same_id;
SELECT payload FROM awslambda_invocation(:'d1');
ROLLBACK;
SELECT payload, status, next_attempt_at = :'far'::timestamptz AS run_at_kept FROM awslambda_invocation(:'d1');
-- So does one in a savepoint rolled back.
BEGIN;
SAVEPOINT s;
SELECT awslambda_invoke_async('lambdaEcho', '{"v": "savepoint"}', dedup_key => 'row-1') = :'d1' AS same_id;
ROLLBACK TO s;
COMMIT;
SELECT payload FROM awslambda_invocation(:'d1');
-- The last replace (due now, as RequestResponse) is what is sent, once.
SELECT awslambda_invoke_async('lambdaEcho', '{"v": "last"}', 'RequestResponse', dedup_key => 'row-1') = :'d1' AS same_id;
SELECT opt_wait(ARRAY[:'d1']::uuid[]);
SELECT invocation_type, payload, status, response, dedup_key FROM awslambda_invocation(:'d1');
SELECT count(*) FILTER (WHERE p = '{"v": "last"}') AS last_arrivals,
       count(*) FILTER (WHERE p LIKE '{"v": %') AS v_arrivals
  FROM jsonb_array_elements_text(opt_accepted('lambdaEcho')->'payloads') p;
-- Once claimed, the key makes a new invocation.
SELECT awslambda_invoke_async('lambdaEcho', '{"v": "after"}', dedup_key => 'row-1', run_at => :'far') <> :'d1' AS new_id;

-- The callback of a replaced invocation is the last call's ('replace'), or
-- stays the first's ('keep'); it runs once, for the one invocation.
CREATE TABLE opt_cb_log (id uuid, which text, payload text);
CREATE FUNCTION opt_cb_a(inv awslambda_invocations) RETURNS void LANGUAGE sql
  AS $$INSERT INTO opt_cb_log VALUES (inv.id, 'a', inv.payload)$$;
CREATE FUNCTION opt_cb_b(inv awslambda_invocations) RETURNS void LANGUAGE sql
  AS $$INSERT INTO opt_cb_log VALUES (inv.id, 'b', inv.payload)$$;
BEGIN;
SELECT awslambda_invoke_async('lambdaTest', '{"cb": 1}', callback => 'opt_cb_a', dedup_key => 'cb') AS c1 \gset
SELECT awslambda_invoke_async('lambdaTest', '{"cb": 2}', callback => 'opt_cb_b', dedup_key => 'cb') = :'c1' AS same_id;
SELECT awslambda_invoke_async('lambdaTest', '{"cb": 3}', callback => 'opt_cb_a', dedup_key => 'cb',
                              dedup_mode => 'keep') = :'c1' AS same_id;
COMMIT;
SELECT opt_wait(ARRAY[:'c1']::uuid[]);
SELECT which, payload FROM opt_cb_log WHERE id = :'c1';

-- Row-level security: the key is the queuing role's.  Another role's same
-- key is another invocation, which neither replaces nor shows the first.
CREATE ROLE regress_opt_a;
CREATE ROLE regress_opt_b;
GRANT EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean,
                                                 timestamptz, integer, text, text) TO regress_opt_a, regress_opt_b;
SET ROLE regress_opt_a;
SELECT awslambda_invoke_async('lambdaEcho', '{"who": "a"}', dedup_key => 'shared', run_at => :'far') AS ka \gset
SET ROLE regress_opt_b;
SELECT awslambda_invoke_async('lambdaEcho', '{"who": "b"}', dedup_key => 'shared', run_at => :'far') <> :'ka' AS own_invocation;
SELECT awslambda_invoke_async('lambdaEcho', '{"who": "b2"}', dedup_key => 'shared', dedup_mode => 'keep', run_at => :'far') <> :'ka' AS still_own;
SELECT count(*) AS b_sees, string_agg(payload, ',') AS payloads FROM awslambda_invocations WHERE dedup_key = 'shared';
SELECT * FROM awslambda_invocations_pending;
RESET ROLE;
SELECT r.rolname, i.payload FROM awslambda_invocations i JOIN pg_roles r ON r.oid = i.invoked_by
 WHERE i.dedup_key = 'shared' ORDER BY 1;
-- awslambda.allowed_functions applies to a call with a key as to any.
SET awslambda.allowed_functions = 'lambdaT*';
SELECT awslambda_invoke_async('lambdaEcho', '{"v": "denied"}', dedup_key => 'row-2');
RESET awslambda.allowed_functions;
SELECT payload FROM awslambda_invocations WHERE dedup_key = 'row-2';

-- A failed invocation retried (awslambda_retry) keeps its max_attempts and
-- its dedup_key: it fails again after one attempt (a 503 the mock answers
-- twice; with the server's 10 attempts it would succeed on the next one).
-- Queued again it has had an attempt, so it is not the key's unclaimed
-- invocation: it violates no unique index next to one queued meanwhile
-- with the same key, which a new call with the key still replaces.
SELECT awslambda_invoke_async('mockStatus', '{"n":"opt-retry","times":2,"status":503,"code":"ServiceUnavailableException"}',
                              'RequestResponse', max_attempts => 1, dedup_key => 'retry-key') AS r1 \gset
SELECT opt_wait(ARRAY[:'r1']::uuid[]);
SELECT status, attempts, max_attempts, dedup_key FROM awslambda_invocation(:'r1');
SELECT awslambda_invoke_async('mockStatus', '{"n":"opt-retry-later"}', dedup_key => 'retry-key',
                              run_at => :'far') AS r2 \gset
SELECT :'r2' <> :'r1' AS new_id;
SELECT awslambda_retry(:'r1') AS retried;
SELECT opt_wait(ARRAY[:'r1']::uuid[]);
SELECT status, attempts, max_attempts, dedup_key, http_status FROM awslambda_invocation(:'r1');
SELECT awslambda_invoke_async('mockStatus', '{"n":"opt-retry-replaced"}', dedup_key => 'retry-key',
                              run_at => :'far') = :'r2' AS replaces_the_unclaimed_one;
SELECT payload, status FROM awslambda_invocation(:'r2');

-- awslambda_queue_stats: an invocation queued for later is queued, not due
-- now, and its run_at is the next due time.
SELECT awslambda_invoke_async('optStatsFn', '{}', run_at => :'far') AS s1 \gset
SELECT awslambda_invoke_async('optStatsFn', '{}', run_at => :'far'::timestamptz + interval '1 h') AS s2 \gset
SELECT queued, due_now, sending, paused, next_due_at = :'far'::timestamptz AS next_due_is_run_at
  FROM awslambda_queue_stats WHERE function_name = 'optStatsFn';

-- Clean up: what is still queued for later is not sent.
DELETE FROM awslambda_invocations WHERE finished_at IS NULL AND next_attempt_at >= :'far'::timestamptz;
REVOKE EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean,
                                                  timestamptz, integer, text, text) FROM regress_opt_a, regress_opt_b;
DROP ROLE regress_opt_a;
DROP ROLE regress_opt_b;
DROP TABLE opt_cb_log;
DROP FUNCTION opt_cb_a(awslambda_invocations);
DROP FUNCTION opt_cb_b(awslambda_invocations);
DROP FUNCTION opt_wait(uuid[]);
DROP FUNCTION opt_accepted(text);
