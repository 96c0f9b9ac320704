"""Run the runbook's notebooks with papermill into a run folder."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import workspace
from .errors import NotebookFailed

# The last notebook of a run, also run alone (hybridnet healthcheck).
HEALTHCHECK = "10_health_check"
# The runbook, in order. Later phases join as they land.
NOTEBOOKS: tuple[str, ...] = (
    "01_tgw_attachment",
    "02_router_config",
    "03_hybrid_dns",
    "04_client_vpn",
    "05_connection_handler",
    HEALTHCHECK,
)
# Not part of a run: it removes what the run built (hybridnet teardown).
TEARDOWN = "99_teardown"
# Not part of a run either: the fleet health check (hybridnet healthcheck --fleet).
FLEET = "11_fleet_health"

KERNEL = "python3"
# What a notebook imports, first or on the way, that its kernel can import as it starts
# (start_kernel's preload): notebook 10's, matplotlib with charts, networkx with the map.
PRELOAD = {
    HEALTHCHECK: ("hybridnet.healthcheck", "hybridnet.runbook", "hybridnet.charts", "hybridnet.diagnostics.topology"),
}


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


def start_kernel(preload: Sequence[str] = ()):
    """A kernel for run_notebook(kernel=...), launched now: it starts in its own process
    while the caller goes on (the health check: its settings, the STS check, imports).
    It imports the `preload` modules as it starts (IPython's exec_lines: no cell, no
    execution count, no output), so the notebook's first cells find them loaded."""
    import asyncio

    km = ipc_kernel_manager()(kernel_name=KERNEL)
    extra = [f"--IPKernelApp.exec_lines=import {', '.join(preload)}"] if preload else []
    asyncio.run(km.start_kernel(cwd=str(notebooks_dir()), extra_arguments=extra))
    return km


def stop_kernel(km) -> None:
    """Kill it (its notebook is done: nothing to save) and remove its sockets."""
    import asyncio
    import shutil

    if km.has_kernel:
        asyncio.run(km.shutdown_kernel(now=True))
    shutil.rmtree(km.socket_dir, ignore_errors=True)


# papermill's engine (its registry) that writes the executed notebook once, when done.
WRITTEN_WHEN_DONE = "hybridnet-written-when-done"


@functools.cache
def _register_written_when_done() -> str:
    """papermill writes the whole notebook as each cell starts and as it ends, so that a
    long run can be followed in the file: for the health check's 30-odd cells in a few
    seconds, 60-odd writes with its charts, about a quarter of a second. This engine
    (nbclient's, as papermill's default) leaves papermill's other writes: as the notebook
    starts, and when it is complete, which papermill does after a failed cell too (then
    it writes it again with the error on top)."""
    from papermill.engines import NBClientEngine, papermill_engines

    class WrittenWhenDone(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            nb_man.save = lambda **_: None  # the cells' writes; notebook_complete's is papermill's own
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:
                del nb_man.save

    papermill_engines.register(WRITTEN_WHEN_DONE, WrittenWhenDone)
    return WRITTEN_WHEN_DONE


def run_notebook(
    name: str, run_dir: Path, parameters: Mapping[str, Any], kernel=None, write_each_cell: bool = True
) -> NotebookRun:
    """Execute one notebook into the run folder; parameters are file paths and such.
    write_each_cell=False: the notebook is written once, when done (a run of seconds
    that nobody follows in the file)."""
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
            **({} if write_each_cell else {"engine_name": _register_written_when_done()}),
        )
    except PapermillExecutionError as exc:  # papermill saved the notebook with the error in it
        raise NotebookFailed(name, exc.exec_count, exc.source or "", exc.ename, exc.evalue, output) from None
    return NotebookRun(name, output, time.monotonic() - start)
