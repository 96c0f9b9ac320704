"""Load and validate a parameter set (params/*.yaml) into one model.

Validation runs before any AWS call and reports every bad field at once, each
with the field's path and what would be valid, so that a typo never gets as
far as a half-created VPN.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import HybridnetError
from .vpnrules import (
    ENCRYPTION,
    IKE_VERSIONS,
    INTEGRITY,
    PHASE1_DH_GROUPS,
    PHASE2_DH_GROUPS,
    inside_cidr_problem,
    psk_problem,
)


class ParamsError(HybridnetError, ValueError):
    """Every problem found in a parameter set, each naming its field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s) in the parameters:"]
        lines += [f"  - {field}: {message}" for field, message in problems]
        super().__init__("\n".join(lines))


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not a CIDR block like 10.0.0.0/16 (network address, then /prefix): {exc}"
        ) from None
    if net.version != 4:
        raise ValueError(f"{value!r} is IPv6; this suite handles IPv4 CIDR blocks")
    return str(net)


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address like 198.51.100.10") from None


Cidr = Annotated[str, AfterValidator(_cidr)]
IPv4 = Annotated[str, AfterValidator(_ipv4)]
# 4-byte ASNs; AWS accepts 1-4294967294 for a customer gateway.
Asn = Annotated[int, Field(ge=1, le=4294967294)]


def _dns_name(value: str) -> str:
    name = value.rstrip(".").lower()
    label = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
    if len(name) > 253 or not re.fullmatch(rf"{label}(\.{label})+", name):
        raise ValueError(
            f"{value!r} is not a DNS domain name like anycompany.corp "
            "(labels of letters, digits and '-', separated by dots)"
        )
    return name


DnsName = Annotated[str, AfterValidator(_dns_name)]


class _Model(BaseModel):
    # Unknown keys are typos until proven otherwise.
    model_config = ConfigDict(extra="forbid", frozen=True)


_M = TypeVar("_M", bound=BaseModel)


class Subnet(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    cidr: Cidr
    az: str


class Vpc(_Model):
    cidr: Cidr
    subnets: list[Subnet] = Field(min_length=2)

    @model_validator(mode="after")
    def _subnets_fit(self) -> Vpc:
        vpc = ipaddress.IPv4Network(self.cidr)  # Cidr is validated IPv4
        problems: list[tuple[str, str]] = []
        nets: list[tuple[int, ipaddress.IPv4Network]] = []
        for i, subnet in enumerate(self.subnets):
            net = ipaddress.IPv4Network(subnet.cidr)
            if not net.subnet_of(vpc):
                problems.append((f"subnets[{i}].cidr", f"{subnet.cidr} is outside the VPC CIDR {self.cidr}"))
            for j, other in nets:
                if net.overlaps(other):
                    problems.append(
                        (
                            f"subnets[{i}].cidr",
                            f"{subnet.cidr} overlaps subnets[{j}].cidr {other}; give each subnet its own block",
                        )
                    )
            nets.append((i, net))
        if len({s.az for s in self.subnets}) < 2:
            problems.append(("subnets", "must span at least two availability zones (e.g. ...-2a and ...-2c)"))
        if len({s.name for s in self.subnets}) != len(self.subnets):
            problems.append(("subnets", "names must be unique"))
        if problems:
            raise _CrossCheckFailed(problems)
        return self

    def subnet(self, name: str) -> Subnet:
        for subnet in self.subnets:
            if subnet.name == name:
                return subnet
        raise KeyError(f"no subnet named {name!r} in vpc.subnets")


class TransitGateway(_Model):
    # A TGW's Amazon-side ASN must be private: 64512-65534 or 4200000000-4294967294.
    amazon_side_asn: int = 64512
    description: str = "hybridnet lab transit gateway"

    @field_validator("amazon_side_asn")
    @classmethod
    def _private_asn(cls, value: int) -> int:
        if not (64512 <= value <= 65534 or 4200000000 <= value <= 4294967294):
            raise ValueError(f"{value} is not a private ASN; use 64512-65534 or 4200000000-4294967294")
        return value


class OnPrem(_Model):
    cidr: Cidr
    dns_server: IPv4
    domain: DnsName
    hosts: dict[str, IPv4] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _hosts_inside(self) -> OnPrem:
        net = ipaddress.ip_network(self.cidr)
        problems = []
        if ipaddress.ip_address(self.dns_server) not in net:
            # the Resolver's FORWARD rule for onprem.domain targets this address
            problems.append(
                (
                    "dns_server",
                    f"{self.dns_server} is outside the on-prem CIDR {self.cidr}; the "
                    "forwarding rule's target must be the on-prem DNS server's address in it",
                )
            )
        problems += [
            (f"hosts.{name}", f"{ip} is outside the on-prem CIDR {self.cidr}")
            for name, ip in self.hosts.items()
            if ipaddress.ip_address(ip) not in net
        ]
        if problems:
            raise _CrossCheckFailed(problems)
        return self


class CustomerGateway(_Model):
    public_ip: IPv4
    bgp_asn: Asn
    device_name: str = "onprem-router"
    # The router's own outside address when it sits behind NAT (e.g. an EC2
    # router with an Elastic IP); None means public_ip is on the router itself.
    local_ip: IPv4 | None = None

    @field_validator("public_ip")
    @classmethod
    def _routable(cls, value: str) -> str:
        ip = ipaddress.IPv4Address(value)
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            raise ValueError(f"{value} cannot be a customer gateway's outside address")
        return value


class Tunnel(_Model):
    inside_cidr: Cidr | None = None
    pre_shared_key: SecretStr | None = None

    @field_validator("inside_cidr")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        problem = value and inside_cidr_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("pre_shared_key")
    @classmethod
    def _psk(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never repeats the key itself.
        problem = value and psk_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value


def _choices(allowed: tuple, what: str):
    def check(values: list) -> list:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(f"{bad} not valid {what}; choose from {list(allowed)}")
        return values

    return AfterValidator(check)


class TunnelCrypto(_Model):
    """Tunnel options shared by both tunnels; None means AWS's default (all allowed)."""

    ike_versions: Annotated[list[str], _choices(IKE_VERSIONS, "IKE versions")] | None = None
    phase1_encryption: Annotated[list[str], _choices(ENCRYPTION, "phase 1 encryption")] | None = None
    phase1_integrity: Annotated[list[str], _choices(INTEGRITY, "phase 1 integrity")] | None = None
    phase1_dh_groups: Annotated[list[int], _choices(PHASE1_DH_GROUPS, "phase 1 DH groups")] | None = None
    phase2_encryption: Annotated[list[str], _choices(ENCRYPTION, "phase 2 encryption")] | None = None
    phase2_integrity: Annotated[list[str], _choices(INTEGRITY, "phase 2 integrity")] | None = None
    phase2_dh_groups: Annotated[list[int], _choices(PHASE2_DH_GROUPS, "phase 2 DH groups")] | None = None
    phase1_lifetime_seconds: Annotated[int, Field(ge=900, le=28800)] | None = None
    phase2_lifetime_seconds: Annotated[int, Field(ge=900, le=3600)] | None = None
    dpd_timeout_seconds: Annotated[int, Field(ge=30)] | None = None


class Vpn(_Model):
    tunnels: list[Tunnel] = Field(min_length=1, max_length=2)
    crypto: TunnelCrypto = TunnelCrypto()
    static_routes_only: bool = False

    @model_validator(mode="after")
    def _distinct_inside(self) -> Vpn:
        cidrs = [t.inside_cidr for t in self.tunnels if t.inside_cidr]
        if len(cidrs) != len(set(cidrs)):
            raise _CrossCheckFailed(
                [("tunnels[1].inside_cidr", "equals tunnels[0].inside_cidr; each tunnel needs its own /30")]
            )
        return self


class Dns(_Model):
    private_zone: DnsName
    records: dict[str, IPv4] = Field(default_factory=dict)
    inbound_ips: list[IPv4] = Field(default_factory=list)
    outbound_ips: list[IPv4] = Field(default_factory=list)


class ClientVpn(_Model):
    """Phase 4: an AWS Client VPN endpoint with mutual (certificate) authentication."""

    client_cidr: Cidr
    server_name: DnsName = "server.hybridnet.lab"
    client_name: DnsName = "client1.hybridnet.lab"
    split_tunnel: bool = True
    # Names from vpc.subnets: the endpoint's target networks, one per availability
    # zone; empty = the first subnet of each of the first two zones listed.
    subnets: list[str] = Field(default_factory=list)
    # Pushed to clients; None = the VPC resolver (VPC CIDR base + 2), as the seed does.
    dns_servers: list[IPv4] | None = Field(default=None, max_length=2)
    transport_protocol: Literal["udp", "tcp"] = "udp"
    vpn_port: Literal[443, 1194] = 443
    key_type: Literal["rsa2048", "ec-p256", "ec-p384"] = "rsa2048"  # RSA 2048: what Client VPN accepts everywhere


class ConnectHandler(_Model):
    """Phase 5: the client connect handler, a Lambda function named AWSClientVPN-...

    Policies (checked in order, all must pass): `weekdays` (Monday-Friday in
    `timezone`), `source_ip` (the client's public IP in `allowed_cidrs`).
    """

    function_name: str | None = None  # None = AWSClientVPN-<name>-connect-handler
    policies: list[str] = Field(default_factory=lambda: ["source_ip"])
    allowed_cidrs: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    deny_all: bool = False  # the fault drill: deny every new connection

    @model_validator(mode="after")
    def _deployable(self) -> ConnectHandler:
        from .handlers import HandlerConfigError, check_function_name, handler_environment

        problems = []
        if self.function_name is not None:
            try:
                check_function_name(self.function_name)
            except HandlerConfigError as exc:
                problems.append((exc.field, str(exc).removeprefix(f"{exc.field}: ")))
        try:
            handler_environment(self.policies, self.allowed_cidrs, self.timezone, self.deny_all)
        except HandlerConfigError as exc:
            problems.append((exc.field, str(exc).removeprefix(f"{exc.field}: ")))
        if problems:
            raise _CrossCheckFailed(problems)
        return self


INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
HOST_ROLES = ("router", "onprem_dns", "onprem_client", "vpc_client", "remote_user", "remote_user_away")
# The remote workers' machines: test clients for phases 4 and 5, not part of the network.
REMOTE_ROLES = ("remote_user", "remote_user_away")


class Host(_Model):
    """A host the runbook reaches through AWS Systems Manager (Run Command)."""

    # An EC2 instance id (i-0123456789abcdef0) or the instance's Name tag.
    instance: str = Field(min_length=1, max_length=255)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        return {"instance": value} if isinstance(value, str) else value

    @field_validator("instance")
    @classmethod
    def _id_or_name(cls, value: str) -> str:
        if value.startswith("i-") and not INSTANCE_ID.match(value):
            raise ValueError(
                f"{value!r} looks like an instance id but is not one (i- and 8 or 17 hex digits); "
                "give the id as EC2 shows it, or the instance's Name tag"
            )
        return value

    @property
    def instance_id(self) -> str | None:
        return self.instance if INSTANCE_ID.match(self.instance) else None

    @property
    def name_tag(self) -> str | None:
        return None if self.instance_id else self.instance


class Hosts(_Model):
    """The hosts by role; each is optional (a missing role's checks say so)."""

    router: Host | None = None  # the customer gateway (strongSwan + FRR/Quagga)
    onprem_dns: Host | None = None  # the on-prem DNS server (BIND)
    onprem_client: Host | None = None  # an on-prem server that resolves names as users do
    vpc_client: Host | None = None  # an instance in the VPC
    # A remote worker's machine with OpenVPN 2.6 (phase 4 connects it with the
    # profile; phase 5 tries the connection policy from it), and the same worker
    # somewhere else: an address the policy does not allow (phase 5).
    remote_user: Host | None = None
    remote_user_away: Host | None = None

    def roles(self) -> dict[str, Host]:
        return {role: host for role in HOST_ROLES if (host := getattr(self, role)) is not None}


class Router(_Model):
    """The customer gateway's setup (phase 2)."""

    # Which generated setup the router runs: seed (Amazon Linux + Quagga), frr
    # (strongSwan ipsec.conf + FRR), swanctl (current strongSwan, XFRM
    # interfaces + FRR), lab (kernel-libipsec, what the local lab's router runs).
    target: Literal["seed", "frr", "swanctl", "lab"] = "frr"
    # Send it to hosts.router through SSM and run it there. Off by default: it
    # is a production router; the files are written either way.
    apply: bool = False


class OnpremDns(_Model):
    """The on-prem DNS server's hybrid DNS files (phase 3)."""

    # Send them to hosts.onprem_dns through SSM, check them with named-checkconf
    # and reload named there. Off by default: it is a production DNS server;
    # the files are written either way.
    apply: bool = False


class Logs(_Model):
    """AWS's own logs of the stack, into CloudWatch Logs groups of the stack
    (/hybridnet/<name>/vpn, /resolver, /client-vpn): Site-to-Site VPN tunnel and
    BGP logs (phase 1), Resolver query logs (phase 3), Client VPN connection logs
    (phase 4). The health check reads them to name a failure's cause."""

    enabled: bool = True
    retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365] = 14  # CloudWatch Logs' choices

    @staticmethod
    def group_name(stack: str, service: str) -> str:
        return f"/hybridnet/{stack}/{service}"


class Params(_Model):
    target: Literal["emulator", "aws"] = "emulator"
    region: str
    profile: str | None = None
    name: str = Field(default="hybridnet", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    # The local lab of real daemons (emulator target only): auto = when root
    # and installed, on = required, off = never.
    lab: Literal["auto", "on", "off"] = "auto"

    @field_validator("lab", mode="before")
    @classmethod
    def _yaml_booleans(cls, value):
        # YAML 1.1 reads an unquoted `lab: off` / `lab: on` as a boolean
        return {False: "off", True: "on"}.get(value, value) if isinstance(value, bool) else value

    # A change AWS cannot make in place (a VPN connection on another transit gateway
    # or with other routing, a Client VPN endpoint's client CIDR, ...) deletes the
    # resource and creates it anew only when this is true: traffic through it stops
    # meanwhile, and a new VPN connection has new tunnel addresses and keys.
    allow_replace: bool = False
    vpc: Vpc
    transit_gateway: TransitGateway = TransitGateway()
    onprem: OnPrem
    customer_gateway: CustomerGateway
    vpn: Vpn
    dns: Dns | None = None
    client_vpn: ClientVpn | None = None
    connect_handler: ConnectHandler | None = None
    hosts: Hosts = Hosts()
    router: Router = Router()
    onprem_dns: OnpremDns = OnpremDns()
    logs: Logs = Logs()

    @field_validator("region")
    @classmethod
    def _region_exists(cls, value: str) -> str:
        regions = known_regions()
        if value not in regions:
            near = [r for r in regions if r.split("-")[0] == value.split("-")[0]][:6]
            raise ValueError(f"{value!r} is not an AWS region; e.g. {', '.join(near or regions[:6])}")
        return value


class _CrossCheckFailed(ValueError):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


def known_regions() -> list[str]:
    """Regions botocore knows for EC2 (read from its bundled data, offline)."""
    from .aws import new_session

    return sorted(new_session().get_available_regions("ec2"))


def _field_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "constrained-")) or part in ("str", "int", "list[str]", "list[int]"):
            continue
        else:
            path += ("." if path else "") + part
    return path or "(top level)"


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False, include_input=False):
        ctx_error = err.get("ctx", {}).get("error")
        if isinstance(ctx_error, _CrossCheckFailed):
            prefix = _field_path(err["loc"]) if err["loc"] else ""
            problems.extend((f"{prefix}.{f}" if prefix else f, m) for f, m in ctx_error.problems)
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (a typo?); remove it or fix its spelling"
        elif err["type"] == "missing":
            message = "is required"
        problems.append((_field_path(err["loc"]), message))
    return problems


def _net(value):
    try:
        return ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError):
        return None


# AWS: a Resolver endpoint has 2-6 IP addresses; in each subnet it reserves the
# network address, the next three and the broadcast address.
ENDPOINT_IPS = (2, 6)


def _dns_problems(get, vpc) -> list[tuple[str, str]]:
    """Phase 3 (Route 53 Resolver): endpoint IPs in their subnets across two AZs,
    distinct; record names; private zone apart from the on-prem domain."""
    problems = []
    subnets = []  # (index, name, network, az) of the well-formed vpc.subnets
    for i, subnet in enumerate(get("vpc", "subnets") or []):
        net = _net(subnet.get("cidr")) if isinstance(subnet, dict) else None
        if net:
            subnets.append((i, subnet.get("name"), net, subnet.get("az")))
    seen: dict[str, str] = {}
    for key in ("inbound_ips", "outbound_ips"):
        field = f"dns.{key}"
        ips = get("dns", key)
        if not isinstance(ips, list):
            continue
        low, high = ENDPOINT_IPS
        if not low <= len(ips) <= high:
            problems.append(
                (
                    field,
                    f"has {len(ips)} address(es); a Resolver endpoint needs {low}-{high}, "
                    "one in a subnet of each of two availability zones",
                )
            )
        azs, placed = set(), 0
        for i, ip in enumerate(ips):
            try:
                addr = ipaddress.IPv4Address(ip)
            except ValueError:
                continue  # reported by the field check
            where = f"{field}[{i}]"
            if str(addr) in seen:
                problems.append((where, f"{addr} is also {seen[str(addr)]}; each endpoint IP must be distinct"))
            seen.setdefault(str(addr), where)
            if vpc is not None and addr not in vpc:
                problems.append((where, f"{addr} is outside the VPC CIDR {vpc}"))
                continue
            home = [s for s in subnets if addr in s[2]]
            if not home:
                listed = ", ".join(f"{s[1]} {s[2]}" for s in subnets)
                problems.append(
                    (
                        where,
                        f"{addr} is in none of vpc.subnets ({listed}); "
                        "put each endpoint IP in one of the endpoint subnets",
                    )
                )
                continue
            _, name, net, az = home[0]
            reserved = [net.network_address + n for n in range(4)] + [net.broadcast_address]
            if addr in reserved:
                problems.append(
                    (
                        where,
                        f"{addr} is reserved by AWS in subnet {name} {net} (its first four "
                        f"addresses and the last); pick e.g. {net.network_address + 250}",
                    )
                )
                continue
            azs.add(az)
            placed += 1
        if placed == len(ips) >= low and len(azs) < 2:
            problems.append(
                (
                    field,
                    f"all in availability zone {', '.join(sorted(map(str, azs)))}; give one "
                    "address in a subnet of each of two availability zones",
                )
            )
    records = get("dns", "records")
    if isinstance(records, dict):
        for name in records:
            label = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
            if not isinstance(name, str) or not re.fullmatch(rf"{label}(\.{label})*", name.lower()):
                problems.append(
                    (
                        f"dns.records.{name}",
                        f"{name!r} is not a host name in the zone like web1 (labels of letters, digits and '-')",
                    )
                )
    try:
        zone, domain = _dns_name(get("dns", "private_zone")), _dns_name(get("onprem", "domain"))
    except (ValueError, TypeError, AttributeError):
        return problems  # a malformed name is reported by its field
    if zone == domain or zone.endswith("." + domain) or domain.endswith("." + zone):
        problems.append(
            (
                "dns.private_zone",
                f"{zone} overlaps the on-prem domain onprem.domain {domain}; "
                "the private hosted zone and the forwarding rule would claim the same names",
            )
        )
    return problems


def _cross_problems(data: dict) -> list[tuple[str, str]]:
    """Checks that span sections, run on the raw mapping so that they are
    reported together with field errors (pydantic stops a model's own
    validator at the first bad field)."""

    def get(*path):
        node = data
        for key in path:
            if isinstance(node, dict):
                node = node.get(key)
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                return None
        return node

    problems = []
    region = get("region")
    for i, subnet in enumerate(get("vpc", "subnets") or []):
        az = subnet.get("az") if isinstance(subnet, dict) else None
        if isinstance(region, str) and isinstance(az, str) and not re.fullmatch(re.escape(region) + "[a-z]", az):
            problems.append((f"vpc.subnets[{i}].az", f"{az!r} is not a zone of {region} (e.g. {region}a)"))
    vpc, onprem = _net(get("vpc", "cidr")), _net(get("onprem", "cidr"))
    if vpc and onprem and vpc.overlaps(onprem):
        problems.append(
            ("onprem.cidr", f"{onprem} overlaps the VPC CIDR {vpc}; routes between them would be ambiguous")
        )
    tgw_asn = get("transit_gateway", "amazon_side_asn") or TransitGateway().amazon_side_asn
    if get("customer_gateway", "bgp_asn") == tgw_asn:
        problems.append(
            (
                "customer_gateway.bgp_asn",
                f"equals the transit gateway's ASN {tgw_asn}; eBGP needs a different ASN on each side",
            )
        )
    if get("target") in (None, "emulator") and get("profile"):
        problems.append(("profile", "is only used with target: aws; remove it or set target: aws"))
    if isinstance(get("dns"), dict):
        problems += _dns_problems(get, vpc)
    client = _net(get("client_vpn", "client_cidr"))
    if client:
        if not 12 <= client.prefixlen <= 22:
            problems.append(("client_vpn.client_cidr", f"{client} must be between /12 and /22"))
        for other, field in ((vpc, "vpc.cidr"), (onprem, "onprem.cidr")):
            if other and client.overlaps(other):
                problems.append(("client_vpn.client_cidr", f"{client} overlaps {field} {other}"))
    problems += _client_vpn_problems(get)
    if get("onprem_dns", "apply") is True and not get("hosts", "onprem_dns"):
        problems.append(
            (
                "onprem_dns.apply",
                "is true but no hosts.onprem_dns names the DNS server to send the "
                "files to; name it (instance id or Name tag) or set onprem_dns.apply: false",
            )
        )
    if get("onprem_dns", "apply") is True and not isinstance(get("dns"), dict):
        problems.append(
            (
                "onprem_dns.apply",
                "is true but there is no dns section (the files forward its zones); "
                "add it or set onprem_dns.apply: false",
            )
        )
    if get("router", "apply") is True and get("router", "target") == "swanctl":
        problems.append(
            (
                "router.apply",
                "target swanctl is files only (no setup script to run); choose "
                "router.target frr, seed or lab to apply it, or set router.apply: false",
            )
        )
    if get("router", "apply") is True and not get("hosts", "router"):
        problems.append(
            (
                "router.apply",
                "is true but no hosts.router names the router to send the setup to; "
                "name it (instance id or Name tag) or set router.apply: false",
            )
        )
    return problems


def _client_vpn_problems(get) -> list[tuple[str, str]]:
    """Phase 4/5: the endpoint's subnets are two of vpc.subnets in two zones; a
    connect handler needs an endpoint."""
    problems = []
    names = get("client_vpn", "subnets")
    subnets = {s.get("name"): s.get("az") for s in get("vpc", "subnets") or [] if isinstance(s, dict)}
    if isinstance(names, list) and names:
        known = [n for n in names if n in subnets]
        for i, name in enumerate(names):
            if name not in subnets:
                problems.append(
                    (
                        f"client_vpn.subnets[{i}]",
                        f"{name!r} is not one of vpc.subnets "
                        f"({', '.join(map(str, subnets))}); name a subnet listed there",
                    )
                )
        if len(names) != 2:
            problems.append(
                (
                    "client_vpn.subnets",
                    f"has {len(names)} subnet(s); give two, in two availability "
                    "zones (the seed associates one per zone), or leave it out to pick them",
                )
            )
        elif len(known) == 2 and (known[0] == known[1] or subnets[known[0]] == subnets[known[1]]):
            problems.append(
                (
                    "client_vpn.subnets",
                    f"{known[0]} and {known[1]} are in the same availability zone "
                    f"{subnets[known[0]]}; a Client VPN endpoint takes one subnet per zone",
                )
            )
    if isinstance(get("connect_handler"), dict) and not isinstance(get("client_vpn"), dict):
        problems.append(
            ("connect_handler", "needs a client_vpn section (phase 4): the handler is enabled on that endpoint")
        )
    return problems


class Thresholds(_Model):
    """When a health check is OK, WARN or FAIL."""

    min_tunnels_up: int = Field(default=2, ge=1, le=2)  # per connection: fewer is WARN, none is FAIL
    min_accepted_routes: int = Field(default=1, ge=0)  # per UP tunnel: fewer is WARN (all tunnels: FAIL)
    dns_latency_warn_ms: float = Field(default=250.0, gt=0)
    # a tunnel that dropped more often in the look-back window is flapping: WARN
    max_drops: int = Field(default=2, ge=0)
    cert_warn_days: int = Field(default=30, ge=1)  # a Client VPN certificate expiring sooner: WARN (expired: FAIL)


class Notify(_Model):
    """params/healthcheck.yaml `notify:`: where the health check's alerts go (hybridnet.notify)."""

    # SNS topic: a message when the check turns WARN or FAIL, and when it returns to OK.
    # A standard topic (a FIFO one needs a message group id); "" sends nothing.
    sns_topic_arn: str = Field(default="", pattern=r"^(arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256})?$")


class HealthCheck(_Model):
    """params/healthcheck.yaml: what the scheduled health check looks at."""

    params: str = "lab.yaml"  # the parameter set of the stack to check, relative to this file
    lookback_minutes: int = Field(60, ge=5, le=1440)
    vpn_connections: list[str] = Field(default_factory=list)  # empty: the stack's (by tag)
    client_vpn_endpoints: list[str] = Field(default_factory=list)  # empty: the stack's
    dns_probes: bool = True  # the phase-3 resolution matrix
    thresholds: Thresholds = Thresholds()
    notify: Notify = Notify()

    @field_validator("vpn_connections")
    @classmethod
    def _vpn_ids(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.fullmatch(r"vpn-[0-9a-f]{8,17}", v)]
        if bad:
            raise ValueError(f"{bad} are not VPN connection ids like vpn-0123456789abcdef0")
        return values

    @field_validator("client_vpn_endpoints")
    @classmethod
    def _endpoint_ids(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.fullmatch(r"cvpn-endpoint-[0-9a-f]{8,17}", v)]
        if bad:
            raise ValueError(f"{bad} are not Client VPN endpoint ids like cvpn-endpoint-0123456789abcdef0")
        return values


def load_model(model: type[_M], path: str | Path, example: str) -> _M:
    """A settings file (YAML) validated into `model`; every problem at once, each
    naming its field, as one ParamsError. `example`: where a good one is."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(str(path), [("(file)", f"not found; {example}")]) from None
    except yaml.YAMLError as exc:
        raise ParamsError(str(path), [("(file)", f"is not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ParamsError(str(path), [("(top level)", "expected a mapping of keys to values")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ParamsError(str(path), _problems(exc)) from None


def load_healthcheck(path: str | Path) -> tuple[HealthCheck, Params]:
    """The health check's settings and the parameter set they point at."""
    check = load_model(HealthCheck, path, "e.g. params/healthcheck.yaml")
    return check, load_params(Path(path).parent / check.params)


def parse_params(data: dict, source: str = "params") -> Params:
    """Validate a mapping; raise ParamsError listing every problem."""
    if not isinstance(data, dict):
        raise ParamsError(source, [("(top level)", "expected a mapping of keys to values")])
    problems = _cross_problems(data)
    try:
        params = Params.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc) + problems
    if problems:
        raise ParamsError(source, problems)
    return params


def load_params(path: str | Path, overrides: dict | None = None) -> Params:
    """Read a YAML parameter file, apply top-level overrides, validate."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(
            str(path), [("(file)", "not found; pass a file under params/, e.g. params/lab.yaml")]
        ) from None
    except yaml.YAMLError as exc:
        raise ParamsError(str(path), [("(file)", f"is not valid YAML: {exc}")]) from None
    data = dict(data or {})
    data.update(overrides or {})
    return parse_params(data, str(path))
