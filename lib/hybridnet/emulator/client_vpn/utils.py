"""Client VPN's constants, limits, ids, formats, filters and pagination, as the
service has them (botocore's EC2 model and the AWS Client VPN Administrator Guide)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from collections.abc import Iterable
from typing import Any

from moto.ec2.utils import random_resource_id

from .exceptions import InvalidCidrBlock, InvalidClientCidrRange, InvalidFilterName

RESOURCE_TYPE = "client-vpn-endpoint"
ENDPOINT_PREFIX = "cvpn-endpoint"
ASSOCIATION_PREFIX = "cvpn-assoc"
CONNECTION_PREFIX = "cvpn-connection"

TERMINATED_RETENTION = dt.timedelta(minutes=60)  # Describe shows terminated connections for an hour
CONNECTION_STATUSES = ("active", "failed-to-terminate", "terminating", "terminated")
TRANSPORT_PROTOCOLS = ("udp", "tcp")
VPN_PORTS = (443, 1194)
SESSION_TIMEOUT_HOURS = (8, 10, 12, 24)
SELF_SERVICE_PORTAL = ("enabled", "disabled")
AUTHENTICATION_TYPES = ("certificate-authentication", "directory-service-authentication", "federated-authentication")
MIN_CLIENT_PREFIX, MAX_CLIENT_PREFIX = 12, 22
MAX_TERMINATE_BY_USERNAME = 5
MAX_DESCRIPTION = 255
MAX_BANNER_TEXT = 1400
MAX_SECURITY_GROUPS = 5
MAX_DNS_SERVERS = 2
MAX_AUTHENTICATION_OPTIONS = 2

ENDPOINT_FILTERS = ("endpoint-id", "transport-protocol")
TARGET_NETWORK_FILTERS = ("association-id", "target-network-id", "vpc-id")
AUTHORIZATION_RULE_FILTERS = ("description", "destination-cidr", "group-id")
ROUTE_FILTERS = ("destination-cidr", "origin", "target-subnet")
CONNECTION_FILTERS = ("connection-id", "username")

# moto's paginator (moto.utilities.paginator.paginate), one entry per backend method.
# Without MaxResults a Describe answers every item (Client VPN documents no default page
# size), as it always has here. Tokens are moto's: opaque, tied to the call's other
# parameters; a token that does not decode, belongs to other parameters or names an item
# that has gone since is moto's InvalidToken, which responses.py answers as AWS's
# InvalidParameterValue (exceptions.InvalidNextToken). The unique attributes name each
# item: endpoints, target networks and connections by their ids; authorization rules and
# routes, which have none, by what they are plus their creation time (a rule or a route
# being revoked or deleted may be listed next to a new one for the same CIDR).
EVERY_ITEM = sys.maxsize
PAGINATION_MODEL = {
    "describe_client_vpn_endpoints": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": EVERY_ITEM,
        "unique_attribute": "id",
    },
    "describe_client_vpn_target_networks": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": EVERY_ITEM,
        "unique_attribute": "association_id",
    },
    "describe_client_vpn_authorization_rules": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": EVERY_ITEM,
        "unique_attribute": ["destination_cidr", "created_at"],
    },
    "describe_client_vpn_routes": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": EVERY_ITEM,
        "unique_attribute": ["destination_cidr", "target_subnet", "created_at"],
    },
    # Connections are paged as the API shows them (ConnectionId): describing one refreshes it.
    "describe_client_vpn_connections": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": EVERY_ITEM,
        "unique_attribute": "ConnectionId",
    },
}


# ---------------------------------------------------------------- ids and formats


def random_id(prefix: str) -> str:
    return f"{prefix}-{random_resource_id(17)}"


def random_endpoint_id() -> str:
    return random_id(ENDPOINT_PREFIX)


def random_association_id() -> str:
    return random_id(ASSOCIATION_PREFIX)


def random_connection_id() -> str:
    return random_id(CONNECTION_PREFIX)


def aws_time(moment: dt.datetime) -> str:
    """Client VPN's own timestamp format: '2020-11-13 11:37:27' (UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- CIDR blocks


def ipv4_network(value: Any, parameter: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        raise InvalidCidrBlock(parameter, value) from None
    if not isinstance(network, ipaddress.IPv4Network) or "/" not in str(value):
        raise InvalidCidrBlock(parameter, value)
    return network


def validate_client_cidr(value: Any) -> str:
    network = ipv4_network(value, "ClientCidrBlock")
    if not MIN_CLIENT_PREFIX <= network.prefixlen <= MAX_CLIENT_PREFIX:
        raise InvalidClientCidrRange(value, MIN_CLIENT_PREFIX, MAX_CLIENT_PREFIX)
    return str(network)


# ---------------------------------------------------------------- filters


def check_filter_names(filters: dict[str, list[str]] | None, allowed: Iterable[str], tags: bool = False) -> None:
    for name in filters or {}:
        if name in allowed or (tags and (name.startswith("tag:") or name in ("tag-key", "tag-value"))):
            continue
        raise InvalidFilterName(name)


def matches(filters: dict[str, list[str]] | None, values: dict[str, Any]) -> bool:
    """AND across filters, OR across a filter's values; list values match if any element does."""
    for name, wanted in (filters or {}).items():
        have = values.get(name)
        have_list = have if isinstance(have, list) else [have]
        if not any(str(h) in wanted for h in have_list if h is not None):
            return False
    return True
