"""The lab's AWS side reports its tunnels to the emulator, as AWS's VPN endpoints
report to the service: every second, what each tunnel (by its AWS outside IP)
looks like: IPsec UP or DOWN, the BGP session, the prefixes received, bytes.

The emulator turns each report into VgwTelemetry, the transit gateway's
propagated routes and AWS/VPN metrics (POST /_hybridnet/data-plane, over its
unix socket: this runs in the lab's AWS namespace, where 127.0.0.1 is not the
host's). A report holds for a few seconds (its lease): when the agent stops
(`lab down` sends SIGTERM, and it sends a last report saying its tunnels are
gone) or dies, the emulator shows the tunnels DOWN with no data plane.

    python -m hybridnet.lab.telemetry --lab-dir DIR --emulator-socket SOCK --region R [--interval 1]
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from ..emulator.unix_client import AdminCallError, admin_call_unix

INTERVAL_S = 1.0
LEASE_INTERVALS = 3  # a report holds this many intervals


def tunnel_reports(lab_status: dict) -> list[dict]:
    """Per AWS-side outside IP, what VgwTelemetry should say (from lab.status())."""
    routes = lab_status.get("routes", {}).get("aws", [])
    bgp = lab_status.get("bgp", {}).get("aws", {})
    reports = []
    for tunnel in lab_status.get("tunnels", []):
        cgw_inside = tunnel.get("cgw_inside_ip")
        received = sorted(
            {r["prefix"] for r in routes if r.get("protocol") == "bgp" and r.get("next_hop") == cgw_inside}
        )
        session = bgp.get(cgw_inside, {}).get("state", "Idle")
        if tunnel["status"] != "UP":
            message = "IPSEC IS DOWN"
        elif session != "Established":
            message = f"BGP IS {session.upper()}"
        else:
            message = f"{len(received)} BGP ROUTES"
        reports.append(
            {
                "outside_ip": tunnel["vgw_outside_ip"],
                "status": tunnel["status"],
                "status_message": message,
                "received_routes": received if session == "Established" else [],
                "bytes_in": int(tunnel.get("bytes_in") or 0),
                "bytes_out": int(tunnel.get("bytes_out") or 0),
            }
        )
    return reports


def report_once(lab_dir: str, socket_path: str, region: str, interval_s: float, final: bool = False) -> bool:
    """Send one report; False when the lab is gone (then that was the last one)."""
    from . import status

    running = False
    tunnels: list[dict] = []
    if not final:
        state = status(lab_dir)
        running = bool(state.get("running"))
        tunnels = tunnel_reports(state) if running else []
    admin_call_unix(
        socket_path,
        "POST",
        "data-plane",
        {
            "reporter": lab_dir,
            "region": region,
            "tunnels": tunnels,
            "final": final or not running,
            "lease_s": interval_s * LEASE_INTERVALS,
        },
        timeout=10.0,
    )
    return running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hybridnet.lab.telemetry", description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", required=True)
    parser.add_argument("--emulator-socket", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--interval", type=float, default=INTERVAL_S)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        try:
            if not report_once(args.lab_dir, args.emulator_socket, args.region, args.interval):
                return 0  # the lab is gone (e.g. torn down without its state file): nothing to report
        except (AdminCallError, OSError, ValueError) as exc:  # keep reporting; say what went wrong
            print(f"{time.strftime('%H:%M:%S')} report failed: {exc}", file=sys.stderr, flush=True)
        stop.wait(args.interval)
    try:  # the lab is going down: its tunnels with it, at once rather than at the lease's end
        report_once(args.lab_dir, args.emulator_socket, args.region, args.interval, final=True)
    except (AdminCallError, OSError) as exc:
        print(f"last report failed: {exc}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
