"""The benchmark's Python reference: one DescribeVpcs with boto3, as a minimal infrastructure
function written in Python would make (run by awslambdaric, as AWS's Python base images do)."""

import boto3

# Created at init, as Lambda's guidance says, so warm invokes reuse it.
ec2 = boto3.client("ec2")


def handler(event, context):
    return {"vpcs": len(ec2.describe_vpcs()["Vpcs"])}
