"""Print how fast the emulator starts and answers, and how long `hybridnet run`
of notebook 01 takes (wall clock), each in a fresh HYBRIDNET_HOME.

    .venv/bin/python bench/emulator_and_phase1.py [--repeat N]
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

from hybridnet import emulator  # noqa: E402


def emulator_start_and_first_call() -> tuple[float, float]:
    start = time.monotonic()
    info = emulator.start()
    started = time.monotonic() - start
    ec2 = emulator.client("ec2", "ap-northeast-2", info)  # signed with the emulator's own credentials
    ec2.describe_vpcs()
    answered = time.monotonic() - start
    emulator.stop()
    return started, answered


def hybridnet_run_01() -> float:
    start = time.monotonic()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hybridnet"), "run", "--only", "01"], cwd=ROOT, check=True, capture_output=True
    )
    elapsed = time.monotonic() - start
    subprocess.run([str(ROOT / ".venv" / "bin" / "hybridnet"), "emulator", "stop"], capture_output=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    starts, answers, runs = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="hybridnet-bench-") as home:
            os.environ["HYBRIDNET_HOME"] = home
            started, answered = emulator_start_and_first_call()
            starts.append(started)
            answers.append(answered)
        with tempfile.TemporaryDirectory(prefix="hybridnet-bench-") as home:
            os.environ["HYBRIDNET_HOME"] = home
            runs.append(hybridnet_run_01())
    print(f"runs: {args.repeat} on {os.cpu_count()} cores")
    print(f"emulator started (health answered): median {statistics.median(starts):.2f} s, max {max(starts):.2f} s")
    print(
        f"  + first EC2 call answered:        median {statistics.median(answers):.2f} s, max {max(answers):.2f} s"
        "  (target < 5 s)"
    )
    print(
        f"hybridnet run --only 01 (wall):     median {statistics.median(runs):.2f} s, max {max(runs):.2f} s"
        "  (target < 20 s)"
    )


if __name__ == "__main__":
    main()
