"""Long waits with boto3 waiters, showing progress as the state changes."""

from __future__ import annotations

import time
from typing import Callable

from botocore.exceptions import WaiterError
from botocore.waiter import Waiter, WaiterModel, create_waiter_with_client


def wait(waiter: Waiter, *, label: str, delay: int, timeout: float,
         progress: Callable[[str], None] | None = print, **kwargs) -> float:
    """Run `waiter` one poll at a time (its own acceptors decide success or
    failure) so that each state change can be reported; return seconds waited.
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
        progress(f"{label}: available")
    return elapsed


def _state_of(response: dict) -> str:
    for value in response.values():
        if isinstance(value, list) and value and isinstance(value[0], dict) and "State" in value[0]:
            return str(value[0]["State"])
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
    },
})


def extra_waiter(name: str, client) -> Waiter:
    return create_waiter_with_client(name, EXTRA_WAITERS, client)
