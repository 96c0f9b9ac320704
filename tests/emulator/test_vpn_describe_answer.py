"""DescribeVpnConnections written by core/xmlanswer.py means what moto's generic
serializer wrote: botocore parses both into the same dict, for every kind of
connection (seeded fleet kinds and connections made through the API).

The comparison runs in a process of its own (spawned), where the emulator's
extensions are installed into moto's classes and moto answers in-process
(mock_aws): this test session's own process keeps moto's classes unpatched."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

REGION = "ap-northeast-2"
# The extensions the compared answers need, as the emulator installs them.
EXTENSIONS = ("vpn-connections", "tgw-vpn-attachments", "response-fidelity", "serializer-key-cache")
FLEET_SIZE = 21  # every fleetdemo kind, three times over


def _moto_answer(ec2: Any, result: Any) -> dict:
    """What moto's generic EC2 serializer answers for `result`, as botocore parses it."""
    from botocore.parsers import create_parser
    from moto.core.serialize import EC2Serializer, XFormedAttributePicker
    from moto.core.utils import get_service_model
    from moto.ec2.responses._base_response import EC2BaseResponse

    operation = get_service_model("ec2").operation_model("DescribeVpnConnections")
    picker = XFormedAttributePicker(response_transformers=EC2BaseResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER)
    serialized = EC2Serializer(operation_model=operation, value_picker=picker).serialize(result)
    parsed = create_parser("ec2").parse(
        {
            "body": serialized["body"].encode(),
            "headers": serialized["headers"],
            "status_code": serialized["status_code"],
        },
        ec2.meta.service_model.operation_model("DescribeVpnConnections").output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def _without_metadata(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def compare_answers() -> list[dict]:
    """In a spawned process: builds a varied set of connections and returns, per
    question, both parsed answers (new, moto's) and the answer's metadata."""
    os.environ["HYBRIDNET_EMULATOR_PENDING_SECONDS"] = "600"  # pending unless made older below
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3
    from botocore.exceptions import ClientError
    from hybridnet.emulator import extensions, fleetdemo
    from hybridnet.emulator.fleet import models as fleet_models
    from hybridnet.emulator.vpn.models import TunnelledVpnConnection
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.exceptions import InvalidVpnConnectionIdError
    from moto.ec2.models import ec2_backends

    for name in EXTENSIONS:
        extensions.EXTENSIONS[name]()

    comparisons: list[dict] = []
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        logs = boto3.client("logs", region_name=REGION)
        backend = ec2_backends[DEFAULT_ACCOUNT_ID][REGION]

        # A seeded fleet: every kind (TGW and VGW, tunnels UP/DOWN, telemetry seeded, tags).
        spec, _ = fleetdemo.demo([DEFAULT_ACCOUNT_ID], [REGION], FLEET_SIZE)
        fleet_models.seed(spec)

        # Connections made through the API.
        tgw = ec2.create_transit_gateway(Options={"AmazonSideAsn": 64600})["TransitGateway"]
        cgw = ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65016, IpAddress="198.51.100.10")["CustomerGateway"]
        vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]
        logs.create_log_group(logGroupName="/vpn/tunnels")
        group = logs.describe_log_groups(logGroupNamePrefix="/vpn/tunnels")["logGroups"][0]["arn"]
        tunnel_options = [
            {
                "TunnelInsideCidr": "169.254.11.0/30",
                "PreSharedKey": "strongswan_awsvpn1",
                "IKEVersions": [{"Value": "ikev1"}],
                "Phase1DHGroupNumbers": [{"Value": 2}],
                "DPDTimeoutSeconds": 40,
                "DPDTimeoutAction": "restart",
                "LogOptions": {
                    "CloudWatchLogOptions": {"LogEnabled": True, "LogGroupArn": group, "LogOutputFormat": "text"}
                },
            },
            {
                "TunnelInsideCidr": "169.254.12.0/30",
                "PreSharedKey": "strongswan_awsvpn2",
                "IKEVersions": [{"Value": "ikev2"}],
                "Phase1EncryptionAlgorithms": [{"Value": "AES256"}],
                "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
                "Phase2EncryptionAlgorithms": [{"Value": "AES256-GCM-16"}],
                "Phase2IntegrityAlgorithms": [{"Value": "SHA2-512"}],
                "Phase2DHGroupNumbers": [{"Value": 21}],
                "Phase1LifetimeSeconds": 14400,
                "Phase2LifetimeSeconds": 1800,
                "StartupAction": "start",
                "LogOptions": {"CloudWatchLogOptions": {"BgpLogEnabled": True, "BgpLogGroupArn": group}},
            },
        ]
        tgw_bgp = ec2.create_vpn_connection(
            Type="ipsec.1",
            CustomerGatewayId=cgw["CustomerGatewayId"],
            TransitGatewayId=tgw["TransitGatewayId"],
            Options={"TunnelOptions": tunnel_options},
            TagSpecifications=[
                {
                    "ResourceType": "vpn-connection",
                    "Tags": [{"Key": "Name", "Value": "a&b <site>"}, {"Key": "x", "Value": ""}],
                }
            ],
        )["VpnConnection"]
        vgw_static = ec2.create_vpn_connection(
            Type="ipsec.1",
            CustomerGatewayId=cgw["CustomerGatewayId"],
            VpnGatewayId=vgw["VpnGatewayId"],
            Options={"StaticRoutesOnly": True},
        )["VpnConnection"]
        deleted = ec2.create_vpn_connection(
            Type="ipsec.1", CustomerGatewayId=cgw["CustomerGatewayId"], TransitGatewayId=tgw["TransitGatewayId"]
        )["VpnConnection"]
        ec2.delete_vpn_connection(VpnConnectionId=deleted["VpnConnectionId"])
        ec2.modify_vpn_tunnel_options(
            VpnConnectionId=tgw_bgp["VpnConnectionId"],
            VpnTunnelOutsideIpAddress=tgw_bgp["Options"]["TunnelOptions"][1]["OutsideIpAddress"],
            TunnelOptions={"RekeyMarginTimeSeconds": 300, "ReplayWindowSize": 2048},
        )
        backend.report_tunnel_telemetry(
            tgw_bgp["VpnConnectionId"],
            tgw_bgp["Options"]["TunnelOptions"][0]["OutsideIpAddress"],
            "UP",
            "1 BGP ROUTES",
            ["10.0.0.0/16"],
        )
        # No API adds static routes (CreateVpnConnectionRoute): kept as VpnStaticRoutes.
        backend.vpn_connections[vgw_static["VpnConnectionId"]].routes = [
            {"DestinationCidrBlock": "10.1.0.0/16", "Source": "Static", "State": "available"},
            {"DestinationCidrBlock": "10.2.0.0/16", "Source": "Static", "State": "pending"},
        ]
        # Half of the connections available, the others still pending.
        for i, connection in enumerate(backend.vpn_connections.values()):
            if i % 2:
                connection.created_at -= 3600

        # All of them the emulator's own: answered by xmlanswer, not by moto's serializer.
        assert all(isinstance(c, TunnelledVpnConnection) for c in backend.vpn_connections.values())
        ids = [tgw_bgp["VpnConnectionId"], vgw_static["VpnConnectionId"], deleted["VpnConnectionId"]]
        questions: list[tuple[str, dict, dict]] = [
            ("all", {}, {}),
            ("by id", {"VpnConnectionIds": ids}, {"vpn_connection_ids": ids}),
            (
                "by filter",
                {"Filters": [{"Name": "tag:kind", "Values": ["healthy", "vgw-healthy"]}]},
                {"filters": {"tag:kind": ["healthy", "vgw-healthy"]}},
            ),
            ("none", {"Filters": [{"Name": "state", "Values": ["deleting"]}]}, {"filters": {"state": ["deleting"]}}),
        ]
        for question, request, backend_args in questions:
            answer = ec2.describe_vpn_connections(**request)
            connections = backend.describe_vpn_connections(**backend_args)
            comparisons.append(
                {
                    "question": question,
                    "count": len(connections),
                    "new": _without_metadata(answer),
                    "moto": _moto_answer(ec2, {"VpnConnections": connections}),
                    "metadata": answer["ResponseMetadata"],
                }
            )
        unknown = "vpn-0123456789abcdef0"
        try:
            ec2.describe_vpn_connections(VpnConnectionIds=[ids[0], unknown])
        except ClientError as error:
            refused = {"Error": error.response["Error"], "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
        moto_error = _moto_error(ec2, InvalidVpnConnectionIdError(unknown))
        comparisons.append({"question": "unknown id", "new": refused, "moto": moto_error})
    return comparisons


def _moto_error(ec2: Any, error: Exception) -> dict:
    from botocore.parsers import create_parser
    from moto.core.serialize import EC2Serializer
    from moto.core.utils import get_service_model

    operation = get_service_model("ec2").operation_model("DescribeVpnConnections")
    serialized = EC2Serializer(operation_model=operation).serialize(error)
    parsed = create_parser("ec2").parse(
        {
            "body": serialized["body"].encode(),
            "headers": serialized["headers"],
            "status_code": serialized["status_code"],
        },
        ec2.meta.service_model.operation_model("DescribeVpnConnections").output_shape,
    )
    return {"Error": parsed["Error"], "status": serialized["status_code"]}


@pytest.fixture(scope="module")
def comparisons() -> list[dict]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(compare_answers).result(timeout=300)


def test_every_answer_parses_as_moto_s(comparisons):
    answers = [c for c in comparisons if "count" in c]
    assert [c["question"] for c in answers] == ["all", "by id", "by filter", "none"]
    for comparison in answers:
        assert comparison["new"] == comparison["moto"], comparison["question"]
        assert len(comparison["new"]["VpnConnections"]) == comparison["count"]


def test_the_compared_connections_are_varied(comparisons):
    connections = comparisons[0]["new"]["VpnConnections"]
    assert len(connections) == FLEET_SIZE + 3
    assert {c["State"] for c in connections} == {"pending", "available", "deleted"}
    assert {bool(c.get("TransitGatewayId")) for c in connections} == {True, False}
    assert {bool(c.get("VpnGatewayId")) for c in connections} == {True, False}
    assert {c["Options"]["StaticRoutesOnly"] for c in connections} == {True, False}
    assert any(c["Routes"] for c in connections)
    assert any(c["Tags"] == [{"Key": "Name", "Value": "a&b <site>"}, {"Key": "x", "Value": ""}] for c in connections)
    telemetry = [t for c in connections for t in c["VgwTelemetry"]]
    assert {t["Status"] for t in telemetry} == {"UP", "DOWN"}
    logs = [t["LogOptions"]["CloudWatchLogOptions"] for c in connections for t in c["Options"]["TunnelOptions"]]
    assert {o["LogEnabled"] for o in logs} == {True, False}
    assert any(o["BgpLogEnabled"] for o in logs)
    assert comparisons[3]["new"] == {"VpnConnections": []}


def test_the_answer_carries_a_fresh_request_id_in_body_and_header(comparisons):
    ids = set()
    for comparison in comparisons[:4]:
        metadata = comparison["metadata"]
        assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"]
        assert metadata["HTTPHeaders"]["content-type"] == "text/xml"
        ids.add(str(uuid.UUID(metadata["RequestId"])))
    assert len(ids) == 4


def test_an_unknown_id_is_refused_as_moto_refuses_it(comparisons):
    refusal = comparisons[-1]
    assert refusal["question"] == "unknown id"
    assert refusal["new"] == refusal["moto"]
    assert refusal["new"]["Error"]["Code"] == "InvalidVpnConnectionID.NotFound"


def test_over_http_the_answer_has_its_request_id_in_body_and_header(ec2, tgw, cgw):
    vpn = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=cgw["CustomerGatewayId"], TransitGatewayId=tgw["TransitGatewayId"]
    )["VpnConnection"]
    answer = ec2.describe_vpn_connections(VpnConnectionIds=[vpn["VpnConnectionId"]])
    metadata = answer["ResponseMetadata"]
    assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"] == str(uuid.UUID(metadata["RequestId"]))
    assert metadata["HTTPHeaders"]["content-type"] == "text/xml"
    assert (
        answer["VpnConnections"][0]["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
        == (vpn["Options"]["TunnelOptions"][0]["OutsideIpAddress"])
    )
