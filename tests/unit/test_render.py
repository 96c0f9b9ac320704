"""Router configuration generators: values, modes, idempotence, real tools."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hybridnet.render import TARGETS, RouterSite, render_files, render_router
from hybridnet.vpnconfig import (
    apply_tunnel_options,
    parse_customer_gateway_configuration,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PSKS = ("strongswan_awsvpn1", "strongswan_awsvpn2")

EXPECTED_FILES = {
    "seed": {"setup-router-seed.sh": 0o700},
    "frr": {
        "setup-router-frr.sh": 0o700,
        "ipsec.conf": 0o644,
        "ipsec.secrets": 0o600,
        "ipsec-vti.sh": 0o755,
        "frr.conf": 0o644,
    },
    "swanctl": {"swanctl.conf": 0o600, "xfrm-interfaces.sh": 0o755, "frr.conf": 0o644},
    "lab": {"swanctl.conf": 0o600, "frr.conf": 0o644, "ipsec0-addresses": 0o644, "setup-router-lab.sh": 0o700},
}

INSTALLED = {
    "seed": {
        "etc/strongswan/ipsec.conf",
        "etc/strongswan/ipsec.secrets",
        "etc/strongswan/ipsec-vti.sh",
        "etc/quagga/bgpd.conf",
    },
    "frr": {"etc/ipsec.conf", "etc/ipsec.secrets", "etc/ipsec-vti.sh", "etc/frr/frr.conf"},
}


STRONG = [
    {
        "OutsideIpAddress": "203.0.113.11",
        "IkeVersions": [{"Value": "ikev2"}],
        "Phase1EncryptionAlgorithms": [{"Value": "AES256"}],
        "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
        "Phase1DHGroupNumbers": [{"Value": 14}, {"Value": 20}],
        "Phase2EncryptionAlgorithms": [{"Value": "AES256"}, {"Value": "AES256-GCM-16"}],
        "Phase2IntegrityAlgorithms": [{"Value": "SHA2-256"}],
        "Phase2DHGroupNumbers": [{"Value": 19}],
        "Phase1LifetimeSeconds": 14400,
        "Phase2LifetimeSeconds": 1800,
        "DpdTimeoutSeconds": 45,
        "RekeyMarginTimeSeconds": 300,
        "ReplayWindowSize": 2048,
    },
]


def read_files(out: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in sorted(out.iterdir())}


def conf_sections(text: str) -> dict[str, dict[str, str]]:
    """ipsec.conf -> {conn name: {key: value}} (comments dropped)."""
    sections: dict[str, dict[str, str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if line.startswith("conn "):
            current = sections.setdefault(line.split()[1], {})
        elif current is not None:
            key, _, value = line.strip().partition("=")
            current[key] = value
    return sections


def swanctl_block(text: str, *names: str) -> str:
    """The body of a nested swanctl.conf section, e.g. ('connections', 'tu1')."""
    body = text
    for name in names:
        m = re.search(rf"^\s*{re.escape(name)} \{{\n", body, re.M)
        assert m, f"no section {name}"
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            i += 1
        body = body[m.end() : i - 1]
    return body


def setting(block: str, key: str) -> str:
    m = re.search(rf"^\s*{re.escape(key)} = (.*)$", block, re.M)
    assert m, f"no {key} in block"
    return m.group(1)


def run_script(script: Path, root: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "HYBRIDNET_ROOT": str(root), "HYBRIDNET_NO_SERVICES": "1", **env}
    res = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=full, timeout=30)
    assert res.returncode == 0, res.stderr
    return res


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- registry, files, modes, idempotence ------------------------------------


def test_unknown_target_lists_the_valid_ones(cfg, site, tmp_path) -> None:
    assert set(TARGETS) == {"seed", "frr", "swanctl", "lab"}
    with pytest.raises(ValueError, match="valid targets: frr, lab, seed, swanctl"):
        render_router(cfg, site, "vyos", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", sorted(EXPECTED_FILES))
def test_files_and_modes(cfg, site, tmp_path, target) -> None:
    paths = render_router(cfg, site, target, tmp_path / target)
    assert {p.name for p in paths} == set(EXPECTED_FILES[target])
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == EXPECTED_FILES[target][p.name], (p.name, oct(mode))
        assert not mode & stat.S_IWOTH
        holds_psk = any(k.encode() in p.read_bytes() for k in PSKS)
        # Every file holding a PSK is private; every private one holds a PSK.
        assert holds_psk == (not mode & 0o077), p.name
    assert sorted(p.name for p in (tmp_path / target).iterdir()) == sorted(EXPECTED_FILES[target])


@pytest.mark.parametrize("target", sorted(EXPECTED_FILES))
def test_rendering_twice_gives_identical_bytes(cfg, site, tmp_path, target) -> None:
    out = tmp_path / "out"
    render_router(cfg, site, target, out)
    first = read_files(out)
    for p in out.iterdir():  # a loosened mode is put back
        p.chmod(0o666)
    render_router(cfg, site, target, out)
    assert read_files(out) == first


def test_output_follows_the_parameters(cfg, site) -> None:
    """Every target's output changes when a parameter changes."""
    strong = apply_tunnel_options(cfg, STRONG)
    other_site = RouterSite(cgw_asn=65016, onprem_cidrs=["172.16.0.0/12"], vpc_cidrs=["10.0.0.0/16"])
    for target in TARGETS:
        base = {f.name: f.content for f in render_files(cfg, site, target)}
        assert base != {f.name: f.content for f in render_files(strong, site, target)}, target
        assert base != {f.name: f.content for f in render_files(cfg, other_site, target)}, target


def test_site_asn_must_match_the_vpn(cfg) -> None:
    wrong = RouterSite(cgw_asn=65000, onprem_cidrs=["192.168.0.0/16"], vpc_cidrs=["10.0.0.0/16"])
    with pytest.raises(ValueError, match="site.cgw_asn 65000 does not match .* 65016"):
        render_files(cfg, wrong, "lab")


def test_psk_outside_aws_charset_is_refused_without_quoting_it(cfg, site) -> None:
    bad = apply_tunnel_options(cfg, [{"OutsideIpAddress": "203.0.113.11", "PreSharedKey": 'x"; rm -rf /'}])
    with pytest.raises(ValueError) as info:
        render_files(bad, site, "swanctl")
    assert "pre-shared key" in str(info.value)
    assert "rm -rf" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"onprem_cidrs": ["192.168.1.0/16"]}, "did you mean 192.168.0.0/16"),
        ({"onprem_cidrs": []}, "at least one"),
        ({"cgw_local_ip": "10.0.0.300"}, "cgw_local_ip"),
        ({"outside_interface": "eth0; reboot"}, "outside_interface"),
        ({"strongswan_dir": "etc/../x"}, "strongswan_dir"),
        ({"cgw_asn": 0}, "cgw_asn"),
    ],
)
def test_router_site_validation(kwargs, fragment) -> None:
    base = {"cgw_asn": 65016, "onprem_cidrs": ["192.168.0.0/16"], "vpc_cidrs": ["10.0.0.0/16"]}
    with pytest.raises(ValueError, match=re.escape(fragment)):
        RouterSite(**{**base, **kwargs})


# --- seed ---------------------------------------------------------------------


def test_seed_script_is_non_interactive_and_safe(cfg, site, tmp_path) -> None:
    (script,) = render_router(cfg, site, "seed", tmp_path)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    for forbidden in ("read -p", "read ", "curl", "ifconfig.me", "777", "hostname -i"):
        assert forbidden not in text, forbidden


def test_seed_script_installs_the_seed_files_with_cfg_values(cfg, site, tmp_path) -> None:
    (script,) = render_router(cfg, site, "seed", tmp_path / "out")
    root = tmp_path / "root"
    run_script(script, root)
    files = tree(root)
    assert set(files) == INSTALLED["seed"]
    assert files["etc/strongswan/ipsec.secrets"][1] == 0o600
    assert files["etc/strongswan/ipsec-vti.sh"][1] == 0o755
    assert files["etc/strongswan/ipsec.conf"][1] == 0o644
    assert files["etc/quagga/bgpd.conf"][1] == 0o640

    conns = conf_sections(files["etc/strongswan/ipsec.conf"][0].decode())
    assert set(conns) == {"%default", "TU1", "TU2"}
    assert conns["%default"]["leftupdown"] == "/etc/strongswan/ipsec-vti.sh"
    for name, vgw, mark in (("TU1", "203.0.113.11", "100"), ("TU2", "203.0.113.12", "200")):
        c = conns[name]
        assert (c["left"], c["leftid"], c["right"], c["rightid"]) == ("198.51.100.10", "198.51.100.10", vgw, vgw)
        assert c["mark"] == mark and c["auto"] == "start"
        # The seed's values, here derived from the XML's params.
        assert c["ike"] == "aes128-sha1-modp1024!" and c["esp"] == "aes128-sha1-modp1024!"
        assert (c["ikelifetime"], c["lifetime"]) == ("28800s", "3600s")
        assert (c["dpddelay"], c["dpdtimeout"], c["keyexchange"]) == ("10s", "30s", "ikev1")
        assert c["aggressive"] == "no"

    secrets = files["etc/strongswan/ipsec.secrets"][0].decode()
    assert '198.51.100.10 203.0.113.11 : PSK "strongswan_awsvpn1"' in secrets
    assert '198.51.100.10 203.0.113.12 : PSK "strongswan_awsvpn2"' in secrets

    vti = files["etc/strongswan/ipsec-vti.sh"][0].decode()
    assert re.search(
        r"TU1\)\n\s+VTI_INTERFACE=vti1\n\s+VTI_LOCALADDR=169\.254\.11\.2/30\n"
        r"\s+VTI_REMOTEADDR=169\.254\.11\.1/30",
        vti,
    )
    assert re.search(
        r"TU2\)\n\s+VTI_INTERFACE=vti2\n\s+VTI_LOCALADDR=169\.254\.12\.2/30\n"
        r"\s+VTI_REMOTEADDR=169\.254\.12\.1/30",
        vti,
    )

    bgpd = files["etc/quagga/bgpd.conf"][0].decode()
    assert "router bgp 65016\n" in bgpd
    assert " bgp router-id 169.254.11.2\n" in bgpd
    for peer in ("169.254.11.1", "169.254.12.1"):
        assert f" neighbor {peer} remote-as 64512\n" in bgpd
        assert f" neighbor {peer} timers 10 30\n" in bgpd
        assert f" neighbor {peer} timers connect 10\n" in bgpd
    assert " network 192.168.0.0/16\n" in bgpd


def test_seed_and_frr_scripts_are_idempotent_into_a_root(cfg, site, tmp_path) -> None:
    for target in ("seed", "frr"):
        out = tmp_path / f"out-{target}"
        script = out / f"setup-router-{target}.sh"
        render_router(cfg, site, target, out)
        root = tmp_path / f"root-{target}"
        run_script(script, root)
        first = tree(root)
        run_script(script, root)
        assert tree(root) == first
        assert not [p for p in root.rglob("*") if p.stat().st_mode & stat.S_IWOTH]
        # exactly the installed files: no temporary files left behind
        assert set(first) == INSTALLED[target]


def test_frr_script_installs_the_plain_files(cfg, site, tmp_path) -> None:
    out = tmp_path / "out"
    render_router(cfg, site, "frr", out)
    root = tmp_path / "root"
    (root / "etc/frr").mkdir(parents=True)
    (root / "etc/frr/daemons").write_text("zebra=yes\nbgpd=no\nospfd=no\n")
    run_script(out / "setup-router-frr.sh", root)
    files = tree(root)
    # Debian/Ubuntu layout by default: /etc/ipsec.conf, /etc/ipsec.secrets.
    assert files["etc/ipsec.conf"][0] == (out / "ipsec.conf").read_bytes()
    assert files["etc/ipsec.secrets"] == ((out / "ipsec.secrets").read_bytes(), 0o600)
    assert files["etc/ipsec-vti.sh"] == ((out / "ipsec-vti.sh").read_bytes(), 0o755)
    assert files["etc/frr/frr.conf"] == ((out / "frr.conf").read_bytes(), 0o640)
    assert files["etc/frr/daemons"][0] == b"zebra=yes\nbgpd=yes\nospfd=no\n"
    assert conf_sections((out / "ipsec.conf").read_text())["%default"]["leftupdown"] == "/etc/ipsec-vti.sh"


def test_strongswan_dir_override(cfg, tmp_path) -> None:
    site = RouterSite(
        cgw_asn=65016, onprem_cidrs=["192.168.0.0/16"], vpc_cidrs=["10.0.0.0/16"], strongswan_dir="/etc/strongswan/"
    )
    out = tmp_path / "out"
    render_router(cfg, site, "frr", out)
    run_script(out / "setup-router-frr.sh", tmp_path / "root")
    assert (tmp_path / "root/etc/strongswan/ipsec.secrets").exists()
    assert "leftupdown=/etc/strongswan/ipsec-vti.sh" in (out / "ipsec.conf").read_text()


# --- values from the parameters ---------------------------------------------


def test_ipsec_conf_follows_tunnel_options_and_site(cfg, tmp_path) -> None:
    site = RouterSite(
        cgw_asn=65016,
        onprem_cidrs=["192.168.0.0/16", "172.20.0.0/16"],
        vpc_cidrs=["10.0.0.0/16"],
        cgw_local_ip="172.31.5.10",
        router_id="10.255.0.1",
    )
    files = {f.name: f.content for f in render_files(apply_tunnel_options(cfg, STRONG), site, "frr")}
    conns = conf_sections(files["ipsec.conf"])
    tu1, tu2 = conns["TU1"], conns["TU2"]
    assert tu1["left"] == "172.31.5.10" and tu1["leftid"] == "198.51.100.10"
    assert tu1["keyexchange"] == "ikev2"
    assert tu1["ike"] == "aes256-sha256-modp2048-ecp384!"
    assert tu1["esp"] == "aes256-sha256-ecp256,aes256gcm16-ecp256!"
    assert (tu1["ikelifetime"], tu1["lifetime"], tu1["margintime"]) == ("14400s", "1800s", "300s")
    assert tu1["dpdtimeout"] == "45s"
    # Tunnel 2 had no options: still the XML's values.
    assert (tu2["keyexchange"], tu2["ike"], tu2["lifetime"]) == ("ikev1", "aes128-sha1-modp1024!", "3600s")
    frr = files["frr.conf"]
    assert " bgp router-id 10.255.0.1\n" in frr
    assert "  network 192.168.0.0/16\n  network 172.20.0.0/16\n" in frr


def test_ikev1_gets_one_proposal_per_combination(cfg, site) -> None:
    wide = apply_tunnel_options(
        cfg,
        [
            {
                "OutsideIpAddress": "203.0.113.11",
                "IkeVersions": [{"Value": "ikev1"}],
                "Phase1EncryptionAlgorithms": [{"Value": "AES128"}, {"Value": "AES256"}, {"Value": "AES128-GCM-16"}],
                "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
                "Phase1DHGroupNumbers": [{"Value": 14}, {"Value": 19}],
                "Phase2EncryptionAlgorithms": [{"Value": "AES128-GCM-16"}],
                "Phase2DHGroupNumbers": [{"Value": 14}],
            }
        ],
    )
    files = {f.name: f.content for f in render_files(wide, site, "swanctl")}
    tu1 = swanctl_block(files["swanctl.conf"], "connections", "tu1")
    assert setting(tu1, "version") == "1"
    # IKEv1: one algorithm of each kind per proposal; no AEAD for the IKE SA.
    assert setting(tu1, "proposals") == (
        "aes128-sha256-modp2048,aes128-sha256-ecp256,aes256-sha256-modp2048,aes256-sha256-ecp256"
    )
    assert setting(tu1, "esp_proposals") == "aes128gcm16-modp2048"


def test_ikev2_aead_proposal_carries_a_prf(cfg, site) -> None:
    gcm = apply_tunnel_options(
        cfg,
        [
            {
                "OutsideIpAddress": "203.0.113.12",
                "IkeVersions": [{"Value": "ikev2"}],
                "Phase1EncryptionAlgorithms": [{"Value": "AES256-GCM-16"}, {"Value": "AES128"}],
                "Phase1IntegrityAlgorithms": [{"Value": "SHA2-384"}],
                "Phase1DHGroupNumbers": [{"Value": 20}, {"Value": 35}],  # 35 (ML-KEM) is left out
            }
        ],
    )
    files = {f.name: f.content for f in render_files(gcm, site, "swanctl")}
    tu2 = swanctl_block(files["swanctl.conf"], "connections", "tu2")
    assert setting(tu2, "version") == "2"
    assert setting(tu2, "proposals") == "aes128-sha384-ecp384,aes256gcm16-prfsha384-ecp384"
    assert "dpd_timeout" not in tu2  # IKEv2 uses retransmission timeouts


def test_swanctl_target(cfg, site, tmp_path) -> None:
    strong = apply_tunnel_options(cfg, STRONG)
    render_router(strong, site, "swanctl", tmp_path)
    text = (tmp_path / "swanctl.conf").read_text()
    tu1 = swanctl_block(text, "connections", "tu1")
    tu2 = swanctl_block(text, "connections", "tu2")
    assert (setting(tu1, "version"), setting(tu2, "version")) == ("2", "1")
    assert setting(tu1, "local_addrs") == "198.51.100.10"
    assert (setting(tu1, "remote_addrs"), setting(tu2, "remote_addrs")) == ("203.0.113.11", "203.0.113.12")
    assert setting(tu1, "proposals") == "aes256-sha256-modp2048-ecp384"
    assert setting(tu2, "proposals") == "aes128-sha1-modp1024"
    # lifetimes: rekey before AWS's lifetime by the rekey margin
    assert (setting(tu1, "rekey_time"), setting(tu1, "over_time")) == ("14100s", "300s")
    assert (setting(tu2, "rekey_time"), setting(tu2, "dpd_timeout")) == ("28260s", "30s")
    assert setting(tu1, "dpd_delay") == "10s"
    c1 = swanctl_block(tu1, "children", "tu1")
    c2 = swanctl_block(tu2, "children", "tu2")
    assert (setting(c1, "local_ts"), setting(c1, "remote_ts")) == ("0.0.0.0/0", "0.0.0.0/0")
    assert (setting(c1, "if_id_in"), setting(c1, "if_id_out")) == ("100", "100")
    assert (setting(c2, "if_id_in"), setting(c2, "if_id_out")) == ("200", "200")
    assert setting(c1, "esp_proposals") == "aes256-sha256-ecp256,aes256gcm16-ecp256"
    assert (setting(c1, "life_time"), setting(c1, "rekey_time")) == ("1800s", "1500s")
    assert setting(c1, "replay_window") == "2048"
    assert (setting(c2, "life_time"), setting(c2, "rekey_time")) == ("3600s", "3060s")
    secrets = swanctl_block(text, "secrets")
    assert setting(swanctl_block(secrets, "ike-tu1"), "secret") == '"strongswan_awsvpn1"'
    assert setting(swanctl_block(secrets, "ike-tu2"), "id-remote") == "203.0.113.12"
    xfrm = (tmp_path / "xfrm-interfaces.sh").read_text()
    assert '"xfrm1 100 169.254.11.2/30 1379"' in xfrm and '"xfrm2 200 169.254.12.2/30 1379"' in xfrm


def test_lab_target(cfg, site, tmp_path) -> None:
    render_router(cfg, site, "lab", tmp_path)
    assert (tmp_path / "ipsec0-addresses").read_text() == "169.254.11.2/30\n169.254.12.2/30\n"
    text = (tmp_path / "swanctl.conf").read_text()
    assert "if_id" not in text and "mark" not in text and "updown" not in text
    for name, cgw_in, vgw_in, vgw_out in (
        ("tu1", "169.254.11.2", "169.254.11.1", "203.0.113.11"),
        ("tu2", "169.254.12.2", "169.254.12.1", "203.0.113.12"),
    ):
        conn = swanctl_block(text, "connections", name)
        assert setting(conn, "local_addrs") == "198.51.100.10"
        assert setting(conn, "remote_addrs") == vgw_out
        assert setting(conn, "version") == "1"
        assert setting(conn, "proposals") == "aes128-sha1-modp1024"
        assert (setting(conn, "dpd_delay"), setting(conn, "dpd_timeout")) == ("10s", "30s")
        children = swanctl_block(conn, "children")
        assert re.findall(r"^ {12}(\w+) \{", children, re.M) == ["bgp", "lan"]
        bgp = swanctl_block(children, "bgp")
        lan = swanctl_block(children, "lan")
        assert (setting(bgp, "local_ts"), setting(bgp, "remote_ts")) == (f"{cgw_in}/32", f"{vgw_in}/32")
        assert (setting(lan, "local_ts"), setting(lan, "remote_ts")) == ("192.168.0.0/16", "10.0.0.0/16")
        for child in (bgp, lan):
            assert setting(child, "start_action") == "start"
            assert setting(child, "esp_proposals") == "aes128-sha1-modp1024"
    frr = (tmp_path / "frr.conf").read_text()
    assert "router bgp 65016\n" in frr and " bgp router-id 169.254.11.2\n" in frr
    assert " no bgp ebgp-requires-policy\n" in frr
    assert " neighbor 169.254.11.1 remote-as 64512\n neighbor" in frr
    assert " neighbor 169.254.12.1 timers 10 30\n" in frr
    assert " neighbor 169.254.12.1 timers connect 10\n" in frr
    assert "  network 192.168.0.0/16\n" in frr


def test_lab_ikev1_gets_one_lan_child_per_prefix_pair(cfg) -> None:
    site = RouterSite(cgw_asn=65016, onprem_cidrs=["192.168.0.0/16", "172.20.0.0/16"], vpc_cidrs=["10.0.0.0/16"])
    mixed = apply_tunnel_options(cfg, [{"OutsideIpAddress": "203.0.113.12", "IkeVersions": [{"Value": "ikev2"}]}])
    text = {f.name: f.content for f in render_files(mixed, site, "lab")}["swanctl.conf"]
    v1 = swanctl_block(text, "connections", "tu1", "children")
    assert re.findall(r"^ {12}(\w+) \{", v1, re.M) == ["bgp", "lan", "lan2"]
    assert setting(swanctl_block(v1, "lan2"), "local_ts") == "172.20.0.0/16"
    v2 = swanctl_block(text, "connections", "tu2", "children")
    assert re.findall(r"^ {12}(\w+) \{", v2, re.M) == ["bgp", "lan"]
    assert setting(swanctl_block(v2, "lan"), "local_ts") == "192.168.0.0/16,172.20.0.0/16"


def test_one_tunnel_connection_renders_one_tunnel(tmp_path) -> None:
    cfg = parse_customer_gateway_configuration((FIXTURES / "cgw_config_one_tunnel.xml").read_text())
    site = RouterSite(cgw_asn=65001, onprem_cidrs=["192.168.0.0/16"], vpc_cidrs=["10.0.0.0/16"])
    render_router(cfg, site, "lab", tmp_path)
    assert (tmp_path / "ipsec0-addresses").read_text() == "169.254.44.42/30\n"
    text = (tmp_path / "swanctl.conf").read_text()
    assert "tu2" not in text
    assert setting(swanctl_block(text, "connections", "tu1"), "proposals") == "aes256-sha256-modp2048"
    files = {f.name: f.content for f in render_files(cfg, site, "frr")}
    assert set(conf_sections(files["ipsec.conf"])) == {"%default", "TU1"}
    assert files["frr.conf"].count("remote-as 7224") == 1


# --- shell checks ---------------------------------------------------------------


def scripts(cfg, site, tmp_path) -> list[Path]:
    paths = []
    for target in TARGETS:
        paths += [p for p in render_router(cfg, site, target, tmp_path / target) if p.suffix == ".sh"]
    root = tmp_path / "seed-root"
    run_script(tmp_path / "seed/setup-router-seed.sh", root)
    paths.append(root / "etc/strongswan/ipsec-vti.sh")  # the copy inside the seed script's here-document
    return paths


def test_scripts_pass_bash_n(cfg, site, tmp_path) -> None:
    bash = tooling.require_tool("bash")
    found = scripts(cfg, site, tmp_path)
    assert len(found) == 6
    for path in found:
        res = tooling.run([bash, "-n", str(path)])
        assert res.returncode == 0, (path.name, res.stderr)


def test_scripts_pass_shellcheck(cfg, site, tmp_path) -> None:
    shellcheck = tooling.require_tool("shellcheck")
    for path in scripts(cfg, site, tmp_path):
        res = tooling.run([shellcheck, "--severity=style", str(path)])
        assert res.returncode == 0, (path.name, res.stdout)
    # Negative control: shellcheck does find problems in a broken script.
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $DIR/*\n")
    assert tooling.run([shellcheck, str(bad)]).returncode != 0


# --- real daemons ---------------------------------------------------------------


def bgp_configs(cfg, site, tmp_path) -> list[Path]:
    confs = []
    for target in ("frr", "swanctl", "lab"):
        confs.append(render_router(cfg, site, target, tmp_path / target)[0].parent / "frr.conf")
    (seed,) = render_router(cfg, site, "seed", tmp_path / "seed")
    run_script(seed, tmp_path / "seed-root")
    confs.append(tmp_path / "seed-root/etc/quagga/bgpd.conf")
    return confs


@pytest.mark.parametrize("variant", ["xml", "options"])
def test_frr_accepts_every_generated_bgp_config(cfg, site, tmp_path, variant) -> None:
    if variant == "options":
        cfg = apply_tunnel_options(cfg, STRONG)
        site = RouterSite(
            cgw_asn=65016,
            onprem_cidrs=["192.168.0.0/16", "172.20.0.0/16"],
            vpc_cidrs=["10.0.0.0/16"],
            router_id="10.255.0.1",
        )
    confs = bgp_configs(cfg, site, tmp_path)
    assert len(confs) == 4
    for conf in confs:
        assert tooling.frr_check(conf) == [], conf


def test_frr_check_detects_errors(tmp_path) -> None:
    """Negative control: the FRR check is not vacuous."""
    bad = tmp_path / "frr.conf"
    bad.write_text("router bgp 65016\n neighbor 169.254.11.1 timers 10 30\n network 192.168.0.0/33\n")
    problems = tooling.frr_check(bad)
    assert any("vtysh" in p for p in problems)
    semantic = tmp_path / "semantic.conf"  # grammar is fine, bgpd refuses it
    semantic.write_text("router bgp 65016\n neighbor 169.254.11.1 timers 10 30\n")
    assert any("bgpd" in p for p in tooling.frr_check(semantic))


@pytest.mark.parametrize("target", ["swanctl", "lab"])
def test_charon_loads_swanctl_conf(cfg, site, tmp_path, target) -> None:
    variants = {"xml": cfg, "options": apply_tunnel_options(cfg, STRONG)}
    for name, c in variants.items():
        out = tmp_path / name
        render_router(c, site, target, out)
        load, conns = tooling.swanctl_load(out / "swanctl.conf")
        assert load.returncode == 0, load.stdout + load.stderr
        assert "successfully loaded 2 connections" in load.stdout
        assert "loaded ike secret 'ike-tu1'" in load.stdout
        version = "IKEv2" if name == "options" else "IKEv1"
        assert re.search(rf"^tu1: {version}", conns, re.M), conns
        assert "remote: 203.0.113.12" in conns
        if target == "lab":
            assert "local:  169.254.12.2/32" in conns and "remote: 10.0.0.0/16" in conns


def test_charon_check_detects_a_bad_proposal(cfg, site, tmp_path) -> None:
    """Negative control: charon rejects what strongSwan cannot parse."""
    render_router(cfg, site, "lab", tmp_path)
    conf = tmp_path / "swanctl.conf"
    conf.write_text(conf.read_text().replace("proposals = aes128-sha1-modp1024", "proposals = aes128-sha1-modp9999"))
    load, _ = tooling.swanctl_load(conf)
    assert load.returncode != 0
    assert "invalid value for: proposals" in load.stderr + load.stdout


def test_starter_accepts_ipsec_conf(cfg, site, tmp_path) -> None:
    confs = []
    for name, c in (("xml", cfg), ("options", apply_tunnel_options(cfg, STRONG))):
        render_router(c, site, "frr", tmp_path / name)
        confs.append(tmp_path / name / "ipsec.conf")
    (seed,) = render_router(cfg, site, "seed", tmp_path / "seed")
    run_script(seed, tmp_path / "seed-root")
    confs.append(tmp_path / "seed-root/etc/strongswan/ipsec.conf")
    for conf in confs:
        assert tooling.starter_conftest(conf) == [], conf
    bad = tmp_path / "bad.conf"
    bad.write_text(confs[0].read_text().replace("mark=100", "markk=100"))
    assert tooling.starter_conftest(bad)
