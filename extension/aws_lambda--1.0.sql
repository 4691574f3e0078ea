/* aws_lambda--1.0.sql */

\echo Use "CREATE EXTENSION aws_lambda CASCADE" to load this file. \quit

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

-- The four aws_lambda.invoke overloads of Amazon RDS/Aurora PostgreSQL, with
-- their argument names, positions and defaults.  Note the third positional
-- argument: region for a text function name, invocation_type for the
-- aws_commons ARN type (which carries its own region).

CREATE FUNCTION @extschema@.invoke(
    IN function_name text,
    IN payload json,
    IN region text DEFAULT NULL,
    IN invocation_type text DEFAULT 'RequestResponse',
    IN log_type text DEFAULT 'None',
    IN context json DEFAULT NULL,
    IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int,
    OUT payload json,
    OUT executed_version text,
    OUT log_result text)
AS 'MODULE_PATHNAME', 'aws_lambda_invoke'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.invoke(
    IN function_name text,
    IN payload jsonb,
    IN region text DEFAULT NULL,
    IN invocation_type text DEFAULT 'RequestResponse',
    IN log_type text DEFAULT 'None',
    IN context jsonb DEFAULT NULL,
    IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int,
    OUT payload jsonb,
    OUT executed_version text,
    OUT log_result text)
AS 'MODULE_PATHNAME', 'aws_lambda_invoke'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.invoke(
    IN function_name aws_commons._lambda_function_arn_1,
    IN payload json,
    IN invocation_type text DEFAULT 'RequestResponse',
    IN log_type text DEFAULT 'None',
    IN context json DEFAULT NULL,
    IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int,
    OUT payload json,
    OUT executed_version text,
    OUT log_result text)
AS 'MODULE_PATHNAME', 'aws_lambda_invoke_arn'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.invoke(
    IN function_name aws_commons._lambda_function_arn_1,
    IN payload jsonb,
    IN invocation_type text DEFAULT 'RequestResponse',
    IN log_type text DEFAULT 'None',
    IN context jsonb DEFAULT NULL,
    IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int,
    OUT payload jsonb,
    OUT executed_version text,
    OUT log_result text)
AS 'MODULE_PATHNAME', 'aws_lambda_invoke_arn'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- As on RDS, other roles need USAGE on the schema and EXECUTE granted.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
