--
-- Asynchronous invocations: queued in the caller's transaction, sent by the
-- background dispatcher after commit, outcome recorded per invocation.
-- The server preloads awslambda here (see test/run).
--
\set VERBOSITY terse
SELECT awslambda_fn('mockConfig', '{"reset_counters": true}') IS NOT NULL AS reset;

-- Waits until the given invocations are finished (callbacks included).
CREATE FUNCTION wait_finished(ids uuid[]) RETURNS boolean LANGUAGE plpgsql AS $$
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

-- What reached a function, per the mock.
CREATE FUNCTION accepted(fn text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT awslambda_fn('mockAccepted', jsonb_build_object('function', fn, 'payloads', true)::text)::jsonb
$$;

-- The dispatcher of this database shows in pg_stat_activity once it was woken.
SELECT awslambda_fn_async('lambdaTest', '{"first": true}') AS first_id \gset
SELECT wait_finished(ARRAY[:'first_id']::uuid[]);
SELECT function_name, qualifier, region, invocation_type, payload, status, attempts,
       http_status, request_id IS NOT NULL AS has_request_id, function_error, response,
       last_error, enqueued_at <= last_attempt_at AND last_attempt_at <= finished_at AS times_in_order,
       invoked_by = 'postgres'::regrole AS by_postgres
  FROM awslambda_invocation(:'first_id');
SELECT backend_type, datname, application_name
  FROM pg_stat_activity
 WHERE backend_type = 'awslambda launcher'
    OR (backend_type = 'awslambda dispatcher' AND datname = current_database())
 ORDER BY 1;

-- The original article's trigger: 8 rows inserted and committed -> 8 invocations.
CREATE TABLE temp_reading (id serial PRIMARY KEY, sensor text, reading numeric, taken_at timestamptz);
CREATE FUNCTION temp_reading_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM awslambda_fn_async('lambdaTempReadingTrigger',
        json_build_object('sensor', NEW.sensor, 'reading', NEW.reading)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER temp_reading_lambda AFTER INSERT ON temp_reading
    FOR EACH ROW EXECUTE FUNCTION temp_reading_trigger();

BEGIN;
INSERT INTO temp_reading (sensor, reading) SELECT 'rolled-back-' || g, g FROM generate_series(1, 8) g;
SELECT count(*) AS queued_in_transaction FROM awslambda_invocations WHERE function_name = 'lambdaTempReadingTrigger';
ROLLBACK;
BEGIN;
INSERT INTO temp_reading (sensor, reading) SELECT 'sensor-' || g, round(20 + g / 10.0, 1) FROM generate_series(1, 8) g;
COMMIT;
SELECT wait_finished(array_agg(id)) FROM awslambda_invocations WHERE function_name = 'lambdaTempReadingTrigger';
SELECT status, count(*) FROM awslambda_invocations WHERE function_name = 'lambdaTempReadingTrigger' GROUP BY status;
-- Exactly the committed rows' bodies reached the function, none of the rolled-back ones.
SELECT a.value::text AS body
  FROM jsonb_array_elements_text(accepted('lambdaTempReadingTrigger')->'payloads') a ORDER BY 1;

-- Background RequestResponse: the result is kept, the id travels in the client context.
SELECT awslambda_invoke_async('lambdaEcho', '{"echo": "me"}', 'RequestResponse') AS rr_id \gset
SELECT wait_finished(ARRAY[:'rr_id']::uuid[]);
SELECT invocation_type, status, http_status, response, function_error FROM awslambda_invocation(:'rr_id');
SELECT accepted('lambdaEcho')->'invocation_ids' = jsonb_build_array(:'rr_id'::text) AS id_in_client_context;

-- awslambda.async_mode = request_response does the same for awslambda_fn_async.
SET awslambda.async_mode = request_response;
SELECT awslambda_fn_async('lambdaTest', '{"mode": "request_response"}') AS mode_id \gset
RESET awslambda.async_mode;
SELECT wait_finished(ARRAY[:'mode_id']::uuid[]);
SELECT invocation_type, status, response FROM awslambda_invocation(:'mode_id');

-- A function error is recorded, not retried; so is a missing function.
SELECT awslambda_invoke_async('lambdaError', '{"reason": "bad reading"}', 'RequestResponse') AS err_id \gset
SELECT awslambda_invoke_async('lambdaMissing', '{}') AS missing_id \gset
SELECT wait_finished(ARRAY[:'err_id', :'missing_id']::uuid[]);
SELECT function_name, status, attempts, http_status, function_error, response->>'errorMessage' AS error_message,
       error_sqlstate, last_error
  FROM awslambda_invocations WHERE id IN (:'err_id', :'missing_id') ORDER BY function_name;

-- A response json-c accepts but jsonb refuses (\u0000) cannot be stored: that
-- invocation is recorded as failed (22P05), once; the rest of its batch is unaffected.
SET awslambda.async_mode = request_response;
BEGIN;
SELECT awslambda_fn_async('lambdaEcho', '{"nul": "\u0000"}') AS nul_id \gset
SELECT awslambda_fn_async('lambdaEcho', '{"beside": "nul"}') AS beside_id \gset
COMMIT;
RESET awslambda.async_mode;
SELECT wait_finished(ARRAY[:'nul_id', :'beside_id']::uuid[]);
SELECT id = :'nul_id' AS nul, status, attempts, http_status, response, error_sqlstate,
       last_error, error_detail
  FROM awslambda_invocations WHERE id IN (:'nul_id', :'beside_id') ORDER BY 1;

-- Throttled twice, then served: retried with backoff, attempts counted.
SELECT awslambda_invoke_async('mockStatus', '{"n": "async-1", "times": 2, "status": 429, "code": "TooManyRequestsException", "message": "Rate Exceeded."}', 'RequestResponse') AS throttled_id \gset
-- A 400 fails at once.
SELECT awslambda_invoke_async('mockStatus', '{"n": "async-2", "times": 1, "status": 400, "code": "InvalidParameterValueException"}', 'RequestResponse') AS bad_id \gset
SELECT wait_finished(ARRAY[:'throttled_id', :'bad_id']::uuid[]);
SELECT id = :'throttled_id' AS throttled, status, attempts, http_status, response, error_sqlstate, last_error
  FROM awslambda_invocations WHERE id IN (:'throttled_id', :'bad_id') ORDER BY 1;

-- The "write the result back into the row" pattern: a callback, run in its own
-- transaction with the outcome, fills in the row that asked; no polling.
CREATE TABLE reading_score (id serial PRIMARY KEY, reading numeric, invocation_id uuid,
                            score jsonb, success boolean, error_state text, error_message text);
CREATE FUNCTION reading_scored(inv awslambda_invocations) RETURNS void LANGUAGE sql AS $$
    UPDATE reading_score
       SET score = inv.response, success = inv.status = 'succeeded',
           error_state = inv.error_sqlstate, error_message = coalesce(inv.function_error, inv.last_error)
     WHERE invocation_id = inv.id
$$;
CREATE FUNCTION reading_score_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.invocation_id := awslambda_invoke_async(
        CASE WHEN NEW.reading < 0 THEN 'lambdaError' ELSE 'lambdaEcho' END,
        jsonb_build_object('reading', NEW.reading), 'RequestResponse', callback => 'reading_scored');
    RETURN NEW;
END $$;
CREATE TRIGGER reading_score_lambda BEFORE INSERT ON reading_score
    FOR EACH ROW EXECUTE FUNCTION reading_score_trigger();
INSERT INTO reading_score (reading) VALUES (1.5), (-1);
SELECT wait_finished(array_agg(invocation_id)) FROM reading_score;
SELECT reading, coalesce(score->>'errorType', score::text) AS score, success, error_state, error_message
  FROM reading_score ORDER BY id;
SELECT count(*) AS callbacks_done FROM awslambda_invocations
 WHERE callback = 'public.reading_scored' AND callback_done_at IS NOT NULL AND callback_error IS NULL;

-- A callback that fails records its error; the invocation's outcome stays.
CREATE PROCEDURE failing_callback(inv awslambda_invocations) LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'callback refuses %', inv.status;
END $$;
SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'failing_callback') AS cb_id \gset
SELECT wait_finished(ARRAY[:'cb_id']::uuid[]);
SELECT status, callback, callback_done_at IS NOT NULL AS callback_ran, callback_error
  FROM awslambda_invocation(:'cb_id');

-- Immediate mode: the original fire-and-forget, sent inside the statement, no row.
SET awslambda.async_mode = immediate;
SELECT count(*) AS rows_before FROM awslambda_invocations \gset
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"immediate": true}') IS NOT NULL AS has_request_id;
ROLLBACK;
RESET awslambda.async_mode;
SELECT count(*) - :rows_before AS new_rows FROM awslambda_invocations;
SELECT accepted('lambdaTest')->'payloads' ? '{"immediate": true}' AS sent_despite_rollback;

-- Bad input: clear errors, nothing queued.
SELECT count(*) AS rows_before FROM awslambda_invocations \gset
SELECT awslambda_fn_async('lambdaTest', 'not json');
SELECT awslambda_fn_async('', '{}');
SELECT awslambda_fn_async('arn:aws:lambda:us-east-1:12:function:x', '{}');
SELECT awslambda_fn_async('lambdaTest', NULL) IS NULL AS strict_null;
SELECT awslambda_invoke_async(NULL, '{}');
SELECT awslambda_invoke_async('lambdaTest', '{}', 'DryRun');
SELECT awslambda_invoke_async('lambdaTest', '{}', 'event');
SELECT awslambda_invoke_async('lambdaTest', '{}', qualifier => 'no/slash');
SELECT awslambda_invoke_async('lambdaTest', '{}', region => 'Not A Region');
SELECT awslambda_invoke_async('arn:aws:lambda:us-west-2:123456789012:function:lambdaTest', '{}', region => 'eu-west-1');
SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'no_such_callback');
SELECT awslambda_invoke_async('lambdaTest', '{}', callback => 'temp_reading_trigger');
-- Over Lambda's payload limit for the invocation type: refused when queued.
SELECT awslambda_invoke_async('lambdaTest', jsonb_build_object('big', repeat('x', 1048576)));
SELECT awslambda_invoke_async('lambdaTest', jsonb_build_object('big', repeat('x', 6291456)), 'RequestResponse');
SELECT awslambda_fn_async('lambdaTest', json_build_object('big', repeat('€', 400000))::text);
SELECT count(*) - :rows_before AS new_rows FROM awslambda_invocations;

-- The region of a full ARN, or the one given, is recorded.
BEGIN;
SELECT awslambda_invoke_async('arn:aws:lambda:eu-central-1:123456789012:function:lambdaTest', '{}') AS arn_id \gset
SELECT awslambda_invoke_async('lambdaTest', '{}', region => 'ap-south-1') AS region_id \gset
SELECT id = :'arn_id' AS arn, region FROM awslambda_invocations WHERE id IN (:'arn_id', :'region_id') ORDER BY 1;
ROLLBACK;

-- Roles: EXECUTE must be granted; a role sees only its own invocations and
-- cannot write the queue; awslambda.allowed_functions is checked when queuing.
CREATE ROLE regress_async_app LOGIN;
SET ROLE regress_async_app;
SELECT awslambda_fn_async('lambdaTest', '{}');
RESET ROLE;
GRANT EXECUTE ON FUNCTION awslambda_fn_async(text, text) TO regress_async_app;
GRANT EXECUTE ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean, timestamptz, integer, text, text) TO regress_async_app;
ALTER ROLE regress_async_app SET awslambda.allowed_functions = 'lambdaT*';
\c - regress_async_app
\set VERBOSITY terse
SELECT awslambda_fn_async('lambdaTest', '{"by": "app"}') AS app_id \gset
SELECT awslambda_fn_async('lambdaEcho', '{"by": "app"}');
SELECT count(*) AS visible, bool_and(invoked_by = 'regress_async_app'::regrole) AS all_own FROM awslambda_invocations;
INSERT INTO awslambda_invocations (id, function_name, region, invocation_type, payload, invoked_by)
    VALUES (gen_random_uuid(), 'lambdaEcho', 'us-east-1', 'Event', '{}', 10);
UPDATE awslambda_invocations SET status = 'queued';
DELETE FROM awslambda_invocations;
\c - postgres
\set VERBOSITY terse
SELECT wait_finished(ARRAY[:'app_id']::uuid[]);
SELECT status FROM awslambda_invocation(:'app_id');
DROP OWNED BY regress_async_app;
DROP ROLE regress_async_app;

-- The queue row is written without the executor (queue_insert.c): the
-- columns' defaults, every index's entry, and, when the pending table has
-- something that path does not do (here an administrator's trigger), the
-- INSERT instead; a change of the table or its indexes is seen at once.
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"direct": 1}') AS direct_id \gset
SELECT status, attempts, enqueued_at = now() AS enqueued_now, next_attempt_at = now() AS due_now,
       queued_xact = pg_current_xact_id() AS this_xact, invoked_by = 'postgres'::regrole AS by_me,
       num_nulls(qualifier, callback, callback_fn, last_attempt_at, finished_at, http_status,
                 request_id, response, last_error, tenant_id, durable_execution_name, max_attempts,
                 dedup_key) AS nulls
  FROM awslambda_invocations_pending WHERE id = :'direct_id';
SET LOCAL enable_seqscan = off;
SELECT count(*) AS by_fresh_index FROM awslambda_invocations_pending
 WHERE status = 'queued' AND attempts = 0 AND queued_xact = pg_current_xact_id() AND id = :'direct_id';
ROLLBACK;
SELECT count(*) AS after_rollback FROM awslambda_invocations WHERE id = :'direct_id';
BEGIN READ ONLY;
SELECT awslambda_fn_async('lambdaTest', '{"read": "only"}');
ROLLBACK;
CREATE FUNCTION pending_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'pending row for %', NEW.function_name;
    RETURN NEW;
END $$;
CREATE TRIGGER pending_seen AFTER INSERT ON awslambda_invocations_pending
    FOR EACH ROW EXECUTE FUNCTION pending_seen();
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"through": "insert"}') IS NOT NULL AS queued;
ROLLBACK;
DROP TRIGGER pending_seen ON awslambda_invocations_pending;
DROP FUNCTION pending_seen();
CREATE INDEX pending_by_payload ON awslambda_invocations_pending (payload);
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"indexed": 1}') IS NOT NULL AS queued;
SET LOCAL enable_seqscan = off;
SELECT count(*) AS by_new_index FROM awslambda_invocations_pending WHERE payload = '{"indexed": 1}';
ROLLBACK;
DROP INDEX pending_by_payload;

-- Settings.
SELECT name, setting, unit, context FROM pg_settings
 WHERE name IN ('awslambda.async_mode', 'awslambda.async_max_attempts', 'awslambda.async_retention')
 ORDER BY name;
