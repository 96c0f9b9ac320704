"""strongSwan algorithm keywords and proposal strings from a tunnel's params.

Input is AWS's tunnel-option vocabulary (``AES128``, ``SHA2-256``, DH group
numbers) as held by :mod:`hybridnet.vpnconfig`. strongSwan semantics:

* IKEv2 lets one proposal carry several algorithms of each kind, so a tunnel
  gets one non-AEAD proposal (encryption-integrity-DH) plus, when AES-GCM is
  allowed, one AEAD proposal (IKE: gcm-prf-DH; ESP: gcm-DH).
* IKEv1 allows one algorithm per kind per proposal, so every combination
  becomes its own proposal; IKEv1 has no AEAD for the IKE SA (AES-GCM is
  dropped from phase 1 proposals, kept for ESP).
* DH groups strongSwan 5.9 does not know (ML-KEM 35-37) are left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from hybridnet.vpnconfig import IkeParams, IpsecParams

ENCRYPTION = {
    "AES128": "aes128",
    "AES256": "aes256",
    "AES128-GCM-16": "aes128gcm16",
    "AES256-GCM-16": "aes256gcm16",
}
AEAD = frozenset({"AES128-GCM-16", "AES256-GCM-16"})
INTEGRITY = {
    "SHA1": "sha1",
    "SHA2-256": "sha256",
    "SHA2-384": "sha384",
    "SHA2-512": "sha512",
}
PRF = {
    "SHA1": "prfsha1",
    "SHA2-256": "prfsha256",
    "SHA2-384": "prfsha384",
    "SHA2-512": "prfsha512",
}
DH_GROUPS = {
    1: "modp768",
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
    31: "curve25519",
    32: "curve448",
}


def ike_version(versions: Iterable[str]) -> int:
    """IKE major version to use: 2 when the tunnel allows IKEv2, else 1."""
    return 2 if "ikev2" in set(versions) else 1


def _groups(groups: Sequence[int], what: str) -> list[str]:
    names = [DH_GROUPS[g] for g in groups if g in DH_GROUPS]
    if not names:
        raise ValueError(f"{what}: none of the DH groups {list(groups)} is supported by strongSwan 5.9")
    return names


def _split(algorithms: Sequence[str]) -> tuple[list[str], list[str]]:
    classic = [a for a in algorithms if a not in AEAD]
    aead = [a for a in algorithms if a in AEAD]
    return classic, aead


def ike_proposals(ike: IkeParams, version: int, what: str = "ike") -> list[str]:
    """strongSwan IKE proposals (``aes128-sha1-modp1024`` ...), strict order."""
    dh = _groups(ike.dh_groups, what)
    classic, aead = _split(ike.encryption_algorithms)
    integ = [INTEGRITY[a] for a in ike.integrity_algorithms]
    prf = [PRF[a] for a in ike.integrity_algorithms]
    out: list[str] = []
    if version == 2:
        if classic and integ:
            out.append("-".join([ENCRYPTION[a] for a in classic] + integ + dh))
        if aead and prf:
            out.append("-".join([ENCRYPTION[a] for a in aead] + prf + dh))
    else:
        for enc, ia, group in itertools.product(classic, integ, dh):
            out.append(f"{ENCRYPTION[enc]}-{ia}-{group}")
    if not out:
        raise ValueError(f"{what}: the allowed algorithms give no usable IKEv{version} proposal")
    return out


def esp_proposals(ipsec: IpsecParams, version: int, what: str = "esp") -> list[str]:
    """strongSwan ESP proposals, with the PFS group(s)."""
    dh = _groups(ipsec.dh_groups, what)
    classic, aead = _split(ipsec.encryption_algorithms)
    integ = [INTEGRITY[a] for a in ipsec.integrity_algorithms]
    out: list[str] = []
    if version == 2:
        if classic and integ:
            out.append("-".join([ENCRYPTION[a] for a in classic] + integ + dh))
        if aead:
            out.append("-".join([ENCRYPTION[a] for a in aead] + dh))
    else:
        for enc, ia, group in itertools.product(classic, integ, dh):
            out.append(f"{ENCRYPTION[enc]}-{ia}-{group}")
        for enc, group in itertools.product(aead, dh):
            out.append(f"{ENCRYPTION[enc]}-{group}")
    if not out:
        raise ValueError(f"{what}: the allowed algorithms give no usable ESP proposal")
    return out
