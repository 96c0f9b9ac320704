"""AWS CustomerGatewayConfiguration XML -> typed model of a Site-to-Site VPN.

``DescribeVpnConnections`` returns, for each connection, the generic device
configuration as an XML string (``CustomerGatewayConfiguration``). This
module turns it into :class:`VpnConnectionConfig` (one :class:`TunnelConfig`
per ``ipsec_tunnel``), numbers the tunnels deterministically, and can widen
each tunnel's single XML values into the full proposal lists of the
connection's ``Options.TunnelOptions`` (:func:`apply_tunnel_options`).

Algorithm lists use AWS's tunnel-option vocabulary (``AES128``,
``SHA2-256``, DH group numbers, ``ikev1``/``ikev2``) whether they come from
the XML or from the options, so renderers and the linter read one spelling.

The pre-shared keys are :class:`pydantic.SecretStr`: printing a model, its
repr, ``model_dump_json()`` or any :class:`VpnConfigError` never shows them.
Use ``tunnel.ike.pre_shared_key.get_secret_value()`` where the key is needed.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

from .errors import HybridnetError

__all__ = [
    "IkeParams",
    "IpsecParams",
    "TunnelConfig",
    "VpnConfigError",
    "VpnConnectionConfig",
    "apply_tunnel_options",
    "parse_customer_gateway_configuration",
]


class VpnConfigError(HybridnetError, ValueError):
    """The VPN configuration (XML or tunnel options) is malformed or incomplete.

    The message names the offending element path; it never contains a
    pre-shared key.
    """


# --- vocabulary -----------------------------------------------------------

ENCRYPTION_ALGORITHMS = ("AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16")
INTEGRITY_ALGORITHMS = ("SHA1", "SHA2-256", "SHA2-384", "SHA2-512")
IKE_VERSIONS = ("ikev1", "ikev2")

# XML spelling -> tunnel-option spelling.
_XML_ENCRYPTION = {
    "aes-128-cbc": "AES128",
    "aes-256-cbc": "AES256",
    "aes-128-gcm-16": "AES128-GCM-16",
    "aes-256-gcm-16": "AES256-GCM-16",
}
_XML_IKE_INTEGRITY = {
    "sha1": "SHA1",
    "sha2-256": "SHA2-256",
    "sha2-384": "SHA2-384",
    "sha2-512": "SHA2-512",
    "sha256": "SHA2-256",
    "sha384": "SHA2-384",
    "sha512": "SHA2-512",
}
_XML_ESP_INTEGRITY = {
    "hmac-sha1-96": "SHA1",
    "hmac-sha2-256-128": "SHA2-256",
    "hmac-sha2-384-192": "SHA2-384",
    "hmac-sha2-512-256": "SHA2-512",
    **_XML_IKE_INTEGRITY,
}


def _norm_encryption(value: str) -> str:
    v = value.strip()
    if v.upper() in ENCRYPTION_ALGORITHMS:
        return v.upper()
    if v.lower() in _XML_ENCRYPTION:
        return _XML_ENCRYPTION[v.lower()]
    raise ValueError(f"unsupported encryption algorithm {v!r}")


def _norm_integrity(value: str, table: Mapping[str, str] = _XML_ESP_INTEGRITY) -> str:
    v = value.strip()
    if v.upper() in INTEGRITY_ALGORITHMS:
        return v.upper()
    if v.lower() in table:
        return table[v.lower()]
    raise ValueError(f"unsupported integrity algorithm {v!r}")


def _norm_dh_group(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not a Diffie-Hellman group: {value!r}")
    if isinstance(value, int):
        group = value
    else:
        text = str(value).strip().lower()
        for prefix in ("group", "dh"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
        if not text.isdigit():
            raise ValueError(f"not a Diffie-Hellman group: {value!r}")
        group = int(text)
    if group < 1:
        raise ValueError(f"not a Diffie-Hellman group: {value!r}")
    return group


def _norm_version(value: str) -> str:
    v = str(value).strip().lower()
    if v not in IKE_VERSIONS:
        raise ValueError(f"unsupported IKE version {value!r} (expected ikev1 or ikev2)")
    return v


def _dedupe(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


def _ipv4(value: Any) -> str:
    return str(ipaddress.IPv4Address(str(value).strip()))


# --- models ---------------------------------------------------------------

_FROZEN = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class IkeParams(BaseModel):
    """Phase 1 (IKE) parameters of one tunnel.

    The single values are as the XML states them (``sha1``, ``aes-128-cbc``,
    PFS group number); the ``*_algorithms`` / ``dh_groups`` / ``versions``
    tuples are what the tunnel allows (from the tunnel options when applied,
    else derived from the single values).
    """

    model_config = _FROZEN

    authentication_protocol: str
    encryption_protocol: str
    lifetime: int
    pfs_group: int
    mode: str
    pre_shared_key: SecretStr
    versions: tuple[str, ...] = ("ikev1",)
    encryption_algorithms: tuple[str, ...] = ()
    integrity_algorithms: tuple[str, ...] = ()
    dh_groups: tuple[int, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _derive_lists(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if not data.get("encryption_algorithms") and "encryption_protocol" in data:
            data["encryption_algorithms"] = (_norm_encryption(data["encryption_protocol"]),)
        if not data.get("integrity_algorithms") and "authentication_protocol" in data:
            data["integrity_algorithms"] = (_norm_integrity(data["authentication_protocol"], _XML_IKE_INTEGRITY),)
        if not data.get("dh_groups") and "pfs_group" in data:
            data["dh_groups"] = (_norm_dh_group(data["pfs_group"]),)
        if "pfs_group" in data:
            data["pfs_group"] = _norm_dh_group(data["pfs_group"])
        if not data.get("versions"):
            data.pop("versions", None)
        return data

    @model_validator(mode="after")
    def _check(self) -> IkeParams:
        for a in self.encryption_algorithms:
            if a not in ENCRYPTION_ALGORITHMS:
                raise ValueError(f"unsupported encryption algorithm {a!r}")
        for a in self.integrity_algorithms:
            if a not in INTEGRITY_ALGORITHMS:
                raise ValueError(f"unsupported integrity algorithm {a!r}")
        for v in self.versions:
            _norm_version(v)
        if not self.versions:
            raise ValueError("no IKE version allowed")
        if self.lifetime <= 0:
            raise ValueError("lifetime must be positive")
        return self


class IpsecParams(BaseModel):
    """Phase 2 (IPsec/ESP) parameters of one tunnel, plus DPD and tuning."""

    model_config = _FROZEN

    protocol: str
    authentication_protocol: str
    encryption_protocol: str
    lifetime: int
    pfs_group: int
    mode: str
    clear_df_bit: bool
    fragmentation_before_encryption: bool
    tcp_mss_adjustment: int
    dpd_interval: int
    dpd_retries: int
    dpd_timeout: int = 0  # seconds; 0 -> dpd_interval * dpd_retries
    dpd_timeout_action: str | None = None  # AWS side: clear | none | restart
    encryption_algorithms: tuple[str, ...] = ()
    integrity_algorithms: tuple[str, ...] = ()
    dh_groups: tuple[int, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if not data.get("encryption_algorithms") and "encryption_protocol" in data:
            data["encryption_algorithms"] = (_norm_encryption(data["encryption_protocol"]),)
        if not data.get("integrity_algorithms") and "authentication_protocol" in data:
            data["integrity_algorithms"] = (_norm_integrity(data["authentication_protocol"]),)
        if not data.get("dh_groups") and "pfs_group" in data:
            data["dh_groups"] = (_norm_dh_group(data["pfs_group"]),)
        if "pfs_group" in data:
            data["pfs_group"] = _norm_dh_group(data["pfs_group"])
        if not data.get("dpd_timeout") and "dpd_interval" in data and "dpd_retries" in data:
            data["dpd_timeout"] = int(data["dpd_interval"]) * int(data["dpd_retries"])
        return data

    @model_validator(mode="after")
    def _check(self) -> IpsecParams:
        for a in self.encryption_algorithms:
            if a not in ENCRYPTION_ALGORITHMS:
                raise ValueError(f"unsupported encryption algorithm {a!r}")
        for a in self.integrity_algorithms:
            if a not in INTEGRITY_ALGORITHMS:
                raise ValueError(f"unsupported integrity algorithm {a!r}")
        if self.lifetime <= 0 or self.dpd_interval <= 0 or self.dpd_retries <= 0:
            raise ValueError("lifetime and dead peer detection values must be positive")
        return self


class TunnelConfig(BaseModel):
    """One IPsec tunnel: outside/inside addresses, BGP, IKE and IPsec params."""

    model_config = _FROZEN

    number: int
    cgw_outside_ip: str
    vgw_outside_ip: str
    cgw_inside_ip: str
    vgw_inside_ip: str
    inside_cidr: str
    cgw_asn: int
    vgw_asn: int
    bgp_hold_time: int
    ike: IkeParams
    ipsec: IpsecParams
    # From the tunnel options, when applied (None: AWS default / not known).
    startup_action: str | None = None  # add | start (who initiates on AWS's side)
    rekey_margin_time: int | None = None
    rekey_fuzz_percentage: int | None = None
    replay_window_size: int | None = None

    @model_validator(mode="after")
    def _check(self) -> TunnelConfig:
        if self.number not in (1, 2):
            raise ValueError("tunnel number must be 1 or 2")
        net = ipaddress.IPv4Network(self.inside_cidr, strict=True)
        for name in ("cgw_outside_ip", "vgw_outside_ip", "cgw_inside_ip", "vgw_inside_ip"):
            ipaddress.IPv4Address(getattr(self, name))
        for name in ("cgw_inside_ip", "vgw_inside_ip"):
            if ipaddress.IPv4Address(getattr(self, name)) not in net:
                raise ValueError(f"{name} is not inside {self.inside_cidr}")
        for name in ("cgw_asn", "vgw_asn"):
            if not 1 <= getattr(self, name) <= 4294967295:
                raise ValueError(f"{name} must be in 1-4294967295")
        if self.bgp_hold_time != 0 and self.bgp_hold_time < 3:
            raise ValueError("bgp_hold_time must be 0 or at least 3 seconds")
        return self

    @property
    def inside_prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.inside_cidr).prefixlen

    @property
    def cgw_inside_interface(self) -> str:
        """CGW inside address with prefix, e.g. ``169.254.11.2/30``."""
        return f"{self.cgw_inside_ip}/{self.inside_prefixlen}"

    @property
    def vgw_inside_interface(self) -> str:
        return f"{self.vgw_inside_ip}/{self.inside_prefixlen}"

    @property
    def bgp_keepalive(self) -> int:
        """Keepalive interval: a third of the hold time (0 when hold is 0)."""
        return self.bgp_hold_time // 3


class VpnConnectionConfig(BaseModel):
    """A Site-to-Site VPN connection as its customer gateway must see it."""

    model_config = _FROZEN

    vpn_connection_id: str
    customer_gateway_id: str
    vpn_gateway_id: str | None
    connection_type: str
    tunnels: tuple[TunnelConfig, ...]

    @model_validator(mode="after")
    def _check(self) -> VpnConnectionConfig:
        if not 1 <= len(self.tunnels) <= 2:
            raise ValueError("a VPN connection has one or two tunnels")
        if [t.number for t in self.tunnels] != list(range(1, len(self.tunnels) + 1)):
            raise ValueError("tunnels must be numbered 1..n in order")
        return self

    def tunnel(self, number: int) -> TunnelConfig:
        for t in self.tunnels:
            if t.number == number:
                return t
        raise KeyError(f"no tunnel {number} in {self.vpn_connection_id}")


# --- XML parsing ----------------------------------------------------------


class _Scrubber:
    """Removes known secrets from error messages before they are raised."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, message: str) -> str:
        for s in self._secrets:
            message = message.replace(s, "***")
        return message


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = "/".join(str(x) for x in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


class _Tunnel:
    """Reads one ``ipsec_tunnel`` element, naming paths in errors."""

    def __init__(self, elem: ET.Element, index: int) -> None:
        self.elem = elem
        self.prefix = f"ipsec_tunnel[{index}]"

    def path(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def text(self, rel: str) -> str:
        node = self.elem.find(rel)
        if node is None:
            raise VpnConfigError(f"CustomerGatewayConfiguration: missing element {self.path(rel)}")
        value = (node.text or "").strip()
        if not value:
            raise VpnConfigError(f"CustomerGatewayConfiguration: empty element {self.path(rel)}")
        return value

    def optional_text(self, rel: str) -> str | None:
        node = self.elem.find(rel)
        if node is None:
            return None
        value = (node.text or "").strip()
        return value or None

    def integer(self, rel: str) -> int:
        value = self.text(rel)
        try:
            return int(value)
        except ValueError:
            raise VpnConfigError(
                f"CustomerGatewayConfiguration: {self.path(rel)} must be an integer, got {value!r}"
            ) from None

    def boolean(self, rel: str) -> bool:
        value = self.text(rel).lower()
        if value in ("true", "yes", "1"):
            return True
        if value in ("false", "no", "0"):
            return False
        raise VpnConfigError(f"CustomerGatewayConfiguration: {self.path(rel)} must be true or false, got {value!r}")

    def ip(self, rel: str) -> str:
        value = self.text(rel)
        try:
            return _ipv4(value)
        except ValueError:
            raise VpnConfigError(
                f"CustomerGatewayConfiguration: {self.path(rel)} is not an IPv4 address: {value!r}"
            ) from None

    def convert(self, rel: str, func: Any) -> Any:
        value = self.text(rel)
        try:
            return func(value)
        except ValueError as exc:
            raise VpnConfigError(f"CustomerGatewayConfiguration: {self.path(rel)}: {exc}") from None

    def prefixlen(self, side: str) -> int:
        base = f"{side}/tunnel_inside_address"
        cidr = self.optional_text(f"{base}/network_cidr")
        if cidr is not None:
            try:
                plen = int(cidr.lstrip("/"))
            except ValueError:
                raise VpnConfigError(
                    f"CustomerGatewayConfiguration: {self.path(base + '/network_cidr')} "
                    f"must be a prefix length, got {cidr!r}"
                ) from None
            if not 0 < plen <= 32:
                raise VpnConfigError(
                    f"CustomerGatewayConfiguration: {self.path(base + '/network_cidr')} "
                    f"must be a prefix length 1-32, got {cidr!r}"
                )
            return plen
        mask = self.optional_text(f"{base}/network_mask")
        if mask is not None:
            try:
                return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
            except ValueError:
                raise VpnConfigError(
                    f"CustomerGatewayConfiguration: {self.path(base + '/network_mask')} is not a netmask: {mask!r}"
                ) from None
        raise VpnConfigError(f"CustomerGatewayConfiguration: missing element {self.path(base + '/network_cidr')}")


def _parse_tunnel(elem: ET.Element, index: int) -> dict[str, Any]:
    t = _Tunnel(elem, index)
    cgw_inside = t.ip("customer_gateway/tunnel_inside_address/ip_address")
    vgw_inside = t.ip("vpn_gateway/tunnel_inside_address/ip_address")
    plen = t.prefixlen("customer_gateway")
    inside_cidr = str(ipaddress.IPv4Network(f"{cgw_inside}/{plen}", strict=False))
    vgw_plen = t.prefixlen("vpn_gateway")
    if vgw_plen != plen or ipaddress.IPv4Address(vgw_inside) not in ipaddress.IPv4Network(inside_cidr):
        raise VpnConfigError(
            f"CustomerGatewayConfiguration: {t.path('vpn_gateway/tunnel_inside_address')} "
            f"({vgw_inside}/{vgw_plen}) is not in the customer gateway's inside network {inside_cidr}"
        )
    if cgw_inside == vgw_inside:
        raise VpnConfigError(f"CustomerGatewayConfiguration: {t.prefix} has the same inside address on both sides")
    hold = t.optional_text("vpn_gateway/bgp/hold_time")
    hold_time = (
        t.integer("vpn_gateway/bgp/hold_time") if hold is not None else t.integer("customer_gateway/bgp/hold_time")
    )
    ike = {
        "authentication_protocol": t.text("ike/authentication_protocol"),
        "encryption_protocol": t.text("ike/encryption_protocol"),
        "lifetime": t.integer("ike/lifetime"),
        "pfs_group": t.convert("ike/perfect_forward_secrecy", _norm_dh_group),
        "mode": t.text("ike/mode"),
        "pre_shared_key": t.text("ike/pre_shared_key"),
    }
    t.convert("ike/authentication_protocol", lambda v: _norm_integrity(v, _XML_IKE_INTEGRITY))
    t.convert("ike/encryption_protocol", _norm_encryption)
    ipsec = {
        "protocol": t.text("ipsec/protocol"),
        "authentication_protocol": t.text("ipsec/authentication_protocol"),
        "encryption_protocol": t.text("ipsec/encryption_protocol"),
        "lifetime": t.integer("ipsec/lifetime"),
        "pfs_group": t.convert("ipsec/perfect_forward_secrecy", _norm_dh_group),
        "mode": t.text("ipsec/mode"),
        "clear_df_bit": t.boolean("ipsec/clear_df_bit"),
        "fragmentation_before_encryption": t.boolean("ipsec/fragmentation_before_encryption"),
        "tcp_mss_adjustment": t.integer("ipsec/tcp_mss_adjustment"),
        "dpd_interval": t.integer("ipsec/dead_peer_detection/interval"),
        "dpd_retries": t.integer("ipsec/dead_peer_detection/retries"),
    }
    t.convert("ipsec/authentication_protocol", _norm_integrity)
    t.convert("ipsec/encryption_protocol", _norm_encryption)
    return {
        "_index": index,
        "cgw_outside_ip": t.ip("customer_gateway/tunnel_outside_address/ip_address"),
        "vgw_outside_ip": t.ip("vpn_gateway/tunnel_outside_address/ip_address"),
        "cgw_inside_ip": cgw_inside,
        "vgw_inside_ip": vgw_inside,
        "inside_cidr": inside_cidr,
        "cgw_asn": t.integer("customer_gateway/bgp/asn"),
        "vgw_asn": t.integer("vpn_gateway/bgp/asn"),
        "bgp_hold_time": hold_time,
        "ike": ike,
        "ipsec": ipsec,
    }


def _order_tunnels(raw: list[dict[str, Any]], first_inside_cidr: str | None) -> list[dict[str, Any]]:
    def natural(t: dict[str, Any]) -> tuple[Any, ...]:
        return (
            int(ipaddress.IPv4Address(t["vgw_outside_ip"])),
            int(ipaddress.IPv4Network(t["inside_cidr"]).network_address),
            t["_index"],
        )

    ordered = sorted(raw, key=natural)
    if first_inside_cidr is not None:
        try:
            wanted = str(ipaddress.IPv4Network(first_inside_cidr.strip(), strict=False))
        except ValueError:
            raise VpnConfigError(
                f"first_inside_cidr {first_inside_cidr!r} is not an IPv4 CIDR like 169.254.11.0/30"
            ) from None
        chosen = [t for t in ordered if t["inside_cidr"] == wanted]
        if chosen:
            ordered = chosen[:1] + [t for t in ordered if t is not chosen[0]]
    return ordered


def parse_customer_gateway_configuration(xml: str, first_inside_cidr: str | None = None) -> VpnConnectionConfig:
    """Parse AWS's CustomerGatewayConfiguration XML.

    Tunnel 1 is the tunnel whose inside CIDR equals ``first_inside_cidr``
    when that is given and present; otherwise the tunnel with the lower VGW
    outside IP (numerically; ties broken by inside CIDR, then document order).

    Raises :class:`VpnConfigError` naming the missing/invalid element path.
    """
    if not isinstance(xml, (str, bytes)) or not xml.strip():
        raise VpnConfigError("CustomerGatewayConfiguration is empty")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        # ParseError carries position only (line/column), never element text.
        raise VpnConfigError(f"CustomerGatewayConfiguration is not well-formed XML: {exc}") from None

    scrub = _Scrubber((n.text or "").strip() for n in root.iter("pre_shared_key"))
    try:
        return _parse_root(root, first_inside_cidr)
    except VpnConfigError as exc:
        raise VpnConfigError(scrub(str(exc))) from None
    except ValidationError as exc:
        raise VpnConfigError(scrub(f"CustomerGatewayConfiguration: {_validation_message(exc)}")) from None


def _parse_root(root: ET.Element, first_inside_cidr: str | None) -> VpnConnectionConfig:
    if root.tag != "vpn_connection":
        raise VpnConfigError(f"CustomerGatewayConfiguration: root element is <{root.tag}>, expected <vpn_connection>")
    vpn_id = (root.get("id") or "").strip()
    if not vpn_id:
        raise VpnConfigError("CustomerGatewayConfiguration: missing attribute vpn_connection/@id")

    def optional(name: str) -> str | None:
        node = root.find(name)
        return ((node.text or "").strip() if node is not None else "") or None

    def top(name: str) -> str:
        value = optional(name)
        if value is None:
            what = "missing" if root.find(name) is None else "empty"
            raise VpnConfigError(f"CustomerGatewayConfiguration: {what} element {name}")
        return value

    cgw_id = top("customer_gateway_id")
    vgw_id = optional("vpn_gateway_id")
    conn_type = top("vpn_connection_type")
    elems = root.findall("ipsec_tunnel")
    if not elems:
        raise VpnConfigError("CustomerGatewayConfiguration: missing element ipsec_tunnel[1]")
    if len(elems) > 2:
        raise VpnConfigError(
            f"CustomerGatewayConfiguration: {len(elems)} ipsec_tunnel elements; a VPN connection has one or two"
        )
    raw = [_parse_tunnel(e, i) for i, e in enumerate(elems, start=1)]
    tunnels = []
    for number, t in enumerate(_order_tunnels(raw, first_inside_cidr), start=1):
        data = {k: v for k, v in t.items() if k != "_index"}
        try:
            tunnels.append(TunnelConfig.model_validate({**data, "number": number}))
        except ValidationError as exc:
            raise VpnConfigError(
                f"CustomerGatewayConfiguration: ipsec_tunnel[{t['_index']}]: {_validation_message(exc)}"
            ) from None
    return VpnConnectionConfig(
        vpn_connection_id=vpn_id,
        customer_gateway_id=cgw_id,
        vpn_gateway_id=vgw_id,
        connection_type=conn_type,
        tunnels=tuple(tunnels),
    )


# --- tunnel options -------------------------------------------------------


def _values(option: Mapping[str, Any], key: str, where: str, norm: Any) -> tuple[Any, ...] | None:
    items = option.get(key)
    if items is None:
        return None
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise VpnConfigError(f"{where}.{key} must be a list of {{'Value': ...}}")
    out = []
    for i, item in enumerate(items):
        value = item.get("Value") if isinstance(item, Mapping) else item
        if value is None:
            raise VpnConfigError(f"{where}.{key}[{i}] has no Value")
        try:
            out.append(norm(value))
        except (ValueError, TypeError) as exc:
            raise VpnConfigError(f"{where}.{key}[{i}]: {exc}") from None
    return _dedupe(out) or None


def _int_option(option: Mapping[str, Any], key: str, where: str, minimum: int = 0) -> int | None:
    value = option.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise VpnConfigError(f"{where}.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def apply_tunnel_options(
    cfg: VpnConnectionConfig, tunnel_options: Sequence[Mapping[str, Any]] | None
) -> VpnConnectionConfig:
    """Widen each tunnel with boto3's ``VpnConnection['Options']['TunnelOptions']``.

    Options are matched to tunnels by ``OutsideIpAddress == vgw_outside_ip``.
    Lists (IKE versions, phase 1/2 encryption, integrity, DH groups) replace
    the single XML values; lifetimes, DPD timeout/action, startup action,
    rekey margin/fuzz and replay window are taken over. Keys absent from an
    option keep the XML value. Returns a new model; ``cfg`` is unchanged.
    """
    if not tunnel_options:
        return cfg
    by_ip = {t.vgw_outside_ip: t for t in cfg.tunnels}
    updated: dict[int, TunnelConfig] = {}
    secrets = [t.ike.pre_shared_key.get_secret_value() for t in cfg.tunnels]
    secrets += [str(o.get("PreSharedKey") or "") for o in tunnel_options if isinstance(o, Mapping)]
    scrub = _Scrubber(secrets)
    try:
        for i, option in enumerate(tunnel_options):
            where = f"TunnelOptions[{i}]"
            if not isinstance(option, Mapping):
                raise VpnConfigError(f"{where} must be a mapping")
            outside = option.get("OutsideIpAddress")
            if not outside:
                raise VpnConfigError(f"{where}.OutsideIpAddress is missing")
            try:
                outside = _ipv4(outside)
            except ValueError:
                raise VpnConfigError(f"{where}.OutsideIpAddress {outside!r} is not an IPv4 address") from None
            tunnel = by_ip.get(outside)
            if tunnel is None:
                known = ", ".join(sorted(by_ip))
                raise VpnConfigError(f"{where}.OutsideIpAddress {outside} matches no tunnel (VGW outside IPs: {known})")
            if tunnel.number in updated:
                raise VpnConfigError(f"{where}: a second option set for tunnel {tunnel.number} ({outside})")
            updated[tunnel.number] = _apply_one(tunnel, option, where)
    except VpnConfigError as exc:
        raise VpnConfigError(scrub(str(exc))) from None
    except ValidationError as exc:
        raise VpnConfigError(scrub(f"TunnelOptions: {_validation_message(exc)}")) from None
    tunnels = tuple(updated.get(t.number, t) for t in cfg.tunnels)
    return cfg.model_copy(update={"tunnels": tunnels})


def _apply_one(tunnel: TunnelConfig, option: Mapping[str, Any], where: str) -> TunnelConfig:
    inside = option.get("TunnelInsideCidr")
    if inside:
        try:
            inside_net = str(ipaddress.IPv4Network(str(inside).strip(), strict=False))
        except ValueError:
            raise VpnConfigError(f"{where}.TunnelInsideCidr {inside!r} is not an IPv4 CIDR") from None
        if inside_net != tunnel.inside_cidr:
            raise VpnConfigError(
                f"{where}.TunnelInsideCidr {inside_net} does not match tunnel {tunnel.number}'s "
                f"inside CIDR {tunnel.inside_cidr} from the XML"
            )

    ike = tunnel.ike.model_dump()
    ipsec = tunnel.ipsec.model_dump()
    top: dict[str, Any] = {}

    psk = option.get("PreSharedKey")
    if psk:
        ike["pre_shared_key"] = SecretStr(str(psk))
    versions = _values(option, "IkeVersions", where, _norm_version)
    if versions:
        ike["versions"] = versions
    for key, target, field, norm in (
        ("Phase1EncryptionAlgorithms", ike, "encryption_algorithms", _norm_encryption),
        ("Phase1IntegrityAlgorithms", ike, "integrity_algorithms", _norm_integrity),
        ("Phase1DHGroupNumbers", ike, "dh_groups", _norm_dh_group),
        ("Phase2EncryptionAlgorithms", ipsec, "encryption_algorithms", _norm_encryption),
        ("Phase2IntegrityAlgorithms", ipsec, "integrity_algorithms", _norm_integrity),
        ("Phase2DHGroupNumbers", ipsec, "dh_groups", _norm_dh_group),
    ):
        values = _values(option, key, where, norm)
        if values:
            target[field] = values

    p1 = _int_option(option, "Phase1LifetimeSeconds", where, 1)
    if p1 is not None:
        ike["lifetime"] = p1
    p2 = _int_option(option, "Phase2LifetimeSeconds", where, 1)
    if p2 is not None:
        ipsec["lifetime"] = p2
    dpd = _int_option(option, "DpdTimeoutSeconds", where, 1)
    if dpd is not None:
        ipsec["dpd_timeout"] = dpd
    action = option.get("DpdTimeoutAction")
    if action is not None:
        if action not in ("clear", "none", "restart"):
            raise VpnConfigError(f"{where}.DpdTimeoutAction must be clear, none or restart, got {action!r}")
        ipsec["dpd_timeout_action"] = action
    startup = option.get("StartupAction")
    if startup is not None:
        if startup not in ("add", "start"):
            raise VpnConfigError(f"{where}.StartupAction must be add or start, got {startup!r}")
        top["startup_action"] = startup
    for key, field in (
        ("RekeyMarginTimeSeconds", "rekey_margin_time"),
        ("RekeyFuzzPercentage", "rekey_fuzz_percentage"),
        ("ReplayWindowSize", "replay_window_size"),
    ):
        value = _int_option(option, key, where, 0)
        if value is not None:
            top[field] = value

    data = tunnel.model_dump()
    data.update(top)
    data["ike"] = IkeParams.model_validate(ike)
    data["ipsec"] = IpsecParams.model_validate(ipsec)
    return TunnelConfig.model_validate(data)
