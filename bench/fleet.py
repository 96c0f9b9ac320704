"""Print what the fleet health check costs against a per-connection loop, by fleet size.

    .venv/bin/python bench/fleet.py [--sizes 50,500,2000] [--loop-up-to 2000]

For each size N, in a fresh emulator of its own (a temporary HYBRIDNET_HOME; the
user's emulator and outputs are never touched): the demo fleet (emulator.fleetdemo:
healthy, a tunnel down, all down, flapping, no routes, routes not propagated, on a
virtual private gateway) seeded over 2 accounts (reached by assumed roles) x 4
regions, then

* the fleet check (hybridnet.fleet.check): wall time, AWS calls, and how many of its
  verdicts equal the seeded truth (target: 100%, under 30 s for 500);
* a loop that runs the single-stack health check's collectors once per connection
  (DescribeVpnConnections of that connection, its TunnelState history, its transit
  gateway's route table, judged by diagnostics.verdicts): wall time and calls
  (target: the fleet check at least 10x faster, with at least 20x fewer calls).

Both are timed warm (the fleet check: the median of three runs after a first one,
whose time is printed too), in this process, with the emulator on the same cores.
The emulator answers over loopback, so a call costs only its CPU; against AWS each
call also waits for the network. `--rtt-ms M` adds M ms to every call of both (a
sleep before each request is sent, the fleet's threads waiting side by side as
they would on the network), to show the figures with an AWS-like round trip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

ACCOUNTS = ["111111111111", "222222222222"]
REGIONS = ["ap-northeast-2", "eu-west-1", "us-east-1", "us-west-2"]
ROLE = "hybridnet-fleet-reader"
WARM_RUNS = 3  # the fleet check's figure: the median of these, after a first run


def fleet_settings():
    from hybridnet.fleet import Fleet

    return Fleet.model_validate(
        {
            "target": "emulator",
            "name": "bench",
            "region": REGIONS[0],
            "regions": REGIONS,
            "resolver_endpoints": False,
            "client_vpn_endpoints": False,
            "accounts": [{"name": f"acct-{a}", "role_arn": f"arn:aws:iam::{a}:role/{ROLE}"} for a in ACCOUNTS],
        }
    )


def add_round_trip(seconds: float) -> None:
    """Every client a scope makes (the fleet check's and the loop's) sleeps `seconds`
    before sending each request (botocore's before-send event)."""
    from hybridnet.fleet.scopes import Scope

    made = Scope.client

    def client(self, service):
        fresh = service not in self._clients
        answer = made(self, service)
        if fresh:
            answer.meta.events.register("before-send", lambda **_: time.sleep(seconds))
        return answer

    Scope.client = client


def per_connection_loop(settings) -> tuple[float, int, int]:
    """Today's single-stack collectors, once per connection: (seconds, calls, verdicts)."""
    from hybridnet.diagnostics import routes, tunnels, verdicts
    from hybridnet.fleet.run import frozen_heap
    from hybridnet.fleet.scopes import CallCounter, open_scopes

    started = time.monotonic()
    sts = CallCounter()
    statuses: list[str] = []
    with frozen_heap():  # as the fleet check runs: the comparison is of the calls, not of the collector
        scopes = open_scopes(settings, sts)
        for scope in scopes:
            ec2 = scope.client("ec2")
            ids = [v["VpnConnectionId"] for v in ec2.describe_vpn_connections()["VpnConnections"]]
            for vpn_id in ids:
                vpn = ec2.describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"]
                telemetry = tunnels.telemetry_frame(vpn)
                timeline = tunnels.timeline_frame(scope, vpn, settings.lookback_minutes)
                tgw = vpn[0].get("TransitGatewayId")
                tgw_routes = routes.tgw_routes_frame(scope, tgw) if tgw else None
                ev = verdicts.Evidence(
                    params=None,
                    thresholds=settings.thresholds,
                    telemetry=telemetry,
                    timeline=timeline,
                    tgw_routes=None,
                    router_bgp=None,
                )
                found = (
                    verdicts.check_tunnels(ev) + verdicts.check_accepted_routes(ev) + verdicts.check_tunnel_history(ev)
                )
                statuses += [v.status for v in found]
                if tgw_routes is not None:  # the single-stack TGW check needs a stack's on-prem CIDR: any route
                    via = tgw_routes[(tgw_routes["resource_id"] == vpn_id) & (tgw_routes["state"] == "active")]
                    statuses.append("FAIL" if via.empty else "OK")
    calls = sts.total + sum(s.counter.total for s in scopes)
    return time.monotonic() - started, calls, len(statuses)


def one_size(n: int, loop: bool) -> dict:
    from hybridnet import emulator, fleet
    from hybridnet.emulator import fleetdemo
    from hybridnet.emulator.fleet import client as fleet_client

    home = tempfile.mkdtemp(prefix="hybridnet-bench-fleet-")
    os.environ["HYBRIDNET_HOME"] = home
    try:
        emulator.start()
        spec, truth = fleetdemo.demo(ACCOUNTS, REGIONS, n)
        seeded = time.monotonic()
        fleet_client.seed(spec)
        seed_s = time.monotonic() - seeded
        settings = fleet_settings()
        result = fleet.check(settings)
        names = {f"acct-{a}": a for a in ACCOUNTS}
        got = result.table[result.table["check"].isin(fleet.CONNECTION_CHECKS)]
        got = {(names[r.account], r.region, r.name, r.check): r.status for r in got.itertuples()}
        want = {(t["account"], t["region"], t["name"], t["check"]): t["status"] for t in truth}
        equal = sum(1 for key, status in want.items() if got.get(key) == status)
        extra = len(set(got) - set(want))
        # The first check also pays what any first call pays (botocore loading the services'
        # models, the emulator's first answer per service); both sides are timed warm after it.
        warm = statistics.median(fleet.check(settings).seconds for _ in range(WARM_RUNS))
        figures = {
            "n": n,
            "seed_s": seed_s,
            "first_s": result.seconds,
            "fleet_s": warm,
            "fleet_calls": result.calls,
            "verdicts": len(want),
            "equal": equal,
            "extra": extra,
        }
        if loop:
            figures["loop_s"], figures["loop_calls"], _ = per_connection_loop(settings)
        return figures
    finally:
        emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="50,500,2000")
    parser.add_argument("--loop-up-to", type=int, default=2000, help="run the per-connection loop up to this N")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="a network round trip added to every AWS call")
    args = parser.parse_args()
    os.environ.setdefault("HYBRIDNET_LAB", "benchfl")  # never the user's lab (none is used here)
    if args.rtt_ms:
        add_round_trip(args.rtt_ms / 1000)
        print(f"every AWS call waits {args.rtt_ms:g} ms more (--rtt-ms), as over a network")
    print(
        f"{'N':>5} {'seed':>7} {'first':>7} {'fleet':>7} {'calls':>6} {'truth':>12} {'loop':>8} {'calls':>6} "
        f"{'faster':>7} {'fewer calls':>11}"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        f = one_size(n, n <= args.loop_up_to)
        truth = f"{f['equal']}/{f['verdicts']}" + (f" +{f['extra']}" if f["extra"] else "")
        line = f"{n:>5} {f['seed_s']:6.1f}s {f['first_s']:6.2f}s {f['fleet_s']:6.2f}s {f['fleet_calls']:>6} {truth:>12}"
        if "loop_s" in f:
            line += (
                f" {f['loop_s']:7.1f}s {f['loop_calls']:>6} {f['loop_s'] / f['fleet_s']:6.1f}x "
                f"{f['loop_calls'] / f['fleet_calls']:10.1f}x"
            )
        print(line, flush=True)
    print("targets: truth 100%; fleet check under 30 s for 500; >= 10x faster and >= 20x fewer calls than the loop")


if __name__ == "__main__":
    main()
