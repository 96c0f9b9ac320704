"""Exit codes that must not clash with the README's table: a status command on
nothing running (7, not 3, which is a failed notebook), and `lab up` / `lab
fault` refusing a stack another command holds (5), before they touch anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from hybridnet import cli
from hybridnet.errors import CredentialsError, HybridnetError, NotebookFailed
from hybridnet.locks import StackBusy, stack_lock
from hybridnet.params import load_params

ROOT = Path(__file__).resolve().parents[2]
HYBRIDNET = str(ROOT / ".venv" / "bin" / "hybridnet")


def isolated_env(home: Path) -> dict[str, str]:
    """An empty HYBRIDNET_HOME and a lab name no one uses: whatever the command did,
    it could find (or start) neither the user's nor the test suite's emulator or lab."""
    return dict(os.environ, HYBRIDNET_HOME=str(home), HYBRIDNET_LAB=f"c{os.getpid() % 10**7}")


def test_not_running_has_its_own_code_in_the_table():
    readme = (ROOT / "README.md").read_text()
    taken = {HybridnetError.exit_code, CredentialsError.exit_code, NotebookFailed.exit_code, StackBusy.exit_code, 0, 1}
    assert cli.NOT_RUNNING not in taken
    assert f"\n| {cli.NOT_RUNNING} | `emulator status`, `lab status`: not running |" in readme


def test_emulator_status_with_nothing_running_is_one_line_exit_7(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path / "home"))
    assert cli.main(["emulator", "status"]) == cli.NOT_RUNNING == 7
    out, err = capsys.readouterr()
    assert out.splitlines() == ["emulator not running (start it: hybridnet emulator start)"] and not err


@pytest.mark.parametrize(
    "command, line",
    [
        (["emulator", "status"], "emulator not running (start it: hybridnet emulator start)"),
        (["lab", "status"], "no lab running (start it: hybridnet lab up)"),
    ],
)
def test_status_commands_exit_7_from_the_shell(tmp_path: Path, command, line):
    result = subprocess.run(
        [HYBRIDNET, *command], env=isolated_env(tmp_path / "home"), capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout.splitlines(), result.stderr) == (7, [line], "")
    assert not (tmp_path / "home" / "outputs" / ".state" / "emulator.json").exists()  # nothing was started


@pytest.mark.parametrize("command", [["lab", "up"], ["lab", "fault", "tunnel-down"], ["lab", "fault", "clear"]])
def test_lab_up_and_fault_refuse_a_stack_another_command_holds(tmp_path: Path, monkeypatch, command):
    """The stack lock comes first in `lab up` and `lab fault` (read cli.cmd_lab_up and
    cmd_lab_fault: load_params, then stack_lock, then connect). Even so the command
    runs with `lab: off`, an empty HYBRIDNET_HOME and a lab name of its own: had it
    gone past the lock it could start no lab (exit 2) and only its own emulator."""
    home = tmp_path / "home"
    data = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())
    data["lab"] = "off"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    params = load_params(path)
    env = isolated_env(home)
    monkeypatch.setenv("HYBRIDNET_HOME", str(home))  # the lock lives in HYBRIDNET_HOME's state
    try:
        with stack_lock(params, "hybridnet run"):
            result = subprocess.run(
                [HYBRIDNET, *command, "--params", str(path)], env=env, capture_output=True, text=True, timeout=120
            )
    finally:  # had it gone past the lock: its emulator, if any
        subprocess.run([HYBRIDNET, "emulator", "stop"], env=env, capture_output=True, timeout=60)
    assert result.returncode == 5, result.stdout + result.stderr
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"hybridnet: stack 'anycompany' (emulator, ap-northeast-2) is being changed by `hybridnet run` "
        f"(pid {os.getpid()}, since "
    ), result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    assert not (home / "outputs" / ".state" / "emulator.json").exists()  # refused before the emulator
    assert not list((home / "outputs").glob("*-lab"))


def test_lab_up_holds_the_stack_while_it_runs(tmp_path: Path, monkeypatch):
    """The other way round: what `lab up` holds, `run` is refused (the holder's text
    names `hybridnet lab up`). Checked in-process with connect() replaced, so that
    nothing is started."""
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path / "home"))
    params = load_params(ROOT / "params" / "lab.yaml")
    seen = {}

    def fake_connect(p):
        with pytest.raises(StackBusy) as busy:
            with stack_lock(p, "hybridnet run"):
                pass
        seen["message"] = str(busy.value)
        raise CredentialsError("stop here")

    monkeypatch.setattr("hybridnet.aws.connect", fake_connect)
    assert cli.main(["lab", "up", "--params", str(ROOT / "params" / "lab.yaml")]) == 4
    assert f"is being changed by `hybridnet lab up` (pid {os.getpid()}," in seen["message"]
    with stack_lock(params, "hybridnet run"):  # released with the command
        pass
