"""What the on-prem router needs beyond the VPN connection itself."""

from __future__ import annotations

import ipaddress
import re

from pydantic import BaseModel, ConfigDict, field_validator

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_ABS_PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")


def _cidr(value: str, field: str, index: int) -> str:
    try:
        net = ipaddress.IPv4Network(str(value).strip(), strict=True)
    except ValueError as exc:
        hint = ""
        try:
            hint = f"; did you mean {ipaddress.IPv4Network(str(value).strip(), strict=False)}?"
        except ValueError:
            pass
        raise ValueError(f"{field}[{index}] {value!r} is not an IPv4 network ({exc}){hint}") from None
    return str(net)


class RouterSite(BaseModel):
    """The on-prem side of the lab: what BGP announces and where the router is.

    * ``cgw_asn``: the router's BGP ASN; must equal the CGW ASN in the VPN
      configuration (the generators refuse a mismatch).
    * ``onprem_cidrs``: prefixes the router announces over BGP (``network``).
    * ``vpc_cidrs``: AWS-side prefixes (traffic selectors of the lab variant,
      overlap check of the linter).
    * ``cgw_local_ip``: address of the router's own outside interface (the
      private address behind a NAT/EIP); ``None`` means the CGW outside IP.
    * ``router_id``: BGP router-id; ``None`` means tunnel 1's CGW inside IP.
    * ``outside_interface``: the router's outside NIC (sysctls, XFRM underlay).
    * ``strongswan_dir``: where ipsec.conf/ipsec.secrets/ipsec-vti.sh go;
      ``None`` means the target's default (seed: /etc/strongswan as on Amazon
      Linux/RHEL; frr: /etc as on Debian/Ubuntu).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cgw_asn: int
    onprem_cidrs: list[str]
    vpc_cidrs: list[str]
    cgw_local_ip: str | None = None
    router_id: str | None = None
    outside_interface: str = "eth0"
    strongswan_dir: str | None = None

    @field_validator("cgw_asn")
    @classmethod
    def _asn(cls, v: int) -> int:
        if not 1 <= v <= 4294967295:
            raise ValueError(f"cgw_asn {v} must be in 1-4294967295")
        return v

    @field_validator("onprem_cidrs", "vpc_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str], info) -> list[str]:
        if not v:
            raise ValueError(f"{info.field_name} needs at least one IPv4 network")
        out = [_cidr(c, info.field_name, i) for i, c in enumerate(v)]
        return list(dict.fromkeys(out))

    @field_validator("cgw_local_ip", "router_id")
    @classmethod
    def _ip(cls, v: str | None, info) -> str | None:
        if v is None:
            return None
        try:
            return str(ipaddress.IPv4Address(str(v).strip()))
        except ValueError:
            raise ValueError(f"{info.field_name} {v!r} is not an IPv4 address") from None

    @field_validator("outside_interface")
    @classmethod
    def _ifname(cls, v: str) -> str:
        if not _IFNAME.match(v):
            raise ValueError(f"outside_interface {v!r} is not a Linux interface name")
        return v

    @field_validator("strongswan_dir")
    @classmethod
    def _dir(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.rstrip("/") or "/"
        if not _ABS_PATH.match(v) or ".." in v.split("/"):
            raise ValueError(f"strongswan_dir {v!r} must be a plain absolute path")
        return v
