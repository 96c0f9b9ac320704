"""Benchmark: an SSM Run Command round trip against the emulator.

    .venv/bin/python bench/ssm_round_trip.py [--runs N] [--netns]

In a fresh emulator of its own (a temporary HYBRIDNET_HOME), registers an EC2
instance as managed through the admin API and times, per run, SendCommand of
AWS-RunShellScript `true` until GetCommandInvocation reports Success, output
read (polled every 5 ms: botocore's command_executed waiter cannot poll more
often than once a second, so it is not what is timed). The instance runs
commands on this host (argv_prefix []), or with --netns (root only) in a
throwaway network namespace, as the lab registers its hosts. Prints the
median and the maximum. Target: median under 300 ms. Stops the emulator it
started.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

TARGET_S = 0.3
REGION = "ap-northeast-2"
POLL_S = 0.005
NETNS = "hnbench-ssm"


def round_trip(ssm, instance_id: str) -> float:
    started = time.monotonic()
    command_id = ssm.send_command(
        InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}
    )["Command"]["CommandId"]
    while True:
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if invocation["Status"] not in ("Pending", "InProgress", "Delayed"):
            break
        time.sleep(POLL_S)
    elapsed = time.monotonic() - started
    if invocation["Status"] != "Success":
        raise RuntimeError(f"command {command_id}: {invocation['Status']} {invocation['StandardErrorContent']!r}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--netns", action="store_true", help="run the commands in a throwaway netns (root)")
    args = parser.parse_args()
    if args.netns and os.geteuid() != 0:
        parser.error("--netns needs root")
    os.environ["HYBRIDNET_HOME"] = tempfile.mkdtemp(prefix="hn-bench-ssm-")

    from hybridnet import emulator

    alive = Path(os.environ["HYBRIDNET_HOME"]) / "alive"
    alive.touch()
    registration = {"argv_prefix": [], "alive_path": str(alive)}
    if args.netns:
        subprocess.run(["ip", "netns", "add", NETNS], check=True)
        registration = {"argv_prefix": ["ip", "netns", "exec", NETNS], "alive_path": f"/run/netns/{NETNS}"}
    try:
        started = time.monotonic()
        info = emulator.start()
        ec2 = emulator.client("ec2", REGION, info)
        ssm = emulator.client("ssm", REGION, info)
        instance_id = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "bench-host"}]}],
        )["Instances"][0]["InstanceId"]
        emulator.admin_call(
            info,
            "POST",
            "ssm-instances",
            {"region": REGION, "instances": [{"instance_id": instance_id, **registration}]},
        )
        round_trip(ssm, instance_id)  # warm-up: first SSM call loads moto's SSM backend
        print(
            f"set-up (emulator, instance, registration, warm-up) {time.monotonic() - started:.1f} s; "
            f"commands run {'in netns ' + NETNS if args.netns else 'on this host'}"
        )
        times = [round_trip(ssm, instance_id) for _ in range(args.runs)]
    finally:
        emulator.stop()
        if args.netns:
            subprocess.run(["ip", "netns", "delete", NETNS], check=False)
    median = statistics.median(times)
    print(
        f"SendCommand `true` -> Success, output read: {args.runs} runs, median {median * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms (target: median under {TARGET_S * 1000:.0f} ms)"
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
