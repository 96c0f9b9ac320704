"""params/fleet.yaml: which accounts, regions and connections the fleet health check reads.

Validated like every parameter set: every bad field at once, each named with the
fix, before any AWS call (params.ParamsError).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..params import ParamsError, Thresholds, _Model, known_regions, load_model

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$"


def _regions(values: list[str]) -> list[str]:
    known = known_regions()
    bad = [v for v in values if v not in known]
    if bad:
        raise ValueError(f"{bad} are not AWS regions; e.g. {', '.join(known[:6])}")
    if len(set(values)) != len(values):
        raise ValueError("a region is listed twice; list each once")
    return values


class FleetAccount(_Model):
    """One account of the fleet, reached with a profile, a role assumed from the
    caller's credentials, or (neither) the caller's own credentials."""

    name: str = Field(pattern=NAME)  # how the tables name it
    profile: str | None = None
    role_arn: str | None = Field(None, pattern=ROLE_ARN)
    external_id: str | None = Field(None, min_length=2, max_length=1224, pattern=r"^[A-Za-z0-9_+=,.@:/-]+$")
    regions: list[str] | None = None  # this account's regions instead of the fleet's

    @field_validator("regions")
    @classmethod
    def _known(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _regions(values)

    @model_validator(mode="after")
    def _one_way_in(self) -> FleetAccount:
        if self.profile and self.role_arn:
            raise ValueError(
                "give profile or role_arn, not both (a role is assumed with the caller's credentials, "
                "the fleet's top-level profile)"
            )
        if self.external_id and not self.role_arn:
            raise ValueError("external_id goes with role_arn: it is passed to sts:AssumeRole")
        return self


class Fleet(_Model):
    """params/fleet.yaml."""

    target: Literal["emulator", "aws"] = "emulator"
    name: str = Field("fleet", pattern=NAME)  # names the runs and reports
    profile: str | None = None  # the caller's credentials: the roles are assumed with them
    region: str = "us-east-1"  # the caller's home region (its STS calls)
    accounts: list[FleetAccount] = Field(min_length=1)
    regions: list[str] = Field(min_length=1)
    tags: dict[str, str | list[str]] = Field(default_factory=dict)  # only connections with these tags
    lookback_minutes: int = Field(15, ge=5, le=1440)  # tunnel history window (AWS/VPN TunnelState)
    max_workers: int = Field(8, ge=1, le=64)  # account-regions read at once
    resolver_endpoints: bool = True  # judge each region's Route 53 Resolver endpoints
    client_vpn_endpoints: bool = True  # judge each region's Client VPN endpoints
    tunnel_logs: bool = True  # read the tunnels' logs where logging is on, to name causes
    thresholds: Thresholds = Thresholds()

    @field_validator("region")
    @classmethod
    def _home(cls, value: str) -> str:
        return _regions([value])[0]

    @field_validator("regions")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        return _regions(values)

    @field_validator("accounts")
    @classmethod
    def _unique(cls, accounts: list[FleetAccount]) -> list[FleetAccount]:
        names = [a.name for a in accounts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"account names {twice} are used twice; each account needs its own name")
        return accounts

    def scopes(self) -> list[tuple[FleetAccount, str]]:
        """Every (account, region) to read, in the file's order."""
        return [(account, region) for account in self.accounts for region in (account.regions or self.regions)]

    def tag_filters(self) -> list[dict]:
        return [
            {"Name": f"tag:{key}", "Values": [value] if isinstance(value, str) else list(value)}
            for key, value in sorted(self.tags.items())
        ]


SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int] | None:
    """ "K/N" (1 <= K <= N) -> (K, N); "" -> None. A ParamsError names the fix."""
    if not text:
        return None
    found = SHARD.match(text.strip())
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise ParamsError(
            "--shard", [("shard", f"{text!r} is not K/N with 1 <= K <= N, e.g. 1/4 for the first of four shards")]
        )
    return int(found.group(1)), int(found.group(2))


def shard(fleet: Fleet, which: tuple[int, int] | None) -> Fleet:
    """The accounts of shard K of N: every N-th account from the K-th, so that N
    scheduler jobs with K = 1..N read each account exactly once."""
    if which is None:
        return fleet
    k, n = which
    mine = fleet.accounts[k - 1 :: n]
    if not mine:
        raise ParamsError(
            "--shard",
            [
                (
                    "shard",
                    f"shard {k}/{n} has no account: the fleet lists "
                    f"{len(fleet.accounts)}; use at most {len(fleet.accounts)} shards",
                )
            ],
        )
    return fleet.model_copy(update={"accounts": mine})


def load_fleet(path: str | Path) -> Fleet:
    return load_model(Fleet, path, "e.g. params/fleet.yaml")
