"""The hybrid network as a graph, drawn from the API's state and coloured by the verdicts.

`collect_topology(ctx, ev)` reads what the map shows (the VPC and its subnets, the
transit gateway and its route table, the VPN connections with their tunnels, the
customer gateway, the Resolver endpoints and forwarding rule, the Client VPN
endpoints with their target networks and connected users) as plain data, and
joins the router's own view where the health check reached it (its BGP session
over each tunnel, the prefixes learned over it, what it announces);
`graph(data, verdicts)` turns it into a networkx graph, pure: each node and link
with its kind, layer (on-prem left, tunnels in the middle, AWS right), label, and
the status and cause of the verdicts that concern it. `charts.topology_chart` draws it.
"""

from __future__ import annotations

import ipaddress
import re

import networkx as nx
import pandas as pd

from ..charts import STATUS_COLOURS
from .verdicts import SEVERITY

# Left to right: on-prem, the internet (tunnels, remote users), AWS.
LAYERS = [
    "on-prem hosts",
    "on-prem network",
    "customer gateway",
    "internet",
    "AWS edge",
    "transit gateway",
    "VPC",
    "subnets",
    "in the subnets",
    "Resolver rule",
]
KIND_LAYER = {
    "onprem_host": 0,
    "dns_server": 0,
    "onprem_network": 1,
    "customer_gateway": 2,
    "tunnel": 3,
    "remote_user": 3,
    "vpn_connection": 4,
    "client_vpn": 4,
    "transit_gateway": 5,
    "vpc": 6,
    "subnet": 7,
    "resolver_endpoint": 8,
    "vpc_host": 8,
    "resolver_rule": 9,
}
# Top to bottom within a layer: the site-to-site path, then DNS, then Client VPN.
KIND_BAND = {"resolver_endpoint": 1, "resolver_rule": 1, "dns_server": 1, "client_vpn": 2, "remote_user": 2}
# A node no verdict concerns is neutral; the others have the verdict charts' colours.
UNJUDGED_COLOUR = "#90a4ae"
IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


# --- the API's state -----------------------------------------------------------------------------


def collect_topology(ctx, ev) -> dict:
    """What the map shows, read through ctx.client (and from the evidence the health
    check already holds). A part that is not there (no VPC with the params' CIDR, no
    DNS section, ...) is left out, never made up."""
    from ..phases import PhaseError, find_vpc
    from ..phases.tgw_attachment import number_tunnels

    p, ec2 = ctx.params, ctx.client("ec2")
    data: dict = {
        "stack": p.name,
        "region": p.region,
        "vpc": None,
        "subnets": [],
        "transit_gateways": [],
        "vpn_connections": [],
        "customer_gateways": [],
        "resolver": {},
        "client_vpn": [],
        "hosts": [],
        "onprem": {
            "cidr": p.onprem.cidr,
            "dns_server": p.onprem.dns_server,
            "domain": p.onprem.domain,
            "hosts": dict(p.onprem.hosts),
        },
    }
    try:
        vpc = find_vpc(ctx)
    except PhaseError:
        vpc = None
    if vpc is not None:
        names = {s.cidr: s.name for s in p.vpc.subnets}
        data["vpc"] = {"id": vpc["VpcId"], "cidr": vpc["CidrBlock"], "name": _tag(vpc, "Name")}
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
        data["subnets"] = sorted(
            (
                {
                    "id": s["SubnetId"],
                    "cidr": s["CidrBlock"],
                    "az": s.get("AvailabilityZone", ""),
                    "name": names.get(s["CidrBlock"]) or _tag(s, "Name") or s["SubnetId"],
                }
                for s in subnets
            ),
            key=lambda s: ipaddress.ip_network(s["cidr"]),
        )
    vpn_ids = sorted(set(ev.telemetry["vpn_connection_id"])) if not ev.telemetry.empty else []
    vpns = ec2.describe_vpn_connections(VpnConnectionIds=vpn_ids)["VpnConnections"] if vpn_ids else []
    for vpn in vpns:
        data["vpn_connections"].append(
            {
                "id": vpn["VpnConnectionId"],
                "transit_gateway_id": vpn.get("TransitGatewayId"),
                "customer_gateway_id": vpn.get("CustomerGatewayId"),
                "tunnels": [
                    {
                        "number": t.number,
                        "outside_ip": t.outside_ip,
                        "inside_cidr": t.inside_cidr,
                        "aws_inside_ip": t.aws_inside_ip,
                        "status": t.status,
                        "message": t.status_message,
                    }
                    for t in number_tunnels(ctx, vpn)
                ],
            }
        )
    data["router"] = router_view(ev)
    tgw_ids = sorted({v["transit_gateway_id"] for v in data["vpn_connections"] if v["transit_gateway_id"]})
    for tgw in ec2.describe_transit_gateways(TransitGatewayIds=tgw_ids)["TransitGateways"] if tgw_ids else []:
        attachments = ec2.describe_transit_gateway_attachments(
            Filters=[{"Name": "transit-gateway-id", "Values": [tgw["TransitGatewayId"]]}]
        )["TransitGatewayAttachments"]
        data["transit_gateways"].append(
            {
                "id": tgw["TransitGatewayId"],
                "asn": tgw["Options"].get("AmazonSideAsn"),
                "route_table": tgw["Options"].get("AssociationDefaultRouteTableId"),
                "vpc_ids": sorted(
                    {
                        a["ResourceId"]
                        for a in attachments
                        if a.get("ResourceType") == "vpc" and a.get("State") not in ("deleted", "deleting")
                    }
                ),
            }
        )
    cgw_ids = sorted({v["customer_gateway_id"] for v in data["vpn_connections"] if v["customer_gateway_id"]})
    for cgw in ec2.describe_customer_gateways(CustomerGatewayIds=cgw_ids)["CustomerGateways"] if cgw_ids else []:
        data["customer_gateways"].append(
            {"id": cgw["CustomerGatewayId"], "ip": cgw.get("IpAddress"), "asn": cgw.get("BgpAsn")}
        )
    if p.dns and vpc is not None:
        from ..phases import hybrid_dns

        for direction in ("INBOUND", "OUTBOUND"):
            endpoint = hybrid_dns.find_endpoint(ctx, direction, vpc["VpcId"])
            if endpoint is not None:
                data["resolver"][direction.lower()] = {
                    "id": endpoint["Id"],
                    "ips": [a["Ip"] for a in hybrid_dns.endpoint_ips(ctx, endpoint["Id"])],
                }
        rule = hybrid_dns.find_forward_rule(ctx)
        if rule is not None:
            data["resolver"]["rule"] = {
                "id": rule["Id"],
                "domain": rule["DomainName"].rstrip("."),
                "targets": [t["Ip"] for t in rule.get("TargetIps", [])],
                "endpoint_id": rule.get("ResolverEndpointId"),
            }
    endpoints = ev.client_vpn.get("endpoints") if ev.client_vpn else None
    connections = ev.client_vpn.get("connections") if ev.client_vpn else None
    for row in [] if endpoints is None else endpoints.to_dict("records"):
        networks = ec2.describe_client_vpn_target_networks(ClientVpnEndpointId=row["endpoint_id"])[
            "ClientVpnTargetNetworks"
        ]
        users = (
            []
            if connections is None
            else connections[
                (connections["endpoint_id"] == row["endpoint_id"]) & (connections["status"] == "active")
            ].to_dict("records")
        )
        data["client_vpn"].append(
            {
                "id": row["endpoint_id"],
                "status": row["status"],
                "client_cidr": row["client_cidr"],
                "subnet_ids": [n["TargetNetworkId"] for n in networks if n["Status"]["Code"] == "associated"],
                "users": [{"name": u["common_name"], "ip": u["client_ip"]} for u in users],
            }
        )
    if ev.hosts is not None:
        named = ev.hosts[ev.hosts["ssm_status"] != "NotConfigured"]
        data["hosts"] = [
            {"role": r["role"], "host": r["host"], "ip": r["ip_address"]} for r in named.to_dict("records")
        ]
    return data


def router_view(ev) -> dict:
    """What the customer gateway itself says (its BGP sessions and table, read through
    the data plane by the health check): per AWS inside address the session's state,
    per tunnel the prefixes learned over it, and what the router announces. When the
    router was not reached, `reached` is False and `source` says why."""
    bgp, neighbors = ev.router_bgp, ev.router_neighbors
    source = ev.router_source or ""
    if bgp is None or source.startswith("router not reachable"):
        return {
            "reached": False,
            "source": source or "the router's view was not read",
            "sessions": {},
            "prefixes": {},
            "announced": [],
        }
    learned = bgp[bgp["tunnel"] != "-"]
    return {
        "reached": True,
        "source": source,
        "sessions": {} if neighbors is None else dict(zip(neighbors["neighbor"], neighbors["state"])),
        "prefixes": {int(k): int(v) for k, v in learned.groupby("tunnel")["prefix"].nunique().items()},
        "announced": sorted(set(bgp[(bgp["tunnel"] == "-") & (bgp["as_path"] == "-")]["prefix"])),
    }


def _tag(item: dict, key: str) -> str:
    return next((t["Value"] for t in item.get("Tags", []) if t["Key"] == key), "")


# --- the graph (pure) ----------------------------------------------------------------------------


def graph(data: dict, verdicts: pd.DataFrame | None = None) -> nx.Graph:
    """The network as nodes and links, each with kind, layer, label, status (OK / WARN /
    FAIL, None when no verdict concerns it), cause and colour. Verdicts no node or
    link stands for are listed in graph.graph["unplaced"]."""
    g = nx.Graph(stack=data.get("stack", ""), layers=LAYERS, unplaced=[])
    onprem = data["onprem"]
    net = "onprem"
    _node(g, net, "onprem_network", f"on-prem\n{onprem['cidr']}\n{onprem.get('domain', '')}")
    _node(g, "dns_server", "dns_server", f"DNS server\n{onprem['dns_server']}", role="onprem_dns")
    g.add_edge("dns_server", net)
    host_roles = {h["role"]: h for h in data.get("hosts", [])}
    client = host_roles.get("onprem_client")
    for name, ip in onprem.get("hosts", {}).items():
        role = "onprem_client" if client and client.get("ip") == ip else None
        _node(g, f"host:{name}", "onprem_host", f"{name}\n{ip}", role=role)
        g.add_edge(f"host:{name}", net)
    if client and not any(d.get("role") == "onprem_client" for _, d in g.nodes(data=True)):
        _node(g, "host:onprem_client", "onprem_host", f"{client['host']}\n(onprem_client)", role="onprem_client")
        g.add_edge("host:onprem_client", net)
    router = data.get("router") or {}
    for cgw in data.get("customer_gateways", []):
        _node(
            g,
            cgw["id"],
            "customer_gateway",
            f"customer gateway\n{cgw['ip']}\nASN {cgw['asn']}" + _router_line(router),
            role="router",
        )
        g.add_edge(net, cgw["id"])
    for vpn in data.get("vpn_connections", []):
        _node(g, vpn["id"], "vpn_connection", f"VPN\n{vpn['id']}")
        for t in vpn["tunnels"]:
            tid = _tunnel_id(vpn["id"], t["outside_ip"])
            session, prefixes = _router_tunnel(router, t)
            _node(
                g,
                tid,
                "tunnel",
                f"tunnel {t['number']} {t['status']}\n{t['outside_ip']}\n{t['inside_cidr']}"
                + (f"\nrouter: BGP {session}, {prefixes} prefix{'es' if prefixes != 1 else ''}" if session else ""),
                vpn=vpn["id"],
                outside_ip=t["outside_ip"],
                up=t["status"] == "UP",
                router_bgp=session,
                router_prefixes=prefixes,
            )
            if vpn.get("customer_gateway_id") in g:
                g.add_edge(vpn["customer_gateway_id"], tid, kind="tunnel")
            g.add_edge(tid, vpn["id"], kind="tunnel")
    vpc = data.get("vpc")
    if vpc:
        _node(g, vpc["id"], "vpc", f"VPC {vpc.get('name') or ''}\n{vpc['cidr']}\n{vpc['id']}")
        for s in data.get("subnets", []):
            _node(g, s["id"], "subnet", f"{s['name']}\n{s['cidr']}")
            g.add_edge(vpc["id"], s["id"])
    for tgw in data.get("transit_gateways", []):
        _node(
            g,
            tgw["id"],
            "transit_gateway",
            f"transit gateway\n{tgw['id']}\nASN {tgw['asn']}\nroute table\n{tgw.get('route_table') or '-'}",
        )
        for vpn in data.get("vpn_connections", []):
            if vpn.get("transit_gateway_id") == tgw["id"]:
                g.add_edge(vpn["id"], tgw["id"], kind="vpn_attachment")
        for vpc_id in tgw.get("vpc_ids", []):
            if vpc_id in g:
                g.add_edge(tgw["id"], vpc_id, kind="vpc_attachment")
    resolver = data.get("resolver") or {}
    for direction in ("inbound", "outbound"):
        endpoint = resolver.get(direction)
        if endpoint:
            _node(
                g,
                endpoint["id"],
                "resolver_endpoint",
                f"Resolver {direction}\n" + "\n".join(endpoint["ips"]),
                direction=direction,
            )
            _attach(g, endpoint["id"], endpoint["ips"], data.get("subnets", []), vpc)
    rule = resolver.get("rule")
    if rule:
        _node(g, rule["id"], "resolver_rule", f"FORWARD {rule['domain']}\n-> {', '.join(rule['targets'])}")
        outbound = (resolver.get("outbound") or {}).get("id")
        if outbound in g:
            g.add_edge(outbound, rule["id"], kind="forward")
    for endpoint in data.get("client_vpn", []):
        _node(g, endpoint["id"], "client_vpn", f"Client VPN\n{endpoint['id']}\n{endpoint['client_cidr']}")
        for subnet_id in endpoint.get("subnet_ids", []):
            if subnet_id in g:
                g.add_edge(endpoint["id"], subnet_id, kind="target_network")
        for user in endpoint.get("users", []):
            uid = f"user:{endpoint['id']}:{user['ip']}"
            _node(g, uid, "remote_user", f"{user['name'] or 'user'}\n{user['ip']}")
            g.add_edge(uid, endpoint["id"], kind="client_connection")
    for role in ("remote_user", "remote_user_away"):
        if role in host_roles:
            _node(g, f"host:{role}", "remote_user", f"{host_roles[role]['host']}\n({role})", role=role)
            for endpoint in data.get("client_vpn", []):
                g.add_edge(f"host:{role}", endpoint["id"], kind="remote")
    if "vpc_client" in host_roles:
        h = host_roles["vpc_client"]
        _node(g, "host:vpc_client", "vpc_host", f"{h['host']}\n{h.get('ip') or ''}".strip(), role="vpc_client")
        _attach(g, "host:vpc_client", [h.get("ip")] if h.get("ip") else [], data.get("subnets", []), vpc)
    if verdicts is not None:
        for row in verdicts.to_dict("records"):
            _place(g, row)
    for _, d in g.nodes(data=True):
        d["colour"] = STATUS_COLOURS.get(d["status"], UNJUDGED_COLOUR)
    for _, _, d in g.edges(data=True):
        d.setdefault("kind", "link")
        d.setdefault("status", None)
        d.setdefault("cause", "")
        d["colour"] = STATUS_COLOURS.get(d["status"], UNJUDGED_COLOUR)
        d["label"] = d["cause"]
    return g


def _router_line(router: dict) -> str:
    """The customer gateway's own word on its label: what it announces, or that it was
    not reached (nothing from the router is then shown as if it were known)."""
    if not router:
        return ""
    if not router.get("reached"):
        return "\nrouter not reached"
    announced = router.get("announced") or []
    return f"\nannounces {', '.join(announced)}" if announced else "\nannounces nothing"


def _router_tunnel(router: dict, tunnel: dict) -> tuple[str, int]:
    """The router's BGP session over `tunnel` (its AWS inside address) and the prefixes
    it learned over it; ("", 0) when the router was not reached."""
    if not router.get("reached"):
        return "", 0
    session = router.get("sessions", {}).get(tunnel.get("aws_inside_ip"), "no session")
    return session, int(router.get("prefixes", {}).get(tunnel["number"], 0))


def _node(g: nx.Graph, node: str, kind: str, label: str, **attrs) -> None:
    g.add_node(
        node,
        kind=kind,
        layer=KIND_LAYER[kind],
        band=KIND_BAND.get(kind, 0),
        label=label,
        status=None,
        cause="",
        checks=[],
        **attrs,
    )


def _tunnel_id(vpn_id: str, outside_ip: str) -> str:
    return f"tunnel:{vpn_id}:{outside_ip}"


def _attach(g: nx.Graph, node: str, ips: list[str], subnets: list[dict], vpc: dict | None) -> None:
    """Links `node` to the subnets its IPs are in, else to the VPC."""
    homes = {s["id"] for ip in ips for s in subnets if _in(ip, s["cidr"]) and s["id"] in g}
    for home in sorted(homes) or ([vpc["id"]] if vpc and vpc["id"] in g else []):
        g.add_edge(node, home)


def _in(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)
    except ValueError:
        return False


def _mark(item: dict, status: str, cause: str, check: str) -> None:
    """The worst status wins; the causes of the worst ones are the label."""
    if item.get("status") is None or SEVERITY[status] > SEVERITY[item["status"]]:
        item["status"], item["cause"] = status, cause if status != "OK" else ""
    elif status == item["status"] and status != "OK" and cause and cause not in item["cause"].split(", "):
        item["cause"] = ", ".join(c for c in (item["cause"], cause) if c)
    item.setdefault("checks", []).append(check)


def _nodes(g: nx.Graph, **match) -> list[str]:
    return [n for n, d in g.nodes(data=True) if all(d.get(k) == v for k, v in match.items())]


def _place(g: nx.Graph, verdict: dict) -> None:
    """Marks the nodes and links the verdict concerns (see the README's topology map)."""
    check, status = verdict["check"], verdict["status"]
    cause, reason = verdict.get("cause") or "", verdict.get("reason") or ""
    nodes: list[str] = []
    if check.startswith(("tunnels", "BGP routes", "tunnel history")):
        vpn_id = check.split(" ", 1)[1] if check.startswith("tunnels ") or check.startswith("BGP routes ") else ""
        vpn_id = vpn_id.removeprefix("routes ").strip()
        vpns = [vpn_id] if vpn_id in g else _nodes(g, kind="vpn_connection")
        for vpn in vpns:
            if check.startswith("tunnels"):
                _mark(g.nodes[vpn], status, cause, check)
            if check == "tunnel history" and status != "OK" and not IP.search(reason):
                _mark(g.nodes[vpn], status, cause, check)  # no data: the metric, not a link, is missing
                continue
            _mark_tunnels(g, vpn, status, cause, reason, check)
        if vpns or check == "tunnel history":
            return
        nodes = _nodes(g, kind="customer_gateway")  # no VPN connection: the gateway has no tunnel
    elif check == "TGW route to on-prem":
        edges = [(u, v) for u, v, d in g.edges(data=True) if d.get("kind") == "vpn_attachment"]
        for u, v in edges:
            _mark(g.edges[u, v], status, cause, check)
        if edges:
            return
        nodes = _nodes(g, kind="transit_gateway")
    elif check in ("router BGP table", "router daemons"):
        nodes = _nodes(g, role="router")
    elif check == "on-prem DNS server":
        nodes = _nodes(g, role="onprem_dns")
    elif check == "hybrid DNS":
        nodes = _nodes(g, kind="resolver_endpoint") + _nodes(g, kind="resolver_rule")
    elif check == "inbound endpoints":
        nodes = _nodes(g, kind="resolver_endpoint", direction="inbound")
    elif check.startswith("client VPN"):
        endpoint = check.removeprefix("client VPN").strip()
        nodes = [endpoint] if endpoint in g else _nodes(g, kind="client_vpn")
    elif check in ("connect handler", "certificates"):
        nodes = _nodes(g, kind="client_vpn")
    elif check == "hosts (SSM)":
        nodes = [n for n, d in g.nodes(data=True) if d.get("role")]
    elif check.startswith("host "):
        nodes = _nodes(g, role=check.removeprefix("host ").strip())
    elif check.endswith(" daemons"):
        nodes = _nodes(g, role=check.removesuffix(" daemons").strip())
    for node in nodes:
        _mark(g.nodes[node], status, cause, check)
    if not nodes:
        g.graph["unplaced"].append(verdict)


def _mark_tunnels(g: nx.Graph, vpn: str, status: str, cause: str, reason: str, check: str) -> None:
    """The tunnel links of `vpn`: where the reason names outside IPs, those carry the
    verdict (red when the tunnel is DOWN) and the others are OK; else all carry it."""
    tunnels = _nodes(g, kind="tunnel", vpn=vpn)
    named = set(IP.findall(reason)) & {g.nodes[t]["outside_ip"] for t in tunnels}
    for t in tunnels:
        d = g.nodes[t]
        if status != "OK" and named and d["outside_ip"] not in named:
            mark = ("OK", "")
        elif status != "OK" and named and not d.get("up"):
            mark = ("FAIL", cause)
        else:
            mark = (status, cause)
        _mark(d, *mark, check)
        for other in g.neighbors(t):
            _mark(g.edges[t, other], *mark, check)


def nodes_frame(g: nx.Graph) -> pd.DataFrame:
    """The nodes as a table: what the map shows, for the notebook and the tests."""
    return pd.DataFrame(
        [
            {
                "node": n,
                "kind": d["kind"],
                "label": d["label"].replace("\n", " "),
                "status": d["status"] or "-",
                "cause": d["cause"],
            }
            for n, d in g.nodes(data=True)
        ],
        columns=["node", "kind", "label", "status", "cause"],
    )


def edges_frame(g: nx.Graph) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"from": u, "to": v, "kind": d["kind"], "status": d["status"] or "-", "cause": d["cause"]}
            for u, v, d in g.edges(data=True)
        ],
        columns=["from", "to", "kind", "status", "cause"],
    )


__all__ = ["LAYERS", "collect_topology", "edges_frame", "graph", "nodes_frame", "router_view"]
