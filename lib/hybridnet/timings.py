"""Where the time of one run goes (`hybridnet healthcheck --timings`).

`phase(name)` times a block. It records only while `HYBRIDNET_TIMINGS` names a
file: `enable()` sets it, and the notebook's kernel, which papermill starts
with this process's environment, inherits it, so the phases timed in the
kernel (the collectors, the judging) land in the same file as the command's
own, one JSON line each (start time, seconds, name). Without it, `phase` costs
a dictionary lookup. `notebook_cells()` adds the executed notebook's cells
from papermill's own metadata, `rows()` nests the phases by time (a phase
inside another one's span is shown under it, threads and processes included)
and `table()` is what `--timings` prints (`report()`: all of it, for the CLI).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ENV = "HYBRIDNET_TIMINGS"
_lock = threading.Lock()
_made: str | None = None  # the file enable() made (report() removes it)


@dataclass(frozen=True)
class Phase:
    name: str
    start: float  # seconds since the epoch (one clock for every process of the run)
    seconds: float
    depth: int = 0  # set by rows(): how many phases it lies within

    @property
    def end(self) -> float:
        return self.start + self.seconds


def enable() -> Path:
    """Record from now on, here and in the processes started from here; the
    file they record to (a temporary file, or the one HYBRIDNET_TIMINGS already names)."""
    global _made
    if not os.environ.get(ENV):
        fd, name = tempfile.mkstemp(prefix="hybridnet-timings-", suffix=".jsonl")
        os.close(fd)
        os.environ[ENV] = _made = name
        atexit.register(Path(name).unlink, missing_ok=True)  # also when the command fails before report()
    return Path(os.environ[ENV])


def start() -> Path:
    """enable(), and the interpreter's start and imports as the first phase."""
    path = enable()
    record_since_process_start("python start and imports")
    return path


def report(notebook: Path | str | None = None) -> str:
    """The table `--timings` prints: every phase recorded, the command as `total`
    (from its process's start), and the executed notebook's cells when given."""
    global _made
    record_since_process_start("total")
    if notebook is not None and Path(notebook).exists():
        try:
            notebook_cells(notebook)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a notebook papermill did not finish writing: the cells are left out
    shown = table(load())
    if _made and os.environ.get(ENV) == _made:
        Path(_made).unlink(missing_ok=True)
        del os.environ[ENV]
        _made = None
    return shown


def record(name: str, start: float, seconds: float) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"name": name, "start": start, "seconds": seconds}) + "\n"
    with _lock, open(path, "a") as out:
        out.write(line)


@contextmanager
def phase(name: str):
    """Time the block as the phase `name` (when recording; see enable)."""
    if not os.environ.get(ENV):
        yield
        return
    start, began = time.time(), time.perf_counter()
    try:
        yield
    finally:
        record(name, start, time.perf_counter() - began)


@functools.cache
def process_start() -> float | None:
    """When this process started (Linux: /proc, to the hundredth of a second), to
    time the interpreter's start and the imports before any code of ours ran;
    None where that is unknown."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        stat = Path("/proc/self/stat").read_text()
        since_boot = int(stat.rsplit(")", 1)[1].split()[19]) / ticks  # field 22: starttime, since boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.time() - age


def record_since_process_start(name: str) -> None:
    started = process_start()
    if started is not None:
        now = time.time()
        record(name, started, max(0.0, now - started))


def notebook_cells(notebook: Path | str, prefix: str = "cell") -> None:
    """Record the executed notebook's code cells (papermill's start and end times of
    each), and papermill's own time before the first cell (the kernel's start) and
    after the last one."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    meta = nb.metadata.get("papermill", {})
    cells = [
        (i, c)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and c.metadata.get("papermill", {}).get("start_time")
        and c.metadata.get("papermill", {}).get("end_time")
    ]
    if not cells or not meta.get("start_time"):
        return
    for i, cell in cells:
        pm = cell.metadata["papermill"]
        start, end = _epoch(pm["start_time"]), _epoch(pm["end_time"])
        record(f"{prefix} {i}: {_label(cell.source)}", start, end - start)
    began = _epoch(meta["start_time"])
    record("papermill: kernel start", began, _epoch(cells[0][1].metadata["papermill"]["start_time"]) - began)
    if meta.get("end_time"):
        last = _epoch(cells[-1][1].metadata["papermill"]["end_time"])
        record("papermill: kernel stop", last, _epoch(meta["end_time"]) - last)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _label(source: str, width: int = 44) -> str:
    """The cell's first line that does something (not an import, a comment or blank)."""
    lines = [line.strip() for line in source.splitlines()]
    doing = [line for line in lines if line and not line.startswith(("#", "import ", "from "))]
    text = (doing or lines or [""])[0]
    return text if len(text) <= width else text[: width - 3] + "..."


def load(path: Path | str | None = None) -> list[Phase]:
    path = path or os.environ.get(ENV)
    if not path or not Path(path).exists():
        return []
    phases = []
    for line in Path(path).read_text().splitlines():
        try:
            item = json.loads(line)
            phases.append(Phase(str(item["name"]), float(item["start"]), float(item["seconds"])))
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short: that phase is left out
    return phases


def rows(phases: list[Phase]) -> list[Phase]:
    """The phases as a tree, in order of start, each with its depth: a phase lies
    within the shortest of the others that holds its whole span (to the
    millisecond). Phases of one group (the same name before ": ", e.g. the
    collectors `collect: ...`) are siblings: they may run side by side, one never
    holds another."""
    eps = 0.001

    def holds(q: Phase, p: Phase) -> bool:
        return (
            q is not p
            and q.seconds > p.seconds
            and q.start - eps <= p.start < q.end - eps
            and p.end <= q.end + eps
            and (_group(q) is None or _group(q) != _group(p))
        )

    ordered = sorted(phases, key=lambda p: (p.start, -p.seconds))
    children: dict[int, list[Phase]] = {}
    for p in ordered:
        parent = min((q for q in ordered if holds(q, p)), key=lambda q: q.seconds, default=None)
        children.setdefault(id(parent) if parent is not None else 0, []).append(p)
    out: list[Phase] = []

    def walk(key: int, depth: int) -> None:
        for p in children.get(key, []):
            out.append(Phase(p.name, p.start, p.seconds, depth))
            walk(id(p), depth + 1)

    walk(0, 0)
    return out


def _group(phase: Phase) -> str | None:
    head, colon, _ = phase.name.partition(": ")
    return head if colon else None


def _covered(spans: list[tuple[float, float]]) -> float:
    """How long the spans cover together (overlaps counted once)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


REST = "(rest)"


def table(phases: list[Phase], title: str = "timings") -> str:
    """One line a phase, nested by time: `  <name>  <seconds>`. Under a phase with
    phases inside it, `(rest)` is its time outside them (phases that overlap, run
    side by side, count once)."""
    shown = rows(phases)
    if not shown:
        return f"{title}: nothing recorded"
    lines: list[tuple[str, float]] = []

    def emit(i: int) -> int:  # the row i and the rows within it; the index after them
        p = shown[i]
        lines.append(("  " * p.depth + p.name, p.seconds))
        j, spans = i + 1, []
        while j < len(shown) and shown[j].depth > p.depth:
            spans.append((shown[j].start, shown[j].end))
            j = emit(j)
        if spans:
            lines.append(("  " * (p.depth + 1) + REST, max(0.0, p.seconds - _covered(spans))))
        return j

    i = 0
    while i < len(shown):
        i = emit(i)
    width = max(len(name) for name, _ in lines)
    return "\n".join(
        [f"{title} (wall clock, s; indented: within the phase above)"]
        + [f"  {name:<{width}}  {seconds:7.3f}" for name, seconds in lines]
    )


def parse_table(text: str) -> list[tuple[tuple[str, ...], float]]:
    """The phases a table() printed, each as its path (the names of the phases it
    lies within, then its own) with its seconds; for scripts that read `--timings`
    output (bench/healthcheck.py)."""
    found: list[tuple[tuple[str, ...], float]] = []
    path: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("timings (wall clock"):
            inside = True
            continue
        if not inside:
            continue
        body = line[2:]
        name, _, seconds = body.strip().rpartition(" ")
        if not line.startswith("  ") or not name:
            break
        depth = (len(body) - len(body.lstrip(" "))) // 2
        try:
            value = float(seconds)
        except ValueError:
            break
        path[depth:] = [name.strip()]
        found.append((tuple(path), value))
    return found


__all__ = [
    "ENV",
    "REST",
    "Phase",
    "enable",
    "load",
    "notebook_cells",
    "parse_table",
    "phase",
    "process_start",
    "record",
    "record_since_process_start",
    "report",
    "rows",
    "start",
    "table",
]
