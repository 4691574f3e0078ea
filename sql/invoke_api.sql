--
-- The Invoke API as Lambda has it since late 2025: tenant isolation, durable
-- executions, $LATEST.PUBLISHED, the error codes Lambda added (SQLSTATE and
-- retry per code), payload limits by invocation type checked before sending.
-- Synchronous calls and, with the preloaded dispatcher, queued ones.
--
SELECT awslambda_fn('mockConfig', '{"reset_counters": true}') IS NOT NULL AS reset;

CREATE FUNCTION api_stats() RETURNS jsonb LANGUAGE sql AS $$
    SELECT awslambda_fn('mockStats', '{}')::jsonb
$$;
-- Invokes that reached the mock since the last reset, not counting this look.
CREATE FUNCTION api_invokes() RETURNS int LANGUAGE sql AS $$
    SELECT (api_stats()->>'invokes')::int - 1
$$;
CREATE FUNCTION api_wait(ids uuid[], cond text DEFAULT 'finished_at IS NOT NULL')
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '120 s';
    n int;
BEGIN
    LOOP
        EXECUTE format('SELECT count(*) FROM awslambda_invocations WHERE id = ANY ($1) AND NOT (%s)', cond)
           INTO n USING ids;
        IF n = 0 THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;

--
-- 1. Tenant isolation: X-Amz-Tenant-Id, signed, for RequestResponse and Event.
--
SELECT status_code, payload FROM awslambda_invoke('lambdaTenant', '{"n": 1}', tenant_id => 'blue');
SELECT s->>'prev_tenant_id' AS tenant_sent, s->>'prev_invocation_type' AS type_sent FROM api_stats() s;
SELECT status_code, payload FROM awslambda_invoke('lambdaTenant', '{"n": 2}', 'Event',
                                                  tenant_id => 'blue.team:a/b=c+d-e@f g');
SELECT s->>'prev_tenant_id' AS tenant_sent, s->>'prev_invocation_type' AS type_sent FROM api_stats() s;
SELECT payload->>'tenant' = repeat('t', 256) AS longest_tenant
  FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => repeat('t', 256));
SELECT ordinality, payload->>'tenant' AS tenant, error_sqlstate
  FROM awslambda_invoke_many('lambdaTenant', ARRAY['{"a": 1}', '{"a": 2}']::jsonb[], tenant_id => 'green');
-- A tenant-isolated function called without one, and a plain function with one: Lambda refuses.
SELECT * FROM awslambda_invoke('lambdaTenant', '{}');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', tenant_id => 'blue');
-- Checked before anything is sent or queued.
SELECT api_invokes() AS invokes_before \gset
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => '');
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => repeat('x', 257));
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => 'a#b');
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => ' blue');
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => 'blue ');
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => E'blue\n');
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', tenant_id => 'caf' || chr(233));
SELECT count(*) FROM awslambda_invoke_many('lambdaTenant', ARRAY['{}']::jsonb[], tenant_id => 'a#b');
SELECT awslambda_invoke_async('lambdaTenant', '{}', tenant_id => 'a#b');
SELECT count(*) AS queued FROM awslambda_invocations WHERE function_name = 'lambdaTenant';
SELECT api_invokes() - :invokes_before - 1 AS invokes_sent;  -- the look before excluded
-- Queued invocations keep their tenant id, Event and RequestResponse alike.
SELECT awslambda_invoke_async('lambdaTenant', '{"queued": 1}', tenant_id => 'green') AS t_event \gset
SELECT awslambda_invoke_async('lambdaTenant', '{"queued": 2}', 'RequestResponse', tenant_id => 'green') AS t_rr \gset
SELECT awslambda_invoke_async('lambdaTenant', '{"queued": 3}') AS t_none \gset
SELECT api_wait(ARRAY[:'t_event', :'t_rr', :'t_none']::uuid[]);
SELECT payload, tenant_id, status, attempts, response->>'tenant' AS tenant_seen, error_sqlstate
  FROM awslambda_invocations WHERE id IN (:'t_event', :'t_rr', :'t_none') ORDER BY payload;

--
-- 2. Durable executions: X-Amz-Durable-Execution-Name, the ARN returned.
--
SELECT status_code, payload,
       durable_execution_arn ~ '^arn:aws:lambda:us-east-1:123456789012:function:lambdaDurable:\$LATEST/durable-execution/order-1/[0-9a-f]+$' AS arn_ok
  FROM awslambda_invoke('lambdaDurable', '{"order": 1}', durable_execution_name => 'order-1');
SELECT durable_execution_arn AS arn1 FROM awslambda_invoke('lambdaDurable', '{"order": 1}', durable_execution_name => 'order-1') \gset
-- The same name and payload again: the same execution.
SELECT durable_execution_arn = :'arn1' AS same_execution
  FROM awslambda_invoke('lambdaDurable', '{"order": 1}', durable_execution_name => 'order-1');
-- The same name with another payload: 23505, not retried.
SELECT * FROM awslambda_invoke('lambdaDurable', '{"order": 2}', durable_execution_name => 'order-1');
DO $$
BEGIN
    PERFORM awslambda_invoke('lambdaDurable', '{"order": 3}', durable_execution_name => 'order-1');
EXCEPTION WHEN unique_violation THEN
    RAISE NOTICE 'caught as unique_violation: %', SQLERRM;
END $$;
SELECT e->>'starts' AS starts_of_order_1
  FROM jsonb_array_elements(api_stats()->'durable_executions') e WHERE e->>'name' = 'order-1';
-- Event starts carry the ARN too; an unnamed start gets one from Lambda.
SELECT status_code, durable_execution_arn LIKE '%/durable-execution/ev-1/%' AS arn_ok
  FROM awslambda_invoke('lambdaDurable', '{}', 'Event', durable_execution_name => 'ev-1');
SELECT status_code, durable_execution_arn LIKE '%/durable-execution/%' AS has_arn
  FROM awslambda_invoke('lambdaDurable', '{}');
SELECT status_code, durable_execution_arn FROM awslambda_invoke('lambdaTest', '{}');
-- Fan-out: one name for every item; identical payloads share the execution.
SET awslambda.max_concurrency = 1;
SELECT ordinality, durable_execution_arn LIKE '%/durable-execution/fan/%' AS arn_ok, error_sqlstate
  FROM awslambda_invoke_many('lambdaDurable', ARRAY['{"x": 1}', '{"x": 1}', '{"x": 2}']::jsonb[],
                             durable_execution_name => 'fan');
RESET awslambda.max_concurrency;
-- Not a durable function: Lambda refuses.  Bad names: refused before sending.
SELECT * FROM awslambda_invoke('lambdaTest', '{}', durable_execution_name => 'n1');
SELECT api_invokes() AS invokes_before \gset
SELECT * FROM awslambda_invoke('lambdaDurable', '{}', durable_execution_name => 'a.b');
SELECT * FROM awslambda_invoke('lambdaDurable', '{}', durable_execution_name => repeat('n', 65));
SELECT * FROM awslambda_invoke('lambdaDurable', '{}', durable_execution_name => '');
SELECT awslambda_invoke_async('lambdaDurable', '{}', durable_execution_name => 'a b');
SELECT awslambda_invoke_async('lambdaDurable', '{}', durable_execution_name => 'x',
                              durable_execution_name_from_id => true);
SELECT api_invokes() - :invokes_before - 1 AS invokes_sent;  -- the look before excluded
SELECT length(repeat('n', 64)) AS longest, status_code
  FROM awslambda_invoke('lambdaDurable', '{}', durable_execution_name => repeat('n', 64));
-- Queued: the invocation id as the execution name, so that a delivery made
-- again (after a crash, the row put back as the dispatcher's recovery does)
-- starts no second execution.
SELECT awslambda_invoke_async('lambdaDurable', '{"q": 1}', durable_execution_name_from_id => true) AS d_id \gset
SELECT awslambda_invoke_async('lambdaDurable', '{"q": 2}', 'RequestResponse', durable_execution_name => 'queued-2') AS d_rr \gset
SELECT api_wait(ARRAY[:'d_id', :'d_rr']::uuid[]);
SELECT id = :'d_id' AS by_id, durable_execution_name = id::text AS named_by_id, status, attempts,
       durable_execution_arn LIKE '%/durable-execution/' || durable_execution_name || '/%' AS arn_names_it
  FROM awslambda_invocations WHERE id IN (:'d_id', :'d_rr') ORDER BY payload;
SELECT durable_execution_arn AS d_arn FROM awslambda_invocations WHERE id = :'d_id' \gset
-- Back in flight as a dispatcher that crashed mid-send leaves it (the row in the
-- pending table, 'sending'), then a new dispatcher, whose recovery queues it again.
INSERT INTO awslambda_invocations_pending
SELECT (jsonb_populate_record(NULL::awslambda_invocations_pending,
                              to_jsonb(i) || jsonb_build_object('queued_xact', pg_current_xact_id()))).*
  FROM ONLY awslambda_invocations i WHERE id = :'d_id';
DELETE FROM ONLY awslambda_invocations WHERE id = :'d_id';
UPDATE awslambda_invocations_pending SET status = 'sending', finished_at = NULL WHERE id = :'d_id';
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE backend_type = 'awslambda dispatcher' AND datname = current_database();
-- (the next queued invocation wakes it)
SELECT awslambda_invoke_async('lambdaTest', '{"wake": 1}') AS wake_id \gset
SELECT api_wait(ARRAY[:'d_id', :'wake_id']::uuid[]);
SELECT status, attempts, durable_execution_arn = :'d_arn' AS same_arn
  FROM awslambda_invocations WHERE id = :'d_id';
SELECT e->>'starts' AS starts, (SELECT count(*) FROM jsonb_array_elements(api_stats()->'durable_executions') e2
                                 WHERE e2->>'name' = :'d_id') AS executions
  FROM jsonb_array_elements(api_stats()->'durable_executions') e WHERE e->>'name' = :'d_id';
-- Another payload under a name already started: failed at once, 23505.
SELECT awslambda_invoke_async('lambdaDurable', '{"q": 3}', 'RequestResponse', durable_execution_name => 'queued-2') AS d_conflict \gset
SELECT api_wait(ARRAY[:'d_conflict']::uuid[]);
SELECT status, attempts, http_status, error_sqlstate, last_error
  FROM awslambda_invocations WHERE id = :'d_conflict';

--
-- 3. $LATEST.PUBLISHED wherever $LATEST is accepted.
--
SELECT status_code, executed_version FROM awslambda_invoke('lambdaTest:$LATEST.PUBLISHED', '{}');
SELECT status_code, executed_version FROM awslambda_invoke('lambdaTest', '{}', qualifier => '$LATEST.PUBLISHED');
SELECT status_code, executed_version FROM awslambda_invoke('lambdaTest:$LATEST.PUBLISHED', '{}', qualifier => '$LATEST.PUBLISHED');
SELECT awslambda_fn('123456789012:function:lambdaTest:$LATEST.PUBLISHED', '{"p": 1}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:$LATEST.PUBLISHED', '{"p": 2}');
SELECT status_code, executed_version FROM awslambda_invoke('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest', '{}',
                                                            qualifier => '$LATEST.PUBLISHED');
CREATE EXTENSION aws_lambda CASCADE;
SELECT * FROM aws_lambda.invoke('lambdaTest', '{}'::jsonb, qualifier => '$LATEST.PUBLISHED');
DROP EXTENSION aws_lambda, aws_commons;
SET awslambda.allowed_functions = 'lambdaTest';
SELECT awslambda_fn('lambdaTest:$LATEST.PUBLISHED', '{"allowed": true}');
SET awslambda.allowed_functions = 'arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:$LATEST.PUBLISHED';
SELECT awslambda_fn('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:$LATEST.PUBLISHED', '{"allowed": true}');
SELECT awslambda_fn('lambdaTest:$LATEST.PUBLISHED', '{"allowed": false}');
RESET awslambda.allowed_functions;
SELECT awslambda_invoke_async('lambdaTest', '{"published": 1}', 'RequestResponse', qualifier => '$LATEST.PUBLISHED') AS p_id \gset
SELECT api_wait(ARRAY[:'p_id']::uuid[]);
SELECT qualifier, status, response FROM awslambda_invocations WHERE id = :'p_id';
-- A function without a published version; look-alikes of the qualifier.
SELECT * FROM awslambda_invoke('lambdaTenant', '{}', qualifier => '$LATEST.PUBLISHED', tenant_id => 'blue');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', qualifier => '$LATEST.published');
SELECT * FROM awslambda_invoke('lambdaTest:$LATEST.PUBLISHEDX', '{}');
SELECT * FROM awslambda_invoke('lambdaTest:$LATEST.PUBLISHED', '{}', qualifier => '$LATEST');

--
-- 4. Error codes: SQLSTATE, and whether they are tried again, per code.
--    ("times": 1 forces only the first arrival of that payload: a retry succeeds.)
--
-- Not ready yet (Pending after a deploy, Inactive, SnapStart): waited for.
SELECT awslambda_fn('mockStatus', '{"n": 1, "times": 1, "status": 409, "code": "ResourceConflictException", "message": "The operation cannot be performed at this time. The function is currently in the following state: Pending"}');
SELECT awslambda_fn('mockStatus', '{"n": 2, "times": 1, "status": 502, "code": "ResourceNotReadyException", "message": "Functions are not ready"}');
SELECT awslambda_fn('mockStatus', '{"n": 3, "times": 1, "status": 409, "code": "SnapStartNotReadyException"}');
SELECT awslambda_fn('mockStatus', '{"n": 4, "times": 1, "status": 502, "code": "EC2ThrottledException"}');
SELECT awslambda_fn('mockStatus', '{"n": 5, "times": 9, "status": 409, "code": "ResourceConflictException", "message": "The function is currently in the following state: Pending"}');
-- Configuration errors: not retried (the second arrival would have succeeded).
SELECT awslambda_fn('mockStatus', '{"n": 6, "times": 1, "status": 502, "code": "EC2AccessDeniedException", "message": "Lambda was unable to configure access to your environment variables because the KMS key is invalid."}');
SELECT awslambda_fn('mockStatus', '{"n": 7, "times": 1, "status": 502, "code": "KMSDisabledException"}');
SELECT awslambda_fn('mockStatus', '{"n": 8, "times": 1, "status": 502, "code": "ENILimitReachedException"}');
SELECT awslambda_fn('mockStatus', '{"n": 9, "times": 1, "status": 502, "code": "InvalidRuntimeException"}');
SELECT awslambda_fn('mockStatus', '{"n": 10, "times": 1, "status": 400, "code": "SnapStartException"}');
SELECT awslambda_fn('mockStatus', '{"n": 11, "times": 1, "status": 403, "code": "EFSMountFailureException"}');
-- Others Lambda added.
SELECT awslambda_fn('mockStatus', '{"n": 12, "times": 1, "status": 400, "code": "RecursiveInvocationException", "message": "Lambda detected a recursive loop"}');
SELECT awslambda_fn('mockStatus', '{"n": 13, "times": 1, "status": 413, "code": "RequestTooLargeException", "message": "too large"}');
SELECT awslambda_fn('mockStatus', '{"n": 14, "times": 1, "status": 413, "code": "SerializedRequestEntityTooLargeException"}');
SELECT awslambda_fn('mockStatus', '{"n": 15, "times": 1, "status": 415, "code": "UnsupportedMediaTypeException", "message": "bad type"}');
SELECT awslambda_fn('mockStatus', '{"n": 16, "times": 1, "status": 409, "code": "DurableExecutionAlreadyStartedException"}');
SELECT awslambda_fn('mockStatus', '{"n": 17, "times": 1, "status": 400, "code": "NoPublishedVersionException"}');
-- A 429's Reason in DETAIL.
SET awslambda.max_attempts = 1;
SELECT awslambda_fn('mockStatus', '{"n": 18, "status": 429, "code": "TooManyRequestsException", "message": "Rate Exceeded.", "reason": "CallerRateLimitExceeded"}');
SELECT ordinality, error_sqlstate, error_detail
  FROM awslambda_invoke_many('mockStatus', ARRAY['{"n": 19, "status": 429, "code": "TooManyRequestsException", "reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}',
                                                 '{"n": 20, "status": 429, "code": "TooManyRequestsException", "reason": "ConcurrentInvocationLimitExceeded"}']::jsonb[]);
RESET awslambda.max_attempts;
-- Caught by name.
DO $$
BEGIN
    PERFORM awslambda_fn('mockStatus', '{"n": 21, "status": 502, "code": "KMSNotFoundException"}');
EXCEPTION WHEN external_routine_invocation_exception THEN
    RAISE NOTICE 'caught as external_routine_invocation_exception';
END $$;
DO $$
BEGIN
    PERFORM awslambda_fn('mockStatus', '{"n": 22, "times": 9, "status": 502, "code": "ResourceNotReadyException"}');
EXCEPTION WHEN cannot_connect_now THEN
    RAISE NOTICE 'caught as cannot_connect_now';
END $$;
-- The dispatcher decides the same way: a configuration error fails at the
-- first attempt, a function still Pending is waited for, and a throttled
-- attempt's Reason is kept in the row.
SELECT awslambda_invoke_async('mockStatus', '{"n": 30, "times": 1, "status": 502, "code": "KMSAccessDeniedException"}', 'RequestResponse') AS q_config \gset
SELECT awslambda_invoke_async('mockStatus', '{"n": 31, "times": 1, "status": 409, "code": "ResourceConflictException", "message": "state: Pending"}', 'RequestResponse') AS q_pending \gset
SELECT awslambda_invoke_async('mockStatus', '{"n": 32, "times": 1000, "status": 429, "code": "TooManyRequestsException", "reason": "FunctionInvocationRateLimitExceeded"}', 'RequestResponse') AS q_throttled \gset
SELECT api_wait(ARRAY[:'q_config', :'q_pending']::uuid[]);
SELECT api_wait(ARRAY[:'q_throttled']::uuid[], 'throttle_reason IS NOT NULL');
SELECT payload::jsonb->>'n' AS n, status, attempts, http_status, error_sqlstate, last_error, response
  FROM awslambda_invocations WHERE id IN (:'q_config', :'q_pending') ORDER BY 1;
SELECT status IN ('queued', 'sending') AS retrying, attempts >= 1 AS attempted, http_status, error_sqlstate,
       throttle_reason, error_detail
  FROM awslambda_invocations WHERE id = :'q_throttled';
DELETE FROM awslambda_invocations WHERE id = :'q_throttled';

--
-- 5. Payload limits by invocation type, checked before sending:
--    1,048,576 bytes for Event, 6,291,456 for RequestResponse and DryRun.
--    (jsonb prints {"d": "..."}: 9 bytes around the string.)
--
SELECT api_invokes() AS invokes_before \gset
SELECT status_code FROM awslambda_invoke('lambdaEcho', jsonb_build_object('d', repeat('x', 1048576 - 9)), 'Event');
SELECT * FROM awslambda_invoke('lambdaEcho', jsonb_build_object('d', repeat('x', 1048576 - 8)), 'Event');
SELECT status_code FROM awslambda_invoke('lambdaEcho', jsonb_build_object('d', repeat('x', 1048576 - 8)), 'DryRun');
SELECT * FROM awslambda_invoke('lambdaEcho', jsonb_build_object('d', repeat('x', 6291456 - 8)), 'DryRun');
SELECT * FROM awslambda_invoke('lambdaEcho', jsonb_build_object('d', repeat('x', 6291456 - 8)));
SELECT * FROM awslambda_invoke('lambdaEcho', jsonb_build_object('d', repeat(chr(8364), 2097150)));
SELECT ordinality, status_code, error_sqlstate, error_message, error_detail
  FROM awslambda_invoke_many('lambdaEcho', ARRAY['{"small": 1}', jsonb_build_object('d', repeat('x', 1048576)), '{"small": 2}'], 'Event');
SELECT count(*) FROM awslambda_invoke_many('lambdaEcho', ARRAY['{"small": 3}', jsonb_build_object('d', repeat('x', 1048576))], 'Event',
                                          fail_fast => true);
SELECT awslambda_fn('lambdaEcho', '{"d": "' || repeat('x', 6291456 - 9) || '"}') IS NOT NULL AS largest_sync;
SELECT awslambda_fn('lambdaEcho', '{"d": "' || repeat('x', 6291456 - 8) || '"}');
SELECT awslambda_invoke_async('lambdaEcho', jsonb_build_object('d', repeat('x', 1048576 - 8)));
SET awslambda.async_mode = immediate;
SELECT awslambda_fn_async('lambdaEcho', '{"d": "' || repeat('x', 1048576 - 8) || '"}');
RESET awslambda.async_mode;
-- Sent: the Event at the limit, the DryRun, two small Events of the fan-out, the largest sync call.
SELECT api_invokes() - :invokes_before - 1 AS invokes_sent;  -- the look before excluded

DROP FUNCTION api_wait(uuid[], text);
DROP FUNCTION api_invokes();
DROP FUNCTION api_stats();
