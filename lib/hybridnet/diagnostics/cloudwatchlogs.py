"""Reading AWS's logs of the stack from CloudWatch Logs, one way for every log the
health check reads (the VPN tunnel and BGP logs, the Resolver query logs, the
Client VPN connection logs): FilterLogEvents through boto3's paginator over a
look-back window; a group that does not exist (any more) gives nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from ..aws import ClientSource


def empty_frame(columns: list[str]) -> pd.DataFrame:
    """A log frame with no entry: its columns, `time` as UTC timestamps."""
    frame = pd.DataFrame({column: pd.Series(dtype="object") for column in columns})
    frame["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def log_group_name(arn_or_name: str) -> str:
    """A log group's name from its ARN (with or without the streams' ":*")."""
    if ":log-group:" not in arn_or_name:
        return arn_or_name
    return arn_or_name.split(":log-group:", 1)[1].removesuffix(":*")


def start_ms(lookback_minutes: float, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    return int((now - dt.timedelta(minutes=lookback_minutes)).timestamp() * 1000)


def events(
    ctx: ClientSource,
    group: str,
    since_ms: int,
    until_ms: int | None = None,
    streams: list[str] | None = None,
    stream_prefix: str | None = None,
) -> Iterable[dict]:
    """The group's events (logStreamName, timestamp, message) from `since_ms` on."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": since_ms}
    if until_ms is not None:
        kwargs["endTime"] = until_ms
    if streams:
        kwargs["logStreamNames"] = streams
    elif stream_prefix:
        kwargs["logStreamNamePrefix"] = stream_prefix
    try:
        for page in ctx.client("logs").get_paginator("filter_log_events").paginate(**kwargs):
            yield from page.get("events", [])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":  # a group deleted: nothing to read
            raise


__all__ = ["empty_frame", "events", "log_group_name", "start_ms"]
