"""Long waits with boto3 waiters, showing progress as the state changes."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from botocore.exceptions import WaiterError
from botocore.waiter import Waiter, WaiterModel, create_waiter_with_client

T = TypeVar("T")


def wait(waiter: Waiter, *, label: str, delay: int, timeout: float,
         progress: Callable[[str], None] | None = print, done: str = "available", **kwargs) -> float:
    """Run `waiter` one poll at a time (its own acceptors decide success or
    failure) so that each state change can be reported; return seconds waited.
    `done` is the word reported at the end (e.g. OPERATIONAL for a Resolver endpoint).
    """
    start = time.monotonic()
    last_state = None
    while True:
        try:
            waiter.wait(WaiterConfig={"Delay": delay, "MaxAttempts": 1}, **kwargs)
            break
        except WaiterError as exc:
            # MaxAttempts=1 raises "Max attempts exceeded" while still waiting;
            # a failure acceptor or an error ends the wait for good.
            if "Max attempts exceeded" not in str(exc):
                raise
            state = _state_of(exc.last_response)
            if progress and state != last_state:
                progress(f"{label}: {state}")
            last_state = state
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{label} still {last_state} after {timeout:.0f} s")
        time.sleep(delay)
    elapsed = time.monotonic() - start
    if progress:
        progress(f"{label}: {done}")
    return elapsed


def poll(check: Callable[[], T], *, timeout: float, interval: float) -> T:
    """check() until it returns something truthy or `timeout` seconds passed; its
    last value either way. For what no AWS waiter describes (the lab's own state,
    a value that must appear in a list); AWS resources wait with `wait` above."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _state_of(response: dict) -> str:
    for value in response.values():
        if isinstance(value, list) and value and isinstance(value[0], dict) and "State" in value[0]:
            return str(value[0]["State"])
        if isinstance(value, dict) and "Status" in value:  # e.g. GetResolverEndpoint's ResolverEndpoint
            return str(value["Status"])
        if isinstance(value, list) and value and isinstance(value[0], dict) and isinstance(value[0].get("Status"),
                                                                                          dict):
            # Client VPN: [{..., "Status": {"Code": ...}}, ...]; every code still present
            return "/".join(sorted({str(v["Status"].get("Code")) for v in value if isinstance(v, dict)
                                    and isinstance(v.get("Status"), dict)}))
    return "waiting"


# Waiters boto3 lacks, in botocore's own waiter language.
EXTRA_WAITERS = WaiterModel({
    "version": 2,
    "waiters": {
        "TransitGatewayAttachmentAvailable": {
            "operation": "DescribeTransitGatewayAttachments",
            "delay": 15,
            "maxAttempts": 40,
            "acceptors": [
                {"state": "success", "matcher": "pathAll",
                 "argument": "TransitGatewayAttachments[].State", "expected": "available"},
                {"state": "failure", "matcher": "pathAny",
                 "argument": "TransitGatewayAttachments[].State", "expected": "failed"},
                {"state": "failure", "matcher": "pathAny",
                 "argument": "TransitGatewayAttachments[].State", "expected": "deleted"},
            ],
        },
        # Route 53 Resolver (boto3 has no waiters for it): endpoints go
        # CREATING -> OPERATIONAL, rules and rule associations CREATING -> COMPLETE.
        "ResolverEndpointOperational": {
            "operation": "GetResolverEndpoint",
            "delay": 10,
            "maxAttempts": 60,
            "acceptors": [
                {"state": "success", "matcher": "path", "argument": "ResolverEndpoint.Status",
                 "expected": "OPERATIONAL"},
                {"state": "failure", "matcher": "path", "argument": "ResolverEndpoint.Status",
                 "expected": "ACTION_NEEDED"},
                {"state": "failure", "matcher": "path", "argument": "ResolverEndpoint.Status",
                 "expected": "DELETING"},
                {"state": "failure", "matcher": "error", "expected": "ResourceNotFoundException"},
            ],
        },
        "ResolverRuleComplete": {
            "operation": "GetResolverRule",
            "delay": 5,
            "maxAttempts": 60,
            "acceptors": [
                {"state": "success", "matcher": "path", "argument": "ResolverRule.Status", "expected": "COMPLETE"},
                {"state": "failure", "matcher": "path", "argument": "ResolverRule.Status", "expected": "FAILED"},
                {"state": "failure", "matcher": "path", "argument": "ResolverRule.Status", "expected": "DELETING"},
                {"state": "failure", "matcher": "error", "expected": "ResourceNotFoundException"},
            ],
        },
        "ResolverRuleAssociationComplete": {
            "operation": "GetResolverRuleAssociation",
            "delay": 5,
            "maxAttempts": 60,
            "acceptors": [
                {"state": "success", "matcher": "path", "argument": "ResolverRuleAssociation.Status",
                 "expected": "COMPLETE"},
                {"state": "failure", "matcher": "path", "argument": "ResolverRuleAssociation.Status",
                 "expected": "FAILED"},
                {"state": "failure", "matcher": "path", "argument": "ResolverRuleAssociation.Status",
                 "expected": "DELETING"},
                {"state": "failure", "matcher": "error", "expected": "ResourceNotFoundException"},
            ],
        },
        # AWS Client VPN (boto3 has no waiters for it): every status is a {"Code": ...}.
        "ClientVpnEndpointAvailable": {
            "operation": "DescribeClientVpnEndpoints",
            "delay": 15,
            "maxAttempts": 40,
            "acceptors": [
                {"state": "success", "matcher": "pathAll", "argument": "ClientVpnEndpoints[].Status.Code",
                 "expected": "available"},
                {"state": "failure", "matcher": "pathAny", "argument": "ClientVpnEndpoints[].Status.Code",
                 "expected": "deleting"},
                {"state": "failure", "matcher": "pathAny", "argument": "ClientVpnEndpoints[].Status.Code",
                 "expected": "deleted"},
                {"state": "failure", "matcher": "error", "expected": "InvalidClientVpnEndpointId.NotFound"},
            ],
        },
        "ClientVpnTargetNetworksAssociated": {
            "operation": "DescribeClientVpnTargetNetworks",
            "delay": 15,
            "maxAttempts": 40,
            "acceptors": [
                {"state": "success", "matcher": "pathAll", "argument": "ClientVpnTargetNetworks[].Status.Code",
                 "expected": "associated"},
                {"state": "failure", "matcher": "pathAny", "argument": "ClientVpnTargetNetworks[].Status.Code",
                 "expected": "association-failed"},
                {"state": "failure", "matcher": "pathAny", "argument": "ClientVpnTargetNetworks[].Status.Code",
                 "expected": "disassociated"},
            ],
        },
        "ClientVpnAuthorizationRulesActive": {
            "operation": "DescribeClientVpnAuthorizationRules",
            "delay": 5,
            "maxAttempts": 60,
            "acceptors": [
                {"state": "success", "matcher": "pathAll", "argument": "AuthorizationRules[].Status.Code",
                 "expected": "active"},
                {"state": "failure", "matcher": "pathAny", "argument": "AuthorizationRules[].Status.Code",
                 "expected": "failed"},
            ],
        },
        "ClientVpnRoutesActive": {
            "operation": "DescribeClientVpnRoutes",
            "delay": 5,
            "maxAttempts": 60,
            "acceptors": [
                {"state": "success", "matcher": "pathAll", "argument": "Routes[].Status.Code", "expected": "active"},
                {"state": "failure", "matcher": "pathAny", "argument": "Routes[].Status.Code", "expected": "failed"},
            ],
        },
    },
})


def extra_waiter(name: str, client) -> Waiter:
    return create_waiter_with_client(name, EXTRA_WAITERS, client)
