"""The lab's namespaces as the seed's EC2 instances, for SSM Run Command.

On a real account the runbook reaches the customer gateway, the IDC's DNS
server and servers, and a VPC instance through SSM; offline the emulator runs
those commands "on" the lab's namespaces. This module says how: for each host,
the argv prefix the emulator puts before the command (``ip netns exec NS`` plus
the bind mounts that make the namespace look like that machine), and the path
whose existence means the host is up. The lab registers them with the emulator
(`POST /_hybridnet/ssm-instances`, over its unix socket) when it comes up.

What a command sees there is what it would see on the instance:
* the router (customer gateway): charon's /run (so ``swanctl --list-sas`` and
  ``ipsec statusall`` find its vici/stroke sockets) and FRR's run directory at
  /run/frr (so a plain ``vtysh -c 'show bgp summary json'`` works);
* the IDC's hosts and the VPC host: /etc/resolv.conf naming their resolver (the
  IDC's DNS server; the VPC resolver at the VPC CIDR base + 2), so ``dig`` or
  ``nslookup`` ask what the seed's instances ask.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .daemons import FRR_RUN_ROOT, LabRuntime, charon_paths
from .topology import CGW_NS, IDC_NS, VPC_NS

# Which namespace plays which host role (see hybridnet.params.HOST_ROLES).
ROLE_NAMESPACES = {"router": CGW_NS, "onprem_dns": IDC_NS, "onprem_client": IDC_NS, "vpc_client": VPC_NS}


def _prefix(ns: str, mounts: list[tuple[Path | str, Path | str]]) -> list[str]:
    if not mounts:
        return ["ip", "netns", "exec", ns]
    binds = " && ".join(f"mount --rbind {shlex.quote(str(src))} {shlex.quote(str(dst))}" for src, dst in mounts)
    # `ip netns exec` gives the command a private mount namespace: these binds
    # are the command's alone and vanish with it. Recursive (--rbind), so that
    # what was bound inside a folder comes along when the folder is bound.
    return ["ip", "netns", "exec", ns, "sh", "-c", f'{binds} && exec "$@"', "sh"]


def _resolv_conf(runtime: LabRuntime, ns: str, nameserver: str) -> Path:
    folder = runtime.lab_dir / f"{ns}-host"  # an <ns>-* folder of the lab dir: `lab down` sweeps it
    folder.mkdir(mode=0o755, exist_ok=True)
    path = folder / "resolv.conf"
    path.write_text(f"# the lab's {ns}: as the seed's instance is configured\nnameserver {nameserver}\n")
    path.chmod(0o644)
    return path


def registrations(lab_dir: Path | str, roles: dict[str, dict], resolvers: dict[str, str]) -> list[dict]:
    """The instances to register: `roles` maps a role to {"instance_id": ...} or
    {"name_tag": ...}; `resolvers` maps a namespace to its DNS server."""
    runtime = LabRuntime.load(lab_dir)
    out = []
    for role, instance in roles.items():
        ns = ROLE_NAMESPACES[role]
        mounts: list[tuple[Path | str, Path | str]] = []
        if ns == CGW_NS:
            paths = charon_paths(runtime, ns)
            frr_dir = paths["run"] / "frr"
            frr_dir.mkdir(mode=0o755, exist_ok=True)
            # everything that lives under /run first: once /run is covered it is hidden
            mounts = [(FRR_RUN_ROOT / ns, frr_dir), (paths["strongswan_conf"], "/etc/strongswan.conf"),
                      (paths["run"], "/run")]
        if ns in resolvers:
            mounts.insert(0, (_resolv_conf(runtime, ns, resolvers[ns]), "/etc/resolv.conf"))
        out.append({**instance, "argv_prefix": _prefix(ns, mounts), "alive_path": f"/run/netns/{ns}",
                    "computer_name": f"{role.replace('_', '-')}.lab"})
    return out


__all__ = ["ROLE_NAMESPACES", "registrations"]
