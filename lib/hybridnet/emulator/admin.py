"""The emulator's admin API (/_hybridnet/...): what a data plane or the CLI
needs that AWS's own API does not offer, e.g. the lab reporting tunnel state.
"""

from __future__ import annotations

from typing import Any, Callable

from moto.core import DEFAULT_ACCOUNT_ID

from . import datafeed
from .ssm.admin import ssm_instances


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
    datafeed.publish(body["region"], body["vpn_connection_id"], body["tunnels"])
    return {"ok": True, "tunnels": len(body["tunnels"])}


def data_plane_report(body: dict, extensions: list[str]) -> dict:
    """A data plane's report of the tunnels it plays (see datafeed.report), every
    second while it runs; `final` when it goes away."""
    return datafeed.report(body)


def data_planes(body: dict, extensions: list[str]) -> dict:
    return {"feeds": datafeed.feeds()}


def clientvpn_connection(body: dict, extensions: list[str]) -> dict:
    """A data plane reports a Client VPN client connection (new, or an update of one).

    body: {region, client_vpn_endpoint_id, connection_id? (absent: a new connection),
    common_name, username?, client_ip? (assigned from the client CIDR when absent),
    public_ip?, status: active|failed-to-terminate|terminating|terminated, status_message?,
    ingress_bytes?, egress_bytes?, ingress_packets?, egress_packets?,
    posture_compliance_statuses?}. Shown by DescribeClientVpnConnections.
    """
    from .clientvpn.models import report_connection

    return report_connection(body)


def clientvpn_connect(body: dict, extensions: list[str]) -> dict:
    """A client has authenticated to a Client VPN endpoint: admit or refuse it as the
    service does, running the endpoint's client connect handler (Lambda) if enabled.

    body: {region, client_vpn_endpoint_id, common_name, public_ip, username?, client_ip?,
    platform?, platform_version?, client_openvpn_version?}; answers {allow, connection_id,
    client_ip, status, message, ...}. The attempt shows in DescribeClientVpnConnections.
    """
    from .clientvpn.models import connect

    return connect(body)


ROUTES: dict[tuple[str, str], Callable[[dict, list[str]], dict]] = {
    ("GET", "health"): health,
    ("POST", "vpn-telemetry"): vpn_telemetry,
    ("POST", "data-plane"): data_plane_report,
    ("GET", "data-plane"): data_planes,
    ("POST", "clientvpn-connection"): clientvpn_connection,
    ("POST", "clientvpn-connect"): clientvpn_connect,
    ("POST", "ssm-instances"): ssm_instances,
}


def handle(method: str, path: str, body: dict, extensions: list[str]) -> tuple[int, dict]:
    route = ROUTES.get((method, path.strip("/")))
    if route is None:
        return 404, {"error": f"no admin route {method} /_hybridnet/{path}",
                     "routes": [f"{m} /_hybridnet/{p}" for m, p in ROUTES]}
    return 200, route(body, extensions)
