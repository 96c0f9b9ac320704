"""The certificates a Client VPN endpoint names, read as the service reads them:
from moto's ACM backend in this same process (the server certificate and the
client root certificate chain), parsed with cryptography's X.509."""

from __future__ import annotations

import re
from typing import Any

from .exceptions import (
    AcmCertificateNotFound,
    CertificateNotInEndpointAccount,
    CertificateWithoutDomain,
    InvalidAcmCertificateArn,
)

ACM_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate/[A-Za-z0-9-]+")


def acm_backend(account_id: str, region: str) -> Any:
    from moto.acm.models import acm_backends

    return acm_backends[account_id][region]


def acm_certificate(account_id: str, region: str, arn: str, parameter: str) -> Any:
    """The ACM certificate bundle behind `arn`, or AWS's error."""
    match = ACM_CERTIFICATE_ARN.fullmatch(str(arn or ""))
    if not match:
        raise InvalidAcmCertificateArn(parameter, arn)
    if match.group(1) != region or match.group(2) != account_id:
        raise CertificateNotInEndpointAccount(arn)
    try:
        return acm_backend(account_id, region).get_certificate(arn)
    except Exception:  # moto's CertificateNotFound
        raise AcmCertificateNotFound(arn) from None


def _x509(pem: bytes) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem)


def certificate_common_name(pem: bytes) -> str | None:
    from cryptography.x509.oid import NameOID

    names = _x509(pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def certificate_domains(pem: bytes) -> list[str]:
    """What ACM shows as the certificate's domain names: DNS SANs, else a dotted CN."""
    from cryptography import x509

    cert = _x509(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(name) for name in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns = []
    if dns:
        return dns
    common_name = certificate_common_name(pem)
    return [common_name] if common_name and "." in common_name else []


def server_certificate(account_id: str, region: str, arn: str) -> Any:
    bundle = acm_certificate(account_id, region, arn, "ServerCertificateArn")
    if not certificate_domains(bundle.cert):
        # AWS: a server certificate needs a domain (easy-rsa: --san=DNS:server).
        raise CertificateWithoutDomain(arn)
    return bundle


def ca_chain_pem(bundle: Any) -> str:
    """The server certificate's CA chain as imported into ACM (moto appends its
    own fake Amazon root to every chain; that is not part of what was imported)."""
    from moto.acm.models import AWS_ROOT_CA

    chain = (bundle.chain or b"").replace(AWS_ROOT_CA, b"").strip()
    if not chain:  # imported without a chain: the certificate is its own CA
        chain = bundle.cert.strip()
    return chain.decode() + "\n"
