"""Minimal client for strongSwan's VICI protocol over a unix socket.

Each lab charon has its own vici socket (``<lab_dir>/<ns>/run/charon.vici``),
so the host can query and steer it without entering the namespace. Only what
the lab needs is here: plain commands, and ``list-sas`` which streams its
answer as events. Wire format (strongSwan's src/libcharon/plugins/vici/README):
a packet is a 32-bit big-endian length and a payload; the payload is a packet
type, an optional name, and a message made of sections, key/values and lists.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

from ..errors import LocalPlaneError

# packet types
CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN = 0, 1, 2
EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = 3, 4, 5, 6, 7
# message element types
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = 1, 2, 3, 4, 5, 6


class ViciError(LocalPlaneError, RuntimeError):
    pass


def encode_message(message: dict[str, Any]) -> bytes:
    out = bytearray()

    def name8(name: str) -> bytes:
        raw = name.encode()
        return bytes([len(raw)]) + raw

    def value16(value: Any) -> bytes:
        raw = value if isinstance(value, bytes) else str(value).encode()
        return struct.pack(">H", len(raw)) + raw

    def encode(section: dict[str, Any]) -> None:
        for key, value in section.items():
            if isinstance(value, dict):
                out.extend(bytes([SECTION_START]) + name8(key))
                encode(value)
                out.append(SECTION_END)
            elif isinstance(value, (list, tuple)):
                out.extend(bytes([LIST_START]) + name8(key))
                for item in value:
                    out.extend(bytes([LIST_ITEM]) + value16(item))
                out.append(LIST_END)
            else:
                out.extend(bytes([KEY_VALUE]) + name8(key) + value16(value))

    encode(message)
    return bytes(out)


def decode_message(data: bytes) -> dict[str, Any]:
    """Decode a vici message into nested dicts; values become str, lists list[str]."""
    root: dict[str, Any] = {}
    stack = [root]
    current_list: list[str] | None = None
    pos = 0

    def read_name() -> str:
        nonlocal pos
        length = data[pos]
        name = data[pos + 1 : pos + 1 + length].decode(errors="replace")
        pos += 1 + length
        return name

    def read_value() -> str:
        nonlocal pos
        (length,) = struct.unpack_from(">H", data, pos)
        value = data[pos + 2 : pos + 2 + length].decode(errors="replace")
        pos += 2 + length
        return value

    while pos < len(data):
        kind = data[pos]
        pos += 1
        if kind == SECTION_START:
            section: dict[str, Any] = {}
            stack[-1][read_name()] = section
            stack.append(section)
        elif kind == SECTION_END:
            stack.pop()
        elif kind == KEY_VALUE:
            key = read_name()
            stack[-1][key] = read_value()
        elif kind == LIST_START:
            current_list = []
            stack[-1][read_name()] = current_list
        elif kind == LIST_ITEM:
            assert current_list is not None
            current_list.append(read_value())
        elif kind == LIST_END:
            current_list = None
        else:
            raise ViciError(f"bad vici element type {kind}")
    return root


class ViciSession:
    """One connection to a charon vici socket."""

    def __init__(self, socket_path: Path | str, timeout: float = 5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(socket_path))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ViciSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, packet_type: int, name: str | None, message: dict[str, Any] | None = None) -> None:
        payload = bytes([packet_type])
        if name is not None:
            raw = name.encode()
            payload += bytes([len(raw)]) + raw
        if message:
            payload += encode_message(message)
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def _recv_exact(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self.sock.recv(size - len(chunks))
            if not chunk:
                raise ViciError("vici socket closed")
            chunks.extend(chunk)
        return bytes(chunks)

    def _recv(self) -> tuple[int, str | None, dict[str, Any]]:
        (length,) = struct.unpack(">I", self._recv_exact(4))
        payload = self._recv_exact(length)
        packet_type = payload[0]
        name = None
        body = payload[1:]
        if packet_type in (EVENT,):
            name_len = body[0]
            name = body[1 : 1 + name_len].decode()
            body = body[1 + name_len :]
        return packet_type, name, decode_message(body)

    def request(
        self, command: str, message: dict[str, Any] | None = None, stream_event: str | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send `command`; return its response and the `stream_event` events it emitted."""
        events: list[dict[str, Any]] = []
        if stream_event:
            self._send(EVENT_REGISTER, stream_event)
            packet_type, _, _ = self._recv()
            if packet_type != EVENT_CONFIRM:
                raise ViciError(f"cannot register for {stream_event}")
        self._send(CMD_REQUEST, command, message)
        while True:
            packet_type, name, body = self._recv()
            if packet_type == EVENT:
                if name == stream_event:
                    events.append(body)
                continue
            if packet_type == CMD_UNKNOWN:
                raise ViciError(f"charon does not know vici command {command}")
            if packet_type == CMD_RESPONSE:
                break
        if stream_event:
            self._send(EVENT_UNREGISTER, stream_event)
            self._recv()
        return body, events

    def command(self, command: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        response, _ = self.request(command, message)
        if response.get("success") == "no":
            raise ViciError(f"{command}: {response.get('errmsg', 'failed')}")
        return response

    def list_sas(self) -> list[tuple[str, dict[str, Any]]]:
        """All IKE SAs as (connection name, SA) pairs.

        ``list-sas`` streams one event per IKE SA; a connection can briefly have
        two (reauthentication, simultaneous initiation), so this is a list.
        """
        _, events = self.request("list-sas", {"noblock": "yes"}, stream_event="list-sa")
        return [(name, sa) for event in events for name, sa in event.items()]

    def list_conns(self) -> dict[str, Any]:
        _, events = self.request("list-conns", None, stream_event="list-conn")
        conns: dict[str, Any] = {}
        for event in events:
            conns.update(event)
        return conns
