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
from typing import Any

from datetime import datetime, timezone

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
            if entry.get("Ip") and ipaddress.ip_address(entry["Ip"]) in (net.network_address,
                                                                          net.broadcast_address):
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
                raise ResourceExistsException(
                    f"The IP address '{ip}' in subnet '{subnet_id}' is already in use"
                )

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
                f"'{resolver_endpoint_id}'")
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
                f"Cannot specify resolver endpoint ID and target IP for {rule.rule_type} type resolver rule")
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
                    f"Resolver endpoint '{endpoint_id}' is {endpoint.direction}: a FORWARD rule needs an OUTBOUND one")
            rule.resolver_endpoint_id = endpoint_id
        if targets is not None:
            rule.target_ips = [{k: t[k] for k in ("Ip", "Port", "Protocol") if t.get(k)} for t in targets]
        if config.get("Name") is not None:
            rule.name = config["Name"]
        rule.status_message = "Successfully updated Resolver Rule"
        rule.modification_time = datetime.now(timezone.utc).isoformat()
        return rule
