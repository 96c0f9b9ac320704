"""The fleet's admin routes (/_hybridnet/fleet/...; admin.py serves them on the unix socket).

* POST fleet/seed: body {reader_role, deny?, external_ids?: {account: id}, connections: [{account, region, name,
  gateway: tgw|vgw, tags?, propagate?, onprem_prefixes?, tunnels: [{status, accepted_routes,
  message?, history?}]}], resolver_endpoints?, client_vpn_endpoints?}; answers {connections:
  [{account, region, name, vpn_connection_id, gateway_id, customer_gateway_ip, outside_ips}],
  roles: {account: role ARN}, resolver_endpoints, client_vpn_endpoints, now, seconds}.
* POST fleet/throttle: {action, count, account?, region?}; GET fleet/throttle: {throttles:
  [{action, account, region, left, served}], left, served}.
* POST fleet/regions: {account, disabled: [region...]}; answers {account, disabled, accounts}.
"""

from __future__ import annotations

from . import models, rules


def seed(body: dict, extensions: list[str]) -> dict:
    return models.seed(body)


def throttle(body: dict, extensions: list[str]) -> dict:
    return rules.add_throttle(body)


def throttle_status(body: dict, extensions: list[str]) -> dict:
    return rules.throttles()


def regions(body: dict, extensions: list[str]) -> dict:
    return rules.disable_regions(body)


ROUTES = {
    ("POST", "fleet/seed"): seed,
    ("POST", "fleet/throttle"): throttle,
    ("GET", "fleet/throttle"): throttle_status,
    ("POST", "fleet/regions"): regions,
}
SAVED_ROUTES = {("POST", "fleet/seed")}  # throttles and disabled Regions are not saved
