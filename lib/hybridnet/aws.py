"""One factory for AWS sessions and clients, and the suite's tags.

This is the only place that knows whether a parameter set targets the
embedded emulator or a real account: every other module asks for a client
and gets one that behaves like AWS either way.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
import botocore.loaders
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from . import dataplane, hosts
from .errors import CredentialsError, HybridnetError
from .params import Params

# botocore's adaptive retry mode: standard retries plus client-side rate limiting.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    user_agent_extra="hybridnet/0.1",
    connect_timeout=5,
    read_timeout=60,
)

STACK_TAG = "hybridnet:stack"
PHASE_TAG = "hybridnet:phase"
# The emulator's seeded "existing" environment carries this tag instead, so
# that teardown never removes what the suite did not create.
BASELINE_TAG = "hybridnet:baseline"


class ClientSource(Protocol):
    """What hands out botocore clients by service name: an AwsContext, or the fleet
    check's Scope (one account in one region). The collectors that only need
    clients take either."""

    def client(self, service: str) -> BaseClient: ...


@dataclass
class AwsContext:
    params: Params
    session: boto3.session.Session
    endpoint_url: str | None
    # Seconds between waiter polls: AWS needs minutes, the emulator seconds.
    waiter_delay: int
    # Where the tunnels run (see dataplane.py): "lab" or None, and why.
    data_plane: str | None = None
    data_plane_reason: str = ""
    # How the runbook reaches hosts (hosts.py): "ssm" when the params name hosts, else "none".
    host_plane: str = "none"
    # Seconds between polls of a Run Command (botocore's command_executed waiter): a
    # real command takes seconds, the emulator's a few milliseconds.
    command_poll_s: float = 1.0
    # When the target's account started empty (the emulator without a saved state), else None.
    started_empty_at: str | None = None
    _clients: dict[str, BaseClient] = field(default_factory=dict, repr=False)

    @property
    def target(self) -> str:
        return self.params.target

    def client(self, service: str) -> BaseClient:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url, config=RETRY_CONFIG)
        return self._clients[service]

    def tags(self, phase: str, name: str) -> list[dict[str, str]]:
        return [
            {"Key": STACK_TAG, "Value": self.params.name},
            {"Key": PHASE_TAG, "Value": phase},
            {"Key": "Name", "Value": f"{self.params.name}-{name}"},
        ]

    def tag_spec(self, resource_type: str, phase: str, name: str) -> list[dict]:
        return [{"ResourceType": resource_type, "Tags": self.tags(phase, name)}]

    def stack_filters(self, phase: str | None = None) -> list[dict]:
        filters = [{"Name": f"tag:{STACK_TAG}", "Values": [self.params.name]}]
        if phase:
            filters.append({"Name": f"tag:{PHASE_TAG}", "Values": [phase]})
        return filters


class TargetError(HybridnetError, ValueError):
    """The parameter set's target is not installed here."""


@dataclass(frozen=True)
class Account:
    """What a target opens: a session, where its API answers and how fast it moves."""

    session: boto3.session.Session
    endpoint_url: str | None
    waiter_delay: int
    command_poll_s: float = 1.0
    # Run once on the new context: the emulator seeds the environment a real
    # account already has (a VPC, a transit gateway, the IDC's instances).
    prepare: Callable[[AwsContext], Any] | None = None
    # Set by a target whose account can start empty (the emulator: "started empty at
    # ..."), so that finding nothing of a stack is told as that, not as a stack never built.
    started_empty_at: str | None = None


@dataclass(frozen=True)
class Where:
    """Which account a target opens: the target's name, the region and, on AWS, the
    profile (None: the default credential chain)."""

    target: str
    region: str
    profile: str | None = None


@functools.cache
def _service_models(data_path: str | None) -> botocore.loaders.Loader:
    """The loader of botocore's service models, one per data path (AWS_DATA_PATH, or a
    profile's data_path) for the whole process."""
    return botocore.loaders.create_loader(data_path)


def new_session(**kwargs: Any) -> boto3.session.Session:
    """A boto3 session (boto3.session.Session's arguments) whose service models come from
    the process's one loader: each session would load its own, and EC2's alone takes
    about 0.1 s to read (a fleet's accounts, a notebook's runs, a test suite's stacks)."""
    core = botocore.session.get_session()
    if kwargs.get("profile_name") is not None:
        core.set_config_variable("profile", kwargs["profile_name"])
    # Read as botocore reads it for its own loader: a profile that is not there raises
    # ProfileNotFound here, when the session is made, as with boto3's own sessions.
    models = _service_models(core.get_config_variable("data_path"))
    core.register_component("data_loader", models)
    made = boto3.session.Session(botocore_session=core, **kwargs)
    # boto3 adds its own data folder to its session's loader, here the shared one: once is enough.
    models.search_paths[:] = list(dict.fromkeys(models.search_paths))
    return made


def _aws(where: Where) -> Account:
    try:
        session = new_session(profile_name=where.profile, region_name=where.region)
    except ProfileNotFound:
        raise CredentialsError(
            f"profile: {where.profile!r} is not in ~/.aws/config or ~/.aws/credentials: create it "
            f"(aws configure --profile {where.profile}, or aws configure sso), or name one that exists "
            "(aws configure list-profiles)"
        ) from None
    return Account(session, None, waiter_delay=15)


# Other targets are plugins: a package registers a function `Where -> Account`
# under this entry point group (the embedded emulator registers its own in
# pyproject.toml), so this module never imports it.
TARGET_GROUP = "hybridnet.targets"


def _plugin(entry: importlib.metadata.EntryPoint) -> Callable[[Where], Account]:
    """The target registered as `entry`, loaded when first called."""
    return lambda where: entry.load()(where)


@functools.cache
def targets() -> dict[str, Callable[[Where], Account]]:
    """Every target: "aws" and each one registered under TARGET_GROUP (loaded on first use)."""
    found: dict[str, Callable[[Where], Account]] = {"aws": _aws}
    for entry in importlib.metadata.entry_points(group=TARGET_GROUP):
        found.setdefault(entry.name, _plugin(entry))
    return found


def open_account(where: Where) -> Account:
    """The target's account (starting the emulator if needed): a session, its endpoint."""
    opener = targets().get(where.target)
    if opener is None:
        raise TargetError(
            f"target: {where.target!r} is not installed here (installed: {', '.join(sorted(targets()))});"
            " run `make setup`, or set target: aws"
        )
    return opener(where)


def connect(params: Params) -> AwsContext:
    """Clients for the parameter set's target (starting the emulator if needed)."""
    account = open_account(Where(params.target, params.region, params.profile))
    plane, why = dataplane.choose(params.target, params.lab)
    ctx = AwsContext(
        params,
        account.session,
        account.endpoint_url,
        waiter_delay=account.waiter_delay,
        data_plane=plane,
        data_plane_reason=why,
        host_plane=hosts.choose(params),
        command_poll_s=account.command_poll_s,
        started_empty_at=account.started_empty_at,
    )
    if account.prepare is not None:
        account.prepare(ctx)
    return ctx


def caller_identity(ctx: AwsContext) -> dict:
    """STS GetCallerIdentity, once before a run touches anything: the account and the
    identity the runbook acts as. What stops it is one CredentialsError naming the fix."""
    profile = ctx.params.profile
    login = f"aws sso login --profile {profile}" if profile else "aws sso login (or set the params' profile)"
    try:
        return ctx.client("sts").get_caller_identity()
    except NoCredentialsError:
        raise CredentialsError(
            "no AWS credentials: set the params' profile to one in ~/.aws/config (aws configure "
            "list-profiles), or export AWS_PROFILE, or give the instance or container a role"
        ) from None
    except (SSOTokenLoadError, UnauthorizedSSOTokenError, TokenRetrievalError) as exc:
        raise CredentialsError(f"the SSO session of the profile has ended or never began ({exc}): {login}") from None
    except EndpointConnectionError as exc:
        raise CredentialsError(
            f"cannot reach AWS STS ({exc}): check the network, a proxy, or the region {ctx.params.region!r}"
        ) from None
    except ClientError as exc:
        code, message = exc.response["Error"]["Code"], exc.response["Error"].get("Message", "")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            fix = f"the credentials have expired: {login}, or refresh the session's keys"
        elif code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"):
            fix = "the access key is not valid in this account or region: check the profile's keys"
        elif code in ("AccessDenied", "AccessDeniedException"):
            fix = "the identity may not call sts:GetCallerIdentity: see the IAM permissions in the README"
        else:
            fix = "see the message"
        raise CredentialsError(f"AWS refused the credentials: {code}: {message}; {fix}") from None


def paginate(client: BaseClient, operation: str, key: str, **kwargs) -> list[dict]:
    """Every item under `key` across all pages (botocore's paginator; one call
    for the few operations botocore cannot paginate)."""
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    return getattr(client, operation)(**kwargs).get(key, [])


def tag_value(resource: dict[str, Any], key: str) -> str | None:
    for tag in resource.get("Tags", []) or []:
        if tag["Key"] == key:
            return tag["Value"]
    return None
