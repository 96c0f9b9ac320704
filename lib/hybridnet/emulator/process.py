"""Start, find and stop the emulator process (one per HYBRIDNET_HOME), and call it.

The emulator answers AWS API calls on 127.0.0.1 (TCP) only when they are
signed with the credentials it generated (see auth.py); `credentials()`,
`session()` and `client()` hand them to callers. Its admin API and moto's
/moto-api are served on its unix socket (0600) only: `admin_call`. A second
unix socket (0600), the instance socket, serves the AWS API alone, for the
commands the lab's instances run (see server.py). Its state is saved in
`saved_state_file()` after every change and restored at the next start
(persistence.py); `start(fresh=True)` starts it empty.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import workspace
from ..errors import LocalPlaneError
from . import persistence
from .unix_client import UNIX_PATH_MAX, AdminCallError, admin_call_unix

START_TIMEOUT = 30.0


class EmulatorError(LocalPlaneError, RuntimeError):
    """The emulator cannot start, be found or answer (the message says why and what to do;
    the CLI prints it without a traceback)."""


@dataclass(frozen=True)
class EmulatorInfo:
    pid: int
    port: int
    endpoint: str  # the AWS API (SigV4 with credentials() only)
    log: Path
    # The unix socket (0600): the AWS API again, for lab daemons inside network
    # namespaces (where 127.0.0.1 is not the host's), and the only way to the
    # admin API (/_hybridnet/...) and moto's /moto-api/.
    socket: str
    # Its credentials (0600): see credentials().
    credentials_file: Path
    # The instance socket (0600, next to `socket`): the AWS API alone (SigV4,
    # no admin API, no /moto-api/), which the lab pipes to 127.0.0.1:PORT inside
    # a host's network namespace for the commands run on that "instance".
    # None for an emulator started before it existed.
    instance_socket: str | None = None
    # When this emulator process started (ISO 8601, UTC), and the saved state it restored
    # (None: it started empty). None for an emulator started before they were recorded.
    started_at: str | None = None
    restored_from: str | None = None


@dataclass(frozen=True)
class Credentials:
    """The emulator's own AWS credentials (an IAM user's access key in the emulator)."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key='****')"

    def as_boto3(self) -> dict[str, str]:
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}


def state_file() -> Path:
    return workspace.state_dir() / "emulator.json"


def log_file() -> Path:
    return workspace.state_dir() / "emulator.log"


def socket_file() -> Path:
    return workspace.state_dir() / "emulator.sock"


def instance_socket_file() -> Path:
    """The instance socket: the AWS API alone, for commands on the lab's instances."""
    return workspace.state_dir() / "instances.sock"


def saved_state_file() -> Path:
    """The emulator's saved state (0600: it holds secrets), restored at every start."""
    return workspace.state_dir() / "emulator-state.pickle"


def credentials_file() -> Path:
    """The emulator's generated credentials (0600), reused by every later start."""
    return workspace.state_dir() / "emulator-credentials.json"


def read_credentials(path: Path) -> Credentials:
    """The credentials in `path` (OSError, ValueError or KeyError when there are none)."""
    data = json.loads(Path(path).read_text())
    return Credentials(str(data["aws_access_key_id"]), str(data["aws_secret_access_key"]))


# The emulators this process has started or found, by endpoint: their credentials
# stay reachable when HYBRIDNET_HOME has changed since (tests run several).
_seen: dict[str, Path] = {}


def credentials(emulator: EmulatorInfo | str | None = None) -> Credentials:
    """The credentials an emulator accepts: this HYBRIDNET_HOME's, or those of
    `emulator` (an EmulatorInfo, or the endpoint of one this process started or found)."""
    if isinstance(emulator, EmulatorInfo):
        path = emulator.credentials_file
    elif emulator is not None and emulator in _seen:
        path = _seen[emulator]
    else:
        path = credentials_file()
    try:
        return read_credentials(path)
    except (OSError, ValueError, KeyError):
        raise EmulatorError(
            f"no emulator credentials in {path}: start the emulator first (hybridnet emulator start)"
        ) from None


def session(region: str, emulator: EmulatorInfo | str | None = None) -> Any:
    """A boto3 session for the emulator (its credentials, never a real account's)."""
    from ..aws import new_session

    return new_session(region_name=region, **credentials(emulator).as_boto3())


def client(service: str, region: str, info: EmulatorInfo | None = None, config: Any = None) -> Any:
    """A boto3 client for the emulator `info` (default: this HYBRIDNET_HOME's, started if needed)."""
    info = info or start()
    return session(region, info).client(service, endpoint_url=info.endpoint, config=config)


def _is_ours(pid: int) -> bool:
    """True when pid is alive and is our emulator (never signal anything else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"hybridnet.emulator.server" in cmdline


def _healthy(socket_path: str, timeout: float = 2.0) -> bool:
    try:
        return admin_call_unix(socket_path, "GET", "health", timeout=timeout).get("ok") is True
    except AdminCallError:
        return False


def status() -> EmulatorInfo | None:
    """The running emulator, or None (a stale state file is removed)."""
    path = state_file()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    # An emulator without credentials_file in its state predates authentication: not ours to use.
    if _is_ours(state["pid"]) and state.get("socket") and state.get("credentials_file") and _healthy(state["socket"]):
        info = EmulatorInfo(
            state["pid"],
            state["port"],
            state["endpoint"],
            log_file(),
            state["socket"],
            Path(state["credentials_file"]),
            state.get("instance_socket") or None,
            state.get("started_at"),
            state.get("restored_from"),
        )
        _seen[info.endpoint] = info.credentials_file
        return info
    if not _is_ours(state["pid"]):
        path.unlink(missing_ok=True)
    return None


def start(fresh: bool = False) -> EmulatorInfo:
    """Start the emulator in the background unless it already runs, with the state it saved.

    A saved state it cannot restore (damaged, from another version) is refused with
    EmulatorError, the file untouched. `fresh`: start empty on purpose; a running
    emulator is stopped first, and the saved state is kept under a timestamped name.
    """
    running = status()
    if running and not fresh:
        return running
    if running:
        stop()
    saved = saved_state_file()
    header = None
    if fresh:
        persistence.set_aside(saved)
    else:
        try:
            header = persistence.check(saved)  # here, so the refusal is this one message
        except persistence.StateFileError as exc:
            raise EmulatorError(str(exc)) from None
    # The port the saved state was served on, so that clients holding its endpoint (a
    # notebook's kernel, the lab's agent) reach the restarted emulator (another if taken).
    port = (header or {}).get("port") or 0
    path = state_file()
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    if old.get("pid") and not old.get("credentials_file"):
        stop()  # an emulator from before authentication (an older version): it must not keep serving
    sock, instance_sock = socket_file(), instance_socket_file()
    for unix_path in (sock, instance_sock):
        if len(str(unix_path).encode()) > UNIX_PATH_MAX:
            raise EmulatorError(
                f"the emulator's unix socket {unix_path} would be longer than {UNIX_PATH_MAX} bytes: "
                f"set HYBRIDNET_HOME to a shorter folder (now {workspace.home()})"
            )
    path.unlink(missing_ok=True)
    env = dict(os.environ)
    # The emulator never needs, and must never see, real credentials.
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)
    # moto's own switches, read when moto is imported: every action is
    # authenticated and authorized (no free first N calls), and no CORS headers.
    env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    env["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workspace.PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    with open(log_file(), "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hybridnet.emulator.server",
                "--state-file",
                str(path),
                "--socket",
                str(sock),
                "--instance-socket",
                str(instance_sock),
                "--credentials-file",
                str(credentials_file()),
                "--saved-state",
                str(saved),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # outlives the notebook or CLI that started it
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorError(f"the emulator exited with {proc.returncode}{_last_words()}; see {log_file()}")
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


def _last_words() -> str:
    """The last line of the emulator's log (why it exited), for the error message."""
    try:
        lines = log_file().read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1]}" if lines else ""


def admin_call(
    target: EmulatorInfo | str | os.PathLike, method: str, route: str, body: dict | None = None, timeout: float = 35.0
) -> dict:
    """Call the admin API (/_hybridnet/<route>) over the emulator's unix socket.

    `target` is the running emulator (EmulatorInfo) or its socket's path; the
    admin API is not served on the TCP endpoint. Errors raise EmulatorError.
    """
    socket_path = target.socket if isinstance(target, EmulatorInfo) else os.fspath(target)
    if socket_path.startswith(("http://", "https://")):
        raise EmulatorError(
            f"the admin API is served on the emulator's unix socket only, not on {socket_path}: "
            "pass emulator.status() or its .socket"
        )
    try:
        return admin_call_unix(socket_path, method, route, body, timeout=timeout)
    except AdminCallError as exc:
        raise EmulatorError(str(exc)) from None
