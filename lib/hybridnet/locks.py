"""Exclusive locks on files (flock): released when the holder's block ends or
its process dies, so a crash never leaves a stale lock behind.

Used for the lab (one process brings a lab up at a time) and for a stack (two
`hybridnet run`s of the same stack would interleave their changes; `teardown`,
`lab up` and `lab fault` hold it too).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import workspace
from .errors import HybridnetError


class Busy(Exception):
    """Another process holds the lock; `holder` is what it wrote there (may be {})."""

    def __init__(self, path: Path, holder: dict):
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path, self.holder = path, holder


class StackBusy(HybridnetError):
    """Another hybridnet command is changing this stack right now."""

    exit_code = 5


def acquire(path: Path | str, timeout: float = 0.0, holder: dict | None = None) -> int:
    """Lock `path` (created 0600) exclusively, waiting up to `timeout` seconds; Busy if
    another process still holds it then. `holder` is written into the file, so that
    a refused caller can say who holds it. Returns the descriptor to release()."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise Busy(path, _holder(path)) from None
            time.sleep(0.2)
    if holder is not None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
    return fd


def release(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def flock(path: Path | str, timeout: float = 0.0, holder: dict | None = None) -> Iterator[None]:
    """acquire() for the block."""
    fd = acquire(path, timeout, holder)
    try:
        yield
    finally:
        release(fd)


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


@contextmanager
def stack_lock(params, command: str) -> Iterator[None]:
    """This stack is ours for the block (per target, profile, region and stack name,
    on this machine): a second command refuses at once with StackBusy naming the
    first, instead of interleaving its changes."""
    key = f"{params.target}-{params.profile or 'default'}-{params.region}-{params.name}"
    path = workspace.state_dir() / "locks" / f"{key}.lock"
    me = {"pid": os.getpid(), "command": command, "since": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    try:
        fd = acquire(path, holder=me)
    except Busy as busy:
        other = busy.holder
        raise StackBusy(
            f"stack {params.name!r} ({params.target}, {params.region}) is being changed by "
            f"`{other.get('command', 'another hybridnet command')}` (pid {other.get('pid', '?')}, since "
            f"{other.get('since', '?')}): wait for it to finish, or stop it; two at once would "
            "interleave their changes"
        ) from None
    try:
        yield
    finally:
        release(fd)


__all__ = ["Busy", "StackBusy", "acquire", "flock", "release", "stack_lock"]
