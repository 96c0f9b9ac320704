"""The topology map: the graph from plain data (what collect_topology reads from the API)
coloured by the verdicts of hand-made evidence, and its chart saved as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from hybridnet import charts
from hybridnet.diagnostics import routes, tunnels, verdicts
from hybridnet.diagnostics.topology import STATUS_COLOURS, UNJUDGED_COLOUR, edges_frame, graph, nodes_frame, router_view
from hybridnet.params import Thresholds, load_params

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
VPN = "vpn-0123456789abcdef0"
T0 = pd.Timestamp("2026-12-02T10:00:00Z")
PSK = "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key"
GREEN, RED = STATUS_COLOURS["OK"], STATUS_COLOURS["FAIL"]


def data(
    vpc_cidr="10.0.0.0/16",
    subnets=(("endpoints-a", "10.0.1.0/24"), ("endpoints-c", "10.0.2.0/24")),
    onprem="192.168.0.0/16",
    dns_server="192.168.2.250",
    hosts=None,
    outside=("203.0.113.11", "203.0.113.12"),
    inside=("169.254.11.0/30", "169.254.12.0/30"),
    status=("UP", "UP"),
    stack="anycompany",
    inbound=("10.0.1.250", "10.0.2.250"),
    outbound=("10.0.1.251", "10.0.2.251"),
    domain="anycompany.corp",
):
    """What collect_topology returns, by hand."""
    subnet_rows = [
        {"id": f"subnet-{i:017x}", "name": name, "cidr": cidr, "az": "ap-northeast-2a"}
        for i, (name, cidr) in enumerate(subnets, start=1)
    ]
    return {
        "stack": stack,
        "region": "ap-northeast-2",
        "onprem": {
            "cidr": onprem,
            "dns_server": dns_server,
            "domain": domain,
            "hosts": hosts if hosts is not None else {"websrv": "192.168.2.20"},
        },
        "vpc": {"id": "vpc-0aaaaaaaaaaaaaaaa", "cidr": vpc_cidr, "name": f"{stack}-vpc"},
        "subnets": subnet_rows,
        "transit_gateways": [
            {
                "id": "tgw-0bbbbbbbbbbbbbbbb",
                "asn": 64512,
                "route_table": "tgw-rtb-0cccccccccccccccc",
                "vpc_ids": ["vpc-0aaaaaaaaaaaaaaaa"],
            }
        ],
        "customer_gateways": [{"id": "cgw-0dddddddddddddddd", "ip": "198.51.100.10", "asn": 65016}],
        "vpn_connections": [
            {
                "id": VPN,
                "transit_gateway_id": "tgw-0bbbbbbbbbbbbbbbb",
                "customer_gateway_id": "cgw-0dddddddddddddddd",
                "tunnels": [
                    {
                        "number": n,
                        "outside_ip": ip,
                        "inside_cidr": cidr,
                        "status": s,
                        "aws_inside_ip": _first_host(cidr),
                        "message": "",
                    }
                    for n, (ip, cidr, s) in enumerate(zip(outside, inside, status), start=1)
                ],
            }
        ],
        "resolver": {
            "inbound": {"id": "rslvr-in-1", "ips": list(inbound)},
            "outbound": {"id": "rslvr-out-1", "ips": list(outbound)},
            "rule": {"id": "rslvr-rr-1", "domain": domain, "targets": [dns_server], "endpoint_id": "rslvr-out-1"},
        },
        "client_vpn": [
            {
                "id": "cvpn-endpoint-0eeeeeeeeeeeeeeee",
                "status": "available",
                "client_cidr": "172.16.0.0/22",
                "subnet_ids": [s["id"] for s in subnet_rows],
                "users": [{"name": "client1.hybridnet.lab", "ip": "172.16.0.2"}],
            }
        ],
        "hosts": [
            {"role": "router", "host": "seed-idc-router", "ip": "198.51.100.10"},
            {"role": "onprem_dns", "host": "seed-idc-dns", "ip": dns_server},
            {"role": "onprem_client", "host": "seed-idc-websrv", "ip": "192.168.2.20"},
            {"role": "vpc_client", "host": "seed-web1", "ip": "10.0.1.10"},
        ],
    }


def _first_host(cidr: str) -> str:
    import ipaddress

    return str(next(ipaddress.ip_network(cidr).hosts()))


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params" / "lab.yaml")


def judged(params, rows, vpn_logs=None, history=False) -> pd.DataFrame:
    """The verdicts of hand-made evidence, as the health check judges it."""
    telemetry = pd.DataFrame(
        [
            {
                "vpn_connection_id": VPN,
                "outside_ip": ip,
                "status": status,
                "status_message": message,
                "accepted_routes": routes,
                "last_status_change": None,
            }
            for ip, status, message, routes in rows
        ],
        columns=tunnels.TELEMETRY_COLUMNS,
    )
    tgw = pd.DataFrame(
        [
            {
                "prefix": "192.168.0.0/16",
                "type": "propagated",
                "state": "active",
                "resource_type": "vpn",
                "resource_id": VPN,
                "attachment_id": "tgw-attach-1",
            }
        ]
    )
    ev = verdicts.Evidence(
        params=params,
        thresholds=Thresholds(),
        telemetry=telemetry,
        timeline=pd.DataFrame(
            [{"vpn_connection_id": VPN, "outside_ip": ip, "time": T0, "up": True} for ip, *_ in rows if history],
            columns=tunnels.TIMELINE_COLUMNS,
        ),
        tgw_routes=tgw,
        router_bgp=None,
        vpn_logs=vpn_logs,
    )
    return verdicts.verdict_frame(verdicts.evaluate(ev))


def tunnel_links(g, vpn=VPN):
    """outside IP -> the link from the customer gateway to that tunnel."""
    return {
        g.nodes[t]["outside_ip"]: g.edges["cgw-0dddddddddddddddd", t]
        for t in g.nodes
        if g.nodes[t]["kind"] == "tunnel" and g.nodes[t]["vpn"] == vpn
    }


def test_every_part_is_drawn_from_the_data_and_all_ok_is_green(params):
    found = judged(params, [("203.0.113.11", "UP", "", 1), ("203.0.113.12", "UP", "", 1)], history=True)
    assert set(found["status"]) == {"OK"}
    g = graph(data(), found)
    kinds = nodes_frame(g).groupby("kind")["node"].apply(list).to_dict()
    assert len(kinds["tunnel"]) == 2 and kinds["customer_gateway"] == ["cgw-0dddddddddddddddd"]
    assert set(kinds["subnet"]) == {"subnet-00000000000000001", "subnet-00000000000000002"}
    assert {g.nodes[n]["direction"] for n in kinds["resolver_endpoint"]} == {"inbound", "outbound"}
    assert "FORWARD anycompany.corp\n-> 192.168.2.250" == g.nodes["rslvr-rr-1"]["label"]
    assert g.has_edge("rslvr-out-1", "rslvr-rr-1") and g.has_edge("tgw-0bbbbbbbbbbbbbbbb", "vpc-0aaaaaaaaaaaaaaaa")
    assert g.has_edge("cvpn-endpoint-0eeeeeeeeeeeeeeee", "subnet-00000000000000001")  # a target network
    assert kinds["remote_user"] == ["user:cvpn-endpoint-0eeeeeeeeeeeeeeee:172.16.0.2"]
    assert "169.254.11.0/30" in g.nodes[f"tunnel:{VPN}:203.0.113.11"]["label"]
    # on-prem left, the tunnels in the middle, AWS right
    assert (
        g.nodes["dns_server"]["layer"]
        < g.nodes["cgw-0dddddddddddddddd"]["layer"]
        < g.nodes[f"tunnel:{VPN}:203.0.113.11"]["layer"]
        < g.nodes[VPN]["layer"]
        < g.nodes["vpc-0aaaaaaaaaaaaaaaa"]["layer"]
    )
    links = tunnel_links(g)
    assert {ip: (e["status"], e["colour"], e["label"]) for ip, e in links.items()} == {
        "203.0.113.11": ("OK", GREEN, ""),
        "203.0.113.12": ("OK", GREEN, ""),
    }
    assert g.edges[VPN, "tgw-0bbbbbbbbbbbbbbbb"]["status"] == "OK"  # TGW route to on-prem
    assert g.nodes[VPN]["colour"] == GREEN
    assert g.nodes["vpc-0aaaaaaaaaaaaaaaa"]["colour"] == UNJUDGED_COLOUR  # no verdict concerns it
    assert edges_frame(g).query("status == 'FAIL' or status == 'WARN'").empty


def test_one_tunnel_down_with_a_psk_mismatch_is_one_red_link_labelled_with_the_cause(params):
    logs = pd.DataFrame(
        [
            {
                "time": T0 + pd.Timedelta(seconds=60),
                "vpn_connection_id": VPN,
                "outside_ip": "203.0.113.11",
                "log": "tunnel",
                "phase1": "negotiating",
                "phase2": "down",
                "bgp_status": "",
                "detail": PSK,
            }
        ]
    )
    found = judged(params, [("203.0.113.11", "DOWN", "IPSEC IS DOWN", 0), ("203.0.113.12", "UP", "", 1)], logs)
    tunnels_verdict = found[found["check"] == f"tunnels {VPN}"].iloc[0]
    assert (tunnels_verdict["status"], tunnels_verdict["cause"]) == ("WARN", "IKE_PSK_MISMATCH")
    g = graph(data(status=("DOWN", "UP")), found)
    links = tunnel_links(g)
    assert (links["203.0.113.11"]["colour"], links["203.0.113.11"]["label"]) == (RED, "IKE_PSK_MISMATCH")
    assert (links["203.0.113.12"]["colour"], links["203.0.113.12"]["label"]) == (GREEN, "")
    down = g.nodes[f"tunnel:{VPN}:203.0.113.11"]
    assert (down["status"], down["cause"]) == ("FAIL", "IKE_PSK_MISMATCH") and "DOWN" in down["label"]
    assert g.edges[f"tunnel:{VPN}:203.0.113.11", VPN]["colour"] == RED  # both halves of the link
    assert (g.nodes[VPN]["status"], g.nodes[VPN]["cause"]) == ("WARN", "IKE_PSK_MISMATCH")
    red = edges_frame(g).query("status == 'FAIL'")
    assert set(red["from"]) | set(red["to"]) == {"cgw-0dddddddddddddddd", f"tunnel:{VPN}:203.0.113.11", VPN}


def test_other_params_other_cidrs_and_names(params):
    other = data(
        vpc_cidr="172.31.0.0/16",
        subnets=(("app-1", "172.31.8.0/24"), ("app-2", "172.31.9.0/24"), ("db-1", "172.31.16.0/24")),
        onprem="10.200.0.0/16",
        dns_server="10.200.0.53",
        hosts={"erp": "10.200.1.5", "mail": "10.200.1.6"},
        outside=("192.0.2.41", "192.0.2.42"),
        inside=("169.254.100.0/30", "169.254.100.4/30"),
        stack="branch-2",
        inbound=("172.31.8.250", "172.31.9.250"),
        outbound=("172.31.8.251", "172.31.9.251"),
        domain="branch.example",
    )
    verdict_rows = pd.DataFrame(
        [
            {
                "check": f"tunnels {VPN}",
                "status": "FAIL",
                "cause": "UNKNOWN",
                "reason": "all tunnels DOWN: 192.0.2.41 (IPSEC IS DOWN), 192.0.2.42 (IPSEC IS DOWN)",
            },
            {"check": "hybrid DNS", "status": "FAIL", "cause": "FORWARDER_DOWN", "reason": "x"},
            {"check": "on-prem DNS server", "status": "FAIL", "cause": "", "reason": "named not running"},
            {"check": "something new", "status": "WARN", "cause": "", "reason": "?"},
        ],
        columns=verdicts.COLUMNS,
    )
    g = graph(other, verdict_rows)
    labels = " ".join(nodes_frame(g)["label"])
    for text in (
        "172.31.0.0/16",
        "app-1",
        "db-1",
        "10.200.0.0/16",
        "10.200.0.53",
        "erp",
        "mail",
        "169.254.100.4/30",
        "FORWARD branch.example",
        "192.0.2.42",
    ):
        assert text in labels
    assert "10.0.0.0/16" not in labels and "anycompany" not in labels
    assert g.graph["stack"] == "branch-2"
    assert {e["colour"] for e in tunnel_links(g).values()} == {RED}
    assert {g.nodes[n]["status"] for n in ("rslvr-in-1", "rslvr-out-1", "rslvr-rr-1", "dns_server")} == {"FAIL"}
    assert g.nodes["rslvr-in-1"]["cause"] == "FORWARDER_DOWN"
    # the resolver endpoints sit in the subnets their IPs are in
    assert g.has_edge("rslvr-in-1", "subnet-00000000000000001") and g.has_edge("rslvr-in-1", "subnet-00000000000000002")
    assert [v["check"] for v in g.graph["unplaced"]] == ["something new"]


def test_a_missing_part_is_left_out_not_made_up():
    bare = {**data(), "vpc": None, "subnets": [], "resolver": {}, "client_vpn": [], "hosts": []}
    g = graph(bare, None)
    assert not any(d["kind"] in ("vpc", "subnet", "resolver_endpoint", "client_vpn") for _, d in g.nodes(data=True))
    assert all(d["status"] is None for _, d in g.nodes(data=True))


def test_the_chart_renders_and_saves_a_png(params, tmp_path):
    found = judged(params, [("203.0.113.11", "DOWN", "IPSEC IS DOWN", 0), ("203.0.113.12", "UP", "", 1)])
    fig = charts.topology_chart(graph(data(status=("DOWN", "UP")), found))
    path = charts.save(fig, tmp_path, "topology")
    assert path == tmp_path / "charts" / "topology.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    empty = charts.topology_chart(graph({**data(), "vpn_connections": [], "customer_gateways": []}, None))
    charts.save(empty, tmp_path, "topology_empty")


def router_evidence(params, bgp_rows, neighbor_rows, source="the router's own BGP table: hosts.router r (mi-1)"):
    """Evidence holding only the router's view, as routes.router_bgp_frame and
    routes.router_neighbors_frame give it."""
    return verdicts.Evidence(
        params=params,
        thresholds=Thresholds(),
        telemetry=pd.DataFrame(),
        timeline=pd.DataFrame(),
        tgw_routes=None,
        router_source=source,
        router_bgp=pd.DataFrame(bgp_rows, columns=routes.BGP_COLUMNS),
        router_neighbors=pd.DataFrame(neighbor_rows, columns=routes.NEIGHBOR_COLUMNS),
    )


def test_the_routers_own_view_is_on_its_tunnels_and_gateway(params):
    """Where the health check reached the router, each tunnel says what the router sees
    over it (its BGP session, the prefixes learned) and the gateway what it announces:
    AWS says both tunnels are UP, the router says the second session is Active."""
    ev = router_evidence(
        params,
        [
            {
                "prefix": "10.0.0.0/16",
                "next_hop": "169.254.11.1",
                "as_path": "64512",
                "best": True,
                "multipath": False,
                "tunnel": 1,
            },
            {
                "prefix": "10.1.0.0/16",
                "next_hop": "169.254.11.1",
                "as_path": "64512",
                "best": True,
                "multipath": False,
                "tunnel": 1,
            },
            {
                "prefix": "192.168.0.0/16",
                "next_hop": "0.0.0.0",
                "as_path": "-",
                "best": True,
                "multipath": False,
                "tunnel": "-",
            },
        ],
        [
            {
                "neighbor": "169.254.11.1",
                "remote_as": 64512,
                "state": "Established",
                "last_reset": "",
                "notification": "",
            },
            {
                "neighbor": "169.254.12.1",
                "remote_as": 64512,
                "state": "Active",
                "last_reset": "Hold Timer Expired",
                "notification": "",
            },
        ],
    )
    view = router_view(ev)
    assert view["reached"] and view["announced"] == ["192.168.0.0/16"] and view["prefixes"] == {1: 2}
    g = graph({**data(), "router": view}, None)
    one, two = (g.nodes[f"tunnel:{VPN}:{ip}"] for ip in ("203.0.113.11", "203.0.113.12"))
    assert (one["router_bgp"], one["router_prefixes"]) == ("Established", 2)
    assert "router: BGP Established, 2 prefixes" in one["label"]
    assert (two["router_bgp"], two["router_prefixes"]) == ("Active", 0)
    assert "router: BGP Active, 0 prefixes" in two["label"] and "tunnel 2 UP" in two["label"]
    assert "announces 192.168.0.0/16" in g.nodes["cgw-0dddddddddddddddd"]["label"]


def test_a_router_not_reached_is_said_so_and_nothing_is_made_up(params):
    ev = router_evidence(params, [], [], source="router not reachable: hosts.router has no SSM agent online")
    ev.router_neighbors = None
    view = router_view(ev)
    assert view == {
        "reached": False,
        "source": "router not reachable: hosts.router has no SSM agent online",
        "sessions": {},
        "prefixes": {},
        "announced": [],
    }
    g = graph({**data(), "router": view}, None)
    assert "router not reached" in g.nodes["cgw-0dddddddddddddddd"]["label"]
    for ip in ("203.0.113.11", "203.0.113.12"):
        node = g.nodes[f"tunnel:{VPN}:{ip}"]
        assert "router:" not in node["label"] and node["router_bgp"] == ""
