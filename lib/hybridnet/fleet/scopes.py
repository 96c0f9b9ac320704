"""Account-regions of the fleet, each with its own clients, and what they cost in calls.

A `Scope` is one account in one region: the clients the collectors use (botocore's
adaptive retry mode, as every client of the suite) and a count of the API calls
they made. An account is reached with its profile, with a role assumed from the
caller's credentials (sts:AssumeRole, with the external id where given), or with
the caller's own credentials; the target (AWS or the embedded emulator) is opened
through the session factory (aws.open_account), never imported.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.utils
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from ..aws import RETRY_CONFIG, Account, Where, open_account
from ..errors import HybridnetError
from .params import Fleet, FleetAccount

SESSION_NAME = "hybridnet-fleet"
# What a call to AWS can end in that makes an account-region (or a part) unread rather
# than the check fail: AWS's refusals, botocore's own errors, and an answer botocore
# cannot parse (an HTTP 500 page from a proxy or an endpoint in trouble).
AWS_FAILURES = (ClientError, BotoCoreError, ResponseParserError)


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
    # An assumed role's keys, used with the caller's session: one session loads each
    # service's model once (about 0.1 s for EC2's), a session per account would again.
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    _clients: dict[str, BaseClient] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> BaseClient:
        if service not in self._clients:
            assert self.session is not None, "an unreachable scope has no clients"
            made = self.session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=RETRY_CONFIG,
                **self.credentials,
            )
            made.meta.events.register("before-call", self.counter)
            self._clients[service] = made
        return self._clients[service]


def open_scopes(fleet: Fleet, sts_calls: CallCounter) -> list[Scope]:
    """A scope per account and region, each counting its own calls (the roles'
    AssumeRole calls count in `sts_calls`). An account that cannot be reached
    becomes scopes with `unreachable` set (the rest of the fleet still runs)."""
    caller = open_account(Where(fleet.target, fleet.region, fleet.profile))
    quick_timestamps(caller.session)
    sts = caller.session.client("sts", region_name=fleet.region, endpoint_url=caller.endpoint_url, config=RETRY_CONFIG)
    sts.meta.events.register("before-call", sts_calls)
    # The accounts' roles are assumed side by side (one client: botocore's are thread-safe):
    # one after another, a hundred accounts would wait a hundred round trips first.
    with ThreadPoolExecutor(max_workers=min(fleet.max_workers, max(len(fleet.accounts), 1))) as pool:
        found = pool.map(lambda account: _reach(fleet, account, caller, sts), fleet.accounts)
        reached = {account.name: how for account, how in zip(fleet.accounts, found)}
    return [
        Scope(
            account,
            region,
            reached[account.name].session,
            caller.endpoint_url,
            CallCounter(),
            unreachable=reached[account.name].unreachable,
            credentials=reached[account.name].credentials,
        )
        for account, region in fleet.scopes()
    ]


def parse_timestamp(value: Any) -> dt.datetime:
    """A timestamp as AWS sends it (ISO 8601 with its zone, or epoch seconds) read by the
    standard library; anything else by botocore's own parser (dateutil)."""
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return botocore.utils.parse_timestamp(value)
    return parsed if parsed.tzinfo is not None else botocore.utils.parse_timestamp(value)


def quick_timestamps(session: boto3.session.Session) -> None:
    """The clients `session` makes from now on parse timestamps with parse_timestamp
    (botocore's timestamp_parser setting): dateutil takes about 50 us a timestamp,
    and a fleet's answers hold thousands (each tunnel's last change, its metric points)."""
    factory = session._session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)


@dataclass
class Reached:
    """How an account's clients are made: a session (and a role's keys), or why not."""

    session: boto3.session.Session | None
    unreachable: str = ""
    credentials: dict[str, str] = field(default_factory=dict)


def _reach(fleet: Fleet, account: FleetAccount, caller: Account, sts: BaseClient) -> Reached:
    if account.profile:
        try:
            session = open_account(Where(fleet.target, fleet.region, account.profile)).session
            quick_timestamps(session)
            return Reached(session)
        except HybridnetError as exc:  # a profile that is not there: said on the account's rows
            return Reached(None, str(exc))
    if not account.role_arn:
        return Reached(caller.session)
    kwargs = {"RoleArn": account.role_arn, "RoleSessionName": SESSION_NAME}
    if account.external_id:
        kwargs["ExternalId"] = account.external_id
    try:
        credentials = sts.assume_role(**kwargs)["Credentials"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return Reached(
            None,
            f"sts:AssumeRole {account.role_arn} refused: {error.get('Code')}: {error.get('Message', '')}; "
            "check the role's ARN, and that its trust policy names the caller (and the external id, where given)",
        )
    except AWS_FAILURES as exc:
        return Reached(None, f"sts:AssumeRole {account.role_arn} failed: {exc}")
    return Reached(
        caller.session,
        credentials={
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        },
    )
