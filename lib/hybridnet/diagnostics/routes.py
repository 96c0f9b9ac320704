"""BGP routes: the transit gateway's route table and the router's BGP table."""

from __future__ import annotations

import json

import pandas as pd

from ..aws import AwsContext

TGW_COLUMNS = ["prefix", "type", "state", "resource_type", "resource_id", "attachment_id"]
BGP_COLUMNS = ["prefix", "next_hop", "as_path", "best", "multipath", "tunnel"]


def tgw_routes_frame(ctx: AwsContext, transit_gateway_id: str) -> pd.DataFrame:
    """Static and propagated routes of the TGW's default association route table."""
    ec2 = ctx.client("ec2")
    tgw = ec2.describe_transit_gateways(TransitGatewayIds=[transit_gateway_id])["TransitGateways"][0]
    table = tgw["Options"].get("AssociationDefaultRouteTableId")
    rows = []
    for route_type in ("static", "propagated"):
        routes = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table, Filters=[{"Name": "type", "Values": [route_type]}]
        )["Routes"]
        for route in routes:
            attachment = (route.get("TransitGatewayAttachments") or [{}])[0]
            rows.append(
                {
                    "prefix": route.get("DestinationCidrBlock"),
                    "type": route["Type"],
                    "state": route["State"],
                    "resource_type": attachment.get("ResourceType", "-"),
                    "resource_id": attachment.get("ResourceId", "-"),
                    "attachment_id": attachment.get("TransitGatewayAttachmentId", "-"),
                }
            )
    return pd.DataFrame(rows, columns=TGW_COLUMNS).sort_values(["prefix", "type"], ignore_index=True)


# FRR first; Quagga (the seed's router) names the same table the older way.
ROUTER_BGP_COMMAND = "vtysh -c 'show bgp ipv4 unicast json' 2>/dev/null || vtysh -c 'show ip bgp json'"


def router_bgp_frame(ctx: AwsContext, connections: list[dict] | None = None) -> tuple[pd.DataFrame, str]:
    """The customer gateway's BGP table, read on the router itself (hosts.router,
    through the data-plane seam: SSM Run Command), and where it came from. Each
    path learned over a tunnel is numbered as the runbook numbers the tunnels of
    `connections` (by their AWS inside addresses)."""
    from .. import hosts
    from ..phases.tgw_attachment import number_tunnels

    empty = pd.DataFrame(columns=BGP_COLUMNS)
    done = hosts.plane(ctx).run("router", [ROUTER_BGP_COMMAND], timeout=30)
    if not done.ok:
        return empty, f"router not reachable: {done.reason}"
    try:
        table = json.loads(done.stdout).get("routes", {})
    except ValueError:
        return empty, f"router {done.instance_id}: vtysh gave no JSON BGP table: {done.stdout.strip()[:200]!r}"
    tunnels = {t.aws_inside_ip: t.number for vpn in connections or [] for t in number_tunnels(ctx, vpn)}
    rows = []
    for prefix, paths in table.items():
        for path in paths:
            hop = (path.get("nexthops") or [{}])[0].get("ip", "")
            rows.append(
                {
                    "prefix": prefix,
                    "next_hop": hop or "local",
                    "as_path": path.get("path", "") or "-",
                    "best": bool(path.get("bestpath")),
                    "multipath": bool(path.get("multipath")),
                    "tunnel": tunnels.get(hop, "-"),
                }
            )
    frame = pd.DataFrame(rows, columns=BGP_COLUMNS).sort_values(["prefix", "next_hop"], ignore_index=True)
    return frame, f"the router's own BGP table: hosts.router {done.host} ({done.instance_id}), through SSM"


NEIGHBOR_COLUMNS = ["neighbor", "remote_as", "state", "last_reset", "notification"]
ROUTER_NEIGHBORS_COMMAND = "vtysh -c 'show bgp neighbors json'"


def router_neighbors_frame(ctx: AwsContext) -> pd.DataFrame | None:
    """The router's BGP sessions as it sees them (state, why the last one reset, the
    last NOTIFICATION): what names a BGP failure from the on-prem end. None when
    the router was not reached (the BGP table's source says why)."""
    from .. import hosts

    done = hosts.plane(ctx).run("router", [ROUTER_NEIGHBORS_COMMAND], timeout=30)
    if not done.ok:
        return None
    try:
        neighbors = json.loads(done.stdout or "{}")
    except ValueError:
        return None
    rows = [
        {
            "neighbor": ip,
            "remote_as": n.get("remoteAs"),
            "state": n.get("bgpState", "?"),
            "last_reset": n.get("lastResetDueTo", ""),
            "notification": n.get("lastNotificationReason") or n.get("lastErrorCodeSubcode") or "",
        }
        for ip, n in neighbors.items()
        if isinstance(n, dict)
    ]
    return pd.DataFrame(rows, columns=NEIGHBOR_COLUMNS)


def prefixes_per_tunnel(bgp: pd.DataFrame) -> pd.Series:
    learned = bgp[bgp["tunnel"] != "-"]
    return learned.groupby("tunnel")["prefix"].nunique().rename("prefixes")
