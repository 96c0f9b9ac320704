"""A Client VPN connection tried from a remote host, as an SSM Run Command.

Phases 4 and 5 send :func:`try_commands` to a remote worker's machine
(``hosts.remote_user``; offline, the lab's remote-user namespace): it runs
OpenVPN with the endpoint's client profile, checks what the tunnel reaches,
disconnects, and prints one record a line (see the template,
``templates/try-client-vpn.sh.j2``), which :func:`parse_output` reads back.

The profile travels without its private key: ``<key>`` holds
:data:`KEY_PLACEHOLDER`, and the script reads the key from a Parameter Store
SecureString (:func:`key_parameter_name`) with the host's instance profile,
as the router reads its pre-shared keys (hybridnet.render.apply). A
SendCommand's parameters stay in the account's command history; the key does
not.

Pure functions: nothing here calls AWS.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from hybridnet.render.apply import (
    REGION_NAME,
    SEND_COMMAND_MAX_PARAMETER_BYTES,
    WORKDIR_PATH,
    b64_lines,
    check_parameter_name,
    parameters_size,
)
from hybridnet.render.router import template_environment

KEY_PLACEHOLDER = "hybridnetClientKeyFromParameterStore"
DEFAULT_WORKDIR = "/var/lib/hybridnet/clientvpn"
SCRIPT = "try-client-vpn.sh"

_ENV = template_environment()
_NAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
)
_NAME_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Check:
    """One thing to try through the tunnel: ping `target`, or ask resolver `target`
    for `name` (A) and expect `expected` among the answers."""

    label: str
    target: str
    name: str = ""
    expected: str = ""

    @property
    def kind(self) -> str:
        return "resolve" if self.name else "ping"


def key_parameter_name(stack: str, client_name: str) -> str:
    """Where the client's private key waits: /hybridnet/<stack>/client-vpn/<client>/private-key."""
    for what, value in (("stack", stack), ("client name", client_name)):
        if not _NAME_PART.match(value):
            raise ValueError(f"{what} {value!r} cannot be part of a Parameter Store name (letters, digits, _ . -)")
    name = f"/hybridnet/{stack}/client-vpn/{client_name}/private-key"
    check_parameter_name(name)
    return name


def _check(checks: Sequence[Check]) -> None:
    for c in checks:
        if not c.label or any(ch in c.label for ch in "\t\r\n"):
            raise ValueError(f"check label {c.label!r}: one line, not empty")
        ipaddress.IPv4Address(c.target)  # raises ValueError naming the address
        if c.name and not _NAME.match(c.name):
            raise ValueError(f"check {c.label!r}: {c.name!r} is not a DNS name")
        if c.name:
            ipaddress.IPv4Address(c.expected)


def try_commands(
    profile: str,
    key_parameter: str,
    region: str,
    endpoint: str,
    checks: Sequence[Check] = (),
    timeout_s: int = 15,
    workdir: str = DEFAULT_WORKDIR,
) -> list[str]:
    """The ``commands`` of an ``AWS-RunShellScript`` SendCommand that tries the profile.

    ``profile``: the client profile with :data:`KEY_PLACEHOLDER` where the key
    goes (exactly once); ``key_parameter``: the SecureString holding the key, in
    ``region``; ``endpoint``: what the script's header names. Raises ValueError
    on bad input and when the commands would exceed what SendCommand takes.
    """
    if profile.count(KEY_PLACEHOLDER) != 1:
        raise ValueError(f"the profile must hold {KEY_PLACEHOLDER} exactly once, where its private key goes")
    if "PRIVATE KEY-----" in profile:
        raise ValueError("the profile holds a private key: send it with the placeholder instead")
    check_parameter_name(key_parameter)
    if not REGION_NAME.match(region):
        raise ValueError(f"region {region!r} is not a region name (e.g. ap-northeast-2)")
    if not WORKDIR_PATH.match(workdir) or workdir.count("/") < 2:
        raise ValueError(f"workdir {workdir!r}: an absolute path below a top-level folder, plain names only")
    if not 1 <= timeout_s <= 120:
        raise ValueError(f"timeout_s {timeout_s}: between 1 and 120 seconds")
    _check(checks)
    q = shlex.quote

    def quoted(c: Check) -> dict:
        return {"label": q(c.label), "target": q(c.target), "name": q(c.name), "expected": c.expected}

    script = _ENV.get_template(f"{SCRIPT}.j2").render(
        endpoint=endpoint,
        key_parameter=q(key_parameter),
        key_parameter_text=key_parameter,
        region=q(region),
        region_text=region,
        workdir=q(workdir),
        placeholder=KEY_PLACEHOLDER,
        timeout_s=timeout_s,
        profile_b64="\n".join(b64_lines(profile)),
        pings=[quoted(c) for c in checks if c.kind == "ping"],
        resolves=[quoted(c) for c in checks if c.kind == "resolve"],
    )
    path = f"{workdir}.sh"
    commands = [
        "set -eu",
        "umask 077",
        f"mkdir -p -- {q(workdir.rsplit('/', 1)[0])}",
        f"base64 -d > {q(path)} <<'HYBRIDNET_SCRIPT_EOF'",
        *b64_lines(script),
        "HYBRIDNET_SCRIPT_EOF",
        f"exec bash {q(path)}",
    ]
    size = parameters_size(commands)
    if size > SEND_COMMAND_MAX_PARAMETER_BYTES:
        raise ValueError(f"the commands take {size} bytes; SendCommand takes {SEND_COMMAND_MAX_PARAMETER_BYTES}")
    return commands


@dataclass
class TryOutcome:
    """What the host's OpenVPN run said (plain data)."""

    outcome: str  # connected | refused | exited | no answer | missing | no output
    client_ip: str | None
    seconds: float | None
    message: str
    checks: list[dict]

    @property
    def connected(self) -> bool:
        return self.outcome == "connected"


def parse_output(stdout: str) -> TryOutcome:
    """The script's records; a run that printed none is "no output" (the command's
    own status says why)."""
    outcome = TryOutcome("no output", None, None, "the script printed no result", [])
    for line in stdout.splitlines():
        fields = line.split("\t")
        if fields[0] == "connect" and len(fields) == 5:
            _, what, client_ip, seconds, message = fields
            outcome.outcome, outcome.message = what, message
            outcome.client_ip = None if client_ip == "-" else client_ip
            try:
                outcome.seconds = float(seconds)
            except ValueError:
                outcome.seconds = None
        elif fields[0] == "check" and len(fields) == 5:
            _, what, target, ok, detail = fields
            outcome.checks.append({"check": what, "target": target, "ok": ok == "ok", "detail": detail})
    return outcome


__all__ = [
    "Check",
    "DEFAULT_WORKDIR",
    "KEY_PLACEHOLDER",
    "TryOutcome",
    "key_parameter_name",
    "parse_output",
    "try_commands",
]
