"""Where the tunnels really run: the local lab, or nowhere we control.

With the embedded emulator and root, the lab plays the customer gateway (and
the AWS side, configured from the emulator's state). Against a real account
the engineer copies the generated router setup to the real router; without
root the emulator runs alone and its tunnels stay DOWN. The session factory
picks one (AwsContext.data_plane); phases ask it instead of the target.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd

LAB = "lab"
LAB_DIR = Path("/run/hybridnet-lab")
LAB_PROGRAMS = ("ip", "swanctl", "vtysh", "/usr/lib/ipsec/charon", "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd")


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "not root (the lab needs network namespaces)"
    missing = [p for p in LAB_PROGRAMS if not (os.path.exists(p) if p.startswith("/") else shutil.which(p))]
    if missing:
        return f"lab programs missing: {', '.join(missing)} (run scripts/setup.sh as root)"
    return None


def choose(target: str, lab_mode: str) -> tuple[str | None, str]:
    """(data plane, why) for a target and the params' `lab` setting (auto|on|off)."""
    if target != "emulator":
        return None, "a real account: the router you configure is the data plane"
    if lab_mode == "off":
        return None, "lab: off in the params"
    reason = lab_unavailable_reason()
    if reason is None:
        return LAB, "the local lab (root, daemons installed)"
    if lab_mode == "on":
        raise RuntimeError(f"lab: on in the params, but the lab cannot run: {reason}")
    return None, f"no lab running: {reason}"


def lab_spec(ctx, vpn: dict):
    """The lab's AWS side, from what the API says (not from the generated router files)."""
    from .lab.fromaws import spec_from_aws

    ec2 = ctx.client("ec2")
    cgw = ec2.describe_customer_gateways(CustomerGatewayIds=[vpn["CustomerGatewayId"]])["CustomerGateways"][0]
    tgw = ec2.describe_transit_gateways(TransitGatewayIds=[vpn["TransitGatewayId"]])["TransitGateways"][0]
    attachments = ec2.describe_transit_gateway_attachments(Filters=[
        {"Name": "transit-gateway-id", "Values": [vpn["TransitGatewayId"]]},
        {"Name": "resource-type", "Values": ["vpc"]}])["TransitGatewayAttachments"]
    vpc_ids = sorted({a["ResourceId"] for a in attachments if a["State"] != "deleted"})
    vpc_cidrs = [v["CidrBlock"] for v in ec2.describe_vpcs(VpcIds=vpc_ids)["Vpcs"]] if vpc_ids else []
    return spec_from_aws(vpn, cgw, tgw["Options"]["AmazonSideAsn"], vpc_cidrs or [ctx.params.vpc.cidr],
                         [ctx.params.onprem.cidr])


def lab_up(ctx, vpn: dict, cgw_dir: Path, log_dir: Path, timeout: float = 20.0) -> dict:
    """Start the lab with the generated CGW files, register it with the emulator
    and wait until AWS's own API reports both tunnels UP. Returns timings."""
    from . import emulator, lab

    started = time.monotonic()
    spec = lab_spec(ctx, vpn)
    lab.up(spec, cgw_dir, LAB_DIR, log_dir=log_dir)
    timings = {"daemons_s": time.monotonic() - started}
    try:
        lab.wait_until_up(LAB_DIR, timeout=timeout, require_prefixes=True)
    except TimeoutError as exc:
        timings["error"] = str(exc)  # reported below as DOWN tunnels, with the lab's logs
    timings["tunnels_and_bgp_s"] = time.monotonic() - started
    emulator.admin_call(ctx.endpoint_url, "POST", "data-plane", {"lab_dir": str(LAB_DIR), "region": ctx.params.region})
    ec2 = ctx.client("ec2")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "error" not in timings:
        telemetry = ec2.describe_vpn_connections(VpnConnectionIds=[vpn["VpnConnectionId"]])[
            "VpnConnections"][0]["VgwTelemetry"]
        if all(t["Status"] == "UP" and t["AcceptedRouteCount"] > 0 for t in telemetry):
            break
        time.sleep(0.2)
    timings["telemetry_s"] = time.monotonic() - started
    return timings


def lab_status_frame() -> pd.DataFrame:
    """Per tunnel: IPsec on both ends, BGP on both ends, prefixes learned."""
    from . import lab

    status = lab.status(LAB_DIR)
    rows = []
    for number, tunnel in enumerate(status.get("tunnels", []), start=1):
        aws_peer = status["bgp"].get("aws", {}).get(tunnel["cgw_inside_ip"], {})
        cgw_peer = status["bgp"].get("cgw", {}).get(tunnel["vgw_inside_ip"], {})
        rows.append({
            "tunnel": number,
            "aws_outside_ip": tunnel["vgw_outside_ip"],
            "ipsec_aws_side": tunnel["status"],
            "ipsec_cgw_side": tunnel["cgw"]["status"],
            "bgp_aws_side": aws_peer.get("state", "-"),
            "bgp_cgw_side": cgw_peer.get("state", "-"),
            "prefixes_aws_learned": aws_peer.get("prefixes_received", 0),
            "prefixes_cgw_learned": cgw_peer.get("prefixes_received", 0),
        })
    return pd.DataFrame(rows)


def lab_running() -> bool:
    return lab_unavailable_reason() is None and (LAB_DIR / "state.json").exists()


def lab_down() -> dict:
    from . import lab

    return lab.down(LAB_DIR)
