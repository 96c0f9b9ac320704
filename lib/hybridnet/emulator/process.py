"""Start, find and stop the emulator process (one per HYBRIDNET_HOME)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .. import workspace

START_TIMEOUT = 30.0


class EmulatorError(RuntimeError):
    pass


@dataclass(frozen=True)
class EmulatorInfo:
    pid: int
    port: int
    endpoint: str
    log: Path
    # The same API on a unix socket (0600), for lab daemons inside network
    # namespaces, where 127.0.0.1 is not the host's; None if it could not be made.
    socket: str | None = None


def state_file() -> Path:
    return workspace.state_dir() / "emulator.json"


def log_file() -> Path:
    return workspace.state_dir() / "emulator.log"


def socket_file() -> Path:
    return workspace.state_dir() / "emulator.sock"


def _is_ours(pid: int) -> bool:
    """True when pid is alive and is our emulator (never signal anything else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"hybridnet.emulator.server" in cmdline


def _healthy(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_hybridnet/health", timeout=timeout) as resp:
            return json.load(resp).get("ok") is True
    except (OSError, ValueError):
        return False


def status() -> EmulatorInfo | None:
    """The running emulator, or None (a stale state file is removed)."""
    path = state_file()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if _is_ours(state["pid"]) and _healthy(state["endpoint"]):
        return EmulatorInfo(state["pid"], state["port"], state["endpoint"], log_file(), state.get("socket"))
    if not _is_ours(state["pid"]):
        path.unlink(missing_ok=True)
    return None


def start() -> EmulatorInfo:
    """Start the emulator in the background unless it already runs."""
    running = status()
    if running:
        return running
    path = state_file()
    path.unlink(missing_ok=True)
    env = dict(os.environ)
    # The emulator never needs, and must never see, real credentials.
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workspace.PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    with open(log_file(), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hybridnet.emulator.server", "--state-file", str(path),
             "--socket", str(socket_file())],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,  # outlives the notebook or CLI that started it
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorError(f"the emulator exited with {proc.returncode}; see {log_file()}")
        info = status()
        if info:
            return info
        time.sleep(0.05)
    proc.terminate()
    raise EmulatorError(f"the emulator did not answer within {START_TIMEOUT:.0f} s; see {log_file()}")


def stop() -> bool:
    """Stop the emulator this home started (by its recorded pid). True if one ran."""
    path = state_file()
    try:
        pid = json.loads(path.read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return False
    stopped = False
    if _is_ours(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _is_ours(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        stopped = True
    path.unlink(missing_ok=True)
    return stopped


def admin_call(endpoint: str, method: str, route: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/_hybridnet/{route}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        raise EmulatorError(json.load(exc).get("error", str(exc))) from None
