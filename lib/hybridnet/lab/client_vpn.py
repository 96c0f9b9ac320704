"""The lab's AWS Client VPN endpoint and its remote users (real OpenVPN 2.6).

Added to a running site-to-site lab (``lab.up``); plain data in and out:

    state = up(lab_dir, spec)                     # endpoint server + public DNS + users' namespaces
    attempt = connect(lab_dir, "user", profile)   # the user's OpenVPN with exactly this profile
    disconnect(lab_dir, "user")
    down(lab_dir)                                 # only the Client VPN part; lab.down() removes it all

Topology (all addresses checked by netns.py; no default route anywhere)::

    hn-user 192.0.2.10 --+                                   +-- hn-aws (VPC router) -- hn-vpc, tunnels to the IDC
    ("home office")      |                                   |   10.0.1.1 (peer 10.0.1.10)
                         +-- hn-inet 192.0.2.1 (public DNS) --+
    hn-guest 192.0.2.200-+   203.0.113.1                     |
    ("a hotel")                 |                            |
                             hn-cvpn 203.0.113.5 ----------- +  10.0.1.10: the endpoint's address in
                             OpenVPN server + agent             its first target subnet

* ``hn-cvpn`` runs OpenVPN configured from the endpoint as the AWS API
  describes it (:class:`ClientVpnLabSpec`): client CIDR, server certificate,
  the client certificate's CA chain, pushed routes = the endpoint's routes,
  DNS servers; the authorization rules are an nftables filter in this
  namespace only. Client traffic is source-NATed to the endpoint's address
  in its target subnet (Client VPN routes are of type ``Nat``), so the VPC
  and the IDC answer it without routes to the client CIDR, and traffic to the
  IDC crosses the site-to-site tunnels inside their existing VPC <-> on-prem
  traffic selectors. The connect step is :mod:`hybridnet.lab.cvpn_agent`.
* ``hn-inet`` also runs a ``named`` authoritative for the endpoint's DNS name
  (and any label in front of it, which ``remote-random-hostname`` adds), so
  the exported profile's ``remote`` resolves as on the internet; the users'
  namespaces get a resolv.conf naming it, bind-mounted inside their mount
  namespace only. The profile is used byte for byte.
* ``hn-user`` (192.0.2.10) and ``hn-guest`` (192.0.2.200) are two remote
  users with "public" addresses from 192.0.2.0/24.

Needs root and a running lab. Every daemon is a recorded lab daemon, so
``lab.down()`` stops it with the rest.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..errors import LocalPlaneError
from ..handlers import REMOTE_USER_IPS
from . import netns
from .daemons import LabRuntime, start_daemon
from .identity import LAB_DIR
from .render import render
from .spec import DOCUMENTATION_RANGES
from .topology import AWS_NS, CVPN_NS, GUEST_NS, INET_NS, USER_NS

OPENVPN = "/usr/sbin/openvpn"
NAMED = "/usr/sbin/named"
NFT = "/usr/sbin/nft"

# Addresses of the Client VPN part of the lab (documentation ranges as "public" IPs).
ENDPOINT_PUBLIC_IP = "203.0.113.5"  # .1-.10 of 203.0.113.0/24 are the lab's own; VPN tunnels use .11 up
INET_AWS_SIDE = "203.0.113.1"  # hn-inet's address toward the AWS side (already on hn-inet)
INET_USER_SIDE = "192.0.2.1"  # hn-inet toward the remote users; also the lab's public DNS server
USERS: dict[str, tuple[str, str]] = {
    "user": (USER_NS, REMOTE_USER_IPS["user"]),  # a remote user at home
    "guest": (GUEST_NS, REMOTE_USER_IPS["guest"]),  # the same user on a hotel's network
}
ENI_HOST_OFFSET = 10  # the endpoint's address in its first target subnet: <subnet>.10
TUN_DEV = "cvpn0"
VPC_IF = "vpc"
NAMESPACES = (CVPN_NS, USER_NS, GUEST_NS)

SERVER = f"openvpn@{CVPN_NS}"
AGENT = f"cvpn-agent@{CVPN_NS}"
DNS = f"named-cvpn@{INET_NS}"
DNS_RUN_DIR_NAME = f"{INET_NS}-cvpn-named"  # an hn-* folder of the lab dir: `lab down` sweeps it


class ClientVpnLabError(LocalPlaneError, RuntimeError):
    pass


class ClientVpnLabSpec(BaseModel):
    """A Client VPN endpoint as the AWS API describes it, plus the server's key."""

    model_config = ConfigDict(frozen=True)

    endpoint_id: str = Field(pattern=r"^cvpn-endpoint-[0-9a-f]{8,17}$")
    region: str
    dns_name: str  # DescribeClientVpnEndpoints DnsName, e.g. *.cvpn-endpoint-0abc.prod.clientvpn.<region>.amazonaws.com
    client_cidr: ipaddress.IPv4Network
    transport_protocol: str = Field("udp", pattern="^(udp|tcp)$")
    vpn_port: int = 443
    split_tunnel: bool = True
    dns_servers: list[ipaddress.IPv4Address] = Field(default_factory=list)
    routes: list[ipaddress.IPv4Network] = Field(min_length=1)  # the endpoint's route destinations
    authorized: list[ipaddress.IPv4Network] = Field(default_factory=list)  # AuthorizeAllGroups rules
    target_subnet: ipaddress.IPv4Network  # the first associated subnet: where the endpoint's address lives
    server_cert_pem: str
    server_key_pem: SecretStr
    client_ca_pem: str
    emulator_socket: str

    @field_validator("routes", "authorized", "client_cidr", "target_subnet")
    @classmethod
    def _inside_lab(cls, value):
        for net in value if isinstance(value, list) else [value]:
            netns.check_lab_prefix(str(net))
        return value

    @model_validator(mode="after")
    def _lab_rules(self) -> ClientVpnLabSpec:
        if not self.split_tunnel:
            raise ValueError(
                "the lab runs split-tunnel endpoints only: a full tunnel pushes a default route, "
                "which no lab namespace may have"
            )
        for net in self.routes:
            if any(net.overlaps(doc) for doc in DOCUMENTATION_RANGES):
                raise ValueError(f"route {net} overlaps the lab's public (documentation) ranges")
        return self

    @property
    def zone(self) -> str:
        return self.dns_name.removeprefix("*.")

    @property
    def eni_ip(self) -> str:
        return str(self.target_subnet.network_address + ENI_HOST_OFFSET)

    @property
    def eni_gateway(self) -> str:
        return str(self.target_subnet.network_address + 1)


@dataclass
class ConnectAttempt:
    """One remote user's OpenVPN run with a profile, as its own log tells it."""

    who: str
    namespace: str
    public_ip: str
    outcome: str  # connected | refused | no answer | exited
    client_ip: str | None
    message: str  # what the client was told (AUTH_FAILED reason), or why it did not connect
    seconds: float
    log: str

    @property
    def connected(self) -> bool:
        return self.outcome == "connected"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClientVpnLabState:
    endpoint_id: str
    public_ip: str
    eni_ip: str
    daemons: list[str]
    config_dir: str
    timings_s: dict[str, float] = field(default_factory=dict)


# --- helpers ---------------------------------------------------------------------------------


def _p2p(ifname: str, local: str, peer: str) -> str:
    """`ip address` command for a point-to-point /32 pair (no subnet shared with anyone)."""
    netns.check_lab_prefix(f"{local}/32")
    netns.check_lab_prefix(f"{peer}/32")
    return f"address add {local}/32 peer {peer}/32 dev {ifname}"


def _route(prefix: str, via: str, src: str | None = None) -> str:
    return netns.route_command(prefix, via=via, src=src)


def _runtime(lab_dir: Path | str) -> LabRuntime:
    try:
        return LabRuntime.load(lab_dir)
    except FileNotFoundError:
        raise ClientVpnLabError(
            f"no lab running in {lab_dir}: bring the site-to-site lab up first (notebook 02 or `hybridnet lab up`)"
        ) from None


def _log_offset(runtime: LabRuntime, name: str) -> tuple[Path, int]:
    log = runtime.log_dir / f"{name.replace('@', '-')}.log"
    return log, (log.stat().st_size if log.exists() else 0)


def _log_since(log: Path, offset: int) -> str:
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return path


# --- up / down ---------------------------------------------------------------------------------


def render_files(spec: ClientVpnLabSpec, config_dir: Path, dns_dir: Path) -> dict[str, Path]:
    """Every file the endpoint needs; the server key 0600."""
    files = {
        "server_cert": config_dir / "server.crt",
        "server_key": config_dir / "server.key",
        "client_ca": config_dir / "client-ca.crt",
        "management": config_dir / "management.sock",
        "server_conf": config_dir / "server.conf",
        "nftables": config_dir / "nftables.conf",
        "named_conf": dns_dir / "named.conf",
        "zone": dns_dir / "endpoint.db",
    }
    _write(files["server_key"], spec.server_key_pem.get_secret_value(), 0o600)
    _write(files["server_cert"], spec.server_cert_pem)
    _write(files["client_ca"], spec.client_ca_pem)
    values = dict(
        spec=spec,
        ns=CVPN_NS,
        public_ip=ENDPOINT_PUBLIC_IP,
        tun_dev=TUN_DEV,
        vpc_if=VPC_IF,
        eni_ip=spec.eni_ip,
        files={k: str(v) for k, v in files.items()},
    )
    _write(files["server_conf"], render("cvpn-openvpn-server.conf.j2", **values), 0o600)
    _write(files["nftables"], render("cvpn-nftables.conf.j2", **values))
    dns = dict(
        zone=spec.zone,
        ns=INET_NS,
        listen_ip=INET_USER_SIDE,
        public_ip=ENDPOINT_PUBLIC_IP,
        run_dir=str(dns_dir),
        clients=["192.0.2.0/24", "127.0.0.1"],
    )
    _write(files["named_conf"], render("cvpn-named.conf.j2", **dns))
    _write(files["zone"], render("cvpn-zone.db.j2", **dns))
    return files


def _build_network(runtime: LabRuntime, spec: ClientVpnLabSpec) -> None:
    for ns in NAMESPACES:
        runtime.create_namespace(ns)
    netns.add_veth(INET_NS, "to-cvpn", CVPN_NS, "inet")
    netns.add_veth(AWS_NS, "to-cvpn", CVPN_NS, VPC_IF)
    for who, (ns, _) in USERS.items():
        netns.add_veth(INET_NS, f"to-{who}", ns, "inet")
    netns.ip_batch_in(
        INET_NS,
        [_p2p("to-cvpn", INET_AWS_SIDE, ENDPOINT_PUBLIC_IP)]
        + [_p2p(f"to-{who}", INET_USER_SIDE, ip) for who, (_, ip) in USERS.items()],
    )
    netns.ip_batch_in(AWS_NS, [_p2p("to-cvpn", spec.eni_gateway, spec.eni_ip)])
    netns.ip_batch_in(
        CVPN_NS,
        [
            _p2p("inet", ENDPOINT_PUBLIC_IP, INET_AWS_SIDE),
            _p2p(VPC_IF, spec.eni_ip, spec.eni_gateway),
            *(
                _route(str(net), INET_AWS_SIDE)
                for net in DOCUMENTATION_RANGES
                if ipaddress.ip_address(ENDPOINT_PUBLIC_IP) not in net
            ),
            # the endpoint's routes: toward the VPC router, from the endpoint's own address there
            *(_route(str(net), spec.eni_gateway, src=spec.eni_ip) for net in spec.routes),
        ],
    )
    for ns, ip in USERS.values():
        netns.ip_batch_in(ns, [_p2p("inet", ip, INET_USER_SIDE), _route("203.0.113.0/24", INET_USER_SIDE)])
    netns.enable_forwarding(CVPN_NS)
    # VPC hosts see the endpoint's address as on-link in its subnet: the VPC
    # router answers ARP for it (it routes it to hn-cvpn), as a VPC does for an ENI.
    netns.set_sysctl(AWS_NS, f"net.ipv4.conf.{VPC_IF}.proxy_arp", 1)


def _ready_in_log(log: Path, offset: int, marker: str) -> bool:
    return marker in _log_since(log, offset)


def up(lab_dir: Path | str, spec: ClientVpnLabSpec, timeout: float = 10.0) -> ClientVpnLabState:
    """Add (or replace) the Client VPN endpoint and the remote users to the running lab."""
    started = time.monotonic()
    runtime = _runtime(lab_dir)
    if not Path(spec.emulator_socket).exists():
        raise ClientVpnLabError(
            f"the emulator's unix socket {spec.emulator_socket} does not exist: "
            "restart the emulator (`hybridnet emulator stop`, then run again)"
        )
    down(lab_dir)
    runtime = _runtime(lab_dir)
    timings: dict[str, float] = {}
    config_dir = runtime.ns_dir(CVPN_NS)
    dns_dir = Path(lab_dir) / DNS_RUN_DIR_NAME
    shutil.rmtree(dns_dir, ignore_errors=True)
    dns_dir.mkdir(mode=0o750)
    shutil.chown(dns_dir, "bind", "bind")  # named runs as user bind
    files = render_files(spec, config_dir, dns_dir)
    for who, (ns, _) in USERS.items():
        _write(
            runtime.ns_dir(ns) / "resolv.conf",
            f"# {who}: the lab's public DNS\nnameserver {INET_USER_SIDE}\noptions timeout:1 attempts:2\n",
        )
    try:
        _build_network(runtime, spec)
        netns.exec_in(CVPN_NS, [NFT, "-f", str(files["nftables"])])
        timings["network_s"] = time.monotonic() - started

        log, offset = _log_offset(runtime, DNS)
        start_daemon(
            runtime,
            DNS,
            INET_NS,
            [NAMED, "-4", "-g", "-u", "bind", "-c", str(files["named_conf"])],
            executable="named",
            runtime_dirs=[dns_dir],
            ready_timeout=timeout,
            ready=lambda: any(line.rstrip().endswith(" running") for line in _log_since(log, offset).splitlines()),
        )
        log, offset = _log_offset(runtime, SERVER)
        start_daemon(
            runtime,
            SERVER,
            CVPN_NS,
            [OPENVPN, "--config", str(files["server_conf"])],
            executable="openvpn",
            ready_timeout=timeout,
            ready=lambda: _ready_in_log(log, offset, "Initialization Sequence Completed"),
        )
        ready_file = config_dir / "agent.ready"
        ready_file.unlink(missing_ok=True)
        start_daemon(
            runtime,
            AGENT,
            CVPN_NS,
            [
                sys.executable,
                "-m",
                "hybridnet.lab.cvpn_agent",
                "--management",
                str(files["management"]),
                "--emulator-socket",
                spec.emulator_socket,
                "--region",
                spec.region,
                "--endpoint-id",
                spec.endpoint_id,
                "--netmask",
                str(spec.client_cidr.netmask),
                "--ready-file",
                str(ready_file),
            ],
            executable=Path(sys.executable).name,
            ready=ready_file.exists,
            ready_timeout=timeout,
        )
    except BaseException:
        down(lab_dir)
        raise
    timings["daemons_s"] = time.monotonic() - started
    runtime.state["client_vpn"] = {
        "endpoint_id": spec.endpoint_id,
        "public_ip": ENDPOINT_PUBLIC_IP,
        "eni_ip": spec.eni_ip,
        "client_cidr": str(spec.client_cidr),
        "config_dir": str(config_dir),
        "routes": [str(r) for r in spec.routes],
        "authorized": [str(r) for r in spec.authorized],
    }
    runtime.save()
    return ClientVpnLabState(
        spec.endpoint_id, ENDPOINT_PUBLIC_IP, spec.eni_ip, [DNS, SERVER, AGENT], str(config_dir), timings
    )


def running(lab_dir: Path | str = LAB_DIR) -> bool:
    """The endpoint's server and agent are up."""
    try:
        runtime = LabRuntime.load(lab_dir)
    except FileNotFoundError:
        return False
    alive = {r.name for r in runtime.daemons if runtime.is_running(r)}
    return {SERVER, AGENT} <= alive


def down(lab_dir: Path | str = LAB_DIR) -> dict:
    """Remove the Client VPN part only (daemons, namespaces, files); the rest of the lab keeps running."""
    try:
        runtime = LabRuntime.load(lab_dir)
    except FileNotFoundError:
        return {"stopped": [], "namespaces_deleted": []}
    mine = [r.name for r in runtime.daemons if r.ns in NAMESPACES or r.name in (DNS, SERVER, AGENT)]
    stopped = runtime.stop(mine)
    deleted = []
    for ns in NAMESPACES:
        if netns.namespace_exists(ns):
            netns.delete_namespace(ns)  # the veth peers in hn-inet/hn-aws go with it
            deleted.append(ns)
        shutil.rmtree(Path(lab_dir) / ns, ignore_errors=True)
    runtime.state["namespaces"] = [ns for ns in runtime.state["namespaces"] if ns not in NAMESPACES]
    runtime.state["created_paths"] = [p for p in runtime.state["created_paths"] if Path(p).name not in NAMESPACES]
    runtime.state.pop("client_vpn", None)
    shutil.rmtree(Path(lab_dir) / DNS_RUN_DIR_NAME, ignore_errors=True)
    runtime.save()
    return {"stopped": stopped, "namespaces_deleted": deleted}


# --- remote users ------------------------------------------------------------------------------------


def client_name(who: str) -> str:
    if who not in USERS:
        raise ClientVpnLabError(f"unknown remote user {who!r}; the lab has {', '.join(USERS)}")
    return f"openvpn-{who}@{USERS[who][0]}"


_AUTH_FAILED = re.compile(r"AUTH: Received control message: AUTH_FAILED(?:,(.*))?$", re.M)
_TLS_PROBLEM = re.compile(r"TLS Error: (.*)$|TLS handshake failed|VERIFY ERROR: (.*)$", re.M)


def tunnel_address(ns: str) -> str | None:
    """The IPv4 address on the namespace's OpenVPN tun device, if any."""
    out = netns.ip_in(ns, "-o", "-4", "address", "show", check=False).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[1].startswith("tun") and parts[2] == "inet":
            return parts[3].split("/")[0]
    return None


def connect(
    lab_dir: Path | str, who: str, profile: Path | str, *, timeout: float = 10.0, extra_args: tuple[str, ...] = ()
) -> ConnectAttempt:
    """Run OpenVPN in the user's namespace with `profile` (used as is) until it is
    connected, refused (AUTH_FAILED, with the server's message), exits, or `timeout`
    passes. A connected client keeps running; `disconnect` stops it."""
    runtime = _runtime(lab_dir)
    if not running(lab_dir):
        raise ClientVpnLabError(
            "the lab's Client VPN endpoint is not running: the lab's agent plays it once "
            "notebook 04 has created it (its log says why not), or call client_vpn.up"
        )
    profile = Path(profile).resolve()
    if not profile.is_file():
        raise ClientVpnLabError(f"no client profile at {profile}: run notebook 04 first")
    name = client_name(who)
    ns, public_ip = USERS[who]
    disconnect(lab_dir, who)
    log, offset = _log_offset(runtime, name)
    resolv = runtime.ns_dir(ns) / "resolv.conf"
    started = time.monotonic()
    record = start_daemon(
        runtime,
        name,
        ns,
        [OPENVPN, "--config", str(profile), *extra_args],
        executable="openvpn",
        bind_mounts=[(resolv, "/etc/resolv.conf")],
    )
    outcome, message, client_ip = "no answer", f"not connected within {timeout:.0f} s", None
    while time.monotonic() - started < timeout:
        text = _log_since(log, offset)
        if "Initialization Sequence Completed" in text:
            client_ip = tunnel_address(ns)
            outcome, message = "connected", ""
            break
        refused = _AUTH_FAILED.search(text)
        if refused:
            outcome, message = "refused", (refused.group(1) or "").strip() or "AUTH_FAILED"
            break
        if not runtime.is_running(record):
            problem = _TLS_PROBLEM.search(text)
            outcome, message = "exited", (problem.group(0) if problem else "OpenVPN exited")
            break
        time.sleep(0.02)
    else:
        problem = _TLS_PROBLEM.search(_log_since(log, offset))
        if problem:
            message += f" ({problem.group(0).strip()})"
    seconds = time.monotonic() - started
    if outcome != "connected":
        disconnect(lab_dir, who)
    return ConnectAttempt(who, ns, public_ip, outcome, client_ip, message, seconds, str(log))


def disconnect(lab_dir: Path | str, who: str) -> bool:
    """Stop the user's OpenVPN (if recorded); True if one was running."""
    runtime = _runtime(lab_dir)
    name = client_name(who)
    records = [r for r in runtime.daemons if r.name == name]
    was_running = any(runtime.is_running(r) for r in records)
    if records:
        runtime.stop([name])
    return was_running


def server_log_since(lab_dir: Path | str, offset: int = 0) -> str:
    runtime = _runtime(lab_dir)
    return _log_since(_log_offset(runtime, SERVER)[0], offset)


def server_log_size(lab_dir: Path | str) -> int:
    return _log_offset(_runtime(lab_dir), SERVER)[1]


__all__ = [
    "ClientVpnLabError",
    "ClientVpnLabSpec",
    "ClientVpnLabState",
    "ConnectAttempt",
    "ENDPOINT_PUBLIC_IP",
    "NAMESPACES",
    "USERS",
    "connect",
    "disconnect",
    "down",
    "running",
    "up",
]
