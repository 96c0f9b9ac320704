"""One module per runbook phase. Each takes an AwsContext (validated params +
clients) and returns plain data; notebooks only call and display."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import HybridnetError

if TYPE_CHECKING:
    from ..aws import AwsContext


class PhaseError(HybridnetError, RuntimeError):
    """A precondition or drift the engineer must resolve; the message says what to do."""


@dataclass
class HostSteps:
    """What a phase did on the hosts through the data plane (SSM Run Command): one row
    per step or try, whether all of it worked, and why not (or why nothing ran).
    Shown in a notebook as its table."""

    ok: bool
    reason: str
    table: pd.DataFrame
    host_plane: str = ""  # how the hosts were reached (AwsContext.host_plane)
    timings: dict = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)  # remote users' connection attempts, as data

    def _repr_html_(self) -> str:
        return self.table._repr_html_()

    def __repr__(self) -> str:
        return self.table.to_string()


def find_vpc(ctx: AwsContext) -> dict:
    """The existing VPC with the params' CIDR (the one the TGW is attached to)."""
    from ..aws import paginate

    cidr = ctx.params.vpc.cidr
    vpcs = paginate(ctx.client("ec2"), "describe_vpcs", "Vpcs", Filters=[{"Name": "cidr-block", "Values": [cidr]}])
    if not vpcs:
        raise PhaseError(f"no VPC with CIDR {cidr} in {ctx.params.region}; fix vpc.cidr in the params")
    if len(vpcs) > 1:
        raise PhaseError(
            f"several VPCs have CIDR {cidr} ({', '.join(v['VpcId'] for v in vpcs)}); "
            "this suite needs the VPC's CIDR to be unique in the region"
        )
    return vpcs[0]


def nothing_here(why: str, next_step: str) -> pd.DataFrame:
    """The one-row table a phase shows where no data plane plays its part: why, and what to do."""
    return pd.DataFrame([{"data plane": "none here", "why": why, "next step": next_step}])


def store_secret(ctx: AwsContext, name: str, value: str, phase: str, what: str, description: str) -> None:
    """`value` as the Parameter Store SecureString `name`, tagged with the stack (so
    teardown removes it), written only when it is new or changed: a host reads it
    with its instance profile, and the secret never travels in a command."""
    ssm = ctx.client("ssm")
    try:
        current = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        current = None
    if current is None:
        ssm.put_parameter(
            Name=name, Value=value, Type="SecureString", Tags=ctx.tags(phase, what), Description=description
        )
    elif current != value:
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
