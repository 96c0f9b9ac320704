"""Request ids in moto's serializers.

moto's SerializationContext defaults its request id to the literal string
"request-id", and BaseResponse.serialized never passes a context, so every
serialized body says <requestId>request-id</requestId> (EC2) or
<RequestId>request-id</RequestId> (query), the same for every call, while
the x-amzn-requestid header gets another, random id. AWS gives each response
a fresh UUID, the same in the body and in the header.

Installed into moto's classes: the default request id is a uuid4, and the
serializer puts the id it wrote into the body into the x-amzn-requestid header
too (responses.py keeps it there).
"""

from __future__ import annotations

import uuid
from typing import Any

REQUEST_ID_HEADER = "x-amzn-requestid"

_moto_serialize: Any = None  # set by the installer: moto's ResponseSerializer.serialize


def new_request_id() -> str:
    return str(uuid.uuid4())


class UuidSerializationContext:
    """Mixed into moto's SerializationContext."""

    def __init__(self, request_id: str | None = None) -> None:
        self.request_id = request_id or new_request_id()


class RequestIdHeaderSerializer:
    """Mixed into moto's ResponseSerializer."""

    def serialize(self, result: Any) -> Any:
        response = _moto_serialize(self, result)
        response["headers"].setdefault(REQUEST_ID_HEADER, self.context.request_id)  # type: ignore[attr-defined]
        return response


class JsonContentTypeSerializer:
    """Mixed into moto's JSONSerializer (awsJson1_0/1_1; rest-json has its own class).

    moto picks the JSON Content-Type by the service model's `protocol`, which
    for a service speaking several protocols names another one (CloudWatch:
    smithy-rpc-v2-cbor, with json and query in `protocols`), so its JSON answers
    went out as "Content-Type: text". A JSON answer is
    application/x-amz-json-<the model's jsonVersion>, whatever else the service speaks."""

    def _get_protocol_specific_content_type(self) -> str:
        version = self.operation_model.service_model.metadata.get("jsonVersion", "1.0")  # type: ignore[attr-defined]
        return f"application/x-amz-json-{version}"
