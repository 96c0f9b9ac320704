"""Phase 3: hybrid DNS with Route 53 Resolver.

Checks the private hosted zone (params ``dns.private_zone``) and its records,
creates (or finds again, by tags) a security group admitting DNS (UDP and TCP
53) from the on-prem CIDR only, an inbound and an outbound Resolver endpoint
with the params' IPs in two AZs, a FORWARD rule for the on-prem domain to the
on-prem DNS server, associated with the VPC, and (params ``logs.enabled``) a
Resolver query logging configuration sending the VPC's queries to the stack's
log group /hybridnet/<stack>/resolver, associated with the VPC; waits until all
are OPERATIONAL / COMPLETE / CREATED / ACTIVE; writes the on-prem BIND
configuration (conditional forwarders to the inbound endpoint IPs) under
``<run>/dns/`` and, with
``onprem_dns.apply``, sends them to the on-prem DNS server through SSM; checks that
each side's DNS server answers and asks the resolution matrix from both sides,
on the hosts through SSM. Re-running creates nothing new.

Why not TestDNSAnswer: AWS documents it for public hosted zones only (the
emulator refuses a private zone the same way), so the private zone's records
are checked with ListResourceRecordSets, and the answers with real DNS queries
from an on-prem client and a VPC host (the probe matrix).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..aws import PHASE_TAG, STACK_TAG, AwsContext, paginate, tag_value
from ..params import Dns
from ..plan import Change, Step, frame, refuse_replacements
from ..waiting import extra_waiter, poll, wait
from . import HostSteps, PhaseError, find_vpc, loggroups

PHASE = "3"
NOTEBOOK = "03_hybrid_dns"
DNS_PORT = 53
LIVE_ENDPOINT = ("CREATING", "OPERATIONAL", "UPDATING", "AUTO_RECOVERING", "ACTION_NEEDED")
LIVE_RULE = ("CREATING", "COMPLETE", "UPDATING")
NONEXISTENT_HOST = "does-not-exist"


def dns_params(ctx: AwsContext) -> Dns:
    if ctx.params.dns is None:
        raise PhaseError(
            "the parameter set has no dns section; add dns.private_zone, dns.records, "
            "dns.inbound_ips and dns.outbound_ips (see params/lab.yaml)"
        )
    return ctx.params.dns


# --- the VPC and its subnets -------------------------------------------------------------


def endpoint_subnets(ctx: AwsContext, vpc_id: str, ips: list[str]) -> list[dict]:
    """For each endpoint IP: {Ip, SubnetId, AvailabilityZone} of the VPC subnet holding it."""
    subnets = paginate(
        ctx.client("ec2"), "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    placed = []
    for ip in ips:
        home = [s for s in subnets if ipaddress.ip_address(ip) in ipaddress.ip_network(s["CidrBlock"])]
        if not home:
            raise PhaseError(
                f"no subnet of {vpc_id} holds the endpoint IP {ip}; create the subnet "
                f"or change dns.inbound_ips / dns.outbound_ips"
            )
        placed.append({"Ip": ip, "SubnetId": home[0]["SubnetId"], "AvailabilityZone": home[0]["AvailabilityZone"]})
    return placed


# --- the private hosted zone -----------------------------------------------------------------


@dataclass
class ZoneCheck:
    hosted_zone_id: str
    name: str
    vpc_id: str
    records: pd.DataFrame  # name, type, expected, found, ok

    @property
    def ok(self) -> bool:
        return bool(self.records["ok"].all())

    def _repr_html_(self) -> str:
        return self.records._repr_html_()

    def __repr__(self) -> str:
        return self.records.to_string()


def check_private_zone(ctx: AwsContext, vpc_id: str | None = None) -> ZoneCheck:
    """The private hosted zone exists, is associated with the VPC and holds the
    params' records (ListResourceRecordSets: TestDNSAnswer does not answer for
    private zones)."""
    dns = dns_params(ctx)
    vpc_id = vpc_id or find_vpc(ctx)["VpcId"]
    r53 = ctx.client("route53")
    zone_name = dns.private_zone + "."
    summaries = r53.list_hosted_zones_by_vpc(VPCId=vpc_id, VPCRegion=ctx.params.region)["HostedZoneSummaries"]
    zone = next((z for z in summaries if z["Name"].lower() == zone_name), None)
    if zone is None:
        same_name = [
            z["Id"].split("/")[-1]
            for z in r53.list_hosted_zones_by_name(DNSName=zone_name)["HostedZones"]
            if z["Name"].lower() == zone_name
        ]
        hint = (
            f"zone(s) {', '.join(same_name)} have that name but are not associated with {vpc_id}: "
            "associate one with the VPC (AssociateVPCWithHostedZone)"
            if same_name
            else "create it as a private hosted zone for the VPC, or fix dns.private_zone"
        )
        raise PhaseError(f"no private hosted zone {dns.private_zone} associated with {vpc_id}; {hint}")
    zone_id = zone["HostedZoneId"].split("/")[-1]
    found: dict[str, list[str]] = {}
    for rrset in paginate(r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone_id):
        if rrset["Type"] == "A":
            values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
            found.setdefault(rrset["Name"].rstrip(".").lower(), []).extend(values)
    rows = []
    for host, ip in dns.records.items():
        fqdn = f"{host}.{dns.private_zone}".lower()
        have = sorted(found.get(fqdn, []))
        rows.append(
            {"name": fqdn, "type": "A", "expected": ip, "found": ",".join(have) or "(missing)", "ok": have == [ip]}
        )
    records = pd.DataFrame(rows, columns=["name", "type", "expected", "found", "ok"])
    return ZoneCheck(zone_id, dns.private_zone, vpc_id, records)


# --- security group ------------------------------------------------------------------------------


def _dns_permissions(cidr: str) -> list[dict]:
    return [
        {
            "IpProtocol": proto,
            "FromPort": DNS_PORT,
            "ToPort": DNS_PORT,
            "IpRanges": [{"CidrIp": cidr, "Description": f"DNS ({proto.upper()}) from on-prem"}],
        }
        for proto in ("udp", "tcp")
    ]


def _ingress_set(group: dict) -> set[tuple]:
    return {
        (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
        for p in group.get("IpPermissions", [])
        for r in p.get("IpRanges", [])
    }


def _group_name(ctx: AwsContext) -> str:
    return f"{ctx.params.name}-resolver-endpoints"


def find_security_group(ctx: AwsContext, vpc_id: str) -> dict | None:
    groups = ctx.client("ec2").describe_security_groups(
        Filters=ctx.stack_filters(PHASE)
        + [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [_group_name(ctx)]}]
    )["SecurityGroups"]
    return groups[0] if groups else None


def _ingress_drift(ctx: AwsContext, group: dict) -> tuple[list[dict], list[dict]]:
    """(the DNS rules to add, the other rules to revoke) to make the group admit DNS
    over UDP and TCP from the on-prem CIDR only."""
    cidr = ctx.params.onprem.cidr
    want = _dns_permissions(cidr)
    have = _ingress_set(group)
    missing = [p for p in want if (p["IpProtocol"], DNS_PORT, DNS_PORT, cidr) not in have]
    wanted = {(p["IpProtocol"], DNS_PORT, DNS_PORT, cidr) for p in want}
    extra = [
        {"IpProtocol": proto, "FromPort": lo, "ToPort": hi, "IpRanges": [{"CidrIp": c}]}
        for proto, lo, hi, c in sorted(have - wanted, key=str)
    ]
    return missing, [{k: v for k, v in p.items() if v is not None} for p in extra]


def _permission_text(permission: dict) -> str:
    port = permission.get("FromPort")
    return f"{permission['IpProtocol']}{'/' + str(port) if port is not None else ''} from " + ", ".join(
        r["CidrIp"] for r in permission["IpRanges"]
    )


def ensure_security_group(ctx: AwsContext, vpc_id: str, created: list[str], changed: list[str] | None = None) -> dict:
    """The stack's Resolver endpoint group: DNS over UDP and TCP from the on-prem CIDR only.

    A found group is brought back to exactly that (a missing rule added, any
    other ingress rule revoked: it is this suite's group)."""
    ec2 = ctx.client("ec2")
    group = find_security_group(ctx, vpc_id)
    if group is None:
        group_id = ec2.create_security_group(
            GroupName=_group_name(ctx),
            VpcId=vpc_id,
            Description="Route 53 Resolver endpoints: DNS (UDP and TCP 53) from the on-prem network only",
            TagSpecifications=ctx.tag_spec("security-group", PHASE, "resolver-endpoints"),
        )["GroupId"]
        created.append(group_id)
        group = {"GroupId": group_id, "IpPermissions": []}
    missing, extra = _ingress_drift(ctx, group)
    if missing:
        ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=missing)
    if extra:
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=extra)
    if (missing or extra) and changed is not None and group["GroupId"] not in created:
        changed.append(
            f"{group['GroupId']}: ingress "
            + "; ".join([f"+ {_permission_text(p)}" for p in missing] + [f"- {_permission_text(p)}" for p in extra])
        )
    return ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]


def ingress_frame(ctx: AwsContext, group_id: str) -> pd.DataFrame:
    """Who the endpoints' security group admits (as AWS reports it)."""
    group = ctx.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    rows = [
        {
            "protocol": p.get("IpProtocol"),
            "port": p.get("FromPort"),
            "source": r["CidrIp"],
            "description": r.get("Description", ""),
        }
        for p in group.get("IpPermissions", [])
        for r in p.get("IpRanges", [])
    ]
    frame = pd.DataFrame(rows, columns=["protocol", "port", "source", "description"])
    return frame.sort_values(["protocol", "source"]).reset_index(drop=True)


# --- endpoints ---------------------------------------------------------------------------------


def _resolver_tags(ctx: AwsContext, arn: str) -> list[dict]:
    return paginate(ctx.client("route53resolver"), "list_tags_for_resource", "Tags", ResourceArn=arn)


def _ours(ctx: AwsContext, item: dict, name: str) -> bool:
    tags = {"Tags": _resolver_tags(ctx, item["Arn"])}
    return (
        tag_value(tags, STACK_TAG) == ctx.params.name
        and tag_value(tags, PHASE_TAG) == PHASE
        and tag_value(tags, "Name") == f"{ctx.params.name}-{name}"
    )


def endpoint_ips(ctx: AwsContext, endpoint_id: str) -> list[dict]:
    return paginate(
        ctx.client("route53resolver"),
        "list_resolver_endpoint_ip_addresses",
        "IpAddresses",
        ResolverEndpointId=endpoint_id,
    )


def _endpoint_ips_wanted(ctx: AwsContext, direction: str) -> tuple[list[str], str]:
    dns = dns_params(ctx)
    return list(dns.inbound_ips if direction == "INBOUND" else dns.outbound_ips), f"dns.{direction.lower()}_ips"


def find_endpoint(ctx: AwsContext, direction: str, vpc_id: str) -> dict | None:
    """The stack's live INBOUND or OUTBOUND endpoint in the VPC (by tags), or None."""
    name = f"{direction.lower()}-endpoint"
    found = [
        e
        for e in paginate(
            ctx.client("route53resolver"),
            "list_resolver_endpoints",
            "ResolverEndpoints",
            Filters=[{"Name": "Direction", "Values": [direction]}, {"Name": "HostVPCId", "Values": [vpc_id]}],
        )
        if e["Status"] in LIVE_ENDPOINT and _ours(ctx, e, name)
    ]
    return found[0] if found else None


def ensure_endpoint(
    ctx: AwsContext, direction: str, vpc_id: str, group_id: str, created: list[str], changed: list[str] | None = None
) -> dict:
    """The stack's INBOUND or OUTBOUND endpoint with the params' IPs (found by tags, else
    created). Other IPs are set in place: the new ones added first, then the old ones
    removed, so the endpoint keeps answering on the IPs it keeps (and two at least)."""
    resolver = ctx.client("route53resolver")
    ips, field_name = _endpoint_ips_wanted(ctx, direction)
    if not ips:
        raise PhaseError(f"{field_name} is empty; give two IPs, one in an endpoint subnet of each AZ")
    endpoint = find_endpoint(ctx, direction, vpc_id)
    if endpoint is not None:
        have = endpoint_ips(ctx, endpoint["Id"])
        held = {a["Ip"] for a in have}
        added = [p for p in endpoint_subnets(ctx, vpc_id, ips) if p["Ip"] not in held]
        removed = [a for a in have if a["Ip"] not in ips]
        for ip in added:
            resolver.associate_resolver_endpoint_ip_address(
                ResolverEndpointId=endpoint["Id"], IpAddress={"SubnetId": ip["SubnetId"], "Ip": ip["Ip"]}
            )
        for ip in removed:
            resolver.disassociate_resolver_endpoint_ip_address(
                ResolverEndpointId=endpoint["Id"], IpAddress={"SubnetId": ip["SubnetId"], "Ip": ip["Ip"]}
            )
        if (added or removed) and changed is not None:
            changed.append(
                f"{endpoint['Id']}: IPs "
                + "; ".join([f"+ {a['Ip']}" for a in added] + [f"- {a['Ip']}" for a in removed])
            )
        return endpoint
    placed = endpoint_subnets(ctx, vpc_id, ips)
    name = f"{direction.lower()}-endpoint"
    endpoint = resolver.create_resolver_endpoint(
        CreatorRequestId=f"hybridnet-{ctx.params.name}-{direction.lower()}-{uuid.uuid4().hex[:12]}",
        Name=f"{ctx.params.name}-{name}",
        Direction=direction,
        SecurityGroupIds=[group_id],
        IpAddresses=[{"SubnetId": p["SubnetId"], "Ip": p["Ip"]} for p in placed],
        Tags=ctx.tags(PHASE, name),
    )["ResolverEndpoint"]
    created.append(endpoint["Id"])
    return endpoint


# --- forwarding rule and its association ----------------------------------------------------------

RULE_NAME = "forward-onprem"


def _targets_wanted(ctx: AwsContext) -> list[dict]:
    return [{"Ip": ctx.params.onprem.dns_server, "Port": DNS_PORT}]


def _targets_text(targets: list[dict]) -> str:
    return ", ".join(f"{t['Ip']}:{t.get('Port', DNS_PORT)}" for t in targets) or "-"


def find_forward_rule(ctx: AwsContext) -> dict | None:
    """The stack's live FORWARD rule (by tags, whatever its domain), or None."""
    found = [
        r
        for r in paginate(
            ctx.client("route53resolver"),
            "list_resolver_rules",
            "ResolverRules",
            Filters=[{"Name": "Type", "Values": ["FORWARD"]}],
        )
        if r["Status"] in LIVE_RULE and _ours(ctx, r, RULE_NAME)
    ]
    return found[0] if found else None


def _rule_update(ctx: AwsContext, rule: dict, outbound_id: str | None) -> dict:
    """UpdateResolverRule's Config that brings the rule to the params ({} = as it is)."""
    config: dict = {}
    have = [{"Ip": t["Ip"], "Port": t.get("Port", DNS_PORT)} for t in rule.get("TargetIps", [])]
    if have != _targets_wanted(ctx):
        config["TargetIps"] = _targets_wanted(ctx)
    if outbound_id and rule.get("ResolverEndpointId") != outbound_id:
        config["ResolverEndpointId"] = outbound_id
    return config


def _rule_domain_changed(ctx: AwsContext, rule: dict) -> bool:
    return rule["DomainName"].rstrip(".").lower() != ctx.params.onprem.domain.lower()


def ensure_forward_rule(
    ctx: AwsContext, outbound_id: str, created: list[str], changed: list[str] | None = None
) -> dict:
    """FORWARD <onprem.domain> -> onprem.dns_server:53 via the outbound endpoint. Other
    targets or another outbound endpoint are set in place (UpdateResolverRule); another
    domain replaces the rule (only with allow_replace: run() refuses it otherwise)."""
    resolver = ctx.client("route53resolver")
    rule = find_forward_rule(ctx)
    if rule is not None and _rule_domain_changed(ctx, rule):
        for association in paginate(
            resolver,
            "list_resolver_rule_associations",
            "ResolverRuleAssociations",
            Filters=[{"Name": "ResolverRuleId", "Values": [rule["Id"]]}],
        ):
            resolver.disassociate_resolver_rule(VPCId=association["VPCId"], ResolverRuleId=rule["Id"])
        rule_id = rule["Id"]
        poll(
            lambda: (
                not paginate(
                    resolver,
                    "list_resolver_rule_associations",
                    "ResolverRuleAssociations",
                    Filters=[{"Name": "ResolverRuleId", "Values": [rule_id]}],
                )
            ),
            timeout=60 * ctx.waiter_delay,
            interval=ctx.waiter_delay,
        )
        resolver.delete_resolver_rule(ResolverRuleId=rule["Id"])
        if changed is not None:
            changed.append(f"{rule['Id']}: {rule['DomainName'].rstrip('.')} deleted, to be replaced (allow_replace)")
        rule = None
    if rule is not None:
        config = _rule_update(ctx, rule, outbound_id)
        if config:
            rule = resolver.update_resolver_rule(ResolverRuleId=rule["Id"], Config=config)["ResolverRule"]
            if changed is not None:
                changed.append(
                    f"{rule['Id']}: "
                    + ", ".join({"TargetIps": "targets", "ResolverEndpointId": "outbound endpoint"}[k] for k in config)
                    + " (UpdateResolverRule)"
                )
        return rule
    rule = resolver.create_resolver_rule(
        CreatorRequestId=f"hybridnet-{ctx.params.name}-forward-{uuid.uuid4().hex[:12]}",
        Name=f"{ctx.params.name}-{RULE_NAME}",
        RuleType="FORWARD",
        DomainName=ctx.params.onprem.domain,
        TargetIps=_targets_wanted(ctx),
        ResolverEndpointId=outbound_id,
        Tags=ctx.tags(PHASE, RULE_NAME),
    )["ResolverRule"]
    created.append(rule["Id"])
    return rule


def find_rule_association(ctx: AwsContext, rule_id: str, vpc_id: str) -> dict | None:
    """The rule's association with the VPC (associations carry no tags: found by rule and VPC)."""
    found = [
        a
        for a in paginate(
            ctx.client("route53resolver"),
            "list_resolver_rule_associations",
            "ResolverRuleAssociations",
            Filters=[{"Name": "ResolverRuleId", "Values": [rule_id]}, {"Name": "VPCId", "Values": [vpc_id]}],
        )
        if a["Status"] in ("CREATING", "COMPLETE", "OVERRIDDEN")
    ]
    return found[0] if found else None


def ensure_rule_association(ctx: AwsContext, rule_id: str, vpc_id: str, created: list[str]) -> dict:
    """The rule associated with the VPC."""
    resolver = ctx.client("route53resolver")
    found = find_rule_association(ctx, rule_id, vpc_id)
    if found:
        return found
    association = resolver.associate_resolver_rule(
        ResolverRuleId=rule_id, VPCId=vpc_id, Name=f"{ctx.params.name}-{RULE_NAME}"
    )["ResolverRuleAssociation"]
    created.append(association["Id"])
    return association


# --- query logging ---------------------------------------------------------------------------------

QUERY_LOG_NAME = "query-log"
LOG_SERVICE = "resolver"  # the stack's log group /hybridnet/<stack>/resolver
LIVE_QUERY_LOG = ("CREATING", "CREATED")
LIVE_QUERY_LOG_ASSOCIATION = ("CREATING", "ACTIVE")


def find_query_log_config(ctx: AwsContext) -> dict | None:
    """The stack's live Resolver query logging configuration (by tags), or None."""
    found = [
        c
        for c in paginate(ctx.client("route53resolver"), "list_resolver_query_log_configs", "ResolverQueryLogConfigs")
        if c["Status"] in LIVE_QUERY_LOG and _ours(ctx, c, QUERY_LOG_NAME)
    ]
    return found[0] if found else None


def query_log_associations(ctx: AwsContext, config_id: str, vpc_id: str | None = None) -> list[dict]:
    """The configuration's live associations (with `vpc_id` only, when given)."""
    filters = [{"Name": "ResolverQueryLogConfigId", "Values": [config_id]}]
    if vpc_id:
        filters.append({"Name": "ResourceId", "Values": [vpc_id]})
    return [
        a
        for a in paginate(
            ctx.client("route53resolver"),
            "list_resolver_query_log_config_associations",
            "ResolverQueryLogConfigAssociations",
            Filters=filters,
        )
        if a["Status"] in LIVE_QUERY_LOG_ASSOCIATION
    ]


def _same_destination(a: str, b: str) -> bool:
    return a.removesuffix(":*") == b.removesuffix(":*")


def _log_group_of(arn: str) -> str:
    return arn.split(":log-group:", 1)[-1].removesuffix(":*")


def remove_query_logging(ctx: AwsContext, config: dict) -> None:
    """Disassociate every VPC from the configuration, then delete it (AWS refuses to
    delete one that still logs a VPC)."""
    resolver = ctx.client("route53resolver")
    for association in query_log_associations(ctx, config["Id"]):
        resolver.disassociate_resolver_query_log_config(
            ResolverQueryLogConfigId=config["Id"], ResourceId=association["ResourceId"]
        )
    poll(
        lambda: (
            not paginate(
                resolver,
                "list_resolver_query_log_config_associations",
                "ResolverQueryLogConfigAssociations",
                Filters=[{"Name": "ResolverQueryLogConfigId", "Values": [config["Id"]]}],
            )
        ),
        timeout=60 * ctx.waiter_delay,
        interval=ctx.waiter_delay,
    )
    resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config["Id"])


@dataclass
class QueryLogging:
    """The VPC's query logging as this phase left it (all None: logs.enabled is false)."""

    log_group: str | None = None
    config_id: str | None = None
    association_id: str | None = None


def ensure_query_logging(
    ctx: AwsContext, vpc_id: str, created: list[str], changed: list[str] | None = None
) -> QueryLogging:
    """With logs.enabled: the stack's log group (retention, tags), a query logging
    configuration sending to it (tagged; found again by tags; one with another
    destination is replaced: AWS cannot change a destination), associated with the
    VPC. Without: the stack's configuration, if any, disassociated and deleted."""
    resolver = ctx.client("route53resolver")
    config = find_query_log_config(ctx)
    if not ctx.params.logs.enabled:
        if config is not None:
            remove_query_logging(ctx, config)
            if changed is not None:
                changed.append(
                    f"{config['Id']}: query logging off (logs.enabled: false): "
                    "DisassociateResolverQueryLogConfig, DeleteResolverQueryLogConfig"
                )
        return QueryLogging()
    group = loggroups.ensure(ctx, LOG_SERVICE, PHASE, created, changed)
    arn = loggroups.group_arn(group)
    if config is not None and not _same_destination(config["DestinationArn"], arn):
        remove_query_logging(ctx, config)
        if changed is not None:
            changed.append(
                f"{config['Id']}: destination {_log_group_of(config['DestinationArn'])} -> "
                f"{group['logGroupName']}: deleted, to be created anew"
            )
        config = None
    if config is None:
        config = resolver.create_resolver_query_log_config(
            Name=f"{ctx.params.name}-{QUERY_LOG_NAME}",
            DestinationArn=arn,
            CreatorRequestId=f"hybridnet-{ctx.params.name}-query-log-{uuid.uuid4().hex[:12]}",
            Tags=ctx.tags(PHASE, QUERY_LOG_NAME),
        )["ResolverQueryLogConfig"]
        created.append(config["Id"])
    found = query_log_associations(ctx, config["Id"], vpc_id)
    if found:
        association = found[0]
    else:
        association = resolver.associate_resolver_query_log_config(
            ResolverQueryLogConfigId=config["Id"], ResourceId=vpc_id
        )["ResolverQueryLogConfigAssociation"]
        created.append(association["Id"])
    return QueryLogging(group["logGroupName"], config["Id"], association["Id"])


def query_logging_steps(ctx: AwsContext, vpc_id: str) -> list[Step]:
    """The plan's rows for the log group, the query logging configuration and its association."""
    config = find_query_log_config(ctx)
    if not ctx.params.logs.enabled:
        return (
            [
                Step(
                    "query log config",
                    config["Id"],
                    "modify",
                    [Change("query logging", "on", "off")],
                    "DisassociateResolverQueryLogConfig, DeleteResolverQueryLogConfig (logs.enabled: false)",
                )
            ]
            if config
            else []
        )
    steps = [loggroups.step(ctx, LOG_SERVICE, PHASE)]
    group = loggroups.find(ctx, loggroups.group_name(ctx, LOG_SERVICE))
    want = loggroups.group_name(ctx, LOG_SERVICE)
    if (
        config is not None
        and group is not None
        and not _same_destination(config["DestinationArn"], loggroups.group_arn(group))
    ):
        steps.append(
            Step(
                "query log config",
                config["Id"],
                "replace",
                [Change("destination", _log_group_of(config["DestinationArn"]), want)],
                "DisassociateResolverQueryLogConfig, DeleteResolverQueryLogConfig, "
                "CreateResolverQueryLogConfig, AssociateResolverQueryLogConfig (queries are not "
                "logged meanwhile; DNS is not affected)",
                interrupts=False,
            )
        )
        config = None
    elif config is not None:
        steps.append(Step("query log config", config["Id"], "keep"))
    else:
        steps.append(Step("query log config", "(new)", "create", how=f"CreateResolverQueryLogConfig to {want}"))
    association = query_log_associations(ctx, config["Id"], vpc_id) if config else []
    steps.append(
        Step("query log association", association[0]["Id"], "keep")
        if association
        else Step("query log association", "(new)", "create", how=f"AssociateResolverQueryLogConfig with {vpc_id}")
    )
    return steps


# --- waiting ------------------------------------------------------------------------------------


def wait_ready(
    ctx: AwsContext,
    endpoint_ids: list[str],
    rule_id: str,
    association_id: str,
    progress: Callable[[str], None] | None = print,
    timeout: float = 900,
    query_logging: QueryLogging | None = None,
) -> None:
    """Endpoints OPERATIONAL (AWS: a few minutes), rule and association COMPLETE; the
    query logging configuration CREATED and its association ACTIVE."""
    resolver = ctx.client("route53resolver")
    if query_logging is not None and query_logging.config_id:
        wait(
            extra_waiter("ResolverQueryLogConfigCreated", resolver),
            label=f"query log config {query_logging.config_id}",
            delay=ctx.waiter_delay,
            timeout=timeout,
            progress=progress,
            done="CREATED",
            ResolverQueryLogConfigId=query_logging.config_id,
        )
        wait(
            extra_waiter("ResolverQueryLogConfigAssociationActive", resolver),
            label=f"query log association {query_logging.association_id}",
            delay=ctx.waiter_delay,
            timeout=timeout,
            progress=progress,
            done="ACTIVE",
            ResolverQueryLogConfigAssociationId=query_logging.association_id,
        )
    for endpoint_id in endpoint_ids:
        wait(
            extra_waiter("ResolverEndpointOperational", resolver),
            label=f"Resolver endpoint {endpoint_id}",
            delay=ctx.waiter_delay,
            timeout=timeout,
            progress=progress,
            done="OPERATIONAL",
            ResolverEndpointId=endpoint_id,
        )
    wait(
        extra_waiter("ResolverRuleComplete", resolver),
        label=f"Resolver rule {rule_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        done="COMPLETE",
        ResolverRuleId=rule_id,
    )
    wait(
        extra_waiter("ResolverRuleAssociationComplete", resolver),
        label=f"rule association {association_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        done="COMPLETE",
        ResolverRuleAssociationId=association_id,
    )


# --- the phase ----------------------------------------------------------------------------------


@dataclass
class Endpoint:
    id: str
    direction: str
    status: str
    security_group_ids: list[str]
    ip_addresses: list[dict]  # {ip, subnet_id, availability_zone, status}

    @property
    def ips(self) -> list[str]:
        return [a["ip"] for a in self.ip_addresses]


@dataclass
class HybridDnsResult:
    vpc_id: str
    hosted_zone_id: str
    private_zone: str
    records_ok: bool
    security_group_id: str
    inbound: Endpoint
    outbound: Endpoint
    rule_id: str
    rule_domain: str
    rule_targets: list[str]
    rule_status: str
    association_id: str
    association_status: str
    created: list[str] = field(default_factory=list)  # what this run created (empty on a re-run)
    changed: list[str] = field(default_factory=list)  # what it modified in place, and what it replaced
    # Resolver query logging (None: logs.enabled is false)
    query_log_group: str | None = None
    query_log_config_id: str | None = None
    query_log_config_status: str | None = None
    query_log_association_id: str | None = None
    query_log_association_status: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def describe_endpoint(ctx: AwsContext, endpoint_id: str) -> Endpoint:
    endpoint = ctx.client("route53resolver").get_resolver_endpoint(ResolverEndpointId=endpoint_id)["ResolverEndpoint"]
    ips = endpoint_ips(ctx, endpoint_id)
    azs = (
        {
            s["SubnetId"]: s["AvailabilityZone"]
            for s in ctx.client("ec2").describe_subnets(SubnetIds=sorted({a["SubnetId"] for a in ips}))["Subnets"]
        }
        if ips
        else {}
    )
    return Endpoint(
        id=endpoint_id,
        direction=endpoint["Direction"],
        status=endpoint["Status"],
        security_group_ids=list(endpoint.get("SecurityGroupIds", [])),
        ip_addresses=[
            {
                "ip": a["Ip"],
                "subnet_id": a["SubnetId"],
                "availability_zone": azs.get(a["SubnetId"], "?"),
                "status": a.get("Status", ""),
            }
            for a in sorted(ips, key=lambda a: ipaddress.ip_address(a["Ip"]))
        ],
    )


def plan(ctx: AwsContext) -> list[Step]:
    """What run() would do to the account: the security group, the two endpoints, the
    forwarding rule and its association with the VPC, the query log group, the query
    logging configuration and its association with the VPC."""
    dns_params(ctx)
    vpc_id = find_vpc(ctx)["VpcId"]
    steps = []
    group = find_security_group(ctx, vpc_id)
    if group is None:
        steps.append(
            Step("security group", "(new)", "create", how="CreateSecurityGroup, AuthorizeSecurityGroupIngress")
        )
    else:
        missing, extra = _ingress_drift(ctx, group)
        changes = [Change("ingress", "-", _permission_text(p)) for p in missing] + [
            Change("ingress", _permission_text(p), "-") for p in extra
        ]
        steps.append(
            Step(
                "security group",
                group["GroupId"],
                "modify" if changes else "keep",
                changes,
                "AuthorizeSecurityGroupIngress / RevokeSecurityGroupIngress" if changes else "",
            )
        )
    outbound_id = None
    for direction in ("INBOUND", "OUTBOUND"):
        kind = f"{direction.lower()} endpoint"
        endpoint = find_endpoint(ctx, direction, vpc_id)
        ips, _ = _endpoint_ips_wanted(ctx, direction)
        if endpoint is None:
            steps.append(Step(kind, "(new)", "create", how="CreateResolverEndpoint"))
            continue
        outbound_id = endpoint["Id"] if direction == "OUTBOUND" else outbound_id
        have = sorted((a["Ip"] for a in endpoint_ips(ctx, endpoint["Id"])), key=ipaddress.ip_address)
        want = sorted(ips, key=ipaddress.ip_address)
        changes = [Change("ip_addresses", ", ".join(have), ", ".join(want))] if have != want else []
        steps.append(
            Step(
                kind,
                endpoint["Id"],
                "modify" if changes else "keep",
                changes,
                "AssociateResolverEndpointIpAddress for each new IP, then "
                "DisassociateResolverEndpointIpAddress for each old one (the endpoint keeps answering on "
                "the IPs it keeps; the on-prem forwarders follow in this notebook)"
                if changes
                else "",
            )
        )
    rule = find_forward_rule(ctx)
    if rule is None:
        steps.append(Step("forwarding rule", "(new)", "create", how="CreateResolverRule"))
    elif _rule_domain_changed(ctx, rule):
        steps.append(
            Step(
                "forwarding rule",
                rule["Id"],
                "replace",
                [Change("domain", rule["DomainName"].rstrip("."), ctx.params.onprem.domain)],
                "DisassociateResolverRule, DeleteResolverRule, CreateResolverRule, AssociateResolverRule: "
                "the old domain's names stop resolving from the VPC",
            )
        )
        rule = None
    else:
        config = _rule_update(ctx, rule, outbound_id)
        changes = []
        if "TargetIps" in config:
            changes.append(
                Change("targets", _targets_text(rule.get("TargetIps", [])), _targets_text(config["TargetIps"]))
            )
        if "ResolverEndpointId" in config:
            changes.append(
                Change("outbound endpoint", rule.get("ResolverEndpointId") or "-", config["ResolverEndpointId"])
            )
        steps.append(
            Step(
                "forwarding rule",
                rule["Id"],
                "modify" if changes else "keep",
                changes,
                "UpdateResolverRule (in place; queries follow the new targets)" if changes else "",
            )
        )
    association = find_rule_association(ctx, rule["Id"], vpc_id) if rule is not None else None
    steps.append(
        Step("rule association", association["Id"], "keep")
        if association
        else Step("rule association", "(new)", "create", how=f"AssociateResolverRule with {vpc_id}")
    )
    return steps + query_logging_steps(ctx, vpc_id)


def plan_frame(ctx: AwsContext) -> pd.DataFrame:
    return frame(plan(ctx))


def run(
    ctx: AwsContext, progress: Callable[[str], None] | None = print, zone: ZoneCheck | None = None
) -> HybridDnsResult:
    """The whole phase: check the zone, find or create (or change in place), wait. Safe to re-run."""
    dns_params(ctx)
    refuse_replacements(plan(ctx), ctx.params.allow_replace)  # before anything is touched
    created: list[str] = []
    changed: list[str] = []
    vpc_id = find_vpc(ctx)["VpcId"]
    zone = zone or check_private_zone(ctx, vpc_id)
    group = ensure_security_group(ctx, vpc_id, created, changed)
    inbound = ensure_endpoint(ctx, "INBOUND", vpc_id, group["GroupId"], created, changed)
    outbound = ensure_endpoint(ctx, "OUTBOUND", vpc_id, group["GroupId"], created, changed)
    rule = ensure_forward_rule(ctx, outbound["Id"], created, changed)
    association = ensure_rule_association(ctx, rule["Id"], vpc_id, created)
    logging = ensure_query_logging(ctx, vpc_id, created, changed)
    wait_ready(
        ctx, [inbound["Id"], outbound["Id"]], rule["Id"], association["Id"], progress=progress, query_logging=logging
    )
    resolver = ctx.client("route53resolver")
    rule = resolver.get_resolver_rule(ResolverRuleId=rule["Id"])["ResolverRule"]
    association = resolver.get_resolver_rule_association(ResolverRuleAssociationId=association["Id"])[
        "ResolverRuleAssociation"
    ]
    config_status = association_status = None
    if logging.config_id:
        config_status = resolver.get_resolver_query_log_config(ResolverQueryLogConfigId=logging.config_id)[
            "ResolverQueryLogConfig"
        ]["Status"]
        association_status = resolver.get_resolver_query_log_config_association(
            ResolverQueryLogConfigAssociationId=logging.association_id
        )["ResolverQueryLogConfigAssociation"]["Status"]
    return HybridDnsResult(
        vpc_id=vpc_id,
        hosted_zone_id=zone.hosted_zone_id,
        private_zone=zone.name,
        records_ok=zone.ok,
        security_group_id=group["GroupId"],
        inbound=describe_endpoint(ctx, inbound["Id"]),
        outbound=describe_endpoint(ctx, outbound["Id"]),
        rule_id=rule["Id"],
        rule_domain=rule["DomainName"].rstrip("."),
        rule_targets=[f"{t['Ip']}:{t.get('Port', DNS_PORT)}" for t in rule.get("TargetIps", [])],
        rule_status=rule["Status"],
        association_id=association["Id"],
        association_status=association["Status"],
        created=created,
        changed=changed,
        query_log_group=logging.log_group,
        query_log_config_id=logging.config_id,
        query_log_config_status=config_status,
        query_log_association_id=logging.association_id,
        query_log_association_status=association_status,
    )


def summary_frame(result: HybridDnsResult) -> pd.DataFrame:
    def made(resource_id: str | None) -> str:
        if resource_id in result.created:
            return "created"
        return "changed" if any(c.startswith(f"{resource_id}:") for c in result.changed) else "reused"

    rows: list[tuple[str, str | None, str]] = [
        (
            "private hosted zone",
            f"/hostedzone/{result.hosted_zone_id}",
            f"{result.private_zone}: records {'as expected' if result.records_ok else 'NOT as expected'}",
        ),
        ("security group", result.security_group_id, f"DNS from on-prem only ({made(result.security_group_id)})"),
        ("inbound endpoint", result.inbound.id, f"{result.inbound.status} ({made(result.inbound.id)})"),
        ("outbound endpoint", result.outbound.id, f"{result.outbound.status} ({made(result.outbound.id)})"),
        (
            "forwarding rule",
            result.rule_id,
            f"{result.rule_status}: {result.rule_domain} -> {', '.join(result.rule_targets)} ({made(result.rule_id)})",
        ),
        (
            "rule association",
            result.association_id,
            f"{result.association_status}: with {result.vpc_id} ({made(result.association_id)})",
        ),
    ]
    if result.query_log_config_id:
        group = result.query_log_group or "-"
        rows += [
            (
                "query log config",
                result.query_log_config_id,
                f"{result.query_log_config_status}: to {group} ({made(result.query_log_config_id)})",
            ),
            (
                "query log association",
                result.query_log_association_id,
                f"{result.query_log_association_status}: with {result.vpc_id} "
                f"({made(result.query_log_association_id)})",
            ),
        ]
    return pd.DataFrame(rows, columns=["resource", "id", "state"]).set_index("resource")


def endpoints_frame(result: HybridDnsResult) -> pd.DataFrame:
    rows = [
        {
            "endpoint": e.direction.lower(),
            "ip": a["ip"],
            "availability_zone": a["availability_zone"],
            "subnet_id": a["subnet_id"],
            "ip_status": a["status"],
        }
        for e in (result.inbound, result.outbound)
        for a in e.ip_addresses
    ]
    return pd.DataFrame(rows, columns=["endpoint", "ip", "availability_zone", "subnet_id", "ip_status"])


# --- on-prem BIND -------------------------------------------------------------------------------


def dns_dir(run_dir: Path | str) -> Path:
    return Path(run_dir) / "dns"


def write_onprem_bind(ctx: AwsContext, result: HybridDnsResult, run_dir: Path | str) -> pd.DataFrame:
    """The IDC server's /etc/bind files under <run>/dns/onprem-bind/: conditional
    forwarders for the private zone and <region>.compute.internal to the inbound
    endpoint IPs as AWS reports them. One row per forwarded or served zone."""
    from ..render.dns import compute_internal_zone, render_onprem_bind_from_params

    out = dns_dir(run_dir) / "onprem-bind"
    paths = render_onprem_bind_from_params(ctx.params, out, inbound_ips=result.inbound.ips)
    rows = [
        {"zone": z, "type": "forward only", "to": ", ".join(result.inbound.ips), "file": "named.conf.local"}
        for z in (result.private_zone, compute_internal_zone(ctx.params.region))
    ]
    rows.append(
        {
            "zone": ctx.params.onprem.domain,
            "type": "master",
            "to": "(served here)",
            "file": f"db.{ctx.params.onprem.domain}",
        }
    )
    frame = pd.DataFrame(rows, columns=["zone", "type", "to", "file"])
    frame.attrs["files"] = [str(p) for p in paths]
    return frame


def bind_files_frame(run_dir: Path | str) -> pd.DataFrame:
    base = dns_dir(run_dir)
    rows = [
        {"file": str(p.relative_to(base)), "mode": oct(p.stat().st_mode & 0o777), "bytes": p.stat().st_size}
        for p in sorted((base / "onprem-bind").glob("*"))
        if p.is_file()
    ]
    return pd.DataFrame(rows, columns=["file", "mode", "bytes"])


# --- the on-prem DNS server's files, through SSM ------------------------------------------------


ONPREM_WORKDIR = "/var/lib/hybridnet/dns"
ONPREM_ONLINE_S = {"emulator": 30.0, "aws": 120.0}


def apply_onprem_bind(ctx: AwsContext, inbound_ips: list[str]) -> HostSteps:
    """With onprem_dns.apply: the on-prem BIND files (forwarding to `inbound_ips`,
    as AWS reports them) to hosts.onprem_dns through SSM Run Command, where
    setup-onprem-bind.sh installs them in /etc/bind, runs named-checkconf (the
    previous files come back if it fails) and reloads named. Otherwise say what
    to do with the written files. A host SSM cannot reach, or a failing check,
    is a row saying why, never a traceback."""
    from .. import hosts
    from ..render.apply import apply_commands
    from ..render.dns import ONPREM_SETUP_SCRIPT, onprem_bind_files_from_params

    p = ctx.params
    columns = ["step", "ok", "detail"]
    if not p.onprem_dns.apply:
        table = pd.DataFrame(
            [
                {
                    "step": "send the files",
                    "ok": False,
                    "detail": "onprem_dns.apply is false (a production DNS server is changed only on purpose): "
                    f"copy dns/onprem-bind/ to the server and run {ONPREM_SETUP_SCRIPT} there as root, "
                    "or set onprem_dns.apply: true",
                }
            ],
            columns=columns,
        )
        return HostSteps(False, "onprem_dns.apply: false", table)
    plane = hosts.plane(ctx)
    rows: list[dict[str, Any]] = []
    why = plane.wait_online("onprem_dns", ONPREM_ONLINE_S[p.target])
    host = p.hosts.onprem_dns  # configured when wait_online finds it online (why is None)
    rows.append(
        {
            "step": "DNS server online in SSM",
            "ok": why is None,
            "detail": why or f"hosts.onprem_dns {host.instance if host else '-'}: online",
        }
    )
    if why is None:
        files = onprem_bind_files_from_params(p, inbound_ips=list(inbound_ips))
        done = plane.run(
            "onprem_dns",
            apply_commands(
                files, ONPREM_SETUP_SCRIPT, {}, p.region, workdir=ONPREM_WORKDIR, tag="hybridnet onprem_dns.apply"
            ),
            timeout=120,
        )
        rows.append(
            {"step": f"{ONPREM_SETUP_SCRIPT}: install, named-checkconf, reload", "ok": done.ok, "detail": done.outcome}
        )
    ok = all(r["ok"] for r in rows)
    return HostSteps(
        ok,
        "applied through SSM" if ok else next(r["detail"] for r in rows if not r["ok"]),
        pd.DataFrame(rows, columns=columns),
    )


# --- are the DNS servers answering? ------------------------------------------------------------


# Seconds to wait for both servers: offline the lab's agent starts them a moment
# after the endpoints are OPERATIONAL; on AWS the Resolver answers once it is, and
# the on-prem server answers once its files are in place (a failure is reported, not awaited).
ANSWERING_S = {"emulator": 30.0, "aws": 5.0}


def servers_answering(ctx: AwsContext) -> HostSteps:
    """One name each side's own server must answer: the on-prem DNS server, asked
    from hosts.onprem_client, for an on-prem host; the VPC resolver (Route 53
    Resolver), asked from hosts.vpc_client, for a private-zone record. Asked
    until both answer, or ANSWERING_S passes."""
    import time

    from ..diagnostics.dns import Probe
    from ..diagnostics.hostdns import HostProbe

    p = ctx.params
    dns = dns_params(ctx)
    vpc_resolver = str(ipaddress.ip_network(p.vpc.cidr).network_address + 2)
    onprem_host, onprem_ip = next(iter(p.onprem.hosts.items()))
    private_host, private_ip = next(iter(dns.records.items()))
    questions = {
        "onprem_client": [
            HostProbe(
                Probe(
                    "on-prem DNS server", p.onprem.dns_server, f"{onprem_host}.{p.onprem.domain}", expected=(onprem_ip,)
                )
            )
        ],
        "vpc_client": [
            HostProbe(
                Probe("Route 53 Resolver", vpc_resolver, f"{private_host}.{dns.private_zone}", expected=(private_ip,))
            )
        ],
    }
    started = time.monotonic()
    last: list[pd.DataFrame] = []

    def answering() -> bool:
        last[:] = [probe_matrix(ctx, questions=questions)]
        unreachable = (last[0]["rcode"] == "UNREACHABLE").any()  # SSM says why; waiting will not help
        return bool(last[0]["ok"].all() or unreachable)

    poll(answering, timeout=ANSWERING_S[p.target], interval=0.5)
    matrix = last[0]
    table = pd.DataFrame(
        {
            "server": matrix["side"],
            "address": matrix["server"],
            "asked from": ["hosts.onprem_client", "hosts.vpc_client"],
            "name": matrix["name"],
            "answers": matrix["ok"],
            "detail": [
                f"{a or '-'} ({r})" if ok else d
                for a, r, ok, d in zip(matrix["answer"], matrix["rcode"], matrix["ok"], matrix["detail"])
            ],
        }
    )
    ok = bool(matrix["ok"].all())
    failing = "; ".join(f"{r['server']}: {r['detail']}" for r in table.to_dict("records") if not r["answers"])
    return HostSteps(
        ok,
        "both DNS servers answer" if ok else failing,
        table,
        timings={"answering_s": round(time.monotonic() - started, 1)},
    )


# --- the resolution matrix ----------------------------------------------------------------------

ONPREM_SIDE = "on-prem client"
VPC_SIDE = "VPC host"


def probes(ctx: AwsContext) -> dict[str, list]:
    """Each name from each side, by host role, asked through that host's own
    resolver as the seed's nslookup is: an on-prem server (hosts.onprem_client,
    whose resolver is the IDC's DNS server) and a VPC instance (hosts.vpc_client,
    whose resolver is the VPC's, CIDR base + 2). The server in each probe is the
    resolver the side should use."""
    from ..diagnostics.dns import Probe
    from ..diagnostics.hostdns import HostProbe

    p = ctx.params
    dns = dns_params(ctx)
    vpc_resolver = str(ipaddress.ip_network(p.vpc.cidr).network_address + 2)
    questions: list[tuple[str, tuple[str, ...] | str]] = [
        (f"{host}.{dns.private_zone}", (ip,)) for host, ip in dns.records.items()
    ]
    questions += [(f"{host}.{p.onprem.domain}", (ip,)) for host, ip in p.onprem.hosts.items()]
    questions.append((f"{NONEXISTENT_HOST}.{dns.private_zone}", "NXDOMAIN"))
    return {
        role: [HostProbe(Probe(side, server, name, expected=expected)) for name, expected in questions]
        for role, side, server in (
            ("onprem_client", ONPREM_SIDE, p.onprem.dns_server),
            ("vpc_client", VPC_SIDE, vpc_resolver),
        )
    }


def probe_matrix(ctx: AwsContext, timeout: float = 2.0, questions: dict[str, list] | None = None) -> pd.DataFrame:
    """Ask the matrix on the hosts (through the data-plane seam: SSM Run Command,
    on AWS and in the lab alike). A host that cannot be reached gives rows that
    say why (UNREACHABLE, with SSM's status and what to do)."""
    from .. import hosts
    from ..diagnostics import hostdns

    return hostdns.matrix(hosts.plane(ctx), questions if questions is not None else probes(ctx), timeout=timeout)


def matrix_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The matrix for display: latency as text with its unit, fixed width."""
    shown = df.copy()
    shown["latency"] = [f"{v:7.1f} ms" if v == v else "-" for v in shown["latency_ms"]]
    return shown[["side", "name", "server", "expected", "answer", "rcode", "ok", "latency", "detail"]]


def matrix_chart(df: pd.DataFrame, run_dir: Path | str):
    """The matrix as a chart (names x sides), also saved as <run>/dns/dns-matrix.png."""
    from ..diagnostics.charts_dns import dns_matrix_chart

    fig = dns_matrix_chart(df, title="Hybrid DNS: who resolves what")
    path = dns_dir(run_dir) / "dns-matrix.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return fig


def result(
    res: HybridDnsResult,
    deployment: HostSteps,
    matrix: pd.DataFrame,
    run_dir: Path | str,
    hosts: pd.DataFrame | None = None,
    onprem: HostSteps | None = None,
) -> dict:
    """What the notebook records (ids, IPs, states, the matrix without latencies)."""
    return {
        **res.to_dict(),
        "dns_dir": str(dns_dir(run_dir)),
        "onprem_applied": bool(onprem and onprem.ok),
        "onprem_apply_reason": onprem.reason if onprem else "not asked",
        "servers_answering": deployment.ok,
        "servers_reason": deployment.reason,
        "timings": deployment.timings,
        "matrix": matrix[["side", "server", "name", "answer", "rcode", "expected", "ok", "detail"]].to_dict(
            orient="records"
        ),
        "matrix_ok": int(matrix["ok"].sum()),
        # the hosts that asked (SSM managed instances), for the run's summary
        "hosts": []
        if hosts is None
        else hosts[hosts["role"].isin(["onprem_client", "vpc_client"])][
            ["role", "host", "instance_id", "ssm_status"]
        ].to_dict(orient="records"),
        "matrix_total": int(len(matrix)),
    }
