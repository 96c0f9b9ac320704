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

from moto.route53resolver.exceptions import InvalidRequestException, ResourceExistsException
from moto.route53resolver.models import Route53ResolverBackend

_moto_verify_subnet_ips = Route53ResolverBackend._verify_subnet_ips


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
