"""The code passes the linters `make test` runs: ruff (lint and format) over the
package, the tests, the benchmarks and the scripts, and mypy over the package, at
the strictness pyproject.toml sets (README: Development)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TREES = ["lib", "tests", "bench", "scripts"]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    done = run(str(BIN / "ruff"), "check", *TREES)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_code_is_ruff_formatted():
    done = run(str(BIN / "ruff"), "format", "--check", *TREES)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_finds_nothing():
    done = run(str(BIN / "mypy"))  # files and strictness: pyproject.toml [tool.mypy]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
