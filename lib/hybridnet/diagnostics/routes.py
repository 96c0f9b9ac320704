"""BGP routes: the transit gateway's route table and the router's BGP table."""

from __future__ import annotations

import pandas as pd

from .. import dataplane
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
            TransitGatewayRouteTableId=table, Filters=[{"Name": "type", "Values": [route_type]}])["Routes"]
        for route in routes:
            attachment = (route.get("TransitGatewayAttachments") or [{}])[0]
            rows.append({"prefix": route.get("DestinationCidrBlock"), "type": route["Type"], "state": route["State"],
                         "resource_type": attachment.get("ResourceType", "-"),
                         "resource_id": attachment.get("ResourceId", "-"),
                         "attachment_id": attachment.get("TransitGatewayAttachmentId", "-")})
    return pd.DataFrame(rows, columns=TGW_COLUMNS).sort_values(["prefix", "type"], ignore_index=True)


def router_bgp_frame(ctx: AwsContext) -> tuple[pd.DataFrame, str]:
    """The customer gateway's BGP table, where the router is reachable, and where it came from.

    In the lab: FRR in the customer gateway's namespace. On AWS the router is
    the engineer's own device (reading it over SSM Run Command is not built).
    """
    if ctx.data_plane != dataplane.LAB:
        return pd.DataFrame(columns=BGP_COLUMNS), f"router not reachable: {ctx.data_plane_reason}"
    if not dataplane.lab_running():
        return pd.DataFrame(columns=BGP_COLUMNS), "router not reachable: no lab running (hybridnet lab up)"
    from ..lab import CGW_NS, status
    from ..lab.daemons import vtysh_json

    tunnels = {t["vgw_inside_ip"]: number for number, t in enumerate(status(dataplane.LAB_DIR)["tunnels"], 1)}
    table = vtysh_json(CGW_NS, "show bgp ipv4 unicast json").get("routes", {})
    rows = []
    for prefix, paths in table.items():
        for path in paths:
            hop = (path.get("nexthops") or [{}])[0].get("ip", "")
            rows.append({"prefix": prefix, "next_hop": hop or "local", "as_path": path.get("path", "") or "-",
                         "best": bool(path.get("bestpath")), "multipath": bool(path.get("multipath")),
                         "tunnel": tunnels.get(hop, "-")})
    return pd.DataFrame(rows, columns=BGP_COLUMNS).sort_values(["prefix", "next_hop"], ignore_index=True), \
        "FRR on the lab's customer gateway (hn-cgw)"


def prefixes_per_tunnel(bgp: pd.DataFrame) -> pd.Series:
    learned = bgp[bgp["tunnel"] != "-"]
    return learned.groupby("tunnel")["prefix"].nunique().rename("prefixes")
