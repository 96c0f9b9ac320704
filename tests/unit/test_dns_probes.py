"""DNS probe matrix against a small DNS server on 127.0.0.1 run by the test."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import matplotlib
import pandas as pd
import pytest
from hybridnet.diagnostics import dns as probes_mod
from hybridnet.diagnostics.charts_dns import COLOURS, cells, dns_matrix_chart
from hybridnet.diagnostics.dns import COLUMNS, Probe, ProbeError, probe_matrix, probe_matrix_in_netns
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

RECORDS = {
    ("web1.awsanycompany.corp", "A"): ["10.0.10.10"],
    ("web2.awsanycompany.corp", "A"): ["10.0.20.10"],
    ("websrv.anycompany.corp", "A"): ["192.168.2.20"],
    ("www.awsanycompany.corp", "CNAME"): ["web1.awsanycompany.corp."],
    ("big.test", "A"): [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(60)],  # > 512 bytes: truncated
}
RCODES = {"servfail.test": dns.rcode.SERVFAIL, "refused.test": dns.rcode.REFUSED}


class StubDns:
    """A tiny authoritative server (UDP + TCP on one port of 127.0.0.1) in its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sources: list[str] = []
        self.queries = 0
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(5), "stub DNS server did not start"

    def answer(self, wire: bytes, limit: int | None) -> bytes:
        query = dns.message.from_wire(wire)
        self.queries += 1
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rtype = dns.rdatatype.to_text(question.rdtype)
        if name in RCODES:
            response.set_rcode(RCODES[name])
        elif (name, rtype) in RECORDS:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rtype, RECORDS[(name, rtype)]))
        elif (name, "CNAME") in RECORDS:
            target = RECORDS[(name, "CNAME")][0]
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "CNAME", [target]))
            values = RECORDS.get((target.rstrip("."), rtype))
            if values:
                response.answer.append(dns.rrset.from_text_list(target, 60, "IN", rtype, values))
        elif not any(key[0] == name for key in RECORDS):
            response.set_rcode(dns.rcode.NXDOMAIN)
        wire_out = response.to_wire()
        if limit and len(wire_out) > limit:
            response.answer = []
            response.flags |= dns.flags.TC
            wire_out = response.to_wire()
        return wire_out

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        stub = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                stub.sources.append(addr[0])
                self.transport.sendto(stub.answer(data, 512), addr)

        async def tcp(reader, writer):
            try:
                length = int.from_bytes(await reader.readexactly(2), "big")
                out = stub.answer(await reader.readexactly(length), None)
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
            finally:
                writer.close()

        async def start():
            # the TCP listener first: its port is then free for UDP too (own sockets, same number)
            server = await asyncio.start_server(tcp, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            await self.loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", self.port))
            self.tcp_server = server

        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def server() -> Iterator[StubDns]:
    stub = StubDns()
    yield stub
    stub.close()


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A UDP port where a socket is bound but never answers (a hung server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def probe(server: StubDns, name: str, expected=None, qtype="A", side="on-prem client", **kw) -> Probe:
    return Probe(side, "127.0.0.1", name, qtype, expected=expected, port=server.port, **kw)


# --- answers ------------------------------------------------------------------------------


def test_expected_answer_is_ok(server):
    df = probe_matrix([probe(server, "web1.awsanycompany.corp", ["10.0.10.10"])])
    assert list(df.columns) == COLUMNS
    row = df.iloc[0]
    assert (row["side"], row["server"], row["name"], row["type"]) == (
        "on-prem client",
        "127.0.0.1",
        "web1.awsanycompany.corp",
        "A",
    )
    assert (row["answer"], row["rcode"], row["expected"], bool(row["ok"])) == (
        "10.0.10.10",
        "NOERROR",
        "10.0.10.10",
        True,
    )
    assert 0 < row["latency_ms"] < 1000
    assert df["ok"].dtype == bool and df["latency_ms"].dtype == float


def test_one_address_may_be_given_alone(server):
    assert probe(server, "web1.awsanycompany.corp", "10.0.10.10").expected == ("10.0.10.10",)
    assert probe(server, "web1.awsanycompany.corp", "nxdomain").expected == "NXDOMAIN"


def test_wrong_answer_is_not_ok(server):
    row = probe_matrix([probe(server, "web1.awsanycompany.corp", ["10.0.10.11"])]).iloc[0]
    assert (row["answer"], row["rcode"], bool(row["ok"])) == ("10.0.10.10", "NOERROR", False)


def test_nxdomain_expected_and_got(server):
    df = probe_matrix(
        [
            probe(server, "nope.awsanycompany.corp", "NXDOMAIN"),
            probe(server, "web2.awsanycompany.corp", "NXDOMAIN"),  # answered: not what was expected
            probe(server, "nope.awsanycompany.corp", ["10.0.10.10"]),  # NXDOMAIN where a record was expected
        ]
    )
    assert list(df["rcode"]) == ["NXDOMAIN", "NOERROR", "NXDOMAIN"]
    assert list(df["ok"]) == [True, False, False]
    assert list(df["expected"]) == ["NXDOMAIN", "NXDOMAIN", "10.0.10.10"]


def test_other_rcodes_and_expectations(server):
    df = probe_matrix(
        [
            probe(server, "servfail.test"),
            probe(server, "refused.test", "REFUSED"),
            probe(server, "web1.awsanycompany.corp", "NODATA", qtype="AAAA"),
            probe(server, "web1.awsanycompany.corp"),  # any answer
            probe(server, "www.awsanycompany.corp", ["10.0.10.10"]),  # through the CNAME
            probe(server, "www.awsanycompany.corp", ["web1.awsanycompany.corp"], qtype="CNAME"),
        ]
    )
    assert list(df["rcode"]) == ["SERVFAIL", "REFUSED", "NOERROR", "NOERROR", "NOERROR", "NOERROR"]
    assert list(df["ok"]) == [False, True, True, True, True, True]
    assert df.iloc[4]["answer"] == "10.0.10.10"
    assert df.iloc[5]["answer"] == "web1.awsanycompany.corp."


def test_truncated_answer_is_asked_again_over_tcp(server):
    row = probe_matrix([probe(server, "big.test", RECORDS[("big.test", "A")])]).iloc[0]
    assert row["ok"] and len(row["answer"].split(",")) == 60


def test_source_address(server):
    server.sources.clear()
    row = probe_matrix([probe(server, "web1.awsanycompany.corp", ["10.0.10.10"], source="127.0.0.2")]).iloc[0]
    assert row["ok"] and server.sources == ["127.0.0.2"]


def test_rows_keep_the_probes_order(server):
    names = [f"host{i}.awsanycompany.corp" for i in range(20)] + ["web1.awsanycompany.corp"]
    df = probe_matrix([probe(server, n) for n in names], concurrency=5)
    assert list(df["name"]) == names
    assert list(df["rcode"]) == ["NXDOMAIN"] * 20 + ["NOERROR"]


# --- failures are rows ----------------------------------------------------------------------


def test_dead_server_times_out_quickly(dead_port):
    start = time.monotonic()
    row = probe_matrix([Probe("VPC host", "127.0.0.1", "web1.awsanycompany.corp", port=dead_port)], timeout=0.3).iloc[0]
    elapsed = time.monotonic() - start
    assert (row["rcode"], row["answer"], bool(row["ok"])) == ("TIMEOUT", "", False)
    assert 250 <= row["latency_ms"] < 600 and elapsed < 1.0


def test_fifty_queries_to_a_dead_server_take_about_one_timeout(dead_port):
    timeout = 0.5
    # A full garbage collection of what earlier tests left in this process (about
    # 0.8 s after the emulator tests) must not land inside the measured queries.
    gc.collect()
    start = time.monotonic()
    df = probe_matrix(
        [Probe("VPC host", "127.0.0.1", f"h{i}.awsanycompany.corp", port=dead_port) for i in range(50)],
        timeout=timeout,
        concurrency=50,
    )
    elapsed = time.monotonic() - start
    assert (df["rcode"] == "TIMEOUT").all() and len(df) == 50
    assert elapsed < 2 * timeout, f"50 concurrent queries took {elapsed:.2f} s (timeout {timeout} s)"


def test_concurrency_bounds_queries_in_flight(dead_port):
    start = time.monotonic()
    probe_matrix([Probe("x", "127.0.0.1", f"h{i}.test", port=dead_port) for i in range(4)], timeout=0.2, concurrency=2)
    assert 0.35 < time.monotonic() - start < 1.5  # two waves of 0.2 s


def test_closed_port_is_unreachable_at_once(closed_port):
    row = probe_matrix([Probe("x", "127.0.0.1", "web1.awsanycompany.corp", port=closed_port)], timeout=2.0).iloc[0]
    assert row["rcode"] == "UNREACHABLE" and row["latency_ms"] < 500 and not row["ok"]
    assert "refused" in row["detail"].lower()


def test_source_not_on_this_host_is_an_error_row(server):
    row = probe_matrix([probe(server, "web1.awsanycompany.corp", source="10.255.255.254")]).iloc[0]
    assert row["rcode"] == "ERROR" and "Cannot assign requested address" in row["detail"]


def test_inside_a_running_event_loop(server):
    """Jupyter runs an event loop in the kernel's thread; probe_matrix still works there."""

    async def notebook_cell():
        return probe_matrix([probe(server, "web2.awsanycompany.corp", ["10.0.20.10"])])

    assert bool(asyncio.run(notebook_cell()).iloc[0]["ok"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"server": "dns.example"}, "Probe.server"),
        ({"source": "nowhere"}, "Probe.source"),
        ({"qtype": "BOGUS"}, "Probe.qname/qtype"),
        ({"expected": "MAYBE"}, "Probe.expected"),
        ({"port": 0}, "Probe.port"),
        ({"netns": "../etc"}, "Probe.netns"),
    ],
)
def test_bad_probe(kwargs, message):
    base = {"side": "x", "server": "127.0.0.1", "qname": "a.test"}
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        Probe(**{**base, **kwargs})


def test_json_round_trip_and_child_entry_point(server, monkeypatch, capsys):
    probes = [probe(server, "web1.awsanycompany.corp", ["10.0.10.10"]), probe(server, "nope.test", "NXDOMAIN")]
    assert [Probe.from_json(p.to_json()) for p in probes] == probes
    payload = json.dumps({"probes": [p.to_json() for p in probes], "timeout": 1.0, "concurrency": 4})
    monkeypatch.setattr(sys, "stdin", io.StringIO(payload))
    assert probes_mod.main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["rcode"], r["ok"]) for r in rows] == [("NOERROR", True), ("NXDOMAIN", True)]
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"probes": [{"side": "x"}]}'))
    assert probes_mod.main(["--json"]) == 2


def test_child_process_round_trip(server):
    """The command probe_matrix_in_netns runs, here without a namespace."""
    payload = json.dumps({"probes": [probe(server, "web1.awsanycompany.corp", ["10.0.10.10"]).to_json()]})
    res = subprocess.run(
        [sys.executable, "-m", "hybridnet.diagnostics.dns", "--json"],
        input=payload,
        capture_output=True,
        text=True,
        timeout=60,
        env=probes_mod._child_env(),
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["rows"][0]["ok"] is True


# --- in a network namespace (root) --------------------------------------------------------------


def test_probe_matrix_in_netns():
    """Inside a fresh namespace only lo exists: the same question is a row there too."""
    with tooling.private_netns() as ns:
        df = probe_matrix_in_netns(
            ns,
            [
                Probe("on-prem client", "127.0.0.1", "web1.awsanycompany.corp", expected=["10.0.10.10"], port=53),
                Probe("on-prem client", "10.0.1.250", "web1.awsanycompany.corp"),
            ],
            timeout=0.5,
        )
    assert list(df.columns) == COLUMNS
    assert list(df["rcode"]) == ["UNREACHABLE", "UNREACHABLE"]  # nothing listens; no route to 10.0.1.250
    assert "unreachable" in df.iloc[1]["detail"].lower()


def test_probe_matrix_mixes_namespaces_in_order(server):
    with tooling.private_netns() as ns:
        df = probe_matrix(
            [
                probe(server, "web1.awsanycompany.corp", ["10.0.10.10"]),
                Probe("in ns", "127.0.0.1", "web1.awsanycompany.corp", port=server.port, netns=ns),
                probe(server, "web2.awsanycompany.corp", ["10.0.20.10"]),
            ],
            timeout=0.5,
        )
    # the stub server listens in this namespace only: from inside `ns` the port is closed
    assert list(df["side"]) == ["on-prem client", "in ns", "on-prem client"]
    assert list(df["rcode"]) == ["NOERROR", "UNREACHABLE", "NOERROR"]


def test_missing_namespace_raises():
    tooling.require_root()
    with pytest.raises(ProbeError, match=f"{NS_PREFIX}dnstest-missing"):
        probe_matrix_in_netns(f"{NS_PREFIX}dnstest-missing", [Probe("x", "127.0.0.1", "a.test")], timeout=0.2)


# --- chart ----------------------------------------------------------------------------------------


def chart_frame() -> pd.DataFrame:
    rows = [
        ("on-prem client", "web1.awsanycompany.corp", "A", "10.0.10.10", "NOERROR", 3.2, True),
        ("on-prem client", "web2.awsanycompany.corp", "A", "10.0.99.9", "NOERROR", 4.0, False),
        ("on-prem client", "nope.awsanycompany.corp", "A", "", "NXDOMAIN", 2.0, True),
        ("VPC host", "web1.awsanycompany.corp", "A", "", "TIMEOUT", 2000.0, False),
        ("VPC host", "websrv.anycompany.corp", "A", "192.168.2.20", "NOERROR", 8.5, True),
        ("VPC host", "websrv.anycompany.corp", "A", "", "SERVFAIL", 1.0, False),  # a second server
    ]
    return pd.DataFrame(
        [
            {
                "side": s,
                "server": "127.0.0.1",
                "name": n,
                "type": t,
                "answer": a,
                "rcode": r,
                "latency_ms": lat,
                "expected": "",
                "ok": ok,
                "detail": "",
            }
            for s, n, t, a, r, lat, ok in rows
        ],
        columns=COLUMNS,
    )


def test_chart_cells_and_colours():
    fig = dns_matrix_chart(chart_frame())
    grid = {p.get_gid().split(":", 1)[1]: matplotlib.colors.to_hex(p.get_facecolor()) for p in cells(fig)}
    assert len(grid) == 4 * 2  # 4 names x 2 sides
    assert grid["web1.awsanycompany.corp|on-prem client"] == COLOURS["ok"]
    assert grid["web2.awsanycompany.corp|on-prem client"] == COLOURS["wrong answer"]
    assert grid["nope.awsanycompany.corp|on-prem client"] == COLOURS["ok"]
    assert grid["web1.awsanycompany.corp|VPC host"] == COLOURS["failed"]
    assert grid["websrv.anycompany.corp|VPC host"] == COLOURS["failed"]  # worst of its two servers
    assert grid["websrv.anycompany.corp|on-prem client"] == COLOURS["not asked"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "3 ms" in texts and "TIMEOUT" in texts and "SERVFAIL\n1/2 ok" in texts and "10.0.99.9\n4 ms" in texts
    fig.savefig(io.BytesIO(), format="png")


def test_chart_from_a_real_matrix(server, dead_port):
    df = probe_matrix(
        [
            probe(server, "web1.awsanycompany.corp", ["10.0.10.10"]),
            probe(server, "web1.awsanycompany.corp", ["10.0.10.10"], side="VPC host"),
            probe(server, "nope.awsanycompany.corp", "NXDOMAIN"),
            Probe("VPC host", "127.0.0.1", "nope.awsanycompany.corp", port=dead_port, expected="NXDOMAIN"),
        ],
        timeout=0.2,
    )
    fig = dns_matrix_chart(df)
    assert len(cells(fig)) == 2 * 2
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


def test_chart_of_nothing():
    fig = dns_matrix_chart(pd.DataFrame(columns=COLUMNS))
    assert cells(fig) == []
    fig.savefig(io.BytesIO(), format="png")
