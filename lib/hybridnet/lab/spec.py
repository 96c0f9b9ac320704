"""Inputs of the lab's AWS side: what DescribeVpnConnections says about the tunnels.

In the real flow these values come from the AWS emulator, independently of the
customer-gateway config generator, so a generator bug shows up as a tunnel
that does not come up rather than being copied to both ends.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DOCUMENTATION_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")


def _in_documentation_range(address: ipaddress.IPv4Address, field: str) -> ipaddress.IPv4Address:
    # Lab safety: "public" addresses must never be real internet addresses.
    if not any(address in net for net in DOCUMENTATION_RANGES):
        raise ValueError(
            f"{field} {address}: the lab only uses documentation ranges "
            "192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 as public addresses"
        )
    return address


def _ikev1_only() -> list[Literal[1, 2]]:
    return [1]


class TunnelSpec(BaseModel):
    """One VPN tunnel as AWS describes it (outside/inside addresses, PSK, crypto)."""

    model_config = ConfigDict(frozen=True)

    vgw_outside_ip: ipaddress.IPv4Address
    cgw_outside_ip: ipaddress.IPv4Address
    vgw_inside_ip: ipaddress.IPv4Address
    cgw_inside_ip: ipaddress.IPv4Address
    inside_cidr: ipaddress.IPv4Network
    psk: SecretStr
    ike_versions: list[Literal[1, 2]] = Field(default_factory=_ikev1_only)
    ike_proposals: list[str] = Field(default_factory=lambda: ["aes128-sha1-modp1024"])
    esp_proposals: list[str] = Field(default_factory=lambda: ["aes128-sha1-modp1024"])
    ike_lifetime_s: int = Field(default=28800, ge=900, le=28800)
    esp_lifetime_s: int = Field(default=3600, ge=900, le=3600)
    dpd_interval_s: int = Field(default=10, ge=1)
    dpd_timeout_s: int = Field(default=30, ge=1)

    @field_validator("vgw_outside_ip", "cgw_outside_ip")
    @classmethod
    def _outside_documentation(cls, value, info):
        return _in_documentation_range(value, info.field_name)

    @model_validator(mode="after")
    def _inside_addresses(self) -> TunnelSpec:
        if self.inside_cidr.prefixlen != 30 or not self.inside_cidr.subnet_of(LINK_LOCAL):
            raise ValueError(f"inside_cidr {self.inside_cidr}: must be a /30 inside 169.254.0.0/16")
        for name in ("vgw_inside_ip", "cgw_inside_ip"):
            address = getattr(self, name)
            if address not in self.inside_cidr or address in (
                self.inside_cidr.network_address,
                self.inside_cidr.broadcast_address,
            ):
                raise ValueError(f"{name} {address}: not a host address of inside_cidr {self.inside_cidr}")
        if self.vgw_inside_ip == self.cgw_inside_ip:
            raise ValueError("vgw_inside_ip and cgw_inside_ip must differ")
        return self

    @property
    def vgw_inside_interface(self) -> str:
        return f"{self.vgw_inside_ip}/{self.inside_cidr.prefixlen}"

    @property
    def swanctl_version(self) -> int:
        # swanctl: 1 = IKEv1, 2 = IKEv2, 0 = accept either
        return self.ike_versions[0] if len(set(self.ike_versions)) == 1 else 0


class LabSpec(BaseModel):
    """Everything the AWS side of the lab needs, as plain values."""

    model_config = ConfigDict(frozen=True)

    tunnels: list[TunnelSpec] = Field(min_length=1, max_length=2)
    tgw_asn: int = Field(ge=1, le=4294967295)
    cgw_asn: int = Field(ge=1, le=4294967295)
    vpc_cidrs: list[ipaddress.IPv4Network] = Field(min_length=1)
    onprem_cidrs: list[ipaddress.IPv4Network] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> LabSpec:
        outside = [t.vgw_outside_ip for t in self.tunnels]
        if len(set(outside)) != len(outside):
            raise ValueError("tunnels: vgw_outside_ip values must differ")
        if len({t.cgw_outside_ip for t in self.tunnels}) != 1:
            raise ValueError("tunnels: both tunnels must end on the same customer gateway (cgw_outside_ip)")
        if self.tgw_asn == self.cgw_asn:
            raise ValueError("tgw_asn and cgw_asn must differ (eBGP)")
        return self

    @property
    def cgw_outside_ip(self) -> ipaddress.IPv4Address:
        return self.tunnels[0].cgw_outside_ip

    @classmethod
    def seed(cls) -> LabSpec:
        """The seed lab's values (AnyCompany, ap-northeast-2)."""
        # Validated from plain values (as from JSON), so the strings become addresses, networks and a SecretStr.
        common = {"cgw_outside_ip": "198.51.100.10", "ike_versions": [1]}
        return cls.model_validate(
            {
                "tunnels": [
                    {
                        "vgw_outside_ip": "203.0.113.11",
                        "vgw_inside_ip": "169.254.11.1",
                        "cgw_inside_ip": "169.254.11.2",
                        "inside_cidr": "169.254.11.0/30",
                        "psk": "strongswan_awsvpn1",
                        **common,
                    },
                    {
                        "vgw_outside_ip": "203.0.113.12",
                        "vgw_inside_ip": "169.254.12.1",
                        "cgw_inside_ip": "169.254.12.2",
                        "inside_cidr": "169.254.12.0/30",
                        "psk": "strongswan_awsvpn2",
                        **common,
                    },
                ],
                "tgw_asn": 64512,
                "cgw_asn": 65016,
                "vpc_cidrs": ["10.0.0.0/16"],
                "onprem_cidrs": ["192.168.0.0/16"],
            }
        )
