"""The health check's verdicts: each check OK / WARN / FAIL, why, and what to do.

Checks are a registry of small functions over the collected DataFrames
(`Evidence`), each returning plain `Verdict`s. The exit status follows the
worst verdict: 0 all OK, 1 WARN only, 2 any FAIL.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import pandas as pd

from ..params import REMOTE_ROLES, Params, Thresholds

OK, WARN, FAIL = "OK", "WARN", "FAIL"
SEVERITY = {OK: 0, WARN: 1, FAIL: 2}
STATUS_WORDS = {code: status for status, code in SEVERITY.items()}  # exit status -> word
COLUMNS = ["check", "status", "cause", "reason", "action", "evidence"]


@dataclass(frozen=True)
class Verdict:
    check: str
    status: str
    reason: str
    action: str = ""  # what to do: the cause's fix where one is known
    cause: str = ""  # a code of diagnostics.causes.CATALOGUE (or UNKNOWN) for WARN and FAIL
    evidence: str = ""  # what showed the cause: log lines, telemetry, API facts, the router's view


@dataclass
class Evidence:
    """What the collectors found; a frame is None when it was not collected. `params`
    is None where no stack's parameters apply (the fleet check judges connections
    found by tag, with the checks that need no stack's parameters)."""

    params: Params | None
    thresholds: Thresholds
    telemetry: pd.DataFrame
    timeline: pd.DataFrame
    tgw_routes: pd.DataFrame | None
    router_bgp: pd.DataFrame | None
    router_source: str = ""
    dns: pd.DataFrame | None = None
    dns_endpoints: pd.DataFrame | None = None  # each inbound endpoint IP asked directly
    client_vpn: dict = field(default_factory=dict)  # endpoints, connections, handler_probe frames
    hosts: pd.DataFrame | None = None  # hosts.DataPlane.describe(): role, instance, SSM status
    started_empty_at: str | None = None  # the account started empty then (the emulator without saved state)
    daemons: pd.DataFrame | None = None  # daemons.daemons_frame(): role, daemon, running (None: not asked)
    vpn_logs: pd.DataFrame | None = None  # diagnostics.vpnlogs: AWS's tunnel and BGP log entries
    client_vpn_log: pd.DataFrame | None = None  # diagnostics.servicelogs: Client VPN connection log entries
    resolver_log: pd.DataFrame | None = None  # diagnostics.servicelogs: Resolver query log entries
    facts: pd.DataFrame | None = None  # diagnostics.facts.resolver_facts(): subject, text, ok
    router_neighbors: pd.DataFrame | None = None  # routes.router_neighbors_frame(): the router's BGP sessions
    certificates: pd.DataFrame | None = None  # diagnostics.facts.certificates_frame()


def check_hosts(ev: Evidence) -> list[Verdict]:
    """The hosts the params name, as SSM sees them: every later check on a host
    needs it online. Roles the params leave out are not judged here."""
    if ev.hosts is None:
        return []
    named = ev.hosts[ev.hosts["ssm_status"] != "NotConfigured"]
    if named.empty:
        return []
    offline = named[named["ssm_status"] != "Online"]
    if offline.empty:
        return [Verdict("hosts (SSM)", OK, f"{', '.join(named['role'])} online as managed instances")]
    # A remote worker's machine comes and goes (a laptop is off at night): the
    # network is not broken by it, only the real-client checks cannot run.
    return [
        Verdict(
            f"host {row.role}",
            WARN if row.role in REMOTE_ROLES else FAIL,
            row.detail,
            "bring it back for SSM: instance running, SSM Agent up, a path to SSM's endpoints "
            "(offline, the lab plays the hosts: hybridnet lab up)",
        )
        for row in offline.itertuples()
    ]


DAEMON_CHECKS = {"router": "router daemons", "onprem_dns": "on-prem DNS server"}
# How a daemon is started again, and where it says why it stopped.
DAEMON_ACTIONS = {
    "charon": "start strongSwan again (systemctl restart strongswan, or the router's setup again: notebook 02 "
    "with router.apply) and see why it stopped: journalctl -u strongswan",
    "bgpd": "start FRR again (systemctl restart frr) and see why it stopped: journalctl -u frr",
    "zebra": "start FRR again (systemctl restart frr) and see why it stopped: journalctl -u frr",
    "named": "check the configuration (named-checkconf -z), start BIND again (systemctl restart named) and see "
    "why it stopped: journalctl -u named",
}


def check_daemons(ev: Evidence) -> list[Verdict]:
    """The daemons each host's role needs, asked on the host: a missing one is
    named, before the tunnels, routes and answers it takes with it."""
    if ev.daemons is None or ev.daemons.empty:
        return []
    # A host SSM does not reach already fails (or warns) as a host, with SSM's reason.
    unreachable = (
        set()
        if ev.hosts is None
        else set(ev.hosts.loc[~ev.hosts["ssm_status"].isin(["Online", "NotConfigured"]), "role"])
    )
    verdicts = []
    for role, rows in ev.daemons.groupby("role", sort=False):
        check, first = DAEMON_CHECKS.get(role, f"{role} daemons"), rows.iloc[0]
        where = f"hosts.{role} {first.host} ({first.instance_id})"
        if rows["running"].isna().any():
            if role not in unreachable:  # silence is not health
                verdicts.append(
                    Verdict(
                        check,
                        WARN,
                        f"no data: {first.detail}",
                        f"the daemons are listed on {where} through SSM Run Command: "
                        "see why the command did not answer",
                    )
                )
            continue
        missing = [r.daemon for r in rows.itertuples() if not r.running]
        if not missing:
            verdicts.append(Verdict(check, OK, f"{', '.join(rows['daemon'])} running on {where}"))
            continue
        actions = list(dict.fromkeys(DAEMON_ACTIONS.get(d, f"start {d} again") for d in missing))
        verdicts.append(
            Verdict(
                check,
                FAIL,
                f"{', '.join(missing)} not running on {where}",
                "; ".join(actions) + " (offline, the lab plays the hosts: hybridnet lab up)",
            )
        )
    return verdicts


def check_tunnels(ev: Evidence) -> list[Verdict]:
    if ev.telemetry.empty and ev.started_empty_at:
        # Not "never built": the account itself started empty (another machine, or --fresh).
        return [
            Verdict(
                "tunnels",
                FAIL,
                f"the emulator holds none of this stack's resources: it started empty at "
                f"{ev.started_empty_at} (no saved state restored)",
                "if the stack was built before, its state is not on this machine (or was set aside by "
                "--fresh: outputs/.state/emulator-state.<date-time>.pickle); else build it: hybridnet run",
            )
        ]
    if ev.telemetry.empty:
        return [
            Verdict(
                "tunnels",
                FAIL,
                f"no VPN connection tagged hybridnet:stack={ev.params.name}"
                if ev.params
                else "no VPN connection found",
                "run notebooks 01 and 02 (hybridnet run), or check the params' name and region",
            )
        ]
    verdicts = []
    for vpn_id, tunnels in _per_connection(ev.telemetry):
        up = [t for t in tunnels if t["status"] == "UP"]
        down = ", ".join(f"{t['outside_ip']} ({t['status_message']})" for t in tunnels if t["status"] != "UP")
        if not up:
            verdicts.append(
                Verdict(
                    f"tunnels {vpn_id}",
                    FAIL,
                    f"all tunnels DOWN: {down}",
                    "check the customer gateway: IPsec (swanctl --list-sas / ipsec statusall) "
                    "and its reachability to the outside IPs",
                )
            )
        elif len(up) < min(ev.thresholds.min_tunnels_up, len(tunnels)):
            verdicts.append(
                Verdict(
                    f"tunnels {vpn_id}",
                    WARN,
                    f"{len(up)} of {len(tunnels)} UP; DOWN: {down}",
                    "no redundancy: bring the DOWN tunnel back (router config, PSK, peer IP)",
                )
            )
        else:
            verdicts.append(Verdict(f"tunnels {vpn_id}", OK, f"{len(up)} of {len(tunnels)} tunnels UP"))
    return verdicts


def _per_connection(telemetry: pd.DataFrame) -> list[tuple[str, list[dict]]]:
    """The telemetry's tunnels per VPN connection, by connection id (plain records: a
    fleet check judges hundreds of connections at once)."""
    grouped: dict[str, list[dict]] = {}
    for row in telemetry.to_dict("records"):
        grouped.setdefault(row["vpn_connection_id"], []).append(row)
    return sorted(grouped.items())


def check_accepted_routes(ev: Evidence) -> list[Verdict]:
    verdicts = []
    minimum = ev.thresholds.min_accepted_routes
    for vpn_id, tunnels in _per_connection(ev.telemetry):
        up = [t for t in tunnels if t["status"] == "UP"]
        if not up:
            continue  # the tunnel check already fails
        short = [t for t in up if t["accepted_routes"] < minimum]
        if len(short) == len(up) and minimum > 0:
            verdicts.append(
                Verdict(
                    f"BGP routes {vpn_id}",
                    FAIL,
                    f"no UP tunnel carries the on-prem prefix (accepted routes "
                    f"{[t['accepted_routes'] for t in up]}, want >= {minimum})",
                    "check the router's BGP: session state and its network statements "
                    f"for {ev.params.onprem.cidr if ev.params else 'the on-prem prefixes'}",
                )
            )
        elif short:
            verdicts.append(
                Verdict(
                    f"BGP routes {vpn_id}",
                    WARN,
                    f"tunnel(s) {', '.join(t['outside_ip'] for t in short)} UP with fewer than {minimum} routes",
                    "check that BGP on that tunnel is Established and announces the prefix",
                )
            )
        else:
            verdicts.append(Verdict(f"BGP routes {vpn_id}", OK, f"every UP tunnel carries {minimum}+ route(s)"))
    return verdicts


def check_tgw_routes(ev: Evidence) -> list[Verdict]:
    if ev.tgw_routes is None or ev.params is None:  # no on-prem CIDR to look for without a stack's params
        return []
    onprem = ipaddress.ip_network(ev.params.onprem.cidr)
    learned = ev.tgw_routes[(ev.tgw_routes["resource_type"] == "vpn") & (ev.tgw_routes["state"] == "active")]
    covered = [p for p in learned["prefix"] if ipaddress.ip_network(p).overlaps(onprem)]
    if covered:
        return [Verdict("TGW route to on-prem", OK, f"{', '.join(covered)} via the VPN attachment")]
    return [
        Verdict(
            "TGW route to on-prem",
            FAIL,
            f"no active route to {onprem} via a VPN attachment",
            "the VPC cannot reach on-prem: check BGP on the tunnels and the attachment's propagation",
        )
    ]


def check_tunnel_history(ev: Evidence) -> list[Verdict]:
    """Drops (UP -> DOWN) per tunnel in the look-back window: a recovered drop is
    worth a note, repeated drops are a flapping tunnel."""
    if ev.telemetry.empty:  # no tunnel: nothing to have a history (the tunnels check fails)
        return []
    drops = {ip: n for (_, ip), n in tunnel_drops(ev.timeline).items()}
    return [history_verdict(drops, len(ev.telemetry), ev.thresholds)]


def tunnel_drops(timeline: pd.DataFrame) -> dict[tuple[str, str], int]:
    """(VPN connection, outside IP) -> how often that tunnel went from UP to DOWN in
    the timeline (tunnels.TIMELINE_COLUMNS); a tunnel without a point is absent."""
    drops = {}
    for key, points in timeline.sort_values("time", kind="stable").groupby(["vpn_connection_id", "outside_ip"]):
        states = list(points["up"])
        drops[key] = sum(1 for before, after in zip(states, states[1:]) if before and not after)
    return drops


def history_verdict(drops: dict[str, int], tunnel_count: int, thresholds: Thresholds) -> Verdict:
    """The tunnel history verdict from the drops per outside IP of `tunnel_count` tunnels."""
    if not drops:
        # Silence is not health: tunnels exist, so their metric should too.
        return Verdict(
            "tunnel history",
            WARN,
            f"no data: no AWS/VPN TunnelState point in the look-back window "
            f"for the {tunnel_count} tunnel(s) that exist",
            "CloudWatch should hold TunnelState for every tunnel: check the region and the look-back "
            "window (offline: the lab's telemetry agent reports it)",
        )
    flapping = {ip: n for ip, n in drops.items() if n > thresholds.max_drops}
    if flapping:
        what = ", ".join(f"{ip} dropped {n} times" for ip, n in sorted(flapping.items()))
        return Verdict(
            "tunnel history",
            WARN,
            f"flapping: {what}",
            "look at the tunnel timeline and the router's logs: DPD, rekeying, the path to AWS",
        )
    noted = ", ".join(f"{ip} {n}x" for ip, n in sorted(drops.items()) if n)
    return Verdict("tunnel history", OK, f"recovered drops: {noted}" if noted else "no drop in the look-back window")


def check_router_bgp(ev: Evidence) -> list[Verdict]:
    if ev.router_bgp is None:
        return []
    if ev.router_bgp.empty:
        return [
            Verdict(
                "router BGP table", WARN, ev.router_source, "check the router itself (vtysh -c 'show bgp ipv4 unicast')"
            )
        ]
    if ev.params is None:  # no VPC CIDR to look for without a stack's params
        return []
    vpc = ipaddress.ip_network(ev.params.vpc.cidr)
    via = ev.router_bgp[ev.router_bgp["tunnel"] != "-"]
    tunnels = sorted({t for p, t in zip(via["prefix"], via["tunnel"]) if ipaddress.ip_network(p).overlaps(vpc)})
    if not tunnels:
        return [
            Verdict(
                "router BGP table",
                FAIL,
                f"the router has no BGP route to the VPC {vpc}",
                "check the BGP sessions to the AWS inside addresses",
            )
        ]
    if len(tunnels) < 2:
        return [
            Verdict(
                "router BGP table",
                WARN,
                f"the VPC {vpc} is learned over tunnel {tunnels[0]} only",
                "the other tunnel's BGP session is down: no failover path",
            )
        ]
    return [Verdict("router BGP table", OK, f"the VPC {vpc} is learned over tunnels {tunnels}")]


UNREACHABLE = "UNREACHABLE"


def check_dns(ev: Evidence) -> list[Verdict]:
    if ev.dns is None:
        return []
    if ev.dns.empty:
        return [Verdict("hybrid DNS", WARN, "no DNS probes were configured", "set dns in the params")]
    if (ev.dns["rcode"] == UNREACHABLE).all():
        return [
            Verdict(
                "hybrid DNS",
                WARN,
                f"not probed: {ev.dns['detail'].iloc[0]}",
                "the questions are asked on hosts.onprem_client and hosts.vpc_client through SSM: "
                "name them in the params and bring them online",
            )
        ]
    failed = ev.dns[~ev.dns["ok"]]
    if not failed.empty:
        what = "; ".join(f"{r.side}: {r.name} -> {r.rcode}" for r in failed.itertuples())
        return [
            Verdict(
                "hybrid DNS", FAIL, what, "check the resolver endpoints, the forwarding rule and the on-prem DNS server"
            )
        ]
    slow = ev.dns[ev.dns["latency_ms"] > ev.thresholds.dns_latency_warn_ms]
    if not slow.empty:
        return [
            Verdict(
                "hybrid DNS",
                WARN,
                f"{len(slow)} answer(s) slower than {ev.thresholds.dns_latency_warn_ms} ms",
                "a forwarder may be timing out before the second endpoint answers",
            )
        ]
    return [Verdict("hybrid DNS", OK, f"{len(ev.dns)} probes answered as expected")]


def check_dns_endpoints(ev: Evidence) -> list[Verdict]:
    probes = ev.dns_endpoints
    if probes is None or probes.empty or (probes["rcode"] == UNREACHABLE).all():
        return []
    down = [r.server for r in probes.itertuples() if not r.ok]
    if not down:
        return [Verdict("inbound endpoints", OK, f"{len(probes)} of {len(probes)} answer from on-prem")]
    if len(down) == len(probes):
        return [
            Verdict(
                "inbound endpoints",
                FAIL,
                "no inbound endpoint IP answers from on-prem",
                "check the tunnels, the endpoints' security group and the endpoints themselves",
            )
        ]
    return [
        Verdict(
            "inbound endpoints",
            WARN,
            f"{', '.join(down)} does not answer: on-prem resolution depends on the other endpoint IP alone",
            "check that endpoint IP (its ENI, subnet, security group) and recreate it if gone",
        )
    ]


def check_client_vpn(ev: Evidence) -> list[Verdict]:
    endpoints = ev.client_vpn.get("endpoints")
    if endpoints is None:
        return []
    if endpoints.empty:
        return [
            Verdict(
                "client VPN",
                WARN,
                "no Client VPN endpoint tagged with the stack",
                "run notebooks 04 and 05 if remote users should connect",
            )
        ]
    verdicts = []
    for row in endpoints.itertuples():
        if row.status != "available":
            verdicts.append(
                Verdict(
                    f"client VPN {row.endpoint_id}",
                    FAIL,
                    f"endpoint {row.status}",
                    "associate a target network (it is pending-associate without one)",
                )
            )
        else:
            verdicts.append(
                Verdict(
                    f"client VPN {row.endpoint_id}",
                    OK,
                    f"available, {row.associations} association(s), {row.active} active connection(s)",
                )
            )
    probe = ev.client_vpn.get("handler_probe")
    if probe is not None and not probe.empty:
        denied = probe[~probe["allow"] & probe["expected_allow"]]
        admitted = probe[probe["allow"] & ~probe["expected_allow"]]
        if not denied.empty:
            verdicts.append(
                Verdict(
                    "connect handler",
                    FAIL,
                    f'a user the policy admits is denied: "{denied.iloc[0]["message"]}"',
                    "check the handler's environment (policies, allowed CIDRs, deny-all) "
                    "against connect_handler in the params, and redeploy (notebook 05)",
                )
            )
        elif not admitted.empty:
            verdicts.append(
                Verdict(
                    "connect handler",
                    FAIL,
                    f"a user the policy refuses is admitted ({admitted.iloc[0]['public_ip']})",
                    "redeploy the handler from the params (notebook 05)",
                )
            )
        else:
            verdicts.append(Verdict("connect handler", OK, "decides as the policy in the params says"))
    return verdicts


def check_certificates(ev: Evidence) -> list[Verdict]:
    """Client VPN refuses every user once a certificate has expired, and AWS logs no
    failed mutual-TLS attempt: warn ahead, by the days left."""
    if ev.certificates is None or ev.certificates.empty:
        return []
    known = ev.certificates.dropna(subset=["days_left"])
    if known.empty:
        return [
            Verdict(
                "certificates",
                WARN,
                "no data: ACM gives no expiry date for the endpoints' certificates",
                "check the certificates in ACM (DescribeCertificate NotAfter)",
            )
        ]
    worst = known.sort_values("days_left").iloc[0]
    what = f"{worst.role} certificate {worst.certificate} ({worst.domain}) of {worst.endpoint_id}"
    if worst.days_left < 0:
        return [Verdict("certificates", FAIL, f"{what} expired {abs(worst.days_left):.0f} day(s) ago")]
    if worst.days_left <= ev.thresholds.cert_warn_days:
        return [Verdict("certificates", WARN, f"{what} expires in {worst.days_left:.0f} day(s)")]
    return [
        Verdict("certificates", OK, f"{len(known)} certificate(s), the first to expire in {worst.days_left:.0f} days")
    ]


CHECKS: dict[str, Callable[[Evidence], list[Verdict]]] = {
    "hosts": check_hosts,
    "daemons": check_daemons,
    "tunnels": check_tunnels,
    "accepted_routes": check_accepted_routes,
    "tgw_routes": check_tgw_routes,
    "tunnel_history": check_tunnel_history,
    "router_bgp": check_router_bgp,
    "dns": check_dns,
    "dns_endpoints": check_dns_endpoints,
    "client_vpn": check_client_vpn,
    "certificates": check_certificates,
}


def evaluate(ev: Evidence) -> list[Verdict]:
    """Every check's verdicts; each WARN and FAIL with its cause (diagnostics.causes),
    the evidence for it, and the cause's fix as what to do where one is known."""
    from . import causes, signals

    found = signals.gather(ev)
    out = []
    for key, check in CHECKS.items():
        for verdict in check(ev):
            if verdict.status != OK and not verdict.cause:
                code, shown, fix = causes.diagnose(key, f"{verdict.check} {verdict.reason}", found)
                verdict = replace(verdict, cause=code, evidence=shown, action=fix or verdict.action)
            out.append(verdict)
    return out


def verdict_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([asdict(v) for v in verdicts], columns=COLUMNS)


def exit_code(verdicts: list[Verdict]) -> int:
    return max((SEVERITY[v.status] for v in verdicts), default=SEVERITY[FAIL])
