"""Phase 2: the on-prem router's configuration, generated from the VPN connection.

Reads the connection phase 1 made (its CustomerGatewayConfiguration and
tunnel options, as AWS returns them), writes a ready-to-run router setup for
each target (the seed's strongSwan + Quagga script, FRR, swanctl, and the
lab's data-plane variant), lints it, and reports tunnel status as AWS sees it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .. import hosts
from ..aws import AwsContext, paginate
from ..render import TARGETS, RouterSite, lint_router, render_files, render_router
from ..render.apply import apply_commands, psk_parameter_name, psk_placeholder, with_placeholder_secrets
from ..vpnconfig import VpnConnectionConfig, apply_tunnel_options, parse_customer_gateway_configuration
from ..waiting import poll
from . import HostSteps, nothing_here, store_secret
from .tgw_attachment import find_vpn_connection, mask_secret, number_tunnels

NOTEBOOK = "02_router_config"
PHASE = "2"


def load_connection(ctx: AwsContext) -> tuple[dict, VpnConnectionConfig]:
    """The phase-1 VPN connection and its parsed, option-complete configuration."""
    vpn = find_vpn_connection(ctx)
    cfg = parse_customer_gateway_configuration(
        vpn["CustomerGatewayConfiguration"], first_inside_cidr=ctx.params.vpn.tunnels[0].inside_cidr
    )
    cfg = apply_tunnel_options(cfg, vpn.get("Options", {}).get("TunnelOptions"))
    return vpn, cfg


def router_site(ctx: AwsContext) -> RouterSite:
    p = ctx.params
    return RouterSite(
        cgw_asn=p.customer_gateway.bgp_asn,
        onprem_cidrs=[p.onprem.cidr],
        vpc_cidrs=[p.vpc.cidr],
        cgw_local_ip=p.customer_gateway.local_ip,
    )


def tunnels_frame(cfg: VpnConnectionConfig) -> pd.DataFrame:
    rows = []
    for t in cfg.tunnels:
        rows.append(
            {
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
            }
        )
    return pd.DataFrame(rows).set_index("tunnel")


def router_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "router"


def write_router_configs(
    cfg: VpnConnectionConfig, site: RouterSite, run_dir: Path, targets: tuple[str, ...] = tuple(TARGETS)
) -> pd.DataFrame:
    """Render every target under <run>/router/<target>/; one row per file."""
    rows = []
    for target in targets:
        out = router_dir(run_dir) / target
        for path in render_router(cfg, site, target, out):
            rows.append(
                {
                    "target": target,
                    "file": str(path.relative_to(router_dir(run_dir))),
                    "mode": oct(path.stat().st_mode & 0o777),
                    "bytes": path.stat().st_size,
                }
            )
    return pd.DataFrame(rows)


def lint_frame(cfg: VpnConnectionConfig, site: RouterSite, run_dir: Path) -> pd.DataFrame:
    findings = lint_router(cfg, site, router_dir(run_dir))
    columns = ["severity", "tunnel", "field", "message", "fix"]
    return pd.DataFrame([asdict(f) for f in findings], columns=columns)


def tunnel_status_frame(ctx: AwsContext, vpn_id: str) -> pd.DataFrame:
    """Tunnel status as AWS reports it (DescribeVpnConnections VgwTelemetry)."""
    vpn = ctx.client("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]
    rows = [
        {
            "outside_ip": t["OutsideIpAddress"],
            "status": t["Status"],
            "status_message": t["StatusMessage"],
            "accepted_routes": t["AcceptedRouteCount"],
        }
        for t in vpn.get("VgwTelemetry", [])
    ]
    return pd.DataFrame(rows, columns=["outside_ip", "status", "status_message", "accepted_routes"])


STEP_COLUMNS = ["step", "ok", "detail"]
# Seconds to wait for the router to be an online managed instance: an instance
# (or the lab's network) that has just come up needs a moment to check in.
ROUTER_ONLINE_S = {"emulator": 30.0, "aws": 120.0}
TUNNELS_UP_S = {"emulator": 30.0, "aws": 600.0}
SETUP_TIMEOUT_S = 600


def store_pre_shared_keys(ctx: AwsContext, vpn: dict, cfg: VpnConnectionConfig) -> dict[str, str]:
    """Each tunnel's pre-shared key as a Parameter Store SecureString (written only
    when it changed), so that the router reads it with its instance profile and
    the key never travels in a command. Returns placeholder -> parameter name."""
    secrets = {}
    for tunnel in cfg.tunnels:
        name = psk_parameter_name(ctx.params.name, vpn["VpnConnectionId"], tunnel.number)
        store_secret(
            ctx,
            name,
            tunnel.ike.pre_shared_key.get_secret_value(),
            PHASE,
            "router-psk",
            f"pre-shared key of tunnel {tunnel.number} of {vpn['VpnConnectionId']}",
        )
        secrets[psk_placeholder(tunnel.number)] = name
    # A replaced VPN connection's keys (phase 1 with allow_replace) are no one's any more.
    ssm = ctx.client("ssm")
    for parameter in paginate(
        ssm,
        "describe_parameters",
        "Parameters",
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [f"/hybridnet/{ctx.params.name}/vpn-"]}],
    ):
        if parameter["Name"].endswith("/pre-shared-key") and parameter["Name"] not in secrets.values():
            ssm.delete_parameter(Name=parameter["Name"])
    return secrets


def tunnels_up(ctx: AwsContext, vpn_id: str) -> bool:
    """Every tunnel UP with at least one accepted route, as AWS reports it."""
    vpn = ctx.client("ec2").describe_vpn_connections(VpnConnectionIds=[vpn_id])["VpnConnections"][0]
    telemetry = vpn.get("VgwTelemetry", [])
    return bool(telemetry) and all(t["Status"] == "UP" and t["AcceptedRouteCount"] > 0 for t in telemetry)


def deploy(ctx: AwsContext, vpn: dict, cfg: VpnConnectionConfig) -> HostSteps:
    """With router.apply: the chosen target's setup to hosts.router through SSM
    Run Command, run there, then AWS's view of the tunnels awaited. Otherwise
    say what to do with the generated files. Never raises for a router that
    cannot be reached or a setup that fails: the table says which step and why."""
    p = ctx.params
    target = p.router.target
    if not p.router.apply:
        table = nothing_here(
            "router.apply is false (a production router is changed only on purpose)",
            f"copy router/{target}/ to the customer gateway and run its setup script as root, "
            "or set router.apply: true to send it through SSM; tunnels stay DOWN until a "
            "router answers",
        )
        return HostSteps(False, "router.apply: false", table)
    started = time.monotonic()
    rows: list[dict] = []

    def step(name: str, ok: bool, detail: str) -> bool:
        rows.append({"step": name, "ok": ok, "detail": detail})
        return ok

    plane = hosts.plane(ctx)
    why = plane.wait_online("router", ROUTER_ONLINE_S[p.target])
    router = p.hosts.router  # configured when wait_online finds it online (why is None)
    if step("router online in SSM", why is None, why or f"hosts.router {router.instance if router else '-'}: online"):
        secrets = store_pre_shared_keys(ctx, vpn, cfg)
        step(
            "pre-shared keys in Parameter Store",
            True,
            f"{len(secrets)} SecureString parameters: {', '.join(secrets.values())}",
        )
        files = render_files(with_placeholder_secrets(cfg), router_site(ctx), target)
        script = next(f.name for f in files if f.name.startswith("setup-router"))
        done = plane.run("router", apply_commands(files, script, secrets, p.region), timeout=SETUP_TIMEOUT_S)
        if step(f"{target}/{script} on the router", done.ok, done.outcome):
            up = poll(
                lambda: tunnels_up(ctx, vpn["VpnConnectionId"]),
                timeout=TUNNELS_UP_S[p.target],
                interval=min(ctx.waiter_delay, 5),
            )
            step(
                "tunnels UP (AWS's view)",
                bool(up),
                "both tunnels UP, routes accepted"
                if up
                else f"not within {TUNNELS_UP_S[p.target]:.0f} s: see the router's view below",
            )
    ok = all(r["ok"] for r in rows)
    return HostSteps(
        ok,
        "applied through SSM" if ok else next(r["detail"] for r in rows if not r["ok"]),
        pd.DataFrame(rows, columns=STEP_COLUMNS),
        timings={"apply_s": round(time.monotonic() - started, 1)},
    )


# What the router itself says: strongSwan (swanctl, or ipsec for the ipsec.conf
# targets) and BGP (FRR's JSON; Quagga's older command). One SSM command.
ROUTER_VIEW_COMMANDS = [
    "echo '--- ike'",
    "swanctl --list-sas 2>/dev/null || ipsec statusall 2>/dev/null || echo 'no strongSwan answers'",
    "echo '--- bgp'",
    "vtysh -c 'show bgp ipv4 unicast summary json' 2>/dev/null || vtysh -c 'show ip bgp summary json' "
    "2>/dev/null || echo '{}'",
]
VIEW_COLUMNS = ["tunnel", "aws_outside_ip", "ike_sa", "child_sas", "bgp_peer", "bgp_state", "prefixes_received"]
_SWANCTL_IKE = re.compile(r"^(\S+): #\d+, (\w+), IKEv\d", re.M)
_STROKE_IKE = re.compile(r"^\s*(\S+)\[\d+\]: (\w+)", re.M)


def _ike_by_remote(text: str) -> dict[str, dict]:
    """remote outside IP -> {state, children}, from `swanctl --list-sas` or `ipsec statusall`."""
    found: dict[str, dict] = {}
    for block in re.split(r"(?m)^(?=\S+: #\d+, )", text):  # swanctl: one block per IKE SA
        head = _SWANCTL_IKE.match(block)
        remote = re.search(r"remote\s+'[^']*' @ ([\d.]+)", block)
        if head and remote:
            children = re.findall(r"^\s+(\S+): #\d+, reqid \d+, (\w+)", block, re.M)
            found[remote.group(1)] = {
                "state": head.group(2),
                "children": ", ".join(f"{n} {s}" for n, s in children) or "none",
            }
    for name, state in _STROKE_IKE.findall(text):  # ipsec statusall: "Tunnel1[1]: ESTABLISHED ..., a[..]...b[..]"
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(f"{name}[")), "")
        peers = re.findall(r"\.\.\.([\d.]+)\[", line)
        children = re.findall(rf"^\s*{re.escape(name)}{{\d+}}:\s+(\w+)", text, re.M)
        if peers:
            found.setdefault(peers[0], {"state": state, "children": ", ".join(children) or "none"})
    return found


def router_view(ctx: AwsContext, vpn: dict) -> tuple[pd.DataFrame, str]:
    """The router's own view, per tunnel: its IKE SA and child SAs, and its BGP
    session with AWS's inside address; and where it came from."""
    done = hosts.plane(ctx).run("router", ROUTER_VIEW_COMMANDS, timeout=30)
    if not done.ok:
        return pd.DataFrame(columns=VIEW_COLUMNS), f"router not reachable: {done.reason}"
    ike_text, _, bgp_text = done.stdout.partition("--- bgp")
    sas = _ike_by_remote(ike_text)
    try:
        summary = json.loads(bgp_text.strip() or "{}")
    except ValueError:
        summary = {}
    peers = summary.get("ipv4Unicast", summary).get("peers", {})
    rows = []
    for tunnel in number_tunnels(ctx, vpn):
        sa = sas.get(tunnel.outside_ip, {})
        peer = peers.get(tunnel.aws_inside_ip, {})
        rows.append(
            {
                "tunnel": tunnel.number,
                "aws_outside_ip": tunnel.outside_ip,
                "ike_sa": sa.get("state", "none"),
                "child_sas": sa.get("children", "-"),
                "bgp_peer": tunnel.aws_inside_ip,
                "bgp_state": peer.get("state", "no session"),
                "prefixes_received": int(peer.get("pfxRcd", peer.get("prefixReceivedCount", 0)) or 0),
            }
        )
    return pd.DataFrame(
        rows, columns=VIEW_COLUMNS
    ), f"the router's own view: hosts.router {done.host} ({done.instance_id}), through SSM"


def result(
    vpn: dict, status: pd.DataFrame, deployment: HostSteps, view: pd.DataFrame, run_dir: Path, target: str
) -> dict:
    return {
        "vpn_connection_id": vpn["VpnConnectionId"],
        "router_dir": str(router_dir(run_dir)),
        "target": target,
        "applied": deployment.ok,
        "apply_reason": deployment.reason,
        "apply_steps": deployment.table.to_dict(orient="records"),
        "timings": deployment.timings,
        "router_view": view.to_dict(orient="records"),
        "tunnels": status.to_dict(orient="records"),
    }
