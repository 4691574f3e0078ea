--
-- RDS/Aurora compatibility: CREATE EXTENSION aws_lambda CASCADE, then SQL as
-- AWS documents it for Aurora PostgreSQL and RDS for PostgreSQL, unchanged
-- (function names are the mock's).
--
CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE;
SELECT extname, extversion, nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname IN ('aws_commons', 'aws_lambda') ORDER BY extname;

-- The four overloads, their argument names, defaults and result columns.
SELECT p.oid::regprocedure AS signature, pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('aws_lambda', 'aws_commons') ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT pg_get_function_arguments('aws_commons.create_lambda_function_arn'::regproc) AS args;
SELECT pg_get_function_identity_arguments(p.oid) AS args
  FROM pg_proc p WHERE p.proname = 'invoke' AND p.pronamespace = 'aws_lambda'::regnamespace
 ORDER BY 1;

-- Step 4 of AWS's guide: three ways to build the composite, kept in psql variables.
SELECT aws_commons.create_lambda_function_arn(
   'lambdaTest',
   'us-east-1'
) AS aws_lambda_arn_1 \gset
SELECT aws_commons.create_lambda_function_arn(
   '123456789012:function:lambdaTest',
   'us-east-1'
) AS lambda_partial_arn_1 \gset
SELECT aws_commons.create_lambda_function_arn(
   'arn:aws:lambda:us-east-1:123456789012:function:lambdaTest'
) AS lambda_arn_1 \gset
SELECT * FROM aws_lambda.invoke(:'lambda_partial_arn_1', '{"body": "Hello from Postgres!"}'::json);
SELECT * FROM aws_lambda.invoke(:'lambda_arn_1', '{"body": "Hello from Postgres!"}'::json);

-- Step 5: invoke by ARN with the helper inline.
SELECT * from aws_lambda.invoke(aws_commons.create_lambda_function_arn('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest', 'us-east-1'), '{"body": "Hello from Postgres!"}'::json );

-- The guide's examples.  Synchronous, twice with the same result:
SELECT * FROM aws_lambda.invoke(:'aws_lambda_arn_1', '{"body": "Hello from Postgres!"}'::json);
SELECT * FROM aws_lambda.invoke(:'aws_lambda_arn_1', '{"body": "Hello from Postgres!"}'::json, 'RequestResponse');
SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('lambdaTest', 'us-east-1'),
'{"body": "Hello from Postgres!"}'::json
);
-- Asynchronous:
SELECT * FROM aws_lambda.invoke(:'aws_lambda_arn_1', '{"body": "Hello from Postgres!"}'::json, 'Event');
-- The execution log, base64 as in RDS.  (The guide writes "SELECT *, select
-- convert_from(...)" here, a syntax error; its client-context example has
-- the statement right, and that is what runs.)
SELECT status_code, split_part(convert_from(decode(log_result, 'base64'), 'utf-8'), ' ', 1) AS log_starts
  FROM aws_lambda.invoke(:'aws_lambda_arn_1', '{"body": "Hello from Postgres!"}'::json, 'RequestResponse', 'Tail');
SELECT status_code, convert_from(decode(log_result, 'base64'), 'utf-8') LIKE 'START RequestId:%' AS log
  FROM aws_lambda.invoke(:'aws_lambda_arn_1', '{"body": "Hello from Postgres!"}'::json, 'RequestResponse', 'Tail');
-- A version or alias by qualifier: the guide's six-argument call passes an
-- untyped NULL, which matches two overloads for PostgreSQL; with the ARN
-- value typed it runs.  An alias in the name works as the guide shows.
SELECT * FROM aws_lambda.invoke(:'aws_lambda_arn_1', '{"body": "Hello from Postgres!"}'::json, 'RequestResponse', 'None', NULL, 'prod');
SELECT * FROM aws_lambda.invoke(:'aws_lambda_arn_1'::aws_commons._lambda_function_arn_1, '{"body": "Hello from Postgres!"}'::json, 'RequestResponse', 'None', NULL, 'prod');
SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('lambdaTest:prod', 'us-west-2'),
'{"body": "Hello from Postgres!"}'::json);

-- By name, json and jsonb; the result payload has the argument's type.
SELECT * FROM aws_lambda.invoke('lambdaTest', '{"body": "Hello from Postgres!"}'::jsonb);
SELECT pg_typeof(payload) FROM aws_lambda.invoke('lambdaTest', '{}'::json);
SELECT pg_typeof(payload) FROM aws_lambda.invoke('lambdaTest', '{}'::jsonb);
SELECT * FROM aws_lambda.invoke('lambdaTest', '{"body": "Hello from Postgres!"}'::json, 'us-east-1', 'Event');
SELECT * FROM aws_lambda.invoke(:'aws_lambda_arn_1', '{}'::json, 'DryRun');

-- Client context (a JSON object) and qualifier by name.
SELECT payload->'client_context'->'custom' AS custom
  FROM aws_lambda.invoke('lambdaContext', '{}'::json, 'us-east-1', 'RequestResponse', 'None',
                         '{"custom": {"source": "rds"}}'::json);
SELECT executed_version FROM aws_lambda.invoke('lambdaTest', '{}'::json, qualifier => '1');

-- A composite literal with a conflicting region, or arguments that fit neither reading.
SELECT * FROM aws_lambda.invoke('(lambdaTest,us-east-1)', '{}'::json, 'eu-west-1');
SELECT * FROM aws_lambda.invoke('(lambdaTest,us-east-1)', '{}'::json, 'Event', 'None', 'None', NULL, 'prod');
SELECT status_code FROM aws_lambda.invoke('("lambdaTest",)', '{}'::json);

-- A function error is raised, as the guide's error list shows.
\set VERBOSITY terse
SELECT * FROM aws_lambda.invoke('lambdaError', '{"reason": "rds"}'::json);
\set VERBOSITY default
DO $$
DECLARE
    detail text;
BEGIN
    PERFORM aws_lambda.invoke('lambdaError', '{"reason": "rds"}'::json);
EXCEPTION WHEN external_routine_exception THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'caught external_routine_exception: %', left(detail, 62);
END;
$$;

-- A region that conflicts with the ARN's is an error; a full ARN needs no region.
SELECT * FROM aws_lambda.invoke('arn:aws:lambda:us-west-2:123456789012:function:lambdaTest', '{}'::json, 'us-east-1');
SELECT status_code FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('arn:aws:lambda:us-west-2:123456789012:function:lambdaTest'), '{}'::json);

-- Settings of the same names and defaults; their timeouts apply here.
SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'aws\_lambda.%' ORDER BY name;
SET aws_lambda.request_timeout_ms = 300;
DO $$
DECLARE
    msg text; hint text;
BEGIN
    PERFORM aws_lambda.invoke('lambdaSleep', '{"seconds": 2}'::json);
EXCEPTION WHEN connection_failure THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE '%', msg;
    RAISE NOTICE 'hint: %', hint;
END;
$$;
RESET aws_lambda.request_timeout_ms;
SELECT current_setting('awslambda.endpoint_url') AS mock \gset
SET aws_lambda.endpoint_override = 'http://127.0.0.1:1';
\set VERBOSITY terse
SELECT * FROM aws_lambda.invoke('lambdaTest', '{}'::json);
\set VERBOSITY default
SET aws_lambda.endpoint_override = :'mock';
SELECT status_code FROM aws_lambda.invoke('lambdaTest', '{}'::json);
RESET aws_lambda.endpoint_override;
SET aws_lambda.endpoint_override = 'vpce-0123.lambda.us-east-1.vpce.amazonaws.com';
SHOW aws_lambda.endpoint_override;
SET aws_lambda.endpoint_override = 'ftp://example.com';
RESET aws_lambda.endpoint_override;

-- Step 6: other users need USAGE on the schemas and EXECUTE on the function.
CREATE ROLE regress_lambda_user;
GRANT USAGE ON SCHEMA aws_lambda TO regress_lambda_user;
GRANT USAGE ON SCHEMA aws_commons TO regress_lambda_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda TO regress_lambda_user;
SET ROLE regress_lambda_user;
SELECT status_code FROM aws_lambda.invoke('lambdaTest', '{}'::json);
SET aws_lambda.endpoint_override = 'lambda.example.com';
RESET ROLE;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA aws_lambda FROM regress_lambda_user;
REVOKE ALL ON SCHEMA aws_lambda, aws_commons FROM regress_lambda_user;
DROP ROLE regress_lambda_user;

DROP EXTENSION aws_lambda;
DROP EXTENSION aws_commons;
