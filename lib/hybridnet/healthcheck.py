"""The scheduled health check: collect, judge, report.

`collect()` gathers the evidence as DataFrames (the notebook shows them),
`diagnostics.verdicts` judges it, and `run()` is what
`hybridnet healthcheck` does: execute notebooks/10_health_check.ipynb with
papermill, export a self-contained HTML report without the code, and turn
the verdicts into an exit status a scheduler can alert on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import hosts, results, workspace
from .aws import AwsContext
from .diagnostics import daemons, routes, tunnels
from .diagnostics.verdicts import Evidence, exit_code
from .params import HealthCheck

NOTEBOOK = "10_health_check"
STATUS_WORDS = {0: "OK", 1: "WARN", 2: "FAIL"}


def collect(ctx: AwsContext, check: HealthCheck) -> Evidence:
    connections = tunnels.stack_vpn_connections(ctx)
    if check.vpn_connections:
        ec2 = ctx.client("ec2")
        connections = ec2.describe_vpn_connections(VpnConnectionIds=check.vpn_connections)["VpnConnections"]
    telemetry = tunnels.telemetry_frame(connections)
    started_empty_at = _started_empty_and_never_built(ctx, connections)
    timeline = tunnels.timeline_frame(ctx, connections, check.lookback_minutes)
    tgw_ids = sorted({c["TransitGatewayId"] for c in connections if c.get("TransitGatewayId")})
    tgw_routes = (pd.concat([routes.tgw_routes_frame(ctx, t) for t in tgw_ids], ignore_index=True)
                  if tgw_ids else None)
    host_status = hosts.plane(ctx).describe()
    host_daemons = daemons.daemons_frame(ctx)
    bgp, source = routes.router_bgp_frame(ctx, connections)
    dns = dns_endpoints = None
    if check.dns_probes and ctx.params.dns:
        from .phases import hybrid_dns

        # One command per host: the matrix and the inbound endpoints together.
        questions = hybrid_dns.probes(ctx)
        endpoints = inbound_endpoint_probes(ctx)
        questions["onprem_client"] = questions.get("onprem_client", []) + endpoints["onprem_client"]
        asked = hybrid_dns.probe_matrix(ctx, questions=questions)
        at_endpoints = asked["side"].str.startswith(ENDPOINT_SIDE)
        dns, dns_endpoints = asked[~at_endpoints].reset_index(drop=True), asked[at_endpoints].reset_index(drop=True)
    client_vpn = {}
    if ctx.params.client_vpn or check.client_vpn_endpoints:
        from .diagnostics import clientvpn

        endpoints, connections = clientvpn.endpoints_and_connections(ctx, check.client_vpn_endpoints)
        client_vpn = {"endpoints": endpoints, "connections": connections,
                      "handler_probe": clientvpn.handler_probe(ctx, endpoints)}
    return Evidence(params=ctx.params, thresholds=check.thresholds, telemetry=telemetry, timeline=timeline,
                    tgw_routes=tgw_routes, router_bgp=bgp, router_source=source, dns=dns,
                    dns_endpoints=dns_endpoints, client_vpn=client_vpn, hosts=host_status,
                    daemons=host_daemons, started_empty_at=started_empty_at)


def _started_empty_and_never_built(ctx: AwsContext, connections: list[dict]) -> str | None:
    """When the account started empty (the emulator with no saved state) and holds no
    trace of the stack's VPN connection, not even a deleted one: its state is
    elsewhere, rather than the stack torn down or never built here."""
    if not ctx.started_empty_at or connections:
        return None
    every = ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters())["VpnConnections"]
    return None if every else ctx.started_empty_at


ENDPOINT_SIDE = "inbound endpoint"


def inbound_endpoint_probes(ctx: AwsContext) -> dict[str, list]:
    """One question to each inbound endpoint IP straight from an on-prem server
    (`dig @ip` there): the forwarders fail over between them, so only these show
    a lost endpoint."""
    from .diagnostics.dns import Probe
    from .diagnostics.hostdns import HostProbe

    p = ctx.params
    host, ip = next(iter(p.dns.records.items()))
    return {"onprem_client": [HostProbe(Probe(f"{ENDPOINT_SIDE} {server}", server, f"{host}.{p.dns.private_zone}",
                                              expected=[ip]), via_resolver=False)
                              for server in p.dns.inbound_ips]}


@dataclass
class HealthCheckRun:
    exit_code: int
    run_dir: Path
    notebook: Path
    report: Path
    verdicts: pd.DataFrame


# What must never appear in a report: PEM blocks, and the keys of tunnels.
SECRET_PATTERNS = (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), re.compile(r"<key>"))


def export_html(notebook: Path, report: Path) -> Path:
    """A self-contained HTML report (charts embedded, code cells hidden)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    report.write_text(body)
    return report


def run(healthcheck_file: Path) -> HealthCheckRun:
    from . import execute

    run_dir = workspace.new_run_dir("healthcheck")
    done = execute.run_notebook(NOTEBOOK, run_dir, {"healthcheck_file": str(Path(healthcheck_file).resolve())})
    report = export_html(done.output, run_dir / "health_check.html")
    data = results.load(run_dir, NOTEBOOK)
    verdicts = pd.DataFrame(data["verdicts"])
    return HealthCheckRun(data["exit_code"], run_dir, done.output, report, verdicts)


__all__ = ["HealthCheckRun", "STATUS_WORDS", "collect", "exit_code", "export_html", "run"]
