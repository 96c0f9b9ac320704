"""The cause catalogue: each WARN/FAIL verdict gets the cause its signals show, the
evidence and the fix; UNKNOWN (with what was looked at) where nothing matches."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from hybridnet.diagnostics import causes, tunnels, verdicts
from hybridnet.params import Thresholds, load_params

ROOT = Path(__file__).resolve().parents[2]
T0 = pd.Timestamp("2026-12-02T10:00:00Z")


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params" / "lab.yaml")


def telemetry(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "vpn_connection_id": "vpn-0123456789abcdef0",
                "outside_ip": ip,
                "status": status,
                "status_message": message,
                "accepted_routes": routes,
                "last_status_change": None,
            }
            for ip, status, message, routes in rows
        ],
        columns=tunnels.TELEMETRY_COLUMNS,
    )


def vpn_log(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "time": T0 + pd.Timedelta(seconds=s),
                "vpn_connection_id": "vpn-0123456789abcdef0",
                "outside_ip": ip,
                "log": log,
                "phase1": p1,
                "phase2": p2,
                "bgp_status": bgp,
                "detail": detail,
            }
            for s, ip, log, p1, p2, bgp, detail in rows
        ]
    )


def evidence(params, **fields) -> verdicts.Evidence:
    base = dict(
        params=params,
        thresholds=Thresholds(),
        telemetry=telemetry(),
        timeline=pd.DataFrame(columns=["vpn_connection_id", "outside_ip", "time", "up"]),
        tgw_routes=None,
        router_bgp=None,
    )
    return verdicts.Evidence(**{**base, **fields})


def by_check(found: list[verdicts.Verdict]) -> dict[str, verdicts.Verdict]:
    return {v.check: v for v in found}


PSK = "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key"


def test_a_psk_message_for_the_down_tunnel_names_the_cause_evidence_and_fix(params):
    ev = evidence(
        params,
        telemetry=telemetry(("203.0.113.11", "DOWN", "IPSEC IS DOWN", 0), ("203.0.113.12", "UP", "1 BGP ROUTES", 1)),
        vpn_logs=vpn_log(
            (0, "203.0.113.11", "tunnel", "established", "established", "", "Tunnel is up"),
            (60, "203.0.113.11", "tunnel", "negotiating", "down", "", PSK),
            (60, "203.0.113.12", "tunnel", "negotiating", "down", "", "No Proposal Match Found by AWS"),
            (90, "203.0.113.12", "tunnel", "established", "established", "", "up again"),
        ),
    )
    tunnels = by_check(verdicts.evaluate(ev))["tunnels vpn-0123456789abcdef0"]
    assert (tunnels.status, tunnels.cause) == ("WARN", "IKE_PSK_MISMATCH")
    assert PSK in tunnels.evidence and "203.0.113.11" in tunnels.evidence and "10:01:00" in tunnels.evidence
    assert "No Proposal" not in tunnels.evidence  # the other tunnel's old failure, healed since
    assert tunnels.action == causes.BY_CODE["IKE_PSK_MISMATCH"].fix


def test_a_failure_that_healed_is_not_a_cause_and_nothing_else_is_unknown(params):
    ev = evidence(
        params,
        telemetry=telemetry(("203.0.113.11", "DOWN", "IPSEC IS DOWN", 0), ("203.0.113.12", "DOWN", "IPSEC IS DOWN", 0)),
        vpn_logs=vpn_log(
            (0, "203.0.113.11", "tunnel", "negotiating", "down", "", PSK),
            (30, "203.0.113.11", "tunnel", "established", "established", "", "up"),
        ),
    )
    tunnels = by_check(verdicts.evaluate(ev))["tunnels vpn-0123456789abcdef0"]
    assert (tunnels.status, tunnels.cause) == ("FAIL", causes.UNKNOWN)
    assert re.fullmatch(r"nothing in .*Site-to-Site VPN tunnel log.* names a cause", tunnels.evidence)
    assert "swanctl" in tunnels.action  # the check's own advice stays where no cause is known


def test_ok_verdicts_carry_no_cause(params):
    ev = evidence(params, telemetry=telemetry(("203.0.113.11", "UP", "", 1), ("203.0.113.12", "UP", "", 1)))
    assert {v.cause for v in verdicts.evaluate(ev) if v.status == "OK"} == {""}


@pytest.mark.parametrize(
    "detail, code",
    [
        ("Peer is not responsive - Declaring peer dead", "DPD_TIMEOUT"),
        ('No Proposal Match Found. Notifying with "No proposal chosen"', "IKE_PHASE2_NO_PROPOSAL"),
        ("No Proposal Match Found by AWS", "IKE_PHASE1_NO_PROPOSAL"),
    ],
)
def test_tunnel_log_messages_from_aws_s_catalogue(params, detail, code):
    ev = evidence(
        params,
        telemetry=telemetry(("203.0.113.11", "DOWN", "", 0), ("203.0.113.12", "DOWN", "", 0)),
        vpn_logs=vpn_log((0, "203.0.113.12", "tunnel", "negotiating", "down", "", detail)),
    )
    assert by_check(verdicts.evaluate(ev))["tunnels vpn-0123456789abcdef0"].cause == code


def test_dns_causes_from_api_facts(params):
    dns = pd.DataFrame(
        [
            {
                "side": "on-prem client",
                "server": "192.168.2.250",
                "name": "web1.awsanycompany.corp",
                "type": "A",
                "answer": "",
                "rcode": "SERVFAIL",
                "latency_ms": 5.0,
                "expected": "10.0.10.10",
                "ok": False,
                "detail": "",
            }
        ]
    )
    facts = pd.DataFrame(
        [
            {
                "subject": "sg-0123",
                "text": "security group sg-0123 admits no udp/53 from 192.168.0.0/16 (the on-prem network)",
                "ok": False,
            },
            {
                "subject": "rslvr-rr-1",
                "text": "forwarding rule rslvr-rr-1 for anycompany.corp is associated with vpc-1",
                "ok": True,
            },
        ]
    )
    found = by_check(verdicts.evaluate(evidence(params, dns=dns, facts=facts)))
    assert found["hybrid DNS"].cause == "RESOLVER_SG_BLOCKS_DNS" and "sg-0123" in found["hybrid DNS"].evidence
    facts.loc[0, "ok"], facts.loc[1, "ok"] = True, False
    facts.loc[1, "text"] = "forwarding rule rslvr-rr-1 for anycompany.corp is not associated with vpc-1"
    found = by_check(verdicts.evaluate(evidence(params, dns=dns, facts=facts)))
    assert found["hybrid DNS"].cause == "RESOLVER_RULE_NOT_ASSOCIATED"


def test_certificates_warn_ahead_and_fail_when_expired(params):
    def certs(days):
        return pd.DataFrame(
            [
                {
                    "endpoint_id": "cvpn-endpoint-0123456789abcdef0",
                    "role": "server",
                    "certificate": "abc",
                    "domain": "server.hybridnet.lab",
                    "not_after": dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
                    "days_left": days,
                }
            ]
        )

    assert by_check(verdicts.evaluate(evidence(params, certificates=certs(200))))["certificates"].status == "OK"
    soon = by_check(verdicts.evaluate(evidence(params, certificates=certs(5))))["certificates"]
    assert (soon.status, soon.cause) == ("WARN", "CERT_EXPIRING") and "expires in 5 day(s)" in soon.evidence
    gone = by_check(verdicts.evaluate(evidence(params, certificates=certs(-2))))["certificates"]
    assert (gone.status, gone.cause) == ("FAIL", "CERT_EXPIRING") and "expired 2 day(s) ago" in gone.evidence


def test_the_handler_s_answers_name_timeout_error_and_denial(params):
    endpoints = pd.DataFrame(
        [
            {
                "endpoint_id": "cvpn-endpoint-0123456789abcdef0",
                "status": "available",
                "client_cidr": "172.16.0.0/22",
                "associations": 2,
                "active": 0,
                "denied": 0,
                "connect_handler": "arn:aws:lambda:x:1:function:f",
            }
        ]
    )

    def probe(reason_admitted):
        return pd.DataFrame(
            [
                {
                    "endpoint_id": "cvpn-endpoint-0123456789abcdef0",
                    "event": "a user the policy admits",
                    "public_ip": "192.0.2.10",
                    "expected_allow": True,
                    "allow": False,
                    "failure_reason": reason_admitted,
                    "message": "x",
                },
                {
                    "endpoint_id": "cvpn-endpoint-0123456789abcdef0",
                    "event": "a user the policy refuses",
                    "public_ip": "198.51.100.7",
                    "expected_allow": False,
                    "allow": False,
                    "failure_reason": "client-connect-failed",
                    "message": "not from here",
                },
            ]
        )

    for reason, code in (
        ("client-connect-handler-timed-out", "HANDLER_TIMEOUT"),
        ("client-connect-handler-other-execution-error", "HANDLER_ERROR"),
        ("client-connect-failed", "HANDLER_DENIED"),
    ):
        ev = evidence(
            params, client_vpn={"endpoints": endpoints, "connections": pd.DataFrame(), "handler_probe": probe(reason)}
        )
        assert by_check(verdicts.evaluate(ev))["connect handler"].cause == code, reason


def test_every_cause_is_documented_and_every_pattern_compiles():
    frame = causes.catalogue_frame()
    assert frame["cause"].is_unique and set(frame["cause"]) >= {
        "IKE_PSK_MISMATCH",
        "IKE_PHASE1_NO_PROPOSAL",
        "IKE_PHASE2_NO_PROPOSAL",
        "DPD_TIMEOUT",
        "BGP_ASN_MISMATCH",
        "BGP_PREFIX_NOT_ANNOUNCED",
        "RESOLVER_SG_BLOCKS_DNS",
        "RESOLVER_RULE_NOT_ASSOCIATED",
        "ONPREM_DNS_DOWN",
        "HANDLER_DENIED",
        "HANDLER_ERROR",
        "HANDLER_TIMEOUT",
        "CERT_EXPIRING",
    }
    known = set(verdicts.CHECKS) | {"access"}  # "access": the fleet check's account-regions not read
    for cause in causes.CATALOGUE:
        assert set(cause.checks) <= known, cause.code
        for signal in cause.signals:
            assert signal.source in causes.SOURCES
            re.compile(signal.pattern)
    readme = (ROOT / "README.md").read_text()
    missing = [c.code for c in causes.CATALOGUE if f"`{c.code}`" not in readme]
    assert not missing, f"list these causes in the README: {missing}"


def test_an_error_entry_counts_even_when_another_sa_keeps_the_tunnel_established(params):
    """The lab (and AWS) may log a failed negotiation while an older SA of the tunnel is
    still up: the entry's states say Established, its message says why it fails."""
    ev = evidence(
        params,
        telemetry=telemetry(("203.0.113.11", "DOWN", "IPSEC IS DOWN", 0), ("203.0.113.12", "UP", "", 1)),
        vpn_logs=vpn_log(
            (0, "203.0.113.11", "tunnel", "established", "established", "", "up"),
            (10, "203.0.113.11", "tunnel", "established", "established", "", PSK),
        ),
    )
    assert by_check(verdicts.evaluate(ev))["tunnels vpn-0123456789abcdef0"].cause == "IKE_PSK_MISMATCH"
