"""The command line refuses bad input before touching anything."""

from __future__ import annotations

from pathlib import Path

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
