"""EC2 answers written straight from plain values, for answers too large for moto's
generic serializer.

moto's EC2Serializer looks every member of every object up through its
AttributePicker (several candidate attribute names per member), builds nested
dicts and has xmltodict write them out: for DescribeVpnConnections of a fleet
(hundreds of connections, each with two tunnels' options) that is most of the
emulator's time. Here an operation's output shape is turned once into a writer of
the same XML (element names from the service model, members in the model's order,
and moto's rules: a None member is left out, an empty list is an empty element, a
list item with nothing in it is dropped, booleans "true"/"false", EC2 timestamps
ISO 8601 with .000Z) that takes values already keyed by the API's member names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import EC2Serializer, TimestampSerializer

from .serialize import REQUEST_ID_HEADER, new_request_id

# Appends the XML of one element (or nothing) for a value to the fragments.
Writer = Callable[[list[str], Any], None]


def _tags(name: str) -> tuple[str, str, str]:
    return f"<{name}>", f"</{name}>", f"<{name}/>"


def _scalar_text(shape: Any) -> Callable[[Any], str]:
    kind = shape.type_name
    if kind == "string":
        return lambda value: escape(str(value))
    if kind in ("integer", "long"):
        return lambda value: str(int(value))
    if kind in ("float", "double"):
        return lambda value: str(float(value))
    if kind == "boolean":
        # moto's backends keep booleans as bools or as "true"/"false"; so does its serializer
        return lambda value: "true" if value is True or str(value).lower() == "true" else "false"
    if kind == "timestamp":
        stamps = TimestampSerializer(EC2Serializer.DEFAULT_TIMESTAMP_FORMAT)

        def timestamp(value: Any) -> str:
            holder: dict[str, Any] = {}
            stamps.serialize(holder, value, shape, "value")
            return escape(str(holder["value"]))

        return timestamp
    raise NotImplementedError(f"{shape.name}: {kind} members are not written by xmlanswer")


def _element(name: str, shape: Any, in_list: bool = False) -> Writer:
    """The writer of element `name` holding a value of `shape`. In a list, an item
    that comes out empty is dropped (moto's rule); elsewhere it is an empty element."""
    serialization = shape.serialization
    if serialization.get("xmlAttribute") or serialization.get("xmlNamespace") or serialization.get("flattened"):
        raise NotImplementedError(f"{shape.name}: XML attributes, namespaces and flattened lists are not written here")
    opening, closing, empty = _tags(name)
    kind = shape.type_name
    if kind in ("structure", "list"):
        fill = _structure_content(shape) if kind == "structure" else _list_content(shape)

        def nested(out: list[str], value: Any) -> None:
            if value is None and in_list:
                return
            mark = len(out)
            out.append(opening)
            fill(out, value)
            if len(out) > mark + 1:
                out.append(closing)
            elif in_list and kind == "structure":
                del out[mark:]
            else:
                out[mark] = empty

        return nested
    text = _scalar_text(shape)

    def scalar(out: list[str], value: Any) -> None:
        written = text(value)
        out.append(f"{opening}{written}{closing}" if written else empty)

    return scalar


def _structure_content(shape: Any) -> Writer:
    members = [(key, _element(member.serialization.get("name", key), member)) for key, member in shape.members.items()]

    def fill(out: list[str], value: dict) -> None:
        get = value.get
        for key, write in members:
            member = get(key)
            if member is not None:
                write(out, member)

    return fill


def _list_content(shape: Any) -> Writer:
    item = shape.member
    write_item = _element(item.serialization.get("name", "member"), item, in_list=True)

    def fill(out: list[str], values: Any) -> None:
        for value in values:
            write_item(out, value)

    return fill


_documents: dict[tuple[str, str, str], Callable[[dict, str], str]] = {}


def ec2_document(operation_model: Any) -> Callable[[dict, str], str]:
    """document(result, request_id): the whole EC2 answer of `operation_model` (as
    moto's EC2Serializer frames it: <{Operation}Response xmlns=...>, the output's
    members, <requestId>), for a result keyed by the output shape's member names."""
    service = operation_model.service_model
    key = (service.service_name, service.api_version, operation_model.name)
    document = _documents.get(key)
    if document is None:
        document = _documents[key] = _compile_document(operation_model)
    return document


def _compile_document(operation_model: Any) -> Callable[[dict, str], str]:
    namespace = operation_model.metadata.get("xmlNamespace")
    root = f"{operation_model.name}Response"
    opening = f"<{root}{' xmlns=' + quoteattr(namespace) if namespace else ''}>"
    prolog = '<?xml version="1.0" encoding="utf-8"?>\n'
    output = operation_model.output_shape
    fill = _structure_content(output) if output is not None else None

    def document(result: dict, request_id: str) -> str:
        out = [prolog, opening]
        if fill is not None:
            fill(out, result)
        out.append(f"<requestId>{escape(request_id)}</requestId></{root}>")
        return "".join(out)

    return document


class Ec2XmlAnswer(ActionResult):
    """An ActionResult (a dict keyed by the output's member names) written by
    ec2_document: the same answer as moto's EC2Serializer gives for it, with the
    fresh request id in the body and in x-amzn-requestid (core/serialize.py) and
    EC2's Content-Type. Spoken in another protocol, moto's serializer writes it."""

    def execute_result(self, context: ActionContext) -> Any:
        if not issubclass(context.serializer_class, EC2Serializer):
            return super().execute_result(context)
        operation_model = context.operation_model
        request_id = new_request_id()
        body = ec2_document(operation_model)(self.result, request_id)  # type: ignore[arg-type]
        headers = {"Content-Type": EC2Serializer.CONTENT_TYPE, REQUEST_ID_HEADER: request_id}
        return operation_model.http.get("responseCode", EC2Serializer.DEFAULT_RESPONSE_CODE), headers, body


__all__ = ["Ec2XmlAnswer", "ec2_document"]
