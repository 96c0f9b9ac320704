"""The AWS side of both tunnels: swanctl.conf and bgpd.conf from the LabSpec.

Rendered only from the LabSpec (what AWS says about the VPN connection), never
from the customer gateway's generated files: if the generator gets a value
wrong, the two ends disagree and the tunnel stays down, as it would on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

from .render import render
from .spec import LabSpec, TunnelSpec

# AWS's default phase 2 rekey margin (RekeyMarginTimeSeconds)
AWS_REKEY_MARGIN_S = 270
# AWS BGP timers: keepalive 10 s, hold time 30 s
BGP_KEEPALIVE_S = 10
BGP_HOLD_TIME_S = 30
# Reconnect quickly when the first TCP SYN raced the tunnel's set-up
BGP_CONNECT_RETRY_S = 1


@dataclass(frozen=True)
class AwsTunnel:
    """A tunnel as the AWS side names it: tunnel1, tunnel2 (in DescribeVpnConnections order)."""

    name: str
    spec: TunnelSpec

    @property
    def esp_rekey_s(self) -> int:
        return max(self.spec.esp_lifetime_s - AWS_REKEY_MARGIN_S, 60)


def aws_tunnels(spec: LabSpec) -> list[AwsTunnel]:
    return [AwsTunnel(f"tunnel{i}", t) for i, t in enumerate(spec.tunnels, start=1)]


def render_swanctl_conf(spec: LabSpec) -> str:
    return render(
        "aws-swanctl.conf.j2",
        tunnels=aws_tunnels(spec),
        vpc_cidrs=[str(c) for c in spec.vpc_cidrs],
        onprem_cidrs=[str(c) for c in spec.onprem_cidrs],
    )


def render_bgpd_conf(spec: LabSpec, hostname: str = "aws-tgw") -> str:
    return render(
        "aws-bgpd.conf.j2",
        hostname=hostname,
        tgw_asn=spec.tgw_asn,
        cgw_asn=spec.cgw_asn,
        router_id=spec.tunnels[0].vgw_inside_ip,
        tunnels=aws_tunnels(spec),
        vpc_cidrs=[str(c) for c in spec.vpc_cidrs],
        keepalive_s=BGP_KEEPALIVE_S,
        hold_time_s=BGP_HOLD_TIME_S,
        connect_retry_s=BGP_CONNECT_RETRY_S,
    )


def aws_ipsec0_addresses(spec: LabSpec) -> list[str]:
    """The VGW inside addresses, put on the AWS charon's ipsec0."""
    return [t.vgw_inside_interface for t in spec.tunnels]
