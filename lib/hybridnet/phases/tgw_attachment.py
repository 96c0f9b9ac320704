"""Phase 1: a Site-to-Site VPN attachment on the existing transit gateway.

Creates (or finds again, by tags) the customer gateway and the VPN
connection attached to the TGW, waits until both are available, and checks
that the attachment is associated with, and propagates to, the TGW's
default route tables. Re-running creates nothing new.

With `logs.enabled` (the default) both tunnels send AWS's Site-to-Site VPN logs,
tunnel activity and BGP (BGP only when the connection uses BGP), as json to the
stack's CloudWatch Logs group /hybridnet/<stack>/vpn, created (or found again)
with the params' retention and tagged with the stack; a connection made without
them gets them in place (ModifyVpnTunnelOptions, tunnel by tunnel).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd

from ..aws import STACK_TAG, AwsContext, paginate
from ..plan import Change, Step, frame, refuse_replacements, secret_change
from ..waiting import extra_waiter, wait
from . import PhaseError, loggroups
from .teardown import delete_vpn_connection

PHASE = "1"
NOTEBOOK = "01_tgw_attachment"
LIVE_STATES = ("pending", "available")


@dataclass
class Tunnel:
    number: int
    outside_ip: str
    inside_cidr: str
    aws_inside_ip: str
    cgw_inside_ip: str
    pre_shared_key: str  # masked: the key itself never leaves boto3's response
    status: str
    status_message: str
    accepted_routes: int


def mask_secret(secret: str | None) -> str:
    return f"******** ({len(secret)} chars)" if secret else "-"


@dataclass
class AttachmentResult:
    transit_gateway_id: str
    amazon_side_asn: int
    customer_gateway_id: str
    customer_gateway_ip: str  # as AWS holds them: the values the engineer entered
    customer_gateway_asn: int
    vpn_connection_id: str
    vpn_state: str
    attachment_id: str
    attachment_state: str
    association_route_table_id: str | None
    association_state: str | None
    propagation_state: str | None
    tunnels: list[Tunnel] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # what this run created (empty on a re-run)
    log_group: str | None = None  # the CloudWatch Logs group of the tunnels' logs (None: logs off)
    changed: list[str] = field(default_factory=list)  # what it modified in place, and what it removed

    def to_dict(self) -> dict:
        return asdict(self)


def find_transit_gateway(ctx: AwsContext) -> dict:
    """The available TGW whose Amazon-side ASN is the params'."""
    want = ctx.params.transit_gateway.amazon_side_asn
    tgws = [
        t
        for t in paginate(
            ctx.client("ec2"),
            "describe_transit_gateways",
            "TransitGateways",
            Filters=[{"Name": "state", "Values": ["available"]}],
        )
        if t["Options"]["AmazonSideAsn"] == want
    ]
    if not tgws:
        raise PhaseError(
            f"no available transit gateway with Amazon-side ASN {want} in {ctx.params.region}; "
            "create one first, or fix transit_gateway.amazon_side_asn in the params"
        )
    if len(tgws) > 1:
        ids = ", ".join(t["TransitGatewayId"] for t in tgws)
        raise PhaseError(f"several transit gateways have ASN {want} ({ids}); keep one per ASN in this region")
    return tgws[0]


def ensure_customer_gateway(ctx: AwsContext, created: list[str]) -> dict:
    ec2 = ctx.client("ec2")
    cgw = ctx.params.customer_gateway
    found = [
        g
        for g in ec2.describe_customer_gateways(
            Filters=ctx.stack_filters()
            + [
                {"Name": "ip-address", "Values": [cgw.public_ip]},
                {"Name": "bgp-asn", "Values": [str(cgw.bgp_asn)]},
                {"Name": "state", "Values": ["pending", "available"]},
            ]
        )["CustomerGateways"]
    ]
    if found:
        return found[0]
    gateway = ec2.create_customer_gateway(
        Type="ipsec.1",
        BgpAsn=cgw.bgp_asn,
        IpAddress=cgw.public_ip,
        DeviceName=cgw.device_name,
        TagSpecifications=ctx.tag_spec("customer-gateway", PHASE, "cgw"),
    )["CustomerGateway"]
    created.append(gateway["CustomerGatewayId"])
    return gateway


LOG_OUTPUT_FORMAT = "json"  # what the health check reads best; AWS's default too


def log_group_name(ctx: AwsContext) -> str:
    return loggroups.group_name(ctx, "vpn")


def expected_log_group_arn(ctx: AwsContext) -> str | None:
    """The ARN the tunnels' LogOptions must name (None: the params turn logs off): the
    stack's group's, or, before it exists, the one it will have in this account."""
    if not ctx.params.logs.enabled:
        return None
    name = log_group_name(ctx)
    group = loggroups.find(ctx, name)
    if group:
        return loggroups.group_arn(group)
    identity = ctx.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    return f"arn:{partition}:logs:{ctx.params.region}:{identity['Account']}:log-group:{name}"


def ensure_log_group(ctx: AwsContext, changed: list[str] | None = None) -> str | None:
    """The stack's log group for the tunnels' logs (phases.loggroups: created once, with
    the params' retention and the stack's tags, so teardown finds it); its ARN. None when
    the params turn logs off. (Not in `created` nor in the plan: the connection's rows
    say what phase 1 does; AttachmentResult.log_group names it.)"""
    if not ctx.params.logs.enabled:
        return None
    return loggroups.group_arn(loggroups.ensure(ctx, "vpn", PHASE, [], changed))


# A tunnel's LogOptions with both logs off: what logs.enabled false asks of every tunnel.
LOGS_OFF = {"CloudWatchLogOptions": {"LogEnabled": False, "BgpLogEnabled": False}}


def log_options(ctx: AwsContext, log_group_arn: str) -> dict:
    """A tunnel's LogOptions: tunnel activity logs, and BGP logs when the connection
    uses BGP, as json into the stack's group."""
    options = {"LogEnabled": True, "LogGroupArn": log_group_arn, "LogOutputFormat": LOG_OUTPUT_FORMAT}
    if not ctx.params.vpn.static_routes_only:
        options.update(BgpLogEnabled=True, BgpLogGroupArn=log_group_arn, BgpLogOutputFormat=LOG_OUTPUT_FORMAT)
    return {"CloudWatchLogOptions": options}


def _log_state(options: dict | None) -> tuple:
    """LogOptions reduced to what matters: per log (tunnel, BGP) on/off, group, format."""
    cloudwatch = (options or {}).get("CloudWatchLogOptions") or {}
    state = []
    for prefix in ("", "Bgp"):
        if str(cloudwatch.get(f"{prefix}LogEnabled", False)).lower() == "true":
            state.append(
                (
                    True,
                    str(cloudwatch.get(f"{prefix}LogGroupArn") or "").removesuffix(":*"),
                    cloudwatch.get(f"{prefix}LogOutputFormat") or "json",
                )
            )
        else:
            state.append((False, "", ""))
    return tuple(state)


def _log_summary(options: dict | None) -> str:
    parts = []
    for label, (enabled, arn, output) in zip(("tunnel log", "BGP log"), _log_state(options)):
        parts.append(f"{label} {output} to {arn.split(':log-group:', 1)[-1]}" if enabled else f"{label} off")
    return ", ".join(parts)


def tunnel_options(ctx: AwsContext, log_group_arn: str | None = None) -> list[dict]:
    """CreateVpnConnection's TunnelOptions from the params (LogOptions: off when the
    params turn logs off; on when they turn them on and the stack's log group ARN is given)."""
    crypto = ctx.params.vpn.crypto
    shared: dict = {}
    for key, api, wrap in (
        ("ike_versions", "IKEVersions", True),
        ("phase1_encryption", "Phase1EncryptionAlgorithms", True),
        ("phase1_integrity", "Phase1IntegrityAlgorithms", True),
        ("phase1_dh_groups", "Phase1DHGroupNumbers", True),
        ("phase2_encryption", "Phase2EncryptionAlgorithms", True),
        ("phase2_integrity", "Phase2IntegrityAlgorithms", True),
        ("phase2_dh_groups", "Phase2DHGroupNumbers", True),
        ("phase1_lifetime_seconds", "Phase1LifetimeSeconds", False),
        ("phase2_lifetime_seconds", "Phase2LifetimeSeconds", False),
        ("dpd_timeout_seconds", "DPDTimeoutSeconds", False),
    ):
        value = getattr(crypto, key)
        if value is not None:
            shared[api] = [{"Value": v} for v in value] if wrap else value
    options = []
    for tunnel in ctx.params.vpn.tunnels:
        option = dict(shared)
        if tunnel.inside_cidr:
            option["TunnelInsideCidr"] = tunnel.inside_cidr
        if tunnel.pre_shared_key:
            option["PreSharedKey"] = tunnel.pre_shared_key.get_secret_value()
        if not ctx.params.logs.enabled:  # said, not left out: a connection that logs is turned off
            option["LogOptions"] = LOGS_OFF
        elif log_group_arn:
            option["LogOptions"] = log_options(ctx, log_group_arn)
        options.append(option)
    return options


# TunnelOptions as CreateVpnConnection takes them -> as DescribeVpnConnections shows them.
DESCRIBED_AS = {"IKEVersions": "IkeVersions", "DPDTimeoutSeconds": "DpdTimeoutSeconds"}


def _option_value(value) -> str:
    if isinstance(value, list):  # [{"Value": ...}, ...]: a set of choices
        return ", ".join(sorted(str(v["Value"]) if isinstance(v, dict) else str(v) for v in value))
    return str(value)


def ordered_tunnel_options(ctx: AwsContext, vpn: dict) -> list[dict]:
    """The connection's TunnelOptions in the params' order: the one with the params'
    first inside CIDR first, else by outside IP (how tunnels are numbered)."""
    first = ctx.params.vpn.tunnels[0].inside_cidr

    def order(option: dict) -> tuple:
        return (option.get("TunnelInsideCidr") != first, ipaddress.ip_address(option["OutsideIpAddress"]))

    return sorted(vpn.get("Options", {}).get("TunnelOptions", []), key=order)


def _tunnel_diff(
    ctx: AwsContext, vpn: dict, log_group_arn: str | None = None
) -> list[tuple[int, str, list[Change], dict]]:
    """Per tunnel the params ask to differ: (number, outside IP, the changes, the
    ModifyVpnTunnelOptions request that makes them)."""
    out = []
    for number, (want, have) in enumerate(
        zip(tunnel_options(ctx, log_group_arn), ordered_tunnel_options(ctx, vpn)), start=1
    ):
        changes, request = [], {}
        for key, value in want.items():
            current = have.get(DESCRIBED_AS.get(key, key))
            if key == "LogOptions":
                if _log_state(value) != _log_state(current):
                    changes.append(Change(key, _log_summary(current), _log_summary(value)))
                    request[key] = value
            elif key == "PreSharedKey":
                if value != current:
                    changes.append(secret_change("pre-shared key"))
                    request[key] = value
            elif current is None or _option_value(value) != _option_value(current):
                have_value = _option_value(current) if current is not None else "-"
                changes.append(Change(key, have_value, _option_value(value)))
                request[key] = value
        if changes:
            out.append((number, have["OutsideIpAddress"], changes, request))
    return out


def _stack_customer_gateways(ctx: AwsContext) -> list[dict]:
    return ctx.client("ec2").describe_customer_gateways(
        Filters=ctx.stack_filters() + [{"Name": "state", "Values": ["pending", "available"]}]
    )["CustomerGateways"]


def _stack_vpn_connections(ctx: AwsContext) -> list[dict]:
    """The stack's VPN connections that are pending or available."""
    return [
        v
        for v in ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters(PHASE))["VpnConnections"]
        if v["State"] in LIVE_STATES
    ]


def plan(ctx: AwsContext) -> list[Step]:
    """What run() would do to the account: the customer gateway, then the VPN connection."""
    want = ctx.params.customer_gateway
    tgw = find_transit_gateway(ctx)
    gateways = _stack_customer_gateways(ctx)
    same = next((g for g in gateways if g["IpAddress"] == want.public_ip and int(g["BgpAsn"]) == want.bgp_asn), None)
    steps = []
    if same:
        steps.append(Step("customer gateway", same["CustomerGatewayId"], "keep"))
    elif gateways:
        old = gateways[0]
        changes = [
            Change(name, str(have), str(wanted))
            for name, have, wanted in (
                ("ip_address", old["IpAddress"], want.public_ip),
                ("bgp_asn", old["BgpAsn"], want.bgp_asn),
            )
            if str(have) != str(wanted)
        ]
        steps.append(
            Step(
                "customer gateway",
                old["CustomerGatewayId"],
                "replace",
                changes,
                "a gateway's address and ASN cannot change: CreateCustomerGateway, move the VPN "
                "connection to it (ModifyVpnConnection), DeleteCustomerGateway",
                interrupts=False,
            )
        )
    else:
        steps.append(Step("customer gateway", "(new)", "create", how="CreateCustomerGateway"))
    vpns = _stack_vpn_connections(ctx)
    if not vpns:
        steps.append(
            Step(
                "VPN connection",
                "(new)",
                "create",
                how=f"CreateVpnConnection on the transit gateway {tgw['TransitGatewayId']}",
            )
        )
        return steps
    vpn = vpns[0]
    replace = [
        Change(name, str(have), str(wanted))
        for name, have, wanted in (
            ("transit_gateway", vpn.get("TransitGatewayId"), tgw["TransitGatewayId"]),
            (
                "static_routes_only",
                vpn.get("Options", {}).get("StaticRoutesOnly", False),
                ctx.params.vpn.static_routes_only,
            ),
        )
        if have != wanted
    ]
    if replace:
        steps.append(
            Step(
                "VPN connection",
                vpn["VpnConnectionId"],
                "replace",
                replace,
                "DeleteVpnConnection, CreateVpnConnection: new tunnel addresses and keys, the router "
                "needs its new setup (notebook 02), traffic stops meanwhile",
            )
        )
        return steps
    modify = []
    if not same or same["CustomerGatewayId"] != vpn["CustomerGatewayId"]:
        modify.append(
            Change(
                "customer_gateway",
                vpn["CustomerGatewayId"],
                same["CustomerGatewayId"] if same else "the new customer gateway",
            )
        )
    how = ["ModifyVpnConnection (both tunnels re-establish)"] if modify else []
    for number, _, changes, _ in _tunnel_diff(ctx, vpn, expected_log_group_arn(ctx)):
        modify += [Change(f"tunnel {number} {c.field}", c.have, c.want) for c in changes]
        how.append(f"ModifyVpnTunnelOptions on tunnel {number} (it re-establishes)")
    steps.append(Step("VPN connection", vpn["VpnConnectionId"], "modify" if modify else "keep", modify, "; ".join(how)))
    return steps


def plan_frame(ctx: AwsContext) -> pd.DataFrame:
    return frame(plan(ctx))


def ensure_vpn_connection(
    ctx: AwsContext,
    tgw: dict,
    cgw: dict,
    created: list[str],
    changed: list[str],
    progress: Callable[[str], None] | None = print,
    log_group_arn: str | None = None,
) -> dict:
    """The stack's VPN connection on the transit gateway, created once; changed in place
    where the params differ and AWS allows it (its customer gateway, its tunnels' options,
    their logs into `log_group_arn`)."""
    ec2 = ctx.client("ec2")
    found = _stack_vpn_connections(ctx)
    replaced = [
        v
        for v in found
        if v.get("TransitGatewayId") != tgw["TransitGatewayId"]
        or v.get("Options", {}).get("StaticRoutesOnly", False) != ctx.params.vpn.static_routes_only
    ]
    for vpn in replaced:  # only with allow_replace (run() refused otherwise): its tunnels' addresses go with it
        wait_available(ctx, vpn["VpnConnectionId"], progress=progress)
        delete_vpn_connection(ctx, vpn["VpnConnectionId"])
        changed.append(f"{vpn['VpnConnectionId']}: deleted, to be replaced (allow_replace)")
    found = [v for v in found if v not in replaced]
    if not found:
        vpn = ec2.create_vpn_connection(
            Type="ipsec.1",
            CustomerGatewayId=cgw["CustomerGatewayId"],
            TransitGatewayId=tgw["TransitGatewayId"],
            Options={
                "StaticRoutesOnly": ctx.params.vpn.static_routes_only,
                "TunnelOptions": tunnel_options(ctx, log_group_arn),
            },
            TagSpecifications=ctx.tag_spec("vpn-connection", PHASE, "vpn"),
        )["VpnConnection"]
        created.append(vpn["VpnConnectionId"])
        _delete_unused_gateways(ctx, cgw, changed)
        return vpn
    vpn = found[0]
    vpn_id, old_gateway = vpn["VpnConnectionId"], vpn["CustomerGatewayId"]
    if old_gateway != cgw["CustomerGatewayId"]:
        wait_available(ctx, vpn_id, progress=progress)  # one modification at a time, as AWS requires
        ec2.modify_vpn_connection(VpnConnectionId=vpn_id, CustomerGatewayId=cgw["CustomerGatewayId"])
        changed.append(f"{vpn_id}: customer gateway {old_gateway} -> {cgw['CustomerGatewayId']} (ModifyVpnConnection)")
        _delete_unused_gateways(ctx, cgw, changed)
    for number, outside_ip, changes, request in _tunnel_diff(ctx, describe_vpn(ctx, vpn_id), log_group_arn):
        wait_available(ctx, vpn_id, progress=progress)
        ec2.modify_vpn_tunnel_options(
            VpnConnectionId=vpn_id, VpnTunnelOutsideIpAddress=outside_ip, TunnelOptions=request
        )
        changed.append(
            f"{vpn_id}: tunnel {number} ({outside_ip}) {', '.join(c.field for c in changes)} (ModifyVpnTunnelOptions)"
        )
    return describe_vpn(ctx, vpn_id)


def _delete_unused_gateways(ctx: AwsContext, keep: dict, changed: list[str]) -> None:
    """The stack's other customer gateways that no live VPN connection uses any more."""
    used = {v["CustomerGatewayId"] for v in _stack_vpn_connections(ctx)}
    for gateway in _stack_customer_gateways(ctx):
        gateway_id = gateway["CustomerGatewayId"]
        if gateway_id != keep["CustomerGatewayId"] and gateway_id not in used:
            ctx.client("ec2").delete_customer_gateway(CustomerGatewayId=gateway_id)
            changed.append(f"{gateway_id}: deleted (no VPN connection uses it any more)")


def wait_available(
    ctx: AwsContext, vpn_id: str, progress: Callable[[str], None] | None = print, timeout: float = 900
) -> dict:
    """Wait for the VPN connection and its TGW attachment (AWS: several minutes)."""
    ec2 = ctx.client("ec2")
    wait(
        ec2.get_waiter("vpn_connection_available"),
        label=f"VPN connection {vpn_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        VpnConnectionIds=[vpn_id],
    )
    attachment_filter = [{"Name": "resource-id", "Values": [vpn_id]}, {"Name": "resource-type", "Values": ["vpn"]}]
    wait(
        extra_waiter("TransitGatewayAttachmentAvailable", ec2),
        label=f"TGW attachment of {vpn_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        Filters=attachment_filter,
    )
    return ec2.describe_transit_gateway_attachments(Filters=attachment_filter)["TransitGatewayAttachments"][0]


def route_table_state(ctx: AwsContext, tgw: dict, attachment_id: str) -> dict:
    """Association and propagation of the attachment in the TGW's default tables."""
    ec2 = ctx.client("ec2")
    options = tgw["Options"]
    by_attachment = [{"Name": "transit-gateway-attachment-id", "Values": [attachment_id]}]
    assoc_table = options.get("AssociationDefaultRouteTableId")
    prop_table = options.get("PropagationDefaultRouteTableId")
    association = propagation = None
    if assoc_table:
        rows = ec2.get_transit_gateway_route_table_associations(
            TransitGatewayRouteTableId=assoc_table, Filters=by_attachment
        )["Associations"]
        association = rows[0]["State"] if rows else None
    if prop_table:
        rows = [
            r
            for r in ec2.get_transit_gateway_route_table_propagations(TransitGatewayRouteTableId=prop_table)[
                "TransitGatewayRouteTablePropagations"
            ]
            if r["TransitGatewayAttachmentId"] == attachment_id
        ]
        propagation = rows[0]["State"] if rows else None
    return {
        "association_route_table_id": assoc_table,
        "association_state": association,
        "propagation_state": propagation,
    }


def number_tunnels(ctx: AwsContext, vpn: dict) -> list[Tunnel]:
    """Tunnel 1 is the one with the params' first inside CIDR, else the lower outside IP."""
    telemetry = {t["OutsideIpAddress"]: t for t in vpn.get("VgwTelemetry", [])}
    tunnels = []
    for number, option in enumerate(ordered_tunnel_options(ctx, vpn), start=1):
        hosts = list(ipaddress.ip_network(option["TunnelInsideCidr"]).hosts())
        tele = telemetry.get(option["OutsideIpAddress"], {})
        tunnels.append(
            Tunnel(
                number=number,
                outside_ip=option["OutsideIpAddress"],
                inside_cidr=option["TunnelInsideCidr"],
                aws_inside_ip=str(hosts[0]),
                cgw_inside_ip=str(hosts[1]),
                pre_shared_key=mask_secret(option.get("PreSharedKey")),
                status=tele.get("Status", "UNKNOWN"),
                status_message=tele.get("StatusMessage", ""),
                accepted_routes=int(tele.get("AcceptedRouteCount", 0)),
            )
        )
    return tunnels


def find_vpn_connection(ctx: AwsContext) -> dict:
    """The VPN connection phase 1 made (for the later phases); says what to run if none."""
    found = _stack_vpn_connections(ctx)
    if not found:
        raise PhaseError(
            f"no VPN connection tagged hybridnet:stack={ctx.params.name}; run notebook 01_tgw_attachment first"
        )
    return found[0]


def describe_vpn(ctx: AwsContext, vpn_id: str) -> dict:
    return ctx.client("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]


def run(ctx: AwsContext, progress: Callable[[str], None] | None = print) -> AttachmentResult:
    """The whole phase: find or create, wait, verify. Safe to re-run."""
    created: list[str] = []
    changed: list[str] = []
    refuse_replacements(plan(ctx), ctx.params.allow_replace)  # before anything is touched
    tgw = find_transit_gateway(ctx)
    cgw = ensure_customer_gateway(ctx, created)
    log_group_arn = ensure_log_group(ctx, changed)
    vpn = ensure_vpn_connection(ctx, tgw, cgw, created, changed, progress, log_group_arn)
    attachment = wait_available(ctx, vpn["VpnConnectionId"], progress=progress)
    if not any(t["Key"] == STACK_TAG for t in attachment.get("Tags", [])):
        ctx.client("ec2").create_tags(
            Resources=[attachment["TransitGatewayAttachmentId"]], Tags=ctx.tags(PHASE, "vpn-attachment")
        )
    vpn = describe_vpn(ctx, vpn["VpnConnectionId"])
    return AttachmentResult(
        transit_gateway_id=tgw["TransitGatewayId"],
        amazon_side_asn=tgw["Options"]["AmazonSideAsn"],
        customer_gateway_id=cgw["CustomerGatewayId"],
        customer_gateway_ip=cgw["IpAddress"],
        customer_gateway_asn=int(cgw["BgpAsn"]),
        vpn_connection_id=vpn["VpnConnectionId"],
        vpn_state=vpn["State"],
        attachment_id=attachment["TransitGatewayAttachmentId"],
        attachment_state=attachment["State"],
        tunnels=number_tunnels(ctx, vpn),
        created=created,
        changed=changed,
        log_group=log_group_name(ctx) if log_group_arn else None,
        **route_table_state(ctx, tgw, attachment["TransitGatewayAttachmentId"]),
    )


def tunnels_frame(result: AttachmentResult) -> pd.DataFrame:
    """One row per tunnel, as an engineer reads the console's Tunnel details."""
    frame = pd.DataFrame([asdict(t) for t in result.tunnels]).set_index("number")
    return frame


def summary_frame(result: AttachmentResult) -> pd.DataFrame:
    rows = [
        ("transit gateway", result.transit_gateway_id, f"ASN {result.amazon_side_asn}"),
        (
            "customer gateway",
            result.customer_gateway_id,
            f"IP {result.customer_gateway_ip}, BGP ASN {result.customer_gateway_asn}; "
            + ("created" if result.customer_gateway_id in result.created else "reused"),
        ),
        ("VPN connection", result.vpn_connection_id, result.vpn_state),
        ("TGW attachment", result.attachment_id, result.attachment_state),
        (
            "default route table",
            result.association_route_table_id or "-",
            f"association {result.association_state}, propagation {result.propagation_state}",
        ),
    ]
    return pd.DataFrame(rows, columns=["resource", "id", "state"]).set_index("resource")
