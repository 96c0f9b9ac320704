"""Print how long the DNS probe matrix takes for 200 queries against a local server.

A small authoritative DNS server (dnspython + asyncio, UDP) runs in a child
process on 127.0.0.1; half of the 200 names exist (NOERROR with an address),
half do not (NXDOMAIN). Target: under 2 s with the default concurrency.

    .venv/bin/python bench/dns_probes.py [--queries 200] [--repeat 3] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rrset  # noqa: E402
from hybridnet.diagnostics.dns import DEFAULT_CONCURRENCY, Probe, probe_matrix  # noqa: E402

ZONE = "bench.test"
TARGET_S = 2.0


def _serve(conn) -> None:
    class Udp(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            name = query.question[0].name
            label = name.to_text().split(".")[0]
            if label.startswith("host") and int(label[4:]) % 2 == 0:
                n = int(label[4:])
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", f"10.9.{n // 250}.{n % 250 + 1}"))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.transport.sendto(response.to_wire(), addr)

    async def main():
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", 0))
        conn.send(transport.get_extra_info("sockname")[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def probes(port: int, count: int) -> list[Probe]:
    out = []
    for n in range(count):
        expected = [f"10.9.{n // 250}.{n % 250 + 1}"] if n % 2 == 0 else "NXDOMAIN"
        out.append(Probe("bench", "127.0.0.1", f"host{n}.{ZONE}", expected=expected, port=port))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    try:
        port = parent.recv()
        batch = probes(port, args.queries)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            df = probe_matrix(batch, timeout=2.0, concurrency=args.concurrency)
            times.append(time.perf_counter() - start)
            if not df["ok"].all():
                print(df[~df["ok"]].head().to_string())
                return 1
        sequential_start = time.perf_counter()
        probe_matrix(batch[:50], timeout=2.0, concurrency=1)
        sequential = (time.perf_counter() - sequential_start) / 50 * args.queries
    finally:
        server.terminate()
        server.join(5)
    best, median = min(times), statistics.median(times)
    print(
        f"{args.queries} queries, concurrency {args.concurrency}: median {median:.3f} s, best {best:.3f} s "
        f"({args.queries / median:.0f} queries/s); one at a time: ~{sequential:.2f} s "
        f"(target < {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'MISSED'})"
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
