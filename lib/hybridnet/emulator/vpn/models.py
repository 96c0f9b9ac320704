"""State of VPN connections as AWS keeps it.

moto's VPNConnection ignores `Options` and returns one fixed configuration
document. Here a connection keeps what CreateVpnConnection asked for (inside
CIDRs, PSKs, IKE versions, algorithms, lifetimes), gets its own outside
addresses, exposes `Options`, `VgwTelemetry` and a CustomerGatewayConfiguration
built from those values, and changes state pending -> available over time as
on AWS. Telemetry stays DOWN until a data plane (the lab) reports otherwise.
Each tunnel keeps its LogOptions (Site-to-Site VPN tunnel and BGP logs into
CloudWatch Logs groups that must exist); the lab writes the entries.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import os
import re
import secrets
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidVpnConnectionIdError
from moto.ec2.models.vpn_connections import VPNConnection
from moto.ec2.utils import generic_filter, random_vpn_connection_id

from ... import vpnrules
from .. import clock

# The AWS side's "public" tunnel addresses come from a documentation range.
OUTSIDE_ADDRESS_POOL = ipaddress.ip_network("203.0.113.0/24")
FIRST_OUTSIDE_HOST = 11  # .1-.10 stay free for the lab's own routers
# Seeded fleets (fleet/models.py) take theirs from the benchmarking range (RFC 2544: never
# routed on the Internet), unique across every account and Region of the emulator, so that
# a fleet never takes the lab's 203.0.113.11 and .12 and holds far more than 203.0.113.0/24.
FLEET_OUTSIDE_ADDRESS_POOL = ipaddress.ip_network("198.18.0.0/15")
# Said by a tunnel no data plane reports: not the lab's absence, which it often is not
# (the lab plays a connection only once it exists, and its router only after phase 2).
NO_DATA_PLANE = "no data plane is reporting for this tunnel"

# CustomerGatewayConfiguration spells algorithms differently from the API.
IKE_INTEGRITY = {"SHA1": "sha1", "SHA2-256": "sha2-256", "SHA2-384": "sha2-384", "SHA2-512": "sha2-512"}
ESP_INTEGRITY = {
    "SHA1": "hmac-sha1-96",
    "SHA2-256": "hmac-sha2-256-128",
    "SHA2-384": "hmac-sha2-384-192",
    "SHA2-512": "hmac-sha2-512-256",
}
ENCRYPTION = {
    "AES128": "aes-128-cbc",
    "AES256": "aes-256-cbc",
    "AES128-GCM-16": "aes-128-gcm-16",
    "AES256-GCM-16": "aes-256-gcm-16",
}


def pending_seconds() -> float:
    """How long a new connection stays `pending` (AWS: minutes; here: short,
    but long enough that callers must really wait for it)."""
    return float(os.environ.get("HYBRIDNET_EMULATOR_PENDING_SECONDS", "1.0"))


def invalid(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterValue", message)


# Site-to-Site VPN logs (TunnelOptions[].LogOptions.CloudWatchLogOptions): tunnel activity and BGP.
LOG_OUTPUT_FORMATS = ("json", "text")
LOG_KINDS = (("", "tunnel"), ("Bgp", "BGP"))  # (the members' prefix, what the log is of)
NO_LOGS = {"CloudWatchLogOptions": {"LogEnabled": False, "BgpLogEnabled": False}}
LOG_GROUP_ARN = re.compile(r"^arn:(aws[a-z-]*):logs:([a-z0-9-]+):(\d{12}):log-group:([.\-_/#A-Za-z0-9]{1,512})(:\*)?$")


def _values(option: list[dict] | None) -> list:
    return [item["Value"] for item in option or []]


def _flag(value: Any) -> bool:
    """A boolean member as the query protocol may hand it over ("true"/"false")."""
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def random_psk() -> str:
    # AWS generates 32 characters of letters, digits, '.' and '_', never starting with '0'.
    alphabet = string.ascii_letters + string.digits + "._"
    first = secrets.choice(string.ascii_letters)
    return first + "".join(secrets.choice(alphabet) for _ in range(31))


@dataclass
class Tunnel:
    outside_ip: str
    inside_cidr: str
    pre_shared_key: str
    requested: dict  # the TunnelOptionsSpecification as given
    status: str = "DOWN"
    status_message: str = NO_DATA_PLANE
    accepted_route_count: int = 0
    last_status_change: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    received_routes: tuple[str, ...] = ()  # prefixes the customer gateway announces over this tunnel
    bytes_in: int = 0  # the data plane's counters, for AWS/VPN TunnelDataIn/Out
    bytes_out: int = 0
    # LogOptions as DescribeVpnConnections shows them (validated: TunnelledVpnConnectionBackend._log_options)
    log_options: dict = field(default_factory=lambda: {"CloudWatchLogOptions": dict(NO_LOGS["CloudWatchLogOptions"])})
    # Its telemetry was seeded (POST /_hybridnet/fleet/seed) and stays as seeded: no data
    # plane reports it, and it is saved with the emulator's state (persistence.py).
    seeded: bool = False

    # What the data plane reports (report()), every second while it plays the tunnel: not
    # saved with the emulator's state (persistence.py), a restored tunnel is DOWN until it does.
    TELEMETRY = (
        "status",
        "status_message",
        "accepted_route_count",
        "last_status_change",
        "received_routes",
        "bytes_in",
        "bytes_out",
    )

    @property
    def inside_hosts(self) -> tuple[str, str]:
        """(AWS side, customer side): AWS takes the first usable address."""
        network = ipaddress.ip_network(self.inside_cidr).network_address  # a /30: .1 and .2
        return str(network + 1), str(network + 2)

    def first(self, key: str, default: Any) -> Any:
        values = _values(self.requested.get(key))
        return values[0] if values else default

    def tunnel_option(self) -> dict:
        """The API's TunnelOption shape (DescribeVpnConnections Options)."""
        req = self.requested
        option = {
            "OutsideIpAddress": self.outside_ip,
            "TunnelInsideCidr": self.inside_cidr,
            "PreSharedKey": self.pre_shared_key,
            "Phase1LifetimeSeconds": req.get("Phase1LifetimeSeconds", 28800),
            "Phase2LifetimeSeconds": req.get("Phase2LifetimeSeconds", 3600),
            "RekeyMarginTimeSeconds": req.get("RekeyMarginTimeSeconds", 270),
            "RekeyFuzzPercentage": req.get("RekeyFuzzPercentage", 100),
            "ReplayWindowSize": req.get("ReplayWindowSize", 1024),
            "DpdTimeoutSeconds": req.get("DPDTimeoutSeconds", 30),  # the request spells it DPD...
            "DpdTimeoutAction": req.get("DPDTimeoutAction", "clear"),
            "StartupAction": req.get("StartupAction", "add"),
            "IkeVersions": req.get("IKEVersions") or [{"Value": v} for v in vpnrules.IKE_VERSIONS],
            "LogOptions": {"CloudWatchLogOptions": dict(self.log_options["CloudWatchLogOptions"])},
        }
        for phase, groups in (("Phase1", vpnrules.PHASE1_DH_GROUPS), ("Phase2", vpnrules.PHASE2_DH_GROUPS)):
            option[f"{phase}EncryptionAlgorithms"] = req.get(f"{phase}EncryptionAlgorithms") or [
                {"Value": v} for v in vpnrules.ENCRYPTION
            ]
            option[f"{phase}IntegrityAlgorithms"] = req.get(f"{phase}IntegrityAlgorithms") or [
                {"Value": v} for v in vpnrules.INTEGRITY
            ]
            option[f"{phase}DHGroupNumbers"] = req.get(f"{phase}DHGroupNumbers") or [{"Value": v} for v in groups]
        return option

    def telemetry(self) -> dict:
        return {
            "OutsideIpAddress": self.outside_ip,
            "Status": self.status,
            "StatusMessage": self.status_message,
            "AcceptedRouteCount": self.accepted_route_count,
            "LastStatusChange": self.last_status_change,
        }

    def report(
        self, status: str, status_message: str, received_routes: list[str], bytes_in: int, bytes_out: int
    ) -> tuple[int, int]:
        """Take the data plane's view; return the bytes in/out since the last report."""
        if status != self.status:
            self.last_status_change = dt.datetime.now(dt.UTC)
        self.status, self.status_message = status, status_message
        self.received_routes = tuple(received_routes) if status == "UP" else ()
        self.accepted_route_count = len(self.received_routes)
        # Counters restart with the daemon; a drop means a new counter, not negative traffic.
        delta_in = bytes_in - self.bytes_in if bytes_in >= self.bytes_in else bytes_in
        delta_out = bytes_out - self.bytes_out if bytes_out >= self.bytes_out else bytes_out
        self.bytes_in, self.bytes_out = bytes_in, bytes_out
        return delta_in, delta_out


class TunnelledVpnConnection(VPNConnection):
    """A VPN connection with two (or one) real tunnels' worth of state."""

    def __init__(
        self,
        ec2_backend: Any,
        *,
        customer_gateway: Any,
        amazon_side_asn: int,
        tunnels: list[Tunnel],
        static_routes_only: bool,
        **kwargs: Any,
    ):
        super().__init__(ec2_backend, **kwargs)
        self.customer_gateway = customer_gateway
        self.amazon_side_asn = amazon_side_asn
        self.tunnel_list = tunnels
        self.static_routes_only = static_routes_only
        self.category = "VPN"
        self.routes: list[dict] = []
        self.created_at = clock.now()
        self._deleted = False

    # moto serialises these attributes into the API's members.
    @property
    def state(self) -> str:
        if self._deleted:
            return "deleted"
        return "available" if clock.now() - self.created_at >= pending_seconds() else "pending"

    @state.setter
    def state(self, value: str) -> None:
        # moto's constructor and delete path assign state; "deleted" is the only one that sticks.
        self._deleted = value == "deleted"

    @property  # type: ignore[override]
    def options(self) -> dict:
        return {
            "EnableAcceleration": False,
            "StaticRoutesOnly": self.static_routes_only,
            "LocalIpv4NetworkCidr": "0.0.0.0/0",
            "RemoteIpv4NetworkCidr": "0.0.0.0/0",
            "OutsideIpAddressType": "PublicIpv4",
            "TunnelInsideIpVersion": "ipv4",
            "TunnelOptions": [t.tunnel_option() for t in self.tunnel_list],
        }

    @options.setter
    def options(self, value: Any) -> None:
        pass  # set by moto's constructor; derived from the tunnels here

    @property
    def vgw_telemetry(self) -> list[dict]:
        return [t.telemetry() for t in self.tunnel_list]

    @property
    def propagated_prefixes(self) -> list[str]:
        """What the TGW learns from this connection: routes of tunnels that are UP."""
        return sorted({p for t in self.tunnel_list if t.status == "UP" for p in t.received_routes})

    @property
    def customer_gateway_configuration(self) -> str:
        # Rendered again only when what it shows changed: DescribeVpnConnections of a
        # fleet (hundreds of connections) otherwise spends a third of its time here.
        key = _configuration_key(self)
        cached = getattr(self, "_configuration_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, render_customer_gateway_configuration(self))
            self._configuration_cache = cached
        return cached[1]

    def described(self) -> dict:
        """The connection as DescribeVpnConnections shows it: a VpnConnection keyed by the
        API's member names, with the values moto's serializer finds on this object (the
        members it finds nothing for are left out). Routes are kept as VpnStaticRoutes."""
        # The resource's tags straight from the backend's index, in moto's order (describe_tags
        # with a resource-id filter goes through every tag of the Region, per connection).
        tags = self.ec2_backend.tags.get(self.id, {})
        return {
            "Category": self.category,
            "TransitGatewayId": self.transit_gateway_id,
            "Options": self.options,
            "Routes": self.routes,
            "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
            "VgwTelemetry": self.vgw_telemetry,
            "VpnConnectionId": self.id,
            "State": self.state,
            "CustomerGatewayConfiguration": self.customer_gateway_configuration,
            "Type": self.type,
            "CustomerGatewayId": self.customer_gateway_id,
            "VpnGatewayId": self.vpn_gateway_id,
        }

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        values = {
            "vpn-connection-id": self.id,
            "state": self.state,
            "type": self.type,
            "customer-gateway-id": self.customer_gateway_id,
            "transit-gateway-id": self.transit_gateway_id,
            "vpn-gateway-id": self.vpn_gateway_id,
            "bgp-asn": str(self.customer_gateway.bgp_asn),
            "option.static-routes-only": str(self.static_routes_only).lower(),
            "category": self.category,
        }
        if filter_name in values:
            return values[filter_name]
        return super().get_filter_value(filter_name, "DescribeVpnConnections")


def _configuration_key(conn: TunnelledVpnConnection) -> tuple:
    """Everything render_customer_gateway_configuration() reads."""
    gateway = conn.customer_gateway
    return (
        conn.id,
        conn.customer_gateway_id,
        conn.vpn_gateway_id,
        conn.type,
        gateway.ip_address,
        gateway.bgp_asn,
        conn.amazon_side_asn,
        tuple(
            (t.outside_ip, t.inside_cidr, t.pre_shared_key, repr(sorted(t.tunnel_option().items())))
            for t in conn.tunnel_list
        ),
    )


def render_customer_gateway_configuration(conn: TunnelledVpnConnection) -> str:
    """AWS's generic CustomerGatewayConfiguration XML for this connection."""
    root = ET.Element("vpn_connection", id=conn.id)
    ET.SubElement(root, "customer_gateway_id").text = conn.customer_gateway_id
    ET.SubElement(root, "vpn_gateway_id").text = conn.vpn_gateway_id or ""
    ET.SubElement(root, "vpn_connection_type").text = conn.type

    def leaf(parent: ET.Element, tag: str, text: Any) -> None:
        ET.SubElement(parent, tag).text = str(text)

    def side(parent: ET.Element, tag: str, outside: str, inside: str, asn: int) -> None:
        node = ET.SubElement(parent, tag)
        leaf(ET.SubElement(node, "tunnel_outside_address"), "ip_address", outside)
        addr = ET.SubElement(node, "tunnel_inside_address")
        leaf(addr, "ip_address", inside)
        leaf(addr, "network_mask", "255.255.255.252")
        leaf(addr, "network_cidr", 30)
        bgp = ET.SubElement(node, "bgp")
        leaf(bgp, "asn", asn)
        leaf(bgp, "hold_time", vpnrules.BGP_HOLD_TIME)

    for tunnel in conn.tunnel_list:
        vgw_inside, cgw_inside = tunnel.inside_hosts
        node = ET.SubElement(root, "ipsec_tunnel")
        side(node, "customer_gateway", conn.customer_gateway.ip_address, cgw_inside, conn.customer_gateway.bgp_asn)
        side(node, "vpn_gateway", tunnel.outside_ip, vgw_inside, conn.amazon_side_asn)
        opt = tunnel.tunnel_option()
        ike = ET.SubElement(node, "ike")
        leaf(ike, "authentication_protocol", IKE_INTEGRITY[tunnel.first("Phase1IntegrityAlgorithms", "SHA1")])
        leaf(ike, "encryption_protocol", ENCRYPTION[tunnel.first("Phase1EncryptionAlgorithms", "AES128")])
        leaf(ike, "lifetime", opt["Phase1LifetimeSeconds"])
        leaf(ike, "perfect_forward_secrecy", f"group{tunnel.first('Phase1DHGroupNumbers', 2)}")
        leaf(ike, "mode", "main")
        leaf(ike, "pre_shared_key", tunnel.pre_shared_key)
        esp = ET.SubElement(node, "ipsec")
        leaf(esp, "protocol", "esp")
        leaf(esp, "authentication_protocol", ESP_INTEGRITY[tunnel.first("Phase2IntegrityAlgorithms", "SHA1")])
        leaf(esp, "encryption_protocol", ENCRYPTION[tunnel.first("Phase2EncryptionAlgorithms", "AES128")])
        leaf(esp, "lifetime", opt["Phase2LifetimeSeconds"])
        leaf(esp, "perfect_forward_secrecy", f"group{tunnel.first('Phase2DHGroupNumbers', 2)}")
        leaf(esp, "mode", "tunnel")
        leaf(esp, "clear_df_bit", "true")
        leaf(esp, "fragmentation_before_encryption", "true")
        leaf(esp, "tcp_mss_adjustment", 1379)
        dpd = ET.SubElement(esp, "dead_peer_detection")
        leaf(dpd, "interval", 10)
        leaf(dpd, "retries", max(3, opt["DpdTimeoutSeconds"] // 10))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _validate_tunnel_options(specs: list[dict]) -> None:
    if len(specs) > 2:
        raise invalid(f"A VPN connection has at most 2 tunnels; TunnelOptions has {len(specs)} entries.")
    checks = {
        "IKEVersions": vpnrules.IKE_VERSIONS,
        "Phase1EncryptionAlgorithms": vpnrules.ENCRYPTION,
        "Phase2EncryptionAlgorithms": vpnrules.ENCRYPTION,
        "Phase1IntegrityAlgorithms": vpnrules.INTEGRITY,
        "Phase2IntegrityAlgorithms": vpnrules.INTEGRITY,
        "Phase1DHGroupNumbers": vpnrules.PHASE1_DH_GROUPS,
        "Phase2DHGroupNumbers": vpnrules.PHASE2_DH_GROUPS,
    }
    inside = []
    for spec in specs:
        cidr = spec.get("TunnelInsideCidr")
        if cidr:
            problem = vpnrules.inside_cidr_problem(cidr)
            if problem:
                raise invalid(f"The tunnel inside CIDR is invalid: {problem}")
            inside.append(cidr)
        psk = spec.get("PreSharedKey")
        if psk is not None and vpnrules.psk_problem(psk):
            raise invalid(
                "Invalid pre-shared key. Allowed characters are alphanumeric, period and underscore; "
                "8-64 characters; it cannot start with zero."
            )
        for key, allowed in checks.items():
            bad = [v for v in _values(spec.get(key)) if v not in allowed]
            if bad:
                raise invalid(f"Invalid value {bad[0]!r} for {key}; valid values: {', '.join(map(str, allowed))}")
        for key, (low, high) in (
            ("Phase1LifetimeSeconds", vpnrules.PHASE1_LIFETIME),
            ("Phase2LifetimeSeconds", vpnrules.PHASE2_LIFETIME),
        ):
            if key in spec and not low <= int(spec[key]) <= high:
                raise invalid(f"{key} must be between {low} and {high}.")
        if "DPDTimeoutSeconds" in spec and int(spec["DPDTimeoutSeconds"]) < vpnrules.DPD_TIMEOUT_MIN:
            raise invalid(f"DPDTimeoutSeconds must be at least {vpnrules.DPD_TIMEOUT_MIN}.")
    if len(inside) != len(set(inside)):
        raise invalid("The tunnel inside CIDRs of a VPN connection must be different.")


class TunnelledVpnConnectionBackend:
    """Replaces moto's VPNConnectionBackend methods on the EC2 backend."""

    vpn_connections: dict[str, VPNConnection]

    def _gateway_connections(self, transit_gateway_id: str | None, vpn_gateway_id: str | None):
        for conn in self.vpn_connections.values():
            if (
                isinstance(conn, TunnelledVpnConnection)
                and conn.state != "deleted"
                and (
                    (transit_gateway_id and conn.transit_gateway_id == transit_gateway_id)
                    or (vpn_gateway_id and conn.vpn_gateway_id == vpn_gateway_id)
                )
            ):
                yield conn

    def _allocate_outside_ips(self, count: int, pool: Any = None, used: set[str] | None = None) -> list[str]:
        """`count` free outside addresses: from OUTSIDE_ADDRESS_POOL (.11 up) not used in this
        account and Region, or from `pool` not in `used` (a fleet's, fleet_outside_ips_in_use)."""
        if pool is None:
            used = {
                t.outside_ip
                for c in self.vpn_connections.values()
                if isinstance(c, TunnelledVpnConnection) and c.state != "deleted"
                for t in c.tunnel_list
            }
            hosts = itertools.islice(OUTSIDE_ADDRESS_POOL.hosts(), FIRST_OUTSIDE_HOST - 1, None)
        else:
            hosts = pool.hosts()
        free = list(itertools.islice((str(ip) for ip in hosts if str(ip) not in (used or ())), count))
        if len(free) < count:
            raise EC2ClientError("VpnConnectionLimitExceeded", "No more tunnel outside addresses in the emulator.")
        return free

    def _log_options(self, requested: dict | None) -> dict:
        """A tunnel's LogOptions, as DescribeVpnConnections returns them, from what
        CreateVpnConnection / ModifyVpnTunnelOptions asked. Refused as AWS refuses
        it: an output format other than json or text; logging enabled without a log
        group, or with one that is not a CloudWatch Logs log group of this account and
        Region that exists. (AWS documents no error text for these; the emulator
        answers InvalidParameterValue, EC2's code for a bad parameter.)"""
        wanted = (requested or {}).get("CloudWatchLogOptions") or {}
        options: dict = {}
        for prefix, kind in LOG_KINDS:
            enabled, arn = _flag(wanted.get(f"{prefix}LogEnabled", False)), wanted.get(f"{prefix}LogGroupArn")
            output = wanted.get(f"{prefix}LogOutputFormat")
            if output is not None and output not in LOG_OUTPUT_FORMATS:
                raise invalid(f"Invalid value {output!r} for {prefix}LogOutputFormat; valid values: json, text")
            if enabled and not arn:
                raise invalid(
                    f"{prefix}LogGroupArn is required when {prefix}LogEnabled is true "
                    f"(the CloudWatch Logs log group for the tunnel's {kind} logs)."
                )
            if arn:
                self._check_log_group(arn, f"{prefix}LogGroupArn", exists=enabled)
            options[f"{prefix}LogEnabled"] = enabled
            if arn:
                options[f"{prefix}LogGroupArn"] = arn
            if enabled or output:
                options[f"{prefix}LogOutputFormat"] = output or "json"
        return {"CloudWatchLogOptions": options}

    def _check_log_group(self, arn: str, member: str, exists: bool) -> None:
        from moto.logs.models import logs_backends

        match = LOG_GROUP_ARN.match(arn)
        if match is None:
            raise invalid(
                f"Invalid {member} {arn!r}: not the ARN of a CloudWatch Logs log group "
                "(arn:aws:logs:<region>:<account>:log-group:<name>)."
            )
        _, region, account, name, _ = match.groups()
        if (account, region) != (self.account_id, self.region_name):  # type: ignore[attr-defined]
            raise invalid(
                f"The CloudWatch Logs log group {arn} ({member}) must be in the VPN connection's account "
                f"and Region ({self.region_name})."  # type: ignore[attr-defined]
            )
        if exists and name not in logs_backends[account][region].groups:
            raise invalid(f"The CloudWatch Logs log group {arn} ({member}) does not exist.")

    def _allocate_inside_cidr(self, taken: set[str]) -> str:
        # AWS picks a random free /30 from 169.254.0.0/16 outside the reserved ones.
        while True:
            third, fourth = secrets.randbelow(256), secrets.randbelow(64) * 4
            cidr = f"169.254.{third}.{fourth}/30"
            if cidr not in taken and vpnrules.inside_cidr_problem(cidr) is None:
                return cidr

    def create_vpn_connection(
        self,
        vpn_conn_type: str,
        customer_gateway_id: str,
        vpn_gateway_id: str | None = None,
        transit_gateway_id: str | None = None,
        tags: dict[str, str] | None = None,
        options: dict | None = None,
        outside_ips: list[str] | None = None,
    ) -> TunnelledVpnConnection:
        """`outside_ips`: the tunnels' addresses, already allocated (a seeded fleet's); the API never gives them."""
        options = options or {}
        if vpn_gateway_id and transit_gateway_id:
            raise invalid("The request must not contain both parameter vpnGatewayId and transitGatewayId")
        customer_gateway = self.get_customer_gateway(customer_gateway_id)  # type: ignore[attr-defined]
        amazon_side_asn = 64512
        if transit_gateway_id:
            tgw = self.transit_gateways.get(transit_gateway_id)  # type: ignore[attr-defined]
            if tgw is None:
                raise EC2ClientError(
                    "InvalidTransitGatewayID.NotFound", f"Transit gateway ID '{transit_gateway_id}' does not exist."
                )
            amazon_side_asn = int(tgw.options.get("AmazonSideAsn", 64512))
        specs = list(options.get("TunnelOptions") or [])
        _validate_tunnel_options(specs)
        specs += [{}] * (2 - len(specs))
        log_options = [self._log_options(spec.get("LogOptions")) for spec in specs]

        # Inside CIDRs must be unique across all connections on the same gateway.
        taken = {
            t.inside_cidr for c in self._gateway_connections(transit_gateway_id, vpn_gateway_id) for t in c.tunnel_list
        }
        for spec in specs:
            cidr = spec.get("TunnelInsideCidr")
            if cidr in taken:
                raise invalid(
                    f"The tunnel inside CIDR {cidr} is already in use by another VPN connection on the same gateway."
                )
        tunnels = []
        for spec, logs, outside_ip in zip(specs, log_options, outside_ips or self._allocate_outside_ips(len(specs))):
            cidr = spec.get("TunnelInsideCidr") or self._allocate_inside_cidr(taken)
            taken.add(cidr)
            tunnels.append(
                Tunnel(
                    outside_ip=outside_ip,
                    inside_cidr=cidr,
                    pre_shared_key=spec.get("PreSharedKey") or random_psk(),
                    requested={k: v for k, v in spec.items() if k != "LogOptions"},
                    log_options=logs,
                )
            )

        connection = TunnelledVpnConnection(
            self,
            vpn_connection_id=random_vpn_connection_id(),
            vpn_conn_type=vpn_conn_type,
            customer_gateway_id=customer_gateway_id,
            vpn_gateway_id=vpn_gateway_id,
            transit_gateway_id=transit_gateway_id,
            tags=tags,
            customer_gateway=customer_gateway,
            amazon_side_asn=amazon_side_asn,
            tunnels=tunnels,
            static_routes_only=bool(options.get("StaticRoutesOnly", False)),
        )
        self.vpn_connections[connection.id] = connection
        return connection

    def _tunnelled(self, vpn_connection_id: str) -> TunnelledVpnConnection:
        connection = self.vpn_connections.get(vpn_connection_id)
        if not isinstance(connection, TunnelledVpnConnection) or connection.state == "deleted":
            raise InvalidVpnConnectionIdError(vpn_connection_id)
        return connection

    def modify_vpn_tunnel_options(
        self, vpn_connection_id: str, outside_ip: str, options: dict
    ) -> TunnelledVpnConnection:
        """One tunnel's options changed in place, validated as at creation; the tunnel
        goes DOWN until the data plane re-establishes it with the new values (AWS:
        "the tunnel will be unavailable for a brief period")."""
        connection = self._tunnelled(vpn_connection_id)
        tunnel = next((t for t in connection.tunnel_list if t.outside_ip == outside_ip), None)
        if tunnel is None:
            raise invalid(f"The VPN connection {vpn_connection_id} has no tunnel with outside IP address {outside_ip}.")
        _validate_tunnel_options([options])
        log_options = self._log_options(options["LogOptions"]) if "LogOptions" in options else None
        cidr = options.get("TunnelInsideCidr")
        if cidr and cidr != tunnel.inside_cidr:
            taken = {
                t.inside_cidr
                for c in self._gateway_connections(connection.transit_gateway_id, connection.vpn_gateway_id)
                for t in c.tunnel_list
                if t is not tunnel
            }
            if cidr in taken:
                raise invalid(
                    f"The tunnel inside CIDR {cidr} is already in use by another VPN connection on the same gateway."
                )
            tunnel.inside_cidr = cidr
        if options.get("PreSharedKey"):
            tunnel.pre_shared_key = options["PreSharedKey"]
        if log_options is not None:  # LogOptions given replace the tunnel's; left out, they stay
            tunnel.log_options = log_options
        tunnel.requested = {**tunnel.requested, **{k: v for k, v in options.items() if k != "LogOptions"}}
        self._interrupt(connection, [tunnel], "the tunnel's options are being modified")
        return connection

    def _interrupt(self, connection: TunnelledVpnConnection, tunnels: list[Tunnel], why: str) -> None:
        """Tunnels AWS takes down to change them: DOWN until the data plane brings them
        back, and in their TunnelState history as on AWS."""
        from .. import datafeed

        for tunnel in tunnels:
            tunnel.report("DOWN", why, [], tunnel.bytes_in, tunnel.bytes_out)
        account, region = self.account_id, self.region_name  # type: ignore[attr-defined]
        datafeed.record_tunnels_down(account, region, connection.id, [t.outside_ip for t in tunnels])

    def modify_vpn_connection(
        self,
        vpn_connection_id: str,
        customer_gateway_id: str | None = None,
        transit_gateway_id: str | None = None,
        vpn_gateway_id: str | None = None,
    ) -> TunnelledVpnConnection:
        """Move the connection to another customer gateway; both tunnels go DOWN until the
        data plane re-establishes them with the new peer."""
        connection = self._tunnelled(vpn_connection_id)
        if transit_gateway_id or vpn_gateway_id:
            raise invalid("Moving a VPN connection to another gateway is not supported by the hybridnet emulator.")
        if not customer_gateway_id:
            raise EC2ClientError(
                "MissingParameter",
                "The request must contain one of CustomerGatewayId, TransitGatewayId or VpnGatewayId.",
            )
        gateway = self.get_customer_gateway(customer_gateway_id)  # type: ignore[attr-defined]
        if gateway.state != "available":
            raise EC2ClientError("IncorrectState", f"The customer gateway {customer_gateway_id} is {gateway.state}.")
        connection.customer_gateway, connection.customer_gateway_id = gateway, gateway.id
        self._interrupt(connection, connection.tunnel_list, "the VPN connection is moving to another customer gateway")
        return connection

    def delete_vpn_connection(self, vpn_connection_id: str) -> VPNConnection:
        connection = self.vpn_connections.get(vpn_connection_id)
        if connection is None:
            raise InvalidVpnConnectionIdError(vpn_connection_id)
        connection.state = "deleted"
        self.release_vpn_attachment(vpn_connection_id)  # type: ignore[attr-defined]
        return connection

    def describe_vpn_connections(self, vpn_connection_ids: list[str] | None = None, filters: Any = None):
        connections = list(self.vpn_connections.values())
        if vpn_connection_ids:
            missing = set(vpn_connection_ids) - {c.id for c in connections}
            if missing:
                raise InvalidVpnConnectionIdError(sorted(missing)[0])
            connections = [c for c in connections if c.id in vpn_connection_ids]
        return generic_filter(filters, connections)

    def report_tunnel_telemetry(
        self,
        vpn_connection_id: str,
        outside_ip: str,
        status: str,
        status_message: str,
        received_routes: list[str],
        bytes_in: int = 0,
        bytes_out: int = 0,
    ) -> tuple[int, int]:
        """Called by the data plane (the lab) through the emulator's admin API."""
        if status not in ("UP", "DOWN"):
            raise invalid(f"tunnel status must be UP or DOWN, not {status!r}")
        connection = self.vpn_connections.get(vpn_connection_id)
        if not isinstance(connection, TunnelledVpnConnection):
            raise InvalidVpnConnectionIdError(vpn_connection_id)
        for tunnel in connection.tunnel_list:
            if tunnel.outside_ip == outside_ip:
                return tunnel.report(status, status_message, received_routes, bytes_in, bytes_out)
        raise invalid(f"VPN connection {vpn_connection_id} has no tunnel with outside IP {outside_ip}")


def fleet_outside_ips_in_use() -> set[str]:
    """The outside addresses of every tunnel in the emulator (all accounts and Regions) that
    come from FLEET_OUTSIDE_ADDRESS_POOL: what a fleet's next connections must not take."""
    from moto.ec2.models import ec2_backends

    used: set[str] = set()
    for _account, regions in list(ec2_backends.items()):
        for backend in list(dict(regions).values()):
            for connection in list(backend.vpn_connections.values()):
                if isinstance(connection, TunnelledVpnConnection) and connection.state != "deleted":
                    used.update(
                        t.outside_ip
                        for t in connection.tunnel_list
                        if ipaddress.ip_address(t.outside_ip) in FLEET_OUTSIDE_ADDRESS_POOL
                    )
    return used
