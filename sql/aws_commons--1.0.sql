/* aws_commons--1.0.sql */

\echo Use "CREATE EXTENSION aws_commons" to load this file. \quit

-- A Lambda function and, optionally, its region, as RDS/Aurora spell it.
CREATE TYPE @extschema@._lambda_function_arn_1 AS (
    function_name text,
    region text
);

CREATE FUNCTION @extschema@.create_lambda_function_arn(
    function_name text,
    region text DEFAULT NULL)
RETURNS @extschema@._lambda_function_arn_1
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ROW(function_name, region)::@extschema@._lambda_function_arn_1 $$;

COMMENT ON FUNCTION @extschema@.create_lambda_function_arn(text, text) IS
'a function name or ARN, with an optional region, for aws_lambda.invoke';
