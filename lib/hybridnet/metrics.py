"""The health check's verdicts and tunnel states as a Prometheus text file, for
node_exporter's textfile collector (`--collector.textfile.directory`):
`hybridnet healthcheck --metrics-file DIR/hybridnet.prom`.

Written with prometheus_client's `write_to_textfile`, which writes a temporary
file beside the target and renames it over it: the collector never reads a
half-written file. Series (every one labelled with the stack):

* ``hybridnet_healthcheck_status`` 0 OK, 1 WARN, 2 FAIL (the exit status);
* ``hybridnet_check_status{check,cause}`` per verdict, same scale (cause "" when OK);
* ``hybridnet_tunnel_up{vpn_connection_id,outside_ip}`` 1 UP, 0 otherwise, from the
  tunnels of the run's snapshot (none when the telemetry was not collected);
* ``hybridnet_healthcheck_last_run_timestamp_seconds`` when the run finished.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

STATUS_VALUES = {"OK": 0, "WARN": 1, "FAIL": 2}


def snapshot_tunnels(run_dir: str | Path) -> list[dict] | None:
    """The tunnels in a run's snapshot.json (diagnostics.changes.snapshot: vpn_connection_id,
    outside_ip, status, ...); None when not collected, or the snapshot cannot be read."""
    from .diagnostics import changes

    try:
        tunnels = json.loads((Path(run_dir) / changes.SNAPSHOT).read_text()).get("tunnels")
    except (OSError, ValueError, AttributeError):
        return None
    return tunnels if isinstance(tunnels, list) else None


def registry_for(stack: str, run, timestamp: float | None = None) -> CollectorRegistry:
    """The gauges of one run (a healthcheck.HealthCheckRun) in a registry of their own."""
    registry = CollectorRegistry()
    overall = Gauge(
        "hybridnet_healthcheck_status", "Health check verdict: 0 OK, 1 WARN, 2 FAIL", ["stack"], registry=registry
    )
    checks = Gauge(
        "hybridnet_check_status",
        "One check's verdict: 0 OK, 1 WARN, 2 FAIL",
        ["stack", "check", "cause"],
        registry=registry,
    )
    tunnel_up = Gauge(
        "hybridnet_tunnel_up",
        "VPN tunnel status (VgwTelemetry): 1 UP, 0 otherwise",
        ["stack", "vpn_connection_id", "outside_ip"],
        registry=registry,
    )
    last_run = Gauge(
        "hybridnet_healthcheck_last_run_timestamp_seconds",
        "When the health check last ran (Unix time)",
        ["stack"],
        registry=registry,
    )
    overall.labels(stack).set(run.exit_code)
    worst: dict[tuple[str, str], int] = {}
    verdicts = run.verdicts
    if verdicts is not None and not verdicts.empty:
        for row in verdicts.to_dict("records"):
            value = STATUS_VALUES.get(row.get("status"), 2)
            key = (str(row.get("check", "")), "" if value == 0 else str(row.get("cause") or ""))
            worst[key] = max(worst.get(key, 0), value)
    for (check, cause), value in worst.items():
        checks.labels(stack, check, cause).set(value)
    for tunnel in getattr(run, "tunnels", None) or []:
        tunnel_up.labels(stack, str(tunnel.get("vpn_connection_id") or ""), str(tunnel.get("outside_ip") or "")).set(
            1 if str(tunnel.get("status", "")).upper() == "UP" else 0
        )
    last_run.labels(stack).set(time.time() if timestamp is None else timestamp)
    return registry


def write(path: str | Path, stack: str, run, timestamp: float | None = None) -> Path:
    """Write the run's metrics to `path` (atomically: a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry_for(stack, run, timestamp))
    path.chmod(0o644)  # node_exporter often runs as another user
    return path


__all__ = ["STATUS_VALUES", "registry_for", "snapshot_tunnels", "write"]
