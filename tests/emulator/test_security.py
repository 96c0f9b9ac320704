"""The emulator's security: who may call it, over what, from where.

Every AWS API request must be SigV4-signed with the credentials the emulator
generated (0600, under outputs/.state/, reused across restarts), on TCP and on
the unix socket alike, and is refused as AWS refuses it otherwise; no web page
may call it (no CORS); its admin API and moto's /moto-api/ are on the unix
socket only. Runs against an emulator of its own (a private HYBRIDNET_HOME).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError
from hybridnet import emulator
from hybridnet.emulator.unix_client import UnixHTTPConnection

REGION = "ap-northeast-2"
ROOT = Path(__file__).resolve().parents[2]
OTHER_KEYS = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}

# One call per service the runbook uses (our extensions' actions included), and
# how AWS refuses it: (other keys, a wrong secret, no signature) -> code, HTTP status.
CALLS = {
    "ec2": (
        "ec2",
        lambda c: c.describe_vpcs(),
        [("AuthFailure", 401), ("AuthFailure", 401), ("MissingAuthenticationToken", 401)],
    ),
    "ec2-client-vpn": (
        "ec2",
        lambda c: c.describe_client_vpn_endpoints(),
        [("AuthFailure", 401), ("AuthFailure", 401), ("MissingAuthenticationToken", 401)],
    ),
    "ec2-vpn": (
        "ec2",
        lambda c: c.describe_vpn_connections(),
        [("AuthFailure", 401), ("AuthFailure", 401), ("MissingAuthenticationToken", 401)],
    ),
    "route53": (
        "route53",
        lambda c: c.list_hosted_zones(),
        [("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403), ("MissingAuthenticationToken", 403)],
    ),
    "route53-test-dns-answer": (
        "route53",
        lambda c: c.test_dns_answer(HostedZoneId="Z0000000000000000000", RecordName="a.example.com", RecordType="A"),
        [("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403), ("MissingAuthenticationToken", 403)],
    ),
    "route53resolver": (
        "route53resolver",
        lambda c: c.list_resolver_endpoints(),
        [
            ("UnrecognizedClientException", 400),
            ("InvalidSignatureException", 400),
            ("MissingAuthenticationTokenException", 400),
        ],
    ),
    "acm": (
        "acm",
        lambda c: c.list_certificates(),
        [
            ("UnrecognizedClientException", 400),
            ("InvalidSignatureException", 400),
            ("MissingAuthenticationTokenException", 400),
        ],
    ),
    "lambda": (
        "lambda",
        lambda c: c.list_functions(),
        [
            ("UnrecognizedClientException", 403),
            ("InvalidSignatureException", 403),
            ("MissingAuthenticationTokenException", 403),
        ],
    ),
    "iam": (
        "iam",
        lambda c: c.list_roles(),
        [("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403), ("MissingAuthenticationToken", 403)],
    ),
    "logs": (
        "logs",
        lambda c: c.describe_log_groups(),
        [
            ("UnrecognizedClientException", 400),
            ("InvalidSignatureException", 400),
            ("MissingAuthenticationTokenException", 400),
        ],
    ),
    # CloudWatch speaks JSON, query-compatible: botocore reads the query code.
    "cloudwatch": (
        "cloudwatch",
        lambda c: c.list_metrics(),
        [("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403), ("MissingAuthenticationToken", 403)],
    ),
    "sts": (
        "sts",
        lambda c: c.get_caller_identity(),
        [("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403), ("MissingAuthenticationToken", 403)],
    ),
    "ssm": (
        "ssm",
        lambda c: c.describe_parameters(),
        [
            ("UnrecognizedClientException", 400),
            ("InvalidSignatureException", 400),
            ("MissingAuthenticationTokenException", 400),
        ],
    ),
}


def refused(call, client) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(client)
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def http(url: str, data: bytes | None = None, method: str | None = None, headers: dict | None = None):
    """(status, headers, body) of a plain HTTP request (no AWS SDK)."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def over_socket(info, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    connection = UnixHTTPConnection(info.socket, timeout=10)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def signed(method: str, url: str, service: str, body: bytes, headers: dict, keys: emulator.Credentials | None):
    """A request signed by botocore's SigV4 (as a client would), headers only."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    if keys is not None:
        SigV4Auth(BotoCredentials(keys.access_key_id, keys.secret_access_key), service, REGION).add_auth(request)
    return dict(request.headers.items())


# ---------------------------------------------------------------- the credentials


def test_credentials_are_generated_aws_shaped_and_private(info):
    path = info.credentials_file
    assert path.parent == Path(info.socket).parent  # outputs/.state/
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = emulator.credentials(info)
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", keys.access_key_id)
    assert len(keys.secret_access_key) == 40 and keys.secret_access_key not in repr(keys)
    assert keys == emulator.credentials() == emulator.credentials(info.endpoint)
    identity = emulator.client("sts", REGION, info).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:user/hybridnet"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_service_answers_its_own_credentials_only(client, name):
    service, call, (other, wrong_secret, unsigned) = CALLS[name]
    try:
        call(client(service))
    except ClientError as exc:  # TestDNSAnswer on a zone that is not there: authenticated, then answered
        assert exc.response["Error"]["Code"] == "NoSuchHostedZone"
    keys = emulator.credentials()
    assert refused(call, client(service, **OTHER_KEYS)) == other
    assert (
        refused(
            call,
            client(service, aws_access_key_id=keys.access_key_id, aws_secret_access_key=keys.secret_access_key[::-1]),
        )
        == wrong_secret
    )
    no_signature = boto3.client(
        service,
        region_name=REGION,
        endpoint_url=client("sts").meta.endpoint_url,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    assert refused(call, no_signature) == unsigned


@pytest.mark.parametrize(
    "service,call,code",
    [
        ("logs", lambda c: c.describe_log_groups(), "InvalidSignatureException"),
        ("iam", lambda c: c.list_users(), "SignatureDoesNotMatch"),
        ("ec2", lambda c: c.describe_vpcs(), "AuthFailure"),
    ],
)
def test_a_body_changed_after_signing_is_refused(client, service, call, code):
    ec2_like = client(service)

    def tamper(request, **kwargs):
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        request.body = body + (b"&MaxResults=5" if b"Action=" in body else b" ")
        request.headers["Content-Length"] = str(len(request.body))

    ec2_like.meta.events.register("before-send", tamper)
    assert refused(call, ec2_like)[0] == code


def test_a_stale_signature_is_refused(client, monkeypatch):
    import botocore.auth

    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=20),
    )
    with pytest.raises(ClientError) as exc:
        client("sts").get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "Signature expired" in exc.value.response["Error"]["Message"]


def test_assumed_role_credentials_authenticate_and_get_the_roles_permissions_only(client):
    iam, sts = client("iam"), client("sts")
    me = sts.get_caller_identity()["Arn"]
    name = f"hybridnet-security-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": me}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]
    temporary = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="test")["Credentials"]
    keys = {
        "aws_access_key_id": temporary["AccessKeyId"],
        "aws_secret_access_key": temporary["SecretAccessKey"],
        "aws_session_token": temporary["SessionToken"],
    }
    assert temporary["AccessKeyId"].startswith("ASIA")
    assert client("sts", **keys).get_caller_identity()["Arn"].endswith(f":assumed-role/{name}/test")
    # Authenticated, then authorized by the role's own (here: no) policies, as on AWS.
    assert refused(lambda c: c.describe_vpcs(), client("ec2", **keys)) == ("UnauthorizedOperation", 403)
    assert refused(lambda c: c.list_functions(), client("lambda", **keys)) == ("AccessDeniedException", 403)
    iam.put_role_policy(
        RoleName=name,
        PolicyName="describe",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
        ),
    )
    client("ec2", **keys).describe_vpcs()
    assert refused(lambda c: c.describe_vpcs(), client("ec2", **{**keys, "aws_session_token": "forged"})) == (
        "AuthFailure",
        401,
    )


# ---------------------------------------------------------------- plain HTTP


def test_assume_role_is_refused_as_aws_refuses_it(client):
    iam, sts = client("iam"), client("sts")
    me = sts.get_caller_identity()["Arn"]
    account = me.split(":")[4]
    name = f"hybridnet-trust-{uuid.uuid4().hex[:8]}"

    def role(principal, condition=None):
        statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
        if condition:
            statement["Condition"] = condition
        made = iam.create_role(
            RoleName=f"{name}-{uuid.uuid4().hex[:4]}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        return made["Role"]["Arn"]

    def refusal(**kwargs):
        with pytest.raises(ClientError) as info:
            sts.assume_role(RoleSessionName="test", **kwargs)
        error = info.value.response["Error"]
        return error["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]

    missing = f"arn:aws:iam::{account}:role/{name}-no-such-role"
    assert refusal(RoleArn=missing) == (
        "AccessDenied",
        403,
        f"User: {me} is not authorized to perform: sts:AssumeRole on resource: {missing}",
    )
    assert refusal(RoleArn=role("arn:aws:iam::111111111111:root"))[:2] == ("AccessDenied", 403)  # trusts another
    with_id = role(f"arn:aws:iam::{account}:root", {"StringEquals": {"sts:ExternalId": "the-id"}})
    assert refusal(RoleArn=with_id)[0] == "AccessDenied"  # no external id
    assert refusal(RoleArn=with_id, ExternalId="another-id")[0] == "AccessDenied"
    assert sts.assume_role(RoleArn=with_id, RoleSessionName="test", ExternalId="the-id")["Credentials"]
    assert sts.assume_role(RoleArn=role(account), RoleSessionName="test")["Credentials"]  # the account by its id


def test_unsigned_http_is_refused_on_tcp(info):
    status, _, body = http(
        info.endpoint + "/",
        data=b"Action=DescribeVpcs&Version=2016-11-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 401 and b"<Code>MissingAuthenticationToken</Code>" in body
    for path in ("/", "/latest/meta-data/iam/security-credentials/", "/2015-03-31/functions"):
        status, _, body = http(info.endpoint + path)
        assert status in (401, 403) and b"MissingAuthenticationToken" in body, path


def test_the_aws_api_over_the_unix_socket_is_authenticated_too(info):
    assert stat.S_IMODE(os.stat(info.socket).st_mode) == 0o600
    body = b"Action=DescribeVpcs&Version=2016-11-15"
    base = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    url = "http://localhost/"
    status, _, answer = over_socket(info, "POST", "/", body, {**base, "Host": "localhost"})
    assert status == 401 and b"MissingAuthenticationToken" in answer
    other = emulator.Credentials(OTHER_KEYS["aws_access_key_id"], OTHER_KEYS["aws_secret_access_key"])
    status, _, answer = over_socket(info, "POST", "/", body, signed("POST", url, "ec2", body, base, other))
    assert status == 401 and b"AuthFailure" in answer
    status, _, answer = over_socket(
        info, "POST", "/", body, signed("POST", url, "ec2", body, base, emulator.credentials(info))
    )
    assert status == 200 and b"<DescribeVpcsResponse" in answer


# ---------------------------------------------------------------- no web page


def test_cross_origin_requests_and_preflights_are_refused_without_cors_headers(info, client):
    sts = client("sts")
    sts.meta.events.register(
        "before-send", lambda request, **kw: request.headers.__setitem__("Origin", "https://attacker.example")
    )
    assert refused(lambda c: c.get_caller_identity(), sts) == ("AccessDenied", 403)

    status, headers, body = http(
        info.endpoint + "/",
        method="OPTIONS",
        headers={
            "Origin": "https://attacker.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-amz-date,content-type",
        },
    )
    assert status == 403 and b"AccessDenied" in body
    assert not [h for h in headers if h.lower().startswith("access-control-")]
    # Not on answers to signed calls either.
    ok = client("sts").get_caller_identity()["ResponseMetadata"]["HTTPHeaders"]
    assert not [h for h in ok if h.lower().startswith("access-control-")]
    status, headers, _ = http(info.endpoint + "/", method="OPTIONS")
    assert status in (401, 403) and not [h for h in headers if h.lower().startswith("access-control-")]


# ---------------------------------------------------------------- admin API and /moto-api: the socket only


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/_hybridnet/health"),
        ("POST", "/_hybridnet/vpn-telemetry"),
        ("GET", "/_hybridnet/data-plane"),
        ("GET", "/moto-api/"),
        ("GET", "/moto-api/data.json"),
        ("POST", "/moto-api/reset"),
        ("POST", "/moto-api/reset-auth"),
    ],
)
def test_admin_and_moto_api_are_refused_over_tcp(info, client, method, path):
    vpcs = len(client("ec2").describe_vpcs()["Vpcs"])
    status, headers, body = http(info.endpoint + path, data=b"{}" if method == "POST" else None, method=method)
    assert status == 403 and headers["Content-Type"] == "application/json"
    assert "unix socket only" in json.loads(body)["error"]
    assert len(client("ec2").describe_vpcs()["Vpcs"]) == vpcs  # nothing was reset


def test_admin_and_moto_api_are_served_over_the_socket(info):
    assert emulator.admin_call(info, "GET", "health")["ok"] is True
    assert emulator.admin_call(info.socket, "GET", "data-plane") == {"feeds": []}
    with pytest.raises(emulator.EmulatorError, match="unix socket only"):
        emulator.admin_call(info.endpoint, "GET", "health")
    status, _, body = over_socket(info, "GET", "/moto-api/data.json")
    assert status == 200 and "ec2" in json.loads(body)


# ---------------------------------------------------------------- restarts, and the runbook itself


@pytest.fixture
def fresh_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("security-home")
    previous = os.environ["HYBRIDNET_HOME"]
    os.environ["HYBRIDNET_HOME"] = str(home)
    try:
        yield home
    finally:
        emulator.stop()
        os.environ["HYBRIDNET_HOME"] = previous


def test_credentials_survive_a_restart_and_a_moto_reset(fresh_home):
    first = emulator.start()
    keys = emulator.credentials(first)
    assert first.credentials_file == fresh_home / "outputs" / ".state" / "emulator-credentials.json"
    emulator.stop()
    second = emulator.start()
    assert second.pid != first.pid and emulator.credentials(second) == keys
    assert stat.S_IMODE(second.credentials_file.stat().st_mode) == 0o600
    emulator.client("sts", REGION, second).get_caller_identity()
    # moto's reset (socket only) empties IAM: the emulator installs its key again.
    assert over_socket(second, "POST", "/moto-api/reset")[0] == 200
    assert emulator.client("sts", REGION, second).get_caller_identity()["Arn"].endswith(":user/hybridnet")


def test_a_credentials_file_others_could_read_is_replaced(fresh_home):
    first = emulator.start()
    keys = emulator.credentials(first)
    emulator.stop()
    first.credentials_file.chmod(0o644)
    second = emulator.start()
    assert emulator.credentials(second) != keys
    assert stat.S_IMODE(second.credentials_file.stat().st_mode) == 0o600
    emulator.client("sts", REGION, second).get_caller_identity()


def test_an_emulator_from_before_authentication_is_stopped_not_used(fresh_home):
    """An older emulator (its state names no credentials file) served without
    authentication: start() stops it (ours by its command line) and starts anew."""
    import subprocess
    import sys
    import time

    from hybridnet.emulator import process

    old = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "hybridnet.emulator.server"])
    try:
        deadline = time.monotonic() + 10
        while not process._is_ours(old.pid):  # until its command line is the exec'd one
            assert time.monotonic() < deadline
            time.sleep(0.02)
        state = fresh_home / "outputs" / ".state" / "emulator.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(
            json.dumps(
                {
                    "pid": old.pid,
                    "port": 1,
                    "endpoint": "http://127.0.0.1:1",
                    "socket": str(state.parent / "emulator.sock"),
                }
            )
        )
        assert emulator.status() is None
        info = emulator.start()
        assert old.wait(timeout=10) != 0 and info.pid != old.pid
        emulator.client("sts", REGION, info).get_caller_identity()
    finally:
        if old.poll() is None:
            old.kill()
            old.wait()


def test_no_socket_no_emulator(tmp_path_factory):
    long_home = tmp_path_factory.mktemp("h" * 90)
    previous = os.environ["HYBRIDNET_HOME"]
    os.environ["HYBRIDNET_HOME"] = str(long_home)
    try:
        with pytest.raises(emulator.EmulatorError, match="HYBRIDNET_HOME"):
            emulator.start()
        assert emulator.status() is None
    finally:
        os.environ["HYBRIDNET_HOME"] = previous


def test_the_runbooks_session_factory_uses_the_emulators_credentials(info):
    from hybridnet.aws import connect
    from hybridnet.params import load_params

    ctx = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "securitytest", "lab": "off"}))
    assert ctx.endpoint_url == info.endpoint and ctx.data_plane is None
    frozen = ctx.session.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == (
        emulator.credentials().access_key_id,
        emulator.credentials().secret_access_key,
    )
    assert ctx.client("ec2").describe_vpcs(Filters=[{"Name": "cidr-block", "Values": [ctx.params.vpc.cidr]}])["Vpcs"]
    assert ctx.client("sts").get_caller_identity()["Arn"].endswith(":user/hybridnet")
