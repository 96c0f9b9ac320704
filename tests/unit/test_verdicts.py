"""The verdict engine on hand-made evidence: each check's OK / WARN / FAIL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hybridnet.diagnostics import verdicts
from hybridnet.diagnostics.routes import TGW_COLUMNS
from hybridnet.diagnostics.tunnels import TELEMETRY_COLUMNS, TIMELINE_COLUMNS
from hybridnet.params import Thresholds, load_params

ROOT = Path(__file__).resolve().parents[2]
PARAMS = load_params(ROOT / "params" / "lab.yaml")


def telemetry(*tunnels):
    return pd.DataFrame(
        [
            {
                "vpn_connection_id": "vpn-0a1b2c3d4e5f60718",
                "outside_ip": ip,
                "status": status,
                "status_message": "",
                "accepted_routes": routes,
                "last_status_change": None,
            }
            for ip, status, routes in tunnels
        ],
        columns=TELEMETRY_COLUMNS,
    )


def tgw(*prefixes):
    return pd.DataFrame(
        [
            {
                "prefix": p,
                "type": "propagated",
                "state": "active",
                "resource_type": kind,
                "resource_id": "x",
                "attachment_id": "y",
            }
            for p, kind in prefixes
        ],
        columns=TGW_COLUMNS,
    )


def steady_timeline(tele) -> pd.DataFrame:
    """A TunnelState point a minute for each tunnel, as its status says now."""
    times = pd.date_range("2026-11-29 02:00", periods=3, freq="1min", tz="UTC")
    return pd.DataFrame(
        [
            {"vpn_connection_id": t.vpn_connection_id, "outside_ip": t.outside_ip, "time": at, "up": t.status == "UP"}
            for t in tele.itertuples()
            for at in times
        ],
        columns=TIMELINE_COLUMNS,
    )


def evidence(tele, routes=None, timeline=None, **extra):
    return verdicts.Evidence(
        params=PARAMS,
        thresholds=Thresholds(),
        telemetry=tele,
        timeline=timeline if timeline is not None else steady_timeline(tele),
        tgw_routes=routes,
        router_bgp=None,
        **extra,
    )


HEALTHY = telemetry(("203.0.113.11", "UP", 1), ("203.0.113.12", "UP", 1))
ROUTES = tgw(("192.168.0.0/16", "vpn"), ("10.0.0.0/16", "vpc"))


def statuses(ev) -> dict[str, str]:
    return {v.check.split(" vpn-")[0]: v.status for v in verdicts.evaluate(ev)}


def test_healthy_is_all_ok_and_exit_0():
    found = verdicts.evaluate(evidence(HEALTHY, ROUTES))
    assert {v.status for v in found} == {"OK"}
    assert verdicts.exit_code(found) == 0


def test_one_tunnel_down_is_warn_and_exit_1():
    ev = evidence(telemetry(("203.0.113.11", "DOWN", 0), ("203.0.113.12", "UP", 1)), ROUTES)
    assert statuses(ev)["tunnels"] == "WARN"
    assert verdicts.exit_code(verdicts.evaluate(ev)) == 1


def test_all_tunnels_down_is_fail_and_exit_2():
    ev = evidence(telemetry(("203.0.113.11", "DOWN", 0), ("203.0.113.12", "DOWN", 0)), tgw(("10.0.0.0/16", "vpc")))
    assert statuses(ev)["tunnels"] == "FAIL"
    assert statuses(ev)["TGW route to on-prem"] == "FAIL"
    assert verdicts.exit_code(verdicts.evaluate(ev)) == 2


def test_withdrawn_prefix_fails_routes():
    ev = evidence(telemetry(("203.0.113.11", "UP", 0), ("203.0.113.12", "UP", 0)), tgw(("10.0.0.0/16", "vpc")))
    assert statuses(ev)["BGP routes"] == "FAIL"
    assert statuses(ev)["TGW route to on-prem"] == "FAIL"


def test_an_account_that_started_empty_is_told_as_that_not_as_a_stack_never_built():
    ev = evidence(pd.DataFrame(columns=TELEMETRY_COLUMNS), None, started_empty_at="2026-12-02T17:45:00+00:00")
    tunnels = verdicts.check_tunnels(ev)
    assert [(v.status, v.reason) for v in tunnels] == [
        (
            "FAIL",
            "the emulator holds none of this stack's resources: it started empty at 2026-12-02T17:45:00+00:00 "
            "(no saved state restored)",
        )
    ]
    assert "--fresh" in tunnels[0].action
    built = evidence(HEALTHY, ROUTES, started_empty_at="2026-12-02T17:45:00+00:00")
    assert [v.status for v in verdicts.check_tunnels(built)] == ["OK"]  # it was built since


def test_nothing_deployed_fails_with_a_reason_instead_of_crashing():
    ev = evidence(pd.DataFrame(columns=TELEMETRY_COLUMNS), None)
    found = verdicts.evaluate(ev)
    assert [(v.check, v.status) for v in found][0] == ("tunnels", "FAIL")
    assert "run notebooks 01 and 02" in found[0].action
    assert verdicts.exit_code(found) == 2


@pytest.mark.parametrize(
    "states, expected",
    [
        ([True, True, True], "OK"),
        ([True, False, True], "OK"),  # one recovered drop is noted, not a warning
        ([True, False, True, False, True, False, True], "WARN"),  # three drops: flapping
    ],
)
def test_tunnel_history(states, expected):
    times = pd.date_range("2026-11-29 02:00", periods=len(states), freq="1min", tz="UTC")
    timeline = pd.DataFrame(
        {"vpn_connection_id": "vpn-0a1b2c3d4e5f60718", "outside_ip": "203.0.113.11", "time": times, "up": states},
        columns=TIMELINE_COLUMNS,
    )
    assert statuses(evidence(HEALTHY, ROUTES, timeline))["tunnel history"] == expected


def test_no_tunnel_history_for_tunnels_that_exist_is_no_data_not_ok():
    ev = evidence(HEALTHY, ROUTES, pd.DataFrame(columns=TIMELINE_COLUMNS))
    history = [v for v in verdicts.evaluate(ev) if v.check == "tunnel history"]
    assert [(v.status, v.reason.split(":")[0]) for v in history] == [("WARN", "no data")]
    assert "2 tunnel(s) that exist" in history[0].reason
    nothing = evidence(pd.DataFrame(columns=TELEMETRY_COLUMNS), None, pd.DataFrame(columns=TIMELINE_COLUMNS))
    assert "tunnel history" not in statuses(nothing)  # no tunnel, no history to miss


def test_dns_failures_and_slowness():
    dns = pd.DataFrame(
        [
            {
                "side": "on-prem client",
                "name": "web1.awsanycompany.corp",
                "rcode": "NOERROR",
                "ok": True,
                "latency_ms": 3.0,
            },
            {
                "side": "VPC host",
                "name": "websrv.anycompany.corp",
                "rcode": "TIMEOUT",
                "ok": False,
                "latency_ms": 2000.0,
            },
        ]
    )
    assert statuses(evidence(HEALTHY, ROUTES, dns=dns))["hybrid DNS"] == "FAIL"
    slow = dns.assign(ok=True, rcode="NOERROR")
    assert statuses(evidence(HEALTHY, ROUTES, dns=slow))["hybrid DNS"] == "WARN"


def hosts_frame(*rows):
    from hybridnet.hosts import FRAME_COLUMNS

    return pd.DataFrame(
        [
            {
                "role": role,
                "host": f"seed-{role}",
                "instance_id": "i-0123456789abcdef0",
                "ssm_status": status,
                "platform": None,
                "ip_address": None,
                "detail": detail,
            }
            for role, status, detail in rows
        ],
        columns=FRAME_COLUMNS,
    )


def test_hosts_online_are_ok_and_an_offline_one_fails_naming_its_ssm_status():
    online = hosts_frame(
        ("router", "Online", "managed instance, online"),
        ("onprem_client", "Online", "managed instance, online"),
        ("vpc_client", "NotConfigured", "no hosts.vpc_client in the params"),
    )
    got = verdicts.check_hosts(evidence(HEALTHY, ROUTES, hosts=online))
    assert [(v.check, v.status) for v in got] == [("hosts (SSM)", "OK")]
    assert got[0].reason == "router, onprem_client online as managed instances"
    lost = "router i-0123456789abcdef0: SSM Agent has not checked in (PingStatus ConnectionLost): ..."
    offline = hosts_frame(("router", "ConnectionLost", lost), ("onprem_client", "Online", "managed instance, online"))
    ev = evidence(HEALTHY, ROUTES, hosts=offline)
    got = verdicts.check_hosts(ev)
    assert [(v.check, v.status, v.reason) for v in got] == [("host router", "FAIL", lost)]
    assert verdicts.exit_code(verdicts.evaluate(ev)) == 2


def test_a_remote_workers_machine_offline_is_a_warning_not_a_failure():
    lost = "remote_user i-0123456789abcdef0: SSM Agent has not checked in (PingStatus ConnectionLost): ..."
    frame = hosts_frame(("router", "Online", "managed instance, online"), ("remote_user", "ConnectionLost", lost))
    ev = evidence(HEALTHY, ROUTES, hosts=frame)
    assert [(v.check, v.status, v.reason) for v in verdicts.check_hosts(ev)] == [("host remote_user", "WARN", lost)]


def test_no_host_named_is_not_judged_as_healthy_or_broken():
    none = hosts_frame(*[(role, "NotConfigured", "no hosts in the params") for role in ("router", "vpc_client")])
    assert verdicts.check_hosts(evidence(HEALTHY, ROUTES, hosts=none)) == []
    assert verdicts.check_hosts(evidence(HEALTHY, ROUTES)) == []


def daemons_frame(running: dict[str, bool | None], detail: str = "router i-0123456789abcdef0: exit 0"):
    from hybridnet.diagnostics.daemons import COLUMNS, HOST_DAEMONS

    role_of = {daemon: role for role, daemons in HOST_DAEMONS.items() for daemon in daemons}
    return pd.DataFrame(
        [
            {
                "role": role_of[d],
                "host": f"seed-{role_of[d]}",
                "instance_id": "i-0123456789abcdef0",
                "daemon": d,
                "running": up,
                "detail": detail,
            }
            for d, up in running.items()
        ],
        columns=COLUMNS,
    )


ALL_UP = {"charon": True, "bgpd": True, "zebra": True, "named": True}


def daemon_verdicts(running, **extra) -> list[tuple[str, str, str]]:
    found = verdicts.check_daemons(evidence(HEALTHY, ROUTES, daemons=daemons_frame(running), **extra))
    return [(v.check, v.status, v.reason) for v in found]


def test_daemons_running_are_ok_per_host():
    assert daemon_verdicts(ALL_UP) == [
        ("router daemons", "OK", "charon, bgpd, zebra running on hosts.router seed-router (i-0123456789abcdef0)"),
        ("on-prem DNS server", "OK", "named running on hosts.onprem_dns seed-onprem_dns (i-0123456789abcdef0)"),
    ]


@pytest.mark.parametrize(
    "dead, check, action",
    [
        ("charon", "router daemons", "systemctl restart strongswan"),
        ("bgpd", "router daemons", "systemctl restart frr"),
        ("named", "on-prem DNS server", "systemctl restart named"),
    ],
)
def test_a_dead_daemon_fails_naming_it_and_its_host(dead, check, action):
    ev = evidence(HEALTHY, ROUTES, daemons=daemons_frame({**ALL_UP, dead: False}))
    failed = [v for v in verdicts.evaluate(ev) if v.status != "OK"]
    assert [(v.check, v.status) for v in failed] == [(check, "FAIL")]
    assert failed[0].reason.startswith(f"{dead} not running on hosts.")
    assert "(i-0123456789abcdef0)" in failed[0].reason and action in failed[0].action
    assert verdicts.exit_code(verdicts.evaluate(ev)) == 2


def test_every_dead_daemon_of_a_host_is_named_once_with_each_action_once():
    got = verdicts.check_daemons(
        evidence(HEALTHY, ROUTES, daemons=daemons_frame({"charon": True, "bgpd": False, "zebra": False}))
    )
    assert [(v.status, v.reason.split(" on ")[0]) for v in got] == [("FAIL", "bgpd, zebra not running")]
    assert got[0].action.count("systemctl restart frr") == 1


def test_daemons_not_asked_are_no_data_unless_the_host_already_fails_as_a_host():
    failed = "router i-0123456789abcdef0: the command failed with exit code 127 (Failed): ps: not found"
    frame = daemons_frame({"charon": None, "bgpd": None, "zebra": None}, detail=failed)
    online = hosts_frame(("router", "Online", "managed instance, online"))
    got = verdicts.check_daemons(evidence(HEALTHY, ROUTES, daemons=frame, hosts=online))
    assert [(v.check, v.status, v.reason) for v in got] == [("router daemons", "WARN", f"no data: {failed}")]
    lost = "router i-0123456789abcdef0: SSM Agent has not checked in (PingStatus ConnectionLost): ..."
    offline = hosts_frame(("router", "ConnectionLost", lost))
    ev = evidence(HEALTHY, ROUTES, daemons=frame.assign(detail=lost), hosts=offline)
    assert verdicts.check_daemons(ev) == []  # the hosts verdict names it, with SSM's reason
    assert [(v.check, v.status) for v in verdicts.evaluate(ev) if v.status != "OK"] == [("host router", "FAIL")]


def test_daemons_frame_reads_the_process_list_of_each_named_host(monkeypatch):
    from types import SimpleNamespace

    from hybridnet import hosts
    from hybridnet.diagnostics import daemons

    answers = {
        "router": hosts.HostCommand(
            "router",
            "seed-idc-router",
            "i-0123456789abcdef0",
            "Success",
            0,
            "awk\nbgpd\ncharon\nps\nsh\n",
            "",
            "router i-0123456789abcdef0: exit 0",
        ),
        "onprem_dns": hosts.HostCommand(
            "onprem_dns",
            "seed-idc-dns",
            "i-0123456789abcdef1",
            "Success",
            0,
            "",
            "sh: 1: ps: not found\n",
            "onprem_dns i-0123456789abcdef1: exit 0",
        ),
    }
    sent = {}

    class Plane:
        def run_many(self, commands, timeout):
            sent.update(commands)
            return {role: answers[role] for role in commands}

    monkeypatch.setattr(hosts, "plane", lambda ctx: Plane())
    frame = daemons.daemons_frame(SimpleNamespace(params=PARAMS))
    assert sent == {"router": [daemons.PROCESSES_COMMAND], "onprem_dns": [daemons.PROCESSES_COMMAND]}
    assert dict(zip(frame["daemon"], frame["running"])) == {"charon": True, "bgpd": True, "zebra": False, "named": None}
    assert "no process listed" in frame.loc[frame["daemon"] == "named", "detail"].item()
    assert "ps: not found" in frame.loc[frame["daemon"] == "named", "detail"].item()
