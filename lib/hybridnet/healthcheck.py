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
from .diagnostics import daemons, facts, routes, servicelogs, tunnels, vpnlogs
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
    vpn_logs = vpnlogs.tunnel_log_frame(ctx, connections, check.lookback_minutes) if connections else None
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
    client_vpn, certificates, client_vpn_log = {}, None, None
    resolver_log = servicelogs.resolver_query_frame(ctx, check.lookback_minutes) if ctx.params.dns else None
    if ctx.params.client_vpn or check.client_vpn_endpoints:
        from .diagnostics import clientvpn

        endpoints, connections = clientvpn.endpoints_and_connections(ctx, check.client_vpn_endpoints)
        client_vpn = {"endpoints": endpoints, "connections": connections,
                      "handler_probe": clientvpn.handler_probe(ctx, endpoints)}
        certificates = facts.certificates_frame(ctx, list(endpoints["endpoint_id"]))
        client_vpn_log = servicelogs.client_vpn_connection_frame(ctx, list(endpoints["endpoint_id"]),
                                                                 check.lookback_minutes)
    return Evidence(params=ctx.params, thresholds=check.thresholds, telemetry=telemetry, timeline=timeline,
                    tgw_routes=tgw_routes, router_bgp=bgp, router_source=source, dns=dns,
                    dns_endpoints=dns_endpoints, client_vpn=client_vpn, hosts=host_status,
                    daemons=host_daemons, started_empty_at=started_empty_at,
                    facts=facts.resolver_facts(ctx) if ctx.params.dns else None, certificates=certificates,
                    router_neighbors=None if source.startswith("router not reachable")
                    else routes.router_neighbors_frame(ctx), vpn_logs=vpn_logs,
                    client_vpn_log=client_vpn_log, resolver_log=resolver_log)


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


LOG_COLUMNS = ["time", "log", "subject", "entry"]
LOG_ROWS = 30


def logs_view(ev: Evidence, rows: int = LOG_ROWS) -> pd.DataFrame:
    """AWS's log entries the health check read, newest first, as one table; a log
    that was not read (off in the params, not collected) says so in one row."""
    shown = []
    logs = ((ev.vpn_logs, "Site-to-Site VPN", lambda r: r["outside_ip"],
             lambda r: f"BGP {r['bgp_status']}: {r['detail']}" if r["log"] == "bgp" else
             f"{r['detail']} (phase 1 {r['phase1']}, phase 2 {r['phase2']})"),
            (ev.client_vpn_log, "Client VPN connection", lambda r: r["endpoint_id"],
             lambda r: f"{r['client_ip']} ({r['common_name']}): {r['status']} {r.get('failure_reason') or ''}"),
            (ev.resolver_log, "Resolver query", lambda r: r["vpc_id"],
             lambda r: f"{r['query_name']} {r['query_type']} from {r['srcaddr']}: {r['rcode']}"))
    for frame, name, subject, entry in logs:
        if frame is None:
            shown.append({"time": None, "log": name, "subject": "-", "entry": "not read (logs off, or nothing to read)"})
            continue
        if frame.empty:
            shown.append({"time": None, "log": name, "subject": "-", "entry": "no entry in the look-back window"})
            continue
        for record in frame.to_dict("records"):
            shown.append({"time": record["time"], "log": name, "subject": subject(record), "entry": entry(record)})
    table = pd.DataFrame(shown, columns=LOG_COLUMNS)
    timed = table[table["time"].notna()].sort_values("time", ascending=False).head(rows)
    return pd.concat([timed, table[table["time"].isna()]], ignore_index=True)


STATUS_COLOURS = {"OK": "background-color:#d4edda", "WARN": "background-color:#fff3cd",
                  "FAIL": "background-color:#f8d7da"}
CHANGE_COLOURS = {"broke": STATUS_COLOURS["FAIL"], "flapped": STATUS_COLOURS["WARN"],
                  "recovered": STATUS_COLOURS["OK"], "other": ""}


@dataclass
class Judgement:
    """The verdicts of one run (each WARN/FAIL with its cause, evidence and fix), its
    exit status, and what changed since the run it is compared with."""

    verdicts: pd.DataFrame  # diagnostics.verdicts.COLUMNS
    exit_code: int
    changes: pd.DataFrame  # diagnostics.changes.COLUMNS, worst first
    change_line: str

    @property
    def status(self) -> str:
        return STATUS_WORDS[self.exit_code]

    def headline(self) -> str:
        counts = self.verdicts["status"].value_counts()
        shown = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("FAIL", "WARN", "OK"))
        return f"**{self.status}** ({shown}). Since the last run: {self.change_line}"

    def verdicts_view(self):
        """The verdicts, worst first, coloured by status."""
        order = self.verdicts.assign(_rank=self.verdicts["status"].map({"FAIL": 0, "WARN": 1, "OK": 2}))
        table = order.sort_values("_rank", kind="stable").drop(columns="_rank").reset_index(drop=True)
        # a fixed uuid: the HTML is the same from run to run (the saved notebook, the report)
        return table.style.set_uuid("verdicts").apply(
            lambda row: [STATUS_COLOURS.get(row["status"], "")] * len(row), axis=1)

    def changes_view(self):
        from .diagnostics import changes

        return self.changes.style.set_uuid("changes").apply(
            lambda row: [CHANGE_COLOURS[changes.CHANGE_CLASS[row["change"]]]] * len(row), axis=1)

    def record(self) -> dict:
        return {"exit_code": self.exit_code, "status": self.status, "changes": self.change_line,
                "verdicts": self.verdicts.to_dict(orient="records")}


def judge(ev: Evidence, run_dir: Path | str, since: str = "") -> Judgement:
    """Judge the evidence, keep this run's snapshot beside its report, and compare it
    with the run `since` names (a run id or path), or with the previous run."""
    import warnings

    from .diagnostics import changes, verdicts

    found = verdicts.evaluate(ev)
    table = verdicts.verdict_frame(found)
    snap = changes.snapshot(ev, table)
    changes.save_snapshot(run_dir, snap)
    with warnings.catch_warnings():  # the change line lists the runs passed over
        warnings.simplefilter("ignore", changes.SnapshotSkipped)
        before = changes.load_snapshot(since) if since else changes.previous_snapshot(run_dir, ev.params.name)
    delta = changes.diff(before, snap)
    return Judgement(table, exit_code(found), delta, changes.summary_line(delta))


@dataclass
class HealthCheckRun:
    exit_code: int
    run_dir: Path
    notebook: Path
    report: Path
    verdicts: pd.DataFrame
    changes: str = ""  # what changed since the run it was compared with, in one line
    stack: str = ""  # the parameter set's name
    # The tunnels of the run's snapshot.json (vpn_connection_id, outside_ip, status, ...);
    # None when the telemetry was not collected or the snapshot cannot be read.
    tunnels: list[dict] | None = None
    notification: object | None = None  # notify.Notification when notify.sns_topic_arn is set


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


def run(healthcheck_file: Path, since: str | Path = "", ctx: AwsContext | None = None) -> HealthCheckRun:
    """`since`: the run to compare with (a run id or a path, see
    diagnostics.changes.load_snapshot); "" compares with the previous run.
    With `notify.sns_topic_arn` in the settings, the verdict is published there
    when it is news (hybridnet.notify; through `ctx`, else the params' own
    context); a failed publish is `notification.failed`, never an exception."""
    from . import execute, metrics, notify
    from .params import load_healthcheck

    check, params = load_healthcheck(healthcheck_file)
    run_dir = workspace.new_run_dir("healthcheck")
    done = execute.run_notebook(NOTEBOOK, run_dir, {"healthcheck_file": str(Path(healthcheck_file).resolve()),
                                                    "since": str(since or "")})
    report = export_html(done.output, run_dir / "health_check.html")
    data = results.load(run_dir, NOTEBOOK)
    verdicts = pd.DataFrame(data["verdicts"])
    finished = HealthCheckRun(data["exit_code"], run_dir, done.output, report, verdicts, data.get("changes", ""),
                              stack=params.name, tunnels=metrics.snapshot_tunnels(run_dir))
    if check.notify.sns_topic_arn:
        finished.notification = notify.notify(finished, params, check.notify.sns_topic_arn, ctx=ctx)
    return finished


__all__ = ["HealthCheckRun", "Judgement", "STATUS_WORDS", "collect", "exit_code", "export_html", "judge", "run"]
