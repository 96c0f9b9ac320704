"""The admin route that gives the data plane an imported certificate's private key
(AWS's services hold it; ACM's API never returns it): over the unix socket only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from hybridnet import emulator, pki
from hybridnet.emulator.unix_client import UnixHTTPConnection

from .conftest import REGION


@pytest.fixture(scope="module")
def imported(aws_client) -> tuple[str, pki.Credential]:
    ca = pki.make_ca("acm-key-test-ca")
    server = pki.issue_server(ca, "server.acm-key-test.lab")
    arn = aws_client("acm").import_certificate(
        Certificate=server.cert_pem.encode(),
        PrivateKey=server.key_pem.encode(),
        CertificateChain=server.chain_pem.encode(),
    )["CertificateArn"]
    return arn, server


def test_an_imported_certificate_s_key_is_read_back_over_the_socket(emulator_info, aws_client, imported):
    arn, server = imported
    answer = emulator.admin_call(emulator_info, "POST", "acm-private-key", {"region": REGION, "arn": arn})
    assert answer == {"arn": arn, "private_key_pem": server.key_pem}
    assert "PrivateKey" not in aws_client("acm").get_certificate(CertificateArn=arn)  # ACM's API keeps it


@pytest.mark.parametrize("where", ["unknown ARN", "other region", "not an ARN"])
def test_an_unknown_certificate_is_a_404(emulator_info, imported, where):
    arn, _ = imported
    region, asked = {
        "unknown ARN": (REGION, arn[:-4] + "0000"),
        "other region": ("us-east-1", arn),
        "not an ARN": (REGION, "server.acm-key-test.lab"),
    }[where]
    connection = UnixHTTPConnection(emulator_info.socket, timeout=10)
    try:
        connection.request(
            "POST",
            "/_hybridnet/acm-private-key",
            body=json.dumps({"region": region, "arn": asked}),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        status, answer = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 404 and answer == {"error": f"no ACM certificate {asked} in {region}"}
    with pytest.raises(emulator.EmulatorError, match="^no ACM certificate "):
        emulator.admin_call(emulator_info, "POST", "acm-private-key", {"region": region, "arn": asked})


def test_the_route_is_refused_over_tcp(emulator_info, imported):
    arn, server = imported
    request = urllib.request.Request(
        f"{emulator_info.endpoint}/_hybridnet/acm-private-key",
        method="POST",
        data=json.dumps({"region": REGION, "arn": arn}).encode(),
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    body = refused.value.read().decode()
    assert refused.value.code == 403 and "unix socket only" in body and "PRIVATE KEY" not in body


def test_a_certificate_acm_issued_itself_has_no_key_to_give(emulator_info, aws_client):
    arn = aws_client("acm").request_certificate(DomainName="issued.acm-key-test.lab")["CertificateArn"]
    with pytest.raises(emulator.EmulatorError, match="is AMAZON_ISSUED, not imported"):
        emulator.admin_call(emulator_info, "POST", "acm-private-key", {"region": REGION, "arn": arn})
