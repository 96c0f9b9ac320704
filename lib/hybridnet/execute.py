"""Run the runbook's notebooks with papermill into a run folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import workspace

# The runbook, in order. Later phases join as they land.
NOTEBOOKS: tuple[str, ...] = (
    "01_tgw_attachment",
    "02_router_config",
)

KERNEL = "python3"


def notebooks_dir() -> Path:
    return workspace.project_root() / "notebooks"


@dataclass
class NotebookRun:
    name: str
    output: Path
    seconds: float


def select(only: list[str] | None) -> list[str]:
    if not only:
        return list(NOTEBOOKS)
    chosen = []
    for want in only:
        matches = [n for n in NOTEBOOKS if n == want or n.startswith(want + "_") or n.split("_")[0] == want]
        if not matches:
            raise ValueError(f"unknown notebook {want!r}; choose from {', '.join(NOTEBOOKS)}")
        chosen += [m for m in matches if m not in chosen]
    return [n for n in NOTEBOOKS if n in chosen]


def run_notebook(name: str, params_file: Path, run_dir: Path, extra: dict | None = None) -> NotebookRun:
    import papermill

    output = run_dir / f"{name}.ipynb"
    start = time.monotonic()
    papermill.execute_notebook(
        str(notebooks_dir() / f"{name}.ipynb"), str(output),
        parameters={"params_file": str(params_file.resolve()), "run_dir": str(run_dir.resolve()), **(extra or {})},
        kernel_name=KERNEL, cwd=str(notebooks_dir()), progress_bar=False, log_output=False,
    )
    return NotebookRun(name, output, time.monotonic() - start)
