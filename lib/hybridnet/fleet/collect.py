"""What the fleet check reads, one account-region at a time, as plain data.

The calls grow with account-regions, not with connections:

- one DescribeVpnConnections (the fleet's tag filters, pending and available);
- GetMetricData with up to 500 TunnelState queries a call (diagnostics.tunnels):
  each tunnel's lowest state over the window, then the timeline of those that
  were down at some point;
- one DescribeTransitGatewayAttachments (VPN attachments, paginated) and one
  SearchTransitGatewayRoutes per route table those attachments are associated with;
- one ListResolverEndpoints and one DescribeClientVpnEndpoints (paginated);
- the tunnels' logs only for connections that are not healthy and log (to name
  the cause), as the single-stack reader reads them.

Account-regions are read in parallel (max_workers), each call with botocore's
adaptive retries (aws.RETRY_CONFIG). A part that cannot be read is recorded with
the reason (AWS's error code and message) and the other parts still are.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import pandas as pd
from botocore.exceptions import ClientError

from ..aws import paginate, tag_value
from ..diagnostics import tunnels, vpnlogs
from .params import Fleet
from .scopes import AWS_FAILURES, Scope

LIVE_STATES = ["pending", "available"]
# Each part of a reading, in the order they are read; "connections" first: without it nothing else is.
PARTS = ("connections", "history", "tgw_routes", "logs", "resolver_endpoints", "client_vpn_endpoints")


@dataclass
class Reading:
    """One account-region as read: JSON-ready, so that shards can be merged."""

    account: str
    region: str
    connections: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)  # tunnels.TIMELINE_COLUMNS, time as ISO text
    steady: list[list[str]] = field(default_factory=list)  # [VPN id, outside IP] UP all the window: no timeline
    tgw_routes: dict[str, list[str]] = field(default_factory=dict)  # VPN id -> active prefixes via its attachment
    route_tables: dict[str, str] = field(default_factory=dict)  # VPN id -> its attachment's route table
    logs: list[dict] = field(default_factory=list)  # vpnlogs.tunnel_log_frame rows, time as ISO text
    resolver_endpoints: list[dict] | None = None
    client_vpn_endpoints: list[dict] | None = None
    errors: dict[str, str] = field(default_factory=dict)  # part -> why it was not read
    calls: int = 0
    seconds: float = 0.0

    def record(self) -> dict:
        return asdict(self)


def error_text(exc: Exception) -> str:
    """AWS's code and message (what the causes catalogue matches), or botocore's words."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "")
        return f"{operation}: {error.get('Code', '?')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def read_scope(scope: Scope, fleet: Fleet) -> Reading:
    """Every part of one account-region; never raises for AWS's refusals."""
    started, before = time.monotonic(), scope.counter.total
    reading = Reading(scope.account.name, scope.region)
    if scope.unreachable:
        reading.errors["connections"] = scope.unreachable
        return reading
    connections: list[dict] = []
    for part in PARTS:
        if part != "connections" and "connections" in reading.errors:
            break
        if part == "resolver_endpoints" and not fleet.resolver_endpoints:
            continue
        if part == "client_vpn_endpoints" and not fleet.client_vpn_endpoints:
            continue
        if part == "logs" and not fleet.tunnel_logs:
            continue
        try:
            if part == "connections":
                connections = _connections(scope, fleet)
                reading.connections = [_connection(v) for v in connections]
            else:
                READERS[part](scope, fleet, connections, reading)
        except AWS_FAILURES as exc:
            reading.errors[part] = error_text(exc)
    reading.calls = scope.counter.total - before
    reading.seconds = round(time.monotonic() - started, 3)
    return reading


def _connections(scope: Scope, fleet: Fleet) -> list[dict]:
    filters = fleet.tag_filters() + [{"Name": "state", "Values": LIVE_STATES}]
    found = scope.client("ec2").describe_vpn_connections(Filters=filters)["VpnConnections"]
    return sorted((v for v in found if v["State"] in LIVE_STATES), key=lambda v: v["VpnConnectionId"])


def _connection(vpn: dict) -> dict:
    return {
        "id": vpn["VpnConnectionId"],
        "name": tag_value(vpn, "Name") or "",
        "gateway_id": vpn.get("TransitGatewayId") or vpn.get("VpnGatewayId") or "",
        "gateway_type": "tgw" if vpn.get("TransitGatewayId") else "vgw" if vpn.get("VpnGatewayId") else "",
        "customer_gateway_id": vpn.get("CustomerGatewayId", ""),
        "state": vpn["State"],
        "logging": sorted(vpnlogs.tunnel_logs(vpn)),
        "tunnels": [
            {
                "outside_ip": t["OutsideIpAddress"],
                "status": t["Status"],
                "status_message": t.get("StatusMessage", ""),
                "accepted_routes": t.get("AcceptedRouteCount", 0),
                "last_status_change": _iso(t.get("LastStatusChange")),
            }
            for t in vpn.get("VgwTelemetry", [])
        ],
    }


def _iso(value) -> str | None:
    return None if value is None else pd.Timestamp(value).isoformat()


def _history(scope: Scope, fleet: Fleet, connections: list[dict], reading: Reading) -> None:
    """Each tunnel's lowest state over the window first; the timeline only of those
    that were down at some point (a healthy fleet's tunnels need one point each)."""
    lowest = tunnels.window_minimums(scope, connections, fleet.lookback_minutes)
    reading.steady = sorted([vpn_id, ip] for (vpn_id, ip), value in lowest.items() if value >= 1)
    dipped = {key for key, value in lowest.items() if value < 1}
    wanted = [
        {**v, "VgwTelemetry": [t for t in v["VgwTelemetry"] if (v["VpnConnectionId"], t["OutsideIpAddress"]) in dipped]}
        for v in connections
        if any((v["VpnConnectionId"], t["OutsideIpAddress"]) in dipped for t in v.get("VgwTelemetry", []))
    ]
    if wanted:
        frame = tunnels.timeline_frame(scope, wanted, fleet.lookback_minutes)
        reading.history = [{**r, "time": pd.Timestamp(r["time"]).isoformat()} for r in frame.to_dict("records")]


def _tgw_routes(scope: Scope, fleet: Fleet, connections: list[dict], reading: Reading) -> None:
    if not any(v.get("TransitGatewayId") for v in connections):
        return
    ec2 = scope.client("ec2")
    attachments = paginate(
        ec2,
        "describe_transit_gateway_attachments",
        "TransitGatewayAttachments",
        Filters=[{"Name": "resource-type", "Values": ["vpn"]}],
    )
    ours = {v["VpnConnectionId"] for v in connections}
    tables: dict[str, str] = {}
    for attachment in attachments:
        table = (attachment.get("Association") or {}).get("TransitGatewayRouteTableId")
        if attachment.get("ResourceId") in ours and table:
            tables[attachment["ResourceId"]] = table
    reading.route_tables = tables
    reading.tgw_routes = {vpn_id: [] for vpn_id in tables}
    for table in sorted(set(tables.values())):
        routes = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table,
            MaxResults=1000,
            Filters=[{"Name": "attachment.resource-type", "Values": ["vpn"]}, {"Name": "state", "Values": ["active"]}],
        )["Routes"]
        for route in routes:
            for attached in route.get("TransitGatewayAttachments") or []:
                vpn_id = attached.get("ResourceId")
                if vpn_id in reading.tgw_routes and tables.get(vpn_id) == table:
                    reading.tgw_routes[vpn_id].append(route.get("DestinationCidrBlock") or "")


def _logs(scope: Scope, fleet: Fleet, connections: list[dict], reading: Reading) -> None:
    """Only the connections that log and are not healthy now: the logs name why."""
    unwell = [
        v
        for v in connections
        if vpnlogs.tunnel_logs(v)
        and any(
            t["Status"] != "UP" or t.get("AcceptedRouteCount", 0) < fleet.thresholds.min_accepted_routes
            for t in v.get("VgwTelemetry", [])
        )
    ]
    if not unwell:
        return
    frame = vpnlogs.tunnel_log_frame(scope, unwell, fleet.lookback_minutes)
    reading.logs = [{**r, "time": pd.Timestamp(r["time"]).isoformat()} for r in frame.to_dict("records")]


def _resolver_endpoints(scope: Scope, fleet: Fleet, connections: list[dict], reading: Reading) -> None:
    found = paginate(scope.client("route53resolver"), "list_resolver_endpoints", "ResolverEndpoints")
    reading.resolver_endpoints = [
        {
            "id": e["Id"],
            "name": e.get("Name", ""),
            "direction": e.get("Direction", ""),
            "status": e.get("Status", ""),
            "status_message": e.get("StatusMessage", ""),
            "ip_count": e.get("IpAddressCount", 0),
        }
        for e in found
    ]


def _client_vpn_endpoints(scope: Scope, fleet: Fleet, connections: list[dict], reading: Reading) -> None:
    found = paginate(scope.client("ec2"), "describe_client_vpn_endpoints", "ClientVpnEndpoints")
    reading.client_vpn_endpoints = [
        {
            "id": e["ClientVpnEndpointId"],
            "name": tag_value(e, "Name") or "",
            "status": (e.get("Status") or {}).get("Code", ""),
            "status_message": (e.get("Status") or {}).get("Message", ""),
        }
        for e in found
        if (e.get("Status") or {}).get("Code") != "deleted"
    ]


READERS = {
    "history": _history,
    "tgw_routes": _tgw_routes,
    "logs": _logs,
    "resolver_endpoints": _resolver_endpoints,
    "client_vpn_endpoints": _client_vpn_endpoints,
}


# Per AWS service the readers call, an operation they page through.
PAGED = {
    "ec2": "describe_transit_gateway_attachments",
    "cloudwatch": "get_metric_data",
    "route53resolver": "list_resolver_endpoints",
    "logs": "filter_log_events",
}


def services(fleet: Fleet) -> list[str]:
    """The AWS services the readers call, with these settings."""
    return ["ec2", "cloudwatch"] + ["route53resolver"] * fleet.resolver_endpoints + ["logs"] * fleet.tunnel_logs


def read_fleet(scopes: list[Scope], fleet: Fleet) -> list[Reading]:
    """Every account-region, `max_workers` at a time, in the scopes' order."""
    if not scopes:
        return []
    # One client of each service made here, before the threads: it loads the service's
    # model and its paginators' once; in the threads, each would load them again
    # (botocore's loader caches, but does not wait for a load under way).
    for scope in [s for s in scopes if not s.unreachable][:1]:
        for service in services(fleet):
            scope.client(service).can_paginate(PAGED[service])
    with ThreadPoolExecutor(max_workers=min(fleet.max_workers, len(scopes)), thread_name_prefix="fleet") as pool:
        return list(pool.map(lambda s: read_scope(s, fleet), scopes))
