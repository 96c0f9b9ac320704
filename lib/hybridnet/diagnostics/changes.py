"""What changed since the last health check run (as pyATS learn/diff, SuzieQ's changes).

Each health check run keeps a snapshot of what it found, as plain JSON
(``outputs/<run-id>/snapshot.json``, beside the report): the tunnels, the
transit gateway's routes, the router's BGP routes, the DNS answers, the Client
VPN connections, the hosts as SSM sees them, the daemons, and the verdicts.
The next run compares its own with it::

    snap = changes.snapshot(evidence, verdict_table)
    changes.save_snapshot(book.run_dir, snap)
    before = changes.load_snapshot(since) if since else changes.previous_snapshot(book.run_dir)
    delta = changes.diff(before, snap)          # kind, item, before, after, change; worst first
    print(changes.summary_line(delta))          # "since run X (5 min ago): tunnel ... UP -> DOWN, ..."

A section that was not collected (None in the snapshot, with the reason in
``not_collected``) is never read as "empty and healthy": comparing it with a
run that did collect it says "not collected", not that everything went away.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import workspace
from ..errors import HybridnetError

FORMAT = 1
SNAPSHOT = "snapshot.json"
COLUMNS = ["kind", "item", "before", "after", "change"]

# Each change word belongs to one class; the diff is sorted by class (worst
# first), then by kind. A report can colour rows with CHANGE_CLASS[row.change].
BROKE, FLAPPED, RECOVERED, OTHER = "broke", "flapped", "recovered", "other"
CLASS_ORDER = (BROKE, FLAPPED, RECOVERED, OTHER)
CHANGE_CLASS: dict[str, str] = {
    **dict.fromkeys(
        ["down", "gone", "fewer", "withdrawn", "inactive", "failed", "worse", "appeared", "offline", "stopped"], BROKE
    ),
    "flapped": FLAPPED,
    **dict.fromkeys(
        ["up", "more", "added", "active", "recovered", "better", "cleared", "online", "started"], RECOVERED
    ),
    **dict.fromkeys(
        [
            "changed",
            "new",
            "removed",
            "no longer asked",
            "not asked",
            "asked again",
            "connected",
            "disconnected",
            "no data",
            "not judged",
            "not collected",
            "collected",
            "not recorded",
        ],
        OTHER,
    ),
}
KIND_ORDER = (
    "stack",
    "cause",
    "host",
    "daemon",
    "tunnel",
    "accepted routes",
    "TGW route",
    "router BGP route",
    "DNS answer",
    "Client VPN connection",
    "verdict",
)

# What never belongs in a snapshot: PEM blocks of any kind, and tunnel keys.
SECRET_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z0-9 ]+-----"),
    re.compile(r"PRIVATE KEY"),
    re.compile(r"<key>"),
    re.compile(r"pre_shared_key", re.I),
)

# routes.router_bgp_frame's source line when the table was read (an empty frame
# with any other source is a router that could not be asked: not collected).
ROUTER_TABLE_READ = "the router's own BGP table"
UP, UNREACHABLE, OK_STATUS = "UP", "UNREACHABLE", "OK"
# A verdict's cause that names no diagnosis (diagnostics.causes.UNKNOWN): its
# verdict's status change says it all; "cause UNKNOWN appeared" would be noise.
NOT_A_CAUSE = {"", "UNKNOWN"}
SEVERITY = {"OK": 0, "WARN": 1, "FAIL": 2}


class SnapshotError(HybridnetError):
    """A run to compare with that does not exist, has no snapshot, or whose snapshot
    cannot be read (exit 2: bad input, README: Command line, exit codes)."""

    exit_code = 2

    def __init__(self, message: str, why: str = ""):
        super().__init__(message)
        self.why = why or message


class SnapshotSkipped(UserWarning):
    """An earlier run passed over by previous_snapshot (no snapshot, or a corrupt one)."""


# --- the snapshot ---------------------------------------------------------------------------------


def _plain(value):
    """A JSON value: numpy scalars as Python ones, NaN/NA as None, times as ISO text."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    if hasattr(value, "item") and not isinstance(value, (bytes, dict)):
        try:
            value = value.item()  # numpy scalar
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float, bool, str)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    return [{c: _plain(row.get(c)) for c in columns} for row in frame.to_dict(orient="records")]


def _iso(when: dt.datetime | str | None) -> str:
    if isinstance(when, str):
        return when
    when = when or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def _drops(timeline: pd.DataFrame | None) -> dict[str, list[str]] | None:
    """Per outside IP, when each drop (UP -> DOWN) of the look-back window began."""
    if timeline is None or timeline.empty:
        return None
    drops: dict[str, list[str]] = {}
    for ip, points in timeline.sort_values("time").groupby("outside_ip", sort=True):
        states, times = list(points["up"]), list(points["time"])
        drops[str(ip)] = [
            _plain(pd.Timestamp(t)) for prev, now, t in zip(states, states[1:], times[1:]) if prev and not now
        ]
    return drops


def _verdict_frame(verdicts) -> pd.DataFrame | None:
    if verdicts is None or isinstance(verdicts, pd.DataFrame):
        return verdicts
    return pd.DataFrame([asdict(v) if is_dataclass(v) and not isinstance(v, type) else dict(v) for v in verdicts])


def snapshot(ev, verdicts, taken_at: dt.datetime | str | None = None) -> dict:
    """What this run found, as plain JSON-able data (no secrets: only ids, states,
    prefixes, names and answers). A section is None when its evidence was not
    collected; `not_collected` says why."""
    params = ev.params
    snap: dict = {
        "format": FORMAT,
        "run": "",
        "taken_at": _iso(taken_at),
        "stack": params.name,
        "region": params.region,
        "target": params.target,
        "not_collected": {},
    }
    missing = snap["not_collected"]

    def section(name: str, frame: pd.DataFrame | None, columns: list[str], reason: str) -> None:
        if frame is None:
            snap[name] = None
            missing[name] = reason
        else:
            snap[name] = _records(frame, columns)

    section(
        "tunnels",
        ev.telemetry,
        ["vpn_connection_id", "outside_ip", "status", "status_message", "accepted_routes"],
        "the VPN connections' telemetry was not asked",
    )
    snap["tunnel_drops"] = _drops(ev.timeline)
    if snap["tunnel_drops"] is None:
        missing["tunnel_drops"] = "no AWS/VPN TunnelState point in the look-back window"
    section(
        "tgw_routes",
        ev.tgw_routes,
        ["prefix", "type", "state", "resource_type", "resource_id", "attachment_id"],
        "no transit gateway: no VPN connection names one",
    )
    bgp = ev.router_bgp
    source = getattr(ev, "router_source", "") or ""
    if bgp is not None and bgp.empty and not source.startswith(ROUTER_TABLE_READ):
        bgp = None  # the router could not be asked: not an empty table
    section("router_bgp", bgp, ["prefix", "next_hop", "tunnel", "best"], source or "the router was not asked")
    dns = [f for f in (ev.dns, getattr(ev, "dns_endpoints", None)) if f is not None]
    section(
        "dns",
        pd.concat(dns, ignore_index=True) if dns else None,
        ["side", "server", "name", "type", "rcode", "answer", "ok"],
        "DNS was not probed (dns_probes off, or no dns in the params)",
    )
    client_vpn = getattr(ev, "client_vpn", None) or {}
    section(
        "client_vpn",
        client_vpn.get("connections"),
        ["endpoint_id", "connection_id", "client_ip", "common_name", "status"],
        "Client VPN was not checked (no client_vpn in the params)",
    )
    section(
        "hosts", getattr(ev, "hosts", None), ["role", "host", "instance_id", "ssm_status"], "the hosts were not asked"
    )
    section(
        "daemons",
        getattr(ev, "daemons", None),
        ["role", "host", "instance_id", "daemon", "running"],
        "the hosts' daemons were not asked",
    )
    table = _verdict_frame(verdicts)
    snap["verdict_causes"] = table is not None and "cause" in table.columns
    section(
        "verdicts",
        table,
        ["check", "status", "cause"] if snap["verdict_causes"] else ["check", "status"],
        "no verdicts were given",
    )
    return snap


def _dumps(snap: dict) -> str:
    return json.dumps(snap, indent=2, sort_keys=True, allow_nan=False) + "\n"


def save_snapshot(run_dir: str | Path, snap: dict) -> Path:
    """Write outputs/<run-id>/snapshot.json (0644), and set snap["run"] to the run id.
    Refuses anything PEM-like or key-like (it cannot come from the evidence; if it
    does, it is a bug, and the file is not written)."""
    run_dir = Path(run_dir)
    snap["run"] = run_dir.name
    text = _dumps({k: v for k, v in snap.items() if k not in ("skipped", "path")})
    for pattern in SECRET_PATTERNS:
        if pattern.search(text):
            raise ValueError(
                f"refusing to write {run_dir / SNAPSHOT}: it would hold something secret-like "
                f"({pattern.pattern!r}); a snapshot is ids, states, prefixes and answers only"
            )
    return workspace.write_file(run_dir / SNAPSHOT, text, 0o644)


# --- finding an earlier run -----------------------------------------------------------------------

RUN_NAME = re.compile(r"^(?P<stamp>\d{8}-\d{6})-(?P<label>.+?)(?:-(?P<n>\d+))?$")


def _run_key(name: str) -> tuple[str, int] | None:
    """Run folders sort by workspace.new_run_dir's stamp, then its collision suffix."""
    match = RUN_NAME.match(name)
    return (match["stamp"], int(match["n"] or 1)) if match else None


def _sort_key(run: Path) -> tuple[str, int]:
    """_run_key of a folder already found to be a run's."""
    key = _run_key(run.name)
    if key is None:
        raise ValueError(f"{run} is not a run folder")
    return key


def _read(path: Path) -> dict:
    """A snapshot file, checked; SnapshotError(why=...) when it is not one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        why = f"corrupt {SNAPSHOT}: {type(exc).__name__}: {msg}"
        raise SnapshotError(f"{path}: {type(exc).__name__}", why) from None
    if not isinstance(data, dict) or "format" not in data or not isinstance(data.get("taken_at"), str):
        raise SnapshotError(f"{path}: not a snapshot", f"{SNAPSHOT} is not a health check snapshot")
    if data["format"] != FORMAT:
        raise SnapshotError(
            f"{path}: format {data['format']!r}",
            f"{SNAPSHOT} has format {data['format']!r}, this hybridnet reads {FORMAT}",
        )
    wrong = [name for name in SECTIONS if not isinstance(data.get(name), (list, type(None)))]
    wrong += [] if isinstance(data.get("tunnel_drops"), (dict, type(None))) else ["tunnel_drops"]
    if wrong:
        raise SnapshotError(f"{path}: {', '.join(wrong)}", f"{SNAPSHOT} is damaged ({', '.join(wrong)})")
    data["run"] = path.parent.name
    data["path"] = str(path.resolve())
    return data


def _with_snapshots(outputs: Path, limit: int = 3) -> list[str]:
    if not outputs.is_dir():
        return []
    runs = sorted(
        (d for d in outputs.iterdir() if d.is_dir() and _run_key(d.name) and (d / SNAPSHOT).is_file()),
        key=_sort_key,
        reverse=True,
    )
    return [d.name for d in runs[:limit]]


def _hint(outputs: Path) -> str:
    latest = _with_snapshots(outputs)
    return (
        f"runs with a snapshot, latest first: {', '.join(latest)}"
        if latest
        else f"no run in {outputs} has a {SNAPSHOT} yet"
    )


def _is_healthcheck_run(run: Path) -> bool:
    match = RUN_NAME.match(run.name)
    return bool(match and match["label"] == "healthcheck") or (run / "results" / "10_health_check.json").is_file()


def previous_snapshot(run_dir: str | Path, stack: str | None = None) -> dict | None:
    """The snapshot of the most recent run before `run_dir` (its siblings, by their
    date-time names), or None when there is none. Health check runs without a
    snapshot and corrupt snapshots are passed over, each with a SnapshotSkipped
    warning, and listed in the returned snapshot's "skipped". With `stack` (by
    default: the stack of run_dir's own snapshot, when saved already), runs of
    other stacks are passed over."""
    run_dir = Path(run_dir).resolve()
    mine = _run_key(run_dir.name)
    if stack is None and (run_dir / SNAPSHOT).is_file():
        try:
            stack = _read(run_dir / SNAPSHOT).get("stack")
        except SnapshotError:
            stack = None
    outputs = run_dir.parent
    earlier = (
        sorted(
            (
                d
                for d in outputs.iterdir()
                if d.is_dir() and d != run_dir and _run_key(d.name) and (mine is None or _sort_key(d) < mine)
            ),
            key=_sort_key,
            reverse=True,
        )
        if outputs.is_dir()
        else []
    )
    skipped: list[str] = []
    found = None
    for run in earlier:
        path = run / SNAPSHOT
        if not path.is_file():
            if _is_healthcheck_run(run):
                skipped.append(f"{run.name} (no {SNAPSHOT})")
            continue
        try:
            snap = _read(path)
        except SnapshotError as exc:
            skipped.append(f"{run.name} ({exc.why})")
            continue
        if stack and snap.get("stack") != stack:
            continue
        found = snap
        break
    for note in skipped[:5]:
        warnings.warn(f"passed over earlier run {note}", SnapshotSkipped, stacklevel=2)
    if len(skipped) > 5:
        warnings.warn(f"passed over {len(skipped) - 5} more earlier run(s)", SnapshotSkipped, stacklevel=2)
    if found is not None:
        found["skipped"] = skipped
    return found


def snapshot_file(run: str | Path) -> Path:
    """The snapshot.json of `run`: a run id (a folder name in outputs/), a run
    folder's path, or a snapshot file's path. SnapshotError (one line: the run,
    why, and what to give instead) when there is none."""
    text = str(run).strip()
    outputs = workspace.outputs_dir()
    if not text:
        raise SnapshotError(f"no run given to compare with; give a run id from {outputs} ({_hint(outputs)})")
    given = Path(text).expanduser()
    where = given if given.exists() or given.is_absolute() or len(given.parts) > 1 else outputs / text
    path = where if where.suffix == ".json" else where / SNAPSHOT
    if path.is_file():
        return path
    if not path.parent.exists():
        raise SnapshotError(
            f"no run {text!r} to compare with: {path.parent} does not exist; give a run id "
            f"from {outputs} ({_hint(outputs)}), or leave out --since to compare with the "
            f"previous run"
        )
    raise SnapshotError(
        f"run {path.parent.name} has no {SNAPSHOT} ({path} does not exist: a run from before "
        f"snapshots were kept, or one that stopped before its verdicts); give another run "
        f"({_hint(outputs)}), or leave out --since to compare with the previous run"
    )


def load_snapshot(run: str | Path) -> dict:
    """The snapshot of `run` (see snapshot_file); SnapshotError when it is missing
    or cannot be read."""
    path = snapshot_file(run)
    try:
        return _read(path)
    except SnapshotError as exc:
        raise SnapshotError(
            f"run {path.parent.name}: {exc.why} ({path}); give another run ({_hint(workspace.outputs_dir())})", exc.why
        ) from None


# --- the diff -------------------------------------------------------------------------------------

SECTIONS = {  # snapshot key: (kind, what it is, what it counts)
    "hosts": ("host", "the hosts (SSM)", "host"),
    "daemons": ("daemon", "the daemons", "daemon"),
    "tunnels": ("tunnel", "the tunnels", "tunnel"),
    "tgw_routes": ("TGW route", "the TGW route table", "route"),
    "router_bgp": ("router BGP route", "the router's BGP table", "route"),
    "dns": ("DNS answer", "the DNS answers", "answer"),
    "client_vpn": ("Client VPN connection", "the Client VPN connections", "connection"),
    "verdicts": ("verdict", "the verdicts", "verdict"),
}


def _keyed(items: list[dict], key) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for item in items:
        base = tuple(str(item.get(k)) for k in key)
        k, n = base, 1
        while k in out:  # the same key twice: numbered, in order
            n += 1
            k = (*base, str(n))
        out[k] = item
    return out


def _pairs(before: list[dict], after: list[dict], key):
    b, a = _keyed(before, key), _keyed(after, key)
    for k in sorted(set(b) | set(a)):
        yield b.get(k), a.get(k)


def _parse_time(text: str | None) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _tunnels(b_items, a_items, before, after, add):
    since = _parse_time(before.get("taken_at"))
    drops = after.get("tunnel_drops") or {}
    for b, a in _pairs(b_items, a_items, ["outside_ip"]):
        if b is None:
            add("tunnel", a["outside_ip"], "-", f"{a['status']} ({a['vpn_connection_id']})", "new")
            continue
        if a is None:
            add("tunnel", b["outside_ip"], f"{b['status']} ({b['vpn_connection_id']})", "-", "gone")
            continue
        ip = a["outside_ip"]
        n = sum(1 for t in drops.get(ip, []) if since is None or (_parse_time(t) or since) > since)
        if b["status"] != a["status"]:
            change = "down" if b["status"] == UP else "up" if a["status"] == UP else "changed"
            # A drop is how a tunnel goes down; more than that (or any, on the way up) is worth saying.
            more = n - 1 if change == "down" else n
            shown = a["status"] + (f" ({_plural(n, 'drop')} since)" if more > 0 else "")
            add("tunnel", ip, b["status"], shown, change)
        elif n:
            add("tunnel", ip, b["status"], f"{a['status']}, dropped {_plural(n, 'time')}", "flapped")
        elif a["status"] != UP and b.get("status_message") != a.get("status_message"):
            add(
                "tunnel",
                ip,
                f"{b['status']}: {b.get('status_message') or '-'}",
                f"{a['status']}: {a.get('status_message') or '-'}",
                "changed",
            )
        if b.get("accepted_routes") != a.get("accepted_routes"):
            fewer = (a.get("accepted_routes") or 0) < (b.get("accepted_routes") or 0)
            add(
                "accepted routes",
                ip,
                str(b.get("accepted_routes")),
                str(a.get("accepted_routes")),
                "fewer" if fewer else "more",
            )


def _tgw_routes(b_items, a_items, before, after, add):
    def item(r):
        via = f" via {r['resource_type']} {r['resource_id']}" if r.get("resource_id") not in (None, "-") else ""
        return f"{r['prefix']}{via}"

    def state(r):
        return f"{r['state']} ({r['type']})"

    for b, a in _pairs(b_items, a_items, ["prefix", "attachment_id", "resource_id"]):
        if b is None:
            add("TGW route", item(a), "-", state(a), "added")
        elif a is None:
            add("TGW route", item(b), state(b), "-", "withdrawn")
        elif (b["state"], b["type"]) != (a["state"], a["type"]):
            change = "active" if a["state"] == "active" else "inactive" if b["state"] == "active" else "changed"
            add("TGW route", item(a), state(b), state(a), change)


def _router_bgp(b_items, a_items, before, after, add):
    def item(r):
        return f"{r['prefix']} via {r['next_hop']}" + (
            f" (tunnel {r['tunnel']})" if str(r.get("tunnel")) != "-" else ""
        )

    for b, a in _pairs(b_items, a_items, ["prefix", "next_hop"]):
        if b is None:
            add("router BGP route", item(a), "-", "best" if a.get("best") else "learned", "added")
        elif a is None:
            add("router BGP route", item(b), "best" if b.get("best") else "learned", "-", "withdrawn")
        elif str(b.get("tunnel")) != str(a.get("tunnel")):
            add("router BGP route", item(a), f"tunnel {b.get('tunnel')}", f"tunnel {a.get('tunnel')}", "changed")


def _dns(b_items, a_items, before, after, add):
    def said(r):
        return f"{r['rcode']} {r['answer']}" if r.get("answer") else str(r["rcode"])

    for b, a in _pairs(b_items, a_items, ["side", "name", "type"]):
        r = a or b
        item = f"{r['name']} {r['type']} from {r['side']}"
        if b is None:
            add("DNS answer", item, "-", said(a), "new")
        elif a is None:
            add("DNS answer", item, said(b), "-", "no longer asked")
        elif (b["rcode"], b.get("answer") or "") != (a["rcode"], a.get("answer") or ""):
            if a["rcode"] == UNREACHABLE:
                change = "not asked"
            elif b["rcode"] == UNREACHABLE:
                change = "asked again"
            elif b.get("ok") and not a.get("ok"):
                change = "failed"
            elif a.get("ok") and not b.get("ok"):
                change = "recovered"
            else:
                change = "changed"
            add("DNS answer", item, said(b), said(a), change)


def _client_vpn(b_items, a_items, before, after, add):
    def item(r):
        return f"{r.get('common_name') or '-'} {r.get('client_ip') or '-'} ({r['connection_id']})"

    for b, a in _pairs(b_items, a_items, ["endpoint_id", "connection_id"]):
        if b is None:
            add("Client VPN connection", item(a), "-", a["status"], "connected" if a["status"] == "active" else "new")
        elif a is None:
            if b["status"] == "active":  # an ended one ages out of the list: not news
                add("Client VPN connection", item(b), b["status"], "-", "disconnected")
        elif b["status"] != a["status"]:
            add(
                "Client VPN connection",
                item(a),
                b["status"],
                a["status"],
                "disconnected" if b["status"] == "active" else "connected" if a["status"] == "active" else "changed",
            )


def _hosts(b_items, a_items, before, after, add):
    def said(r, other):
        same = other is not None and other.get("instance_id") == r.get("instance_id")
        return r["ssm_status"] if same else f"{r['ssm_status']} ({r.get('instance_id') or '-'})"

    for b, a in _pairs(b_items, a_items, ["role"]):
        if b is None:
            add("host", a["role"], "-", said(a, None), "new")
        elif a is None:
            add("host", b["role"], said(b, None), "-", "removed")
        elif (b["ssm_status"], b.get("instance_id")) != (a["ssm_status"], a.get("instance_id")):
            statuses = {b["ssm_status"], a["ssm_status"]}
            change = (
                "changed"
                if "NotConfigured" in statuses or b["ssm_status"] == a["ssm_status"]
                else "online"
                if a["ssm_status"] == "Online"
                else "offline"
                if b["ssm_status"] == "Online"
                else "changed"
            )
            add("host", a["role"], said(b, a), said(a, b), change)


def _daemons(b_items, a_items, before, after, add):
    def said(r):
        return {True: "running", False: "not running"}.get(r.get("running"), "no data")

    for b, a in _pairs(b_items, a_items, ["role", "daemon"]):
        r = a or b
        item = f"{r['daemon']} on {r['role']}"
        if b is None:
            add("daemon", item, "-", said(a), "new")
        elif a is None:
            add("daemon", item, said(b), "-", "removed")
        elif b.get("running") != a.get("running"):
            change = (
                "stopped"
                if b.get("running") is True and a.get("running") is False
                else "started"
                if a.get("running") is True and b.get("running") is False
                else "no data"
                if a.get("running") is None
                else "changed"
            )
            add("daemon", item, said(b), said(a), change)


def _verdicts(b_items, a_items, before, after, add):
    for b, a in _pairs(b_items, a_items, ["check"]):
        if b is None:
            add("verdict", a["check"], "-", a["status"], "new" if a["status"] == OK_STATUS else "worse")
        elif a is None:
            add("verdict", b["check"], b["status"], "-", "not judged")
        elif b["status"] != a["status"]:
            worse = SEVERITY.get(a["status"], 2) > SEVERITY.get(b["status"], 2)
            add("verdict", a["check"], b["status"], a["status"], "worse" if worse else "better")

    # Causes (stable codes, e.g. IKE_PSK_MISMATCH), when both runs recorded them.
    def causes(items):
        return {(str(v["cause"]), v["check"]) for v in items if v.get("cause") and v["cause"] not in NOT_A_CAUSE}

    recorded_before, recorded_after = bool(before.get("verdict_causes")), bool(after.get("verdict_causes"))
    if recorded_before and recorded_after:
        was, now = causes(b_items), causes(a_items)
        for cause, check in sorted(now - was):
            add("cause", f"{cause} ({check})", "-", cause, "appeared")
        for cause, check in sorted(was - now):
            add("cause", f"{cause} ({check})", cause, "-", "cleared")
    elif recorded_after and causes(a_items):
        add("cause", "the verdicts' causes", "not recorded", _plural(len(causes(a_items)), "cause"), "not recorded")
    elif recorded_before and causes(b_items):
        add("cause", "the verdicts' causes", _plural(len(causes(b_items)), "cause"), "not recorded", "not recorded")


HANDLERS = {
    "hosts": _hosts,
    "daemons": _daemons,
    "tunnels": _tunnels,
    "tgw_routes": _tgw_routes,
    "router_bgp": _router_bgp,
    "dns": _dns,
    "client_vpn": _client_vpn,
    "verdicts": _verdicts,
}


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def diff(before: dict | None, after: dict) -> pd.DataFrame:
    """What changed from `before` to `after` (snapshots): one row per change,
    columns kind, item, before, after, change; worst first (CHANGE_CLASS: broke,
    flapped, recovered, other). frame.attrs carries since_run, since_taken_at,
    taken_at and skipped for summary_line. `before` None: no earlier run (empty)."""
    rows: list[tuple] = []

    def add(kind, item, was, now, change):
        if change not in CHANGE_CLASS:
            raise ValueError(f"unknown change word {change!r}")
        rows.append((str(kind), str(item), str(was), str(now), change))

    attrs: dict[str, Any] = {
        "compared": before is not None,
        "since_run": None,
        "since_taken_at": None,
        "taken_at": after.get("taken_at"),
        "skipped": [],
    }
    if before is None:
        frame = _empty()
        frame.attrs.update(attrs)
        return frame
    attrs.update(
        since_run=before.get("run") or "?",
        since_taken_at=before.get("taken_at"),
        skipped=list(before.get("skipped") or []),
    )
    where = (before.get("stack"), before.get("region")), (after.get("stack"), after.get("region"))
    if where[0] != where[1]:
        add("stack", "name (region)", f"{where[0][0]} ({where[0][1]})", f"{where[1][0]} ({where[1][1]})", "changed")
    for name, (kind, label, unit) in SECTIONS.items():
        b, a = before.get(name), after.get(name)
        if b is None:
            if a is None:
                continue
            why = (before.get("not_collected") or {}).get(name, f"not in run {attrs['since_run']}'s snapshot")
            add(kind, label, f"not collected ({why})", _plural(len(a), unit), "collected")
        elif a is None:
            why = (after.get("not_collected") or {}).get(name, "not in this run's snapshot")
            add(kind, label, _plural(len(b), unit), f"not collected ({why})", "not collected")
        else:
            HANDLERS[name](b, a, before, after, add)
    order = sorted(
        range(len(rows)), key=lambda i: (CLASS_ORDER.index(CHANGE_CLASS[rows[i][4]]), KIND_ORDER.index(rows[i][0]), i)
    )
    frame = pd.DataFrame([rows[i] for i in order], columns=COLUMNS) if rows else _empty()
    frame.attrs.update(attrs)
    return frame


# --- one line for the report's top and the CLI ----------------------------------------------------


def _ago(earlier: str | None, later: str | None) -> str:
    start, end = _parse_time(earlier), _parse_time(later) or dt.datetime.now(dt.UTC)
    if start is None:
        return "when: unknown"
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return "under a minute ago"
    if seconds < 120 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def phrase(row) -> str:
    """One change in words, as the summary line says it."""
    kind, item, was, now, change = row.kind, row.item, row.before, row.after, row.change
    if change in ("not collected", "collected", "not recorded"):
        return f"{item}: {was} -> {now}"
    if kind == "stack":
        return f"another stack: {was} -> {now}"
    if kind == "tunnel":
        if change in ("new", "gone"):
            return f"tunnel {item} {change}"
        return f"tunnel {item} flapped: {now}" if change == "flapped" else f"tunnel {item} {was} -> {now}"
    if kind == "accepted routes":
        return f"tunnel {item} accepted routes {was} -> {now}"
    if kind == "TGW route":
        prefix, _, via = item.partition(" via ")
        if change in ("added", "withdrawn"):
            return f"route {prefix} {change} {'to' if change == 'added' else 'from'} the TGW" + (
                f" (via {via})" if via else ""
            )
        return f"TGW route {item} {was} -> {now}"
    if kind == "router BGP route":
        if change in ("added", "withdrawn"):
            return f"route {item} {change} {'to' if change == 'added' else 'from'} the router's BGP table"
        return f"router route {item} {was} -> {now}"
    if kind == "DNS answer":
        return f"DNS {item}: {was} -> {now}"
    if kind == "Client VPN connection":
        return f"Client VPN {item} {change}"
    if kind == "cause":
        return f"cause {item} {change}"
    if kind == "verdict" and was == "-":
        return f"{item} now {now}"
    if kind == "verdict" and now == "-":
        return f"{item} no longer judged (was {was})"
    if kind in ("host", "daemon", "verdict"):
        return f"{'host ' if kind == 'host' else ''}{item} {was} -> {now}"
    return f"{kind} {item} {was} -> {now}"


def summary_line(frame: pd.DataFrame, limit: int = 5) -> str:
    """For the report's top: "since run X (N min ago): <worst changes>, ...",
    "no change since run X (...)" or "no earlier run to compare with"."""
    attrs = frame.attrs
    skipped = attrs.get("skipped") or []
    passed = f" (passed over: {'; '.join(skipped[:3])}{'; ...' if len(skipped) > 3 else ''})" if skipped else ""
    if attrs.get("compared") is False:
        return "no earlier run to compare with"
    run = attrs.get("since_run") or "?"
    since = f"run {run} ({_ago(attrs.get('since_taken_at'), attrs.get('taken_at'))})"
    if frame.empty:
        return f"no change since {since}{passed}"
    said = [phrase(row) for row in frame.head(limit).itertuples()]
    more = f", and {len(frame) - limit} more" if len(frame) > limit else ""
    return f"since {since}: {', '.join(said)}{more}{passed}"


__all__ = [
    "CHANGE_CLASS",
    "COLUMNS",
    "SNAPSHOT",
    "SnapshotError",
    "SnapshotSkipped",
    "diff",
    "load_snapshot",
    "phrase",
    "previous_snapshot",
    "save_snapshot",
    "snapshot",
    "snapshot_file",
    "summary_line",
]
