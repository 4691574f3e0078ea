/* awslambda--0.1.0--0.2.0.sql: asynchronous invocations that keep their word */

\echo Use "ALTER EXTENSION awslambda UPDATE TO '0.2.0'" to load this file. \quit

-- The queue and its history: one row per asynchronous invocation, written in
-- the caller's transaction (so a rollback sends nothing) and sent after
-- commit by the background dispatcher, which records the outcome here.
-- Only the extension's code writes it, so the allowed values are kept there
-- rather than in CHECK constraints, which PostgreSQL would re-read on every
-- row inserted from a trigger.
--   invocation_type: Event | RequestResponse
--   status: queued | sending | sent | succeeded | failed
CREATE TABLE awslambda_invocations (
    id uuid PRIMARY KEY,
    function_name text NOT NULL,
    qualifier text,
    region text NOT NULL,
    invocation_type text NOT NULL,
    payload text NOT NULL,
    callback text,
    invoked_by oid NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    attempts int NOT NULL DEFAULT 0,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    finished_at timestamptz,
    http_status int,
    request_id text,
    function_error text,
    response jsonb,
    error_sqlstate text,
    last_error text,
    error_detail text,
    callback_done_at timestamptz,
    callback_error text
);

COMMENT ON TABLE awslambda_invocations IS
'asynchronous Lambda invocations: queued until their transaction commits, then sent by the awslambda dispatcher; finished rows are kept for awslambda.async_retention';

-- What the dispatcher looks for: due invocations, callbacks to run, old rows.
CREATE INDEX awslambda_invocations_due ON awslambda_invocations (next_attempt_at)
    WHERE status = 'queued';
CREATE INDEX awslambda_invocations_callbacks ON awslambda_invocations (finished_at)
    WHERE callback IS NOT NULL AND callback_done_at IS NULL;
CREATE INDEX awslambda_invocations_finished ON awslambda_invocations (finished_at)
    WHERE finished_at IS NOT NULL;

-- Rows are written by the functions below (as the table's owner) and by the
-- dispatcher; a role reads the invocations it made, or those of roles it
-- belongs to.
ALTER TABLE awslambda_invocations ENABLE ROW LEVEL SECURITY;
CREATE POLICY awslambda_invocations_own ON awslambda_invocations FOR SELECT
    USING (pg_has_role(invoked_by, 'MEMBER'));
REVOKE ALL ON awslambda_invocations FROM PUBLIC;
GRANT SELECT ON awslambda_invocations TO PUBLIC;

-- The original article's asynchronous call: queued, sent once the
-- transaction commits (see awslambda.async_mode); returns the invocation id.
CREATE FUNCTION awslambda_fn_async(fn_name text, fn_args text)
RETURNS text
AS 'MODULE_PATHNAME', 'awslambda_fn_async'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION awslambda_fn_async(text, text) IS
'queue an AWS Lambda invocation, sent after the transaction commits; returns the invocation id';

-- The rich form: invocation type, qualifier, region, and a callback run with
-- the outcome in its own transaction.
CREATE FUNCTION awslambda_invoke_async(
    function_name text,
    payload jsonb,
    invocation_type text DEFAULT 'Event',
    qualifier text DEFAULT NULL,
    region text DEFAULT NULL,
    callback text DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'awslambda_invoke_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION awslambda_invoke_async(text, jsonb, text, text, text, text) IS
'queue an AWS Lambda invocation (Event or background RequestResponse), sent after commit; optional callback(awslambda_invocations)';

-- Look an invocation up by the id the functions above returned.
CREATE FUNCTION awslambda_invocation(id uuid)
RETURNS awslambda_invocations
AS $$ SELECT i FROM @extschema@.awslambda_invocations AS i WHERE i.id = $1 $$
LANGUAGE sql STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION awslambda_invocation(uuid) IS
'the state of one asynchronous invocation: status, attempts, times, HTTP status, function error, response, last error';

REVOKE EXECUTE ON FUNCTION
    awslambda_fn_async(text, text),
    awslambda_invoke_async(text, jsonb, text, text, text, text)
  FROM PUBLIC;
