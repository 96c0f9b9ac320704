"""Re-execute the runbook's notebooks in place, each against a fresh emulator.

Their saved outputs are what nbval compares against in the tests, so refresh
them after a deliberate change of what a notebook shows, and review the diff.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

from hybridnet import emulator, execute  # noqa: E402


def refresh(name: str) -> None:
    path = ROOT / "notebooks" / f"{name}.ipynb"
    with tempfile.TemporaryDirectory(prefix="hybridnet-baseline-") as home:
        os.environ["HYBRIDNET_HOME"] = home
        try:
            notebook = nbformat.read(path, as_version=4)
            NotebookClient(notebook, kernel_name=execute.KERNEL, timeout=600,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            nbformat.write(notebook, path)
        finally:
            emulator.stop()
    print(f"refreshed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    for name in sys.argv[1:] or execute.NOTEBOOKS:
        refresh(name)
