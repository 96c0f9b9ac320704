"""What every notebook does first: load the params, connect, pick the run folder.

Kept here so that notebooks stay a few lines per step and never differ in
how they start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import results
from .aws import AwsContext, connect
from .params import HealthCheck, Params, load_healthcheck, load_params
from .workspace import resolve_params_path


@dataclass
class Runbook:
    params: Params
    ctx: AwsContext
    run_dir: Path

    def record(self, notebook: str, data: dict) -> Path:
        return results.record(self.run_dir, notebook, data)

    def target_frame(self) -> pd.DataFrame:
        """Where this notebook acts: shown first so nobody acts on the wrong account."""
        rows = [
            ("target", self.params.target),
            ("region", self.params.region),
            ("stack name (tag hybridnet:stack)", self.params.name),
            ("endpoint", "embedded emulator on 127.0.0.1" if self.ctx.endpoint_url else "AWS"),
        ]
        if self.params.profile:
            rows.append(("profile", self.params.profile))
        return pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting")


def show_tables_whole() -> None:
    """Tables print one line per row and every cell in full: no wrapping at 80
    columns and no "..." that would move with the width of a timing or a count,
    so a saved notebook shows the same text for the same facts (nbval compares it
    with runs of spaces folded)."""
    pd.set_option("display.expand_frame_repr", False)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.width", None)


def open_runbook(params_file: str | Path, run_dir: str | Path | None = None) -> Runbook:
    show_tables_whole()
    params = load_params(resolve_params_path(params_file))
    return Runbook(params=params, ctx=connect(params), run_dir=results.run_dir(run_dir))


def open_healthcheck(
    healthcheck_file: str | Path, params_file: str | Path | None = None, run_dir: str | Path | None = None
) -> tuple[HealthCheck, Runbook]:
    """The health check's settings, and a runbook on its stack (or on params_file
    when given: `hybridnet run` checks the stack it has just built)."""
    show_tables_whole()
    check, params = load_healthcheck(resolve_params_path(healthcheck_file))
    if params_file:
        params = load_params(resolve_params_path(params_file))
    return check, Runbook(params=params, ctx=connect(params), run_dir=results.run_dir(run_dir))
