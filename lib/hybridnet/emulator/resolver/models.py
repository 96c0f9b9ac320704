"""Resolver endpoint IPs must be free in their subnet.

moto already rejects, as AWS does: fewer than two IP addresses on a new
endpoint (InvalidRequestException "Resolver endpoint needs to have at least
2 IP addresses"; boto3 itself refuses a one-item list first, the model's
minimum being 2), an IP outside its subnet's CIDR or among the subnet's five
reserved addresses (InvalidRequestException; moto knew .1-.3 of them, the
network and broadcast addresses are added here), and the same IP twice in one
request (ResourceExistsException). Two IPs in the same subnet are accepted,
as AWS accepts them (it only recommends two Availability Zones).

What moto misses is an IP that another ENI already holds: another Resolver
endpoint's (inbound or outbound), an instance's, or any other network
interface in that subnet. AWS refuses to create (or associate) such an
endpoint IP; here it is refused with the same ResourceExistsException and
message moto uses for a duplicate inside one request, for CreateResolverEndpoint
and AssociateResolverEndpointIpAddress alike.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from moto.route53resolver.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceExistsException,
    ResourceNotFoundException,
)
from moto.route53resolver.models import ResolverRule, Route53ResolverBackend
from moto.route53resolver.validations import validate_args

_moto_verify_subnet_ips = Route53ResolverBackend._verify_subnet_ips
_moto_disassociate_ip = Route53ResolverBackend.disassociate_resolver_endpoint_ip_address
MIN_ENDPOINT_IPS = 2  # AWS: an endpoint keeps at least two IP addresses


def _eni_ips(eni: Any) -> set[str]:
    ips = {eni.private_ip_address} if eni.private_ip_address else set()
    for item in eni.private_ip_addresses or []:
        ip = item.get("PrivateIpAddress") if isinstance(item, dict) else item
        if ip:
            ips.add(ip)
    return ips


class FreeIpResolverBackend:
    """Mixed into moto's Route53ResolverBackend."""

    def _ips_in_use(self, subnet_id: str) -> dict[str, str]:
        """{ip: ENI id} for every network interface in the subnet."""
        used: dict[str, str] = {}
        for eni in list(self.ec2_backend.enis.values()):  # type: ignore[attr-defined]
            subnet = getattr(eni, "subnet", None)
            if subnet is None or getattr(subnet, "id", None) != subnet_id:
                continue
            for ip in _eni_ips(eni):
                used.setdefault(ip, eni.id)
        return used

    def _verify_subnet_ips(self, ip_addresses: list[dict[str, Any]], initial: bool = True) -> None:
        _moto_verify_subnet_ips(self, ip_addresses, initial)  # type: ignore[arg-type]
        for entry in ip_addresses:
            # moto reserves .1-.3 only; AWS reserves the network and broadcast addresses too
            subnet = self.ec2_backend.get_subnet(entry["SubnetId"])  # type: ignore[attr-defined]
            net = ipaddress.ip_network(subnet.cidr_block)
            if entry.get("Ip") and ipaddress.ip_address(entry["Ip"]) in (net.network_address, net.broadcast_address):
                raise InvalidRequestException(
                    f"IP address '{entry['Ip']}' is either not in subnet '{entry['SubnetId']}' "
                    "CIDR range or is reserved"
                )
        in_use: dict[str, dict[str, str]] = {}
        for entry in ip_addresses:
            subnet_id, ip = entry["SubnetId"], entry.get("Ip")
            if not ip:
                continue
            if subnet_id not in in_use:
                in_use[subnet_id] = self._ips_in_use(subnet_id)
            if ip in in_use[subnet_id]:
                raise ResourceExistsException(f"The IP address '{ip}' in subnet '{subnet_id}' is already in use")

    def disassociate_resolver_endpoint_ip_address(self, resolver_endpoint_id: str, value: dict[str, Any]) -> Any:
        """moto removes any IP, even the last ones or one the endpoint never had; AWS
        keeps an endpoint at two IPs at least and names an unknown one."""
        self._validate_resolver_endpoint_id(resolver_endpoint_id)  # type: ignore[attr-defined]
        endpoint = self.resolver_endpoints[resolver_endpoint_id]  # type: ignore[attr-defined]
        held = {ip: eni for subnet in endpoint.subnets.values() for ip, eni in subnet.items()}
        ip = value.get("Ip") or next((i for i, eni in held.items() if eni == value.get("IpId")), None)
        if ip not in held:
            raise ResourceNotFoundException(
                f"IP address '{value.get('Ip') or value.get('IpId')}' is not associated with resolver endpoint "
                f"'{resolver_endpoint_id}'"
            )
        if len(endpoint.ip_addresses) <= MIN_ENDPOINT_IPS:
            raise InvalidRequestException("Resolver endpoint needs to have at least 2 IP addresses")
        return _moto_disassociate_ip(self, resolver_endpoint_id, value)  # type: ignore[arg-type]


class RuleUpdateBackend:
    """UpdateResolverRule, which moto lacks: a FORWARD rule's target IPs, its outbound
    endpoint and its name change in place (AWS keeps what a request leaves out)."""

    def update_resolver_rule(self, resolver_rule_id: str, config: dict[str, Any]) -> ResolverRule:
        validate_args([("resolverRuleId", resolver_rule_id)])
        rule = self.resolver_rules.get(resolver_rule_id)  # type: ignore[attr-defined]
        if rule is None:
            raise ResourceNotFoundException(f"Resolver rule with ID '{resolver_rule_id}' does not exist")
        targets = config.get("TargetIps")
        if targets is not None:  # Port is optional (53); moto's check reads it
            targets = [{**t, "Port": t.get("Port", 53)} for t in targets]
        endpoint_id = config.get("ResolverEndpointId")
        checks: list[tuple[str, Any]] = [("targetIps.port", t) for t in targets or []]
        if config.get("Name") is not None:
            checks.append(("name", config["Name"]))
        if endpoint_id is not None:
            checks.append(("resolverEndpointId", endpoint_id))
        validate_args(checks)
        if (targets or endpoint_id) and rule.rule_type != "FORWARD":
            raise InvalidRequestException(
                f"Cannot specify resolver endpoint ID and target IP for {rule.rule_type} type resolver rule"
            )
        for target in targets or []:
            try:
                if ipaddress.ip_address(target["Ip"]).version != 4:
                    raise InvalidParameterException(f"Only IPv4 addresses may be used: '{target['Ip']}'")
            except ValueError as exc:
                raise InvalidParameterException(f"Invalid IP address: '{target['Ip']}'") from exc
        if endpoint_id is not None:
            endpoint = self.resolver_endpoints.get(endpoint_id)  # type: ignore[attr-defined]
            if endpoint is None:
                raise ResourceNotFoundException(f"Resolver endpoint with ID '{endpoint_id}' does not exist.")
            if endpoint.direction != "OUTBOUND":
                raise InvalidRequestException(
                    f"Resolver endpoint '{endpoint_id}' is {endpoint.direction}: a FORWARD rule needs an OUTBOUND one"
                )
            rule.resolver_endpoint_id = endpoint_id
        if targets is not None:
            rule.target_ips = [{k: t[k] for k in ("Ip", "Port", "Protocol") if t.get(k)} for t in targets]
        if config.get("Name") is not None:
            rule.name = config["Name"]
        rule.status_message = "Successfully updated Resolver Rule"
        rule.modification_time = datetime.now(UTC).isoformat()
        return rule


# --- query logging ------------------------------------------------------------------------------

_moto_create_query_log_config = Route53ResolverBackend.create_resolver_query_log_config
_moto_matched_arn = Route53ResolverBackend._matched_arn
LIVE_QUERY_LOG_ASSOCIATION = ("CREATING", "ACTIVE")
DESTINATION_SERVICES = ("logs", "s3", "firehose")


def _destination_log_group(arn: str) -> str | None:
    """The log group name in a CloudWatch Logs log group ARN (`:*` or not), else None."""
    if ":log-group:" not in arn:
        return None
    name = arn.split(":log-group:", 1)[1]
    return name[:-2] if name.endswith(":*") else name


class QueryLoggingBackend:
    """Resolver query logging as AWS has it where moto falls short. moto creates a
    configuration (CREATED) and associates it with a VPC (ACTIVE), as AWS ends up,
    but: its tags cannot be listed (ListTagsForResource knows endpoints and rules
    only), any DestinationArn is taken, and it cannot disassociate or delete. Here
    the destination must be a CloudWatch Logs log group of this account and region
    that exists (or an S3 bucket / Firehose stream ARN, taken as given), a
    configuration with VPCs still associated cannot be deleted, and both
    DisassociateResolverQueryLogConfig and DeleteResolverQueryLogConfig answer
    with status DELETING, as AWS does, the resource being gone from the lists
    afterwards."""

    def _matched_arn(self, resource_arn: str) -> None:
        for config in self.resolver_query_log_configs.values():  # type: ignore[attr-defined]
            if config.arn == resource_arn:
                return
        _moto_matched_arn(self, resource_arn)  # type: ignore[arg-type]

    def create_resolver_query_log_config(
        self, name: str, destination_arn: str, creator_request_id: str, tags: list[dict[str, str]] | None = None
    ) -> Any:
        parts = (destination_arn or "").split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] not in DESTINATION_SERVICES:
            raise InvalidParameterException(
                f"DestinationArn '{destination_arn}' is not the ARN of a CloudWatch Logs log group, an S3 bucket "
                "or a Kinesis Data Firehose delivery stream"
            )
        group = _destination_log_group(destination_arn)
        if parts[2] == "logs":
            from moto.logs.models import logs_backends

            region, account = parts[3], parts[4]
            if (region, account) != (self.region_name, self.account_id) or group is None:  # type: ignore[attr-defined]
                raise InvalidParameterException(
                    f"DestinationArn '{destination_arn}': the log group must be in this account and Region "
                    f"({self.account_id}, {self.region_name})"  # type: ignore[attr-defined]
                )
            if group not in logs_backends[account][region].groups:
                raise ResourceNotFoundException(
                    f"The CloudWatch Logs log group '{group}' of DestinationArn '{destination_arn}' does not exist"
                )
        return _moto_create_query_log_config(
            self,  # type: ignore[arg-type]
            name,
            destination_arn,
            creator_request_id,
            tags,
        )

    def disassociate_resolver_query_log_config(self, resolver_query_log_config_id: str, resource_id: str) -> Any:
        if resolver_query_log_config_id not in self.resolver_query_log_configs:  # type: ignore[attr-defined]
            raise ResourceNotFoundException(
                f"Resolver query log config with ID '{resolver_query_log_config_id}' does not exist"
            )
        associations = self.resolver_query_log_config_associations  # type: ignore[attr-defined]
        found = next(
            (
                a
                for a in associations.values()
                if a.resolver_query_log_config_id == resolver_query_log_config_id and a.resource_id == resource_id
            ),
            None,
        )
        if found is None:
            raise ResourceNotFoundException(
                f"Resolver query log config '{resolver_query_log_config_id}' is not associated with VPC '{resource_id}'"
            )
        del associations[found.id]
        config = self.resolver_query_log_configs[resolver_query_log_config_id]  # type: ignore[attr-defined]
        config.association_count = max(0, config.association_count - 1)
        found.status = "DELETING"
        return found

    def delete_resolver_query_log_config(self, resolver_query_log_config_id: str) -> Any:
        configs = self.resolver_query_log_configs  # type: ignore[attr-defined]
        config = configs.get(resolver_query_log_config_id)
        if config is None:
            raise ResourceNotFoundException(
                f"Resolver query log config with ID '{resolver_query_log_config_id}' does not exist"
            )
        vpcs = sorted(
            a.resource_id
            for a in self.resolver_query_log_config_associations.values()  # type: ignore
            if a.resolver_query_log_config_id == resolver_query_log_config_id and a.status in LIVE_QUERY_LOG_ASSOCIATION
        )
        if vpcs:
            raise InvalidRequestException(
                f"Resolver query log config '{resolver_query_log_config_id}' is associated with {', '.join(vpcs)}: "
                "disassociate the VPCs first"
            )
        del configs[resolver_query_log_config_id]
        self.tagger.delete_all_tags_for_resource(config.arn)  # type: ignore[attr-defined]
        config.status = "DELETING"
        return config
