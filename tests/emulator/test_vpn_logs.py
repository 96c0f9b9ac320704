"""Site-to-Site VPN logs in the emulator: TunnelOptions[].LogOptions.CloudWatchLogOptions
(tunnel activity and BGP logs) on CreateVpnConnection and ModifyVpnTunnelOptions, refused
as AWS refuses them, shown by DescribeVpnConnections, and kept across a restart.

One emulator of the module's own (it is restarted by the last test)."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hybridnet import emulator

from .conftest import REGION

ONE_TRY = Config(retries={"max_attempts": 1, "mode": "standard"})
GROUP = "/hybridnet/logtest/vpn"


def aws(service: str):
    info = emulator.status()
    assert info is not None, "the emulator is not running"
    return emulator.client(service, REGION, info, config=ONE_TRY)


@pytest.fixture(scope="module")
def made(own_emulator):
    ec2, logs = aws("ec2"), aws("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_group(logGroupName=GROUP + "-bgp")
    arns = {
        g["logGroupName"]: g["logGroupArn"] for g in logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    }
    tgw = ec2.create_transit_gateway(Options={"AmazonSideAsn": 64600})["TransitGateway"]
    cgw = ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65016, IpAddress="198.51.100.10")["CustomerGateway"]
    return {
        "tgw": tgw["TransitGatewayId"],
        "cgw": cgw["CustomerGatewayId"],
        "arn": arns[GROUP],
        "bgp_arn": arns[GROUP + "-bgp"],
    }


def create(made, *tunnel_options) -> dict:
    return aws("ec2").create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=made["cgw"],
        TransitGatewayId=made["tgw"],
        Options={"TunnelOptions": list(tunnel_options)},
    )["VpnConnection"]


def log_options(vpn_id: str) -> list[dict]:
    vpn = aws("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]
    return [t["LogOptions"]["CloudWatchLogOptions"] for t in vpn["Options"]["TunnelOptions"]]


def both(made, output="json", bgp_output="text") -> dict:
    return {
        "LogOptions": {
            "CloudWatchLogOptions": {
                "LogEnabled": True,
                "LogGroupArn": made["arn"],
                "LogOutputFormat": output,
                "BgpLogEnabled": True,
                "BgpLogGroupArn": made["bgp_arn"],
                "BgpLogOutputFormat": bgp_output,
            }
        }
    }


def test_create_with_tunnel_and_bgp_logs_describes_them(made):
    vpn = create(made, both(made), {})
    first, second = log_options(vpn["VpnConnectionId"])
    assert first == {
        "LogEnabled": True,
        "LogGroupArn": made["arn"],
        "LogOutputFormat": "json",
        "BgpLogEnabled": True,
        "BgpLogGroupArn": made["bgp_arn"],
        "BgpLogOutputFormat": "text",
    }
    assert second == {"LogEnabled": False, "BgpLogEnabled": False}  # AWS's default: off


def test_the_output_format_defaults_to_json(made):
    vpn = create(
        made,
        {
            "LogOptions": {
                "CloudWatchLogOptions": {
                    "LogEnabled": True,
                    "LogGroupArn": made["arn"],
                    "BgpLogEnabled": True,
                    "BgpLogGroupArn": made["arn"],
                }
            }
        },
    )
    first = log_options(vpn["VpnConnectionId"])[0]
    assert (first["LogOutputFormat"], first["BgpLogOutputFormat"]) == ("json", "json")


def test_the_arn_with_the_streams_wildcard_is_accepted(made):
    vpn = create(
        made, {"LogOptions": {"CloudWatchLogOptions": {"LogEnabled": True, "LogGroupArn": made["arn"] + ":*"}}}
    )
    assert log_options(vpn["VpnConnectionId"])[0]["LogGroupArn"] == made["arn"] + ":*"


@pytest.mark.parametrize(
    "cloudwatch, words",
    [
        ({"LogEnabled": True}, "LogGroupArn is required when LogEnabled is true"),
        ({"BgpLogEnabled": True}, "BgpLogGroupArn is required when BgpLogEnabled is true"),
        (
            {"LogEnabled": True, "LogGroupArn": "arn:aws:logs:ap-northeast-2:123456789012:log-group:/nope"},
            "does not exist",
        ),
        (
            {"BgpLogEnabled": True, "BgpLogGroupArn": "arn:aws:logs:ap-northeast-2:123456789012:log-group:/nope"},
            "does not exist",
        ),
        ({"LogEnabled": True, "LogGroupArn": "/hybridnet/logtest/vpn"}, "not the ARN of a CloudWatch Logs log group"),
        (
            {"LogEnabled": True, "LogGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/hybridnet/logtest/vpn"},
            "must be in the VPN connection's account and Region",
        ),
        (
            {"LogEnabled": True, "LogGroupArn": "ARN", "LogOutputFormat": "xml"},
            "Invalid value 'xml' for LogOutputFormat",
        ),
    ],
)
def test_what_aws_refuses_is_refused_on_create_and_on_modify(made, cloudwatch, words):
    ec2 = aws("ec2")
    before = len(ec2.describe_vpn_connections()["VpnConnections"])
    with pytest.raises(ClientError) as refused:
        create(made, {"LogOptions": {"CloudWatchLogOptions": cloudwatch}})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert words in refused.value.response["Error"]["Message"]
    assert len(ec2.describe_vpn_connections()["VpnConnections"]) == before  # nothing was created
    vpn = create(made)
    outside = vpn["Options"]["TunnelOptions"][0]["OutsideIpAddress"]
    with pytest.raises(ClientError) as refused:
        ec2.modify_vpn_tunnel_options(
            VpnConnectionId=vpn["VpnConnectionId"],
            VpnTunnelOutsideIpAddress=outside,
            TunnelOptions={"LogOptions": {"CloudWatchLogOptions": cloudwatch}},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert words in refused.value.response["Error"]["Message"]
    assert log_options(vpn["VpnConnectionId"])[0] == {"LogEnabled": False, "BgpLogEnabled": False}


def test_modify_turns_logging_on_and_off_on_one_tunnel_only(made):
    vpn = create(made)
    vpn_id = vpn["VpnConnectionId"]
    first, second = (t["OutsideIpAddress"] for t in vpn["Options"]["TunnelOptions"])
    ec2 = aws("ec2")
    ec2.modify_vpn_tunnel_options(
        VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=second, TunnelOptions=both(made, "text", "json")
    )
    assert log_options(vpn_id) == [
        {"LogEnabled": False, "BgpLogEnabled": False},
        {
            "LogEnabled": True,
            "LogGroupArn": made["arn"],
            "LogOutputFormat": "text",
            "BgpLogEnabled": True,
            "BgpLogGroupArn": made["bgp_arn"],
            "BgpLogOutputFormat": "json",
        },
    ]
    # Other options changed without LogOptions leave the tunnel's logging as it is.
    ec2.modify_vpn_tunnel_options(
        VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=second, TunnelOptions={"DPDTimeoutSeconds": 40}
    )
    assert log_options(vpn_id)[1]["LogEnabled"] is True
    ec2.modify_vpn_tunnel_options(
        VpnConnectionId=vpn_id,
        VpnTunnelOutsideIpAddress=second,
        TunnelOptions={"LogOptions": {"CloudWatchLogOptions": {"LogEnabled": False, "BgpLogEnabled": False}}},
    )
    assert log_options(vpn_id)[1] == {"LogEnabled": False, "BgpLogEnabled": False}
    telemetry = ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]["VgwTelemetry"]
    assert telemetry[1]["Status"] == "DOWN"  # AWS: enabling logs interrupts the tunnel for a while
    assert log_options(vpn_id)[0] == {"LogEnabled": False, "BgpLogEnabled": False}


def test_log_options_survive_a_restart(made):
    vpn_id = create(made, both(made), both(made, "text", "text"))["VpnConnectionId"]
    before = log_options(vpn_id)
    emulator.stop()
    emulator.start()
    assert log_options(vpn_id) == before
    assert before[1]["LogOutputFormat"] == "text"


def test_the_reader_reads_each_tunnel_s_group_through_filter_log_events(made):
    """diagnostics.vpnlogs.tunnel_log_frame against CloudWatch Logs (the emulator's): the
    fixture's documented entries put into the groups the tunnels' LogOptions name."""
    import json
    import time
    from pathlib import Path

    from hybridnet.diagnostics.vpnlogs import tunnel_log_frame

    fixture = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "aws-logs" / "vpn-logs.json").read_text())
    vpn = create(made, both(made), both(made))
    vpn_id = vpn["VpnConnectionId"]
    ips = [t["OutsideIpAddress"] for t in vpn["Options"]["TunnelOptions"]]
    logs = aws("logs")
    now_ms, newest = int(time.time() * 1000), max(e["timestamp"] for e in fixture["events"])
    streams: dict[tuple[str, str], list[dict]] = {}
    for event in fixture["events"]:
        stream = event["logStreamName"].replace(fixture["vpn_connection_id"], vpn_id)
        for old, new in zip(fixture["tunnels"], ips):
            stream = stream.replace(old, new)
        group = GROUP + "-bgp" if stream.endswith("-bgp") else GROUP  # as both() sends them
        message = event["message"]
        for old, new in zip(fixture["tunnels"], ips):
            message = message.replace(f"_{old}", f"_{new}")
        streams.setdefault((group, stream), []).append(
            {"timestamp": now_ms - (newest - event["timestamp"]) - 1000, "message": message}
        )
    for (group, stream), events in streams.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    class Context:
        def client(self, service):
            return aws(service)

    described = aws("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"]
    frame = tunnel_log_frame(Context(), described, lookback_minutes=30)
    assert len(frame) == len(fixture["events"]) - 1  # the stray line is no entry
    assert set(frame["outside_ip"]) == set(ips) and set(frame["vpn_connection_id"]) == {vpn_id}
    psk = frame[frame["detail"] == "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key"]
    assert psk["outside_ip"].tolist() == [ips[0]]
    assert tunnel_log_frame(Context(), described, lookback_minutes=0).empty  # nothing in an empty window
    other = create(made)  # logging off: no data
    assert tunnel_log_frame(Context(), [other], lookback_minutes=30).empty
