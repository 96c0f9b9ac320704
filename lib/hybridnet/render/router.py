"""On-prem router configuration from a :class:`VpnConnectionConfig`.

Targets (``TARGETS``):

``seed``
    ``setup-router-seed.sh``: the seed lab's script for an Amazon Linux EC2
    router (strongSwan ipsec.conf with VTI marks 100/200 + Quagga bgpd),
    non-interactive, with every value from the VPN configuration.
``frr``
    ``setup-router-frr.sh`` for current distributions (strongSwan ipsec.conf
    + FRR), plus the plain files it installs: ``ipsec.conf``,
    ``ipsec.secrets``, ``ipsec-vti.sh``, ``frr.conf``.
``swanctl``
    ``swanctl.conf`` for current strongSwan (route-based, one XFRM interface
    ID per tunnel), ``xfrm-interfaces.sh`` creating those interfaces, and
    ``frr.conf``.
``lab``
    the data-plane variant for a kernel without ESP/VTI (strongSwan
    kernel-libipsec, explicit traffic selectors): ``swanctl.conf``,
    ``frr.conf``, ``ipsec0-addresses`` (the lab's customer-gateway contract,
    see :mod:`hybridnet.lab.cgwside`), plus ``setup-router-lab.sh``, which
    installs those three (``/etc/swanctl/conf.d/hybridnet-aws.conf``,
    ``/etc/frr/frr.conf``, ``/etc/hybridnet/ipsec0-addresses``) on a router
    with charon-systemd and FRR, restarts strongSwan, puts the inside
    addresses on ``ipsec0``, loads the connections and restarts FRR
    (non-interactive, idempotent; what ``router.apply`` runs through SSM).

Files holding a pre-shared key are written 0600 (the setup scripts, which
embed the keys, 0700); other files 0644, helper scripts 0755. Output is a
pure function of the inputs, so rendering twice gives identical bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from hybridnet.render.proposals import esp_proposals, ike_proposals, ike_version
from hybridnet.render.site import RouterSite
from hybridnet.vpnconfig import TunnelConfig, VpnConnectionConfig
from hybridnet.workspace import write_file

TEMPLATES = Path(__file__).parent / "templates"

SECRET_MODE = 0o600
SECRET_SCRIPT_MODE = 0o700
FILE_MODE = 0o644
SCRIPT_MODE = 0o755

VTI_MTU = 1436  # tunnel interface MTU used by the seed for AWS VPN tunnels
DEFAULT_REKEY_MARGIN = 540  # strongSwan's ipsec.conf default margintime (9m)
HEREDOC = "HYBRIDNET_EOF"

# Where setup-router-lab.sh installs the lab target's files (below HYBRIDNET_ROOT).
LAB_SWANCTL_CONF = "/etc/swanctl/conf.d/hybridnet-aws.conf"
LAB_IPSEC0_ADDRESSES = "/etc/hybridnet/ipsec0-addresses"

# Characters AWS allows in a pre-shared key (PSK rule: letters, digits, . _).
_PSK_SAFE = re.compile(r"^[A-Za-z0-9._]+$")


@dataclass(frozen=True)
class RenderedFile:
    name: str
    content: str
    mode: int


def template_environment() -> Environment:
    """Jinja2 for config files: undefined names fail, no HTML escaping, exact whitespace."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_ENV = template_environment()


def _render(template: str, **context: Any) -> str:
    text = _ENV.get_template(template).render(**context)
    if not text.endswith("\n"):
        text += "\n"
    return text


# --- context --------------------------------------------------------------


@dataclass(frozen=True)
class TunnelView:
    """Everything a template needs about one tunnel, precomputed."""

    t: TunnelConfig
    number: int
    name: str  # tu1: swanctl connection/child names
    conn: str  # TU1: ipsec.conf conn names (as in the seed)
    mark: int  # 100 / 200: ipsec.conf mark, VTI key, XFRM if_id
    vti: str  # vti1 / vti2
    xfrm: str  # xfrm1 / xfrm2
    version: int
    keyexchange: str
    aggressive: bool
    ike_proposals: tuple[str, ...]
    esp_proposals: tuple[str, ...]
    ike_lifetime: int
    ike_rekey_time: int
    ike_margin: int
    esp_lifetime: int
    esp_rekey_time: int
    esp_margin: int
    dpd_delay: int
    dpd_timeout: int
    psk: str
    keepalive: int
    hold_time: int
    mss: int


def _margin(lifetime: int, configured: int | None) -> int:
    margin = configured if configured else DEFAULT_REKEY_MARGIN
    return max(1, min(margin, lifetime // 2))


def _tunnel_view(t: TunnelConfig) -> TunnelView:
    where = f"tunnel {t.number}"
    psk = t.ike.pre_shared_key.get_secret_value()
    if not _PSK_SAFE.match(psk):
        # Never quote the key itself.
        raise ValueError(
            f"{where}: the pre-shared key has characters outside AWS's rule "
            "(letters, digits, '.', '_'); refusing to write it into configuration files"
        )
    version = ike_version(t.ike.versions)
    ike_margin = _margin(t.ike.lifetime, t.rekey_margin_time)
    esp_margin = _margin(t.ipsec.lifetime, t.rekey_margin_time)
    return TunnelView(
        t=t,
        number=t.number,
        name=f"tu{t.number}",
        conn=f"TU{t.number}",
        mark=100 * t.number,
        vti=f"vti{t.number}",
        xfrm=f"xfrm{t.number}",
        version=version,
        keyexchange=f"ikev{version}",
        aggressive=t.ike.mode.lower() == "aggressive",
        ike_proposals=tuple(ike_proposals(t.ike, version, f"{where} phase 1")),
        esp_proposals=tuple(esp_proposals(t.ipsec, version, f"{where} phase 2")),
        ike_lifetime=t.ike.lifetime,
        ike_rekey_time=t.ike.lifetime - ike_margin,
        ike_margin=ike_margin,
        esp_lifetime=t.ipsec.lifetime,
        esp_rekey_time=t.ipsec.lifetime - esp_margin,
        esp_margin=esp_margin,
        dpd_delay=t.ipsec.dpd_interval,
        dpd_timeout=t.ipsec.dpd_timeout,
        psk=psk,
        keepalive=t.bgp_keepalive,
        hold_time=t.bgp_hold_time,
        mss=t.ipsec.tcp_mss_adjustment,
    )


def _check_site(cfg: VpnConnectionConfig, site: RouterSite) -> None:
    for t in cfg.tunnels:
        if t.cgw_asn != site.cgw_asn:
            raise ValueError(
                f"site.cgw_asn {site.cgw_asn} does not match tunnel {t.number}'s customer gateway "
                f"ASN {t.cgw_asn} in {cfg.vpn_connection_id}; BGP would not come up"
            )


def _context(cfg: VpnConnectionConfig, site: RouterSite, target: str) -> dict[str, Any]:
    _check_site(cfg, site)
    tunnels = [_tunnel_view(t) for t in cfg.tunnels]
    first = cfg.tunnels[0]
    default_dir = "/etc/strongswan" if target == "seed" else "/etc"
    strongswan_dir = site.strongswan_dir or default_dir
    sw = strongswan_dir.rstrip("/")
    return {
        "vpn": cfg,
        "site": site,
        "target": target,
        "tunnels": tunnels,
        "cgw_local_ip": site.cgw_local_ip or first.cgw_outside_ip,
        "router_id": site.router_id or first.cgw_inside_ip,
        "cgw_asn": site.cgw_asn,
        "onprem_cidrs": site.onprem_cidrs,
        "vpc_cidrs": site.vpc_cidrs,
        "vti_mtu": VTI_MTU,
        "paths": {
            "ipsec_conf": f"{sw}/ipsec.conf",
            "ipsec_secrets": f"{sw}/ipsec.secrets",
            "ipsec_vti": f"{sw}/ipsec-vti.sh",
            "bgpd_conf": "/etc/quagga/bgpd.conf",
            "frr_conf": "/etc/frr/frr.conf",
        },
    }


# --- targets --------------------------------------------------------------


def _strongswan_files(ctx: dict[str, Any]) -> tuple[str, str, str]:
    return (
        _render("ipsec.conf.j2", **ctx),
        _render("ipsec.secrets.j2", **ctx),
        _render("ipsec-vti.sh.j2", **ctx),
    )


def _script(name: str, ctx: dict[str, Any], installs: list[dict[str, Any]]) -> str:
    for item in installs:
        body = item["content"]
        if any(line == HEREDOC for line in body.splitlines()):
            raise ValueError(f"{item['path']}: content contains the here-document delimiter")
    return _render(f"{name}.j2", script_name=name, heredoc=HEREDOC, installs=installs, **ctx)


def _seed(cfg: VpnConnectionConfig, site: RouterSite) -> list[RenderedFile]:
    ctx = _context(cfg, site, "seed")
    ipsec_conf, secrets, vti = _strongswan_files(ctx)
    bgpd = _render("quagga-bgpd.conf.j2", **ctx)
    p = ctx["paths"]
    installs = [
        {"step": "Set IPsec config", "path": p["ipsec_conf"], "mode": "0644", "content": ipsec_conf, "owner": None},
        {"step": "Set IPsec secrets", "path": p["ipsec_secrets"], "mode": "0600", "content": secrets, "owner": None},
        {"step": "Set VTI updown script", "path": p["ipsec_vti"], "mode": "0755", "content": vti, "owner": None},
        {"step": "Set BGP (Quagga)", "path": p["bgpd_conf"], "mode": "0640", "content": bgpd, "owner": "quagga"},
    ]
    script = _script("setup-router-seed.sh", ctx, installs)
    return [RenderedFile("setup-router-seed.sh", script, SECRET_SCRIPT_MODE)]


def _frr(cfg: VpnConnectionConfig, site: RouterSite) -> list[RenderedFile]:
    ctx = _context(cfg, site, "frr")
    ipsec_conf, secrets, vti = _strongswan_files(ctx)
    frr_conf = _render("frr.conf.j2", **ctx)
    p = ctx["paths"]
    installs = [
        {"step": "Set IPsec config", "path": p["ipsec_conf"], "mode": "0644", "content": ipsec_conf, "owner": None},
        {"step": "Set IPsec secrets", "path": p["ipsec_secrets"], "mode": "0600", "content": secrets, "owner": None},
        {"step": "Set VTI updown script", "path": p["ipsec_vti"], "mode": "0755", "content": vti, "owner": None},
        {"step": "Set BGP (FRR)", "path": p["frr_conf"], "mode": "0640", "content": frr_conf, "owner": "frr"},
    ]
    script = _script("setup-router-frr.sh", ctx, installs)
    return [
        RenderedFile("setup-router-frr.sh", script, SECRET_SCRIPT_MODE),
        RenderedFile("ipsec.conf", ipsec_conf, FILE_MODE),
        RenderedFile("ipsec.secrets", secrets, SECRET_MODE),
        RenderedFile("ipsec-vti.sh", vti, SCRIPT_MODE),
        RenderedFile("frr.conf", frr_conf, FILE_MODE),
    ]


def _swanctl(cfg: VpnConnectionConfig, site: RouterSite) -> list[RenderedFile]:
    ctx = _context(cfg, site, "swanctl")
    return [
        RenderedFile("swanctl.conf", _render("swanctl.conf.j2", mode="route", **ctx), SECRET_MODE),
        RenderedFile("xfrm-interfaces.sh", _render("xfrm-interfaces.sh.j2", **ctx), SCRIPT_MODE),
        RenderedFile("frr.conf", _render("frr.conf.j2", **ctx), FILE_MODE),
    ]


def _lab_children(ctx: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The ``lan`` child SA(s): (name, local_ts, remote_ts).

    IKEv1 allows one traffic-selector pair per child SA, so with several
    on-prem or VPC prefixes IKEv1 tunnels get ``lan``, ``lan2``, ... one per
    pair; IKEv2 tunnels keep a single ``lan`` child with the lists.
    """
    pairs = [(o, v) for o in ctx["onprem_cidrs"] for v in ctx["vpc_cidrs"]]
    return [(("lan" if i == 0 else f"lan{i + 1}"), o, v) for i, (o, v) in enumerate(pairs)]


def _lab(cfg: VpnConnectionConfig, site: RouterSite) -> list[RenderedFile]:
    ctx = _context(cfg, site, "lab")
    pairs = _lab_children(ctx)
    swanctl = _render("swanctl.conf.j2", mode="lab", lan_pairs=pairs, **ctx)
    frr_conf = _render("frr.conf.j2", **ctx)
    addresses = _render("ipsec0-addresses.j2", **ctx)
    installs = [
        {
            "step": "Set strongSwan connections (swanctl)",
            "path": LAB_SWANCTL_CONF,
            "mode": "0600",
            "content": swanctl,
            "owner": None,
        },
        {
            "step": "Set BGP (FRR)",
            "path": ctx["paths"]["frr_conf"],
            "mode": "0640",
            "content": frr_conf,
            "owner": "frr",
        },
        {
            "step": "Set ipsec0 addresses",
            "path": LAB_IPSEC0_ADDRESSES,
            "mode": "0644",
            "content": addresses,
            "owner": None,
        },
    ]
    script = _script("setup-router-lab.sh", ctx, installs)
    return [
        RenderedFile("swanctl.conf", swanctl, SECRET_MODE),
        RenderedFile("frr.conf", frr_conf, FILE_MODE),
        RenderedFile("ipsec0-addresses", addresses, FILE_MODE),
        RenderedFile("setup-router-lab.sh", script, SECRET_SCRIPT_MODE),
    ]


TARGETS: dict[str, Callable[[VpnConnectionConfig, RouterSite], list[RenderedFile]]] = {
    "seed": _seed,
    "frr": _frr,
    "swanctl": _swanctl,
    "lab": _lab,
}


# --- writing --------------------------------------------------------------


def render_files(cfg: VpnConnectionConfig, site: RouterSite, target: str) -> list[RenderedFile]:
    """Render a target in memory (no files written)."""
    try:
        func = TARGETS[target]
    except KeyError:
        valid = ", ".join(sorted(TARGETS))
        raise ValueError(f"unknown router target {target!r}; valid targets: {valid}") from None
    return func(cfg, site)


def render_router(cfg: VpnConnectionConfig, site: RouterSite, target: str, out_dir: Path) -> list[Path]:
    """Render ``target`` for ``cfg``/``site`` into ``out_dir``; return the paths written."""
    files = render_files(cfg, site, target)
    out = Path(out_dir)
    return [write_file(out / f.name, f.content, f.mode) for f in files]
