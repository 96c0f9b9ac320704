"""CustomerGatewayConfiguration XML -> VpnConnectionConfig, and tunnel options."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hybridnet.vpnconfig import (
    TunnelConfig,
    VpnConfigError,
    VpnConnectionConfig,
    apply_tunnel_options,
    parse_customer_gateway_configuration,
)
from pydantic import ValidationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PSKS = ("strongswan_awsvpn1", "strongswan_awsvpn2")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def two_xml() -> str:
    return fixture("cgw_config_two_tunnels.xml")


@pytest.fixture
def cfg(two_xml: str) -> VpnConnectionConfig:
    return parse_customer_gateway_configuration(two_xml)


def edit(xml: str, fn) -> str:
    """Apply fn(root) to a parsed copy of xml and serialise it again."""
    root = ET.fromstring(xml)
    fn(root)
    return ET.tostring(root, encoding="unicode")


def remove(path: str):
    """Remove the element at 'ipsec_tunnel[N]/a/b' (N 1-based) or a top-level one."""

    def fn(root: ET.Element) -> None:
        parts = path.split("/")
        if parts[0].startswith("ipsec_tunnel["):
            idx = int(parts[0][len("ipsec_tunnel[") : -1])
            parent = root.findall("ipsec_tunnel")[idx - 1]
            parts = parts[1:]
        else:
            parent = root
        for p in parts[:-1]:
            parent = parent.find(p)
        parent.remove(parent.find(parts[-1]))

    return fn


# --- two tunnels ------------------------------------------------------------


def test_two_tunnel_fixture_parses_every_field(cfg: VpnConnectionConfig) -> None:
    assert cfg.vpn_connection_id == "vpn-0a1b2c3d4e5f60718"
    assert cfg.customer_gateway_id == "cgw-0123456789abcdef0"
    assert cfg.vpn_gateway_id is None  # empty for a TGW attachment
    assert cfg.connection_type == "ipsec.1"
    assert [t.number for t in cfg.tunnels] == [1, 2]

    t1, t2 = cfg.tunnels
    assert (t1.cgw_outside_ip, t1.vgw_outside_ip) == ("198.51.100.10", "203.0.113.11")
    assert (t1.cgw_inside_ip, t1.vgw_inside_ip) == ("169.254.11.2", "169.254.11.1")
    assert t1.inside_cidr == "169.254.11.0/30"
    assert (t1.cgw_asn, t1.vgw_asn, t1.bgp_hold_time) == (65016, 64512, 30)
    assert t1.cgw_inside_interface == "169.254.11.2/30"
    assert t1.bgp_keepalive == 10

    assert (t2.vgw_outside_ip, t2.inside_cidr) == ("203.0.113.12", "169.254.12.0/30")
    assert (t2.cgw_inside_ip, t2.vgw_inside_ip) == ("169.254.12.2", "169.254.12.1")

    ike = t1.ike
    assert ike.authentication_protocol == "sha1"
    assert ike.encryption_protocol == "aes-128-cbc"
    assert (ike.lifetime, ike.pfs_group, ike.mode) == (28800, 2, "main")
    assert ike.versions == ("ikev1",)
    assert ike.encryption_algorithms == ("AES128",)
    assert ike.integrity_algorithms == ("SHA1",)
    assert ike.dh_groups == (2,)
    assert ike.pre_shared_key.get_secret_value() == "strongswan_awsvpn1"
    assert t2.ike.pre_shared_key.get_secret_value() == "strongswan_awsvpn2"

    esp = t1.ipsec
    assert (esp.protocol, esp.authentication_protocol, esp.encryption_protocol) == (
        "esp",
        "hmac-sha1-96",
        "aes-128-cbc",
    )
    assert (esp.lifetime, esp.pfs_group, esp.mode) == (3600, 2, "tunnel")
    assert esp.clear_df_bit is True and esp.fragmentation_before_encryption is True
    assert esp.tcp_mss_adjustment == 1379
    assert (esp.dpd_interval, esp.dpd_retries, esp.dpd_timeout) == (10, 3, 30)
    assert (esp.encryption_algorithms, esp.integrity_algorithms, esp.dh_groups) == (("AES128",), ("SHA1",), (2,))


def test_reversed_document_order_gives_the_same_numbering(cfg: VpnConnectionConfig) -> None:
    rev = parse_customer_gateway_configuration(fixture("cgw_config_reversed_order.xml"))
    assert rev == cfg
    assert rev.tunnel(1).vgw_outside_ip == "203.0.113.11"
    assert rev.tunnel(1).ike.pre_shared_key.get_secret_value() == "strongswan_awsvpn1"


def test_numbering_compares_outside_ips_numerically(two_xml: str) -> None:
    # Document order: .10 first, then .9; as strings "…10" < "…9", numerically 9 < 10.
    def fn(root: ET.Element) -> None:
        a, b = root.findall("ipsec_tunnel")
        a.find("vpn_gateway/tunnel_outside_address/ip_address").text = "203.0.113.10"
        b.find("vpn_gateway/tunnel_outside_address/ip_address").text = "203.0.113.9"

    cfg = parse_customer_gateway_configuration(edit(two_xml, fn))
    assert [t.vgw_outside_ip for t in cfg.tunnels] == ["203.0.113.9", "203.0.113.10"]
    assert cfg.tunnel(1).inside_cidr == "169.254.12.0/30"


@pytest.mark.parametrize("name", ["cgw_config_two_tunnels.xml", "cgw_config_reversed_order.xml"])
def test_first_inside_cidr_picks_tunnel_one(name: str) -> None:
    cfg = parse_customer_gateway_configuration(fixture(name), first_inside_cidr="169.254.12.0/30")
    assert [t.inside_cidr for t in cfg.tunnels] == ["169.254.12.0/30", "169.254.11.0/30"]
    assert [t.number for t in cfg.tunnels] == [1, 2]
    assert cfg.tunnel(1).vgw_outside_ip == "203.0.113.12"


def test_first_inside_cidr_not_present_falls_back_to_outside_ip(cfg: VpnConnectionConfig, two_xml: str) -> None:
    other = parse_customer_gateway_configuration(two_xml, first_inside_cidr="169.254.99.0/30")
    assert other == cfg


def test_first_inside_cidr_must_be_a_cidr(two_xml: str) -> None:
    with pytest.raises(VpnConfigError, match="first_inside_cidr"):
        parse_customer_gateway_configuration(two_xml, first_inside_cidr="not-a-cidr")


# --- one tunnel -------------------------------------------------------------


def test_one_tunnel_connection() -> None:
    cfg = parse_customer_gateway_configuration(fixture("cgw_config_one_tunnel.xml"))
    assert len(cfg.tunnels) == 1
    (t,) = cfg.tunnels
    assert t.number == 1
    assert cfg.vpn_gateway_id == "vgw-0aaaabbbbccccdddd"
    assert (t.cgw_outside_ip, t.vgw_outside_ip) == ("192.0.2.50", "198.51.100.77")
    assert t.inside_cidr == "169.254.44.40/30"
    assert (t.cgw_asn, t.vgw_asn) == (65001, 7224)
    assert (t.ike.encryption_algorithms, t.ike.integrity_algorithms, t.ike.dh_groups) == (
        ("AES256",),
        ("SHA2-256",),
        (14,),
    )
    assert (t.ipsec.integrity_algorithms, t.ipsec.dh_groups, t.ipsec.lifetime) == (("SHA2-256",), (14,), 1800)


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "ipsec_tunnel[2]/vpn_gateway/tunnel_outside_address/ip_address",
        "ipsec_tunnel[1]/customer_gateway/tunnel_inside_address/ip_address",
        "ipsec_tunnel[2]/vpn_gateway/bgp/asn",
        "ipsec_tunnel[1]/ike/pre_shared_key",
        "ipsec_tunnel[2]/ipsec/dead_peer_detection/interval",
        "ipsec_tunnel[1]/ipsec",
        "customer_gateway_id",
    ],
)
def test_missing_element_names_its_path_and_never_the_psk(two_xml: str, path: str) -> None:
    with pytest.raises(VpnConfigError) as info:
        parse_customer_gateway_configuration(edit(two_xml, remove(path)))
    message = str(info.value)
    expected = path if path != "ipsec_tunnel[1]/ipsec" else "ipsec_tunnel[1]/ipsec/"
    assert expected in message
    assert "missing" in message
    for psk in PSKS:
        assert psk not in message


def test_empty_element_is_reported(two_xml: str) -> None:
    xml = two_xml.replace("<ip_address>203.0.113.12</ip_address>", "<ip_address> </ip_address>")
    with pytest.raises(
        VpnConfigError,
        match=r"empty element ipsec_tunnel\[2\]/vpn_gateway/"
        r"tunnel_outside_address/ip_address",
    ):
        parse_customer_gateway_configuration(xml)


def test_invalid_values_name_the_path_and_hide_the_psk(two_xml: str) -> None:
    # A value that happens to equal a PSK must not leak through the error either.
    xml = two_xml.replace("<asn>64512</asn>", "<asn>strongswan_awsvpn2</asn>", 1)
    with pytest.raises(VpnConfigError) as info:
        parse_customer_gateway_configuration(xml)
    assert "ipsec_tunnel[1]/vpn_gateway/bgp/asn" in str(info.value)
    assert "strongswan_awsvpn2" not in str(info.value)

    bad_ip = two_xml.replace("<ip_address>203.0.113.11</ip_address>", "<ip_address>203.0.113.300</ip_address>")
    with pytest.raises(VpnConfigError, match=r"ipsec_tunnel\[1\]/vpn_gateway/tunnel_outside_address/ip_address"):
        parse_customer_gateway_configuration(bad_ip)

    bad_alg = two_xml.replace(
        "<encryption_protocol>aes-128-cbc</encryption_protocol>",
        "<encryption_protocol>des-cbc</encryption_protocol>",
        1,
    )
    with pytest.raises(VpnConfigError, match=r"ipsec_tunnel\[1\]/ike/encryption_protocol"):
        parse_customer_gateway_configuration(bad_alg)


def test_inside_addresses_must_share_the_inside_network(two_xml: str) -> None:
    xml = two_xml.replace("<ip_address>169.254.12.1</ip_address>", "<ip_address>169.254.13.1</ip_address>")
    with pytest.raises(VpnConfigError, match=r"ipsec_tunnel\[2\]/vpn_gateway/tunnel_inside_address"):
        parse_customer_gateway_configuration(xml)


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        ("", "empty"),
        ("<vpn_connection id='x'><customer_gateway_id>", "not well-formed"),
        ("<other/>", "expected <vpn_connection>"),
        ("<vpn_connection><customer_gateway_id>c</customer_gateway_id></vpn_connection>", "vpn_connection/@id"),
        (
            "<vpn_connection id='v'><customer_gateway_id>c</customer_gateway_id>"
            "<vpn_connection_type>ipsec.1</vpn_connection_type></vpn_connection>",
            "missing element ipsec_tunnel[1]",
        ),
    ],
)
def test_malformed_documents(xml: str, fragment: str) -> None:
    with pytest.raises(VpnConfigError) as info:
        parse_customer_gateway_configuration(xml)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_more_than_two_tunnels_is_rejected(two_xml: str) -> None:
    def fn(root: ET.Element) -> None:
        root.append(root.findall("ipsec_tunnel")[0])

    with pytest.raises(VpnConfigError, match="3 ipsec_tunnel elements"):
        parse_customer_gateway_configuration(edit(two_xml, fn))


# --- secrets ----------------------------------------------------------------


def test_psk_never_in_repr_str_or_json(cfg: VpnConnectionConfig) -> None:
    shown = [
        repr(cfg),
        str(cfg),
        cfg.model_dump_json(),
        repr(cfg.tunnels[0]),
        str(cfg.tunnels[1].ike),
        repr(cfg.model_dump()),
    ]
    for text in shown:
        for psk in PSKS:
            assert psk not in text
    assert "**********" in repr(cfg.tunnels[0].ike)


def test_models_are_immutable(cfg: VpnConnectionConfig) -> None:
    with pytest.raises(ValidationError):  # frozen
        cfg.tunnels[0].cgw_asn = 1  # type: ignore[misc]


# --- tunnel options ---------------------------------------------------------


def options_for(cfg: VpnConnectionConfig) -> list[dict]:
    """TunnelOptions as boto3 returns them, tunnel 2 first, ikev2-only strong crypto."""
    return [
        {
            "OutsideIpAddress": "203.0.113.12",
            "TunnelInsideCidr": "169.254.12.0/30",
            "PreSharedKey": "strongswan_awsvpn2",
            "Phase1LifetimeSeconds": 14400,
            "Phase2LifetimeSeconds": 1800,
            "RekeyMarginTimeSeconds": 300,
            "RekeyFuzzPercentage": 100,
            "ReplayWindowSize": 1024,
            "DpdTimeoutSeconds": 40,
            "DpdTimeoutAction": "restart",
            "Phase1EncryptionAlgorithms": [{"Value": "AES256"}, {"Value": "AES128-GCM-16"}],
            "Phase2EncryptionAlgorithms": [{"Value": "AES256"}],
            "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}, {"Value": "SHA2-384"}],
            "Phase2IntegrityAlgorithms": [{"Value": "SHA2-256"}],
            "Phase1DHGroupNumbers": [{"Value": 14}, {"Value": 20}],
            "Phase2DHGroupNumbers": [{"Value": 19}],
            "IkeVersions": [{"Value": "ikev2"}],
            "StartupAction": "start",
            "LogOptions": {"CloudWatchLogOptions": {"LogEnabled": False}},
        },
        {
            "OutsideIpAddress": "203.0.113.11",
            "TunnelInsideCidr": "169.254.11.0/30",
            "IkeVersions": [{"Value": "ikev1"}, {"Value": "ikev2"}],
        },
    ]


def test_apply_tunnel_options_matches_by_outside_ip(cfg: VpnConnectionConfig) -> None:
    out = apply_tunnel_options(cfg, options_for(cfg))
    t1, t2 = out.tunnels
    assert t2.ike.versions == ("ikev2",)
    assert t2.ike.encryption_algorithms == ("AES256", "AES128-GCM-16")
    assert t2.ike.integrity_algorithms == ("SHA2-256", "SHA2-384")
    assert t2.ike.dh_groups == (14, 20)
    assert (t2.ipsec.encryption_algorithms, t2.ipsec.integrity_algorithms, t2.ipsec.dh_groups) == (
        ("AES256",),
        ("SHA2-256",),
        (19,),
    )
    assert (t2.ike.lifetime, t2.ipsec.lifetime) == (14400, 1800)
    assert (t2.ipsec.dpd_timeout, t2.ipsec.dpd_timeout_action) == (40, "restart")
    assert (t2.startup_action, t2.rekey_margin_time, t2.rekey_fuzz_percentage, t2.replay_window_size) == (
        "start",
        300,
        100,
        1024,
    )
    # Tunnel 1 only widened its IKE versions; everything else stays as in the XML.
    assert t1.ike.versions == ("ikev1", "ikev2")
    assert (t1.ike.encryption_algorithms, t1.ike.dh_groups, t1.ike.lifetime) == (("AES128",), (2,), 28800)
    assert t1.ipsec.dpd_timeout == 30 and t1.startup_action is None
    # The input is not modified.
    assert cfg.tunnels[1].ike.versions == ("ikev1",)


def test_no_options_keep_the_xml_values(cfg: VpnConnectionConfig) -> None:
    assert apply_tunnel_options(cfg, []) == cfg
    assert apply_tunnel_options(cfg, None) == cfg
    # An option set with only the outside IP changes nothing either.
    assert apply_tunnel_options(cfg, [{"OutsideIpAddress": "203.0.113.11"}]) == cfg


def test_options_psk_replaces_xml_psk(cfg: VpnConnectionConfig) -> None:
    out = apply_tunnel_options(cfg, [{"OutsideIpAddress": "203.0.113.11", "PreSharedKey": "rotated.key_123"}])
    assert out.tunnel(1).ike.pre_shared_key.get_secret_value() == "rotated.key_123"
    assert "rotated.key_123" not in repr(out)


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ({"OutsideIpAddress": "203.0.113.99"}, "matches no tunnel"),
        ({}, "OutsideIpAddress is missing"),
        (
            {"OutsideIpAddress": "203.0.113.11", "TunnelInsideCidr": "169.254.77.0/30"},
            "does not match tunnel 1's inside CIDR 169.254.11.0/30",
        ),
        (
            {"OutsideIpAddress": "203.0.113.11", "Phase1EncryptionAlgorithms": [{"Value": "DES"}]},
            "TunnelOptions[0].Phase1EncryptionAlgorithms[0]",
        ),
        ({"OutsideIpAddress": "203.0.113.11", "IkeVersions": [{"Value": "ikev3"}]}, "TunnelOptions[0].IkeVersions[0]"),
        ({"OutsideIpAddress": "203.0.113.11", "DpdTimeoutAction": "explode"}, "DpdTimeoutAction"),
        ({"OutsideIpAddress": "203.0.113.11", "Phase2LifetimeSeconds": "long"}, "Phase2LifetimeSeconds"),
    ],
)
def test_bad_options_are_reported_without_the_psk(cfg: VpnConnectionConfig, option: dict, fragment: str) -> None:
    option = {**option, "PreSharedKey": "strongswan_awsvpn1"} if option else option
    with pytest.raises(VpnConfigError) as info:
        apply_tunnel_options(cfg, [option])
    assert fragment in str(info.value)
    for psk in PSKS:
        assert psk not in str(info.value)


def test_two_option_sets_for_one_tunnel_are_rejected(cfg: VpnConnectionConfig) -> None:
    with pytest.raises(VpnConfigError, match="second option set for tunnel 1"):
        apply_tunnel_options(cfg, [{"OutsideIpAddress": "203.0.113.11"}, {"OutsideIpAddress": "203.0.113.11"}])


def test_tunnel_model_rejects_inconsistent_values(cfg: VpnConnectionConfig) -> None:
    data = cfg.tunnels[0].model_dump()
    data["vgw_inside_ip"] = "169.254.99.1"
    with pytest.raises(ValueError, match="vgw_inside_ip is not inside"):
        TunnelConfig.model_validate(data)
