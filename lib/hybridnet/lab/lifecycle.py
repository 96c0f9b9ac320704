"""Bring the site-to-site lab up and down; fault helpers and ping for tests."""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LocalPlaneError
from ..locks import Busy, acquire, release
from ..workspace import write_private
from . import awsside, daemons, identity, netns, observe
from .cgwside import CgwConfig, cgw_connection_name, load_cgw_dir
from .daemons import LabRuntime
from .identity import LAB_DIR
from .render import render_strongswan_conf, render_zebra_conf
from .spec import LabSpec
from .topology import ALL_NAMESPACES, AWS_NS, CGW_NS, CLIENT_VPN_NAMESPACES, Topology, build_topology
from .vici import ViciError, ViciSession


class LabError(LocalPlaneError, RuntimeError):
    pass


@dataclass
class LabState:
    """What `up()` built, as plain data (also saved in <lab_dir>/state.json)."""

    lab_dir: str
    log_dir: str
    namespaces: list[str]
    daemons: list[dict[str, Any]]
    tunnels: list[dict[str, Any]]
    topology: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionError(
            "the lab needs root (network namespaces, charon, FRR); "
            "without it only the emulator runs and tunnels show DOWN"
        )


def lab_exists(lab_dir: Path | str) -> bool:
    """A state file in `lab_dir`, or any of the lab's namespaces (from any lab dir)."""
    return (Path(lab_dir) / daemons.STATE_FILE_NAME).exists() or bool(
        set(netns.list_namespaces()) & set(ALL_NAMESPACES + CLIENT_VPN_NAMESPACES)
    )


LAB_LOCK_PATH = identity.LOCK_PATH


@contextmanager
def exclusive_lab(timeout: float = 300.0, lock_path: Path = LAB_LOCK_PATH) -> Iterator[None]:
    """Hold this lab's lock while using it (e.g. for a test session).

    A lab's namespace names are fixed by its prefix, so two processes bringing
    the same lab up at once would tear down each other's; whoever holds this
    lock is alone. Labs of other names (identity.py) have other locks.
    `up()`/`down()` do not take it themselves (a lab outlives the process that
    started it); long-lived users such as test sessions do.
    """
    try:
        fd = acquire(lock_path, timeout)
    except Busy:
        raise TimeoutError(f"another process held {lock_path} for {timeout:.0f}s") from None
    try:
        yield
    finally:
        release(fd)


# --- up ------------------------------------------------------------------------------


def up(
    spec: LabSpec, cgw_dir: Path | str, lab_dir: Path | str = LAB_DIR, log_dir: Path | str | None = None
) -> LabState:
    """Build the namespaces, start charon + FRR on both sides, load the tunnels.

    If a lab is already up (a state file, or any of the lab's namespaces), it is taken
    down first: a fresh lab is cheap (about a second) and never half-reuses
    daemons configured from other inputs. Returns as soon as the daemons run;
    `wait_until_up()` waits for the tunnels and BGP.
    """
    cgw = load_cgw_dir(cgw_dir)
    return _build(spec, lab_dir, log_dir, lambda runtime: _start_daemons(runtime, spec, cgw))


def aws_side_up(spec: LabSpec, lab_dir: Path | str = LAB_DIR, log_dir: Path | str | None = None) -> LabState:
    """The lab's network and AWS's side of both tunnels (charon + FRR in hn-aws),
    as AWS brings them up for a new VPN connection; the customer gateway (hn-cgw)
    runs nothing until its setup script starts its daemons (hostinit). Like
    `up()`, it replaces a lab that is already up."""
    from .hosts import host_folder

    def start(runtime: LabRuntime) -> None:
        _start_aws_side(runtime, spec)
        # where the customer gateway's setup installs its connections (fault drills reload them)
        runtime.state["cgw_swanctl_conf"] = str(host_folder(runtime.lab_dir, CGW_NS, "/etc/swanctl") / "swanctl.conf")
        runtime.save()

    return _build(spec, lab_dir, log_dir, start)


AWS_SIDE_DAEMONS = ("bgpd", "zebra", "charon")


def aws_side_replay(spec: LabSpec, lab_dir: Path | str = LAB_DIR) -> bool:
    """AWS's side of both tunnels again with `spec`, the rest left running, when the
    network is the one the lab has: AWS changed a tunnel's options or the peer's ASN
    (ModifyVpnTunnelOptions, ModifyVpnConnection), which on AWS leaves the customer's
    router alone too. False (nothing done) when the network differs: then
    aws_side_up() builds it all again."""
    require_root()
    try:
        runtime = LabRuntime.load(lab_dir)
    except FileNotFoundError:
        return False
    topology = build_topology(spec)
    if runtime.state.get("topology") != json.loads(json.dumps(topology.to_dict())):
        return False
    runtime.stop([f"{name}@{AWS_NS}" for name in AWS_SIDE_DAEMONS])
    for stale in ("zserv.api", "bgpd.vty", "zebra.vty"):  # or zebra would look ready before it is
        (daemons.frr_run_dir(AWS_NS) / stale).unlink(missing_ok=True)
    _start_aws_side(runtime, spec)
    _record_lab(runtime, spec, topology)
    return True


def _build(
    spec: LabSpec, lab_dir: Path | str, log_dir: Path | str | None, start_daemons: Callable[[LabRuntime], None]
) -> LabState:
    """Take down any lab there, record and build the network, then `start_daemons`;
    on any failure take it all down again."""
    require_root()
    started = time.monotonic()
    topology = build_topology(spec)
    if lab_exists(lab_dir):
        down(lab_dir)
    lab_dir = Path(lab_dir)
    log_dir = Path(log_dir) if log_dir is not None else lab_dir.parent / f"{lab_dir.name}-logs"
    runtime = LabRuntime(lab_dir, log_dir)
    timings: dict[str, float] = {}
    try:
        _record_lab(runtime, spec, topology)
        build_network(runtime, topology)
        timings["network"] = time.monotonic() - started
        start_daemons(runtime)
        timings["daemons"] = time.monotonic() - started
    except BaseException:
        down(lab_dir)
        raise
    return LabState(
        lab_dir=str(lab_dir),
        log_dir=str(log_dir),
        namespaces=list(topology.namespaces),
        daemons=[asdict(d) for d in runtime.daemons],
        tunnels=runtime.state["tunnels"],
        topology=topology.to_dict(),
        timings_s=timings,
    )


def _start_aws_side(runtime: LabRuntime, spec: LabSpec) -> None:
    aws_swanctl = _write_secret(runtime.ns_dir(AWS_NS) / "swanctl.conf", awsside.render_swanctl_conf(spec))
    runtime.state["aws_swanctl_conf"] = str(aws_swanctl)
    runtime.save()
    inside = awsside.aws_ipsec0_addresses(spec)
    charon = daemons.start_charon(runtime, AWS_NS, render_strongswan_conf(AWS_NS, inside))
    zebra = daemons.start_frr_daemon(runtime, AWS_NS, "zebra", render_zebra_conf(AWS_NS, AWS_NS))
    vici_socket = daemons.charon_paths(runtime, AWS_NS)["vici"]
    runtime.wait_ready(charon, lambda: daemons.vici_ready(vici_socket))
    runtime.wait_ready(charon, lambda: _has_addresses(AWS_NS, "ipsec0", inside))
    daemons.swanctl(runtime, AWS_NS, "--load-all", "--noprompt", "--file", str(aws_swanctl))
    runtime.wait_ready(zebra, (daemons.frr_run_dir(AWS_NS) / "zserv.api").exists)
    bgpd = daemons.start_frr_daemon(runtime, AWS_NS, "bgpd", awsside.render_bgpd_conf(spec))
    runtime.wait_ready(bgpd, (daemons.frr_run_dir(AWS_NS) / "bgpd.vty").exists)


def _record_lab(runtime: LabRuntime, spec: LabSpec, topology: Topology) -> None:
    runtime.state.update(
        {
            "aws_ns": AWS_NS,
            "cgw_ns": CGW_NS,
            "spec": spec.model_dump(mode="json"),  # PSKs come out masked (SecretStr)
            "topology": topology.to_dict(),
            "tunnels": [
                {
                    "name": aws_tunnel.name,
                    "aws_connection": aws_tunnel.name,
                    "cgw_connection": cgw_connection_name(number),
                    "vgw_outside_ip": str(aws_tunnel.spec.vgw_outside_ip),
                    "cgw_outside_ip": str(aws_tunnel.spec.cgw_outside_ip),
                    "vgw_inside_ip": str(aws_tunnel.spec.vgw_inside_ip),
                    "cgw_inside_ip": str(aws_tunnel.spec.cgw_inside_ip),
                }
                for number, aws_tunnel in enumerate(awsside.aws_tunnels(spec), start=1)
            ],
        }
    )
    runtime.save()


def build_network(runtime: LabRuntime, topology: Topology) -> None:
    """Namespaces, veth links, addresses, static routes and forwarding."""
    for ns in topology.namespaces:
        runtime.create_namespace(ns)
    for link in topology.links:
        netns.add_veth(link.a.ns, link.a.name, link.b.ns, link.b.name)
    per_ns: dict[str, list[str]] = {ns: [] for ns in topology.namespaces}
    for link in topology.links:
        for end in (link.a, link.b):
            per_ns[end.ns] += netns.address_commands(end.name, end.addresses)
    for route in topology.routes:
        per_ns[route.ns].append(netns.route_command(route.prefix, via=route.via))
    for ns, commands in per_ns.items():
        netns.ip_batch_in(ns, commands)
    for ns in topology.routers:
        netns.enable_forwarding(ns)


def _write_secret(path: Path, text: str) -> Path:
    # swanctl.conf holds the PSKs
    return write_private(path, text)


def _has_addresses(ns: str, device: str, cidrs: list[str]) -> bool:
    shown = netns.ip_in(ns, "-o", "-4", "addr", "show", "dev", device, check=False).stdout
    return all(f" {cidr} " in shown for cidr in cidrs)


def _start_daemons(runtime: LabRuntime, spec: LabSpec, cgw: CgwConfig) -> None:
    aws_swanctl = _write_secret(runtime.ns_dir(AWS_NS) / "swanctl.conf", awsside.render_swanctl_conf(spec))
    cgw_swanctl = _write_secret(runtime.ns_dir(CGW_NS) / "swanctl.conf", cgw.swanctl_conf)
    runtime.state["cgw_swanctl_conf"] = str(cgw_swanctl)
    runtime.state["aws_swanctl_conf"] = str(aws_swanctl)
    runtime.save()

    charons = {
        AWS_NS: daemons.start_charon(
            runtime, AWS_NS, render_strongswan_conf(AWS_NS, awsside.aws_ipsec0_addresses(spec))
        ),
        CGW_NS: daemons.start_charon(runtime, CGW_NS, render_strongswan_conf(CGW_NS, list(cgw.ipsec0_addresses))),
    }
    zebras = {ns: daemons.start_frr_daemon(runtime, ns, "zebra", render_zebra_conf(ns, ns)) for ns in (AWS_NS, CGW_NS)}

    inside = {AWS_NS: awsside.aws_ipsec0_addresses(spec), CGW_NS: list(cgw.ipsec0_addresses)}
    for ns, record in charons.items():
        vici_socket = daemons.charon_paths(runtime, ns)["vici"]
        runtime.wait_ready(record, functools.partial(daemons.vici_ready, vici_socket))
        # charon runs its start-scripts (the inside addresses onto ipsec0) while it
        # already answers on vici; a child SA installed before its address is
        # there fails ("unable to install IPsec policies") and is never retried.
        runtime.wait_ready(record, functools.partial(_has_addresses, ns, "ipsec0", inside[ns]))
    # the responder's connections first, so the CGW's first IKE packet is answered
    daemons.swanctl(runtime, AWS_NS, "--load-all", "--noprompt", "--file", str(aws_swanctl))
    daemons.swanctl(runtime, CGW_NS, "--load-all", "--noprompt", "--file", str(cgw_swanctl))

    bgpd_configs = {AWS_NS: awsside.render_bgpd_conf(spec), CGW_NS: cgw.frr_conf}
    for ns, record in zebras.items():
        zserv = daemons.frr_run_dir(ns) / "zserv.api"
        runtime.wait_ready(record, zserv.exists)
    bgpds = {ns: daemons.start_frr_daemon(runtime, ns, "bgpd", bgpd_configs[ns]) for ns in (AWS_NS, CGW_NS)}
    for ns, record in bgpds.items():
        vty = daemons.frr_run_dir(ns) / "bgpd.vty"
        runtime.wait_ready(record, vty.exists)


# --- down, status, waiting -------------------------------------------------------------


def down(lab_dir: Path | str = LAB_DIR) -> dict[str, Any]:
    """Stop every lab daemon, delete the lab's namespaces and runtime folders.

    Works from the state file, and without it after a crash: the lab's
    namespace names are fixed (topology.ALL_NAMESPACES). Stale empty `hn-`
    namespaces of others are swept too; busy ones are left and reported
    (see daemons.teardown). Returns what it did.
    """
    require_root()
    return daemons.teardown(lab_dir, lab_namespaces=ALL_NAMESPACES + CLIENT_VPN_NAMESPACES)


def status(lab_dir: Path | str = LAB_DIR) -> dict[str, Any]:
    """Tunnels, BGP neighbors and routes (per side: "aws", "cgw"), as plain data.

    With no lab running this says so (`running: False`, no tunnels) instead
    of raising, so callers can report "tunnels DOWN: no lab" plainly.
    """
    if not (Path(lab_dir) / daemons.STATE_FILE_NAME).exists():
        return {
            "lab_dir": str(lab_dir),
            "running": False,
            "reason": f"no lab state in {lab_dir}",
            "tunnels": [],
            "bgp": {},
            "routes": {},
            "daemons": [],
        }
    report = observe.collect(_runtime(lab_dir))
    report["running"] = any(d["running"] for d in report["daemons"])
    return report


def _runtime(lab_dir: Path | str) -> LabRuntime:
    try:
        return LabRuntime.load(lab_dir)
    except FileNotFoundError as exc:
        raise LabError(str(exc)) from None


def wait_until_up(
    lab_dir: Path | str = LAB_DIR, timeout: float = 10.0, poll_s: float = 0.05, require_prefixes: bool = False
) -> float:
    """Wait until both ends see every tunnel UP and every BGP session Established.

    With `require_prefixes`, also until every session has received a prefix
    (FRR sends its first UPDATE about a second after Established).
    Returns the seconds waited; raises TimeoutError with what was still down.
    """
    runtime = _runtime(lab_dir)
    start = time.monotonic()
    report: dict[str, Any] = {}
    while True:
        report = observe.collect(runtime, with_routes=False)
        if observe.all_up(report) and (
            not require_prefixes
            or all(peer["prefixes_received"] > 0 for peers in report["bgp"].values() for peer in peers.values())
        ):
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"lab not up after {timeout:.1f}s: {summarize(report)}")
        time.sleep(poll_s)


def summarize(report: dict[str, Any]) -> str:
    parts = [
        f"{t['name']} aws={t['status']} cgw={t['cgw']['status']} ike={t['ike_state']} "
        f"children={','.join(t['child_sas_installed']) or '-'}"
        for t in report.get("tunnels", [])
    ]
    for side, peers in report.get("bgp", {}).items():
        parts += [f"bgp {side}->{n} {p['state']}" for n, p in peers.items()] or [f"bgp {side}: no neighbors"]
    return "; ".join(parts)


# --- faults for tests ------------------------------------------------------------------


def _cgw_vici(runtime: LabRuntime) -> ViciSession:
    return ViciSession(daemons.charon_paths(runtime, runtime.state["cgw_ns"])["vici"], timeout=10.0)


def tunnel_down(lab_dir: Path | str, n: int) -> None:
    """Take tunnel n (1-based) down from the customer gateway and keep it down.

    Unloading the connection first removes its start/DPD-restart actions, so
    nothing re-initiates it; terminating then deletes its SAs on both ends
    (the AWS side only responds, so it does not bring it back either).
    """
    runtime = _runtime(lab_dir)
    conn = cgw_connection_name(n)
    with _cgw_vici(runtime) as vici:
        vici.command("unload-conn", {"name": conn})
        try:
            vici.command("terminate", {"ike": conn, "timeout": "3000"})
        except ViciError as exc:
            if "no matching" not in str(exc):  # already gone is fine
                raise


def tunnel_restore(lab_dir: Path | str, n: int) -> None:
    """Reload tunnel n's connection on the customer gateway and initiate it."""
    runtime = _runtime(lab_dir)
    conn = cgw_connection_name(n)
    daemons.swanctl(runtime, runtime.state["cgw_ns"], "--load-conns", "--file", runtime.state["cgw_swanctl_conf"])
    with _cgw_vici(runtime) as vici:
        established = any(name == conn and sa.get("state") == "ESTABLISHED" for name, sa in vici.list_sas())
        if not established:
            # asynchronous (timeout -1): wait_until_up() tells when it is back
            for child in observe.EXPECTED_CHILDREN:
                vici.command("initiate", {"ike": conn, "child": child, "timeout": "-1"})


# --- traffic -------------------------------------------------------------------------------

_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_PING_RTT = re.compile(r"= [\d.]+/([\d.]+)/")


def ping(
    lab_dir: Path | str,
    src_ns: str,
    dst_ip: str,
    src_ip: str | None = None,
    count: int = 3,
    interval_s: float = 0.2,
    wait_s: float = 1.0,
) -> dict[str, Any]:
    """Ping `dst_ip` from namespace `src_ns` (optionally from `src_ip`)."""
    _runtime(lab_dir)  # only ping inside a running lab
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval_s), "-W", str(wait_s)]
    if src_ip:
        argv += ["-I", src_ip]
    result = netns.exec_in(src_ns, [*argv, dst_ip], check=False, timeout=count * interval_s + wait_s + 10)
    match = _PING_SUMMARY.search(result.stdout)
    sent, received = (int(match.group(1)), int(match.group(2))) if match else (count, 0)
    rtt = _PING_RTT.search(result.stdout)
    return {
        "src_ns": src_ns,
        "src_ip": src_ip,
        "dst_ip": dst_ip,
        "sent": sent,
        "received": received,
        "loss_pct": round(100.0 * (sent - received) / sent, 1) if sent else 100.0,
        "rtt_avg_ms": float(rtt.group(1)) if rtt else None,
    }
