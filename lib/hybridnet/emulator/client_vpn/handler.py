"""The client connect handler: the Lambda function a Client VPN endpoint runs for
every new connection ("Connection authorization" in the AWS Client VPN
Administrator Guide), found in moto's Lambda backend and run in this same
process (awslambda/models.py) as the service runs it."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .exceptions import HandlerFunctionNotFound, HandlerNotInEndpointAccount, InvalidHandlerArn, InvalidHandlerName

HANDLER_PREFIX = "AWSClientVPN-"
# AWS Client VPN Administrator Guide, "Connection authorization": "The Lambda function times out
# after 30 seconds. This value cannot be changed." The connection log then says
# client-connect-handler-timed-out. HANDLER_TIMEOUT_ENV lowers it for tests (never raises it).
HANDLER_TIMEOUT_SECONDS = 30.0
HANDLER_TIMEOUT_ENV = "HYBRIDNET_EMULATOR_CLIENT_CONNECT_TIMEOUT_SECONDS"
HANDLER_SCHEMA_VERSION = "v1"
HANDLER_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)"
    r"(?::([A-Za-z0-9$_-]+))?"
)
REASON_SERVICE_ERROR = "client-connect-handler-service-error"  # the Guide: a service-side error


def handler_timeout_seconds() -> float:
    """How long the client connect handler may run: 30 s, or less when HANDLER_TIMEOUT_ENV says."""
    try:
        lowered = float(os.environ.get(HANDLER_TIMEOUT_ENV, HANDLER_TIMEOUT_SECONDS))
    except ValueError:
        return HANDLER_TIMEOUT_SECONDS
    return min(HANDLER_TIMEOUT_SECONDS, lowered) if lowered > 0 else HANDLER_TIMEOUT_SECONDS


def handler_function(account_id: str, region: str, arn: str) -> Any:
    """The Lambda function behind a client connect handler ARN, or AWS's error."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.utils import get_backend

    match = HANDLER_ARN.fullmatch(str(arn or ""))
    if not match:
        raise InvalidHandlerArn(arn)
    fn_region, fn_account, name, qualifier = match.groups()
    if fn_region != region or fn_account != account_id:
        raise HandlerNotInEndpointAccount()
    if not name.startswith(HANDLER_PREFIX):
        raise InvalidHandlerName(name, HANDLER_PREFIX)
    try:
        return get_backend(account_id, region).get_function(name, qualifier)
    except LambdaClientError:
        raise HandlerFunctionNotFound(arn) from None


def invoke_client_connect_handler(account_id: str, region: str, arn: str, request: dict) -> dict:
    """Run the handler as Client VPN does and read its verdict; anything but a
    well-formed response denies the connection."""
    from ...handlers import AWS_DEFAULT_DENY_MESSAGE, REASON_TIMEOUT
    from ..awslambda.models import run_function, save_logs

    verdict: dict[str, Any] = {
        "allow": False,
        "handler_invoked": True,
        "message": AWS_DEFAULT_DENY_MESSAGE,
        "posture_compliance_statuses": [],
    }
    try:
        fn = handler_function(account_id, region, arn)
        result = run_function(fn, request, timeout=handler_timeout_seconds())
        save_logs(fn, result)
    except Exception as exc:  # the function vanished or cannot run: the service denies
        verdict["failure_reason"] = REASON_SERVICE_ERROR
        verdict["problem"] = f"{type(exc).__name__}: {exc}"
        return verdict
    if result.function_error:
        try:
            timed_out = json.loads(result.payload).get("errorType") == "Sandbox.Timedout"
        except (ValueError, AttributeError):
            timed_out = False
        if timed_out:  # the client sees AWS's generic message; the log names the timeout
            verdict["failure_reason"] = REASON_TIMEOUT
            return verdict
    # One judge of handler responses for the whole project (AWS's rules).
    from ...handlers import validate_response

    decision = validate_response(result.payload, function_error=result.function_error)
    verdict["allow"] = decision.allow
    verdict["posture_compliance_statuses"] = list(decision.posture_compliance_statuses)
    verdict["valid"] = decision.valid
    verdict["failure_reason"] = decision.failure_reason
    verdict["message"] = None if decision.allow else (decision.message or None)
    return verdict
