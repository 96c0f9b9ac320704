"""The stack's CloudWatch Logs groups for AWS's own logs (params ``logs``):
``/hybridnet/<stack>/<service>``, created once (or found again by name) with the
params' retention and tagged with the stack, so that teardown finds them.

Phase 3 sends Route 53 Resolver query logs to ``resolver``, phase 4 the Client
VPN connection logs to ``client-vpn`` (into one stream of it, ``connections``).
A found group whose retention or tags differ is brought back to the params
(PutRetentionPolicy, TagResource), in place.
"""

from __future__ import annotations

from ..aws import AwsContext, paginate
from ..params import Logs
from ..plan import Change, Step
from . import PhaseError


def group_name(ctx: AwsContext, service: str) -> str:
    return Logs.group_name(ctx.params.name, service)


def find(ctx: AwsContext, name: str) -> dict | None:
    """The log group called exactly `name`, as DescribeLogGroups shows it, or None."""
    groups = paginate(ctx.client("logs"), "describe_log_groups", "logGroups", logGroupNamePrefix=name)
    return next((g for g in groups if g["logGroupName"] == name), None)


def _written(ctx: AwsContext, name: str) -> dict:
    """The log group just created or changed, as DescribeLogGroups shows it."""
    group = find(ctx, name)
    if group is None:
        raise PhaseError(f"log group {name} is not in DescribeLogGroups after it was written; run the phase again")
    return group


def group_arn(group: dict) -> str:
    """A log group's ARN as other services take it: without the streams' ":*"."""
    return group.get("logGroupArn") or group["arn"].removesuffix(":*")


def _tags(ctx: AwsContext, phase: str, service: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in ctx.tags(phase, f"{service}-logs")}


def _drift(ctx: AwsContext, group: dict, phase: str, service: str) -> list[Change]:
    changes = []
    have, want = group.get("retentionInDays"), ctx.params.logs.retention_days
    if have != want:
        changes.append(Change("retention", f"{have} days" if have else "never expires", f"{want} days"))
    tags = ctx.client("logs").list_tags_for_resource(resourceArn=group_arn(group)).get("tags", {})
    if any(tags.get(k) != v for k, v in _tags(ctx, phase, service).items()):
        changes.append(Change("tags", "-", f"hybridnet:stack={ctx.params.name}"))
    return changes


def step(ctx: AwsContext, service: str, phase: str) -> Step:
    """The plan's row for the stack's log group of `service`."""
    name = group_name(ctx, service)
    group = find(ctx, name)
    if group is None:
        return Step(
            "log group",
            name,
            "create",
            how=f"CreateLogGroup (tagged), PutRetentionPolicy {ctx.params.logs.retention_days} days",
        )
    changes = _drift(ctx, group, phase, service)
    return Step(
        "log group",
        name,
        "modify" if changes else "keep",
        changes,
        "PutRetentionPolicy / TagResource (in place)" if changes else "",
    )


def ensure(ctx: AwsContext, service: str, phase: str, created: list[str], changed: list[str] | None = None) -> dict:
    """The stack's log group of `service` with the params' retention and the stack's tags;
    as DescribeLogGroups shows it (its ARN: group_arn())."""
    logs = ctx.client("logs")
    name = group_name(ctx, service)
    retention = ctx.params.logs.retention_days
    group = find(ctx, name)
    if group is None:
        logs.create_log_group(logGroupName=name, tags=_tags(ctx, phase, service))
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention)
        created.append(name)
        return _written(ctx, name)
    changes = _drift(ctx, group, phase, service)
    for change in changes:
        if change.field == "retention":
            logs.put_retention_policy(logGroupName=name, retentionInDays=retention)
        else:
            logs.tag_resource(resourceArn=group_arn(group), tags=_tags(ctx, phase, service))
    if changes and changed is not None:
        changed.append(f"{name}: " + ", ".join(f"{c.field} {c.have} -> {c.want}" for c in changes))
    return _written(ctx, name) if changes else group


def stream_exists(ctx: AwsContext, group: str, stream: str) -> bool:
    streams = paginate(
        ctx.client("logs"), "describe_log_streams", "logStreams", logGroupName=group, logStreamNamePrefix=stream
    )
    return any(s["logStreamName"] == stream for s in streams)


def ensure_stream(ctx: AwsContext, group: str, stream: str, created: list[str]) -> None:
    """The log stream `stream` in `group` (a service writing into a named stream needs it to exist)."""
    if not stream_exists(ctx, group, stream):
        ctx.client("logs").create_log_stream(logGroupName=group, logStreamName=stream)
        created.append(f"{group}:{stream}")
