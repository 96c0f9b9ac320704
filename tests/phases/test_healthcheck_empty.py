"""A health check against a target with nothing deployed: FAIL with reasons, no crash."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_empty_target_fails_clearly(own_emulator, tmp_path: Path):
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hybridnet"), "healthcheck"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    # which account was checked comes first (STS GetCallerIdentity), then the verdict
    account, verdict = result.stdout.splitlines()[:2]
    assert re.fullmatch(r"account \d{12} as arn:aws:\S+ \(emulator, ap-northeast-2\)", account), account
    assert verdict == "health check: FAIL"
    # A fresh emulator: what is missing is the account's state, not a stack never built.
    assert re.search(
        r"FAIL +tunnels +the emulator holds none of this stack's resources: it started empty at "
        r"\S+ \(no saved state restored\)",
        result.stdout,
    ), result.stdout
    assert "else build it: hybridnet run" in result.stdout


def test_bad_settings_are_refused_before_anything_runs(tmp_path: Path):
    bad = tmp_path / "hc.yaml"
    bad.write_text("params: lab.yaml\nlookback_minuts: 5\nvpn_connections: [vpn-xyz]\n")
    (tmp_path / "lab.yaml").write_text((ROOT / "params" / "lab.yaml").read_text())
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hybridnet"), "healthcheck", "--params", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, HYBRIDNET_HOME=str(tmp_path)),
    )
    assert result.returncode == 2
    assert "lookback_minuts: unknown key" in result.stderr
    assert "vpn_connections: ['vpn-xyz'] are not VPN connection ids" in result.stderr
