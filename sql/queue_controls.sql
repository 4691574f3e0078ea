--
-- Queue controls (0.5.0): pause, resume, cancel, retry and the queue
-- statistics, with the dispatcher running (the server preloads awslambda;
-- see test/run).  test/t/020_queue_controls.pl counts what reaches the mock
-- and tries the same as non-superusers.
--
\set VERBOSITY terse
SELECT extversion FROM pg_extension WHERE extname = 'awslambda';

-- Waits until the given invocations are finished.
CREATE FUNCTION ctl_wait(ids uuid[]) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '120 s';
BEGIN
    LOOP
        IF NOT EXISTS (SELECT 1 FROM awslambda_invocations WHERE id = ANY (ids) AND finished_at IS NULL) THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;

-- None of the controls is for PUBLIC; the view and its helper are.
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p
 WHERE p.proname IN ('awslambda_retry', 'awslambda_retry_failed', 'awslambda_cancel', 'awslambda_pause',
                     'awslambda_resume', 'awslambda_paused', 'awslambda_invocation_paused')
 ORDER BY p.proname;
SELECT has_table_privilege('public', 'awslambda_queue_stats', 'SELECT') AS stats_public,
       has_table_privilege('public', 'awslambda_paused_functions', 'INSERT') AS pauses_writable;

-- Patterns as awslambda.allowed_functions has them, one at a time.
SELECT awslambda_pause('');
SELECT awslambda_pause('ctl*, other');
SELECT awslambda_pause('ctl *');
-- Bounds: a pattern of at most 256 bytes, at most 100 patterns per role.
SELECT awslambda_pause(repeat('a', 257));
BEGIN;
SELECT count(*) FILTER (WHERE awslambda_pause('cap' || g)) AS paused FROM generate_series(1, 100) g;
SELECT awslambda_pause('cap1') AS again;
SELECT awslambda_pause('cap101');
ROLLBACK;
SELECT awslambda_retry_failed(NULL);
SELECT awslambda_retry_failed('a,b');

-- A pause keeps matching invocations queued; another function is sent.
SELECT awslambda_pause('ctl*') AS paused, awslambda_pause('ctl*') AS again,
       awslambda_pause('arn:aws:lambda:*:function:ctlArn') AS arn;
SELECT function_pattern, paused_by, paused_at <= now() AS at FROM awslambda_paused();
SELECT awslambda_invoke_async('ctlMissing', jsonb_build_object('n', 1)) AS m1,
       awslambda_invoke_async('ctlMissing', jsonb_build_object('n', 2)) AS m2,
       awslambda_invoke_async('function:ctlMissing:prod', jsonb_build_object('n', 3)) AS m3,
       awslambda_invoke_async('us-east-1:123456789012:function:ctlOther', '{}') AS m4 \gset
SELECT awslambda_invoke_async('lambdaTest', '{"ctl": "beside"}') AS beside \gset
SELECT ctl_wait(ARRAY[:'beside']::uuid[]) AS beside_sent;
-- The claims that sent it looked at the paused rows queued before it and left
-- them unlocked: no row lock (xmax), so no WAL and no dirtied page per look.
SELECT count(*) AS paused_rows, count(*) FILTER (WHERE xmax <> '0') AS locked
  FROM ONLY awslambda_invocations_pending WHERE id IN (:'m1', :'m2', :'m3', :'m4');
SELECT function_name, status, attempts FROM awslambda_invocations
 WHERE id IN (:'m1', :'m2', :'m3', :'m4') ORDER BY payload;
SELECT function_name, queued, due_now, sending, paused, failed,
       oldest_queued_age >= '0'::interval AS has_age, next_due_at
  FROM awslambda_queue_stats WHERE function_name LIKE '%ctl%' ORDER BY 1;
SELECT awslambda_invocation_paused('ctlAnything', 'postgres'::regrole) AS matching,
       awslambda_invocation_paused('lambdaTest', 'postgres'::regrole) AS other;

-- Cancel: a queued invocation, once; not a finished one, nor an unknown id.
SELECT awslambda_cancel(:'m2') AS cancelled, awslambda_cancel(:'m2') AS again,
       awslambda_cancel(:'beside') AS finished, awslambda_cancel('00000000-0000-0000-0000-000000000000') AS unknown;
SELECT status, finished_at IS NOT NULL AS finished, attempts
  FROM ONLY awslambda_invocations WHERE id = :'m2';
SELECT count(*) AS pending FROM awslambda_invocations_pending WHERE id = :'m2';

-- Resume: what was held back is sent (to a function the mock lacks: 404, failed).
SELECT awslambda_resume('nothing*') AS none, awslambda_resume('ctl*') AS resumed;
SELECT function_pattern FROM awslambda_paused();
SELECT ctl_wait(ARRAY[:'m1', :'m3', :'m4']::uuid[]) AS finished;
SELECT function_name, status, attempts, http_status, error_sqlstate FROM awslambda_invocations
 WHERE id IN (:'m1', :'m2', :'m3', :'m4') ORDER BY payload;
SELECT function_name, queued, due_now, sending, paused, failed, oldest_queued_age, next_due_at
  FROM awslambda_queue_stats WHERE function_name LIKE '%ctl%' ORDER BY 1;

-- Retry: a failed invocation only; attempts start over, the error is kept until then.
SELECT awslambda_pause('ctlMissing');
SELECT awslambda_retry(:'m1') AS retried, awslambda_retry(:'m1') AS again,
       awslambda_retry(:'m2') AS cancelled_one, awslambda_retry(:'beside') AS sent_one;
SELECT status, attempts, http_status, error_sqlstate, finished_at IS NULL AS unfinished
  FROM awslambda_invocations_pending WHERE id = :'m1';
SELECT awslambda_resume('ctlMissing');
SELECT ctl_wait(ARRAY[:'m1']::uuid[]) AS finished;
SELECT status, attempts, http_status FROM awslambda_invocations WHERE id = :'m1';
SELECT awslambda_retry_failed('ctlM*', now() + interval '1 day') AS later,
       awslambda_retry_failed('ctlNone') AS no_match;
SELECT awslambda_retry_failed('ctlM*') AS retried;
SELECT ctl_wait(ARRAY[:'m1', :'m3']::uuid[]) AS finished;
SELECT function_name, status, attempts FROM awslambda_invocations WHERE id IN (:'m1', :'m3') ORDER BY payload;
SELECT (SELECT count(*) FROM jsonb_array_elements_text(awslambda_fn('mockAccepted',
            '{"function": "lambdaTest", "payloads": true}')::jsonb -> 'payloads') AS p
         WHERE p LIKE '%beside%') AS beside_arrived;

-- A role granted the controls acts only on its own invocations.
CREATE ROLE regress_ctl LOGIN;
GRANT EXECUTE ON FUNCTION awslambda_retry(uuid), awslambda_cancel(uuid), awslambda_pause(text),
    awslambda_resume(text), awslambda_paused(), awslambda_retry_failed(text, timestamptz) TO regress_ctl;
SELECT awslambda_pause('ctlMissing');
SET ROLE regress_ctl;
SELECT awslambda_retry(:'m1') AS retry, awslambda_cancel(:'m1') AS cancel,
       awslambda_retry_failed() AS retry_failed, awslambda_resume('ctlMissing') AS resume;
SELECT count(*) AS pauses_seen FROM awslambda_paused();
SELECT count(*) AS rows_seen FROM awslambda_queue_stats;
SELECT awslambda_invocation_paused('ctlMissing', 'postgres'::regrole) AS of_others;
SELECT awslambda_pause('ctlMine') AS own_pause;
SELECT function_pattern, paused_by::regrole FROM awslambda_paused_functions;
INSERT INTO awslambda_paused_functions VALUES ('x', 0);
RESET ROLE;
SELECT function_pattern, paused_by FROM awslambda_paused();
SELECT awslambda_resume('ctlMissing'), awslambda_resume('ctlMine'),
       awslambda_resume('arn:aws:lambda:*:function:ctlArn');
SELECT count(*) AS paused FROM awslambda_paused();
DROP OWNED BY regress_ctl;
DROP ROLE regress_ctl;

-- PREPARE TRANSACTION after a control is refused.
BEGIN;
SELECT awslambda_cancel('00000000-0000-0000-0000-000000000000');
PREPARE TRANSACTION 'ctl';
DROP FUNCTION ctl_wait(uuid[]);
