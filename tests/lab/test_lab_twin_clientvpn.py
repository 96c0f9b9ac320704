"""The lab's agent plays the stack's Client VPN endpoint as AWS runs it: when phase 4
has created and associated it (no lab code involved), OpenVPN comes up in the
lab's Client VPN namespace, configured from the API and the server key ACM holds;
it is left alone when nothing it plays changed, replaced when something did, and
stopped when the endpoint is deleted."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import pytest
import yaml
from hybridnet import dataplane, emulator, lab
from hybridnet.aws import connect
from hybridnet.lab import client_vpn as lab_client_vpn
from hybridnet.lab import fromaws, netns
from hybridnet.params import load_params
from hybridnet.phases import client_vpn, tgw_attachment
from hybridnet.waiting import poll

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
STACK = "twincvpn"


@pytest.fixture(scope="module")
def ctx(lab_session, own_emulator, tmp_path_factory):
    params_file = tmp_path_factory.mktemp("twin-cvpn-params") / "params.yaml"
    params_file.write_text(
        yaml.safe_dump({**yaml.safe_load((ROOT / "params" / "lab.yaml").read_text()), "name": STACK})
    )
    if dataplane.lab_running():
        dataplane.lab_down()
    context = connect(load_params(params_file))
    assert context.data_plane == dataplane.LAB, context.data_plane_reason
    agent = dataplane.twin_start(context, params_file)
    tgw_attachment.run(context, progress=None)  # the Client VPN endpoint needs the lab's network
    assert dataplane.wait_for_twin(context), Path(agent["log"]).read_text()[-3000:]
    yield context
    dataplane.lab_down()


@pytest.fixture(scope="module")
def phase4(ctx, tmp_path_factory):
    """Phase 4 through the AWS API only: PKI, ACM, the endpoint, its networks, rules, routes."""
    return client_vpn.run(ctx, tmp_path_factory.mktemp("twin-cvpn-run"), progress=None)


def agent_log() -> str:
    return Path(dataplane.twin_status()["log"]).read_text()


def server_pid() -> int:
    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    return runtime.daemon(lab_client_vpn.SERVER).pid


def test_the_agent_plays_the_endpoint_phase_4_created(ctx, phase4):
    assert dataplane.wait_for_client_vpn(ctx, phase4.endpoint_id, timeout=20), agent_log()[-3000:]
    assert lab_client_vpn.running(dataplane.LAB_DIR)
    status = dataplane.twin_status()["client_vpn"]
    assert status["endpoint_id"] == phase4.endpoint_id and status["played"] and status["error"] is None
    assert status["public_ip"] == lab_client_vpn.ENDPOINT_PUBLIC_IP
    assert re.search(rf"{phase4.endpoint_id}: Client VPN endpoint played by OpenVPN on ", agent_log())


def test_what_it_plays_is_what_the_api_says(ctx, phase4):
    ec2 = ctx.client("ec2")
    endpoint = ec2.describe_client_vpn_endpoints(ClientVpnEndpointIds=[phase4.endpoint_id])["ClientVpnEndpoints"][0]
    routes = ec2.describe_client_vpn_routes(ClientVpnEndpointId=phase4.endpoint_id)["Routes"]
    rules = ec2.describe_client_vpn_authorization_rules(ClientVpnEndpointId=phase4.endpoint_id)["AuthorizationRules"]
    spec = fromaws.client_vpn_spec_from_aws(ctx, phase4.endpoint_id, emulator.status().socket)
    assert str(spec.client_cidr) == endpoint["ClientCidrBlock"] == ctx.params.client_vpn.client_cidr
    assert (
        [str(r) for r in spec.routes]
        == sorted({r["DestinationCidr"] for r in routes})
        == sorted([ctx.params.vpc.cidr, ctx.params.onprem.cidr])
    )
    assert [str(r) for r in spec.authorized] == sorted(r["DestinationCidr"] for r in rules)
    assert spec.dns_name == endpoint["DnsName"] and spec.dns_servers == [ipaddress.ip_address("10.0.0.2")]
    first = ctx.params.vpc.subnet(ctx.params.client_vpn.subnets[0]).cidr  # phase 4 associates in params order
    assert str(spec.target_subnet) == first
    # the key ACM holds is the PKI's, and the chain the server trusts is the PKI's CA
    material = client_vpn.ensure_pki(ctx)
    assert spec.server_key_pem.get_secret_value() == material.server.key_pem
    assert spec.server_cert_pem.strip() == material.server.cert_pem.strip()
    assert spec.client_ca_pem.strip() == material.ca.cert_pem.strip()

    # and the server runs exactly that
    played = lab.LabRuntime.load(dataplane.LAB_DIR).state["client_vpn"]
    assert played["endpoint_id"] == phase4.endpoint_id and played["client_cidr"] == endpoint["ClientCidrBlock"]
    config_dir = Path(played["config_dir"])
    conf = (config_dir / "server.conf").read_text()
    assert "server 172.16.0.0 255.255.252.0" in conf
    assert re.findall(r'^push "route (\S+) (\S+)"', conf, re.M) == [
        (str(r.network_address), str(r.netmask)) for r in spec.routes
    ]
    key = config_dir / "server.key"
    assert key.read_text() == material.server.key_pem and oct(key.stat().st_mode & 0o777) == "0o600"
    assert oct(os.stat(config_dir / "server.conf").st_mode & 0o777) == "0o600"
    body = "".join(material.server.key_pem.strip().splitlines()[1:-1])
    assert body[:40] not in agent_log().replace("\n", "")  # the key never reaches the agent's log


def test_a_change_to_nothing_it_plays_keeps_openvpn_running(ctx, phase4):
    pid = server_pid()
    ctx.client("ec2").modify_client_vpn_endpoint(
        ClientVpnEndpointId=phase4.endpoint_id, Description="changed by the twin test"
    )
    assert dataplane.wait_for_client_vpn(ctx, phase4.endpoint_id, timeout=10), agent_log()[-3000:]
    assert server_pid() == pid  # users stay connected


def test_a_change_to_what_it_plays_replaces_openvpn(ctx, phase4):
    pid = server_pid()
    ctx.client("ec2").authorize_client_vpn_ingress(
        ClientVpnEndpointId=phase4.endpoint_id, TargetNetworkCidr="10.0.20.0/24", AuthorizeAllGroups=True
    )
    assert dataplane.wait_for_client_vpn(ctx, phase4.endpoint_id, timeout=10), agent_log()[-3000:]
    assert server_pid() != pid
    config_dir = Path(lab.LabRuntime.load(dataplane.LAB_DIR).state["client_vpn"]["config_dir"])
    assert "10.0.20.0/24" in (config_dir / "nftables.conf").read_text()


def test_deleting_the_endpoint_stops_openvpn(ctx, phase4):
    ec2 = ctx.client("ec2")
    for network in ec2.describe_client_vpn_target_networks(ClientVpnEndpointId=phase4.endpoint_id)[
        "ClientVpnTargetNetworks"
    ]:
        ec2.disassociate_client_vpn_target_network(
            ClientVpnEndpointId=phase4.endpoint_id, AssociationId=network["AssociationId"]
        )
    assert poll(
        lambda: (
            not ec2.describe_client_vpn_target_networks(ClientVpnEndpointId=phase4.endpoint_id)[
                "ClientVpnTargetNetworks"
            ]
        ),
        timeout=10,
        interval=0.2,
    )
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=phase4.endpoint_id)
    assert poll(lambda: not lab_client_vpn.running(dataplane.LAB_DIR), timeout=10, interval=0.2), agent_log()[-3000:]
    # the daemons stop first, then their namespaces go
    assert poll(lambda: not set(netns.list_namespaces()) & set(lab_client_vpn.NAMESPACES), timeout=5, interval=0.1)
    assert poll(lambda: dataplane.twin_status()["client_vpn"]["endpoint_id"] is None, timeout=5, interval=0.2)
    assert not dataplane.twin_status()["client_vpn"]["played"]
    assert lab.LabRuntime.load(dataplane.LAB_DIR).state.get("owner", {}).get("stack") == STACK  # the rest plays on
