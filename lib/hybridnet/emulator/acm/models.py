"""ImportCertificate into an existing ARN keeps the certificate's tags.

AWS re-imports into the same ARN and keeps what belongs to the ARN rather
than to the certificate body: its tags (a re-import may not even carry tags:
"You cannot apply tags when reimporting a certificate") and the services that
use it. moto builds a new bundle for the ARN and so loses both: a runbook that
finds its certificates by tag would import a second copy after a renewal.
"""

from __future__ import annotations

from typing import Any

from moto.acm.models import AWSCertificateManagerBackend

_moto_import_certificate = AWSCertificateManagerBackend.import_certificate


class ReimportKeepsTagsBackend:
    """Mixed into moto's AWSCertificateManagerBackend."""

    def import_certificate(
        self, certificate: bytes, private_key: bytes, chain: bytes | None, arn: str | None, tags: list[dict[str, str]]
    ) -> str:
        old: Any = self._certificates.get(arn) if arn else None  # type: ignore[attr-defined]
        new_arn = _moto_import_certificate(self, certificate, private_key, chain, arn, tags)  # type: ignore[arg-type]
        if old is not None:
            bundle = self._certificates[new_arn]  # type: ignore[attr-defined]
            bundle.tags, bundle.in_use_by = old.tags, old.in_use_by
        return new_arn
