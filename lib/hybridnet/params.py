"""Load and validate a parameter set (params/*.yaml) into one model.

Validation runs before any AWS call and reports every bad field at once, each
with the field's path and what would be valid, so that a typo never gets as
far as a half-created VPN.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

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

from .vpnrules import (
    ENCRYPTION,
    IKE_VERSIONS,
    INTEGRITY,
    PHASE1_DH_GROUPS,
    PHASE2_DH_GROUPS,
    inside_cidr_problem,
    psk_problem,
)


class ParamsError(ValueError):
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


class Subnet(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    cidr: Cidr
    az: str


class Vpc(_Model):
    cidr: Cidr
    subnets: list[Subnet] = Field(min_length=2)

    @model_validator(mode="after")
    def _subnets_fit(self) -> "Vpc":
        vpc = ipaddress.ip_network(self.cidr)
        problems = []
        nets = []
        for i, subnet in enumerate(self.subnets):
            net = ipaddress.ip_network(subnet.cidr)
            if not net.subnet_of(vpc):
                problems.append((f"subnets[{i}].cidr", f"{subnet.cidr} is outside the VPC CIDR {self.cidr}"))
            for j, other in nets:
                if net.overlaps(other):
                    problems.append((f"subnets[{i}].cidr", f"{subnet.cidr} overlaps subnets[{j}].cidr {other}; "
                                     "give each subnet its own block"))
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
            raise ValueError(
                f"{value} is not a private ASN; use 64512-65534 or 4200000000-4294967294"
            )
        return value


class OnPrem(_Model):
    cidr: Cidr
    dns_server: IPv4
    domain: DnsName
    hosts: dict[str, IPv4] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _hosts_inside(self) -> "OnPrem":
        net = ipaddress.ip_network(self.cidr)
        outside = [
            f"{name} {ip}" for name, ip in {"dns_server": self.dns_server, **self.hosts}.items()
            if ipaddress.ip_address(ip) not in net
        ]
        if outside:
            raise ValueError(f"{', '.join(outside)} outside the on-prem CIDR {self.cidr}")
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
    def _distinct_inside(self) -> "Vpn":
        cidrs = [t.inside_cidr for t in self.tunnels if t.inside_cidr]
        if len(cidrs) != len(set(cidrs)):
            raise _CrossCheckFailed([(
                "tunnels[1].inside_cidr", "equals tunnels[0].inside_cidr; each tunnel needs its own /30"
            )])
        return self


class Dns(_Model):
    private_zone: DnsName
    records: dict[str, IPv4] = Field(default_factory=dict)
    inbound_ips: list[IPv4] = Field(default_factory=list)
    outbound_ips: list[IPv4] = Field(default_factory=list)


class ClientVpn(_Model):
    client_cidr: Cidr
    server_name: DnsName = "server.hybridnet.lab"
    client_name: DnsName = "client1.hybridnet.lab"
    split_tunnel: bool = True


class Params(_Model):
    target: Literal["emulator", "aws"] = "emulator"
    region: str
    profile: str | None = None
    name: str = Field(default="hybridnet", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    # The local lab of real daemons (emulator target only): auto = when root
    # and installed, on = required, off = never.
    lab: Literal["auto", "on", "off"] = "auto"
    vpc: Vpc
    transit_gateway: TransitGateway = TransitGateway()
    onprem: OnPrem
    customer_gateway: CustomerGateway
    vpn: Vpn
    dns: Dns | None = None
    client_vpn: ClientVpn | None = None

    @field_validator("region")
    @classmethod
    def _region_exists(cls, value: str) -> str:
        regions = known_regions()
        if value not in regions:
            near = [r for r in regions if r.split("-")[0] == value.split("-")[0]][:6]
            raise ValueError(f"{value!r} is not an AWS region; e.g. {', '.join(near or regions[:6])}")
        return value

    @property
    def tags(self) -> dict[str, str]:
        return {"hybridnet:stack": self.name}


class _CrossCheckFailed(ValueError):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


def known_regions() -> list[str]:
    """Regions botocore knows for EC2 (read from its bundled data, offline)."""
    import boto3

    return sorted(boto3.session.Session().get_available_regions("ec2"))


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
    problems = []
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
        problems.append(("onprem.cidr", f"{onprem} overlaps the VPC CIDR {vpc}; "
                         "routes between them would be ambiguous"))
    tgw_asn = get("transit_gateway", "amazon_side_asn") or TransitGateway().amazon_side_asn
    if get("customer_gateway", "bgp_asn") == tgw_asn:
        problems.append(("customer_gateway.bgp_asn", f"equals the transit gateway's ASN {tgw_asn}; "
                         "eBGP needs a different ASN on each side"))
    if get("target") in (None, "emulator") and get("profile"):
        problems.append(("profile", "is only used with target: aws; remove it or set target: aws"))
    for key in ("inbound_ips", "outbound_ips"):
        for i, ip in enumerate(get("dns", key) or []):
            try:
                inside = vpc is None or ipaddress.ip_address(ip) in vpc
            except ValueError:
                continue
            if not inside:
                problems.append((f"dns.{key}[{i}]", f"{ip} is outside the VPC CIDR {vpc}"))
    client = _net(get("client_vpn", "client_cidr"))
    if client:
        if not 12 <= client.prefixlen <= 22:
            problems.append(("client_vpn.client_cidr", f"{client} must be between /12 and /22"))
        for other, field in ((vpc, "vpc.cidr"), (onprem, "onprem.cidr")):
            if other and client.overlaps(other):
                problems.append(("client_vpn.client_cidr", f"{client} overlaps {field} {other}"))
    return problems


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
        raise ParamsError(str(path), [("(file)", "not found; pass a file under params/, e.g. params/lab.yaml")]) from None
    except yaml.YAMLError as exc:
        raise ParamsError(str(path), [("(file)", f"is not valid YAML: {exc}")]) from None
    data = dict(data or {})
    data.update(overrides or {})
    return parse_params(data, str(path))
