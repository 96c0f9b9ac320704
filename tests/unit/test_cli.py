"""The command line refuses bad input before touching anything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hybridnet import cli, emulator, workspace

ROOT = Path(__file__).resolve().parents[2]


def test_run_with_bad_params_exits_2_and_touches_nothing(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path / "home"))
    data = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())
    data["vpn"]["tunnels"][0]["inside_cidr"] = "169.254.3.0/30"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))

    assert cli.main(["run", "--params", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "vpn.tunnels[0].inside_cidr" in err and "reserved" in err
    assert emulator.status() is None
    assert not list(workspace.outputs_dir().glob("*-run"))


def test_unknown_notebook_is_named(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path / "home"))
    assert cli.main(["run", "--only", "07_nothing"]) == 2
    assert "unknown notebook '07_nothing'" in capsys.readouterr().err


def test_lab_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["lab", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for action in ("up", "status", "down", "fault"):
        assert re.search(rf"^\s+{action}\s+\S", out, re.M), f"no line for `lab {action}`:\n{out}"
    assert "faults.DRILLS" not in out


def test_lab_fault_help_lists_every_drill_with_one_line(capsys):
    from hybridnet.faults import DRILLS

    with pytest.raises(SystemExit):
        cli.main(["lab", "fault", "--help"])
    out = capsys.readouterr().out
    for drill in DRILLS.values():
        line = next(row for row in out.splitlines() if row.split()[:1] == [drill.name])
        assert drill.what in line and drill.expect in line
    assert re.search(r"^\s+clear\s+undo every drill", out, re.M)


def test_lab_fault_refuses_an_unknown_drill_before_connecting(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["lab", "fault", "tunnel-dwon"])
    assert exit_.value.code == 2
    assert "invalid choice: 'tunnel-dwon'" in capsys.readouterr().err
    assert emulator.status() is None
