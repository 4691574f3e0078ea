/* awslambda--0.2.0--0.3.0.sql: no role borrows the dispatcher's rights */

\echo Use "ALTER EXTENSION awslambda UPDATE TO '0.3.0'" to load this file. \quit

-- The dispatcher calls a callback through the function manager by the OID
-- resolved (and permission-checked) when the invocation was queued, never by
-- its name in SQL text; callback keeps the qualified name for people to read.
ALTER TABLE @extschema@.awslambda_invocations ADD COLUMN callback_fn oid;

-- Callbacks still to run: their functions, looked up by the name recorded.
UPDATE @extschema@.awslambda_invocations AS i
   SET callback_fn = p.oid
  FROM pg_catalog.pg_proc AS p
  JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
 WHERE i.callback IS NOT NULL
   AND i.callback_done_at IS NULL
   AND p.pronargs OPERATOR(pg_catalog.=) 1
   AND p.proargtypes[0] OPERATOR(pg_catalog.=)
       (SELECT c.reltype FROM pg_catalog.pg_class AS c
         WHERE c.oid OPERATOR(pg_catalog.=) '@extschema@.awslambda_invocations'::pg_catalog.regclass)
   AND (pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'
        OPERATOR(pg_catalog.||) pg_catalog.quote_ident(p.proname)) OPERATOR(pg_catalog.=) i.callback;

-- Every function and operator named where no search_path can redirect it.
ALTER POLICY awslambda_invocations_own ON @extschema@.awslambda_invocations
    USING (pg_catalog.pg_has_role(invoked_by, 'MEMBER'));

CREATE OR REPLACE FUNCTION @extschema@.awslambda_invocation(id uuid)
RETURNS @extschema@.awslambda_invocations
AS $$ SELECT i FROM @extschema@.awslambda_invocations AS i WHERE i.id OPERATOR(pg_catalog.=) $1 $$
LANGUAGE sql STABLE STRICT PARALLEL SAFE;
