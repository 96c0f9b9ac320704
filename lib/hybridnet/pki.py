"""Certificates for AWS Client VPN mutual TLS: a CA, a server and clients.

The AWS Client VPN mutual-authentication guide makes these with easy-rsa;
this module makes certificates with the same properties using only the
``cryptography`` package, so the runbook needs no shell tools:

======== ==================================================================
CA       basicConstraints CA:TRUE (critical), keyUsage keyCertSign+cRLSign
         (critical), subjectKeyIdentifier, authorityKeyIdentifier (keyid);
         10 years.
server   basicConstraints CA:FALSE, keyUsage digitalSignature+keyEncipherment
         (critical), extendedKeyUsage serverAuth, subjectAltName
         DNS:<name>, subject/authority key identifiers; 825 days.
client   basicConstraints CA:FALSE, keyUsage digitalSignature (critical),
         extendedKeyUsage clientAuth, subject/authority key identifiers;
         825 days (easy-rsa adds no subjectAltName to client certificates,
         and neither does this module).
======== ==================================================================

Subjects are ``CN=<name>`` only (easy-rsa's default ``cn_only`` DN mode);
signatures are SHA-256; serial numbers are random 159-bit integers.
``not_before`` is set one hour in the past so that a clock slightly behind
ours (ACM's, a client's) does not see a certificate that is not valid yet;
``not_after`` is ``not_before`` plus the validity, but never later than the
issuing CA's own ``not_after``.

Key type: RSA 2048 by default (:data:`DEFAULT_KEY_TYPE`). It is what
easy-rsa generates by default and what the AWS guide therefore imports;
ACM imports RSA 2048 as well as EC P-256/P-384, but AWS Client VPN has
historically accepted only RSA 1024/2048 for its certificates, so RSA 2048
is the choice that works everywhere. Every function takes ``key_type`` to
choose ``"ec-p256"`` or ``"ec-p384"`` instead (the lab's OpenVPN 2.6 accepts
both kinds).

Secrets: a :class:`Credential`'s ``key_pem`` never appears in its ``repr``
or ``str``; :func:`write_credential` creates key files with mode 0600
before any byte is written to them.

Idempotence: :func:`ensure_ca`, :func:`ensure_server` and
:func:`ensure_client` reuse what is already on disk when it is still good
(the key matches, the leaf chains to the current CA, it is not about to
expire), so re-running a notebook never mints a new CA.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, rsa, x448, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import HybridnetError
from .workspace import write_file

__all__ = [
    "CA_VALIDITY_DAYS",
    "DEFAULT_KEY_TYPE",
    "KEY_TYPES",
    "LEAF_VALIDITY_DAYS",
    "Credential",
    "CredentialFiles",
    "PkiError",
    "ensure_ca",
    "ensure_client",
    "ensure_server",
    "issue_client",
    "issue_server",
    "load_credential",
    "make_ca",
    "verify_chain",
    "write_credential",
]

KEY_TYPES = ("rsa2048", "ec-p256", "ec-p384")
DEFAULT_KEY_TYPE = "rsa2048"
CA_VALIDITY_DAYS = 3650  # easy-rsa: EASYRSA_CA_EXPIRE
LEAF_VALIDITY_DAYS = 825  # easy-rsa: EASYRSA_CERT_EXPIRE
BACKDATE = dt.timedelta(hours=1)
# ensure_server/ensure_client re-issue a leaf that expires sooner than this.
RENEW_BEFORE = dt.timedelta(days=30)

CERT_MODE = 0o644
KEY_MODE = 0o600

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Public keys a certificate may hold that sign nothing (key agreement, encapsulation): never an issuer's.
_NON_SIGNING_KEYS = (x25519.X25519PublicKey, x448.X448PublicKey, mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)


class PkiError(HybridnetError, ValueError):
    """A certificate or key is unusable, or a chain does not verify.

    The message never contains private key material.
    """


# --- the credential ---------------------------------------------------------


@dataclass(frozen=True, repr=False, eq=True)
class Credential:
    """A certificate, its private key and the chain of its issuer, as PEM text.

    ``cert_pem`` is the certificate alone (ACM's "certificate body"),
    ``chain_pem`` the issuing CA certificate(s) (ACM's "certificate chain";
    empty for a self-signed CA), ``key_pem`` the unencrypted PKCS#8 private
    key (ACM's "certificate private key") -- a secret: it is excluded from
    ``repr``/``str``.
    """

    cert_pem: str
    key_pem: str = field(repr=False)
    chain_pem: str = ""

    # -- parsed views (cheap enough to recompute; the object stays plain data)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())

    @property
    def chain(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.chain_pem.encode()) if self.chain_pem.strip() else []

    def private_key(self):
        return serialization.load_pem_private_key(self.key_pem.encode(), password=None)

    @property
    def common_name(self) -> str:
        attrs = self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else ""

    @property
    def serial_number(self) -> int:
        return self.certificate.serial_number

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the certificate (DER), as lowercase hex."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def is_ca(self) -> bool:
        try:
            return bool(self.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        except x509.ExtensionNotFound:
            return False

    @property
    def key_type(self) -> str:
        return _key_type_of(self.certificate.public_key())

    @property
    def fullchain_pem(self) -> str:
        """The certificate followed by its chain (what a TLS server presents)."""
        return self.cert_pem + self.chain_pem

    def __repr__(self) -> str:
        try:
            cert = self.certificate
            return (
                f"Credential(subject={cert.subject.rfc4514_string()!r}, "
                f"issuer={cert.issuer.rfc4514_string()!r}, serial={cert.serial_number:x}, "
                f"sha256={self.fingerprint[:16]}..., key={self.key_type}, "
                f"not_after={cert.not_valid_after_utc:%Y-%m-%d}, key_pem=<hidden>)"
            )
        except Exception:
            return "Credential(<unparsable certificate>, key_pem=<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True)
class CredentialFiles:
    """Where :func:`write_credential` put a credential."""

    cert: Path
    key: Path
    chain: Path | None = None


# --- making certificates ----------------------------------------------------


def _new_key(key_type: str):
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise PkiError(f"key_type {key_type!r} is not supported; use one of {', '.join(KEY_TYPES)}")


def _key_type_of(public_key) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(
            public_key.curve.name, f"ec-{public_key.curve.name}"
        )
    return type(public_key).__name__


def _key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PkiError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > 64:
        raise PkiError(f"{what} {value!r} is longer than 64 characters (the X.509 limit for a common name)")
    return value


def _check_days(days: int, what: str) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise PkiError(f"{what} must be a whole number of days >= 1, got {days!r}")
    return days


def _start(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise PkiError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return now.astimezone(dt.UTC).replace(microsecond=0) - BACKDATE


def make_ca(
    common_name: str = "hybridnet-ca",
    *,
    key_type: str = DEFAULT_KEY_TYPE,
    days: int = CA_VALIDITY_DAYS,
    now: dt.datetime | None = None,
) -> Credential:
    """A new self-signed certificate authority (easy-rsa ``build-ca``)."""
    _check_name(common_name, "common_name")
    _check_days(days, "days")
    key = _new_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = _start(now)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def _issue(
    ca: Credential,
    common_name: str,
    *,
    server: bool,
    san: Sequence[str],
    key_type: str,
    days: int,
    now: dt.datetime | None,
) -> Credential:
    _check_name(common_name, "name")
    _check_days(days, "days")
    if not isinstance(ca, Credential):
        raise PkiError(f"ca must be a Credential, got {type(ca).__name__}")
    ca_cert = ca.certificate
    if not ca.is_ca:
        raise PkiError(f"{ca_cert.subject.rfc4514_string()} is not a CA certificate (basicConstraints CA:FALSE)")
    ca_key = ca.private_key()
    _check_key_matches(ca_cert, ca_key, "ca")
    key = _new_key(key_type)
    start = _start(now)
    end = min(start + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    if end <= start:
        raise PkiError(
            f"the CA {ca_cert.subject.rfc4514_string()} has expired "
            f"({ca_cert.not_valid_after_utc:%Y-%m-%d}); make a new CA"
        )
    try:
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    except x509.ExtensionNotFound:
        issuer_key = ca_cert.public_key()
        if isinstance(issuer_key, _NON_SIGNING_KEYS):
            why = f"the CA {ca_cert.subject.rfc4514_string()} has a {type(issuer_key).__name__}: it cannot sign"
            raise PkiError(why) from None
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=server and key_type.startswith("rsa"),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
    )
    names = list(dict.fromkeys([common_name, *san])) if server else list(dict.fromkeys(san))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Credential(cert_pem=_cert_pem(cert), key_pem=_key_pem(key), chain_pem=ca.fullchain_pem)


def issue_server(
    ca: Credential,
    name: str,
    *,
    san: Sequence[str] = (),
    key_type: str = DEFAULT_KEY_TYPE,
    days: int = LEAF_VALIDITY_DAYS,
    now: dt.datetime | None = None,
) -> Credential:
    """A server certificate for ``name`` (easy-rsa ``build-server-full``).

    The subjectAltName holds ``DNS:<name>`` followed by any extra ``san``
    names. keyEncipherment is set for RSA keys only (it has no meaning for
    an EC key).
    """
    return _issue(ca, name, server=True, san=san, key_type=key_type, days=days, now=now)


def issue_client(
    ca: Credential,
    name: str,
    *,
    key_type: str = DEFAULT_KEY_TYPE,
    days: int = LEAF_VALIDITY_DAYS,
    now: dt.datetime | None = None,
) -> Credential:
    """A client certificate for ``name`` (easy-rsa ``build-client-full``).

    Client VPN passes the common name to the connect handler as
    ``common-name``: give each device its own.
    """
    return _issue(ca, name, server=False, san=(), key_type=key_type, days=days, now=now)


# --- verification -----------------------------------------------------------


def _check_key_matches(cert: x509.Certificate, key, what: str) -> None:
    def spki(public_key) -> bytes:
        return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    if spki(cert.public_key()) != spki(key.public_key()):
        raise PkiError(f"{what}: the private key does not belong to the certificate {cert.subject.rfc4514_string()}")


def _purposes(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()


def verify_chain(
    leaf_pem: str | bytes,
    ca_pem: str | bytes,
    *,
    purpose: str | None = None,
    name: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Check that ``leaf_pem`` chains to the trust anchor(s) in ``ca_pem``.

    Uses cryptography's path validation (:mod:`cryptography.x509.verification`,
    the RFC 5280 / CA-Browser-Forum profile): a ``ServerVerifier`` for
    ``purpose="server"`` (the leaf must carry serverAuth and ``name``,
    default its common name, in its subjectAltName), a ``ClientVerifier``
    for ``purpose="client"`` (clientAuth). Without ``purpose`` it follows
    the leaf's extendedKeyUsage. The client check accepts a certificate
    without subjectAltName, as easy-rsa makes them and OpenVPN takes them.

    Returns ``None``; raises :class:`PkiError` when the chain does not verify.
    """
    from cryptography.x509 import verification as v

    def load(pem, what: str) -> list[x509.Certificate]:
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise PkiError(f"{what} is not PEM certificate text: {exc}") from None
        if not certs:
            raise PkiError(f"{what} holds no certificate")
        return certs

    leaf, *intermediates = load(leaf_pem, "leaf_pem")
    anchors = load(ca_pem, "ca_pem")
    if purpose is None:
        found = _purposes(leaf)
        purpose = (
            "server"
            if ExtendedKeyUsageOID.SERVER_AUTH in found
            else "client"
            if ExtendedKeyUsageOID.CLIENT_AUTH in found
            else None
        )
        if purpose is None:
            raise PkiError(
                f"{leaf.subject.rfc4514_string()} has neither serverAuth nor clientAuth "
                "in its extendedKeyUsage; pass purpose='server' or 'client'"
            )
    if purpose not in ("server", "client"):
        raise PkiError(f"purpose must be 'server' or 'client', got {purpose!r}")
    at = at or dt.datetime.now(dt.UTC)
    builder = v.PolicyBuilder().store(v.Store(anchors)).time(at)
    verifier: v.ServerVerifier | v.ClientVerifier
    try:
        if purpose == "server":
            if name is None:
                cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                name = str(cns[0].value) if cns else ""
            verifier = builder.build_server_verifier(v.DNSName(name))
        else:
            ee = v.ExtensionPolicy.webpki_defaults_ee().may_be_present(
                x509.SubjectAlternativeName, v.Criticality.AGNOSTIC, None
            )
            builder = builder.extension_policies(ca_policy=v.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee)
            verifier = builder.build_client_verifier()
        verifier.verify(leaf, intermediates)
    except v.VerificationError as exc:
        raise PkiError(
            f"{leaf.subject.rfc4514_string()} does not verify as a {purpose} certificate "
            f"against {', '.join(a.subject.rfc4514_string() for a in anchors)}: {exc}"
        ) from None
    except ValueError as exc:  # e.g. a name DNSName() rejects
        raise PkiError(f"cannot verify {leaf.subject.rfc4514_string()}: {exc}") from None


# --- files -----------------------------------------------------------------


def _check_file_name(name: str) -> str:
    if not isinstance(name, str) or not _FILE_NAME.match(name) or name in (".", ".."):
        raise PkiError(f"file name {name!r} must be a plain name (letters, digits, '.', '_', '-'), without a directory")
    return name


def _write_atomic(path: Path, data: str, mode: int) -> None:
    # mode is set before the first byte lands: a key is never readable by others
    write_file(path, data, mode)


def write_credential(cred: Credential, directory: str | os.PathLike, name: str) -> CredentialFiles:
    """Write ``<name>.crt`` (0644), ``<name>.key`` (0600) and, for a leaf, ``<name>.chain.crt`` (0644).

    ``<name>.crt`` holds the certificate alone, as easy-rsa's
    ``issued/<name>.crt`` does (ACM's "certificate body"). Existing files
    are replaced atomically.
    """
    _check_file_name(name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = CredentialFiles(
        cert=directory / f"{name}.crt",
        key=directory / f"{name}.key",
        chain=directory / f"{name}.chain.crt" if cred.chain_pem.strip() else None,
    )
    # Key first: a .crt on disk then always has its key next to it.
    _write_atomic(files.key, cred.key_pem, KEY_MODE)
    _write_atomic(files.cert, cred.cert_pem, CERT_MODE)
    if files.chain is not None:
        _write_atomic(files.chain, cred.chain_pem, CERT_MODE)
    else:
        stale = directory / f"{name}.chain.crt"
        if stale.exists():
            stale.unlink()
    return files


def load_credential(directory: str | os.PathLike, name: str) -> Credential:
    """Read what :func:`write_credential` wrote.

    Raises ``FileNotFoundError`` when the certificate or key file is
    missing, :class:`PkiError` when they are unreadable or the key does
    not belong to the certificate.
    """
    _check_file_name(name)
    directory = Path(directory)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    chain_path = directory / f"{name}.chain.crt"
    cert_pem = cert_path.read_text(encoding="ascii")
    key_pem = key_path.read_text(encoding="ascii")
    chain_pem = chain_path.read_text(encoding="ascii") if chain_path.exists() else ""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as exc:
        raise PkiError(f"{cert_path} is not a PEM certificate: {exc}") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise PkiError(f"{key_path} is not an unencrypted PEM private key") from None
    _check_key_matches(cert, key, str(key_path))
    return Credential(cert_pem=cert_pem, key_pem=key_pem, chain_pem=chain_pem)


# --- idempotent set-up ------------------------------------------------------


def ensure_ca(
    directory: str | os.PathLike,
    common_name: str = "hybridnet-ca",
    *,
    name: str = "ca",
    key_type: str = DEFAULT_KEY_TYPE,
    days: int = CA_VALIDITY_DAYS,
) -> Credential:
    """The CA in ``directory/<name>.crt|.key``: loaded if present, else made and written.

    A CA is never replaced silently (every certificate issued by it, and
    every imported ACM certificate, would stop verifying): when only one of
    the two files exists, the CA on disk has another common name or key
    type than asked for, or it has expired, this raises :class:`PkiError`
    saying what to do. ``days`` only applies to a new CA.
    """
    directory = Path(directory)
    cert_path, key_path = directory / f"{_check_file_name(name)}.crt", directory / f"{name}.key"
    if not (cert_path.exists() or key_path.exists()):
        ca = make_ca(common_name, key_type=key_type, days=days)
        write_credential(ca, directory, name)
        return ca
    if not (cert_path.exists() and key_path.exists()):
        present, missing = (cert_path, key_path) if cert_path.exists() else (key_path, cert_path)
        raise PkiError(
            f"{present} exists but {missing} is missing: restore it, or delete {present} "
            "to make a new CA (then every certificate must be re-issued and re-imported)"
        )
    ca = load_credential(directory, name)
    replace = f"; delete {cert_path} and {key_path} to make a new CA (then re-issue and re-import everything)"
    if not ca.is_ca:
        raise PkiError(f"{cert_path} is not a CA certificate" + replace)
    if ca.common_name != common_name:
        raise PkiError(
            f"{cert_path} is the CA {ca.common_name!r}, not {common_name!r}: ask for {ca.common_name!r}" + replace
        )
    if ca.key_type != key_type:
        raise PkiError(f"{cert_path} has a {ca.key_type} key, not {key_type}: ask for {ca.key_type!r}" + replace)
    if ca.not_after <= dt.datetime.now(dt.UTC):
        raise PkiError(f"the CA in {cert_path} expired on {ca.not_after:%Y-%m-%d}" + replace)
    return ca


def _leaf_problem(
    cred: Credential, ca: Credential, common_name: str, purpose: str, *, key_type: str, days: int, san: Sequence[str]
) -> str | None:
    """Why an existing leaf does not fit what is asked for (None: it does)."""
    if cred.common_name != common_name:
        return f"its common name is {cred.common_name!r}, not {common_name!r}"
    if cred.key_type != key_type:
        return f"it has a {cred.key_type} key, not {key_type}"
    lifetime = cred.not_after - cred.not_before
    if lifetime != dt.timedelta(days=days) and cred.not_after != ca.not_after:
        return f"it is valid for {lifetime.days} days, not {days}"
    if cred.not_after - dt.datetime.now(dt.UTC) < min(RENEW_BEFORE, lifetime / 3):
        return f"it expires on {cred.not_after:%Y-%m-%d}"
    if purpose == "server":
        try:
            names = cred.certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            names = []
        if names != list(dict.fromkeys([common_name, *san])):
            return f"its subjectAltName is {names}"
    try:
        verify_chain(cred.cert_pem, ca.cert_pem, purpose=purpose)
    except PkiError as exc:
        return str(exc)
    return None


def _ensure_leaf(
    directory,
    ca: Credential,
    common_name: str,
    file_name: str | None,
    purpose: str,
    *,
    key_type: str,
    days: int,
    san: Sequence[str] = (),
) -> Credential:
    file_name = _check_file_name(file_name or common_name)
    try:
        existing = load_credential(directory, file_name)
    except (FileNotFoundError, PkiError):
        existing = None
    if (
        existing is not None
        and _leaf_problem(existing, ca, common_name, purpose, key_type=key_type, days=days, san=san) is None
    ):
        if existing.chain_pem != ca.fullchain_pem:  # keep the chain file in step with the CA on disk
            existing = Credential(cert_pem=existing.cert_pem, key_pem=existing.key_pem, chain_pem=ca.fullchain_pem)
            write_credential(existing, directory, file_name)
        return existing
    cred = _issue(ca, common_name, server=purpose == "server", san=san, key_type=key_type, days=days, now=None)
    write_credential(cred, directory, file_name)
    return cred


def ensure_server(
    directory: str | os.PathLike,
    ca: Credential,
    name: str,
    *,
    file_name: str | None = None,
    san: Sequence[str] = (),
    key_type: str = DEFAULT_KEY_TYPE,
    days: int = LEAF_VALIDITY_DAYS,
) -> Credential:
    """The server credential in ``directory/<file_name or name>.*``, re-issued only when needed.

    It is reused unless it is missing or unreadable, was issued by another
    CA, differs from what is asked for (common name, subjectAltName, key
    type, validity) or is near expiry (30 days, or a third of its lifetime
    if shorter).
    """
    return _ensure_leaf(directory, ca, name, file_name, "server", key_type=key_type, days=days, san=san)


def ensure_client(
    directory: str | os.PathLike,
    ca: Credential,
    name: str,
    *,
    file_name: str | None = None,
    key_type: str = DEFAULT_KEY_TYPE,
    days: int = LEAF_VALIDITY_DAYS,
) -> Credential:
    """The client credential in ``directory/<file_name or name>.*``, re-issued only when needed
    (same rules as :func:`ensure_server`)."""
    return _ensure_leaf(directory, ca, name, file_name, "client", key_type=key_type, days=days)
