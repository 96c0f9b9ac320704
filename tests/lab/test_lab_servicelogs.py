"""AWS's Route 53 Resolver query logs and Client VPN connection logs, written by the
lab from real daemons and read back by the runbook's readers.

The site-to-site lab runs (phases 1 + 2), phase 3 with query logging (the
default), the lab's named playing Route 53 Resolver with its dnstap collector;
real queries asked on the VPC host and the on-prem server through SSM become
query log entries with the rcode named really answered (the agent's step,
hybridnet.lab.resolverlogs.ship, is called here as the agent's tick calls
it: these tests run no agent). Then phase 4 with connection logging and phase
5's handler: a real OpenVPN client admitted and one refused by the handler's
source-IP policy are connection log entries. Needs root (lab_session).
"""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path

import pytest
from hybridnet import dataplane
from hybridnet.aws import connect
from hybridnet.diagnostics import servicelogs
from hybridnet.diagnostics.dns import Probe
from hybridnet.diagnostics.hostdns import HostProbe
from hybridnet.handlers import connect_handler as deployed
from hybridnet.lab import client_vpn as lab_client_vpn
from hybridnet.lab import resolverlogs
from hybridnet.params import load_params
from hybridnet.phases import client_vpn, hybrid_dns, router_config, tgw_attachment
from hybridnet.phases import connect_handler as phase5

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
STACK = "labslogs"
WEB1 = "10.0.10.10"
ONPREM_DNS = "192.168.2.250"


@pytest.fixture(scope="module")
def ctx(lab_session, own_emulator):
    context = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK}))
    assert context.data_plane == dataplane.LAB, context.data_plane_reason
    tgw_attachment.run(context, progress=None)
    return context


@pytest.fixture(scope="module")
def lab(ctx, tmp_path_factory):
    run = tmp_path_factory.mktemp("servicelogs-run")
    vpn, cfg = router_config.load_connection(ctx)
    router_config.write_router_configs(cfg, router_config.router_site(ctx), run, targets=("lab",))
    timings = dataplane.lab_up(ctx, vpn, router_config.router_dir(run) / "lab", run / "lab-logs")
    assert "error" not in timings, str(timings)  # a str: pytest shortens a dict
    try:
        result = hybrid_dns.run(ctx, progress=None)
        table, _ = dataplane.dns_up(ctx, run / "dns-lab", run / "lab-logs")
        assert table["running"].all(), table.to_string()
        assert hybrid_dns.servers_answering(ctx).ok
        yield {"run": run, "dns": result}
    finally:
        dataplane.lab_down()


def ship_until(ctx, done, timeout: float = 20.0):
    """The agent's tick (resolverlogs.ship) until the query log frame satisfies `done`."""
    deadline = time.monotonic() + timeout
    while True:
        resolverlogs.ship(ctx, dataplane.LAB_DIR)
        frame = servicelogs.resolver_query_frame(ctx, lookback_minutes=15)
        if done(frame) or time.monotonic() > deadline:
            return frame
        time.sleep(0.5)


def web1_instance(ctx) -> str:
    reservations = ctx.client("ec2").describe_instances(Filters=[{"Name": "tag:Name", "Values": ["seed-web1"]}])[
        "Reservations"
    ]
    return reservations[0]["Instances"][0]["InstanceId"]


def test_queries_asked_on_the_hosts_are_query_log_entries_with_the_rcode_named_answered(ctx, lab):
    asked = (
        ("web2.awsanycompany.corp", ["10.0.20.10"]),  # the private hosted zone
        ("websrv.anycompany.corp", ["192.168.2.20"]),  # forwarded through the outbound endpoint to on-prem
        ("not-there.awsanycompany.corp", "NXDOMAIN"),
        ("www.example.com", "SERVFAIL"),
    )  # outside the lab: the Resolver's named cannot resolve it
    questions = {
        "vpc_client": [HostProbe(Probe("VPC host", "10.0.0.2", name, expected=expected)) for name, expected in asked],
        "onprem_client": [HostProbe(Probe("on-prem client", ONPREM_DNS, "web1.awsanycompany.corp", expected=[WEB1]))],
    }  # through the inbound endpoint
    matrix = hybrid_dns.probe_matrix(ctx, questions=questions)
    assert matrix["ok"].all(), matrix.to_string()
    wanted = {
        "web2.awsanycompany.corp.",
        "websrv.anycompany.corp.",
        "not-there.awsanycompany.corp.",
        "www.example.com.",
    }
    frame = ship_until(
        ctx,
        lambda f: (
            wanted <= set(f["query_name"])
            and "web1.awsanycompany.corp." in set(f[f["source"].str.startswith("rslvr-in-")]["query_name"])
        ),
    )
    assert list(frame.columns) == servicelogs.RESOLVER_COLUMNS
    from_web1 = frame[frame["srcaddr"] == WEB1].drop_duplicates("query_name", keep="last").set_index("query_name")
    assert from_web1.loc["web2.awsanycompany.corp.", "rcode"] == "NOERROR"
    assert from_web1.loc["web2.awsanycompany.corp.", "answers"] == "A 10.0.20.10"
    assert from_web1.loc["not-there.awsanycompany.corp.", "rcode"] == "NXDOMAIN"
    assert from_web1.loc["not-there.awsanycompany.corp.", "answers"] == ""
    assert from_web1.loc["www.example.com.", "rcode"] == "SERVFAIL"
    assert from_web1.loc["websrv.anycompany.corp.", "rcode"] == "NOERROR"
    instance = web1_instance(ctx)
    assert from_web1.loc["web2.awsanycompany.corp.", "source"] == instance
    outbound = lab["dns"].outbound.id
    assert from_web1.loc["websrv.anycompany.corp.", "source"].startswith(f"{instance} via {outbound} (rni-")
    inbound = frame[frame["source"].str.startswith(lab["dns"].inbound.id)]
    assert "web1.awsanycompany.corp." in set(inbound["query_name"])
    # the on-prem DNS server forwards to the inbound endpoint (from an address of its namespace in the lab)
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("192.168.0.0/16") for a in inbound["srcaddr"])
    assert set(frame["vpc_id"]) == {lab["dns"].vpc_id}

    # the raw entries are AWS's fields, in the stack's log group
    logs = ctx.client("logs")
    events = [
        e
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=lab["dns"].query_log_group)
        for e in page["events"]
    ]
    entry = next(json.loads(e["message"]) for e in events if '"www.example.com."' in e["message"])
    assert set(entry) == {
        "version",
        "account_id",
        "region",
        "vpc_id",
        "query_timestamp",
        "query_name",
        "query_type",
        "query_class",
        "rcode",
        "answers",
        "srcaddr",
        "srcport",
        "transport",
        "srcids",
    }
    assert (entry["version"], entry["region"], entry["query_type"], entry["query_class"], entry["transport"]) == (
        "1.100000",
        "ap-northeast-2",
        "A",
        "IN",
        "UDP",
    )
    assert entry["srcids"] == {"instance": instance} and entry["srcport"].isdigit()

    # nothing twice: another tick writes nothing new
    count = len(frame)
    resolverlogs.ship(ctx, dataplane.LAB_DIR)
    time.sleep(2.5)  # what the collector may still flush
    resolverlogs.ship(ctx, dataplane.LAB_DIR)
    assert len(servicelogs.resolver_query_frame(ctx, lookback_minutes=15)) == count


def test_a_vpc_without_an_active_association_logs_nothing(ctx, lab):
    resolverlogs.ship(ctx, dataplane.LAB_DIR)
    before = len(servicelogs.resolver_query_frame(ctx, lookback_minutes=15))
    off = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK, "logs": {"enabled": False}}))
    hybrid_dns.run(off, progress=None)  # the association and the configuration are removed
    try:
        assert servicelogs.resolver_query_frame(off, lookback_minutes=15).empty  # no association: nothing to read
        time.sleep(resolverlogs.VIEW_READ_S)  # the agent's view of the account is this old at most
        question = {
            "vpc_client": [HostProbe(Probe("VPC host", "10.0.0.2", "unlogged.awsanycompany.corp", expected="NXDOMAIN"))]
        }
        assert hybrid_dns.probe_matrix(off, questions=question)["ok"].all()
        time.sleep(3)  # the collector has it
        resolverlogs.ship(ctx, dataplane.LAB_DIR)  # taken, and dropped: AWS writes nothing for that VPC
    finally:
        again = hybrid_dns.run(ctx, progress=None)  # a new configuration into the same log group
    assert again.query_log_association_status == "ACTIVE"
    time.sleep(resolverlogs.VIEW_READ_S)
    resolverlogs.ship(ctx, dataplane.LAB_DIR)
    after = servicelogs.resolver_query_frame(ctx, lookback_minutes=15)
    assert len(after) == before and "unlogged.awsanycompany.corp." not in set(after["query_name"])


@pytest.fixture(scope="module")
def cvpn(ctx, lab):
    phase4 = client_vpn.run(ctx, lab["run"], progress=None)
    dataplane.client_vpn_up(ctx, phase4.endpoint_id)
    phase5.run(ctx, progress=None)
    return phase4


def connection_frame(ctx, endpoint_id: str, done, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        frame = servicelogs.client_vpn_connection_frame(ctx, [endpoint_id], lookback_minutes=15)
        if done(frame) or time.monotonic() > deadline:
            return frame
        time.sleep(0.3)


def test_a_real_client_connection_and_its_end_are_connection_log_entries(ctx, cvpn):
    assert cvpn.endpoint["ConnectionLogOptions"] == {
        "Enabled": True,
        "CloudwatchLogGroup": f"/hybridnet/{STACK}/client-vpn",
        "CloudwatchLogStream": "connections",
    }
    attempt = lab_client_vpn.connect(dataplane.LAB_DIR, "user", cvpn.profile.path)
    try:
        assert attempt.outcome == "connected", attempt
    finally:
        lab_client_vpn.disconnect(dataplane.LAB_DIR, "user")
    client_vpn.wait_connection_status(ctx, cvpn.endpoint_id, attempt.client_ip, "terminated", timeout=15)
    frame = connection_frame(
        ctx,
        cvpn.endpoint_id,
        lambda f: {"successful", "ended"} <= set(f[f["client_ip"] == attempt.client_ip]["status"]),
    )
    mine = frame[frame["client_ip"] == attempt.client_ip]
    assert list(mine["status"])[-2:] == ["successful", "ended"], frame.to_string()
    admitted = mine.iloc[-2]
    assert (admitted.common_name, admitted.failure_reason, admitted.handler_status, admitted.device_ip) == (
        "client1.hybridnet.lab",
        "",
        "allowed",
        "192.0.2.10",
    )
    assert ipaddress.ip_address(admitted.client_ip) in ipaddress.ip_network("172.16.0.0/22")
    assert mine.iloc[-1].connection_id == admitted.connection_id


def test_a_client_the_handler_refuses_is_logged_with_its_reason(ctx, cvpn):
    attempt = lab_client_vpn.connect(dataplane.LAB_DIR, "guest", cvpn.profile.path)
    assert attempt.outcome == "refused" and attempt.message == deployed.SOURCE_IP_MESSAGE, attempt
    frame = connection_frame(ctx, cvpn.endpoint_id, lambda f: (f["device_ip"] == "192.0.2.200").any())
    refused = frame[frame["device_ip"] == "192.0.2.200"].iloc[-1]
    assert (refused.status, refused.failure_reason, refused.handler_status, refused.client_ip) == (
        "failed",
        "client-connect-failed",
        "denied",
        "",
    )
    assert refused.common_name == "client1.hybridnet.lab"
    # the handler's own words reach the client (AUTH_FAILED) and DescribeClientVpnConnections, as on AWS
    described = ctx.client("ec2").describe_client_vpn_connections(
        ClientVpnEndpointId=cvpn.endpoint_id, Filters=[{"Name": "connection-id", "Values": [refused.connection_id]}]
    )["Connections"]
    assert described[0]["Status"] == {"Code": "terminated", "Message": deployed.SOURCE_IP_MESSAGE}
