/* aws_commons--1.0.sql */

\echo Use "CREATE EXTENSION aws_commons" to load this file. \quit

-- The schema is made for this extension, or must belong to a superuser: a
-- role that created it beforehand could plant functions in it that the
-- extension's users would then call.
DO $$
BEGIN
    IF NOT (SELECT r.rolsuper
              FROM pg_catalog.pg_namespace AS n
              JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
             WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace) THEN
        RAISE EXCEPTION 'schema "@extschema@" belongs to a role that is not a superuser'
            USING HINT = 'Drop the schema, or make a superuser its owner, before CREATE EXTENSION.';
    END IF;
END $$;

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
