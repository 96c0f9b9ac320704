"""The readers of AWS's Resolver query logs and Client VPN connection logs
(hybridnet.diagnostics.servicelogs) on fixtures written from AWS's documented
formats (tests/fixtures/aws-logs/, one CloudWatch Logs event message a line,
made-up ids and documentation-range addresses):

- resolver-query-log.jsonl: Route 53 Developer Guide, "Values that appear in
  Resolver query logs" and its example (version "1.100000" as AWS writes it,
  srcport a string, query_name with its trailing dot; srcids naming an instance,
  an inbound endpoint and its network interface, or an instance and an outbound
  endpoint; DNS Firewall fields on one; keys in more than one order);
- client-vpn-connection-log.jsonl: Client VPN Administrator Guide, "Connection
  logging" (every value a string, "NA" when it does not apply, times
  "YYYY-MM-DD HH:MM:SS" UTC; a refused attempt without client IP, start time or
  duration) and "Connection authorization" (the handler's failure reasons).

So the same code reads what AWS writes and what the lab writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hybridnet.diagnostics import servicelogs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aws-logs"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def test_resolver_query_entries():
    rows = [servicelogs.parse_resolver_query_entry(line) for line in lines("resolver-query-log.jsonl")]
    frame = pd.DataFrame(rows, columns=servicelogs.RESOLVER_COLUMNS)
    assert list(frame["rcode"]) == ["NOERROR", "NXDOMAIN", "NOERROR", "SERVFAIL", "NOERROR"]
    first = rows[0]
    assert first == {
        "time": pd.Timestamp("2026-11-30T08:15:02Z"),
        "vpc_id": "vpc-0a1b2c3d4e5f60718",
        "query_name": "app1.corp.example.",
        "query_type": "A",
        "rcode": "NOERROR",
        "answers": "A 10.31.8.40",
        "srcaddr": "10.31.4.17",
        "source": "i-0f1e2d3c4b5a69788",
    }
    assert rows[1]["answers"] == ""
    assert rows[2]["source"] == "rslvr-in-0123abcd4567ef890 (rni-0fedcba9876543210)"  # through the inbound endpoint
    assert rows[3]["source"] == "i-0f1e2d3c4b5a69788 via rslvr-out-0a9b8c7d6e5f40312"  # forwarded on-prem
    assert rows[4]["answers"] == "CNAME app1.corp.example.; A 10.31.8.40"


def test_client_vpn_entries():
    rows = [
        servicelogs.parse_client_vpn_entry(line, handler_enabled=True)
        for line in lines("client-vpn-connection-log.jsonl")
    ]
    table = [
        (r["connection_id"][-4:], r["status"], r["failure_reason"], r["handler_status"], r["client_ip"]) for r in rows
    ]
    assert table == [
        ("def0", "successful", "", "allowed", "172.16.0.34"),
        ("dddd", "failed", "client-connect-failed", "denied", ""),
        ("1111", "failed", "client-connect-handler-timed-out", "timed-out", ""),
        ("def0", "ended", "", "allowed", "172.16.0.34"),
        ("6666", "successful", "", "allowed", "172.16.1.9"),
    ]
    assert rows[1]["time"] == pd.Timestamp("2026-11-30 09:05:48", tz="UTC")  # the attempt's last update
    assert rows[3]["time"] == pd.Timestamp("2026-11-30 09:40:03", tz="UTC")
    assert (rows[1]["common_name"], rows[1]["device_ip"], rows[1]["endpoint_id"]) == (
        "laptop-17.corp.example",
        "198.51.100.201",
        "cvpn-endpoint-0fedcba9876543210",
    )


def test_handler_status_without_knowing_the_endpoint():
    successful, refused = lines("client-vpn-connection-log.jsonl")[0], lines("client-vpn-connection-log.jsonl")[1]
    # posture-compliance-statuses are only there when a handler ran
    assert servicelogs.parse_client_vpn_entry(successful)["handler_status"] == "allowed"
    assert servicelogs.parse_client_vpn_entry(successful, handler_enabled=False)["handler_status"] == ""
    assert servicelogs.parse_client_vpn_entry(refused, handler_enabled=False)["handler_status"] == "denied"
    assert set(servicelogs.HANDLER_OUTCOMES) == {
        "client-connect-failed",
        "client-connect-handler-timed-out",
        "client-connect-handler-other-execution-error",
        "client-connect-handler-throttled",
        "client-connect-handler-invalid-response",
        "client-connect-handler-service-error",
    }


def test_what_is_not_an_entry_is_left_out():
    for message in ("", "not json", "[1, 2]", '{"query_name": "x."}', '{"connection-id": "cvpn-connection-1"}'):
        assert servicelogs.parse_resolver_query_entry(message) is None
        assert servicelogs.parse_client_vpn_entry(message) is None
    # one kind is never taken for the other
    assert servicelogs.parse_client_vpn_entry(lines("resolver-query-log.jsonl")[0]) is None
    assert servicelogs.parse_resolver_query_entry(lines("client-vpn-connection-log.jsonl")[0]) is None


def test_log_group_names_from_arns():
    for arn in (
        "arn:aws:logs:eu-west-1:210987654321:log-group:/hybridnet/x/resolver",
        "arn:aws:logs:eu-west-1:210987654321:log-group:/hybridnet/x/resolver:*",
        "/hybridnet/x/resolver",
    ):
        assert servicelogs.log_group_name(arn) == "/hybridnet/x/resolver"
