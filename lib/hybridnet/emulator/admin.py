"""The emulator's admin API (/_hybridnet/...): what a data plane or the CLI
needs that AWS's own API does not offer, e.g. the lab reporting tunnel state.
"""

from __future__ import annotations

from typing import Any, Callable

from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID


def ec2_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def health(body: dict, extensions: list[str]) -> dict:
    return {"ok": True, "extensions": extensions}


def vpn_telemetry(body: dict, extensions: list[str]) -> dict:
    """What a data plane saw of one VPN connection's tunnels.

    body: {region, vpn_connection_id, tunnels: [{outside_ip, status: UP|DOWN,
    status_message, received_routes: [cidr...], bytes_in, bytes_out}]}.
    Updates VgwTelemetry (AcceptedRouteCount = len(received_routes)), the TGW's
    propagated routes, and publishes AWS/VPN metrics as AWS would.
    """
    region, vpn_id = body["region"], body["vpn_connection_id"]
    backend = ec2_backend(region)
    metrics = []
    for tunnel in body["tunnels"]:
        delta_in, delta_out = backend.report_tunnel_telemetry(
            vpn_id, tunnel["outside_ip"], tunnel["status"], tunnel.get("status_message", ""),
            list(tunnel.get("received_routes", [])), int(tunnel.get("bytes_in", 0)), int(tunnel.get("bytes_out", 0)),
        )
        dimensions = [{"Name": "VpnId", "Value": vpn_id}, {"Name": "TunnelIpAddress", "Value": tunnel["outside_ip"]}]
        for name, value, unit in (("TunnelState", 1.0 if tunnel["status"] == "UP" else 0.0, "None"),
                                  ("TunnelDataIn", float(delta_in), "Bytes"),
                                  ("TunnelDataOut", float(delta_out), "Bytes")):
            # No Timestamp: moto stamps "now" in its own (naive UTC) convention.
            metrics.append({"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit})
    # Published inside the emulator: clients may not write to AWS/ namespaces.
    cloudwatch_backends[DEFAULT_ACCOUNT_ID][region].put_metric_data("AWS/VPN", metrics)
    return {"ok": True, "tunnels": len(body["tunnels"])}


ROUTES: dict[tuple[str, str], Callable[[dict, list[str]], dict]] = {
    ("GET", "health"): health,
    ("POST", "vpn-telemetry"): vpn_telemetry,
}


def handle(method: str, path: str, body: dict, extensions: list[str]) -> tuple[int, dict]:
    route = ROUTES.get((method, path.strip("/")))
    if route is None:
        return 404, {"error": f"no admin route {method} /_hybridnet/{path}",
                     "routes": [f"{m} /_hybridnet/{p}" for m, p in ROUTES]}
    return 200, route(body, extensions)
