"""The fleet check without AWS: its settings, the verdicts of hand-made readings (the
single-stack checks per connection, the causes, the rows for what could not be
read), the order of the table, sharding, the merge of shards' runs and the heatmap."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import yaml
from hybridnet import charts
from hybridnet.fleet import CONNECTION_CHECKS, Fleet, judge, run
from hybridnet.fleet.collect import Reading
from hybridnet.fleet.params import load_fleet, parse_shard, shard
from hybridnet.params import ParamsError, Thresholds

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
NOW = pd.Timestamp("2026-12-02T10:00:00Z")
PSK = "AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key"


def fleet_file(tmp_path, **changes) -> Path:
    data = {
        "accounts": [{"name": "hub"}, {"name": "branches", "role_arn": "arn:aws:iam::111111111111:role/reader"}],
        "regions": ["eu-west-1", "ap-northeast-2"],
        **changes,
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# --- settings ----------------------------------------------------------------------------------------


def test_the_shipped_fleet_files_are_valid():
    assert load_fleet(ROOT / "params" / "fleet.yaml").target == "emulator"
    example = load_fleet(ROOT / "params" / "fleet.example.yaml")
    assert example.target == "aws" and example.accounts[2].regions == ["eu-west-1", "eu-central-1"]


def test_bad_settings_name_every_field_with_the_fix(tmp_path):
    path = fleet_file(
        tmp_path,
        accounts=[
            {"name": "a", "profile": "p", "role_arn": "arn:aws:iam::111111111111:role/r"},
            {"name": "a", "external_id": "x1"},
            {"name": "c", "role_arn": "arn:aws:iam::12:role/r"},
        ],
        regions=["eu-west-9"],
        lookback_minutes=1,
    )
    with pytest.raises(ParamsError) as caught:
        load_fleet(path)
    fields = dict(caught.value.problems)
    assert "profile or role_arn, not both" in fields["accounts[0]"]
    assert "external_id goes with role_arn" in fields["accounts[1]"]
    assert "pattern" in fields["accounts[2].role_arn"] or "match" in fields["accounts[2].role_arn"]
    assert "not AWS regions" in fields["regions"]
    assert "lookback_minutes" in fields
    ok = fleet_file(tmp_path, accounts=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ParamsError, match="used twice"):
        load_fleet(ok)


def test_shards_read_every_account_exactly_once(tmp_path):
    fleet = Fleet.model_validate({"accounts": [{"name": f"a{i}"} for i in range(7)], "regions": ["eu-west-1"]})
    parts = [shard(fleet, (k, 3)).accounts for k in (1, 2, 3)]
    names = sorted(a.name for part in parts for a in part)
    assert names == sorted(a.name for a in fleet.accounts)
    assert [a.name for a in parts[0]] == ["a0", "a3", "a6"]
    assert shard(fleet, None) is fleet
    for bad in ("0/3", "4/3", "1-3", "x"):
        with pytest.raises(ParamsError, match="K/N"):
            parse_shard(bad)
    with pytest.raises(ParamsError, match="has no account"):
        shard(fleet, (8, 9))


# --- verdicts ----------------------------------------------------------------------------------------


def tunnel(ip, status="UP", routes=1, message=""):
    return {
        "outside_ip": ip,
        "status": status,
        "status_message": message,
        "accepted_routes": routes,
        "last_status_change": None,
    }


def connection(vpn_id, tunnels, gateway="tgw", name=""):
    return {
        "id": vpn_id,
        "name": name or vpn_id,
        "gateway_id": f"{gateway}-0123",
        "gateway_type": gateway,
        "customer_gateway_id": "cgw-1",
        "state": "available",
        "logging": [],
        "tunnels": tunnels,
    }


def history(vpn_id, ip, states):
    return [
        {
            "vpn_connection_id": vpn_id,
            "outside_ip": ip,
            "time": (NOW + pd.Timedelta(minutes=i)).isoformat(),
            "up": bool(s),
        }
        for i, s in enumerate(states)
    ]


def table_of(*readings) -> pd.DataFrame:
    return judge.judge(list(readings), Thresholds())


def cell(table, resource, check) -> tuple[str, str]:
    row = table[(table["resource"] == resource) & (table["check"] == check)]
    assert len(row) == 1, table.to_string()
    return row.iloc[0]["status"], row.iloc[0]["cause"]


def test_each_connection_gets_the_single_stack_checks_with_causes():
    good = connection("vpn-00000001", [tunnel("192.0.2.1"), tunnel("192.0.2.2")])
    half = connection("vpn-00000002", [tunnel("192.0.2.3", "DOWN", 0, "IPSEC IS DOWN"), tunnel("192.0.2.4")])
    dark = connection("vpn-00000003", [tunnel("192.0.2.5", "DOWN", 0), tunnel("192.0.2.6", "DOWN", 0)])
    unpropagated = connection("vpn-00000004", [tunnel("192.0.2.7"), tunnel("192.0.2.8")])
    flapping = connection("vpn-00000005", [tunnel("192.0.2.9"), tunnel("192.0.2.10")], gateway="vgw")
    reading = Reading(
        "hub",
        "eu-west-1",
        connections=[good, half, dark, unpropagated, flapping],
        history=(
            history("vpn-00000001", "192.0.2.1", [1, 1, 1])
            + history("vpn-00000002", "192.0.2.3", [1, 0, 0])
            + history("vpn-00000005", "192.0.2.9", [1, 0, 1, 0, 1, 0, 1])
            + [
                r
                for v, ips in (("vpn-00000003", ("192.0.2.5",)), ("vpn-00000004", ("192.0.2.7",)))
                for ip in ips
                for r in history(v, ip, [1])
            ]
        ),
        tgw_routes={
            "vpn-00000001": ["10.1.0.0/16"],
            "vpn-00000002": ["10.2.0.0/16"],
            "vpn-00000003": [],
            "vpn-00000004": [],
        },
        route_tables={v: "tgw-rtb-1" for v in ("vpn-00000001", "vpn-00000002", "vpn-00000003", "vpn-00000004")},
        logs=[
            {
                "time": (NOW + pd.Timedelta(minutes=2)).isoformat(),
                "vpn_connection_id": "vpn-00000002",
                "outside_ip": "192.0.2.3",
                "log": "tunnel",
                "phase1": "Down",
                "phase2": "Down",
                "bgp_status": "",
                "detail": PSK,
            }
        ],
    )
    table = table_of(reading)
    assert [cell(table, "vpn-00000001", c) for c in CONNECTION_CHECKS] == [("OK", "")] * 4
    assert cell(table, "vpn-00000002", "tunnels") == ("WARN", "IKE_PSK_MISMATCH")
    assert cell(table, "vpn-00000002", "TGW route") == ("OK", "")
    assert cell(table, "vpn-00000003", "tunnels") == ("FAIL", "UNKNOWN")
    assert cell(table, "vpn-00000003", "TGW route") == ("FAIL", "VPN_DOWN")
    assert cell(table, "vpn-00000004", "TGW route") == ("FAIL", "TGW_ROUTE_NOT_PROPAGATED")
    assert cell(table, "vpn-00000005", "tunnel history")[0] == "WARN"
    assert (
        "flapping"
        in table[(table["resource"] == "vpn-00000005") & (table["check"] == "tunnel history")].iloc[0]["reason"]
    )
    assert table[(table["resource"] == "vpn-00000005") & (table["check"] == "TGW route")].empty  # a VGW: no TGW
    assert list(table["status"]) == sorted(table["status"], key={"FAIL": 0, "WARN": 1, "OK": 2}.get)  # worst first
    assert judge.exit_code(table) == 2
    assert "5 connections, 7 of 10 tunnels UP, in 1 account-region;" in judge.summary([reading], table)


@pytest.mark.parametrize(
    "error, cause",
    [
        (
            "DescribeVpnConnections: UnauthorizedOperation: You are not authorized to perform this operation.",
            "ACCESS_DENIED",
        ),
        (
            "DescribeVpnConnections: AuthFailure: AWS was not able to validate the provided access credentials",
            "REGION_NOT_ENABLED",
        ),
        ("DescribeVpnConnections: RequestLimitExceeded: Request limit exceeded.", "THROTTLED"),
        (
            "sts:AssumeRole arn:aws:iam::2:role/r refused: AccessDenied: not authorized to perform sts:AssumeRole",
            "ACCESS_DENIED",
        ),
    ],
)
def test_an_account_region_that_cannot_be_read_is_a_row_with_aws_s_reason(error, cause):
    table = table_of(Reading("retail", "ap-southeast-3", errors={"connections": error}))
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["check"], row["status"], row["cause"], row["resource"]) == ("access", "WARN", cause, "-")
    assert error in row["reason"] and row["action"]
    assert judge.exit_code(table) == 1  # missing data is not health


def test_a_part_not_read_is_no_data_for_its_checks_and_the_rest_still_judged():
    reading = Reading(
        "hub",
        "eu-west-1",
        connections=[connection("vpn-00000001", [tunnel("192.0.2.1"), tunnel("192.0.2.2")])],
        errors={
            "history": "GetMetricData: Throttling: Rate exceeded",
            "tgw_routes": "SearchTransitGatewayRoutes: UnauthorizedOperation: no",
        },
    )
    table = table_of(reading)
    assert cell(table, "vpn-00000001", "tunnels") == ("OK", "")
    assert cell(table, "vpn-00000001", "tunnel history") == ("WARN", "THROTTLED")
    assert cell(table, "vpn-00000001", "TGW route") == ("WARN", "ACCESS_DENIED")


def test_endpoints_are_judged_by_their_status():
    reading = Reading(
        "hub",
        "eu-west-1",
        resolver_endpoints=[
            {
                "id": "rslvr-in-1",
                "name": "in",
                "direction": "INBOUND",
                "status": "OPERATIONAL",
                "status_message": "",
                "ip_count": 2,
            },
            {
                "id": "rslvr-out-1",
                "name": "out",
                "direction": "OUTBOUND",
                "status": "ACTION_NEEDED",
                "status_message": "an ENI is gone",
                "ip_count": 1,
            },
        ],
        client_vpn_endpoints=[
            {"id": "cvpn-endpoint-1", "name": "staff", "status": "available", "status_message": ""},
            {"id": "cvpn-endpoint-2", "name": "lab", "status": "pending-associate", "status_message": ""},
        ],
    )
    table = table_of(reading)
    assert cell(table, "rslvr-in-1", "Resolver endpoint") == ("OK", "")
    assert cell(table, "rslvr-out-1", "Resolver endpoint")[0] == "FAIL"
    assert "an ENI is gone" in table[table["resource"] == "rslvr-out-1"].iloc[0]["reason"]
    assert cell(table, "cvpn-endpoint-1", "Client VPN endpoint") == ("OK", "")
    assert cell(table, "cvpn-endpoint-2", "Client VPN endpoint")[0] == "FAIL"


def test_a_fleet_with_nothing_found_is_not_ok():
    assert judge.exit_code(table_of(Reading("hub", "eu-west-1"))) == 1


# --- merge -------------------------------------------------------------------------------------------


def result_of(fleet_name, readings) -> run.FleetResult:
    return run.FleetResult(fleet_name, readings, judge.judge(readings, Thresholds()), calls=5, seconds=0.1)


def test_merging_the_shards_runs_gives_the_table_of_one_run(tmp_path):
    fleet = Fleet.model_validate(
        {"name": "f", "accounts": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "regions": ["eu-west-1"]}
    )
    reading = {
        n: Reading(
            n,
            "eu-west-1",
            connections=[
                connection(f"vpn-0000000{i}", [tunnel("192.0.2.1", "DOWN" if n == "b" else "UP"), tunnel("192.0.2.2")])
            ],
            tgw_routes={f"vpn-0000000{i}": ["10.0.0.0/16"]},
            route_tables={f"vpn-0000000{i}": "tgw-rtb-1"},
        )
        for i, n in enumerate("abc", start=1)
    }
    whole = judge.judge(list(reading.values()), Thresholds())
    runs = []
    for k in (1, 2):
        part = shard(fleet, (k, 2))
        folder = tmp_path / f"shard{k}"
        run.save(result_of("f", [reading[a.name] for a in part.accounts]), folder)
        runs.append(str(folder))
    merged = run.merge(fleet, runs)
    pd.testing.assert_frame_equal(merged.table, whole)
    assert merged.calls == 10 and merged.shards == runs
    # one shard missing: its accounts are rows saying so, never healthy
    partial = run.merge(fleet, runs[:1])
    missing = partial.table[partial.table["account"] == "b"]
    assert list(missing["check"]) == ["access"] and "shard did not run" in missing.iloc[0]["reason"]
    other = Fleet.model_validate({"name": "g", "accounts": [{"name": "a"}], "regions": ["eu-west-1"]})
    with pytest.raises(run.MergeError, match="another fleet"):
        run.merge(other, runs)
    with pytest.raises(run.MergeError, match="no fleet_readings.json"):
        run.merge(fleet, [str(tmp_path / "nowhere")])


def test_the_heatmap_renders(tmp_path):
    reading = Reading(
        "hub",
        "eu-west-1",
        connections=[
            connection(f"vpn-000000{i:02d}", [tunnel("192.0.2.1", "DOWN" if i % 3 == 0 else "UP"), tunnel("192.0.2.2")])
            for i in range(60)
        ],
    )
    table = table_of(reading)
    path = charts.save(charts.fleet_heatmap(table, CONNECTION_CHECKS, rows=40), tmp_path, "fleet_heatmap")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    charts.save(charts.fleet_heatmap(table.iloc[0:0], CONNECTION_CHECKS), tmp_path, "empty")


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-03T06:00:00.000Z",  # EC2's XML
        "2026-12-03T06:00:00Z",
        "2026-12-03T15:00:00+09:00",
        "2026-12-03T06:00:00.123456+00:00",
        1764741600,  # JSON protocols: epoch seconds
        1764741600.5,
        "1764741600",  # a number as text: botocore's own parser reads it
        "Thu, 03 Dec 2026 06:00:00 GMT",  # RFC 822 (rest-xml headers): botocore's own parser reads it
    ],
)
def test_the_fleets_timestamp_parser_reads_the_same_instant_as_botocores(value):
    import botocore.utils
    from hybridnet.fleet.scopes import parse_timestamp

    quick, slow = parse_timestamp(value), botocore.utils.parse_timestamp(value)
    assert quick == slow and quick.tzinfo is not None


def test_a_tunnel_up_all_the_window_needs_no_timeline_and_one_without_either_is_no_data():
    steady = connection("vpn-00000011", [tunnel("192.0.2.11"), tunnel("192.0.2.12")], gateway="vgw")
    silent = connection("vpn-00000012", [tunnel("192.0.2.13"), tunnel("192.0.2.14")], gateway="vgw")
    dipped = connection("vpn-00000013", [tunnel("192.0.2.15"), tunnel("192.0.2.16")], gateway="vgw")
    reading = Reading(
        "hub",
        "eu-west-1",
        connections=[steady, silent, dipped],
        steady=[["vpn-00000011", "192.0.2.11"], ["vpn-00000011", "192.0.2.12"], ["vpn-00000013", "192.0.2.16"]],
        history=history("vpn-00000013", "192.0.2.15", [1, 0, 1, 0, 1, 0, 1]),
    )
    table = table_of(reading)
    assert cell(table, "vpn-00000011", "tunnel history") == ("OK", "")
    assert cell(table, "vpn-00000012", "tunnel history")[0] == "WARN"  # silence is not health
    assert cell(table, "vpn-00000013", "tunnel history")[0] == "WARN"  # flapping, from its timeline
    reasons = table.set_index(["resource", "check"])["reason"]
    assert reasons["vpn-00000011", "tunnel history"] == "no drop in the look-back window"
    assert reasons["vpn-00000012", "tunnel history"].startswith("no data")
