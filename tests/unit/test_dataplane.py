"""Choosing the data plane, and the lab's AWS side derived from API answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hybridnet import dataplane
from hybridnet.lab.fromaws import proposals, spec_from_aws


def test_real_account_and_lab_off_have_no_lab():
    assert dataplane.choose("aws", "auto")[0] is None
    assert dataplane.choose("emulator", "off") == (None, "lab: off in the params")


def test_lab_on_without_the_lab_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dataplane, "lab_unavailable_reason", lambda: "not root (test)")
    with pytest.raises(RuntimeError, match="lab: on .* not root"):
        dataplane.choose("emulator", "on")
    assert dataplane.choose("emulator", "auto") == (None, "no lab running: not root (test)")


SEED_OPTION = {
    "OutsideIpAddress": "203.0.113.11",
    "TunnelInsideCidr": "169.254.11.0/30",
    "PreSharedKey": "strongswan_awsvpn1",
    "IkeVersions": [{"Value": "ikev1"}],
    "Phase1EncryptionAlgorithms": [{"Value": "AES128"}],
    "Phase1IntegrityAlgorithms": [{"Value": "SHA1"}],
    "Phase1DHGroupNumbers": [{"Value": 2}],
    "Phase2EncryptionAlgorithms": [{"Value": "AES128"}, {"Value": "AES256-GCM-16"}],
    "Phase2IntegrityAlgorithms": [{"Value": "SHA1"}],
    "Phase2DHGroupNumbers": [{"Value": 2}, {"Value": 14}],
    "Phase1LifetimeSeconds": 28800,
    "Phase2LifetimeSeconds": 3600,
    "DpdTimeoutSeconds": 30,
}


def test_proposals_follow_the_tunnel_options():
    assert proposals(SEED_OPTION, "Phase1", [1]) == ["aes128-sha1-modp1024"]
    assert proposals(SEED_OPTION, "Phase2", [1]) == [
        "aes128-sha1-modp1024",
        "aes128-sha1-modp2048",
        "aes256gcm16-modp1024",
        "aes256gcm16-modp2048",
    ]
    gcm_ike = dict(SEED_OPTION, Phase1EncryptionAlgorithms=[{"Value": "AES256-GCM-16"}])
    assert proposals(gcm_ike, "Phase1", [1]) == []  # AES-GCM IKE SAs exist in IKEv2 only
    assert proposals(gcm_ike, "Phase1", [2]) == ["aes256gcm16-prfsha1-modp1024"]


def test_spec_from_aws_uses_the_api_values():
    vpn = {
        "Options": {
            "TunnelOptions": [
                SEED_OPTION,
                dict(
                    SEED_OPTION,
                    OutsideIpAddress="203.0.113.12",
                    TunnelInsideCidr="169.254.12.0/30",
                    PreSharedKey="strongswan_awsvpn2",
                ),
            ]
        }
    }
    spec = spec_from_aws(
        vpn, {"IpAddress": "198.51.100.10", "BgpAsn": "65016"}, 64512, ["10.0.0.0/16"], ["192.168.0.0/16"]
    )
    first, second = spec.tunnels
    assert (str(first.vgw_inside_ip), str(first.cgw_inside_ip)) == ("169.254.11.1", "169.254.11.2")
    assert str(second.vgw_outside_ip) == "203.0.113.12"
    assert second.psk.get_secret_value() == "strongswan_awsvpn2"
    assert first.ike_versions == [1] and (spec.tgw_asn, spec.cgw_asn) == (64512, 65016)


def test_poll_returns_the_first_truthy_value_or_the_last_one_at_the_deadline():
    from hybridnet.waiting import poll

    answers = iter([None, [], ["found"], ["later"]])
    assert poll(lambda: next(answers), timeout=5, interval=0) == ["found"]
    calls = []
    assert poll(lambda: calls.append(1) or [], timeout=0.05, interval=0.01) == []
    assert len(calls) >= 2


def test_the_session_factory_finds_the_emulator_by_entry_point_not_by_import():
    from hybridnet import aws

    # pyproject.toml registers it; an installed checkout carries the entry point.
    assert set(aws.targets()) >= {"aws", "emulator"}


def test_a_target_that_is_not_installed_is_one_clear_error(monkeypatch):
    from hybridnet import aws
    from hybridnet.params import load_params

    params = load_params(Path(__file__).resolve().parents[2] / "params" / "lab.yaml")
    monkeypatch.setattr(aws, "targets", lambda: {"aws": aws._aws})
    with pytest.raises(aws.TargetError, match=r"target: 'emulator' is not installed here .*make setup"):
        aws.connect(params)
