"""The lab's Client VPN endpoint derived from AWS API answers (hybridnet.lab.fromaws),
and waiting for the lab's agent to play it (dataplane.wait_for_client_vpn)."""

from __future__ import annotations

import time

import pytest
from cryptography import x509
from hybridnet import dataplane, emulator, pki
from hybridnet.lab import client_vpn, fromaws
from hybridnet.lab.client_vpn import ClientVpnLabError

ENDPOINT_ID = "cvpn-endpoint-0123456789abcdef0"
SERVER_ARN = "arn:aws:acm:ap-northeast-2:123456789012:certificate/server"
CLIENT_ARN = "arn:aws:acm:ap-northeast-2:123456789012:certificate/client"


def test_issuing_chain_keeps_only_the_client_certificates_issuers():
    ca = pki.make_ca("test-ca")
    other = pki.make_ca("unrelated-root")
    client = pki.issue_client(ca, "client1.hybridnet.lab")
    chain = fromaws.issuing_chain(client.cert_pem, other.cert_pem + ca.cert_pem)
    assert [c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(chain.encode())] == ["CN=test-ca"]
    with pytest.raises(ClientVpnLabError, match="issuer"):
        fromaws.issuing_chain(client.cert_pem, other.cert_pem)


class FakeApi:
    """Canned AWS answers, looked up by operation (no paginators: aws.paginate makes one call)."""

    def __init__(self, answers: dict):
        self.answers = answers

    def can_paginate(self, operation: str) -> bool:
        return False

    def __getattr__(self, operation: str):
        return lambda **kwargs: self.answers[operation]


class FakeContext:
    def __init__(self, answers: dict):
        self.api = FakeApi(answers)
        self.params = type("Params", (), {"region": "ap-northeast-2"})()

    def client(self, service: str) -> FakeApi:
        return self.api


@pytest.fixture(scope="module")
def material():
    ca = pki.make_ca("lab-ca")
    return ca, pki.issue_server(ca, "server.hybridnet.lab"), pki.issue_client(ca, "client1.hybridnet.lab")


def answers(material, routes=("10.0.0.0/16", "192.168.0.0/16")) -> dict:
    ca, server, client = material

    def status(code):
        return {"Status": {"Code": code}}

    return {
        "describe_client_vpn_endpoints": {
            "ClientVpnEndpoints": [
                {
                    "ClientVpnEndpointId": ENDPOINT_ID,
                    "DnsName": f"*.{ENDPOINT_ID}.prod.clientvpn.ap-northeast-2.amazonaws.com",
                    "ClientCidrBlock": "172.16.0.0/22",
                    "TransportProtocol": "udp",
                    "VpnPort": 443,
                    "SplitTunnel": True,
                    "DnsServers": ["10.0.0.2"],
                    "ServerCertificateArn": SERVER_ARN,
                    **status("available"),
                    "AuthenticationOptions": [
                        {
                            "Type": "certificate-authentication",
                            "MutualAuthentication": {"ClientRootCertificateChain": CLIENT_ARN},
                        }
                    ],
                }
            ]
        },
        "describe_client_vpn_target_networks": {
            "ClientVpnTargetNetworks": [
                {"TargetNetworkId": "subnet-gone", **status("disassociating")},
                {"TargetNetworkId": "subnet-c", **status("associated")},
                {"TargetNetworkId": "subnet-a", **status("associated")},
            ]
        },
        "describe_client_vpn_routes": {
            "Routes": [
                *({"DestinationCidr": cidr, **status("active")} for cidr in routes),
                {"DestinationCidr": "192.168.0.0/16", **status("creating")},  # the same, through the other subnet
                {"DestinationCidr": "172.31.0.0/16", **status("deleting")},
            ]
        },
        "describe_client_vpn_authorization_rules": {
            "AuthorizationRules": [
                {"DestinationCidr": "10.0.0.0/16", "AccessAll": True, **status("active")},
                {"DestinationCidr": "192.168.0.0/16", "AccessAll": True, **status("authorizing")},
                {"DestinationCidr": "10.0.20.0/24", "AccessAll": False, "GroupId": "admins", **status("active")},
                {"DestinationCidr": "172.31.0.0/16", "AccessAll": True, **status("revoking")},
            ]
        },
        "describe_subnets": {"Subnets": [{"SubnetId": "subnet-c", "CidrBlock": "10.0.2.0/24"}]},
        "get_certificate": {"Certificate": server.cert_pem, "CertificateChain": ca.cert_pem},
    }


@pytest.fixture
def acm_key(monkeypatch, material):
    asked = []

    def admin_call(target, method, route, body=None, timeout=35.0):
        asked.append((target, method, route, body))
        if body["arn"] != SERVER_ARN:
            raise emulator.EmulatorError(f"no ACM certificate {body['arn']} in {body['region']}")
        return {"arn": SERVER_ARN, "private_key_pem": material[1].key_pem}

    monkeypatch.setattr(emulator, "admin_call", admin_call)
    return asked


def test_the_spec_is_what_the_api_says_with_the_key_acm_holds(material, acm_key):
    ca, server, _ = material
    spec = fromaws.client_vpn_spec_from_aws(FakeContext(answers(material)), ENDPOINT_ID, "/run/emulator.sock")
    assert acm_key == [
        ("/run/emulator.sock", "POST", "acm-private-key", {"region": "ap-northeast-2", "arn": SERVER_ARN})
    ]
    assert [str(r) for r in spec.routes] == ["10.0.0.0/16", "192.168.0.0/16"]  # creating/active, once each
    assert [str(r) for r in spec.authorized] == ["10.0.0.0/16", "192.168.0.0/16"]  # all users, authorizing/active
    assert str(spec.target_subnet) == "10.0.2.0/24"  # the first associated network, as the API lists them
    assert str(spec.client_cidr) == "172.16.0.0/22" and spec.emulator_socket == "/run/emulator.sock"
    assert spec.server_key_pem.get_secret_value() == server.key_pem and spec.server_cert_pem == server.cert_pem
    assert spec.client_ca_pem.strip() == ca.cert_pem.strip()
    assert "PRIVATE KEY" not in repr(spec)


def test_no_associated_network_nothing_to_play(material, acm_key):
    canned = answers(material)
    canned["describe_client_vpn_target_networks"]["ClientVpnTargetNetworks"] = [
        {"TargetNetworkId": "subnet-a", "Status": {"Code": "associating"}}
    ]
    with pytest.raises(ClientVpnLabError, match=f"{ENDPOINT_ID} has no associated target network"):
        fromaws.client_vpn_spec_from_aws(FakeContext(canned), ENDPOINT_ID, "/run/emulator.sock")
    assert acm_key == []


def test_a_key_the_emulator_does_not_have_is_a_clear_error(material, acm_key):
    canned = answers(material)
    canned["describe_client_vpn_endpoints"]["ClientVpnEndpoints"][0]["ServerCertificateArn"] = SERVER_ARN + "x"
    with pytest.raises(ClientVpnLabError, match=f"server certificate's key of {ENDPOINT_ID}: no ACM certificate"):
        fromaws.client_vpn_spec_from_aws(FakeContext(canned), ENDPOINT_ID, "/run/emulator.sock")


def test_what_the_lab_cannot_play_is_said_without_the_key(material, acm_key):
    _, server, _ = material
    canned = answers(material, routes=("10.0.0.0/16", "198.51.100.0/24"))  # a route into the lab's "internet"
    with pytest.raises(ClientVpnLabError, match="cannot be played in the lab: .*public \\(documentation\\)") as exc:
        fromaws.client_vpn_spec_from_aws(FakeContext(canned), ENDPOINT_ID, "/run/emulator.sock")
    body = server.key_pem.strip().splitlines()[1]
    assert body not in str(exc.value) and exc.value.__cause__ is None and exc.value.__suppress_context__


# --- waiting for the agent ----------------------------------------------------------------------


class Ctx:
    params = type("Params", (), {"name": "anycompany"})()
    endpoint_url = "http://127.0.0.1:4566"


OWNER = {"stack": "anycompany", "endpoint": "http://127.0.0.1:4566"}


@pytest.mark.parametrize(
    "changes,running,expected,within",
    [
        ({}, True, True, 0.4),
        ({"checked": -60}, True, False, 1.0),  # a read from before the call: not proof of anything
        ({"played": False, "error": "no mutual authentication"}, False, False, 0.4),  # said why: no need to wait on
        ({"endpoint_id": "cvpn-endpoint-0000000000000000f"}, True, False, 1.0),
        ({"owner": {**OWNER, "stack": "other"}}, True, False, 1.0),
        ({}, False, False, 1.0),  # its OpenVPN died since
    ],
)
def test_wait_for_client_vpn(monkeypatch, changes, running, expected, within):
    changes = dict(changes)
    status = {
        "pid": 1,
        "owner": changes.pop("owner", OWNER),
        "client_vpn": {
            "endpoint_id": ENDPOINT_ID,
            "played": True,
            "public_ip": "203.0.113.5",
            "error": None,
            **changes,
            "checked": time.time() + 0.1 + changes.get("checked", 0),
        },
    }  # the agent's next read
    monkeypatch.setattr(dataplane, "twin_status", lambda: status)
    monkeypatch.setattr(client_vpn, "running", lambda lab_dir: running)
    started = time.monotonic()
    assert dataplane.wait_for_client_vpn(Ctx(), ENDPOINT_ID, timeout=0.6) is expected
    assert time.monotonic() - started < within
