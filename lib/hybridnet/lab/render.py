"""Jinja2 rendering of the lab's own config files (templates/ next to this file)."""

from __future__ import annotations

from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")

# Plugins a lab charon loads. kernel-libipsec does ESP in userspace (this
# kernel has no ESP/VTI); stroke keeps `ipsec statusall` usable for debugging.
CHARON_PLUGINS = (
    "kernel-libipsec",
    "kernel-netlink",
    "socket-default",
    "vici",
    "stroke",
    "openssl",
    "random",
    "nonce",
    "aes",
    "sha1",
    "sha2",
    "hmac",
    "gmp",
    "pem",
    "pkcs1",
    "x509",
    "pubkey",
    "kdf",
)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(template: str, **values) -> str:
    return _env.get_template(template).render(**values)


def render_strongswan_conf(ns: str, ipsec0_addresses: list[str]) -> str:
    """strongswan.conf for the charon of lab namespace `ns` (AWS side and CGW alike)."""
    return render("strongswan.conf.j2", ns=ns, plugins=CHARON_PLUGINS, ipsec0_addresses=ipsec0_addresses)


def render_zebra_conf(ns: str, hostname: str) -> str:
    return render("zebra.conf.j2", ns=ns, hostname=hostname)
