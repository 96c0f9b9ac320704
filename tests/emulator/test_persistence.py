"""The emulator's state survives a restart (emulator.stop() + start()) and a hard
kill (SIGKILL of its recorded pid): what boto3 created is there again with the
same ids, secrets included; what a data plane reports again by itself is not
restored. A damaged or incompatible saved state is refused whole, the file left
untouched, and start(fresh=True) moves it aside and starts empty.

One emulator (own_emulator's HYBRIDNET_HOME), restarted by the tests in order.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import time
import zipfile

import pytest
from botocore.config import Config
from hybridnet import emulator, pki
from hybridnet.emulator import clock, persistence, process
from hybridnet.emulator.auth import USER_NAME
from hybridnet.emulator.vpn.models import NO_DATA_PLANE
from moto.core import DEFAULT_ACCOUNT_ID

from .conftest import REGION

ONE_TRY = Config(retries={"max_attempts": 1, "mode": "standard"})
SECRET = "s3cr3t-value-of-the-persistence-test"
FUNCTION = "hybridnet-persistence-test"
CODE = "def handler(event, context):\n    return {'echo': event, 'from': 'persisted code'}\n"
TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TRUST_EMULATOR_USER = {
    "Version": "2012-10-17",
    "Statement": [  # the emulator's own user may assume it
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/{USER_NAME}"},
            "Action": "sts:AssumeRole",
        }
    ],
}
RESTART_BOUND_S = 20.0  # sanity only: the bench (bench/emulator_restart.py) measures it


def aws(service: str, credentials: dict | None = None):
    """A client of the module's emulator as it runs now (a start may give it another port)."""
    info = emulator.status()
    assert info is not None, "the emulator is not running"
    if credentials is None:
        return emulator.client(service, REGION, info, config=ONE_TRY)
    import boto3

    return boto3.client(service, region_name=REGION, endpoint_url=info.endpoint, config=ONE_TRY, **credentials)


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def wait_for(what, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


@pytest.fixture(scope="module")
def made(own_emulator, tmp_path_factory) -> dict:
    """Resources of every service the runbook uses, created through boto3 as a user would."""
    ec2, iam = aws("ec2"), aws("iam")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((1, "a"), (2, "c"))
    ]
    group = ec2.create_security_group(GroupName="persisted", Description="persisted", VpcId=vpc)["GroupId"]
    cgw = ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65010, IpAddress="198.51.100.77")["CustomerGateway"][
        "CustomerGatewayId"
    ]
    tgw = ec2.create_transit_gateway(Options={"AmazonSideAsn": 64620})["TransitGateway"]["TransitGatewayId"]
    vpn = ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=cgw,
        TransitGatewayId=tgw,
        Options={"TunnelOptions": [{"PreSharedKey": "persisted_psk_1"}, {"PreSharedKey": "persisted_psk_2"}]},
    )["VpnConnection"]["VpnConnectionId"]
    endpoint = aws("route53resolver").create_resolver_endpoint(
        CreatorRequestId="persisted",
        SecurityGroupIds=[group],
        Direction="INBOUND",
        IpAddresses=[{"SubnetId": s} for s in subnets],
    )["ResolverEndpoint"]["Id"]
    key_id = aws("kms").create_key(Description="persisted")["KeyMetadata"]["KeyId"]
    blob = aws("kms").encrypt(KeyId=key_id, Plaintext=b"sealed before the restart")["CiphertextBlob"]
    aws("ssm").put_parameter(Name="/hybridnet/persisted/secret", Value=SECRET, Type="SecureString")
    ca = pki.make_ca("persistence-test-ca")
    server = pki.issue_server(ca, "server.persistence-test.lab")
    certificate = aws("acm").import_certificate(
        Certificate=server.cert_pem.encode(),
        PrivateKey=server.key_pem.encode(),
        CertificateChain=server.chain_pem.encode(),
    )["CertificateArn"]
    role = iam.create_role(RoleName="hybridnet-persisted", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"][
        "Arn"
    ]
    function = aws("lambda").create_function(
        FunctionName=FUNCTION, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": zipped(CODE)}
    )["FunctionArn"]
    operator = iam.create_role(
        RoleName="hybridnet-persisted-operator", AssumeRolePolicyDocument=json.dumps(TRUST_EMULATOR_USER)
    )["Role"]["Arn"]
    session = aws("sts").assume_role(RoleArn=operator, RoleSessionName="persisted")["Credentials"]
    cvpn = ec2.create_client_vpn_endpoint(
        ClientCidrBlock="172.31.240.0/22",
        ServerCertificateArn=certificate,
        AuthenticationOptions=[
            {
                "Type": "certificate-authentication",
                "MutualAuthentication": {"ClientRootCertificateChainArn": certificate},
            }
        ],
        ConnectionLogOptions={"Enabled": False},
    )["ClientVpnEndpointId"]
    aws("cloudwatch").put_metric_alarm(
        AlarmName="persisted",
        Namespace="Hybridnet/Test",
        MetricName="Probe",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    aws("cloudwatch").put_metric_data(Namespace="Hybridnet/Test", MetricData=[{"MetricName": "Probe", "Value": 2.0}])
    # An SSM command that ran on a registered "instance" (this host), and one waiting for an offline one.
    alive = tmp_path_factory.mktemp("persisted-host") / "agent-up"
    alive.touch()
    instances = {
        name: ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
        )["Instances"][0]["InstanceId"]
        for name in ("persisted-online", "persisted-offline")
    }
    emulator.admin_call(
        emulator.status(),
        "POST",
        "ssm-instances",
        {
            "region": REGION,
            "instances": [
                {"name_tag": "persisted-online", "argv_prefix": [], "alive_path": str(alive)},
                {"name_tag": "persisted-offline", "argv_prefix": [], "alive_path": str(alive.with_name("gone"))},
            ],
        },
    )
    ran = aws("ssm").send_command(
        InstanceIds=[instances["persisted-online"]],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["echo ran before the restart"]},
    )["Command"]["CommandId"]
    wait_for(
        lambda: (
            aws("ssm").get_command_invocation(CommandId=ran, InstanceId=instances["persisted-online"])["Status"]
            == "Success"
        )
    )
    waiting = aws("ssm").send_command(
        InstanceIds=[instances["persisted-offline"]],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["echo never"]},
    )["Command"]["CommandId"]
    # What the lab's telemetry reports: a tunnel UP, and the AWS/VPN metrics it feeds.
    outside = ec2.describe_vpn_connections(VpnConnectionIds=[vpn])["VpnConnections"][0]["Options"]["TunnelOptions"][0][
        "OutsideIpAddress"
    ]
    emulator.admin_call(
        emulator.status(),
        "POST",
        "vpn-telemetry",
        {
            "region": REGION,
            "vpn_connection_id": vpn,
            "tunnels": [
                {
                    "outside_ip": outside,
                    "status": "UP",
                    "status_message": "1 BGP ROUTES",
                    "received_routes": ["10.9.0.0/16"],
                }
            ],
        },
    )
    wait_for(lambda: ec2.describe_vpn_connections(VpnConnectionIds=[vpn])["VpnConnections"][0]["State"] == "available")
    return {
        "vpc": vpc,
        "cgw": cgw,
        "tgw": tgw,
        "vpn": vpn,
        "resolver": endpoint,
        "kms": key_id,
        "blob": blob,
        "certificate": certificate,
        "key_pem": server.key_pem,
        "role": role,
        "function": function,
        "session": {
            "aws_access_key_id": session["AccessKeyId"],
            "aws_secret_access_key": session["SecretAccessKey"],
            "aws_session_token": session["SessionToken"],
        },
        "cvpn": cvpn,
        "instances": instances,
        "ran": ran,
        "waiting": waiting,
        "outside_ip": outside,
    }


def inventory(made: dict) -> dict:
    """What the API shows of the resources, ids and secrets included."""
    ec2 = aws("ec2")
    vpn = ec2.describe_vpn_connections(VpnConnectionIds=[made["vpn"]])["VpnConnections"][0]
    ran = aws("ssm").get_command_invocation(CommandId=made["ran"], InstanceId=made["instances"]["persisted-online"])
    return {
        "vpcs": sorted((v["VpcId"], v["CidrBlock"]) for v in ec2.describe_vpcs()["Vpcs"]),
        "subnets": sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]),
        "customer_gateways": [
            (c["CustomerGatewayId"], c["BgpAsn"], c["IpAddress"])
            for c in ec2.describe_customer_gateways(CustomerGatewayIds=[made["cgw"]])["CustomerGateways"]
        ],
        "vpn": (
            vpn["VpnConnectionId"],
            vpn["State"],
            vpn["TransitGatewayId"],
            vpn["CustomerGatewayConfiguration"],
            [
                (t["OutsideIpAddress"], t["TunnelInsideCidr"], t["PreSharedKey"])
                for t in vpn["Options"]["TunnelOptions"]
            ],
        ),
        "tgw_attachments": sorted(
            (a["TransitGatewayAttachmentId"], a["ResourceType"], a["State"])
            for a in ec2.describe_transit_gateway_attachments()["TransitGatewayAttachments"]
        ),
        "resolver": [
            (e["Id"], e["Direction"], e["IpAddressCount"])
            for e in aws("route53resolver").list_resolver_endpoints()["ResolverEndpoints"]
        ],
        "resolver_ips": sorted(
            i["Ip"]
            for i in aws("route53resolver").list_resolver_endpoint_ip_addresses(ResolverEndpointId=made["resolver"])[
                "IpAddresses"
            ]
        ),
        "secret": aws("ssm").get_parameter(Name="/hybridnet/persisted/secret", WithDecryption=True)["Parameter"][
            "Value"
        ],
        "certificates": sorted(c["CertificateArn"] for c in aws("acm").list_certificates()["CertificateSummaryList"]),
        "acm_key": emulator.admin_call(
            emulator.status(), "POST", "acm-private-key", {"region": REGION, "arn": made["certificate"]}
        )["private_key_pem"],
        "roles": sorted(r["Arn"] for r in aws("iam").list_roles()["Roles"]),
        "functions": [(f["FunctionArn"], f["CodeSha256"]) for f in aws("lambda").list_functions()["Functions"]],
        "kms": aws("kms").decrypt(CiphertextBlob=made["blob"])["Plaintext"],
        "client_vpn": [
            (e["ClientVpnEndpointId"], e["ServerCertificateArn"])
            for e in ec2.describe_client_vpn_endpoints()["ClientVpnEndpoints"]
        ],
        "alarms": [a["AlarmName"] for a in aws("cloudwatch").describe_alarms()["MetricAlarms"]],
        "instances": sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]),
        "command": (ran["Status"], ran["ResponseCode"], ran["StandardOutputContent"]),
        "assumed": aws("sts", made["session"]).get_caller_identity()["Arn"],
        "snapshots": sorted(s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["amazon"])["Snapshots"])[:20],
    }


@pytest.fixture(scope="module")
def before(made) -> dict:
    return inventory(made)


def restart(kill: bool = False) -> tuple[emulator.EmulatorInfo, float]:
    """(the restarted emulator, seconds from the stop until it answers)."""
    old = emulator.status()
    started = time.monotonic()
    if kill:
        os.kill(old.pid, signal.SIGKILL)
        wait_for(lambda: not process._is_ours(old.pid))  # dead (a zombie has no command line)
    else:
        emulator.stop()
    info = emulator.start()
    return info, time.monotonic() - started


def test_the_saved_state_is_private(made):
    path = emulator.saved_state_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["format"] == persistence.FORMAT and header["version"] == persistence.FORMAT_VERSION
    assert SECRET.encode() not in path.read_bytes().split(b"\n", 1)[0]  # the header holds no secret


def test_a_fresh_emulator_says_so(made):
    info = emulator.status()
    health = emulator.admin_call(info, "GET", "health")
    assert info.restored_from is None and health["restored_from"] is None
    assert health["started_at"] == info.started_at
    assert health["state"]["saves"] > 0 and health["state"]["error"] is None
    assert health["state"]["last_save_ms"] < 2000  # sanity only


def test_everything_is_there_again_after_a_restart(made, before):
    first = emulator.status()
    info, seconds = restart()
    assert info.pid != first.pid and seconds < RESTART_BOUND_S
    assert info.endpoint == first.endpoint  # its port again: clients that knew it reach it
    assert inventory(made) == before
    assert info.restored_from == str(emulator.saved_state_file()) and info.started_at > first.started_at
    health = emulator.admin_call(info, "GET", "health")
    assert (health["restored_from"], health["started_at"]) == (info.restored_from, info.started_at)


def test_everything_is_there_again_after_a_hard_kill(made, before):
    # The last call before the kill is saved too: the save precedes the answer.
    last = aws("ec2").create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    info, seconds = restart(kill=True)
    assert seconds < RESTART_BOUND_S
    after = inventory(made)
    assert (last, "10.78.0.0/16") in after["vpcs"]
    after["vpcs"].remove((last, "10.78.0.0/16"))
    assert after == before
    aws("ec2").delete_vpc(VpcId=last)


def test_the_lambda_function_runs_its_restored_code(made):
    answer = aws("lambda").invoke(FunctionName=FUNCTION, Payload=json.dumps({"n": 1}))
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"echo": {"n": 1}, "from": "persisted code"}


def test_what_the_data_plane_reports_again_is_not_restored(made):
    vpn = aws("ec2").describe_vpn_connections(VpnConnectionIds=[made["vpn"]])["VpnConnections"][0]
    assert [(t["Status"], t["StatusMessage"], t["AcceptedRouteCount"]) for t in vpn["VgwTelemetry"]] == [
        ("DOWN", NO_DATA_PLANE, 0)
    ] * 2
    metrics = aws("cloudwatch").list_metrics()["Metrics"]
    assert {m["Namespace"] for m in metrics} == {"Hybridnet/Test"}  # AWS/VPN came from the telemetry
    # The SSM registrations are the lab's to send again; the commands' history is kept.
    assert aws("ssm").describe_instance_information()["InstanceInformationList"] == []
    waiting = aws("ssm").get_command_invocation(
        CommandId=made["waiting"], InstanceId=made["instances"]["persisted-offline"]
    )
    assert (waiting["Status"], waiting["ResponseCode"]) == ("Failed", -1)
    assert "emulator stopped while this command was pending" in waiting["StandardErrorContent"]
    assert aws("ssm").list_commands(CommandId=made["waiting"])["Commands"][0]["Status"] == "Failed"


@pytest.mark.parametrize(
    "environ, read",
    [
        ({"HTTP_X_AMZ_TARGET": "AmazonSSM.GetParameter"}, True),
        ({"HTTP_X_AMZ_TARGET": "AmazonSSM.PutParameter"}, False),
        (
            {"REQUEST_METHOD": "POST", "PATH_INFO": "/service/GraniteServiceVersion20100801/operation/GetMetricData"},
            True,
        ),
        (
            {"REQUEST_METHOD": "POST", "PATH_INFO": "/service/GraniteServiceVersion20100801/operation/PutMetricData"},
            False,
        ),
        ({"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(b"Action=DescribeVpcs&Version=2016-11-15")}, True),
        ({"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(b"Version=2016-11-15&Action=CreateVpc")}, False),
        ({"REQUEST_METHOD": "GET", "QUERY_STRING": "Action=CreateVpc"}, False),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/2015-03-31/functions/f"}, True),
        ({"REQUEST_METHOD": "POST", "PATH_INFO": "/2015-03-31/functions/f/invocations"}, False),  # its logs
    ],
)
def test_what_counts_as_a_read(environ, read):
    assert persistence.is_read(environ) is read


def test_the_clock_goes_on_from_the_saved_state():
    """A moment saved before a reboot (another monotonic clock) is as long ago as it was."""
    previous = clock._offset
    try:
        clock.resume(saved_now=1e9, saved_wall=time.time() - 30)
        assert 1e9 + 29 < clock.now() < 1e9 + 32
        clock.resume(saved_now=5.0, saved_wall=time.time() + 3600)  # the wall clock was set back
        assert 5.0 <= clock.now() < 6.0
    finally:
        clock._offset = previous


def _damage(kind: str, data: bytes) -> bytes:
    header, payload = data.split(b"\n", 1)
    if kind == "truncated":
        return data[: len(header) + 1 + len(payload) // 2]
    if kind == "flipped":
        middle = len(payload) // 2
        return header + b"\n" + payload[:middle] + bytes([payload[middle] ^ 0xFF]) + payload[middle + 1 :]
    if kind == "not a state file":
        return b"\x00garbage" + data[:100]
    fields = json.loads(header)
    fields.update({"other moto": {"moto": "5.0.0"}, "other code": {"code": "0" * 16}}[kind])
    return json.dumps(fields).encode() + b"\n" + payload


@pytest.mark.parametrize(
    "kind, why",
    [
        ("truncated", "truncated"),
        ("flipped", "does not match its checksum"),
        ("not a state file", "not an emulator state file"),
        ("other moto", "moto 5.0.0"),
        ("other code", "the emulator's code 0000000000000000"),
    ],
)
def test_a_damaged_or_incompatible_state_is_refused_and_left_alone(made, kind, why):
    emulator.stop()
    path = emulator.saved_state_file()
    good = path.read_bytes()
    damaged = _damage(kind, good)
    path.write_bytes(damaged)
    try:
        with pytest.raises(emulator.EmulatorError) as refused:
            emulator.start()
        message = str(refused.value)
        assert str(path) in message and why in message and "hybridnet emulator start --fresh" in message
        assert path.read_bytes() == damaged and emulator.status() is None
    finally:
        path.write_bytes(good)


def test_a_state_others_could_write_is_refused(made):
    path = emulator.saved_state_file()
    path.chmod(0o622)
    try:
        with pytest.raises(emulator.EmulatorError, match="writable by others"):
            emulator.start()
    finally:
        path.chmod(0o600)


def test_a_state_that_fails_to_load_is_refused_by_the_emulator_itself(made):
    """A header that checks out but a payload that does not unpickle: the emulator exits
    with the same kind of message rather than serve part of it."""
    path = emulator.saved_state_file()
    good = path.read_bytes()
    header = json.loads(good.split(b"\n", 1)[0])
    payload = b"not a pickle"
    import hashlib

    header.update(payload_bytes=len(payload), payload_sha256=hashlib.sha256(payload).hexdigest())
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)
    try:
        with pytest.raises(emulator.EmulatorError, match="could not be loaded.*--fresh"):
            emulator.start()
        assert emulator.status() is None
    finally:
        path.write_bytes(good)


def test_fresh_moves_the_saved_state_aside_and_starts_empty(made):
    path = emulator.saved_state_file()
    path.write_bytes(path.read_bytes()[:100])  # damaged: --fresh is the way out
    damaged = path.read_bytes()
    info = emulator.start(fresh=True)
    kept = [p for p in path.parent.glob(f"{path.stem}.*{path.suffix}")]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    assert info.restored_from is None
    assert made["vpc"] not in [v["VpcId"] for v in aws("ec2").describe_vpcs()["Vpcs"]]
    aws("ec2").create_vpc(CidrBlock="10.79.0.0/16")  # the new state is saved where the old one was
    assert persistence.check(path) is not None
