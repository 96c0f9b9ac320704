"""The reader of AWS's Site-to-Site VPN logs (hybridnet.diagnostics.vpnlogs) on entries
written from AWS's documented log contents (tests/fixtures/aws-logs/vpn-logs.json), in
json and text, tunnel activity and BGP, so that the same code reads a real account's."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hybridnet.diagnostics import vpnlogs

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "aws-logs" / "vpn-logs.json").read_text())
VPN = FIXTURE["vpn_connection_id"]
T1, T2 = FIXTURE["tunnels"]
ARN = "arn:aws:logs:ap-northeast-2:111122223333:log-group:/hybridnet/anycompany/vpn"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return vpnlogs.frame_from_events(VPN, FIXTURE["events"])


def test_every_documented_entry_is_read_and_the_stray_line_is_not(frame):
    assert list(frame.columns) == vpnlogs.COLUMNS
    assert len(frame) == len(FIXTURE["events"]) - 1
    assert set(frame["vpn_connection_id"]) == {VPN}
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"].is_monotonic_increasing


def test_tunnel_log_json_gives_the_phase_states_and_aws_s_message(frame):
    tunnel1 = frame[(frame["outside_ip"] == T1) & (frame["log"] == "tunnel")]
    assert tunnel1["detail"].tolist() == [
        "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key",
        "No Proposal Match Found by AWS",
        'No Proposal Match Found. Notifying with "No proposal chosen"',
        "Peer is not responsive - Declaring peer dead",
        "AWS tunnel detected a pre-shared key mismatch with cgw: 198.51.100.10",
    ]
    assert tunnel1[["phase1", "phase2"]].values.tolist() == [
        ["Down", "Down"],
        ["Negotiating", "Down"],
        ["Established", "Negotiating"],
        ["Down", "Down"],
        ["Down", "Down"],
    ]
    assert tunnel1["bgp_status"].isna().all()
    assert tunnel1["time"].iloc[0] == pd.Timestamp(1762580400, unit="s", tz="UTC")  # epoch seconds


def test_tunnel_log_text_is_read_too(frame):
    tunnel2 = frame[(frame["outside_ip"] == T2) & (frame["log"] == "tunnel")]
    assert tunnel2["detail"].tolist() == [
        "AWS tunnel processed request (id=3) for CREATE_CHILD_SA",
        "AWS tunnel DPD timed out after 3 retransmits",
        "AWS: Traffic Selector: TS_UNACCEPTABLE: received from responder",
    ]  # details keep their colons
    assert tunnel2["phase1"].tolist() == ["Established", "Down", "Down"]
    assert tunnel2["time"].iloc[0] == pd.Timestamp("2025-11-08 05:40:01Z")


def test_bgp_log_gives_status_and_route_changes(frame):
    bgp1 = frame[(frame["outside_ip"] == T1) & (frame["log"] == "bgp")]
    assert bgp1["bgp_status"].tolist() == ["UP", "ADVERTISED", "UPDATED", "DOWN", "WITHDRAWN"]
    assert bgp1["detail"].tolist() == [
        "AWS-side peer BGP session state has changed from OpenConfirm to Established with neighbor 169.254.11.2",
        "192.168.0.0/16 (AS path 65016, next hop 169.254.11.2, local pref 100, MED 0)",
        "172.31.0.0/16 (AS path 64512, next hop 169.254.11.2, local pref 100, MED 100): "
        "DENIED due to: as-path contains our own AS",
        "AWS-side peer detected a bad OPEN message from neighbor 169.254.11.2 - remote AS is 65017, expected 65016",
        "192.168.0.0/16 (AS path 65016, next hop 169.254.11.2)",
    ]
    assert bgp1["phase1"].isna().all() and bgp1["phase2"].isna().all()
    assert bgp1["time"].iloc[0] == pd.Timestamp("2025-11-08 05:40:29.641Z")  # epoch milliseconds
    bgp2 = frame[(frame["outside_ip"] == T2) & (frame["log"] == "bgp")]
    assert bgp2["bgp_status"].tolist() == ["UP", "ADVERTISED"]
    assert bgp2["detail"].tolist()[1] == "192.168.0.0/16 (AS path 65016, next hop 169.254.12.2, local pref 100, MED 0)"


def test_only_the_logs_each_tunnel_sends_there_are_kept():
    kept = vpnlogs.frame_from_events(VPN, FIXTURE["events"], {T1: {"bgp"}, T2: {"tunnel"}})
    assert set(map(tuple, kept[["outside_ip", "log"]].drop_duplicates().values.tolist())) == {
        (T1, "bgp"),
        (T2, "tunnel"),
    }


def test_where_each_tunnel_logs_is_read_from_describe_vpn_connections():
    vpn = {
        "VpnConnectionId": VPN,
        "Options": {
            "TunnelOptions": [
                {
                    "OutsideIpAddress": T1,
                    "LogOptions": {
                        "CloudWatchLogOptions": {
                            "LogEnabled": True,
                            "LogGroupArn": ARN + ":*",
                            "LogOutputFormat": "json",
                            "BgpLogEnabled": True,
                            "BgpLogGroupArn": ARN + "-bgp",
                            "BgpLogOutputFormat": "text",
                        }
                    },
                },
                {
                    "OutsideIpAddress": T2,
                    "LogOptions": {"CloudWatchLogOptions": {"LogEnabled": False, "BgpLogEnabled": False}},
                },
                {"OutsideIpAddress": "203.0.113.13"},
            ]
        },
    }
    assert vpnlogs.tunnel_logs(vpn) == {
        "/hybridnet/anycompany/vpn": {T1: {"tunnel"}},
        "/hybridnet/anycompany/vpn-bgp": {T1: {"bgp"}},
    }


def test_logging_off_is_an_empty_frame_with_the_columns():
    class NoCalls:
        def client(self, service):
            raise AssertionError("no AWS call when no tunnel logs")

    off = {
        "VpnConnectionId": VPN,
        "Options": {
            "TunnelOptions": [{"OutsideIpAddress": T1, "LogOptions": {"CloudWatchLogOptions": {"LogEnabled": False}}}]
        },
    }
    empty = vpnlogs.tunnel_log_frame(NoCalls(), [off], 60)
    assert empty.empty and list(empty.columns) == vpnlogs.COLUMNS
    assert str(empty["time"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize("message", ["", "{not json", "[1, 2]", "2025-11-08 05:40:01Z nothing to see"])
def test_what_is_not_an_entry_is_skipped(message):
    assert vpnlogs.frame_from_events(VPN, [{"logStreamName": f"{VPN}-{T1}", "timestamp": 0, "message": message}]).empty
