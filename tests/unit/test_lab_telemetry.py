"""What the lab's agent reports of each tunnel, from the lab's status (no daemons needed)."""

from __future__ import annotations

from hybridnet.lab.telemetry import tunnel_reports

STATUS = {
    "running": True,
    "tunnels": [
        {
            "vgw_outside_ip": "203.0.113.11",
            "cgw_inside_ip": "169.254.11.2",
            "status": "UP",
            "bytes_in": 1200,
            "bytes_out": 900,
        },
        {"vgw_outside_ip": "203.0.113.12", "cgw_inside_ip": "169.254.12.2", "status": "UP"},
        {"vgw_outside_ip": "203.0.113.13", "cgw_inside_ip": "169.254.13.2", "status": "DOWN"},
    ],
    "bgp": {"aws": {"169.254.11.2": {"state": "Established"}, "169.254.12.2": {"state": "Active"}}},
    "routes": {
        "aws": [
            {"prefix": "192.168.0.0/16", "protocol": "bgp", "next_hop": "169.254.11.2"},
            {"prefix": "192.168.0.0/16", "protocol": "bgp", "next_hop": "169.254.12.2"},
            {"prefix": "169.254.11.2/32", "protocol": "ipsec", "next_hop": "ipsec0"},
        ]
    },
}


def test_messages_and_routes_follow_ipsec_and_bgp_as_vgw_telemetry_does():
    reports = {r["outside_ip"]: r for r in tunnel_reports(STATUS)}
    assert reports["203.0.113.11"] == {
        "outside_ip": "203.0.113.11",
        "status": "UP",
        "status_message": "1 BGP ROUTES",
        "received_routes": ["192.168.0.0/16"],
        "bytes_in": 1200,
        "bytes_out": 900,
    }
    # IPsec up, BGP not established: no routes count, whatever the RIB still holds
    assert (reports["203.0.113.12"]["status_message"], reports["203.0.113.12"]["received_routes"]) == (
        "BGP IS ACTIVE",
        [],
    )
    assert (reports["203.0.113.13"]["status"], reports["203.0.113.13"]["status_message"]) == ("DOWN", "IPSEC IS DOWN")
