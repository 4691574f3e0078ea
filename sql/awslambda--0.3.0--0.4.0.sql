/* awslambda--0.3.0--0.4.0.sql */

\echo Use "ALTER EXTENSION awslambda UPDATE TO '0.4.0'" to load this file. \quit

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
