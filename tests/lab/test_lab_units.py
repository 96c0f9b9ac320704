"""Lab pieces that need no root: inputs, topology, rendering, vici codec, safety checks."""

from __future__ import annotations

import ipaddress

import pytest
from hybridnet import lab
from hybridnet.lab import awsside, netns, vici
from hybridnet.lab.cgwside import CgwConfigError, load_cgw_dir
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX
from hybridnet.lab.render import render_strongswan_conf
from pydantic import ValidationError


def test_seed_spec_values():
    spec = lab.LabSpec.seed()
    assert [str(t.vgw_outside_ip) for t in spec.tunnels] == ["203.0.113.11", "203.0.113.12"]
    assert spec.tgw_asn == 64512 and spec.cgw_asn == 65016
    assert "strongswan_awsvpn1" not in repr(spec)  # PSKs are SecretStr


@pytest.mark.parametrize(
    "change, message",
    [
        ({"vgw_outside_ip": "8.8.8.8"}, "documentation ranges"),
        ({"inside_cidr": "169.254.11.0/29"}, "/30"),
        ({"cgw_inside_ip": "169.254.11.3"}, "not a host address"),
    ],
)
def test_tunnel_spec_rejects(change, message):
    values = dict(
        vgw_outside_ip="203.0.113.11",
        cgw_outside_ip="198.51.100.10",
        vgw_inside_ip="169.254.11.1",
        cgw_inside_ip="169.254.11.2",
        inside_cidr="169.254.11.0/30",
        psk="strongswan_awsvpn1",
    )
    with pytest.raises(ValidationError, match=message):
        lab.TunnelSpec(**{**values, **change})


def test_topology_addresses_stay_in_lab_space():
    topology = lab.build_topology(lab.LabSpec.seed())
    assert set(topology.namespaces) == {
        f"{NS_PREFIX}inet",
        f"{NS_PREFIX}aws",
        f"{NS_PREFIX}cgw",
        f"{NS_PREFIX}idc",
        f"{NS_PREFIX}vpc",
    }
    outside = {(link.b.ns, link.b.name): link.b.addresses for link in topology.links}
    assert outside[(f"{NS_PREFIX}aws", "outside")] == ("203.0.113.11/24", "203.0.113.12/24")
    assert topology.host("web1").address == "10.0.10.10"
    assert topology.host("websrv").address == "192.168.2.20"
    for link in topology.links:
        for end in (link.a, link.b):
            assert end.ns.startswith(NS_PREFIX)
            for address in end.addresses:
                netns.check_lab_prefix(address)
    for route in topology.routes:
        assert ipaddress.ip_network(route.prefix).prefixlen > 0  # never a default route
        netns.check_lab_prefix(route.prefix)


@pytest.mark.parametrize("prefix", ["0.0.0.0/0", "8.8.8.0/24", "1.1.1.1/32"])
def test_routes_outside_the_lab_are_refused(prefix):
    with pytest.raises(netns.LabNetworkError):
        netns.route_command(prefix, via="10.0.10.1")


def test_only_hn_namespaces():
    with pytest.raises(netns.LabNetworkError):
        netns.check_lab_namespace("default")


def test_aws_side_renders_from_spec_only():
    spec = lab.LabSpec.seed()
    swanctl = awsside.render_swanctl_conf(spec)
    assert "local_addrs = 203.0.113.11" in swanctl and "local_addrs = 203.0.113.12" in swanctl
    assert "proposals = aes128-sha1-modp1024" in swanctl
    assert "local_ts = 169.254.11.1/32" in swanctl and "remote_ts = 169.254.11.2/32" in swanctl
    assert "local_ts = 10.0.0.0/16" in swanctl and "remote_ts = 192.168.0.0/16" in swanctl
    assert 'secret = "strongswan_awsvpn2"' in swanctl
    assert "start_action = none" in swanctl  # the customer gateway initiates
    bgpd = awsside.render_bgpd_conf(spec)
    assert "router bgp 64512" in bgpd
    assert "neighbor 169.254.11.2 remote-as 65016" in bgpd
    assert "network 10.0.0.0/16" in bgpd
    assert "no bgp ebgp-requires-policy" in bgpd


def test_strongswan_conf_puts_inside_addresses_on_ipsec0():
    conf = render_strongswan_conf(f"{NS_PREFIX}aws", ["169.254.11.1/30", "169.254.12.1/30"])
    assert "kernel-libipsec" in conf
    assert "ip address add 169.254.11.1/30 dev ipsec0" in conf


def test_cgw_fixture_dir_meets_the_contract(cgw_fixture_dir):
    config = load_cgw_dir(cgw_fixture_dir)
    assert config.ipsec0_addresses == ("169.254.11.2/30", "169.254.12.2/30")
    for conn in ("tu1 {", "tu2 {", "bgp {", "lan {", "start_action = start"):
        assert conn in config.swanctl_conf
    assert "router bgp 65016" in config.frr_conf


def test_cgw_dir_missing_files(tmp_path):
    (tmp_path / "swanctl.conf").write_text("")
    with pytest.raises(CgwConfigError, match="frr.conf"):
        load_cgw_dir(tmp_path)


def test_vici_message_roundtrip():
    message = {"ike": "tu1", "timeout": "-1", "child-sas": {"bgp": {"local-ts": ["169.254.11.2/32"]}}}
    assert vici.decode_message(vici.encode_message(message)) == message


def test_status_without_a_lab_says_so(tmp_path):
    report = lab.status(tmp_path / "nothing")
    assert report["running"] is False and report["tunnels"] == []
