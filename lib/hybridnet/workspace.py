"""Where hybridnet keeps things: the project root, run outputs, runtime state.

`HYBRIDNET_HOME` moves all of it (tests point it at a temporary folder so
they never touch a developer's emulator or outputs).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
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


def write_file(path: Path, content: str | bytes, mode: int) -> Path:
    """Write ``content`` to ``path`` atomically with exactly ``mode``: the one
    way the suite writes files that may hold secrets.

    The temporary file is created 0600 in the same directory, so a secret is
    never readable by others, even for a moment; then chmod, fsync, rename: a
    reader never sees a partial file.
    """
    if mode & 0o002:
        raise ValueError(f"{path}: refusing to write a world-writable file")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content.encode("utf-8") if isinstance(content, str) else content)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_private(path: Path, content: str | bytes) -> Path:
    """Write a file that holds a secret (mode 0600)."""
    return write_file(path, content, 0o600)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path


def resolve_params_path(params_file: str | Path) -> Path:
    """Relative paths work from the notebooks folder and from the project root alike."""
    path = Path(params_file)
    if path.is_absolute() or path.exists():
        return path
    return project_root() / path
