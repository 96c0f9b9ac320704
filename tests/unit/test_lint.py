"""lint_router: weak crypto, exposed secrets, overlaps, redundancy."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from hybridnet.render import RouterSite, render_router
from hybridnet.render.lint import FAIL, WARN, Finding, lint_router
from hybridnet.vpnconfig import VpnConnectionConfig, apply_tunnel_options, parse_customer_gateway_configuration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def strong(cfg: VpnConnectionConfig, **extra) -> VpnConnectionConfig:
    options = []
    for t in cfg.tunnels:
        options.append(
            {
                "OutsideIpAddress": t.vgw_outside_ip,
                "IkeVersions": [{"Value": "ikev2"}],
                "Phase1EncryptionAlgorithms": [{"Value": "AES128"}],  # AES-128 is fine
                "Phase1IntegrityAlgorithms": [{"Value": "SHA2-256"}],
                "Phase1DHGroupNumbers": [{"Value": 14}, {"Value": 19}, {"Value": 20}, {"Value": 21}],
                "Phase2EncryptionAlgorithms": [{"Value": "AES128"}, {"Value": "AES256-GCM-16"}],
                "Phase2IntegrityAlgorithms": [{"Value": "SHA2-256"}, {"Value": "SHA2-512"}],
                "Phase2DHGroupNumbers": [{"Value": 14}],
                **extra,
            }
        )
    return apply_tunnel_options(cfg, options)


def keyed(findings: list[Finding]) -> set[tuple[str, int | None, str]]:
    return {(f.severity, f.tunnel, f.field) for f in findings}


def test_seed_defaults_are_flagged(cfg, site) -> None:
    findings = lint_router(cfg, site)
    expected = set()
    for n in (1, 2):
        expected |= {
            (WARN, n, "ike.versions"),
            (FAIL, n, "ike.dh_groups"),
            (FAIL, n, "ipsec.dh_groups"),
            (WARN, n, "ike.integrity_algorithms"),
            (WARN, n, "ipsec.integrity_algorithms"),
        }
    assert keyed(findings) == expected
    by_key = {(f.tunnel, f.field): f for f in findings}
    assert "IKEv2" in by_key[(1, "ike.versions")].fix
    assert "modp1024" in by_key[(1, "ike.dh_groups")].message
    assert "14" in by_key[(1, "ike.dh_groups")].fix and "19" in by_key[(1, "ike.dh_groups")].fix
    assert "SHA2-256" in by_key[(2, "ipsec.integrity_algorithms")].fix
    assert not [f for f in findings if "AES" in f.message]


def test_strong_parameters_are_clean(cfg, site) -> None:
    assert lint_router(strong(cfg), site) == []


def test_each_weakness_is_flagged_on_its_own(cfg, site) -> None:
    group5 = strong(cfg, Phase2DHGroupNumbers=[{"Value": 14}, {"Value": 5}])
    assert keyed(lint_router(group5, site)) == {(FAIL, 1, "ipsec.dh_groups"), (FAIL, 2, "ipsec.dh_groups")}
    sha1 = strong(cfg, Phase1IntegrityAlgorithms=[{"Value": "SHA2-256"}, {"Value": "SHA1"}])
    assert keyed(lint_router(sha1, site)) == {
        (WARN, 1, "ike.integrity_algorithms"),
        (WARN, 2, "ike.integrity_algorithms"),
    }
    both = strong(cfg, IkeVersions=[{"Value": "ikev1"}, {"Value": "ikev2"}])
    findings = lint_router(both, site)
    assert keyed(findings) == {(WARN, 1, "ike.versions"), (WARN, 2, "ike.versions")}
    assert "still allowed" in findings[0].message


def test_overlapping_prefixes_fail(cfg) -> None:
    site = RouterSite(cgw_asn=65016, onprem_cidrs=["192.168.0.0/16", "10.0.0.0/8"], vpc_cidrs=["10.0.0.0/16"])
    findings = lint_router(strong(cfg), site)
    assert keyed(findings) == {(FAIL, None, "site.onprem_cidrs")}
    assert "10.0.0.0/8" in findings[0].message and "10.0.0.0/16" in findings[0].message
    adjacent = RouterSite(cgw_asn=65016, onprem_cidrs=["10.1.0.0/16"], vpc_cidrs=["10.0.0.0/16"])
    assert lint_router(strong(cfg), adjacent) == []


def test_one_tunnel_warns(site) -> None:
    one = parse_customer_gateway_configuration((FIXTURES / "cgw_config_one_tunnel.xml").read_text())
    site = RouterSite(cgw_asn=65001, onprem_cidrs=["192.168.0.0/16"], vpc_cidrs=["10.0.0.0/16"])
    findings = lint_router(one, site)
    # The fixture's crypto is SHA2-256/AES256/group 14 with IKEv1.
    assert keyed(findings) == {(WARN, None, "tunnels"), (WARN, 1, "ike.versions")}
    assert "redundancy" in [f for f in findings if f.field == "tunnels"][0].message


def test_asn_mismatch_fails(cfg) -> None:
    site = RouterSite(cgw_asn=65099, onprem_cidrs=["192.168.0.0/16"], vpc_cidrs=["10.0.0.0/16"])
    assert keyed(lint_router(strong(cfg), site)) == {(FAIL, 1, "site.cgw_asn"), (FAIL, 2, "site.cgw_asn")}


@pytest.mark.parametrize("target", ["seed", "frr", "swanctl", "lab"])
def test_rendered_files_are_clean(cfg, site, tmp_path, target) -> None:
    render_router(strong(cfg), site, target, tmp_path)
    assert lint_router(strong(cfg), site, tmp_path) == []


def test_readable_psk_file_fails(cfg, site, tmp_path) -> None:
    render_router(cfg, site, "frr", tmp_path)
    (tmp_path / "ipsec.secrets").chmod(0o640)
    (tmp_path / "setup-router-frr.sh").chmod(0o755)
    (tmp_path / "ipsec.conf").chmod(0o664)  # no secret inside: fine
    findings = [f for f in lint_router(strong(cfg), site, tmp_path) if f.tunnel is None]
    assert keyed(findings) == {(FAIL, None, "ipsec.secrets"), (FAIL, None, "setup-router-frr.sh")}
    assert all("pre-shared key" in f.message and "chmod" in f.fix for f in findings)
    assert all("strongswan_awsvpn" not in f.message + f.fix for f in findings)


def test_world_writable_file_fails(cfg, site, tmp_path) -> None:
    render_router(cfg, site, "lab", tmp_path)
    (tmp_path / "frr.conf").chmod(0o666)
    findings = lint_router(strong(cfg), site, tmp_path)
    assert keyed(findings) == {(FAIL, None, "frr.conf")}
    assert "world-writable" in findings[0].message


def test_findings_are_plain_data(cfg, site) -> None:
    rows = [asdict(f) for f in lint_router(cfg, site)]
    assert rows and set(rows[0]) == {"severity", "tunnel", "field", "message", "fix"}
    for row in rows:
        assert row["severity"] in (WARN, FAIL) and type(row["severity"]) is str
        assert all(type(v) in (str, int, type(None)) for v in row.values())
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(rows)
    assert list(frame.columns) == ["severity", "tunnel", "field", "message", "fix"]
    assert len(frame) == 10
