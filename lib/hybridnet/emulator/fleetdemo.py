"""A demo fleet for the emulator, and the verdicts the fleet check must give for it.

`demo(accounts, regions, n)` spreads n connections over the account-regions with a
known mix of states (healthy, a tunnel down, all down, flapping, no routes, routes
not propagated, on a virtual private gateway), deterministically (a seeded
random generator), and returns the emulator's seed request (emulator/fleet, POST
/_hybridnet/fleet/seed) and the truth: per connection and check, the status the
fleet check must give with the default thresholds (2 tunnels up, 1 accepted route,
at most 2 drops). Used by `hybridnet emulator seed-fleet`, the tests and
bench/fleet.py; never by the runbook.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from moto.core import DEFAULT_ACCOUNT_ID

HISTORY_MINUTES = 10
STEADY = [1] * HISTORY_MINUTES
DROPPED = [1] * (HISTORY_MINUTES - 3) + [0] * 3  # one drop, not back
FLAPPING = [1, 0] * (HISTORY_MINUTES // 2 - 1) + [1, 1]  # 4 drops in the window


@dataclass(frozen=True)
class Kind:
    """One state a connection can be in, as seeded, and the verdicts it must get."""

    name: str
    gateway: str
    tunnels: tuple[dict, dict]
    propagate: bool
    expect: dict[str, str]  # check -> status (a check left out gives no row)


def _t(status: str, routes: int, history: list[int], message: str = "") -> dict:
    return {"status": status, "accepted_routes": routes, "message": message, "history": history}


UP = _t("UP", 1, STEADY)
KINDS: tuple[Kind, ...] = (
    Kind(
        "healthy",
        "tgw",
        (UP, UP),
        True,
        {"tunnels": "OK", "BGP routes": "OK", "tunnel history": "OK", "TGW route": "OK"},
    ),
    Kind(
        "one-down",
        "tgw",
        (_t("DOWN", 0, DROPPED, "IPSEC IS DOWN"), UP),
        True,
        {"tunnels": "WARN", "BGP routes": "OK", "tunnel history": "OK", "TGW route": "OK"},
    ),
    Kind(
        "down",
        "tgw",
        (_t("DOWN", 0, DROPPED, "IPSEC IS DOWN"), _t("DOWN", 0, DROPPED, "IPSEC IS DOWN")),
        True,
        {"tunnels": "FAIL", "tunnel history": "OK", "TGW route": "FAIL"},
    ),
    Kind(
        "flapping",
        "tgw",
        (_t("UP", 1, FLAPPING), UP),
        True,
        {"tunnels": "OK", "BGP routes": "OK", "tunnel history": "WARN", "TGW route": "OK"},
    ),
    Kind(
        "no-routes",
        "tgw",
        (_t("UP", 0, STEADY), _t("UP", 0, STEADY)),
        True,
        {"tunnels": "OK", "BGP routes": "FAIL", "tunnel history": "OK", "TGW route": "FAIL"},
    ),
    Kind(
        "not-propagated",
        "tgw",
        (UP, UP),
        False,
        {"tunnels": "OK", "BGP routes": "OK", "tunnel history": "OK", "TGW route": "FAIL"},
    ),
    Kind("vgw-healthy", "vgw", (UP, UP), True, {"tunnels": "OK", "BGP routes": "OK", "tunnel history": "OK"}),
)
# How often each kind occurs: most of a fleet is healthy.
WEIGHTS = {
    "healthy": 60,
    "one-down": 8,
    "down": 5,
    "flapping": 5,
    "no-routes": 4,
    "not-propagated": 3,
    "vgw-healthy": 15,
}
BY_NAME = {k.name: k for k in KINDS}


def demo(
    accounts: list[str], regions: list[str], n: int, seed: int = 7, reader_role: str = "hybridnet-fleet-reader"
) -> tuple[dict, list[dict]]:
    """(the seed request, the truth rows {account, region, name, check, status}) for n
    connections over accounts x regions, round robin; account ids as moto keys them.
    Every kind occurs at least once when n >= len(KINDS)."""
    rng = random.Random(seed)
    names = [k.name for k in KINDS]
    kinds = (names + rng.choices(names, weights=[WEIGHTS[k] for k in names], k=max(n - len(names), 0)))[:n]
    rng.shuffle(kinds)
    scopes = [(a, r) for a in accounts for r in regions]
    connections, truth = [], []
    for i, kind_name in enumerate(kinds):
        kind = BY_NAME[kind_name]
        account, region = scopes[i % len(scopes)]
        name = f"site-{i + 1:04d}-{kind.name}"
        connections.append(
            {
                "account": account,
                "region": region,
                "name": name,
                "gateway": kind.gateway,
                "tags": {"team": "network", "kind": kind.name},
                "propagate": kind.propagate,
                "onprem_prefixes": [f"10.{128 + i // 250}.{i % 250}.0/24"],
                "tunnels": [dict(t) for t in kind.tunnels],
            }
        )
        truth += [
            {"account": account, "region": region, "name": name, "check": check, "status": status}
            for check, status in kind.expect.items()
        ]
    spec = {"reader_role": reader_role, "connections": connections}
    return spec, truth


def fleet_accounts(fleet) -> dict[str, str]:
    """The account id (as moto keys it) of each account of a fleet's settings: a role's
    account, else the emulator's own account (a profile or the caller's credentials)."""
    return {a.name: a.role_arn.split(":")[4] if a.role_arn else DEFAULT_ACCOUNT_ID for a in fleet.accounts}


def external_ids(fleet) -> dict[str, str]:
    """The external id each assumed role of a fleet's settings asks for, by account id:
    the seeded role then trusts the caller only with it, as the settings expect."""
    ids = fleet_accounts(fleet)
    return {ids[a.name]: a.external_id for a in fleet.accounts if a.role_arn and a.external_id}


__all__ = ["HISTORY_MINUTES", "KINDS", "demo", "external_ids", "fleet_accounts"]
