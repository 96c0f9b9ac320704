"""Each notebook records its key results (ids, states; never secrets) as
JSON in the run's folder, for the next notebook, the CLI summary and tests."""

from __future__ import annotations

from pathlib import Path

from . import workspace


def run_dir(value: str | Path | None) -> Path:
    """The run folder a notebook was given, or outputs/interactive when run by hand."""
    path = Path(value) if value else workspace.outputs_dir() / "interactive"
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(run: str | Path, notebook: str, data: dict) -> Path:
    return workspace.write_json(run_dir(run) / "results" / f"{notebook}.json", data)


def load(run: str | Path, notebook: str) -> dict:
    path = run_dir(run) / "results" / f"{notebook}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run notebook {notebook} first")
    return workspace.read_json(path)
