"""Lambda Invoke in the emulator runs the deployed Python code (no Docker)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import stat
import time
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hybridnet import emulator

from .conftest import REGION

APP = """
import json, os, sys, time

COUNTER = {"calls": 0}


def handler(event, context):
    print("handling", json.dumps(event, sort_keys=True))
    COUNTER["calls"] += 1
    if "sleep" in event:
        time.sleep(event["sleep"])
    return {
        "sum": sum(event.get("numbers", [])),
        "greeting": os.environ.get("GREETING"),
        "region": os.environ.get("AWS_REGION"),
        "credentials": [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                    "AWS_PROFILE") if k in os.environ],
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID", ""),
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "cwd_has_code": os.path.exists("app.py"),
    }


def fails(event, context):
    print("about to fail")
    raise ValueError("cannot handle %s" % event["what"])


def not_json(event, context):
    return {1, 2, 3}


def exits(event, context):
    sys.exit(3)
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def client(endpoint: str, service: str):
    """The one place these tests make clients. One attempt: an error must
    surface as it is, not be retried."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        **emulator.credentials(endpoint).as_boto3(),
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def create_role(endpoint: str, name: str = "hybridnet-lambda-test", service: str = "lambda.amazonaws.com") -> str:
    return client(endpoint, "iam").create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]["Arn"]


def function_maker(awslambda, role: str):
    def create(name: str, handler: str = "app.handler", files: dict[str, str] | None = None, **extra) -> dict:
        params = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": role,
            "Handler": handler,
            "Code": {"ZipFile": zipped(files or {"app.py": APP})},
            "Timeout": 3,
        }
        params.update(extra)
        return awslambda.create_function(**params)

    return create


@pytest.fixture(scope="module")
def awslambda(endpoint):
    return client(endpoint, "lambda")


@pytest.fixture(scope="module")
def role(endpoint) -> str:
    return create_role(endpoint)


@pytest.fixture(scope="module")
def make(awslambda, role):
    return function_maker(awslambda, role)


def invoke(awslambda, name: str, event, **extra) -> tuple[dict, object]:
    response = awslambda.invoke(FunctionName=name, Payload=json.dumps(event), **extra)
    return response, json.loads(response["Payload"].read())


def test_invoke_returns_what_the_handler_computes(awslambda, make):
    created = make("hybridnet-test-sum", Environment={"Variables": {"GREETING": "annyeong"}})
    assert created["State"] == "Active"  # created without Docker
    response, result = invoke(awslambda, "hybridnet-test-sum", {"numbers": [1, 2, 39]}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert result["sum"] == 42
    assert result["greeting"] == "annyeong"  # the function's environment reaches the code
    assert result["region"] == REGION
    # The execution role's temporary credentials, nothing of the emulator's environment.
    assert result["credentials"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
    assert result["access_key"].startswith("ASIA")
    assert result["function_name"] == "hybridnet-test-sum"
    assert 0 < result["remaining_ms"] <= 3000
    assert result["cwd_has_code"] is True
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {result['request_id']}" in log
    assert 'handling {"numbers": [1, 2, 39]}' in log
    assert f"REPORT RequestId: {result['request_id']}" in log
    # Each invocation computes afresh from its own event.
    assert invoke(awslambda, "hybridnet-test-sum", {"numbers": [5]})[1]["sum"] == 5


def test_handler_exceptions_are_unhandled_function_errors(awslambda, make):
    make("hybridnet-test-fails", handler="app.fails")
    response, error = invoke(awslambda, "hybridnet-test-fails", {"what": "this"}, LogType="Tail")
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "cannot handle this"
    assert any("in fails" in frame and "raise ValueError" in frame for frame in error["stackTrace"])
    log = base64.b64decode(response["LogResult"]).decode()
    assert "about to fail" in log and "[ERROR] ValueError: cannot handle this" in log


def test_timeout_is_enforced(awslambda, make):
    make("hybridnet-test-slow", Timeout=1)
    started = time.monotonic()
    response, error = invoke(awslambda, "hybridnet-test-slow", {"sleep": 10})
    elapsed = time.monotonic() - started
    assert elapsed < 4, "the handler was not stopped at its timeout"
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    # Within its timeout the same function completes.
    response, result = invoke(awslambda, "hybridnet-test-slow", {"sleep": 0.2, "numbers": [1]})
    assert "FunctionError" not in response and result["sum"] == 1


@pytest.mark.parametrize(
    "handler, files, error_type, message",
    [
        ("missing.handler", None, "Runtime.ImportModuleError", "Unable to import module 'missing'"),
        ("app.nothing", None, "Runtime.HandlerNotFound", "Handler 'nothing' missing on module 'app'"),
        ("app.not_json", None, "Runtime.MarshalError", "Unable to marshal response"),
        ("app.exits", None, "Runtime.ExitError", "Runtime exited with error: exit status 3"),
        (
            "bad.handler",
            {"bad.py": "def handler(event, context)\n    return 1\n"},
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'bad'",
        ),
    ],
)
def test_runtime_errors_as_aws_reports_them(awslambda, make, handler, files, error_type, message):
    name = "hybridnet-test-" + error_type.split(".")[-1].lower()
    make(name, handler=handler, files=files)
    response, error = invoke(awslambda, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == error_type and message in error["errorMessage"]


def test_only_python_runtimes_run(awslambda, make):
    make(
        "hybridnet-test-node",
        handler="index.handler",
        Runtime="nodejs20.x",
        files={"index.js": "exports.handler = async () => 1;"},
    )
    with pytest.raises(ClientError) as exc:
        awslambda.invoke(FunctionName="hybridnet-test-node", Payload=b"{}")
    assert exc.value.response["Error"]["Code"] == "InvalidRuntimeException"


def test_payload_must_be_json(awslambda, make):
    make("hybridnet-test-payload")
    with pytest.raises(ClientError) as exc:
        awslambda.invoke(FunctionName="hybridnet-test-payload", Payload=b"not json")
    assert exc.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_asynchronous_invocation_runs_the_code_too(awslambda, make, endpoint):
    make("hybridnet-test-async")
    response = awslambda.invoke(
        FunctionName="hybridnet-test-async", InvocationType="Event", Payload=json.dumps({"marker": "async-7d1f"})
    )
    assert response["StatusCode"] == 202
    logs = client(endpoint, "logs")
    deadline = time.monotonic() + 10
    while True:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/hybridnet-test-async")["events"]
        except ClientError:
            events = []
        if any("async-7d1f" in e["message"] for e in events):
            break
        assert time.monotonic() < deadline, "the asynchronous invocation left no log"
        time.sleep(0.1)


# ---------------------------------------------------------------- the sandbox
# What a function's code may see and do. These run against an emulator of
# their own, started with variables in its environment that no function may see.

SENTINEL = "HYBRIDNET_LAMBDA_TEST_SENTINEL"
AS_ROOT = os.geteuid() == 0  # the tests start the emulator, so it runs as this user
SANDBOX_APP = r'''
import json, os, resource, sys, time


def attempt(action):
    try:
        action()
        return "allowed"
    except PermissionError:
        return "denied"
    except OSError as exc:
        return "error: %s" % exc


def identity(event, context):
    target = os.path.join(event["root_owned_dir"], "hybridnet-lambda-" + context.aws_request_id)

    def write():
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(target)

    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {
        "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
        "groups": os.getgroups(),
        "no_new_privs": status["NoNewPrivs"].strip(),
        "write_root_owned_dir": attempt(write),
        "read_root": attempt(lambda: os.listdir("/root")),
        "modify_own_code": attempt(lambda: open(__file__, "a").close()),
        "limits": {name: list(resource.getrlimit(getattr(resource, name)))
                   for name in ("RLIMIT_DATA", "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_NOFILE", "RLIMIT_NPROC")},
        "python": sys.version_info[:2],
        "site_packages": [p for p in sys.path if "site-packages" in p or "dist-packages" in p],
    }


def environment(event, context):
    return {"env": dict(os.environ), "log_stream": context.log_stream_name}


def prints(event, context):
    print("a line for the log", event["marker"])
    return {"log_stream": context.log_stream_name}


def lingers(event, context):
    """Leaves a grandchild in a session of its own (a daemon), then returns or
    sleeps past the timeout; every process carries the function's marker."""
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(120)
        os._exit(0)
    os.waitpid(child, 0)
    with open(os.path.join(os.environ["TMPDIR"], "pid"), "w") as out:
        out.write(str(os.getpid()))
    time.sleep(event["sleep"])
    return "done"


def allocates(event, context):
    chunks = [b"x" * (1 << 20) for _ in range(event["mb"])]  # written, so resident
    return len(chunks)
'''


@contextlib.contextmanager
def environ(**values: str):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def sentinel() -> str:
    return f"sentinel-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def private_endpoint(endpoint, sentinel, tmp_path_factory):
    # `endpoint` first: the session's emulator must not be this one.
    home = tmp_path_factory.mktemp("lambda-sandbox")
    with environ(HYBRIDNET_HOME=str(home), **{SENTINEL: sentinel, "AWS_CONFIG_FILE": f"/nonexistent/{sentinel}"}):
        info = emulator.start()
    try:
        yield info.endpoint
    finally:
        with environ(HYBRIDNET_HOME=str(home)):
            emulator.stop()


@pytest.fixture(scope="module")
def sandboxed(private_endpoint):
    awslambda = client(private_endpoint, "lambda")
    role = create_role(private_endpoint)
    create = function_maker(awslambda, role)

    def make(name: str, handler: str, **extra) -> str:
        create(name, handler=f"app.{handler}", files={"app.py": SANDBOX_APP}, **extra)
        return name

    return awslambda, make


def test_functions_run_unprivileged(sandboxed):
    awslambda, make = sandboxed
    root_owned = os.stat("/usr")
    assert root_owned.st_uid == 0 and not root_owned.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    assert not os.stat("/root").st_mode & stat.S_IRWXO
    response, result = invoke(awslambda, make("hybridnet-test-identity", "identity"), {"root_owned_dir": "/usr"})
    assert "FunctionError" not in response, result
    if AS_ROOT:  # the emulator is root: functions run as nobody/nogroup, with no other group
        assert result["ids"] == [65534] * 4 and result["groups"] == []
    else:  # the emulator's own user (it cannot switch users)
        assert result["ids"] == [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]
    assert 0 not in result["ids"]
    assert result["no_new_privs"] == "1"
    assert result["write_root_owned_dir"] == "denied"
    assert result["read_root"] == "denied"
    if AS_ROOT:  # its code is root's, as /var/task is read-only on Lambda
        assert result["modify_own_code"] == "denied"
    # MemorySize (128 MB by default) and Lambda's limits, which the function cannot raise.
    limits = result["limits"]
    assert limits["RLIMIT_DATA"] == [128 << 20] * 2
    assert limits["RLIMIT_CORE"] == [0, 0]
    assert limits["RLIMIT_NOFILE"] == [1024, 1024]
    if AS_ROOT:
        assert limits["RLIMIT_NPROC"] == [1024, 1024]
    assert tuple(result["python"]) >= (3, 9)
    assert result["site_packages"] == []  # the standard library only


def test_functions_see_their_environment_and_role_credentials_only(sandboxed, sentinel, private_endpoint):
    awslambda, make = sandboxed
    name = make("hybridnet-test-environment", "environment", Environment={"Variables": {"GREETING": "annyeong"}})
    response, result = invoke(awslambda, name, {})
    env = result["env"]
    assert "FunctionError" not in response
    assert not [key for key, value in env.items() if sentinel in key + value or key == SENTINEL]
    assert "AWS_CONFIG_FILE" not in env and "AWS_PROFILE" not in env and "HOME" not in env
    assert "HYBRIDNET_HOME" not in env and "PYTHONPATH" not in env
    runtime = {
        "PATH",
        "LANG",
        "TZ",
        "PYTHONUNBUFFERED",
        "LAMBDA_TASK_ROOT",
        "_HANDLER",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "TMPDIR",
    }
    assert set(env) == runtime | {"GREETING"}
    assert env["GREETING"] == "annyeong"
    assert (env["AWS_LAMBDA_FUNCTION_NAME"], env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], env["AWS_REGION"]) == (
        name,
        "128",
        REGION,
    )
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == result["log_stream"]
    # Temporary credentials of the execution role, assumed as Lambda assumes it.
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", env["AWS_ACCESS_KEY_ID"])
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    sts = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=private_endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(f":assumed-role/hybridnet-lambda-test/{name}")


def test_a_role_lambda_cannot_assume_gives_no_credentials(sandboxed, private_endpoint):
    awslambda, make = sandboxed
    name = make(
        "hybridnet-test-ec2-role",
        "environment",
        Role=create_role(private_endpoint, "hybridnet-ec2-only", service="ec2.amazonaws.com"),
    )
    response, result = invoke(awslambda, name, {}, LogType="Tail")
    assert "FunctionError" not in response
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(result["env"])
    assert "does not trust lambda.amazonaws.com" in base64.b64decode(response["LogResult"]).decode()


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries `marker` (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as source:
                    if marker.encode() in source.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("sleep", [0, 30], ids=["returns", "times-out"])
def test_nothing_the_function_started_outlives_the_invocation(sandboxed, sleep):
    awslambda, make = sandboxed
    marker = f"HYBRIDNET_MARKER={uuid.uuid4().hex}"
    name = make(
        f"hybridnet-test-lingers-{sleep}",
        "lingers",
        Timeout=2,
        Environment={"Variables": {"HYBRIDNET_MARKER": marker.split("=")[1]}},
    )
    started = time.monotonic()
    response, result = invoke(awslambda, name, {"sleep": sleep})
    elapsed = time.monotonic() - started
    assert marked_processes(marker) == []  # the handler, its child and the daemon it left: all gone
    if sleep:
        assert elapsed < 5, "the handler was not stopped at its timeout"
        assert response["FunctionError"] == "Unhandled" and result["errorType"] == "Sandbox.Timedout"
        assert "Task timed out after 2.00 seconds" in result["errorMessage"]
    else:
        assert "FunctionError" not in response and result == "done"


def test_memory_size_is_enforced(sandboxed):
    awslambda, make = sandboxed
    name = make("hybridnet-test-memory", "allocates", MemorySize=128, Timeout=10)
    response, result = invoke(awslambda, name, {"mb": 64}, LogType="Tail")
    assert "FunctionError" not in response and result == 64
    report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    used = int(re.search(r"\tMax Memory Used: (\d+) MB\t", report).group(1))
    assert 64 < used <= 128
    response, error = invoke(awslambda, name, {"mb": 200}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Runtime.OutOfMemory" in log and "Memory Size: 128 MB\tMax Memory Used: 128 MB\t" in log
    # With more memory the same allocation succeeds.
    awslambda.update_function_configuration(FunctionName=name, MemorySize=512)
    response, result = invoke(awslambda, name, {"mb": 200})
    assert "FunctionError" not in response and result == 200


def test_output_goes_to_the_functions_log_group(sandboxed, private_endpoint):
    awslambda, make = sandboxed
    name = make("hybridnet-test-prints", "prints")
    marker = uuid.uuid4().hex
    response, result = invoke(awslambda, name, {"marker": marker})
    logs = client(private_endpoint, "logs")
    group = f"/aws/lambda/{name}"
    events = logs.filter_log_events(logGroupName=group)["events"]
    assert [e["logStreamName"] for e in events if marker in e["message"]] == [result["log_stream"]]
    messages = [
        e["message"]
        for e in logs.get_log_events(logGroupName=group, logStreamName=result["log_stream"], startFromHead=True)[
            "events"
        ]
    ]
    assert messages[0].startswith("START RequestId: ") and messages[0].endswith(" Version: $LATEST")
    assert messages[1] == f"a line for the log {marker}"
    assert messages[2].startswith("END RequestId: ")
    assert re.fullmatch(
        r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t",
        messages[3],
    )


def test_a_caller_may_shorten_the_timeout_only():
    """Client VPN gives its handler 30 s whatever the function's Timeout: the
    runner takes the shorter of the two (here in this process, 1 s of 60)."""
    from types import SimpleNamespace

    from hybridnet.emulator.awslambda.models import run_function

    fn = SimpleNamespace(
        function_name="hybridnet-test-caller-limit",
        run_time="python3.12",
        handler="app.lingers",
        timeout=60,
        memory_size=128,
        ephemeral_storage=512,
        version="$LATEST",
        environment_vars={},
        region=REGION,
        account_id="123456789012",
        logs_group_name="/aws/lambda/hybridnet-test-caller-limit",
        function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:hybridnet-test-caller-limit",
        role="arn:aws:iam::123456789012:role/nonexistent",
        code_bytes=zipped({"app.py": SANDBOX_APP}),
    )
    started = time.monotonic()
    result = run_function(fn, {"sleep": 30}, timeout=1)
    assert time.monotonic() - started < 4
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload)["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.log
    assert "runs without AWS credentials: the execution role" in result.log  # and says why
    assert run_function(fn, {"sleep": 0}, timeout=90).payload == b'"done"'
