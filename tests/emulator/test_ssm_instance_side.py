"""SSM Run Command's instance side: a command on a registered instance calls AWS
as it would on an EC2 instance, with its IAM instance profile's credentials.

- The emulator's instance socket (EmulatorInfo.instance_socket, 0600) serves
  the AWS API alone, authenticated; the lab pipes 127.0.0.1:PORT inside a
  host's namespace to it.
- A registration's `environment` (e.g. AWS_ENDPOINT_URL) reaches every
  command on the instance; credential variables cannot be registered.
- The instance profile's role (trusting ec2.amazonaws.com) gives the command
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, and only its
  own policies (a policy's Resource counts for parameters); no profile, or a
  role EC2 may not assume: no credentials. They never show in the API's
  answers or the emulator's log.

The instances here run commands on this host (a local argv prefix) as the
emulator's user, which needs no root. The AWS CLI on the instances is
Debian's (`awscli`, installed by scripts/setup.sh as root), found on the PATH
an instance's SSM Agent has: without it these tests skip, and under CI=true
that is a failure (tests/conftest.py). Debian 12's aws-cli 2.9 predates
AWS_ENDPOINT_URL (2.13): commands pass it on themselves with
``${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"}``, which works on AWS
too (unset there); current SDKs (the boto3 below) read the variable alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from hybridnet import emulator
from hybridnet.emulator import seed
from hybridnet.emulator.unix_client import UnixHTTPConnection

from .conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
# systemd's default PATH: what SSM Agent's commands get on an instance.
INSTANCE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOCAL = ["sh", "-c", 'exec "$@"', "sh"]  # "on the instance": here, as the emulator's user
PSK_NAME = "/hybridnet/test/psk"
AWS = 'aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"}'
HOST_VARIABLE = "AWS_HYBRIDNET_TEST_HOST_ONLY"  # in the emulator's environment, never an instance's
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")


@pytest.fixture(scope="module", autouse=True)
def host_variable():
    """An AWS_* variable of the emulator's own environment (set before own_emulator starts it)."""
    previous = os.environ.get(HOST_VARIABLE)
    os.environ[HOST_VARIABLE] = "host"
    yield
    if previous is None:
        os.environ.pop(HOST_VARIABLE, None)
    else:
        os.environ[HOST_VARIABLE] = previous


@pytest.fixture(scope="module")
def ssm(client):
    return client("ssm")


@pytest.fixture(scope="module")
def aws_cli() -> str:
    found = shutil.which("aws", path=INSTANCE_PATH)
    if not found:
        pytest.skip("Debian's AWS CLI is not installed (scripts/setup.sh installs it as root)")
    return found


@pytest.fixture(scope="module")
def psk(ssm) -> str:
    value = f"psk-{uuid.uuid4().hex}"
    ssm.put_parameter(Name=PSK_NAME, Type="SecureString", Value=value, Overwrite=True)
    return value


def role_with_profile(client, trust: dict = EC2_TRUST, policy: dict | None = None) -> tuple[str, str]:
    """A role (with `policy` inline) in an instance profile of the same name: (name, role ARN)."""
    iam = client("iam")
    name = f"hn-test-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name, arn


def launch(client, profile: str | None = None) -> str:
    extra = {"IamInstanceProfile": {"Name": profile}} if profile else {}
    return client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, **extra)["Instances"][0][
        "InstanceId"
    ]


def register(info, instance_id: str, alive: Path, environment: dict | None = None, **extra) -> dict:
    entry = {"instance_id": instance_id, "argv_prefix": LOCAL, "alive_path": str(alive), **extra}
    if environment is not None:
        entry["environment"] = environment
    return emulator.admin_call(info, "POST", "ssm-instances", {"region": REGION, "instances": [entry]})


def managed(info, client, tmp_path, profile: str | None = None, environment: dict | None = None) -> str:
    """An Online managed instance (with `profile`), its commands on this host."""
    instance_id = launch(client, profile)
    alive = tmp_path / f"{instance_id}-up"
    alive.touch()
    register(
        info, instance_id, alive, {"PATH": INSTANCE_PATH, "AWS_ENDPOINT_URL": info.endpoint, **(environment or {})}
    )
    return instance_id


def run(ssm, instance_id: str, *commands: str, timeout: float = 60.0) -> dict:
    """SendCommand, then the invocation once it has finished."""
    command_id = ssm.send_command(
        InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": list(commands)}
    )["Command"]["CommandId"]
    deadline = time.monotonic() + timeout
    while True:
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if invocation["Status"] in TERMINAL:
            return invocation
        assert time.monotonic() < deadline, f"still {invocation['Status']} after {timeout} s"
        time.sleep(0.05)


def everything_the_api_shows(ssm, invocation: dict) -> str:
    """GetCommandInvocation, ListCommands and ListCommandInvocations (with output) of a command."""
    command_id, instance_id = invocation["CommandId"], invocation["InstanceId"]
    return json.dumps(
        [
            ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id),
            ssm.list_commands(CommandId=command_id)["Commands"],
            ssm.list_command_invocations(CommandId=command_id, Details=True)["CommandInvocations"],
        ],
        default=str,
    )


# --- the instance socket ---------------------------------------------------------


def over(socket_path: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    connection = UnixHTTPConnection(socket_path, timeout=10)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def signed_headers(body: bytes, keys: emulator.Credentials) -> dict:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request = AWSRequest(
        method="POST",
        url="http://localhost/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(BotoCredentials(keys.access_key_id, keys.secret_access_key), "ec2", REGION).add_auth(request)
    return dict(request.headers.items())


def test_the_instance_socket_serves_the_aws_api_alone(info):
    import urllib.error
    import urllib.request

    assert info.instance_socket == str(Path(info.socket).parent / "instances.sock")
    mode = os.stat(info.instance_socket)
    assert stat.S_ISSOCK(mode.st_mode) and stat.S_IMODE(mode.st_mode) == 0o600
    assert mode.st_uid == os.geteuid()  # the emulator's user: root when it runs as root

    body = b"Action=DescribeVpcs&Version=2016-11-15"
    status, _, answer = over(info.instance_socket, "POST", "/", body, signed_headers(body, emulator.credentials(info)))
    assert status == 200 and b"<DescribeVpcsResponse" in answer
    status, _, answer = over(
        info.instance_socket,
        "POST",
        "/",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Host": "localhost"},
    )
    assert status == 401 and b"MissingAuthenticationToken" in answer
    other = emulator.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    status, _, answer = over(info.instance_socket, "POST", "/", body, signed_headers(body, other))
    assert status == 401 and b"AuthFailure" in answer

    for method, path in (
        ("GET", "/_hybridnet/health"),
        ("POST", "/_hybridnet/ssm-instances"),
        ("GET", "/moto-api/data.json"),
        ("POST", "/moto-api/reset"),
    ):
        data = b"{}" if method == "POST" else b""
        status, headers, answer = over(info.instance_socket, method, path, data)
        request = urllib.request.Request(info.endpoint + path, data=data or None, method=method)
        with pytest.raises(urllib.error.HTTPError) as on_tcp:
            urllib.request.urlopen(request, timeout=10)
        assert (status, answer) == (on_tcp.value.code, on_tcp.value.read()), path  # the same refusal as on TCP
        assert status == 403 and headers["Content-Type"] == "application/json"
        assert "unix socket only" in json.loads(answer)["error"]
    assert emulator.admin_call(info, "GET", "health")["ok"] is True  # moto was not reset


def test_the_state_file_records_the_instance_socket_and_old_ones_still_load(info):
    from hybridnet.emulator import process

    state_path = process.state_file()
    state = json.loads(state_path.read_text())
    assert state["instance_socket"] == info.instance_socket
    older = {k: v for k, v in state.items() if k != "instance_socket"}
    try:
        state_path.write_text(json.dumps(older))
        found = emulator.status()
        assert found is not None and found.instance_socket is None and found.endpoint == info.endpoint
    finally:
        state_path.write_text(json.dumps(state))
    assert emulator.status().instance_socket == info.instance_socket


def test_commands_reach_the_aws_api_through_the_instance_socket(info, client, ssm, tmp_path, aws_cli):
    """As in the lab: 127.0.0.1:PORT (here on the host) piped to the instance socket."""
    role, _ = role_with_profile(client)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (sink, source):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(info.instance_socket)
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        instance_id = managed(info, client, tmp_path, role, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
        invocation = run(
            ssm,
            instance_id,
            f"{AWS} sts get-caller-identity --query Arn --output text",
            f"if command -v curl >/dev/null; then curl -s -o /dev/null -w '%{{http_code}}\\n' "
            f"http://127.0.0.1:{port}/_hybridnet/health; else echo no-curl; fi",
        )
        assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
        arn, admin = invocation["StandardOutputContent"].splitlines()
        assert arn == f"arn:aws:sts::123456789012:assumed-role/{role}/{instance_id}"
        assert admin in ("403", "no-curl")  # the admin API is not reachable from an instance
    finally:
        listener.close()


# --- registration ----------------------------------------------------------------


def test_registration_environment_is_validated(info, client, tmp_path):
    instance_id = launch(client)
    alive = tmp_path / "up"
    cases = [
        ({"lower": "x"}, "environment name 'lower' must match"),
        ({"1ST": "x"}, "environment name '1ST' must match"),
        ({"OK": 1}, "environment.OK must be a string"),
        ({"OK": "a\0b"}, "environment.OK must not contain a NUL"),
        ({f"V{n}": "x" for n in range(33)}, "environment has 33 variables; at most 32"),
        ("AWS_REGION=x", "environment must be an object"),
    ]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SESSION_TOKEN_EXTRA"):
        cases.append(({name: "never-echoed"}, f"environment.{name} is refused"))
    for environment, message in cases:
        with pytest.raises(emulator.EmulatorError, match=message) as refused:
            register(info, instance_id, alive, environment)
        assert instance_id in str(refused.value) and "never-echoed" not in str(refused.value)
    # Over the raw socket: a 400 that names the field.
    status, _, answer = over(
        info.socket,
        "POST",
        "/_hybridnet/ssm-instances",
        json.dumps(
            {
                "region": REGION,
                "instances": [
                    {
                        "instance_id": instance_id,
                        "argv_prefix": [],
                        "alive_path": str(alive),
                        "environment": {"AWS_SECRET_ACCESS_KEY": "x"},
                    }
                ],
            }
        ).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 400 and "environment.AWS_SECRET_ACCESS_KEY" in json.loads(answer)["error"]
    assert {
        i["InstanceId"] for i in client("ssm").describe_instance_information()["InstanceInformationList"]
    }.isdisjoint({instance_id})  # nothing was registered


def test_commands_get_the_registered_environment_and_the_instances_region(info, client, ssm, tmp_path):
    plain = launch(client)  # registered as before, without environment
    alive = tmp_path / "up"
    alive.touch()
    register(info, plain, alive)
    show = (
        'echo "region=$AWS_REGION default=$AWS_DEFAULT_REGION key=${AWS_ACCESS_KEY_ID:-none} '
        f"host=${{{HOST_VARIABLE}:-none}} metadata=$AWS_EC2_METADATA_DISABLED config=$AWS_CONFIG_FILE "
        'greeting=${GREETING:-none} id=$AWS_SSM_INSTANCE_ID"'
    )
    invocation = run(ssm, plain, show)
    assert invocation["Status"] == "Success"
    assert invocation["StandardOutputContent"] == (
        f"region={REGION} default={REGION} key=none host=none metadata=true config=/dev/null greeting=none id={plain}\n"
    )

    greeted = launch(client)
    register(info, greeted, alive, {"GREETING": "hello world", "AWS_SSM_INSTANCE_ID": "not-the-agents"})
    invocation = run(ssm, greeted, show)
    assert invocation["StandardOutputContent"] == (
        f"region={REGION} default={REGION} key=none host=none metadata=true config=/dev/null "
        f"greeting=hello world id={greeted}\n"
    )  # the agent's own variables win


# --- instance profile credentials ------------------------------------------------


def test_an_instance_profile_reads_a_secure_string(info, client, ssm, psk, tmp_path, aws_cli):
    role, role_arn = role_with_profile(client, policy=seed.SSM_ROLE_POLICY)
    instance_id = managed(info, client, tmp_path, role)
    secret_file, creds_file = tmp_path / "psk", tmp_path / "creds"
    invocation = run(
        ssm,
        instance_id,
        "umask 077",
        f"{AWS} ssm get-parameter --name {PSK_NAME} --with-decryption --query Parameter.Value --output text"
        f" > {secret_file}",
        f"{AWS} sts get-caller-identity --query Arn --output text",
        # A current SDK needs no endpoint argument: AWS_ENDPOINT_URL is enough.
        f"{sys.executable} -c \"import boto3; print(boto3.client('ssm').get_parameter(Name='{PSK_NAME}', "
        "WithDecryption=True)['Parameter']['Type'])\"",
        f'printf "%s\\n" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" > {creds_file}',
        "env | grep '^AWS_' | sort",
    )
    assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
    assert secret_file.read_text().strip() == psk
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    output = invocation["StandardOutputContent"].splitlines()
    assert output[0] == f"arn:aws:sts::123456789012:assumed-role/{role}/{instance_id}"
    assert output[1] == "SecureString"
    key_id, secret, token = creds_file.read_text().splitlines()
    assert key_id.startswith("ASIA") and len(secret) >= 40 and token
    assert f"AWS_REGION={REGION}" in output and f"AWS_DEFAULT_REGION={REGION}" in output
    # `env` showed them: the output has them masked.
    assert {"AWS_ACCESS_KEY_ID=****", "AWS_SECRET_ACCESS_KEY=****", "AWS_SESSION_TOKEN=****"} <= set(output)

    shown = everything_the_api_shows(ssm, invocation)
    log = info.log.read_text(errors="replace")
    for value in (psk, key_id, secret, token):
        assert value not in shown and value not in log

    # The same credentials, from the test: the role's policies and nothing more.
    keys = {"aws_access_key_id": key_id, "aws_secret_access_key": secret, "aws_session_token": token}
    assert client("sts", **keys).get_caller_identity()["Arn"].endswith(f":assumed-role/{role}/{instance_id}")
    with pytest.raises(ClientError) as denied:
        client("ec2", **keys).describe_vpcs()
    assert denied.value.response["Error"]["Code"] == "UnauthorizedOperation"
    # Reused by the next command, as the instance metadata hands out the same credentials until they near expiry.
    again = run(ssm, instance_id, f'printf %s "$AWS_ACCESS_KEY_ID" > {creds_file}')
    assert again["Status"] == "Success" and creds_file.read_text() == key_id
    assert role_arn.endswith(f":role/{role}")


def test_a_policy_resource_limits_which_parameters(client, ssm, psk):
    """A policy's Resource counts for the actions on named parameters, as on AWS."""
    iam, sts = client("iam"), client("sts")
    me = sts.get_caller_identity()["Arn"]
    name = f"hn-test-{uuid.uuid4().hex[:8]}"
    role_arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": me}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(seed.SSM_ROLE_POLICY))
    ssm.put_parameter(Name="/other/secret", Type="SecureString", Value="not-yours", Overwrite=True)
    ssm.put_parameter(Name="/hybridnet/test/plain", Type="String", Value="plain", Overwrite=True)
    temporary = sts.assume_role(RoleArn=role_arn, RoleSessionName="resource-test")["Credentials"]
    role_ssm = client(
        "ssm",
        aws_access_key_id=temporary["AccessKeyId"],
        aws_secret_access_key=temporary["SecretAccessKey"],
        aws_session_token=temporary["SessionToken"],
    )

    assert role_ssm.get_parameter(Name=PSK_NAME, WithDecryption=True)["Parameter"]["Value"] == psk
    assert (
        role_ssm.get_parameter(Name=f"arn:aws:ssm:{REGION}:123456789012:parameter{PSK_NAME}", WithDecryption=True)[
            "Parameter"
        ]["Value"]
        == psk
    )
    both = role_ssm.get_parameters(Names=[PSK_NAME, "/hybridnet/test/plain"], WithDecryption=True)["Parameters"]
    assert sorted(p["Value"] for p in both) == sorted([psk, "plain"])
    for call in (
        lambda: role_ssm.get_parameter(Name="/other/secret", WithDecryption=True),
        lambda: role_ssm.get_parameters(Names=[PSK_NAME, "/other/secret"]),
        lambda: role_ssm.put_parameter(Name="/hybridnet/test/new", Value="x", Type="String"),
        lambda: role_ssm.describe_parameters(),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert ssm.get_parameter(Name="/other/secret", WithDecryption=True)["Parameter"]["Value"] == "not-yours"


def test_an_instance_without_a_profile_has_no_credentials_until_one_is_associated(
    info, client, ssm, psk, tmp_path, aws_cli
):
    instance_id = managed(info, client, tmp_path)
    read = f"{AWS} ssm get-parameter --name {PSK_NAME} --with-decryption --query Parameter.Value --output text"
    invocation = run(ssm, instance_id, 'echo "key=${AWS_ACCESS_KEY_ID:-none}"', read)
    assert invocation["Status"] == "Failed"
    assert invocation["StandardOutputContent"] == "key=none\n"
    assert "Unable to locate credentials" in invocation["StandardErrorContent"]

    # AssociateIamInstanceProfile: the next command has the profile's credentials.
    role, _ = role_with_profile(client, policy=seed.SSM_ROLE_POLICY)
    client("ec2").associate_iam_instance_profile(IamInstanceProfile={"Name": role}, InstanceId=instance_id)
    invocation = run(ssm, instance_id, read)
    assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
    assert invocation["StandardOutputContent"] == f"{psk}\n"


def test_a_role_ec2_may_not_assume_gives_no_credentials(info, client, ssm, tmp_path, aws_cli):
    lambda_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role, _ = role_with_profile(client, trust=lambda_trust, policy=seed.SSM_ROLE_POLICY)
    instance_id = managed(info, client, tmp_path, role)
    invocation = run(
        ssm,
        instance_id,
        "env | grep -c '^AWS_ACCESS_KEY_ID=\\|^AWS_SESSION_TOKEN=' || true",
        f"{AWS} sts get-caller-identity",
    )
    assert invocation["Status"] == "Failed"
    assert invocation["StandardOutputContent"] == "0\n"
    assert "Unable to locate credentials" in invocation["StandardErrorContent"]


def test_a_role_without_the_policy_is_denied(info, client, ssm, psk, tmp_path, aws_cli):
    role, _ = role_with_profile(client)  # trusts EC2, no policy
    instance_id = managed(info, client, tmp_path, role)
    invocation = run(
        ssm,
        instance_id,
        f"{AWS} ssm get-parameter --name {PSK_NAME} --with-decryption --query Parameter.Value --output text",
    )
    assert invocation["Status"] == "Failed"
    assert "AccessDeniedException" in invocation["StandardErrorContent"]
    assert f"assumed-role/{role}/{instance_id}" in invocation["StandardErrorContent"]
    assert psk not in everything_the_api_shows(ssm, invocation)


# --- the seed ----------------------------------------------------------------------


def test_the_seed_hosts_have_the_ssm_instance_profile_once(info, client, ssm, psk, tmp_path, aws_cli):
    from hybridnet.aws import BASELINE_TAG, connect
    from hybridnet.params import load_params

    ctx = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "instanceside", "lab": "off"}))
    assert ctx.endpoint_url == info.endpoint
    ec2, iam = client("ec2"), client("iam")
    hosts = seed.ensure_baseline(ctx)["instances"]
    assert set(hosts) == set(seed.HOST_NAMES)
    # A host seeded before it had one gets it at the next seeding.
    router = hosts["router"]
    association = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "instance-id", "Values": [router]}])[
        "IamInstanceProfileAssociations"
    ][0]
    ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
    assert seed.ensure_baseline(ctx)["instances"] == hosts

    assert [r["RoleName"] for r in iam.list_roles()["Roles"]].count(seed.SSM_PROFILE) == 1
    profiles = [
        p for p in iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"] == seed.SSM_PROFILE
    ]
    assert len(profiles) == 1 and [r["RoleName"] for r in profiles[0]["Roles"]] == [seed.SSM_PROFILE]
    role = iam.get_role(RoleName=seed.SSM_PROFILE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    for tags in (
        iam.list_role_tags(RoleName=seed.SSM_PROFILE)["Tags"],
        iam.get_instance_profile(InstanceProfileName=seed.SSM_PROFILE)["InstanceProfile"]["Tags"],
    ):
        assert {"Key": BASELINE_TAG, "Value": seed.BASELINE} in tags
    assert iam.list_role_policies(RoleName=seed.SSM_PROFILE)["PolicyNames"] == [seed.SSM_ROLE_POLICY_NAME]
    assert (
        iam.get_role_policy(RoleName=seed.SSM_PROFILE, PolicyName=seed.SSM_ROLE_POLICY_NAME)["PolicyDocument"]
        == seed.SSM_ROLE_POLICY
    )
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": list(hosts.values())}]
    )["IamInstanceProfileAssociations"]
    assert sorted(a["InstanceId"] for a in associations) == sorted(hosts.values())
    assert {a["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1] for a in associations} == {seed.SSM_PROFILE}

    # A seed host, managed, reads the suite's secret with its profile.
    alive = tmp_path / "router-up"
    alive.touch()
    register(info, router, alive, {"PATH": INSTANCE_PATH, "AWS_ENDPOINT_URL": info.endpoint})
    invocation = run(
        ssm,
        router,
        f"{AWS} ssm get-parameter --name {PSK_NAME} --with-decryption "
        "--query Parameter.Value --output text >/dev/null && echo read",
    )
    assert (invocation["Status"], invocation["StandardOutputContent"]) == ("Success", "read\n"), invocation[
        "StandardErrorContent"
    ]
