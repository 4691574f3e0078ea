--
-- awslambda_invoke: every argument and result column.  A function error is
-- returned, not raised; transport and API errors raise as for awslambda_fn.
--
SELECT status_code, payload, function_error, executed_version, log_result,
       request_id ~ '^[0-9a-f-]{36}$' AS has_request_id
  FROM awslambda_invoke('lambdaTest', '{"name":"bob"}');

-- Invocation types: Event (202, queued, no payload), DryRun (204, nothing runs).
SELECT status_code, payload IS NULL AS no_payload, request_id IS NOT NULL AS has_request_id
  FROM awslambda_invoke('lambdaTest', '{"name":"event"}', 'Event');
SELECT s->'prev_invocation_type' AS sent_type
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
SELECT status_code, payload IS NULL AS no_payload
  FROM awslambda_invoke('lambdaTest', '{}', invocation_type => 'DryRun');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', invocation_type => 'event');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', invocation_type => NULL);

-- A function error is data: status 200, function_error set, payload the error document.
SELECT status_code, function_error, payload->>'errorType' AS error_type,
       payload->>'errorMessage' AS error_message
  FROM awslambda_invoke('lambdaError', '{"reason":"disk full"}');
DO $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM awslambda_invoke('lambdaError', '{"reason":"branch"}');
    IF r.function_error IS NOT NULL THEN
        RAISE NOTICE 'branched on function_error %: %', r.function_error, r.payload->>'errorMessage';
    END IF;
END;
$$;
-- API errors still raise.
SELECT * FROM awslambda_invoke('noSuchFunction', '{}');

-- Qualifiers: as an argument, in the name, both when they agree; a conflict
-- is refused before anything is sent, like Lambda refuses it.
SELECT executed_version FROM awslambda_invoke('lambdaTest', '{}', qualifier => 'prod');
SELECT executed_version FROM awslambda_invoke('lambdaTest', '{}', qualifier => '$LATEST');
SELECT executed_version FROM awslambda_invoke('lambdaTest:prod', '{}', qualifier => 'prod');
SELECT s->>'prev_function' AS path_name FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
SELECT * FROM awslambda_invoke('lambdaTest:prod', '{}', qualifier => '1');
SELECT * FROM awslambda_invoke('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:prod', '{}', qualifier => '1');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', qualifier => 'no/slash');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', qualifier => repeat('q', 129));
SELECT * FROM awslambda_invoke('lambdaTest', '{}', qualifier => 'staging');

-- Log tail: decoded text of the function's log.
SELECT split_part(log_result, ' ', 1) AS first_word,
       log_result LIKE '%END RequestId: ' || request_id || '%' AS mentions_request,
       log_result LIKE '%REPORT RequestId:%' AS has_report
  FROM awslambda_invoke('lambdaTest', '{}', log_type => 'Tail');
SELECT log_result IS NULL AS no_log FROM awslambda_invoke('lambdaTest', '{}', log_type => 'None');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', log_type => 'tail');

-- Client context: a JSON object, base64-encoded into X-Amz-Client-Context;
-- the function sees custom, env and client.
SELECT payload->'client_context' AS seen_by_function
  FROM awslambda_invoke('lambdaContext', '{}',
                        client_context => '{"custom":{"source":"postgres"},"env":{"db":"regress"},"client":{}}');
SELECT convert_from(decode(s->>'prev_client_context', 'base64'), 'UTF8')::jsonb AS sent_header
  FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
SELECT * FROM awslambda_invoke('lambdaContext', '{}', client_context => '[1,2]');
SELECT * FROM awslambda_invoke('lambdaContext', '{}',
                               client_context => json_build_object('custom', repeat('x', 2700))::jsonb);
-- The largest context that fits: 2685 bytes of JSON are 3580 in base64.
SELECT length(payload->'client_context'->>'custom') AS custom_chars
  FROM awslambda_invoke('lambdaContext', '{}',
                        client_context => json_build_object('custom', repeat('x', 2685 - 14))::jsonb);

-- Region: used for names, must match a full ARN's region.
SELECT payload->>'invoked_function_arn' AS invoked_arn
  FROM awslambda_invoke('lambdaContext', '{}', region => 'eu-west-1');
SELECT status_code FROM awslambda_invoke('arn:aws:lambda:us-west-2:123456789012:function:lambdaTest', '{}', region => 'us-west-2');
SELECT * FROM awslambda_invoke('arn:aws:lambda:us-west-2:123456789012:function:lambdaTest', '{}', region => 'us-east-1');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', region => 'Mars');

-- NULLs: no payload sends an empty body (the function gets {}); no name is an error.
SELECT payload FROM awslambda_invoke('lambdaEcho', NULL);
SELECT s->'prev_body_length' AS sent_bytes FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb) m(s);
SELECT * FROM awslambda_invoke(NULL, '{}');

-- Non-ASCII payloads both ways.
SELECT payload->>'msg' AS msg FROM awslambda_invoke('lambdaEcho', '{"msg":"héllo ✓"}');
