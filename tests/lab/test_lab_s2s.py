"""Site-to-site lab with real daemons: strongSwan (kernel-libipsec) and FRR on
both ends, in `hn-` namespaces. Needs root (see conftest.lab_root)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hybridnet import lab, locks
from hybridnet.lab import daemons, netns
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX
from hybridnet.lab.topology import ALL_NAMESPACES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

ONPREM_HOST = "192.168.2.20"  # hn-idc websrv
VPC_WEB1 = "10.0.10.10"  # hn-vpc web1
VPC_WEB2 = "10.0.20.10"


def _dirs(tmp_path_factory, name: str) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp(name)
    return base / "lab", base / "logs"


def _poll(predicate, timeout: float = 5.0, interval: float = 0.1):
    """Return predicate()'s first truthy value, or its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def _tunnel(report: dict, name: str) -> dict:
    return next(t for t in report["tunnels"] if t["name"] == name)


def _bgp_route(report: dict, side: str, prefix: str) -> list[dict]:
    return [r for r in report["routes"][side] if r["prefix"] == prefix and r["protocol"] == "bgp" and r["installed"]]


def _ping_during(lab_dir: Path, action, count: int = 30, interval_s: float = 0.05) -> dict:
    """Ping on-prem -> VPC continuously and run `action` a moment after the first packets."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pinging = pool.submit(
            lab.ping, lab_dir, lab.IDC_NS, VPC_WEB1, src_ip=ONPREM_HOST, count=count, interval_s=interval_s, wait_s=1.0
        )
        time.sleep(count * interval_s / 3)
        action()
        return pinging.result()


# --- a healthy lab, shared by the tests of this class ------------------------------


@pytest.fixture(scope="class")
def healthy_lab(lab_session, cgw_fixture_dir, tmp_path_factory):
    lab_dir, log_dir = _dirs(tmp_path_factory, "healthy")
    started = time.monotonic()
    state = lab.up(lab.LabSpec.seed(), cgw_fixture_dir, lab_dir, log_dir)
    try:
        lab.wait_until_up(lab_dir, timeout=10.0)
        yield {"lab_dir": lab_dir, "log_dir": log_dir, "state": state, "up_s": time.monotonic() - started}
    finally:
        lab.down(lab_dir)


class TestHealthyLab:
    def test_tunnels_up_and_bgp_established_within_10s(self, healthy_lab):
        assert healthy_lab["up_s"] < 10.0
        report = lab.status(healthy_lab["lab_dir"])
        assert [t["vgw_outside_ip"] for t in report["tunnels"]] == ["203.0.113.11", "203.0.113.12"]
        for tunnel in report["tunnels"]:
            assert tunnel["status"] == "UP", tunnel
            assert tunnel["ike_state"] == "ESTABLISHED"
            assert tunnel["child_sas_installed"] == ["bgp", "lan"]
            assert tunnel["cgw"]["status"] == "UP"
        assert set(report["bgp"]["aws"]) == {"169.254.11.2", "169.254.12.2"}
        assert set(report["bgp"]["cgw"]) == {"169.254.11.1", "169.254.12.1"}
        for side in ("aws", "cgw"):
            assert all(peer["state"] == "Established" for peer in report["bgp"][side].values())

    def test_prefixes_learned_both_ways(self, healthy_lab):
        def next_hops(report, side, prefix):
            return {r["next_hop"] for r in _bgp_route(report, side, prefix)}

        def learned_over_both_tunnels():
            # each tunnel's BGP session carries the prefix: two ECMP next hops
            report = lab.status(healthy_lab["lab_dir"])
            # FRR's summary counters (pfxSnt) can trail the routes themselves by a moment
            counted = all(
                peer["prefixes_received"] >= 1 and peer["prefixes_sent"] >= 1 for peer in report["bgp"]["aws"].values()
            )
            ok = next_hops(report, "aws", "192.168.0.0/16") == {"169.254.11.2", "169.254.12.2"} and next_hops(
                report, "cgw", "10.0.0.0/16"
            ) == {"169.254.11.1", "169.254.12.1"}
            return report if ok and counted else None

        report = _poll(learned_over_both_tunnels, timeout=10.0)
        assert report, (
            "on-prem prefix not learned by the AWS side or VPC prefix not learned on-prem "
            "over both tunnels (or the sessions' prefix counters never counted them)"
        )

    def test_ping_onprem_host_to_vpc_hosts_across_the_tunnels(self, healthy_lab):
        lab_dir = healthy_lab["lab_dir"]
        before = lab.status(lab_dir)
        for vpc_host in (VPC_WEB1, VPC_WEB2):
            result = lab.ping(lab_dir, lab.IDC_NS, vpc_host, src_ip=ONPREM_HOST, count=3)
            assert result["received"] == 3, result
        result = lab.ping(lab_dir, lab.VPC_NS, ONPREM_HOST, src_ip=VPC_WEB1, count=3)
        assert result["received"] == 3, result
        after = lab.status(lab_dir)
        # the pings went through the ESP SAs (kernel-libipsec counts their bytes)
        total = lambda report, key: sum(t[key] for t in report["tunnels"])  # noqa: E731
        assert total(after, "bytes_in") > total(before, "bytes_in")
        assert total(after, "bytes_out") > total(before, "bytes_out")

    def test_failover_when_tunnel1_goes_down(self, healthy_lab):
        lab_dir = healthy_lab["lab_dir"]
        before = lab.status(lab_dir)

        result = _ping_during(lab_dir, lambda: lab.tunnel_down(lab_dir, 1))
        assert result["received"] >= result["sent"] - 1, result

        report = lab.status(lab_dir)
        assert _tunnel(report, "tunnel1")["status"] == "DOWN"
        assert _tunnel(report, "tunnel1")["cgw"]["status"] == "DOWN"
        assert _tunnel(report, "tunnel2")["status"] == "UP"
        # tunnel 2 now carries the traffic both ways
        assert _tunnel(report, "tunnel2")["bytes_in"] > _tunnel(before, "tunnel2")["bytes_in"]
        assert _tunnel(report, "tunnel2")["bytes_out"] > _tunnel(before, "tunnel2")["bytes_out"]
        # it stays down: nothing re-initiates an unloaded connection
        time.sleep(0.5)
        assert _tunnel(lab.status(lab_dir), "tunnel1")["status"] == "DOWN"

        lab.tunnel_restore(lab_dir, 1)
        lab.wait_until_up(lab_dir, timeout=10.0)

        # the restored tunnel's SAs are the newest, which kernel-libipsec
        # prefers for identical traffic selectors: tunnel 1 now carries the
        # on-prem -> VPC traffic, and failing it over a second time loses nothing
        before = lab.status(lab_dir)
        assert lab.ping(lab_dir, lab.IDC_NS, VPC_WEB1, src_ip=ONPREM_HOST, count=2)["received"] == 2
        after = lab.status(lab_dir)
        lan_out = lambda report, name: _tunnel(report, name)["cgw"]["child_sas"]["lan"]["bytes_out"]  # noqa: E731
        assert lan_out(after, "tunnel1") > lan_out(before, "tunnel1")
        assert lan_out(after, "tunnel2") == lan_out(before, "tunnel2")
        result = _ping_during(lab_dir, lambda: lab.tunnel_down(lab_dir, 1))
        assert result["received"] >= result["sent"] - 1, result
        lab.tunnel_restore(lab_dir, 1)
        lab.wait_until_up(lab_dir, timeout=10.0)


# --- a customer gateway generated with a wrong PSK for tunnel 2 ----------------------


@pytest.fixture(scope="class")
def wrong_psk_lab(lab_session, cgw_fixture_dir, tmp_path_factory):
    lab_dir, log_dir = _dirs(tmp_path_factory, "wrong-psk")
    cgw_dir = lab_dir.parent / "cgw"
    shutil.copytree(cgw_fixture_dir, cgw_dir)
    swanctl_conf = cgw_dir / "swanctl.conf"
    text = swanctl_conf.read_text()
    assert '"strongswan_awsvpn2"' in text
    swanctl_conf.write_text(text.replace('"strongswan_awsvpn2"', '"not_the_aws_psk2"'))
    lab.up(lab.LabSpec.seed(), cgw_dir, lab_dir, log_dir)
    try:
        yield {"lab_dir": lab_dir, "log_dir": log_dir}
    finally:
        lab.down(lab_dir)


class TestWrongPsk:
    def test_tunnel_with_wrong_psk_stays_down(self, wrong_psk_lab):
        lab_dir = wrong_psk_lab["lab_dir"]

        def tunnel1_up_with_bgp():
            report = lab.status(lab_dir)
            return (
                report
                if (
                    _tunnel(report, "tunnel1")["status"] == "UP"
                    and report["bgp"]["aws"].get("169.254.11.2", {}).get("state") == "Established"
                )
                else None
            )

        assert _poll(tunnel1_up_with_bgp, timeout=10.0), "tunnel 1 (right PSK) did not come up"
        time.sleep(1.0)  # IKEv1 main mode with a wrong PSK fails within its first exchange
        report = lab.status(lab_dir)
        tunnel2 = _tunnel(report, "tunnel2")
        assert tunnel2["status"] == "DOWN"
        assert tunnel2["ike_state"] != "ESTABLISHED"
        assert tunnel2["child_sas_installed"] == []
        assert tunnel2["cgw"]["status"] == "DOWN"
        assert report["bgp"]["aws"]["169.254.12.2"]["state"] != "Established"
        # the working tunnel still carries traffic
        assert lab.ping(lab_dir, lab.IDC_NS, VPC_WEB1, src_ip=ONPREM_HOST, count=2)["received"] == 2


# --- down() leaves nothing behind ------------------------------------------------------


def _assert_nothing_left(lab_dir: Path, records: list[daemons.DaemonRecord], report: dict) -> None:
    remaining = set(netns.list_namespaces())
    assert remaining & set(ALL_NAMESPACES) == set()
    # any other `hn-` namespace is another user's, in use right now (e.g. a
    # concurrent config check): down() left it alone and said so
    assert remaining <= {left["ns"] for left in report["namespaces_left"]}
    assert all(left["pids"] or left["age_s"] < daemons.FOREIGN_NAMESPACE_GRACE_S for left in report["namespaces_left"])
    assert not any(daemons.is_same_process_alive(r.pid, r.starttime) for r in records)
    assert {p.name for p in Path("/run/frr").glob(f"{NS_PREFIX}*")} <= remaining
    assert not lab_dir.exists() or list(lab_dir.iterdir()) == []


class TestDown:
    def test_down_removes_namespaces_daemons_and_runtime_folders(self, lab_session, cgw_fixture_dir, tmp_path_factory):
        lab_dir, log_dir = _dirs(tmp_path_factory, "down")
        lab.up(lab.LabSpec.seed(), cgw_fixture_dir, lab_dir, log_dir)
        records = lab.LabRuntime.load(lab_dir).daemons
        assert {r.executable for r in records} == {"charon", "zebra", "bgpd"}
        assert all(daemons.is_same_process_alive(r.pid, r.starttime) for r in records)

        report = lab.down(lab_dir)

        assert sorted(report["stopped"]) == sorted(r.name for r in records)
        _assert_nothing_left(lab_dir, records, report)
        assert (log_dir / f"charon-{NS_PREFIX}cgw.log").stat().st_size > 0  # logs are kept

    def test_down_after_a_crash_that_lost_the_state_file(self, lab_session, cgw_fixture_dir, tmp_path_factory):
        lab_dir, log_dir = _dirs(tmp_path_factory, "crash")
        lab.up(lab.LabSpec.seed(), cgw_fixture_dir, lab_dir, log_dir)
        records = lab.LabRuntime.load(lab_dir).daemons
        (lab_dir / daemons.STATE_FILE_NAME).unlink()

        report = lab.down(lab_dir)

        assert {o["pid"] for o in report["stopped_orphans"]} == {r.pid for r in records}
        _assert_nothing_left(lab_dir, records, report)

    def test_up_replaces_a_running_lab(self, lab_session, cgw_fixture_dir, tmp_path_factory):
        first_dir, log_dir = _dirs(tmp_path_factory, "replace")
        lab.up(lab.LabSpec.seed(), cgw_fixture_dir, first_dir, log_dir)
        old = lab.LabRuntime.load(first_dir).daemons
        try:
            lab.up(lab.LabSpec.seed(), cgw_fixture_dir, first_dir, log_dir)
            new = lab.LabRuntime.load(first_dir).daemons
            assert not any(daemons.is_same_process_alive(r.pid, r.starttime) for r in old)
            assert all(daemons.is_same_process_alive(r.pid, r.starttime) for r in new)
        finally:
            report = lab.down(first_dir)
        _assert_nothing_left(first_dir, old + new, report)

    def test_down_leaves_other_users_busy_namespaces_alone(self, lab_session, tmp_path, monkeypatch):
        # `hn-` is shared with throwaway namespaces of config checks and other
        # tests; down() sweeps a stale empty one and never touches a busy one
        busy, stale = f"{NS_PREFIX}zz-labtest-busy", f"{NS_PREFIX}zz-labtest-stale"
        real_age = netns.namespace_age_s
        monkeypatch.setattr(netns, "namespace_age_s", lambda ns: 3600.0 if ns == stale else real_age(ns))
        for ns in (busy, stale):
            netns.create_namespace(ns)
        sleeper = subprocess.Popen(["ip", "netns", "exec", busy, "sleep", "30"])
        try:
            _poll(lambda: netns.namespace_pids(busy), timeout=2.0, interval=0.02)
            report = lab.down(tmp_path / "no-lab")
            assert stale in report["namespaces_deleted"]
            assert busy in {left["ns"] for left in report["namespaces_left"]}
            assert sleeper.poll() is None  # not started by the lab: never signalled
            assert netns.namespace_exists(busy)
        finally:
            sleeper.kill()
            sleeper.wait()
            for ns in (busy, stale):
                netns.delete_namespace(ns)


def test_the_tests_lab_runs_beside_a_users_lab_and_never_touches_it(lab_session, cgw_fixture_dir, tmp_path_factory):
    """The suite's lab has its own prefix, folder and lock (HYBRIDNET_LAB=test), so a
    lab the user runs (`hn-` namespaces) survives the tests' up and down. Without a
    user's lab running, a stand-in `hn-inet` with a process in it plays one."""
    from hybridnet.lab import identity

    def pids_in(ns: str) -> list[int]:  # netns.namespace_pids refuses another lab's names, rightly
        listed = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10).stdout
        return [int(tok) for tok in listed.split()]

    users_ns = f"{identity.namespace_prefix('')}inet"
    assert users_ns == "hn-inet" and lab.INET_NS != users_ns and lab.INET_NS.startswith(NS_PREFIX)
    assert identity.lab_dir("") != identity.LAB_DIR and identity.LOCK_PATH.name == f"hybridnet-lab-{identity.NAME}.lock"
    with locks.flock(tooling.USERS_LAB_LOOK, timeout=120.0):
        _beside_the_users_lab(users_ns, pids_in, cgw_fixture_dir, tmp_path_factory)


def _beside_the_users_lab(users_ns, pids_in, cgw_fixture_dir, tmp_path_factory) -> None:
    stand_in = not netns.namespace_exists(users_ns)
    sleeper = None
    if stand_in:
        subprocess.run(["ip", "netns", "add", users_ns], check=True, timeout=10)
        sleeper = subprocess.Popen(["ip", "netns", "exec", users_ns, "sleep", "120"])
    try:
        users_pids = _poll(lambda: pids_in(users_ns), timeout=2.0, interval=0.02)
        lab_dir, log_dir = _dirs(tmp_path_factory, "beside-users-lab")
        lab.up(lab.LabSpec.seed(), cgw_fixture_dir, lab_dir, log_dir)
        try:
            lab.wait_until_up(lab_dir, timeout=10.0)
            assert netns.namespace_exists(users_ns)
        finally:
            report = lab.down(lab_dir)
        assert not [ns for ns in report["namespaces_deleted"] if not ns.startswith(NS_PREFIX)], report
        assert netns.namespace_exists(users_ns), "the tests' lab down removed the user's namespace"
        assert set(users_pids) <= set(pids_in(users_ns))
        if sleeper is not None:
            assert sleeper.poll() is None  # the stand-in's process was never signalled
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
        if stand_in:
            subprocess.run(["ip", "netns", "del", users_ns], check=False, timeout=10)
