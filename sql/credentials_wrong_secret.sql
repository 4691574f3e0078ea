--
-- The server's AWS_SECRET_ACCESS_KEY is wrong: the mock recomputes the
-- signature with botocore and rejects it, SQLSTATE 28000.  No secret appears
-- in the message.
--
SELECT awslambda_fn('lambdaTest', '{"name":"bob"}');
-- The secret reaches this script through the client's environment only.
\getenv wrong_secret WRONG_SECRET
SELECT set_config('regress.secret', :'wrong_secret', false) IS NOT NULL AS have_secret;
DO $$
DECLARE
    msg text; detail text; hint text;
BEGIN
    PERFORM awslambda_fn('lambdaTest', '{}');
EXCEPTION WHEN invalid_authorization_specification THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'caught invalid_authorization_specification';
    RAISE NOTICE 'mentions the secret: %', strpos(msg || detail || hint, current_setting('regress.secret')) > 0;
END;
$$;
