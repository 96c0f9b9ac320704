"""AWS's Site-to-Site VPN logs, written by the lab as AWS writes them.

A tunnel whose options say `LogOptions.CloudWatchLogOptions.LogEnabled` (tunnel
activity log) or `BgpLogEnabled` (BGP log) gets, on AWS, entries in the named
CloudWatch Logs group. The lab plays AWS's side with charon and bgpd in the AWS
namespace: every tick of the agent (twin.py) `publish()` reads what these two
daemons logged since the last tick (byte offsets kept in the lab's state file, so
nothing is written twice, also across agent restarts), turns the events into
entries in AWS's formats and sends them with PutLogEvents to the emulator (the
agent's boto3 clients), one log stream per tunnel and log. Entries only while the
tunnel's options enable that log; lines read while it is off are dropped.

Formats (AWS page "AWS Site-to-Site VPN logs", section "Site-to-Site VPN log
contents", and its "Example log format for Tunnel BGP logs"):

* tunnel activity log, json: {"event_timestamp": <epoch s>, "timestamp":
  "YYYY-MM-DD HH:MM:SS.mmmZ", "details": <message>, "dpd_enabled": true,
  "nat_t_detected": <bool>, "ike_phase1_state": ..., "ike_phase2_state": ...}: the
  documented fields. States are written lower-case (established, negotiating,
  down), as AWS's own entries show them; the epoch in seconds (the BGP example's
  is in milliseconds: the reader takes both).
* BGP log, json: {"resource_id": "<vpn id>_<outside ip>", "event_timestamp":
  <epoch ms>, "timestamp": ..., "type": "BGPStatus" | "RouteStatus", "status":
  UP | DOWN | ADVERTISED | UPDATED | WITHDRAWN, "message": {"details": ...} or
  {"prefix", "asPath", "localPref", "med", "nextHopIp", "weight"[, "details"]}}:
  as AWS's example.
* text (LogOutputFormat / BgpLogOutputFormat "text"): AWS documents no layout; here
  `<timestamp> key: value, key: value, ..., details: <message>` with the json's
  fields (details last, so it may hold commas and colons).
* streams: AWS says only that a stream's name "uses VpnConnectionID and
  TunnelOutsideIPAddress": `<vpn id>-<outside ip>` for the tunnel log and
  `<vpn id>-<outside ip>-bgp` for the BGP log (our choice: both may go to one group).

Messages are AWS's documented catalogue, from these charon lines (the AWS side is
the responder; IKEv1 and IKEv2):

    could not decrypt payloads (IKEv1 main mode)    AWS tunnel payload decryption was unsuccessful due to
                                                    invalid Pre-shared Key
    ... but MAC mismatched (IKEv2 IKE_AUTH)         AWS tunnel detected a pre-shared key mismatch with cgw: <ip>
    N(AUTH_FAILED) in an IKE_AUTH response          AWS tunnel is sending AUTHENTICATION_FAILED as the response
    no proposal found (IKEv1 main mode) /           No Proposal Match Found by AWS
      received proposals unacceptable (IKEv2 IKE_SA_INIT)
    no matching proposal found, sending             No Proposal Match Found. Notifying with "No proposal chosen"
      NO_PROPOSAL_CHOSEN (IKEv1 quick mode) /
      no acceptable proposal found (IKEv2 CHILD_SA)
    failed to establish CHILD_SA, keeping IKE_SA    AWS tunnel Phase 2 was unable to establish while keeping Phase 1
    traffic selectors ... unacceptable              AWS: Traffic Selector: TS_UNACCEPTABLE: received from responder
    DPD check timed out (IKEv1)                     Peer is not responsive - Declaring peer dead
    giving up after N retransmits (IKEv2)           AWS tunnel DPD timed out after N retransmits
    received DELETE for ESP CHILD_SA with SPI x     AWS tunnel received DELETE for Phase 2 SA with SPI: x
    received DELETE for IKE_SA                      AWS tunnel received DELETE for IKE_SA from CGW
    deleting half open IKE_SA with x after timeout  AWS tunnel Timeout: deleting un-established Phase 1 IKE_SA
                                                    with cgw: x
    parsed/generating CREATE_CHILD_SA request/      AWS tunnel processed/is sending request/response (id=n) for
      response n (IKEv2)                            CREATE_CHILD_SA

and two of ours for what AWS's catalogue has no message for, so that the phase
states show when a tunnel comes up: "AWS tunnel Phase 1 (IKE_SA) established with
cgw: <ip>" (IKE_SA ... established) and "AWS tunnel Phase 2 SA established with
SPI: <spi>" (CHILD_SA ... established).

From bgpd's log (its neighbor events and inbound updates, aws-bgpd.conf.j2), AWS's
BGP status messages: "<ip> went from A to B" -> "AWS-side peer BGP session state
has changed from A to B with neighbor <ip>" (UP when B is Established); "bad OPEN,
remote AS is X, expected Y" -> "AWS-side peer detected a bad OPEN message from
neighbor <ip> - remote AS is X, expected Y"; the OPEN messages sent and received,
NOTIFICATIONs sent and received (code/subcode and their names), Hold Timer
Expired, End-of-RIB sent; and route status: "rcvd <prefix>" ADVERTISED (UPDATED
when already known) with the UPDATE's attributes, "-- withdrawn" WITHDRAWN,
"-- DENIED due to: ..." with that as details (AWS's wording); the prefixes known
on a session that goes down are WITHDRAWN with it. Repeats of one BGP status
message within a minute (bgpd retries every second) are written once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .daemons import LabRuntime

STATE_KEY = "vpn_logs"
MAX_READ_BYTES = 1 << 20  # per daemon and tick: a burst is read over a few ticks
MAX_PENDING = 2000  # entries kept for a retry when the emulator did not take them
BGP_REPEAT_S = 60.0
TUNNEL_REPEAT_S = 2.0
BATCH = 1000
STANDARD_BGP_STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")

_CHARON = re.compile(r"^(\w{3}\s+\d{1,2} \d\d:\d\d:\d\d) \d+\[(\w+)\] (?:<(?:([^|>]+)\|)?(\d+)> )?(.*)$")
_FRR = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)(?:\.\d+)? BGP: (?:\[[\w-]+\](?:\[[^\]]*\])? )?(.*)$")
_IP = r"\d{1,3}(?:\.\d{1,3}){3}"


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


# --- time ---------------------------------------------------------------------------------------


def _charon_time(stamp: str, now: dt.datetime) -> float:
    """charon's "%b %e %T" (local time, no year) as epoch seconds."""
    parsed = dt.datetime.strptime(f"{now.year} {stamp}", "%Y %b %d %H:%M:%S")
    if parsed > now.replace(tzinfo=None) + dt.timedelta(days=1):  # December's line read in January
        parsed = parsed.replace(year=now.year - 1)
    return parsed.astimezone().timestamp()


def _frr_time(stamp: str) -> float:
    return dt.datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S").astimezone().timestamp()


def _readable(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


# --- AWS's formats -------------------------------------------------------------------------------


def tunnel_entry(epoch: float, details: str, phase1: str, phase2: str, nat_t: bool, output: str = "json") -> str:
    """One tunnel activity log entry (see the module's docstring)."""
    fields = {
        "event_timestamp": int(epoch),
        "timestamp": _readable(epoch),
        "details": details,
        "dpd_enabled": True,
        "nat_t_detected": bool(nat_t),
        "ike_phase1_state": phase1.lower(),
        "ike_phase2_state": phase2.lower(),
    }
    if output == "json":
        return json.dumps(fields)
    pairs = [
        f"{key}: {str(value).lower() if isinstance(value, bool) else value}"
        for key, value in fields.items()
        if key not in ("event_timestamp", "timestamp", "details")
    ]
    return f"{fields['timestamp']} " + ", ".join(pairs + [f"details: {details}"])


def bgp_entry(epoch: float, resource_id: str, kind: str, status: str, message: dict, output: str = "json") -> str:
    """One BGP log entry (see the module's docstring)."""
    fields = {
        "resource_id": resource_id,
        "event_timestamp": int(epoch * 1000),
        "timestamp": _readable(epoch),
        "type": kind,
        "status": status,
        "message": message,
    }
    if output == "json":
        return json.dumps(fields)
    details = message.get("details")
    pairs = [f"resource_id: {resource_id}", f"type: {kind}", f"status: {status}"]
    pairs += [f"{key}: {value}" for key, value in message.items() if key != "details"]
    return f"{fields['timestamp']} " + ", ".join(pairs + ([f"details: {details}"] if details else []))


def stream_names(vpn_id: str, outside_ip: str) -> dict[str, str]:
    return {"tunnel": f"{vpn_id}-{outside_ip}", "bgp": f"{vpn_id}-{outside_ip}-bgp"}


# --- reading a daemon's log from where the last tick stopped ------------------------------------------


def _started_at(pid: int, starttime: int) -> float | None:
    """When a process started (epoch seconds), from its /proc start time in clock ticks."""
    try:
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
        )
    except (OSError, StopIteration):
        return None
    return boot + starttime / os.sysconf("SC_CLK_TCK")


def _new_lines(record, position: dict) -> tuple[list[str], bool]:
    """Complete lines the daemon wrote since `position` (updated in place), and whether
    this daemon is another than last time (restarted: its state starts over)."""
    identity = [record.pid, record.starttime]
    restarted = position.get("daemon") != identity
    position["daemon"] = identity
    path = Path(record.log)
    try:
        size = path.stat().st_size
    except OSError:
        return [], restarted
    offset = position.get("offset")
    if offset is None or offset > size:  # first read of this log (a new lab), or the file was replaced
        offset = 0
        position["since"] = (_started_at(record.pid, record.starttime) or 0.0) - 2.0
    with open(path, "rb") as handle:
        handle.seek(offset)
        chunk = handle.read(MAX_READ_BYTES)
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], restarted
    position["offset"] = offset + end + 1
    return chunk[:end].decode(errors="replace").splitlines(), restarted


# --- charon: the tunnel activity log ------------------------------------------------------------------


class _Tunnels:
    """The AWS side's tunnels as charon's log tells them: which IKE_SA is whose tunnel,
    each tunnel's IKE_SAs (negotiating, established) and child SAs, so that the phase
    states are the tunnel's (a rekey or a new attempt runs beside the old SA)."""

    def __init__(self, state: dict, lab_tunnels: list[dict]):
        self.by_name = {t["aws_connection"]: t["vgw_outside_ip"] for t in lab_tunnels}
        self.cgw = {t["vgw_outside_ip"]: t["cgw_outside_ip"] for t in lab_tunnels}
        self.sas: dict[str, str] = state.setdefault("ike_sas", {})  # IKE_SA unique id -> outside IP
        self.tunnels: dict[str, dict] = state.setdefault("tunnels", {})

    def reset(self) -> None:
        """A new charon: no SA of the old one exists any more."""
        self.sas.clear()
        self.tunnels.clear()

    def tunnel(self, ip: str) -> dict:
        return self.tunnels.setdefault(ip, {"ike": {}, "children": {}, "nat_t": {}})

    def which(self, name: str | None, sa: str | None, message: str) -> str | None:
        """The tunnel (AWS outside IP) a line is about: its IKE_SA's name, an AWS outside
        address in it (packets, peer config lookups), or what its IKE_SA was seen with."""
        ip = self.by_name.get(name) if name else None
        if ip is None:
            ip = next((found for found in re.findall(_IP, message) if found in self.cgw), None)
        if sa is not None:
            if ip is not None:
                self.sas[sa] = ip
                if len(self.sas) > 256:
                    for old in list(self.sas)[:-128]:
                        del self.sas[old]
            else:
                ip = self.sas.get(sa)
        return ip

    def ike(self, ip: str, sa: str | None, state: str | None) -> None:
        """IKE_SA `sa` of the tunnel is now `state` (None: gone, with its child SAs)."""
        if sa is None:
            return
        tunnel = self.tunnel(ip)
        if state is None:
            tunnel["ike"].pop(sa, None)
            tunnel["nat_t"].pop(sa, None)
            tunnel["children"] = {c: owner for c, owner in tunnel["children"].items() if owner != sa}
        else:
            tunnel["ike"][sa] = state

    def nat_t(self, ip: str, sa: str | None) -> bool:
        """NAT-T detected on the customer gateway: for this IKE_SA, else any of the tunnel's."""
        found = self.tunnel(ip)["nat_t"]
        return bool(found[sa]) if sa in found else any(found.values())

    def entry(self, ip: str, sa: str | None, details: str, nat_t: bool | None = None) -> tuple[str, str, str, bool]:
        """(details, phase 1, phase 2, NAT-T) for an entry about the tunnel now."""
        tunnel = self.tunnel(ip)
        states = set(tunnel["ike"].values())
        phase1 = "Established" if "Established" in states else ("Negotiating" if states else "Down")
        phase2 = "Established" if tunnel["children"] else ("Negotiating" if phase1 == "Established" else "Down")
        return details, phase1, phase2, self.nat_t(ip, sa) if nat_t is None else nat_t


# (pattern, AWS's message (a format of the match's groups and `cgw`), what becomes of the line's IKE_SA)
_GONE, _UP, _KEEP = None, "Established", "keep"
CHARON_MESSAGES: tuple[tuple[re.Pattern, str, str | None], ...] = tuple(
    (re.compile(p), m, s)
    for p, m, s in (
        (r"^IKE_SA \S+ established between", "AWS tunnel Phase 1 (IKE_SA) established with cgw: {cgw}", _UP),
        (
            r"^received DELETE for (?:ESP|AH) CHILD_SA with SPI (\w+)",
            "AWS tunnel received DELETE for Phase 2 SA with SPI: {0}",
            _KEEP,
        ),
        (r"^received DELETE for IKE_SA", "AWS tunnel received DELETE for IKE_SA from CGW", _GONE),
        (
            r"^could not decrypt payloads",
            "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key",
            _GONE,
        ),
        (r"but MAC mismatched", "AWS tunnel detected a pre-shared key mismatch with cgw: {cgw}", _GONE),
        (
            r"^generating IKE_AUTH response .*AUTH_FAILED",
            "AWS tunnel is sending AUTHENTICATION_FAILED as the response",
            _GONE,
        ),
        (r"^no (?:IKE )?proposal found$|^received proposals unacceptable", "No Proposal Match Found by AWS", _GONE),
        (
            r"sending NO_PROPOSAL_CHOSEN|^no acceptable proposal found",
            'No Proposal Match Found. Notifying with "No proposal chosen"',
            _KEEP,
        ),
        (
            r"^failed to establish CHILD_SA, keeping IKE_SA",
            "AWS tunnel Phase 2 was unable to establish while keeping Phase 1",
            _KEEP,
        ),
        (
            r"traffic selectors .* (?:unacceptable|inacceptable)",
            "AWS: Traffic Selector: TS_UNACCEPTABLE: received from responder",
            _KEEP,
        ),
        (r"^DPD check timed out", "Peer is not responsive - Declaring peer dead", _GONE),
        (r"^giving up after (\d+) retransmits", "AWS tunnel DPD timed out after {0} retransmits", _GONE),
        (
            rf"^deleting half open IKE_SA with ({_IP}) after timeout",
            "AWS tunnel Timeout: deleting un-established Phase 1 IKE_SA with cgw: {0}",
            _GONE,
        ),
        (
            r"^parsed CREATE_CHILD_SA (request|response) (\d+)",
            "AWS tunnel processed {0} (id={1}) for CREATE_CHILD_SA",
            _KEEP,
        ),
        (
            r"^generating CREATE_CHILD_SA (request|response) (\d+)",
            "AWS tunnel is sending {0} (id={1}) for CREATE_CHILD_SA",
            _KEEP,
        ),
    )
)


def charon_events(
    lines: Iterable[str], tunnels: _Tunnels, now: dt.datetime, since: float | None = None
) -> list[tuple[float, str, tuple]]:
    """(epoch, outside IP, (details, phase 1, phase 2, NAT-T)) of each event AWS would log."""
    events = []
    for line in lines:
        match = _CHARON.match(line)
        if match is None:
            continue
        stamp, _, name, sa, message = match.groups()
        try:
            epoch = _charon_time(stamp, now)
        except ValueError:
            continue
        if since is not None and epoch < since:
            continue
        ip = tunnels.which(name, sa, message)
        if ip is None:
            continue
        tunnel = tunnels.tunnel(ip)
        if re.search(r"is initiating an? (?:Main Mode |Aggressive Mode )?IKE_SA", message):
            tunnels.ike(ip, sa, "Negotiating")
            continue
        if "remote host is behind NAT" in message:
            if sa is not None:
                tunnel["nat_t"][sa] = True
            continue
        if (child := re.match(r"CHILD_SA (\S+) established with SPIs (\w+)_i", message)) is not None:
            tunnel["children"][child.group(1)] = sa
            events.append(
                (epoch, ip, tunnels.entry(ip, sa, f"AWS tunnel Phase 2 SA established with SPI: {child.group(2)}"))
            )
            continue
        if (closing := re.match(r"closing CHILD_SA (\S+) ", message)) is not None:
            tunnel["children"].pop(closing.group(1), None)
            continue
        if re.match(r"deleting IKE_SA \S+ between", message):
            tunnels.ike(ip, sa, _GONE)
            continue
        for pattern, text, becomes in CHARON_MESSAGES:
            found = pattern.search(message)
            if found is None:
                continue
            nat_t = tunnels.nat_t(ip, sa)  # as the SA had it, also when it goes with this event
            if becomes != _KEEP:
                tunnels.ike(ip, sa, becomes)
            events.append((epoch, ip, tunnels.entry(ip, sa, text.format(*found.groups(), cgw=tunnels.cgw[ip]), nat_t)))
            break
    return events


# --- bgpd: the BGP log ------------------------------------------------------------------------------


def bgp_events(
    lines: Iterable[str], state: dict, neighbors: dict[str, str], since: float | None = None
) -> list[tuple[float, str, str, str, dict]]:
    """(epoch, outside IP, type, status, message) of each event AWS's BGP log would have;
    `neighbors` maps the customer gateway's inside IP (bgpd's neighbor) to its tunnel."""
    events: list[tuple[float, str, str, str, dict]] = []
    peers: dict[str, dict] = state.setdefault("peers", {})

    def peer(ip: str) -> dict:
        return peers.setdefault(ip, {"state": "Idle", "known": [], "attrs": {}, "said": {}})

    def status(epoch: float, neighbor: str, up: bool, details: str) -> None:
        said = peer(neighbor)["said"]
        if epoch - said.get(details, -1e18) < BGP_REPEAT_S:
            return
        said[details] = epoch
        if len(said) > 64:
            for old in sorted(said, key=said.get)[:-32]:
                del said[old]
        events.append((epoch, neighbors[neighbor], "BGPStatus", "UP" if up else "DOWN", {"details": details}))

    def route(epoch: float, neighbor: str, status_: str, prefix: str, details: str | None = None) -> None:
        attrs = peer(neighbor)["attrs"]
        message: dict[str, Any] = {"prefix": prefix}
        if status_ != "WITHDRAWN" or attrs:
            message.update(
                {
                    "asPath": attrs.get("path", ""),
                    "localPref": attrs.get("localpref", 100),
                    "med": attrs.get("metric", 0),
                    "nextHopIp": attrs.get("nexthop", neighbor),
                    "weight": 0,
                }
            )
        if details:
            message["details"] = details
        events.append((epoch, neighbors[neighbor], "RouteStatus", status_, message))

    for line in lines:
        match = _FRR.match(line)
        if match is None:
            continue
        try:
            epoch = _frr_time(match.group(1))
        except ValueError:
            continue
        if since is not None and epoch < since:
            continue
        message = match.group(2)
        subject = re.match(rf"(?:%\w+: (?:\w+ )*?(?:neighbor|to|from) )?({_IP})", message)
        neighbor = subject.group(1) if subject else None
        if neighbor not in neighbors:
            eor = re.match(rf"send End-of-RIB for .* to ({_IP})", message)
            if eor and eor.group(1) in neighbors:
                status(
                    epoch, eor.group(1), True, f"AWS-side peer sent an End-of-RIB message to neighbor {eor.group(1)}"
                )
            continue
        this = peer(neighbor)
        if (change := re.match(rf"{re.escape(neighbor)} went from (\w+) to (\w+)", message)) is not None:
            new = "Idle" if change.group(2) == "Deleted" else change.group(2)
            if new not in STANDARD_BGP_STATES or new == this["state"]:
                continue
            old, this["state"] = this["state"], new
            status(
                epoch,
                neighbor,
                new == "Established",
                f"AWS-side peer BGP session state has changed from {old} to {new} with neighbor {neighbor}",
            )
            if old == "Established":  # the session's routes go with it
                for prefix in this["known"]:
                    route(epoch, neighbor, "WITHDRAWN", prefix)
                this["known"] = []
        elif (bad := re.match(r"\S+ bad OPEN, remote AS is (\d+), expected (\d+)", message)) is not None:
            status(
                epoch,
                neighbor,
                False,
                f"AWS-side peer detected a bad OPEN message from neighbor {neighbor} - "
                f"remote AS is {bad.group(1)}, expected {bad.group(2)}",
            )
        elif (
            got := re.match(
                r"\S+ rcv OPEN, version (\d+), remote-as \(in open\) (\d+), holdtime (\d+), id (\S+)", message
            )
        ) is not None:
            status(
                epoch,
                neighbor,
                False,
                f"AWS-side peer received an OPEN message from neighbor {neighbor} - "
                f"version {got.group(1)}, AS {got.group(2)}, holdtime {got.group(3)}, "
                f"router-id {got.group(4)}",
            )
        elif (
            sent := re.match(r"\S+ sending OPEN, version (\d+), my as (\d+), holdtime (\d+), id (\S+)", message)
        ) is not None:
            status(
                epoch,
                neighbor,
                False,
                f"AWS-side peer sent an OPEN message to neighbor {neighbor} - "
                f"version {sent.group(1)}, AS {sent.group(2)}, holdtime {sent.group(3)}, "
                f"router-id {sent.group(4)}",
            )
        elif (
            note := re.match(
                rf"%NOTIFICATION: (sent to|received from) neighbor {re.escape(neighbor)} "
                r"(\d+)/(\d+) \(([^)]*)\)",
                message,
            )
        ) is not None:
            way, code, sub, text = note.groups()
            if (code, way) == ("4", "sent to"):
                details = f"AWS-side peer sent a Hold Timer Expired notification to neighbor {neighbor}"
            elif way == "sent to":
                details = f"AWS-side peer sent a notification {code}/{sub} ({text}) to neighbor {neighbor}"
            else:
                details = f"AWS-side peer received notification {code}/{sub} ({text}) from neighbor {neighbor}"
            status(epoch, neighbor, False, details)
        elif (attrs := re.match(r"\S+ rcvd UPDATE w/ attr: (.*)$", message)) is not None:
            found = dict(re.findall(r"(nexthop|metric|localpref|path) ([^,]+)", attrs.group(1)))
            this["attrs"] = {
                key: int(value) if key in ("metric", "localpref") and value.strip().isdigit() else value.strip()
                for key, value in found.items()
            }
        elif (prefix := re.match(r"\S+ rcvd (\d[\d.]*/\d+) IPv4 unicast$", message)) is not None:
            known = prefix.group(1) in this["known"]
            route(epoch, neighbor, "UPDATED" if known else "ADVERTISED", prefix.group(1))
            if not known:
                this["known"].append(prefix.group(1))
        elif (gone := re.match(r"\S+ rcvd UPDATE about (\S+) IPv4 unicast -- withdrawn", message)) is not None:
            this["known"] = [p for p in this["known"] if p != gone.group(1)]
            route(epoch, neighbor, "WITHDRAWN", gone.group(1))
        elif denied := re.match(r"\S+ rcvd UPDATE about (\S+) IPv4 unicast -- (DENIED due to: [^;]*)", message):
            known = denied.group(1) in this["known"]
            route(epoch, neighbor, "UPDATED" if known else "ADVERTISED", denied.group(1), denied.group(2).strip())
    return events


# --- one tick ---------------------------------------------------------------------------------------


def _cloudwatch(option: dict) -> dict:
    return (option.get("LogOptions") or {}).get("CloudWatchLogOptions") or {}


def _enabled(value: Any) -> bool:
    return str(value).lower() == "true"


def _group(arn: str) -> str:
    return arn.split(":log-group:", 1)[-1].removesuffix(":*")


def publish(ctx, vpn: dict, lab_dir: Path | str) -> int:
    """One tick: the AWS side's new log lines as AWS's log entries, into the groups the
    tunnels' LogOptions name. Returns how many entries were sent; never raises (a
    failure is logged once per distinct message, the next tick goes on)."""
    global _last_error
    try:
        sent = _publish(ctx, vpn, Path(lab_dir))
    except Exception as exc:  # the lab's agent keeps playing whatever happens here
        message = f"{type(exc).__name__}: {exc}"
        if message != _last_error:
            _log(f"{vpn.get('VpnConnectionId', 'VPN')}: Site-to-Site VPN logs not written: {message}")
        _last_error = message
        return 0
    _last_error = None
    return sent


_last_error: str | None = None


def _publish(ctx, vpn: dict, lab_dir: Path) -> int:
    try:
        runtime = LabRuntime.load(lab_dir)
    except FileNotFoundError:
        return 0
    aws_ns, lab_tunnels = runtime.state.get("aws_ns"), runtime.state.get("tunnels") or []
    if not aws_ns or not lab_tunnels:
        return 0
    before = json.dumps(runtime.state.get(STATE_KEY) or {}, sort_keys=True)
    state = json.loads(before)  # a copy: saved at the end, when it changed
    vpn_id = vpn["VpnConnectionId"]
    if state.get("vpn_connection_id") != vpn_id:  # another connection: nothing of the old one applies
        state = {"vpn_connection_id": vpn_id, "charon": state.get("charon", {}), "bgpd": state.get("bgpd", {})}
    options = {o["OutsideIpAddress"]: _cloudwatch(o) for o in vpn.get("Options", {}).get("TunnelOptions", [])}
    now = dt.datetime.now().astimezone()
    out: list[tuple[str, str, float, str]] = []  # (group, stream, epoch, message)

    records = {d.name: d for d in runtime.daemons}
    charon = records.get(f"charon@{aws_ns}")
    if charon is not None:
        position = state.setdefault("charon", {})
        lines, restarted = _new_lines(charon, position)
        tunnels = _Tunnels(state.setdefault("ike", {}), lab_tunnels)
        if restarted:
            tunnels.reset()
        for epoch, ip, (details, phase1, phase2, nat_t) in charon_events(
            lines, tunnels, now, position.pop("since", None)
        ):
            wanted = options.get(ip, {})
            if (
                _enabled(wanted.get("LogEnabled"))
                and wanted.get("LogGroupArn")
                and not _repeated(state, ip, details, phase1, phase2, epoch)
            ):
                out.append(
                    (
                        _group(wanted["LogGroupArn"]),
                        stream_names(vpn_id, ip)["tunnel"],
                        epoch,
                        tunnel_entry(epoch, details, phase1, phase2, nat_t, wanted.get("LogOutputFormat") or "json"),
                    )
                )
    bgpd = records.get(f"bgpd@{aws_ns}")
    if bgpd is not None:
        position = state.setdefault("bgpd", {})
        lines, restarted = _new_lines(bgpd, position)
        bgp_state = state.setdefault("bgp", {})
        if restarted:
            bgp_state.clear()
        neighbors = {t["cgw_inside_ip"]: t["vgw_outside_ip"] for t in lab_tunnels}
        for epoch, ip, kind, status, message in bgp_events(lines, bgp_state, neighbors, position.pop("since", None)):
            wanted = options.get(ip, {})
            if _enabled(wanted.get("BgpLogEnabled")) and wanted.get("BgpLogGroupArn"):
                out.append(
                    (
                        _group(wanted["BgpLogGroupArn"]),
                        stream_names(vpn_id, ip)["bgp"],
                        epoch,
                        bgp_entry(
                            epoch, f"{vpn_id}_{ip}", kind, status, message, wanted.get("BgpLogOutputFormat") or "json"
                        ),
                    )
                )

    pending = state.get("pending", []) + [list(item) for item in out]
    sent, unsent = _put(ctx, state, pending)
    state["pending"] = unsent[-MAX_PENDING:]
    if json.dumps(state, sort_keys=True) != before:
        fresh = LabRuntime.load(lab_dir)  # others may have saved the state meanwhile: only this key changes
        fresh.state[STATE_KEY] = state
        fresh.save()
    return sent


def _repeated(state: dict, ip: str, details: str, phase1: str, phase2: str, epoch: float) -> bool:
    """The same entry for the same tunnel again within TUNNEL_REPEAT_S (a retransmission)."""
    last = state.setdefault("last_entry", {})
    key = f"{details}|{phase1}|{phase2}"
    if last.get(ip, {}).get("key") == key and epoch - last[ip]["epoch"] < TUNNEL_REPEAT_S:
        return True
    last[ip] = {"key": key, "epoch": epoch}
    return False


def _put(ctx, state: dict, entries: list[list]) -> tuple[int, list[list]]:
    """PutLogEvents per (group, stream), creating the stream once; (sent, not sent)."""
    from botocore.exceptions import ClientError

    if not entries:
        return 0, []
    logs = ctx.client("logs")
    created = set(state.setdefault("streams", []))
    by_stream: dict[tuple[str, str], list[list]] = {}
    for entry in entries:
        by_stream.setdefault((entry[0], entry[1]), []).append(entry)
    sent, unsent = 0, []
    for (group, stream), items in by_stream.items():
        items.sort(key=lambda item: item[2])
        done = 0
        try:
            if f"{group}|{stream}" not in created:
                try:
                    logs.create_log_stream(logGroupName=group, logStreamName=stream)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                        raise
                created.add(f"{group}|{stream}")
            while done < len(items):
                batch = items[done : done + BATCH]
                logs.put_log_events(
                    logGroupName=group,
                    logStreamName=stream,
                    logEvents=[{"timestamp": int(epoch * 1000), "message": message} for _, _, epoch, message in batch],
                )
                done += len(batch)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":  # the group is gone: AWS drops them
                created.discard(f"{group}|{stream}")
                continue
            unsent += items[done:]
            _log(f"{group} {stream}: PutLogEvents refused ({exc}); tried again next tick")
        except Exception as exc:  # the emulator went away mid-tick: kept for the next one
            unsent += items[done:]
            _log(f"{group} {stream}: PutLogEvents failed ({type(exc).__name__}: {exc}); tried again next tick")
        sent += done
    state["streams"] = sorted(created)
    return sent, unsent
