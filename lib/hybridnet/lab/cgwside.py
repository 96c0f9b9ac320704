"""The customer-gateway side of the lab, configured from the generator's output.

Contract with the config generator's "lab" target: a directory with exactly

    swanctl.conf      connections tu1/tu2, each with child SAs `bgp` (inside
                      /32 <-> /32) and `lan` (on-prem CIDRs <-> VPC CIDRs),
                      PSK secrets, start_action = start
    frr.conf          FRR 8 bgpd config: router bgp <cgw asn>,
                      no bgp ebgp-requires-policy, neighbors = VGW inside IPs,
                      network statements for the on-prem CIDRs
    ipsec0-addresses  one CIDR per line, the CGW's tunnel inside addresses
                      (e.g. 169.254.11.2/30), put on charon's ipsec0

The lab uses these files as they are (copied into the lab dir); it does not
fix them up, so a generator bug shows as a tunnel or BGP session that stays down.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ..errors import HybridnetError
from .netns import check_lab_prefix

CGW_FILES = ("swanctl.conf", "frr.conf", "ipsec0-addresses")
LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")


def cgw_connection_name(tunnel_number: int) -> str:
    """Connection name of tunnel n (1-based) in the generated swanctl.conf."""
    return f"tu{tunnel_number}"


class CgwConfigError(HybridnetError, ValueError):
    pass


@dataclass(frozen=True)
class CgwConfig:
    source_dir: str
    swanctl_conf: str
    frr_conf: str
    ipsec0_addresses: tuple[str, ...]


def load_cgw_dir(cgw_dir: Path | str) -> CgwConfig:
    directory = Path(cgw_dir)
    missing = [name for name in CGW_FILES if not (directory / name).is_file()]
    if missing:
        raise CgwConfigError(f"customer gateway config dir {directory} lacks {', '.join(missing)}")
    addresses = []
    for number, line in enumerate((directory / "ipsec0-addresses").read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            interface = ipaddress.ip_interface(line)
        except ValueError as exc:
            raise CgwConfigError(f"ipsec0-addresses line {number}: {exc}") from None
        if interface.ip not in LINK_LOCAL:
            raise CgwConfigError(
                f"ipsec0-addresses line {number}: {line} is not a tunnel inside address in 169.254.0.0/16"
            )
        check_lab_prefix(line)
        addresses.append(str(interface))
    if not addresses:
        raise CgwConfigError("ipsec0-addresses: no address")
    return CgwConfig(
        source_dir=str(directory),
        swanctl_conf=(directory / "swanctl.conf").read_text(),
        frr_conf=(directory / "frr.conf").read_text(),
        ipsec0_addresses=tuple(addresses),
    )
