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
SELECT awslambda_fn('us-east-1:123456789012:function:lambdaTest', '{"form":"partial ARN with region"}');
SELECT awslambda_fn('lambdaTest:$LATEST.PUBLISHED', '{}');
SELECT status_code, payload, executed_version FROM awslambda_invoke('lambdaTest', '{}', qualifier => '$LATEST.PUBLISHED');

-- Lambda's grammar has optional prefixes, and Lambda reads each of these as
-- the function lambdaTest (not "function", "us-east-1" or "123456789012").
SELECT awslambda_fn('function:lambdaTest', '{"form":"function:NAME"}');
SELECT awslambda_fn('us-east-1:lambdaTest', '{"form":"REGION:NAME"}');
SELECT awslambda_fn('123456789012:lambdaTest:prod', '{"form":"ACCOUNT:NAME:alias"}');
SELECT status_code, executed_version FROM awslambda_invoke('function:lambdaTest:prod', '{}', qualifier => 'prod');

-- A full ARN's region wins over the default: the request is signed for
-- us-west-2 (the mock answers 404 when ARN and signing regions differ).
-- So does the region of a partial form; an explicit region must agree.
SET awslambda.region = 'eu-west-1';
SELECT awslambda_fn('arn:aws:lambda:us-west-2:123456789012:function:lambdaTest', '{"form":"ARN in us-west-2"}');
SELECT awslambda_fn('us-west-2:123456789012:function:lambdaTest', '{"form":"partial ARN in us-west-2"}');
SELECT awslambda_fn('us-west-2:lambdaTest', '{"form":"REGION:NAME in us-west-2"}');
SELECT awslambda_fn('lambdaTest', '{"region":"eu-west-1"}');
SELECT status_code FROM awslambda_invoke('us-west-2:123456789012:function:lambdaTest', '{}', region => 'us-west-2');
SELECT * FROM awslambda_invoke('us-west-2:123456789012:function:lambdaTest', '{}', region => 'eu-west-1');
RESET awslambda.region;

-- Names that do not exist.
SELECT awslambda_fn('lambdaTest:staging', '{}');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:210987654321:function:lambdaTest', '{}');

-- Names outside Lambda's grammar are refused before anything is sent.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int AS invokes_before \gset
SELECT awslambda_fn('lambdaTest/../lambdaTest', '{}');
SELECT awslambda_fn('name with spaces & ünïcode?', '{}');
SELECT awslambda_fn('', '{}');
SELECT awslambda_fn(repeat('x', 257), '{}');
SELECT awslambda_fn(repeat('x', 65), '{}');
SELECT awslambda_fn('lambdaTest:', '{}');
SELECT awslambda_fn('lambdaTest:1.0', '{}');
SELECT awslambda_fn('lambdaTest:$latest', '{}');
SELECT awslambda_fn('lambdaTest:prod:extra', '{}');
SELECT awslambda_fn('us-east-1:us-east-1:us-east-1:lambdaTest', '{}');
SELECT awslambda_fn('us-east-1:123456789012:function:lambdaTest:prod:extra', '{}');
SELECT awslambda_fn('arn:aws:lambda:us-' || repeat('a', 100) || '-1:123456789012:function:lambdaTest', '{}');
SELECT * FROM awslambda_invoke('lambdaTest', '{}', qualifier => '1.0');
SELECT * FROM awslambda_invoke('lambdaTest:prod', '{}', qualifier => '$LATEST.PUBLISHED');
SELECT awslambda_fn('arn:aws:lambda:us-east-1:function:lambdaTest', '{}');
SELECT awslambda_fn('arn:aws:s3:us-east-1:123456789012:function:lambdaTest', '{}');
SELECT awslambda_fn('arn:aws:lambda:US_EAST:123456789012:function:lambdaTest', '{}');
-- Only the mockStats call went out.
SELECT (awslambda_fn('mockStats', '{}')::jsonb->>'invokes')::int - :invokes_before AS invokes_sent;

-- Settings are checked; the endpoint is for superusers only.
SET awslambda.region = 'us-east-1.example.com';
SET awslambda.region = 'us-east-1';
RESET awslambda.region;
SET awslambda.endpoint_url = 'ftp://127.0.0.1/';
SET awslambda.endpoint_url = 'http://user@127.0.0.1/';
SET awslambda.endpoint_url = 'http://127.0.0.1:99999/';
SET awslambda.endpoint_url = 'http://127.0.0.1:/';
SET awslambda.endpoint_url = 'http://:8080/';
SET awslambda.endpoint_url = 'http://[::1/';
SET awslambda.endpoint_url = 'http://127.0.0.1/path?query';
SET awslambda.imds_endpoint = 'http://127.0.0.1:8a/';
SET awslambda.sts_endpoint = 'https://sts.example$/';
SET awslambda.imds_endpoint = 'http://[::1]:8080';
SHOW awslambda.imds_endpoint;
RESET awslambda.imds_endpoint;
-- The bounds' spelling differs between majors (17 adds the unit): up to them.
DO $$ BEGIN SET awslambda.connect_timeout_ms = 0; EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE '%: %', SQLSTATE, split_part(SQLERRM, ' (', 1); END $$;
CREATE ROLE regress_awslambda_user;
SET ROLE regress_awslambda_user;
SET awslambda.endpoint_url = 'http://127.0.0.1:9/';
SET awslambda.imds_endpoint = 'http://127.0.0.1:9/';
SET awslambda.request_timeout_ms = '30s';
SHOW awslambda.request_timeout_ms;
RESET ROLE;
DROP ROLE regress_awslambda_user;
SET awslambda.nonexistent = 1;
