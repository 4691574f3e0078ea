-- 1,000 invocations of a function that sleeps 20 ms, through one
-- awslambda_invoke_many call; bench/run sets awslambda.max_concurrency.
SELECT awslambda_fn('lambdaTest', '{}') IS NOT NULL AS warm;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE status_code = 200) AS ok
  FROM awslambda_invoke_many('lambdaSleep', array_fill('{"seconds":0.02}'::jsonb, ARRAY[1000]));
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 3) || ' s' AS elapsed;
