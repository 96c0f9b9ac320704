"""The lab's namespaces, links, addresses and static routes, as data.

    hn-idc ---- hn-cgw ==(198.51.100.0/24)== hn-inet ==(203.0.113.0/24)== hn-aws ---- hn-vpc
    on-prem     customer                     "internet"                   AWS VPN      VPC hosts
    hosts       gateway                      router                       endpoints +  (subnets as
                (strongSwan+FRR)                                          VPC router   in the seed)

The outside addresses of the tunnels and the prefixes come from the LabSpec;
the host addresses are the seed lab's. No namespace gets a default route:
every static route below points at a lab prefix.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field

from .identity import NAMESPACE_PREFIX
from .spec import LabSpec

# The prefix is "hn-" for the user's lab and another one for a named lab (the
# test suite's), so that both can run at once (see identity.py).
INET_NS = f"{NAMESPACE_PREFIX}inet"
AWS_NS = f"{NAMESPACE_PREFIX}aws"
CGW_NS = f"{NAMESPACE_PREFIX}cgw"
IDC_NS = f"{NAMESPACE_PREFIX}idc"
VPC_NS = f"{NAMESPACE_PREFIX}vpc"
ALL_NAMESPACES = (INET_NS, AWS_NS, CGW_NS, IDC_NS, VPC_NS)
# Added to a running lab by phase 4 (lab/client_vpn.py): the Client VPN
# endpoint's server and two remote users. Fixed names too, so `down` finds them.
CVPN_NS = f"{NAMESPACE_PREFIX}cvpn"
USER_NS = f"{NAMESPACE_PREFIX}user"
GUEST_NS = f"{NAMESPACE_PREFIX}guest"
CLIENT_VPN_NAMESPACES = (CVPN_NS, USER_NS, GUEST_NS)

# Seed lab hosts: (name, address). VPC hosts sit in /24 subnets whose first
# address is the VPC router (as in a real VPC); on-prem hosts share the
# on-prem CIDR with the customer gateway's inside address.
VPC_HOSTS = (
    ("web1", "10.0.10.10"),
    ("web2", "10.0.20.10"),
    # Route 53 Resolver (phase 3): the lab's named in hn-vpc answers on the
    # inbound endpoint IPs and the VPC resolver (VPC CIDR base + 2), and sends
    # forwarded queries from an outbound endpoint IP.
    ("resolver-inbound-1", "10.0.1.250"),
    ("resolver-inbound-2", "10.0.2.250"),
    ("resolver-outbound-1", "10.0.1.251"),
    ("resolver-outbound-2", "10.0.2.251"),
    ("vpc-resolver", "10.0.0.2"),
)
VPC_SUBNET_PREFIXLEN = 24
IDC_HOSTS = (
    ("websrv", "192.168.2.20"),
    ("dns", "192.168.2.250"),
)


@dataclass(frozen=True)
class Interface:
    ns: str
    name: str
    addresses: tuple[str, ...]  # CIDR notation, e.g. "198.51.100.10/24"


@dataclass(frozen=True)
class Link:
    """A veth pair; both ends live in lab namespaces."""

    a: Interface
    b: Interface


@dataclass(frozen=True)
class StaticRoute:
    ns: str
    prefix: str
    via: str


@dataclass(frozen=True)
class Host:
    name: str
    ns: str
    address: str


@dataclass(frozen=True)
class Topology:
    namespaces: tuple[str, ...]
    links: tuple[Link, ...]
    routes: tuple[StaticRoute, ...]
    routers: tuple[str, ...]  # namespaces that forward packets
    hosts: tuple[Host, ...]
    cgw_inside_address: str  # the CGW's address toward the on-prem hosts
    vpc_router_addresses: tuple[str, ...] = field(default=())

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def to_dict(self) -> dict:
        return asdict(self)


def _router_address(network: ipaddress.IPv4Network, taken: set[ipaddress.IPv4Address]) -> ipaddress.IPv4Address:
    """First free host address of `network` (the "internet" router's side)."""
    for candidate in (network.network_address + 1, network.broadcast_address - 1):
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free router address in {network}")


def _slash24(address: ipaddress.IPv4Address) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{address}/24", strict=False)


def build_topology(spec: LabSpec) -> Topology:
    # -- outside: CGW and AWS endpoints reach each other through hn-inet.
    cgw_outside = spec.cgw_outside_ip
    vgw_outside = [t.vgw_outside_ip for t in spec.tunnels]
    cgw_net = _slash24(cgw_outside)
    vgw_nets = sorted({_slash24(a) for a in vgw_outside})
    if cgw_net in vgw_nets:
        raise ValueError(f"customer gateway {cgw_outside} and AWS endpoints must be in different /24s")
    inet_cgw_side = _router_address(cgw_net, {cgw_outside})
    inet_aws_side = {net: _router_address(net, set(vgw_outside)) for net in vgw_nets}

    # -- VPC side: hn-aws is the VPC router (.1 of each host's subnet).
    vpc_hosts = [Host(name, VPC_NS, addr) for name, addr in VPC_HOSTS]
    vpc_host_addresses, vpc_router_addresses = [], []
    for host in vpc_hosts:
        address = ipaddress.ip_address(host.address)
        if not any(address in cidr for cidr in spec.vpc_cidrs):
            raise ValueError(f"VPC host {host.name} {address} is outside the VPC CIDRs {spec.vpc_cidrs}")
        subnet = ipaddress.ip_network(f"{address}/{VPC_SUBNET_PREFIXLEN}", strict=False)
        vpc_host_addresses.append(f"{address}/{subnet.prefixlen}")
        router = f"{subnet.network_address + 1}/{subnet.prefixlen}"
        if router not in vpc_router_addresses:
            vpc_router_addresses.append(router)
    vpc_gateway = vpc_router_addresses[0].split("/")[0]

    # -- on-prem side: the CGW owns the first address of the first on-prem CIDR,
    # so the CIDR itself is a connected route that bgpd's `network` statement finds.
    onprem = spec.onprem_cidrs[0]
    cgw_inside = f"{onprem.network_address + 1}/{onprem.prefixlen}"
    idc_hosts = [Host(name, IDC_NS, addr) for name, addr in IDC_HOSTS]
    for host in idc_hosts:
        if ipaddress.ip_address(host.address) not in onprem:
            raise ValueError(f"on-prem host {host.name} {host.address} is outside {onprem}")

    links = (
        Link(
            Interface(CGW_NS, "outside", (f"{cgw_outside}/24",)), Interface(INET_NS, "to-cgw", (f"{inet_cgw_side}/24",))
        ),
        Link(
            Interface(INET_NS, "to-aws", tuple(f"{inet_aws_side[n]}/24" for n in vgw_nets)),
            Interface(AWS_NS, "outside", tuple(f"{a}/24" for a in vgw_outside)),
        ),
        Link(
            Interface(AWS_NS, "vpc", tuple(vpc_router_addresses)), Interface(VPC_NS, "vpc", tuple(vpc_host_addresses))
        ),
        Link(
            Interface(CGW_NS, "inside", (cgw_inside,)),
            Interface(IDC_NS, "lan", tuple(f"{h.address}/{onprem.prefixlen}" for h in idc_hosts)),
        ),
    )
    routes = [
        *(StaticRoute(CGW_NS, str(net), str(inet_cgw_side)) for net in vgw_nets),
        StaticRoute(AWS_NS, str(cgw_net), str(inet_aws_side[vgw_nets[0]])),
        # hosts reach the other side only through their gateway, prefix by prefix
        *(StaticRoute(VPC_NS, str(cidr), vpc_gateway) for cidr in spec.onprem_cidrs),
        *(StaticRoute(IDC_NS, str(cidr), cgw_inside.split("/")[0]) for cidr in spec.vpc_cidrs),
    ]
    return Topology(
        namespaces=ALL_NAMESPACES,
        links=links,
        routes=tuple(routes),
        routers=(INET_NS, AWS_NS, CGW_NS),
        hosts=tuple(vpc_hosts + idc_hosts),
        cgw_inside_address=cgw_inside,
        vpc_router_addresses=tuple(vpc_router_addresses),
    )
