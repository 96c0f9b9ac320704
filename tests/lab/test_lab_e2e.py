"""Phase 1 + 2 end to end: the generated customer-gateway setup against an AWS
side the lab derives from the emulator, and the emulator reporting the lab's
truth through the AWS API (VgwTelemetry, TGW propagated routes, AWS/VPN metrics)."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from hybridnet import dataplane, lab
from hybridnet.aws import connect
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX
from hybridnet.params import load_params
from hybridnet.phases import router_config, tgw_attachment

ROOT = Path(__file__).resolve().parents[2]
ONPREM_HOST, VPC_HOST = "192.168.2.20", "10.0.10.10"


@pytest.fixture(scope="module")
def ctx(lab_session, own_emulator):
    context = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "e2e"}))
    assert context.data_plane == dataplane.LAB, context.data_plane_reason
    tgw_attachment.run(context, progress=None)
    return context


@pytest.fixture(scope="module")
def vpn_and_cfg(ctx):
    return router_config.load_connection(ctx)


def generate(ctx, cfg, run_dir: Path) -> Path:
    router_config.write_router_configs(cfg, router_config.router_site(ctx), run_dir, targets=("lab",))
    return router_config.router_dir(run_dir) / "lab"


def telemetry(ctx, vpn_id):
    vpn = ctx.client("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]
    return {t["OutsideIpAddress"]: t for t in vpn["VgwTelemetry"]}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture(scope="module")
def running_lab(ctx, vpn_and_cfg, tmp_path_factory):
    vpn, cfg = vpn_and_cfg
    run_dir = tmp_path_factory.mktemp("e2e-run")
    timings = dataplane.lab_up(ctx, vpn, generate(ctx, cfg, run_dir), run_dir / "lab-logs")
    yield vpn, cfg, timings
    dataplane.lab_down()


def test_both_tunnels_up_and_bgp_established_within_10_s(running_lab):
    vpn, cfg, timings = running_lab
    assert "error" not in timings, str(timings)  # a str: pytest shortens a dict
    assert timings["tunnels_and_bgp_s"] < 10
    table = dataplane.lab_status_frame()
    assert list(table["ipsec_aws_side"]) == ["UP", "UP"] and list(table["ipsec_cgw_side"]) == ["UP", "UP"]
    assert set(table["bgp_aws_side"]) == {"Established"} and set(table["bgp_cgw_side"]) == {"Established"}


def test_lab_status_command_prints_tunnels_sessions_and_routes(running_lab):
    import subprocess

    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hybridnet"), "lab", "status"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Established") == 4  # both sessions, seen from both ends
    assert re.search(r"aws\s+192\.168\.0\.0/16\s+bgp", result.stdout)
    assert re.search(r"cgw\s+10\.0\.0\.0/16\s+bgp", result.stdout)


def test_routes_are_exchanged_both_ways(running_lab):
    status = lab.status(dataplane.LAB_DIR)
    aws_bgp = {r["prefix"] for r in status["routes"]["aws"] if r["protocol"] == "bgp"}
    cgw_bgp = {r["prefix"] for r in status["routes"]["cgw"] if r["protocol"] == "bgp"}
    assert "192.168.0.0/16" in aws_bgp  # the on-prem prefix, learned on the AWS side
    assert "10.0.0.0/16" in cgw_bgp  # the VPC prefix, learned on-prem


def test_ping_crosses_the_tunnels(running_lab):
    result = lab.ping(dataplane.LAB_DIR, f"{NS_PREFIX}idc", VPC_HOST, src_ip=ONPREM_HOST, count=3)
    assert result["received"] == 3, result


def test_aws_api_reports_the_lab(ctx, running_lab):
    vpn, cfg, _ = running_lab
    seen = telemetry(ctx, vpn["VpnConnectionId"])
    assert [(t["Status"], t["AcceptedRouteCount"], t["StatusMessage"]) for t in seen.values()] == [
        ("UP", 1, "1 BGP ROUTES"),
        ("UP", 1, "1 BGP ROUTES"),
    ]
    ec2 = ctx.client("ec2")
    tgw = ec2.describe_transit_gateways(TransitGatewayIds=[vpn["TransitGatewayId"]])["TransitGateways"][0]
    routes = ec2.search_transit_gateway_routes(
        TransitGatewayRouteTableId=tgw["Options"]["AssociationDefaultRouteTableId"],
        Filters=[{"Name": "type", "Values": ["propagated"]}],
    )["Routes"]
    by_prefix = {r["DestinationCidrBlock"]: r["TransitGatewayAttachments"][0] for r in routes}
    assert by_prefix["192.168.0.0/16"]["ResourceId"] == vpn["VpnConnectionId"]
    assert by_prefix["10.0.0.0/16"]["ResourceType"] == "vpc"
    cloudwatch = ctx.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    for ip in seen:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/VPN",
            MetricName="TunnelState",
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now + dt.timedelta(minutes=1),
            Period=300,
            Statistics=["Maximum"],
            Dimensions=[{"Name": "VpnId", "Value": vpn["VpnConnectionId"]}, {"Name": "TunnelIpAddress", "Value": ip}],
        )["Datapoints"]
        assert points and points[0]["Maximum"] == 1.0


def test_failover_keeps_traffic_and_telemetry_shows_tunnel_1_down(ctx, running_lab):
    vpn, cfg, _ = running_lab
    first = cfg.tunnels[0].vgw_outside_ip
    lab.tunnel_down(dataplane.LAB_DIR, 1)
    try:
        result = lab.ping(dataplane.LAB_DIR, f"{NS_PREFIX}idc", VPC_HOST, src_ip=ONPREM_HOST, count=5)
        assert result["received"] >= 4, result
        # Within one BGP hold time (30 s); the emulator polls the lab every second.
        wait_for(
            lambda: telemetry(ctx, vpn["VpnConnectionId"])[first]["Status"] == "DOWN",
            30,
            "tunnel 1 DOWN in VgwTelemetry",
        )
        other = [t for ip, t in telemetry(ctx, vpn["VpnConnectionId"]).items() if ip != first][0]
        assert other["Status"] == "UP"
    finally:
        lab.tunnel_restore(dataplane.LAB_DIR, 1)
    wait_for(lambda: telemetry(ctx, vpn["VpnConnectionId"])[first]["Status"] == "UP", 30, "tunnel 1 UP again")


def test_wrong_psk_on_the_customer_gateway_leaves_that_tunnel_down(ctx, vpn_and_cfg, tmp_path):
    vpn, cfg = vpn_and_cfg
    cgw_dir = generate(ctx, cfg, tmp_path)
    swanctl = cgw_dir / "swanctl.conf"
    text = swanctl.read_text()
    second_psk = cfg.tunnels[1].ike.pre_shared_key.get_secret_value()
    assert text.count(second_psk) == 1
    swanctl.write_text(text.replace(second_psk, "a_wrong_key_123"))
    try:
        timings = dataplane.lab_up(ctx, vpn, cgw_dir, tmp_path / "lab-logs", timeout=6)
        assert "error" in timings  # the lab never got both tunnels up
        second = cfg.tunnels[1].vgw_outside_ip
        seen = wait_for(
            lambda: (
                lambda t: (
                    t if t[second]["Status"] == "DOWN" and t[cfg.tunnels[0].vgw_outside_ip]["Status"] == "UP" else None
                )
            )(telemetry(ctx, vpn["VpnConnectionId"])),
            10,
            "tunnel 2 DOWN, tunnel 1 UP",
        )
        assert seen[second]["StatusMessage"] == "IPSEC IS DOWN"
        assert seen[second]["AcceptedRouteCount"] == 0
    finally:
        dataplane.lab_down()


def test_teardown_stops_the_lab_only_for_the_stack_it_plays(ctx, vpn_and_cfg, tmp_path):
    """Notebook 99's lab step: another stack's teardown, or this stack's with
    `lab: off`, leaves the running lab alone and says why; this stack's stops it."""
    vpn, cfg = vpn_and_cfg
    dataplane.lab_up(ctx, vpn, generate(ctx, cfg, tmp_path), tmp_path / "lab-logs")
    assert dataplane.lab_owner() == {"stack": "e2e", "endpoint": ctx.endpoint_url}
    other = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "another"}))
    report, note = dataplane.lab_down_for(other)
    assert report is None and "it plays stack 'e2e'" in note
    lab_off = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "e2e", "lab": "off"}))
    report, note = dataplane.lab_down_for(lab_off)
    assert report is None and "this stack uses no lab" in note
    assert dataplane.lab_running() and lab.status(dataplane.LAB_DIR)["tunnels"]
    report, note = dataplane.lab_down_for(ctx)
    assert report and note.startswith("down:") and not dataplane.lab_running()
    report, note = dataplane.lab_down_for(ctx)
    assert report is None and note == "not running"


def test_lab_down_leaves_nothing_and_aws_sees_tunnels_down_again(ctx, vpn_and_cfg, tmp_path):
    vpn, cfg = vpn_and_cfg
    dataplane.lab_up(ctx, vpn, generate(ctx, cfg, tmp_path), tmp_path / "lab-logs")
    state = lab.status(dataplane.LAB_DIR)
    pids = [d["pid"] for d in state["daemons"]]
    dataplane.lab_down()
    assert not set(lab.netns.list_namespaces()) & {
        f"{NS_PREFIX}{role}" for role in ("inet", "aws", "cgw", "idc", "vpc")
    }
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not list(Path("/run/frr").glob(f"{NS_PREFIX}*"))
    assert not (dataplane.LAB_DIR / "state.json").exists()
    seen = wait_for(
        lambda: (lambda t: t if all(x["Status"] == "DOWN" for x in t.values()) else None)(
            telemetry(ctx, vpn["VpnConnectionId"])
        ),
        5,
        "both tunnels DOWN after lab down",
    )
    assert all(re.search("no data plane is reporting", t["StatusMessage"]) for t in seen.values())
