"""The emulator's admin API (/_hybridnet/...): what a data plane or the CLI
needs that AWS's own API does not offer, e.g. the lab reporting tunnel state.
"""

from __future__ import annotations

from typing import Any, Callable

from moto.core import DEFAULT_ACCOUNT_ID


def ec2_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def health(body: dict, extensions: list[str]) -> dict:
    return {"ok": True, "extensions": extensions}


def vpn_telemetry(body: dict, extensions: list[str]) -> dict:
    """body: {region, vpn_connection_id, tunnels: [{outside_ip, status, status_message, accepted_route_count}]}"""
    backend = ec2_backend(body["region"])
    for tunnel in body["tunnels"]:
        backend.report_tunnel_telemetry(
            body["vpn_connection_id"], tunnel["outside_ip"], tunnel["status"],
            tunnel.get("status_message", ""), int(tunnel.get("accepted_route_count", 0)),
        )
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
