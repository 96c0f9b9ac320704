"""`systemctl` on a lab host: the units the lab can play, started as lab daemons.

A setup script run on a lab host through SSM ends as on a real machine, with
``systemctl restart strongswan`` or ``systemctl restart frr``. In the lab that
`systemctl` is a shim (see hosts.py) that sends its arguments over the host's
socket to the lab's agent, which calls :func:`handle` for that host: it starts
the daemon the way the lab runs it (charon with kernel-libipsec and its own
/run, FRR with its per-namespace folders) from the files the script installed
in the host's own /etc, records it (so `lab down` stops it by pid) and answers
with systemctl's exit codes. Units the lab cannot play answer as systemd does
for a unit that does not exist.

    python -m hybridnet.lab.hostinit --socket PATH -- restart strongswan    (the shim)
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import LocalPlaneError
from .daemons import LabRuntime, charon_paths, frr_run_dir, start_charon, start_frr_daemon, vici_ready
from .hosts import BIND_PATHS, host_folder
from .render import render_strongswan_conf, render_zebra_conf
from .topology import CGW_NS, IDC_NS

EXIT_NOT_ACTIVE = 3  # systemctl is-active / status of a stopped unit
EXIT_NO_UNIT = 5  # systemctl start of a unit that does not exist (systemd's "not installed")
MAX_REQUEST = 65536


class UnitError(LocalPlaneError, RuntimeError):
    """A unit could not start; the message is what systemctl prints."""


def _strongswan_start(runtime: LabRuntime, ns: str) -> str:
    runtime.stop([f"charon@{ns}"])
    # No start-scripts: the setup script puts the inside addresses on ipsec0 itself.
    record = start_charon(runtime, ns, render_strongswan_conf(ns, []))
    runtime.wait_ready(record, lambda: vici_ready(charon_paths(runtime, ns)["vici"]))
    return f"charon started (pid {record.pid})"


def _frr_start(runtime: LabRuntime, ns: str) -> str:
    config = host_folder(runtime.lab_dir, ns, "/etc/frr") / "frr.conf"
    if not config.is_file():
        raise UnitError("frr.service: /etc/frr/frr.conf is missing")
    runtime.stop([f"bgpd@{ns}", f"zebra@{ns}"])
    run = frr_run_dir(ns)
    for stale in ("zserv.api", "bgpd.vty", "zebra.vty"):
        (run / stale).unlink(missing_ok=True)  # left by the stopped daemons: not a sign of the new ones
    zebra = start_frr_daemon(runtime, ns, "zebra", render_zebra_conf(ns, ns))
    runtime.wait_ready(zebra, (run / "zserv.api").exists)
    bgpd = start_frr_daemon(runtime, ns, "bgpd", config.read_text())
    runtime.wait_ready(bgpd, (run / "bgpd.vty").exists)
    return f"zebra (pid {zebra.pid}) and bgpd (pid {bgpd.pid}) started"


NAMED = "/usr/sbin/named"


def _named_start(runtime: LabRuntime, ns: str) -> str:
    """named as the DNS server's own: its /etc/bind, /var/cache/bind and /run/named
    are the host's folders (bound for named alone), in the foreground, recorded."""
    import time

    name = f"named@{ns}"
    runtime.stop([name])
    log = runtime.log_dir / f"{name.replace('@', '-')}.log"
    offset = log.stat().st_size if log.exists() else 0
    for path in BIND_PATHS:
        Path(path).mkdir(parents=True, exist_ok=True)  # the mount points (bind9 makes them; a reboot drops /run's)
    record = runtime.spawn(
        name,
        ns,
        [NAMED, "-4", "-g", "-u", "bind", "-c", "/etc/bind/named.conf"],
        executable="named",
        bind_mounts=[(host_folder(runtime.lab_dir, ns, p), p) for p in BIND_PATHS],
    )

    def running() -> bool:
        try:
            with open(log, "rb") as handle:
                handle.seek(offset)
                text = handle.read()
        except OSError:
            return False
        if b"exiting (due to fatal error)" in text or b"loading configuration: failure" in text:
            raise UnitError(
                "named.service: named refused its configuration: "
                + text.decode(errors="replace").strip().splitlines()[-1][:300]
            )
        return any(line.rstrip().endswith(b" running") for line in text.splitlines())

    started = time.monotonic()
    runtime.wait_ready(record, running, timeout=15.0)
    return f"named started (pid {record.pid}) in {time.monotonic() - started:.1f} s"


# unit -> (daemons it runs, how it starts), per host namespace
UNITS: dict[str, dict[str, tuple[tuple[str, ...], Callable[[LabRuntime, str], str]]]] = {
    CGW_NS: {
        "strongswan": (("charon",), _strongswan_start),
        "frr": (("zebra", "bgpd"), _frr_start),
    },
    IDC_NS: {
        "named": (("named",), _named_start),
    },
}
ALIASES = {"strongswan-swanctl": "strongswan", "strongswan-starter": "strongswan", "bind9": "named"}
STARTS = ("start", "restart", "reload", "try-restart", "reload-or-restart", "try-reload-or-restart")
NO_OPS = ("enable", "disable", "daemon-reload", "is-enabled", "reenable")


def _unit(name: str) -> str:
    name = name.removesuffix(".service")
    return ALIASES.get(name, name)


def _active(runtime: LabRuntime, ns: str, names: tuple[str, ...]) -> bool:
    running = {r.name for r in runtime.daemons if runtime.is_running(r)}
    return all(f"{name}@{ns}" in running for name in names)


def handle(lab_dir: Path | str, ns: str, argv: list[str]) -> tuple[int, str]:
    """systemctl `argv` on host `ns`: (exit code, output)."""
    args = [a for a in argv if not a.startswith("-")]  # --quiet, --no-pager, -q ...
    if not args:
        return 1, "systemctl (lab host): give a verb and a unit, e.g. restart frr"
    verb, units = args[0], [_unit(u) for u in args[1:]]
    known = UNITS.get(ns, {})
    if verb == "daemon-reload":
        return 0, ""
    missing = [u for u in units if u not in known]
    if missing:
        return EXIT_NO_UNIT if verb not in ("cat", "is-active", "status") else (
            1 if verb == "cat" else 4
        ), f"Unit {missing[0]}.service not found (this lab host plays: {', '.join(sorted(known)) or 'none'})"
    runtime = LabRuntime.load(lab_dir)
    lines, code = [], 0
    for unit in units:
        names, start = known[unit]
        if verb in STARTS:
            try:
                lines.append(f"{unit}: {start(runtime, ns)}")
            except (UnitError, RuntimeError, OSError) as exc:
                return 1, f"Job for {unit}.service failed: {exc}"
        elif verb == "stop":
            runtime.stop([f"{name}@{ns}" for name in reversed(names)])
        elif verb in ("is-active", "status"):
            active = _active(runtime, ns, names)
            lines.append("active" if active else "inactive")
            code = code or (0 if active else EXIT_NOT_ACTIVE)
        elif verb == "cat":
            lines.append(f"# {unit}.service: played by the lab ({', '.join(names)} in {ns})")
        elif verb not in NO_OPS:
            return 1, f"systemctl (lab host): unsupported verb {verb!r}"
    return code, "\n".join(lines)


# --- the shim's side -----------------------------------------------------------------


def ask(socket_path: str, argv: list[str], timeout: float = 60.0) -> tuple[int, str]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(json.dumps({"argv": argv}).encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    answer = json.loads(data)
    return int(answer["rc"]), str(answer.get("output", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="systemctl", description="this lab host's service manager")
    parser.add_argument("--socket", required=True)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    try:
        code, output = ask(ns.socket, args)
    except (OSError, ValueError) as exc:
        print(
            f"System has not been booted with systemd as init system: the lab's agent does not answer on "
            f"{ns.socket} ({exc}); start it: hybridnet lab up",
            file=sys.stderr,
        )
        return 1
    if output:
        print(output)
    return code


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["UNITS", "ask", "handle"]
