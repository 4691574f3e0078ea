--
-- With a proxy in the server's environment (http_proxy, here the mock
-- itself, which serves requests in absolute form as its own and counts
-- them), single calls go through libcurl and so through the proxy, like
-- fan-outs: the direct HTTP/1.1 of single calls (http_raw.c) steps aside.
--
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'proxied')::int AS proxied_before \gset
SELECT awslambda_fn('lambdaTest', '{"via":"proxy"}');
SELECT count(*) FROM awslambda_invoke_many('lambdaTest', array_fill('{}'::jsonb, ARRAY[3]));
-- The single call, the fan-out's three and this one came through the proxy.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'proxied')::int - :proxied_before AS proxied;
