--
-- The original article's example, verbatim, against the mock Lambda.
--
DROP EXTENSION awslambda;
CREATE EXTENSION awslambda;

SELECT awslambda_fn('lambdaTest', '{"name":"bob"}');

-- Callable unqualified with the default search_path; the result is JSON text.
SHOW search_path;
SELECT (awslambda_fn('lambdaTest', '{"name":"alice","tags":[1,2,3]}')::jsonb)->'tags' AS tags;

-- STRICT: a NULL argument gives NULL without a call.
SELECT awslambda_fn('lambdaTest', NULL) IS NULL AS null_args;
SELECT awslambda_fn(NULL, '{}') IS NULL AS null_name;

-- Any JSON value is a valid payload, not only objects.
SELECT awslambda_fn('lambdaEcho', '[1, "two", null]');
SELECT awslambda_fn('lambdaEcho', '"just a string"');

-- The settings and who may change them.
SELECT name, setting, unit, context FROM pg_settings
 WHERE name LIKE 'awslambda.%' AND name NOT IN ('awslambda.endpoint_url')
 ORDER BY name;
SELECT context FROM pg_settings WHERE name = 'awslambda.endpoint_url';
