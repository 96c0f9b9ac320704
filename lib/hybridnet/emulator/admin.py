"""The emulator's admin API (/_hybridnet/...): what a data plane or the CLI
needs that AWS's own API does not offer, e.g. the lab reporting tunnel state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from . import datafeed, persistence
from .fleet import responses as fleet
from .ssm.admin import ssm_instances


class NotFound(LookupError):
    """What an admin route was asked about does not exist: answered 404."""


def ec2_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def health(body: dict, extensions: list[str]) -> dict:
    """Serving; since when, restored from which saved state (None: started empty), and its saves."""
    answer: dict[str, Any] = {"ok": True, "extensions": extensions}
    store = persistence.current()
    if store is not None:
        answer.update(started_at=store.started_at, restored_from=store.restored_from, state=store.status())
    return answer


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
    from .client_vpn.admin import report_connection

    return report_connection(body)


def clientvpn_connect(body: dict, extensions: list[str]) -> dict:
    """A client has authenticated to a Client VPN endpoint: admit or refuse it as the
    service does, running the endpoint's client connect handler (Lambda) if enabled.

    body: {region, client_vpn_endpoint_id, common_name, public_ip, username?, client_ip?,
    platform?, platform_version?, client_openvpn_version?}; answers {allow, connection_id,
    client_ip, status, message, ...}. The attempt shows in DescribeClientVpnConnections.
    """
    from .client_vpn.admin import connect

    return connect(body)


def clientvpn_played(body: dict, extensions: list[str]) -> dict:
    """A data plane reports which routes and all-users rules of a Client VPN endpoint
    it applies: body {client_vpn_endpoint_id, routes, rules}. Until it applies one,
    that route or rule stays creating / authorizing, as on AWS."""
    from .client_vpn.admin import report_played

    return report_played(body)


def acm_private_key(body: dict, extensions: list[str]) -> dict:
    """The private key of a certificate imported into ACM, which AWS's own services
    hold (a Client VPN endpoint's server uses its server certificate's) and ACM's API
    never returns. For the data plane playing those services.

    body: {region, arn}; answers {arn, private_key_pem}. An unknown ARN is a 404;
    a certificate ACM issued itself has no key to give (400).
    """
    from moto.acm.exceptions import CertificateNotFound

    from .client_vpn.certificates import ACM_CERTIFICATE_ARN, acm_backend

    region, arn = str(body["region"]), str(body["arn"])
    match = ACM_CERTIFICATE_ARN.fullmatch(arn)
    if match is None or match.group(1) != region:
        raise NotFound(f"no ACM certificate {arn} in {region}")
    try:
        bundle = acm_backend(match.group(2), region).get_certificate(arn)
    except CertificateNotFound:
        raise NotFound(f"no ACM certificate {arn} in {region}") from None
    if bundle.type != "IMPORTED":
        raise ValueError(f"ACM certificate {arn} is {bundle.type}, not imported: it has no private key to give")
    key = bundle.key.decode() if isinstance(bundle.key, bytes) else str(bundle.key)
    return {"arn": arn, "private_key_pem": key}


ROUTES: dict[tuple[str, str], Callable[[dict, list[str]], dict]] = {
    ("GET", "health"): health,
    ("POST", "vpn-telemetry"): vpn_telemetry,
    ("POST", "data-plane"): data_plane_report,
    ("GET", "data-plane"): data_planes,
    ("POST", "clientvpn-connection"): clientvpn_connection,
    ("POST", "clientvpn-connect"): clientvpn_connect,
    ("POST", "clientvpn-played"): clientvpn_played,
    ("POST", "ssm-instances"): ssm_instances,
    ("POST", "acm-private-key"): acm_private_key,
    **fleet.ROUTES,  # fleet/seed, fleet/throttle, fleet/regions (fleet/responses.py)
}


# Routes after which the state is saved (persistence.py): what a data plane reports once
# and the API shows (Client VPN connections, and the handler's logs). Telemetry, played
# routes and SSM registrations are reported again by the data plane and not saved.
SAVED_ROUTES = {("POST", "clientvpn-connection"), ("POST", "clientvpn-connect"), *fleet.SAVED_ROUTES}


def handle(method: str, path: str, body: dict, extensions: list[str]) -> tuple[int, dict]:
    key = (method, path.strip("/"))
    route = ROUTES.get(key)
    if route is None:
        return 404, {
            "error": f"no admin route {method} /_hybridnet/{path}",
            "routes": [f"{m} /_hybridnet/{p}" for m, p in ROUTES],
        }
    try:
        answer = route(body, extensions)
    except NotFound as exc:
        return 404, {"error": str(exc)}
    if key in SAVED_ROUTES:
        persistence.note_change()
    return 200, answer
