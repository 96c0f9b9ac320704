"""Benchmark: time from lab.up() to both tunnels UP and both BGP sessions Established.

    sudo PYTHONPATH=lib .venv/bin/python bench/lab_up.py [--runs N] [--cgw-dir DIR]

Target: under 5 s. Prints one line per run and a summary; takes the lab
down afterwards. Needs root.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from hybridnet import lab  # noqa: E402
from hybridnet.lab import observe  # noqa: E402

DEFAULT_CGW_DIR = ROOT / "tests" / "lab" / "fixtures" / "cgw_lab"
TARGET_S = 5.0


def one_run(cgw_dir: Path, lab_dir: Path, log_dir: Path, timeout: float) -> dict[str, float]:
    start = time.monotonic()
    state = lab.up(lab.LabSpec.seed(), cgw_dir, lab_dir, log_dir)
    returned = time.monotonic() - start
    runtime = lab.LabRuntime.load(lab_dir)
    tunnels_up = None
    while True:
        report = observe.collect(runtime, with_routes=False)
        now = time.monotonic() - start
        if tunnels_up is None and all(t["status"] == "UP" and t["cgw"]["status"] == "UP" for t in report["tunnels"]):
            tunnels_up = now
        if observe.all_up(report):
            return {
                "up_returned": returned,
                "network": state.timings_s["network"],
                "tunnels_up": tunnels_up,
                "all_up": now,
            }
        if now > timeout:
            raise TimeoutError(lab.lifecycle.summarize(report))
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cgw-dir", type=Path, default=DEFAULT_CGW_DIR)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hybridnet-bench-"))
    lab_dir, log_dir = work / "lab", work / "logs"
    totals = []
    try:
        for run in range(1, args.runs + 1):
            timings = one_run(args.cgw_dir, lab_dir, log_dir, args.timeout)
            totals.append(timings["all_up"])
            print(
                f"run {run}: up() returned {timings['up_returned']:.2f}s "
                f"(network {timings['network']:.2f}s), tunnels UP {timings['tunnels_up']:.2f}s, "
                f"tunnels UP + BGP Established {timings['all_up']:.2f}s"
            )
    finally:
        lab.down(lab_dir)
    median = statistics.median(totals)
    print(
        f"median {median:.2f}s, max {max(totals):.2f}s over {len(totals)} runs "
        f"(target < {TARGET_S:.0f}s: {'OK' if max(totals) < TARGET_S else 'MISSED'}); logs in {log_dir}"
    )
    return 0 if max(totals) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
