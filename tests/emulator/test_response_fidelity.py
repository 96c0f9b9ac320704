"""The emulator answers as AWS does in the details too (issue 16).

A representative set of the calls the runbook makes (lib/hybridnet/phases,
lib/hybridnet/diagnostics) is made against a fresh emulator, over HTTP with
boto3; botocore's "after-call" event hands over each raw HTTP response (status,
headers, bytes) with what botocore parsed from it. Each answer is then checked
against botocore's model of the operation:

- every member the output shape marks required is there (at any depth: in the
  structures, lists and maps that were returned);
- the Content-Type is the protocol's (application/x-amz-json-1.0/1.1 as the
  model's jsonVersion says for JSON, application/json for rest-json, XML for
  rest-xml, query and ec2);
- the request id is a UUID, the same in the body (where the protocol puts it
  there) and in the x-amzn-requestid header, and no two answers share one.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from .conftest import REGION


@dataclass
class Answer:
    service: str
    protocol: str
    operation: OperationModel
    status: int
    headers: dict[str, str]
    body: bytes
    parsed: dict

    def __str__(self) -> str:
        return f"{self.service} {self.operation.name}"


class Recorder:
    """Clients whose every answer is kept (botocore's after-call event)."""

    def __init__(self, client_factory):
        self.client_factory = client_factory
        self.clients: dict[str, Any] = {}
        self.answers: list[Answer] = []

    def __call__(self, service: str) -> Any:
        if service not in self.clients:
            client = self.client_factory(service)
            protocol = client.meta.service_model.resolved_protocol  # the one botocore speaks (CloudWatch: several)

            def keep(http_response, parsed, model, **_):
                self.answers.append(
                    Answer(
                        service,
                        protocol,
                        model,
                        http_response.status_code,
                        dict(http_response.headers),
                        http_response.content,
                        parsed,
                    )
                )

            client.meta.events.register("after-call", keep)
            self.clients[service] = client
        return self.clients[service]


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _runbook_calls(aws: Recorder) -> None:
    """What the runbook's phases and diagnostics call, in the order a run would."""
    tag = uuid.uuid4().hex[:8]
    ec2, r53, resolver = aws("ec2"), aws("route53"), aws("route53resolver")
    aws("sts").get_caller_identity()

    vpc_id = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for cidr, az in (("10.60.1.0/24", "a"), ("10.60.2.0/24", "c"))
    ]
    ec2.describe_subnets(SubnetIds=subnets)
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": f"fidelity-{tag}"}])

    # Security groups: created with tags (echoed), described, deleted (Return, GroupId).
    sg_tags = [{"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": f"sg-{tag}"}]}]
    group_id = ec2.create_security_group(
        GroupName=f"dns-{tag}", Description="dns", VpcId=vpc_id, TagSpecifications=sg_tags
    )["GroupId"]
    ec2.describe_security_groups(GroupIds=[group_id])
    spare = ec2.create_security_group(
        GroupName=f"spare-{tag}", Description="spare", VpcId=vpc_id, TagSpecifications=sg_tags
    )["GroupId"]
    ec2.delete_security_group(GroupId=spare)

    # Transit gateway, its VPC attachment (with tags), a VPN connection on it.
    tgw_id = ec2.create_transit_gateway(Options={"AmazonSideAsn": 64600})["TransitGateway"]["TransitGatewayId"]
    ec2.describe_transit_gateways(TransitGatewayIds=[tgw_id])
    ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_id,
        VpcId=vpc_id,
        SubnetIds=subnets,
        TagSpecifications=[
            {"ResourceType": "transit-gateway-attachment", "Tags": [{"Key": "Name", "Value": f"attach-{tag}"}]}
        ],
    )
    ec2.describe_transit_gateway_vpc_attachments(Filters=[{"Name": "transit-gateway-id", "Values": [tgw_id]}])
    cgw_id = ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65016, IpAddress="198.51.100.60")["CustomerGateway"][
        "CustomerGatewayId"
    ]
    ec2.describe_customer_gateways(CustomerGatewayIds=[cgw_id])
    vpn_id = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=cgw_id, TransitGatewayId=tgw_id, Options={"StaticRoutesOnly": False}
    )["VpnConnection"]["VpnConnectionId"]
    ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])
    ec2.describe_transit_gateway_attachments(Filters=[{"Name": "resource-id", "Values": [vpn_id]}])
    table_id = ec2.describe_transit_gateways(TransitGatewayIds=[tgw_id])["TransitGateways"][0]["Options"][
        "AssociationDefaultRouteTableId"
    ]
    ec2.search_transit_gateway_routes(
        TransitGatewayRouteTableId=table_id, Filters=[{"Name": "type", "Values": ["static", "propagated"]}]
    )
    ec2.get_transit_gateway_route_table_propagations(TransitGatewayRouteTableId=table_id)
    ec2.describe_client_vpn_endpoints()

    # Route 53: the private hosted zone, found as the hybrid-DNS phase finds it.
    zone_name = f"fidelity-{tag}.corp."
    zone_id = r53.create_hosted_zone(
        Name=zone_name,
        CallerReference=tag,
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": REGION, "VPCId": vpc_id},
    )["HostedZone"]["Id"]
    r53.list_hosted_zones_by_vpc(VPCId=vpc_id, VPCRegion=REGION)
    r53.list_hosted_zones_by_name(DNSName=zone_name)
    r53.list_resource_record_sets(HostedZoneId=zone_id)

    # Route 53 Resolver: an outbound endpoint and a forwarding rule.
    resolver.list_resolver_endpoints()
    endpoint_id = resolver.create_resolver_endpoint(
        CreatorRequestId=f"ep-{tag}",
        Name=f"out-{tag}",
        SecurityGroupIds=[group_id],
        Direction="OUTBOUND",
        IpAddresses=[{"SubnetId": subnets[0], "Ip": "10.60.1.251"}, {"SubnetId": subnets[1], "Ip": "10.60.2.251"}],
    )["ResolverEndpoint"]["Id"]
    resolver.get_resolver_endpoint(ResolverEndpointId=endpoint_id)
    rule_id = resolver.create_resolver_rule(
        CreatorRequestId=f"rule-{tag}",
        Name=f"onprem-{tag}",
        RuleType="FORWARD",
        DomainName="anycompany.corp",
        TargetIps=[{"Ip": "192.168.2.250", "Port": 53}],
        ResolverEndpointId=endpoint_id,
    )["ResolverRule"]["Id"]
    resolver.get_resolver_rule(ResolverRuleId=rule_id)
    resolver.associate_resolver_rule(ResolverRuleId=rule_id, VPCId=vpc_id, Name=f"assoc-{tag}")
    resolver.list_resolver_rules()

    # Lambda (the connect handler), IAM, logs, CloudWatch, ACM, SSM.
    iam = aws("iam")
    role_arn = iam.create_role(
        RoleName=f"fidelity-{tag}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    iam.get_role(RoleName=f"fidelity-{tag}")
    awslambda = aws("lambda")
    awslambda.list_functions()
    awslambda.create_function(
        FunctionName=f"fidelity-{tag}",
        Runtime="python3.12",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": _zip("def handler(event, context):\n    return {}\n")},
    )
    awslambda.get_function(FunctionName=f"fidelity-{tag}")
    awslambda.invoke(FunctionName=f"fidelity-{tag}", Payload=b"{}", LogType="Tail")
    logs = aws("logs")
    logs.create_log_group(logGroupName=f"/hybridnet/fidelity-{tag}")
    logs.put_retention_policy(logGroupName=f"/hybridnet/fidelity-{tag}", retentionInDays=7)
    logs.describe_log_groups(logGroupNamePrefix="/hybridnet/fidelity")
    now = datetime.now(UTC)
    aws("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "state",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/VPN",
                        "MetricName": "TunnelState",
                        "Dimensions": [{"Name": "VpnId", "Value": vpn_id}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now,
    )
    aws("acm").list_certificates()
    ssm = aws("ssm")
    ssm.put_parameter(Name=f"/hybridnet/fidelity-{tag}", Value="x", Type="String")
    ssm.get_parameter(Name=f"/hybridnet/fidelity-{tag}")

    # Teardown, as the runbook's last phase does it.
    ec2.delete_vpn_connection(VpnConnectionId=vpn_id)
    ec2.delete_customer_gateway(CustomerGatewayId=cgw_id)


@pytest.fixture(scope="module")
def answers(client) -> list[Answer]:
    aws = Recorder(client)
    _runbook_calls(aws)
    return aws.answers


# Operations the check found answering unlike AWS, and a dozen more the runbook makes.
MUST_BE_RECORDED = {
    "ListHostedZonesByName",
    "ListHostedZonesByVPC",
    "CreateTransitGatewayVpcAttachment",
    "DescribeTransitGatewayVpcAttachments",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "ListResolverEndpoints",
    "CreateResolverRule",
    "ListFunctions",
    "GetFunction",
    "Invoke",
    "DescribeVpnConnections",
    "CreateVpnConnection",
    "DescribeTransitGateways",
    "SearchTransitGatewayRoutes",
    "DescribeClientVpnEndpoints",
    "GetMetricData",
    "DescribeSubnets",
    "DescribeSecurityGroups",
    "DescribeCustomerGateways",
    "DescribeTransitGatewayAttachments",
    "CreateResolverEndpoint",
    "ListResourceRecordSets",
    "DescribeLogGroups",
    "ListCertificates",
    "GetParameter",
    "GetCallerIdentity",
}


# Required by botocore's model but left out by AWS itself, and so by the emulator:
# a private hosted zone has no name servers, so CreateHostedZone answers no
# DelegationSet for it (as GetHostedZone does not).
AWS_OMITS = {"CreateHostedZone.DelegationSet"}


def _missing_required(shape: Shape | None, value: Any, path: str) -> list[str]:
    """Where `value` (botocore's parse) lacks a member `shape` marks required, at any depth."""
    if shape is None or value is None:
        return []
    missing: list[str] = []
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name in shape.required_members:
            if name not in value and f"{path}.{name}" not in AWS_OMITS:
                missing.append(f"{path}.{name}")
        for name, member in shape.members.items():
            if name in value:
                missing += _missing_required(member, value[name], f"{path}.{name}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for i, item in enumerate(value):
            missing += _missing_required(shape.member, item, f"{path}[{i}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            missing += _missing_required(shape.value, item, f"{path}[{key!r}]")
    return missing


def _media_type(headers: dict[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return value.split(";")[0].strip().lower()


def _expected_content_types(answer: Answer) -> set[str]:
    if answer.protocol == "json":
        return {f"application/x-amz-json-{answer.operation.service_model.metadata.get('jsonVersion', '1.0')}"}
    if answer.protocol == "rest-json":
        return {"application/json"}
    if answer.protocol == "smithy-rpc-v2-cbor":
        return {"application/cbor"}
    return {"text/xml", "application/xml"}  # rest-xml, query, ec2


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def test_the_runbooks_operations_were_recorded(answers):
    recorded = {a.operation.name for a in answers}
    assert MUST_BE_RECORDED <= recorded, sorted(MUST_BE_RECORDED - recorded)
    assert all(200 <= a.status < 300 for a in answers), [(str(a), a.status) for a in answers if a.status >= 300]


def test_required_members_are_present(answers):
    gaps = {
        str(a): missing
        for a in answers
        if (missing := _missing_required(a.operation.output_shape, a.parsed, a.operation.name))
    }
    assert not gaps


def test_content_type_is_the_protocols(answers):
    wrong = {
        str(a): (a.protocol, _media_type(a.headers))
        for a in answers
        if _media_type(a.headers) not in _expected_content_types(a)
    }
    assert not wrong


def test_request_ids_are_fresh_uuids(answers):
    ids = []
    for answer in answers:
        request_id = answer.parsed["ResponseMetadata"].get("RequestId")
        header = _header(answer.headers, "x-amzn-requestid")
        assert request_id and str(uuid.UUID(request_id)) == request_id.lower(), (str(answer), request_id)
        assert header == request_id, (str(answer), header, request_id)  # body and header agree
        ids.append(request_id)
    assert len(set(ids)) == len(ids), "a request id was given twice"
    assert b"request-id<" not in b"".join(a.body for a in answers)


def test_the_fixed_answers_carry_what_aws_returns(answers):
    by_name: dict[str, list[Answer]] = {}
    for answer in answers:
        by_name.setdefault(answer.operation.name, []).append(answer)
    created = by_name["CreateSecurityGroup"][0].parsed
    assert created["Tags"] == [{"Key": "Name", "Value": created["Tags"][0]["Value"]}]
    deleted = by_name["DeleteSecurityGroup"][0].parsed
    assert deleted["Return"] is True and deleted["GroupId"].startswith("sg-")
    attachment = by_name["CreateTransitGatewayVpcAttachment"][0].parsed["TransitGatewayVpcAttachment"]
    assert attachment["Tags"][0]["Key"] == "Name"
    described = by_name["DescribeTransitGatewayVpcAttachments"][0].parsed["TransitGatewayVpcAttachments"]
    assert [a["Tags"] for a in described] == [attachment["Tags"]]
    by_zone_name = by_name["ListHostedZonesByName"][0].parsed
    assert by_zone_name["IsTruncated"] is False and by_zone_name["MaxItems"] == "100"
    assert by_name["ListHostedZonesByVPC"][0].parsed["MaxItems"] == "100"


def test_an_invocations_request_id_is_the_one_in_its_log(answers):
    """AWS answers Invoke with the invocation's own request id (START RequestId: ... in its log)."""
    invoked = next(a for a in answers if a.operation.name == "Invoke")
    request_id = invoked.parsed["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in base64.b64decode(invoked.parsed["LogResult"]).decode()


def test_hosted_zones_by_name_page_as_aws_does(client):
    """AWS lists zones in reversed-label order beginning at DNSName, MaxItems per page,
    naming the next zone (NextDNSName, NextHostedZoneId) when there are more."""
    r53 = client("route53")
    tag = uuid.uuid4().hex[:6]
    names = [f"{label}.page-{tag}.example." for label in ("a", "b", "c")]
    for name in names:
        r53.create_hosted_zone(Name=name, CallerReference=f"{name}-{tag}")
    first = r53.list_hosted_zones_by_name(DNSName=names[0], MaxItems="2")
    assert [z["Name"] for z in first["HostedZones"]] == names[:2]
    assert first["IsTruncated"] is True and first["MaxItems"] == "2" and first["NextDNSName"] == names[2]
    rest = r53.list_hosted_zones_by_name(
        DNSName=first["NextDNSName"], HostedZoneId=first["NextHostedZoneId"], MaxItems="2"
    )
    assert rest["HostedZones"][0]["Name"] == names[2]
