#!/usr/bin/env python3
"""Writes lambda.txt: Lambda endpoints as botocore's endpoint rules resolve them.

Needs a botocore whose data has endpoint-rule-set-1.json for Lambda (1.28 or
later; lambda.txt was made with 1.43.11).  One line per case:
    REGION FIPS DUALSTACK URL PARTITION
FIPS and DUALSTACK are 0 or 1; URL is what the rule set returns (the SDKs'
endpoint for that region and setting), PARTITION the rule set's aws.partition
of the region.  test/unit/endpoint_test.c checks
src/partition.c against every line.
"""
import sys

import botocore
import botocore.session
from botocore.endpoint_provider import EndpointProvider, RuleSetStandardLibrary

REGIONS = [
    # aws
    'us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-2', 'ap-southeast-7', 'sa-east-1',
    'ca-west-1', 'me-central-1', 'af-south-1', 'il-central-1', 'mx-central-1',
    # aws-cn, aws-us-gov, aws-eusc, the iso partitions
    'cn-north-1', 'cn-northwest-1', 'us-gov-west-1', 'us-gov-east-1', 'eusc-de-east-1',
    'us-iso-east-1', 'us-isob-east-1', 'eu-isoe-west-1', 'us-isof-south-1',
    # regions no partition lists, matched by the patterns or falling back to aws
    'us-east-9', 'cn-south-7', 'us-gov-north-3', 'xx-east-1', 'eusc-fr-east-1',
]


def main():
    session = botocore.session.get_session()
    loader = session.get_component('data_loader')
    rules = loader.load_service_model('lambda', 'endpoint-rule-set-1')
    partitions = loader.load_data('partitions')
    provider = EndpointProvider(rules, partitions)
    library = RuleSetStandardLibrary(partitions)
    out = [f'# botocore {botocore.__version__}: REGION FIPS DUALSTACK URL PARTITION']
    for region in REGIONS:
        for fips in (False, True):
            for dualstack in (False, True):
                ep = provider.resolve_endpoint(Region=region, UseFIPS=fips,
                                               UseDualStack=dualstack)
                partition = library.aws_partition(region)['name']
                out.append(f'{region} {int(fips)} {int(dualstack)} {ep.url} {partition}')
    sys.stdout.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
