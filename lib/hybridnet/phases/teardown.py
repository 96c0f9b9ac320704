"""Teardown: remove everything the suite created for a stack, in dependency order.

Everything is found by its `hybridnet:stack` tag (never by name), so what the
suite did not create -- the seed environment, other stacks -- is never
touched. Each kind of resource is one entry in KINDS: how to find the
stack's resources, how to delete one, and (where AWS needs time) how to wait.
After deleting, every kind is searched again and anything still there is
reported, so "nothing left" is a checked result, not a hope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from botocore.exceptions import ClientError

from ..aws import STACK_TAG, AwsContext, paginate
from ..waiting import poll
from . import loggroups

NOTEBOOK = "99_teardown"
GONE_STATES = {"deleted", "deleting", "disassociated", "terminated"}


def _tagged(tags: list[dict] | dict | None, stack: str) -> bool:
    if isinstance(tags, dict):  # Lambda and Resolver-style {key: value} / [{Key, Value}]
        return tags.get(STACK_TAG) == stack
    return any(t.get("Key") == STACK_TAG and t.get("Value") == stack for t in tags or [])


# --- finders: (id, label) of the stack's live resources -------------------------------------


def _client_vpn_endpoints(ctx: AwsContext) -> list[tuple[str, str]]:
    ec2 = ctx.client("ec2")
    found = paginate(ec2, "describe_client_vpn_endpoints", "ClientVpnEndpoints", Filters=ctx.stack_filters())
    return [
        (e["ClientVpnEndpointId"], e.get("Description", "")) for e in found if e["Status"]["Code"] not in GONE_STATES
    ]


def _lambda_functions(ctx: AwsContext) -> list[tuple[str, str]]:
    client = ctx.client("lambda")
    found = []
    for fn in paginate(client, "list_functions", "Functions"):
        tags = client.list_tags(Resource=fn["FunctionArn"]).get("Tags", {})
        if _tagged(tags, ctx.params.name):
            found.append((fn["FunctionName"], fn["FunctionArn"]))
    return found


def _iam_roles(ctx: AwsContext) -> list[tuple[str, str]]:
    iam = ctx.client("iam")
    found = []
    for role in paginate(iam, "list_roles", "Roles"):
        tags = paginate(iam, "list_role_tags", "Tags", RoleName=role["RoleName"])
        if _tagged(tags, ctx.params.name):
            found.append((role["RoleName"], role["Arn"]))
    return found


def _acm_certificates(ctx: AwsContext) -> list[tuple[str, str]]:
    acm = ctx.client("acm")
    found = []
    for cert in paginate(acm, "list_certificates", "CertificateSummaryList"):
        tags = acm.list_tags_for_certificate(CertificateArn=cert["CertificateArn"]).get("Tags", [])
        if _tagged(tags, ctx.params.name):
            found.append((cert["CertificateArn"], cert.get("DomainName", "")))
    return found


def _resolver_tagged(ctx: AwsContext, operation: str, key: str, gone: set[str]) -> list[tuple[str, str]]:
    resolver = ctx.client("route53resolver")
    found = []
    for item in paginate(resolver, operation, key):
        if item.get("Status") in gone:
            continue
        tags = paginate(resolver, "list_tags_for_resource", "Tags", ResourceArn=item["Arn"])
        if _tagged(tags, ctx.params.name):
            found.append((item["Id"], item.get("Name") or item.get("DomainName") or ""))
    return found


def _resolver_rule_associations(ctx: AwsContext) -> list[tuple[str, str]]:
    rules = {rule_id for rule_id, _ in _resolver_rules(ctx)}
    resolver = ctx.client("route53resolver")
    return [
        (a["Id"], a["ResolverRuleId"])
        for a in paginate(resolver, "list_resolver_rule_associations", "ResolverRuleAssociations")
        if a["ResolverRuleId"] in rules and a.get("Status") not in ("DELETING",)
    ]


def _resolver_rules(ctx: AwsContext) -> list[tuple[str, str]]:
    return _resolver_tagged(ctx, "list_resolver_rules", "ResolverRules", {"DELETING"})


def _resolver_endpoints(ctx: AwsContext) -> list[tuple[str, str]]:
    return _resolver_tagged(ctx, "list_resolver_endpoints", "ResolverEndpoints", {"DELETING"})


def _query_log_configs(ctx: AwsContext) -> list[tuple[str, str]]:
    return _resolver_tagged(ctx, "list_resolver_query_log_configs", "ResolverQueryLogConfigs", {"DELETING"})


def _query_log_associations(ctx: AwsContext) -> list[tuple[str, str]]:
    """The VPC associations of the stack's query logging configurations (untagged: found by configuration)."""
    configs = {config_id for config_id, _ in _query_log_configs(ctx)}
    resolver = ctx.client("route53resolver")
    return [
        (a["Id"], f"{a['ResolverQueryLogConfigId']} with {a['ResourceId']}")
        for a in paginate(resolver, "list_resolver_query_log_config_associations", "ResolverQueryLogConfigAssociations")
        if a["ResolverQueryLogConfigId"] in configs and a.get("Status") not in ("DELETING", "FAILED")
    ]


def _disassociate_query_log(ctx: AwsContext, association_id: str) -> None:
    resolver = ctx.client("route53resolver")
    association = resolver.get_resolver_query_log_config_association(
        ResolverQueryLogConfigAssociationId=association_id
    )["ResolverQueryLogConfigAssociation"]
    resolver.disassociate_resolver_query_log_config(
        ResolverQueryLogConfigId=association["ResolverQueryLogConfigId"], ResourceId=association["ResourceId"]
    )


def _delete_query_log_config(ctx: AwsContext, config_id: str) -> None:
    """Once its associations are gone (AWS refuses to delete a configuration that logs a VPC)."""
    resolver = ctx.client("route53resolver")
    _poll(
        lambda: (
            not paginate(
                resolver,
                "list_resolver_query_log_config_associations",
                "ResolverQueryLogConfigAssociations",
                Filters=[{"Name": "ResolverQueryLogConfigId", "Values": [config_id]}],
            )
        ),
        ctx,
        f"{config_id} disassociated",
    )
    resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config_id)


def _security_groups(ctx: AwsContext) -> list[tuple[str, str]]:
    groups = ctx.client("ec2").describe_security_groups(Filters=ctx.stack_filters())["SecurityGroups"]
    return [(g["GroupId"], g["GroupName"]) for g in groups]


def _vpn_connections(ctx: AwsContext) -> list[tuple[str, str]]:
    found = ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters())["VpnConnections"]
    return [(v["VpnConnectionId"], v.get("TransitGatewayId", "")) for v in found if v["State"] not in GONE_STATES]


def _customer_gateways(ctx: AwsContext) -> list[tuple[str, str]]:
    found = ctx.client("ec2").describe_customer_gateways(Filters=ctx.stack_filters())["CustomerGateways"]
    return [(g["CustomerGatewayId"], g.get("IpAddress", "")) for g in found if g["State"] not in GONE_STATES]


def _log_groups(ctx: AwsContext) -> list[tuple[str, str]]:
    """The stack's CloudWatch Logs groups (AWS's VPN, Resolver and Client VPN logs): those
    under /hybridnet/<stack>/ that carry the stack's tag (a group of that name made by
    hand is left alone)."""
    logs = ctx.client("logs")
    found = []
    for group in paginate(
        logs, "describe_log_groups", "logGroups", logGroupNamePrefix=f"/hybridnet/{ctx.params.name}/"
    ):
        tags = logs.list_tags_for_resource(resourceArn=loggroups.group_arn(group)).get("tags", {})
        if _tagged(tags, ctx.params.name):
            days = group.get("retentionInDays")
            found.append((group["logGroupName"], f"retention {days} days" if days else "never expires"))
    return found


# --- deleters -------------------------------------------------------------------------------


def delete_client_vpn_endpoint(ctx: AwsContext, endpoint_id: str) -> None:
    ec2 = ctx.client("ec2")
    associations = paginate(
        ec2, "describe_client_vpn_target_networks", "ClientVpnTargetNetworks", ClientVpnEndpointId=endpoint_id
    )
    for association in associations:
        if association["Status"]["Code"] not in ("disassociating", "disassociated"):
            ec2.disassociate_client_vpn_target_network(
                ClientVpnEndpointId=endpoint_id, AssociationId=association["AssociationId"]
            )
    _poll(
        lambda: (
            not [
                a
                for a in paginate(
                    ec2,
                    "describe_client_vpn_target_networks",
                    "ClientVpnTargetNetworks",
                    ClientVpnEndpointId=endpoint_id,
                )
                if a["Status"]["Code"] != "disassociated"
            ]
        ),
        ctx,
        f"{endpoint_id} disassociated",
    )
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def _delete_iam_role(ctx: AwsContext, role: str) -> None:
    iam = ctx.client("iam")
    for policy in paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role):
        iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
    for name in paginate(iam, "list_role_policies", "PolicyNames", RoleName=role):
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    iam.delete_role(RoleName=role)


def _ssm_parameters(ctx: AwsContext) -> list[tuple[str, str]]:
    """The stack's secrets in Parameter Store: the router's pre-shared keys (phase 2 with
    router.apply) and the Client VPN client's key (phases 4 and 5 with hosts.remote_user)."""
    ssm = ctx.client("ssm")
    found = []
    for parameter in paginate(
        ssm,
        "describe_parameters",
        "Parameters",
        ParameterFilters=[{"Key": f"tag:{STACK_TAG}", "Values": [ctx.params.name]}],
    ):
        found.append((parameter["Name"], parameter.get("Type", "")))
    return found


def delete_vpn_connection(ctx: AwsContext, vpn_id: str) -> None:
    ec2 = ctx.client("ec2")
    ec2.delete_vpn_connection(VpnConnectionId=vpn_id)
    ec2.get_waiter("vpn_connection_deleted").wait(
        VpnConnectionIds=[vpn_id], WaiterConfig={"Delay": ctx.waiter_delay, "MaxAttempts": 60}
    )


def _poll(done: Callable[[], bool], ctx: AwsContext, what: str, attempts: int = 60) -> None:
    if not poll(done, timeout=attempts * ctx.waiter_delay, interval=ctx.waiter_delay):
        raise TimeoutError(f"teardown: {what} did not happen in time")


@dataclass(frozen=True)
class Kind:
    name: str
    find: Callable[[AwsContext], list[tuple[str, str]]]
    delete: Callable[[AwsContext, str], None]


# Dependency order: what uses a thing goes before the thing.
KINDS: tuple[Kind, ...] = (
    Kind("client VPN endpoint", _client_vpn_endpoints, delete_client_vpn_endpoint),
    Kind(
        "lambda function", _lambda_functions, lambda ctx, name: ctx.client("lambda").delete_function(FunctionName=name)
    ),
    Kind("IAM role", _iam_roles, _delete_iam_role),
    Kind(
        "ACM certificate", _acm_certificates, lambda ctx, arn: ctx.client("acm").delete_certificate(CertificateArn=arn)
    ),
    Kind("resolver query log association", _query_log_associations, _disassociate_query_log),
    Kind("resolver query log config", _query_log_configs, _delete_query_log_config),
    Kind(
        "resolver rule association",
        _resolver_rule_associations,
        lambda ctx, assoc_id: ctx.client("route53resolver").disassociate_resolver_rule(
            VPCId=_association_vpc(ctx, assoc_id), ResolverRuleId=_association_rule(ctx, assoc_id)
        ),
    ),
    Kind(
        "resolver rule",
        _resolver_rules,
        lambda ctx, rule_id: ctx.client("route53resolver").delete_resolver_rule(ResolverRuleId=rule_id),
    ),
    Kind(
        "resolver endpoint",
        _resolver_endpoints,
        lambda ctx, ep_id: ctx.client("route53resolver").delete_resolver_endpoint(ResolverEndpointId=ep_id),
    ),
    Kind(
        "security group",
        _security_groups,
        lambda ctx, group_id: ctx.client("ec2").delete_security_group(GroupId=group_id),
    ),
    Kind("SSM parameter", _ssm_parameters, lambda ctx, name: ctx.client("ssm").delete_parameter(Name=name)),
    Kind("VPN connection", _vpn_connections, delete_vpn_connection),
    Kind(
        "customer gateway",
        _customer_gateways,
        lambda ctx, cgw_id: ctx.client("ec2").delete_customer_gateway(CustomerGatewayId=cgw_id),
    ),
    # last: the resources above send their logs there until they are gone
    Kind("log group", _log_groups, lambda ctx, name: ctx.client("logs").delete_log_group(logGroupName=name)),
)


def _association(ctx: AwsContext, assoc_id: str) -> dict:
    return ctx.client("route53resolver").get_resolver_rule_association(ResolverRuleAssociationId=assoc_id)[
        "ResolverRuleAssociation"
    ]


def _association_vpc(ctx: AwsContext, assoc_id: str) -> str:
    return _association(ctx, assoc_id)["VPCId"]


def _association_rule(ctx: AwsContext, assoc_id: str) -> str:
    return _association(ctx, assoc_id)["ResolverRuleId"]


def leftovers(ctx: AwsContext) -> pd.DataFrame:
    """Everything still tagged with the stack, kind by kind (empty = nothing left)."""
    rows = [{"kind": kind.name, "id": rid, "detail": label} for kind in KINDS for rid, label in kind.find(ctx)]
    return pd.DataFrame(rows, columns=["kind", "id", "detail"])


def run(ctx: AwsContext, progress: Callable[[str], None] | None = print) -> pd.DataFrame:
    """Delete the stack's resources in order; one row per resource with the outcome."""
    rows = []
    for kind in KINDS:
        for resource_id, label in kind.find(ctx):
            try:
                kind.delete(ctx, resource_id)
                outcome = "deleted"
            except ClientError as exc:
                outcome = f"failed: {exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
            if progress:
                progress(f"{kind.name} {resource_id}: {outcome}")
            rows.append({"kind": kind.name, "id": resource_id, "detail": label, "outcome": outcome})
    return pd.DataFrame(rows, columns=["kind", "id", "detail", "outcome"])
