"""Throttles and disabled Regions: rules the emulator's Gate (auth.py) applies to an
authenticated request before moto sees it, answering in the service's own protocol.

* Throttles (POST /_hybridnet/fleet/throttle): the next `count` requests for an action
  (optionally from one account, to one Region) are refused as AWS throttles: EC2 503
  RequestLimitExceeded, query and CloudWatch Throttling, JSON ThrottlingException (Lambda
  429 TooManyRequestsException), all codes botocore's standard and adaptive retry modes
  retry.
* Disabled Regions (POST /_hybridnet/fleet/regions): an account's calls to a Region it has
  not enabled are refused as AWS refuses them (an opt-in Region not enabled: the
  credentials are not valid there): EC2 401 AuthFailure "AWS was not able to validate the
  provided access credentials", query services 403 InvalidClientTokenId, JSON services
  UnrecognizedClientException.

Module state: neither is saved with the emulator's state (a restarted emulator has none).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..auth import Caller, Refused
from .exceptions import FleetSpecError

_lock = threading.Lock()


@dataclass
class Throttle:
    action: str
    account: str | None
    region: str | None
    left: int
    served: int = 0

    def matches(self, action: str | None, caller: Caller) -> bool:
        return (
            self.left > 0
            and action == self.action
            and self.account in (None, caller.account_id)
            and self.region in (None, caller.region)
        )

    def describe(self) -> dict:
        return {
            "action": self.action,
            "account": self.account,
            "region": self.region,
            "left": self.left,
            "served": self.served,
        }


_throttles: list[Throttle] = []
_disabled: dict[str, set[str]] = {}  # account -> Regions it has not enabled


def add_throttle(body: dict) -> dict:
    action = str(body.get("action") or "")
    if not action.isalnum():
        raise FleetSpecError(
            f"throttle: action must be an AWS action name such as DescribeVpnConnections, not {body.get('action')!r}"
        )
    count = int(body.get("count", 1))
    if count < 0:
        raise FleetSpecError("throttle: count must be 0 or more")
    account = str(body["account"]) if body.get("account") else None
    region = str(body["region"]) if body.get("region") else None
    with _lock:
        for rule in _throttles:  # the same action and scope: the new count replaces what was left
            if (rule.action, rule.account, rule.region) == (action, account, region):
                rule.left = count
                break
        else:
            _throttles.append(Throttle(action, account, region, count))
    return throttles()


def throttles() -> dict:
    with _lock:
        return {
            "throttles": [t.describe() for t in _throttles],
            "left": sum(t.left for t in _throttles),
            "served": sum(t.served for t in _throttles),
        }


def disable_regions(body: dict) -> dict:
    account = str(body.get("account") or "")
    if not (len(account) == 12 and account.isdigit()):
        raise FleetSpecError(f"regions: account {body.get('account')!r} is not a 12-digit AWS account id")
    regions = body.get("disabled")
    if not isinstance(regions, list):
        raise FleetSpecError("regions: disabled must be a list of Regions (empty: all enabled again)")
    with _lock:
        _disabled[account] = {str(r) for r in regions}
        return {
            "account": account,
            "disabled": sorted(_disabled[account]),
            "accounts": {a: sorted(r) for a, r in _disabled.items() if r},
        }


def reset() -> None:
    with _lock:
        _throttles.clear()
        _disabled.clear()


def check(environ: dict, caller: Caller) -> None:
    """The Gate's rule (auth.REQUEST_RULES): Refused for a disabled Region or a throttled action."""
    if not _throttles and not _disabled:
        return
    if caller.region in _disabled.get(caller.account_id, ()):
        raise Refused("unknown_key")  # AWS: the credentials are not valid in a Region not enabled
    if not _throttles:
        return
    from ..persistence import action_name

    action = action_name(environ)
    with _lock:
        rule: Any = next((t for t in _throttles if t.matches(action, caller)), None)
        if rule is None:
            return
        rule.left -= 1
        rule.served += 1
    raise Refused("throttled")
