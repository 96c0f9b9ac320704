"""Network namespaces for the local lab, driven through iproute2 (`ip`).

Every lab namespace is named with the lab's prefix (``hn-`` for the user's lab,
see identity.py). Functions here refuse to touch anything else: links are created inside a lab namespace (never in the
host namespace), addresses and routes are only accepted when they fall inside
the lab's address space (private, link-local and documentation ranges) and a
default route is never installed. This keeps every lab packet inside the lab.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import LocalPlaneError
from .identity import NAMESPACE_PREFIX

NETNS_RUN_DIR = Path("/run/netns")
IP = "ip"

# Address space the lab may use. Everything else (in particular 0.0.0.0/0 and
# any internet prefix) is refused, so no namespace can route out of the lab.
LAB_ADDRESS_SPACE = tuple(
    ipaddress.IPv4Network(cidr)
    for cidr in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "192.0.2.0/24",  # documentation ranges serve as "public" addresses
        "198.51.100.0/24",
        "203.0.113.0/24",
    )
)


class LabNetworkError(LocalPlaneError, RuntimeError):
    """A lab network operation failed or was refused."""


def check_lab_namespace(name: str) -> str:
    if not name.startswith(NAMESPACE_PREFIX) or "/" in name or len(name) > 60:
        raise LabNetworkError(f"refusing namespace {name!r}: lab namespaces start with {NAMESPACE_PREFIX!r}")
    return name


def check_lab_prefix(cidr: str | ipaddress.IPv4Network | ipaddress.IPv4Interface) -> ipaddress.IPv4Network:
    """Return the network of `cidr` if it lies inside the lab address space."""
    network = ipaddress.ip_interface(str(cidr)).network
    if (
        not isinstance(network, ipaddress.IPv4Network)
        or network.prefixlen == 0
        or not any(network.subnet_of(space) for space in LAB_ADDRESS_SPACE)
    ):
        raise LabNetworkError(f"refusing {cidr}: outside the lab address space")
    return network


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30.0,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run a command in the host's context and capture its output as text."""
    result = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env=None if env is None else {**os.environ, **env},
    )
    if check and result.returncode != 0:
        raise LabNetworkError(
            f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def exec_in(
    ns: str,
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30.0,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run `argv` inside lab namespace `ns` (``ip netns exec``) and wait for it."""
    return run(
        [IP, "netns", "exec", check_lab_namespace(ns), *argv], check=check, timeout=timeout, input=input, env=env
    )


def ip_in(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip -n ns ARGS``: iproute2 switches into the namespace itself."""
    return run([IP, "-n", check_lab_namespace(ns), *args], check=check)


def ip_batch_in(ns: str, commands: Iterable[str]) -> None:
    """Run several ``ip`` commands in one process (``ip -batch``), to save time."""
    script = "\n".join(commands)
    if script:
        run([IP, "-n", check_lab_namespace(ns), "-batch", "-"], input=script + "\n")


# --- namespaces -----------------------------------------------------------


def list_namespaces(prefix: str = NAMESPACE_PREFIX) -> list[str]:
    result = run([IP, "netns", "list"], check=False)
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    return sorted(name for name in names if name.startswith(prefix))


def namespace_exists(ns: str) -> bool:
    return (NETNS_RUN_DIR / ns).exists()


def create_namespace(ns: str) -> None:
    """Create a namespace with only `lo` up; it starts with no routes at all."""
    check_lab_namespace(ns)
    run([IP, "netns", "add", ns])
    ip_in(ns, "link", "set", "lo", "up")


def delete_namespace(ns: str) -> None:
    check_lab_namespace(ns)
    if namespace_exists(ns):
        run([IP, "netns", "delete", ns], check=False)


def namespace_id(ns: str) -> tuple[int, int] | None:
    """(device, inode) of the namespace, to compare with /proc/<pid>/ns/net."""
    try:
        st = os.stat(NETNS_RUN_DIR / check_lab_namespace(ns))
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def namespace_age_s(ns: str) -> float | None:
    """Seconds since the namespace was created (its nsfs inode's change time)."""
    try:
        return time.time() - os.stat(NETNS_RUN_DIR / check_lab_namespace(ns)).st_ctime
    except FileNotFoundError:
        return None


def process_namespace_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def namespace_pids(ns: str) -> list[int]:
    """Pids of processes whose network namespace is `ns`."""
    result = run([IP, "netns", "pids", check_lab_namespace(ns)], check=False)
    return [int(tok) for tok in result.stdout.split() if tok.isdigit()]


# --- links, addresses, routes, sysctls -------------------------------------


def add_veth(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    """Create a veth pair inside `ns_a` with its peer moved into `ns_b`.

    Running ``ip -n ns_a link add`` creates the pair in ns_a directly, so no
    interface ever appears in the host namespace, not even briefly.
    """
    check_lab_namespace(ns_b)
    # A namespace is destroyed asynchronously: right after `ip netns del` of an
    # earlier peer, its veth end can still linger in ns_a. It is ours; remove it.
    ip_in(ns_a, "link", "del", if_a, check=False)
    ip_in(ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
    ip_in(ns_a, "link", "set", if_a, "up")
    ip_in(ns_b, "link", "set", if_b, "up")


def address_commands(ifname: str, cidrs: Iterable[str]) -> list[str]:
    commands = []
    for cidr in cidrs:
        check_lab_prefix(cidr)
        commands.append(f"address add {ipaddress.ip_interface(cidr)} dev {ifname}")
    return commands


def route_command(prefix: str, via: str | None = None, dev: str | None = None, src: str | None = None) -> str:
    network = check_lab_prefix(prefix)
    if via is None and dev is None:
        raise LabNetworkError(f"route {prefix}: needs a next hop or a device")
    parts = [f"route add {network}"]
    if via is not None:
        check_lab_prefix(f"{via}/32")
        parts.append(f"via {via}")
    if dev is not None:
        parts.append(f"dev {dev}")
    if src is not None:
        check_lab_prefix(f"{src}/32")
        parts.append(f"src {src}")
    return " ".join(parts)


def add_addresses(ns: str, ifname: str, cidrs: Iterable[str]) -> None:
    ip_batch_in(ns, address_commands(ifname, cidrs))


def add_route(ns: str, prefix: str, via: str | None = None, dev: str | None = None, src: str | None = None) -> None:
    ip_batch_in(ns, [route_command(prefix, via, dev, src)])


def set_sysctl(ns: str, key: str, value: str | int) -> None:
    """Set a per-namespace ``net.*`` sysctl; other keys would affect the host."""
    if not key.startswith("net."):
        raise LabNetworkError(f"refusing sysctl {key}: only per-namespace net.* keys")
    exec_in(ns, ["sysctl", "-q", "-w", f"{key}={value}"])


def enable_forwarding(ns: str) -> None:
    # rp_filter off: replies to tunnelled traffic arrive on ipsec0 while the
    # best route back may point elsewhere during failover.
    exec_in(
        ns,
        [
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        ],
    )
