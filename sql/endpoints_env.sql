--
-- Endpoints as the AWS SDKs find them, from the server's environment
-- (test/run: AWS_ENDPOINT_URL_LAMBDA is the mock, AWS_ENDPOINT_URL a port
-- that refuses): awslambda.endpoint_url wins; empty, the service-specific
-- variable wins over the global one.  The request is signed for the
-- region, whatever host it goes to.
--
\getenv mock_port MOCK_PORT
CREATE FUNCTION endpoint_seen() RETURNS TABLE (host_is_mock boolean, signing_region text)
LANGUAGE sql AS $$
    SELECT s->>'prev_host' = '127.0.0.1:' || current_setting('endpoint_test.mock_port'),
           s->>'prev_signing_region'
      FROM (SELECT awslambda_fn('mockStats', '{}')::jsonb AS s) AS x
$$;
SELECT set_config('endpoint_test.mock_port', :'mock_port', false) IS NOT NULL AS port_known;

-- The server's awslambda.endpoint_url (the mock too, see test/run) is used as given.
SELECT current_setting('awslambda.endpoint_url') <> '' AS endpoint_url_set;
SELECT awslambda_fn('lambdaTest', '{"via": "awslambda.endpoint_url"}');

SET awslambda.endpoint_url = '';
SELECT awslambda_fn('lambdaTest', '{"via": "AWS_ENDPOINT_URL_LAMBDA"}');
SELECT * FROM endpoint_seen();
-- A full ARN's region signs the request; the host stays the configured endpoint.
SELECT awslambda_fn('arn:aws-cn:lambda:cn-north-1:123456789012:function:lambdaTest', '{"p": "aws-cn"}');
SELECT * FROM endpoint_seen();
SELECT awslambda_fn('arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:lambdaTest', '{"p": "aws-us-gov"}');
SELECT * FROM endpoint_seen();
SELECT status_code, payload FROM awslambda_invoke('lambdaTest', '{"p": "region"}', region => 'eu-west-1');
SELECT * FROM endpoint_seen();
SELECT ordinality, status_code FROM awslambda_invoke_many('lambdaTest', ARRAY['{}', '{}']::jsonb[], region => 'ap-south-1');
SELECT * FROM endpoint_seen();
-- The RDS-compatible function, with aws_lambda.endpoint_override empty, too.
CREATE EXTENSION aws_lambda CASCADE;
SELECT status_code, payload FROM aws_lambda.invoke('lambdaTest', '{"p": "rds"}'::jsonb, 'sa-east-1');
SELECT * FROM endpoint_seen();
DROP EXTENSION aws_lambda, aws_commons;
RESET awslambda.endpoint_url;
SELECT awslambda_fn('lambdaTest', '{"via": "awslambda.endpoint_url again"}');

DROP FUNCTION endpoint_seen();
