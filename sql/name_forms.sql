--
-- Every function-name form Lambda accepts, encoded into the path as the AWS
-- SDKs do; the mock decodes it and checks the signature with botocore.
--
SELECT awslambda_fn('lambdaTest', '{"form":"name"}');
SELECT awslambda_fn('lambdaTest:prod', '{"form":"alias"}');
SELECT awslambda_fn('lambdaTest:1', '{"form":"version"}');
SELECT awslambda_fn('lambdaTest:$LATEST', '{"form":"$LATEST"}');
SELECT awslambda_fn('123456789012:function:lambdaTest', '{"form":"partial ARN"}');
SELECT awslambda_fn('123456789012:function:lambdaTest:prod', '{"form":"partial ARN with alias"}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest', '{"form":"ARN"}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:123456789012:function:lambdaTest:prod', '{"form":"ARN with alias"}');

-- A full ARN's region wins over the default: the request is signed for
-- us-west-2 (the mock answers 404 when ARN and signing regions differ).
SET awslambda.region = 'eu-west-1';
SELECT awslambda_fn('arn:aws:lambda:us-west-2:123456789012:function:lambdaTest', '{"form":"ARN in us-west-2"}');
SELECT awslambda_fn('lambdaTest', '{"region":"eu-west-1"}');
RESET awslambda.region;

-- Names that do not exist, and characters that must be percent-encoded.
SELECT awslambda_fn('lambdaTest:staging', '{}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:210987654321:function:lambdaTest', '{}');
SELECT awslambda_fn('lambdaTest/../lambdaTest', '{}');
SELECT awslambda_fn('name with spaces & ünïcode?', '{}');

-- Malformed names are refused before anything is sent.
SELECT awslambda_fn('', '{}');
SELECT awslambda_fn(repeat('x', 257), '{}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:function:lambdaTest', '{}');
SELECT awslambda_fn('arn:aws:s3:us-east-1:123456789012:function:lambdaTest', '{}');
SELECT awslambda_fn('arn:aws:lambda:US_EAST:123456789012:function:lambdaTest', '{}');

-- Settings are checked; the endpoint is for superusers only.
SET awslambda.region = 'us-east-1.example.com';
SET awslambda.region = 'us-east-1';
RESET awslambda.region;
SET awslambda.endpoint_url = 'ftp://127.0.0.1/';
SET awslambda.endpoint_url = 'http://user@127.0.0.1/';
SET awslambda.connect_timeout_ms = 0;
CREATE ROLE regress_awslambda_user;
SET ROLE regress_awslambda_user;
SET awslambda.endpoint_url = 'http://127.0.0.1:9/';
SET awslambda.imds_endpoint = 'http://127.0.0.1:9/';
SET awslambda.request_timeout_ms = '30s';
SHOW awslambda.request_timeout_ms;
RESET ROLE;
DROP ROLE regress_awslambda_user;
SET awslambda.nonexistent = 1;
