"""Request ids and Content-Types in moto's BaseResponse.

- BaseResponse._enrich_response gives each answer a 52-character random
  string as x-amzn-requestid (AWS: a UUID) and writes it into <RequestId> of
  the body only, not into EC2's <requestId>, so the two disagreed. Here: the
  id the serializer wrote (serialize.py) is kept in the header; a body moto
  built from a template gets a fresh uuid4 in both.
- Answers moto builds as bare JSON strings (Route 53 Resolver, Lambda, ...)
  carry no Content-Type, so werkzeug sends its default text/html. AWS sends
  the protocol's (utils.protocol_content_type); BaseResponse.call_action now
  adds it where moto set none.
"""

from __future__ import annotations

import re
from typing import Any

from .serialize import REQUEST_ID_HEADER, new_request_id
from .utils import protocol_content_type

_moto_call_action: Any = None  # set by the installer: moto's BaseResponse.call_action

_BODY_REQUEST_ID = re.compile(r"(<(RequestId|requestId)>)[^<]*(</\2>)")


class RequestIdResponse:
    """Mixed into moto's BaseResponse (a staticmethod, as moto's, also called on the class by S3)."""

    @staticmethod
    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if "status" in headers:
            headers["status"] = str(headers["status"])
        request_id = headers.get(REQUEST_ID_HEADER)
        if not request_id:  # not serialized by moto's serializers: a template's body, or no body
            request_id = headers[REQUEST_ID_HEADER] = new_request_id()
            if isinstance(body, str):
                body = _BODY_REQUEST_ID.sub(lambda m: m.group(1) + request_id + m.group(3), body)
        return headers, body


class ContentTypeResponse:
    """Mixed into moto's BaseResponse."""

    def call_action(self) -> Any:
        status, headers, body = _moto_call_action(self)
        if not any(key.lower() == "content-type" for key in headers):
            content_type = self._protocol_content_type()
            if content_type:
                headers["Content-Type"] = content_type
        return status, headers, body

    def _protocol_content_type(self) -> str | None:
        from moto.core.utils import get_service_model

        try:
            service_model = get_service_model(self.boto3_service_name)  # type: ignore[attr-defined]
            protocol = self.determine_response_protocol(service_model)  # type: ignore[attr-defined]
        except Exception:  # no model (moto's own APIs): leave the answer as moto made it
            return None
        return protocol_content_type(service_model, protocol)
