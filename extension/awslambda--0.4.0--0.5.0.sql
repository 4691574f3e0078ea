/* awslambda--0.4.0--0.5.0.sql */

\echo Use "ALTER EXTENSION awslambda UPDATE TO '0.5.0'" to load this file. \quit

-- ===========================================================================
-- Issue 18, item 2: per-invocation options of awslambda_invoke_async
-- (run_at, max_attempts, dedup_key, dedup_mode).
--
-- max_attempts: the invocation's own limit of attempts (NULL: the server's
-- awslambda.async_max_attempts).  dedup_key: while an invocation of the
-- same function queued by the same role with the same key has not been
-- claimed yet, a new call replaces it (or, with dedup_mode 'keep', leaves
-- it) and returns its id.
--
-- An invocation queued for a later time (run_at) is not a fresh one that
-- the claim takes in the order of the transactions (queued_xact): it is
-- queued with queued_xact 0 (no transaction has that id), found by its due
-- time like a retry, in the same index.  The queuing session tells the
-- dispatcher at the end of its transaction (see awl_queue_rewind_at_end).
-- ===========================================================================

ALTER TABLE @extschema@.awslambda_invocations
    ADD COLUMN max_attempts int,
    ADD COLUMN dedup_key text;

-- Retries and invocations put off until run_at, by due time.
DROP INDEX @extschema@.awslambda_invocations_pending_retry;
CREATE INDEX awslambda_invocations_pending_due
    ON @extschema@.awslambda_invocations_pending (next_attempt_at)
    WHERE status = 'queued' AND (attempts > 0 OR queued_xact = '0'::xid8);

-- At most one unclaimed invocation per role, function name and key; the
-- arbiter of the queuing INSERT ... ON CONFLICT.
CREATE UNIQUE INDEX awslambda_invocations_pending_dedup
    ON @extschema@.awslambda_invocations_pending (invoked_by, function_name, dedup_key)
    WHERE dedup_key IS NOT NULL AND status = 'queued' AND last_attempt_at IS NULL;

CREATE FUNCTION @extschema@.awslambda_invoke_async(
    function_name text,
    payload jsonb,
    invocation_type text DEFAULT 'Event',
    qualifier text DEFAULT NULL,
    region text DEFAULT NULL,
    callback text DEFAULT NULL,
    tenant_id text DEFAULT NULL,
    durable_execution_name text DEFAULT NULL,
    durable_execution_name_from_id boolean DEFAULT false,
    run_at timestamptz DEFAULT NULL,
    max_attempts int DEFAULT NULL,
    dedup_key text DEFAULT NULL,
    dedup_mode text DEFAULT 'replace')
RETURNS uuid
AS 'MODULE_PATHNAME', 'awslambda_invoke_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean, timestamptz, integer, text, text) IS
'queue an AWS Lambda invocation (Event or background RequestResponse), sent after commit (not before run_at); optional callback(awslambda_invocations), tenant id, durable execution name, attempts, and a dedup key that replaces (or keeps) an unclaimed invocation';

REVOKE EXECUTE ON FUNCTION
    @extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean, timestamptz, integer, text, text)
  FROM PUBLIC;

-- The roles granted EXECUTE on the old function keep it on the new one.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee::pg_catalog.regrole AS grantee, a.is_grantable
          FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a
         WHERE p.oid OPERATOR(pg_catalog.=)
               '@extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean)'::pg_catalog.regprocedure
           AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
           AND a.grantee OPERATOR(pg_catalog.<>) 0
           AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s',
                                  '@extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean, timestamptz, integer, text, text)'::pg_catalog.regprocedure,
                                  g.grantee,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;

DROP FUNCTION @extschema@.awslambda_invoke_async(text, jsonb, text, text, text, text, text, text, boolean);

-- ==== end of issue 18, item 2 ====
