"""Account-regions of the fleet, each with its own clients, and what they cost in calls.

A `Scope` is one account in one region: the clients the collectors use (botocore's
adaptive retry mode, as every client of the suite) and a count of the API calls
they made. An account is reached with its profile, with a role assumed from the
caller's credentials (sts:AssumeRole, with the external id where given), or with
the caller's own credentials; the target (AWS or the embedded emulator) is opened
through the session factory (aws.open_account), never imported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from ..aws import RETRY_CONFIG, Account, Where, open_account
from ..errors import HybridnetError
from .params import Fleet, FleetAccount

SESSION_NAME = "hybridnet-fleet"


class CallCounter:
    """API calls made (one per operation called, retries not counted again), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def __call__(self, model, **_) -> None:  # botocore's before-call event
        with self._lock:
            self.calls[model.name] = self.calls.get(model.name, 0) + 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())


@dataclass
class Scope:
    """One account in one region. `client(service)` as AwsContext.client, so the
    single-stack collectors that only need clients read a scope as they read a stack."""

    account: FleetAccount
    region: str
    session: boto3.session.Session | None
    endpoint_url: str | None
    counter: CallCounter
    # Why the account cannot be read at all (its role refused, its profile missing).
    unreachable: str = ""
    _clients: dict[str, BaseClient] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> BaseClient:
        if service not in self._clients:
            assert self.session is not None, "an unreachable scope has no clients"
            made = self.session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=RETRY_CONFIG
            )
            made.meta.events.register("before-call", self.counter)
            self._clients[service] = made
        return self._clients[service]


def open_scopes(fleet: Fleet, sts_calls: CallCounter) -> list[Scope]:
    """A scope per account and region, each counting its own calls (the roles'
    AssumeRole calls count in `sts_calls`). An account that cannot be reached
    becomes scopes with `unreachable` set (the rest of the fleet still runs)."""
    caller = open_account(Where(fleet.target, fleet.region, fleet.profile))
    sessions: dict[str, tuple[boto3.session.Session | None, str]] = {}
    for account in fleet.accounts:
        sessions[account.name] = _session(fleet, account, caller, sts_calls)
    return [
        Scope(
            account,
            region,
            sessions[account.name][0],
            caller.endpoint_url,
            CallCounter(),
            unreachable=sessions[account.name][1],
        )
        for account, region in fleet.scopes()
    ]


def _session(
    fleet: Fleet, account: FleetAccount, caller: Account, counter: CallCounter
) -> tuple[boto3.session.Session | None, str]:
    if account.profile:
        try:
            return open_account(Where(fleet.target, fleet.region, account.profile)).session, ""
        except HybridnetError as exc:  # a profile that is not there: said on the account's rows
            return None, str(exc)
    if not account.role_arn:
        return caller.session, ""
    sts = caller.session.client("sts", region_name=fleet.region, endpoint_url=caller.endpoint_url, config=RETRY_CONFIG)
    sts.meta.events.register("before-call", counter)
    kwargs = {"RoleArn": account.role_arn, "RoleSessionName": SESSION_NAME}
    if account.external_id:
        kwargs["ExternalId"] = account.external_id
    try:
        credentials = sts.assume_role(**kwargs)["Credentials"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return None, (
            f"sts:AssumeRole {account.role_arn} refused: {error.get('Code')}: {error.get('Message', '')}; "
            "the role's trust policy must name the caller (and the external id, where given)"
        )
    except BotoCoreError as exc:
        return None, f"sts:AssumeRole {account.role_arn} failed: {exc}"
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ), ""
