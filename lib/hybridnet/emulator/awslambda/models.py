"""Lambda Invoke that runs the function's real code, without Docker.

moto runs a function in a Docker container, or (with `use_docker: false`)
just echoes the payload. Here Invoke runs the deployed Python code itself:
the deployment zip that CreateFunction received is extracted into a fresh
temporary directory and a subprocess of the emulator's own Python imports
the module named by Handler (`module.function`), calls it with the event and
a context object, and hands the JSON result back. The function's Timeout is
enforced (the process group is killed), its Environment variables are the
process's environment (plus the variables the Lambda runtime sets; no AWS
credentials), and errors come back as AWS returns them: status 200,
X-Amz-Function-Error: Unhandled and {errorMessage, errorType, stackTrace}.

Only python3.x runtimes run; others get InvalidRuntimeException. Not
emulated: memory limits (MemorySize is reported, not enforced), layers,
network isolation (the handler must not need the network; it gets no
credentials or endpoint to reach AWS with), container reuse between
invocations (every invocation is a cold start).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import LambdaClientError

LOG_TAIL_BYTES = 4096  # X-Amz-Log-Result carries the last 4 KB of the log, as on AWS
SUPPORTED_RUNTIME_PREFIX = "python3"


class InvalidRuntime(LambdaClientError):
    code = 502

    def __init__(self, runtime: str | None) -> None:
        super().__init__("InvalidRuntimeException",
                         f"The runtime parameter of {runtime} is not supported by the hybridnet emulator, "
                         "which runs python3.x functions only.")


class InvalidZipFile(LambdaClientError):
    code = 502

    def __init__(self, message: str) -> None:
        super().__init__("InvalidZipFileException", message)


class InvalidRequestContent(LambdaClientError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


# Runs inside the subprocess: imports the handler, calls it, writes the outcome
# to the result file. Everything the handler prints is the function's log.
RUNNER = r'''
import importlib, json, os, sys, time, traceback

task_root, handler_spec, request_id, deadline_ms, event_path, result_path = sys.argv[1:7]
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
    try:
        result = handler(event, context)
    except Exception as exc:
        return fail(type(exc).__name__, str(exc), user_frames(exc.__traceback__))
    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as exc:
        return fail("Runtime.MarshalError", "Unable to marshal response: %s" % exc)
    finish({"payload": payload})


main()
'''


@dataclass
class Invocation:
    """One invocation's outcome, as the Invoke API reports it."""

    request_id: str
    payload: bytes
    function_error: str | None  # "Unhandled", or None on success
    log: str
    duration_ms: float

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
        raise InvalidZipFile("Lambda was unable to unzip the deployment package of "
                             f"{fn.function_name}.") from None


def runtime_environment(fn: Any, task_root: Path, request_id: str) -> dict[str, str]:
    """The process environment: the function's variables, then what the Lambda
    runtime sets (reserved names win, as AWS rejects them in the function's
    configuration). Nothing from the emulator's own environment leaks in."""
    log_stream = f"{dt.datetime.now(dt.timezone.utc):%Y/%m/%d}/[{fn.version}]{request_id.replace('-', '')}"
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update({
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
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "_HYBRIDNET_INVOKED_ARN": fn.function_arn,
    })
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_function(fn: Any, event: Any, timeout: float | None = None) -> Invocation:
    """Run `fn`'s handler on `event` in a subprocess and return the outcome.

    `timeout` may only shorten the function's own Timeout (a caller such as
    Client VPN gives up after 30 s whatever the function allows)."""
    check_runnable(fn)
    limit = float(fn.timeout) if timeout is None else min(float(timeout), float(fn.timeout))
    request_id = str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix="hybridnet-lambda-") as tmp:
        task_root = Path(tmp) / "task"
        task_root.mkdir()
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
            archive.extractall(task_root)  # extractall drops absolute and '..' path parts
        event_path, result_path = Path(tmp) / "event.json", Path(tmp) / "result.json"
        event_path.write_text(json.dumps(event))
        deadline_ms = int((time.time() + limit) * 1000)
        command = [sys.executable, "-s", "-c", RUNNER, str(task_root), str(fn.handler), request_id,
                   str(deadline_ms), str(event_path), str(result_path)]
        started = time.monotonic()
        proc = subprocess.Popen(command, cwd=task_root, env=runtime_environment(fn, task_root, request_id),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        timed_out = False
        try:
            output, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            output, _ = proc.communicate()
        _kill_group(proc)  # whatever the handler left running dies with the invocation
        duration_ms = (time.monotonic() - started) * 1000
        outcome = None
        if not timed_out and result_path.exists():
            try:
                outcome = json.loads(result_path.read_text())
            except ValueError:
                outcome = None
        returncode = proc.returncode

    log = [f"START RequestId: {request_id} Version: {fn.version}", output.decode("utf-8", "replace").rstrip("\n")]
    if timed_out:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        log.append(f"{stamp} {request_id} Task timed out after {limit:.2f} seconds")
        payload = _error_payload("Sandbox.Timedout",
                                 f"RequestId: {request_id} Error: Task timed out after {limit:.2f} seconds")
        function_error: str | None = "Unhandled"
    elif outcome is None:
        reason = f"signal: {signal.Signals(-returncode).name}" if returncode < 0 else f"exit status {returncode}"
        log.append(f"RequestId: {request_id} Error: Runtime exited with error: {reason}\nRuntime.ExitError")
        payload = _error_payload("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with error: {reason}")
        function_error = "Unhandled"
    elif "error" in outcome:
        payload, function_error = json.dumps(outcome["error"]).encode(), "Unhandled"
    else:
        payload, function_error = outcome["payload"].encode(), None
    log.append(f"END RequestId: {request_id}")
    log.append(f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
               f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {fn.memory_size} MB\t")
    return Invocation(request_id, payload, function_error, "\n".join(line for line in log if line) + "\n",
                      duration_ms)


def save_logs(fn: Any, log: str) -> None:
    """Into CloudWatch Logs, /aws/lambda/<name>, as AWS writes a function's log."""
    fn.logs_backend.ensure_log_group(fn.logs_group_name)
    fn.save_logs(log)


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
        raise InvalidRequestContent(f"Could not parse request body into json: Could not parse payload into json: "
                                    f"{exc}") from None


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
                    save_logs(fn, run_function(fn, event).log)
                except Exception:  # an asynchronous invocation has nobody to report to
                    pass

            threading.Thread(target=run_async, name=f"lambda-{fn.function_name}", daemon=True).start()
            return b""
        result = run_function(fn, event)
        save_logs(fn, result.log)
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-executed-version"] = str(fn.version)
        response_headers["x-amz-log-result"] = result.log_tail
        return result.payload

    def _invoke_lambda(self, event: Any = None) -> tuple[str, bool, str]:
        result = run_function(self, {} if event is None else event)
        return result.payload.decode(), result.function_error is not None, result.log


class RunningLambdaSimpleBackend:
    """With moto's `lambda: {use_docker: false}` config Invoke echoed the payload;
    it runs the code here too."""

    def invoke(self, function_name: str, qualifier: str | None, body: Any, headers: Any,
               response_headers: Any) -> bytes | str | None:
        from moto.awslambda.models import LambdaBackend

        return LambdaBackend.invoke(self, function_name, qualifier, body, headers,  # type: ignore[arg-type]
                                    response_headers)
