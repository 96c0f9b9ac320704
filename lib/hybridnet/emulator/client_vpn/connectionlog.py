"""Client VPN connection logs: what the service writes to the endpoint's CloudWatch
Logs log stream for every connection attempt and its outcome.

The entries follow the AWS Client VPN Administrator Guide ("Connection logging
for an AWS Client VPN endpoint"): a JSON object per event, every value a string
("NA" when it does not apply), times as "YYYY-MM-DD HH:MM:SS" (UTC):

- an attempt: ``connection-log-type`` "connection-attempt",
  ``connection-attempt-status`` "successful" or "failed",
  ``connection-attempt-failure-reason`` "NA" or, when the client connect
  handler refused, the reason the Guide lists ("Connection authorization"):
  client-connect-failed (the handler denied), client-connect-handler-timed-out
  (it did not answer within 30 s), client-connect-handler-other-execution-error
  (it raised), client-connect-handler-invalid-response (its answer was not in
  the documented format), client-connect-handler-service-error (it could not be
  invoked). A failed attempt has no client IP, start or end time ("NA"), as in
  the Guide's example of a refused attempt. The handler's own message goes to
  the client only, as on AWS; ``posture-compliance-statuses`` are the ones it
  returned.
- its end: the same connection id, still "successful", with
  ``connection-end-time``, the byte counts and ``connection-duration-seconds``.

Failed mutual-TLS attempts are not logged (AWS: "Failed mutual authentication
attempts are not logged"): the lab's OpenVPN refuses those before they reach
the emulator. A log group or stream deleted meanwhile gets nothing, and the
connection is not affected.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

NA = "NA"


def _time(moment: dt.datetime | None) -> str:
    if moment is None:
        return NA
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def attempt_entry(
    endpoint: Any, connection: Any, *, allowed: bool, failure_reason: str | None, handler_invoked: bool, at: dt.datetime
) -> dict[str, Any]:
    """The entry for a connection attempt (allowed or refused)."""
    entry: dict[str, Any] = {
        "connection-log-type": "connection-attempt",
        "connection-attempt-status": "successful" if allowed else "failed",
        "connection-reset-status": NA,
        "connection-attempt-failure-reason": NA if allowed else (failure_reason or "client-connect-failed"),
        "connection-id": connection.connection_id,
        "client-vpn-endpoint-id": endpoint.id,
        "transport-protocol": endpoint.transport_protocol,
        "connection-start-time": _time(connection.established) if allowed else NA,
        "connection-last-update-time": _time(at),
        "client-ip": connection.client_ip if allowed else NA,
        "common-name": connection.common_name or NA,
        "device-type": connection.device_type or NA,
        "device-ip": connection.public_ip or NA,
        "port": str(connection.port) if connection.port else NA,
        "ingress-bytes": "0",
        "egress-bytes": "0",
        "ingress-packets": "0",
        "egress-packets": "0",
        "connection-end-time": NA,
        "connection-duration-seconds": "0" if allowed else NA,
    }
    if handler_invoked:
        entry["posture-compliance-statuses"] = list(connection.posture_compliance_statuses)
    if connection.username:
        entry["username"] = connection.username
    return entry


def end_entry(endpoint: Any, connection: Any) -> dict[str, Any]:
    """The entry for the end of an admitted connection."""
    ended = connection.ended or dt.datetime.now(dt.UTC)
    entry = attempt_entry(
        endpoint,
        connection,
        allowed=True,
        failure_reason=None,
        handler_invoked=bool(connection.posture_compliance_statuses),
        at=ended,
    )
    entry.update(
        {
            "ingress-bytes": str(connection.ingress_bytes),
            "egress-bytes": str(connection.egress_bytes),
            "ingress-packets": str(connection.ingress_packets),
            "egress-packets": str(connection.egress_packets),
            "connection-end-time": _time(ended),
            "connection-duration-seconds": str(max(0, int((ended - connection.established).total_seconds()))),
        }
    )
    return entry


def write(endpoint: Any, entry: dict[str, Any], at: dt.datetime | None = None) -> bool:
    """Put `entry` into the endpoint's connection log, if logging is on; whether it was written."""
    options = endpoint.connection_log or {}
    group, stream = options.get("CloudwatchLogGroup"), options.get("CloudwatchLogStream")
    if not options.get("Enabled") or not group or not stream:
        return False
    from moto.logs.models import logs_backends

    logs = logs_backends[endpoint.account_id][endpoint.region]
    if group not in logs.groups:
        return False  # deleted since: nothing is delivered
    logs.ensure_log_stream(group, stream)
    stamp = int((at or dt.datetime.now(dt.UTC)).timestamp() * 1000)
    logs.put_log_events(group, stream, [{"timestamp": stamp, "message": json.dumps(entry)}])
    return True
