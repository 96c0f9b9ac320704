"""`hybridnet` command line: run the runbook, manage the emulator.

Subcommands are a registry of small functions; each returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


from . import emulator, execute, summary, workspace
from .params import ParamsError, load_params
from .runbook import resolve_params_path


def cmd_run(args: argparse.Namespace) -> int:
    params_file = resolve_params_path(args.params)
    params = load_params(params_file)  # fail before anything is touched
    names = execute.select(args.only)
    run_dir = workspace.new_run_dir("run")
    print(f"hybridnet run: {params.target} target, region {params.region}; outputs in {run_dir}")
    started = time.monotonic()
    for name in names:
        done = execute.run_notebook(name, params_file, run_dir)
        print(f"  {name}: done in {done.seconds:.1f} s -> {done.output}")
    print()
    print("\n".join(summary.summarize(run_dir, names)))
    print(f"\nall done in {time.monotonic() - started:.1f} s")
    if params.target == "emulator":
        info = emulator.status()
        if info:
            print(f"the emulator keeps running at {info.endpoint} (stop it: hybridnet emulator stop)")
    return 0


def cmd_emulator(args: argparse.Namespace) -> int:
    if args.action == "start":
        info = emulator.start()
        if args.params:
            from .aws import connect

            connect(load_params(resolve_params_path(args.params)))  # seeds the lab's starting state
        print(f"emulator running: pid {info.pid}, {info.endpoint}, log {info.log}")
    elif args.action == "status":
        info = emulator.status()
        print(f"emulator running: pid {info.pid}, {info.endpoint}" if info else "emulator not running")
        return 0 if info else 3
    elif args.action == "stop":
        print("emulator stopped" if emulator.stop() else "emulator was not running")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybridnet", description="AWS hybrid networking runbook and diagnostics")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the runbook's notebooks with papermill")
    run.add_argument("--params", default="params/lab.yaml", help="parameter file (default params/lab.yaml)")
    run.add_argument("--only", nargs="+", metavar="NOTEBOOK",
                     help=f"only these notebooks (name or number): {', '.join(execute.NOTEBOOKS)}")
    run.set_defaults(func=cmd_run)

    emu = sub.add_parser("emulator", help="the embedded AWS emulator (moto + hybridnet extensions)")
    emu.add_argument("action", choices=["start", "status", "stop"])
    emu.add_argument("--params", help="seed the lab's starting state from this parameter file")
    emu.set_defaults(func=cmd_emulator)
    return parser



def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ParamsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"hybridnet: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
