"""Print, per fault drill, how long the health check takes to name the drill's cause,
how long one health check takes, and how long after `clear` it is all OK again.

    .venv/bin/python bench/drill_causes.py [--only DRILL ...] [--bound SECONDS]

As root, in a fresh HYBRIDNET_HOME with its own lab (HYBRIDNET_LAB=bench): the
whole runbook on the emulator and the lab (as `hybridnet run`), then each drill
in turn: apply it, run the health check's collect-and-judge in a loop until a
verdict carries the drill's cause (or --bound passes), clear it, and loop until
every verdict is OK again. A benchmark, not a test: it prints figures.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="DRILL", help="these drills only")
    parser.add_argument("--bound", type=float, default=120.0, help="give up on a drill after this many seconds")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run it as root: the lab needs network namespaces")
    home = tempfile.mkdtemp(prefix="hybridnet-bench-causes-")
    os.environ.update(HYBRIDNET_HOME=home, HYBRIDNET_LAB="bench")
    from hybridnet import dataplane, emulator, faults
    from hybridnet.aws import connect
    from hybridnet.diagnostics import verdicts
    from hybridnet.healthcheck import collect
    from hybridnet.params import load_healthcheck

    params_file = ROOT / "params" / "lab.yaml"
    try:
        started = time.monotonic()
        with open(Path(home) / "run.log", "w") as log:
            subprocess.run(
                [str(ROOT / ".venv" / "bin" / "hybridnet"), "run", "--params", str(params_file)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )
        print(f"runbook with the lab: {time.monotonic() - started:.1f} s")
        check, params = load_healthcheck(ROOT / "params" / "healthcheck.yaml")
        ctx = connect(params)

        def judged() -> tuple[list, float]:
            began = time.monotonic()
            found = verdicts.evaluate(collect(ctx, check))
            return found, time.monotonic() - began

        rows, one_check = [], []
        for name in args.only or list(faults.DRILLS):
            drill = faults.DRILLS[name]
            faults.apply(ctx, name)
            applied, named, cause = time.monotonic(), None, "-"
            while time.monotonic() - applied < args.bound:
                found, took = judged()
                one_check.append(took)
                causes = {v.cause for v in found if v.status != "OK"}
                if drill.cause in causes:
                    named = time.monotonic() - applied
                    cause = drill.cause
                    break
                cause = ", ".join(sorted(c for c in causes if c)) or "none"
            faults.clear(ctx)
            cleared, ok_again = time.monotonic(), None
            while time.monotonic() - cleared < args.bound:
                found, took = judged()
                one_check.append(took)
                if all(v.status == "OK" for v in found):
                    ok_again = time.monotonic() - cleared
                    break
            rows.append((name, drill.cause, named, cause, ok_again))
        print(f"\n{'drill':<22} {'expected cause':<30} {'named after':>11}  {'OK again after':>14}  got")
        for name, expected, named, cause, ok_again in rows:
            print(
                f"{name:<22} {expected:<30} {f'{named:.1f} s' if named else 'never':>11}  "
                f"{f'{ok_again:.1f} s' if ok_again else 'never':>14}  {cause}"
            )
        print(
            f"\none health check (collect + judge, in-process): median {statistics.median(one_check):.1f} s, "
            f"max {max(one_check):.1f} s over {len(one_check)} runs"
        )
    finally:
        dataplane.lab_down()
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
