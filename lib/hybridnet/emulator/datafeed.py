"""The emulator's view of the data plane: what a data plane reports of its tunnels.

AWS learns tunnel state from its own VPN endpoints; the emulator learns it
from whatever plays them (the lab's agent, hybridnet.lab.telemetry), which
reports every second over the admin API (POST /_hybridnet/data-plane): per
tunnel outside IP, IPsec UP/DOWN, the BGP session's message, the prefixes
received, bytes. Each report feeds VgwTelemetry, the TGW's propagated routes
and the AWS/VPN metrics of the VPN connection owning that outside IP. A report
holds for its lease: when a reporter says it is going (`final`) or stops
reporting, its tunnels turn DOWN again with the "no data plane" message. None
of it is saved with the emulator's state (persistence.py): a restarted emulator
shows the tunnels DOWN until the data plane reports again. The emulator imports
nothing of the lab.
"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID

WATCH_SECONDS = 0.5  # how often leases are checked

_lock = threading.Lock()
_reporters: dict[str, Reporter] = {}
_watchdog: threading.Thread | None = None


def publish(region: str, vpn_connection_id: str, tunnels: list[dict]) -> None:
    """Apply one data-plane report to a VPN connection (telemetry, routes, metrics)."""
    from moto.ec2.models import ec2_backends

    from .vpn.models import TunnelledVpnConnectionBackend

    # moto's EC2 backend, with TunnelledVpnConnectionBackend installed (extensions.install_vpn_connections)
    backend = cast(TunnelledVpnConnectionBackend, ec2_backends[DEFAULT_ACCOUNT_ID][region])
    metrics = []
    for tunnel in tunnels:
        delta_in, delta_out = backend.report_tunnel_telemetry(
            vpn_connection_id,
            tunnel["outside_ip"],
            tunnel["status"],
            tunnel.get("status_message", ""),
            list(tunnel.get("received_routes", [])),
            int(tunnel.get("bytes_in", 0)),
            int(tunnel.get("bytes_out", 0)),
        )
        dimensions = tunnel_dimensions(vpn_connection_id, tunnel["outside_ip"])
        for name, value, unit in (
            ("TunnelState", 1.0 if tunnel["status"] == "UP" else 0.0, "None"),
            ("TunnelDataIn", float(delta_in), "Bytes"),
            ("TunnelDataOut", float(delta_out), "Bytes"),
        ):
            # No Timestamp: moto stamps "now" in its own (naive UTC) convention.
            metrics.append({"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit})
    # Published inside the emulator: clients may not write to AWS/ namespaces.
    cloudwatch_backends[DEFAULT_ACCOUNT_ID][region].put_metric_data("AWS/VPN", metrics)


def tunnel_dimensions(vpn_connection_id: str, outside_ip: str) -> list[dict]:
    """The dimensions of a tunnel's AWS/VPN metrics."""
    return [{"Name": "VpnId", "Value": vpn_connection_id}, {"Name": "TunnelIpAddress", "Value": outside_ip}]


def record_tunnels_down(account: str, region: str, vpn_connection_id: str, outside_ips: list[str]) -> None:
    """A TunnelState 0 point now for each tunnel: an outage AWS itself causes (a tunnel
    modified, a connection moved), which the data plane's reports may never see."""
    cloudwatch_backends[account][region].put_metric_data(
        "AWS/VPN",
        [
            {
                "MetricName": "TunnelState",
                "Dimensions": tunnel_dimensions(vpn_connection_id, ip),
                "Value": 0.0,
                "Unit": "None",
            }
            for ip in outside_ips
        ],
    )


def _connections_by_outside_ip(region: str) -> dict[str, str]:
    from moto.ec2.models import ec2_backends

    from .vpn.models import TunnelledVpnConnection

    found = {}
    for connection in ec2_backends[DEFAULT_ACCOUNT_ID][region].vpn_connections.values():
        # A seeded fleet's tunnels (fleet/models.py) keep their seeded telemetry: no data plane plays them.
        if (
            isinstance(connection, TunnelledVpnConnection)
            and connection.state != "deleted"
            and not any(t.seeded for t in connection.tunnel_list)
        ):
            for tunnel in connection.tunnel_list:
                found[tunnel.outside_ip] = connection.id
    return found


class Reporter:
    """One data plane's last report: which outside IPs it plays, until when."""

    def __init__(self, name: str, region: str):
        self.name, self.region = name, region
        self.reported: set[str] = set()
        self.expires = 0.0
        self.reports = 0


def _apply(reporter: Reporter, tunnels: dict[str, dict]) -> None:
    """Publish `tunnels` (outside IP -> report) and DOWN for what the reporter no longer plays."""
    from .vpn.models import NO_DATA_PLANE

    owners = _connections_by_outside_ip(reporter.region)
    gone = {
        ip: {"outside_ip": ip, "status": "DOWN", "status_message": NO_DATA_PLANE}
        for ip in reporter.reported - set(tunnels)
    }
    by_connection: dict[str, list[dict]] = {}
    for ip, tunnel in {**tunnels, **gone}.items():
        if ip in owners:
            by_connection.setdefault(owners[ip], []).append(tunnel)
    for vpn_id, reports in by_connection.items():
        publish(reporter.region, vpn_id, reports)
    reporter.reported = set(tunnels) & set(owners)


def _watch() -> None:
    """Tunnels of a reporter whose lease ran out are DOWN: it crashed or went away."""
    global _watchdog
    while True:
        time.sleep(WATCH_SECONDS)
        with _lock:
            expired = [r for r in _reporters.values() if r.expires < time.monotonic()]
            for reporter in expired:
                try:
                    _apply(reporter, {})
                finally:
                    del _reporters[reporter.name]
            if not _reporters:
                _watchdog = None
                return


def report(body: dict) -> dict[str, Any]:
    """One report: {reporter, region, tunnels: [{outside_ip, status, status_message,
    received_routes, bytes_in, bytes_out}], lease_s, final?}."""
    global _watchdog
    name, region = str(body["reporter"]), str(body["region"])
    tunnels = {} if body.get("final") else {t["outside_ip"]: t for t in body.get("tunnels", [])}
    with _lock:
        reporter = _reporters.get(name) or Reporter(name, region)
        _apply(reporter, tunnels)
        reporter.reports += 1
        if body.get("final"):
            _reporters.pop(name, None)
        else:
            reporter.expires = time.monotonic() + float(body.get("lease_s", 3.0))
            _reporters[name] = reporter
            if _watchdog is None:
                _watchdog = threading.Thread(target=_watch, name="data-plane-leases", daemon=True)
                _watchdog.start()
        return {
            "reporter": name,
            "region": region,
            "tunnels": sorted(reporter.reported),
            "final": bool(body.get("final")),
        }


def feeds() -> list[dict[str, Any]]:
    with _lock:
        return [
            {
                "reporter": r.name,
                "region": r.region,
                "reports": r.reports,
                "tunnels": sorted(r.reported),
                "lease_left_s": round(r.expires - time.monotonic(), 1),
            }
            for r in _reporters.values()
        ]
