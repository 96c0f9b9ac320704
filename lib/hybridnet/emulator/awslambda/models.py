"""Lambda Invoke that runs the function's real code, without Docker.

moto runs a function in a Docker container, or (with `use_docker: false`)
just echoes the payload. Here Invoke runs the deployed Python code itself,
the way Lambda runs it and not the way the emulator runs:

- In a process of its own, as an unprivileged user. When the emulator runs
  as root, the function runs as `nobody` (uid/gid 65534 on Debian: group
  `nogroup`, no supplementary groups, `no_new_privs`, so no set-uid program
  gives privileges back). When the emulator runs as an ordinary user, the
  function runs as that same user (it cannot switch users): the limits below
  still apply, but the function can do whatever that user can.
- With a Python 3 interpreter that user can run and nothing but the standard
  library (`-S`: no site-packages; Lambda's python runtimes add boto3, which
  is not emulated). As root that is the system's `python3` (the venv's may
  live under /root, which `nobody` cannot read); every python3.x runtime
  runs on that one interpreter, whatever minor version it is.
- Its code is the deployment zip, extracted into a fresh directory (like
  /var/task; when the function runs as `nobody` the files are root's,
  readable, not writable); the event, the result file and its TMPDIR live in
  a per-invocation directory that belongs to the function's user (0700) and
  is removed afterwards.
- Its environment is the function's Environment variables, then what the
  Lambda runtime sets (reserved names win): AWS_LAMBDA_FUNCTION_NAME, ...,
  AWS_REGION, and credentials for its execution role (AWS_ACCESS_KEY_ID /
  AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, an ASIA... key) obtained by
  assuming the function's Role through the emulator's STS (session name: the
  function name). A role that does not exist or does not trust
  lambda.amazonaws.com gives no credentials, and the log says so. Nothing of
  the emulator's own environment reaches the function.
- Its Timeout is enforced: the process and everything it started are
  killed ("Task timed out after N seconds", Sandbox.Timedout). A small
  supervisor between the emulator and the function is their child
  subreaper, so children that daemonize or start their own session are
  found and killed too when the invocation ends; a caller may shorten the
  limit (Client VPN gives up after 30 s).
- Its MemorySize is enforced with RLIMIT_DATA (heap, private mappings and
  thread stacks, counted when reserved rather than when touched, so the
  limit is slightly stricter than Lambda's). RLIMIT_AS = MemorySize would be
  too tight: one thread alone maps a 64 MB malloc arena and an 8 MB stack
  (156 MB of address space in all); RLIMIT_AS = MemorySize + 2 GiB backs
  RLIMIT_DATA up for shared anonymous mappings, which it does not count. A
  function that runs out of memory fails as on Lambda: Runtime.OutOfMemory,
  "Runtime exited with error: signal: killed". Also: RLIMIT_NOFILE 1024 and
  (as `nobody`) RLIMIT_NPROC 1024 as on Lambda, RLIMIT_FSIZE =
  EphemeralStorage, no core dumps.
- Its output (print, stderr) is the function's log, in CloudWatch Logs
  /aws/lambda/<name>, stream `YYYY/MM/DD/[<version>]<32 hex>`, with START,
  END and REPORT lines (Duration, Billed Duration, Memory Size, Max Memory
  Used, Init Duration), one event per line as printed (at most 1 MiB an
  invocation); Invoke with LogType=Tail returns its last 4 KB.

Errors come back as AWS returns them: status 200, X-Amz-Function-Error:
Unhandled and {errorMessage, errorType, stackTrace}. Only python3.x runtimes
run; others, and a host without a usable interpreter, get
InvalidRuntimeException.

Not emulated: network isolation (the function shares the host's network
namespace and could reach the emulator on 127.0.0.1 with its role's
credentials; it is given no endpoint URL), a private file system (outside
its directories it sees the host as `nobody` does, and /tmp is the host's:
TMPDIR points at its own), isolation between functions (all run as the same
`nobody`, so code of one function running at the same time as another could
read its files, environment and credentials), layers, extensions, boto3 in
the runtime, container reuse (every invocation is a cold start), CPU shares
proportional to memory, and concurrency limits. Measured with the system's
python3.11: the interpreter with the connect handler's imports maps 17 MB of
address space and 8 MB of data, and reports a Max Memory Used of 13 MB; each
thread reserves an 8 MB stack, so a 128 MB function can start about 15.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import os
import pwd
import re
import selectors
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import LambdaClientError

from .. import persistence

LOG_TAIL_BYTES = 4096  # X-Amz-Log-Result carries the last 4 KB of the log, as on AWS
LOG_LIMIT_BYTES = 1 << 20  # what one invocation may print; the rest is dropped
RESPONSE_LIMIT_BYTES = 6291556  # Lambda's synchronous response payload limit
SUPPORTED_RUNTIME_PREFIX = "python3"
SANDBOX_USER = "nobody"  # whom functions run as when the emulator is root
SANDBOX_FALLBACK_ID = 65534  # nobody/nogroup where the user database has no `nobody`
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")
MIN_PYTHON = (3, 9)  # the oldest python runtime Lambda still runs
ADDRESS_SPACE_MARGIN_MB = 2048  # RLIMIT_AS above MemorySize: thread arenas, shared libraries
MAX_FILES = 1024  # Lambda: 1,024 file descriptors
MAX_PROCESSES = 1024  # Lambda: 1,024 processes or threads
SUPERVISOR_GRACE_SECONDS = 10.0  # the emulator's own backstop beyond the function's limit
ROLE_SESSION_SECONDS = 3600
BOOTSTRAP_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


class InvalidRuntime(LambdaClientError):
    code = 502

    def __init__(self, runtime: str | None, message: str | None = None) -> None:
        super().__init__(
            "InvalidRuntimeException",
            message
            or (
                f"The runtime parameter of {runtime} is not supported by the hybridnet emulator, "
                "which runs python3.x functions only."
            ),
        )


class InvalidZipFile(LambdaClientError):
    code = 502

    def __init__(self, message: str) -> None:
        super().__init__("InvalidZipFileException", message)


class InvalidRequestContent(LambdaClientError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


# Runs as the function, in the sandboxed interpreter: imports the handler,
# calls it, writes the outcome to the result file. Everything the handler
# prints is the function's log.
RUNNER = r"""
import time
STARTED = time.monotonic()
import importlib, json, os, signal, sys, traceback

task_root, handler_spec, request_id, deadline_ms, event_path, result_path, response_limit = sys.argv[1:8]
sys.path.insert(0, task_root)


def finish(outcome):
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(outcome, out)


def fail(error_type, message, frames=()):
    stack = traceback.format_list(frames)
    sys.stdout.flush()
    print("[ERROR] %s: %s" % (error_type, message), file=sys.stderr)
    if stack:
        print("Traceback (most recent call last):\n" + "".join(stack), end="", file=sys.stderr)
    finish({"error": {"errorMessage": message, "errorType": error_type, "requestId": request_id,
                      "stackTrace": stack}})


def user_frames(tb):
    return [f for f in traceback.extract_tb(tb) if f.filename != "<string>"]


class LambdaContext:
    def __init__(self):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = os.environ.get("_HYBRIDNET_INVOKED_ARN")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self):
        return max(0, int(deadline_ms) - int(time.time() * 1000))


def main():
    os.environ.pop("_HYBRIDNET_INVOKED_ARN", None)
    try:
        module_name, function_name = handler_spec.rsplit(".", 1)
    except ValueError as exc:
        return fail("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler_spec, exc))
    module_name = module_name.replace("/", ".")
    context = LambdaContext()
    try:
        module = importlib.import_module(module_name)
    except MemoryError:
        raise
    except ImportError as exc:
        return fail("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, exc))
    except SyntaxError as exc:
        return fail("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, exc))
    except Exception as exc:
        return fail(type(exc).__name__, str(exc), user_frames(exc.__traceback__))
    handler = getattr(module, function_name, None)
    if handler is None:
        return fail("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (function_name, module_name))
    with open(event_path, encoding="utf-8") as source:
        event = json.load(source)
    init_ms = (time.monotonic() - STARTED) * 1000
    begun = time.monotonic()
    try:
        result = handler(event, context)
    except MemoryError:
        raise
    except Exception as exc:
        return fail(type(exc).__name__, str(exc), user_frames(exc.__traceback__))
    duration_ms = (time.monotonic() - begun) * 1000
    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as exc:
        return fail("Runtime.MarshalError", "Unable to marshal response: %s" % exc)
    size = len(payload.encode("utf-8"))
    if size > int(response_limit):
        return fail("Function.ResponseSizeTooLarge", "Response payload size (%d bytes) exceeded maximum allowed "
                    "payload size (%s bytes)." % (size, response_limit))
    finish({"payload": payload, "init_ms": init_ms, "duration_ms": duration_ms})


out_of_memory = False
try:
    main()
except MemoryError:
    out_of_memory = True
if out_of_memory:  # outside the except block: the handler's frames (and memory) are gone
    try:
        sys.stdout.flush()
        finish({"oom": True})
    finally:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer ends a function on Lambda
"""

# Runs as the emulator's user (root or not) in the emulator's own interpreter
# (-I -S: nothing from the environment or site-packages), between the emulator
# and the function: reads its instructions from stdin, becomes child subreaper,
# forks the function (limits, then the unprivileged identity, no_new_privs,
# then exec of the runner), stops it at the time limit, kills whatever it left
# behind, and reports the outcome and the peak memory on the status pipe.
BOOTSTRAP = r"""
import json, os, resource, signal, sys, time

status_fd = int(sys.argv[1])
os.set_inheritable(status_fd, False)
config = json.loads(sys.stdin.buffer.read())
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38


def report(**fields):
    os.write(status_fd, (json.dumps(fields) + "\n").encode())


try:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

    def prctl(option, value):
        if libc.prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(%d) failed" % option)
except (ImportError, OSError, AttributeError):
    prctl = None

subreaper = False
if prctl is not None:
    try:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        subreaper = True
    except OSError:
        pass


def children():
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as source:
                    fields = source.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == me:
                found.append(int(entry))
    return found


def kill(pid, group=False):
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except OSError:
        pass


signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
parent = os.getpid()
pid = os.fork()
if pid == 0:
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for name in ("SIGPIPE", "SIGXFSZ"):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for name, value in config["limits"].items():
            kind = getattr(resource, name)
            hard = resource.getrlimit(kind)[1]
            if hard != resource.RLIM_INFINITY and os.geteuid() != 0:
                value = min(value, hard)
            resource.setrlimit(kind, (value, value))
        if config["uid"] is not None:
            os.setgroups([])
            os.setgid(config["gid"])
            os.setuid(config["uid"])
            if (os.getresuid() != (config["uid"],) * 3 or os.getresgid() != (config["gid"],) * 3
                    or os.getgroups()):
                raise OSError("the identity did not change")
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the identity change, which clears it
            prctl(PR_SET_NO_NEW_PRIVS, 1)
        elif config["uid"] is not None:
            raise OSError("no ctypes to set no_new_privs with")
        if os.getppid() != parent:
            os._exit(126)
        os.chdir(config["cwd"])
        os.execve(config["python"], config["argv"], config["env"])
    except BaseException as exc:
        try:
            os.write(2, ("[hybridnet] the function's sandbox could not be set up: %s\n" % exc).encode())
        finally:
            os._exit(126)

report(pid=pid, subreaper=subreaper)
deadline = time.monotonic() + float(config["timeout"])
timed_out = False
while True:
    done, wait_status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        timed_out = True
        kill(pid, group=True)
        kill(pid)
        done, wait_status, usage = os.wait4(pid, 0)
        break
    signal.sigtimedwait([signal.SIGCHLD], min(remaining, 1.0))

# Whatever the function left running dies with the invocation: its process
# group, then (as subreaper) every descendant that was re-parented to us.
kill(pid, group=True)
for _ in range(10000):
    left = children()
    if not left:
        break
    for child in left:
        kill(child, group=True)
        kill(child)
    for child in left:
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass
report(status=wait_status, maxrss_kb=usage.ru_maxrss, timed_out=timed_out)
"""

# Run as the sandbox user to check an interpreter before using it.
PROBE = "import sys, importlib, json, resource, signal, traceback, zoneinfo; print('%d.%d.%d' % sys.version_info[:3])"


@dataclass(frozen=True)
class Sandbox:
    """Whom functions run as, with which interpreter, where their files go."""

    uid: int | None  # None: as the emulator's own user (it is not root)
    gid: int | None
    user: str
    python: str
    python_version: str
    temp_base: str

    @property
    def drops_privileges(self) -> bool:
        return self.uid is not None


_sandbox: Sandbox | None = None
_sandbox_lock = threading.Lock()


def _reachable(path: str, uid: int, gid: int, want: int) -> bool:
    """Whether uid/gid (not root) may reach `path` (every directory on the way
    searchable) and use it with `want` (R_OK/W_OK/X_OK bits), judged by modes
    (os.access answers for the caller, not for another user)."""

    def allowed(st: os.stat_result, bits: int) -> bool:
        if st.st_uid == uid:
            shift = 6
        elif st.st_gid == gid:
            shift = 3
        else:
            shift = 0
        return (st.st_mode >> shift) & bits == bits

    real = os.path.realpath(path)
    try:
        parts = Path(real).parents
        for directory in reversed(list(parts)):
            if not allowed(os.stat(directory), os.X_OK):
                return False
        return allowed(os.stat(real), want)
    except OSError:
        return False


def _probe(python: str, uid: int | None, gid: int | None) -> str | None:
    """The interpreter's version if the sandbox user can run it with the
    standard library, else None."""
    identity: dict[str, Any] = {} if uid is None else {"user": uid, "group": gid, "extra_groups": []}
    try:
        done = subprocess.run(
            [python, "-S", "-c", PROBE],
            cwd="/",
            env=dict(BOOTSTRAP_ENV),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
            check=False,
            **identity,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        return None
    if tuple(int(n) for n in version.split(".")[:2]) < MIN_PYTHON:
        return None
    return version


def _build_sandbox() -> Sandbox:
    uid: int | None  # None: as the emulator's own user (Sandbox.uid)
    gid: int | None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(SANDBOX_USER)
            uid, gid, user = entry.pw_uid, entry.pw_gid, SANDBOX_USER
        except KeyError:
            uid = gid = SANDBOX_FALLBACK_ID
            user = str(uid)
        if uid == 0 or gid == 0:
            raise InvalidRuntime(
                None, f"The hybridnet emulator will not run functions as {user} (uid {uid}, gid {gid}): that is root."
            )
        candidates = [*SYSTEM_PYTHONS, os.path.realpath(sys.executable)]
        usable = [
            p for p in dict.fromkeys(candidates) if os.path.exists(p) and _reachable(p, uid, gid, os.R_OK | os.X_OK)
        ]
        temp_candidates = [tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"]
        temp_base = next((d for d in temp_candidates if os.path.isdir(d) and _reachable(d, uid, gid, os.X_OK)), None)
    else:
        uid = gid = None
        try:
            user = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            user = str(os.geteuid())
        usable = list(dict.fromkeys([sys.executable, *SYSTEM_PYTHONS]))
        temp_base = tempfile.gettempdir()
    if temp_base is None:
        raise InvalidRuntime(None, f"The hybridnet emulator found no temporary directory that {user} can reach.")
    tried = []
    for python in usable:
        version = _probe(python, uid, gid)
        if version:
            return Sandbox(uid, gid, user, python, version, temp_base)
        tried.append(python)
    raise InvalidRuntime(
        None,
        f"The hybridnet emulator found no Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ "
        f"interpreter that {user} can run (tried: {', '.join(tried) or 'none reachable'}); "
        "install python3 (e.g. /usr/bin/python3) to run Lambda functions.",
    )


def sandbox() -> Sandbox:
    """The sandbox functions run in (found once, on the first invocation)."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            _sandbox = _build_sandbox()
        return _sandbox


@dataclass
class Invocation:
    """One invocation's outcome, as the Invoke API reports it."""

    request_id: str
    payload: bytes
    function_error: str | None  # "Unhandled", or None on success
    log: str
    duration_ms: float
    log_stream: str = ""
    events: list[tuple[int, str]] = field(default_factory=list)  # (ms since the epoch, line), in order
    max_memory_mb: int = 0

    @property
    def log_tail(self) -> str:
        return base64.b64encode(self.log.encode()[-LOG_TAIL_BYTES:]).decode()


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def check_runnable(fn: Any) -> None:
    """Raise as AWS would if this function cannot be invoked here."""
    if not str(fn.run_time or "").startswith(SUPPORTED_RUNTIME_PREFIX):
        raise InvalidRuntime(fn.run_time)
    code = getattr(fn, "code_bytes", b"") or b""
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.namelist()
    except zipfile.BadZipFile:
        raise InvalidZipFile(f"Lambda was unable to unzip the deployment package of {fn.function_name}.") from None


def role_credentials(fn: Any) -> tuple[dict[str, str], str | None]:
    """Temporary credentials for the function's execution role, assumed
    through the emulator's STS as Lambda assumes it (roles.py); or none and why."""
    from .. import roles

    session, why = roles.assume_for_service(
        str(fn.role or ""),
        "lambda.amazonaws.com",
        account_id=fn.account_id,
        region=fn.region,
        session_name=fn.function_name[:64],
        duration=ROLE_SESSION_SECONDS,
        what="the execution role",
    )
    return (session.environment() if session is not None else {}), why


def log_stream_name(fn: Any) -> str:
    """As Lambda names a new execution environment's stream: date, version, 32 hex."""
    return f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"


def runtime_environment(
    fn: Any,
    task_root: Path,
    request_id: str,
    *,
    log_stream: str | None = None,
    credentials: dict[str, str] | None = None,
    tmpdir: Path | None = None,
) -> dict[str, str]:
    """The process environment: the function's variables, then what the Lambda
    runtime sets (reserved names win, as AWS rejects them in the function's
    configuration). Nothing from the emulator's own environment leaks in."""
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",  # the log keeps the order of prints and errors
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": str(fn.handler),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream or log_stream_name(fn),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "_HYBRIDNET_INVOKED_ARN": fn.function_arn,
        }
    )
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)  # reserved: only the role's, if any
    env.update(credentials or {})
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def _limits(fn: Any, box: Sandbox) -> dict[str, int]:
    memory = int(fn.memory_size) << 20
    limits = {
        "RLIMIT_DATA": memory,
        "RLIMIT_AS": memory + (ADDRESS_SPACE_MARGIN_MB << 20),
        "RLIMIT_NOFILE": MAX_FILES,
        "RLIMIT_CORE": 0,
        "RLIMIT_FSIZE": int(getattr(fn, "ephemeral_storage", 512) or 512) << 20,
    }
    if box.drops_privileges:  # per user: the emulator's own user runs much else
        limits["RLIMIT_NPROC"] = MAX_PROCESSES
    return limits


def _prepare(root: Path, fn: Any, event: Any, box: Sandbox) -> tuple[Path, Path, Path, Path]:
    """The invocation's directory: code (read-only for the function), event,
    scratch space; the directory and its scratch belong to the function's user."""
    task_root, scratch = root / "task", root / "tmp"
    task_root.mkdir()
    scratch.mkdir()
    with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
        archive.extractall(task_root)  # extractall drops absolute and '..' path parts
        executables = {info.filename.rstrip("/") for info in archive.infolist() if (info.external_attr >> 16) & 0o111}
    for path in [task_root, *task_root.rglob("*")]:
        if path.is_symlink():
            continue
        executable = path.is_dir() or str(path.relative_to(task_root)) in executables
        path.chmod(0o755 if executable else 0o644)
    event_path, result_path = root / "event.json", root / "result.json"
    event_path.write_text(json.dumps(event))
    event_path.chmod(0o644)
    if box.drops_privileges:
        for path in (root, scratch):
            os.chown(path, box.uid, box.gid)  # type: ignore[arg-type]
    root.chmod(0o700)
    scratch.chmod(0o700)
    return task_root, scratch, event_path, result_path


def _read_outcome(result_path: Path, box: Sandbox) -> dict | None:
    """The runner's outcome, read without following what the function may have
    put there instead (a symlink, a FIFO, something huge)."""
    try:
        fd = os.open(result_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or (box.drops_privileges and info.st_uid != box.uid):
            return None
        data = source.read(2 * RESPONSE_LIMIT_BYTES + (1 << 20))
    try:
        outcome = json.loads(data)
    except ValueError:
        return None
    return outcome if isinstance(outcome, dict) else None


class _LogLines:
    """The function's output as log lines, each stamped when it arrived."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.partial = b""
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        if self.size >= LOG_LIMIT_BYTES:
            self.truncated = True
            return
        data = data[: LOG_LIMIT_BYTES - self.size]
        self.size += len(data)
        *complete, self.partial = (self.partial + data).split(b"\n")
        stamp = int(time.time() * 1000)
        self.lines.extend((stamp, line.decode("utf-8", "replace")) for line in complete)

    def close(self) -> list[tuple[int, str]]:
        if self.partial:
            self.lines.append((int(time.time() * 1000), self.partial.decode("utf-8", "replace")))
            self.partial = b""
        if self.truncated:
            self.lines.append(
                (
                    int(time.time() * 1000),
                    f"[hybridnet] the rest of the output was dropped: more than {LOG_LIMIT_BYTES} bytes",
                )
            )
        return self.lines


@dataclass
class _Run:
    output: list[tuple[int, str]]
    wait_status: int | None  # as waitpid reports it; None if the supervisor reported nothing
    maxrss_kb: int
    timed_out: bool
    supervisor_code: int | None


def _supervise(config: dict, backstop: float) -> _Run:
    """Start the supervisor (BOOTSTRAP) and collect the function's output and
    outcome; `backstop` seconds on, kill it all whatever it is doing."""
    status_read, status_write = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(status_write)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(status_write,),
            env=dict(BOOTSTRAP_ENV),
            cwd="/",
            start_new_session=True,
        )
    except BaseException:
        os.close(status_read)
        raise
    finally:
        os.close(status_write)
    output, status_data = _LogLines(), b""
    child_pid = None
    forced = False
    try:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(config).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        out_fd = proc.stdout.fileno()
        os.set_blocking(out_fd, False)
        os.set_blocking(status_read, False)
        deadline = time.monotonic() + backstop
        exited_at = None
        with selectors.DefaultSelector() as selector:
            selector.register(out_fd, selectors.EVENT_READ)
            selector.register(status_read, selectors.EVENT_READ)
            while selector.get_map():
                now = time.monotonic()
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > 1.0:
                    break  # the supervisor is gone; whoever still holds the pipe is not waited for
                if not forced and now > deadline:
                    forced = True
                    for pid in filter(None, (proc.pid, child_pid)):
                        try:
                            os.killpg(pid, signal.SIGKILL)
                        except OSError:
                            pass
                for key, _ in selector.select(timeout=0.1):
                    try:
                        data = os.read(key.fd, 65536)
                    except BlockingIOError:
                        continue
                    if not data:
                        selector.unregister(key.fd)
                    elif key.fd == out_fd:
                        output.feed(data)
                    else:
                        status_data += data
                        if child_pid is None and b"\n" in status_data:
                            try:
                                child_pid = json.loads(status_data.split(b"\n", 1)[0]).get("pid")
                            except ValueError:
                                pass
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            forced = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        proc.stdout.close()  # type: ignore[union-attr]
        os.close(status_read)
    final: dict = {}
    for line in status_data.splitlines():
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if "status" in report:
            final = report
    return _Run(
        output.close(),
        final.get("status"),
        int(final.get("maxrss_kb") or 0),
        bool(final.get("timed_out")) or forced,
        proc.returncode,
    )


def _exit_reason(wait_status: int | None, supervisor_code: int | None) -> str:
    """As Lambda's runtime interface (Go) words a runtime's end."""
    if wait_status is None:
        return f"exit status {supervisor_code if supervisor_code is not None else 'unknown'}"
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        name = signal.strsignal(number) or f"signal {number}"
        return f"signal: {name[0].lower()}{name[1:]}"
    return f"exit status {os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else wait_status}"


def run_function(fn: Any, event: Any, timeout: float | None = None) -> Invocation:
    """Run `fn`'s handler on `event` in its sandbox and return the outcome.

    `timeout` may only shorten the function's own Timeout (a caller such as
    Client VPN gives up after 30 s whatever the function allows)."""
    check_runnable(fn)
    box = sandbox()
    limit = float(fn.timeout) if timeout is None else min(float(timeout), float(fn.timeout))
    request_id = str(uuid.uuid4())
    log_stream = log_stream_name(fn)
    credentials, no_credentials = role_credentials(fn)
    start_ms = int(time.time() * 1000)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hybridnet-lambda-", dir=box.temp_base, ignore_cleanup_errors=True) as tmp:
        task_root, scratch, event_path, result_path = _prepare(Path(tmp), fn, event, box)
        deadline_ms = int((time.time() + limit) * 1000)
        argv = [
            box.python,
            "-S",
            "-c",
            RUNNER,
            str(task_root),
            str(fn.handler),
            request_id,
            str(deadline_ms),
            str(event_path),
            str(result_path),
            str(RESPONSE_LIMIT_BYTES),
        ]
        env = runtime_environment(
            fn, task_root, request_id, log_stream=log_stream, credentials=credentials, tmpdir=scratch
        )
        run = _supervise(
            {
                "python": box.python,
                "argv": argv,
                "env": env,
                "cwd": str(task_root),
                "uid": box.uid,
                "gid": box.gid,
                "limits": _limits(fn, box),
                "timeout": limit,
            },
            backstop=limit + SUPERVISOR_GRACE_SECONDS,
        )
        wall_ms = (time.monotonic() - started) * 1000
        outcome = None if run.timed_out else _read_outcome(result_path, box)

    events = [(start_ms, f"START RequestId: {request_id} Version: {fn.version}")]
    if no_credentials:
        events.append((start_ms, f"[hybridnet] the function runs without AWS credentials: {no_credentials}"))
    events.extend((stamp, line) for stamp, line in run.output if line)
    now_ms = max(int(time.time() * 1000), events[-1][0])
    # Peak RSS, which also counts the interpreter's mapped files: at most
    # MemorySize, as on Lambda.
    memory_mb = min(math.ceil(run.maxrss_kb / 1024), int(fn.memory_size))
    error_lines: list[str] = []
    if run.timed_out:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        error_lines.append(f"{stamp} {request_id} Task timed out after {limit:.2f} seconds")
        payload = _error_payload(
            "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {limit:.2f} seconds"
        )
        function_error: str | None = "Unhandled"
    elif outcome is not None and outcome.get("oom"):
        memory_mb = int(fn.memory_size)
        message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        error_lines += [message, "Runtime.OutOfMemory"]
        payload, function_error = _error_payload("Runtime.OutOfMemory", message), "Unhandled"
    elif outcome is None or not ("error" in outcome or isinstance(outcome.get("payload"), str)):
        message = (
            f"RequestId: {request_id} Error: Runtime exited with error: "
            f"{_exit_reason(run.wait_status, run.supervisor_code)}"
        )
        error_lines += [message, "Runtime.ExitError"]
        payload, function_error = _error_payload("Runtime.ExitError", message), "Unhandled"
    elif "error" in outcome:
        payload, function_error = json.dumps(outcome["error"]).encode(), "Unhandled"
    else:
        payload, function_error = outcome["payload"].encode(), None
    duration_ms = wall_ms
    init_ms = None
    if outcome is not None and isinstance(outcome.get("duration_ms"), (int, float)):
        duration_ms = float(outcome["duration_ms"])
        init_ms = float(outcome.get("init_ms") or 0)
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {fn.memory_size} MB\t"
        f"Max Memory Used: {memory_mb} MB\t"
    )
    if init_ms is not None:
        report += f"Init Duration: {init_ms:.2f} ms\t"
    events.extend((now_ms, line) for line in error_lines)
    events += [(now_ms, f"END RequestId: {request_id}"), (now_ms, report)]
    log = "".join(line + "\n" for _, line in events)
    return Invocation(request_id, payload, function_error, log, duration_ms, log_stream, events, memory_mb)


def save_logs(fn: Any, log: Invocation | str) -> None:
    """Into CloudWatch Logs, /aws/lambda/<name>, as AWS writes a function's log:
    an invocation's lines into the stream its context named."""
    fn.logs_backend.ensure_log_group(fn.logs_group_name)
    if not isinstance(log, Invocation) or not log.log_stream:
        fn.save_logs(log.log if isinstance(log, Invocation) else log)
        return
    fn.logs_backend.ensure_log_stream(fn.logs_group_name, log.log_stream)
    fn.logs_backend.put_log_events(
        fn.logs_group_name, log.log_stream, [{"timestamp": stamp, "message": line} for stamp, line in log.events]
    )


def parse_event(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if body is None or body == "":
        return {}
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidRequestContent(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None


class RunningLambdaFunction:
    """Replaces moto's LambdaFunction.invoke / _invoke_lambda."""

    def invoke(self, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        fn: Any = self
        event = parse_event(body)
        invocation_type = (request_headers or {}).get("x-amz-invocation-type", "RequestResponse")
        check_runnable(fn)
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":

            def run_async() -> None:
                try:
                    save_logs(fn, run_function(fn, event))
                except Exception:  # an asynchronous invocation has nobody to report to
                    return
                persistence.note_change()  # its logs, written after the call's answer

            threading.Thread(target=run_async, name=f"lambda-{fn.function_name}", daemon=True).start()
            return b""
        result = run_function(fn, event)
        save_logs(fn, result)
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-executed-version"] = str(fn.version)
        response_headers["x-amz-log-result"] = result.log_tail
        response_headers["x-amzn-requestid"] = result.request_id  # AWS: the invocation's id (START RequestId: ...)
        return result.payload

    def _invoke_lambda(self, event: Any = None) -> tuple[str, bool, str]:
        result = run_function(self, {} if event is None else event)
        return result.payload.decode(), result.function_error is not None, result.log


class RunningLambdaSimpleBackend:
    """With moto's `lambda: {use_docker: false}` config Invoke echoed the payload;
    it runs the code here too."""

    def invoke(
        self, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes | str | None:
        from moto.awslambda.models import LambdaBackend

        # self is moto's LambdaSimpleBackend (a LambdaBackend) once installed, which mypy cannot see
        return LambdaBackend.invoke(
            self,  # type: ignore[arg-type]
            function_name,
            qualifier,
            body,
            headers,
            response_headers,
        )
