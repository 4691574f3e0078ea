--
-- A stock server (awslambda not in shared_preload_libraries): queuing fails
-- with an error that says what to do; nothing is queued silently.  The
-- immediate mode still works.
--
SELECT awslambda_fn_async('lambdaTest', '{"queued": false}');
SELECT awslambda_invoke_async('lambdaTest', '{"queued": false}');
SELECT count(*) AS queued FROM awslambda_invocations;
SET awslambda.async_mode = immediate;
SELECT awslambda_fn_async('lambdaTest', '{"immediate": true}') IS NOT NULL AS sent;
