"""Start, record and stop the lab's daemons, one set per network namespace.

Every daemon the lab starts is recorded in ``<lab_dir>/state.json`` with its
pid and its kernel start time, written before the next step runs, so a lab
that crashed half-way can still be taken down from the state file. A recorded
pid is only signalled when /proc/<pid>/stat still shows the same start time
(pid + start time identify one process for the life of the machine), so a
recycled pid is never hit. Without a state file, `teardown` only stops known
lab daemon executables found inside ``hn-`` namespaces, which nothing but the
lab creates. Other `hn-` namespaces (throwaway ones of config checks and
tests, maybe in use by another process) are only removed when empty and stale.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import identity, netns
from .vici import ViciSession

STATE_FILE_NAME = "state.json"
FRR_RUN_ROOT = Path("/run/frr")
FRR_BIN = Path("/usr/lib/frr")
CHARON = Path("/usr/lib/ipsec/charon")
FRR_USER = "frr"

# Executables the lab runs in its namespaces; used only to clean up after a
# crash that lost the state file.
LAB_DAEMON_EXECUTABLES = frozenset({"charon", "zebra", "bgpd", "staticd", "named", "openvpn"})

STOP_GRACE_S = 3.0
# An empty `hn-` namespace that is not the lab's is deleted only when older
# than this: a younger one may be in the middle of another process's set-up.
FOREIGN_NAMESPACE_GRACE_S = 60.0

# Popen objects of daemons started by this Python process, so that stopped
# daemons are reaped instead of lingering as zombies.
_children: dict[int, subprocess.Popen] = {}


@dataclass
class DaemonRecord:
    name: str  # unique within the lab, e.g. "charon@hn-aws"
    ns: str
    pid: int
    starttime: int  # field 22 of /proc/<pid>/stat, in clock ticks since boot
    executable: str  # what the process execs into, e.g. "charon"
    argv: list[str]
    log: str
    runtime_dirs: list[str] = field(default_factory=list)  # removed when it stops
    # (source, target) bind mounts it was started with, so `respawn` starts it the
    # same way; None in a record written before they were recorded
    bind_mounts: list[list[str]] | None = None


# --- /proc helpers -----------------------------------------------------------


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of a live pid, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[19])


def is_same_process_alive(pid: int, starttime: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[1] == starttime and stat[0] not in ("Z", "X")


def proc_executable(pid: int) -> str | None:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return None
    return os.path.basename(argv0)


def _signal_if_same(pid: int, starttime: int, signum: int) -> bool:
    """Signal `pid` only if it is still the process we recorded.

    A pidfd pins the process: once it is open and the start time matches,
    the signal cannot reach a different process that reused the pid.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if not is_same_process_alive(pid, starttime):
            return False
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        try:
            child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            _children[pid] = child


def reap_exited() -> list[int]:
    """Reap the daemons this process started that have exited (crashed, killed by
    someone else): a zombie still holds its pid, and charon will not start again
    while its pid file names a process that exists. Returns the reaped pids."""
    reaped = [pid for pid, child in list(_children.items()) if child.poll() is not None]
    for pid in reaped:
        _children.pop(pid, None)
    return reaped


def stop_processes(targets: Iterable[tuple[int, int]], grace_s: float = STOP_GRACE_S) -> list[int]:
    """SIGTERM each (pid, starttime), wait up to `grace_s`, then SIGKILL.

    Returns the pids that were signalled.
    """
    signalled = [(pid, st) for pid, st in targets if _signal_if_same(pid, st, signal.SIGTERM)]
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for pid, _ in signalled:
            _reap(pid)
        if not any(is_same_process_alive(pid, st) for pid, st in signalled):
            break
        time.sleep(0.02)
    for pid, st in signalled:
        if is_same_process_alive(pid, st):
            _signal_if_same(pid, st, signal.SIGKILL)
    for pid, st in signalled:
        for _ in range(50):
            _reap(pid)
            if not is_same_process_alive(pid, st):
                break
            time.sleep(0.02)
    return [pid for pid, _ in signalled]


# --- the lab's state file ---------------------------------------------------------


class LabRuntime:
    """The lab's runtime directory and state file: namespaces, daemons, folders."""

    def __init__(self, lab_dir: Path | str = identity.LAB_DIR, log_dir: Path | str | None = None):
        self.lab_dir = Path(lab_dir)
        self.state_path = self.lab_dir / STATE_FILE_NAME
        self.state: dict = self._load() or {
            "namespaces": [],
            "daemons": [],
            "runtime_dirs": [],
            "created_paths": [],
        }
        if log_dir is not None:
            self.state["log_dir"] = str(log_dir)
        self.state.setdefault("log_dir", str(self.lab_dir / "logs"))

    # -- persistence
    def _load(self) -> dict | None:
        try:
            return json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:
            # a crash while writing: the atomic rename below makes this rare,
            # but the namespace sweep in teardown still cleans everything up
            return None

    @classmethod
    def load(cls, lab_dir: Path | str = identity.LAB_DIR) -> LabRuntime:
        runtime = cls(lab_dir)
        if not runtime.state_path.exists():
            raise FileNotFoundError(f"no lab state in {runtime.lab_dir}: is the lab up?")
        return runtime

    def save(self) -> None:
        self.lab_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_path)

    @property
    def log_dir(self) -> Path:
        return Path(self.state["log_dir"])

    def ns_dir(self, ns: str) -> Path:
        """Per-namespace folder for configs and charon's private /run."""
        path = self.lab_dir / netns.check_lab_namespace(ns)
        if not path.exists():
            path.mkdir(parents=True, mode=0o700)
            self._remember_path(path)
        return path

    def _remember_path(self, path: Path) -> None:
        if str(path) not in self.state["created_paths"]:
            self.state["created_paths"].append(str(path))
            self.save()

    # -- namespaces
    def create_namespace(self, ns: str) -> None:
        # record first: if creation half-fails, teardown still deletes it
        if ns not in self.state["namespaces"]:
            self.state["namespaces"].append(ns)
            self.save()
        netns.create_namespace(ns)

    # -- daemons
    @property
    def daemons(self) -> list[DaemonRecord]:
        return [DaemonRecord(**d) for d in self.state["daemons"]]

    def daemon(self, name: str) -> DaemonRecord:
        for record in self.daemons:
            if record.name == name:
                return record
        raise KeyError(f"lab daemon {name} is not recorded in {self.state_path}")

    def spawn(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        *,
        executable: str,
        bind_mounts: Sequence[tuple[Path | str, Path | str]] = (),
        env: dict[str, str] | None = None,
        runtime_dirs: Sequence[Path | str] = (),
    ) -> DaemonRecord:
        """Start `argv` in the foreground inside namespace `ns` and record it.

        With `bind_mounts`, a shell first bind-mounts each (source, target)
        and then execs the daemon; `ip netns exec` gives the command a private
        mount namespace, so these mounts are invisible elsewhere and vanish
        with the daemon. The pid stays the same through both execs.
        """
        if any(d["name"] == name for d in self.state["daemons"]):
            raise RuntimeError(f"lab daemon {name} already recorded")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name.replace('@', '-')}.log"
        command = list(argv)
        if bind_mounts:
            mounts = " && ".join(
                f"mount --bind {shlex.quote(str(src))} {shlex.quote(str(dst))}" for src, dst in bind_mounts
            )
            command = ["sh", "-c", f"{mounts} && exec {shlex.join(argv)}"]
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                [netns.IP, "netns", "exec", netns.check_lab_namespace(ns), *command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # not hit by the caller's Ctrl-C; `down` stops it
                env=None if env is None else {**os.environ, **env},
            )
        stat = proc_stat(child.pid)
        record = DaemonRecord(
            name=name,
            ns=ns,
            pid=child.pid,
            starttime=stat[1] if stat else -1,
            executable=executable,
            argv=list(argv),
            log=str(log_path),
            runtime_dirs=[str(p) for p in runtime_dirs],
            bind_mounts=[[str(src), str(dst)] for src, dst in bind_mounts],
        )
        _children[child.pid] = child
        self.state["daemons"].append(asdict(record))
        self.save()
        return record

    def is_running(self, record: DaemonRecord) -> bool:
        return is_same_process_alive(record.pid, record.starttime)

    def _restartable(self, name: str) -> DaemonRecord:
        record = self.daemon(name)
        if record.bind_mounts is None:
            raise RuntimeError(
                f"{name} was started by an older hybridnet, which did not record how: it could "
                "not be started again as it was (hybridnet lab down, then up)"
            )
        return record

    def kill(self, name: str, timeout: float = 5.0) -> DaemonRecord:
        """SIGKILL a running recorded daemon, as a crash ends it (no clean shutdown:
        charon sends no IKE DELETE, bgpd no NOTIFICATION). Its record stays, so
        `respawn` can start it again. Returns once it is dead (reaped, if this
        process started it)."""
        record = self._restartable(name)
        if not _signal_if_same(record.pid, record.starttime, signal.SIGKILL):
            raise RuntimeError(f"{name} is not running (pid {record.pid})")
        deadline = time.monotonic() + timeout
        while self.is_running(record) and time.monotonic() < deadline:
            time.sleep(0.01)
        _reap(record.pid)
        return record

    def respawn(self, name: str, timeout: float = 5.0) -> DaemonRecord:
        """Start a recorded daemon that died (a crash) again exactly as it was
        started: its argv and bind mounts, its runtime folders kept (`stop` would
        remove them). A daemon still running is left alone."""
        record = self._restartable(name)
        if self.is_running(record):
            return record
        # until its parent (this process, the lab's agent, init) has reaped it: see reap_exited
        deadline = time.monotonic() + timeout
        while (
            (stat := proc_stat(record.pid)) is not None and stat[1] == record.starttime and time.monotonic() < deadline
        ):
            reap_exited()
            time.sleep(0.02)
        self.state["daemons"] = [d for d in self.state["daemons"] if d["name"] != name]
        assert record.bind_mounts is not None  # _restartable refuses a record without them
        return self.spawn(
            name,
            record.ns,
            record.argv,
            executable=record.executable,
            bind_mounts=[(src, dst) for src, dst in record.bind_mounts],
            runtime_dirs=record.runtime_dirs,
        )

    def wait_ready(self, record: DaemonRecord, ready: Callable[[], bool], timeout: float = 10.0) -> float:
        """Poll `ready()` until true; fail early, with the log's tail, if the daemon died."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if ready():
                return time.monotonic() - start
            if not self.is_running(record):
                raise RuntimeError(f"{record.name} exited during start-up:\n{tail(record.log)}")
            time.sleep(0.01)
        raise TimeoutError(f"{record.name} not ready after {timeout:.0f}s:\n{tail(record.log)}")

    def stop(self, names: Iterable[str] | None = None) -> list[str]:
        """Stop recorded daemons (all by default) by pid; remove their runtime folders."""
        wanted = None if names is None else set(names)
        records = [r for r in self.daemons if wanted is None or r.name in wanted]
        stop_processes((r.pid, r.starttime) for r in records)
        for record in records:
            for path in record.runtime_dirs:
                shutil.rmtree(path, ignore_errors=True)
        stopped = {r.name for r in records}
        self.state["daemons"] = [d for d in self.state["daemons"] if d["name"] not in stopped]
        if self.state_path.exists():
            self.save()
        return sorted(stopped)


def tail(path: str | Path, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- strongSwan charon -------------------------------------------------------------


def charon_paths(runtime: LabRuntime, ns: str) -> dict[str, Path]:
    ns_dir = runtime.lab_dir / netns.check_lab_namespace(ns)
    return {
        "run": ns_dir / "run",  # bind-mounted over /run for this charon only
        "strongswan_conf": ns_dir / "strongswan.conf",
        "vici": ns_dir / "run" / "charon.vici",
    }


def start_charon(runtime: LabRuntime, ns: str, strongswan_conf: str) -> DaemonRecord:
    """Start one charon in `ns` with its own /run and strongswan.conf.

    charon's pid file and sockets are compiled in under /run, so a second
    charon in another namespace would refuse to start; a private /run per
    namespace (bind mount) lets each namespace have its own.
    """
    runtime.ns_dir(ns)  # creates and records the folder
    paths = charon_paths(runtime, ns)
    paths["run"].mkdir(mode=0o700, exist_ok=True)
    paths["strongswan_conf"].write_text(strongswan_conf)
    paths["strongswan_conf"].chmod(0o644)
    # strongswan.conf first: once /run is covered, a lab dir under /run is hidden
    return runtime.spawn(
        f"charon@{ns}",
        ns,
        [str(CHARON)],
        executable="charon",
        bind_mounts=[(paths["strongswan_conf"], "/etc/strongswan.conf"), (paths["run"], "/run")],
    )


def vici_ready(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        with ViciSession(socket_path, timeout=1.0) as session:
            session.command("version")
        return True
    except OSError:
        return False


def swanctl(
    runtime: LabRuntime, ns: str, *args: str, check: bool = True, timeout: float = 20.0
) -> subprocess.CompletedProcess:
    """Run swanctl against the charon of `ns` through its vici socket.

    STRONGSWAN_CONF points swanctl at the namespace's strongswan.conf so it
    loads only the plugins it needs (the host's default list warns a lot).
    """
    paths = charon_paths(runtime, ns)
    return netns.run(
        ["swanctl", *args, "--uri", f"unix://{paths['vici']}"],
        check=check,
        timeout=timeout,
        env={"STRONGSWAN_CONF": str(paths["strongswan_conf"])},
    )


# --- FRR zebra + bgpd -------------------------------------------------------------


def frr_run_dir(ns: str) -> Path:
    return FRR_RUN_ROOT / netns.check_lab_namespace(ns)


def _chown_frr(path: Path) -> None:
    shutil.chown(path, FRR_USER, FRR_USER)


def _frr_owned_file(path: Path, text: str, mode: int = 0o640) -> Path:
    path.write_text(text)
    path.chmod(mode)
    _chown_frr(path)  # FRR drops to user frr before reading its config
    return path


def start_frr_daemon(runtime: LabRuntime, ns: str, daemon: str, config_text: str) -> DaemonRecord:
    """Start FRR's `daemon` (zebra, bgpd, ...) in `ns`, in the foreground.

    `-N ns` gives each namespace's daemons their own /run/frr/<ns> for sockets
    and pid files, which is also where `vtysh -N ns` looks for them. The
    config goes there too: FRR reads it as user frr, who may not be able to
    enter the lab or log dir (e.g. a 0700 temporary folder). For the same
    reason FRR logs to stdout, which the lab writes into the log dir.
    """
    run_dir = frr_run_dir(ns)
    if str(run_dir) not in runtime.state["runtime_dirs"]:
        runtime.state["runtime_dirs"].append(str(run_dir))  # recorded before it exists
        runtime.save()
    run_dir.mkdir(parents=True, exist_ok=True)
    _chown_frr(run_dir)
    config = _frr_owned_file(run_dir / f"{daemon}.conf", config_text)
    argv = [
        str(FRR_BIN / daemon),
        "-N",
        ns,
        "-F",
        "traditional",
        "-P",
        "0",
        "-f",
        str(config),
        "--log",
        "stdout",
        "-i",
        str(run_dir / f"{daemon}.pid"),
    ]
    return runtime.spawn(f"{daemon}@{ns}", ns, argv, executable=daemon)


def vtysh(ns: str, command: str, timeout: float = 10.0) -> str:
    return netns.run(["vtysh", "-N", netns.check_lab_namespace(ns), "-c", command], timeout=timeout).stdout


def vtysh_json(ns: str, command: str) -> dict:
    output = vtysh(ns, command)
    return json.loads(output) if output.strip() else {}


# --- any other daemon (BIND, OpenVPN, ...) -------------------------------------------


def start_daemon(
    runtime: LabRuntime,
    name: str,
    ns: str,
    argv: Sequence[str],
    *,
    executable: str | None = None,
    ready: Callable[[], bool] | None = None,
    ready_timeout: float = 10.0,
    bind_mounts: Sequence[tuple[Path | str, Path | str]] = (),
    runtime_dirs: Sequence[Path | str] = (),
) -> DaemonRecord:
    """Run a foreground daemon in lab namespace `ns` and record it for `down()`.

    `argv` must keep the daemon in the foreground (e.g. ``named -g``,
    ``openvpn`` without ``--daemon``): the recorded pid is the daemon's own.
    Its stdout/stderr go to ``<log_dir>/<name>.log``; `runtime_dirs` are
    removed when it stops.
    """
    record = runtime.spawn(
        name,
        ns,
        argv,
        executable=executable or os.path.basename(argv[0]),
        bind_mounts=bind_mounts,
        runtime_dirs=runtime_dirs,
    )
    if ready is not None:
        runtime.wait_ready(record, ready, ready_timeout)
    return record


# --- teardown ----------------------------------------------------------------------


def teardown(lab_dir: Path | str = identity.LAB_DIR, lab_namespaces: Iterable[str] = ()) -> dict:
    """Remove everything a lab made, also after a crash or without a state file.

    1. stop the daemons recorded in the state file (pid + start time checked);
    2. in the lab's namespaces (`lab_namespaces` and those in the state file),
       stop known lab daemon executables still running there (left by a run
       whose state file is lost), then delete these namespaces;
    3. other `hn-` namespaces belong to other users of the prefix (throwaway
       namespaces of config checks and tests, possibly running right now in
       another process): delete one only when no process lives in it and it
       is older than FOREIGN_NAMESPACE_GRACE_S (left by a crash, not being
       set up); never signal a process in one; report the rest;
    4. remove /run/frr/hn-* folders whose namespace is gone, and the lab
       dir's runtime files (configs, charon /run, state file).
    """
    runtime = LabRuntime(lab_dir)
    report: dict = {
        "stopped": [],
        "stopped_orphans": [],
        "left_running": [],
        "namespaces_deleted": [],
        "namespaces_left": [],
        "runtime_dirs_removed": [],
    }
    report["stopped"] = runtime.stop()

    existing = set(netns.list_namespaces())
    own = sorted(existing & (set(lab_namespaces) | set(runtime.state["namespaces"])))
    orphans: list[tuple[int, int]] = []
    for ns in own:
        ns_inode = netns.namespace_id(ns)
        for pid in netns.namespace_pids(ns):
            stat = proc_stat(pid)
            exe = proc_executable(pid)
            # re-check membership by inode: `ip netns pids` read /proc a moment ago
            in_ns = ns_inode is not None and netns.process_namespace_inode(pid) == ns_inode[1]
            if stat and in_ns and exe in LAB_DAEMON_EXECUTABLES:
                orphans.append((pid, stat[1]))
                report["stopped_orphans"].append({"pid": pid, "executable": exe, "ns": ns})
            elif stat:
                report["left_running"].append({"pid": pid, "executable": exe, "ns": ns})
    stop_processes(orphans)
    for ns in own:
        netns.delete_namespace(ns)
        report["namespaces_deleted"].append(ns)

    for ns in sorted(existing - set(own)):
        pids = netns.namespace_pids(ns)
        age = netns.namespace_age_s(ns)
        if not pids and age is not None and age > FOREIGN_NAMESPACE_GRACE_S:
            netns.delete_namespace(ns)
            report["namespaces_deleted"].append(ns)
        else:
            report["namespaces_left"].append({"ns": ns, "pids": pids, "age_s": age})

    remaining = set(netns.list_namespaces())
    frr_dirs = {Path(p) for p in runtime.state.get("runtime_dirs", [])}
    if FRR_RUN_ROOT.exists():
        frr_dirs |= {p for p in FRR_RUN_ROOT.iterdir() if p.name.startswith(netns.NAMESPACE_PREFIX)}
    for path in sorted(frr_dirs):
        if (
            path.parent == FRR_RUN_ROOT
            and path.name.startswith(netns.NAMESPACE_PREFIX)
            and path.name not in remaining
            and path.exists()
        ):
            shutil.rmtree(path, ignore_errors=True)
            report["runtime_dirs_removed"].append(str(path))

    # the lab dir: only what the lab made (per-namespace folders, state file)
    lab = Path(lab_dir)
    for path in [Path(p) for p in runtime.state.get("created_paths", [])]:
        if path.parent == lab:
            shutil.rmtree(path, ignore_errors=True)
    if lab.exists():
        for child in lab.iterdir():
            if child.is_dir() and child.name.startswith(netns.NAMESPACE_PREFIX):
                shutil.rmtree(child, ignore_errors=True)
        for name in (STATE_FILE_NAME, STATE_FILE_NAME.replace(".json", ".tmp")):
            (lab / name).unlink(missing_ok=True)
        try:
            lab.rmdir()  # only if empty: never remove what someone else put there
        except OSError:
            pass
    return report
