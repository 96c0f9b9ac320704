"""SSM Run Command in the emulator: managed instances a data plane registers, and
AWS-RunShellScript commands that really run, with AWS's statuses, limits and errors.

The instances here run commands on this host (argv_prefix []) as the emulator's
user; their "agent" is up while a temporary file exists (alive_path).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError
from hybridnet import emulator

from .conftest import REGION

DELIVERY_CAP_S = 2.0  # the emulator's cap on how long a command waits for an offline instance
TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")


def ssm_client(service: str, info: emulator.EmulatorInfo):
    """A client of the test's emulator, signed with its credentials, one attempt per call."""
    return emulator.client(service, REGION, info, config=Config(retries={"max_attempts": 1, "mode": "standard"}))


@pytest.fixture(scope="module", autouse=True)
def delivery_cap():
    """Read by the emulator process at its start (own_emulator starts it after this)."""
    previous = os.environ.get("HYBRIDNET_EMULATOR_SSM_DELIVERY_TIMEOUT_SECONDS")
    os.environ["HYBRIDNET_EMULATOR_SSM_DELIVERY_TIMEOUT_SECONDS"] = str(DELIVERY_CAP_S)
    yield
    if previous is None:
        os.environ.pop("HYBRIDNET_EMULATOR_SSM_DELIVERY_TIMEOUT_SECONDS", None)
    else:
        os.environ["HYBRIDNET_EMULATOR_SSM_DELIVERY_TIMEOUT_SECONDS"] = previous


@pytest.fixture(scope="module")
def ec2(info):
    return ssm_client("ec2", info)


@pytest.fixture(scope="module")
def ssm(info):
    return ssm_client("ssm", info)


def register(info, *instances: dict, replace: bool = False) -> dict:
    return emulator.admin_call(
        info, "POST", "ssm-instances", {"region": REGION, "instances": list(instances), "replace": replace}
    )


def launch(ec2, name: str) -> str:
    return ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Instances"][0]["InstanceId"]


@pytest.fixture
def host(info, ec2, tmp_path):
    """A managed, Online instance: (instance id, its alive file)."""
    name = f"host-{uuid.uuid4().hex[:8]}"
    instance_id = launch(ec2, name)
    alive = tmp_path / "agent-up"
    alive.touch()
    register(info, {"name_tag": name, "argv_prefix": [], "alive_path": str(alive)})
    return instance_id, alive


def run(ssm, instance_id: str, *commands: str, **parameters: list[str]) -> str:
    return ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": list(commands), **parameters},
    )["Command"]["CommandId"]


def wait(ssm, command_id: str, instance_id: str, until=TERMINAL, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if invocation["Status"] in until:
            return invocation
        assert time.monotonic() < deadline, f"still {invocation['Status']} after {timeout} s"
        time.sleep(0.02)


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]


# --- managed instances --------------------------------------------------------


def test_registered_instances_are_listed_with_their_ping_status(info, ec2, ssm, tmp_path):
    online_name, offline_name = f"on-{uuid.uuid4().hex[:6]}", f"off-{uuid.uuid4().hex[:6]}"
    online, offline, unmanaged = launch(ec2, online_name), launch(ec2, offline_name), launch(ec2, "unmanaged")
    alive = tmp_path / "up"
    alive.touch()
    answer = register(
        info,
        {
            "instance_id": online,
            "argv_prefix": [],
            "alive_path": str(alive),
            "platform_name": "Ubuntu",
            "platform_version": "24.04",
            "computer_name": "cgw.lab",
        },
        {"name_tag": offline_name, "argv_prefix": [], "alive_path": str(tmp_path / "down")},
    )
    assert {(i["instance_id"], i["ping_status"]) for i in answer["instances"]} >= {
        (online, "Online"),
        (offline, "ConnectionLost"),
    }

    listed = {
        i["InstanceId"]: i
        for page in ssm.get_paginator("describe_instance_information").paginate()
        for i in page["InstanceInformationList"]
    }
    assert unmanaged not in listed  # only managed instances, as on AWS
    assert listed[offline]["PingStatus"] == "ConnectionLost"
    info_online = listed[online]
    assert info_online["PingStatus"] == "Online"
    assert info_online["PlatformType"] == "Linux" and info_online["PlatformName"] == "Ubuntu"
    assert info_online["PlatformVersion"] == "24.04" and info_online["ComputerName"] == "cgw.lab"
    assert info_online["ResourceType"] == "EC2Instance" and info_online["IsLatestVersion"] is True
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", info_online["AgentVersion"])
    private_ip = ec2.describe_instances(InstanceIds=[online])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    assert info_online["IPAddress"] == private_ip
    assert info_online["LastPingDateTime"].year >= 2024

    by_status = ssm.describe_instance_information(Filters=[{"Key": "PingStatus", "Values": ["ConnectionLost"]}])
    assert offline in {i["InstanceId"] for i in by_status["InstanceInformationList"]}
    assert online not in {i["InstanceId"] for i in by_status["InstanceInformationList"]}
    legacy = ssm.describe_instance_information(
        InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": [online, unmanaged]}]
    )
    assert [i["InstanceId"] for i in legacy["InstanceInformationList"]] == [online]
    by_tag = ssm.describe_instance_information(Filters=[{"Key": "tag:Name", "Values": [offline_name]}])
    assert [i["InstanceId"] for i in by_tag["InstanceInformationList"]] == [offline]

    # The agent comes up: Online; it goes away: ConnectionLost again.
    (tmp_path / "down").touch()
    assert (
        ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [offline]}])[
            "InstanceInformationList"
        ][0]["PingStatus"]
        == "Online"
    )
    alive.unlink()
    assert (
        ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [online]}])[
            "InstanceInformationList"
        ][0]["PingStatus"]
        == "ConnectionLost"
    )

    assert (
        error_of(ssm.describe_instance_information, Filters=[{"Key": "PingStatus", "Values": ["Sleeping"]}])["Code"]
        == "InvalidInstanceInformationFilterValue"
    )
    assert (
        error_of(
            ssm.describe_instance_information,
            Filters=[{"Key": "ResourceType", "Values": ["EC2Instance", "ManagedInstance"]}],
        )["Message"]
        == "ResourceType filter may contain only one value."
    )
    assert (
        error_of(ssm.describe_instance_information, Filters=[{"Key": "Colour", "Values": ["blue"]}])["Code"]
        == "InvalidFilterKey"
    )


def test_describe_instance_information_pages(info, ec2, ssm, tmp_path):
    alive = tmp_path / "up"
    alive.touch()
    ids = [launch(ec2, f"page-{n}") for n in range(6)]
    register(info, *({"instance_id": i, "argv_prefix": [], "alive_path": str(alive)} for i in ids))
    first = ssm.describe_instance_information(MaxResults=5)
    assert len(first["InstanceInformationList"]) == 5 and first["NextToken"]
    rest = ssm.describe_instance_information(MaxResults=5, NextToken=first["NextToken"])
    seen = [i["InstanceId"] for i in first["InstanceInformationList"] + rest["InstanceInformationList"]]
    assert len(seen) == len(set(seen)) and set(ids) <= set(seen)
    assert error_of(ssm.describe_instance_information, NextToken="not-a-token")["Code"] == "InvalidNextToken"


def test_registration_names_what_is_wrong(info, ec2, tmp_path):
    with pytest.raises(emulator.EmulatorError, match="no EC2 instance named 'no-such-host'"):
        register(info, {"name_tag": "no-such-host", "argv_prefix": [], "alive_path": str(tmp_path)})
    with pytest.raises(emulator.EmulatorError, match="no EC2 instance i-0123456789abcdef0"):
        register(info, {"instance_id": "i-0123456789abcdef0", "argv_prefix": [], "alive_path": str(tmp_path)})
    instance_id = launch(ec2, "bad-registration")
    with pytest.raises(emulator.EmulatorError, match="argv_prefix"):
        register(info, {"instance_id": instance_id, "argv_prefix": "ip netns exec x", "alive_path": str(tmp_path)})
    with pytest.raises(emulator.EmulatorError, match="alive_path"):
        register(info, {"instance_id": instance_id, "argv_prefix": [], "alive_path": "relative/path"})
    with pytest.raises(emulator.EmulatorError, match="unknown instance field"):
        register(info, {"instance_id": instance_id, "argv_prefix": [], "alive_path": str(tmp_path), "shell": "x"})


# --- running commands ---------------------------------------------------------


def test_success_with_output(ssm, host, tmp_path):
    instance_id, _ = host
    command_id = run(
        ssm,
        instance_id,
        "echo hello; echo warning >&2",
        "echo $AWS_SSM_INSTANCE_ID",
        "pwd",
        workingDirectory=[str(tmp_path)],
    )
    invocation = wait(ssm, command_id, instance_id)
    assert invocation["Status"] == invocation["StatusDetails"] == "Success"
    assert invocation["ResponseCode"] == 0
    assert invocation["StandardOutputContent"] == f"hello\n{instance_id}\n{tmp_path}\n"
    assert invocation["StandardErrorContent"] == "warning\n"
    assert invocation["PluginName"] == "aws:runShellScript" and invocation["DocumentName"] == "AWS-RunShellScript"
    assert re.fullmatch(r"PT\d+(\.\d+)?S", invocation["ExecutionElapsedTime"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", invocation["ExecutionStartDateTime"])
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert (command["Status"], command["TargetCount"], command["CompletedCount"], command["ErrorCount"]) == (
        "Success",
        1,
        1,
        0,
    )


def test_script_is_run_as_the_agent_runs_it(ssm, host):
    """The commands are one script run by sh: no `set -e`, the exit code is the last command's,
    and the default working directory is the command's own orchestration folder."""
    instance_id, _ = host
    invocation = wait(ssm, run(ssm, instance_id, "false", "echo after; pwd"), instance_id)
    assert invocation["Status"] == "Success"
    first, directory = invocation["StandardOutputContent"].splitlines()
    assert first == "after" and directory.endswith("/awsrunShellScript") and instance_id in directory


def test_failed_with_exit_code(ssm, host):
    instance_id, _ = host
    command_id = run(ssm, instance_id, "echo before", "echo broken >&2; exit 7")
    invocation = wait(ssm, command_id, instance_id)
    assert (invocation["Status"], invocation["StatusDetails"], invocation["ResponseCode"]) == ("Failed", "Failed", 7)
    assert invocation["StandardOutputContent"] == "before\n"
    # The agent appends its error to stderr.
    assert invocation["StandardErrorContent"] == "broken\nfailed to run commands: exit status 7"
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert (command["Status"], command["StatusDetails"], command["ErrorCount"]) == ("Failed", "Failed", 1)

    missing = wait(ssm, run(ssm, instance_id, "true", workingDirectory=["/no/such/dir"]), instance_id)
    assert (missing["Status"], missing["ResponseCode"]) == ("Failed", 1)
    assert "chdir /no/such/dir: no such file or directory" in missing["StandardErrorContent"]


def test_execution_timeout_kills_the_process_group(ssm, host, tmp_path):
    instance_id, _ = host
    pid_file = tmp_path / "sleeper.pid"
    started = time.monotonic()
    command_id = run(
        ssm, instance_id, "echo started", f"sleep 60 & echo $! > {pid_file}", "wait", executionTimeout=["5"]
    )  # the agent's minimum: below 5 s it would run for an hour
    invocation = wait(ssm, command_id, instance_id)
    assert 4.5 < time.monotonic() - started < 15
    assert (invocation["Status"], invocation["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    assert invocation["ResponseCode"] == 137  # the agent's code for a command it stopped
    assert invocation["StandardOutputContent"] == "started\n"
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{sleeper}").exists() and "Z" not in _proc_state(sleeper):
        assert time.monotonic() < deadline, f"the command's background child {sleeper} survived the timeout"
        time.sleep(0.05)
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert (command["Status"], command["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_cancel_command(ssm, host):
    instance_id, _ = host
    command_id = run(ssm, instance_id, "echo going", "sleep 30")
    wait(ssm, command_id, instance_id, until=("InProgress",))
    ssm.cancel_command(CommandId=command_id)
    invocation = wait(ssm, command_id, instance_id, timeout=5)
    assert (invocation["Status"], invocation["StatusDetails"], invocation["ResponseCode"]) == (
        "Cancelled",
        "Cancelled",
        137,
    )
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == "Cancelled"
    assert error_of(ssm.cancel_command, CommandId=str(uuid.uuid4()))["Code"] == "InvalidCommandId"


def test_output_over_the_limits_is_truncated(ssm, host):
    instance_id, _ = host
    command_id = run(
        ssm, instance_id, "head -c 30000 /dev/zero | tr '\\0' o", "head -c 9000 /dev/zero | tr '\\0' e >&2"
    )
    invocation = wait(ssm, command_id, instance_id)
    assert invocation["Status"] == "Success"
    stdout, stderr = invocation["StandardOutputContent"], invocation["StandardErrorContent"]
    assert len(stdout) == 24000 and stdout.endswith("--output truncated--") and set(stdout[:23980]) == {"o"}
    assert len(stderr) == 8000 and stderr.endswith("--output truncated--") and set(stderr[:7980]) == {"e"}
    plugin = ssm.list_command_invocations(CommandId=command_id, Details=True)["CommandInvocations"][0][
        "CommandPlugins"
    ][0]
    assert len(plugin["Output"]) <= 2500
    assert "---Output truncated---" in plugin["Output"] and "----------ERROR-------" in plugin["Output"]


def test_targets_by_name_tag(ssm, ec2, info, tmp_path):
    name = f"web-{uuid.uuid4().hex[:6]}"
    instance_id = launch(ec2, name)
    alive = tmp_path / "up"
    alive.touch()
    register(info, {"instance_id": instance_id, "argv_prefix": [], "alive_path": str(alive)})
    command = ssm.send_command(
        Targets=[{"Key": "tag:Name", "Values": [name]}],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["echo targeted"]},
    )["Command"]
    assert command["InstanceIds"] == [] and command["Targets"] == [{"Key": "tag:Name", "Values": [name]}]
    assert wait(ssm, command["CommandId"], instance_id)["StandardOutputContent"] == "targeted\n"
    invocations = ssm.list_command_invocations(CommandId=command["CommandId"])["CommandInvocations"]
    assert [i["InstanceId"] for i in invocations] == [instance_id]

    nobody = ssm.send_command(
        Targets=[{"Key": "tag:Name", "Values": ["no-such-name"]}],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["true"]},
    )["Command"]
    listed = ssm.list_commands(CommandId=nobody["CommandId"])["Commands"][0]
    assert (listed["TargetCount"], listed["StatusDetails"]) == (0, "NoInstancesInTag")


# --- instances that are not managed, or not online -------------------------------


def test_unmanaged_instance_is_refused(ssm, ec2, info, host):
    unregistered = launch(ec2, "not-managed")
    error = error_of(
        ssm.send_command,
        InstanceIds=[unregistered],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["touch /tmp/must-not-run"]},
    )
    assert error["Code"] == "InvalidInstanceId"
    assert error["Message"] == f"Instances [[{unregistered}]] not in a valid state for account 123456789012"
    assert (
        error_of(
            ssm.send_command,
            InstanceIds=["i-0123456789abcdef0"],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["true"]},
        )["Code"]
        == "InvalidInstanceId"
    )

    # Deregistered (the lab re-registers everything it still has): no longer managed.
    instance_id, _ = host
    register(info, replace=True)
    assert instance_id not in {i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"]}
    assert (
        error_of(
            ssm.send_command,
            InstanceIds=[instance_id],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["true"]},
        )["Code"]
        == "InvalidInstanceId"
    )

    # A terminated instance is not managed either.
    terminated = launch(ec2, "to-terminate")
    register(info, {"instance_id": terminated, "argv_prefix": [], "alive_path": "/"})
    ec2.terminate_instances(InstanceIds=[terminated])
    assert (
        error_of(
            ssm.send_command,
            InstanceIds=[terminated],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["true"]},
        )["Code"]
        == "InvalidInstanceId"
    )


def test_only_authenticated_callers_run_commands(info, ssm, host, tmp_path):
    import boto3

    instance_id, _ = host
    marker = tmp_path / "must-not-exist"
    stranger = boto3.client(
        "ssm",
        region_name=REGION,
        endpoint_url=info.endpoint,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="not-the-secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    error = error_of(
        stranger.send_command,
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Comment="stranger",
        Parameters={"commands": [f"touch {marker}"]},
    )
    assert error["Code"] in ("UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException")
    assert not any(c["Comment"] == "stranger" for c in ssm.list_commands(InstanceId=instance_id)["Commands"])
    assert not marker.exists()


def test_offline_instance_delivery_times_out(ssm, host):
    instance_id, alive = host
    alive.unlink()  # the host is down: ConnectionLost
    assert (
        ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])[
            "InstanceInformationList"
        ][0]["PingStatus"]
        == "ConnectionLost"
    )
    command = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        TimeoutSeconds=30,
        Parameters={"commands": ["echo must not run"]},
    )["Command"]
    # ExpiresAfter: AWS's total timeout (TimeoutSeconds + executionTimeout), capped by the test's emulator.
    assert (command["ExpiresAfter"] - command["RequestedDateTime"]).total_seconds() == pytest.approx(
        DELIVERY_CAP_S, abs=0.01
    )
    assert ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance_id)["Status"] == "Pending"
    invocation = wait(ssm, command["CommandId"], instance_id, timeout=DELIVERY_CAP_S + 5)
    assert (invocation["Status"], invocation["StatusDetails"], invocation["ResponseCode"]) == (
        "TimedOut",
        "DeliveryTimedOut",
        -1,
    )
    assert invocation["StandardOutputContent"] == "" and invocation["ExecutionStartDateTime"] == ""
    listed = ssm.list_commands(CommandId=command["CommandId"])["Commands"][0]
    assert (listed["Status"], listed["StatusDetails"], listed["DeliveryTimedOutCount"]) == (
        "TimedOut",
        "DeliveryTimedOut",
        1,
    )


def test_pending_command_runs_when_the_instance_comes_back(ssm, host):
    instance_id, alive = host
    alive.unlink()
    command_id = run(ssm, instance_id, "echo delivered late")
    time.sleep(0.3)  # well within the delivery cap
    assert ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)["Status"] == "Pending"
    alive.touch()
    invocation = wait(ssm, command_id, instance_id, timeout=DELIVERY_CAP_S + 5)
    assert (invocation["Status"], invocation["StandardOutputContent"]) == ("Success", "delivered late\n")


# --- AWS's errors -------------------------------------------------------------


def test_error_codes(ssm, host):
    instance_id, _ = host
    command_id = run(ssm, instance_id, "true")
    assert (
        error_of(ssm.get_command_invocation, CommandId=str(uuid.uuid4()), InstanceId=instance_id)["Code"]
        == "InvocationDoesNotExist"
    )
    assert (
        error_of(ssm.get_command_invocation, CommandId=command_id, InstanceId="i-0123456789abcdef0")["Code"]
        == "InvocationDoesNotExist"
    )
    assert (
        error_of(
            ssm.get_command_invocation,
            CommandId=command_id,
            InstanceId=instance_id,
            PluginName="aws:runPowerShellScript",
        )["Code"]
        == "InvalidPluginName"
    )
    assert (
        error_of(
            ssm.send_command,
            InstanceIds=[instance_id],
            DocumentName="AWS-NoSuchDocument",
            Parameters={"commands": ["true"]},
        )["Code"]
        == "InvalidDocument"
    )
    assert (
        error_of(
            ssm.send_command,
            InstanceIds=[instance_id],
            DocumentName="AWS-RunShellScript",
            DocumentVersion="7",
            Parameters={"commands": ["true"]},
        )["Code"]
        == "InvalidDocumentVersion"
    )
    for parameters in (
        {},
        {"commands": []},
        {"commands": ["true"], "shell": ["bash"]},
        {"commands": ["true"], "executionTimeout": ["0"]},
        {"commands": ["true"], "executionTimeout": ["172801"]},
        {"commands": ["true"], "workingDirectory": ["/a", "/b"]},
    ):
        assert (
            error_of(
                ssm.send_command, InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters=parameters
            )["Code"]
            == "InvalidParameters"
        ), parameters
    assert error_of(ssm.list_commands, CommandId=str(uuid.uuid4()))["Code"] == "InvalidCommandId"


# --- listing ------------------------------------------------------------------


def test_list_commands_and_invocations(ssm, host):
    instance_id, _ = host
    ok = run(ssm, instance_id, "echo one")
    bad = run(ssm, instance_id, "echo two; exit 1")
    wait(ssm, ok, instance_id)
    wait(ssm, bad, instance_id)

    mine = [c["CommandId"] for c in ssm.list_commands(InstanceId=instance_id)["Commands"]]
    assert mine[:2] == [bad, ok]  # newest first
    failed = {c["CommandId"] for c in ssm.list_commands(Filters=[{"key": "Status", "value": "Failed"}])["Commands"]}
    assert bad in failed and ok not in failed
    first = ssm.list_commands(InstanceId=instance_id, MaxResults=1)
    assert len(first["Commands"]) == 1 and first["NextToken"]
    second = ssm.list_commands(InstanceId=instance_id, MaxResults=1, NextToken=first["NextToken"])
    assert second["Commands"][0]["CommandId"] != first["Commands"][0]["CommandId"]

    plain = ssm.list_command_invocations(CommandId=bad)["CommandInvocations"]
    assert len(plain) == 1 and plain[0]["CommandPlugins"] == []
    assert (plain[0]["Status"], plain[0]["InstanceId"]) == ("Failed", instance_id)
    detailed = ssm.list_command_invocations(CommandId=bad, Details=True)["CommandInvocations"][0]
    plugin = detailed["CommandPlugins"][0]
    assert (plugin["Name"], plugin["Status"], plugin["ResponseCode"]) == ("aws:runShellScript", "Failed", 1)
    assert plugin["Output"] == "two\n\n----------ERROR-------\nfailed to run commands: exit status 1"
    assert plugin["ResponseFinishDateTime"] >= plugin["ResponseStartDateTime"]
    by_instance = ssm.list_command_invocations(InstanceId=instance_id, Details=True)["CommandInvocations"]
    assert {i["CommandId"] for i in by_instance} >= {ok, bad}
    assert ssm.list_command_invocations(CommandId=str(uuid.uuid4()))["CommandInvocations"] == []  # as AWS: no error
    # Statuses agree across the three APIs.
    for command_id in (ok, bad):
        status = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)["Status"]
        assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == status
        assert ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"][0]["Status"] == status


def test_command_executed_waiter(ssm, host):
    instance_id, _ = host
    command_id = run(ssm, instance_id, "echo waited")
    # botocore's waiter: Delay is whole seconds; InvocationDoesNotExist and Pending/InProgress retry.
    ssm.get_waiter("command_executed").wait(
        CommandId=command_id, InstanceId=instance_id, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    assert (
        ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)["StandardOutputContent"] == "waited\n"
    )
    failing = run(ssm, instance_id, "exit 2")
    with pytest.raises(WaiterError, match="Failed"):
        ssm.get_waiter("command_executed").wait(
            CommandId=failing, InstanceId=instance_id, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
        )
