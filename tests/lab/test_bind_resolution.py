"""Hybrid DNS with two real named processes: the IDC's server and Route 53 Resolver.

Two throwaway namespaces of this test (``hn-dnstest-<id>-o`` on-prem,
``hn-dnstest-<id>-v`` VPC) joined by one veth pair, addressed as in the
seed lab, each running named with a configuration from
:func:`hybridnet.render.dns.render_lab_bind`; the questions are asked with
:func:`hybridnet.diagnostics.dns.probe_matrix` from inside the namespaces.

Network safety: the namespaces have only routes to each other's lab
prefixes (no default route), both nameds blackhole every address outside
the lab, and both are stopped by pid, the namespaces deleted, in finally.
Needs root; without it the test skips (fails under CI=true).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hybridnet.diagnostics.dns import Probe, probe_matrix
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX
from hybridnet.render.dns import render_lab_bind

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

pytestmark = pytest.mark.lab

REGION = "ap-northeast-2"
INBOUND = ["10.0.1.250", "10.0.2.250"]
OUTBOUND = ["10.0.1.251", "10.0.2.251"]
VPC_RESOLVER = "10.0.0.2"
ONPREM_DNS = "192.168.2.250"
WEBSRV = "192.168.2.20"
WEB1 = "10.0.10.10"


def ip(*args: str) -> None:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, f"ip {' '.join(args)}: {res.stderr.strip()}"


def start_named(ns: str, conf: Path, log: Path) -> subprocess.Popen:
    named = shutil.which("named") or "/usr/sbin/named"
    with open(log, "wb") as out:
        # `ip netns exec` execs named itself: the Popen pid is named's pid
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, named, "-4", "-g", "-u", "bind", "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return proc


def wait_running(proc: subprocess.Popen, log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace")
        if any(line.endswith(" running") for line in text.splitlines()):
            break
        if proc.poll() is not None:
            raise AssertionError(f"named exited with {proc.returncode}:\n{text[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"named did not start within {timeout} s:\n{text[-3000:]}")
        time.sleep(0.02)
    exe = os.readlink(f"/proc/{proc.pid}/exe")
    assert Path(exe).name == "named", f"pid {proc.pid} is {exe}, not named"


def no_route_count(ns: str) -> int:
    """IpOutNoRoutes in `ns`: packets the kernel could not route (the namespaces only know lab prefixes)."""
    res = subprocess.run(
        ["ip", "netns", "exec", ns, "nstat", "-asz", "IpOutNoRoutes"], capture_output=True, text=True, timeout=10
    )
    assert res.returncode == 0, res.stderr
    return int(res.stdout.split("IpOutNoRoutes")[1].split()[0])


def test_hybrid_dns_both_ways_with_failover():
    tooling.require_root()
    tooling.require_tool("named")
    tooling.require_tool("ip")
    token = secrets.token_hex(4)
    onprem_ns, vpc_ns = f"{NS_PREFIX}dnstest-{token}-o", f"{NS_PREFIX}dnstest-{token}-v"
    work = Path(tempfile.mkdtemp(prefix=f"{NS_PREFIX}dnstest-{token}-", dir="/tmp"))
    procs: list[subprocess.Popen] = []
    namespaces: list[str] = []
    try:
        started = time.monotonic()
        # -- network: one veth between the two namespaces, lab routes only
        for ns in (onprem_ns, vpc_ns):
            ip("netns", "add", ns)
            namespaces.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", onprem_ns, "link", "add", "eth-idc", "type", "veth", "peer", "name", "eth-vpc", "netns", vpc_ns)
        for addr in (ONPREM_DNS, WEBSRV):
            ip("-n", onprem_ns, "addr", "add", f"{addr}/24", "dev", "eth-idc")
        for addr in INBOUND + OUTBOUND + [VPC_RESOLVER, WEB1]:
            ip("-n", vpc_ns, "addr", "add", f"{addr}/24", "dev", "eth-vpc")
        ip("-n", onprem_ns, "link", "set", "eth-idc", "up")
        ip("-n", vpc_ns, "link", "set", "eth-vpc", "up")
        ip("-n", onprem_ns, "route", "add", "10.0.0.0/16", "dev", "eth-idc")
        ip("-n", vpc_ns, "route", "add", "192.168.0.0/16", "dev", "eth-vpc")

        # -- configuration, rendered by the code under test
        dirs = {role: work / role for role in ("onprem", "resolver")}
        os.chmod(work, 0o755)
        for path in dirs.values():
            path.mkdir()
            shutil.chown(path, "bind", "bind")
        render_lab_bind(
            "onprem",
            dirs["onprem"],
            listen_ips=[ONPREM_DNS],
            # only the Resolver outbound endpoint may ask from the VPC: proves query-source
            allow_query=["192.168.0.0/16"] + [f"{a}/32" for a in OUTBOUND],
            onprem_zone="anycompany.corp",
            onprem_records={"websrv": WEBSRV},
            inbound_ips=INBOUND,
            private_zones=["awsanycompany.corp"],
            region=REGION,
            dns_server_ip=ONPREM_DNS,
        )
        render_lab_bind(
            "resolver",
            dirs["resolver"],
            listen_ips=INBOUND + [VPC_RESOLVER],
            allow_query=["10.0.0.0/16", "192.168.0.0/16"],
            hosted_zones={"awsanycompany.corp": {"web1": WEB1, "web2": "10.0.20.10", "app": "10.0.20.11"}},
            forward_rules={"anycompany.corp": [ONPREM_DNS]},
            query_source_ip=OUTBOUND[0],
            region=REGION,
            vpc_host_ips=[WEB1],
        )

        # -- daemons
        logs = {role: work / f"{role}.log" for role in dirs}
        procs.append(start_named(onprem_ns, dirs["onprem"] / "named.conf", logs["onprem"]))
        procs.append(start_named(vpc_ns, dirs["resolver"] / "named.conf", logs["resolver"]))
        wait_running(procs[0], logs["onprem"])
        wait_running(procs[1], logs["resolver"])

        def client(name, expected, qtype="A"):
            return Probe("on-prem client", ONPREM_DNS, name, qtype, expected=expected, source=WEBSRV, netns=onprem_ns)

        def vpc_host(name, expected, server=VPC_RESOLVER):
            return Probe("VPC host", server, name, expected=expected, source=WEB1, netns=vpc_ns)

        df = probe_matrix(
            [
                client("web1.awsanycompany.corp", [WEB1]),  # forwarded to the inbound endpoint
                client("nope.awsanycompany.corp", "NXDOMAIN"),  # NXDOMAIN from the private zone, not a timeout
                client(f"ip-10-0-10-10.{REGION}.compute.internal", [WEB1]),
                client("websrv.anycompany.corp", [WEBSRV]),  # its own zone
                client("www.example.com", "SERVFAIL"),  # outside the lab: fails at once
                vpc_host("websrv.anycompany.corp", [WEBSRV]),  # FORWARD rule via the outbound endpoint
                vpc_host("nope.anycompany.corp", "NXDOMAIN"),
                vpc_host("web1.awsanycompany.corp", [WEB1], server=INBOUND[1]),
                vpc_host("websrv.anycompany.corp", "REFUSED", server=ONPREM_DNS),  # a VPC host may not ask on-prem
            ],
            timeout=3.0,
        )
        assert df["ok"].all(), "\n" + df.to_string()
        assert (df["latency_ms"] < 1000).all(), "\n" + df.to_string()

        # -- failover: each inbound IP alone is enough (fresh names: nothing cached)
        ip("-n", vpc_ns, "addr", "del", f"{INBOUND[0]}/24", "dev", "eth-vpc")
        df1 = probe_matrix([client("web2.awsanycompany.corp", ["10.0.20.10"])], timeout=4.0)
        ip("-n", vpc_ns, "addr", "add", f"{INBOUND[0]}/24", "dev", "eth-vpc")
        ip("-n", vpc_ns, "addr", "del", f"{INBOUND[1]}/24", "dev", "eth-vpc")
        df2 = probe_matrix([client("app.awsanycompany.corp", ["10.0.20.11"])], timeout=4.0)
        assert df1["ok"].all() and df2["ok"].all(), "\n" + df1.to_string() + "\n" + df2.to_string()

        assert all(p.poll() is None for p in procs), "a named exited during the test"
        for ns in namespaces:  # nothing even tried to leave the lab (no route would have been found)
            assert no_route_count(ns) == 0, f"{ns}: a packet was sent toward an address outside the lab"
        assert time.monotonic() - started < 15
    finally:
        for proc in procs:
            tooling.stop(proc)
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        shutil.rmtree(work, ignore_errors=True)
