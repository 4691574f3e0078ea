-- The original approach, ported to plpython3u (PostgreSQL 15 has no plpythonu):
-- every call looks up the region in instance metadata and builds a new boto3
-- client, then invokes synchronously.  Endpoints come from settings so that
-- the benchmark can point it at the same endpoint as awslambda.
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE OR REPLACE FUNCTION plpy_awslambda_fn(fn_name text, fn_args text)
RETURNS text AS $$
import json
import urllib.request
import boto3

imds = plpy.execute("SELECT current_setting('bench.imds_url') AS u")[0]['u']
endpoint = plpy.execute("SELECT current_setting('bench.lambda_url') AS u")[0]['u']
token_req = urllib.request.Request(imds + '/latest/api/token', method='PUT',
                                   headers={'X-aws-ec2-metadata-token-ttl-seconds': '60'})
token = urllib.request.urlopen(token_req, timeout=2).read().decode()
doc_req = urllib.request.Request(imds + '/latest/dynamic/instance-identity/document',
                                 headers={'X-aws-ec2-metadata-token': token})
region = json.loads(urllib.request.urlopen(doc_req, timeout=2).read())['region']
client = boto3.client('lambda', region_name=region, endpoint_url=endpoint)
response = client.invoke(FunctionName=fn_name, InvocationType='RequestResponse', Payload=fn_args)
return response['Payload'].read().decode('utf-8')
$$ LANGUAGE plpython3u;
