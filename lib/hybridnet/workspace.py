"""Where hybridnet keeps things: the project root, run outputs, runtime state.

`HYBRIDNET_HOME` moves all of it (tests point it at a temporary folder so
they never touch a developer's emulator or outputs).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout this package runs from (lib/hybridnet -> repo root)."""
    root = PACKAGE_DIR.parent.parent
    return root if (root / "pyproject.toml").exists() else Path.cwd()


def home() -> Path:
    return Path(os.environ.get("HYBRIDNET_HOME") or project_root())


def outputs_dir() -> Path:
    return home() / "outputs"


def state_dir() -> Path:
    """Runtime state (the emulator's endpoint and pid); not a run's output."""
    path = outputs_dir() / ".state"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_run_dir(label: str = "run") -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = outputs_dir() / f"{stamp}-{label}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write a file that holds a secret: created 0600 before any byte lands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path
