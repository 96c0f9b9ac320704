"""The lab's Resolver query logs without a lab: dnstap (Frame Streams + protobuf) read
as named sends it, the spool taken once, and the entries as AWS documents them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import struct
import threading

import dns.message
import dns.rcode
import dns.rrset
from hybridnet.lab import dnstap, resolverlogs

# --- a tiny protobuf + Frame Streams writer (what named sends) -----------------------------------


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _field(number: int, value) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if number in (9, 13):  # fixed32 nanoseconds
        return _varint(number << 3 | 5) + struct.pack("<I", value)
    return _varint(number << 3) + _varint(value)


def client_response(
    wire: bytes,
    client: str = "10.0.10.10",
    port: int = 40000,
    server: str = "10.0.0.2",
    protocol: int = 1,
    seconds: int = 1_800_000_000,
    kind: int = 6,
) -> bytes:
    message = b"".join(
        [
            _field(1, kind),
            _field(2, 1),
            _field(3, protocol),
            _field(4, socket.inet_aton(client)),
            _field(5, socket.inet_aton(server)),
            _field(6, port),
            _field(7, 53),
            _field(8, seconds),
            _field(9, 250_000_000),
            _field(12, seconds),
            _field(13, 260_000_000),
            _field(14, wire),
        ]
    )
    return _field(14, message) + _field(15, 1)


def response(name: str, rcode: int = 0, answer: str | None = None, ttl: int = 300) -> bytes:
    query = dns.message.make_query(name, "A")
    reply = dns.message.make_response(query)
    reply.set_rcode(rcode)
    if answer:
        reply.answer.append(dns.rrset.from_text(name, ttl, "IN", "A", answer))
    if rcode == dns.rcode.NXDOMAIN:
        reply.authority.append(
            dns.rrset.from_text("awsanycompany.corp.", 900, "IN", "SOA", "ns. host. 1 7200 900 1209600 60")
        )
    return reply.to_wire()


def test_a_client_response_becomes_what_the_resolver_answered_to_whom():
    facts = dnstap.response_facts(client_response(response("web1.awsanycompany.corp.", answer="10.0.10.10")))
    assert facts == {
        "time": "2027-01-15T08:00:00.250Z",
        "response_time": "2027-01-15T08:00:00.260Z",
        "query_address": "10.0.10.10",
        "query_port": 40000,
        "response_address": "10.0.0.2",
        "response_port": 53,
        "transport": "UDP",
        "rcode": "NOERROR",
        "name": "web1.awsanycompany.corp.",
        "type": "A",
        "class": "IN",
        "answers": [{"Rdata": "10.0.10.10", "Type": "A", "Class": "IN"}],
        "answer_ttl": 300,
        "negative_ttl": None,
    }
    nx = dnstap.response_facts(
        client_response(response("nope.awsanycompany.corp.", rcode=dns.rcode.NXDOMAIN), protocol=2)
    )
    assert (nx["rcode"], nx["answers"], nx["negative_ttl"], nx["transport"]) == ("NXDOMAIN", [], 60, "TCP")
    assert dnstap.response_facts(client_response(response("x."), kind=5)) is None  # a client query: not an answer


def test_frame_streams_handshake_and_frames():
    reader, writer = socket.socketpair()
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.extend(dnstap.frames(reader)))
    thread.start()
    writer.sendall(dnstap.control_frame(dnstap.CONTROL_READY))
    accept = writer.recv(4096)
    assert accept == dnstap.control_frame(dnstap.CONTROL_ACCEPT)
    frames = [client_response(response("a.example."), port=p) for p in (1000, 1001)]
    writer.sendall(
        dnstap.control_frame(dnstap.CONTROL_START)
        + b"".join(struct.pack(">I", len(f)) + f for f in frames)
        + dnstap.control_frame(dnstap.CONTROL_STOP, None)
    )
    assert writer.recv(4096) == dnstap.control_frame(dnstap.CONTROL_FINISH, None)
    thread.join(5)
    assert got == frames
    # the same frames in a file (unidirectional: START, frames, STOP), complete ones only
    blob = dnstap.control_frame(dnstap.CONTROL_START) + b"".join(struct.pack(">I", len(f)) + f for f in frames)
    assert list(dnstap.data_frames(blob)) == frames
    assert list(dnstap.data_frames(blob[:-3])) == frames[:1]


def test_the_spool_is_taken_once(tmp_path):
    spool = tmp_path / "responses.jsonl"
    assert dnstap.take_spool(spool) == []
    dnstap.append_spool(spool, [json.dumps({"n": 1}), json.dumps({"n": 2})])
    assert dnstap.take_spool(spool) == [{"n": 1}, {"n": 2}]
    assert dnstap.take_spool(spool) == []
    dnstap.append_spool(spool, [json.dumps({"n": 3})])
    assert dnstap.take_spool(spool) == [{"n": 3}]


VIEW = resolverlogs.View(
    vpc_id="vpc-0123",
    destinations=[resolverlogs.Destination("rslvr-qlc-1", "123456789012", "/hybridnet/x/resolver")],
    endpoint_ips={
        "10.0.1.250": ("rslvr-in-1", "rni-in1", "INBOUND"),
        "10.0.1.251": ("rslvr-out-1", "rni-out1", "OUTBOUND"),
    },
    rules={"anycompany.corp": "rslvr-out-1"},
    instances={"10.0.10.10": "i-web1"},
)


def facts(name: str, client: str = "10.0.10.10", server: str = "10.0.0.2", **extra) -> dict:
    return {
        "time": "2027-01-15T08:00:00.250Z",
        "query_address": client,
        "query_port": 40000,
        "response_address": server,
        "transport": "UDP",
        "rcode": "NOERROR",
        "name": name,
        "type": "A",
        "class": "IN",
        "answers": [{"Rdata": "10.0.10.10", "Type": "A", "Class": "IN"}],
        "answer_ttl": 300,
        "negative_ttl": None,
        **extra,
    }


def test_an_entry_has_the_fields_aws_documents():
    entry = resolverlogs.entry(VIEW, VIEW.destinations[0], "ap-northeast-2", facts("web1.awsanycompany.corp."))
    assert entry == {
        "version": "1.100000",
        "account_id": "123456789012",
        "region": "ap-northeast-2",
        "vpc_id": "vpc-0123",
        "query_timestamp": "2027-01-15T08:00:00Z",
        "query_name": "web1.awsanycompany.corp.",
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [{"Rdata": "10.0.10.10", "Type": "A", "Class": "IN"}],
        "srcaddr": "10.0.10.10",
        "srcport": "40000",
        "transport": "UDP",
        "srcids": {"instance": "i-web1"},
    }
    inbound = resolverlogs.srcids(VIEW, facts("web1.awsanycompany.corp.", client="192.168.2.250", server="10.0.1.250"))
    assert inbound == {"resolver_endpoint": "rslvr-in-1", "resolver_network_interface": "rni-in1"}
    forwarded = resolverlogs.srcids(VIEW, facts("websrv.anycompany.corp."), outbound_ip="10.0.1.251")
    assert forwarded == {
        "instance": "i-web1",
        "resolver_endpoint": "rslvr-out-1",
        "resolver_network_interface": "rni-out1",
    }
    assert resolverlogs.log_group_of("arn:aws:logs:r:1:log-group:/a/b:*") == "/a/b"
    # the lab's VPC host shares the Resolver's namespace: its queries leave from the Resolver's address
    lab_view = dataclasses.replace(VIEW, resolver_ips={"10.0.0.2", "10.0.1.250"})
    local = lab_view.as_aws_sees_it(facts("web1.awsanycompany.corp.", client="10.0.0.2"))
    assert local["query_address"] == "10.0.10.10"
    assert resolverlogs.srcids(lab_view, local) == {"instance": "i-web1"}
    assert lab_view.as_aws_sees_it(facts("x.", client="192.168.2.250"))["query_address"] == "192.168.2.250"


def test_what_the_resolver_would_answer_from_its_cache_is_not_logged_again():
    cache = resolverlogs.Cache()
    first = facts("web1.awsanycompany.corp.")
    later = {**first, "time": "2027-01-15T08:04:00.000Z"}  # within the 300 s TTL
    after = {**first, "time": "2027-01-15T08:06:00.000Z"}
    other_host = {**first, "query_address": "10.0.20.10"}
    assert [cache.answered_from_cache(f) for f in (first, later, other_host, after)] == [False, True, False, False]
    failing = facts("websrv.anycompany.corp.", rcode="SERVFAIL", answers=[], answer_ttl=None)
    assert [cache.answered_from_cache(failing) for _ in range(2)] == [False, False]  # SERVFAIL is never cached


class FakeLogs:
    class exceptions:
        ResourceAlreadyExistsException = type("ResourceAlreadyExistsException", (Exception,), {})

    def __init__(self):
        self.events: list[tuple[str, str, dict]] = []
        self.fail = False

    def create_log_stream(self, logGroupName, logStreamName):
        pass

    def put_log_events(self, logGroupName, logStreamName, logEvents):
        if self.fail:
            raise ConnectionError("the emulator is restarting")
        self.events += [(logGroupName, logStreamName, e) for e in logEvents]


class FakeCtx:
    def __init__(self):
        self.logs = FakeLogs()
        self.params = type("P", (), {"region": "ap-northeast-2"})()

    def client(self, service):
        assert service == "logs"
        return self.logs


def test_the_shipper_writes_each_query_once_and_only_for_a_logged_vpc(tmp_path, monkeypatch):
    from hybridnet import dataplane

    ns = dataplane.DNS_DAEMONS["resolver"][1]
    spool = resolverlogs.spool_path(tmp_path, ns)
    spool.parent.mkdir()
    views = [VIEW]
    monkeypatch.setattr(resolverlogs, "read_view", lambda ctx: views[0])
    ctx, shipper = FakeCtx(), resolverlogs.Shipper()
    dnstap.append_spool(
        spool,
        [
            json.dumps(facts("web1.awsanycompany.corp.")),
            json.dumps(facts("nope.awsanycompany.corp.", rcode="NXDOMAIN", answers=[])),
        ],
    )
    ctx.logs.fail = True
    try:
        shipper.tick(ctx, tmp_path)
    except ConnectionError:
        pass
    assert ctx.logs.events == [] and dnstap.take_spool(spool) == []  # taken: waiting in memory
    ctx.logs.fail = False
    assert shipper.tick(ctx, tmp_path) == 2  # written at the next tick, once
    assert shipper.tick(ctx, tmp_path) == 0
    assert {(g, s) for g, s, _ in ctx.logs.events} == {("/hybridnet/x/resolver", "vpc-0123_rslvr-qlc-1")}
    assert [json.loads(e["message"])["rcode"] for _, _, e in ctx.logs.events] == ["NOERROR", "NXDOMAIN"]
    assert ctx.logs.events[0][2]["timestamp"] == int(
        dt.datetime(2027, 1, 15, 8, 0, 0, 250000, tzinfo=dt.UTC).timestamp() * 1000
    )
    # no ACTIVE association: those queries are not logged, later or ever
    views[0] = resolverlogs.View("vpc-0123", [], {}, {}, {})
    shipper.view = None
    dnstap.append_spool(spool, [json.dumps(facts("web2.awsanycompany.corp."))])
    assert shipper.tick(ctx, tmp_path) == 0
    views[0] = VIEW
    shipper.view = None
    assert shipper.tick(ctx, tmp_path) == 0 and len(ctx.logs.events) == 2
