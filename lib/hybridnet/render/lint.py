"""Checks on a router configuration: weak crypto, exposed secrets, overlaps.

``lint_router`` returns plain :class:`Finding` dataclasses, so a notebook
can show them with ``pd.DataFrame([asdict(f) for f in findings])``. An empty
list means nothing to report.
"""

from __future__ import annotations

import ipaddress
import stat
from dataclasses import dataclass
from pathlib import Path

from hybridnet.render.site import RouterSite
from hybridnet.vpnconfig import VpnConnectionConfig

WARN = "WARN"
FAIL = "FAIL"

# DH groups AWS accepts that are 2048-bit MODP or stronger / elliptic curves.
STRONG_GROUPS_HINT = "group 14 or higher (AWS also supports 19, 20, 21: ECP 256/384/521)"
MAX_SCAN_BYTES = 1 << 20


@dataclass(frozen=True)
class Finding:
    severity: str  # WARN | FAIL
    tunnel: int | None  # tunnel number, None for the whole connection/site
    field: str  # what the finding is about, e.g. "ike.dh_groups" or a file name
    message: str
    fix: str


def lint_router(cfg: VpnConnectionConfig, site: RouterSite, out_dir: Path | None = None) -> list[Finding]:
    """Lint the VPN parameters, the site and (optionally) rendered files.

    * IKEv1 allowed (WARN, fix: IKEv2);
    * a DH group below 14, e.g. group 2 / modp1024, in phase 1 or 2 (FAIL);
    * SHA-1 integrity in phase 1 or 2 (WARN, fix: SHA2-256); AES-128 is fine;
    * site ASN different from the CGW ASN of the connection (FAIL);
    * an on-prem CIDR overlapping a VPC CIDR (FAIL);
    * only one tunnel (WARN: no redundancy);
    * with ``out_dir``: a file holding a pre-shared key that group or others
      can read (FAIL), any world-writable file (FAIL).
    """
    findings: list[Finding] = []
    for t in cfg.tunnels:
        findings.extend(_crypto(t))
        if t.cgw_asn != site.cgw_asn:
            findings.append(
                Finding(
                    FAIL,
                    t.number,
                    "site.cgw_asn",
                    f"site ASN {site.cgw_asn} differs from the customer gateway ASN {t.cgw_asn} "
                    f"AWS expects on tunnel {t.number}",
                    "use the ASN the customer gateway was created with (or recreate the CGW)",
                )
            )
    findings.extend(_overlaps(site))
    if len(cfg.tunnels) < 2:
        findings.append(
            Finding(
                WARN,
                None,
                "tunnels",
                f"{cfg.vpn_connection_id} has one tunnel only: no redundancy during AWS "
                "tunnel maintenance or a tunnel failure",
                "configure both tunnels of the VPN connection on the router",
            )
        )
    if out_dir is not None:
        findings.extend(_files(cfg, Path(out_dir)))
    return findings


def _crypto(t) -> list[Finding]:
    out: list[Finding] = []
    if "ikev1" in t.ike.versions:
        only = t.ike.versions == ("ikev1",)
        out.append(
            Finding(
                WARN,
                t.number,
                "ike.versions",
                "IKEv1 is the only IKE version allowed" if only else "IKEv1 is still allowed",
                "allow only IKEv2 (tunnel option IKEVersions=ikev2) and use IKEv2 on the router",
            )
        )
    for phase, params, name in (("phase 1", t.ike, "ike"), ("phase 2", t.ipsec, "ipsec")):
        weak = [g for g in params.dh_groups if g < 14]
        if weak:
            listed = ", ".join(f"group {g}" + (" (modp1024)" if g == 2 else "") for g in weak)
            out.append(
                Finding(
                    FAIL,
                    t.number,
                    f"{name}.dh_groups",
                    f"{phase} allows weak Diffie-Hellman {listed}",
                    f"allow only {STRONG_GROUPS_HINT}",
                )
            )
        if "SHA1" in params.integrity_algorithms:
            out.append(
                Finding(
                    WARN,
                    t.number,
                    f"{name}.integrity_algorithms",
                    f"{phase} allows SHA-1 integrity",
                    "use SHA2-256 (or SHA2-384/512)",
                )
            )
    return out


def _overlaps(site: RouterSite) -> list[Finding]:
    out: list[Finding] = []
    for onprem in site.onprem_cidrs:
        for vpc in site.vpc_cidrs:
            a, b = ipaddress.ip_network(onprem), ipaddress.ip_network(vpc)
            if a.overlaps(b):
                out.append(
                    Finding(
                        FAIL,
                        None,
                        "site.onprem_cidrs",
                        f"on-prem {onprem} overlaps VPC {vpc}: traffic for the overlap cannot be routed both ways",
                        "renumber one side or announce only non-overlapping prefixes",
                    )
                )
    return out


def _files(cfg: VpnConnectionConfig, out_dir: Path) -> list[Finding]:
    out: list[Finding] = []
    if not out_dir.is_dir():
        return out
    keys = [t.ike.pre_shared_key.get_secret_value().encode() for t in cfg.tunnels]
    keys = [k for k in keys if k]
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file() and not p.is_symlink()):
        mode = stat.S_IMODE(path.stat().st_mode)
        rel = str(path.relative_to(out_dir))
        if mode & stat.S_IWOTH:
            out.append(
                Finding(
                    FAIL,
                    None,
                    rel,
                    f"{rel} is world-writable (mode {mode:04o})",
                    f"chmod o-w {rel}",
                )
            )
        if mode & (stat.S_IRGRP | stat.S_IROTH) and _holds_secret(path, keys):
            out.append(
                Finding(
                    FAIL,
                    None,
                    rel,
                    f"{rel} holds a pre-shared key and is readable by group/others (mode {mode:04o})",
                    f"chmod go= {rel} (0600, or 0700 for a script)",
                )
            )
    return out


def _holds_secret(path: Path, keys: list[bytes]) -> bool:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SCAN_BYTES)
    except OSError:
        return False
    return any(k in data for k in keys)
