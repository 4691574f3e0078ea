/* awslambda--0.3.0--0.4.0.sql */

\echo Use "ALTER EXTENSION awslambda UPDATE TO '0.4.0'" to load this file. \quit

-- ==== Issue 17: the whole Invoke API (tenant isolation, durable executions) ====

-- A queued invocation is sent with its tenant id and durable execution name,
-- and keeps the durable execution's ARN and the Reason of a throttled attempt.
ALTER TABLE @extschema@.awslambda_invocations
    ADD COLUMN tenant_id text,
    ADD COLUMN durable_execution_name text,
    ADD COLUMN durable_execution_arn text,
    ADD COLUMN throttle_reason text;

-- New arguments (and, for the synchronous ones, a new result column): each
-- function is made anew beside the old one, gets the EXECUTE grants roles
-- had on the old one, and the old one goes.
CREATE FUNCTION @extschema@.awslambda_invoke(
    function_name text,
    payload jsonb,
    invocation_type text DEFAULT 'RequestResponse',
    qualifier text DEFAULT NULL,
    log_type text DEFAULT 'None',
    client_context jsonb DEFAULT NULL,
    region text DEFAULT NULL,
    tenant_id text DEFAULT NULL,
    durable_execution_name text DEFAULT NULL,
    OUT status_code int,
    OUT payload jsonb,
    OUT function_error text,
    OUT executed_version text,
    OUT log_result text,
    OUT request_id text,
    OUT durable_execution_arn text)
AS 'MODULE_PATHNAME', 'awslambda_invoke'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_invoke(text, jsonb, text, text, text, jsonb, text, text, text) IS
'invoke an AWS Lambda function; returns status, payload, function error, executed version, decoded log tail, request id and durable execution ARN';

CREATE FUNCTION @extschema@.awslambda_invoke_many(
    function_name text,
    payloads jsonb[],
    invocation_type text DEFAULT 'RequestResponse',
    qualifier text DEFAULT NULL,
    log_type text DEFAULT 'None',
    client_context jsonb DEFAULT NULL,
    region text DEFAULT NULL,
    fail_fast boolean DEFAULT false,
    tenant_id text DEFAULT NULL,
    durable_execution_name text DEFAULT NULL)
RETURNS TABLE (
    ordinality int,
    status_code int,
    payload jsonb,
    function_error text,
    executed_version text,
    log_result text,
    request_id text,
    durable_execution_arn text,
    error_sqlstate text,
    error_message text,
    error_detail text)
AS 'MODULE_PATHNAME', 'awslambda_invoke_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION @extschema@.awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean, text, text) IS
'invoke an AWS Lambda function once per payload, concurrently; one row per payload in order';

CREATE FUNCTION @extschema@.awslambda_invoke_async(
    function_name text,
    payload jsonb,
    invocation_type text DEFAULT 'Event',
    qualifier text DEFAULT NULL,
    region text DEFAULT NULL,
    callback text DEFAULT NULL,
    tenant_id text DEFAULT NULL,
    durable_execution_name text DEFAULT NULL,
    durable_execution_name_from_id boolean DEFAULT false)
RETURNS uuid
AS 'MODULE_PATHNAME', 'awslambda_invoke_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean) IS
'queue an AWS Lambda invocation (Event or background RequestResponse), sent after commit; optional callback(awslambda_invocations), tenant id and durable execution name';

REVOKE EXECUTE ON FUNCTION
    @extschema@.awslambda_invoke(text, jsonb, text, text, text, jsonb, text, text, text),
    @extschema@.awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean, text, text),
    @extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean)
  FROM PUBLIC;

-- The roles granted EXECUTE on an old function keep it on the new one
-- (GRANT, so that the grants stay tied to their roles).
DO $$
DECLARE
    pair record;
    g record;
BEGIN
    FOR pair IN
        SELECT o.oid::pg_catalog.regprocedure AS old_fn, n.oid::pg_catalog.regprocedure AS new_fn
          FROM (VALUES
                ('@extschema@.awslambda_invoke(text, jsonb, text, text, text, jsonb, text)',
                 '@extschema@.awslambda_invoke(text, jsonb, text, text, text, jsonb, text, text, text)'),
                ('@extschema@.awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean)',
                 '@extschema@.awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean, text, text)'),
                ('@extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text)',
                 '@extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean)'))
               AS f(old_sig, new_sig),
               LATERAL (SELECT f.old_sig::pg_catalog.regprocedure::pg_catalog.oid AS oid) AS o,
               LATERAL (SELECT f.new_sig::pg_catalog.regprocedure::pg_catalog.oid AS oid) AS n
    LOOP
        FOR g IN
            SELECT a.grantee::pg_catalog.regrole AS grantee, a.is_grantable
              FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a
             WHERE p.oid OPERATOR(pg_catalog.=) pair.old_fn::pg_catalog.oid
               AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
               AND a.grantee OPERATOR(pg_catalog.<>) 0
               AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', pair.new_fn, g.grantee,
                                      CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END LOOP;
END
$$;

DROP FUNCTION @extschema@.awslambda_invoke(text, jsonb, text, text, text, jsonb, text);
DROP FUNCTION @extschema@.awslambda_invoke_many(text, jsonb[], text, text, text, jsonb, text, boolean);
DROP FUNCTION @extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text);

-- ==== end of issue 17 ====

-- ==== Issue 18, item 4: statistics (awslambda_stat_functions, awslambda_stat_reset) ====

-- One row per function name as called, region and kind ('sync': made by a
-- session; 'async': by the dispatcher), counting HTTP attempts.
CREATE FUNCTION @extschema@.awslambda_stat_functions(
    OUT function_name text,
    OUT region text,
    OUT kind text,
    OUT calls bigint,
    OUT succeeded bigint,
    OUT function_errors bigint,
    OUT throttled bigint,
    OUT api_errors bigint,
    OUT transport_errors bigint,
    OUT aborted bigint,
    OUT retries bigint,
    OUT bytes_sent bigint,
    OUT bytes_received bigint,
    OUT total_time_ms double precision,
    OUT min_time_ms double precision,
    OUT max_time_ms double precision,
    OUT p50_time_ms double precision,
    OUT p99_time_ms double precision,
    OUT stats_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'awslambda_stat_functions'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.awslambda_stat_functions() IS
'Lambda invocation statistics per function name, region and kind (the whole server with preloading, else this session)';

CREATE VIEW @extschema@.awslambda_stat_functions AS
  SELECT function_name, region, kind, calls, succeeded, function_errors, throttled,
         api_errors, transport_errors, aborted, retries, bytes_sent, bytes_received,
         total_time_ms,
         total_time_ms OPERATOR(pg_catalog./) calls::pg_catalog.float8 AS mean_time_ms,
         min_time_ms, max_time_ms, p50_time_ms, p99_time_ms, stats_since
    FROM @extschema@.awslambda_stat_functions();

COMMENT ON VIEW @extschema@.awslambda_stat_functions IS
'Lambda invocation statistics per function name, region and kind';

CREATE FUNCTION @extschema@.awslambda_stat_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'awslambda_stat_reset'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.awslambda_stat_reset() IS
'forgets every row of awslambda_stat_functions (with preloading, the whole server''s)';

-- Function names tell what the server's applications do: like other
-- roles' activity, they are for pg_read_all_stats (and pg_monitor, which
-- includes it) and superusers; a reset is for superusers.  Both can be granted.
REVOKE ALL ON FUNCTION @extschema@.awslambda_stat_functions() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.awslambda_stat_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.awslambda_stat_functions() TO pg_read_all_stats;
REVOKE ALL ON @extschema@.awslambda_stat_functions FROM PUBLIC;
GRANT SELECT ON @extschema@.awslambda_stat_functions TO pg_read_all_stats;

-- ==== end of issue 18, item 4 ====

-- ===========================================================================
-- Issue 16: a queue whose speed does not depend on its history.
--
-- Unfinished invocations (queued, sending) live in a small table of their
-- own, awslambda_invocations_pending, an inheritance child of
-- awslambda_invocations; finished ones are moved into awslambda_invocations
-- itself, which the dispatcher's claim never reads.  Queries on
-- awslambda_invocations see both (the same columns, the same row-level
-- security, the same row type for callbacks), as before.
--
-- The dispatcher finds fresh invocations in the order of the transaction that
-- queued them (queued_xact) and remembers how far it got, so that no claim
-- walks the index entries of invocations it claimed before; retries are
-- found by their due time in an index of their own.  Autovacuum visits the
-- small table as soon as a thousand rows have left it.
-- ===========================================================================

CREATE TABLE @extschema@.awslambda_invocations_pending (
    queued_xact pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    PRIMARY KEY (id)
) INHERITS (@extschema@.awslambda_invocations)
WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
      autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
      autovacuum_vacuum_cost_delay = 0);

COMMENT ON TABLE @extschema@.awslambda_invocations_pending IS
'the unfinished part of awslambda_invocations (queued, sending): read it through awslambda_invocations';

-- Fresh invocations in the order their transactions queued them; retries by due time.
CREATE INDEX awslambda_invocations_pending_fresh
    ON @extschema@.awslambda_invocations_pending (queued_xact, id)
    WHERE status = 'queued' AND attempts = 0;
CREATE INDEX awslambda_invocations_pending_retry
    ON @extschema@.awslambda_invocations_pending (next_attempt_at)
    WHERE status = 'queued' AND attempts > 0;

-- Read through awslambda_invocations, whose policy applies; direct access
-- is for the owner, and the same policy stands guard besides.
ALTER TABLE @extschema@.awslambda_invocations_pending ENABLE ROW LEVEL SECURITY;
CREATE POLICY awslambda_invocations_pending_own ON @extschema@.awslambda_invocations_pending
    FOR SELECT USING (pg_catalog.pg_has_role(invoked_by, 'MEMBER'));
REVOKE ALL ON @extschema@.awslambda_invocations_pending FROM PUBLIC;

-- The unfinished rows of an existing queue move to the new table.
INSERT INTO @extschema@.awslambda_invocations_pending
SELECT i.* FROM ONLY @extschema@.awslambda_invocations AS i WHERE i.finished_at IS NULL;
DELETE FROM ONLY @extschema@.awslambda_invocations WHERE finished_at IS NULL;

-- awslambda_invocations itself now holds finished rows only: a query for
-- unfinished ones (finished_at IS NULL) skips it.
DROP INDEX @extschema@.awslambda_invocations_due;
ALTER TABLE ONLY @extschema@.awslambda_invocations
    ADD CONSTRAINT awslambda_invocations_finished_check CHECK (finished_at IS NOT NULL) NO INHERIT;
COMMENT ON TABLE @extschema@.awslambda_invocations IS
'asynchronous Lambda invocations: queued until their transaction commits, then sent by the awslambda dispatcher; finished rows are kept for awslambda.async_retention (unfinished ones are in awslambda_invocations_pending, which queries of this table include)';

-- ===========================================================================
-- End of issue 16.
-- ===========================================================================
