"""Call the fleet's admin routes of the emulator running for this HYBRIDNET_HOME (its unix socket).

from hybridnet.emulator.fleet import client as fleet
truth = fleet.seed({"reader_role": "hybridnet-fleet-reader", "connections": [...]})
fleet.throttle("DescribeVpnConnections", 2, account="111111111111")
fleet.disable_regions("111111111111", ["ap-southeast-3"])
"""

from __future__ import annotations

from typing import Any

# A seed of thousands of connections takes seconds (and its state is saved before the answer).
SEED_TIMEOUT = 300.0


def _call(method: str, route: str, body: dict | None = None, timeout: float = 35.0) -> dict:
    from ..process import EmulatorError, admin_call, status

    info = status()
    if info is None:
        raise EmulatorError("no emulator runs for this HYBRIDNET_HOME: start it first (hybridnet emulator start)")
    return admin_call(info, method, route, body, timeout=timeout)


def seed(spec: dict[str, Any]) -> dict:
    """POST /_hybridnet/fleet/seed: {connections: [{account, region, name, vpn_connection_id, gateway_id,
    customer_gateway_ip, outside_ips}], roles: {account: role ARN}, resolver_endpoints, client_vpn_endpoints,
    now, seconds}."""
    return _call("POST", "fleet/seed", spec, timeout=SEED_TIMEOUT)


def throttle(action: str, count: int, account: str | None = None, region: str | None = None) -> dict:
    """The next `count` `action` requests (of `account`, to `region`, when given) are throttled."""
    body: dict[str, Any] = {"action": action, "count": count}
    if account is not None:
        body["account"] = account
    if region is not None:
        body["region"] = region
    return _call("POST", "fleet/throttle", body)


def throttles() -> dict:
    """{throttles: [{action, account, region, left, served}], left, served}."""
    return _call("GET", "fleet/throttle")


def disable_regions(account: str, regions: list[str]) -> dict:
    """`account`'s calls to `regions` are refused as AWS refuses a Region not enabled ([]: all enabled)."""
    return _call("POST", "fleet/regions", {"account": account, "disabled": list(regions)})
