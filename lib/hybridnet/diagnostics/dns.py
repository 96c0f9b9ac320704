"""DNS resolution matrix: ask each name at each server, compare with what is expected.

A :class:`Probe` is one question: from which side (a label such as
"on-prem client" or "VPC host"), to which server, which name and type, and
what the answer should be (a list of values, an rcode such as "NXDOMAIN", or
None for "any answer"). :func:`probe_matrix` asks all of them concurrently
with dnspython's asyncio query functions (one UDP query per probe, over TCP
again when the answer is truncated, each bounded by `timeout`, at most
`concurrency` at a time) and returns one DataFrame row per probe::

    side, server, name, type, answer, rcode, latency_ms, expected, ok, detail

``rcode`` is the DNS rcode (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...) or
TIMEOUT (no answer within `timeout`), UNREACHABLE (no route, port closed:
the kernel said so at once) or ERROR (a malformed or mismatched answer,
a local error such as a source IP not on this host). Network errors are rows,
never exceptions.

Asking from inside a lab namespace: the probe code runs in this process's
network namespace, so a probe with ``netns="hn-idc"`` is asked by a child
``ip netns exec hn-idc <python> -m hybridnet.diagnostics.dns --json`` (JSON
on stdin/stdout; :func:`probe_matrix_in_netns` does one namespace), and the
rows come back in the original order. That needs root.

Works inside Jupyter (which already runs an event loop): the queries then
run on a loop of their own in a worker thread.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import errno
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pandas as pd

COLUMNS = ["side", "server", "name", "type", "answer", "rcode", "latency_ms", "expected", "ok", "detail"]
DEFAULT_TIMEOUT = 2.0
DEFAULT_CONCURRENCY = 64
TIMEOUT = "TIMEOUT"
UNREACHABLE = "UNREACHABLE"
ERROR = "ERROR"
NODATA = "NODATA"  # as an expectation: NOERROR with an empty answer
NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.EHOSTDOWN,
    errno.ENETDOWN,
    errno.EPERM,
}  # EPERM: a firewall rule rejected the packet
_RCODE_WORDS = {TIMEOUT, UNREACHABLE, ERROR, NODATA} | {dns.rcode.to_text(r) for r in dns.rcode.Rcode}


class ProbeError(RuntimeError):
    """The probes could not be run at all (e.g. no such namespace); not a DNS failure."""


@dataclasses.dataclass(frozen=True)
class Probe:
    """One question: ask `server` for `qname`/`qtype`, from `side`.

    * `expected`: a list of values (IPs for A/AAAA; names for CNAME/NS/PTR;
      as dig prints them otherwise; one IP may be given alone), an rcode word ("NXDOMAIN", "SERVFAIL",
      "REFUSED", "TIMEOUT", "NODATA" = NOERROR with no answer), or None for
      "any non-empty NOERROR answer".
    * `source`: the local address to send from (e.g. a client's own IP).
    * `netns`: the network namespace to ask from (None: this process's).
    """

    side: str
    server: str
    qname: str
    qtype: str = "A"
    expected: tuple[str, ...] | str | None = None
    source: str | None = None
    netns: str | None = None
    port: int = 53

    def __post_init__(self) -> None:
        for field, value in (("server", self.server), ("source", self.source)):
            if value is not None and (not isinstance(value, str) or not _is_ip(value)):
                raise ValueError(f"Probe.{field}: {value!r} is not an IP address")
        try:
            dns.name.from_text(self.qname)
            rtype = dns.rdatatype.from_text(str(self.qtype).upper())
        except (dns.exception.DNSException, ValueError) as exc:
            raise ValueError(f"Probe.qname/qtype: {self.qname!r} {self.qtype!r}: {exc}") from None
        object.__setattr__(self, "qtype", dns.rdatatype.to_text(rtype))
        if isinstance(self.expected, str) and _is_ip(self.expected):
            object.__setattr__(self, "expected", (self.expected,))  # one address
        elif isinstance(self.expected, str):
            word = self.expected.upper()
            if word not in _RCODE_WORDS:
                raise ValueError(
                    f"Probe.expected: {self.expected!r} is not an rcode; give a list of values "
                    f"or one of {', '.join(sorted(_RCODE_WORDS))}"
                )
            object.__setattr__(self, "expected", word)
        elif self.expected is not None:
            if not isinstance(self.expected, Iterable):
                raise ValueError(f"Probe.expected: {self.expected!r} is neither a list of values nor an rcode")
            object.__setattr__(self, "expected", tuple(str(v) for v in self.expected))
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"Probe.port: {self.port!r} is not 1-65535")
        if self.netns is not None and (not self.netns or "/" in self.netns or self.netns.startswith(".")):
            raise ValueError(f"Probe.netns: {self.netns!r} is not a network namespace name")

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["expected"] = list(self.expected) if isinstance(self.expected, tuple) else self.expected
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Probe:
        return cls(**data)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


# --- comparing ------------------------------------------------------------------------


def _norm(value: str, qtype: str) -> str:
    text = value.strip()
    if qtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    return text.lower().rstrip(".")


def _sort_key(value: str) -> tuple:
    try:
        ip = ipaddress.ip_address(value)
        return (0, ip.version, int(ip))
    except ValueError:
        return (1, 0, value)


def expected_text(expected: tuple[str, ...] | str | None) -> str:
    if expected is None:
        return "(any answer)"
    if isinstance(expected, str):
        return expected
    return ",".join(sorted(expected, key=_sort_key))


def is_ok(probe: Probe, rcode: str, answer: Sequence[str]) -> bool:
    expected = probe.expected
    if expected is None:
        return rcode == "NOERROR" and bool(answer)
    if isinstance(expected, str):
        if expected == NODATA:
            return rcode == "NOERROR" and not answer
        return rcode == expected
    return rcode == "NOERROR" and sorted(_norm(v, probe.qtype) for v in answer) == sorted(
        _norm(v, probe.qtype) for v in expected
    )


# --- asking ----------------------------------------------------------------------------


def _answer_values(response: dns.message.Message, qtype: str) -> list[str]:
    rdtype = dns.rdatatype.from_text(qtype)
    values = [rdata.to_text() for rrset in response.answer if rrset.rdtype == rdtype for rdata in rrset]
    return sorted(values, key=_sort_key)


async def _ask(probe: Probe, timeout: float) -> tuple[str, list[str], str]:
    """(rcode, answer values, detail) for one probe; never raises for network trouble."""
    query = dns.message.make_query(probe.qname, probe.qtype)
    deadline = time.monotonic() + timeout
    backend = dns.asyncbackend.get_backend("asyncio")
    af = dns.inet.af_for_address(probe.server)
    source = (probe.source, 0) if probe.source else None
    try:
        # A connected socket, so that "port unreachable" / "no route" come back at once.
        sock = await backend.make_socket(af, socket.SOCK_DGRAM, 0, source, (probe.server, probe.port))
        async with sock:
            response = await dns.asyncquery.udp(
                query,
                probe.server,
                timeout=max(0.0, deadline - time.monotonic()),
                port=probe.port,
                sock=sock,
                ignore_unexpected=True,
            )
        if response.flags & dns.flags.TC:
            response = await dns.asyncquery.tcp(
                query, probe.server, timeout=max(0.0, deadline - time.monotonic()), port=probe.port, source=probe.source
            )
    except dns.exception.Timeout:
        return TIMEOUT, [], f"no answer within {timeout:g} s"
    except OSError as exc:
        code = getattr(exc, "errno", None)
        text = os.strerror(code) if code else str(exc) or type(exc).__name__
        if code in NETWORK_ERRNOS or isinstance(exc, ConnectionError):
            return UNREACHABLE, [], text
        return ERROR, [], f"{type(exc).__name__}: {text}"
    except (dns.exception.DNSException, EOFError, ValueError) as exc:
        return ERROR, [], f"{type(exc).__name__}: {exc}"
    return dns.rcode.to_text(response.rcode()), _answer_values(response, probe.qtype), ""


async def _row(probe: Probe, timeout: float, gate: asyncio.Semaphore) -> dict[str, Any]:
    async with gate:
        start = time.perf_counter()
        try:
            rcode, answer, detail = await asyncio.wait_for(_ask(probe, timeout), timeout + 1.0)
        except TimeoutError:
            rcode, answer, detail = TIMEOUT, [], f"no answer within {timeout:g} s"
        latency = (time.perf_counter() - start) * 1000.0
    return {
        "side": probe.side,
        "server": probe.server,
        "name": probe.qname,
        "type": probe.qtype,
        "answer": ",".join(answer),
        "rcode": rcode,
        "latency_ms": round(latency, 1),
        "expected": expected_text(probe.expected),
        "ok": is_ok(probe, rcode, answer),
        "detail": detail,
    }


async def aprobe_rows(
    probes: Sequence[Probe], timeout: float = DEFAULT_TIMEOUT, concurrency: int = DEFAULT_CONCURRENCY
) -> list[dict[str, Any]]:
    """The rows for `probes`, asked from this process's namespace (coroutine)."""
    gate = asyncio.Semaphore(max(1, int(concurrency)))
    return list(await asyncio.gather(*(_row(p, timeout, gate) for p in probes)))


def _run_coroutine(make: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Jupyter: a loop already runs here
        return pool.submit(lambda: asyncio.run(make())).result()


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["ok"] = df["ok"].astype(bool)
    df["latency_ms"] = df["latency_ms"].astype(float)
    return df


def probe_matrix(
    probes: Sequence[Probe], timeout: float = DEFAULT_TIMEOUT, concurrency: int = DEFAULT_CONCURRENCY
) -> pd.DataFrame:
    """Ask every probe (concurrently) and return one row per probe, in order.

    Probes with a `netns` are asked from inside that namespace (one child
    process per namespace, see :func:`probe_matrix_in_netns`), the others
    from here. `timeout` bounds each query; `concurrency` bounds the queries
    in flight per namespace.
    """
    probes = list(probes)
    if timeout <= 0:
        raise ValueError(f"timeout: {timeout!r} must be > 0 seconds")
    groups: dict[str | None, list[int]] = {}
    for i, probe in enumerate(probes):
        groups.setdefault(probe.netns, []).append(i)
    rows: list[dict[str, Any] | None] = [None] * len(probes)

    def run_group(ns: str | None, indexes: list[int]) -> None:
        group = [probes[i] for i in indexes]
        if ns is None:
            got = _run_coroutine(lambda: aprobe_rows(group, timeout, concurrency))
        else:
            got = _rows_in_netns(ns, group, timeout, concurrency)
        for i, row in zip(indexes, got):
            rows[i] = row

    if len(groups) == 1:
        ns, indexes = next(iter(groups.items()))
        run_group(ns, indexes)
    elif groups:
        with concurrent.futures.ThreadPoolExecutor(len(groups)) as pool:
            for future in [pool.submit(run_group, ns, idx) for ns, idx in groups.items()]:
                future.result()
    return _frame([r for r in rows if r is not None])


# --- inside a network namespace ------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    lib = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [lib, env.get("PYTHONPATH")]))
    return env


def _rows_in_netns(
    ns: str, probes: Sequence[Probe], timeout: float, concurrency: int, python: str | None = None
) -> list[dict[str, Any]]:
    payload = {
        "probes": [dataclasses.replace(p, netns=None).to_json() for p in probes],
        "timeout": timeout,
        "concurrency": concurrency,
    }
    waves = -(-len(probes) // max(1, int(concurrency))) if probes else 0
    budget = 30.0 + waves * (timeout + 1.0)
    cmd = ["ip", "netns", "exec", ns, python or sys.executable, "-m", "hybridnet.diagnostics.dns", "--json"]
    try:
        res = subprocess.run(
            cmd, input=json.dumps(payload), capture_output=True, text=True, timeout=budget, env=_child_env()
        )
    except FileNotFoundError as exc:
        raise ProbeError(f"cannot run probes in namespace {ns}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise ProbeError(f"probes in namespace {ns} did not finish within {budget:.0f} s") from None
    if res.returncode != 0:
        raise ProbeError(
            f"probes in namespace {ns} failed (exit {res.returncode}): {(res.stderr or res.stdout).strip()[-2000:]}"
        )
    try:
        rows = json.loads(res.stdout)["rows"]
    except (ValueError, KeyError, TypeError):
        raise ProbeError(f"probes in namespace {ns}: unreadable output {res.stdout[-500:]!r}") from None
    if len(rows) != len(probes):
        raise ProbeError(f"probes in namespace {ns}: {len(rows)} rows for {len(probes)} probes")
    return rows


def probe_matrix_in_netns(
    ns: str,
    probes: Sequence[Probe],
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    python: str | None = None,
) -> pd.DataFrame:
    """:func:`probe_matrix` for `probes` asked from inside network namespace `ns`.

    Runs ``ip netns exec NS PYTHON -m hybridnet.diagnostics.dns --json`` (needs
    root); raises :class:`ProbeError` when that cannot run at all (no such
    namespace, no permission), while DNS failures stay rows.
    """
    probes = [dataclasses.replace(p, netns=None) for p in probes]
    if timeout <= 0:
        raise ValueError(f"timeout: {timeout!r} must be > 0 seconds")
    return _frame(_rows_in_netns(ns, probes, timeout, concurrency, python))


# --- child side: python -m hybridnet.diagnostics.dns --json ------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hybridnet.diagnostics.dns",
        description="Ask DNS probes given as JSON on stdin ({probes: [...], timeout, concurrency}); "
        "print {rows: [...]} as JSON.",
    )
    parser.add_argument("--json", action="store_true", required=True, help="JSON on stdin and stdout")
    parser.parse_args(argv)
    try:
        payload = json.load(sys.stdin)
        probes = [Probe.from_json(p) for p in payload["probes"]]
        timeout = float(payload.get("timeout", DEFAULT_TIMEOUT))
        concurrency = int(payload.get("concurrency", DEFAULT_CONCURRENCY))
    except (ValueError, KeyError, TypeError) as exc:
        print(f"bad probe input: {exc}", file=sys.stderr)
        return 2
    if any(p.netns for p in probes):
        print("bad probe input: probes given to the child must not name a namespace", file=sys.stderr)
        return 2
    rows = asyncio.run(aprobe_rows(probes, timeout, concurrency))
    json.dump({"rows": rows}, sys.stdout)
    sys.stdout.write("\n")
    return 0


__all__ = [
    "COLUMNS",
    "Probe",
    "ProbeError",
    "aprobe_rows",
    "is_ok",
    "probe_matrix",
    "probe_matrix_in_netns",
]


if __name__ == "__main__":
    raise SystemExit(main())
