"""Benchmark: one `hybridnet healthcheck` run, end to end, and where its time goes.

    .venv/bin/python bench/healthcheck.py [--runs N] [--existing]

As root, in a fresh HYBRIDNET_HOME with a lab of its own (HYBRIDNET_LAB=hcbench,
beside yours): the whole runbook on the emulator and the lab (`hybridnet run
--params params/lab.yaml`), then N runs of `hybridnet healthcheck --params
params/healthcheck.yaml --timings`, each timed from outside (the command's
wall clock) and read for its phases. Prints each run, then the median and the
range of the runs and the median of each phase; takes the lab down and stops
the emulator it started. `--existing`: no runbook, no teardown, against the
HYBRIDNET_HOME and HYBRIDNET_LAB of the environment, whose stack must be built.
Target: under 5 s. A benchmark, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

TARGET_S = 5.0
LAB = "hcbench"


def one_check() -> tuple[float, int, list[tuple[tuple[str, ...], float]]]:
    from hybridnet import timings

    started = time.monotonic()
    done = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "hybridnet"),
            "healthcheck",
            "--params",
            str(ROOT / "params" / "healthcheck.yaml"),
            "--timings",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    phases = timings.parse_table(done.stderr)
    if not phases:
        raise SystemExit(f"no timings in the output (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, done.returncode, phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--existing",
        action="store_true",
        help="against the environment's HYBRIDNET_HOME and lab as they are (stack built)",
    )
    args = parser.parse_args()
    own = not args.existing
    if own:
        if os.geteuid() != 0:
            sys.exit("run it as root: the lab needs network namespaces (or --existing)")
        os.environ.update(HYBRIDNET_HOME=tempfile.mkdtemp(prefix="hybridnet-bench-hc-"), HYBRIDNET_LAB=LAB)
    from hybridnet import dataplane, emulator

    try:
        if own:
            started = time.monotonic()
            with open(Path(os.environ["HYBRIDNET_HOME"]) / "run.log", "w") as log:
                subprocess.run(
                    [str(ROOT / ".venv" / "bin" / "hybridnet"), "run", "--params", str(ROOT / "params" / "lab.yaml")],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                )
            print(f"runbook with the lab (HYBRIDNET_LAB={LAB}): {time.monotonic() - started:.1f} s")
        totals, per_phase, order = [], {}, []
        for run in range(1, args.runs + 1):
            seconds, code, phases = one_check()
            totals.append(seconds)
            for path, value in phases:
                if path not in per_phase:
                    order.append(path)
                per_phase.setdefault(path, []).append(value)
            print(f"run {run}: {seconds:.2f} s (exit {code}; in the command: {phases[0][1]:.2f} s)")
    finally:
        if own:
            dataplane.lab_down()
            emulator.stop()
    median = statistics.median(totals)
    print(
        f"\nhealth check: median {median:.2f} s, range {min(totals):.2f} to {max(totals):.2f} s over "
        f"{len(totals)} runs (target < {TARGET_S:.0f} s: {'OK' if median < TARGET_S else 'MISSED'})"
    )
    shown = [p for p in order if len(per_phase[p]) * 2 > len(totals)]  # phases of most runs
    labels = ["  " * (len(p) - 1) + p[-1] for p in shown]
    width = max(len(n) for n in labels + ["phase (s)"])
    print(f"\n{'phase (s)':<{width}}  median     min     max")
    for path, label in zip(shown, labels):
        values = per_phase[path]
        print(f"{label:<{width}}  {statistics.median(values):6.3f}  {min(values):6.3f}  {max(values):6.3f}")
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
