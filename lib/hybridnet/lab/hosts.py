"""The lab's namespaces as the seed's EC2 instances, for SSM Run Command.

On a real account the runbook reaches the customer gateway, the IDC's DNS
server and servers, and a VPC instance through SSM; offline the emulator runs
those commands "on" the lab's namespaces. This module says how: for each host,
the argv prefix the emulator puts before the command (``ip netns exec NS`` plus
the bind mounts that make the namespace look like that machine), the
environment of its commands, and the path whose existence means the host is
up. The lab registers them with the emulator (`POST /_hybridnet/ssm-instances`,
over its unix socket) when it comes up.

What a command sees there is what it would see on the instance:
* its own /etc/swanctl, /etc/frr, /etc/hybridnet and /var/lib/hybridnet (the
  host's folder under the lab dir), so a setup script installs files there as
  on a real router, and nothing of this machine's own configuration changes;
* `systemctl` that manages the host's own daemons: a shim first on PATH that
  asks the lab's agent (hybridnet.lab.twin, over a 0600 socket in the host's
  folder; which socket says which host) to start, restart or stop the units
  the lab can play (hybridnet.lab.hostinit);
* the AWS API at http://127.0.0.1:4510, piped to the emulator's instance
  socket (hybridnet.lab.endpoint), and the instance profile's credentials in
  the environment (the emulator adds them), so ``aws ssm get-parameter`` works
  as on an EC2 instance;
* the router (customer gateway): charon's /run (so ``swanctl --list-sas`` and
  ``ipsec statusall`` find its vici/stroke sockets) and FRR's run directory at
  /run/frr (so a plain ``vtysh -c 'show bgp summary json'`` works);
* the IDC's hosts and the VPC host: /etc/resolv.conf naming their resolver (the
  IDC's DNS server; the VPC resolver at the VPC CIDR base + 2), so ``dig`` or
  ``nslookup`` ask what the seed's instances ask;
* the remote users (hn-user, hn-guest, while the Client VPN part runs):
  /etc/resolv.conf naming the lab's public DNS, so the profile's ``remote``
  resolves as on the internet, and OpenVPN to run the profile with.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from . import endpoint
from .daemons import FRR_RUN_ROOT, LabRuntime, charon_paths
from .topology import CGW_NS, GUEST_NS, IDC_NS, USER_NS, VPC_NS

# Which namespace plays which host role (see hybridnet.params.HOST_ROLES).
ROLE_NAMESPACES = {
    "router": CGW_NS,
    "onprem_dns": IDC_NS,
    "onprem_client": IDC_NS,
    "vpc_client": VPC_NS,
    "remote_user": USER_NS,
    "remote_user_away": GUEST_NS,
}
# The site-to-site part's hosts; the remote users' namespaces come and go with
# the Client VPN part (hybridnet.lab.client_vpn), and their hosts with them.
HOST_NAMESPACES = (CGW_NS, IDC_NS, VPC_NS)
REMOTE_NAMESPACES = (USER_NS, GUEST_NS)
# A host's own folders, bound over these paths in its commands' view.
HOST_PATHS = ("/etc/swanctl", "/etc/frr", "/etc/hybridnet", "/var/lib/hybridnet", "/usr/local/sbin")
# The IDC's DNS server's BIND (hostinit's named unit binds the other two for named itself).
BIND_PATHS = ("/etc/bind", "/var/cache/bind", "/run/named")
EXTRA_PATHS = {IDC_NS: ("/etc/bind",)}
# Debian's /etc/bind as a fresh bind9 package leaves it, copied into the host's
# own /etc/bind once (not rndc.key: a host makes its own secret).
BIND_DEFAULTS = (
    "named.conf",
    "named.conf.options",
    "named.conf.local",
    "named.conf.default-zones",
    "db.0",
    "db.127",
    "db.255",
    "db.empty",
    "db.local",
    "zones.rfc1918",
    "bind.keys",
)
MADE_MOUNT_POINTS = ("/etc/hybridnet", "/var/lib/hybridnet")
INIT_SOCKET = "init.sock"  # in the host's sbin folder: the agent listens there for that host
# The SSM agent's PATH on Amazon Linux and Debian: /usr/local/sbin first, where the shim is.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SYSTEMCTL_SHIM = """#!/bin/sh
# This lab host's service manager: the lab's agent starts and stops this host's
# daemons (hybridnet.lab.hostinit); the socket next to this file says which host.
exec {python} -m hybridnet.lab.hostinit --socket "$(dirname "$0")/{socket}" -- "$@"
"""


def online_flag(lab_dir: Path | str, ns: str) -> Path:
    """Exists while the host's SSM Agent would be online: its namespace is up and its
    AWS API pipe listens (dataplane.start_host_endpoints makes it). In the namespace's
    own lab folder, so that the namespace's removal takes it along: a host the lab is
    rebuilding is not "Online" before it can run a command that calls AWS."""
    return Path(lab_dir) / ns / "ssm-online"


def host_dir(lab_dir: Path | str, ns: str) -> Path:
    """The host's folder: an <ns>-* folder of the lab dir, so `lab down` sweeps it."""
    return Path(lab_dir) / f"{ns}-host"


def init_socket(lab_dir: Path | str, ns: str) -> Path:
    return host_dir(lab_dir, ns) / "usr-local-sbin" / INIT_SOCKET


def host_folder(lab_dir: Path | str, ns: str, path: str) -> Path:
    """Where the host's `path` (one of HOST_PATHS) lives on this machine."""
    return host_dir(lab_dir, ns) / path.strip("/").replace("/", "-")


def prepare_host(runtime: LabRuntime, ns: str) -> Path:
    """Create the host's folders (once; what a script installed stays) and its
    systemctl shim."""
    folder = host_dir(runtime.lab_dir, ns)
    folder.mkdir(mode=0o755, exist_ok=True)
    for path in HOST_PATHS:
        host_folder(runtime.lab_dir, ns, path).mkdir(mode=0o755, exist_ok=True)
    for path in EXTRA_PATHS.get(ns, ()):
        host_folder(runtime.lab_dir, ns, path).mkdir(mode=0o755, exist_ok=True)
    if ns == IDC_NS:
        _bind_folders(runtime, ns)
    swanctl = host_folder(runtime.lab_dir, ns, "/etc/swanctl")
    (swanctl / "conf.d").mkdir(mode=0o755, exist_ok=True)
    if not (swanctl / "swanctl.conf").exists():
        (swanctl / "swanctl.conf").write_text(
            "# as Debian ships it: the connections live in conf.d\ninclude conf.d/*.conf\n"
        )
    shim = host_folder(runtime.lab_dir, ns, "/usr/local/sbin") / "systemctl"
    shim.write_text(SYSTEMCTL_SHIM.format(python=shlex.quote(sys.executable), socket=INIT_SOCKET))
    shim.chmod(0o755)
    return folder


def _bind_folders(runtime: LabRuntime, ns: str) -> None:
    etc = host_folder(runtime.lab_dir, ns, "/etc/bind")
    for name in BIND_DEFAULTS:
        if (Path("/etc/bind") / name).is_file() and not (etc / name).exists():
            shutil.copy2(Path("/etc/bind") / name, etc / name)
    for path in BIND_PATHS:
        folder = host_folder(runtime.lab_dir, ns, path)
        folder.mkdir(exist_ok=True)
        # named runs as bind: its config readable, its cache and pid folders writable (as Debian sets them)
        folder.chmod(0o755 if path == "/etc/bind" else 0o775)
        shutil.chown(folder, "root", "bind")


def _prefix(ns: str, mounts: list[tuple[Path | str, Path | str]]) -> list[str]:
    if not mounts:
        return ["ip", "netns", "exec", ns]
    # A bind needs its mount point: /etc/hybridnet and /var/lib/hybridnet are
    # made once, empty, as a package makes its folders (left in place: another
    # lab on this machine may be binding over them right now).
    points = sorted({str(dst) for _, dst in mounts if str(dst) in MADE_MOUNT_POINTS})
    binds = " && ".join(
        [f"mkdir -p {' '.join(map(shlex.quote, points))}"] * bool(points)
        + [f"mount --rbind {shlex.quote(str(src))} {shlex.quote(str(dst))}" for src, dst in mounts]
    )
    # `ip netns exec` gives the command a private mount namespace: these binds
    # are the command's alone and vanish with it. Recursive (--rbind), so that
    # what was bound inside a folder comes along when the folder is bound.
    return ["ip", "netns", "exec", ns, "sh", "-c", f'{binds} && exec "$@"', "sh"]


def _resolv_conf(runtime: LabRuntime, ns: str, nameserver: str) -> Path:
    path = host_dir(runtime.lab_dir, ns) / "resolv.conf"
    path.write_text(f"# the lab's {ns}: as the seed's instance is configured\nnameserver {nameserver}\n")
    path.chmod(0o644)
    return path


def host_mounts(runtime: LabRuntime, ns: str, nameserver: str | None = None) -> list[tuple[Path | str, Path | str]]:
    """(source, target) binds that make namespace `ns` look like its instance."""
    prepare_host(runtime, ns)
    mounts: list[tuple[Path | str, Path | str]] = []
    if nameserver:
        mounts.append((_resolv_conf(runtime, ns, nameserver), "/etc/resolv.conf"))
    mounts += [(host_folder(runtime.lab_dir, ns, path), path) for path in HOST_PATHS + EXTRA_PATHS.get(ns, ())]
    if ns == CGW_NS:
        runtime.ns_dir(ns)  # creates and records the namespace's folder
        paths = charon_paths(runtime, ns)
        paths["run"].mkdir(mode=0o700, exist_ok=True)
        frr_dir = paths["run"] / "frr"
        frr_dir.mkdir(mode=0o755, exist_ok=True)
        (FRR_RUN_ROOT / ns).mkdir(parents=True, exist_ok=True)
        if not paths["strongswan_conf"].exists():  # charon not started yet: swanctl still needs one
            from .render import render_strongswan_conf

            paths["strongswan_conf"].write_text(render_strongswan_conf(ns, []))
        # everything that lives under /run first: once /run is covered it is hidden
        mounts += [
            (FRR_RUN_ROOT / ns, frr_dir),
            (paths["strongswan_conf"], "/etc/strongswan.conf"),
            (paths["run"], "/run"),
        ]
    return mounts


def registrations(lab_dir: Path | str, roles: dict[str, dict], resolvers: dict[str, str]) -> list[dict]:
    """The instances to register: `roles` maps a role to {"instance_id": ...} or
    {"name_tag": ...}; `resolvers` maps a namespace to its DNS server."""
    runtime = LabRuntime.load(lab_dir)
    out = []
    for role, instance in roles.items():
        ns = ROLE_NAMESPACES[role]
        out.append(
            {
                **instance,
                "argv_prefix": _prefix(ns, host_mounts(runtime, ns, resolvers.get(ns))),
                "alive_path": str(online_flag(lab_dir, ns)),
                "computer_name": f"{role.replace('_', '-')}.lab",
                "environment": {"PATH": PATH, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{endpoint.PORT}"},
            }
        )
    return out


__all__ = [
    "BIND_PATHS",
    "HOST_NAMESPACES",
    "online_flag",
    "REMOTE_NAMESPACES",
    "ROLE_NAMESPACES",
    "host_dir",
    "host_folder",
    "init_socket",
    "registrations",
]
