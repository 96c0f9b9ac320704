"""Tunnel status: the current VgwTelemetry and the AWS/VPN TunnelState history."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..aws import AwsContext, ClientSource

TELEMETRY_COLUMNS = [
    "vpn_connection_id",
    "outside_ip",
    "status",
    "status_message",
    "accepted_routes",
    "last_status_change",
]
TIMELINE_COLUMNS = ["vpn_connection_id", "outside_ip", "time", "up"]
MAX_METRIC_QUERIES = 500  # GetMetricData's limit of MetricDataQueries per call


def stack_vpn_connections(ctx: AwsContext) -> list[dict]:
    found = ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters())["VpnConnections"]
    return [v for v in found if v["State"] in ("pending", "available")]


def telemetry_frame(connections: list[dict]) -> pd.DataFrame:
    """One row per tunnel, as DescribeVpnConnections reports it now."""
    rows = [
        {
            "vpn_connection_id": vpn["VpnConnectionId"],
            "outside_ip": t["OutsideIpAddress"],
            "status": t["Status"],
            "status_message": t.get("StatusMessage", ""),
            "accepted_routes": t.get("AcceptedRouteCount", 0),
            "last_status_change": t.get("LastStatusChange"),
        }
        for vpn in connections
        for t in vpn.get("VgwTelemetry", [])
    ]
    return pd.DataFrame(rows, columns=TELEMETRY_COLUMNS)


def timeline_frame(
    ctx: ClientSource, connections: list[dict], lookback_minutes: int, period_seconds: int = 60
) -> pd.DataFrame:
    """TunnelState (1 up, 0 down) per tunnel and period over the look-back window."""
    rows = [
        {"vpn_connection_id": vpn_id, "outside_ip": ip, "time": when, "up": value >= 1}
        for (vpn_id, ip), when, value in _tunnel_state_points(ctx, connections, lookback_minutes, period_seconds)
    ]
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS).sort_values(["outside_ip", "time"], ignore_index=True)


def window_minimums(ctx: ClientSource, connections: list[dict], lookback_minutes: int) -> dict[tuple[str, str], float]:
    """(VPN connection, outside IP) -> the lowest TunnelState over the whole look-back
    window (one period: a point per tunnel); a tunnel without data is absent. A
    minimum of 1 means UP throughout: no drop, without reading its timeline."""
    lowest: dict[tuple[str, str], float] = {}
    for key, _, value in _tunnel_state_points(ctx, connections, lookback_minutes, lookback_minutes * 60):
        lowest[key] = min(value, lowest.get(key, value))
    return lowest


def _tunnel_state_points(ctx: ClientSource, connections: list[dict], lookback_minutes: int, period_seconds: int):
    """((VPN connection, outside IP), time, value) of each TunnelState Minimum point."""
    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(minutes=lookback_minutes)
    queries: list[dict] = []
    keys: dict[str, tuple[str, str]] = {}
    for vpn in connections:
        for t in vpn.get("VgwTelemetry", []):
            query_id = f"q{len(queries)}"
            keys[query_id] = (vpn["VpnConnectionId"], t["OutsideIpAddress"])
            queries.append(
                {
                    "Id": query_id,
                    "ReturnData": True,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/VPN",
                            "MetricName": "TunnelState",
                            "Dimensions": [
                                {"Name": "VpnId", "Value": vpn["VpnConnectionId"]},
                                {"Name": "TunnelIpAddress", "Value": t["OutsideIpAddress"]},
                            ],
                        },
                        "Period": period_seconds,
                        "Stat": "Minimum",
                    },
                }
            )
    paginator = ctx.client("cloudwatch").get_paginator("get_metric_data")
    for first in range(0, len(queries), MAX_METRIC_QUERIES):  # a fleet's tunnels: 500 a call
        pages = paginator.paginate(
            MetricDataQueries=queries[first : first + MAX_METRIC_QUERIES], StartTime=start, EndTime=end
        )
        for page in pages:
            for result in page["MetricDataResults"]:
                key = keys[result["Id"]]
                for when, value in zip(result["Timestamps"], result["Values"]):
                    yield key, when, value
