"""Run the runbook's notebooks with papermill into a run folder."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import workspace
from .errors import NotebookFailed

# The runbook, in order. Later phases join as they land.
NOTEBOOKS: tuple[str, ...] = (
    "01_tgw_attachment",
    "02_router_config",
    "03_hybrid_dns",
    "04_client_vpn",
    "05_connection_handler",
    "10_health_check",
)
# Not part of a run: it removes what the run built (hybridnet teardown).
TEARDOWN = "99_teardown"
# Not part of a run either: the fleet health check (hybridnet healthcheck --fleet).
FLEET = "11_fleet_health"

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


def ipc_kernel_manager():
    import shutil
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        """Talks to the kernel over unix sockets: nothing listens on TCP, even on loopback.
        Its sockets are in a folder of its own (absolute paths): jupyter_client names
        them kernel-ipc-<n> relative to the working folder otherwise, and two kernels
        started at once there (two runs, two test workers) could pick the same names."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.socket_dir = Path(tempfile.mkdtemp(prefix="hybridnet-kernel-"))
            self.ip = str(self.socket_dir / "kernel-ipc")

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self.socket_dir, ignore_errors=True)

    return IPCKernelManager


def start_kernel():
    """A kernel for run_notebook(kernel=...), launched now: it starts in its own process
    while the caller goes on (the health check: its settings, the STS check, imports)."""
    import asyncio

    km = ipc_kernel_manager()(kernel_name=KERNEL)
    asyncio.run(km.start_kernel(cwd=str(notebooks_dir())))
    return km


def stop_kernel(km) -> None:
    """Kill it (its notebook is done: nothing to save) and remove its sockets."""
    import asyncio
    import shutil

    if km.has_kernel:
        asyncio.run(km.shutdown_kernel(now=True))
    shutil.rmtree(km.socket_dir, ignore_errors=True)


def run_notebook(name: str, run_dir: Path, parameters: Mapping[str, Any], kernel=None) -> NotebookRun:
    """Execute one notebook into the run folder; parameters are file paths and such."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output = run_dir / f"{name}.ipynb"
    start = time.monotonic()
    try:
        papermill.execute_notebook(
            str(notebooks_dir() / f"{name}.ipynb"),
            str(output),
            parameters={**parameters, "run_dir": str(run_dir.resolve())},
            kernel_name=KERNEL,
            cwd=str(notebooks_dir()),
            progress_bar=False,
            log_output=False,
            kernel_manager_class=ipc_kernel_manager(),
            **({"km": kernel} if kernel is not None else {}),
        )
    except PapermillExecutionError as exc:  # papermill saved the notebook with the error in it
        raise NotebookFailed(name, exc.exec_count, exc.source or "", exc.ename, exc.evalue, output) from None
    return NotebookRun(name, output, time.monotonic() - start)
