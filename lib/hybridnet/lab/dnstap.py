"""What the lab's Route 53 Resolver (named in the VPC namespace) answered, query by
query: a dnstap collector.

named's query log (``querylog``) names the client, the question and the flags,
but not the response code nor the answers, which Route 53 Resolver query logs
carry. named's dnstap does: with ``dnstap { client response; }`` every answer
to a client (CLIENT_RESPONSE) is sent whole: the client's address and port, the
address it asked, UDP or TCP, the query time and the complete DNS response
(rcode, question, answers). BIND's dnstap *file* output is written through a
stdio buffer that reaches the file only when named closes it (measured with
BIND 9.18: 0 bytes after minutes), so named sends dnstap to this collector's
unix socket instead (``dnstap-output unix``, ``fstrm-set-flush-timeout 1``),
and the collector appends one JSON line per response to
a spool file, under an exclusive ``flock`` (measured: a response is in the
spool 1.5 to 2 s after named sent it). The lab's agent takes the spool's
lines under the same lock (hybridnet.lab.resolverlogs) and turns them into
Route 53 Resolver query log entries. named connects once, at its start: a
collector started again later gets nothing from the running named (measured),
so the two are started and stopped together (hybridnet.dataplane.dns_up).

The protocols, implemented here with the standard library (and dnspython for
the DNS message):

* Frame Streams (fstrm), bidirectional over a unix socket: the writer (named)
  sends READY with its content type, the reader answers ACCEPT, the writer
  sends START, then data frames (a 32-bit big-endian length and the payload),
  and at the end STOP, answered with FINISH. A control frame is an escape
  (length 0), its length, its type and fields (content type = 1).
* dnstap's protobuf schema (dnstap.proto, public domain): Dnstap{type = 15,
  message = 14}; Message{type = 1, socket_family = 2, socket_protocol = 3,
  query_address = 4, response_address = 5, query_port = 6, response_port = 7,
  query_time_sec = 8, query_time_nsec = 9, response_time_sec = 12,
  response_time_nsec = 13, response_message = 14}.

    python -m hybridnet.lab.dnstap --socket SOCK --spool FILE [--owner bind]
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import ipaddress
import json
import os
import pwd
import signal
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONTENT_TYPE = b"protobuf:dnstap.Dnstap"
CONTROL_ACCEPT, CONTROL_START, CONTROL_STOP, CONTROL_READY, CONTROL_FINISH = 1, 2, 3, 4, 5
FIELD_CONTENT_TYPE = 1
MAX_FRAME = 1 << 20  # a DNS message fits in 64 KB; anything far larger is not dnstap

CLIENT_RESPONSE = 6  # dnstap Message.Type
PROTOCOLS = {1: "UDP", 2: "TCP", 3: "DOT", 4: "DOH", 5: "DNSCryptUDP", 6: "DNSCryptTCP", 7: "DOQ"}


# --- protobuf (only what dnstap needs) ---------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def protobuf_fields(data: bytes) -> dict[int, Any]:
    """{field number: value} of one protobuf message (the last value of a repeated
    field): varints as int, fixed32/fixed64 as int, length-delimited as bytes."""
    fields: dict[int, Any] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields[number], pos = _varint(data, pos)
        elif wire == 1:
            fields[number] = struct.unpack_from("<Q", data, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            fields[number] = data[pos : pos + length]
            pos += length
        elif wire == 5:
            fields[number] = struct.unpack_from("<I", data, pos)[0]
            pos += 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by dnstap")
    return fields


# --- dnstap -> one response as facts -------------------------------------------------------------


def _address(raw: bytes | None) -> str | None:
    if not raw:
        return None
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _time(seconds: int | None, nanoseconds: int | None) -> str | None:
    if not seconds:
        return None
    moment = dt.datetime.fromtimestamp(seconds + (nanoseconds or 0) / 1e9, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ttls(message: Any) -> tuple[int | None, int | None]:
    """(the smallest answer TTL, the negative-caching TTL of an SOA in the authority
    section: min(its TTL, its MINIMUM)), as a resolver's cache would keep them."""
    answers = [rrset.ttl for rrset in message.answer]
    negative = None
    for rrset in message.authority:
        if rrset.rdtype == 6:  # SOA
            negative = min(rrset.ttl, min(rd.minimum for rd in rrset))
    return (min(answers) if answers else None), negative


def response_facts(payload: bytes) -> dict | None:
    """One dnstap frame -> what the server answered to whom, or None when it is not a
    client response (or cannot be read)."""
    import dns.message
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype

    top = protobuf_fields(payload)
    raw = top.get(14)
    if not isinstance(raw, bytes):
        return None
    msg = protobuf_fields(raw)
    if msg.get(1) != CLIENT_RESPONSE or not isinstance(msg.get(14), bytes):
        return None
    wire = msg[14]
    facts: dict[str, Any] = {
        "time": _time(msg.get(8), msg.get(9)) or _time(msg.get(12), msg.get(13)),
        "response_time": _time(msg.get(12), msg.get(13)),
        "query_address": _address(msg.get(4)),
        "query_port": msg.get(6),
        "response_address": _address(msg.get(5)),
        "response_port": msg.get(7),
        "transport": PROTOCOLS.get(msg.get(3, 0), "UDP"),  # absent: protobuf's default 0, not a protocol
    }
    try:
        message = dns.message.from_wire(wire, ignore_trailing=True, one_rr_per_rrset=False)
    except Exception:  # a response dnspython cannot read: the header still has the rcode
        if len(wire) < 12:
            return None
        facts.update(
            rcode=dns.rcode.to_text(wire[3] & 0x0F),
            name=None,
            type=None,
            **{"class": None},
            answers=[],
            answer_ttl=None,
            negative_ttl=None,
        )
        return facts
    question = message.question[0] if message.question else None  # an RRset without rdatas: falsy
    facts.update(
        rcode=dns.rcode.to_text(message.rcode()),
        name=question.name.to_text() if question is not None else None,
        type=dns.rdatatype.to_text(question.rdtype) if question is not None else None,
        **{"class": dns.rdataclass.to_text(question.rdclass) if question is not None else None},
        answers=[
            {
                "Rdata": rd.to_text(),
                "Type": dns.rdatatype.to_text(rrset.rdtype),
                "Class": dns.rdataclass.to_text(rrset.rdclass),
            }
            for rrset in message.answer
            for rd in rrset
        ],
    )
    facts["answer_ttl"], facts["negative_ttl"] = _ttls(message)
    return facts


# --- Frame Streams --------------------------------------------------------------------------------


def control_frame(kind: int, content_type: bytes | None = CONTENT_TYPE) -> bytes:
    body = struct.pack(">I", kind)
    if content_type is not None:
        body += struct.pack(">II", FIELD_CONTENT_TYPE, len(content_type)) + content_type
    return struct.pack(">II", 0, len(body)) + body


def _read_exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def frames(conn: socket.socket) -> Iterator[bytes]:
    """The data frames of one bidirectional Frame Streams connection (the handshake
    answered); ends at the writer's STOP (answered with FINISH) or when it goes."""
    started = False
    while True:
        head = _read_exact(conn, 4)
        if head is None:
            return
        (length,) = struct.unpack(">I", head)
        if length:
            if length > MAX_FRAME:
                raise ValueError(f"a {length}-byte frame: not dnstap")
            data = _read_exact(conn, length)
            if data is None:
                return
            if started:
                yield data
            continue
        raw_length = _read_exact(conn, 4)
        if raw_length is None:
            return
        (control_length,) = struct.unpack(">I", raw_length)
        if control_length > MAX_FRAME:
            raise ValueError(f"a {control_length}-byte control frame: not Frame Streams")
        control = _read_exact(conn, control_length)
        if control is None or len(control) < 4:
            return
        (kind,) = struct.unpack(">I", control[:4])
        if kind == CONTROL_READY:
            conn.sendall(control_frame(CONTROL_ACCEPT))
        elif kind == CONTROL_START:
            started = True
        elif kind == CONTROL_STOP:
            conn.sendall(control_frame(CONTROL_FINISH, None))
            return


def data_frames(data: bytes) -> Iterator[bytes]:
    """The data frames of a unidirectional Frame Streams byte string (a dnstap file,
    e.g. a test's fixture): complete frames only."""
    pos = 0
    while pos + 4 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        if length == 0:
            if pos + 8 > len(data):
                return
            (control_length,) = struct.unpack_from(">I", data, pos + 4)
            pos += 8 + control_length
            continue
        if pos + 4 + length > len(data):
            return
        yield data[pos + 4 : pos + 4 + length]
        pos += 4 + length


# --- the spool --------------------------------------------------------------------------------------


def append_spool(spool: Path, lines: list[str]) -> None:
    """Append JSON lines under an exclusive lock (the agent takes them under the same lock)."""
    fd = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, "".join(line + "\n" for line in lines).encode())
    finally:
        os.close(fd)  # releases the lock


def take_spool(spool: Path) -> list[dict]:
    """Every complete line of the spool, which is left empty (under its lock): each
    response is taken exactly once."""
    try:
        fd = os.open(spool, os.O_RDWR)
    except FileNotFoundError:
        return []
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = b""
        while chunk := os.read(fd, 1 << 16):
            data += chunk
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)
    taken = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            taken.append(json.loads(line))
        except ValueError:
            continue
    return taken


# --- the collector -------------------------------------------------------------------------------


def serve_connection(conn: socket.socket, spool: Path) -> None:
    with conn:
        for frame in frames(conn):
            try:
                facts = response_facts(frame)
            except ValueError:
                continue
            if facts is not None:
                append_spool(spool, [json.dumps(facts, sort_keys=True)])


def serve(sock_path: Path, spool: Path, owner: str | None = None) -> None:
    """Listen on `sock_path` (mode 0600, owned by `owner`: named drops root and connects
    as that user) until SIGTERM; one thread per named connection."""
    sock_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(sock_path))
    finally:
        os.umask(old)
    if owner:
        user = pwd.getpwnam(owner)
        os.chown(sock_path, user.pw_uid, user.pw_gid)
    listener.listen(4)
    stop = threading.Event()

    def on_sigterm(*_: object) -> None:
        stop.set()
        listener.close()

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"dnstap collector on {sock_path}, spool {spool}", flush=True)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            break
        threading.Thread(target=serve_connection, args=(conn, spool), daemon=True).start()
    sock_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hybridnet.lab.dnstap", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, type=Path, help="the unix socket named sends dnstap to")
    parser.add_argument("--spool", required=True, type=Path, help="where the responses are appended (JSON lines)")
    parser.add_argument("--owner", help="the user named runs as (it connects to the socket)")
    args = parser.parse_args(argv)
    serve(args.socket, args.spool, args.owner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
