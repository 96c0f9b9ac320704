"""AWS's rules for Site-to-Site VPN tunnel options, in one place.

Both the parameter validation (before any call) and the emulator (which must
reject what AWS rejects) check against these definitions.
"""

from __future__ import annotations

import ipaddress
import re

LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")

# AWS keeps these /30s inside 169.254.0.0/16 for itself.
RESERVED_INSIDE_CIDRS = tuple(
    ipaddress.IPv4Network(c)
    for c in (
        "169.254.0.0/30",
        "169.254.1.0/30",
        "169.254.2.0/30",
        "169.254.3.0/30",
        "169.254.4.0/30",
        "169.254.5.0/30",
        "169.254.169.252/30",
    )
)

PSK_PATTERN = re.compile(r"^[A-Za-z1-9._][A-Za-z0-9._]{7,63}$")
PSK_RULE = "8-64 characters of letters, digits, '.' and '_', not starting with '0'"

IKE_VERSIONS = ("ikev1", "ikev2")
ENCRYPTION = ("AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16")
INTEGRITY = ("SHA1", "SHA2-256", "SHA2-384", "SHA2-512")
PHASE1_DH_GROUPS = (2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
PHASE2_DH_GROUPS = (2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)
PHASE1_LIFETIME = (900, 28800)
PHASE2_LIFETIME = (900, 3600)
DPD_TIMEOUT_MIN = 30
BGP_HOLD_TIME = 30  # seconds; AWS's side of every tunnel uses 30


def inside_cidr_problem(value: str) -> str | None:
    """Why `value` cannot be a tunnel inside CIDR, or None when it can."""
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return f"{value!r} is not a CIDR block like 169.254.11.0/30"
    if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen != 30 or not net.subnet_of(LINK_LOCAL):
        return f"{value} must be a /30 inside 169.254.0.0/16, like 169.254.11.0/30"
    if net in RESERVED_INSIDE_CIDRS:
        reserved = ", ".join(str(n) for n in RESERVED_INSIDE_CIDRS)
        return f"{value} is reserved by AWS ({reserved}); pick another /30"
    return None


def psk_problem(value: str) -> str | None:
    """Why `value` cannot be a pre-shared key (never quoting it), or None."""
    if not PSK_PATTERN.match(value):
        return f"the pre-shared key breaks AWS's rule: {PSK_RULE}"
    return None
