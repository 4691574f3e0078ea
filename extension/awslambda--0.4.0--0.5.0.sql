/* awslambda--0.4.0--0.5.0.sql */

\echo Use "ALTER EXTENSION awslambda UPDATE TO '0.5.0'" to load this file. \quit

-- ===========================================================================
-- Issue 18, items 1 and 5: queue controls (retry, cancel, pause, resume)
-- and queue statistics (awslambda_queue_stats).
--
-- A row's status may now also be 'cancelled' (finished, never sent):
--   queued | sending | sent | succeeded | failed | cancelled
-- Failed rows are kept for awslambda.async_failed_retention (default: until
-- deleted) rather than awslambda.async_retention.
-- ===========================================================================

-- Paused function patterns, one row per pattern and role that paused it;
-- they survive restarts.  A pause applies to the invocations its role may
-- see (those of roles it is a member of; a superuser's, to all of them).
CREATE TABLE @extschema@.awslambda_paused_functions (
    -- awslambda_pause() refuses longer ones (the dispatcher reads every pause
    -- before each claim), and a role may have at most 100.
    function_pattern text NOT NULL CHECK (pg_catalog.octet_length(function_pattern) OPERATOR(pg_catalog.<=) 256),
    paused_by oid NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (function_pattern, paused_by)
);

COMMENT ON TABLE @extschema@.awslambda_paused_functions IS
'function patterns paused with awslambda_pause(): their queued invocations are not sent until awslambda_resume()';

ALTER TABLE @extschema@.awslambda_paused_functions ENABLE ROW LEVEL SECURITY;
CREATE POLICY awslambda_paused_functions_own ON @extschema@.awslambda_paused_functions
    FOR SELECT USING (pg_catalog.pg_has_role(paused_by, 'MEMBER'));
REVOKE ALL ON @extschema@.awslambda_paused_functions FROM PUBLIC;
GRANT SELECT ON @extschema@.awslambda_paused_functions TO PUBLIC;

-- Failed rows are kept longer than the others: counted per function by
-- awslambda_queue_stats, and found by awslambda_retry_failed, through this
-- index (only the finished table has it; an index-only scan, RLS included).
CREATE INDEX awslambda_invocations_failed
    ON @extschema@.awslambda_invocations (function_name) INCLUDE (invoked_by)
    WHERE status = 'failed';

CREATE FUNCTION @extschema@.awslambda_retry(id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'awslambda_retry'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_retry(uuid) IS
'queue a failed asynchronous invocation again (attempts start over, the last error kept); false if it is not a failed invocation you may see';

CREATE FUNCTION @extschema@.awslambda_retry_failed(
    function_pattern text DEFAULT '*',
    since timestamptz DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'awslambda_retry_failed'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_retry_failed(text, timestamptz) IS
'queue again every failed invocation you may see of the functions matching the pattern (finished at or after since); returns how many';

CREATE FUNCTION @extschema@.awslambda_cancel(id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'awslambda_cancel'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_cancel(uuid) IS
'cancel a queued asynchronous invocation, which is then never sent; false if it was already claimed or finished, or is not yours to see';

CREATE FUNCTION @extschema@.awslambda_pause(function_pattern text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'awslambda_pause'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_pause(text) IS
'keep queued invocations of matching functions (those you may see) queued until awslambda_resume(); false if already paused by you';

CREATE FUNCTION @extschema@.awslambda_resume(function_pattern text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'awslambda_resume'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.awslambda_resume(text) IS
'undo awslambda_pause() of exactly this pattern (the pauses you may see); false if there was none';

CREATE FUNCTION @extschema@.awslambda_paused(
    OUT function_pattern text,
    OUT paused_by pg_catalog.regrole,
    OUT paused_at timestamptz)
RETURNS SETOF record
AS $$ SELECT p.function_pattern, p.paused_by::pg_catalog.regrole, p.paused_at
        FROM @extschema@.awslambda_paused_functions AS p
       ORDER BY p.function_pattern, p.paused_by $$
LANGUAGE sql STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.awslambda_paused() IS
'the paused function patterns you may see, who paused them and when';

-- Whether a queued invocation the caller may see is held back by a pause
-- (NULL for one it may not see); for awslambda_queue_stats.
CREATE FUNCTION @extschema@.awslambda_invocation_paused(function_name text, invoked_by oid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'awslambda_invocation_paused'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.awslambda_invocation_paused(text, oid) IS
'whether a pause holds back queued invocations of this function queued by this role (used by awslambda_queue_stats)';

-- Like the functions that queue, the controls are not for PUBLIC: grant
-- EXECUTE to the roles that may steer their own invocations.
REVOKE ALL ON FUNCTION
    @extschema@.awslambda_retry(uuid),
    @extschema@.awslambda_retry_failed(text, timestamptz),
    @extschema@.awslambda_cancel(uuid),
    @extschema@.awslambda_pause(text),
    @extschema@.awslambda_resume(text),
    @extschema@.awslambda_paused()
  FROM PUBLIC;

-- One row per function with unfinished or failed invocations the caller
-- may see (the view runs with the caller's rights, so row-level security
-- applies): the unfinished ones from the small pending table, failed ones
-- counted in the index above.
CREATE VIEW @extschema@.awslambda_queue_stats WITH (security_invoker = true) AS
  WITH unfinished AS (
    SELECT i.function_name, i.status, i.enqueued_at, i.next_attempt_at,
           (i.status OPERATOR(pg_catalog.=) 'queued' AND
            @extschema@.awslambda_invocation_paused(i.function_name, i.invoked_by)) AS paused
      FROM @extschema@.awslambda_invocations AS i
     WHERE i.finished_at IS NULL),
  pending AS (
    SELECT u.function_name,
           pg_catalog.count(*) FILTER (WHERE u.status OPERATOR(pg_catalog.=) 'queued') AS queued,
           pg_catalog.count(*) FILTER (WHERE u.status OPERATOR(pg_catalog.=) 'queued' AND NOT u.paused
                                         AND u.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS due_now,
           pg_catalog.count(*) FILTER (WHERE u.status OPERATOR(pg_catalog.=) 'sending') AS sending,
           pg_catalog.count(*) FILTER (WHERE u.paused) AS paused,
           pg_catalog.min(u.enqueued_at) FILTER (WHERE u.status OPERATOR(pg_catalog.=) 'queued') AS oldest_queued_at,
           pg_catalog.min(u.next_attempt_at) FILTER (WHERE u.status OPERATOR(pg_catalog.=) 'queued'
                                                       AND NOT u.paused) AS next_due_at
      FROM unfinished AS u
     GROUP BY u.function_name),
  failed AS (
    SELECT f.function_name, pg_catalog.count(*) AS failed
      FROM ONLY @extschema@.awslambda_invocations AS f
     WHERE f.status OPERATOR(pg_catalog.=) 'failed'
     GROUP BY f.function_name)
  SELECT COALESCE(p.function_name, f.function_name) AS function_name,
         COALESCE(p.queued, 0) AS queued,
         COALESCE(p.due_now, 0) AS due_now,
         COALESCE(p.sending, 0) AS sending,
         COALESCE(p.paused, 0) AS paused,
         COALESCE(f.failed, 0) AS failed,
         pg_catalog.now() OPERATOR(pg_catalog.-) p.oldest_queued_at AS oldest_queued_age,
         p.next_due_at
    FROM pending AS p
    FULL JOIN failed AS f ON f.function_name OPERATOR(pg_catalog.=) p.function_name;

COMMENT ON VIEW @extschema@.awslambda_queue_stats IS
'per function: invocations queued, due now, sending, paused, failed (kept), the oldest queued one''s age and the next due time (the rows you may see)';

REVOKE ALL ON @extschema@.awslambda_queue_stats FROM PUBLIC;
GRANT SELECT ON @extschema@.awslambda_queue_stats TO PUBLIC;

-- ==== end of issue 18, items 1 and 5 ====

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
