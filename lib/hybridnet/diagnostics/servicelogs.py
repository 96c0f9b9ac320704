"""AWS's Route 53 Resolver query logs and Client VPN connection logs, read back.

Both are found from the API, never from hard-coded names: the query logs through
the query logging configurations associated with the VPC (an ACTIVE
association's configuration, its DestinationArn a CloudWatch Logs log group),
the connection logs through each endpoint's ConnectionLogOptions (log group and
stream). Each group is read with FilterLogEvents (botocore's paginator) over
the look-back window. The same parsers read what AWS writes and what the lab
writes, in the documented formats:

* Resolver query log entries (Route 53 Developer Guide, "Values that appear in
  Resolver query logs" and its example): version, account_id, region, vpc_id,
  query_timestamp (ISO 8601, UTC), query_name, query_type, query_class, rcode,
  answers [{Rdata, Type, Class}], srcaddr, srcport, transport, srcids
  ({instance} or {resolver_endpoint, resolver_network_interface}), and
  firewall fields with DNS Firewall.
* Client VPN connection log entries (Client VPN Administrator Guide,
  "Connection logging"): connection-log-type, connection-attempt-status,
  connection-attempt-failure-reason, connection-id, client-vpn-endpoint-id,
  transport-protocol, connection-start-time / -last-update-time / -end-time
  ("YYYY-MM-DD HH:MM:SS" UTC, or "NA"), client-ip, common-name, device-type,
  device-ip, port, ingress/egress bytes and packets, username,
  connection-duration-seconds, posture-compliance-statuses. The client connect
  handler's failures are failure reasons ("Connection authorization":
  client-connect-failed, client-connect-handler-timed-out, ...-other-execution-error,
  ...-throttled, ...-invalid-response, ...-service-error).

An empty frame (with the columns) means logging is off or nothing was written
in the window: a caller says "no data", never OK.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from ..aws import AwsContext, paginate
from .cloudwatchlogs import empty_frame, events, log_group_name, start_ms

RESOLVER_COLUMNS = ["time", "vpc_id", "query_name", "query_type", "rcode", "answers", "srcaddr", "source"]
CLIENT_VPN_COLUMNS = [
    "time",
    "endpoint_id",
    "connection_id",
    "client_ip",
    "common_name",
    "status",
    "failure_reason",
    "handler_status",
    "device_ip",
]
NA = "NA"
# connection-attempt-failure-reason -> what the client connect handler did
HANDLER_OUTCOMES = {
    "client-connect-failed": "denied",
    "client-connect-handler-timed-out": "timed-out",
    "client-connect-handler-other-execution-error": "error",
    "client-connect-handler-throttled": "throttled",
    "client-connect-handler-invalid-response": "invalid-response",
    "client-connect-handler-service-error": "service-error",
}


def _json(message: str) -> dict | None:
    try:
        parsed = json.loads(message)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _utc(text: Any, fmt: str | None = None) -> pd.Timestamp | None:
    if text in (None, "", NA):
        return None
    try:
        stamp = pd.Timestamp(dt.datetime.strptime(str(text), fmt)) if fmt else pd.Timestamp(str(text))
    except ValueError:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# --- Resolver query logs ---------------------------------------------------------------------------


def parse_resolver_query_entry(message: str) -> dict | None:
    """One Resolver query log entry as a RESOLVER_COLUMNS row, or None when it is not one."""
    entry = _json(message)
    if entry is None or "query_name" not in entry or "rcode" not in entry:
        return None
    answers = "; ".join(
        f"{a.get('Type', '?')} {a.get('Rdata', '?')}" for a in entry.get("answers") or [] if isinstance(a, dict)
    )
    ids = entry.get("srcids") or {}
    source = ids.get("instance") or ""
    endpoint = ids.get("resolver_endpoint")
    if endpoint:
        interface = ids.get("resolver_network_interface")
        via = f"{endpoint} ({interface})" if interface else endpoint
        source = f"{source} via {via}" if source else via
    return {
        "time": _utc(entry.get("query_timestamp")),
        "vpc_id": entry.get("vpc_id", ""),
        "query_name": entry["query_name"],
        "query_type": entry.get("query_type", ""),
        "rcode": entry["rcode"],
        "answers": answers,
        "srcaddr": entry.get("srcaddr", ""),
        "source": source,
    }


def query_log_groups(ctx: AwsContext, vpc_id: str) -> list[str]:
    """The CloudWatch Logs groups the VPC's queries are logged to: the destinations of the
    query logging configurations with an ACTIVE association with it."""
    resolver = ctx.client("route53resolver")
    groups = []
    for association in paginate(
        resolver,
        "list_resolver_query_log_config_associations",
        "ResolverQueryLogConfigAssociations",
        Filters=[{"Name": "ResourceId", "Values": [vpc_id]}],
    ):
        if association.get("Status") != "ACTIVE":
            continue
        config = resolver.get_resolver_query_log_config(
            ResolverQueryLogConfigId=association["ResolverQueryLogConfigId"]
        )["ResolverQueryLogConfig"]
        arn = config.get("DestinationArn", "")
        if ":logs:" in arn and ":log-group:" in arn and log_group_name(arn) not in groups:
            groups.append(log_group_name(arn))
    return groups


def resolver_query_frame(ctx: AwsContext, lookback_minutes: float = 60, vpc_id: str | None = None) -> pd.DataFrame:
    """The VPC's Resolver query log entries of the last `lookback_minutes`, oldest first:
    time, vpc_id, query_name, query_type, rcode, answers ("A 10.0.10.10; ..."), srcaddr,
    source (the instance, or the resolver endpoint and interface the query came through)."""
    if vpc_id is None:
        from ..phases import PhaseError, find_vpc

        try:
            vpc_id = find_vpc(ctx)["VpcId"]
        except PhaseError:
            return empty_frame(RESOLVER_COLUMNS)
    start = start_ms(lookback_minutes)
    rows = [
        row
        for group in query_log_groups(ctx, vpc_id)
        for event in events(ctx, group, start)
        if (row := parse_resolver_query_entry(event.get("message", ""))) is not None and row["vpc_id"] in (vpc_id, "")
    ]
    return _frame(rows, RESOLVER_COLUMNS)


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return empty_frame(columns)
    frame = pd.DataFrame(rows, columns=columns)
    frame["time"] = pd.to_datetime(frame["time"], utc=True).astype("datetime64[ns, UTC]")  # as the empty frame's
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


# --- Client VPN connection logs ----------------------------------------------------------------------

CVPN_TIME = "%Y-%m-%d %H:%M:%S"


def handler_status(entry: dict, handler_enabled: bool | None = None) -> str:
    """What the client connect handler did for this attempt: denied, timed-out, error,
    throttled, invalid-response, service-error (from the failure reason), allowed (a
    successful attempt on an endpoint with a handler), or "" (no handler involved)."""
    reason = entry.get("connection-attempt-failure-reason") or NA
    if reason in HANDLER_OUTCOMES:
        return HANDLER_OUTCOMES[reason]
    if entry.get("connection-attempt-status") == "successful" and (
        handler_enabled or (handler_enabled is None and "posture-compliance-statuses" in entry)
    ):
        return "allowed"
    return ""


def parse_client_vpn_entry(
    message: str, handler_enabled: bool | None = None, timestamp_ms: int | None = None
) -> dict | None:
    """One Client VPN connection log entry as a CLIENT_VPN_COLUMNS row, or None when it
    is not one. status is connection-attempt-status ("successful", "failed", ...), or
    "ended" for the entry that closes a connection (connection-end-time set);
    failure_reason is "" when there is none ("NA")."""
    entry = _json(message)
    if entry is None or "connection-id" not in entry or "client-vpn-endpoint-id" not in entry:
        return None
    time = _utc(entry.get("connection-last-update-time"), CVPN_TIME) or _utc(
        entry.get("connection-start-time"), CVPN_TIME
    )
    if time is None and timestamp_ms is not None:
        time = pd.Timestamp(timestamp_ms, unit="ms", tz="UTC")
    ended = entry.get("connection-end-time") not in (None, "", NA)
    status = "ended" if ended else entry.get("connection-attempt-status", "")
    if entry.get("connection-log-type") == "connection-reset" and not ended:
        status = "reset"
    reason = entry.get("connection-attempt-failure-reason") or NA

    def value(key: str) -> str:
        found = entry.get(key)
        return "" if found in (None, NA) else str(found)

    return {
        "time": time,
        "endpoint_id": entry["client-vpn-endpoint-id"],
        "connection_id": entry["connection-id"],
        "client_ip": value("client-ip"),
        "common_name": value("common-name"),
        "status": status,
        "failure_reason": "" if reason == NA else reason,
        "handler_status": handler_status(entry, handler_enabled),
        "device_ip": value("device-ip"),
    }


def client_vpn_connection_frame(ctx: AwsContext, endpoint_ids: list[str], lookback_minutes: float = 60) -> pd.DataFrame:
    """The endpoints' connection log entries of the last `lookback_minutes`, oldest first:
    time, endpoint_id, connection_id, client_ip, common_name, status, failure_reason,
    handler_status (see handler_status), device_ip (the client's public address). Read
    where each endpoint's ConnectionLogOptions say; an endpoint without logging adds nothing."""
    if not endpoint_ids:
        return empty_frame(CLIENT_VPN_COLUMNS)
    ec2 = ctx.client("ec2")
    endpoints = paginate(
        ec2, "describe_client_vpn_endpoints", "ClientVpnEndpoints", ClientVpnEndpointIds=list(endpoint_ids)
    )
    start = start_ms(lookback_minutes)
    rows = []
    for endpoint in endpoints:
        options = endpoint.get("ConnectionLogOptions") or {}
        if not options.get("Enabled") or not options.get("CloudwatchLogGroup"):
            continue
        handler = bool((endpoint.get("ClientConnectOptions") or {}).get("Enabled"))
        stream = options.get("CloudwatchLogStream")
        for event in events(
            ctx, log_group_name(options["CloudwatchLogGroup"]), start, streams=[stream] if stream else None
        ):
            row = parse_client_vpn_entry(event.get("message", ""), handler, event.get("timestamp"))
            if row is not None and row["endpoint_id"] == endpoint["ClientVpnEndpointId"]:
                rows.append(row)
    return _frame(rows, CLIENT_VPN_COLUMNS)


__all__ = [
    "CLIENT_VPN_COLUMNS",
    "HANDLER_OUTCOMES",
    "RESOLVER_COLUMNS",
    "client_vpn_connection_frame",
    "handler_status",
    "log_group_name",
    "parse_client_vpn_entry",
    "parse_resolver_query_entry",
    "query_log_groups",
    "resolver_query_frame",
]
