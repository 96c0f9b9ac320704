"""What changed since the last run: snapshots of hand-made evidence, their diff
and summary line, finding the previous run's snapshot, and `healthcheck --since`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hybridnet import cli, healthcheck
from hybridnet.diagnostics import changes, verdicts
from hybridnet.diagnostics.changes import SnapshotError, SnapshotSkipped
from hybridnet.diagnostics.client_vpn import CONNECTION_COLUMNS
from hybridnet.diagnostics.daemons import COLUMNS as DAEMON_COLUMNS
from hybridnet.diagnostics.dns import COLUMNS as DNS_COLUMNS
from hybridnet.diagnostics.routes import BGP_COLUMNS, TGW_COLUMNS
from hybridnet.diagnostics.tunnels import TELEMETRY_COLUMNS, TIMELINE_COLUMNS
from hybridnet.errors import HybridnetError
from hybridnet.hosts import FRAME_COLUMNS as HOST_COLUMNS
from hybridnet.params import Thresholds, load_params

ROOT = Path(__file__).resolve().parents[2]
PARAMS = load_params(ROOT / "params" / "lab.yaml")
VPN = "vpn-0a1b2c3d4e5f60718"
T0, T1 = "2026-11-29T02:00:00+00:00", "2026-11-29T02:05:00+00:00"
ROUTER_READ = "the router's own BGP table: hosts.router seed-cgw (i-0123456789abcdef0), through SSM"


def telemetry(*tunnels):
    return pd.DataFrame(
        [
            {
                "vpn_connection_id": VPN,
                "outside_ip": ip,
                "status": status,
                "status_message": message,
                "accepted_routes": routes,
                "last_status_change": None,
            }
            for ip, status, message, routes in tunnels
        ],
        columns=TELEMETRY_COLUMNS,
    )


def timeline(points: dict[str, list[tuple[str, bool]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"vpn_connection_id": VPN, "outside_ip": ip, "time": pd.Timestamp(at), "up": up}
            for ip, series in points.items()
            for at, up in series
        ],
        columns=TIMELINE_COLUMNS,
    )


def tgw(*routes):
    return pd.DataFrame(
        [
            {
                "prefix": p,
                "type": "propagated",
                "state": "active",
                "resource_type": kind,
                "resource_id": rid,
                "attachment_id": att,
            }
            for p, kind, rid, att in routes
        ],
        columns=TGW_COLUMNS,
    )


def bgp(*routes):
    return pd.DataFrame(
        [
            {"prefix": p, "next_hop": hop, "as_path": "64512", "best": best, "multipath": False, "tunnel": tunnel}
            for p, hop, tunnel, best in routes
        ],
        columns=BGP_COLUMNS,
    )


def dns(*answers):
    return pd.DataFrame(
        [
            {
                "side": side,
                "server": "192.168.2.250",
                "name": name,
                "type": "A",
                "answer": answer,
                "rcode": rcode,
                "latency_ms": 3.0,
                "expected": "",
                "ok": ok,
                "detail": "",
            }
            for side, name, rcode, answer, ok in answers
        ],
        columns=DNS_COLUMNS,
    )


def hosts(*rows):
    return pd.DataFrame(
        [
            {
                "role": role,
                "host": f"seed-{role}",
                "instance_id": iid,
                "ssm_status": status,
                "platform": "Linux",
                "ip_address": "192.168.1.10",
                "detail": "",
            }
            for role, iid, status in rows
        ],
        columns=HOST_COLUMNS,
    )


def daemons(**running):
    return pd.DataFrame(
        [
            {
                "role": "router",
                "host": "seed-cgw",
                "instance_id": "i-0123456789abcdef0",
                "daemon": d,
                "running": r,
                "detail": "Success",
            }
            for d, r in running.items()
        ],
        columns=DAEMON_COLUMNS,
    )


def connections(*rows):
    return pd.DataFrame(
        [
            {
                "endpoint_id": "cvpn-endpoint-0123456789abcdef0",
                "connection_id": cid,
                "common_name": cn,
                "client_ip": ip,
                "status": status,
                "message": "",
            }
            for cid, cn, ip, status in rows
        ],
        columns=CONNECTION_COLUMNS,
    )


def verdict_table(*rows):
    return pd.DataFrame(
        [{"check": c, "status": s, "cause": cause, "reason": "r", "action": ""} for c, s, cause in rows]
    )


def evidence(**overrides):
    fields = dict(
        params=PARAMS,
        thresholds=Thresholds(),
        telemetry=telemetry(("203.0.113.11", "UP", "", 1), ("203.0.113.12", "UP", "", 1)),
        timeline=timeline({"203.0.113.11": [("2026-11-29T01:58", True), ("2026-11-29T01:59", True)]}),
        tgw_routes=tgw(
            ("192.168.0.0/16", "vpn", VPN, "tgw-attach-0aaa"), ("10.0.0.0/16", "vpc", "vpc-0bbb", "tgw-attach-0bbb")
        ),
        router_bgp=bgp(
            ("10.0.0.0/16", "169.254.11.1", 1, True),
            ("10.0.0.0/16", "169.254.12.1", 2, False),
            ("192.168.0.0/16", "local", "-", True),
        ),
        router_source=ROUTER_READ,
        dns=dns(
            ("onprem_client", "web1.awsanycompany.corp", "NOERROR", "10.0.10.10", True),
            ("vpc_client", "websrv.anycompany.corp", "NOERROR", "192.168.2.20", True),
        ),
        client_vpn={
            "endpoints": None,
            "connections": connections(("cvpn-connection-0aaa", "alice", "172.16.0.2", "active")),
            "handler_probe": None,
        },
        hosts=hosts(("router", "i-0123456789abcdef0", "Online")),
        daemons=daemons(charon=True, bgpd=True),
    )
    fields.update(overrides)
    return verdicts.Evidence(**fields)


HEALTHY_VERDICTS = verdict_table(
    (f"tunnels {VPN}", "OK", ""), ("TGW route to on-prem", "OK", ""), ("hybrid DNS", "OK", "")
)
BROKEN_VERDICTS = verdict_table(
    (f"tunnels {VPN}", "WARN", "IKE_PSK_MISMATCH"),
    ("TGW route to on-prem", "FAIL", "UNKNOWN"),  # no diagnosis: not a cause
    ("hybrid DNS", "FAIL", "ONPREM_DNS_DOWN"),
)


def broken_evidence(**overrides):
    fields = dict(
        telemetry=telemetry(("203.0.113.11", "UP", "", 1), ("203.0.113.12", "DOWN", "IPSEC IS DOWN", 0)),
        tgw_routes=tgw(("10.0.0.0/16", "vpc", "vpc-0bbb", "tgw-attach-0bbb")),
        router_bgp=bgp(("10.0.0.0/16", "169.254.11.1", 1, True), ("192.168.0.0/16", "local", "-", True)),
        dns=dns(
            ("onprem_client", "web1.awsanycompany.corp", "NOERROR", "10.0.10.10", True),
            ("vpc_client", "websrv.anycompany.corp", "SERVFAIL", "", False),
        ),
    )
    fields.update(overrides)
    return evidence(**fields)


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in frame.itertuples(index=False)]


# --- snapshot ---------------------------------------------------------------------------------------


def test_snapshot_is_plain_data_of_each_section():
    snap = changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T0)
    assert json.loads(json.dumps(snap, allow_nan=False)) == snap  # plain JSON, no NaN
    assert (snap["format"], snap["taken_at"], snap["stack"], snap["region"]) == (1, T0, "anycompany", "ap-northeast-2")
    assert snap["tunnels"] == [
        {
            "vpn_connection_id": VPN,
            "outside_ip": "203.0.113.11",
            "status": "UP",
            "status_message": "",
            "accepted_routes": 1,
        },
        {
            "vpn_connection_id": VPN,
            "outside_ip": "203.0.113.12",
            "status": "UP",
            "status_message": "",
            "accepted_routes": 1,
        },
    ]
    assert snap["tgw_routes"][0] == {
        "prefix": "192.168.0.0/16",
        "type": "propagated",
        "state": "active",
        "resource_type": "vpn",
        "resource_id": VPN,
        "attachment_id": "tgw-attach-0aaa",
    }
    assert snap["router_bgp"][0] == {"prefix": "10.0.0.0/16", "next_hop": "169.254.11.1", "tunnel": 1, "best": True}
    assert snap["dns"][1] == {
        "side": "vpc_client",
        "server": "192.168.2.250",
        "name": "websrv.anycompany.corp",
        "type": "A",
        "rcode": "NOERROR",
        "answer": "192.168.2.20",
        "ok": True,
    }
    assert snap["client_vpn"] == [
        {
            "endpoint_id": "cvpn-endpoint-0123456789abcdef0",
            "connection_id": "cvpn-connection-0aaa",
            "client_ip": "172.16.0.2",
            "common_name": "alice",
            "status": "active",
        }
    ]
    assert snap["hosts"] == [
        {"role": "router", "host": "seed-router", "instance_id": "i-0123456789abcdef0", "ssm_status": "Online"}
    ]
    assert [(d["daemon"], d["running"]) for d in snap["daemons"]] == [("charon", True), ("bgpd", True)]
    assert snap["verdicts"][0] == {"check": f"tunnels {VPN}", "status": "OK", "cause": ""}
    assert snap["verdict_causes"] is True
    assert snap["tunnel_drops"] == {"203.0.113.11": []}
    assert snap["not_collected"] == {}


def test_what_was_not_collected_is_none_with_its_reason_never_an_empty_list():
    ev = evidence(
        tgw_routes=None,
        router_bgp=pd.DataFrame(columns=BGP_COLUMNS),
        router_source="router not reachable: hosts.router is ConnectionLost",
        dns=None,
        client_vpn={},
        hosts=None,
        daemons=None,
        timeline=pd.DataFrame(columns=TIMELINE_COLUMNS),
    )
    snap = changes.snapshot(ev, None, taken_at=T0)
    for name in ("tgw_routes", "router_bgp", "dns", "client_vpn", "hosts", "daemons", "verdicts", "tunnel_drops"):
        assert snap[name] is None, name
    assert snap["not_collected"]["router_bgp"] == "router not reachable: hosts.router is ConnectionLost"
    assert set(snap["not_collected"]) == {
        "tgw_routes",
        "router_bgp",
        "dns",
        "client_vpn",
        "hosts",
        "daemons",
        "verdicts",
        "tunnel_drops",
    }
    # A router that answered with an empty table is collected: empty, not "not collected".
    read = changes.snapshot(evidence(router_bgp=pd.DataFrame(columns=BGP_COLUMNS)), None, taken_at=T0)
    assert read["router_bgp"] == []


def test_a_verdict_table_without_causes_is_recorded_as_such():
    snap = changes.snapshot(evidence(), HEALTHY_VERDICTS.drop(columns=["cause"]), taken_at=T0)
    assert snap["verdict_causes"] is False
    assert snap["verdicts"][0] == {"check": f"tunnels {VPN}", "status": "OK"}


def test_snapshot_of_the_engines_own_verdicts():
    ev = evidence()
    snap = changes.snapshot(ev, verdicts.verdict_frame(verdicts.evaluate(ev)), taken_at=T0)
    assert json.loads(json.dumps(snap, allow_nan=False)) == snap
    assert {v["check"] for v in snap["verdicts"]} >= {f"tunnels {VPN}", "TGW route to on-prem"}


# --- diff and summary -------------------------------------------------------------------------------


def test_diff_names_what_broke_worst_first():
    before = changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T0)
    before["run"] = "20261129-020000-healthcheck"
    after = changes.snapshot(broken_evidence(), BROKEN_VERDICTS, taken_at=T1)
    delta = changes.diff(before, after)
    assert list(delta.columns) == ["kind", "item", "before", "after", "change"]
    assert rows(delta) == [
        ("cause", "IKE_PSK_MISMATCH (tunnels vpn-0a1b2c3d4e5f60718)", "-", "IKE_PSK_MISMATCH", "appeared"),
        ("cause", "ONPREM_DNS_DOWN (hybrid DNS)", "-", "ONPREM_DNS_DOWN", "appeared"),
        ("tunnel", "203.0.113.12", "UP", "DOWN", "down"),
        ("accepted routes", "203.0.113.12", "1", "0", "fewer"),
        ("TGW route", f"192.168.0.0/16 via vpn {VPN}", "active (propagated)", "-", "withdrawn"),
        ("router BGP route", "10.0.0.0/16 via 169.254.12.1 (tunnel 2)", "learned", "-", "withdrawn"),
        ("DNS answer", "websrv.anycompany.corp A from vpc_client", "NOERROR 192.168.2.20", "SERVFAIL", "failed"),
        ("verdict", "TGW route to on-prem", "OK", "FAIL", "worse"),
        ("verdict", "hybrid DNS", "OK", "FAIL", "worse"),
        ("verdict", f"tunnels {VPN}", "OK", "WARN", "worse"),
    ]
    assert {changes.CHANGE_CLASS[c] for c in delta["change"]} == {"broke"}
    assert changes.summary_line(delta) == (
        "since run 20261129-020000-healthcheck (5 min ago): cause IKE_PSK_MISMATCH (tunnels vpn-0a1b2c3d4e5f60718) "
        "appeared, cause ONPREM_DNS_DOWN (hybrid DNS) appeared, tunnel 203.0.113.12 UP -> DOWN, "
        "tunnel 203.0.113.12 accepted routes 1 -> 0, route 192.168.0.0/16 withdrawn from the TGW "
        f"(via vpn {VPN}), and 5 more"
    )


def test_recovery_comes_after_breakage_and_clears_causes():
    broken = changes.snapshot(broken_evidence(), BROKEN_VERDICTS, taken_at=T0)
    broken["run"] = "r1"
    healed = changes.snapshot(evidence(daemons=daemons(charon=True, bgpd=False)), HEALTHY_VERDICTS, taken_at=T1)
    delta = changes.diff(broken, healed)
    classes = [changes.CHANGE_CLASS[c] for c in delta["change"]]
    assert classes == sorted(classes, key=changes.CLASS_ORDER.index)
    assert rows(delta)[0] == ("daemon", "bgpd on router", "running", "not running", "stopped")
    assert ("tunnel", "203.0.113.12", "DOWN", "UP", "up") in rows(delta)
    assert ("TGW route", f"192.168.0.0/16 via vpn {VPN}", "-", "active (propagated)", "added") in rows(delta)
    assert ("cause", "IKE_PSK_MISMATCH (tunnels vpn-0a1b2c3d4e5f60718)", "IKE_PSK_MISMATCH", "-", "cleared") in rows(
        delta
    )
    assert (
        "DNS answer",
        "websrv.anycompany.corp A from vpc_client",
        "SERVFAIL",
        "NOERROR 192.168.2.20",
        "recovered",
    ) in rows(delta)
    assert ("verdict", "hybrid DNS", "FAIL", "OK", "better") in rows(delta)


def test_no_change_and_no_earlier_run():
    snap = changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T0)
    snap["run"] = "20261129-020000-healthcheck"
    same = changes.diff(snap, changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at="2026-11-29T03:30:00+00:00"))
    assert same.empty and list(same.columns) == changes.COLUMNS
    assert changes.summary_line(same) == "no change since run 20261129-020000-healthcheck (90 min ago)"
    first = changes.diff(None, snap)
    assert first.empty and changes.summary_line(first) == "no earlier run to compare with"


def test_a_section_not_collected_is_said_so_not_everything_removed():
    before = changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T0)
    before["run"] = "r1"
    ev = evidence(
        router_bgp=pd.DataFrame(columns=BGP_COLUMNS),
        dns=None,
        router_source="router not reachable: hosts.router seed-cgw (i-0123456789abcdef0) is ConnectionLost",
    )
    after = changes.snapshot(ev, HEALTHY_VERDICTS, taken_at=T1)
    delta = changes.diff(before, after)
    assert rows(delta) == [
        (
            "router BGP route",
            "the router's BGP table",
            "3 routes",
            "not collected (router not reachable: hosts.router seed-cgw (i-0123456789abcdef0) is ConnectionLost)",
            "not collected",
        ),
        (
            "DNS answer",
            "the DNS answers",
            "2 answers",
            "not collected (DNS was not probed (dns_probes off, or no dns in the params))",
            "not collected",
        ),
    ]
    assert "withdrawn" not in set(delta["change"]) and "no longer asked" not in set(delta["change"])
    back = changes.diff(dict(after, run="r2"), changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T1))
    assert [(r[0], r[2].split(" (")[0], r[3], r[4]) for r in rows(back)] == [
        ("router BGP route", "not collected", "3 routes", "collected"),
        ("DNS answer", "not collected", "2 answers", "collected"),
    ]


def test_flaps_between_runs_come_from_the_timeline():
    before = changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T0)
    before["run"] = "r1"
    flapping = timeline(
        {
            "203.0.113.11": [
                ("2026-11-29T01:55", True),
                ("2026-11-29T01:56", False),  # before r1
                ("2026-11-29T01:57", True),
                ("2026-11-29T02:01", True),
                ("2026-11-29T02:02", False),
                ("2026-11-29T02:03", True),
                ("2026-11-29T02:04", False),
                ("2026-11-29T02:05", True),
            ]
        }
    )
    after = changes.snapshot(evidence(timeline=flapping), HEALTHY_VERDICTS, taken_at=T1)
    assert after["tunnel_drops"]["203.0.113.11"] == [
        "2026-11-29T01:56:00",
        "2026-11-29T02:02:00",
        "2026-11-29T02:04:00",
    ]
    delta = changes.diff(before, after)
    assert rows(delta) == [("tunnel", "203.0.113.11", "UP", "UP, dropped 2 times", "flapped")]
    assert changes.CHANGE_CLASS["flapped"] == "flapped"
    assert changes.summary_line(delta) == "since run r1 (5 min ago): tunnel 203.0.113.11 flapped: UP, dropped 2 times"


def test_client_vpn_hosts_and_daemons():
    before = changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T0)
    before["run"] = "r1"
    ev = evidence(
        client_vpn={
            "connections": connections(
                ("cvpn-connection-0aaa", "alice", "172.16.0.2", "terminated"),
                ("cvpn-connection-0bbb", "bob", "172.16.0.3", "active"),
            )
        },
        hosts=hosts(("router", "i-0123456789abcdef0", "ConnectionLost")),
        daemons=daemons(charon=None, bgpd=None),
    )
    delta = changes.diff(before, changes.snapshot(ev, HEALTHY_VERDICTS, taken_at=T1))
    assert rows(delta) == [
        ("host", "router", "Online", "ConnectionLost", "offline"),
        ("daemon", "bgpd on router", "running", "no data", "no data"),
        ("daemon", "charon on router", "running", "no data", "no data"),
        ("Client VPN connection", "alice 172.16.0.2 (cvpn-connection-0aaa)", "active", "terminated", "disconnected"),
        ("Client VPN connection", "bob 172.16.0.3 (cvpn-connection-0bbb)", "-", "active", "connected"),
    ]


def test_a_new_failing_verdict_is_worse_and_a_gone_one_is_not_judged():
    before = changes.snapshot(evidence(), verdict_table(("hosts (SSM)", "OK", "")), taken_at=T0)
    after = changes.snapshot(evidence(), verdict_table(("host router", "FAIL", "SSM_OFFLINE")), taken_at=T1)
    delta = changes.diff(dict(before, run="r1"), after)
    assert rows(delta) == [
        ("cause", "SSM_OFFLINE (host router)", "-", "SSM_OFFLINE", "appeared"),
        ("verdict", "host router", "-", "FAIL", "worse"),
        ("verdict", "hosts (SSM)", "OK", "-", "not judged"),
    ]
    assert "host router now FAIL" in changes.summary_line(delta)


def test_causes_not_recorded_in_the_earlier_run_are_not_reported_as_appeared():
    before = changes.snapshot(evidence(), HEALTHY_VERDICTS.drop(columns=["cause"]), taken_at=T0)
    after = changes.snapshot(
        evidence(),
        verdict_table(
            (f"tunnels {VPN}", "OK", ""), ("TGW route to on-prem", "OK", ""), ("hybrid DNS", "WARN", "DNS_SLOW")
        ),
        taken_at=T1,
    )
    delta = changes.diff(dict(before, run="r1"), after)
    assert rows(delta) == [
        ("verdict", "hybrid DNS", "OK", "WARN", "worse"),
        ("cause", "the verdicts' causes", "not recorded", "1 cause", "not recorded"),
    ]


# --- files ------------------------------------------------------------------------------------------


@pytest.fixture
def outputs(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path / "home"))
    path = tmp_path / "home" / "outputs"
    path.mkdir(parents=True)
    return path


def saved(outputs: Path, run: str, taken_at: str = T0, ev=None) -> Path:
    (outputs / run).mkdir()
    return changes.save_snapshot(outputs / run, changes.snapshot(ev or evidence(), HEALTHY_VERDICTS, taken_at=taken_at))


def test_save_snapshot_writes_0644_json_beside_the_report(outputs: Path):
    run = outputs / "20261129-020000-healthcheck"
    run.mkdir()
    snap = changes.snapshot(evidence(), HEALTHY_VERDICTS, taken_at=T0)
    path = changes.save_snapshot(run, snap)
    assert path == run / "snapshot.json" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert snap["run"] == "20261129-020000-healthcheck"
    assert json.loads(path.read_text()) == snap
    assert not list(run.glob(".snapshot.json.*"))  # no temporary file left


def test_save_snapshot_refuses_anything_pem_like(outputs: Path):
    run = outputs / "20261129-020000-healthcheck"
    run.mkdir()
    ev = evidence(dns=dns(("onprem_client", "x.example", "NOERROR", "-----BEGIN RSA PRIVATE KEY-----", True)))
    with pytest.raises(ValueError, match="refusing to write .*snapshot.json: it would hold something secret-like"):
        changes.save_snapshot(run, changes.snapshot(ev, None, taken_at=T0))
    assert not list(run.iterdir())


def test_previous_snapshot_picks_the_latest_earlier_run_and_passes_over_broken_ones(outputs: Path):
    saved(outputs, "20261129-015500-healthcheck", "2026-11-29T01:55:00+00:00")
    saved(outputs, "20261129-020000-healthcheck", T0)
    corrupt = outputs / "20261129-020000-healthcheck-2"
    corrupt.mkdir()
    (corrupt / "snapshot.json").write_text('{"format": 1, "taken_at": "2026-11')
    (outputs / "20261129-020200-lab").mkdir()  # not a health check: passed over silently
    (outputs / "20261129-020300-healthcheck").mkdir()  # one that stopped early: no snapshot
    current = outputs / "20261129-020500-healthcheck"
    saved(outputs, "20261129-020500-healthcheck", T1)
    saved(outputs, "20261129-021000-healthcheck", "2026-11-29T02:10:00+00:00")  # later: never the baseline
    (outputs / "interactive").mkdir()
    with pytest.warns(SnapshotSkipped) as warned:
        before = changes.previous_snapshot(current)
    assert before["run"] == "20261129-020000-healthcheck" and before["taken_at"] == T0
    assert before["path"] == str(outputs / "20261129-020000-healthcheck" / "snapshot.json")
    assert before["skipped"][0] == "20261129-020300-healthcheck (no snapshot.json)"
    assert before["skipped"][1].startswith("20261129-020000-healthcheck-2 (corrupt snapshot.json: JSONDecodeError")
    assert len(before["skipped"]) == 2 and len(warned) == 2
    assert "passed over earlier run 20261129-020300-healthcheck (no snapshot.json)" in str(warned[0].message)
    line = changes.summary_line(changes.diff(before, json.loads((current / "snapshot.json").read_text())))
    assert line.startswith(
        "no change since run 20261129-020000-healthcheck (5 min ago) (passed over: "
        "20261129-020300-healthcheck (no snapshot.json); 20261129-020000-healthcheck-2 (corrupt"
    )


def test_previous_snapshot_none_and_other_stacks(outputs: Path):
    current = outputs / "20261129-020500-healthcheck"
    current.mkdir()
    assert changes.previous_snapshot(current) is None
    other = saved(outputs, "20261129-020000-healthcheck", T0)
    data = json.loads(other.read_text())
    other.write_text(json.dumps(dict(data, stack="someone-else")))
    changes.save_snapshot(current, changes.snapshot(evidence(), None, taken_at=T1))
    assert changes.previous_snapshot(current) is None  # another stack's run is no baseline
    assert changes.previous_snapshot(current, stack="someone-else")["run"] == "20261129-020000-healthcheck"
    # Run by hand (outputs/interactive): the latest dated run is the earlier one.
    (outputs / "interactive").mkdir()
    assert changes.previous_snapshot(outputs / "interactive")["run"] == "20261129-020500-healthcheck"


def test_load_snapshot_by_run_id_folder_or_file(outputs: Path):
    path = saved(outputs, "20261129-020000-healthcheck")
    for given in ("20261129-020000-healthcheck", path.parent, path, str(path.parent) + "/"):
        assert changes.load_snapshot(given)["run"] == "20261129-020000-healthcheck"


def test_load_snapshot_errors_name_the_run_and_the_fix(outputs: Path):
    saved(outputs, "20261129-020000-healthcheck")
    with pytest.raises(SnapshotError) as missing:
        changes.load_snapshot("20261130-000000-healthcheck")
    message = str(missing.value)
    assert isinstance(missing.value, HybridnetError) and missing.value.exit_code == 2
    assert message == (
        f"no run '20261130-000000-healthcheck' to compare with: {outputs}/20261130-000000-healthcheck "
        f"does not exist; give a run id from {outputs} (runs with a snapshot, latest first: "
        "20261129-020000-healthcheck), or leave out --since to compare with the previous run"
    )
    (outputs / "20261129-020500-lab").mkdir()
    with pytest.raises(SnapshotError, match=r"^run 20261129-020500-lab has no snapshot.json \("):
        changes.load_snapshot("20261129-020500-lab")
    bad = outputs / "20261129-021000-healthcheck"
    bad.mkdir()
    (bad / "snapshot.json").write_text("[1, 2]")
    with pytest.raises(
        SnapshotError,
        match=r"^run 20261129-021000-healthcheck: snapshot.json is not a health check "
        r"snapshot \(.*\); give another run \(runs with a snapshot",
    ):
        changes.load_snapshot("20261129-021000-healthcheck")
    with pytest.raises(SnapshotError, match="no run given"):
        changes.load_snapshot("")


# --- the command line -------------------------------------------------------------------------------


def test_healthcheck_since_a_missing_run_is_one_line_exit_2_before_anything_runs(outputs: Path, monkeypatch, capsys):
    def nothing(*_args, **_kwargs):
        raise AssertionError("reached past the --since check")

    monkeypatch.setattr(cli, "_check_account", nothing)
    monkeypatch.setattr(healthcheck, "run", nothing)
    code = cli.main(["healthcheck", "--params", str(ROOT / "params" / "healthcheck.yaml"), "--since", "nope"])
    out, err = capsys.readouterr()
    assert code == changes.SnapshotError.exit_code == 2
    assert not out and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("hybridnet: no run 'nope' to compare with: ")
    assert err.rstrip().endswith("or leave out --since to compare with the previous run")
    assert not list(outputs.glob("*-healthcheck"))


def test_healthcheck_since_passes_the_run_to_the_notebook(outputs: Path, monkeypatch, capsys):
    path = saved(outputs, "20261129-020000-healthcheck")
    seen = {}

    def fake_run(healthcheck_file, since="", **_):
        seen["since"] = since
        return healthcheck.HealthCheckRun(
            0,
            outputs,
            outputs / "x.ipynb",
            outputs / "health_check.html",
            pd.DataFrame([{"check": "tunnels", "status": "OK", "reason": "fine", "action": ""}]),
        )

    monkeypatch.setattr(cli, "_check_account", lambda params: None)
    monkeypatch.setattr(healthcheck, "run", fake_run)
    assert (
        cli.main(
            [
                "healthcheck",
                "--params",
                str(ROOT / "params" / "healthcheck.yaml"),
                "--since",
                "20261129-020000-healthcheck",
            ]
        )
        == 0
    )
    assert seen["since"] == str(path.resolve())
    assert changes.load_snapshot(seen["since"])["run"] == "20261129-020000-healthcheck"
    assert cli.main(["healthcheck", "--params", str(ROOT / "params" / "healthcheck.yaml")]) == 0
    assert seen["since"] == ""  # the previous run
    capsys.readouterr()


def test_healthcheck_since_from_the_shell(tmp_path: Path):
    env = dict(os.environ, HYBRIDNET_HOME=str(tmp_path / "home"), HYBRIDNET_LAB=f"c{os.getpid() % 10**7}")
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hybridnet"), "healthcheck", "--since", "no-such-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(
        "hybridnet: no run 'no-such-run' to compare with"
    )
    assert not (tmp_path / "home" / "outputs" / ".state" / "emulator.json").exists()


def test_healthcheck_help_names_since(capsys):
    with pytest.raises(SystemExit):
        cli.main(["healthcheck", "--help"])
    assert "--since RUN" in capsys.readouterr().out


def test_another_stack_and_a_damaged_snapshot(outputs: Path):
    before = changes.snapshot(evidence(), None, taken_at=T0)
    other = dict(changes.snapshot(evidence(), None, taken_at=T1), stack="someone-else")
    delta = changes.diff(dict(before, run="r1"), other)
    assert rows(delta) == [
        ("stack", "name (region)", "anycompany (ap-northeast-2)", "someone-else (ap-northeast-2)", "changed")
    ]
    assert changes.summary_line(delta) == (
        "since run r1 (5 min ago): another stack: anycompany (ap-northeast-2) -> someone-else (ap-northeast-2)"
    )
    path = saved(outputs, "20261129-020000-healthcheck")
    path.write_text(json.dumps(dict(json.loads(path.read_text()), tunnels="UP")))
    with pytest.raises(SnapshotError, match=r"snapshot.json is damaged \(tunnels\)"):
        changes.load_snapshot(path)
