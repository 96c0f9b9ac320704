"""Helpers for tests that check generated configs with the real daemons.

Network safety: every daemon started here runs inside a network namespace of
our own (``hn-chk-<random>``) that has only ``lo`` up and no routes, with a
private ``/run`` (bind mount inside ``ip netns exec``'s own mount
namespace). A config that initiates (``start_action = start``) therefore
reaches nobody. The daemon is stopped by its own pid and the namespace is
deleted in ``finally``, whatever happens.

Missing tools or missing root make a test skip, except under CI (``CI=true``),
where they make it fail: CI must run every check.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX

CHARON = Path("/usr/lib/ipsec/charon")
BGPD = Path("/usr/lib/frr/bgpd")
NETNS_PREFIX = f"{NS_PREFIX}chk-"
# Held while a test plays the user's lab with a stand-in `hn-` namespace, and while a
# session looks at the user's lab: another xdist worker's stand-in is not the user's lab.
USERS_LAB_LOOK = Path("/run/hybridnet-tests-users-lab.lock")

# charon for config checks: no kernel-libipsec (no TUN device needed), the
# same crypto plugins as the lab, vici for swanctl.
STRONGSWAN_CONF = """\
charon {
    load = kernel-netlink socket-default vici openssl random nonce aes sha1 sha2 hmac gmp pem pkcs1 x509 pubkey kdf
    install_routes = no
    retransmit_tries = 1
    filelog {
        charon {
            path = %(log)s
            default = 1
            flush_line = yes
        }
    }
}
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI."""
    if in_ci():
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        unavailable(f"{name} is not installed")
    return path


def require_path(path: Path) -> Path:
    if not path.exists():
        unavailable(f"{path} is not installed")
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        unavailable("needs root (network namespaces)")


def run(cmd: list[str], *, timeout: float = 20, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@contextlib.contextmanager
def private_netns() -> Iterator[str]:
    """A fresh network namespace with only ``lo`` up and no routes."""
    require_root()
    require_tool("ip")
    name = f"{NETNS_PREFIX}{secrets.token_hex(4)}"
    res = run(["ip", "netns", "add", name])
    if res.returncode != 0:
        unavailable(f"cannot create a network namespace: {res.stderr.strip()}")
    try:
        res = run(["ip", "-n", name, "link", "set", "lo", "up"])
        assert res.returncode == 0, res.stderr
        routes = run(["ip", "-n", name, "-4", "route", "show", "table", "all"]).stdout
        assert not [
            r for r in routes.splitlines() if not r.startswith(("local ", "broadcast ")) and "dev lo" not in r
        ], routes
        yield name
    finally:
        run(["ip", "netns", "del", name])


def _netns_sh(ns: str, script: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, "sh", "-c", script, "sh", *args]


@contextlib.contextmanager
def charon_in_netns() -> Iterator[tuple[str, str, Path]]:
    """Start charon in a private namespace; yield (namespace, vici uri, log).

    ``ip netns exec`` execs ``sh``, which execs charon, so the Popen pid is
    charon's own pid: that exact process is stopped at the end.
    """
    require_path(CHARON)
    require_tool("swanctl")
    with private_netns() as ns, tempfile.TemporaryDirectory(prefix=f"{NS_PREFIX}chk-") as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        log = Path(tmp) / "charon.log"
        conf = Path(tmp) / "strongswan.conf"
        conf.write_text(STRONGSWAN_CONF % {"log": log})
        script = 'mount --bind "$1" /run && mount --bind "$2" /etc/strongswan.conf && exec "$3"'
        proc = subprocess.Popen(
            _netns_sh(ns, script, str(run_dir), str(conf), str(CHARON)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            vici = run_dir / "charon.vici"
            deadline = time.monotonic() + 10
            while not vici.exists():
                if proc.poll() is not None:
                    raise AssertionError(f"charon exited with {proc.returncode}: {_tail(log)}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"charon did not open its vici socket: {_tail(log)}")
                time.sleep(0.02)
            exe = os.readlink(f"/proc/{proc.pid}/exe")
            assert Path(exe).name == "charon", f"pid {proc.pid} is {exe}, not charon"
            yield ns, f"unix://{vici}", log
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a process this test started, SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def swanctl_load(swanctl_conf: Path) -> tuple[subprocess.CompletedProcess, str]:
    """Load ``swanctl_conf`` into a private charon; return (load result, conns)."""
    with charon_in_netns() as (ns, uri, log):
        load = run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "swanctl",
                "--load-all",
                "--noprompt",
                "--file",
                str(swanctl_conf),
                "--uri",
                uri,
            ]
        )
        conns = run(["ip", "netns", "exec", ns, "swanctl", "--list-conns", "--uri", uri])
        if load.returncode != 0:
            load = subprocess.CompletedProcess(
                load.args, load.returncode, load.stdout, load.stderr + "\n--- charon log ---\n" + _tail(log)
            )
        return load, conns.stdout


FRR_ERROR = re.compile(
    r"No such command|Config Failed|Unknown command|Ambiguous command|"
    r"Command incomplete|^%|error",
    re.IGNORECASE | re.MULTILINE,
)


def frr_check(conf: Path) -> list[str]:
    """Check an FRR/Quagga bgpd config with FRR's own parsers; return problems.

    1. ``vtysh --dryrun --inputfile`` parses with the integrated config's
       grammar (exit status 2 on an unknown command);
    2. ``bgpd --dryrun`` reads it into bgpd itself (semantic checks such as a
       neighbor option before its remote-as), with no BGP listener (-p 0),
       no zebra (-Z), no kernel routes (-n); bgpd exits 0 even on errors, so
       its log is scanned. Both run inside a private namespace.
    """
    vtysh = require_tool("vtysh")
    require_path(BGPD)
    problems: list[str] = []
    with private_netns() as ns, tempfile.TemporaryDirectory(prefix=f"{NS_PREFIX}chk-") as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        res = run(["ip", "netns", "exec", ns, vtysh, "--dryrun", "--inputfile", str(conf)])
        out = (res.stdout + res.stderr).strip()
        if res.returncode != 0 or out:
            problems.append(f"vtysh --dryrun exit {res.returncode}: {out}")
        script = (
            'mount --bind "$1" /run && exec "$2" --dryrun -f "$3" -p 0 -Z -n -S -P 0 '
            '-i "$1/bgpd.pid" --vty_socket "$1" --log stdout'
        )
        res = run(_netns_sh(ns, script, str(run_dir), str(BGPD), str(conf)))
        out = res.stdout + res.stderr
        bad = [line for line in out.splitlines() if FRR_ERROR.search(line) and "zclient_send_message" not in line]
        if res.returncode != 0 or bad:
            problems.append(f"bgpd --dryrun exit {res.returncode}: " + "\n".join(bad or [out]))
    return problems


STARTER = Path("/usr/lib/ipsec/starter")


def starter_conftest(ipsec_conf: Path) -> list[str]:
    """Parse an ipsec.conf with strongSwan's starter (``--conftest``); return problems.

    starter prints "config OK" and exits 0 even when it ignored settings or
    whole conns, so any other output line is a problem. It starts no daemon
    in this mode; it still runs inside a private namespace with its own /run.
    """
    require_path(STARTER)
    with private_netns() as ns, tempfile.TemporaryDirectory(prefix=f"{NS_PREFIX}chk-") as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        script = 'mount --bind "$1" /run && exec "$2" --conftest --conf "$3"'
        res = run(_netns_sh(ns, script, str(run_dir), str(STARTER), str(ipsec_conf)))
    lines = [line for line in (res.stdout + res.stderr).splitlines() if line.strip()]
    problems = [line for line in lines if line.strip() != "config OK"]
    if res.returncode != 0 or "config OK" not in lines:
        problems.insert(0, f"starter --conftest exit {res.returncode}")
    return problems
