"""One fleet check: read every account-region, judge, keep the readings for a merge.

`check(fleet)` reads and judges; `save(result, run_dir)` writes the readings
(fleet_readings.json: what a merge joins) and the verdict table
(fleet_verdicts.csv); `merge(fleet, runs)` joins the readings of several shards'
runs and judges them as one run would.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import execute, workspace
from ..diagnostics.verdicts import STATUS_WORDS
from ..errors import HybridnetError
from . import collect, judge
from .params import Fleet
from .scopes import CallCounter, open_scopes

READINGS_FILE = "fleet_readings.json"
VERDICTS_FILE = "fleet_verdicts.csv"
SCOPE_COLUMNS = ["account", "region", "connections", "calls", "seconds", "not read"]


class MergeError(HybridnetError):
    """A run to merge has no fleet readings, or readings of another fleet."""

    exit_code = 2


@dataclass
class FleetResult:
    fleet_name: str
    readings: list[collect.Reading]
    table: pd.DataFrame  # judge.COLUMNS, worst first
    calls: int  # AWS API calls made (AssumeRole included); a merge adds its runs' calls
    seconds: float
    shards: list[str] = field(default_factory=list)  # the runs a merge joined

    @property
    def exit_code(self) -> int:
        return judge.exit_code(self.table)

    @property
    def status(self) -> str:
        return STATUS_WORDS[self.exit_code]

    def summary(self) -> str:
        return f"fleet {self.fleet_name}: {self.status}: {judge.summary(self.readings, self.table)}"

    def scopes_frame(self) -> pd.DataFrame:
        """Per account-region: connections found, calls, seconds, and the parts not read."""
        return pd.DataFrame(
            [
                {
                    "account": r.account,
                    "region": r.region,
                    "connections": len(r.connections),
                    "calls": r.calls,
                    "seconds": r.seconds,
                    "not read": "; ".join(f"{part}: {why}" for part, why in r.errors.items()) or "-",
                }
                for r in self.readings
            ],
            columns=SCOPE_COLUMNS,
        )

    def worst_view(self, rows: int = 50):
        """The first `rows` verdicts (worst first), coloured by status; the whole table
        is fleet_verdicts.csv in the run's folder."""
        from ..healthcheck import status_view

        return status_view(self.table.head(rows).drop(columns=["evidence"]), "fleet")

    def record(self) -> dict:
        counts = self.table["status"].value_counts()
        return {
            "fleet": self.fleet_name,
            "exit_code": self.exit_code,
            "status": self.status,
            "summary": self.summary(),
            "calls": self.calls,
            "seconds": round(self.seconds, 2),
            "counts": {s: int(counts.get(s, 0)) for s in ("FAIL", "WARN", "OK")},
            "shards": self.shards,
            "worst": self.table.head(20).drop(columns=["evidence"]).to_dict(orient="records"),
        }


NOTEBOOK = execute.FLEET


def run_notebook_check(
    fleet_file: str | Path, shard_text: str = "", merge_runs: list[str] | None = None, run_dir: str | Path = ""
) -> tuple[FleetResult, Path]:
    """What notebook 11 does in its first cell: the fleet's settings (one shard of
    them), read and judged (or the shards' runs merged), the readings saved in the
    run's folder. Returns the result and the folder."""
    from .. import results
    from ..workspace import resolve_params_path
    from .params import load_fleet, parse_shard, shard

    fleet = load_fleet(resolve_params_path(fleet_file))
    if merge_runs and shard_text:
        raise MergeError("give --shard to read one shard, or --merge to join the shards' runs, not both")
    result = merge(fleet, list(merge_runs)) if merge_runs else check(shard(fleet, parse_shard(shard_text)))
    folder = results.run_dir(run_dir)
    save(result, folder)
    return result, folder


def record(result: FleetResult, run_dir: Path | str) -> str:
    """The run's results (results/11_fleet_health.json: the CLI and the tests read
    them) and its one-line summary."""
    from .. import results

    results.record(run_dir, NOTEBOOK, result.record())
    return result.summary()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Python's collector leaves the objects that exist now alone while the block runs.

    A fleet's answers are hundreds of thousands of small dicts that all live until
    the judging; each full collection they trigger would otherwise walk the whole
    heap as well (pandas', botocore's models: about 1 s of a 500-connection check
    here). Nothing is lost: what was frozen is collected as usual afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def check(fleet: Fleet) -> FleetResult:
    """Read every account-region of `fleet` and judge it."""
    started = time.monotonic()
    sts_calls = CallCounter()
    with frozen_heap():
        scopes = open_scopes(fleet, sts_calls)
        readings = collect.read_fleet(scopes, fleet)
        table = judge.judge(readings, fleet.thresholds)
    calls = sts_calls.total + sum(r.calls for r in readings)
    return FleetResult(fleet.name, readings, table, calls, time.monotonic() - started)


def save(result: FleetResult, run_dir: Path | str) -> Path:
    run_dir = Path(run_dir)
    workspace.write_json(
        run_dir / READINGS_FILE,
        {
            "fleet": result.fleet_name,
            "calls": result.calls,
            "seconds": result.seconds,
            "readings": [r.record() for r in result.readings],
        },
    )
    result.table.to_csv(run_dir / VERDICTS_FILE, index=False)
    return run_dir / READINGS_FILE


def load_readings(run: Path | str) -> dict:
    """A run's saved readings: a run folder, or its id under outputs/."""
    path = Path(run)
    if not path.is_dir():
        path = workspace.outputs_dir() / str(run)
    file = path / READINGS_FILE
    try:
        data = workspace.read_json(file)
    except FileNotFoundError:
        raise MergeError(
            f"{run}: no {READINGS_FILE} there; give the folders (or ids under outputs/) of fleet "
            "runs (hybridnet healthcheck --fleet ... --shard K/N)"
        ) from None
    except ValueError as exc:
        raise MergeError(f"{file}: not readable as JSON ({exc}); run that shard again") from None
    data["readings"] = [collect.Reading(**r) for r in data["readings"]]
    data["path"] = str(path)
    return data


def merge(fleet: Fleet, runs: list[str]) -> FleetResult:
    """The shards' readings joined and judged with `fleet`'s thresholds: the table one
    run over every account would give. Each account-region once (a shard run twice
    counts once: its latest run wins)."""
    started = time.monotonic()
    loaded = [load_readings(run) for run in runs]
    other = [d["path"] for d in loaded if d["fleet"] != fleet.name]
    if other:
        raise MergeError(
            f"{', '.join(other)}: readings of another fleet than {fleet.name!r}; merge the runs of one fleet's shards"
        )
    by_scope: dict[tuple[str, str], collect.Reading] = {}
    for data in loaded:
        for reading in data["readings"]:
            by_scope[(reading.account, reading.region)] = reading
    wanted = [(a.name, region) for a, region in fleet.scopes()]
    readings = [by_scope[key] for key in wanted if key in by_scope]
    missing = [f"{a}/{r}" for a, r in wanted if (a, r) not in by_scope]
    for account, region in (key.split("/", 1) for key in missing):  # a shard not run: said, never healthy
        readings.append(
            collect.Reading(
                account,
                region,
                errors={
                    "connections": "not in the merged runs: its shard did not run (or failed before writing "
                    "its readings)"
                },
            )
        )
    table = judge.judge(readings, fleet.thresholds)
    calls = sum(d.get("calls", 0) for d in loaded)
    return FleetResult(
        fleet.name, readings, table, calls, time.monotonic() - started, shards=[d["path"] for d in loaded]
    )
