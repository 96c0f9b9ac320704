"""Route 53 Resolver query logging configurations in the emulator, through boto3 over
HTTP: created (CREATED) toward an existing log group, tagged, associated with a VPC
(ACTIVE), disassociated and deleted as on AWS."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hybridnet import emulator

from .conftest import REGION


def _client(service: str, endpoint: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        **emulator.credentials(endpoint).as_boto3(),
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def resolver(endpoint):
    return _client("route53resolver", endpoint)


@pytest.fixture(scope="module")
def group_arn(endpoint) -> str:
    logs = _client("logs", endpoint)
    name = f"/hybridnet/qlc-test-{uuid.uuid4().hex[:6]}/resolver"
    logs.create_log_group(logGroupName=name)
    return next(g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"])["logGroupArn"]


@pytest.fixture(scope="module")
def vpc_id(endpoint) -> str:
    return _client("ec2", endpoint).create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def create(resolver, destination: str, **extra) -> dict:
    return resolver.create_resolver_query_log_config(
        Name=f"qlc-{uuid.uuid4().hex[:6]}", DestinationArn=destination, CreatorRequestId=uuid.uuid4().hex, **extra
    )["ResolverQueryLogConfig"]


def test_a_config_is_created_tagged_associated_and_removed_as_on_aws(resolver, group_arn, vpc_id):
    config = create(resolver, group_arn, Tags=[{"Key": "hybridnet:stack", "Value": "qlc"}])
    assert config["Status"] == "CREATED" and config["DestinationArn"] == group_arn
    assert config["Id"].startswith("rslvr-qlc-")
    # moto could not list a query log config's tags (it knew endpoints and rules only)
    assert resolver.list_tags_for_resource(ResourceArn=config["Arn"])["Tags"] == [
        {"Key": "hybridnet:stack", "Value": "qlc"}
    ]

    association = resolver.associate_resolver_query_log_config(
        ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id
    )["ResolverQueryLogConfigAssociation"]
    assert (
        association["Status"] == "ACTIVE"
        and association["Id"].startswith("rslvr-qlcassoc-")
        or association["Status"] == "ACTIVE"
    )
    got = resolver.get_resolver_query_log_config_association(ResolverQueryLogConfigAssociationId=association["Id"])[
        "ResolverQueryLogConfigAssociation"
    ]
    assert (got["ResourceId"], got["Status"]) == (vpc_id, "ACTIVE")
    listed = resolver.list_resolver_query_log_config_associations(Filters=[{"Name": "ResourceId", "Values": [vpc_id]}])[
        "ResolverQueryLogConfigAssociations"
    ]
    assert [a["Id"] for a in listed] == [association["Id"]]
    assert (
        resolver.get_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])["ResolverQueryLogConfig"][
            "AssociationCount"
        ]
        == 1
    )

    with pytest.raises(ClientError) as exc:  # still associated
        resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
    assert _code(exc) == "InvalidRequestException" and vpc_id in str(exc.value)

    gone = resolver.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)[
        "ResolverQueryLogConfigAssociation"
    ]
    assert gone["Status"] == "DELETING"
    assert (
        resolver.list_resolver_query_log_config_associations(Filters=[{"Name": "ResourceId", "Values": [vpc_id]}])[
            "ResolverQueryLogConfigAssociations"
        ]
        == []
    )
    with pytest.raises(ClientError) as exc:
        resolver.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)
    assert _code(exc) == "ResourceNotFoundException"

    deleted = resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
    assert deleted["ResolverQueryLogConfig"]["Status"] == "DELETING"
    with pytest.raises(ClientError) as exc:
        resolver.get_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
    assert _code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
    assert _code(exc) == "ResourceNotFoundException"


def test_the_same_vpc_cannot_be_associated_twice(resolver, group_arn, vpc_id):
    config = create(resolver, group_arn)
    resolver.associate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)
    with pytest.raises(ClientError) as exc:
        resolver.associate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)
    assert _code(exc) == "ResourceExistsException"
    resolver.disassociate_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id)
    resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])


def test_the_destination_must_be_an_existing_log_group_here(resolver, group_arn):
    account, region = group_arn.split(":")[4], group_arn.split(":")[3]
    missing = f"arn:aws:logs:{region}:{account}:log-group:/hybridnet/no-such-group"
    with pytest.raises(ClientError) as exc:
        create(resolver, missing)
    assert _code(exc) == "ResourceNotFoundException" and "/hybridnet/no-such-group" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        create(resolver, f"arn:aws:logs:us-west-2:{account}:log-group:{group_arn.split(':log-group:')[1]}")
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        create(resolver, "arn:aws:sqs:ap-northeast-2:123456789012:queue")
    assert _code(exc) == "InvalidParameterException"
    # the ARN DescribeLogGroups shows as "arn" (with ":*") names the same group
    config = create(resolver, group_arn + ":*")
    assert config["Status"] == "CREATED"
    resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])
