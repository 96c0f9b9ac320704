"""State of AWS Client VPN endpoints as AWS keeps it, per account and region
in the EC2 backend, and the backend's Client VPN actions (installed into
moto's EC2Backend by extensions.py; the protocol is responses.py's).

An endpoint is `pending-associate` until one of its target networks
(subnets, one per Availability Zone, all in one VPC) is associated, then
`available`. Associating a subnet adds the route to the VPC's CIDR through
it (Origin `associate`). Transitions take time as on AWS (`associating`,
`authorizing`, `creating`, `disassociating`, `revoking`, `deleting`,
`terminating` last HYBRIDNET_EMULATOR_PENDING_SECONDS, like VPN connections),
so callers must really wait for them. While a data plane plays an endpoint
(the lab, reporting through admin.report_played), its routes and all-users rules
turn active only once that data plane applies them: a client that connects
after "active" gets them, as on AWS.

Certificates live in moto's ACM backend (certificates.py) and the client
connect handler in its Lambda backend (handler.py), in this same process.
Client connections exist only when a data plane (the lab) reports them
through the admin API (admin.report_connection) or asks the emulator to admit
one as the Client VPN service does (admin.connect), which runs the client
connect handler. Errors are exceptions.py's; constants, ids, filters and the
pagination model utils.py's; moto's tagging learns about endpoints in tags.py.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import random_resource_id
from moto.utilities.paginator import paginate

from .. import clock
from ..vpn.models import pending_seconds
from . import connectionlog
from .certificates import (
    acm_backend,
    acm_certificate,
    ca_chain_pem,
    certificate_common_name,
    server_certificate,
)
from .exceptions import (
    ClientIpNotInClientCidr,
    ClientVpnEndpointAssociationExists,
    ClientVpnEndpointNotAvailable,
    ClientVpnTerminateConnectionsLimitExceeded,
    CommonNameRequired,
    DescriptionTooLong,
    InvalidChoice,
    InvalidClientIp,
    InvalidClientVpnActiveAssociationNotFound,
    InvalidClientVpnAssociationIdNotFound,
    InvalidClientVpnConnectionIdNotFound,
    InvalidClientVpnConnectionUserNotFound,
    InvalidClientVpnDuplicateAssociation,
    InvalidClientVpnDuplicateAuthorizationRule,
    InvalidClientVpnDuplicateRoute,
    InvalidClientVpnEndpointAuthorizationRuleNotFound,
    InvalidClientVpnEndpointIdNotFound,
    InvalidClientVpnRouteNotFound,
    InvalidClientVpnSubnetIdDuplicateAz,
    InvalidClientVpnSubnetIdNotFound,
    InvalidClientVpnSubnetIdOverlappingCidr,
    InvalidConnectionLogDestination,
    InvalidConnectionStatus,
    InvalidGroupNotFound,
    InvalidParameterValue,
    MissingParameterError,
    NoFreeClientIp,
    NotBoth,
    RequiredWhenEnabled,
    SubnetNotTargetNetwork,
    SubnetStillAssociating,
    UnsupportedByEmulator,
)
from .handler import HANDLER_SCHEMA_VERSION, handler_function, invoke_client_connect_handler
from .utils import (
    AUTHENTICATION_TYPES,
    AUTHORIZATION_RULE_FILTERS,
    CONNECTION_FILTERS,
    CONNECTION_STATUSES,
    ENDPOINT_FILTERS,
    MAX_AUTHENTICATION_OPTIONS,
    MAX_BANNER_TEXT,
    MAX_DESCRIPTION,
    MAX_DNS_SERVERS,
    MAX_SECURITY_GROUPS,
    MAX_TERMINATE_BY_USERNAME,
    PAGINATION_MODEL,
    ROUTE_FILTERS,
    SELF_SERVICE_PORTAL,
    SESSION_TIMEOUT_HOURS,
    TARGET_NETWORK_FILTERS,
    TERMINATED_RETENTION,
    TRANSPORT_PROTOCOLS,
    VPN_PORTS,
    aws_time,
    check_filter_names,
    ipv4_network,
    matches,
    random_association_id,
    random_connection_id,
    random_endpoint_id,
    utcnow,
    validate_client_cidr,
)

_LOCK = threading.RLock()  # the emulator serves requests on several threads


def settled(since: float | None) -> bool:
    return since is not None and clock.now() - since >= pending_seconds()


# What a data plane (the lab) reports it applies of each endpoint, by endpoint id:
# {"routes": {cidr}, "rules": {cidr}, "at": clock.now()}. A route or an
# all-users rule is active once AWS would have applied it: with a data plane
# reporting, when that data plane applies it (so a client that connects after
# "active" gets it, as on AWS); without one, after the usual pending time.
# Not saved with the state (persistence.py): the data plane reports it every second.
PLAYED: dict[str, dict] = {}
# A data plane that stopped reporting is gone: statuses settle by time again.
PLAYED_HOLD_S = 5.0


def applied(endpoint_id: str, kind: str, cidr: str) -> bool:
    report = PLAYED.get(endpoint_id)
    if report is None or clock.now() - report["at"] > PLAYED_HOLD_S:
        return True
    return str(ipaddress.ip_network(cidr, strict=False)) in report[kind]


# ---------------------------------------------------------------- state


@dataclass
class TargetNetwork:
    association_id: str
    endpoint_id: str
    subnet_id: str
    vpc_id: str
    availability_zone: str
    availability_zone_id: str
    security_groups: list[str]
    client_token: str | None = None
    created_at: float = field(default_factory=clock.now)
    disassociated_at: float | None = None

    @property
    def status(self) -> str:
        if self.disassociated_at is not None:
            return "disassociated" if settled(self.disassociated_at) else "disassociating"
        return "associated" if settled(self.created_at) else "associating"

    @property
    def gone(self) -> bool:
        return settled(self.disassociated_at)

    @property
    def leaving(self) -> bool:
        return self.disassociated_at is not None

    def to_api(self) -> dict:
        return {
            "AssociationId": self.association_id,
            "VpcId": self.vpc_id,
            "TargetNetworkId": self.subnet_id,
            "ClientVpnEndpointId": self.endpoint_id,
            "Status": {"Code": self.status},
            "SecurityGroups": list(self.security_groups),
        }


@dataclass
class AuthorizationRule:
    endpoint_id: str
    destination_cidr: str
    access_all: bool
    group_id: str | None
    description: str | None
    created_at: float = field(default_factory=clock.now)
    revoked_at: float | None = None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoking"
        played = not self.access_all or applied(self.endpoint_id, "rules", self.destination_cidr)
        return "active" if settled(self.created_at) and played else "authorizing"

    @property
    def gone(self) -> bool:
        return settled(self.revoked_at)

    def to_api(self) -> dict:
        rule = {
            "ClientVpnEndpointId": self.endpoint_id,
            "AccessAll": self.access_all,
            "DestinationCidr": self.destination_cidr,
            "Status": {"Code": self.status},
        }
        if self.group_id:
            rule["GroupId"] = self.group_id
        if self.description:
            rule["Description"] = self.description
        return rule


@dataclass
class Route:
    endpoint_id: str
    destination_cidr: str
    target_subnet: str
    origin: str  # "associate" (added with a target network) or "add-route"
    description: str | None
    created_at: float = field(default_factory=clock.now)
    deleted_at: float | None = None

    @property
    def status(self) -> str:
        if self.deleted_at is not None:
            return "deleting"
        played = applied(self.endpoint_id, "routes", self.destination_cidr)
        return "active" if settled(self.created_at) and played else "creating"

    @property
    def gone(self) -> bool:
        return settled(self.deleted_at)

    def to_api(self) -> dict:
        route = {
            "ClientVpnEndpointId": self.endpoint_id,
            "DestinationCidr": self.destination_cidr,
            "TargetSubnet": self.target_subnet,
            "Type": "Nat",
            "Origin": self.origin,
            "Status": {"Code": self.status},
        }
        if self.description:
            route["Description"] = self.description
        return route


@dataclass
class Connection:
    connection_id: str
    endpoint_id: str
    common_name: str
    client_ip: str
    username: str | None = None
    public_ip: str | None = None
    code: str = "active"
    message: str | None = None
    established: dt.datetime = field(default_factory=utcnow)
    ended: dt.datetime | None = None
    ingress_bytes: int = 0
    egress_bytes: int = 0
    ingress_packets: int = 0
    egress_packets: int = 0
    posture_compliance_statuses: list[str] = field(default_factory=list)
    terminate_requested_at: float | None = None
    port: str | None = None  # the client's source port (connection log "port")
    device_type: str | None = None  # the client's platform (connection log "device-type")
    admitted: bool = False  # logged as a successful attempt: its end is logged too
    end_logged: bool = False

    def refresh(self) -> None:
        """A requested termination completes after the usual transition time."""
        if self.code == "terminating" and settled(self.terminate_requested_at):
            self.set_status("terminated", self.message)

    def set_status(self, code: str, message: str | None = None) -> None:
        if code not in CONNECTION_STATUSES:
            raise InvalidConnectionStatus(code, CONNECTION_STATUSES)
        self.code, self.message = code, message
        if code == "terminated" and self.ended is None:
            self.ended = utcnow()

    def terminate(self) -> tuple[str, str]:
        previous = self.code
        if previous in ("active", "failed-to-terminate"):
            self.code = "terminating"
            self.terminate_requested_at = clock.now()
        return previous, self.code

    def to_api(self) -> dict:
        self.refresh()
        connection = {
            "ClientVpnEndpointId": self.endpoint_id,
            "Timestamp": aws_time(utcnow()),
            "ConnectionId": self.connection_id,
            "ConnectionEstablishedTime": aws_time(self.established),
            "IngressBytes": str(self.ingress_bytes),
            "EgressBytes": str(self.egress_bytes),
            "IngressPackets": str(self.ingress_packets),
            "EgressPackets": str(self.egress_packets),
            "ClientIp": self.client_ip,
            "CommonName": self.common_name,
            "Status": {"Code": self.code, **({"Message": self.message} if self.message else {})},
            "ConnectionEndTime": aws_time(self.ended) if self.ended else "-",
            "PostureComplianceStatuses": list(self.posture_compliance_statuses),
        }
        if self.username:
            connection["Username"] = self.username
        return connection

    def to_admin(self) -> dict:
        return {
            "connection_id": self.connection_id,
            "client_ip": self.client_ip,
            "status": self.code,
            "status_message": self.message,
        }


class ClientVpnEndpoint(TaggedEC2Resource):
    def __init__(
        self,
        ec2_backend: Any,
        *,
        client_cidr_block: str,
        server_certificate_arn: str,
        authentication_options: list[dict],
        description: str | None,
        dns_servers: list[str],
        split_tunnel: bool,
        transport_protocol: str,
        vpn_port: int,
        session_timeout_hours: int,
        disconnect_on_session_timeout: bool,
        self_service_portal: str,
        client_route_enforced: bool,
    ):
        self.ec2_backend = ec2_backend
        self.id = random_endpoint_id()
        self.region = ec2_backend.region_name
        self.account_id = ec2_backend.account_id
        self.client_cidr_block = client_cidr_block
        self.server_certificate_arn = server_certificate_arn
        self.authentication_options = authentication_options
        self.description = description
        self.dns_servers = dns_servers
        self.split_tunnel = split_tunnel
        self.transport_protocol = transport_protocol
        self.vpn_port = vpn_port
        self.session_timeout_hours = session_timeout_hours
        self.disconnect_on_session_timeout = disconnect_on_session_timeout
        self.self_service_portal = self_service_portal
        self.client_route_enforced = client_route_enforced
        self.connection_log: dict[str, Any] = {"Enabled": False}
        self.client_connect: dict[str, Any] = {"Enabled": False}
        self.login_banner: dict[str, Any] = {"Enabled": False}
        self.vpc_id: str | None = None
        self.security_group_ids: list[str] = []
        self.created = utcnow()
        self.deleted_at: float | None = None
        self.deletion_time: dt.datetime | None = None
        self.networks: dict[str, TargetNetwork] = {}
        self.rules: list[AuthorizationRule] = []
        self.routes: list[Route] = []
        self.connections: dict[str, Connection] = {}

    # -- derived state
    @property
    def arn(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account_id}:client-vpn-endpoint/{self.id}"

    @property
    def dns_name(self) -> str:
        return f"*.{self.id}.prod.clientvpn.{self.region}.amazonaws.com"

    @property
    def status(self) -> str:
        if self.deleted_at is not None:
            return "deleting"
        if any(n.status == "associated" for n in self.networks.values()):
            return "available"
        return "pending-associate"

    @property
    def gone(self) -> bool:
        return settled(self.deleted_at)

    def certificate_arns(self) -> list[str]:
        arns = [self.server_certificate_arn]
        for option in self.authentication_options:
            chain = (option.get("MutualAuthentication") or {}).get("ClientRootCertificateChainArn")
            if chain and chain not in arns:
                arns.append(chain)
        return arns

    def prune(self) -> None:
        for association_id in [a for a, n in self.networks.items() if n.gone]:
            del self.networks[association_id]
        self.rules = [r for r in self.rules if not r.gone]
        self.routes = [r for r in self.routes if not r.gone]
        cutoff = utcnow() - TERMINATED_RETENTION
        for connection in list(self.connections.values()):
            connection.refresh()
            if connection.code == "terminated" and connection.ended and connection.ended < cutoff:
                del self.connections[connection.connection_id]

    def live_networks(self) -> list[TargetNetwork]:
        return [n for n in self.networks.values() if not n.leaving]

    def live_rules(self) -> list[AuthorizationRule]:
        return [r for r in self.rules if r.revoked_at is None]

    def live_routes(self) -> list[Route]:
        return [r for r in self.routes if r.deleted_at is None]

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        if filter_name == "endpoint-id":
            return self.id
        if filter_name == "transport-protocol":
            return self.transport_protocol
        return super().get_filter_value(filter_name, "DescribeClientVpnEndpoints")

    # -- API shapes
    def authentication_api(self) -> list[dict]:
        described = []
        for option in self.authentication_options:
            kind = option["Type"]
            entry: dict[str, Any] = {"Type": kind}
            if kind == "certificate-authentication":
                entry["MutualAuthentication"] = {
                    "ClientRootCertificateChain": option["MutualAuthentication"]["ClientRootCertificateChainArn"]
                }
            elif kind == "directory-service-authentication":
                entry["ActiveDirectory"] = {"DirectoryId": option["ActiveDirectory"]["DirectoryId"]}
            else:
                federated = option["FederatedAuthentication"]
                entry["FederatedAuthentication"] = {"SamlProviderArn": federated.get("SAMLProviderArn")}
                if federated.get("SelfServiceSAMLProviderArn"):
                    entry["FederatedAuthentication"]["SelfServiceSamlProviderArn"] = federated[
                        "SelfServiceSAMLProviderArn"
                    ]
            described.append(entry)
        return described

    def to_api(self) -> dict:
        endpoint: dict[str, Any] = {
            "ClientVpnEndpointId": self.id,
            "Status": {"Code": self.status},
            "CreationTime": aws_time(self.created),
            "DnsName": self.dns_name,
            "ClientCidrBlock": self.client_cidr_block,
            "SplitTunnel": self.split_tunnel,
            "VpnProtocol": "openvpn",
            "TransportProtocol": self.transport_protocol,
            "VpnPort": self.vpn_port,
            "ServerCertificateArn": self.server_certificate_arn,
            "AuthenticationOptions": self.authentication_api(),
            "ConnectionLogOptions": dict(self.connection_log),
            "SecurityGroupIds": list(self.security_group_ids),
            "ClientConnectOptions": {**self.client_connect, "Status": {"Code": "applied"}},
            "SessionTimeoutHours": self.session_timeout_hours,
            "ClientLoginBannerOptions": dict(self.login_banner),
            "ClientRouteEnforcementOptions": {"Enforced": self.client_route_enforced},
            "DisconnectOnSessionTimeout": self.disconnect_on_session_timeout,
            "EndpointIpAddressType": "ipv4",
            "TrafficIpAddressType": "ipv4",
        }
        if self.description:
            endpoint["Description"] = self.description
        if self.deletion_time:
            endpoint["DeletionTime"] = aws_time(self.deletion_time)
        if self.dns_servers:
            endpoint["DnsServers"] = list(self.dns_servers)
        if self.vpc_id:
            endpoint["VpcId"] = self.vpc_id
        tags = [{"Key": t["key"], "Value": t["value"]} for t in self.get_tags()]
        if tags:
            endpoint["Tags"] = tags
        if self.self_service_portal == "enabled" and any(
            o["Type"] == "federated-authentication" for o in self.authentication_options
        ):
            endpoint["SelfServicePortalUrl"] = f"https://self-service.clientvpn.amazonaws.com/endpoints/{self.id}"
        return endpoint

    def client_configuration(self) -> str:
        """The .ovpn profile ExportClientVpnClientConfiguration returns, in AWS's layout:
        the remote is the DNS name without its wildcard label (remote-random-hostname
        adds one), <ca> holds the server certificate's chain, and verify-x509-name the
        server certificate's CN. The user adds <cert>/<key> for mutual authentication."""
        bundle = acm_certificate(self.account_id, self.region, self.server_certificate_arn, "ServerCertificateArn")
        lines = [
            "client",
            "dev tun",
            f"proto {self.transport_protocol}",
            f"remote {self.dns_name.removeprefix('*.')} {self.vpn_port}",
            "remote-random-hostname",
            "resolv-retry infinite",
            "nobind",
            "remote-cert-tls server",
            "cipher AES-256-GCM",
            "verb 3",
            "<ca>",
            ca_chain_pem(bundle),
            "</ca>",
            "",
        ]
        kinds = {o["Type"] for o in self.authentication_options}
        if "directory-service-authentication" in kinds:
            lines.append("auth-user-pass")
        if "federated-authentication" in kinds:
            lines += ["auth-user-pass", "auth-federate", "auth-retry interact", "auth-nocache"]
        lines += ["", "reneg-sec 0", ""]
        common_name = certificate_common_name(bundle.cert)
        if common_name:
            lines.append(f"verify-x509-name {common_name} name")
        return "\n".join(lines) + "\n"

    # -- connections
    def allocate_client_ip(self) -> str:
        in_use = {c.client_ip for c in self.connections.values() if c.code != "terminated"}
        hosts = ipaddress.ip_network(self.client_cidr_block).hosts()
        next(hosts, None)  # the first address stays with the endpoint's side of the client network
        for host in hosts:
            if str(host) not in in_use:
                return str(host)
        raise NoFreeClientIp(self.client_cidr_block)

    def check_client_ip(self, client_ip: str) -> str:
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            raise InvalidClientIp(client_ip) from None
        if address not in ipaddress.ip_network(self.client_cidr_block):
            raise ClientIpNotInClientCidr(client_ip, self.client_cidr_block)
        return str(address)


# ---------------------------------------------------------------- backend


class ClientVpnBackend:
    """Client VPN actions on the EC2 backend (installed into moto's EC2Backend)."""

    region_name: str
    account_id: str

    # -- storage and lookups
    def _client_vpn_state(self) -> dict[str, Any]:
        state = self.__dict__.get("_client_vpn")
        if state is None:
            state = self.__dict__.setdefault("_client_vpn", {"endpoints": {}, "tokens": {}})
        return state

    def _client_vpn_endpoints(self) -> dict[str, ClientVpnEndpoint]:
        endpoints = self._client_vpn_state()["endpoints"]
        for endpoint_id in [e for e, endpoint in endpoints.items() if endpoint.gone]:
            del endpoints[endpoint_id]
            self.tags.pop(endpoint_id, None)  # type: ignore[attr-defined]
        for endpoint in endpoints.values():
            endpoint.prune()
        return endpoints

    def get_client_vpn_endpoint(self, endpoint_id: str, *, for_update: bool = True) -> ClientVpnEndpoint:
        if not endpoint_id:
            raise MissingParameterError("ClientVpnEndpointId")
        endpoint = self._client_vpn_endpoints().get(endpoint_id)
        if endpoint is None or (for_update and endpoint.deleted_at is not None):
            raise InvalidClientVpnEndpointIdNotFound(endpoint_id)
        return endpoint

    def _idempotent(self, action: str, token: str | None) -> Any:
        return self._client_vpn_state()["tokens"].get((action, token)) if token else None

    def _remember(self, action: str, token: str | None, result: Any) -> Any:
        if token:
            self._client_vpn_state()["tokens"][(action, token)] = result
        return result

    # -- validation shared by create and modify
    def _check_vpc_and_groups(self, vpc_id: str | None, group_ids: list[str]) -> list[str]:
        if group_ids and not vpc_id:
            raise InvalidParameterValue("You must specify the VPC ID (VpcId) when you specify security groups.")
        if not vpc_id:
            return []
        self.get_vpc(vpc_id)  # type: ignore[attr-defined]  # InvalidVpcID.NotFound
        if not group_ids:
            default = self.get_default_security_group(vpc_id)  # type: ignore[attr-defined]
            return [default.id] if default else []
        if len(group_ids) > MAX_SECURITY_GROUPS:
            raise InvalidParameterValue("You can specify up to five security groups.")
        for group_id in group_ids:
            group = self.get_security_group_from_id(group_id)  # type: ignore[attr-defined]
            if group is None:
                raise InvalidGroupNotFound(group_id)
            if group.vpc_id != vpc_id:
                raise InvalidParameterValue(f"Security group {group_id} does not belong to VPC {vpc_id}.")
        return list(dict.fromkeys(group_ids))

    def _connection_log(self, endpoint_id: str, options: dict | None) -> dict[str, Any]:
        options = options or {}
        if not options.get("Enabled"):
            return {"Enabled": False}
        group = options.get("CloudwatchLogGroup")
        if not group:
            raise RequiredWhenEnabled("CloudwatchLogGroup", "connection logging")
        from moto.logs.models import logs_backends

        logs = logs_backends[self.account_id][self.region_name]
        if group not in logs.groups:
            raise InvalidConnectionLogDestination("log group", group)
        stream = options.get("CloudwatchLogStream")
        if stream and stream not in logs.groups[group].streams:  # a named stream must exist
            raise InvalidConnectionLogDestination("log stream", stream, group)
        if not stream:  # AWS names and creates a stream when only the group is given
            stream = f"{endpoint_id}-{self.region_name}-{utcnow():%Y/%m/%d}-{random_resource_id(12)}"
            logs.groups[group].create_log_stream(stream)
        result = {"Enabled": True, "CloudwatchLogGroup": group, "CloudwatchLogStream": stream}
        if "IncludeAuthorizationPolicyContext" in options:
            result["IncludeAuthorizationPolicyContext"] = bool(options["IncludeAuthorizationPolicyContext"])
        return result

    def _client_connect(self, options: dict | None) -> dict[str, Any] | None:
        if options is None:
            return None
        if not options.get("Enabled"):
            return {"Enabled": False}
        arn = options.get("LambdaFunctionArn")
        if not arn:
            raise RequiredWhenEnabled("LambdaFunctionArn", "the client connect handler")
        handler_function(self.account_id, self.region_name, arn)
        return {"Enabled": True, "LambdaFunctionArn": arn}

    @staticmethod
    def _login_banner(options: dict | None) -> dict[str, Any] | None:
        if options is None:
            return None
        if not options.get("Enabled"):
            return {"Enabled": False}
        text = options.get("BannerText")
        if not text:
            raise RequiredWhenEnabled("BannerText", "the client login banner")
        if len(text) > MAX_BANNER_TEXT:
            raise InvalidParameterValue(f"BannerText can have at most {MAX_BANNER_TEXT} characters.")
        return {"Enabled": True, "BannerText": text}

    @staticmethod
    def _dns_servers(servers: list[str] | None) -> list[str]:
        servers = list(servers or [])
        if len(servers) > MAX_DNS_SERVERS:
            raise InvalidParameterValue("A Client VPN endpoint can have up to two DNS servers.")
        for server in servers:
            try:
                ipaddress.IPv4Address(server)
            except ValueError:
                raise InvalidParameterValue(f"Invalid DNS server address {server!r}.") from None
        return servers

    def _authentication(self, options: list[dict] | None) -> list[dict]:
        options = list(options or [])
        if not options:
            raise MissingParameterError("AuthenticationOptions")
        if len(options) > MAX_AUTHENTICATION_OPTIONS:
            raise InvalidParameterValue("You can specify up to two authentication options.")
        kinds = [o.get("Type") for o in options]
        for option, kind in zip(options, kinds):
            if kind not in AUTHENTICATION_TYPES:
                raise InvalidParameterValue(
                    f"Invalid authentication type {kind!r}; valid types: {', '.join(AUTHENTICATION_TYPES)}"
                )
            if kind == "certificate-authentication":
                chain = (option.get("MutualAuthentication") or {}).get("ClientRootCertificateChainArn")
                if not chain:
                    raise InvalidParameterValue(
                        "MutualAuthentication.ClientRootCertificateChainArn is required for certificate-authentication."
                    )
                acm_certificate(self.account_id, self.region_name, chain, "ClientRootCertificateChainArn")
            elif kind == "directory-service-authentication":
                if not (option.get("ActiveDirectory") or {}).get("DirectoryId"):
                    raise InvalidParameterValue(
                        "ActiveDirectory.DirectoryId is required for directory-service-authentication."
                    )
            elif not (option.get("FederatedAuthentication") or {}).get("SAMLProviderArn"):
                raise InvalidParameterValue(
                    "FederatedAuthentication.SAMLProviderArn is required for federated-authentication."
                )
        if len(set(kinds)) != len(kinds):
            raise InvalidParameterValue("Each authentication type can be specified only once.")
        if set(kinds) == {"directory-service-authentication", "federated-authentication"}:
            raise InvalidParameterValue("Active Directory and federated authentication cannot be combined.")
        return options

    # -- endpoints
    def create_client_vpn_endpoint(
        self,
        *,
        client_cidr_block: str | None,
        server_certificate_arn: str | None,
        authentication_options: list[dict] | None,
        connection_log_options: dict | None,
        dns_servers: list[str] | None = None,
        transport_protocol: str | None = None,
        vpn_port: int | None = None,
        description: str | None = None,
        split_tunnel: bool | None = None,
        security_group_ids: list[str] | None = None,
        vpc_id: str | None = None,
        self_service_portal: str | None = None,
        client_connect_options: dict | None = None,
        session_timeout_hours: int | None = None,
        client_login_banner_options: dict | None = None,
        client_route_enforcement_options: dict | None = None,
        disconnect_on_session_timeout: bool | None = None,
        tags: dict[str, str] | None = None,
        client_token: str | None = None,
        unsupported_options: list[str] | None = None,
    ) -> ClientVpnEndpoint:
        with _LOCK:
            previous = self._idempotent("CreateClientVpnEndpoint", client_token)
            if previous is not None:
                return previous
            for option in unsupported_options or []:
                raise UnsupportedByEmulator(option)
            if not server_certificate_arn:
                raise MissingParameterError("ServerCertificateArn")
            if connection_log_options is None:
                raise MissingParameterError("ConnectionLogOptions")
            if not client_cidr_block:
                raise MissingParameterError("ClientCidrBlock")
            cidr = validate_client_cidr(client_cidr_block)
            server_certificate(self.account_id, self.region_name, server_certificate_arn)
            authentication = self._authentication(authentication_options)
            transport = transport_protocol or "udp"
            if transport not in TRANSPORT_PROTOCOLS:
                raise InvalidChoice("TransportProtocol", transport, TRANSPORT_PROTOCOLS, quoted=True)
            port = 443 if vpn_port is None else int(vpn_port)
            if port not in VPN_PORTS:
                raise InvalidChoice("VpnPort", port, VPN_PORTS)
            hours = 24 if session_timeout_hours is None else int(session_timeout_hours)
            if hours not in SESSION_TIMEOUT_HOURS:
                raise InvalidChoice("SessionTimeoutHours", hours, SESSION_TIMEOUT_HOURS)
            portal = self_service_portal or "enabled"
            if portal not in SELF_SERVICE_PORTAL:
                raise InvalidChoice("SelfServicePortal", portal, SELF_SERVICE_PORTAL, quoted=True)
            if self_service_portal == "enabled" and not any(
                o["Type"] == "federated-authentication" for o in authentication
            ):
                raise InvalidParameterValue("The self-service portal requires federated authentication.")
            if description and len(description) > MAX_DESCRIPTION:
                raise DescriptionTooLong(MAX_DESCRIPTION)
            groups = self._check_vpc_and_groups(vpc_id, list(security_group_ids or []))
            endpoint = ClientVpnEndpoint(
                self,
                client_cidr_block=cidr,
                server_certificate_arn=server_certificate_arn,
                authentication_options=authentication,
                description=description,
                dns_servers=self._dns_servers(dns_servers),
                split_tunnel=bool(split_tunnel),
                transport_protocol=transport,
                vpn_port=port,
                session_timeout_hours=hours,
                disconnect_on_session_timeout=True
                if disconnect_on_session_timeout is None
                else bool(disconnect_on_session_timeout),
                self_service_portal=portal,
                client_route_enforced=bool((client_route_enforcement_options or {}).get("Enforced")),
            )
            endpoint.connection_log = self._connection_log(endpoint.id, connection_log_options)
            endpoint.client_connect = self._client_connect(client_connect_options) or {"Enabled": False}
            endpoint.login_banner = self._login_banner(client_login_banner_options) or {"Enabled": False}
            endpoint.vpc_id, endpoint.security_group_ids = vpc_id, groups
            self._client_vpn_endpoints()[endpoint.id] = endpoint
            if tags:
                self.create_tags([endpoint.id], tags)  # type: ignore[attr-defined]
            for arn in endpoint.certificate_arns():  # ACM shows what uses a certificate (InUseBy)
                bundle = acm_backend(self.account_id, self.region_name).get_certificate(arn)
                if endpoint.arn not in bundle.in_use_by:
                    bundle.in_use_by.append(endpoint.arn)
            return self._remember("CreateClientVpnEndpoint", client_token, endpoint)

    @paginate(pagination_model=PAGINATION_MODEL)
    def describe_client_vpn_endpoints(
        self, endpoint_ids: list[str] | None = None, filters: dict[str, list[str]] | None = None
    ) -> list[ClientVpnEndpoint]:
        from moto.ec2.utils import generic_filter

        with _LOCK:
            check_filter_names(filters, ENDPOINT_FILTERS, tags=True)
            endpoints = list(self._client_vpn_endpoints().values())
            for endpoint_id in endpoint_ids or []:
                self.get_client_vpn_endpoint(endpoint_id, for_update=False)
            if endpoint_ids:
                endpoints = [e for e in endpoints if e.id in endpoint_ids]
            return generic_filter(filters or {}, endpoints)

    def modify_client_vpn_endpoint(
        self,
        endpoint_id: str,
        *,
        server_certificate_arn: str | None = None,
        connection_log_options: dict | None = None,
        dns_servers: dict | None = None,
        vpn_port: int | None = None,
        description: str | None = None,
        split_tunnel: bool | None = None,
        security_group_ids: list[str] | None = None,
        vpc_id: str | None = None,
        self_service_portal: str | None = None,
        client_connect_options: dict | None = None,
        session_timeout_hours: int | None = None,
        client_login_banner_options: dict | None = None,
        client_route_enforcement_options: dict | None = None,
        disconnect_on_session_timeout: bool | None = None,
        unsupported_options: list[str] | None = None,
    ) -> None:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            for option in unsupported_options or []:
                raise UnsupportedByEmulator(option)
            # Validate everything first: a rejected request changes nothing.
            if server_certificate_arn:
                server_certificate(self.account_id, self.region_name, server_certificate_arn)
            if vpn_port is not None and int(vpn_port) not in VPN_PORTS:
                raise InvalidChoice("VpnPort", vpn_port, VPN_PORTS)
            if session_timeout_hours is not None and int(session_timeout_hours) not in SESSION_TIMEOUT_HOURS:
                raise InvalidChoice("SessionTimeoutHours", session_timeout_hours, SESSION_TIMEOUT_HOURS)
            if self_service_portal is not None and self_service_portal not in SELF_SERVICE_PORTAL:
                raise InvalidChoice("SelfServicePortal", self_service_portal, SELF_SERVICE_PORTAL, quoted=True)
            if description is not None and len(description) > MAX_DESCRIPTION:
                raise DescriptionTooLong(MAX_DESCRIPTION)
            servers = None
            if dns_servers is not None:
                servers = self._dns_servers(dns_servers.get("CustomDnsServers")) if dns_servers.get("Enabled") else []
            groups = None
            if vpc_id is not None or security_group_ids:
                target_vpc = vpc_id or endpoint.vpc_id
                if vpc_id and vpc_id != endpoint.vpc_id and endpoint.live_networks():
                    raise InvalidParameterValue(
                        f"Cannot change the VPC of Client VPN endpoint {endpoint_id} while "
                        "it has associated target networks; disassociate them first."
                    )
                groups = self._check_vpc_and_groups(target_vpc, list(security_group_ids or []))
            connection_log = (
                None if connection_log_options is None else self._connection_log(endpoint.id, connection_log_options)
            )
            client_connect = self._client_connect(client_connect_options)
            banner = self._login_banner(client_login_banner_options)

            if server_certificate_arn and server_certificate_arn != endpoint.server_certificate_arn:
                acm = acm_backend(self.account_id, self.region_name)
                old = acm._certificates.get(endpoint.server_certificate_arn)
                endpoint.server_certificate_arn = server_certificate_arn
                if old is not None and old.arn not in endpoint.certificate_arns():  # not its client CA too
                    old.in_use_by[:] = [a for a in old.in_use_by if a != endpoint.arn]
                new = acm.get_certificate(server_certificate_arn)
                if endpoint.arn not in new.in_use_by:
                    new.in_use_by.append(endpoint.arn)
            if connection_log is not None:
                endpoint.connection_log = connection_log
            if servers is not None:
                endpoint.dns_servers = servers
            if vpn_port is not None:
                endpoint.vpn_port = int(vpn_port)
            if description is not None:
                endpoint.description = description
            if split_tunnel is not None:
                endpoint.split_tunnel = bool(split_tunnel)
            if groups is not None:
                endpoint.vpc_id, endpoint.security_group_ids = vpc_id or endpoint.vpc_id, groups
                for network in endpoint.networks.values():
                    network.security_groups = list(groups)
            if self_service_portal is not None:
                endpoint.self_service_portal = self_service_portal
            if client_connect is not None:
                endpoint.client_connect = client_connect
            if session_timeout_hours is not None:
                endpoint.session_timeout_hours = int(session_timeout_hours)
            if banner is not None:
                endpoint.login_banner = banner
            if client_route_enforcement_options is not None:
                endpoint.client_route_enforced = bool(client_route_enforcement_options.get("Enforced"))
            if disconnect_on_session_timeout is not None:
                endpoint.disconnect_on_session_timeout = bool(disconnect_on_session_timeout)

    def delete_client_vpn_endpoint(self, endpoint_id: str) -> ClientVpnEndpoint:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            if endpoint.networks:
                raise ClientVpnEndpointAssociationExists(endpoint.networks)
            endpoint.deleted_at, endpoint.deletion_time = clock.now(), utcnow()
            for connection in endpoint.connections.values():
                connection.terminate()
            acm = acm_backend(self.account_id, self.region_name)
            for arn in endpoint.certificate_arns():
                bundle = acm._certificates.get(arn)
                if bundle is not None:
                    bundle.in_use_by[:] = [a for a in bundle.in_use_by if a != endpoint.arn]
            return endpoint

    def apply_security_groups_to_client_vpn_target_network(
        self, endpoint_id: str, vpc_id: str, security_group_ids: list[str]
    ) -> list[str]:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            if endpoint.vpc_id and vpc_id != endpoint.vpc_id:
                raise InvalidParameterValue(
                    f"VPC {vpc_id} is not the VPC of Client VPN endpoint {endpoint_id} ({endpoint.vpc_id})."
                )
            groups = self._check_vpc_and_groups(vpc_id, list(security_group_ids or []))
            endpoint.vpc_id, endpoint.security_group_ids = vpc_id, groups
            for network in endpoint.networks.values():
                network.security_groups = list(groups)
            return groups

    def export_client_vpn_client_configuration(self, endpoint_id: str) -> str:
        with _LOCK:
            return self.get_client_vpn_endpoint(endpoint_id).client_configuration()

    # -- target networks
    def associate_client_vpn_target_network(
        self, endpoint_id: str, subnet_id: str | None, client_token: str | None = None
    ) -> TargetNetwork:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            previous = self._idempotent("AssociateClientVpnTargetNetwork", client_token)
            if previous is not None:
                return previous
            if not subnet_id:
                raise MissingParameterError("SubnetId")
            subnet = self.get_subnet(subnet_id)  # type: ignore[attr-defined]  # InvalidSubnetID.NotFound
            live = endpoint.live_networks()
            if any(n.subnet_id == subnet_id for n in live):
                raise InvalidClientVpnDuplicateAssociation(subnet_id, endpoint_id)
            vpc_id = endpoint.vpc_id or subnet.vpc_id
            if subnet.vpc_id != vpc_id:
                raise InvalidClientVpnSubnetIdNotFound(subnet_id, vpc_id, endpoint_id)
            if any(n.availability_zone == subnet.availability_zone for n in live):
                raise InvalidClientVpnSubnetIdDuplicateAz(subnet.availability_zone, endpoint_id)
            vpc = self.get_vpc(vpc_id)  # type: ignore[attr-defined]
            client = ipaddress.ip_network(endpoint.client_cidr_block)
            vpc_cidrs = [c["cidr_block"] for c in vpc.get_cidr_block_association_set()] or [vpc.cidr_block]
            for vpc_cidr in vpc_cidrs:
                if client.overlaps(ipaddress.ip_network(vpc_cidr)):
                    raise InvalidClientVpnSubnetIdOverlappingCidr(
                        endpoint.client_cidr_block, endpoint_id, vpc_cidr, vpc_id, subnet_id
                    )
            if endpoint.vpc_id is None:  # the first association binds the endpoint to its VPC
                endpoint.vpc_id = vpc_id
                endpoint.security_group_ids = self._check_vpc_and_groups(vpc_id, [])
            network = TargetNetwork(
                association_id=random_association_id(),
                endpoint_id=endpoint_id,
                subnet_id=subnet_id,
                vpc_id=vpc_id,
                availability_zone=subnet.availability_zone,
                availability_zone_id=subnet.availability_zone_id,
                security_groups=list(endpoint.security_group_ids),
                client_token=client_token,
            )
            endpoint.networks[network.association_id] = network
            # AWS adds the route to the VPC through the new subnet, in step with the association.
            endpoint.routes.append(
                Route(
                    endpoint_id, vpc.cidr_block, subnet_id, "associate", "Default Route", created_at=network.created_at
                )
            )
            return self._remember("AssociateClientVpnTargetNetwork", client_token, network)

    @paginate(pagination_model=PAGINATION_MODEL)
    def describe_client_vpn_target_networks(
        self, endpoint_id: str, association_ids: list[str] | None = None, filters: dict[str, list[str]] | None = None
    ) -> list[TargetNetwork]:
        with _LOCK:
            check_filter_names(filters, TARGET_NETWORK_FILTERS)
            endpoint = self.get_client_vpn_endpoint(endpoint_id, for_update=False)
            networks = [
                n for n in endpoint.networks.values() if not association_ids or n.association_id in association_ids
            ]
            return [
                n
                for n in networks
                if matches(
                    filters, {"association-id": n.association_id, "target-network-id": n.subnet_id, "vpc-id": n.vpc_id}
                )
            ]

    def disassociate_client_vpn_target_network(self, endpoint_id: str, association_id: str) -> TargetNetwork:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            network = endpoint.networks.get(association_id)
            if network is None or network.leaving:
                raise InvalidClientVpnAssociationIdNotFound(association_id, endpoint_id)
            network.disassociated_at = clock.now()
            # The routes through the subnet go with it (the VPC route added by the association included).
            for route in endpoint.live_routes():
                if route.target_subnet == network.subnet_id:
                    route.deleted_at = network.disassociated_at
            if not endpoint.live_networks():
                # The last target network: connections end, the endpoint waits for a new association.
                for connection in endpoint.connections.values():
                    connection.terminate()
            return network

    # -- authorization rules
    def authorize_client_vpn_ingress(
        self,
        endpoint_id: str,
        target_network_cidr: str,
        access_group_id: str | None = None,
        authorize_all_groups: bool | None = None,
        description: str | None = None,
    ) -> AuthorizationRule:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            cidr = str(ipv4_network(target_network_cidr, "TargetNetworkCidr"))
            access_all = bool(authorize_all_groups)
            if access_all == bool(access_group_id):
                raise NotBoth("AccessGroupId", "AuthorizeAllGroups")
            if description and len(description) > MAX_DESCRIPTION:
                raise DescriptionTooLong(MAX_DESCRIPTION)
            for rule in endpoint.live_rules():
                if (
                    rule.destination_cidr == cidr
                    and rule.access_all == access_all
                    and rule.group_id == (access_group_id or None)
                ):
                    raise InvalidClientVpnDuplicateAuthorizationRule(cidr, access_all, access_group_id, endpoint_id)
            rule = AuthorizationRule(endpoint_id, cidr, access_all, access_group_id or None, description)
            endpoint.rules.append(rule)
            return rule

    def revoke_client_vpn_ingress(
        self,
        endpoint_id: str,
        target_network_cidr: str,
        access_group_id: str | None = None,
        revoke_all_groups: bool | None = None,
    ) -> AuthorizationRule:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            cidr = str(ipv4_network(target_network_cidr, "TargetNetworkCidr"))
            access_all = bool(revoke_all_groups)
            if access_all == bool(access_group_id):
                raise NotBoth("AccessGroupId", "RevokeAllGroups")
            for rule in endpoint.live_rules():
                if (
                    rule.destination_cidr == cidr
                    and rule.access_all == access_all
                    and rule.group_id == (access_group_id or None)
                ):
                    rule.revoked_at = clock.now()
                    return rule
            raise InvalidClientVpnEndpointAuthorizationRuleNotFound(cidr, endpoint_id)

    @paginate(pagination_model=PAGINATION_MODEL)
    def describe_client_vpn_authorization_rules(
        self, endpoint_id: str, filters: dict[str, list[str]] | None = None
    ) -> list[AuthorizationRule]:
        with _LOCK:
            check_filter_names(filters, AUTHORIZATION_RULE_FILTERS)
            endpoint = self.get_client_vpn_endpoint(endpoint_id, for_update=False)
            return [
                r
                for r in endpoint.rules
                if matches(
                    filters,
                    {"description": r.description, "destination-cidr": r.destination_cidr, "group-id": r.group_id},
                )
            ]

    # -- routes
    def create_client_vpn_route(
        self,
        endpoint_id: str,
        destination_cidr_block: str,
        target_vpc_subnet_id: str | None,
        description: str | None = None,
    ) -> Route:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            cidr = str(ipv4_network(destination_cidr_block, "DestinationCidrBlock"))
            if not target_vpc_subnet_id:
                raise MissingParameterError("TargetVpcSubnetId")
            if description and len(description) > MAX_DESCRIPTION:
                raise DescriptionTooLong(MAX_DESCRIPTION)
            associated = [n for n in endpoint.live_networks() if n.status == "associated"]
            if not associated:
                raise InvalidClientVpnActiveAssociationNotFound(endpoint_id, endpoint.status)
            if target_vpc_subnet_id not in {n.subnet_id for n in associated}:
                if target_vpc_subnet_id in {n.subnet_id for n in endpoint.live_networks()}:
                    raise SubnetStillAssociating(target_vpc_subnet_id, endpoint_id)
                raise SubnetNotTargetNetwork(target_vpc_subnet_id, endpoint_id)
            for route in endpoint.live_routes():
                if route.destination_cidr == cidr and route.target_subnet == target_vpc_subnet_id:
                    raise InvalidClientVpnDuplicateRoute(cidr, target_vpc_subnet_id)
            route = Route(endpoint_id, cidr, target_vpc_subnet_id, "add-route", description)
            endpoint.routes.append(route)
            return route

    def delete_client_vpn_route(
        self, endpoint_id: str, destination_cidr_block: str, target_vpc_subnet_id: str | None = None
    ) -> Route:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            cidr = str(ipv4_network(destination_cidr_block, "DestinationCidrBlock"))
            found = [
                r
                for r in endpoint.live_routes()
                if r.destination_cidr == cidr and (not target_vpc_subnet_id or r.target_subnet == target_vpc_subnet_id)
            ]
            if not found:
                raise InvalidClientVpnRouteNotFound(cidr, target_vpc_subnet_id, endpoint_id)
            added = [r for r in found if r.origin == "add-route"]
            if not added:
                raise InvalidParameterValue(
                    f"The route to {cidr} was added when its target subnet was associated; "
                    "only routes added with CreateClientVpnRoute can be deleted (disassociate "
                    "the subnet to remove it)."
                )
            now = clock.now()
            for route in added:
                route.deleted_at = now
            return added[0]

    @paginate(pagination_model=PAGINATION_MODEL)
    def describe_client_vpn_routes(self, endpoint_id: str, filters: dict[str, list[str]] | None = None) -> list[Route]:
        with _LOCK:
            check_filter_names(filters, ROUTE_FILTERS)
            endpoint = self.get_client_vpn_endpoint(endpoint_id, for_update=False)
            return [
                r
                for r in endpoint.routes
                if matches(
                    filters,
                    {"destination-cidr": r.destination_cidr, "origin": r.origin, "target-subnet": r.target_subnet},
                )
            ]

    # -- connections
    @paginate(pagination_model=PAGINATION_MODEL)
    def describe_client_vpn_connections(
        self, endpoint_id: str, filters: dict[str, list[str]] | None = None
    ) -> list[dict]:
        """The API's shapes (to_api), not Connection objects: describing a connection
        refreshes its status, and the ends that reveals are logged, under the lock."""
        with _LOCK:
            check_filter_names(filters, CONNECTION_FILTERS)
            endpoint = self.get_client_vpn_endpoint(endpoint_id, for_update=False)
            answer = [
                c.to_api()
                for c in endpoint.connections.values()
                if matches(filters, {"connection-id": c.connection_id, "username": c.username})
            ]
            log_ended(endpoint)  # a termination the API asked for completes by time (to_api)
            return answer

    def terminate_client_vpn_connections(
        self, endpoint_id: str, connection_id: str | None = None, username: str | None = None
    ) -> list[dict]:
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            if bool(connection_id) == bool(username):
                raise NotBoth("ConnectionId", "Username")
            if connection_id:
                connection = endpoint.connections.get(connection_id)
                if connection is None:
                    raise InvalidClientVpnConnectionIdNotFound(connection_id, endpoint_id)
                targets = [connection]
            else:
                assert username is not None  # exactly one of the two (NotBoth above), and not the connection id
                targets = [c for c in endpoint.connections.values() if c.username == username and c.code == "active"]
                if not targets:
                    raise InvalidClientVpnConnectionUserNotFound(username, endpoint_id)
                if len(targets) > MAX_TERMINATE_BY_USERNAME:
                    raise ClientVpnTerminateConnectionsLimitExceeded(username, len(targets), MAX_TERMINATE_BY_USERNAME)
            statuses = []
            for connection in targets:
                connection.refresh()
                previous, current = connection.terminate()
                statuses.append(
                    {
                        "ConnectionId": connection.connection_id,
                        "PreviousStatus": {"Code": previous},
                        "CurrentStatus": {"Code": current},
                    }
                )
            return statuses

    def report_client_vpn_connection(
        self,
        endpoint_id: str,
        *,
        connection_id: str | None = None,
        common_name: str | None = None,
        username: str | None = None,
        client_ip: str | None = None,
        public_ip: str | None = None,
        status: str = "active",
        status_message: str | None = None,
        ingress_bytes: int | None = None,
        egress_bytes: int | None = None,
        ingress_packets: int | None = None,
        egress_packets: int | None = None,
        posture_compliance_statuses: list[str] | None = None,
    ) -> Connection:
        """What a data plane saw of one client connection (new or known)."""
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            if status not in CONNECTION_STATUSES:
                raise InvalidConnectionStatus(status, CONNECTION_STATUSES)
            connection = endpoint.connections.get(connection_id) if connection_id else None
            if connection is None:
                if endpoint.status != "available" and status == "active":
                    raise ClientVpnEndpointNotAvailable(endpoint_id, endpoint.status)
                if not common_name:
                    raise CommonNameRequired()
                connection = Connection(
                    connection_id=connection_id or random_connection_id(),
                    endpoint_id=endpoint_id,
                    common_name=common_name,
                    username=username,
                    client_ip=endpoint.check_client_ip(client_ip) if client_ip else endpoint.allocate_client_ip(),
                    public_ip=public_ip,
                )
                endpoint.connections[connection.connection_id] = connection
                connection.set_status(status, status_message)
            else:
                connection.refresh()
                # A connection the API is terminating stays so; the data plane may only confirm
                # (terminated) or report that it could not (failed-to-terminate).
                if not (connection.code in ("terminating", "terminated") and status == "active"):
                    connection.set_status(status, status_message)
            for name in ("ingress_bytes", "egress_bytes", "ingress_packets", "egress_packets"):
                value = locals()[name]
                if value is not None:
                    setattr(connection, name, int(value))
            if posture_compliance_statuses is not None:
                connection.posture_compliance_statuses = [str(s) for s in posture_compliance_statuses]
            log_ended(endpoint)
            return connection

    def connect_client_vpn_client(
        self,
        endpoint_id: str,
        *,
        common_name: str,
        public_ip: str,
        username: str | None = None,
        client_ip: str | None = None,
        platform: str | None = None,
        platform_version: str | None = None,
        client_openvpn_version: str | None = None,
        port: str | int | None = None,
    ) -> dict:
        """Admit (or refuse) a new client connection as the Client VPN service does once
        the client has authenticated: run the client connect handler, if one is enabled,
        with AWS's request, and deny on a denial, a timeout (handler_timeout_seconds), an
        error or a malformed response. The attempt is recorded either way (denied:
        terminated, with the handler's message) and written to the endpoint's connection
        log (connectionlog.py) with its failure reason."""
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id)
            if endpoint.status != "available":
                raise ClientVpnEndpointNotAvailable(endpoint_id, endpoint.status)
            connection_id = random_connection_id()
            handler_arn = (
                endpoint.client_connect.get("LambdaFunctionArn") if endpoint.client_connect.get("Enabled") else None
            )
        decision: dict[str, Any] = {
            "allow": True,
            "handler_invoked": False,
            "message": None,
            "posture_compliance_statuses": [],
        }
        if handler_arn:  # outside the lock: the handler may take up to 30 s
            decision = invoke_client_connect_handler(
                self.account_id,
                self.region_name,
                handler_arn,
                {
                    "connection-id": connection_id,
                    "endpoint-id": endpoint_id,
                    "common-name": common_name,
                    "username": username or "",
                    "platform": platform or "",
                    "platform-version": platform_version or "",
                    "public-ip": public_ip,
                    "client-openvpn-version": client_openvpn_version or "",
                    "schema-version": HANDLER_SCHEMA_VERSION,
                },
            )
        connection = self.report_client_vpn_connection(
            endpoint_id,
            connection_id=connection_id,
            common_name=common_name,
            username=username,
            client_ip=client_ip,
            public_ip=public_ip,
            status="active" if decision["allow"] else "terminated",
            status_message=decision["message"],
            posture_compliance_statuses=decision["posture_compliance_statuses"],
        )
        with _LOCK:
            endpoint = self.get_client_vpn_endpoint(endpoint_id, for_update=False)
            connection.port = str(port) if port not in (None, "") else None
            connection.device_type = platform or None
            connection.admitted = bool(decision["allow"])
            if not decision["allow"]:
                connection.end_logged = True  # a refused attempt has no end to log
            entry = connectionlog.attempt_entry(
                endpoint,
                connection,
                allowed=bool(decision["allow"]),
                failure_reason=decision.get("failure_reason"),
                handler_invoked=bool(decision["handler_invoked"]),
                at=utcnow(),
            )
            connectionlog.write(endpoint, entry)
        return {
            **connection.to_admin(),
            "allow": decision["allow"],
            "message": decision["message"],
            "handler_invoked": decision["handler_invoked"],
            "failure_reason": decision.get("failure_reason"),
            "posture_compliance_statuses": decision["posture_compliance_statuses"],
        }


def log_ended(endpoint: ClientVpnEndpoint) -> None:
    """Write the end of every admitted connection that has ended and is not logged yet."""
    for connection in endpoint.connections.values():
        if connection.admitted and not connection.end_logged and connection.code == "terminated":
            connection.end_logged = True
            connectionlog.write(endpoint, connectionlog.end_entry(endpoint, connection), connection.ended)
