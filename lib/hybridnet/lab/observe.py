"""Read the running lab's state: IPsec SAs (vici), BGP and routes (vtysh), as plain data."""

from __future__ import annotations

import json
import time
from typing import Any

from . import netns
from .daemons import LabRuntime, charon_paths, vtysh_json
from .vici import ViciSession

EXPECTED_CHILDREN = ("bgp", "lan")


def list_sas(runtime: LabRuntime, ns: str) -> list[tuple[str, dict[str, Any]]]:
    with ViciSession(charon_paths(runtime, ns)["vici"], timeout=3.0) as session:
        return session.list_sas()


def _best_ike_sa(sas: list[tuple[str, dict]], conn: str) -> dict | None:
    """The connection's IKE SA that counts: an ESTABLISHED one if any."""
    candidates = [sa for name, sa in sas if name == conn]
    candidates.sort(key=lambda sa: (sa.get("state") != "ESTABLISHED", -int(sa.get("established", 0))))
    return candidates[0] if candidates else None


def tunnel_view(sas: list[tuple[str, dict]], conn: str) -> dict[str, Any]:
    """One side's view of one tunnel: IKE state, installed children, byte counters."""
    ike = _best_ike_sa(sas, conn)
    view: dict[str, Any] = {
        "connection": conn,
        "ike_state": "NONE",
        "ike_established_s": None,
        "child_sas": {},
        "child_sas_installed": [],
        "bytes_in": 0,
        "bytes_out": 0,
        "packets_in": 0,
        "packets_out": 0,
        "status": "DOWN",
    }
    if ike is None:
        return view
    view["ike_state"] = ike.get("state", "UNKNOWN")
    if "established" in ike:
        view["ike_established_s"] = int(ike["established"])
    installed = set()
    for child in (ike.get("child-sas") or {}).values():
        name = child.get("name", "?")
        state = child.get("state", "UNKNOWN")
        view["child_sas"][name] = {
            "state": state,
            "local_ts": child.get("local-ts", []),
            "remote_ts": child.get("remote-ts", []),
            "bytes_in": int(child.get("bytes-in", 0)),
            "bytes_out": int(child.get("bytes-out", 0)),
        }
        if state == "INSTALLED":
            installed.add(name)
            for key in ("bytes_in", "bytes_out", "packets_in", "packets_out"):
                view[key] += int(child.get(key.replace("_", "-"), 0))
    view["child_sas_installed"] = sorted(installed)
    if view["ike_state"] == "ESTABLISHED" and installed.issuperset(EXPECTED_CHILDREN):
        view["status"] = "UP"
    return view


def tunnels_status(runtime: LabRuntime) -> list[dict[str, Any]]:
    """Per tunnel, the AWS side's view (like VgwTelemetry) plus the CGW's view.

    `status` is UP when the AWS side has the IKE SA established and both
    child SAs (`bgp` and `lan`) installed; the BGP session is reported apart.
    """
    state = runtime.state
    sides = {}
    for side in ("aws", "cgw"):
        try:
            sides[side] = list_sas(runtime, state[f"{side}_ns"])
        except OSError:  # charon not running (crashed or stopped)
            sides[side] = []
    result = []
    for tunnel in state["tunnels"]:
        aws = tunnel_view(sides["aws"], tunnel["aws_connection"])
        cgw = tunnel_view(sides["cgw"], tunnel["cgw_connection"])
        result.append(
            {
                "name": tunnel["name"],
                "vgw_outside_ip": tunnel["vgw_outside_ip"],
                "cgw_outside_ip": tunnel["cgw_outside_ip"],
                "vgw_inside_ip": tunnel["vgw_inside_ip"],
                "cgw_inside_ip": tunnel["cgw_inside_ip"],
                "status": aws["status"],
                "ike_state": aws["ike_state"],
                "child_sas_installed": aws["child_sas_installed"],
                "bytes_in": aws["bytes_in"],
                "bytes_out": aws["bytes_out"],
                "packets_in": aws["packets_in"],
                "packets_out": aws["packets_out"],
                "aws": aws,
                "cgw": cgw,
            }
        )
    return result


def bgp_status(ns: str) -> dict[str, dict[str, Any]]:
    """Per neighbor: state, prefixes received/sent, uptime (FRR's bgp summary)."""
    try:
        summary = vtysh_json(ns, "show bgp ipv4 unicast summary json")
    except (netns.LabNetworkError, json.JSONDecodeError):
        return {}
    peers = summary.get("peers", summary.get("ipv4Unicast", {}).get("peers", {}))
    return {
        neighbor: {
            "remote_as": peer.get("remoteAs"),
            "state": peer.get("state"),
            "prefixes_received": peer.get("pfxRcd", 0),
            "prefixes_sent": peer.get("pfxSnt", 0),
            "uptime": peer.get("peerUptime"),
            "uptime_ms": peer.get("peerUptimeMsec", 0),
        }
        for neighbor, peer in peers.items()
    }


def route_rows(ns: str) -> list[dict[str, Any]]:
    """zebra's IPv4 RIB, one row per next hop, plus charon's table 220.

    Table 220 holds the routes charon installs for each child SA's remote
    traffic selector (pointing into ipsec0); policy routing consults it
    before the main table, so it is what actually steers tunnel traffic.
    """
    rows: list[dict[str, Any]] = []
    try:
        rib = vtysh_json(ns, "show ip route json")
    except (netns.LabNetworkError, json.JSONDecodeError):
        rib = {}
    for prefix, entries in rib.items():
        for entry in entries:
            for hop in entry.get("nexthops", []) or [{}]:
                rows.append(
                    {
                        "prefix": prefix,
                        "protocol": entry.get("protocol"),
                        "next_hop": hop.get("ip") or hop.get("interfaceName") or "",
                        "interface": hop.get("interfaceName", ""),
                        "selected": bool(entry.get("selected", False)),
                        "installed": bool(hop.get("fib", False)),
                        "table": "main",
                    }
                )
    result = netns.ip_in(ns, "-j", "route", "show", "table", "220", check=False)
    if result.returncode == 0 and result.stdout.strip():
        for route in json.loads(result.stdout):
            prefix = route.get("dst", "")
            rows.append(
                {
                    "prefix": prefix if "/" in prefix else f"{prefix}/32",
                    "protocol": "ipsec",
                    "next_hop": route.get("gateway") or route.get("dev", ""),
                    "interface": route.get("dev", ""),
                    "selected": True,
                    "installed": True,
                    "table": "220",
                }
            )
    return rows


def daemons_status(runtime: LabRuntime) -> list[dict[str, Any]]:
    return [
        {"name": d.name, "ns": d.ns, "pid": d.pid, "running": runtime.is_running(d), "log": d.log}
        for d in runtime.daemons
    ]


def collect(runtime: LabRuntime, with_routes: bool = True) -> dict[str, Any]:
    state = runtime.state
    sides = {"aws": state["aws_ns"], "cgw": state["cgw_ns"]}
    report = {
        "lab_dir": str(runtime.lab_dir),
        "collected_at": time.time(),
        "tunnels": tunnels_status(runtime),
        "bgp": {side: bgp_status(ns) for side, ns in sides.items()},
        "daemons": daemons_status(runtime),
    }
    if with_routes:
        report["routes"] = {side: route_rows(ns) for side, ns in sides.items()}
    return report


def all_up(report: dict[str, Any]) -> bool:
    """Both ends see every tunnel UP and every BGP session Established."""
    tunnels_up = all(t["status"] == "UP" and t["cgw"]["status"] == "UP" for t in report["tunnels"])
    expected_peers = len(report["tunnels"])
    bgp_up = all(
        len(peers) >= expected_peers and all(p["state"] == "Established" for p in peers.values())
        for peers in report["bgp"].values()
    )
    return tunnels_up and bgp_up
