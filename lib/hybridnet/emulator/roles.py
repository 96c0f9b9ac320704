"""IAM roles an AWS service assumes for the code it runs, through the emulator's STS.

Lambda assumes a function's execution role (trusting ``lambda.amazonaws.com``)
and gives the function its credentials; EC2 gives an instance its instance
profile's role (trusting ``ec2.amazonaws.com``), whose credentials SSM commands
on a registered instance get (ssm/models.py). Both ask moto's STS backend
directly, as the service would: no caller, no signature. The role must exist
and its trust policy must let the service assume it; otherwise there are no
credentials, and the reason says why (for a log, never with a secret).

The credentials are moto STS sessions (an ``ASIA...`` key id, a secret, a
session token): the emulator's Gate (auth.py) accepts them until they expire,
and moto's policy evaluation gives them the role's own policies only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/[\w+=,.@/-]+")
# A caller as STS names it: an IAM user, or an assumed role's session (role/session).
CALLER_ARN = re.compile(r"arn:(aws[a-z-]*):(?:iam|sts)::(\d{12}):(user|assumed-role)/([\w+=,.@/-]+)")
# The environment variables that carry credentials: only a role's, never a caller's.
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class RoleSession:
    """Temporary credentials of an assumed role."""

    role_arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    account_id: str
    partition: str

    def __repr__(self) -> str:  # never print the secret or the token
        return f"RoleSession(role_arn={self.role_arn!r}, access_key_id={self.access_key_id!r}, ...)"

    def environment(self) -> dict[str, str]:
        """As the AWS SDKs and CLI read them from a process's environment."""
        return dict(zip(CREDENTIAL_VARIABLES, (self.access_key_id, self.secret_access_key, self.session_token)))

    def secrets(self) -> tuple[str, ...]:
        """What must not show in anything the emulator returns or logs."""
        return self.access_key_id, self.secret_access_key, self.session_token

    def seconds_left(self) -> float:
        """Until it expires (or -1 if the emulator's STS no longer knows it: e.g. after a reset)."""
        from moto.core.utils import utcnow
        from moto.sts.models import sts_backends

        try:
            assumed = sts_backends[self.account_id][self.partition].get_assumed_role_from_access_key(self.access_key_id)
        except Exception:
            return -1.0
        if assumed is None or assumed.session_token != self.session_token:
            return -1.0
        return (assumed.expiration - utcnow()).total_seconds()


def _allows(policy_document: Any, principal_matches: Callable[[Any], bool], external_id: str | None = None) -> bool:
    """Whether a role's trust policy lets a principal assume it: an Allow of
    sts:AssumeRole to a principal `principal_matches` (or to everyone), whose
    conditions hold, and no Deny of it. The one condition evaluated is
    StringEquals on sts:ExternalId; a statement with any other condition does not
    match (nothing is guessed)."""
    try:
        policy = json.loads(policy_document) if isinstance(policy_document, str) else dict(policy_document)
    except (TypeError, ValueError):
        return False
    if not isinstance(policy, dict):
        return False
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    verdict = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(str(a).lower() in ("sts:assumerole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal")
        matches = principal == "*" or (isinstance(principal, dict) and principal_matches(principal))
        matches = matches and _conditions_hold(statement.get("Condition"), external_id)
        if matches and statement.get("Effect") == "Deny":
            return False
        verdict = verdict or (matches and statement.get("Effect") == "Allow")
    return verdict


def _values(value: Any) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def _conditions_hold(conditions: Any, external_id: str | None) -> bool:
    if not conditions:
        return True
    if not isinstance(conditions, dict) or set(conditions) != {"StringEquals"}:
        return False
    wanted = conditions["StringEquals"]
    if not isinstance(wanted, dict) or set(wanted) != {"sts:ExternalId"}:
        return False
    return external_id is not None and external_id in _values(wanted["sts:ExternalId"])


def trusts(policy_document: Any, service: str) -> bool:
    """Whether a role's trust policy lets `service` (e.g. ec2.amazonaws.com) assume it."""
    return _allows(
        policy_document,
        lambda principal: "*" in _values(principal.get("AWS")) or service in _values(principal.get("Service")),
    )


def trusts_caller(policy_document: Any, caller_arn: str, external_id: str | None) -> bool:
    """Whether a role's trust policy lets the caller (a user or an assumed role's
    session, by its ARN) assume it, with `external_id`: an AWS principal that is
    everyone, the caller's account (its id or its root), the caller's ARN or, for a
    session, its role's ARN."""
    match = CALLER_ARN.fullmatch(caller_arn or "")
    if not match:
        return False
    partition, account, kind, name = match.groups()
    names = {"*", account, f"arn:{partition}:iam::{account}:root", caller_arn}
    if kind == "assumed-role":
        names.add(f"arn:{partition}:iam::{account}:role/{name.split('/')[0]}")
    return _allows(policy_document, lambda principal: bool(names & set(_values(principal.get("AWS")))), external_id)


def assume_role_refusal(role_arn: str, caller_arn: str, external_id: str | None) -> str | None:
    """None if the caller may assume `role_arn` (it exists and its trust policy lets the
    caller, with this external id), else AWS's AccessDenied message for it."""
    from moto.iam.models import iam_backends

    refused = f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    match = ROLE_ARN.fullmatch(str(role_arn or ""))
    if not match:
        return refused
    partition, account = match.groups()
    try:
        role = iam_backends[account][partition].get_role_by_arn(role_arn)
    except Exception:
        return refused  # AWS does not say that the role does not exist
    return None if trusts_caller(role.assume_role_policy_document, caller_arn, external_id) else refused


def why_not(role_arn: str, service: str, what: str = "the role") -> str | None:
    """None if `service` may assume `role_arn` now (it exists and trusts the
    service), else why not. `what` names the role in the reason ("the execution
    role", "the instance profile's role"); a reason never holds a credential."""
    from moto.iam.models import iam_backends

    match = ROLE_ARN.fullmatch(str(role_arn or ""))
    if not match:
        return f"{what} {role_arn!r} is not a role ARN"
    partition, account = match.groups()
    try:
        role = iam_backends[account][partition].get_role_by_arn(role_arn)
    except Exception:
        return f"{what} {role_arn} does not exist"
    if not trusts(role.assume_role_policy_document, service):
        return f"{what} {role_arn} does not trust {service}"
    return None


def assume_for_service(
    role_arn: str,
    service: str,
    *,
    account_id: str,
    region: str,
    session_name: str,
    duration: int,
    what: str = "the role",
) -> tuple[RoleSession | None, str | None]:
    """(credentials of `role_arn` as `service` assumes it, None), or (None, why not)."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    reason = why_not(role_arn, service, what)
    if reason is not None:
        return None, reason
    try:
        assumed = sts_backends[account_id][get_partition(region)].assume_role(
            region_name=region,
            role_session_name=session_name[:64],
            role_arn=role_arn,
            # moto annotates policy and external_id as str, but its own AssumeRole handler
            # passes None for a request without them, as here
            policy=None,  # type: ignore[arg-type]
            duration=duration,
            external_id=None,  # type: ignore[arg-type]
        )
    except Exception as exc:
        return None, f"{what} {role_arn} could not be assumed: {exc}"
    return RoleSession(
        role_arn,
        assumed.access_key_id,
        assumed.secret_access_key,
        assumed.session_token,
        assumed.account_id,
        assumed.partition,
    ), None
