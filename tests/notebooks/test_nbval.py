"""nbval regression: each notebook, executed fresh against its own emulator,
must reproduce its saved outputs (modulo ids, timestamps and timings)."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hybridnet import dataplane, execute

ROOT = Path(__file__).resolve().parents[2]
SANITIZE = Path(__file__).with_name("sanitize.cfg")
FLEET_DEMO_CONNECTIONS = 40  # as README's seed-fleet and scripts/refresh_baselines.py


def needs_lab(name: str) -> bool:
    notebook = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return bool(notebook.get("metadata", {}).get("hybridnet", {}).get("needs_lab"))


def run_nbval(notebooks: list[Path], home: Path) -> subprocess.CompletedProcess:
    """nbval over the notebooks in order, sharing one fresh emulator as a run does."""
    env = dict(os.environ, HYBRIDNET_HOME=str(home))
    try:
        if any(needs_lab(n.stem) for n in notebooks):  # as `hybridnet run` does: the lab's agent first
            up = subprocess.run([sys.executable, "-m", "hybridnet.cli", "lab", "up", "--params",
                                 str(ROOT / "params" / "lab.yaml")], env=env, capture_output=True, text=True,
                                timeout=120)
            assert up.returncode == 0, up.stdout + up.stderr
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--nbval",
             *map(str, notebooks), "--nbval-sanitize-with", str(SANITIZE), "--nbval-kernel-name", execute.KERNEL,
             "--rootdir", str(notebooks[0].parent)],
            cwd=notebooks[0].parent, env=env, capture_output=True, text=True, timeout=900,
        )
    finally:
        if dataplane.lab_unavailable_reason() is None:
            dataplane.lab_down()
        subprocess.run([sys.executable, "-m", "hybridnet.cli", "emulator", "stop"], env=env,
                       capture_output=True, timeout=60)


def check(names: list[str], home: Path) -> None:
    result = run_nbval([ROOT / "notebooks" / f"{n}.ipynb" for n in names], home)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed", result.stdout) and " failed" not in result.stdout


def test_notebooks_before_the_lab_reproduce_saved_outputs(tmp_path: Path):
    """Runs everywhere, root or not: the notebooks whose outputs do not show the lab."""
    names = list(itertools.takewhile(lambda n: not needs_lab(n), execute.NOTEBOOKS))
    assert names, "the runbook should start with notebooks that need no lab"
    check(names, tmp_path / "home")


def test_whole_runbook_reproduces_saved_outputs(tmp_path: Path, test_lab_lock):
    reason = dataplane.lab_unavailable_reason()
    if reason:
        pytest.skip(f"the saved outputs show the lab's tunnels, and the lab cannot run here: {reason}")
    check([*execute.NOTEBOOKS, execute.TEARDOWN], tmp_path / "home")


def test_fleet_notebook_reproduces_saved_outputs(tmp_path: Path):
    """Notebook 11 over the demo fleet `hybridnet emulator seed-fleet` puts in a fresh
    emulator (the same seed as the saved outputs: a known mix of states)."""
    home = tmp_path / "home"
    env = dict(os.environ, HYBRIDNET_HOME=str(home))
    seeded = subprocess.run([sys.executable, "-m", "hybridnet.cli", "emulator", "seed-fleet", "--params",
                             str(ROOT / "params" / "fleet.yaml"), "--connections", str(FLEET_DEMO_CONNECTIONS)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    check([execute.FLEET], home)


def test_nbval_catches_a_changed_output(tmp_path: Path):
    """The saved outputs are a real check: edit one table cell and nbval fails."""
    source = ROOT / "notebooks" / f"{execute.NOTEBOOKS[0]}.ipynb"
    notebook = json.loads(source.read_text())
    edited = False
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/plain")
            if text and "169.254.11.0/30" in "".join(text):
                output["data"]["text/plain"] = [line.replace("169.254.11.0/30", "169.254.99.0/30") for line in text]
                edited = True
    assert edited, "the tunnel table with 169.254.11.0/30 should be among the saved outputs"
    copy = tmp_path / "notebooks" / source.name
    copy.parent.mkdir()
    copy.write_text(json.dumps(notebook))
    shutil.copy(SANITIZE, tmp_path / "sanitize.cfg")
    result = run_nbval([copy], tmp_path / "home")
    assert result.returncode != 0
    assert "169.254.99.0/30" in result.stdout
