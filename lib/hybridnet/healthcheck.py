"""The scheduled health check: collect, judge, report.

`collect()` gathers the evidence as DataFrames (the notebook shows them),
`diagnostics.verdicts` judges it, and `run()` is what
`hybridnet healthcheck` does: execute notebooks/10_health_check.ipynb with
papermill, export a self-contained HTML report without the code, and turn
the verdicts into an exit status a scheduler can alert on.
"""

from __future__ import annotations

import importlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import execute, hosts, results, timings, workspace
from .aws import AwsContext
from .diagnostics import daemons, facts, routes, servicelogs, tunnels, vpnlogs
from .diagnostics.verdicts import STATUS_WORDS, Evidence, exit_code
from .params import HealthCheck, Params

if TYPE_CHECKING:
    from .notify import Notification

NOTEBOOK = execute.HEALTHCHECK


def collect(ctx: AwsContext, check: HealthCheck) -> Evidence:
    """The evidence, each collector timed (hybridnet.timings). The collectors that do
    not need each other's results run side by side (AWS calls and SSM commands
    wait on the network); those that do run in the order they always did: the
    Resolver query log is read after the DNS questions were asked (it logs them),
    the Client VPN connection log after the handler was asked."""
    with timings.phase("collect"):
        return _collect(ctx, check)


# The services the collectors call, their clients made before the threads start
# (boto3 makes clients thread-safe, not their making from one session).
SERVICES = ("ec2", "ssm", "cloudwatch", "logs")
DNS_SERVICES = ("route53", "route53resolver")
CLIENT_VPN_SERVICES = ("acm", "lambda")
# The modules the collectors import when first called, imported before the threads
# start: two threads importing modules that import each other can fail ("partially
# initialized module").
LAZY_IMPORTS = (
    "phases.hybrid_dns",
    "phases.client_vpn",
    "phases.tgw_attachment",
    "phases.connect_handler",
    "handlers",
    "diagnostics.client_vpn",
    "diagnostics.dns",
    "diagnostics.hostdns",
)


def _collect(ctx: AwsContext, check: HealthCheck) -> Evidence:
    with_dns, with_client_vpn = bool(ctx.params.dns), bool(ctx.params.client_vpn or check.client_vpn_endpoints)
    for service in SERVICES + (DNS_SERVICES if with_dns else ()) + (CLIENT_VPN_SERVICES if with_client_vpn else ()):
        ctx.client(service)
    for module in LAZY_IMPORTS:
        importlib.import_module(f"{__package__}.{module}")
    with timings.phase("collect: VPN connections"):
        connections = tunnels.stack_vpn_connections(ctx)
        if check.vpn_connections:
            connections = ctx.client("ec2").describe_vpn_connections(VpnConnectionIds=check.vpn_connections)[
                "VpnConnections"
            ]
    tgw_ids = sorted({c["TransitGatewayId"] for c in connections if c.get("TransitGatewayId")})
    with ThreadPoolExecutor(max_workers=12, thread_name_prefix="collect") as pool:

        def start(name, fn, *args):
            return pool.submit(_timed, f"collect: {name}", fn, *args)

        started_empty_at = start("started empty", _started_empty_and_never_built, ctx, connections)
        timeline = start("tunnel timeline", tunnels.timeline_frame, ctx, connections, check.lookback_minutes)
        vpn_logs = (
            start("VPN logs", vpnlogs.tunnel_log_frame, ctx, connections, check.lookback_minutes)
            if connections
            else None
        )
        tgw_routes = (
            start(
                "TGW routes", lambda: pd.concat([routes.tgw_routes_frame(ctx, t) for t in tgw_ids], ignore_index=True)
            )
            if tgw_ids
            else None
        )
        host_status = start("hosts", hosts.plane(ctx).describe)
        host_daemons = start("daemons", daemons.daemons_frame, ctx)
        router = start("router BGP table and sessions", _router, ctx, connections)
        dns = start("DNS probes, then the Resolver query log", _dns, ctx, check, with_dns)
        resolver_facts = start("Resolver facts", facts.resolver_facts, ctx) if with_dns else None
        client_vpn = start("Client VPN", _client_vpn, ctx, check, pool) if with_client_vpn else None
        (bgp, source, neighbors), (dns_frame, dns_endpoints, resolver_log) = router.result(), dns.result()
        client_vpn, certificates, client_vpn_log = client_vpn.result() if client_vpn else ({}, None, None)
        return Evidence(
            params=ctx.params,
            thresholds=check.thresholds,
            telemetry=tunnels.telemetry_frame(connections),
            timeline=timeline.result(),
            tgw_routes=_result(tgw_routes),
            router_bgp=bgp,
            router_source=source,
            dns=dns_frame,
            dns_endpoints=dns_endpoints,
            client_vpn=client_vpn,
            hosts=host_status.result(),
            daemons=host_daemons.result(),
            started_empty_at=started_empty_at.result(),
            facts=_result(resolver_facts),
            certificates=certificates,
            router_neighbors=neighbors,
            vpn_logs=_result(vpn_logs),
            client_vpn_log=client_vpn_log,
            resolver_log=resolver_log,
        )


def _timed(name: str, fn, *args):
    with timings.phase(name):
        return fn(*args)


def _result(future):
    return future.result() if future is not None else None


def _router(ctx: AwsContext, connections: list[dict]):
    """The router's BGP table, then its sessions where it was reached."""
    bgp, source = routes.router_bgp_frame(ctx, connections)
    return bgp, source, None if source.startswith("router not reachable") else routes.router_neighbors_frame(ctx)


def _dns(ctx: AwsContext, check: HealthCheck, with_dns: bool):
    """The DNS matrix and the inbound endpoints asked on the hosts (one command per
    host), then the Resolver query log, which holds those questions."""
    dns = dns_endpoints = None
    if check.dns_probes and with_dns:
        from .phases import hybrid_dns

        questions = hybrid_dns.probes(ctx)
        endpoints = inbound_endpoint_probes(ctx)
        questions["onprem_client"] = questions.get("onprem_client", []) + endpoints["onprem_client"]
        asked = hybrid_dns.probe_matrix(ctx, questions=questions)
        at_endpoints = asked["side"].str.startswith(ENDPOINT_SIDE)
        dns, dns_endpoints = asked[~at_endpoints].reset_index(drop=True), asked[at_endpoints].reset_index(drop=True)
    resolver_log = servicelogs.resolver_query_frame(ctx, check.lookback_minutes) if with_dns else None
    return dns, dns_endpoints, resolver_log


def _client_vpn(ctx: AwsContext, check: HealthCheck, pool: ThreadPoolExecutor):
    """The endpoints and connections; then their certificates, beside the handler's
    answers and, after those, the connection log."""
    from .diagnostics import client_vpn

    endpoints, connections = client_vpn.endpoints_and_connections(ctx, check.client_vpn_endpoints)
    ids = list(endpoints["endpoint_id"])
    certificates = pool.submit(_timed, "collect: certificates", facts.certificates_frame, ctx, ids)
    with timings.phase("collect: handler probe"):
        probe = client_vpn.handler_probe(ctx, endpoints)
    with timings.phase("collect: Client VPN connection log"):
        log = servicelogs.client_vpn_connection_frame(ctx, ids, check.lookback_minutes)
    return {"endpoints": endpoints, "connections": connections, "handler_probe": probe}, certificates.result(), log


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
    from .phases import hybrid_dns

    dns = hybrid_dns.dns_params(ctx)
    host, ip = next(iter(dns.records.items()))
    return {
        "onprem_client": [
            HostProbe(
                Probe(f"{ENDPOINT_SIDE} {server}", server, f"{host}.{dns.private_zone}", expected=(ip,)),
                via_resolver=False,
            )
            for server in dns.inbound_ips
        ]
    }


LOG_COLUMNS = ["time", "log", "subject", "entry"]
LOG_ROWS = 30


def logs_view(ev: Evidence, rows: int = LOG_ROWS) -> pd.DataFrame:
    """AWS's log entries the health check read, newest first, as one table; a log
    that was not read (off in the params, not collected) says so in one row."""
    shown = []
    logs = (
        (
            ev.vpn_logs,
            "Site-to-Site VPN",
            lambda r: r["outside_ip"],
            lambda r: (
                f"BGP {r['bgp_status']}: {r['detail']}"
                if r["log"] == "bgp"
                else f"{r['detail']} (phase 1 {r['phase1']}, phase 2 {r['phase2']})"
            ),
        ),
        (
            ev.client_vpn_log,
            "Client VPN connection",
            lambda r: r["endpoint_id"],
            lambda r: f"{r['client_ip']} ({r['common_name']}): {r['status']} {r.get('failure_reason') or ''}",
        ),
        (
            ev.resolver_log,
            "Resolver query",
            lambda r: r["vpc_id"],
            lambda r: f"{r['query_name']} {r['query_type']} from {r['srcaddr']}: {r['rcode']}",
        ),
    )
    for frame, name, subject, entry in logs:
        if frame is None:
            shown.append(
                {"time": None, "log": name, "subject": "-", "entry": "not read (logs off, or nothing to read)"}
            )
            continue
        if frame.empty:
            shown.append({"time": None, "log": name, "subject": "-", "entry": "no entry in the look-back window"})
            continue
        for record in frame.to_dict("records"):
            shown.append({"time": record["time"], "log": name, "subject": subject(record), "entry": entry(record)})
    table = pd.DataFrame(shown, columns=LOG_COLUMNS)
    timed = table[table["time"].notna()].sort_values("time", ascending=False).head(rows)
    return pd.concat([timed, table[table["time"].isna()]], ignore_index=True)


STATUS_COLOURS = {
    "OK": "background-color:#d4edda",
    "WARN": "background-color:#fff3cd",
    "FAIL": "background-color:#f8d7da",
}


def status_view(table: pd.DataFrame, uuid: str):
    """`table` coloured row by row by its status. A fixed uuid: the HTML is the same from
    run to run (the saved notebook, the report)."""
    return table.style.set_uuid(uuid).apply(lambda row: [STATUS_COLOURS.get(row["status"], "")] * len(row), axis=1)


CHANGE_COLOURS = {
    "broke": STATUS_COLOURS["FAIL"],
    "flapped": STATUS_COLOURS["WARN"],
    "recovered": STATUS_COLOURS["OK"],
    "other": "",
}


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
        return status_view(table, "verdicts")

    def changes_view(self):
        from .diagnostics import changes

        return self.changes.style.set_uuid("changes").apply(
            lambda row: [CHANGE_COLOURS[changes.CHANGE_CLASS[row["change"]]]] * len(row), axis=1
        )

    def record(self) -> dict:
        return {
            "exit_code": self.exit_code,
            "status": self.status,
            "changes": self.change_line,
            "verdicts": self.verdicts.to_dict(orient="records"),
        }


def judge(ev: Evidence, run_dir: Path | str, since: str = "") -> Judgement:
    """Judge the evidence, keep this run's snapshot beside its report, and compare it
    with the run `since` names (a run id or path), or with the previous run."""
    with timings.phase("judge"):
        return _judge(ev, run_dir, since)


def _judge(ev: Evidence, run_dir: Path | str, since: str = "") -> Judgement:
    import warnings

    from .diagnostics import changes, verdicts

    found = verdicts.evaluate(ev)
    table = verdicts.verdict_frame(found)
    snap = changes.snapshot(ev, table)
    changes.save_snapshot(run_dir, snap)
    stack = ev.params.name if ev.params else None  # None: the stack of run_dir's snapshot
    with warnings.catch_warnings():  # the change line lists the runs passed over
        warnings.simplefilter("ignore", changes.SnapshotSkipped)
        before = changes.load_snapshot(since) if since else changes.previous_snapshot(run_dir, stack)
    delta = changes.diff(before, snap)
    return Judgement(table, exit_code(found), delta, changes.summary_line(delta))


# --- what notebook 10 shows, one call per cell -------------------------------------------------


def draw_map(ctx: AwsContext, ev: Evidence, judged: Judgement, run_dir: Path | str) -> None:
    """The hybrid network as the API holds it now (diagnostics.topology), coloured by the
    verdicts, drawn (inline in the notebook) and saved as charts/topology.png."""
    from . import charts
    from .diagnostics import topology

    graph = topology.graph(topology.collect_topology(ctx, ev), judged.verdicts)
    charts.save(charts.topology_chart(graph), Path(run_dir), "topology")


def draw_timeline(ev: Evidence, run_dir: Path | str) -> None:
    """The tunnels' TunnelState over the look-back window, drawn and saved."""
    from . import charts

    charts.save(charts.tunnel_timeline_chart(ev.timeline, ev.telemetry), Path(run_dir), "tunnel_timeline")


def router_sessions(ev: Evidence) -> pd.DataFrame | None:
    """The router's BGP sessions as it sees them; None when it was not reached."""
    return None if ev.router_neighbors is None else ev.router_neighbors[["neighbor", "remote_as", "state"]]


def draw_prefixes(ev: Evidence, run_dir: Path | str) -> None:
    """The prefixes the router learns per tunnel, drawn and saved."""
    from . import charts

    charts.save(
        charts.prefixes_per_tunnel_chart(routes.prefixes_per_tunnel(ev.router_bgp)),
        Path(run_dir),
        "prefixes_per_tunnel",
    )


def dns_matrix(ev: Evidence, run_dir: Path | str) -> pd.DataFrame | None:
    """The hybrid DNS matrix as a table, its chart drawn and saved; None when not asked."""
    if ev.dns is None:
        return None
    from . import charts
    from .phases import hybrid_dns

    charts.save(charts.dns_matrix_chart(ev.dns, title="Hybrid DNS: who resolves what"), Path(run_dir), "dns_matrix")
    return hybrid_dns.matrix_frame(ev.dns)


def endpoint_answers(ev: Evidence) -> pd.DataFrame | None:
    """Each inbound endpoint IP asked directly from on-prem; None when not asked."""
    from .phases import hybrid_dns

    return None if ev.dns_endpoints is None else hybrid_dns.matrix_frame(ev.dns_endpoints)


def record(book, judged: Judgement) -> str:
    """The verdicts' chart saved, the run's results recorded (the CLI reads them), and
    the one-line summary."""
    from . import charts

    charts.save(charts.verdict_chart(judged.verdicts), book.run_dir, "verdicts")
    book.record(NOTEBOOK, judged.record())
    return f"health check: {judged.status}; since the last run: {judged.change_line}"


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
    notification: Notification | None = None  # when notify.sns_topic_arn is set


# What must never appear in a report: PEM blocks, and the keys of tunnels.
SECRET_PATTERNS = (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), re.compile(r"<key>"))


def export_html(notebook: Path, report: Path, exporter=None) -> Path:
    """A self-contained HTML report (charts embedded, code cells hidden); `exporter`:
    one html_exporter() made beforehand."""
    import nbformat

    body, _ = (exporter or html_exporter()).from_notebook_node(nbformat.read(notebook, as_version=4))
    report.write_text(body)
    return report


def html_exporter(warm: bool = False):
    """nbconvert's HTML exporter as the report needs it; `warm`: its templates
    already compiled (one small notebook converted), which is most of the time a
    first report takes."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    if warm:
        exporter.from_notebook_node(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("-"), nbformat.v4.new_code_cell("-")])
        )
    return exporter


def run(
    healthcheck_file: Path,
    since: str | Path = "",
    ctx: AwsContext | None = None,
    settings: tuple[HealthCheck, Params] | None = None,
    kernel=None,
) -> HealthCheckRun:
    """`since`: the run to compare with (a run id or a path, see
    diagnostics.changes.load_snapshot); "" compares with the previous run.
    `settings`: what params.load_healthcheck(healthcheck_file) returned, when the
    caller has it already. With `notify.sns_topic_arn` in the settings, the
    verdict is published there when it is news (hybridnet.notify; through `ctx`,
    else the params' own context); a failed publish is `notification.failed`,
    never an exception. The report's exporter is made while the notebook runs
    (the command waits on the notebook's kernel meanwhile)."""
    from . import execute, metrics, notify
    from .params import load_healthcheck

    check, params = settings or load_healthcheck(healthcheck_file)
    run_dir = workspace.new_run_dir("healthcheck")
    with timings.phase("papermill and nbconvert imports"):
        # Both imported here, before the exporter's thread starts: two threads importing
        # one package with circular imports (jupyter_client, under both) can fail with
        # "partially initialized module"; the thread then imports only nbconvert's own.
        for module in ("papermill", "nbconvert"):
            importlib.import_module(module)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report") as aside:
        exporter = aside.submit(_timed, "report: nbconvert import and templates", html_exporter, True)
        with timings.phase("papermill (notebook 10)"):
            done = execute.run_notebook(
                NOTEBOOK,
                run_dir,
                {"healthcheck_file": str(Path(healthcheck_file).resolve()), "since": str(since or "")},
                kernel=kernel,
                write_each_cell=False,
            )
        with timings.phase("report (HTML)"):
            report = export_html(done.output, run_dir / "health_check.html", exporter.result())
    with timings.phase("results"):
        data = results.load(run_dir, NOTEBOOK)
        verdicts = pd.DataFrame(data["verdicts"])
        finished = HealthCheckRun(
            data["exit_code"],
            run_dir,
            done.output,
            report,
            verdicts,
            data.get("changes", ""),
            stack=params.name,
            tunnels=metrics.snapshot_tunnels(run_dir),
        )
    if check.notify.sns_topic_arn:
        with timings.phase("notify (SNS)"):
            finished.notification = notify.notify(finished, params, check.notify.sns_topic_arn, ctx=ctx)
    return finished


__all__ = [
    "HealthCheckRun",
    "Judgement",
    "STATUS_WORDS",
    "collect",
    "dns_matrix",
    "draw_map",
    "draw_prefixes",
    "draw_timeline",
    "endpoint_answers",
    "exit_code",
    "export_html",
    "html_exporter",
    "judge",
    "record",
    "router_sessions",
    "run",
]
