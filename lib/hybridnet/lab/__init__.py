"""The local lab: real strongSwan and FRR daemons in `hn-` network namespaces
playing both the AWS side and the on-prem side of the Site-to-Site VPN.

    state = up(LabSpec.seed(), cgw_dir, lab_dir, log_dir)
    wait_until_up(lab_dir)            # seconds until tunnels UP + BGP Established
    status(lab_dir)                   # {"tunnels": [...], "bgp": {...}, "routes": {...}}
    ping(lab_dir, "hn-idc", "10.0.10.10", src_ip="192.168.2.20")
    tunnel_down(lab_dir, 1); tunnel_restore(lab_dir, 1)
    down(lab_dir)

Needs root. Everything is plain data in and out.
"""

from .cgwside import CGW_FILES, CgwConfigError, load_cgw_dir
from .daemons import LabRuntime, start_daemon
from .identity import LAB_DIR
from .lifecycle import (
    LabError,
    LabState,
    down,
    exclusive_lab,
    lab_exists,
    ping,
    status,
    tunnel_down,
    tunnel_restore,
    up,
    wait_until_up,
)
from .spec import LabSpec, TunnelSpec
from .topology import AWS_NS, CGW_NS, IDC_NS, INET_NS, VPC_NS, Topology, build_topology

__all__ = [
    "AWS_NS",
    "CGW_NS",
    "CGW_FILES",
    "CgwConfigError",
    "LAB_DIR",
    "IDC_NS",
    "INET_NS",
    "LabError",
    "LabRuntime",
    "LabSpec",
    "LabState",
    "Topology",
    "TunnelSpec",
    "VPC_NS",
    "build_topology",
    "down",
    "exclusive_lab",
    "lab_exists",
    "load_cgw_dir",
    "ping",
    "start_daemon",
    "status",
    "tunnel_down",
    "tunnel_restore",
    "up",
    "wait_until_up",
]
