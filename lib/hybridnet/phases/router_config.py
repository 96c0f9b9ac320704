"""Phase 2: the on-prem router's configuration, generated from the VPN connection.

Reads the connection phase 1 made (its CustomerGatewayConfiguration and
tunnel options, as AWS returns them), writes a ready-to-run router setup for
each target (the seed's strongSwan + Quagga script, FRR, swanctl, and the
lab's data-plane variant), lints it, and reports tunnel status as AWS sees it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .. import dataplane
from ..aws import AwsContext
from ..render import TARGETS, RouterSite, lint_router, render_router
from ..vpnconfig import VpnConnectionConfig, apply_tunnel_options, parse_customer_gateway_configuration
from . import nothing_here
from .tgw_attachment import find_vpn_connection, mask_secret

NOTEBOOK = "02_router_config"


def load_connection(ctx: AwsContext) -> tuple[dict, VpnConnectionConfig]:
    """The phase-1 VPN connection and its parsed, option-complete configuration."""
    vpn = find_vpn_connection(ctx)
    cfg = parse_customer_gateway_configuration(
        vpn["CustomerGatewayConfiguration"], first_inside_cidr=ctx.params.vpn.tunnels[0].inside_cidr)
    cfg = apply_tunnel_options(cfg, vpn.get("Options", {}).get("TunnelOptions"))
    return vpn, cfg


def router_site(ctx: AwsContext) -> RouterSite:
    p = ctx.params
    return RouterSite(cgw_asn=p.customer_gateway.bgp_asn, onprem_cidrs=[p.onprem.cidr], vpc_cidrs=[p.vpc.cidr],
                      cgw_local_ip=p.customer_gateway.local_ip)


def tunnels_frame(cfg: VpnConnectionConfig) -> pd.DataFrame:
    rows = []
    for t in cfg.tunnels:
        rows.append({
            "tunnel": t.number,
            "aws_outside_ip": t.vgw_outside_ip,
            "cgw_outside_ip": t.cgw_outside_ip,
            "inside_cidr": t.inside_cidr,
            "aws_inside_ip": t.vgw_inside_ip,
            "cgw_inside_ip": t.cgw_inside_ip,
            "bgp": f"AS{t.cgw_asn} <-> AS{t.vgw_asn}, hold {t.bgp_hold_time} s",
            "ike": f"{'/'.join(t.ike.versions)} {t.ike.encryption_protocol} {t.ike.authentication_protocol} "
                   f"group{t.ike.pfs_group} {t.ike.lifetime} s",
            "esp": f"{t.ipsec.encryption_protocol} {t.ipsec.authentication_protocol} "
                   f"group{t.ipsec.pfs_group} {t.ipsec.lifetime} s",
            "pre_shared_key": mask_secret(t.ike.pre_shared_key.get_secret_value()),
        })
    return pd.DataFrame(rows).set_index("tunnel")


def router_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "router"


def write_router_configs(cfg: VpnConnectionConfig, site: RouterSite, run_dir: Path,
                         targets: tuple[str, ...] = tuple(TARGETS)) -> pd.DataFrame:
    """Render every target under <run>/router/<target>/; one row per file."""
    rows = []
    for target in targets:
        out = router_dir(run_dir) / target
        for path in render_router(cfg, site, target, out):
            rows.append({"target": target, "file": str(path.relative_to(router_dir(run_dir))),
                         "mode": oct(path.stat().st_mode & 0o777), "bytes": path.stat().st_size})
    return pd.DataFrame(rows)


def lint_frame(cfg: VpnConnectionConfig, site: RouterSite, run_dir: Path) -> pd.DataFrame:
    findings = lint_router(cfg, site, router_dir(run_dir))
    columns = ["severity", "tunnel", "field", "message", "fix"]
    return pd.DataFrame([asdict(f) for f in findings], columns=columns)


def tunnel_status_frame(ctx: AwsContext, vpn_id: str) -> pd.DataFrame:
    """Tunnel status as AWS reports it (DescribeVpnConnections VgwTelemetry)."""
    vpn = ctx.client("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]
    rows = [{"outside_ip": t["OutsideIpAddress"], "status": t["Status"], "status_message": t["StatusMessage"],
             "accepted_routes": t["AcceptedRouteCount"]} for t in vpn.get("VgwTelemetry", [])]
    return pd.DataFrame(rows, columns=["outside_ip", "status", "status_message", "accepted_routes"])


@dataclass
class Deployment:
    data_plane: str | None
    reason: str
    table: pd.DataFrame
    timings: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:  # shown as its table in a notebook
        return self.table._repr_html_()

    def __repr__(self) -> str:
        return self.table.to_string()


def deploy(ctx: AwsContext, vpn: dict, run_dir: Path) -> Deployment:
    """Run the generated lab setup on the lab's customer gateway, or say what to do."""
    if ctx.data_plane == dataplane.LAB:
        timings = dataplane.lab_up(ctx, vpn, router_dir(run_dir) / "lab", Path(run_dir) / "lab-logs")
        return Deployment(ctx.data_plane, ctx.data_plane_reason, dataplane.lab_status_frame(), timings)
    table = nothing_here(ctx.data_plane_reason, "copy router/frr/ (or seed/, swanctl/) to the customer gateway "
                                                "and run its setup script as root; tunnels stay DOWN until a "
                                                "router answers")
    return Deployment(None, ctx.data_plane_reason, table)


def result(vpn: dict, status: pd.DataFrame, deployment: Deployment, run_dir: Path) -> dict:
    return {
        "vpn_connection_id": vpn["VpnConnectionId"],
        "router_dir": str(router_dir(run_dir)),
        "data_plane": deployment.data_plane,
        "data_plane_reason": deployment.reason,
        "timings": deployment.timings,
        "tunnels": status.to_dict(orient="records"),
    }
