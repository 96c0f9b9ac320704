"""The fleet check against the emulator holding a demo fleet (emulator.fleetdemo): two
accounts reached by assumed roles plus the caller's own, two regions, every kind
of state. Its verdicts equal the seeded truth; an account whose role may read
nothing and a region not enabled are rows with AWS's reason while the rest still
runs; throttled calls are retried to success; shards merged give one run's table;
the CLI runs notebook 11 and exits with the worst verdict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hybridnet import fleet, workspace
from hybridnet.emulator import fleetdemo
from hybridnet.emulator.fleet import client as fleet_client
from hybridnet.fleet import judge, run

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ["ap-northeast-2", "eu-west-1"]
BRANCHES, RETAIL, DENIED = "111111111111", "222222222222", "333333333333"
N = 28  # four of every kind


def settings(tmp_path: Path, **changes) -> Path:
    data = {
        "target": "emulator",
        "name": "test-fleet",
        "region": "ap-northeast-2",
        "accounts": [
            {"name": "network"},
            {"name": "branches", "role_arn": f"arn:aws:iam::{BRANCHES}:role/hybridnet-fleet-reader"},
            {
                "name": "retail",
                "role_arn": f"arn:aws:iam::{RETAIL}:role/hybridnet-fleet-reader",
                "external_id": "hybridnet-test",
            },
        ],
        "regions": REGIONS,
        "lookback_minutes": 15,
        **changes,
    }
    path = tmp_path / f"fleet-{len(list(tmp_path.glob('fleet-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def seeded(own_emulator, tmp_path_factory):
    """The demo fleet over the three accounts, and the truth with the accounts' names."""
    folder = tmp_path_factory.mktemp("fleet")
    fleet_file = settings(folder)
    ids = fleetdemo.fleet_accounts(fleet.load_fleet(fleet_file))
    spec, truth = fleetdemo.demo(sorted(ids.values()), REGIONS, N)
    # retail's role trusts the caller only with its external id, as `seed-fleet` seeds it
    answer = fleet_client.seed({**spec, "external_ids": fleetdemo.external_ids(fleet.load_fleet(fleet_file))})
    assert len(answer["connections"]) == N
    names = {account_id: name for name, account_id in ids.items()}
    truth = pd.DataFrame([{**t, "account": names[t["account"]]} for t in truth])
    return fleet_file, truth, folder


def connection_rows(table: pd.DataFrame) -> pd.DataFrame:
    rows = table[table["check"].isin(fleet.CONNECTION_CHECKS)]
    return rows[["account", "region", "name", "check", "status"]].sort_values(
        ["account", "region", "name", "check"], ignore_index=True
    )


def test_the_verdicts_equal_the_seeded_truth_in_a_few_calls(seeded):
    fleet_file, truth, _ = seeded
    result = fleet.check(fleet.load_fleet(fleet_file))
    got = connection_rows(result.table)
    want = truth.sort_values(["account", "region", "name", "check"], ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    assert set(result.table["check"]) <= {*fleet.CONNECTION_CHECKS}  # nothing unreadable, no endpoints seeded
    assert result.exit_code == 2
    # the causes the demo's states show
    causes = result.table.set_index(["name", "check"])["cause"]
    assert {causes[n, "TGW route"] for n in truth["name"] if n.split("-", 2)[2] == "not-propagated"} == {
        "TGW_ROUTE_NOT_PROPAGATED"
    }
    assert {causes[n, "TGW route"] for n in truth["name"] if n.split("-", 2)[2] == "down"} == {"VPN_DOWN"}
    # cost grows with account-regions: 2 AssumeRole, then at most 7 calls per account-region (the
    # connections, the tunnels' lowest states, the timelines of those that dipped, the attachments, a
    # route search per route table, the Resolver and Client VPN endpoints)
    assert result.calls <= 2 + 7 * len(result.readings), result.scopes_frame().to_string()
    # the timeline is read only for tunnels that were down at some point in the window
    timelines = {(t["vpn_connection_id"], t["outside_ip"]) for r in result.readings for t in r.history}
    steady = {tuple(t) for r in result.readings for t in r.steady}
    assert steady and timelines and not steady & timelines
    assert len(result.readings) == 6 and all(r.connections for r in result.readings)


def test_an_unreadable_account_and_a_disabled_region_are_rows_and_the_rest_still_runs(seeded, tmp_path):
    fleet_file, truth, _ = seeded
    fleet_client.seed({"reader_role": "hybridnet-fleet-reader", "deny": [DENIED], "connections": []})
    fleet_client.disable_regions(RETAIL, ["eu-west-1"])
    try:
        data = yaml.safe_load(fleet_file.read_text())
        data["accounts"].append({"name": "denied", "role_arn": f"arn:aws:iam::{DENIED}:role/hybridnet-fleet-reader"})
        # a typo in a role's name: AWS refuses the AssumeRole itself
        data["accounts"].append({"name": "typo", "role_arn": f"arn:aws:iam::{DENIED}:role/hybridnet-fleet-raeder"})
        result = fleet.check(fleet.load_fleet(settings(tmp_path, accounts=data["accounts"])))
    finally:
        fleet_client.disable_regions(RETAIL, [])
    access = result.table[result.table["check"] == "access"].set_index(["account", "region"])
    assert set(access.index) == {
        ("denied", "ap-northeast-2"),
        ("denied", "eu-west-1"),
        ("typo", "ap-northeast-2"),
        ("typo", "eu-west-1"),
        ("retail", "eu-west-1"),
    }
    assert set(access["status"]) == {"WARN"}
    assert set(access.loc["denied", "cause"]) == {"ACCESS_DENIED"}
    assert set(access.loc["typo", "cause"]) == {"ACCESS_DENIED"}
    assert all("sts:AssumeRole" in r and "role/hybridnet-fleet-raeder" in r for r in access.loc["typo", "reason"])
    assert access.loc[("retail", "eu-west-1"), "cause"] == "REGION_NOT_ENABLED"
    assert "AuthFailure" in access.loc[("retail", "eu-west-1"), "reason"]
    readable = truth[~((truth["account"] == "retail") & (truth["region"] == "eu-west-1"))]
    pd.testing.assert_frame_equal(
        connection_rows(result.table), readable.sort_values(["account", "region", "name", "check"], ignore_index=True)
    )


def test_a_wrong_external_id_is_that_accounts_access_rows(seeded, tmp_path):
    fleet_file, _, _ = seeded
    data = yaml.safe_load(fleet_file.read_text())
    data["accounts"][2]["external_id"] = "not-the-one"
    result = fleet.check(fleet.load_fleet(settings(tmp_path, accounts=data["accounts"])))
    access = result.table[result.table["check"] == "access"]
    assert set(zip(access["account"], access["region"])) == {("retail", r) for r in REGIONS}
    assert set(access["cause"]) == {"ACCESS_DENIED"}
    assert {"network", "branches"} <= set(result.table[result.table["check"] == "tunnels"]["account"])


def test_throttled_calls_are_retried_to_success(seeded):
    fleet_file, truth, _ = seeded
    fleet_client.throttle("DescribeVpnConnections", 2, account=BRANCHES, region="eu-west-1")
    fleet_client.throttle("GetMetricData", 1, account=RETAIL)
    result = fleet.check(fleet.load_fleet(fleet_file))
    assert fleet_client.throttles()["left"] == 0
    assert fleet_client.throttles()["served"] >= 3
    assert "access" not in set(result.table["check"])
    assert len(connection_rows(result.table)) == len(truth)


def test_shards_merged_give_the_table_of_one_run(seeded):
    fleet_file, _, _ = seeded
    whole = fleet.check(fleet.load_fleet(fleet_file))
    runs = []
    for k in (1, 2):
        part = fleet.check(fleet.shard(fleet.load_fleet(fleet_file), (k, 2)))
        folder = workspace.new_run_dir(f"fleet-shard{k}")
        fleet.save(part, folder)
        runs.append(folder.name)  # a run id under outputs/, as the CLI takes it
    merged = fleet.merge(fleet.load_fleet(fleet_file), runs)
    pd.testing.assert_frame_equal(merged.table.drop(columns=["evidence"]), whole.table.drop(columns=["evidence"]))
    assert judge.summary(merged.readings, merged.table) == judge.summary(whole.readings, whole.table)


def hybridnet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hybridnet.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
        cwd=ROOT,
    )


def test_the_cli_runs_notebook_11_shards_and_merges_them(seeded):
    fleet_file, truth, _ = seeded
    done = hybridnet("healthcheck", "--fleet", str(fleet_file))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith("fleet test-fleet: FAIL: 28 connections"), done.stdout
    report = Path(done.stdout.split("report: ")[1].strip())
    html = report.read_text()
    assert "data:image/png;base64," in html and "Fleet health" in html
    table = pd.read_csv(report.parent / run.VERDICTS_FILE, keep_default_na=False)
    assert len(table[table["check"].isin(fleet.CONNECTION_CHECKS)]) == len(truth)
    shards = []
    for k in (1, 2):
        part = hybridnet("healthcheck", "--fleet", str(fleet_file), "--shard", f"{k}/2")
        assert part.returncode in (1, 2), part.stdout + part.stderr
        shards.append(Path(part.stdout.split("report: ")[1].strip()).parent.name)
    merged = hybridnet("healthcheck", "--fleet", str(fleet_file), "--merge", *shards)
    assert merged.returncode == 2, merged.stdout + merged.stderr
    assert merged.stdout.splitlines()[0] == done.stdout.splitlines()[0]
    bad = hybridnet("healthcheck", "--fleet", str(fleet_file), "--shard", "3/2")
    assert bad.returncode == 2 and "shard" in bad.stderr and "Traceback" not in bad.stderr
