"""The fleet's verdicts: one row per resource and check, each WARN and FAIL with its cause.

A connection is judged by the single-stack health check's own checks
(diagnostics.verdicts: tunnels now, BGP routes, tunnel history), over the data
the fleet collectors read, plus the transit gateway's route via the connection's
attachment. Each region's Resolver and Client VPN endpoints are judged by their
status. An account-region (or a part of one) that could not be read is a row
saying so, with AWS's reason: missing data is never shown as healthy.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..diagnostics import causes, signals, tunnels, verdicts, vpnlogs
from ..diagnostics.verdicts import FAIL, OK, SEVERITY, WARN, Evidence, Verdict
from ..params import Thresholds
from .collect import Reading

COLUMNS = [
    "account",
    "region",
    "resource",
    "name",
    "gateway",
    "check",
    "status",
    "cause",
    "reason",
    "action",
    "evidence",
]
# The checks of one connection, in the table's order (and the heatmap's columns).
CONNECTION_CHECKS = ["tunnels", "BGP routes", "tunnel history", "TGW route"]
CHECK_ORDER = {
    name: i
    for i, name in enumerate(["access", *CONNECTION_CHECKS, "Resolver endpoint", "Client VPN endpoint", "tunnel logs"])
}
# A connection's causes are read from its other evidence: no timeline (made once).
NO_TIMELINE = pd.DataFrame(columns=tunnels.TIMELINE_COLUMNS)
NO_DATA_ACTION = "see AWS's reason: the fleet check reads it with the account's reader role (README: fleet)"
# Resolver endpoint status -> verdict (AWS's ResolverEndpoint Status values).
RESOLVER_STATUS = {
    "OPERATIONAL": OK,
    "CREATING": WARN,
    "UPDATING": WARN,
    "AUTO_RECOVERING": WARN,
    "ACTION_NEEDED": FAIL,
    "DELETING": WARN,
}


def judge(readings: list[Reading], thresholds: Thresholds) -> pd.DataFrame:
    """Every reading's verdict rows (COLUMNS), worst first."""
    rows: list[dict] = []
    for reading in readings:
        rows += _reading_rows(reading, thresholds)
    return order(pd.DataFrame(rows, columns=COLUMNS))


def order(table: pd.DataFrame) -> pd.DataFrame:
    """Worst first; then account, region, name (a connection's Name tag: the same from
    run to run, unlike its id), resource and the checks' own order."""
    ranked = table.assign(_sev=-table["status"].map(SEVERITY), _check=table["check"].map(CHECK_ORDER).fillna(99))
    return (
        ranked.sort_values(["_sev", "account", "region", "name", "resource", "_check"], kind="stable")
        .drop(columns=["_sev", "_check"])
        .reset_index(drop=True)
    )


def exit_code(table: pd.DataFrame) -> int:
    """0 all OK, 1 WARN only, 2 any FAIL (as the single-stack health check); an empty fleet is WARN."""
    if table.empty:
        return SEVERITY[WARN]
    return int(table["status"].map(SEVERITY).max())


def _row(reading: Reading, resource: str, name: str, gateway: str, verdict: Verdict) -> dict:
    return {
        "account": reading.account,
        "region": reading.region,
        "resource": resource,
        "name": name,
        "gateway": gateway,
        "check": verdict.check,
        "status": verdict.status,
        "cause": verdict.cause,
        "reason": verdict.reason,
        "action": verdict.action,
        "evidence": verdict.evidence,
    }


def _no_data(check: str, what: str) -> Verdict:
    text = f"no data: {what}"
    code, shown, fix = causes.diagnose(
        "access",
        text,
        causes.signals_frame([{"source": "api", "subject": "", "time": None, "text": what, "healthy": False}]),
    )
    return Verdict(check, WARN, text, fix or NO_DATA_ACTION, code, shown)


def _reading_rows(reading: Reading, thresholds: Thresholds) -> list[dict]:
    if "connections" in reading.errors:
        return [_row(reading, "-", "", "", _no_data("access", reading.errors["connections"]))]
    rows = []
    telemetry = pd.DataFrame(
        [{"vpn_connection_id": c["id"], **t} for c in reading.connections for t in c["tunnels"]],
        columns=tunnels.TELEMETRY_COLUMNS,
    )
    timeline = pd.DataFrame(reading.history, columns=tunnels.TIMELINE_COLUMNS)
    logs = vpnlogs.empty_frame() if not reading.logs else pd.DataFrame(reading.logs, columns=vpnlogs.COLUMNS)
    if not logs.empty:
        logs["time"] = pd.to_datetime(logs["time"], utc=True)
    # The single-stack checks over the whole account-region at once (each judges per connection) ...
    ev = Evidence(
        params=None, thresholds=thresholds, telemetry=telemetry, timeline=timeline, tgw_routes=None, router_bgp=None
    )
    by_vpn: dict[str, list[Verdict]] = {}
    for verdict in verdicts.check_tunnels(ev) + verdicts.check_accepted_routes(ev) if not telemetry.empty else []:
        by_vpn.setdefault(verdict.check.split(" ", 2)[-1], []).append(_named(verdict))
    drops: dict = {}
    if "history" not in reading.errors:  # a tunnel UP all the window has no timeline: no drop
        drops = {(vpn_id, ip): 0 for vpn_id, ip in reading.steady} | verdicts.tunnel_drops(timeline)
    # ... then, per connection, its history, its TGW route and the causes of what is not OK.
    for connection in reading.connections:
        found = by_vpn.get(connection["id"], [])
        for verdict in _connection_verdicts(reading, connection, found, drops, thresholds, telemetry, logs):
            rows.append(_row(reading, connection["id"], connection["name"], connection["gateway_id"], verdict))
    for check, part in (("tunnel logs", "logs"),):
        if part in reading.errors:
            rows.append(_row(reading, "-", "", "", _no_data(check, reading.errors[part])))
    rows += _endpoint_rows(reading)
    return rows


def _connection_verdicts(
    reading: Reading,
    connection: dict,
    found: list[Verdict],
    drops: dict,
    thresholds: Thresholds,
    telemetry: pd.DataFrame,
    logs: pd.DataFrame,
) -> list[Verdict]:
    if not connection["tunnels"]:
        return [
            Verdict(
                "tunnels",
                WARN,
                f"no data: AWS reports no tunnel telemetry yet (state {connection['state']})",
                "wait for the connection to become available; if it stays so, see its state in the console",
                causes.UNKNOWN,
                "VgwTelemetry is empty",
            )
        ]
    vpn_id = connection["id"]
    found = list(found)
    if "history" in reading.errors:
        found.append(_no_data("tunnel history", reading.errors["history"]))
    else:
        mine = {
            t["outside_ip"]: drops[(vpn_id, t["outside_ip"])]
            for t in connection["tunnels"]
            if (vpn_id, t["outside_ip"]) in drops
        }
        found.append(verdicts.history_verdict(mine, len(connection["tunnels"]), thresholds))
    fact = None
    if connection["gateway_type"] == "tgw":
        verdict, fact = _tgw_route(reading, connection)
        found.append(verdict)
    if all(v.status == OK for v in found):
        return found
    # The causes, from this connection's evidence only: its telemetry, its logs, the route fact.
    ev = Evidence(
        params=None,
        thresholds=thresholds,
        telemetry=telemetry[telemetry["vpn_connection_id"] == vpn_id],
        timeline=NO_TIMELINE,
        tgw_routes=None,
        router_bgp=None,
        vpn_logs=logs[logs["vpn_connection_id"] == vpn_id] if not logs.empty else None,
        facts=pd.DataFrame([fact] if fact else [], columns=["subject", "text", "ok"]),
    )
    gathered = signals.gather_records(ev)
    return [_with_cause(v, gathered) for v in found]


KEYS = {
    "tunnels": "tunnels",
    "BGP routes": "accepted_routes",
    "tunnel history": "tunnel_history",
    "TGW route": "tgw_routes",
}


def _named(verdict: Verdict) -> Verdict:
    """ "tunnels vpn-..." -> "tunnels": the table's resource column names the connection."""
    return replace(verdict, check=verdict.check.split(" vpn-")[0])


def _with_cause(verdict: Verdict, gathered: list[dict]) -> Verdict:
    if verdict.status == OK or verdict.cause:
        return verdict
    code, shown, fix = causes.diagnose(KEYS[verdict.check], f"{verdict.check} {verdict.reason}", gathered)
    return replace(verdict, cause=code, evidence=shown, action=fix or verdict.action)


def _tgw_route(reading: Reading, connection: dict) -> tuple[Verdict, dict | None]:
    """The verdict, and the API fact that names its cause when the tunnels learned
    routes the route table did not get."""
    if "tgw_routes" in reading.errors:
        return _no_data("TGW route", reading.errors["tgw_routes"]), None
    vpn_id, table = connection["id"], reading.route_tables.get(connection["id"])
    if table is None:
        return Verdict(
            "TGW route",
            FAIL,
            f"no associated VPN attachment of {vpn_id} on {connection['gateway_id']}",
            "associate the VPN attachment with a route table of the transit gateway",
            causes.UNKNOWN,
            "DescribeTransitGatewayAttachments: no association",
        ), None
    prefixes = reading.tgw_routes.get(vpn_id) or []
    if prefixes:
        return Verdict("TGW route", OK, f"{', '.join(sorted(prefixes))} via the VPN attachment in {table}"), None
    fact = None
    if any(t["status"] == "UP" and t["accepted_routes"] > 0 for t in connection["tunnels"]):
        fact = {
            "subject": "",
            "ok": False,
            "text": f"tunnels of {vpn_id} have accepted routes but route table {table} holds none via its attachment",
        }
    return Verdict(
        "TGW route",
        FAIL,
        f"no active route via the VPN attachment of {vpn_id} in {table}",
        "the VPCs cannot reach this site: check BGP on the tunnels and the attachment's propagation",
    ), fact


def _endpoint_rows(reading: Reading) -> list[dict]:
    rows = []
    for part, check in (("resolver_endpoints", "Resolver endpoint"), ("client_vpn_endpoints", "Client VPN endpoint")):
        if part in reading.errors:
            rows.append(_row(reading, "-", "", "", _no_data(check, reading.errors[part])))
    for e in reading.resolver_endpoints or []:
        status = RESOLVER_STATUS.get(e["status"], WARN)
        said = f"{e['direction'].lower()} endpoint {e['status']}, {e['ip_count']} IPs" + (
            f": {e['status_message']}" if e["status_message"] and status != OK else ""
        )
        action = (
            ""
            if status == OK
            else (
                "see the endpoint's status message: an IP's subnet or ENI needs attention; "
                "recreate the IP (AssociateResolverEndpointIpAddress)"
            )
        )
        rows.append(
            _row(
                reading,
                e["id"],
                e["name"],
                "",
                Verdict(
                    "Resolver endpoint",
                    status,
                    said,
                    action,
                    "" if status == OK else causes.UNKNOWN,
                    "" if status == OK else f"Status {e['status']}",
                ),
            )
        )
    for e in reading.client_vpn_endpoints or []:
        if e["status"] == "available":
            verdict = Verdict("Client VPN endpoint", OK, "available")
        elif e["status"] == "pending-associate":
            verdict = Verdict(
                "Client VPN endpoint",
                FAIL,
                "pending-associate: no target network, no user can connect",
                "associate a target network (a subnet of the VPC)",
                causes.UNKNOWN,
                "Status pending-associate",
            )
        else:
            verdict = Verdict(
                "Client VPN endpoint",
                WARN,
                f"{e['status']}: {e['status_message']}".rstrip(": "),
                "see the endpoint's status",
                causes.UNKNOWN,
                f"Status {e['status']}",
            )
        rows.append(_row(reading, e["id"], e["name"], "", verdict))
    return rows


def summary(readings: list[Reading], table: pd.DataFrame) -> str:
    """One line: connections, tunnels UP, verdict counts, unreadable account-regions."""
    connections = sum(len(r.connections) for r in readings)
    tunnels_all = [t for r in readings for c in r.connections for t in c["tunnels"]]
    up = sum(1 for t in tunnels_all if t["status"] == "UP")
    unread = sum(1 for r in readings if "connections" in r.errors)
    counts = table["status"].value_counts()
    return (
        f"{connections} connections, {up} of {len(tunnels_all)} tunnels UP, in {len(readings)} account-region"
        f"{'s' if len(readings) != 1 else ''}"
        f"{f' ({unread} not readable)' if unread else ''}; verdicts: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in (FAIL, WARN, OK))
    )
