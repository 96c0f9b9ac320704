"""Re-execute the runbook's notebooks in place, in order, against a fresh emulator.

Their saved outputs are what nbval compares against in the tests, so refresh
them after a deliberate change of what a notebook shows, and review the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

from hybridnet import dataplane, emulator, execute  # noqa: E402

# Usage: python scripts/refresh_baselines.py   (as root; about a minute)


def execute_in_place(name: str) -> None:
    """Run the notebook's cells in the notebooks folder (as papermill runs them) and save
    it with its outputs, in place."""
    path = ROOT / "notebooks" / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    os.chdir(path.parent)
    NotebookClient(
        notebook,
        kernel_name=execute.KERNEL,
        timeout=600,
        kernel_manager_class=execute.ipc_kernel_manager(),
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(notebook, path)
    print(f"refreshed {path.relative_to(ROOT)}")


def refresh(names: list[str]) -> None:
    """Execute the notebooks in runbook order against one fresh emulator, as a run does."""
    with tempfile.TemporaryDirectory(prefix="hybridnet-baseline-") as home:
        os.environ["HYBRIDNET_HOME"] = home
        try:
            # as `hybridnet run` does: the lab's agent plays AWS's side as the notebooks create it
            subprocess.run(
                [sys.executable, "-m", "hybridnet.cli", "lab", "up", "--params", str(ROOT / "params" / "lab.yaml")],
                check=True,
                cwd=ROOT,
            )
            for name in names:
                execute_in_place(name)
        finally:
            dataplane.lab_down()
            emulator.stop()


FLEET_DEMO_CONNECTIONS = 40  # as tests/notebooks/test_nbval.py


def refresh_fleet() -> None:
    """Notebook 11 over the demo fleet, in an emulator of its own (no lab)."""
    with tempfile.TemporaryDirectory(prefix="hybridnet-baseline-fleet-") as home:
        os.environ["HYBRIDNET_HOME"] = home
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "hybridnet.cli",
                    "emulator",
                    "seed-fleet",
                    "--params",
                    str(ROOT / "params" / "fleet.yaml"),
                    "--connections",
                    str(FLEET_DEMO_CONNECTIONS),
                ],
                check=True,
                cwd=ROOT,
            )
            execute_in_place(execute.FLEET)
        finally:
            emulator.stop()


if __name__ == "__main__":
    # CI reproduces these outputs as root, with the lab: make them the same way.
    reason = dataplane.lab_unavailable_reason()
    if reason:
        sys.exit(f"refresh the baselines as root with the lab installed ({reason})")
    # The baselines show the user's lab names (hn-*), so they are made with that
    # lab: never replace one that is running.
    if dataplane.lab_running() or dataplane.twin_status():
        sys.exit(
            f"a lab is running ({dataplane.LAB_DIR}); the baselines need the lab for themselves: "
            "stop it first (hybridnet lab down), then run make baselines again"
        )
    # The whole runbook, then the teardown, in one emulator: as nbval replays them.
    refresh([*execute.NOTEBOOKS, execute.TEARDOWN])
    refresh_fleet()
