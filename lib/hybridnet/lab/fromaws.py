"""The lab's AWS side, derived from what the AWS API says about the VPN.

Deliberately independent of the customer-gateway generator (which reads the
CustomerGatewayConfiguration XML): this reads DescribeVpnConnections'
tunnel options, the customer gateway and the transit gateway, so a generator
bug shows up as a tunnel that does not come up.
"""

from __future__ import annotations

import ipaddress
import itertools

from .spec import LabSpec, TunnelSpec

# API algorithm names -> strongSwan proposal keywords.
ENCRYPTION = {"AES128": "aes128", "AES256": "aes256", "AES128-GCM-16": "aes128gcm16", "AES256-GCM-16": "aes256gcm16"}
INTEGRITY = {"SHA1": "sha1", "SHA2-256": "sha256", "SHA2-384": "sha384", "SHA2-512": "sha512"}
DH_GROUPS = {2: "modp1024", 5: "modp1536", 14: "modp2048", 15: "modp3072", 16: "modp4096", 17: "modp6144",
             18: "modp8192", 19: "ecp256", 20: "ecp384", 21: "ecp521", 22: "modp1024s160",
             23: "modp2048s224", 24: "modp2048s256"}


def _values(option: dict, key: str) -> list:
    return [item["Value"] for item in option.get(key) or []]


def proposals(option: dict, phase: str, ike_versions: list[int]) -> list[str]:
    """Every combination the tunnel allows, as the responder's proposal list.

    One proposal per combination because IKEv1 uses only the first algorithm
    of each kind in a proposal. AES-GCM is an AEAD: no integrity algorithm in
    ESP; for IKE it needs a PRF instead and exists only in IKEv2.
    """
    result = []
    for enc, integ, dh in itertools.product(_values(option, f"{phase}EncryptionAlgorithms"),
                                            _values(option, f"{phase}IntegrityAlgorithms"),
                                            _values(option, f"{phase}DHGroupNumbers")):
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


def spec_from_aws(vpn: dict, customer_gateway: dict, amazon_side_asn: int,
                  vpc_cidrs: list[str], onprem_cidrs: list[str]) -> LabSpec:
    """LabSpec from DescribeVpnConnections/DescribeCustomerGateways answers."""
    tunnels = []
    for option in vpn["Options"]["TunnelOptions"]:
        inside = ipaddress.ip_network(option["TunnelInsideCidr"])
        hosts = list(inside.hosts())
        versions = sorted({int(v.removeprefix("ikev")) for v in _values(option, "IkeVersions")}) or [1, 2]
        tunnels.append(TunnelSpec(
            vgw_outside_ip=option["OutsideIpAddress"],
            cgw_outside_ip=customer_gateway["IpAddress"],
            vgw_inside_ip=str(hosts[0]), cgw_inside_ip=str(hosts[1]), inside_cidr=str(inside),
            psk=option["PreSharedKey"],
            ike_versions=versions,
            ike_proposals=proposals(option, "Phase1", versions),
            esp_proposals=proposals(option, "Phase2", versions),
            ike_lifetime_s=option.get("Phase1LifetimeSeconds", 28800),
            esp_lifetime_s=option.get("Phase2LifetimeSeconds", 3600),
            dpd_timeout_s=option.get("DpdTimeoutSeconds", 30),
        ))
    return LabSpec(tunnels=tunnels, tgw_asn=amazon_side_asn, cgw_asn=int(customer_gateway["BgpAsn"]),
                   vpc_cidrs=vpc_cidrs, onprem_cidrs=onprem_cidrs)
