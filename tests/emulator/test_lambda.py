"""Lambda Invoke in the emulator runs the deployed Python code (no Docker)."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import REGION

APP = '''
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
'''


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def awslambda(endpoint):
    # One attempt: an error must surface as it is, not be retried.
    return boto3.client("lambda", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1, "mode": "standard"}))


@pytest.fixture(scope="module")
def role(endpoint) -> str:
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="test",
                       aws_secret_access_key="test")
    return iam.create_role(RoleName="hybridnet-lambda-test", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]


@pytest.fixture(scope="module")
def make(awslambda, role):
    def create(name: str, handler: str = "app.handler", files: dict[str, str] | None = None, **extra) -> dict:
        params = {"FunctionName": name, "Runtime": "python3.12", "Role": role, "Handler": handler,
                  "Code": {"ZipFile": zipped(files or {"app.py": APP})}, "Timeout": 3}
        params.update(extra)
        return awslambda.create_function(**params)
    return create


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
    assert result["credentials"] == []  # nothing of the emulator's environment leaks in
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


@pytest.mark.parametrize("handler, files, error_type, message", [
    ("missing.handler", None, "Runtime.ImportModuleError", "Unable to import module 'missing'"),
    ("app.nothing", None, "Runtime.HandlerNotFound", "Handler 'nothing' missing on module 'app'"),
    ("app.not_json", None, "Runtime.MarshalError", "Unable to marshal response"),
    ("app.exits", None, "Runtime.ExitError", "Runtime exited with error: exit status 3"),
    ("bad.handler", {"bad.py": "def handler(event, context)\n    return 1\n"}, "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'bad'"),
])
def test_runtime_errors_as_aws_reports_them(awslambda, make, handler, files, error_type, message):
    name = "hybridnet-test-" + error_type.split(".")[-1].lower()
    make(name, handler=handler, files=files)
    response, error = invoke(awslambda, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == error_type and message in error["errorMessage"]


def test_only_python_runtimes_run(awslambda, make):
    make("hybridnet-test-node", handler="index.handler", Runtime="nodejs20.x",
         files={"index.js": "exports.handler = async () => 1;"})
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
    response = awslambda.invoke(FunctionName="hybridnet-test-async", InvocationType="Event",
                                Payload=json.dumps({"marker": "async-7d1f"}))
    assert response["StatusCode"] == 202
    logs = boto3.client("logs", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="test",
                        aws_secret_access_key="test")
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
