"""Client VPN connection logs and the client connect handler's 30 s limit, in an
emulator of this module's own whose limit is lowered to 2 s
(HYBRIDNET_EMULATOR_CLIENT_CONNECT_TIMEOUT_SECONDS): no test waits 30 s."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from hybridnet import emulator
from hybridnet.emulator.client_vpn.handler import HANDLER_TIMEOUT_ENV, HANDLER_TIMEOUT_SECONDS
from hybridnet.handlers import AWS_DEFAULT_DENY_MESSAGE

from .conftest import REGION
from .test_clientvpn import associate_and_wait, certificate, create_endpoint, handler_zip, key_pem, make_vpc, pem

LIMIT_S = 2.0
GROUP = "/hybridnet/cvpnlogs/client-vpn"
STREAM = "connections"

HANDLER = """
import time

def handler(event, context):
    name = event["common-name"]
    if name == "slow":
        time.sleep(10)
    if name == "raises":
        raise RuntimeError("the directory is down")
    if name == "invalid":
        return {"allow": "yes"}
    allowed = name == "client1.domain.tld"
    return {"allow": allowed,
            "error-msg-on-failed-posture-compliance": "" if allowed else "Not on the list of devices",
            "posture-compliance-statuses": ["compliant" if allowed else "quarantined"],
            "schema-version": "v1"}
"""


@pytest.fixture(scope="module")
def info(tmp_path_factory):
    """An emulator of this module's own, started with the handler's limit lowered."""
    home = tmp_path_factory.mktemp("cvpn-logs-emulator")
    saved = {key: os.environ.get(key) for key in ("HYBRIDNET_HOME", HANDLER_TIMEOUT_ENV)}
    os.environ["HYBRIDNET_HOME"], os.environ[HANDLER_TIMEOUT_ENV] = str(home), str(LIMIT_S)
    try:
        yield emulator.start()
    finally:
        emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def aws(info):
    return lambda service: emulator.client(service, REGION, info)


@pytest.fixture(scope="module")
def cvpn(aws, info) -> dict:
    """An available endpoint with connection logging to GROUP/STREAM and the handler enabled."""
    ec2, acm, logs, iam, awslambda = (aws(s) for s in ("ec2", "acm", "logs", "iam", "lambda"))
    ca = certificate("Easy-RSA CA", ca=True)
    server = certificate("server", issuer=ca, san=["server"])
    client_cert = certificate("client1.domain.tld", issuer=ca)
    arns = {
        name: acm.import_certificate(
            Certificate=pem(pair[0]), PrivateKey=key_pem(pair[1]), CertificateChain=pem(ca[0])
        )["CertificateArn"]
        for name, pair in (("server", server), ("client", client_cert))
    }
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    endpoint_id = create_endpoint(
        ec2, arns, ConnectionLogOptions={"Enabled": True, "CloudwatchLogGroup": GROUP, "CloudwatchLogStream": STREAM}
    )["ClientVpnEndpointId"]
    associate_and_wait(ec2, endpoint_id, make_vpc(ec2)["a"])
    role = iam.create_role(
        RoleName="cvpn-logs-handler",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    # The function's own Timeout is longer than Client VPN waits: the service's limit wins.
    function_arn = awslambda.create_function(
        FunctionName="AWSClientVPN-logs-test",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Timeout=60,
        Code={"ZipFile": handler_zip(HANDLER)},
    )["FunctionArn"]
    ec2.modify_client_vpn_endpoint(
        ClientVpnEndpointId=endpoint_id, ClientConnectOptions={"Enabled": True, "LambdaFunctionArn": function_arn}
    )
    return {"id": endpoint_id, "arns": arns}


def connect(info, endpoint_id: str, common_name: str, public_ip: str = "198.51.100.7") -> dict:
    return emulator.admin_call(
        info,
        "POST",
        "clientvpn-connect",
        {
            "region": REGION,
            "client_vpn_endpoint_id": endpoint_id,
            "common_name": common_name,
            "public_ip": public_ip,
            "platform": "linux",
            "client_openvpn_version": "2.6.12",
            "port": "50096",
        },
    )


def entries(aws, connection_id: str | None = None) -> list[dict]:
    events = aws("logs").get_log_events(logGroupName=GROUP, logStreamName=STREAM, startFromHead=True)["events"]
    found = [json.loads(e["message"]) for e in events]
    return [e for e in found if connection_id is None or e["connection-id"] == connection_id]


def test_the_limit_is_thirty_seconds_unless_lowered():
    assert HANDLER_TIMEOUT_SECONDS == 30.0


def test_an_admitted_connection_logs_its_attempt_and_its_end(aws, info, cvpn):
    answer = connect(info, cvpn["id"], "client1.domain.tld")
    assert answer["allow"] is True
    [attempt] = entries(aws, answer["connection_id"])
    assert attempt["connection-log-type"] == "connection-attempt"
    assert (attempt["connection-attempt-status"], attempt["connection-attempt-failure-reason"]) == ("successful", "NA")
    assert attempt["client-vpn-endpoint-id"] == cvpn["id"]
    assert (attempt["client-ip"], attempt["common-name"]) == (answer["client_ip"], "client1.domain.tld")
    assert (attempt["device-ip"], attempt["port"], attempt["device-type"]) == ("198.51.100.7", "50096", "linux")
    assert attempt["transport-protocol"] == "udp"
    assert attempt["connection-start-time"] == attempt["connection-last-update-time"] != "NA"
    assert attempt["connection-end-time"] == "NA"
    assert attempt["posture-compliance-statuses"] == ["compliant"]
    assert "username" not in attempt  # mutual authentication: no user name
    assert all(isinstance(v, str) for k, v in attempt.items() if k != "posture-compliance-statuses")

    emulator.admin_call(
        info,
        "POST",
        "clientvpn-connection",
        {
            "region": REGION,
            "client_vpn_endpoint_id": cvpn["id"],
            "connection_id": answer["connection_id"],
            "status": "terminated",
            "ingress_bytes": 2048,
            "egress_bytes": 4096,
        },
    )
    first, end = entries(aws, answer["connection_id"])
    assert first == attempt
    assert (end["connection-attempt-status"], end["connection-attempt-failure-reason"]) == ("successful", "NA")
    assert end["connection-end-time"] != "NA" and end["connection-start-time"] == attempt["connection-start-time"]
    assert (end["ingress-bytes"], end["egress-bytes"]) == ("2048", "4096")
    assert int(end["connection-duration-seconds"]) >= 0
    # reported again: logged once
    emulator.admin_call(
        info,
        "POST",
        "clientvpn-connection",
        {
            "region": REGION,
            "client_vpn_endpoint_id": cvpn["id"],
            "connection_id": answer["connection_id"],
            "status": "terminated",
        },
    )
    assert len(entries(aws, answer["connection_id"])) == 2


def test_a_termination_asked_through_the_api_is_logged_when_it_completes(aws, info, cvpn):
    answer = connect(info, cvpn["id"], "client1.domain.tld")
    ec2 = aws("ec2")
    ec2.terminate_client_vpn_connections(ClientVpnEndpointId=cvpn["id"], ConnectionId=answer["connection_id"])
    deadline = time.monotonic() + 10
    while len(entries(aws, answer["connection_id"])) < 2:
        assert time.monotonic() < deadline, entries(aws, answer["connection_id"])
        ec2.describe_client_vpn_connections(ClientVpnEndpointId=cvpn["id"])
        time.sleep(0.2)
    assert entries(aws, answer["connection_id"])[-1]["connection-end-time"] != "NA"


@pytest.mark.parametrize(
    "common_name, reason, message",
    [
        ("stranger", "client-connect-failed", "Not on the list of devices"),  # the handler denied: its message
        ("raises", "client-connect-handler-other-execution-error", AWS_DEFAULT_DENY_MESSAGE),
        ("invalid", "client-connect-handler-invalid-response", AWS_DEFAULT_DENY_MESSAGE),
    ],
)
def test_a_refused_attempt_is_logged_with_the_handlers_reason(aws, info, cvpn, common_name, reason, message):
    answer = connect(info, cvpn["id"], common_name)
    assert (answer["allow"], answer["message"], answer["failure_reason"]) == (False, message, reason)
    [attempt] = entries(aws, answer["connection_id"])
    assert (attempt["connection-attempt-status"], attempt["connection-attempt-failure-reason"]) == ("failed", reason)
    assert attempt["common-name"] == common_name and attempt["device-ip"] == "198.51.100.7"
    # as AWS's example of a refused attempt: no client address, start, end or duration
    assert (
        attempt["client-ip"],
        attempt["connection-start-time"],
        attempt["connection-end-time"],
        attempt["connection-duration-seconds"],
    ) == ("NA", "NA", "NA", "NA")
    assert attempt["connection-last-update-time"] != "NA"


def test_a_handler_that_does_not_answer_in_time_is_stopped_and_logged_as_timed_out(aws, info, cvpn):
    started = time.monotonic()
    answer = connect(info, cvpn["id"], "slow")
    took = time.monotonic() - started
    assert LIMIT_S <= took < LIMIT_S + 5, took  # not the function's own 60 s, not its 10 s sleep
    assert (answer["allow"], answer["message"]) == (False, AWS_DEFAULT_DENY_MESSAGE)
    assert answer["failure_reason"] == "client-connect-handler-timed-out"
    [attempt] = entries(aws, answer["connection_id"])
    assert attempt["connection-attempt-failure-reason"] == "client-connect-handler-timed-out"
    described = aws("ec2").describe_client_vpn_connections(
        ClientVpnEndpointId=cvpn["id"], Filters=[{"Name": "connection-id", "Values": [answer["connection_id"]]}]
    )["Connections"]
    assert described[0]["Status"]["Code"] == "terminated"
    # Lambda's own log of the invocation says it was stopped at the limit
    logs = aws("logs")
    lines = [
        e["message"]
        for s in logs.describe_log_streams(logGroupName="/aws/lambda/AWSClientVPN-logs-test")["logStreams"]
        for e in logs.get_log_events(
            logGroupName="/aws/lambda/AWSClientVPN-logs-test", logStreamName=s["logStreamName"]
        )["events"]
    ]
    assert any(f"Task timed out after {LIMIT_S:.2f} seconds" in line for line in lines), lines


def test_the_log_destination_is_checked_as_aws_does(aws, cvpn):
    ec2 = aws("ec2")
    for options in (
        {"Enabled": True, "CloudwatchLogGroup": "/hybridnet/no-such-group"},
        {"Enabled": True, "CloudwatchLogGroup": GROUP, "CloudwatchLogStream": "no-such-stream"},
        {"Enabled": True},
    ):
        with pytest.raises(ClientError) as exc:
            ec2.modify_client_vpn_endpoint(ClientVpnEndpointId=cvpn["id"], ConnectionLogOptions=options)
        assert exc.value.response["Error"]["Code"] == "InvalidParameterValue", options
    described = ec2.describe_client_vpn_endpoints(ClientVpnEndpointIds=[cvpn["id"]])["ClientVpnEndpoints"][0]
    assert described["ConnectionLogOptions"] == {
        "Enabled": True,
        "CloudwatchLogGroup": GROUP,
        "CloudwatchLogStream": STREAM,
    }


def test_without_connection_logging_nothing_is_written(aws, info, cvpn):
    ec2 = aws("ec2")
    other = create_endpoint(ec2, cvpn["arns"])["ClientVpnEndpointId"]
    associate_and_wait(ec2, other, make_vpc(ec2)["a"])
    before = len(entries(aws))
    answer = connect(info, other, f"client-{uuid.uuid4().hex[:4]}")
    assert answer["allow"] is True  # no handler on this one
    assert len(entries(aws)) == before
