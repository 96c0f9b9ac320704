"""The Content-Type AWS answers with, per protocol."""

from __future__ import annotations

from typing import Any


def protocol_content_type(service_model: Any, protocol: str) -> str | None:
    """The Content-Type of a successful answer in `protocol` (as botocore names it):
    JSON answers the model's jsonVersion (application/x-amz-json-1.0 or 1.1),
    rest-json application/json, rest-xml application/xml, query and ec2 text/xml."""
    if protocol == "json":
        return f"application/x-amz-json-{service_model.metadata.get('jsonVersion', '1.0')}"
    return {"rest-json": "application/json", "rest-xml": "application/xml", "query": "text/xml", "ec2": "text/xml"}.get(
        protocol
    )
