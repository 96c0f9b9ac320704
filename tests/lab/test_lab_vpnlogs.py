"""AWS's Site-to-Site VPN logs from real daemons: phase 1 turns tunnel and BGP logging on
(the stack's log group), the lab's agent plays AWS's side and writes what its charon and
bgpd log as AWS's log entries, and the runbook's reader (diagnostics.vpnlogs) reads them
back: both tunnels established, BGP up; a pre-shared key mismatch on tunnel 1 (made on
the customer gateway, then undone) gives AWS's message for that tunnel's outside IP; a
tunnel whose logging is off gets nothing until phase 1 turns it on again."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from hybridnet import dataplane
from hybridnet.aws import connect
from hybridnet.diagnostics.vpnlogs import tunnel_log_frame
from hybridnet.lab.daemons import LabRuntime
from hybridnet.lab.drills import renegotiate_cgw_tunnel
from hybridnet.params import load_params
from hybridnet.phases import router_config, tgw_attachment

ROOT = Path(__file__).resolve().parents[2]
STACK = "vpnlogs"
PSK_MESSAGE = "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key"  # the seed is IKEv1


@pytest.fixture(scope="module")
def params_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vpnlogs-params") / "params.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load((ROOT / "params" / "lab.yaml").read_text()), "name": STACK}))
    return path


@pytest.fixture(scope="module")
def ctx(lab_session, own_emulator, params_file):
    if dataplane.lab_running():
        dataplane.lab_down()
    context = connect(load_params(params_file))
    assert context.data_plane == dataplane.LAB, context.data_plane_reason
    agent = dataplane.twin_start(context, params_file)
    result = tgw_attachment.run(context, progress=None)
    assert result.log_group == f"/hybridnet/{STACK}/vpn"
    assert dataplane.wait_for_twin(context), Path(agent["log"]).read_text()[-3000:]
    yield context
    dataplane.lab_down()


@pytest.fixture(scope="module")
def applied(ctx):
    vpn, cfg = router_config.load_connection(ctx)
    deployment = router_config.deploy(ctx, vpn, cfg)
    assert deployment.ok, deployment.table.to_string()
    return vpn


def connection(ctx) -> dict:
    return tgw_attachment.find_vpn_connection(ctx)


def wait_for(ctx, done, timeout: float = 60.0, lookback: int = 15):
    """tunnel_log_frame(...) once done(frame) holds (or the last one, for the assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = tunnel_log_frame(ctx, [connection(ctx)], lookback)
        if done(frame) or time.monotonic() > deadline:
            return frame
        time.sleep(1.0)


def outside_ips() -> list[str]:
    """The tunnels' AWS outside IPs, as the lab plays them (tunnel 1 first)."""
    return [t["vgw_outside_ip"] for t in LabRuntime.load(dataplane.LAB_DIR).state["tunnels"]]


# --- the customer gateway, broken and mended here (its strongSwan setup as phase 2 installed it) ---


def _cgw_file(runtime: LabRuntime, outside_ip: str) -> Path:
    conf_d = Path(runtime.state["cgw_swanctl_conf"]).parent / "conf.d"
    return next(p for p in sorted(conf_d.glob("*.conf")) if outside_ip in p.read_text())


def _with_secret(text: str, outside_ip: str, secret: str) -> str:
    """`text` with the secret of the section whose remote id is `outside_ip` replaced."""

    def replace(section: re.Match) -> str:
        if "secret" not in section.group(0):
            return section.group(0)
        return re.sub(r"secret\s*=\s*[^\n]+", f'secret = "{secret}"', section.group(0))

    pattern = rf"[\w-]+\s*\{{[^{{}}]*id-remote\s*=\s*\"?{re.escape(outside_ip)}\"?[^{{}}]*\}}"
    return re.sub(pattern, replace, text)


TUNNELS_BACK_S = 90.0  # sanity bound: IPsec is up at once; BGP re-opens on its connect timer


def assert_tunnels_come_up(ctx, vpn_id: str) -> None:
    """Both tunnels UP with routes, as AWS reports them, within TUNNELS_BACK_S; else
    fail with what AWS and the lab show (which tunnel, which daemon)."""
    deadline = time.monotonic() + TUNNELS_BACK_S
    while not router_config.tunnels_up(ctx, vpn_id):
        if time.monotonic() > deadline:
            vpn = ctx.client("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]
            pytest.fail(
                f"tunnels not UP after {TUNNELS_BACK_S:.0f} s: {vpn.get('VgwTelemetry')}\n"
                f"{dataplane.lab_status_frame().to_string()}"
            )
        time.sleep(1)


# --- the tests ---------------------------------------------------------------------------------------


def test_both_tunnels_log_established_and_bgp_up(ctx, applied):
    ips = outside_ips()

    def both_up(frame) -> bool:
        tunnel = frame[
            (frame["log"] == "tunnel") & (frame["phase1"] == "Established") & (frame["phase2"] == "Established")
        ]
        bgp = frame[(frame["log"] == "bgp") & (frame["bgp_status"] == "UP")]
        return set(tunnel["outside_ip"]) == set(ips) and set(bgp["outside_ip"]) == set(ips)

    frame = wait_for(ctx, both_up)
    assert both_up(frame), frame.to_string()
    bgp = frame[frame["log"] == "bgp"]
    for ip in ips:
        assert any(
            d.endswith("to Established with neighbor " + n)
            for d in bgp[bgp["outside_ip"] == ip]["detail"]
            for n in ("169.254.11.2", "169.254.12.2")
        ), bgp.to_string()
        routes = bgp[(bgp["outside_ip"] == ip) & (bgp["bgp_status"] == "ADVERTISED")]["detail"]
        assert any(d.startswith("192.168.0.0/16 (AS path 65016") for d in routes), bgp.to_string()
    # One stream per tunnel and log, named from the connection id and the outside IP.
    logs = ctx.client("logs")
    vpn_id = connection(ctx)["VpnConnectionId"]
    streams = {
        s["logStreamName"] for s in logs.describe_log_streams(logGroupName=f"/hybridnet/{STACK}/vpn")["logStreams"]
    }
    assert streams == {f"{vpn_id}-{ip}" for ip in ips} | {f"{vpn_id}-{ip}-bgp" for ip in ips}
    # json, as phase 1 asked, with AWS's documented fields
    for event in logs.filter_log_events(logGroupName=f"/hybridnet/{STACK}/vpn")["events"]:
        entry = json.loads(event["message"])
        if event["logStreamName"].endswith("-bgp"):
            assert set(entry) == {"resource_id", "event_timestamp", "timestamp", "type", "status", "message"}
            assert entry["resource_id"] == f"{vpn_id}_{event['logStreamName'].split('-')[-2]}"
        else:
            assert set(entry) == {
                "event_timestamp",
                "timestamp",
                "details",
                "dpd_enabled",
                "nat_t_detected",
                "ike_phase1_state",
                "ike_phase2_state",
            }


def test_nothing_is_written_twice(ctx, applied):
    time.sleep(3)  # a few more ticks of the agent
    events = ctx.client("logs").filter_log_events(logGroupName=f"/hybridnet/{STACK}/vpn")["events"]
    assert events
    keys = [(e["logStreamName"], e["timestamp"], e["message"]) for e in events]
    assert len(keys) == len(set(keys))


def test_a_pre_shared_key_mismatch_shows_on_that_tunnel(ctx, applied):
    runtime = LabRuntime.load(dataplane.LAB_DIR)
    first, second = outside_ips()
    path = _cgw_file(runtime, first)
    good = path.read_text()
    broken = _with_secret(good, first, "not_the_key_aws_has_1")
    assert broken != good
    started = time.time()
    try:
        path.write_text(broken)
        renegotiate_cgw_tunnel(dataplane.LAB_DIR, 1)

        def mismatch(frame) -> bool:
            recent = frame[frame["time"] >= pd_time(started)]
            return not recent[(recent["outside_ip"] == first) & (recent["detail"] == PSK_MESSAGE)].empty

        frame = wait_for(ctx, mismatch)
        assert mismatch(frame), frame.tail(20).to_string()
        row = frame[(frame["outside_ip"] == first) & (frame["detail"] == PSK_MESSAGE)].iloc[-1]
        assert (row["log"], row["phase1"], row["phase2"]) == ("tunnel", "Down", "Down")
        assert frame[(frame["outside_ip"] == second) & (frame["detail"] == PSK_MESSAGE)].empty
    finally:
        path.write_text(good)  # as the lab was
        renegotiate_cgw_tunnel(dataplane.LAB_DIR, 1)
    back = wait_for(
        ctx,
        lambda f: (
            not f[(f["outside_ip"] == first) & (f["phase1"] == "Established") & (f["time"] >= pd_time(started))].empty
        ),
    )
    assert not back[(back["outside_ip"] == first) & (back["phase1"] == "Established")].empty
    assert_tunnels_come_up(ctx, connection(ctx)["VpnConnectionId"])


def test_a_tunnel_without_logging_gets_no_entries_until_phase_1_turns_it_on(ctx, applied):
    vpn = connection(ctx)
    _, second = outside_ips()
    ctx.client("ec2").modify_vpn_tunnel_options(
        VpnConnectionId=vpn["VpnConnectionId"],
        VpnTunnelOutsideIpAddress=second,
        TunnelOptions={"LogOptions": {"CloudWatchLogOptions": {"LogEnabled": False, "BgpLogEnabled": False}}},
    )
    time.sleep(2)  # the agent sees the new options
    off = time.time()
    renegotiate_cgw_tunnel(dataplane.LAB_DIR, 2)  # events AWS would log, if it logged them
    assert_tunnels_come_up(ctx, vpn["VpnConnectionId"])
    time.sleep(3)
    frame = tunnel_log_frame(ctx, [connection(ctx)], 15)
    assert frame[frame["outside_ip"] == second].empty  # the reader reads no group for that tunnel
    events = ctx.client("logs").filter_log_events(logGroupName=f"/hybridnet/{STACK}/vpn", startTime=int(off * 1000))[
        "events"
    ]
    assert not [e for e in events if second in e["logStreamName"]]
    # Phase 1 plans the connection's logging back and does it in place.
    steps = tgw_attachment.plan(ctx)
    assert [s.action for s in steps] == ["keep", "modify"]
    assert [c.field for c in steps[1].changes] == ["tunnel 2 LogOptions"]
    tgw_attachment.run(ctx, progress=None)
    assert [s.action for s in tgw_attachment.plan(ctx)] == ["keep", "keep"]
    on = time.time()
    renegotiate_cgw_tunnel(dataplane.LAB_DIR, 2)
    frame = wait_for(
        ctx,
        lambda f: (
            not f[(f["outside_ip"] == second) & (f["time"] >= pd_time(on)) & (f["phase2"] == "Established")].empty
        ),
    )
    assert not frame[(frame["outside_ip"] == second) & (frame["time"] >= pd_time(on))].empty
    assert_tunnels_come_up(ctx, vpn["VpnConnectionId"])


def pd_time(epoch: float):
    import pandas as pd

    return pd.Timestamp(int(epoch), unit="s", tz="UTC")
