"""The runbook's readers of Resolver query logs and Client VPN connection logs, on the
emulator: found through the VPC's query log association and the endpoint's
ConnectionLogOptions (no name is assumed), read with FilterLogEvents; empty frames
with their columns when logging is off."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hybridnet import emulator
from hybridnet.aws import AwsContext, connect
from hybridnet.diagnostics import servicelogs
from hybridnet.params import load_params, parse_params
from hybridnet.phases import client_vpn, connect_handler, hybrid_dns

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "aws-logs"
STACK = "logsread"


def params(**changes):
    data = load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK, "lab": "off"}).model_dump(mode="python")
    for tunnel, key in zip(data["vpn"]["tunnels"], ("strongswan_awsvpn1", "strongswan_awsvpn2")):
        tunnel["pre_shared_key"] = key
    data.update(changes)
    return parse_params(data)


@pytest.fixture(scope="module")
def ctx(own_emulator) -> AwsContext:
    return connect(params())


@pytest.fixture(scope="module")
def dns(ctx):
    return hybrid_dns.run(ctx, progress=None)


def test_resolver_query_entries_are_read_where_the_vpcs_association_sends_them(ctx, dns):
    logs = ctx.client("logs")
    now = int(time.time() * 1000)
    entries = [json.loads(line) for line in (FIXTURES / "resolver-query-log.jsonl").read_text().splitlines()]
    logs.create_log_stream(logGroupName=dns.query_log_group, logStreamName="fixture")
    logs.put_log_events(
        logGroupName=dns.query_log_group,
        logStreamName="fixture",
        logEvents=[
            {"timestamp": now - 1000 * (len(entries) - i), "message": json.dumps({**e, "vpc_id": dns.vpc_id})}
            for i, e in enumerate(entries)
        ]
        + [{"timestamp": now, "message": json.dumps({**entries[0], "vpc_id": "vpc-0another0000000000"})}],
    )
    frame = servicelogs.resolver_query_frame(ctx, lookback_minutes=10)
    assert list(frame.columns) == servicelogs.RESOLVER_COLUMNS
    assert list(frame["rcode"]) == ["NOERROR", "NXDOMAIN", "NOERROR", "SERVFAIL", "NOERROR"]  # by query time
    assert set(frame["vpc_id"]) == {dns.vpc_id}  # another VPC's entry in the same group is not this VPC's
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert servicelogs.query_log_groups(ctx, dns.vpc_id) == [dns.query_log_group]


def test_without_query_logging_the_frame_is_empty(ctx, dns):
    off = connect(params(logs={"enabled": False, "retention_days": 14}))
    hybrid_dns.run(off, progress=None)
    frame = servicelogs.resolver_query_frame(off, lookback_minutes=10)
    assert frame.empty and list(frame.columns) == servicelogs.RESOLVER_COLUMNS
    hybrid_dns.run(ctx, progress=None)  # on again for the other tests


@pytest.fixture(scope="module")
def cvpn(ctx, dns, tmp_path_factory):
    phase4 = client_vpn.run(ctx, tmp_path_factory.mktemp("logsread-run"), progress=None)
    connect_handler.run(ctx, progress=None)  # the source_ip policy of params/lab.yaml
    return phase4.endpoint_id


def admit(info, endpoint_id: str, public_ip: str) -> dict:
    return emulator.admin_call(
        info,
        "POST",
        "clientvpn-connect",
        {
            "region": "ap-northeast-2",
            "client_vpn_endpoint_id": endpoint_id,
            "common_name": "client1.hybridnet.lab",
            "public_ip": public_ip,
            "platform": "linux",
            "port": "41000",
        },
    )


def test_client_vpn_entries_are_read_where_the_endpoint_sends_them(ctx, cvpn, own_emulator):
    allowed = admit(own_emulator, cvpn, "192.0.2.10")
    refused = admit(own_emulator, cvpn, "192.0.2.200")
    assert (allowed["allow"], refused["allow"]) == (True, False)
    emulator.admin_call(
        own_emulator,
        "POST",
        "clientvpn-connection",
        {
            "region": "ap-northeast-2",
            "client_vpn_endpoint_id": cvpn,
            "connection_id": allowed["connection_id"],
            "status": "terminated",
            "ingress_bytes": 10,
            "egress_bytes": 20,
        },
    )
    frame = servicelogs.client_vpn_connection_frame(ctx, [cvpn], lookback_minutes=10)
    assert list(frame.columns) == servicelogs.CLIENT_VPN_COLUMNS
    rows = {(r.connection_id, r.status): r for r in frame.itertuples()}
    ok = rows[(allowed["connection_id"], "successful")]
    assert (ok.client_ip, ok.common_name, ok.failure_reason, ok.handler_status, ok.device_ip) == (
        allowed["client_ip"],
        "client1.hybridnet.lab",
        "",
        "allowed",
        "192.0.2.10",
    )
    assert (allowed["connection_id"], "ended") in rows
    no = rows[(refused["connection_id"], "failed")]
    assert (no.failure_reason, no.handler_status, no.client_ip, no.device_ip) == (
        "client-connect-failed",
        "denied",
        "",
        "192.0.2.200",
    )
    # the handler's own message goes to the client and to DescribeClientVpnConnections, not to the log
    assert refused["message"] and refused["message"] not in frame.to_string()


def test_without_connection_logging_the_frame_is_empty(ctx, cvpn, own_emulator, tmp_path):
    off = connect(params(logs={"enabled": False, "retention_days": 14}))
    client_vpn.run(off, tmp_path, progress=None)
    admit(own_emulator, cvpn, "192.0.2.10")
    frame = servicelogs.client_vpn_connection_frame(off, [cvpn], lookback_minutes=10)
    assert frame.empty and list(frame.columns) == servicelogs.CLIENT_VPN_COLUMNS
    assert servicelogs.client_vpn_connection_frame(ctx, [], lookback_minutes=10).empty
