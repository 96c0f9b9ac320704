"""Phases 4 and 5 end to end with real OpenVPN 2.6 in the lab.

The site-to-site lab (phases 1 + 2) runs; the lab's Client VPN endpoint is
an OpenVPN server configured from the emulator's endpoint; remote users run
OpenVPN with exactly the profile phase 4 wrote. The handler phase 5 deployed
decides every connection (through the emulator, which runs its code).
Needs root (lab_session); without it these tests skip (fail under CI=true).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path

import pytest
from hybridnet import dataplane, emulator, lab, pki
from hybridnet.aws import connect
from hybridnet.handlers import connect_handler as deployed
from hybridnet.lab import client_vpn as lab_client_vpn
from hybridnet.lab import fromaws, netns
from hybridnet.lab.hosts import REMOTE_NAMESPACES
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX
from hybridnet.params import load_params
from hybridnet.phases import client_vpn, hybrid_dns, router_config, tgw_attachment
from hybridnet.phases import connect_handler as phase5
from hybridnet.workspace import write_private

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
WEB1, WEBSRV = "10.0.10.10", "192.168.2.20"


@pytest.fixture(scope="module")
def ctx(lab_session, own_emulator):
    context = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "cvpnlab"}))
    assert context.data_plane == dataplane.LAB, context.data_plane_reason
    tgw_attachment.run(context, progress=None)
    return context


def lab_spec(ctx, endpoint_id: str) -> lab_client_vpn.ClientVpnLabSpec:
    """The endpoint as the lab's agent plays it (these tests run no agent: they drive clientvpn themselves)."""
    return fromaws.client_vpn_spec_from_aws(ctx, endpoint_id, emulator.status().socket)


def play(spec: lab_client_vpn.ClientVpnLabSpec) -> None:
    """As the agent plays an endpoint: the server, and the remote users' hosts' AWS API (for SSM)."""
    lab_client_vpn.up(dataplane.LAB_DIR, spec)
    dataplane.start_host_endpoints(emulator.status(), REMOTE_NAMESPACES)


@pytest.fixture(scope="module")
def setup(ctx, tmp_path_factory):
    """Site-to-site lab up, phase 3 (the VPC resolver), phase 4 (endpoint + profile), the lab
    endpoint, phase 5 (handler enabled)."""
    run = tmp_path_factory.mktemp("cvpn-run")
    vpn, cfg = router_config.load_connection(ctx)
    router_config.write_router_configs(cfg, router_config.router_site(ctx), run, targets=("lab",))
    timings = dataplane.lab_up(ctx, vpn, router_config.router_dir(run) / "lab", run / "lab-logs")
    assert "error" not in timings, str(timings)  # a str: pytest shortens a dict
    try:
        hybrid_dns.run(ctx, progress=None)  # the VPC resolver the endpoint names as its DNS server
        table, _ = dataplane.dns_up(ctx, run / "dns-lab", run / "lab-logs")
        assert table["running"].all(), table.to_string()
        phase4 = client_vpn.run(ctx, run, progress=None)
        dataplane.client_vpn_up(ctx, phase4.endpoint_id)
        handler = phase5.run(ctx, progress=None)
        yield {
            "run": run,
            "phase4": phase4,
            "handler": handler,
            "profile": phase4.profile.path,
            "digest": hashlib.sha256(phase4.profile.path.read_bytes()).hexdigest(),
        }
    finally:
        dataplane.lab_down()


def connections(ctx, endpoint_id: str) -> list[dict]:
    return ctx.client("ec2").describe_client_vpn_connections(ClientVpnEndpointId=endpoint_id)["Connections"]


def test_allowed_user_connects_with_the_profile_and_reaches_the_vpc_and_the_idc(ctx, setup):
    attempt = lab_client_vpn.connect(dataplane.LAB_DIR, "user", setup["profile"])
    try:
        assert attempt.outcome == "connected", attempt
        assert ipaddress.ip_address(attempt.client_ip) in ipaddress.ip_network("172.16.0.0/22")
        # exactly the profile phase 4 wrote, unchanged, is what the user's OpenVPN reads
        runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
        record = runtime.daemon(lab_client_vpn.client_name("user"))
        argv = Path(f"/proc/{record.pid}/cmdline").read_bytes().split(b"\0")
        assert argv[:3] == [b"/usr/sbin/openvpn", b"--config", str(setup["profile"]).encode()]
        assert hashlib.sha256(setup["profile"].read_bytes()).hexdigest() == setup["digest"]
        # split tunnel: only the endpoint's routes go into the tunnel, no default route
        routes = netns.ip_in(lab_client_vpn.USERS["user"][0], "-4", "route", "show").stdout
        assert re.search(r"^10\.0\.0\.0/16 via 172\.16\.0\.1 dev tun0", routes, re.M), routes
        assert re.search(r"^192\.168\.0\.0/16 via 172\.16\.0\.1 dev tun0", routes, re.M), routes
        assert "default" not in routes
        for target in (WEB1, WEBSRV):  # a VPC host, and an IDC host through the site-to-site tunnels
            result = lab.ping(dataplane.LAB_DIR, lab_client_vpn.USERS["user"][0], target, count=3)
            assert result["received"] == 3, result
        mine = [c for c in connections(ctx, setup["phase4"].endpoint_id) if c["ClientIp"] == attempt.client_ip]
        assert [c["Status"]["Code"] for c in mine][-1] == "active"
        assert mine[-1]["CommonName"] == "client1.hybridnet.lab"
    finally:
        lab_client_vpn.disconnect(dataplane.LAB_DIR, "user")
    ended = client_vpn.wait_connection_status(ctx, setup["phase4"].endpoint_id, attempt.client_ip, "terminated")
    assert ended and ended[-1]["Status"]["Code"] == "terminated"
    assert int(ended[-1]["IngressBytes"]) > 0 and int(ended[-1]["EgressBytes"]) > 0


def test_denied_user_is_refused_and_sees_the_handlers_message(ctx, setup):
    before = len(connections(ctx, setup["phase4"].endpoint_id))
    attempt = lab_client_vpn.connect(dataplane.LAB_DIR, "guest", setup["profile"])
    assert attempt.outcome == "refused", attempt
    assert attempt.message == deployed.SOURCE_IP_MESSAGE
    log = Path(attempt.log).read_text()
    assert f"AUTH_FAILED,{deployed.SOURCE_IP_MESSAGE}" in log
    assert netns.ip_in(lab_client_vpn.USERS["guest"][0], "-o", "-4", "address", "show").stdout.count("tun") == 0
    after = connections(ctx, setup["phase4"].endpoint_id)
    assert len(after) == before + 1
    refused = [c for c in after if c["Status"].get("Message") == deployed.SOURCE_IP_MESSAGE]
    assert refused and refused[-1]["Status"]["Code"] == "terminated"


def test_phase4_connects_the_remote_user_through_ssm_and_the_key_never_travels(ctx, setup):
    material = client_vpn.ensure_pki(ctx)
    deployment = client_vpn.deploy(ctx, setup["phase4"].endpoint_id, material, setup["profile"])
    table = deployment.table
    assert table["ok"].all(), table.to_string()
    assert list(table["step"]) == [
        "client key in Parameter Store",
        f"remote_user {deployment.attempts[0]['instance_id']} (192.0.2.10) connects with the profile",
        "ping VPC host web1",
        "ping on-prem host websrv",
        "resolve web1.awsanycompany.corp",
        "disconnect",
    ], table.to_string()
    attempt = deployment.attempts[0]
    assert ipaddress.ip_address(attempt["client_ip"]) in ipaddress.ip_network("172.16.0.0/22")
    ended = [c for c in connections(ctx, setup["phase4"].endpoint_id) if c["ClientIp"] == attempt["client_ip"]]
    assert ended[-1]["Status"]["Code"] == "terminated"
    # The account's command history holds the profile's certificates, never its key.
    ssm = ctx.client("ssm")
    sent = [c for page in ssm.get_paginator("list_commands").paginate() for c in page["Commands"]]
    assert sent and not any("PRIVATE KEY" in str(c["Parameters"]) for c in sent)
    assert not any(material.client.key_pem.splitlines()[1] in str(c["Parameters"]) for c in sent)
    # On the host, nothing of the key is left after the try.
    folder = Path(dataplane.LAB_DIR) / f"{lab_client_vpn.USERS['user'][0]}-host" / "var-lib-hybridnet" / "clientvpn"
    assert folder.is_dir() and not any(
        "PRIVATE KEY" in p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()
    )


def test_describe_connections_lists_allowed_and_refused_attempts(ctx, setup):
    attempts = phase5.remote_attempts(ctx, setup["phase4"].endpoint_id, setup["profile"])
    outcomes = dict(zip(attempts.table["public IP"], attempts.table["outcome"]))
    assert outcomes == {"192.0.2.10": "connected", "192.0.2.200": "refused"}, attempts.table.to_string()
    refused = attempts.table.loc["elsewhere"]
    assert refused["what the client was told"] == deployed.SOURCE_IP_MESSAGE
    table = phase5.connections_frame(ctx, setup["phase4"].endpoint_id)
    statuses = list(zip(table["status"], table["message"]))
    assert ("terminated", "-") in statuses  # admitted, then ended when the user disconnected
    assert ("terminated", deployed.SOURCE_IP_MESSAGE) in statuses
    assert set(table["common name"]) == {"client1.hybridnet.lab"}


def test_a_client_certificate_from_another_ca_is_refused_by_the_server(ctx, setup, tmp_path):
    other_ca = pki.make_ca("someone-elses-ca")
    stranger = pki.issue_client(other_ca, "client1.hybridnet.lab")
    text = client_vpn.add_client_credentials(setup["profile"].read_text(), stranger.cert_pem, stranger.key_pem)
    profile = write_private(tmp_path / "stranger.ovpn", text)
    before = len(connections(ctx, setup["phase4"].endpoint_id))
    offset = lab_client_vpn.server_log_size(dataplane.LAB_DIR)
    # the client only sees the TLS handshake go unanswered: a short hand-window ends it quickly
    attempt = lab_client_vpn.connect(dataplane.LAB_DIR, "user", profile, timeout=6, extra_args=("--hand-window", "3"))
    assert attempt.outcome != "connected", attempt
    server = lab_client_vpn.server_log_since(dataplane.LAB_DIR, offset)
    assert re.search(r"VERIFY ERROR: depth=0, error=unable to get local issuer certificate.*CN=client1", server), (
        server[-2000:]
    )
    assert "TLS handshake failed" in server or "TLS Error" in server
    assert len(connections(ctx, setup["phase4"].endpoint_id)) == before  # never got as far as the handler


def test_authorization_rules_are_the_servers_packet_filter(ctx, setup):
    """Without a rule for the IDC CIDR, the route is still pushed but the IDC is unreachable."""
    full = lab_spec(ctx, setup["phase4"].endpoint_id)
    vpc_only = full.model_copy(update={"authorized": [ipaddress.ip_network(ctx.params.vpc.cidr)]})
    ruleset = netns.exec_in(lab_client_vpn.CVPN_NS, ["nft", "list", "ruleset"]).stdout
    assert "10.0.0.0/16" in ruleset and "192.168.0.0/16" in ruleset and "policy drop" in ruleset
    play(vpc_only)
    try:
        attempt = lab_client_vpn.connect(dataplane.LAB_DIR, "user", setup["profile"])
        assert attempt.connected, attempt
        ns = lab_client_vpn.USERS["user"][0]
        assert lab.ping(dataplane.LAB_DIR, ns, WEB1, count=2)["received"] == 2
        assert lab.ping(dataplane.LAB_DIR, ns, WEBSRV, count=2, wait_s=0.5)["received"] == 0
        lab_client_vpn.disconnect(dataplane.LAB_DIR, "user")
    finally:
        play(full)


def test_client_vpn_down_leaves_the_site_to_site_lab_running(ctx, setup):
    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    pids = [r.pid for r in runtime.daemons if r.ns in lab_client_vpn.NAMESPACES or r.name == lab_client_vpn.DNS]
    assert pids
    lab_client_vpn.down(dataplane.LAB_DIR)
    assert not set(netns.list_namespaces()) & set(lab_client_vpn.NAMESPACES)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not lab_client_vpn.running(dataplane.LAB_DIR)
    assert lab.ping(dataplane.LAB_DIR, f"{NS_PREFIX}idc", WEB1, src_ip=WEBSRV, count=2)["received"] == 2
    # and it comes back, for whoever runs next
    play(lab_spec(ctx, setup["phase4"].endpoint_id))
    assert lab_client_vpn.running(dataplane.LAB_DIR)
