"""Why a check is not OK: a catalogue of causes, each a stable code, the signals
that show it, and the fix in one sentence.

The catalogue is data: a cause lists the checks it can explain and, per source
of evidence, a pattern that shows it. Signals are one table gathered from what
the health check collected: AWS's own logs (Site-to-Site VPN tunnel and BGP
logs, Resolver query logs, Client VPN connection logs), the telemetry, facts
read from the API (a security group, a rule association, a certificate's
expiry), the hosts' daemons, the DNS answers and the connect handler's
answers. A WARN or FAIL verdict gets the first cause of the catalogue whose
pattern matches a signal about the same thing (the same tunnel, ...); where
nothing matches, the cause is UNKNOWN and the evidence says what was looked
at: an honest answer, never a guess. Batfish's session status codes and
SuzieQ's assertReason are the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

UNKNOWN = "UNKNOWN"
SIGNAL_COLUMNS = ["source", "subject", "time", "text", "healthy"]

# Where a signal comes from (the `source` column), as the evidence names it.
SOURCES = {
    "vpn-tunnel-log": "Site-to-Site VPN tunnel log",
    "vpn-bgp-log": "Site-to-Site VPN BGP log",
    "telemetry": "VgwTelemetry",
    "router": "the router's own view",
    "api": "the AWS API",
    "daemons": "the hosts' daemons",
    "dns": "DNS answers",
    "resolver-query-log": "Route 53 Resolver query log",
    "client-vpn-log": "Client VPN connection log",
    "handler": "the connect handler's answers",
}


@dataclass(frozen=True)
class Signal:
    source: str  # a key of SOURCES
    pattern: str  # a regular expression over the signal's text (case-insensitive)


@dataclass(frozen=True)
class Cause:
    code: str
    meaning: str
    fix: str
    checks: tuple[str, ...]  # the checks (verdicts.CHECKS keys) it can explain
    signals: tuple[Signal, ...]


CATALOGUE: tuple[Cause, ...] = (
    Cause(
        "IKE_PSK_MISMATCH",
        "the two ends of the tunnel hold different pre-shared keys",
        "set the tunnel's pre-shared key on the customer gateway to the one AWS holds (notebook 02 sends it), "
        "or change it on AWS's side (vpn.tunnels[].pre_shared_key, notebook 01)",
        ("tunnels", "tunnel_history"),
        (
            Signal(
                "vpn-tunnel-log",
                r"invalid pre-shared key|pre-shared key mismatch|psk mismatch|"
                r"authentication failed",
            ),
        ),
    ),
    Cause(
        "IKE_PHASE1_NO_PROPOSAL",
        "the customer gateway proposes no IKE (phase 1) proposal AWS accepts",
        "make the router's IKE proposal (encryption, integrity, DH group, IKE version) one of the tunnel's allowed "
        "values (vpn.crypto.phase1_*), and send the router its setup again (notebook 02)",
        ("tunnels", "tunnel_history"),
        (
            Signal(
                "vpn-tunnel-log",
                r"no proposal match found by aws|ike_sa.*no_proposal_chosen|"
                r"phase ?1.*no proposal",
            ),
        ),
    ),
    Cause(
        "IKE_PHASE2_NO_PROPOSAL",
        "IKE is up but the IPsec (phase 2) proposals or traffic selectors do not match",
        "make the router's ESP proposal and traffic selectors match the tunnel's phase 2 values "
        "(vpn.crypto.phase2_*; 0.0.0.0/0 both ways), and send the router its setup again (notebook 02)",
        ("tunnels", "tunnel_history"),
        (
            Signal(
                "vpn-tunnel-log",
                r'notifying with "no proposal chosen"|ts_unacceptable|'
                r"child_sa.*no_proposal_chosen|phase ?2.*no proposal",
            ),
        ),
    ),
    Cause(
        "DPD_TIMEOUT",
        "AWS's end stopped hearing the customer gateway (dead peer detection timed out)",
        "check that UDP 500 and 4500 pass both ways between the customer gateway and the tunnel's outside IP "
        "(firewall, NAT), and that the router's IKE daemon runs",
        ("tunnels", "tunnel_history"),
        (Signal("vpn-tunnel-log", r"declaring peer dead|dpd.*time.?out|peer is not responsive"),),
    ),
    Cause(
        "IKE_DELETED_BY_CGW",
        "the customer gateway closed the tunnel itself (it sent AWS a DELETE)",
        "see why the router closed it (its IKE daemon's log, an administrator, its own DPD) and start the tunnel "
        "again there (swanctl --initiate, or the router's setup again: notebook 02)",
        ("tunnels", "tunnel_history"),
        (Signal("vpn-tunnel-log", r"received delete for ike_sa"),),
    ),
    Cause(
        "DAEMON_DOWN",
        "a daemon the host's role needs is not running",
        "start the stopped daemon again on that host (strongSwan: systemctl restart strongswan; FRR: systemctl "
        "restart frr) and read why it stopped in its journal (journalctl -u <unit>)",
        ("daemons", "tunnels", "router_bgp", "accepted_routes"),
        (Signal("daemons", r"\b(charon|bgpd|zebra) not running"),),
    ),
    Cause(
        "BGP_ASN_MISMATCH",
        "IPsec is up but BGP does not open: the ASNs the two ends expect differ",
        "make the router's local ASN the customer gateway's BGP ASN (customer_gateway.bgp_asn) and its "
        "neighbors' remote ASN the transit gateway's (transit_gateway.amazon_side_asn)",
        ("tunnels", "accepted_routes", "router_bgp", "tgw_routes"),
        (
            Signal("vpn-bgp-log", r"bad peer as|peer as.*(mismatch|differ)|remote as|open message error"),
            Signal("router", r"bad peer as|open message error"),
        ),
    ),
    Cause(
        "BGP_PREFIX_NOT_ANNOUNCED",
        "BGP is up but the router announces no on-prem prefix",
        "add the on-prem prefix to the router's BGP (network statement for onprem.cidr, with a route to it)",
        ("accepted_routes", "tgw_routes"),
        (Signal("vpn-bgp-log", r"withdrawn"), Signal("telemetry", r"^UP, 0 accepted routes")),
    ),
    Cause(
        "TGW_ROUTE_NOT_PROPAGATED",
        "the tunnels accept the on-prem routes but the transit gateway's route table "
        "holds none via the VPN attachment: propagation is off (or the attachment is associated elsewhere)",
        "enable route propagation of the VPN attachment into the route table the VPC attachments use "
        "(EnableTransitGatewayRouteTablePropagation), or add static routes to the on-prem prefixes",
        ("tgw_routes",),
        (Signal("api", r"accepted routes but route table \S+ holds none via"),),
    ),
    Cause(
        "RESOLVER_SG_BLOCKS_DNS",
        "the Resolver endpoints' security group does not admit DNS from on-prem",
        "allow UDP and TCP 53 from onprem.cidr in the endpoints' security group (notebook 03 restores it)",
        ("dns", "dns_endpoints"),
        (Signal("api", r"security group \S+ admits no (udp|tcp)/53"),),
    ),
    Cause(
        "RESOLVER_RULE_NOT_ASSOCIATED",
        "the forwarding rule for the on-prem domain is not associated with the VPC",
        "associate the rule with the VPC (notebook 03 does it)",
        ("dns",),
        (Signal("api", r"forwarding rule \S+ .*is not associated"),),
    ),
    Cause(
        "ONPREM_DNS_DOWN",
        "the on-prem DNS server does not answer",
        "start the on-prem DNS server again (systemctl restart named) and read why it stopped in its journal",
        ("dns", "daemons"),
        (
            Signal("daemons", r"\bnamed not running"),
            Signal("dns", r"^on-prem DNS server .*\(a name of its own zone\): (timeout|refused)"),
        ),
    ),
    Cause(
        "VPN_DOWN",
        "every tunnel of the Site-to-Site VPN is down: what crosses it (routes, DNS questions) fails with it",
        "bring the tunnels back first: the tunnels' verdict names their cause",
        ("dns", "dns_endpoints", "tgw_routes", "router_bgp", "accepted_routes"),
        (Signal("telemetry", r"^all tunnels of \S+ DOWN"),),
    ),
    Cause(
        "HANDLER_TIMEOUT",
        "the client connect handler does not answer within Client VPN's 30 seconds",
        "make the handler answer well within 30 s (it runs on every connection attempt); until then every user "
        "is refused",
        ("client_vpn",),
        (
            Signal("client-vpn-log", r"client-connect-handler-timed-out"),
            Signal("handler", r"client-connect-handler-timed-out"),
        ),
    ),
    Cause(
        "HANDLER_ERROR",
        "the client connect handler fails or answers with an invalid response",
        "read the handler's log (CloudWatch Logs /aws/lambda/<function>) and deploy a working version (notebook 05)",
        ("client_vpn",),
        (
            Signal("client-vpn-log", r"client-connect-handler-(other-execution-error|invalid-response)"),
            Signal("handler", r"client-connect-handler-(other-execution-error|invalid-response)"),
        ),
    ),
    Cause(
        "HANDLER_DENIED",
        "the client connect handler refuses users the policy admits",
        "check the handler's policies and allowed CIDRs against connect_handler in the params, and redeploy "
        "(notebook 05)",
        ("client_vpn",),
        (Signal("handler", r"client-connect-failed"),),
    ),
    Cause(
        "CERT_EXPIRING",
        "a Client VPN certificate expires soon, or has expired: users will be (are) refused, and "
        "AWS logs no failed mutual-TLS attempt",
        "issue a new certificate from the same CA and import it into the same ACM ARN (notebook 04 re-imports)",
        ("certificates",),
        (Signal("api", r"certificate .* (expires in|expired)"),),
    ),
)

# Why a whole account-region could not be read (the fleet health check's "access" rows).
ACCESS_CAUSES: tuple[Cause, ...] = (
    Cause(
        "ACCESS_DENIED",
        "the identity the fleet check reads an account with may not make a call it needs",
        "give the account's reader role the fleet's read-only policy (params/fleet-iam-policy.json) and let "
        "the caller assume it (its trust policy)",
        ("access",),
        (Signal("api", r"AccessDenied|UnauthorizedOperation|not authorized"),),
    ),
    Cause(
        "REGION_NOT_ENABLED",
        "the region is not enabled for the account (an opt-in region), or the account's "
        "credentials are not valid there",
        "enable the region for the account (AWS console: Account, AWS Regions) or take it out of the fleet's regions",
        ("access",),
        (Signal("api", r"AuthFailure|OptInRequired|UnrecognizedClient|InvalidClientTokenId|not enabled"),),
    ),
    Cause(
        "THROTTLED",
        "AWS throttled the calls, and they still failed after botocore's adaptive retries",
        "run again later, lower max_workers in the fleet's params, or split the fleet over jobs with --shard",
        ("access",),
        (Signal("api", r"Throttl|RequestLimitExceeded|TooManyRequests|SlowDown"),),
    ),
)
CATALOGUE = CATALOGUE + ACCESS_CAUSES

BY_CODE = {cause.code: cause for cause in CATALOGUE}


def catalogue_frame() -> pd.DataFrame:
    """The catalogue as the README lists it."""
    return pd.DataFrame(
        [
            {
                "cause": c.code,
                "meaning": c.meaning,
                "checks": ", ".join(c.checks),
                "evidence": "; ".join(f"{SOURCES[s.source]}: /{s.pattern}/" for s in c.signals),
                "fix": c.fix,
            }
            for c in CATALOGUE
        ]
    )


def signals_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    frame["healthy"] = frame["healthy"].fillna(False).astype(bool)
    return frame


def _current(signals: list[dict]) -> list[dict]:
    """The unhealthy signals that still hold: per source and subject, the timed ones
    after its latest healthy one (a tunnel established again is not still failing
    for the reason it failed before); the timeless ones (a fact read now) as they are.
    Plain records: a health check judges one stack, a fleet check hundreds of connections."""
    keep = [r for r in signals if _no_time(r["time"]) and not r["healthy"]]
    timed: dict[tuple, list[dict]] = {}
    for r in signals:
        if not _no_time(r["time"]):
            timed.setdefault((r["source"], r["subject"]), []).append(r)
    for rows in timed.values():
        rows = sorted(rows, key=lambda r: pd.Timestamp(r["time"]))
        healthy = [position for position, r in enumerate(rows) if r["healthy"]]
        after = rows[healthy[-1] + 1 :] if healthy else rows
        keep += [r for r in after if not r["healthy"]]
    return keep


def _no_time(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _about(signals: list[dict], check_text: str) -> list[dict]:
    """The signals about the verdict: where the verdict names some of a source's
    subjects (outside IPs, endpoints, ...), that source's signals about those (and
    its general ones); where it names none, all of them."""
    named: dict[str, set] = {}
    for r in signals:
        if r["subject"] and r["subject"] in check_text:
            named.setdefault(r["source"], set()).add(r["subject"])
    return [r for r in signals if r["source"] not in named or r["subject"] in named[r["source"]] or not r["subject"]]


def diagnose(check: str, check_text: str, signals: pd.DataFrame | list[dict]) -> tuple[str, str, str]:
    """(cause code, evidence, fix) for a WARN or FAIL verdict of `check` whose check
    name and reason are `check_text` (signals: signals_frame, or its records); fix ""
    when the cause is UNKNOWN."""
    records = signals.to_dict("records") if isinstance(signals, pd.DataFrame) else signals
    relevant = _about(_current(records), check_text)
    looked = set()
    for cause in CATALOGUE:
        if check not in cause.checks:
            continue
        for signal in cause.signals:
            looked.add(SOURCES[signal.source])
            hits = [
                r
                for r in relevant
                if r["source"] == signal.source and re.search(signal.pattern, str(r["text"]), re.IGNORECASE)
            ]
            if hits:
                hits.sort(
                    key=lambda r: pd.Timestamp(0, tz="UTC") if _no_time(r["time"]) else pd.Timestamp(r["time"]),
                    reverse=True,
                )
                shown = "; ".join(_evidence_line(r) for r in hits[:3])
                return cause.code, shown, cause.fix
    sources = ", ".join(sorted(looked)) or "no source of evidence for this check"
    return UNKNOWN, f"nothing in {sources} names a cause", ""


def _evidence_line(row: dict) -> str:
    when = "" if _no_time(row["time"]) else f"{pd.Timestamp(row['time']):%H:%M:%S} "
    subject = f"{row['subject']}: " if row["subject"] else ""
    return f"{SOURCES[row['source']]}: {when}{subject}{row['text']}"


__all__ = [
    "BY_CODE",
    "CATALOGUE",
    "Cause",
    "SIGNAL_COLUMNS",
    "SOURCES",
    "Signal",
    "UNKNOWN",
    "catalogue_frame",
    "diagnose",
    "signals_frame",
]
