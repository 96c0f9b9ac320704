"""Route 53 Resolver query logs, written by the lab as AWS writes them.

The lab's named playing Route 53 Resolver in the VPC namespace sends every
answer to a client as dnstap to a collector started with it
(hybridnet.lab.dnstap: rcode, question, answers, the client's address and
port, UDP or TCP, the address it asked). Every tick of the lab's agent,
:func:`ship` takes the collector's new lines (each exactly once) and, for the
VPC of the stack, when a Resolver query logging configuration is associated
with it (association ACTIVE, configuration CREATED, destination a CloudWatch
Logs log group), writes one entry per query into that log group with
PutLogEvents, through the AWS API as the other parts of the agent read it. A
VPC without an ACTIVE association logs nothing, as on AWS: those queries are
dropped, not kept for later.

An entry has the fields AWS documents ("Values that appear in Resolver query
logs"; example in the Route 53 Developer Guide): version, account_id, region,
vpc_id, query_timestamp, query_name, query_type, query_class, rcode,
answers [{Rdata, Type, Class}], srcaddr, srcport, transport, srcids. srcids
names the instance the query came from (its private IP, from
DescribeInstances), or for a query that arrived at an inbound endpoint's IP
the endpoint and its network interface (resolver_endpoint,
resolver_network_interface: ListResolverEndpointIpAddresses' IpId); a query
for a domain of a FORWARD rule associated with the VPC also names the
outbound endpoint it left through. Like Resolver, which logs only the queries
it does not answer from its cache, a query that the same source asked again
within the answer's TTL (or the negative-caching TTL of an NXDOMAIN) is not
logged again; SERVFAIL and REFUSED are never cached. In the lab the VPC host
(web1) shares the VPC namespace with the Resolver's named, so its queries leave
from one of the Resolver's own addresses: they are logged as web1's (its address
and instance), as AWS sees an instance's queries. (The IDC's DNS server shares
its namespace with the IDC's server too: what it forwards to an inbound
endpoint may show the server's address, 192.168.2.20.) Entries go to one log
stream per VPC and configuration, ``<vpc-id>_<config-id>`` (this lab's
naming; AWS names its own streams, and readers should not rely on names).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from . import dnstap
from .topology import VPC_HOSTS

VPC_HOST_IP = dict(VPC_HOSTS)["web1"]  # the VPC host SSM reaches in the VPC namespace (seed-web1)

VERSION = "1.100000"  # as AWS writes it in its entries ("1.1" in the documentation's prose)
VIEW_READ_S = 5.0  # the account as read (query logging, endpoints, rules, instances) is used this long
MAX_BATCH = 1000  # events per PutLogEvents (AWS: at most 10,000 and 1 MiB)
CACHE_LIMIT = 10000
OUTBOX_LIMIT = 50000  # entries kept per stream while the API cannot be reached
NOT_CACHED = ("SERVFAIL", "REFUSED", "FORMERR", "NOTIMP")


# --- the collector, started with the Resolver's named (hybridnet.dataplane.dns_up) ----------------


def collector_name(ns: str) -> str:
    return f"dnstap@{ns}"


def spool_path(lab_dir: Path | str, ns: str) -> Path:
    """The collector's spool: outside named's run folder (replaced with each new
    configuration), in a folder `lab down` sweeps with the other hn-* folders."""
    return Path(lab_dir) / f"{ns}-querylog" / "responses.jsonl"


def start_collector(runtime, ns: str, run_dir: Path, timeout: float = 10.0) -> Path:
    """Start the dnstap collector for the named about to start in `ns` with `run_dir`;
    the unix socket named is to send to (in `run_dir`, owned by user bind)."""
    from .daemons import start_daemon

    sock = Path(run_dir) / "dnstap.sock"
    spool = spool_path(runtime.lab_dir, ns)
    spool.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    start_daemon(
        runtime,
        collector_name(ns),
        ns,
        [sys.executable, "-m", "hybridnet.lab.dnstap", "--socket", str(sock), "--spool", str(spool), "--owner", "bind"],
        executable=Path(sys.executable).name,
        ready=sock.exists,
        ready_timeout=timeout,
    )
    return sock


# --- what the account says about the VPC -----------------------------------------------------------


@dataclass
class Destination:
    config_id: str
    account_id: str
    log_group: str


@dataclass
class View:
    vpc_id: str
    destinations: list[Destination]
    endpoint_ips: dict[str, tuple[str, str, str]]  # ip -> (endpoint id, rni id, direction)
    rules: dict[str, str]  # FORWARD rule domain (no trailing dot, lower case) -> outbound endpoint id
    instances: dict[str, str]  # private IP -> instance id
    resolver_ips: set[str] = field(default_factory=set)  # where the Resolver answers (inbound IPs, CIDR base + 2)
    read_at: float = field(default_factory=time.monotonic)

    def as_aws_sees_it(self, facts: dict) -> dict:
        """The lab's VPC host (web1) shares the VPC namespace with the Resolver's named, so
        its queries leave from an address of the Resolver itself; on AWS they come from
        the instance's own address: they are the VPC host's."""
        if facts.get("query_address") in self.resolver_ips:
            return {**facts, "query_address": VPC_HOST_IP}
        return facts


def log_group_of(arn: str) -> str | None:
    """The log group name of a CloudWatch Logs log group ARN (with or without ``:*``)."""
    if ":log-group:" not in arn:
        return None
    name = arn.split(":log-group:", 1)[1]
    return name[:-2] if name.endswith(":*") else name


def read_view(ctx) -> View | None:
    """The stack's VPC as the API describes it, for the entries; None without a VPC."""
    from ..aws import paginate
    from ..phases import PhaseError, find_vpc

    try:
        vpc = find_vpc(ctx)
    except PhaseError:
        return None
    vpc_id = vpc["VpcId"]
    resolver, ec2 = ctx.client("route53resolver"), ctx.client("ec2")
    destinations = []
    for association in paginate(
        resolver,
        "list_resolver_query_log_config_associations",
        "ResolverQueryLogConfigAssociations",
        Filters=[{"Name": "ResourceId", "Values": [vpc_id]}],
    ):
        if association["Status"] != "ACTIVE":
            continue
        config = resolver.get_resolver_query_log_config(
            ResolverQueryLogConfigId=association["ResolverQueryLogConfigId"]
        )["ResolverQueryLogConfig"]
        group = log_group_of(config.get("DestinationArn", ""))
        if config["Status"] == "CREATED" and group:  # S3 and Firehose destinations are not played
            destinations.append(Destination(config["Id"], config.get("OwnerId", ""), group))
    endpoint_ips: dict[str, tuple[str, str, str]] = {}
    for endpoint in paginate(
        resolver, "list_resolver_endpoints", "ResolverEndpoints", Filters=[{"Name": "HostVPCId", "Values": [vpc_id]}]
    ):
        for address in paginate(
            resolver, "list_resolver_endpoint_ip_addresses", "IpAddresses", ResolverEndpointId=endpoint["Id"]
        ):
            endpoint_ips[address["Ip"]] = (endpoint["Id"], address.get("IpId", ""), endpoint["Direction"])
    rules: dict[str, str] = {}
    for association in paginate(
        resolver,
        "list_resolver_rule_associations",
        "ResolverRuleAssociations",
        Filters=[{"Name": "VPCId", "Values": [vpc_id]}],
    ):
        if association["Status"] != "COMPLETE":
            continue
        rule = resolver.get_resolver_rule(ResolverRuleId=association["ResolverRuleId"])["ResolverRule"]
        if rule["RuleType"] == "FORWARD" and rule.get("ResolverEndpointId"):
            rules[rule["DomainName"].rstrip(".").lower()] = rule["ResolverEndpointId"]
    import ipaddress

    resolver_ips = set(endpoint_ips) | {str(ipaddress.ip_network(vpc["CidrBlock"]).network_address + 2)}
    instances = {
        i["PrivateIpAddress"]: i["InstanceId"]
        for r in paginate(ec2, "describe_instances", "Reservations", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        for i in r["Instances"]
        if i.get("PrivateIpAddress")
    }
    return View(vpc_id, destinations, endpoint_ips, rules, instances, resolver_ips)


# --- responses -> entries ----------------------------------------------------------------------------


def _forwarded_by(view: View, name: str) -> str | None:
    labels = name.rstrip(".").lower()
    best = None
    for domain, endpoint in view.rules.items():
        if (labels == domain or labels.endswith("." + domain)) and (best is None or len(domain) > len(best[0])):
            best = (domain, endpoint)
    return best[1] if best else None


def srcids(view: View, facts: dict, outbound_ip: str | None = None) -> dict:
    """Who asked, as Resolver names it: the instance, or the inbound endpoint (and its
    network interface) the query arrived at; a forwarded query also names the
    outbound endpoint (and, when known, the interface it left from)."""
    ids: dict[str, str] = {}
    arrived = view.endpoint_ips.get(facts.get("response_address") or "")
    if arrived and arrived[2] == "INBOUND":
        ids["resolver_endpoint"], ids["resolver_network_interface"] = arrived[0], arrived[1]
    elif facts.get("query_address") in view.instances:
        ids["instance"] = view.instances[facts["query_address"]]
    outbound = _forwarded_by(view, facts.get("name") or "")
    if outbound and "resolver_endpoint" not in ids:
        ids["resolver_endpoint"] = outbound
        left = view.endpoint_ips.get(outbound_ip or "")
        if left and left[0] == outbound:
            ids["resolver_network_interface"] = left[1]
    return ids


def _timestamp(facts: dict) -> dt.datetime:
    text = facts.get("time") or facts.get("response_time")
    if text:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.datetime.now(dt.UTC)


def entry(view: View, destination: Destination, region: str, facts: dict, outbound_ip: str | None = None) -> dict:
    """One Route 53 Resolver query log entry (the documented fields, in AWS's order)."""
    moment = _timestamp(facts)
    return {
        "version": VERSION,
        "account_id": destination.account_id,
        "region": region,
        "vpc_id": view.vpc_id,
        "query_timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "query_name": facts.get("name") or ".",
        "query_type": facts.get("type") or "-",
        "query_class": facts.get("class") or "IN",
        "rcode": facts.get("rcode") or "-",
        "answers": list(facts.get("answers") or []),
        "srcaddr": facts.get("query_address") or "-",
        "srcport": str(facts.get("query_port") or 0),
        "transport": facts.get("transport") or "UDP",
        "srcids": srcids(view, facts, outbound_ip),
    }


class Cache:
    """What Resolver would answer from its cache, per source: (srcaddr, name, type,
    class) -> when its TTL ends. A query it holds is not logged."""

    def __init__(self) -> None:
        self.until: dict[tuple, float] = {}

    def answered_from_cache(self, facts: dict) -> bool:
        key = (facts.get("query_address"), (facts.get("name") or "").lower(), facts.get("type"), facts.get("class"))
        now = _timestamp(facts).timestamp()
        if self.until.get(key, 0.0) > now:
            return True
        ttl = None
        if facts.get("rcode") not in NOT_CACHED:
            ttl = facts.get("answer_ttl") if facts.get("answers") else facts.get("negative_ttl")
        if ttl:
            if len(self.until) >= CACHE_LIMIT:
                self.until = {k: v for k, v in self.until.items() if v > now}
            self.until[key] = now + float(ttl)
        return False


# --- shipping -----------------------------------------------------------------------------------


@dataclass
class Shipper:
    """One lab's shipping state: the account as last read, the cache, and the entries
    made but not written yet (kept in memory, per log group and stream: written at
    the next tick that reaches the API, each once)."""

    view: View | None = None
    cache: Cache = field(default_factory=Cache)
    outbox: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    streams: set[tuple[str, str]] = field(default_factory=set)
    written: int = 0
    error: str | None = None

    def tick(self, ctx, lab_dir: Path | str) -> int:
        """Take the collector's new responses, make their entries and write what waits;
        the number of entries written."""
        from .. import dataplane

        ns = dataplane.DNS_DAEMONS["resolver"][1]
        taken = dnstap.take_spool(spool_path(lab_dir, ns))
        if taken:
            if self.view is None or time.monotonic() - self.view.read_at > VIEW_READ_S:
                self.view = read_view(ctx)
            view = self.view
            # no VPC, or no ACTIVE association: AWS writes nothing for these queries
            if view is not None and view.destinations:
                seen = [view.as_aws_sees_it(facts) for facts in taken]
                logged = [facts for facts in seen if not self.cache.answered_from_cache(facts)]
                outbound_ip = _outbound_ip(lab_dir) if logged else None
                for destination in view.destinations:
                    stream = f"{view.vpc_id}_{destination.config_id}"
                    self.outbox.setdefault((destination.log_group, stream), []).extend(
                        {
                            "timestamp": int(_timestamp(facts).timestamp() * 1000),
                            "message": _json(entry(view, destination, ctx.params.region, facts, outbound_ip)),
                        }
                        for facts in logged
                    )
        shipped = 0
        for (group, stream), events in list(self.outbox.items()):
            events.sort(key=lambda e: e["timestamp"])  # PutLogEvents: in chronological order
            del events[:-OUTBOX_LIMIT]  # the API unreachable for long: the oldest are lost, as on AWS
            while events:
                try:
                    shipped += self._put(ctx, group, stream, events[:MAX_BATCH])
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise
                    self.streams.discard((group, stream))  # the group was deleted: AWS delivers nothing
                del events[:MAX_BATCH]
            del self.outbox[(group, stream)]
        self.written += shipped
        return shipped

    def _put(self, ctx, group: str, stream: str, events: list[dict]) -> int:
        logs = ctx.client("logs")
        if (group, stream) not in self.streams:
            try:
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            self.streams.add((group, stream))
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        return len(events)


def _json(record: dict) -> str:
    import json

    return json.dumps(record, separators=(",", ":"))


def _outbound_ip(lab_dir: Path | str) -> str | None:
    """The outbound endpoint IP the lab's Resolver sends forwarded queries from (its
    named.conf's query-source), if any."""
    import re

    from .. import dataplane

    conf = Path(lab_dir) / f"{dataplane.DNS_DAEMONS['resolver'][1]}-named" / "named.conf"
    try:
        found = re.search(r"^\s*query-source address ([0-9.]+);", conf.read_text(), re.M)
    except OSError:
        return None
    return found.group(1) if found else None


_SHIPPERS: dict[str, Shipper] = {}


def ship(ctx, lab_dir: Path | str, log: Callable[[str], None] = print) -> int:
    """The agent's hook, every tick: write the Resolver's new queries as query log
    entries. Never raises (the agent's other work goes on); a failure is logged once,
    and what was taken is written at the next tick that reaches the API."""
    shipper = _SHIPPERS.setdefault(str(lab_dir), Shipper())
    try:
        written = shipper.tick(ctx, lab_dir)
    except Exception as exc:  # the emulator restarting, a log group deleted meanwhile, ...
        message = f"{type(exc).__name__}: {exc}"
        if message != shipper.error:
            log(f"Resolver query logs: not written yet: {message}")
        shipper.error, shipper.view = message, None
        shipper.streams.clear()
        return 0
    if shipper.error is not None:
        log("Resolver query logs: written again")
        shipper.error = None
    return written


__all__ = [
    "Cache",
    "Destination",
    "Shipper",
    "View",
    "collector_name",
    "entry",
    "log_group_of",
    "read_view",
    "ship",
    "spool_path",
    "srcids",
    "start_collector",
]
