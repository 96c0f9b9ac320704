"""AWS's Site-to-Site VPN logs, read back: what each tunnel's IKE and BGP said.

A tunnel with `LogOptions.CloudWatchLogOptions` sends two logs to CloudWatch Logs
(AWS page "AWS Site-to-Site VPN logs", section "Site-to-Site VPN log contents"):

* the tunnel activity log, one entry per IKE/IPsec/DPD event, with the fields
  `event_timestamp` (epoch), `timestamp` (readable), `dpd_enabled`,
  `nat_t_detected`, `ike_phase1_state` and `ike_phase2_state` (Established,
  Rekeying, Negotiating, Down) and `details` (a fixed catalogue of messages,
  e.g. "AWS tunnel detected a pre-shared key mismatch with cgw: ...");
* the BGP log: `resource_id` ("<vpn id>_<outside ip>"), `event_timestamp`,
  `timestamp`, `type` (BGPStatus, RouteStatus), `status` (UP, DOWN; ADVERTISED,
  UPDATED, WITHDRAWN) and `message` ({"details": ...}, or the route's prefix,
  asPath, localPref, med, nextHopIp, weight and maybe details).

Both in json or text (LogOutputFormat, BgpLogOutputFormat). AWS documents the
json fields only; the text form read here is `<timestamp> key: value, ...` with
`details` last (the lab writes it so; `key=value` is read too). The log streams
are named from the connection id and the tunnel's outside IP: the tunnel is taken
from the stream's name (the tunnel log's entries do not name it) or from a BGP
entry's resource_id.

`tunnel_log_frame` reads each tunnel's configured group(s) with FilterLogEvents
(botocore's paginator). An empty frame means logging is off or nothing was
written in the window: the caller says "no data", never OK.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pandas as pd

from ..aws import ClientSource
from . import cloudwatchlogs
from .cloudwatchlogs import log_group_name

COLUMNS = ["time", "vpn_connection_id", "outside_ip", "log", "phase1", "phase2", "bgp_status", "detail"]
PHASE_STATES = {"established": "Established", "rekeying": "Rekeying", "negotiating": "Negotiating", "down": "Down"}
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IN_NAME = re.compile(rf"(?<![\d.])({_IPV4})(?![\d.])")
_TEXT_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+(.*)$", re.S)
_TEXT_PAIR = re.compile(r"(?:^|,\s*)([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*")


def empty_frame() -> pd.DataFrame:
    return cloudwatchlogs.empty_frame(COLUMNS)


def _enabled(value: Any) -> bool:
    return str(value).lower() == "true"


def tunnel_logs(vpn: dict) -> dict[str, dict[str, set[str]]]:
    """{log group name: {outside IP: {"tunnel", "bgp"}}}: where each of the connection's
    tunnels sends which log, as DescribeVpnConnections says (nothing when logging is off)."""
    groups: dict[str, dict[str, set[str]]] = {}
    for option in vpn.get("Options", {}).get("TunnelOptions", []):
        cloudwatch = option.get("LogOptions", {}).get("CloudWatchLogOptions", {})
        for prefix, kind in (("", "tunnel"), ("Bgp", "bgp")):
            arn = cloudwatch.get(f"{prefix}LogGroupArn")
            if _enabled(cloudwatch.get(f"{prefix}LogEnabled")) and arn:
                groups.setdefault(log_group_name(arn), {}).setdefault(option["OutsideIpAddress"], set()).add(kind)
    return groups


def _time(value: Any) -> pd.Timestamp | None:
    """An entry's time: epoch seconds or milliseconds, or a readable timestamp."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        return pd.Timestamp(number, unit="ms" if number > 1e11 else "s", tz="UTC")
    try:
        stamp = pd.Timestamp(str(value).strip())
    except ValueError:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _text_fields(body: str) -> dict[str, str]:
    """`key: value, key: value, details: anything` (or key=value) -> {key: value};
    `details` takes the rest of the line."""
    fields: dict[str, str] = {}
    matches = list(_TEXT_PAIR.finditer(body))
    for index, match in enumerate(matches):
        key = match.group(1)
        end = len(body) if key == "details" or index + 1 == len(matches) else matches[index + 1].start()
        fields[key] = body[match.end() : end].strip()
        if key == "details":
            break
    return fields


def parse_message(message: str) -> dict | None:
    """One CloudWatch Logs event's message as a dict of the documented fields (json as
    it is; text split into fields, its leading timestamp as `timestamp`), or None
    when it is neither."""
    text = message.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    stamped = _TEXT_STAMP.match(text)
    fields = _text_fields(stamped.group(2) if stamped else text)
    if not fields:
        return None
    if stamped:
        fields.setdefault("timestamp", stamped.group(1))
    if isinstance(fields.get("message"), str) and fields["message"].startswith("{"):
        try:
            fields["message"] = json.loads(fields["message"])
        except ValueError:
            pass
    return fields


def _phase(value: Any) -> str | None:
    return PHASE_STATES.get(str(value).strip().lower(), str(value).strip()) if value not in (None, "") else None


def _route_detail(message: dict) -> str:
    prefix = message.get("prefix", "?")
    attributes = [
        f"{label} {message[key]}"
        for key, label in (
            ("asPath", "AS path"),
            ("nextHopIp", "next hop"),
            ("localPref", "local pref"),
            ("med", "MED"),
        )
        if message.get(key) not in (None, "")
    ]
    detail = f"{prefix}" + (f" ({', '.join(attributes)})" if attributes else "")
    return f"{detail}: {message['details']}" if message.get("details") else detail


def entry_row(fields: dict, stream: str, event_ms: int | None) -> dict | None:
    """A parsed entry as a frame row (without the connection id): tunnel or BGP, its
    tunnel (resource_id, else the stream's name), its time (its own, else the event's)."""
    when = (
        _time(fields.get("event_timestamp"))
        or _time(fields.get("timestamp"))
        or (_time(event_ms) if event_ms is not None else None)
    )
    if "type" in fields and "status" in fields:  # a BGP log entry
        message = fields.get("message")
        if isinstance(message, dict):
            detail = _route_detail(message) if fields["type"] == "RouteStatus" else str(message.get("details", ""))
        else:
            detail = str(fields.get("details") or message or "")
            if fields["type"] == "RouteStatus" and fields.get("prefix"):
                detail = _route_detail(fields)
        found = _IN_NAME.search(str(fields.get("resource_id", ""))) or _IN_NAME.search(stream)
        return {
            "time": when,
            "outside_ip": found.group(1) if found else None,
            "log": "bgp",
            "phase1": None,
            "phase2": None,
            "bgp_status": str(fields["status"]).upper(),
            "detail": detail,
        }
    if "ike_phase1_state" in fields or "ike_phase2_state" in fields or "details" in fields:
        found = _IN_NAME.search(stream)
        return {
            "time": when,
            "outside_ip": found.group(1) if found else None,
            "log": "tunnel",
            "phase1": _phase(fields.get("ike_phase1_state")),
            "phase2": _phase(fields.get("ike_phase2_state")),
            "bgp_status": None,
            "detail": str(fields.get("details", "")),
        }
    return None


def frame_from_events(
    vpn_connection_id: str, events: list[dict], wanted: dict[str, set[str]] | None = None
) -> pd.DataFrame:
    """FilterLogEvents' events (logStreamName, timestamp, message) of one connection as
    frame rows; with `wanted` ({outside IP: {"tunnel", "bgp"}}) only those logs of those
    tunnels."""
    rows = []
    for event in events:
        fields = parse_message(event.get("message", ""))
        row = entry_row(fields, event.get("logStreamName", ""), event.get("timestamp")) if fields else None
        if row is None or (wanted is not None and row["log"] not in wanted.get(row["outside_ip"], ())):
            continue
        rows.append({"vpn_connection_id": vpn_connection_id, **row})
    if not rows:
        return empty_frame()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True).astype("datetime64[ns, UTC]")
    return frame.sort_values(["time", "outside_ip", "log"], kind="stable", ignore_index=True)


def tunnel_log_frame(ctx: ClientSource, connections: list[dict], lookback_minutes: int) -> pd.DataFrame:
    """What the tunnels' AWS logs say over the look-back window, one row per entry:
    time (UTC), vpn_connection_id, outside_ip, log ("tunnel" or "bgp"), phase1, phase2
    (tunnel log), bgp_status (BGP log), detail. Each tunnel's configured group(s),
    its streams found by the connection id; a group that does not exist (any more)
    gives nothing. Empty (with these columns) when logging is off or nothing was written."""
    end = dt.datetime.now(dt.UTC)
    frames = []
    for vpn in connections:
        vpn_id = vpn["VpnConnectionId"]
        for group, wanted in tunnel_logs(vpn).items():
            events = list(
                cloudwatchlogs.events(
                    ctx,
                    group,
                    cloudwatchlogs.start_ms(lookback_minutes, end),
                    int(end.timestamp() * 1000),
                    stream_prefix=vpn_id,
                )
            )
            frame = frame_from_events(vpn_id, events, wanted)
            if not frame.empty:
                frames.append(frame)
    if not frames:
        return empty_frame()
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["time", "vpn_connection_id", "outside_ip", "log"], kind="stable", ignore_index=True)
