"""The lab's AWS side, derived from what the AWS API says.

Site-to-site: deliberately independent of the customer-gateway generator
(which reads the CustomerGatewayConfiguration XML): this reads
DescribeVpnConnections' tunnel options, the customer gateway and the transit
gateway, so a generator bug shows up as a tunnel that does not come up.

Client VPN: the endpoint, its target networks, routes and authorization rules,
and its certificates in ACM; the server certificate's private key from the
emulator, which holds it as AWS does (admin route acm-private-key).
"""

from __future__ import annotations

import ipaddress
import itertools

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr, ValidationError

from .client_vpn import ClientVpnLabError, ClientVpnLabSpec
from .spec import LabSpec, TunnelSpec

# API algorithm names -> strongSwan proposal keywords. Written here again on purpose, not
# imported from render.proposals (the router generator's): the lab's AWS side must not share
# the generator's tables, or a wrong keyword there would agree with itself and hide.
ENCRYPTION = {"AES128": "aes128", "AES256": "aes256", "AES128-GCM-16": "aes128gcm16", "AES256-GCM-16": "aes256gcm16"}
INTEGRITY = {"SHA1": "sha1", "SHA2-256": "sha256", "SHA2-384": "sha384", "SHA2-512": "sha512"}
DH_GROUPS = {
    2: "modp1024",
    5: "modp1536",
    14: "modp2048",
    15: "modp3072",
    16: "modp4096",
    17: "modp6144",
    18: "modp8192",
    19: "ecp256",
    20: "ecp384",
    21: "ecp521",
    22: "modp1024s160",
    23: "modp2048s224",
    24: "modp2048s256",
}


def _values(option: dict, key: str) -> list:
    return [item["Value"] for item in option.get(key) or []]


def proposals(option: dict, phase: str, ike_versions: list[int]) -> list[str]:
    """Every combination the tunnel allows, as the responder's proposal list.

    One proposal per combination because IKEv1 uses only the first algorithm
    of each kind in a proposal. AES-GCM is an AEAD: no integrity algorithm in
    ESP; for IKE it needs a PRF instead and exists only in IKEv2.
    """
    result = []
    for enc, integ, dh in itertools.product(
        _values(option, f"{phase}EncryptionAlgorithms"),
        _values(option, f"{phase}IntegrityAlgorithms"),
        _values(option, f"{phase}DHGroupNumbers"),
    ):
        if int(dh) not in DH_GROUPS:
            continue
        group = DH_GROUPS[int(dh)]
        if "GCM" in enc:
            if phase == "Phase1":
                if 2 not in ike_versions:
                    continue
                result.append(f"{ENCRYPTION[enc]}-prf{INTEGRITY[integ]}-{group}")
            else:
                result.append(f"{ENCRYPTION[enc]}-{group}")
        else:
            result.append(f"{ENCRYPTION[enc]}-{INTEGRITY[integ]}-{group}")
    return list(dict.fromkeys(result))


def spec_from_aws(
    vpn: dict, customer_gateway: dict, amazon_side_asn: int, vpc_cidrs: list[str], onprem_cidrs: list[str]
) -> LabSpec:
    """LabSpec from DescribeVpnConnections/DescribeCustomerGateways answers."""
    tunnels = []
    for option in vpn["Options"]["TunnelOptions"]:
        inside = ipaddress.ip_network(option["TunnelInsideCidr"])
        hosts = list(inside.hosts())
        versions = sorted({int(v.removeprefix("ikev")) for v in _values(option, "IkeVersions")}) or [1, 2]
        # validated from the answers' plain values (strings for addresses, ints for versions)
        tunnels.append(
            TunnelSpec.model_validate(
                {
                    "vgw_outside_ip": option["OutsideIpAddress"],
                    "cgw_outside_ip": customer_gateway["IpAddress"],
                    "vgw_inside_ip": str(hosts[0]),
                    "cgw_inside_ip": str(hosts[1]),
                    "inside_cidr": str(inside),
                    "psk": option["PreSharedKey"],
                    "ike_versions": versions,
                    "ike_proposals": proposals(option, "Phase1", versions),
                    "esp_proposals": proposals(option, "Phase2", versions),
                    "ike_lifetime_s": option.get("Phase1LifetimeSeconds", 28800),
                    "esp_lifetime_s": option.get("Phase2LifetimeSeconds", 3600),
                    "dpd_timeout_s": option.get("DpdTimeoutSeconds", 30),
                }
            )
        )
    return LabSpec.model_validate(
        {
            "tunnels": tunnels,
            "tgw_asn": amazon_side_asn,
            "cgw_asn": int(customer_gateway["BgpAsn"]),
            "vpc_cidrs": vpc_cidrs,
            "onprem_cidrs": onprem_cidrs,
        }
    )


# --- Client VPN -------------------------------------------------------------------------------------

LIVE_ROUTE = ("creating", "active")
LIVE_RULE = ("authorizing", "active")


def issuing_chain(leaf_pem: str, chain_pem: str) -> str:
    """The certificates of `chain_pem` that issued `leaf_pem`, leaf's issuer first, up to a root.

    What a server must trust to accept the client certificate, whatever else
    the chain text holds (an emulator adds its own fake root).
    """
    leaf = x509.load_pem_x509_certificate(leaf_pem.encode())
    pool = x509.load_pem_x509_certificates(chain_pem.encode()) if chain_pem.strip() else []
    path, current = [], leaf
    while True:
        issuer = next((c for c in pool if c.subject == current.issuer and c not in path), None)
        if issuer is None:
            break
        path.append(issuer)
        if issuer.subject == issuer.issuer:
            break
        current = issuer
    if not path:
        raise ClientVpnLabError(
            "the client certificate's chain in ACM does not hold its issuer; re-import it with "
            "the CA chain (run notebook 04 again)"
        )
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in path)


def client_vpn_described(ctx, endpoint: dict) -> dict:
    """What the AWS API says of a Client VPN endpoint (a DescribeClientVpnEndpoints
    entry) that the lab plays, ACM aside: {endpoint, networks (associated, in the
    API's order), routes (creating/active), rules (all users, authorizing/active)}.
    Three calls; the lab's agent reads it every second to see changes."""
    from ..aws import paginate

    ec2, endpoint_id = ctx.client("ec2"), endpoint["ClientVpnEndpointId"]
    return {
        "endpoint": endpoint,
        "networks": [
            n
            for n in paginate(
                ec2, "describe_client_vpn_target_networks", "ClientVpnTargetNetworks", ClientVpnEndpointId=endpoint_id
            )
            if n["Status"]["Code"] == "associated"
        ],
        "routes": [
            r
            for r in paginate(ec2, "describe_client_vpn_routes", "Routes", ClientVpnEndpointId=endpoint_id)
            if r["Status"]["Code"] in LIVE_ROUTE
        ],
        "rules": [
            r
            for r in paginate(
                ec2, "describe_client_vpn_authorization_rules", "AuthorizationRules", ClientVpnEndpointId=endpoint_id
            )
            if r.get("AccessAll") and r["Status"]["Code"] in LIVE_RULE
        ],
    }


def client_vpn_spec_from_aws(
    ctx, endpoint_id: str, emulator_socket: str, described: dict | None = None
) -> ClientVpnLabSpec:
    """The lab's Client VPN endpoint from what the AWS API says (the endpoint, its
    associated target networks, routes and authorization rules, its certificates in
    ACM) and the server certificate's key, which the emulator holds as AWS does.
    `described`: client_vpn_described's answer when the caller has just read it.
    ClientVpnLabError when the endpoint cannot be played (e.g. no associated network)."""
    from .. import emulator

    if described is None:
        endpoint = ctx.client("ec2").describe_client_vpn_endpoints(ClientVpnEndpointIds=[endpoint_id])[
            "ClientVpnEndpoints"
        ][0]
        described = client_vpn_described(ctx, endpoint)
    endpoint = described["endpoint"]
    if not described["networks"]:
        raise ClientVpnLabError(f"{endpoint_id} has no associated target network")
    # The endpoint's address lives in its first associated subnet (phase 4 associates them in params order).
    first = described["networks"][0]["TargetNetworkId"]
    subnet = ctx.client("ec2").describe_subnets(SubnetIds=[first])["Subnets"][0]
    acm = ctx.client("acm")
    server_arn = endpoint["ServerCertificateArn"]
    server_cert = acm.get_certificate(CertificateArn=server_arn)["Certificate"]
    from ..phases.client_vpn import client_root_chain_arn

    client_arn = client_root_chain_arn(endpoint)
    if client_arn is None:
        raise ClientVpnLabError(f"{endpoint_id} has no mutual (certificate) authentication: the lab plays only that")
    client = acm.get_certificate(CertificateArn=client_arn)
    try:
        key = emulator.admin_call(
            emulator_socket, "POST", "acm-private-key", {"region": ctx.params.region, "arn": server_arn}
        )["private_key_pem"]
    except emulator.EmulatorError as exc:
        raise ClientVpnLabError(f"the server certificate's key of {endpoint_id}: {exc}") from None
    try:
        return ClientVpnLabSpec(
            endpoint_id=endpoint_id,
            region=ctx.params.region,
            dns_name=endpoint["DnsName"],
            client_cidr=endpoint["ClientCidrBlock"],
            transport_protocol=endpoint["TransportProtocol"],
            vpn_port=endpoint["VpnPort"],
            split_tunnel=endpoint["SplitTunnel"],
            dns_servers=endpoint.get("DnsServers", []),
            routes=sorted({r["DestinationCidr"] for r in described["routes"]}),
            authorized=sorted({r["DestinationCidr"] for r in described["rules"]}),
            target_subnet=subnet["CidrBlock"],
            server_cert_pem=server_cert,
            server_key_pem=SecretStr(key),
            client_ca_pem=issuing_chain(client["Certificate"], client.get("CertificateChain", "")),
            emulator_socket=emulator_socket,
        )
    except ValidationError as exc:  # its messages only: a missing field's error would quote the whole input
        raise ClientVpnLabError(
            f"{endpoint_id} cannot be played in the lab: "
            + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'endpoint'}: {e['msg']}" for e in exc.errors(include_input=False)
            )
        ) from None
