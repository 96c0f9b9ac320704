"""The admin routes through which a data plane (the lab) plays Client VPN endpoints
(served on the emulator's unix socket only; registered in the emulator's admin.py):

- POST /_hybridnet/clientvpn-connection (`report_connection`): a client connection it
  saw, new or an update (shown by DescribeClientVpnConnections);
- POST /_hybridnet/clientvpn-connect (`connect`): a client has authenticated; admit or
  refuse it as the service does, running the endpoint's client connect handler;
- POST /_hybridnet/clientvpn-played (`report_played`): which routes and all-users rules
  of an endpoint it applies (models.PLAYED), sent again every second or so.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from .. import clock
from .models import PLAYED


def ec2_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def report_played(body: dict) -> dict:
    """A data plane says what it applies of an endpoint: body {client_vpn_endpoint_id,
    routes: [cidr], rules: [cidr] (all-users rules)}; sent again every second or so
    while it plays (PLAYED_HOLD_S). Routes and rules it has not applied yet stay
    creating / authorizing."""
    endpoint_id = str(body["client_vpn_endpoint_id"])
    try:
        routes = {str(ipaddress.ip_network(c, strict=False)) for c in body.get("routes", [])}
        rules = {str(ipaddress.ip_network(c, strict=False)) for c in body.get("rules", [])}
    except ValueError as exc:
        raise ValueError(f"clientvpn-played: {exc}") from None
    PLAYED[endpoint_id] = {"routes": routes, "rules": rules, "at": clock.now()}
    return {"client_vpn_endpoint_id": endpoint_id, "routes": sorted(routes), "rules": sorted(rules)}


def report_connection(body: dict) -> dict:
    """Admin route: a data plane reports a client connection (new or an update).

    body: {region, client_vpn_endpoint_id, connection_id?, common_name, username?,
    client_ip? (assigned from the client CIDR when absent), public_ip?, status:
    active|failed-to-terminate|terminating|terminated, status_message?, ingress_bytes?,
    egress_bytes?, ingress_packets?, egress_packets?, posture_compliance_statuses?}
    """
    backend = ec2_backend(body["region"], body.get("account_id", DEFAULT_ACCOUNT_ID))
    connection = backend.report_client_vpn_connection(
        body["client_vpn_endpoint_id"],
        connection_id=body.get("connection_id"),
        common_name=body.get("common_name"),
        username=body.get("username"),
        client_ip=body.get("client_ip"),
        public_ip=body.get("public_ip"),
        status=body.get("status", "active"),
        status_message=body.get("status_message"),
        ingress_bytes=body.get("ingress_bytes"),
        egress_bytes=body.get("egress_bytes"),
        ingress_packets=body.get("ingress_packets"),
        egress_packets=body.get("egress_packets"),
        posture_compliance_statuses=body.get("posture_compliance_statuses"),
    )
    return {"ok": True, **connection.to_admin()}


def connect(body: dict) -> dict:
    """Admin route: a client has authenticated; admit it as Client VPN does.

    body: {region, client_vpn_endpoint_id, common_name, public_ip, username?, client_ip?,
    platform?, platform_version?, client_openvpn_version?, port? (the client's source port,
    for the connection log)}. Returns {ok, allow,
    connection_id, client_ip, status, status_message, message, handler_invoked,
    posture_compliance_statuses}.
    """
    backend = ec2_backend(body["region"], body.get("account_id", DEFAULT_ACCOUNT_ID))
    result = backend.connect_client_vpn_client(
        body["client_vpn_endpoint_id"],
        common_name=body["common_name"],
        public_ip=body["public_ip"],
        username=body.get("username"),
        client_ip=body.get("client_ip"),
        platform=body.get("platform"),
        platform_version=body.get("platform_version"),
        client_openvpn_version=body.get("client_openvpn_version"),
        port=body.get("port"),
    )
    return {"ok": True, **result}
