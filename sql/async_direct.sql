-- The queue row written without the executor (queue_insert.c) must do what
-- the INSERT would do, or leave the row to the INSERT: here, what the
-- pending table's owner may change on it.
\set VERBOSITY terse
CREATE TEMP TABLE direct_before AS SELECT count(*) AS n FROM awslambda_invocations;

-- A column's default that queues an invocation itself (and changes the
-- table's grants, as any relcache invalidation would): the nested call must
-- not rebuild, under the outer one, what the outer one is evaluating.
CREATE FUNCTION direct_nested() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('direct.depth', true) = '1' THEN
        RETURN 'inner';
    END IF;
    PERFORM set_config('direct.depth', '1', true);
    GRANT SELECT ON awslambda_invocations_pending TO PUBLIC;
    REVOKE SELECT ON awslambda_invocations_pending FROM PUBLIC;
    PERFORM awslambda_fn_async('lambdaTest', '{"nested": "inner"}');
    PERFORM set_config('direct.depth', '0', true);
    RETURN 'outer';
END $$;
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"nested": "warm"}') IS NOT NULL AS warm;
ALTER TABLE awslambda_invocations_pending ALTER COLUMN last_error SET DEFAULT direct_nested();
SELECT awslambda_fn_async('lambdaTest', '{"nested": "outer"}') IS NOT NULL AS queued;
SELECT awslambda_fn_async('lambdaTest', '{"nested": "again"}') IS NOT NULL AS queued;
SELECT payload, last_error, status, attempts FROM awslambda_invocations_pending
 WHERE payload LIKE '{"nested"%' ORDER BY enqueued_at, payload;
ROLLBACK;

-- A function inlined into a default is looked at again when it changes
-- (no relcache invalidation tells of that).
CREATE FUNCTION direct_label() RETURNS text LANGUAGE sql AS $$ SELECT 'first' $$;
ALTER TABLE awslambda_invocations_pending ALTER COLUMN last_error SET DEFAULT direct_label();
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"label": 1}') IS NOT NULL AS queued;
CREATE OR REPLACE FUNCTION direct_label() RETURNS text LANGUAGE sql AS $$ SELECT 'second' $$;
SELECT awslambda_fn_async('lambdaTest', '{"label": 2}') IS NOT NULL AS queued;
SELECT payload, last_error FROM awslambda_invocations_pending
 WHERE payload LIKE '{"label"%' ORDER BY payload;
ROLLBACK;
ALTER TABLE awslambda_invocations_pending ALTER COLUMN last_error DROP DEFAULT;
DROP FUNCTION direct_label();

-- A column of a domain type, not given: its constraints hold for the row
-- (the INSERT checks the NULL it gets), also one added later.
CREATE DOMAIN direct_text AS text;
ALTER TABLE awslambda_invocations ALTER COLUMN last_error TYPE direct_text;
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"domain": 1}') IS NOT NULL AS queued;
ROLLBACK;
ALTER DOMAIN direct_text ADD CONSTRAINT direct_text_set CHECK (VALUE IS NOT NULL) NOT VALID;
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"domain": 2}') IS NOT NULL AS queued;
ROLLBACK;
ALTER TABLE awslambda_invocations ALTER COLUMN last_error TYPE text;
DROP DOMAIN direct_text;

-- A NOT NULL column without its default: the INSERT's error, with its detail.
ALTER TABLE awslambda_invocations_pending ALTER COLUMN status DROP DEFAULT;
DO $$
DECLARE
    detail text;
    col text;
BEGIN
    PERFORM awslambda_fn_async('lambdaTest', '{"status": null}');
EXCEPTION WHEN not_null_violation THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, col = COLUMN_NAME;
    RAISE NOTICE 'not null: column %, failing row shown: %', col, detail LIKE 'Failing row contains (%';
END $$;
ALTER TABLE awslambda_invocations_pending ALTER COLUMN status SET DEFAULT 'queued';

-- An owner that is not a superuser and revoked its own INSERT right: the
-- INSERT's error.
CREATE ROLE regress_direct_owner;
UPDATE pg_extension SET extowner = 'regress_direct_owner'::regrole WHERE extname = 'awslambda';
ALTER TABLE awslambda_invocations OWNER TO regress_direct_owner;
ALTER TABLE awslambda_invocations_pending OWNER TO regress_direct_owner;
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"owner": 1}') IS NOT NULL AS queued;
ROLLBACK;
REVOKE INSERT ON awslambda_invocations_pending FROM regress_direct_owner;
BEGIN;
SELECT awslambda_fn_async('lambdaTest', '{"owner": 2}') IS NOT NULL AS queued;
ROLLBACK;
GRANT INSERT ON awslambda_invocations_pending TO regress_direct_owner;
UPDATE pg_extension SET extowner = 'postgres'::regrole WHERE extname = 'awslambda';
ALTER TABLE awslambda_invocations OWNER TO postgres;
ALTER TABLE awslambda_invocations_pending OWNER TO postgres;
REVOKE ALL ON awslambda_invocations, awslambda_invocations_pending FROM regress_direct_owner;
DROP ROLE regress_direct_owner;

DROP FUNCTION direct_nested() CASCADE;
ALTER TABLE awslambda_invocations_pending ALTER COLUMN last_error DROP DEFAULT;
SELECT count(*) = (SELECT n FROM direct_before) AS nothing_left FROM awslambda_invocations;
