"""Print what the emulator's saved state costs: one save after a mutating call, and a
restart (and a hard kill) with the state of the seed stack plus a typical run.

    .venv/bin/python bench/emulator_restart.py [--repeat N] [--writes N]

In a fresh HYBRIDNET_HOME: the seed, then phases 1, 3, 4 and 5 without a lab (a
VPN connection with its TGW attachment, the Resolver endpoints and rule, the
Client VPN endpoint with its ACM certificates, the connect handler's Lambda
function and role). Then:

* one save: the emulator's own figure (health: pickle, write, fsync, rename)
  after each of --writes CreateTags calls, and those calls' latency as boto3
  sees it, next to a read's (target: a save well under 100 ms);
* a restart: from emulator.stop() until the restored emulator answers its first
  EC2 call, and the same after a SIGKILL of its pid (target < 5 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

REGION = "ap-northeast-2"
RESTART_TARGET_S = 5.0
SAVE_TARGET_MS = 100.0


def typical_run(work: Path) -> float:
    from hybridnet.aws import connect
    from hybridnet.params import load_params
    from hybridnet.phases import client_vpn, connect_handler, hybrid_dns, tgw_attachment

    started = time.monotonic()
    ctx = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"lab": "off"}))  # starts it, seeds
    tgw_attachment.run(ctx, progress=None)
    hybrid_dns.run(ctx, progress=None)
    client_vpn.run(ctx, work, progress=None)
    connect_handler.run(ctx, progress=None)
    return time.monotonic() - started


def restart(kill: bool) -> float:
    from hybridnet import emulator
    from hybridnet.emulator.process import _is_ours

    old = emulator.status()
    started = time.monotonic()
    if kill:
        os.kill(old.pid, signal.SIGKILL)
        while _is_ours(old.pid):  # until it is dead (a zombie has no command line)
            time.sleep(0.01)
    else:
        emulator.stop()
    info = emulator.start()
    emulator.client("ec2", REGION, info).describe_vpcs()
    elapsed = time.monotonic() - started
    assert info.restored_from, "the emulator did not restore its state"
    return elapsed


def line(what: str, values: list[float], unit: str, target: str = "") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    return (
        f"{what:<44} median {statistics.median(values) * scale:7.1f} {unit}, max {max(values) * scale:7.1f} {unit}"
        + (f"  ({target})" if target else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="restarts of each kind")
    parser.add_argument("--writes", type=int, default=20, help="mutating calls timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hybridnet-bench-restart-") as work:
        os.environ["HYBRIDNET_HOME"] = str(Path(work) / "home")
        from hybridnet import emulator

        try:
            run_s = typical_run(Path(work))
            info = emulator.status()
            health = emulator.admin_call(info, "GET", "health")["state"]
            size = emulator.saved_state_file().stat().st_size
            ec2 = emulator.client("ec2", REGION, info)
            vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
            saves, writes, reads = [], [], []
            for n in range(args.writes):
                started = time.monotonic()
                ec2.create_tags(Resources=[vpc], Tags=[{"Key": "bench", "Value": str(n)}])
                writes.append(time.monotonic() - started)
                saves.append(emulator.admin_call(info, "GET", "health")["state"]["last_save_ms"] / 1000.0)
                started = time.monotonic()
                ec2.describe_vpcs(VpcIds=[vpc])
                reads.append(time.monotonic() - started)
            stops = [restart(kill=False) for _ in range(args.repeat)]
            kills = [restart(kill=True) for _ in range(args.repeat)]
        finally:
            emulator.stop()
    print(
        f"seed + phases 1, 3, 4, 5 (no lab): {run_s:.1f} s, {health['saves']} saves; "
        f"saved state {size / 1024:.0f} KiB; {os.cpu_count()} cores"
    )
    print(line("one save (in the emulator)", saves, "ms", f"target well under {SAVE_TARGET_MS:.0f} ms"))
    print(line("a mutating call (CreateTags), save included", writes, "ms"))
    print(line("a read (DescribeVpcs), no save", reads, "ms"))
    print(line("restart: stop, start, first EC2 answer", stops, "s", f"target < {RESTART_TARGET_S:.0f} s"))
    print(line("hard kill (SIGKILL), start, first EC2 answer", kills, "s", f"target < {RESTART_TARGET_S:.0f} s"))
    ok = max(stops + kills) < RESTART_TARGET_S and statistics.median(saves) * 1000 < SAVE_TARGET_MS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
