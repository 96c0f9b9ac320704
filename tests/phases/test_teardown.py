"""Teardown removes what the stack created, and only that."""

from __future__ import annotations

from pathlib import Path

import pytest
from hybridnet.aws import connect
from hybridnet.params import load_params
from hybridnet.phases import teardown, tgw_attachment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stacks(own_emulator):
    first = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "doomed"}))
    other_data = load_params(ROOT / "params" / "lab.yaml").model_dump(mode="python")
    other_data.update(name="survivor", customer_gateway={"public_ip": "198.51.100.20", "bgp_asn": 65020})
    for tunnel, cidr in zip(other_data["vpn"]["tunnels"], ("169.254.21.0/30", "169.254.22.0/30")):
        tunnel.update(inside_cidr=cidr, pre_shared_key=tunnel["pre_shared_key"].get_secret_value())
    from hybridnet.params import parse_params

    second = connect(parse_params(other_data))
    tgw_attachment.run(first, progress=None)
    tgw_attachment.run(second, progress=None)
    return first, second


def test_teardown_leaves_nothing_of_the_stack(stacks):
    doomed, survivor = stacks
    assert len(teardown.leftovers(doomed)) == 3  # its customer gateway, VPN connection and their logs' group
    removed = teardown.run(doomed, progress=None)
    assert set(removed["kind"]) == {"VPN connection", "customer gateway", "log group"}
    assert set(removed["outcome"]) == {"deleted"}
    assert teardown.leftovers(doomed).empty
    ec2 = doomed.client("ec2")
    vpns = ec2.describe_vpn_connections(Filters=doomed.stack_filters())["VpnConnections"]
    assert {v["State"] for v in vpns} == {"deleted"}
    attachments = ec2.describe_transit_gateway_attachments(
        Filters=[{"Name": "resource-id", "Values": [v["VpnConnectionId"] for v in vpns]}]
    )["TransitGatewayAttachments"]
    assert {a["State"] for a in attachments} == {"deleted"}


def test_teardown_never_touches_other_stacks_or_the_seed_environment(stacks):
    doomed, survivor = stacks
    teardown.run(doomed, progress=None)
    assert len(teardown.leftovers(survivor)) == 3
    assert tgw_attachment.run(survivor, progress=None).created == []
    ec2 = doomed.client("ec2")
    assert ec2.describe_transit_gateways(Filters=[{"Name": "state", "Values": ["available"]}])["TransitGateways"]
    assert ec2.describe_vpcs(Filters=[{"Name": "cidr-block", "Values": ["10.0.0.0/16"]}])["Vpcs"]


def test_teardown_twice_is_harmless(stacks):
    doomed, _ = stacks
    teardown.run(doomed, progress=None)
    assert teardown.run(doomed, progress=None).empty
