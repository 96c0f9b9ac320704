"""DNS questions asked on hosts: the script sent, dig's YAML read back, rows judged."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

from hybridnet.diagnostics import hostdns
from hybridnet.diagnostics.dns import COLUMNS, Probe
from hybridnet.hosts import HostCommand

DIG = Path(__file__).resolve().parents[1] / "fixtures" / "dig"


def recorded(*names: str) -> str:
    return "".join(f"{hostdns.MARK}{i}\n{(DIG / f'{n}.yaml').read_text()}" for i, n in enumerate(names))


class Plane:
    """Answers run_many from recorded outputs, as a data plane would."""

    name = "recorded"

    def __init__(self, outputs: dict[str, HostCommand]):
        self.outputs, self.asked = outputs, {}

    def run_many(self, commands, timeout=60):
        self.asked = dict(commands)
        return {role: self.outputs[role] for role in commands}


def done(role: str, stdout: str, status: str = "Success", reason: str = "") -> HostCommand:
    return HostCommand(
        role,
        "seed-x",
        "i-0123456789abcdef0",
        status,
        0 if status == "Success" else None,
        stdout,
        "",
        reason or f"{role}: exit 0",
    )


QUESTIONS = [
    hostdns.HostProbe(Probe("on-prem client", "192.168.2.250", "web1.awsanycompany.corp", expected=["10.0.10.10"])),
    hostdns.HostProbe(
        Probe("on-prem client", "192.168.2.250", "does-not-exist.awsanycompany.corp", expected="NXDOMAIN")
    ),
    hostdns.HostProbe(
        Probe("inbound endpoint 10.0.1.250", "10.0.1.250", "web1.awsanycompany.corp", expected=["10.0.10.10"]),
        via_resolver=False,
    ),
]


def test_the_script_asks_the_hosts_resolver_or_a_named_server_and_is_valid_shell():
    lines = hostdns.script(QUESTIONS, timeout=2.0)
    assert "dig +yaml +tries=1 +time=2 web1.awsanycompany.corp A" in lines[1]
    assert "@10.0.1.250 -p 53" in lines[3] and "@" not in lines[1]
    assert lines[0].startswith("command -v dig")
    assert subprocess.run(["bash", "-n"], input="\n".join(lines), text=True).returncode == 0


def test_recorded_answers_become_matrix_rows():
    plane = Plane({"onprem_client": done("onprem_client", recorded("noerror", "nxdomain", "timeout"))})
    frame = hostdns.matrix(plane, {"onprem_client": QUESTIONS})
    assert list(frame.columns) == COLUMNS
    assert frame[["server", "answer", "rcode", "ok"]].values.tolist() == [
        ["192.168.2.250", "10.0.10.10", "NOERROR", True],
        ["192.168.2.250", "", "NXDOMAIN", True],
        ["10.0.1.250", "", "TIMEOUT", False],
    ]
    assert frame["latency_ms"].tolist()[:2] == [8.0, 3.0]
    assert math.isnan(frame["latency_ms"][2]) and frame["detail"][2] == "dig: no servers could be reached"
    assert len(plane.asked["onprem_client"]) == 5  # the dig check, one line per question, exit 0


def test_a_wrong_answer_is_not_ok():
    wrong = [hostdns.HostProbe(Probe("VPC host", "10.0.0.2", "web1.awsanycompany.corp", expected=["10.0.10.99"]))]
    frame = hostdns.matrix(Plane({"vpc_client": done("vpc_client", recorded("noerror"))}), {"vpc_client": wrong})
    assert frame.loc[0, "answer"] == "10.0.10.10" and not frame.loc[0, "ok"]


def test_an_unreachable_host_fails_every_row_with_its_reason():
    why = "onprem_client i-0123456789abcdef0: SSM Agent has not checked in (PingStatus ConnectionLost): ..."
    plane = Plane({"onprem_client": done("onprem_client", "", status="Unreachable", reason=why)})
    frame = hostdns.matrix(plane, {"onprem_client": QUESTIONS})
    assert set(frame["rcode"]) == {"UNREACHABLE"} and set(frame["detail"]) == {why}
    assert not frame["ok"].any()


def test_a_host_without_dig_says_what_to_install():
    plane = Plane({"onprem_client": done("onprem_client", hostdns.NO_DIG + "\n")})
    frame = hostdns.matrix(plane, {"onprem_client": QUESTIONS[:1]})
    assert frame.loc[0, "rcode"] == "ERROR" and "install bind-utils" in frame.loc[0, "detail"]


def test_output_cut_short_is_an_error_row_not_a_guess():
    plane = Plane({"onprem_client": done("onprem_client", recorded("noerror"))})
    frame = hostdns.matrix(plane, {"onprem_client": QUESTIONS[:2]})
    assert frame["rcode"].tolist() == ["NOERROR", "ERROR"]
    assert "no answer for this question" in frame.loc[1, "detail"]
