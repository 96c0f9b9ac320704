"""Print how long a hybrid DNS probe matrix of 200 queries takes in the lab, and
the runbook's own matrix (2 hosts x 4 names) through SSM Run Command.

Builds its own stack on a fresh emulator (phases 1 and 3, the lab up with
real strongSwan/FRR and the two named servers of phase 3), then asks 200
queries per round: 100 from the on-prem client (hn-idc, via the IDC's DNS
server) and 100 from a VPC host (hn-vpc, via the VPC resolver). Three in four
names are new in each round (NXDOMAIN after a trip through the IPsec tunnels
to the other side's server: nothing cached), the rest are the notebook's
questions, asked straight from the namespaces (dnspython). Target:
under 2 s per round (concurrency, not sequential timeouts). Then the
notebook's matrix as the runbook asks it (one Run Command per host, dig
through the host's resolver): target under 2 s. Takes the lab down
and stops its emulator afterwards. Needs root; hold the dev lock:

    flock /run/hybridnet-dev.lock .venv/bin/python bench/lab_dns_matrix.py [--queries 200] [--rounds 3]
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

TARGET_S = 2.0


def probes(ctx, count: int, round_no: int) -> list:
    from hybridnet.diagnostics.dns import Probe
    from hybridnet.lab.topology import IDC_NS, VPC_NS
    from hybridnet.phases import hybrid_dns

    # the notebook's 8 questions (answers both ways), asked from the hosts' namespaces
    where = {"onprem_client": (ctx.params.onprem.hosts["websrv"], IDC_NS), "vpc_client": ("10.0.10.10", VPC_NS)}
    seed = [
        Probe(
            q.probe.side,
            q.probe.server,
            q.probe.qname,
            expected=q.probe.expected,
            source=where[role][0],
            netns=where[role][1],
        )
        for role, asked in hybrid_dns.probes(ctx).items()
        for q in asked
    ]
    sides = {p.side: p for p in seed}
    zone, domain = ctx.params.dns.private_zone, ctx.params.onprem.domain
    out = []
    for n in range(count):
        base = seed[n % len(seed)] if n % 4 == 0 else None
        if base is not None:
            out.append(base)
            continue
        side = sides["on-prem client"] if n % 2 else sides["VPC host"]
        other_side = zone if side.side == "on-prem client" else domain  # forwarded across the tunnels
        out.append(
            Probe(
                side.side,
                side.server,
                f"bench-r{round_no}-{n}.{other_side}",
                expected="NXDOMAIN",
                source=side.source,
                netns=side.netns,
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=2.0, help="per query, seconds")
    args = parser.parse_args()

    from hybridnet import dataplane

    reason = dataplane.lab_unavailable_reason()
    if reason:
        print(f"the lab cannot run here: {reason}", file=sys.stderr)
        return 2
    home = tempfile.mkdtemp(prefix="hybridnet-bench-dns-")
    os.environ["HYBRIDNET_HOME"] = home

    from hybridnet import emulator
    from hybridnet.aws import connect
    from hybridnet.diagnostics.dns import probe_matrix
    from hybridnet.params import load_params
    from hybridnet.phases import hybrid_dns, router_config, tgw_attachment

    run_dir = Path(home) / "run"
    run_dir.mkdir()
    try:
        start = time.monotonic()
        ctx = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "bench"}))
        tgw_attachment.run(ctx, progress=None)
        vpn, cfg = router_config.load_connection(ctx)
        router_config.write_router_configs(cfg, router_config.router_site(ctx), run_dir, targets=("lab",))
        lab_timings = dataplane.lab_up(ctx, vpn, router_config.router_dir(run_dir) / "lab", run_dir / "lab-logs")
        if "error" in lab_timings:
            print(f"lab did not come up: {lab_timings['error']}", file=sys.stderr)
            return 1
        hybrid_dns.run(ctx, progress=None)
        _, named = dataplane.dns_up(ctx, run_dir / "dns-lab", run_dir / "lab-logs")  # as the lab's agent does
        print(
            f"set-up: emulator + phases 1-3 + lab up + named in {time.monotonic() - start:.1f} s "
            f"(tunnels and BGP {lab_timings['tunnels_and_bgp_s']:.1f} s, named {named['named_s']:.2f} s)"
        )
        # The questions every round repeats (web1 from each side, 25 times at once), asked
        # once untimed: a resolver answers identical questions in flight from one fetch
        # and drops those beyond its clients-per-query (BIND: 10) until the answer is back,
        # so round 1 depended on the race; the timed rounds are about the uncached names.
        probe_matrix(probes(ctx, 8, 0), timeout=args.timeout)
        times = []
        for round_no in range(1, args.rounds + 1):
            batch = probes(ctx, args.queries, round_no)
            t0 = time.perf_counter()
            df = probe_matrix(batch, timeout=args.timeout)
            elapsed = time.perf_counter() - t0
            times.append(elapsed)
            bad = df[~df["ok"]]
            print(
                f"round {round_no}: {len(df)} queries in {elapsed:.3f} s, {len(df) - len(bad)} as expected, "
                f"latency median {df['latency_ms'].median():.1f} ms, max {df['latency_ms'].max():.1f} ms"
            )
            if len(bad):
                print(bad.head().to_string())
                return 1
        ssm_times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            df = hybrid_dns.probe_matrix(ctx, timeout=args.timeout)
            ssm_times.append(time.perf_counter() - t0)
            if not df["ok"].all():
                print(df.to_string())
                return 1
    finally:
        dataplane.lab_down()
        emulator.stop()
    median = statistics.median(times)
    across = sum(1 for n in range(args.queries) if n % 4)
    print(
        f"{args.queries} queries in the lab ({across} of them uncached, answered across the tunnels): "
        f"median {median:.3f} s, "
        f"best {min(times):.3f} s over {len(times)} rounds (target < {TARGET_S:.0f} s: "
        f"{'met' if median < TARGET_S else 'MISSED'})"
    )
    ssm_median = statistics.median(ssm_times)
    print(
        f"the runbook's matrix through SSM Run Command (2 hosts x 4 names, one command per host): "
        f"median {ssm_median:.3f} s, best {min(ssm_times):.3f} s over {len(ssm_times)} rounds "
        f"(target < {TARGET_S:.0f} s: {'met' if ssm_median < TARGET_S else 'MISSED'})"
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
