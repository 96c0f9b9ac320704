"""nbval regression: each notebook, executed fresh against its own emulator,
must reproduce its saved outputs (modulo ids, timestamps and timings)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hybridnet import execute

ROOT = Path(__file__).resolve().parents[2]
SANITIZE = Path(__file__).with_name("sanitize.cfg")


def run_nbval(notebook: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HYBRIDNET_HOME=str(home))
    try:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", str(notebook),
             "--nbval-sanitize-with", str(SANITIZE), "--nbval-kernel-name", execute.KERNEL,
             "--rootdir", str(notebook.parent)],
            cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=600,
        )
    finally:
        subprocess.run([sys.executable, "-m", "hybridnet.cli", "emulator", "stop"], env=env,
                       capture_output=True, timeout=60)


@pytest.mark.parametrize("name", execute.NOTEBOOKS)
def test_notebook_reproduces_saved_outputs(name: str, tmp_path: Path):
    result = run_nbval(ROOT / "notebooks" / f"{name}.ipynb", tmp_path / "home")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


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
    result = run_nbval(copy, tmp_path / "home")
    assert result.returncode != 0
    assert "169.254.99.0/30" in result.stdout
