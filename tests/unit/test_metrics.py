"""`hybridnet healthcheck --metrics-file`: the verdicts and tunnel states in the
Prometheus text format (node_exporter's textfile collector), parsed back with
prometheus_client's own parser; the file is replaced atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
from hybridnet import cli, healthcheck, metrics
from hybridnet.params import load_healthcheck
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
TUNNELS = [
    {
        "vpn_connection_id": "vpn-0123456789abcdef0",
        "outside_ip": "203.0.113.11",
        "status": "UP",
        "status_message": "",
        "accepted_routes": 2,
    },
    {
        "vpn_connection_id": "vpn-0123456789abcdef0",
        "outside_ip": "203.0.113.12",
        "status": "DOWN",
        "status_message": "IPSEC IS DOWN",
        "accepted_routes": 0,
    },
]


def a_run(tmp_path: Path, exit_code: int = 1, tunnels=TUNNELS) -> healthcheck.HealthCheckRun:
    verdicts = pd.DataFrame(
        [
            {
                "check": "tunnels",
                "status": "WARN",
                "cause": "tunnel-down",
                "reason": "1 of 2 tunnels UP",
                "action": "look",
                "evidence": "",
            },
            {"check": "dns", "status": "OK", "cause": "", "reason": "all answered", "action": "", "evidence": ""},
            {
                "check": "tgw routes",
                "status": "FAIL" if exit_code == 2 else "OK",
                "cause": "route-missing",
                "reason": "x",
                "action": "",
                "evidence": "",
            },
        ]
    )
    return healthcheck.HealthCheckRun(
        exit_code,
        tmp_path,
        tmp_path / "x.ipynb",
        tmp_path / "health_check.html",
        verdicts,
        "",
        stack="lab",
        tunnels=tunnels,
    )


def samples(path: Path) -> dict:
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_the_file_parses_back_with_every_series(tmp_path: Path):
    out = metrics.write(tmp_path / "textfile" / "hybridnet.prom", "lab", a_run(tmp_path, 2), timestamp=1764720000)
    got = samples(out)
    assert got[("hybridnet_healthcheck_status", (("stack", "lab"),))] == 2
    assert got[("hybridnet_check_status", (("cause", "tunnel-down"), ("check", "tunnels"), ("stack", "lab")))] == 1
    assert got[("hybridnet_check_status", (("cause", ""), ("check", "dns"), ("stack", "lab")))] == 0
    assert got[("hybridnet_check_status", (("cause", "route-missing"), ("check", "tgw routes"), ("stack", "lab")))] == 2
    up = {k[1]: v for k, v in got.items() if k[0] == "hybridnet_tunnel_up"}
    assert up == {
        (("outside_ip", "203.0.113.11"), ("stack", "lab"), ("vpn_connection_id", "vpn-0123456789abcdef0")): 1,
        (("outside_ip", "203.0.113.12"), ("stack", "lab"), ("vpn_connection_id", "vpn-0123456789abcdef0")): 0,
    }
    assert got[("hybridnet_healthcheck_last_run_timestamp_seconds", (("stack", "lab"),))] == 1764720000
    assert len(got) == 1 + 3 + 2 + 1
    assert "# TYPE hybridnet_tunnel_up gauge" in out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_an_ok_check_has_an_empty_cause_and_no_tunnels_means_no_tunnel_series(tmp_path: Path):
    got = samples(metrics.write(tmp_path / "m.prom", "lab", a_run(tmp_path, 1, tunnels=None)))
    assert got[("hybridnet_check_status", (("cause", ""), ("check", "tgw routes"), ("stack", "lab")))] == 0
    assert not [k for k in got if k[0] == "hybridnet_tunnel_up"]


def test_the_file_is_replaced_atomically(tmp_path: Path, monkeypatch):
    path = tmp_path / "hybridnet.prom"
    metrics.write(path, "lab", a_run(tmp_path, 2))
    before = path.stat().st_ino
    renames = []
    real = os.rename

    def spy(src, dst):
        renames.append((Path(src), Path(dst)))
        assert Path(dst).read_text() and 'hybridnet_healthcheck_status{stack="lab"} 2.0' in path.read_text()
        return real(src, dst)

    monkeypatch.setattr(os, "rename", spy)
    metrics.write(path, "lab", a_run(tmp_path, 1))
    ((src, dst),) = renames
    assert dst == path and src.parent == path.parent and src != path  # written beside it, then renamed over it
    assert path.stat().st_ino != before
    assert samples(path)[("hybridnet_healthcheck_status", (("stack", "lab"),))] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hybridnet.prom"]  # no temporary file left


def test_tunnels_are_read_from_the_runs_snapshot(tmp_path: Path):
    (tmp_path / "snapshot.json").write_text(json.dumps({"tunnels": TUNNELS}))
    assert metrics.snapshot_tunnels(tmp_path) == TUNNELS
    (tmp_path / "snapshot.json").write_text(json.dumps({"tunnels": None}))
    assert metrics.snapshot_tunnels(tmp_path) is None
    (tmp_path / "snapshot.json").write_text("{not json")
    assert metrics.snapshot_tunnels(tmp_path / "nope") is None and metrics.snapshot_tunnels(tmp_path) is None


def test_the_cli_writes_the_metrics_file(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_check_account", lambda params: None)
    monkeypatch.setattr(healthcheck, "run", lambda path, since="", **_: a_run(tmp_path, 1))
    target = tmp_path / "prom" / "hybridnet.prom"
    code = cli.main(
        ["healthcheck", "--params", str(ROOT / "params" / "healthcheck.yaml"), "--metrics-file", str(target)]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert f"metrics: {target}" in out.splitlines()
    stack = load_healthcheck(ROOT / "params" / "healthcheck.yaml")[1].name  # the params' stack
    assert samples(target)[("hybridnet_healthcheck_status", (("stack", stack),))] == 1
