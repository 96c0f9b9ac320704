"""DNS questions asked on the hosts themselves, through the data-plane seam.

The seed checks hybrid DNS by logging in to an IDC server and a VPC instance
and running ``nslookup``: the answer is what that host's own resolver
(/etc/resolv.conf) gives. Here the same happens through SSM Run Command: one
command per host runs ``dig +yaml`` once per question (BIND's dig prints its
answer as YAML, so nothing is scraped from free text) and the answers come
back as the matrix rows of :mod:`hybridnet.diagnostics.dns`::

    side, server, name, type, answer, rcode, latency_ms, expected, ok, detail

``server`` is the resolver that answered (from dig), ``latency_ms`` dig's own
query-to-response time. A probe whose ``server`` is not None and
``via_resolver`` is False is asked of that server directly (``dig @server``),
e.g. each Resolver inbound endpoint from the IDC. A host that cannot be
reached, or has no ``dig``, gives rows that say so and what to do; never an
exception.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import yaml

from .dns import COLUMNS, ERROR, TIMEOUT, UNREACHABLE, Probe, expected_text, is_ok

MARK = "### hybridnet question "
NO_DIG = "### hybridnet no dig"
INSTALL_DIG = (
    "dig is not installed on the host: install bind-utils (Amazon Linux, RHEL) or dnsutils "
    "(Debian, Ubuntu), then run the check again"
)


@dataclass(frozen=True)
class HostProbe:
    """A question asked on a host: through its own resolver, or of `probe.server` directly."""

    probe: Probe
    via_resolver: bool = True


def script(questions: Sequence[HostProbe], timeout: float = 2.0) -> list[str]:
    """The shell lines that ask every question on the host, one dig each."""
    lines = [f"command -v dig >/dev/null 2>&1 || {{ echo {shlex.quote(NO_DIG)}; exit 0; }}"]
    wait = max(1, int(round(timeout)))
    for number, question in enumerate(questions):
        p = question.probe
        server = [] if question.via_resolver else [f"@{p.server}", "-p", str(p.port)]
        argv = ["dig", "+yaml", "+tries=1", f"+time={wait}", *server, p.qname, p.qtype]
        lines.append(f"echo {shlex.quote(MARK + str(number))}; {shlex.join(argv)} 2>&1")
    # dig's exit status is the last question's (9: no reply); each answer is in
    # the output, so the command itself succeeded.
    lines.append("exit 0")
    return lines


def _latency_ms(message: dict) -> float:
    asked, answered = message.get("query_time"), message.get("response_time")
    if isinstance(asked, dt.datetime) and isinstance(answered, dt.datetime):
        return round((answered - asked).total_seconds() * 1000.0, 1)
    return float("nan")


def _answers(data: dict, qtype: str) -> list[str]:
    values = []
    for record in data.get("ANSWER_SECTION") or []:
        parts = str(record).split()
        # "web1.awsanycompany.corp. 300 IN A 10.0.10.10"
        if len(parts) >= 5 and parts[3].upper() == qtype:
            values.append(" ".join(parts[4:]))
    return values


def _error_rcode(text: str) -> str:
    lowered = text.lower()
    if "no servers could be reached" in lowered or "timed out" in lowered:
        return TIMEOUT
    if "refused" in lowered or "unreachable" in lowered:
        return UNREACHABLE
    return ERROR


def parse(output: str, count: int) -> list[dict]:
    """Per question: {server, answer, rcode, latency_ms, detail}, from the command's output."""
    chunks: dict[int, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith(MARK):
            current = int(line[len(MARK) :].strip())
            chunks[current] = []
        elif current is not None:
            chunks[current].append(line)
    out = []
    for number in range(count):
        lines = chunks.get(number)
        if lines is None:
            out.append(
                {
                    "server": "-",
                    "answer": [],
                    "rcode": ERROR,
                    "latency_ms": float("nan"),
                    "detail": "no answer for this question in the host's output (output cut short?)",
                }
            )
            continue
        text = "\n".join(lines)
        try:
            documents = yaml.safe_load(text) or []
        except yaml.YAMLError:
            documents = []
        message = next((d for d in documents if isinstance(d, dict) and d.get("type") == "MESSAGE"), None)
        if message is None:
            error = next((d for d in documents if isinstance(d, dict) and d.get("type") == "DIG_ERROR"), None)
            detail = str(error.get("message", "")).strip() if error else (text.strip()[-300:] or "no output")
            out.append(
                {
                    "server": "-",
                    "answer": [],
                    "rcode": _error_rcode(detail),
                    "latency_ms": float("nan"),
                    "detail": f"dig: {detail}",
                }
            )
            continue
        body = message.get("message") or {}
        data = body.get("response_message_data") or {}
        out.append(
            {
                "server": str(body.get("response_address", "-")),
                "answer": data,
                "rcode": str(data.get("status", ERROR)),
                "latency_ms": _latency_ms(body),
                "detail": "",
            }
        )
    return out


def matrix(plane, questions: Mapping[str, Sequence[HostProbe]], timeout: float = 2.0) -> pd.DataFrame:
    """Ask each host (role) its questions, all hosts at once; one row per question, in order."""
    scripts = {role: script(qs, timeout) for role, qs in questions.items() if qs}
    budget = int(30 + timeout * sum(len(qs) for qs in questions.values()))
    done = plane.run_many(scripts, timeout=budget)
    rows = []
    for role, asked in questions.items():
        command = done.get(role)
        answers: list[dict]
        if command is not None and command.ok and command.stdout.strip() == NO_DIG:
            answers = [
                {
                    "server": "-",
                    "answer": {},
                    "rcode": ERROR,
                    "latency_ms": float("nan"),
                    "detail": f"{role} {command.instance_id}: {INSTALL_DIG}",
                }
                for _ in asked
            ]
        elif command is not None and command.ok:
            answers = parse(command.stdout, len(asked))
        else:
            why = command.reason if command is not None else f"nothing was asked of {role}"
            answers = [
                {"server": "-", "answer": {}, "rcode": UNREACHABLE, "latency_ms": float("nan"), "detail": why}
                for _ in asked
            ]
        for question, got in zip(asked, answers):
            p = question.probe
            values = _answers(got["answer"], p.qtype) if isinstance(got["answer"], dict) else []
            server = got["server"] if got["server"] != "-" or question.via_resolver else p.server
            rows.append(
                {
                    "side": p.side,
                    "server": server,
                    "name": p.qname,
                    "type": p.qtype,
                    "answer": ",".join(values),
                    "rcode": got["rcode"],
                    "latency_ms": got["latency_ms"],
                    "expected": expected_text(p.expected),
                    "ok": is_ok(p, got["rcode"], values),
                    "detail": got["detail"],
                }
            )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"ok": bool, "latency_ms": float})
