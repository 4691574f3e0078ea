--
-- AWS_CONTAINER_CREDENTIALS_FULL_URI http://127.0.0.1@evil.example/creds:
-- the host is evil.example (127.0.0.1 is user information), so the token
-- would go there in clear text.  Refused before any request, as is any URL
-- with user information; the message masks that part (it may hold a password).
--
SELECT awslambda_fn('lambdaTest', '{}');
