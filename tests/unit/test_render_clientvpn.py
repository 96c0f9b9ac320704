"""The remote user's Client VPN try (render/clientvpn.py): the commands carry no
key, bad input is refused, and the script, run here as SSM Agent runs it with a
fake openvpn and a fake aws, reports each outcome and removes the keyed profile."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hybridnet.render.client_vpn import KEY_PLACEHOLDER, Check, key_parameter_name, parse_output, try_commands

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nfakekeyfortests\n-----END PRIVATE KEY-----"
PROFILE = (
    "client\ndev tun\nproto udp\nremote cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-1."
    "amazonaws.com 443\n<ca>\nCA\n</ca>\n<cert>\nCERT\n</cert>\n"
    f"<key>\n{KEY_PLACEHOLDER}\n</key>\n"
)
PARAMETER = "/hybridnet/unittest/client-vpn/client1.hybridnet.lab/private-key"
REGION = "eu-west-1"
ENDPOINT = "cvpn-endpoint-0123456789abcdef0"

# What the fake openvpn does, by test: write its log as OpenVPN 2.6 does, then wait or exit.
CONNECTS = """
printf '%s\\n' 'TUN/TAP device tun9 opened' 'Initialization Sequence Completed' >> "$log"
cp "$config" "$(dirname "$0")/../config-seen"
trap 'echo terminated > "$(dirname "$0")/../openvpn-stopped"; exit 0' TERM
while :; do sleep 0.05; done
"""
REFUSED = """
printf '%s\\n' 'AUTH: Received control message: AUTH_FAILED,Not allowed from this address' >> "$log"
exec sleep 5
"""
TLS_FAILS = """
printf '%s\\n' 'VERIFY ERROR: depth=0, error=certificate has expired' >> "$log"
exit 1
"""


class Host:
    """A temp dir standing in for the remote machine: bin/ first on PATH."""

    def __init__(self, base: Path, openvpn: str | None, aws_fails: bool = False):
        self.base, self.bin = base, base / "bin"
        self.bin.mkdir()
        self.workdir = base / "var" / "lib" / "hybridnet" / "clientvpn"
        if openvpn is not None:
            self.write(
                "openvpn",
                f"""#!/bin/bash
while [ $# -gt 0 ]; do case "$1" in --config) config=$2; shift ;; --log) log=$2; shift ;; esac; shift; done
{openvpn}""",
            )
        answer = (
            "echo 'An error occurred (ParameterNotFound) when calling the GetParameter operation:' >&2; exit 254"
            if aws_fails
            else f"printf '%s\\n' '{KEY}'"
        )
        self.write("aws", f'#!/bin/sh\necho "$*" >> {base}/aws-argv\n{answer}\n')

    def write(self, name: str, text: str) -> None:
        (self.bin / name).write_text(text)
        (self.bin / name).chmod(0o755)

    def run(self, commands: list[str]) -> subprocess.CompletedProcess:
        """As SSM Agent runs AWS-RunShellScript: the commands joined into a script run by sh."""
        script = self.base / "_script.sh"
        script.write_text("\n".join(commands) + "\n")
        script.chmod(0o700)
        # Not /usr/sbin, where this machine's own openvpn may be: bin/ has the fake one or none.
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.base)}
        return subprocess.run(
            ["sh", "-c", str(script)], capture_output=True, text=True, env=env, timeout=60, cwd=self.base
        )


def commands_for(host: Host, checks=(), timeout_s: int = 3) -> list[str]:
    return try_commands(PROFILE, PARAMETER, REGION, ENDPOINT, checks, timeout_s=timeout_s, workdir=str(host.workdir))


def test_the_commands_carry_the_profile_but_no_key(tmp_path):
    commands = commands_for(Host(tmp_path, CONNECTS))
    text = "\n".join(commands)
    assert "PRIVATE KEY" not in text and "fakekeyfortests" not in text
    assert commands[-1] == f"exec bash {tmp_path}/var/lib/hybridnet/clientvpn.sh"


def test_a_connected_try_reports_checks_and_removes_the_keyed_profile(tmp_path):
    host = Host(tmp_path, CONNECTS)
    done = host.run(commands_for(host, [Check("ping loopback", "127.0.0.1")]))
    assert done.returncode == 0, done.stderr
    said = parse_output(done.stdout)
    assert said.outcome == "connected" and said.message == ""
    assert said.seconds is not None and 0 <= said.seconds < 3
    assert said.checks == [{"check": "ping loopback", "target": "127.0.0.1", "ok": True, "detail": "3/3 replies"}]
    # OpenVPN got the key in its profile; the script stopped it and removed the profile.
    seen = (tmp_path / "config-seen").read_text()
    assert KEY in seen and KEY_PLACEHOLDER not in seen
    assert (tmp_path / "openvpn-stopped").read_text().strip() == "terminated"
    assert not any(p.name.startswith("profile") for p in host.workdir.iterdir())
    assert oct(host.workdir.stat().st_mode & 0o777) == "0o700"
    argv = (tmp_path / "aws-argv").read_text()
    assert f"--name {PARAMETER}" in argv and "--with-decryption" in argv and KEY not in argv


def test_a_refusal_carries_what_the_client_was_told(tmp_path):
    host = Host(tmp_path, REFUSED)
    said = parse_output(host.run(commands_for(host, [Check("ping loopback", "127.0.0.1")])).stdout)
    assert (said.outcome, said.message, said.client_ip) == ("refused", "Not allowed from this address", None)
    assert said.checks == []  # nothing is tried through a tunnel that is not there


def test_a_client_that_exits_says_why(tmp_path):
    host = Host(tmp_path, TLS_FAILS)
    said = parse_output(host.run(commands_for(host)).stdout)
    assert said.outcome == "exited"
    assert "certificate has expired" in said.message


def test_no_answer_within_the_timeout(tmp_path):
    host = Host(tmp_path, "exec sleep 30")
    said = parse_output(host.run(commands_for(host, timeout_s=1)).stdout)
    assert (said.outcome, said.message) == ("no answer", "not connected within 1 s")


def test_no_openvpn_says_what_to_install(tmp_path):
    host = Host(tmp_path, None)
    done = host.run(commands_for(host))
    said = parse_output(done.stdout)
    assert done.returncode == 3 and said.outcome == "missing" and "install OpenVPN 2.6" in said.message


def test_a_key_that_cannot_be_read_names_the_parameter_and_the_fix(tmp_path):
    host = Host(tmp_path, CONNECTS, aws_fails=True)
    done = host.run(commands_for(host))
    said = parse_output(done.stdout)
    assert done.returncode == 3 and said.outcome == "missing"
    assert PARAMETER in said.message and "ParameterNotFound" in said.message and "kms:Decrypt" in said.message
    assert not (tmp_path / "config-seen").exists()  # OpenVPN never started


@pytest.mark.parametrize(
    "change, error",
    [
        ({"profile": PROFILE.replace(KEY_PLACEHOLDER, "x")}, "exactly once"),
        ({"profile": PROFILE.replace(KEY_PLACEHOLDER, KEY_PLACEHOLDER + "\n" + KEY)}, "holds a private key"),
        ({"region": "Europe"}, "region 'Europe'"),
        ({"key_parameter": "/hybridnet/bad name"}, "bad name"),
        ({"checks": [Check("ping", "10.0.0.300")]}, "10.0.0.300"),
        ({"checks": [Check("resolve", "10.0.0.2", "bad name!", "10.0.0.1")]}, "not a DNS name"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_bad_input_is_refused_naming_it(change, error):
    args = {
        "profile": PROFILE,
        "key_parameter": PARAMETER,
        "region": REGION,
        "endpoint": ENDPOINT,
        "checks": [],
        **change,
    }
    with pytest.raises(ValueError, match=error):
        try_commands(**args)


def test_key_parameter_name():
    assert (
        key_parameter_name("anycompany", "client1.hybridnet.lab")
        == "/hybridnet/anycompany/client-vpn/client1.hybridnet.lab/private-key"
    )
    with pytest.raises(ValueError, match="client name"):
        key_parameter_name("anycompany", "client one")


def test_output_without_a_record_is_no_output():
    assert parse_output("something else\n").outcome == "no output"
