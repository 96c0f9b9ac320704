"""The scheduled health check against the lab: exit codes 0/1/2 from fault
drills, the HTML report (charts in, secrets out), and teardown to nothing."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from hybridnet import dataplane, faults
from hybridnet.aws import connect
from hybridnet.params import load_params
from hybridnet.phases import client_vpn, connect_handler, hybrid_dns, router_config, tgw_attachment
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX

ROOT = Path(__file__).resolve().parents[2]
HYBRIDNET = str(ROOT / ".venv" / "bin" / "hybridnet")


@pytest.fixture(scope="module")
def stack(lab_session, own_emulator, tmp_path_factory):
    ctx = connect(load_params(ROOT / "params" / "lab.yaml"))
    tgw_attachment.run(ctx, progress=None)
    vpn, cfg = router_config.load_connection(ctx)
    run_dir = tmp_path_factory.mktemp("hc-run")
    router_config.write_router_configs(cfg, router_config.router_site(ctx), run_dir, targets=("lab",))
    timings = dataplane.lab_up(ctx, vpn, router_config.router_dir(run_dir) / "lab", run_dir / "lab-logs")
    assert "error" not in timings, str(timings)  # a str: pytest shortens a dict
    hybrid_dns.run(ctx, progress=None)
    table, _ = dataplane.dns_up(ctx, run_dir / "dns-lab", run_dir / "lab-logs")
    assert table["running"].all(), table.to_string()
    phase4 = client_vpn.run(ctx, run_dir, progress=None)
    dataplane.client_vpn_up(ctx, phase4.endpoint_id)  # the remote users' hosts are online then
    connect_handler.run(ctx, progress=None)
    yield ctx
    faults.clear(ctx)
    dataplane.lab_down()


def healthcheck() -> subprocess.CompletedProcess:
    return subprocess.run([HYBRIDNET, "healthcheck", "--params", str(ROOT / "params" / "healthcheck.yaml")],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def verdicts_now(ctx) -> tuple[int, pd.DataFrame]:
    """The health check's exit code and verdicts, judged in this process from the
    same evidence the notebook collects (the CLI around it is tested by the tests
    that run `hybridnet healthcheck`; here it would only add its start-up)."""
    from hybridnet import healthcheck as hc
    from hybridnet.diagnostics import verdicts
    from hybridnet.params import load_healthcheck

    check, _ = load_healthcheck(ROOT / "params" / "healthcheck.yaml")
    found = verdicts.evaluate(hc.collect(ctx, check))
    return verdicts.exit_code(found), verdicts.verdict_frame(found)


def verdicts_until_ok(ctx, within_s: float = 40.0) -> tuple[int, pd.DataFrame]:
    """verdicts_now(), again until it says OK or `within_s` passed: the last one."""
    deadline = time.monotonic() + within_s
    while True:
        settle()
        code, frame = verdicts_now(ctx)
        if code == 0 or time.monotonic() > deadline:
            return code, frame


def report_of(result: subprocess.CompletedProcess) -> Path:
    return Path(re.search(r"^report: (.+)$", result.stdout, re.M).group(1))


def settle(seconds: float = 2.5) -> None:
    time.sleep(seconds)  # the emulator polls the lab every second


def healthcheck_until_ok(within_s: float = 40.0) -> subprocess.CompletedProcess:
    """The health check, again until it exits 0 or `within_s` passed: the last run."""
    deadline = time.monotonic() + within_s
    while True:
        settle()
        result = healthcheck()
        if result.returncode == 0 or time.monotonic() > deadline:
            return result


def test_healthy_lab_exits_0_with_a_self_contained_report(stack):
    result = healthcheck()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[1] == "health check: OK"  # after the account it checked
    html = report_of(result).read_text()
    assert html.count("data:image/png;base64,") >= 4  # timeline, prefixes per tunnel, DNS matrix, verdicts
    assert "open_healthcheck" not in html  # code cells are hidden
    for secret in ("strongswan_awsvpn", "PRIVATE KEY", "<key>"):
        assert secret not in html


@pytest.mark.parametrize("drill, code, check, status, says", [
    ("tunnel-down", 1, "tunnels", "WARN", "1 of 2 UP"),
    ("withdraw-prefix", 2, "TGW route to on-prem", "FAIL", "no active route to 192.168.0.0/16"),
    ("inbound-endpoint-down", 1, "inbound endpoints", "WARN", "does not answer"),
    ("idc-dns-down", 2, "hybrid DNS", "FAIL", "-> TIMEOUT"),
    ("handler-deny-all", 2, "connect handler", "FAIL", "a user the policy admits is denied"),
    # a crash is named on the host itself, not only by what it takes with it
    ("cgw-ike-crash", 2, "router daemons", "FAIL", "charon not running on hosts.router seed-idc-router (i-"),
    ("cgw-bgp-crash", 2, "router daemons", "FAIL", "bgpd not running on hosts.router seed-idc-router (i-"),
    ("onprem-dns-crash", 2, "on-prem DNS server", "FAIL", "named not running on hosts.onprem_dns seed-idc-dns (i-"),
])
def test_each_drill_gives_its_verdict_and_clear_restores_ok(stack, drill, code, check, status, says):
    faults.apply(stack, drill)
    try:
        settle()
        got, frame = verdicts_now(stack)
        assert got == code, frame.to_string()
        named = frame[frame["check"].str.startswith(check) & (frame["status"] == status)]
        assert any(says in reason for reason in named["reason"]), frame.to_string()
    finally:
        faults.clear(stack)
    got, frame = verdicts_until_ok(stack)  # BGP re-converges after the drill
    assert got == 0, frame.to_string()


def test_with_the_lab_down_the_hosts_are_named_with_ssm_s_reason(stack):
    """The seed's instances stay in the account, but nothing plays them: SSM shows
    them ConnectionLost, and the health check names each one (exit 2)."""
    dataplane.lab_down()
    result = healthcheck()
    assert result.returncode == 2, result.stdout
    for role in ("router", "onprem_dns", "onprem_client", "vpc_client"):
        assert re.search(rf"^  FAIL\s+host {role}\s+{role} i-[0-9a-f]{{17}}: SSM Agent has not checked in "
                         r"\(PingStatus ConnectionLost\)", result.stdout, re.M), result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def lab_up() -> subprocess.CompletedProcess:
    return subprocess.run([HYBRIDNET, "lab", "up", "--params", str(ROOT / "params" / "lab.yaml")],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def test_lab_up_brings_back_the_whole_twin_from_the_account(stack):
    """After `lab down`, `hybridnet lab up` alone (no notebook) plays everything the
    account has again: tunnels and BGP, both DNS servers, the Client VPN endpoint;
    the hosts are back online for SSM, and the health check is OK."""
    if dataplane.lab_running():
        dataplane.lab_down()
    up = lab_up()
    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"^DNS +named in \S+idc, \S+vpc$", up.stdout, re.M), up.stdout
    assert re.search(r"^ *router online in SSM +True", up.stdout, re.M), up.stdout  # the router's setup, through SSM
    assert re.search(r"^Client VPN +cvpn-endpoint-[0-9a-f]{17} played by OpenVPN on ", up.stdout, re.M), up.stdout
    result = healthcheck_until_ok()
    assert result.returncode == 0, result.stdout
    assert re.search(r"^  OK\s+hybrid DNS\s+8 probes answered as expected", result.stdout, re.M)


def test_lab_up_starts_crashed_daemons_again(stack):
    """The crash drills on the lab as `hybridnet lab up` plays it (the router's
    charon and FRR started by its setup through the host's systemctl, the DNS
    server's named by its files): `lab up` again starts them, as a rerun of the
    setup does on a real host, and the health check is OK without a `clear`."""
    from hybridnet.diagnostics.daemons import daemons_frame

    if dataplane.twin_status() is None:  # run alone: the lab as `lab up` plays it
        assert lab_up().returncode == 0
    crashes = ("cgw-ike-crash", "cgw-bgp-crash", "onprem-dns-crash")
    try:
        for drill in crashes:
            faults.apply(stack, drill)
        found = daemons_frame(stack)
        assert sorted(found.loc[found["running"].eq(False), "daemon"]) == ["bgpd", "charon", "named"], found
        up = lab_up()
        assert up.returncode == 0, up.stdout + up.stderr
        got, frame = verdicts_until_ok(stack)
        assert got == 0, frame.to_string()
    finally:
        faults.clear(stack)  # nothing left to start: each runs again
    assert not faults.active()


def test_teardown_removes_everything_and_the_lab(stack):
    result = subprocess.run([HYBRIDNET, "teardown"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "left            nothing" in result.stdout
    assert not dataplane.lab_running()
    assert not {f"{NS_PREFIX}aws", f"{NS_PREFIX}cgw"} & set(os.listdir("/run/netns") if os.path.isdir("/run/netns") else [])
    after = healthcheck()
    assert after.returncode == 2 and "no VPN connection tagged" in after.stdout
