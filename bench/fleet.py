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
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

ACCOUNTS = ["111111111111", "222222222222"]
REGIONS = ["ap-northeast-2", "eu-west-1", "us-east-1", "us-west-2"]
ROLE = "hybridnet-fleet-reader"


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


def per_connection_loop(settings) -> tuple[float, int, int]:
    """Today's single-stack collectors, once per connection: (seconds, calls, verdicts)."""
    from hybridnet.diagnostics import routes, tunnels, verdicts
    from hybridnet.fleet.scopes import CallCounter, open_scopes

    started = time.monotonic()
    sts = CallCounter()
    scopes = open_scopes(settings, sts)
    statuses: list[str] = []
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
            found = verdicts.check_tunnels(ev) + verdicts.check_accepted_routes(ev) + verdicts.check_tunnel_history(ev)
            statuses += [v.status for v in found]
            if tgw_routes is not None:  # the single-stack TGW check needs a stack's on-prem CIDR: any active route
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
        figures = {
            "n": n,
            "seed_s": seed_s,
            "fleet_s": result.seconds,
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
    args = parser.parse_args()
    os.environ.setdefault("HYBRIDNET_LAB", "benchfl")  # never the user's lab (none is used here)
    print(
        f"{'N':>5} {'seed':>7} {'fleet':>7} {'calls':>6} {'truth':>12} {'loop':>8} {'calls':>6} "
        f"{'faster':>7} {'fewer calls':>11}"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        f = one_size(n, n <= args.loop_up_to)
        truth = f"{f['equal']}/{f['verdicts']}" + (f" +{f['extra']}" if f["extra"] else "")
        line = f"{n:>5} {f['seed_s']:6.1f}s {f['fleet_s']:6.2f}s {f['fleet_calls']:>6} {truth:>12}"
        if "loop_s" in f:
            line += (
                f" {f['loop_s']:7.1f}s {f['loop_calls']:>6} {f['loop_s'] / f['fleet_s']:6.1f}x "
                f"{f['loop_calls'] / f['fleet_calls']:10.1f}x"
            )
        print(line, flush=True)
    print("targets: truth 100%; fleet check under 30 s for 500; >= 10x faster and >= 20x fewer calls than the loop")


if __name__ == "__main__":
    main()
