"""The lab's writer of AWS's Site-to-Site VPN logs (hybridnet.lab.vpnlogs) on real daemon
logs: tests/fixtures/lab-logs/ holds the AWS side's charon (strongSwan 5.9.8, IKEv1) and
bgpd (FRR 8.4.4) logs of a lab run in which the customer gateway, in turn, used a wrong
pre-shared key on tunnel 1, a phase 1 proposal AWS does not allow, a phase 2 one, a
wrong BGP ASN (local-as 65099), withdrew and announced its prefix again, and lost its
charon (dead peer detection on both tunnels); and charon's log of the same with IKEv2
(charon-aws-ikev2.log: no DPD, a traffic selector the AWS side refuses instead). And the
entries it writes, in json and text, read back by the runbook's reader
(hybridnet.diagnostics.vpnlogs)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hybridnet.diagnostics import vpnlogs as reader
from hybridnet.lab import vpnlogs

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "lab-logs"
T1, T2, CGW = "203.0.113.11", "203.0.113.12", "198.51.100.10"
LAB_TUNNELS = [
    {"aws_connection": "tunnel1", "vgw_outside_ip": T1, "cgw_outside_ip": CGW, "cgw_inside_ip": "169.254.11.2"},
    {"aws_connection": "tunnel2", "vgw_outside_ip": T2, "cgw_outside_ip": CGW, "cgw_inside_ip": "169.254.12.2"},
]
NEIGHBORS = {"169.254.11.2": T1, "169.254.12.2": T2}
PSK = "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key"


@pytest.fixture(scope="module")
def tunnel_events() -> list[tuple[str, tuple]]:
    lines = (LOGS / "charon-aws.log").read_text().splitlines()
    now = dt.datetime(2026, 12, 3).astimezone()
    return [(ip, entry) for _, ip, entry in vpnlogs.charon_events(lines, vpnlogs._Tunnels({}, LAB_TUNNELS), now)]


@pytest.fixture(scope="module")
def bgp_events() -> list[tuple[str, str, str, dict]]:
    lines = (LOGS / "bgpd-aws.log").read_text().splitlines()
    return [event[1:] for event in vpnlogs.bgp_events(lines, {}, NEIGHBORS)]


def details(events, ip: str) -> list[str]:
    return [entry[0] for where, entry in events if where == ip]


def test_both_tunnels_come_up_with_their_phase_states(tunnel_events):
    for ip in (T1, T2):
        first = [entry for where, entry in tunnel_events if where == ip][:3]
        assert first[0] == (
            f"AWS tunnel Phase 1 (IKE_SA) established with cgw: {CGW}",
            "Established",
            "Negotiating",
            True,
        )  # the lab's IKE runs UDP-encapsulated: NAT-T detected
        assert first[1][0].startswith("AWS tunnel Phase 2 SA established with SPI: ")
        assert first[1][1:3] == ("Established", "Established")


def test_each_fault_gives_aws_s_message_on_its_tunnel_only(tunnel_events):
    ones = details(tunnel_events, T1)
    for message in (
        PSK,
        "No Proposal Match Found by AWS",
        'No Proposal Match Found. Notifying with "No proposal chosen"',
        "AWS tunnel received DELETE for IKE_SA from CGW",
        f"AWS tunnel Timeout: deleting un-established Phase 1 IKE_SA with cgw: {CGW}",
    ):
        assert message in ones
        assert message not in details(tunnel_events, T2)
    psk = next(entry for where, entry in tunnel_events if where == T1 and entry[0] == PSK)
    assert psk[1:3] == ("Down", "Down")
    assert any(d.startswith("AWS tunnel received DELETE for Phase 2 SA with SPI: ") for d in ones)


def test_a_dead_customer_gateway_is_declared_dead_on_both_tunnels(tunnel_events):
    last = {ip: [entry for where, entry in tunnel_events if where == ip][-1] for ip in (T1, T2)}
    assert last == {ip: ("Peer is not responsive - Declaring peer dead", "Down", "Down", True) for ip in (T1, T2)}


def test_ikev2_faults_give_aws_s_ikev2_messages():
    lines = (LOGS / "charon-aws-ikev2.log").read_text().splitlines()
    now = dt.datetime(2026, 12, 3).astimezone()
    events = [(ip, entry) for _, ip, entry in vpnlogs.charon_events(lines, vpnlogs._Tunnels({}, LAB_TUNNELS), now)]
    ones = details(events, T1)
    for message in (
        f"AWS tunnel detected a pre-shared key mismatch with cgw: {CGW}",
        "AWS tunnel is sending AUTHENTICATION_FAILED as the response",
        "No Proposal Match Found by AWS",  # IKE_SA_INIT: received proposals unacceptable
        'No Proposal Match Found. Notifying with "No proposal chosen"',
        "AWS tunnel Phase 2 was unable to establish while keeping Phase 1",
        "AWS: Traffic Selector: TS_UNACCEPTABLE: received from responder",
        "AWS tunnel processed request (id=2) for CREATE_CHILD_SA",
        "AWS tunnel is sending response (id=2) for CREATE_CHILD_SA",
    ):
        assert message in ones
    twos = details(events, T2)
    assert not [d for d in twos if "mismatch" in d or "No Proposal" in d or "unable" in d or "TS_" in d]
    mismatch = next(entry for where, entry in events if where == T1 and "pre-shared key mismatch" in entry[0])
    assert mismatch[1:3] == ("Down", "Down")


def test_bgp_sessions_their_routes_and_the_wrong_asn(bgp_events):
    ups = [(ip, m["details"]) for ip, kind, status, m in bgp_events if kind == "BGPStatus" and status == "UP"]
    for ip, neighbor in ((T1, "169.254.11.2"), (T2, "169.254.12.2")):
        assert (
            ip,
            f"AWS-side peer BGP session state has changed from OpenConfirm to Established with neighbor {neighbor}",
        ) in ups
    bad = [m["details"] for ip, kind, status, m in bgp_events if "bad OPEN" in m.get("details", "")]
    assert bad == [
        "AWS-side peer detected a bad OPEN message from neighbor 169.254.11.2 - remote AS is 65099, expected 65016"
    ]  # bgpd tried every second: said once a minute
    routes = [
        (ip, status, m["prefix"], m.get("details")) for ip, kind, status, m in bgp_events if kind == "RouteStatus"
    ]
    assert (T1, "ADVERTISED", "192.168.0.0/16", None) in routes
    assert (T1, "ADVERTISED", "10.0.0.0/16", "DENIED due to: as-path contains our own AS") in routes
    assert (T2, "WITHDRAWN", "192.168.0.0/16", None) in routes
    advertised = next(
        m
        for ip, kind, status, m in bgp_events
        if kind == "RouteStatus" and status == "ADVERTISED" and m["prefix"] == "192.168.0.0/16"
    )
    assert advertised == {
        "prefix": "192.168.0.0/16",
        "asPath": "65016",
        "localPref": 100,
        "med": 0,
        "nextHopIp": "169.254.11.2",
        "weight": 0,
    }
    downs = [m["details"] for ip, kind, status, m in bgp_events if ip == T2 and status == "DOWN"]
    assert "AWS-side peer sent a Hold Timer Expired notification to neighbor 169.254.12.2" in downs
    assert "AWS-side peer BGP session state has changed from Established to Idle with neighbor 169.254.12.2" in downs


def test_only_lines_of_the_daemon_that_runs_now_count():
    lines = (LOGS / "bgpd-aws.log").read_text().splitlines()
    later = vpnlogs._frr_time("2026/12/02 19:27:40")
    events = vpnlogs.bgp_events(lines, {}, NEIGHBORS, since=later)
    assert events and all(epoch >= later for epoch, *_ in events)


@pytest.mark.parametrize("output", ["json", "text"])
def test_what_the_lab_writes_the_runbook_reads(output):
    vpn_id, epoch = "vpn-0123456789abcdef0", 1764703601.25
    streams = vpnlogs.stream_names(vpn_id, T1)
    events = [
        {
            "logStreamName": streams["tunnel"],
            "timestamp": int(epoch * 1000),
            "message": vpnlogs.tunnel_entry(epoch, PSK, "Down", "Down", True, output),
        },
        {
            "logStreamName": streams["bgp"],
            "timestamp": int(epoch * 1000) + 1,
            "message": vpnlogs.bgp_entry(
                epoch + 0.001,
                f"{vpn_id}_{T1}",
                "BGPStatus",
                "DOWN",
                {
                    "details": "AWS-side peer detected a bad OPEN message from neighbor 169.254.11.2 - remote AS is "
                    "65099, expected 65016"
                },
                output,
            ),
        },
        {
            "logStreamName": streams["bgp"],
            "timestamp": int(epoch * 1000) + 2,
            "message": vpnlogs.bgp_entry(
                epoch + 0.002,
                f"{vpn_id}_{T1}",
                "RouteStatus",
                "ADVERTISED",
                {
                    "prefix": "10.0.0.0/16",
                    "asPath": "65016 64512",
                    "localPref": 100,
                    "med": 0,
                    "nextHopIp": "169.254.11.2",
                    "weight": 0,
                    "details": "DENIED due to: as-path contains our own AS",
                },
                output,
            ),
        },
    ]
    if output == "json":
        tunnel = json.loads(events[0]["message"])
        assert list(tunnel) == [
            "event_timestamp",
            "timestamp",
            "details",
            "dpd_enabled",
            "nat_t_detected",
            "ike_phase1_state",
            "ike_phase2_state",
        ]
        assert (tunnel["event_timestamp"], tunnel["timestamp"]) == (1764703601, "2025-12-02 19:26:41.250Z")
        assert list(json.loads(events[1]["message"])) == [
            "resource_id",
            "event_timestamp",
            "timestamp",
            "type",
            "status",
            "message",
        ]
    frame = reader.frame_from_events(vpn_id, events)
    assert frame["log"].tolist() == ["tunnel", "bgp", "bgp"]
    assert set(frame["outside_ip"]) == {T1}
    assert frame[["phase1", "phase2"]].iloc[0].tolist() == ["Down", "Down"]
    assert frame["detail"].tolist() == [
        PSK,
        "AWS-side peer detected a bad OPEN message from neighbor 169.254.11.2 - remote AS is 65099, expected 65016",
        "10.0.0.0/16 (AS path 65016 64512, next hop 169.254.11.2, local pref 100, MED 0): "
        "DENIED due to: as-path contains our own AS",
    ]
    assert frame["bgp_status"].tolist()[1:] == ["DOWN", "ADVERTISED"]
    assert frame["time"].iloc[0].floor("s") == dt.datetime.fromtimestamp(int(epoch), dt.UTC)
