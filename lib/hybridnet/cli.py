"""`hybridnet` command line: run the runbook, manage the emulator.

Subcommands are a registry of small functions; each returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
import time

# Only what every command needs is imported here: the others import what they use, so
# that `healthcheck` launches its notebook's kernel before pandas and the rest load.
from . import execute, timings, workspace
from .errors import HybridnetError
from .locks import stack_lock
from .params import ParamsError, load_params
from .workspace import resolve_params_path

# `emulator status` and `lab status`: 0 when it runs, this when it does not. Not LSB's
# status code 3 (here a notebook that failed, errors.NotebookFailed): LSB's "program is
# not running" of the other init-script actions, free in the table (README: exit codes).
NOT_RUNNING = 7


def cmd_run(args: argparse.Namespace) -> int:
    from . import dataplane, emulator, healthcheck, summary

    params_file = resolve_params_path(args.params)
    params = load_params(params_file)  # fail before anything is touched
    names = execute.select(args.only)
    ctx = _check_account(params)  # before anything is created: one clear line if the account cannot be reached
    with stack_lock(params, "hybridnet run"):
        run_dir = workspace.new_run_dir("run")
        print(f"hybridnet run: {params.target} target, region {params.region}; outputs in {run_dir}")
        started = time.monotonic()
        if params.target == "emulator":
            _start_lab_agent(params_file, ctx)
        for name in names:
            done = execute.run_notebook(name, run_dir, {"params_file": str(params_file.resolve())})
            print(f"  {name}: done in {done.seconds:.1f} s -> {done.output}")
    print()
    print("\n".join(summary.summarize(run_dir, names)))
    if healthcheck.NOTEBOOK in names:
        report = healthcheck.export_html(run_dir / f"{healthcheck.NOTEBOOK}.ipynb", run_dir / "health_check.html")
        print(f"   report: {report}")
    print(f"\nall done in {time.monotonic() - started:.1f} s")
    if params.target == "emulator":
        info = emulator.status()
        if info:
            print(f"the emulator keeps running at {info.endpoint} (stop it: hybridnet emulator stop)")
        if dataplane.lab_running():
            print("the lab keeps running (see it: hybridnet lab status; stop it: hybridnet lab down)")
    return 0


def _check_account(params):
    """STS GetCallerIdentity with the params' target: the account and identity the
    runbook will act as, printed; a CredentialsError (one line, exit 4) otherwise.
    Returns the context it checked."""
    from .aws import caller_identity, connect

    ctx = connect(params)
    identity = caller_identity(ctx)
    print(f"account {identity['Account']} as {identity['Arn']} ({params.target}, {params.region})")
    return ctx


def cmd_teardown(args: argparse.Namespace) -> int:
    from . import results, summary

    params_file = resolve_params_path(args.params)
    params = load_params(params_file)
    _check_account(params)
    with stack_lock(params, "hybridnet teardown"):
        run_dir = workspace.new_run_dir("teardown")
        execute.run_notebook(execute.TEARDOWN, run_dir, {"params_file": str(params_file.resolve())})
    print("\n".join(summary.summarize(run_dir, [execute.TEARDOWN])))
    return 0 if not results.load(run_dir, execute.TEARDOWN)["left"] else 1


def cmd_emulator(args: argparse.Namespace) -> int:
    from . import emulator

    if args.action == "start":
        info = emulator.start(fresh=args.fresh)
        if args.params:
            from .aws import connect

            connect(load_params(resolve_params_path(args.params)))  # seeds the lab's starting state
        print(f"emulator running: pid {info.pid}, {info.endpoint}, log {info.log}; {_emulator_state(info)}")
    elif args.action == "status":
        running = emulator.status()
        print(
            f"emulator running: pid {running.pid}, {running.endpoint}; {_emulator_state(running)}"
            if running
            else "emulator not running (start it: hybridnet emulator start)"
        )
        return 0 if running else NOT_RUNNING
    elif args.action == "stop":
        print("emulator stopped" if emulator.stop() else "emulator was not running")
    elif args.action == "seed-fleet":
        return _seed_fleet(args)
    return 0


def _seed_fleet(args: argparse.Namespace) -> int:
    """A demo fleet in the emulator, over the accounts and regions of a fleet's settings:
    what `healthcheck --fleet` then reads (emulator.fleetdemo: a known mix of states)."""
    from collections import Counter

    from . import emulator, fleet
    from .emulator import fleetdemo
    from .emulator.fleet import client as fleet_client

    path = resolve_params_path(args.params or "params/fleet.yaml")
    settings = fleet.load_fleet(path)
    if settings.target != "emulator":
        raise ParamsError(
            str(path),
            [
                (
                    "target",
                    "seed-fleet fills the embedded emulator: use a fleet file with "
                    "target: emulator (e.g. params/fleet.yaml)",
                )
            ],
        )
    emulator.start()
    ids = fleetdemo.fleet_accounts(settings)
    spec, _ = fleetdemo.demo(sorted(set(ids.values())), settings.regions, args.connections, seed=args.seed)
    answer = fleet_client.seed({**spec, "external_ids": fleetdemo.external_ids(settings)})
    kinds = Counter(c["tags"]["kind"] for c in spec["connections"])
    print(
        f"seeded {len(answer['connections'])} connections over {len(set(ids.values()))} accounts x "
        f"{len(settings.regions)} regions in {answer.get('seconds', 0):.1f} s: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    )
    print(f"check them: hybridnet healthcheck --fleet {args.params or 'params/fleet.yaml'}")
    return 0


def _emulator_state(info) -> str:
    since = f"started {info.started_at}" if getattr(info, "started_at", None) else "started"
    restored = getattr(info, "restored_from", None)
    return f"{since}, its state restored from {restored}" if restored else f"{since} empty"


def cmd_lab_down(args: argparse.Namespace) -> int:
    from . import dataplane

    report = dataplane.lab_down()
    print(
        f"lab down: stopped {len(report['stopped'])} daemons, "
        f"deleted namespaces {', '.join(report['namespaces_deleted']) or '(none)'}"
    )
    return 0


def cmd_lab_fault(args: argparse.Namespace) -> int:
    from . import faults
    from .aws import connect

    params = load_params(resolve_params_path(args.params))
    with stack_lock(params, f"hybridnet lab fault {args.drill}"):  # as lab up: before anything is touched
        ctx = connect(params)
        if args.drill == "clear":
            print(f"cleared: {', '.join(faults.clear(ctx)) or 'nothing was applied'}")
        else:
            drill = faults.apply(ctx, args.drill)
            print(f"fault {drill.name}: {drill.what}; the health check should say {drill.expect}")
    return 0


def cmd_lab_status(args: argparse.Namespace) -> int:
    from . import dataplane

    table = dataplane.lab_status_frame()
    if table.empty:
        print("no lab running (start it: hybridnet lab up)")
        return NOT_RUNNING
    print(table.to_string(index=False))
    routes = dataplane.lab_routes_frame()
    print("\nroutes learned over BGP and installed for the tunnels:")
    print(routes.to_string(index=False) if not routes.empty else "(none)")
    return 0


def _start_lab_agent(params_file, ctx) -> dict | None:
    """The lab's agent for this stack, when the lab can run here: it plays AWS's
    side as the notebooks create the resources (see hybridnet.lab.twin)."""
    from . import dataplane

    if ctx.data_plane != dataplane.LAB:
        print(f"no lab: {ctx.data_plane_reason}")
        return None
    info = dataplane.twin_start(ctx, params_file)
    print(f"lab agent (pid {info['pid']}) plays stack {ctx.params.name!r}; its log: {info['log']}")
    return info


def cmd_lab_up(args: argparse.Namespace) -> int:
    # The lab's agent plays AWS's side from the emulator's state; the customer
    # gateway gets its setup through SSM as notebook 02 sends it; then the DNS
    # servers (the agent) and the Client VPN endpoint, where the account has them.
    # The stack is held (as by run and teardown) before anything is touched, the
    # emulator included: a `lab up` during a `run` of the stack refuses (exit 5).
    from .aws import connect

    params_file = resolve_params_path(args.params)
    params = load_params(params_file)
    with stack_lock(params, "hybridnet lab up"):
        return _lab_up(params_file, params, connect(params))


def _lab_up(params_file, params, ctx) -> int:
    from . import dataplane
    from .phases import PhaseError, router_config

    if ctx.data_plane != dataplane.LAB:
        print(f"hybridnet: the lab cannot run: {ctx.data_plane_reason}", file=sys.stderr)
        return 2
    _start_lab_agent(params_file, ctx)
    try:
        vpn, cfg = router_config.load_connection(ctx)
    except PhaseError as exc:
        print(f"nothing to play yet ({exc}); the agent brings AWS's side up when the notebooks create it")
        return 0
    if not dataplane.wait_for_twin(ctx):
        print("hybridnet: the lab's agent did not bring the network up in time; see its log", file=sys.stderr)
        return 1
    run_dir = workspace.new_run_dir("lab")
    deployment = router_config.deploy(ctx, vpn, cfg)
    print(deployment.table.to_string(index=False))
    print(dataplane.lab_status_frame().to_string(index=False))
    if params.dns and params.onprem_dns.apply:  # the on-prem DNS server's files, as notebook 03 sends them
        from .phases import hybrid_dns

        try:
            inbound = dataplane.dns_spec(ctx)["inbound_ips"]
        except RuntimeError:
            inbound = []
        if inbound:
            print(hybrid_dns.apply_onprem_bind(ctx, inbound).table.to_string(index=False))
    for line in dataplane.twin_services_up(ctx, run_dir):
        print(line)
    print("stop it: hybridnet lab down")
    return 0 if deployment.ok else 1


def cmd_healthcheck(args: argparse.Namespace) -> int:
    from .params import load_healthcheck

    if args.fleet:
        return _fleet_healthcheck(args)
    if args.shard or args.merge:
        raise ParamsError(
            "healthcheck",
            [
                (
                    "--shard/--merge",
                    "go with --fleet FILE (the fleet's settings), e.g. "
                    "hybridnet healthcheck --fleet params/fleet.yaml --shard 1/4",
                )
            ],
        )

    if args.timings:  # from here on, this process and the notebook's kernel record their phases
        timings.start()
    path = resolve_params_path(args.params)
    settings = load_healthcheck(path)  # fail on bad settings before anything runs
    params = settings[1]
    since = ""
    if args.since:  # a run that is not there (or unreadable): one line, exit 2, before anything runs
        from .diagnostics import changes

        since = changes.load_snapshot(args.since)["path"]
    # The notebook's kernel starts, and imports what notebook 10 uses, while this process
    # imports the rest and checks the account; a kernel touches nothing.
    kernel = execute.start_kernel(preload=execute.PRELOAD[execute.HEALTHCHECK])
    try:
        from . import healthcheck

        with timings.phase("account (STS)"):
            _check_account(params)
        done = healthcheck.run(path, since=since, settings=settings, kernel=kernel)  # notify connects as the notebook
    finally:
        with timings.phase("kernel stop"):
            execute.stop_kernel(kernel)
    width = max([len(c) for c in done.verdicts["check"]] + [5])
    print(f"health check: {healthcheck.STATUS_WORDS[done.exit_code]}")
    if done.changes:
        print(f"  {done.changes}")
    for row in done.verdicts.itertuples():
        print(f"  {row.status:<4}  {row.check:<{width}}  {row.reason}")
        if row.status != "OK" and getattr(row, "cause", ""):
            print(f"        {'':<{width}}  cause {row.cause}: {row.evidence}")
        if row.status != "OK" and row.action:
            print(f"        {'':<{width}}  -> {row.action}")
    print(f"report: {done.report}")
    if done.notification is not None:  # a failed publish is one line; the exit status stands
        print(done.notification.line)
    if args.metrics_file:
        from . import metrics

        try:
            print(f"metrics: {metrics.write(args.metrics_file, params.name, done)}")
        except OSError as exc:
            print(f"warning: metrics not written to {args.metrics_file}: {exc.strerror or exc}")
    if args.timings:
        print(timings.report(done.notebook), file=sys.stderr)
    return done.exit_code


FLEET_ROWS = 20  # the worst verdicts printed; the report and fleet_verdicts.csv hold them all


def _fleet_healthcheck(args: argparse.Namespace) -> int:
    """The fleet check (notebook 11 with papermill): one shard of the accounts, or the
    merge of the shards' runs; its summary, the worst verdicts and the report."""
    from . import fleet, healthcheck, results

    path = resolve_params_path(args.fleet)
    settings = fleet.load_fleet(path)  # fail on bad settings before anything runs
    fleet.shard(settings, fleet.parse_shard(args.shard))  # and on a bad shard
    label = "fleet" + (f"-shard{args.shard.replace('/', 'of')}" if args.shard else "-merge" if args.merge else "")
    run_dir = workspace.new_run_dir(label)
    done = execute.run_notebook(
        fleet.NOTEBOOK,
        run_dir,
        {"fleet_file": str(path.resolve()), "shard": args.shard, "merge": list(args.merge or [])},
    )
    report = healthcheck.export_html(done.output, run_dir / "fleet_health.html")
    data = results.load(run_dir, fleet.NOTEBOOK)
    print(data["summary"])
    width = max([len(r["check"]) for r in data["worst"]] + [5])
    for row in data["worst"][:FLEET_ROWS]:
        if row["status"] == "OK":
            break
        named = f"{row['resource']} ({row['name']})" if row["name"] else row["resource"]
        print(
            f"  {row['status']:<4}  {row['account']}/{row['region']}  {named}  {row['check']:<{width}}  "
            f"{row['reason']}" + (f"  [{row['cause']}]" if row["cause"] else "")
        )
    print(f"{data['calls']} AWS calls in {data['seconds']:.1f} s; every verdict: {run_dir / 'fleet_verdicts.csv'}")
    print(f"report: {report}")
    return int(data["exit_code"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybridnet", description="AWS hybrid networking runbook and diagnostics")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the runbook's notebooks with papermill")
    run.add_argument("--params", default="params/lab.yaml", help="parameter file (default params/lab.yaml)")
    run.add_argument(
        "--only",
        nargs="+",
        metavar="NOTEBOOK",
        help=f"only these notebooks (name or number): {', '.join(execute.NOTEBOOKS)}",
    )
    run.set_defaults(func=cmd_run)

    emu = sub.add_parser("emulator", help="the embedded AWS emulator (moto + hybridnet extensions)")
    emu.add_argument("action", choices=["start", "status", "stop", "seed-fleet"])
    emu.add_argument(
        "--params",
        help="start: seed the lab's starting state from this parameter file; seed-fleet: "
        "the fleet's settings whose accounts and regions get the demo fleet "
        "(default params/fleet.yaml)",
    )
    emu.add_argument(
        "--connections", type=int, default=40, metavar="N", help="seed-fleet: how many VPN connections (default 40)"
    )
    emu.add_argument("--seed", type=int, default=7, help="seed-fleet: the random mix's seed (default 7)")
    emu.add_argument(
        "--fresh",
        action="store_true",
        help="start: empty, on purpose (a running emulator is stopped; its saved state is kept as "
        "outputs/.state/emulator-state.<date-time>.pickle)",
    )
    emu.set_defaults(func=cmd_emulator)

    down = sub.add_parser("teardown", help="remove everything the suite created (notebook 99), and the lab")
    down.add_argument("--params", default="params/lab.yaml", help="parameter file of the stack")
    down.set_defaults(func=cmd_teardown)

    check = sub.add_parser("healthcheck", help="run the health check notebook; exit 0 OK, 1 WARN, 2 FAIL")
    check.add_argument("--params", default="params/healthcheck.yaml", help="health check settings")
    check.add_argument(
        "--since",
        metavar="RUN",
        default="",
        help="compare with this earlier run (its id in outputs/, or its folder) instead of the previous one",
    )
    check.add_argument(
        "--metrics-file",
        metavar="PATH",
        default="",
        help="also write the verdicts and tunnel states there in the Prometheus text format "
        "(node_exporter's textfile collector: a .prom file in --collector.textfile.directory)",
    )
    check.add_argument(
        "--fleet",
        metavar="FILE",
        default="",
        help="check a fleet instead: every Site-to-Site VPN of the accounts and regions in FILE "
        "(e.g. params/fleet.yaml; notebook 11)",
    )
    check.add_argument(
        "--shard",
        metavar="K/N",
        default="",
        help="with --fleet: read only every N-th account from the K-th (one of N scheduled jobs)",
    )
    check.add_argument(
        "--merge",
        metavar="RUN",
        nargs="+",
        default=[],
        help="with --fleet: join these shards' runs (ids under outputs/, or folders) into one report",
    )
    check.add_argument(
        "--timings",
        action="store_true",
        help="at the end, print on stderr how long each phase took (the command's, papermill's, "
        "the notebook's cells, each collector)",
    )
    check.set_defaults(func=cmd_healthcheck)

    lab = sub.add_parser(
        "lab",
        help="the local lab of real daemons (root): both ends of the tunnels",
        description="The local lab (root): real strongSwan, FRR, BIND and OpenVPN daemons in "
        "network namespaces, playing both ends of the hybrid network.",
    )
    lab_sub = lab.add_subparsers(dest="action", required=True, metavar="{up,status,down,fault}")
    params_help = "parameter file of the stack (default params/lab.yaml)"
    up = lab_sub.add_parser(
        "up",
        help="bring the lab up from the emulator's state: tunnels and BGP, and the DNS "
        "servers and Client VPN endpoint when the account has them",
    )
    up.add_argument("--params", default="params/lab.yaml", help=params_help)
    up.set_defaults(func=cmd_lab_up)
    lab_sub.add_parser("status", help="tunnels, BGP sessions and routes on both ends").set_defaults(func=cmd_lab_status)
    lab_sub.add_parser("down", help="stop every lab daemon by its pid and delete the lab's namespaces").set_defaults(
        func=cmd_lab_down
    )
    from .faults import DRILLS

    drills = "\n".join(f"  {d.name:<22} {d.what} -> {d.expect}" for d in DRILLS.values())
    fault = lab_sub.add_parser(
        "fault",
        help="break one thing on purpose (a drill), or clear every drill",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Break one thing in the lab on purpose and see the health check catch it.",
        epilog=f"drills:\n{drills}\n  {'clear':<22} undo every drill applied",
    )
    fault.add_argument("drill", choices=[*DRILLS, "clear"], metavar="DRILL", help="a drill below, or clear")
    fault.add_argument("--params", default="params/lab.yaml", help=params_help)
    fault.set_defaults(func=cmd_lab_fault)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ParamsError as exc:  # it lists every problem, each naming its field
        print(exc, file=sys.stderr)
        return exc.exit_code
    except HybridnetError as exc:  # a known failure: its message, its exit code, no traceback
        print(f"hybridnet: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # bad input caught by a library (e.g. an unknown --only notebook)
        print(f"hybridnet: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
