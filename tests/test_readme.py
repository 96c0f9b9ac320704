"""The README's two commands are true: `make run` works as written, and CI
runs exactly the README's test command."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_has_exactly_two_setup_commands():
    assert quick_start_commands() == ["make run", "make test"]


def test_ci_runs_the_readme_test_command():
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert quick_start_commands()[1] in lines


def test_make_run_as_written(tmp_path: Path, test_lab_lock):
    run_command = quick_start_commands()[0]
    env = dict(os.environ, HYBRIDNET_HOME=str(tmp_path))
    try:
        result = subprocess.run(run_command.split(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    finally:
        for stop in (["lab", "down"], ["emulator", "stop"]):
            subprocess.run([str(ROOT / ".venv" / "bin" / "hybridnet"), *stop], env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"VPN connection  vpn-[0-9a-f]+  \(available\)", result.stdout)
    assert re.search(r"tunnel 1 .*outside 203\.0\.113\.\d+ .*inside 169\.254\.11\.0/30", result.stdout)
    if os.geteuid() == 0:  # the lab plays the seed's hosts: the checks on hosts ran through SSM
        assert re.search(
            r"DNS asked on    onprem_client seed-idc-websrv \(i-[0-9a-f]{17}, Online\); "
            r"vpc_client seed-web1 \(i-[0-9a-f]{17}, Online\), through SSM Run Command",
            result.stdout,
        )
        assert "DNS matrix      8/8 as expected" in result.stdout
        assert re.search(
            r"OK +hosts \(SSM\): router, onprem_dns, onprem_client, vpc_client, remote_user, "
            r"remote_user_away online",
            result.stdout,
        )
        # phases 4 and 5 tried real clients on the remote users' hosts, through SSM
        client_vpn_part = result.stdout[result.stdout.find("== 04_client_vpn") : result.stdout.find("== 10_")]
        assert re.search(
            r"remote user +192\.0\.2\.10 \(SSM\): connected as 172\.16\.\d+\.\d+; ping VPC host "
            r"web1 ok, ping on-prem host websrv ok, resolve web1\.awsanycompany\.corp ok",
            client_vpn_part,
        ), client_vpn_part
        assert re.search(
            r"remote user +remote_user_away 192\.0\.2\.200: refused: Your IP is not allowed", client_vpn_part
        ), client_vpn_part
        assert re.search(
            r"OK +router BGP table: the VPC 10\.0\.0\.0/16 is learned over tunnels \[1, 2\]", result.stdout
        )
    runs = list((tmp_path / "outputs").glob("*-run"))
    assert len(runs) == 1
    assert (runs[0] / "01_tgw_attachment.ipynb").exists()
    assert (runs[0] / "results" / "01_tgw_attachment.json").exists()
    # The lab's pre-shared keys never land in a saved notebook, result or log;
    # the router setup files that must hold them are readable by their owner only.
    for path in runs[0].rglob("*"):
        if path.is_file() and "strongswan_awsvpn" in path.read_text(errors="replace"):
            assert path.suffix not in (".ipynb", ".json", ".log", ".png", ".html"), path
            assert path.stat().st_mode & 0o077 == 0, f"{path} holds a PSK and is readable by others"
