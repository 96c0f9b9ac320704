"""The health check's evidence as one table of signals (source, subject, time,
text, healthy) for the cause catalogue (diagnostics.causes) to match: each
collected frame says, row by row, what it shows about what."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from ..phases.hybrid_dns import ONPREM_SIDE, VPC_SIDE
from .causes import signals_frame

if TYPE_CHECKING:
    from .verdicts import Evidence


FAILURE_WORDS = re.compile(
    r"unsuccessful|mismatch|no proposal|not responsive|dead|timed out|received delete|"
    r"failed|unacceptable|error|authentication",
    re.IGNORECASE,
)


def _vpn_logs(ev: Evidence) -> list[dict]:
    rows: list[dict] = []
    logs = ev.vpn_logs
    if logs is None:
        return rows
    for r in logs.itertuples():
        if r.log == "bgp":
            rows.append(
                {
                    "source": "vpn-bgp-log",
                    "subject": r.outside_ip,
                    "time": r.time,
                    "text": f"BGP {r.bgp_status or '-'}: {r.detail}",
                    "healthy": str(r.bgp_status).upper() in ("UP", "ADVERTISED", "UPDATED"),
                }
            )
        else:
            phases = (str(r.phase1).lower(), str(r.phase2).lower())
            # An error message is not health, whatever states the entry carries (another SA
            # of the tunnel may still be up while the new negotiation fails).
            rows.append(
                {
                    "source": "vpn-tunnel-log",
                    "subject": r.outside_ip,
                    "time": r.time,
                    "text": f"{r.detail} (phase 1 {r.phase1}, phase 2 {r.phase2})",
                    "healthy": phases == ("established", "established") and not FAILURE_WORDS.search(str(r.detail)),
                }
            )
    return rows


def _telemetry(ev: Evidence) -> list[dict]:
    tunnels = ev.telemetry.to_dict("records")
    rows = [
        {
            "source": "telemetry",
            "subject": t["outside_ip"],
            "time": None,
            "text": f"{t['status']}, {t['accepted_routes']} accepted routes: {t['status_message'] or '-'}",
            "healthy": t["status"] == "UP" and t["accepted_routes"] > 0,
        }
        for t in tunnels
    ]
    for vpn_id in sorted({t["vpn_connection_id"] for t in tunnels}):
        mine = [t for t in tunnels if t["vpn_connection_id"] == vpn_id]
        if not any(t["status"] == "UP" for t in mine):  # what crosses the VPN fails with it
            rows.append(
                {
                    "source": "telemetry",
                    "subject": "",
                    "time": None,
                    "healthy": False,
                    "text": f"all tunnels of {vpn_id} DOWN: "
                    + "; ".join(f"{t['outside_ip']} {t['status_message'] or '-'}" for t in mine),
                }
            )
    return rows


def _daemons(ev: Evidence) -> list[dict]:
    if ev.daemons is None:
        return []
    return [
        {
            "source": "daemons",
            "subject": "",
            "time": None,
            "healthy": bool(r.running),
            "text": f"{r.daemon} {'running' if r.running else 'not running'} on hosts.{r.role} {r.host}",
        }
        for r in ev.daemons.itertuples()
        if not pd.isna(r.running)
    ]


def _router(ev: Evidence) -> list[dict]:
    if ev.router_neighbors is None:
        return []
    return [
        {
            "source": "router",
            "subject": "",
            "time": None,
            "healthy": r["state"] == "Established",
            "text": f"BGP neighbor {r['neighbor']} (AS {r['remote_as']}) {r['state']}: last reset "
            f"{r['last_reset'] or '-'}, notification {r['notification'] or '-'}",
        }
        for r in ev.router_neighbors.to_dict("records")
    ]


# Whose resolver a host asks through (the runbook's hosts: the on-prem client's is the
# IDC's DNS server, the VPC host's the VPC resolver); dig names no server on a timeout.
SIDE_RESOLVER = {ONPREM_SIDE: "on-prem DNS server", VPC_SIDE: "VPC resolver"}


def _server_role(ev: Evidence, server: str, side: str = "") -> str:
    p = ev.params
    if server in ("", "-"):
        return SIDE_RESOLVER.get(side, "DNS server")
    if p is None:  # no stack's parameters (the fleet check): nothing names the server
        return "DNS server"
    if server == p.onprem.dns_server:
        return "on-prem DNS server"
    if server == str(ipaddress.ip_network(p.vpc.cidr).network_address + 2):
        return "VPC resolver"
    if p.dns and server in p.dns.inbound_ips:
        return "inbound endpoint"
    return "DNS server"


def _dns(ev: Evidence) -> list[dict]:
    rows = []
    for frame in (ev.dns, ev.dns_endpoints):
        if frame is None:
            continue
        for r in frame.to_dict("records"):
            if r.get("rcode") == "UNREACHABLE":
                continue  # the host was not reached: says nothing about DNS
            server, name = r.get("server", ""), str(r.get("name", "?"))
            role = _server_role(ev, server, r.get("side", ""))
            # The on-prem server answers its own zone itself: a timeout there is the server, not the path.
            own = (
                role == "on-prem DNS server"
                and ev.params is not None
                and name.rstrip(".").lower().endswith("." + ev.params.onprem.domain.lower())
            )
            rows.append(
                {
                    "source": "dns",
                    "subject": "",
                    "time": None,
                    "healthy": bool(r.get("ok")),
                    "text": f"{role} {server} asked from {r.get('side', '?')} for {name} "
                    f"({'a name of its own zone' if own else 'a name it forwards'}): "
                    f"{r.get('rcode', '?')} {r.get('detail') or ''}".rstrip(),
                }
            )
    return rows


def _facts(ev: Evidence) -> list[dict]:
    if ev.facts is None:
        return []
    return [
        {"source": "api", "subject": r.subject, "time": None, "text": r.text, "healthy": bool(r.ok)}
        for r in ev.facts.itertuples()
    ]


def _certificates(ev: Evidence) -> list[dict]:
    if ev.certificates is None:
        return []
    rows = []
    for r in ev.certificates.itertuples():
        if pd.isna(r.days_left):
            continue
        when = (
            f"expired {abs(r.days_left):.0f} day(s) ago" if r.days_left < 0 else f"expires in {r.days_left:.0f} day(s)"
        )
        rows.append(
            {
                "source": "api",
                "subject": r.endpoint_id,
                "time": None,
                "healthy": r.days_left > ev.thresholds.cert_warn_days,
                "text": f"certificate {r.certificate} ({r.role}, {r.domain}) {when}",
            }
        )
    return rows


def _client_vpn(ev: Evidence) -> list[dict]:
    rows = []
    log = ev.client_vpn_log
    if log is not None:
        for r in log.itertuples():
            reason = r.failure_reason or ""
            rows.append(
                {
                    "source": "client-vpn-log",
                    "subject": r.endpoint_id,
                    "time": r.time,
                    "healthy": not reason,
                    "text": f"{r.client_ip} ({r.common_name}): {r.status} {reason} {r.handler_status or ''}".strip(),
                }
            )
    probe = ev.client_vpn.get("handler_probe")
    if probe is not None:
        for r in probe.to_dict("records"):
            reason = r.get("failure_reason") or ""
            expected = bool(r["allow"]) == bool(r["expected_allow"]) and not reason.startswith("client-connect-handler")
            rows.append(
                {
                    "source": "handler",
                    "subject": r["endpoint_id"],
                    "time": None,
                    "healthy": expected,
                    "text": f"{r['event']} ({r['public_ip']}): {reason or 'admitted'}: {r['message']}",
                }
            )
    return rows


GATHERERS: tuple[Callable[[Evidence], list[dict]], ...] = (
    _vpn_logs,
    _telemetry,
    _daemons,
    _router,
    _dns,
    _facts,
    _certificates,
    _client_vpn,
)


def gather_records(ev: Evidence) -> list[dict]:
    """Every signal in `ev`, as plain records (a fleet judges hundreds of connections)."""
    return [row for gatherer in GATHERERS for row in gatherer(ev)]


def gather(ev: Evidence) -> pd.DataFrame:
    return signals_frame(gather_records(ev))


__all__ = ["gather", "gather_records"]
