"""The emulator's view of the data plane: it polls the local lab.

AWS learns tunnel state from its own VPN endpoints; the emulator learns it
from the lab's daemons. Once the lab is registered (admin API
POST /_hybridnet/data-plane), a thread in the emulator process reads the
lab's status every POLL_SECONDS and feeds VgwTelemetry, the TGW's propagated
routes and the AWS/VPN metrics of every VPN connection whose tunnel outside
IPs the lab plays. When the lab goes away, its tunnels turn DOWN again with
the "no lab running" message and the thread ends.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID

POLL_SECONDS = 1.0

_lock = threading.Lock()
_feeds: dict[str, "LabFeed"] = {}


def publish(region: str, vpn_connection_id: str, tunnels: list[dict]) -> None:
    """Apply one data-plane report to a VPN connection (telemetry, routes, metrics)."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    metrics = []
    for tunnel in tunnels:
        delta_in, delta_out = backend.report_tunnel_telemetry(
            vpn_connection_id, tunnel["outside_ip"], tunnel["status"], tunnel.get("status_message", ""),
            list(tunnel.get("received_routes", [])), int(tunnel.get("bytes_in", 0)), int(tunnel.get("bytes_out", 0)),
        )
        dimensions = [{"Name": "VpnId", "Value": vpn_connection_id},
                      {"Name": "TunnelIpAddress", "Value": tunnel["outside_ip"]}]
        for name, value, unit in (("TunnelState", 1.0 if tunnel["status"] == "UP" else 0.0, "None"),
                                  ("TunnelDataIn", float(delta_in), "Bytes"),
                                  ("TunnelDataOut", float(delta_out), "Bytes")):
            # No Timestamp: moto stamps "now" in its own (naive UTC) convention.
            metrics.append({"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit})
    # Published inside the emulator: clients may not write to AWS/ namespaces.
    cloudwatch_backends[DEFAULT_ACCOUNT_ID][region].put_metric_data("AWS/VPN", metrics)


def tunnel_reports(lab_status: dict) -> dict[str, dict]:
    """Per AWS-side outside IP, what VgwTelemetry should say (from lab.status())."""
    routes = lab_status.get("routes", {}).get("aws", [])
    bgp = lab_status.get("bgp", {}).get("aws", {})
    reports = {}
    for tunnel in lab_status.get("tunnels", []):
        cgw_inside = tunnel.get("cgw_inside_ip")
        received = sorted({r["prefix"] for r in routes
                           if r.get("protocol") == "bgp" and r.get("next_hop") == cgw_inside})
        session = bgp.get(cgw_inside, {}).get("state", "Idle")
        if tunnel["status"] != "UP":
            message = "IPSEC IS DOWN"
        elif session != "Established":
            message = f"BGP IS {session.upper()}"
        else:
            message = f"{len(received)} BGP ROUTES"
        reports[tunnel["vgw_outside_ip"]] = {
            "outside_ip": tunnel["vgw_outside_ip"], "status": tunnel["status"], "status_message": message,
            "received_routes": received if session == "Established" else [],
            "bytes_in": int(tunnel.get("bytes_in") or 0), "bytes_out": int(tunnel.get("bytes_out") or 0),
        }
    return reports


def _connections_by_outside_ip(region: str) -> dict[str, str]:
    from moto.ec2.models import ec2_backends

    from .vpn.models import TunnelledVpnConnection

    found = {}
    for connection in ec2_backends[DEFAULT_ACCOUNT_ID][region].vpn_connections.values():
        if isinstance(connection, TunnelledVpnConnection) and connection.state != "deleted":
            for tunnel in connection.tunnel_list:
                found[tunnel.outside_ip] = connection.id
    return found


class LabFeed(threading.Thread):
    def __init__(self, lab_dir: str, region: str):
        super().__init__(name=f"labfeed-{lab_dir}", daemon=True)
        self.lab_dir, self.region = lab_dir, region
        self.stop_event = threading.Event()
        self.polls = 0
        self.last_error: str | None = None
        self.reported: set[str] = set()

    def poll_once(self) -> bool:
        """One round; False when the lab is gone (its tunnels are then DOWN again)."""
        from .. import lab
        from .vpn.models import NO_DATA_PLANE

        status = lab.status(self.lab_dir)
        owners = _connections_by_outside_ip(self.region)
        reports = tunnel_reports(status) if status.get("running") else {}
        gone = {ip: {"outside_ip": ip, "status": "DOWN", "status_message": NO_DATA_PLANE}
                for ip in self.reported - set(reports)}
        by_connection: dict[str, list[dict]] = {}
        for ip, report in {**reports, **gone}.items():
            if ip in owners:
                by_connection.setdefault(owners[ip], []).append(report)
        for vpn_id, tunnels in by_connection.items():
            publish(self.region, vpn_id, tunnels)
        self.reported = set(reports) & set(owners)
        self.polls += 1
        return bool(status.get("running"))

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                if not self.poll_once():
                    break
                self.last_error = None
            except Exception as exc:  # keep feeding; say what went wrong
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.stop_event.wait(POLL_SECONDS)
        with _lock:
            if _feeds.get(self.lab_dir) is self:
                del _feeds[self.lab_dir]


def register(lab_dir: str, region: str) -> dict[str, Any]:
    """Start (or restart) polling the lab in lab_dir; the first poll runs now."""
    with _lock:
        old = _feeds.pop(lab_dir, None)
        if old:
            old.stop_event.set()
        feed = LabFeed(lab_dir, region)
        _feeds[lab_dir] = feed
    running = feed.poll_once()
    feed.start()
    return {"lab_dir": lab_dir, "region": region, "running": running, "interval_s": POLL_SECONDS}


def feeds() -> list[dict[str, Any]]:
    with _lock:
        return [{"lab_dir": f.lab_dir, "region": f.region, "polls": f.polls, "last_error": f.last_error}
                for f in _feeds.values()]
