"""Benchmark: connect of an allowed remote user to the lab's Client VPN endpoint, handler included.

    sudo flock /run/hybridnet-dev.lock .venv/bin/python bench/client_vpn_connect.py [--runs N]

Sets up everything first in a fresh emulator of its own (phases 1 and 2 with
the lab, phase 4 and the lab's endpoint, phase 5), then times, per run, from
starting the user's OpenVPN with the phase-4 profile until it reports
"Initialization Sequence Completed": TLS with both certificates, the connect
step (the emulator running the Lambda handler's code) and the pushed
configuration. Also prints the connect step's own share, as the lab's agent
logged it. Target: under 2 s. Takes the lab and the emulator down afterwards.
Needs root.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

TARGET_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hybridnet-bench-cvpn-"))
    os.environ["HYBRIDNET_HOME"] = str(work / "home")

    from hybridnet import dataplane, emulator
    from hybridnet.aws import connect
    from hybridnet.lab import client_vpn as lab_client_vpn
    from hybridnet.lab import fromaws
    from hybridnet.params import load_params
    from hybridnet.phases import client_vpn, connect_handler, router_config, tgw_attachment

    totals, handler_s = [], []
    try:
        started = time.monotonic()
        ctx = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"lab": "on"}))
        tgw_attachment.run(ctx, progress=None)
        vpn, cfg = router_config.load_connection(ctx)
        router_config.write_router_configs(cfg, router_config.router_site(ctx), work, targets=("lab",))
        dataplane.lab_up(ctx, vpn, router_config.router_dir(work) / "lab", work / "lab-logs")
        phase4 = client_vpn.run(ctx, work, progress=None)
        # as the lab's agent plays it (this bench drives the lab itself, without the agent)
        spec = fromaws.client_vpn_spec_from_aws(ctx, phase4.endpoint_id, emulator.status().socket)
        state = lab_client_vpn.up(dataplane.LAB_DIR, spec)
        handler = connect_handler.run(ctx, progress=None)
        print(
            f"set-up (emulator, phases 1, 2, 4, 5, lab) {time.monotonic() - started:.1f} s; "
            f"lab endpoint up in {state.timings_s['daemons_s']:.2f} s; handler {handler.function.name}"
        )
        agent_log = Path(work / "lab-logs" / f"{lab_client_vpn.AGENT.replace('@', '-')}.log")
        for run in range(1, args.runs + 1):
            attempt = lab_client_vpn.connect(dataplane.LAB_DIR, "user", phase4.profile.path)
            if not attempt.connected:
                print(f"run {run}: NOT connected: {attempt.outcome}: {attempt.message}")
                return 1
            decided = re.findall(r"allowed as \S+ \S+ \((\d+\.\d+) s\)", agent_log.read_text())
            handler_s.append(float(decided[-1]) if decided else float("nan"))
            totals.append(attempt.seconds)
            print(
                f"run {run}: connected as {attempt.client_ip} in {attempt.seconds:.2f} s "
                f"(connect step incl. handler {handler_s[-1]:.2f} s)"
            )
            lab_client_vpn.disconnect(dataplane.LAB_DIR, "user")
            client_vpn.wait_connection_status(ctx, phase4.endpoint_id, attempt.client_ip, "terminated")
    finally:
        dataplane.lab_down()
        emulator.stop()
    median = statistics.median(totals)
    print(
        f"connect median {median:.2f} s, max {max(totals):.2f} s over {len(totals)} runs; connect step median "
        f"{statistics.median(handler_s):.2f} s (target < {TARGET_S:.0f} s: "
        f"{'OK' if max(totals) < TARGET_S else 'MISSED'}); logs in {work / 'lab-logs'}"
    )
    return 0 if max(totals) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
