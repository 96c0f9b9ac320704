"""The emulator's VPN connections, through boto3 over HTTP as against AWS."""

from __future__ import annotations

import ipaddress
import time
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from hybridnet import emulator
from hybridnet.vpnrules import PSK_PATTERN

from .conftest import REGION


def create(ec2, tgw, cgw, tunnel_options=None, **extra):
    options = {"TunnelOptions": tunnel_options} if tunnel_options is not None else {}
    return ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=cgw["CustomerGatewayId"],
        TransitGatewayId=tgw["TransitGatewayId"],
        Options=options,
        **extra,
    )["VpnConnection"]


def describe(ec2, vpn_id):
    return ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]


def config_tunnels(xml: str) -> list[dict]:
    root = ET.fromstring(xml)
    tunnels = []
    for node in root.findall("ipsec_tunnel"):
        tunnels.append(
            {
                "cgw_outside": node.findtext("customer_gateway/tunnel_outside_address/ip_address"),
                "cgw_inside": node.findtext("customer_gateway/tunnel_inside_address/ip_address"),
                "cgw_asn": int(node.findtext("customer_gateway/bgp/asn")),
                "vgw_outside": node.findtext("vpn_gateway/tunnel_outside_address/ip_address"),
                "vgw_inside": node.findtext("vpn_gateway/tunnel_inside_address/ip_address"),
                "vgw_asn": int(node.findtext("vpn_gateway/bgp/asn")),
                "psk": node.findtext("ike/pre_shared_key"),
                "ike_auth": node.findtext("ike/authentication_protocol"),
                "ike_enc": node.findtext("ike/encryption_protocol"),
                "ike_pfs": node.findtext("ike/perfect_forward_secrecy"),
                "ike_lifetime": int(node.findtext("ike/lifetime")),
                "esp_auth": node.findtext("ipsec/authentication_protocol"),
                "esp_enc": node.findtext("ipsec/encryption_protocol"),
                "esp_pfs": node.findtext("ipsec/perfect_forward_secrecy"),
                "esp_lifetime": int(node.findtext("ipsec/lifetime")),
            }
        )
    return tunnels


SEED_TUNNELS = [
    {
        "TunnelInsideCidr": "169.254.11.0/30",
        "PreSharedKey": "strongswan_awsvpn1",
        "IKEVersions": [{"Value": "ikev1"}],
        "Phase1DHGroupNumbers": [{"Value": 2}],
    },
    {
        "TunnelInsideCidr": "169.254.12.0/30",
        "PreSharedKey": "strongswan_awsvpn2",
        "IKEVersions": [{"Value": "ikev2"}],
        "Phase1EncryptionAlgorithms": [{"Value": "AES256"}],
        "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
        "Phase1DHGroupNumbers": [{"Value": 14}],
        "Phase2EncryptionAlgorithms": [{"Value": "AES256-GCM-16"}],
        "Phase2IntegrityAlgorithms": [{"Value": "SHA2-512"}],
        "Phase2DHGroupNumbers": [{"Value": 21}],
        "Phase1LifetimeSeconds": 14400,
        "Phase2LifetimeSeconds": 1800,
    },
]


def test_tunnel_options_round_trip(ec2, tgw, cgw):
    vpn = create(ec2, tgw, cgw, SEED_TUNNELS)
    options = describe(ec2, vpn["VpnConnectionId"])["Options"]["TunnelOptions"]
    assert [o["TunnelInsideCidr"] for o in options] == ["169.254.11.0/30", "169.254.12.0/30"]
    assert [o["PreSharedKey"] for o in options] == ["strongswan_awsvpn1", "strongswan_awsvpn2"]
    assert options[0]["IkeVersions"] == [{"Value": "ikev1"}]
    assert options[1]["IkeVersions"] == [{"Value": "ikev2"}]
    assert options[1]["Phase2DHGroupNumbers"] == [{"Value": 21}]
    assert options[1]["Phase1LifetimeSeconds"] == 14400
    # Unspecified options are AWS's defaults: everything allowed.
    assert {v["Value"] for v in options[0]["Phase1EncryptionAlgorithms"]} >= {"AES128", "AES256"}


def test_configuration_xml_carries_the_requested_and_allocated_values(ec2, tgw, cgw):
    vpn = create(ec2, tgw, cgw, SEED_TUNNELS)
    described = describe(ec2, vpn["VpnConnectionId"])
    tunnels = config_tunnels(described["CustomerGatewayConfiguration"])
    outside = [o["OutsideIpAddress"] for o in described["Options"]["TunnelOptions"]]
    assert len(tunnels) == 2
    assert [t["vgw_outside"] for t in tunnels] == outside
    assert len(set(outside)) == 2
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("203.0.113.0/24") for ip in outside)
    assert [t["cgw_outside"] for t in tunnels] == ["198.51.100.10"] * 2
    assert [(t["vgw_inside"], t["cgw_inside"]) for t in tunnels] == [
        ("169.254.11.1", "169.254.11.2"),
        ("169.254.12.1", "169.254.12.2"),
    ]
    assert [t["cgw_asn"] for t in tunnels] == [65016, 65016]
    assert [t["vgw_asn"] for t in tunnels] == [64600, 64600]  # the TGW's Amazon-side ASN
    assert [t["psk"] for t in tunnels] == ["strongswan_awsvpn1", "strongswan_awsvpn2"]
    seed, strong = tunnels
    assert (seed["ike_auth"], seed["ike_enc"], seed["ike_pfs"], seed["ike_lifetime"]) == (
        "sha1",
        "aes-128-cbc",
        "group2",
        28800,
    )
    assert (strong["ike_auth"], strong["ike_enc"], strong["ike_pfs"], strong["ike_lifetime"]) == (
        "sha2-256",
        "aes-256-cbc",
        "group14",
        14400,
    )
    assert (strong["esp_auth"], strong["esp_enc"], strong["esp_pfs"], strong["esp_lifetime"]) == (
        "hmac-sha2-512-256",
        "aes-256-gcm-16",
        "group21",
        1800,
    )
    assert ET.fromstring(described["CustomerGatewayConfiguration"]).get("id") == vpn["VpnConnectionId"]


def test_unspecified_inside_cidrs_and_keys_are_generated_as_aws_would(ec2, tgw, cgw):
    vpn = create(ec2, tgw, cgw)
    options = describe(ec2, vpn["VpnConnectionId"])["Options"]["TunnelOptions"]
    assert len(options) == 2
    cidrs = [ipaddress.ip_network(o["TunnelInsideCidr"]) for o in options]
    assert cidrs[0] != cidrs[1]
    assert all(c.prefixlen == 30 and c.subnet_of(ipaddress.ip_network("169.254.0.0/16")) for c in cidrs)
    keys = [o["PreSharedKey"] for o in options]
    assert keys[0] != keys[1] and all(PSK_PATTERN.match(k) for k in keys)


def test_two_connections_get_different_outside_ips(ec2, tgw, cgw):
    first = describe(ec2, create(ec2, tgw, cgw)["VpnConnectionId"])
    second = describe(ec2, create(ec2, tgw, cgw)["VpnConnectionId"])
    ips = [o["OutsideIpAddress"] for v in (first, second) for o in v["Options"]["TunnelOptions"]]
    assert len(set(ips)) == 4


@pytest.mark.parametrize(
    "tunnels, words",
    [
        ([{"TunnelInsideCidr": "169.254.1.0/30"}], "reserved"),
        ([{"TunnelInsideCidr": "169.254.169.252/30"}], "reserved"),
        ([{"TunnelInsideCidr": "169.254.20.0/29"}], "/30"),
        ([{"TunnelInsideCidr": "10.0.0.0/30"}], "169.254.0.0/16"),
        ([{"TunnelInsideCidr": "169.254.30.0/30"}, {"TunnelInsideCidr": "169.254.30.0/30"}], "must be different"),
        ([{"PreSharedKey": "0abcdefgh"}], "pre-shared key"),
        ([{"PreSharedKey": "short"}], "pre-shared key"),
        ([{"PreSharedKey": "bad-chars!-here"}], "pre-shared key"),
        ([{"Phase1DHGroupNumbers": [{"Value": 1}]}], "Phase1DHGroupNumbers"),
        ([{"IKEVersions": [{"Value": "ikev3"}]}], "IKEVersions"),
        ([{"Phase2LifetimeSeconds": 7200}], "Phase2LifetimeSeconds"),
        ([{"TunnelInsideCidr": f"169.254.5{i}.0/30"} for i in range(3)], "at most 2 tunnels"),
    ],
)
def test_what_aws_rejects_is_rejected_with_its_error_code(ec2, tgw, cgw, tunnels, words):
    before = len(ec2.describe_vpn_connections()["VpnConnections"])
    with pytest.raises(ClientError) as info:
        create(ec2, tgw, cgw, tunnels)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert words in info.value.response["Error"]["Message"]
    assert len(ec2.describe_vpn_connections()["VpnConnections"]) == before  # nothing half-created


def test_inside_cidr_already_used_on_the_same_gateway(ec2, tgw, cgw):
    create(ec2, tgw, cgw, [{"TunnelInsideCidr": "169.254.40.0/30"}])
    with pytest.raises(ClientError) as info:
        create(ec2, tgw, cgw, [{"TunnelInsideCidr": "169.254.40.0/30"}])
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "already in use" in info.value.response["Error"]["Message"]
    other_tgw = ec2.create_transit_gateway(Options={"AmazonSideAsn": 64601})["TransitGateway"]
    create(ec2, other_tgw, cgw, [{"TunnelInsideCidr": "169.254.40.0/30"}])  # another gateway may reuse it


def test_state_goes_pending_then_available_and_the_waiter_sees_it(ec2, tgw, cgw):
    vpn = create(ec2, tgw, cgw)
    assert vpn["State"] == "pending"
    ec2.get_waiter("vpn_connection_available").wait(
        VpnConnectionIds=[vpn["VpnConnectionId"]], WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    assert describe(ec2, vpn["VpnConnectionId"])["State"] == "available"


def test_filters_that_moto_lacked(ec2, tgw, cgw):
    vpn = create(ec2, tgw, cgw)
    by_id = ec2.describe_vpn_connections(Filters=[{"Name": "vpn-connection-id", "Values": [vpn["VpnConnectionId"]]}])
    assert [v["VpnConnectionId"] for v in by_id["VpnConnections"]] == [vpn["VpnConnectionId"]]
    by_asn = ec2.describe_vpn_connections(Filters=[{"Name": "bgp-asn", "Values": ["65016"]}])["VpnConnections"]
    assert vpn["VpnConnectionId"] in [v["VpnConnectionId"] for v in by_asn]
    assert not ec2.describe_vpn_connections(Filters=[{"Name": "bgp-asn", "Values": ["65999"]}])["VpnConnections"]


def test_customer_gateways_filter_by_tag_and_asn(ec2):
    ec2.create_customer_gateway(
        Type="ipsec.1",
        BgpAsn=65077,
        IpAddress="192.0.2.77",
        TagSpecifications=[
            {"ResourceType": "customer-gateway", "Tags": [{"Key": "hybridnet:stack", "Value": "filtertest"}]}
        ],
    )
    tagged = ec2.describe_customer_gateways(Filters=[{"Name": "tag:hybridnet:stack", "Values": ["filtertest"]}])
    assert [g["IpAddress"] for g in tagged["CustomerGateways"]] == ["192.0.2.77"]
    by_asn = ec2.describe_customer_gateways(Filters=[{"Name": "bgp-asn", "Values": ["65077"]}])
    assert len(by_asn["CustomerGateways"]) == 1


def test_vpn_attachment_joins_the_default_route_table_and_leaves_on_delete(ec2, tgw, cgw):
    vpn = create(ec2, tgw, cgw)
    table = tgw["Options"]["AssociationDefaultRouteTableId"]
    attachment = ec2.describe_transit_gateway_attachments(
        Filters=[{"Name": "resource-id", "Values": [vpn["VpnConnectionId"]]}]
    )["TransitGatewayAttachments"][0]
    associations = ec2.get_transit_gateway_route_table_associations(TransitGatewayRouteTableId=table)["Associations"]
    assert [(a["ResourceId"], a["State"]) for a in associations] == [(vpn["VpnConnectionId"], "associated")]
    propagations = ec2.get_transit_gateway_route_table_propagations(TransitGatewayRouteTableId=table)[
        "TransitGatewayRouteTablePropagations"
    ]
    assert [(p["TransitGatewayAttachmentId"], p["State"]) for p in propagations] == [
        (attachment["TransitGatewayAttachmentId"], "enabled")
    ]

    ec2.delete_vpn_connection(VpnConnectionId=vpn["VpnConnectionId"])
    assert describe(ec2, vpn["VpnConnectionId"])["State"] == "deleted"
    assert not ec2.get_transit_gateway_route_table_associations(TransitGatewayRouteTableId=table)["Associations"]


def report(emulator_info, vpn_id, tunnels):
    return emulator.admin_call(
        emulator_info, "POST", "vpn-telemetry", {"region": REGION, "vpn_connection_id": vpn_id, "tunnels": tunnels}
    )


def test_telemetry_is_down_until_a_data_plane_reports(ec2, emulator_info, tgw, cgw):
    vpn = create(ec2, tgw, cgw)
    telemetry = describe(ec2, vpn["VpnConnectionId"])["VgwTelemetry"]
    assert [t["Status"] for t in telemetry] == ["DOWN", "DOWN"]
    assert "no data plane is reporting" in telemetry[0]["StatusMessage"]
    first_ip = telemetry[0]["OutsideIpAddress"]
    time.sleep(1.1)  # LastStatusChange has one-second resolution on the wire
    report(
        emulator_info,
        vpn["VpnConnectionId"],
        [
            {
                "outside_ip": first_ip,
                "status": "UP",
                "status_message": "1 BGP ROUTES",
                "received_routes": ["192.168.0.0/16"],
            }
        ],
    )
    after = {t["OutsideIpAddress"]: t for t in describe(ec2, vpn["VpnConnectionId"])["VgwTelemetry"]}
    assert (after[first_ip]["Status"], after[first_ip]["AcceptedRouteCount"]) == ("UP", 1)
    assert after[first_ip]["LastStatusChange"] > telemetry[0]["LastStatusChange"]
    assert [t["Status"] for ip, t in after.items() if ip != first_ip] == ["DOWN"]
    with pytest.raises(emulator.EmulatorError, match="no tunnel"):
        report(emulator_info, vpn["VpnConnectionId"], [{"outside_ip": "192.0.2.1", "status": "UP"}])
    with pytest.raises(emulator.EmulatorError, match="UP or DOWN"):
        report(emulator_info, vpn["VpnConnectionId"], [{"outside_ip": first_ip, "status": "up-ish"}])


def test_tgw_route_table_shows_propagated_routes_from_up_tunnels(ec2, emulator_info, tgw, cgw):
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]
    subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.40.1.0/24")["Subnet"]
    table = tgw["Options"]["AssociationDefaultRouteTableId"]
    vpc_attachment = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw["TransitGatewayId"],
        VpcId=vpc["VpcId"],
        SubnetIds=[subnet["SubnetId"]],
    )["TransitGatewayVpcAttachment"]
    ec2.enable_transit_gateway_route_table_propagation(
        TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=vpc_attachment["TransitGatewayAttachmentId"]
    )
    vpn = create(ec2, tgw, cgw)
    ips = [t["OutsideIpAddress"] for t in describe(ec2, vpn["VpnConnectionId"])["VgwTelemetry"]]

    def routes():
        found = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table, Filters=[{"Name": "type", "Values": ["propagated"]}]
        )["Routes"]
        return {r["DestinationCidrBlock"]: r["TransitGatewayAttachments"][0]["ResourceType"] for r in found}

    assert routes() == {"10.40.0.0/16": "vpc"}
    report(
        emulator_info,
        vpn["VpnConnectionId"],
        [
            {"outside_ip": ips[0], "status": "UP", "received_routes": ["192.168.0.0/16"]},
            {"outside_ip": ips[1], "status": "UP", "received_routes": ["192.168.0.0/16"]},
        ],
    )
    assert routes() == {"10.40.0.0/16": "vpc", "192.168.0.0/16": "vpn"}
    report(emulator_info, vpn["VpnConnectionId"], [{"outside_ip": ips[0], "status": "DOWN"}])
    assert routes()["192.168.0.0/16"] == "vpn"  # still learned over tunnel 2
    report(emulator_info, vpn["VpnConnectionId"], [{"outside_ip": ips[1], "status": "DOWN"}])
    assert routes() == {"10.40.0.0/16": "vpc"}


def test_telemetry_publishes_aws_vpn_metrics(ec2, endpoint, emulator_info, tgw, cgw):
    import datetime as dt

    import boto3

    vpn = create(ec2, tgw, cgw)
    ip = describe(ec2, vpn["VpnConnectionId"])["VgwTelemetry"][0]["OutsideIpAddress"]
    report(
        emulator_info, vpn["VpnConnectionId"], [{"outside_ip": ip, "status": "UP", "bytes_in": 1000, "bytes_out": 400}]
    )
    report(
        emulator_info, vpn["VpnConnectionId"], [{"outside_ip": ip, "status": "UP", "bytes_in": 1500, "bytes_out": 400}]
    )
    cloudwatch = boto3.client(
        "cloudwatch", region_name=REGION, endpoint_url=endpoint, **emulator.credentials(endpoint).as_boto3()
    )
    now = dt.datetime.now(dt.UTC)
    dimensions = [{"Name": "VpnId", "Value": vpn["VpnConnectionId"]}, {"Name": "TunnelIpAddress", "Value": ip}]

    def stat(name, statistic):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/VPN",
            MetricName=name,
            Dimensions=dimensions,
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now + dt.timedelta(minutes=1),
            Period=300,
            Statistics=[statistic],
        )["Datapoints"]
        return points[0][statistic] if points else None

    assert stat("TunnelState", "Maximum") == 1.0
    assert stat("TunnelDataIn", "Sum") == 1500.0  # 1000, then the 500 since
    assert stat("TunnelDataOut", "Sum") == 400.0


def plane_report(emulator_info, reporter, tunnels, **extra):
    return emulator.admin_call(
        emulator_info, "POST", "data-plane", {"reporter": reporter, "region": REGION, "tunnels": tunnels, **extra}
    )


def telemetry_by_ip(ec2, vpn_id):
    return {t["OutsideIpAddress"]: t for t in describe(ec2, vpn_id)["VgwTelemetry"]}


def test_a_data_plane_reports_by_outside_ip_and_its_tunnels_go_down_when_it_goes(ec2, emulator_info, tgw, cgw):
    """What the lab's agent does every second (hybridnet.lab.telemetry): report the
    tunnels it plays by outside IP; the emulator finds their VPN connection."""
    vpn = create(ec2, tgw, cgw)
    first, second = sorted(telemetry_by_ip(ec2, vpn["VpnConnectionId"]))
    up = [
        {"outside_ip": ip, "status": "UP", "status_message": "1 BGP ROUTES", "received_routes": ["192.168.0.0/16"]}
        for ip in (first, second)
    ]
    answer = plane_report(
        emulator_info, "/run/test-plane-a", up + [{"outside_ip": "192.0.2.99", "status": "UP"}], lease_s=30
    )
    assert answer["tunnels"] == [first, second]  # an IP no connection owns is ignored
    assert {t["Status"] for t in telemetry_by_ip(ec2, vpn["VpnConnectionId"]).values()} == {"UP"}
    feeds = emulator.admin_call(emulator_info, "GET", "data-plane")["feeds"]
    assert [f["tunnels"] for f in feeds if f["reporter"] == "/run/test-plane-a"] == [[first, second]]
    plane_report(emulator_info, "/run/test-plane-a", up[:1], lease_s=30)  # tunnel 2 no longer played
    seen = telemetry_by_ip(ec2, vpn["VpnConnectionId"])
    assert (seen[first]["Status"], seen[second]["Status"]) == ("UP", "DOWN")
    assert "no data plane is reporting" in seen[second]["StatusMessage"]
    plane_report(emulator_info, "/run/test-plane-a", [], final=True)
    assert {t["Status"] for t in telemetry_by_ip(ec2, vpn["VpnConnectionId"]).values()} == {"DOWN"}
    feeds = emulator.admin_call(emulator_info, "GET", "data-plane")["feeds"]
    assert not [f for f in feeds if f["reporter"] == "/run/test-plane-a"]


def test_a_data_plane_that_stops_reporting_loses_its_tunnels_when_its_lease_ends(ec2, emulator_info, tgw, cgw):
    vpn = create(ec2, tgw, cgw)
    first = sorted(telemetry_by_ip(ec2, vpn["VpnConnectionId"]))[0]
    plane_report(
        emulator_info,
        "/run/test-plane-b",
        [{"outside_ip": first, "status": "UP", "status_message": "1 BGP ROUTES"}],
        lease_s=0.5,
    )
    assert telemetry_by_ip(ec2, vpn["VpnConnectionId"])[first]["Status"] == "UP"
    deadline = time.monotonic() + 5
    while telemetry_by_ip(ec2, vpn["VpnConnectionId"])[first]["Status"] == "UP" and time.monotonic() < deadline:
        time.sleep(0.1)
    seen = telemetry_by_ip(ec2, vpn["VpnConnectionId"])[first]
    assert seen["Status"] == "DOWN" and "no data plane is reporting" in seen["StatusMessage"]


def test_modify_tunnel_options_in_place_as_aws_validates_them(ec2, emulator_info, tgw, cgw):
    vpn = create(
        ec2,
        tgw,
        cgw,
        [
            {"TunnelInsideCidr": "169.254.50.0/30", "PreSharedKey": "first_key_1"},
            {"TunnelInsideCidr": "169.254.51.0/30"},
        ],
    )
    vpn_id = vpn["VpnConnectionId"]
    first = next(
        t for t in describe(ec2, vpn_id)["Options"]["TunnelOptions"] if t["TunnelInsideCidr"] == "169.254.50.0/30"
    )
    report(emulator_info, vpn_id, [{"outside_ip": first["OutsideIpAddress"], "status": "UP"}])
    changed = ec2.modify_vpn_tunnel_options(
        VpnConnectionId=vpn_id,
        VpnTunnelOutsideIpAddress=first["OutsideIpAddress"],
        TunnelOptions={
            "PreSharedKey": "second_key_2",
            "TunnelInsideCidr": "169.254.52.0/30",
            "DPDTimeoutSeconds": 40,
            "Phase1DHGroupNumbers": [{"Value": 14}],
        },
    )["VpnConnection"]
    assert changed["VpnConnectionId"] == vpn_id
    now = next(
        t
        for t in describe(ec2, vpn_id)["Options"]["TunnelOptions"]
        if t["OutsideIpAddress"] == first["OutsideIpAddress"]
    )
    assert (now["TunnelInsideCidr"], now["PreSharedKey"], now["DpdTimeoutSeconds"]) == (
        "169.254.52.0/30",
        "second_key_2",
        40,
    )
    assert [g["Value"] for g in now["Phase1DHGroupNumbers"]] == [14]
    xml = config_tunnels(describe(ec2, vpn_id)["CustomerGatewayConfiguration"])
    assert {t["psk"] for t in xml if t["vgw_outside"] == first["OutsideIpAddress"]} == {"second_key_2"}
    telemetry = {t["OutsideIpAddress"]: t for t in describe(ec2, vpn_id)["VgwTelemetry"]}
    assert telemetry[first["OutsideIpAddress"]]["Status"] == "DOWN"  # until the data plane re-establishes it
    assert "modified" in telemetry[first["OutsideIpAddress"]]["StatusMessage"]
    for options, words in (
        ({"PreSharedKey": "0starts_with_zero"}, "pre-shared key"),
        ({"TunnelInsideCidr": "169.254.51.0/30"}, "already in use"),  # the other tunnel's
        ({"DPDTimeoutSeconds": 10}, "DPDTimeoutSeconds"),
    ):
        with pytest.raises(ClientError) as info:
            ec2.modify_vpn_tunnel_options(
                VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=first["OutsideIpAddress"], TunnelOptions=options
            )
        assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert words in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        ec2.modify_vpn_tunnel_options(
            VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress="192.0.2.99", TunnelOptions={"DPDTimeoutSeconds": 40}
        )
    assert "no tunnel with outside IP address 192.0.2.99" in info.value.response["Error"]["Message"]


def test_modify_vpn_connection_moves_it_to_another_customer_gateway(ec2, endpoint, emulator_info, tgw, cgw):
    import datetime as dt

    import boto3

    vpn_id = create(ec2, tgw, cgw)["VpnConnectionId"]
    ips = [t["OutsideIpAddress"] for t in describe(ec2, vpn_id)["VgwTelemetry"]]
    report(emulator_info, vpn_id, [{"outside_ip": ip, "status": "UP"} for ip in ips])
    other = ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65020, IpAddress="198.51.100.10")["CustomerGateway"]
    moved = ec2.modify_vpn_connection(VpnConnectionId=vpn_id, CustomerGatewayId=other["CustomerGatewayId"])
    assert moved["VpnConnection"]["CustomerGatewayId"] == other["CustomerGatewayId"]
    now = describe(ec2, vpn_id)
    assert now["CustomerGatewayId"] == other["CustomerGatewayId"]
    assert {t["cgw_asn"] for t in config_tunnels(now["CustomerGatewayConfiguration"])} == {65020}
    # the brief outage is in the tunnels' history too, even when the data plane is back UP at once
    report(emulator_info, vpn_id, [{"outside_ip": ip, "status": "UP"} for ip in ips])
    cloudwatch = boto3.client(
        "cloudwatch", region_name=REGION, endpoint_url=endpoint, **emulator.credentials(endpoint).as_boto3()
    )
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    for ip in ips:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/VPN",
            MetricName="TunnelState",
            Dimensions=[{"Name": "VpnId", "Value": vpn_id}, {"Name": "TunnelIpAddress", "Value": ip}],
            StartTime=start,
            EndTime=start + dt.timedelta(minutes=6),
            Period=360,
            Statistics=["Minimum", "Maximum"],
        )["Datapoints"]
        assert [(p["Minimum"], p["Maximum"]) for p in points] == [(0.0, 1.0)], ip
    with pytest.raises(ClientError) as info:
        ec2.modify_vpn_connection(VpnConnectionId=vpn_id, CustomerGatewayId="cgw-0123456789abcdef0")
    assert "NotFound" in info.value.response["Error"]["Code"]
