"""Client VPN certificates: easy-rsa's properties, chains, files, idempotence, real tools."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hybridnet import pki
from hybridnet.pki import Credential, PkiError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

SERVER = "server.hybridnet.lab"
CLIENT = "client1.hybridnet.lab"


@pytest.fixture(scope="module")
def ca() -> Credential:
    return pki.make_ca("hybridnet-test-ca")


@pytest.fixture(scope="module")
def server(ca) -> Credential:
    return pki.issue_server(ca, SERVER)


@pytest.fixture(scope="module")
def client(ca) -> Credential:
    return pki.issue_client(ca, CLIENT)


@pytest.fixture(scope="module")
def other_ca() -> Credential:
    # Same name as the real CA: only the signature can tell them apart.
    return pki.make_ca("hybridnet-test-ca")


def ext(cred: Credential, cls):
    return cred.certificate.extensions.get_extension_for_class(cls)


def ekus(cred: Credential) -> set:
    return set(ext(cred, x509.ExtendedKeyUsage).value)


# --- chains --------------------------------------------------------------------


def test_server_and_client_verify_against_their_ca(ca, server, client) -> None:
    assert pki.verify_chain(server.cert_pem, ca.cert_pem) is None
    assert pki.verify_chain(client.cert_pem, ca.cert_pem) is None
    assert pki.verify_chain(server.cert_pem, ca.cert_pem, purpose="server", name=SERVER) is None
    assert pki.verify_chain(client.cert_pem, ca.cert_pem, purpose="client") is None
    # the chain the credential carries is the CA itself
    assert server.chain_pem == ca.cert_pem and client.chain_pem == ca.cert_pem
    assert ca.chain_pem == ""


def test_certificates_from_another_ca_do_not_verify(ca, other_ca) -> None:
    stranger = pki.issue_client(other_ca, CLIENT)
    with pytest.raises(PkiError, match="does not verify as a client certificate"):
        pki.verify_chain(stranger.cert_pem, ca.cert_pem)
    with pytest.raises(PkiError, match="does not verify as a server certificate"):
        pki.verify_chain(pki.issue_server(other_ca, SERVER).cert_pem, ca.cert_pem)


def test_purposes_are_not_interchangeable(ca, server, client) -> None:
    with pytest.raises(PkiError, match="client certificate"):
        pki.verify_chain(server.cert_pem, ca.cert_pem, purpose="client")
    with pytest.raises(PkiError, match="server certificate"):
        pki.verify_chain(client.cert_pem, ca.cert_pem, purpose="server")
    with pytest.raises(PkiError, match="server certificate"):
        pki.verify_chain(server.cert_pem, ca.cert_pem, purpose="server", name="other.hybridnet.lab")


def test_expired_certificate_does_not_verify(ca, server) -> None:
    later = server.not_after + dt.timedelta(days=1)
    with pytest.raises(PkiError):
        pki.verify_chain(server.cert_pem, ca.cert_pem, at=later)


def test_verify_chain_rejects_garbage(ca) -> None:
    with pytest.raises(PkiError, match="leaf_pem"):
        pki.verify_chain("not a certificate", ca.cert_pem)
    with pytest.raises(PkiError, match="ca_pem"):
        pki.verify_chain(ca.cert_pem, "")


# --- what is in the certificates ------------------------------------------------


def test_ca_flags(ca) -> None:
    bc = ext(ca, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True
    ku = ext(ca, x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature and not ku.value.key_encipherment
    ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.certificate.public_key())
    assert ca.certificate.subject == ca.certificate.issuer
    assert ca.is_ca and ca.common_name == "hybridnet-test-ca"
    with pytest.raises(x509.ExtensionNotFound):
        ext(ca, x509.ExtendedKeyUsage)


def test_server_usages_and_san(ca, server) -> None:
    assert ext(server, x509.BasicConstraints).value.ca is False
    ku = ext(server, x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment
    assert not ku.key_cert_sign and not ku.crl_sign
    assert ekus(server) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert ExtendedKeyUsageOID.CLIENT_AUTH not in ekus(server)
    san = ext(server, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [SERVER]
    aki = ext(server, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.digest
    assert server.certificate.issuer == ca.certificate.subject
    assert server.common_name == SERVER
    assert server.certificate.subject.rfc4514_string() == f"CN={SERVER}"


def test_server_extra_san(ca) -> None:
    cred = pki.issue_server(ca, SERVER, san=["vpn.hybridnet.lab", SERVER])
    san = ext(cred, x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert san == [SERVER, "vpn.hybridnet.lab"]
    pki.verify_chain(cred.cert_pem, ca.cert_pem, name="vpn.hybridnet.lab")


def test_client_usages(ca, client) -> None:
    assert ext(client, x509.BasicConstraints).value.ca is False
    ku = ext(client, x509.KeyUsage).value
    assert ku.digital_signature
    assert not ku.key_encipherment and not ku.key_cert_sign
    assert ekus(client) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert (
        ext(client, x509.AuthorityKeyIdentifier).value.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.digest
    )
    assert client.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CLIENT


def test_validity_periods(ca, server, client) -> None:
    now = dt.datetime.now(dt.UTC)
    assert ca.not_after - ca.not_before == dt.timedelta(days=pki.CA_VALIDITY_DAYS) == dt.timedelta(days=3650)
    for leaf in (server, client):
        assert leaf.not_after - leaf.not_before == dt.timedelta(days=825)
    for cred in (ca, server, client):
        assert cred.not_before <= now < cred.not_after
        assert now - cred.not_before < dt.timedelta(hours=2)  # back-dated by an hour for clock skew


def test_validity_is_configurable_and_capped_by_the_ca() -> None:
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    short_ca = pki.make_ca("short", days=100, now=start)
    assert short_ca.not_after - short_ca.not_before == dt.timedelta(days=100)
    leaf = pki.issue_client(short_ca, "c", days=30, now=start)
    assert leaf.not_after - leaf.not_before == dt.timedelta(days=30)
    capped = pki.issue_server(short_ca, "s.lab", days=825, now=start)
    assert capped.not_after == short_ca.not_after
    with pytest.raises(PkiError, match="expired"):
        pki.issue_client(short_ca, "late", now=start + dt.timedelta(days=200))


def test_default_key_is_rsa_2048(ca, server, client) -> None:
    assert pki.DEFAULT_KEY_TYPE == "rsa2048"
    for cred in (ca, server, client):
        key = cred.certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
        assert key.public_numbers().e == 65537
        assert cred.key_type == "rsa2048"
        assert cred.certificate.signature_hash_algorithm.name == "sha256"
        assert "BEGIN PRIVATE KEY" in cred.key_pem  # unencrypted PKCS#8, as ACM imports it


@pytest.mark.parametrize(("key_type", "curve"), [("ec-p256", "secp256r1"), ("ec-p384", "secp384r1")])
def test_ec_keys(key_type: str, curve: str) -> None:
    ca = pki.make_ca("ec-ca", key_type=key_type)
    server = pki.issue_server(ca, SERVER, key_type=key_type)
    key = server.certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == curve
    assert not ext(server, x509.KeyUsage).value.key_encipherment  # meaningless for EC keys
    pki.verify_chain(server.cert_pem, ca.cert_pem)
    pki.verify_chain(pki.issue_client(ca, CLIENT, key_type=key_type).cert_pem, ca.cert_pem)


def test_bad_inputs_are_refused(ca, server) -> None:
    with pytest.raises(PkiError, match="key_type"):
        pki.make_ca("x", key_type="rsa1024")
    with pytest.raises(PkiError, match="days"):
        pki.issue_client(ca, "x", days=0)
    with pytest.raises(PkiError, match="not a CA"):
        pki.issue_client(server, "x")
    with pytest.raises(PkiError, match="common_name"):
        pki.make_ca("")
    with pytest.raises(PkiError, match="timezone-aware"):
        pki.make_ca("x", now=dt.datetime(2030, 1, 1))


# --- secrets -----------------------------------------------------------------------


def test_key_material_is_never_in_repr_or_str(ca, server, client) -> None:
    for cred in (ca, server, client):
        body = "".join(cred.key_pem.strip().splitlines()[1:-1])
        for text in (repr(cred), str(cred), f"{cred}", repr([cred]), repr({"c": cred})):
            assert "PRIVATE KEY" not in text
            assert body[:40] not in text and body[-40:] not in text
            assert "key_pem=<hidden>" in text
        assert cred.common_name in repr(cred)
    files = pki.CredentialFiles(cert=Path("a.crt"), key=Path("a.key"))
    assert "PRIVATE" not in repr(files)


def test_key_material_is_not_in_error_messages(ca, tmp_path) -> None:
    pki.write_credential(ca, tmp_path, "ca")
    other = pki.make_ca("other")
    (tmp_path / "ca.key").write_text(other.key_pem)
    with pytest.raises(PkiError) as info:
        pki.load_credential(tmp_path, "ca")
    assert "does not belong" in str(info.value)
    assert "PRIVATE" not in str(info.value) and other.key_pem[40:80] not in str(info.value)


# --- files and idempotence ---------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_and_load(tmp_path, ca, server) -> None:
    ca_files = pki.write_credential(ca, tmp_path / "pki", "ca")
    files = pki.write_credential(server, tmp_path / "pki", "server")
    assert files.cert == tmp_path / "pki" / "server.crt"
    assert files.key == tmp_path / "pki" / "server.key"
    assert files.chain == tmp_path / "pki" / "server.chain.crt"
    assert ca_files.chain is None
    assert mode(files.key) == 0o600 and mode(ca_files.key) == 0o600
    assert mode(files.cert) == 0o644 and mode(files.chain) == 0o644
    assert files.cert.read_text() == server.cert_pem  # the certificate alone (ACM's body)
    assert files.chain.read_text() == ca.cert_pem
    assert pki.load_credential(tmp_path / "pki", "server") == server
    assert pki.load_credential(tmp_path / "pki", "ca") == ca
    assert not [p for p in (tmp_path / "pki").iterdir() if p.name.startswith(".")]  # no temp files left


def test_key_file_is_0600_even_with_a_permissive_umask(tmp_path, ca) -> None:
    old = os.umask(0)
    try:
        files = pki.write_credential(ca, tmp_path, "ca")
    finally:
        os.umask(old)
    assert mode(files.key) == 0o600
    assert mode(files.cert) == 0o644


def test_key_file_is_created_0600_before_any_byte_lands(tmp_path, ca, monkeypatch) -> None:
    """Every os.open that creates a .key file asks for 0600 itself (no chmod afterwards)."""
    seen = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kw):
        if flags & os.O_CREAT and ".key." in os.fspath(path):
            seen.append((os.fspath(path), mode, bool(flags & os.O_EXCL)))
        return real_open(path, flags, mode, *args, **kw)

    monkeypatch.setattr(os, "open", spy)
    pki.write_credential(ca, tmp_path, "ca")
    assert seen and all(m == 0o600 and excl for _, m, excl in seen), seen


def test_rewrite_replaces_a_loose_key_file(tmp_path, ca) -> None:
    key = tmp_path / "ca.key"
    key.write_text("old")
    key.chmod(0o644)
    pki.write_credential(ca, tmp_path, "ca")
    assert mode(key) == 0o600 and key.read_text() == ca.key_pem


def test_file_names_are_plain(tmp_path, ca) -> None:
    for bad in ("../ca", "a/b", "", ".."):
        with pytest.raises(PkiError, match="plain name"):
            pki.write_credential(ca, tmp_path, bad)


def test_load_missing_files(tmp_path, ca) -> None:
    with pytest.raises(FileNotFoundError):
        pki.load_credential(tmp_path, "ca")
    (tmp_path / "ca.crt").write_text(ca.cert_pem)
    with pytest.raises(FileNotFoundError):
        pki.load_credential(tmp_path, "ca")


def test_ensure_reuses_the_same_ca_and_leaves(tmp_path) -> None:
    ca1 = pki.ensure_ca(tmp_path, "hybridnet-ca")
    server1 = pki.ensure_server(tmp_path, ca1, SERVER, file_name="server")
    client1 = pki.ensure_client(tmp_path, ca1, CLIENT)
    ca2 = pki.ensure_ca(tmp_path, "hybridnet-ca")
    server2 = pki.ensure_server(tmp_path, ca2, SERVER, file_name="server")
    client2 = pki.ensure_client(tmp_path, ca2, CLIENT)
    assert (ca2.serial_number, ca2.fingerprint) == (ca1.serial_number, ca1.fingerprint)
    assert ca2 == ca1 and server2 == server1 and client2 == client1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "ca.crt",
            "ca.key",
            "server.crt",
            "server.key",
            "server.chain.crt",
            f"{CLIENT}.crt",
            f"{CLIENT}.key",
            f"{CLIENT}.chain.crt",
        ]
    )
    assert mode(tmp_path / "ca.key") == 0o600


def test_ensure_reissues_leaves_of_another_ca_or_name(tmp_path) -> None:
    ca = pki.ensure_ca(tmp_path)
    stale = pki.issue_client(pki.make_ca("old-ca"), CLIENT)
    pki.write_credential(stale, tmp_path, "client")
    fresh = pki.ensure_client(tmp_path, ca, CLIENT, file_name="client")
    assert fresh != stale
    pki.verify_chain(fresh.cert_pem, ca.cert_pem)
    renamed = pki.ensure_client(tmp_path, ca, "client2.hybridnet.lab", file_name="client")
    assert renamed.common_name == "client2.hybridnet.lab"
    # a leaf near the end of its life is renewed
    short = pki.issue_server(ca, SERVER, days=10)
    pki.write_credential(short, tmp_path, "server")
    renewed = pki.ensure_server(tmp_path, ca, SERVER, file_name="server")
    assert renewed != short and renewed.not_after - renewed.not_before == dt.timedelta(days=825)


def test_ensure_reissues_when_the_request_changes(tmp_path) -> None:
    ca = pki.ensure_ca(tmp_path)
    first = pki.ensure_server(tmp_path, ca, SERVER)
    assert pki.ensure_server(tmp_path, ca, SERVER) == first
    with_alias = pki.ensure_server(tmp_path, ca, SERVER, san=["vpn.hybridnet.lab"])
    assert with_alias != first
    assert pki.ensure_server(tmp_path, ca, SERVER, san=["vpn.hybridnet.lab"]) == with_alias
    ec_client = pki.ensure_client(tmp_path, ca, CLIENT, key_type="ec-p256")
    assert ec_client.key_type == "ec-p256"
    assert pki.ensure_client(tmp_path, ca, CLIENT, key_type="ec-p256") == ec_client
    # a short-lived leaf asked for again is reused, not renewed on every run
    short = pki.ensure_client(tmp_path, ca, "short.hybridnet.lab", days=7)
    assert pki.ensure_client(tmp_path, ca, "short.hybridnet.lab", days=7) == short


def test_ensure_ca_never_replaces_a_ca_silently(tmp_path) -> None:
    ca = pki.ensure_ca(tmp_path, "hybridnet-ca")
    with pytest.raises(PkiError, match="not 'another-ca'.*delete"):
        pki.ensure_ca(tmp_path, "another-ca")
    with pytest.raises(PkiError, match="rsa2048 key, not ec-p256"):
        pki.ensure_ca(tmp_path, "hybridnet-ca", key_type="ec-p256")
    assert pki.ensure_ca(tmp_path, "hybridnet-ca") == ca
    (tmp_path / "ca.key").unlink()
    with pytest.raises(PkiError, match="ca.key is missing"):
        pki.ensure_ca(tmp_path, "hybridnet-ca")
    assert (tmp_path / "ca.crt").read_text() == ca.cert_pem  # untouched


# --- real tools --------------------------------------------------------------------------


@pytest.fixture
def written(tmp_path, ca, server, client) -> Path:
    for cred, name in ((ca, "ca"), (server, "server"), (client, "client")):
        pki.write_credential(cred, tmp_path, name)
    return tmp_path


def test_openssl_verifies_the_chain(written) -> None:
    openssl = tooling.require_tool("openssl")
    for name, purpose in (("server", "sslserver"), ("client", "sslclient")):
        res = tooling.run([openssl, "verify", "-CAfile", "ca.crt", "-purpose", purpose, f"{name}.crt"], cwd=written)
        assert res.returncode == 0 and f"{name}.crt: OK" in res.stdout, res.stdout + res.stderr
    # the wrong purpose is refused, and so is another CA
    res = tooling.run([openssl, "verify", "-CAfile", "ca.crt", "-purpose", "sslserver", "client.crt"], cwd=written)
    assert res.returncode != 0
    pki.write_credential(pki.make_ca("hybridnet-test-ca"), written, "other")
    res = tooling.run([openssl, "verify", "-CAfile", "other.crt", "server.crt"], cwd=written)
    assert res.returncode != 0
    res = tooling.run([openssl, "rsa", "-check", "-noout", "-in", "server.key"], cwd=written)
    assert res.returncode == 0, res.stderr


def purposes(openssl: str, path: Path) -> dict[str, str]:
    res = tooling.run([openssl, "x509", "-noout", "-purpose", "-in", str(path)])
    assert res.returncode == 0, res.stderr
    out = {}
    for line in res.stdout.splitlines():
        if " : " in line:
            key, value = line.rsplit(" : ", 1)
            out[key.strip()] = value.strip()
    return out


def test_openssl_purposes(written) -> None:
    openssl = tooling.require_tool("openssl")
    server = purposes(openssl, written / "server.crt")
    assert server["SSL server"] == "Yes" and server["SSL client"] == "No", server
    assert server["SSL server CA"] == "No"
    client = purposes(openssl, written / "client.crt")
    assert client["SSL client"] == "Yes" and client["SSL server"] == "No", client
    ca = purposes(openssl, written / "ca.crt")
    assert ca["SSL server CA"] == "Yes" and ca["SSL client CA"] == "Yes", ca


def _wait_for(log: Path, needle: str, proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    return log.exists() and needle in log.read_text(errors="replace")


def _read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def _openvpn_handshake(openvpn: str, ns: str, folder: Path, client: str, tag: str) -> tuple[bool, str, str]:
    """A TLS-mode point-to-point tunnel over 127.0.0.1 in ``ns`` (``--dev null``: no interface).

    Both sides insist on the other's role as OpenVPN and Client VPN do:
    ``remote-cert-tls client|server`` (keyUsage + extendedKeyUsage) and the
    server's name via ``verify-x509-name``. Returns (client completed,
    server log, client log).
    """
    common = ["--dev", "null", "--proto", "udp", "--disable-dco", "--verb", "3", "--hand-window", "5", "--ca", "ca.crt"]
    server_log, client_log = folder / f"server-{tag}.log", folder / f"client-{tag}.log"
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns,
            openvpn,
            *common,
            "--tls-server",
            "--dh",
            "none",
            "--cert",
            "server.crt",
            "--key",
            "server.key",
            "--remote-cert-tls",
            "client",
            "--verify-client-cert",
            "require",
            "--local",
            "127.0.0.1",
            "--lport",
            "11940",
            "--log",
            str(server_log),
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client_proc = None
    try:
        assert _wait_for(server_log, "link local (bound)", server, 10), _read(server_log) or "(no server log)"
        client_proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                openvpn,
                *common,
                "--tls-client",
                "--cert",
                f"{client}.crt",
                "--key",
                f"{client}.key",
                "--remote-cert-tls",
                "server",
                "--verify-x509-name",
                SERVER,
                "name",
                "--remote",
                "127.0.0.1",
                "11940",
                "--nobind",
                "--log",
                str(client_log),
            ],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and client_proc.poll() is None and server.poll() is None:
            if "Initialization Sequence Completed" in _read(client_log) or "VERIFY ERROR" in _read(server_log):
                break
            time.sleep(0.05)
        time.sleep(0.2)  # let both sides finish their log lines
        done = "Initialization Sequence Completed" in _read(client_log)
    finally:
        if client_proc is not None:
            tooling.stop(client_proc)
        tooling.stop(server)
    return done, _read(server_log), _read(client_log)


def test_openvpn_accepts_the_certificates_and_refuses_a_stranger(written) -> None:
    """OpenVPN 2.6 (what Client VPN is built on) completes mutual TLS with these certificates.

    Runs in a private network namespace with only ``lo``: nothing leaves it.
    """
    openvpn = tooling.require_tool("openvpn")
    pki.write_credential(pki.issue_client(pki.make_ca("hybridnet-test-ca"), CLIENT), written, "stranger")
    with tooling.private_netns() as ns:
        ok, server_log, client_log = _openvpn_handshake(openvpn, ns, written, "client", "good")
        assert ok, f"--- server ---\n{server_log}\n--- client ---\n{client_log}"
        assert "VERIFY EKU OK" in server_log and "VERIFY EKU OK" in client_log
        assert f"VERIFY X509NAME OK: CN={SERVER}" in client_log
        assert "Peer Connection Initiated" in server_log

        ok, server_log, client_log = _openvpn_handshake(openvpn, ns, written, "stranger", "stranger")
        assert not ok, client_log
        assert "VERIFY ERROR" in server_log, server_log
