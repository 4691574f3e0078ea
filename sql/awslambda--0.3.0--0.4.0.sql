/* awslambda--0.3.0--0.4.0.sql: operating awslambda (issue 18) */

\echo Use "ALTER EXTENSION awslambda UPDATE TO '0.4.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Statistics (issue 18, item 4): awslambda_stat_functions, awslambda_stat_reset
-- ---------------------------------------------------------------------------

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

-- ------------------------------------------------------------ end of item 4
