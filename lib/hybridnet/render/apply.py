"""``router.apply``: a router target's files as an SSM Run Command, without its keys.

The files are rendered from :func:`with_placeholder_secrets`, so they hold a
placeholder (:func:`psk_placeholder`) where each tunnel's pre-shared key
goes; the keys themselves wait in Parameter Store as SecureStrings
(:func:`psk_parameter_name`). :func:`apply_commands` turns the files into the
``commands`` of an ``AWS-RunShellScript`` SendCommand: run on the router, they
read each key with the instance profile, put it where its placeholder is and
run the target's setup script. A SendCommand's parameters stay in the
account's command history; with this split they hold no key.

On the router (``workdir``, default ``/var/lib/hybridnet/router``, 0700 and
recreated on every run)::

    apply.sh                  the bash script below, written by the /bin/sh part
    <each file>               from base64, with its mode
    <script without .sh>.log  the setup script's output (no keys)
    .aws-stderr               the last failed ``aws ssm get-parameter``'s message

The files holding a placeholder get the keys substituted in place (bash
parameter expansion and ``printf`` into the file: builtins, so a key is never
on a process's argv, and never echoed), the setup script runs from the work
directory, and on exit, success or not, those files and ``.aws-stderr`` are
removed: the keys then live only where the setup script installed them. A
run killed outright (SIGKILL on a Run Command timeout) leaves them for the
next run, which starts by removing the whole work directory.

Output: one line on success; on failure one line naming the step (for a key
that cannot be read: the parameter and the fix) after the last lines of the
setup script's log when it was the script that failed.

Pure functions: nothing here calls AWS.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Mapping, Sequence

from pydantic import SecretStr

from hybridnet.render.router import RenderedFile
from hybridnet.vpnconfig import VpnConnectionConfig
from hybridnet.vpnrules import PSK_PATTERN, PSK_RULE, psk_problem

DEFAULT_WORKDIR = "/var/lib/hybridnet/router"

# An SSM document's content may not exceed 64 KB, "This quota also includes the
# content specified for input parameters at runtime" (AWS Systems Manager User
# Guide, "Creating SSM document content", documents-creating-content.md). The
# AWS-RunShellScript document itself is about 1.5 KB; keep 4,000 bytes for it
# and read KB as 1,000 bytes: the JSON of the parameters may take 60,000.
SSM_DOCUMENT_MAX_BYTES = 64_000
SEND_COMMAND_MAX_PARAMETER_BYTES = SSM_DOCUMENT_MAX_BYTES - 4_000

_PLACEHOLDER_PREFIX = "hybridnetPskTunnel"
_PLACEHOLDER_SUFFIX = "FromParameterStore"
_PLACEHOLDER_ANY = re.compile(rf"{_PLACEHOLDER_PREFIX}[0-9]+{_PLACEHOLDER_SUFFIX}")

# Parameter Store names: a-zA-Z0-9_.- and '/' for the hierarchy; at most 1011
# characters including the ARN before the name (arn:aws:ssm:REGION:ACCOUNT:parameter/,
# up to ~64); no "aws"/"ssm" prefix; at most 15 levels.
_PARAMETER_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
_PARAMETER_NAME = re.compile(r"^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_PARAMETER_NAME_MAX = 1011 - 64
_PARAMETER_LEVELS_MAX = 15

REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
WORKDIR_PATH = re.compile(r"^(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")
_SCRIPT_TARGET = re.compile(r"^setup-(?:router-)?([A-Za-z0-9_-]+)\.sh$")

_B64_EOF = "HYBRIDNET_B64_EOF"  # '_' is not in base64's alphabet: no base64 line can match
_APPLY_EOF = "HYBRIDNET_APPLY_EOF"
DEFAULT_TAG = "hybridnet router.apply"  # how its messages start


# --- placeholders and parameter names ------------------------------------------


def psk_placeholder(tunnel_number: int) -> str:
    """What stands for tunnel ``tunnel_number``'s pre-shared key in the rendered files.

    ``hybridnetPskTunnel1FromParameterStore``: a valid key by AWS's rule (so
    the renderers take it as they take a real key), 36 characters plus the
    digits, and no placeholder is a prefix of another (tunnel 1 vs 10).
    """
    if isinstance(tunnel_number, bool) or not isinstance(tunnel_number, int) or tunnel_number < 1:
        raise ValueError(f"tunnel number must be a positive integer, got {tunnel_number!r}")
    token = f"{_PLACEHOLDER_PREFIX}{tunnel_number}{_PLACEHOLDER_SUFFIX}"
    problem = psk_problem(token)
    if problem:
        raise ValueError(f"tunnel {tunnel_number}: no placeholder possible ({problem})")
    return token


def with_placeholder_secrets(cfg: VpnConnectionConfig) -> VpnConnectionConfig:
    """A copy of ``cfg`` whose tunnels' pre-shared keys are their placeholders."""
    tunnels = tuple(
        t.model_copy(update={"ike": t.ike.model_copy(update={"pre_shared_key": SecretStr(psk_placeholder(t.number))})})
        for t in cfg.tunnels
    )
    return cfg.model_copy(update={"tunnels": tunnels})


def psk_parameter_name(stack: str, vpn_connection_id: str, tunnel_number: int) -> str:
    """``/hybridnet/{stack}/{vpn_connection_id}/tunnel{n}/pre-shared-key``, checked
    against Parameter Store's naming rules."""
    for what, value in (("stack", stack), ("VPN connection id", vpn_connection_id)):
        if not isinstance(value, str) or not _PARAMETER_PART.match(value):
            raise ValueError(
                f"{what} {value!r} cannot be part of a Parameter Store name (letters, digits, '_', '.', '-' only)"
            )
    if isinstance(tunnel_number, bool) or not isinstance(tunnel_number, int) or tunnel_number < 1:
        raise ValueError(f"tunnel number must be a positive integer, got {tunnel_number!r}")
    name = f"/hybridnet/{stack}/{vpn_connection_id}/tunnel{tunnel_number}/pre-shared-key"
    check_parameter_name(name)
    return name


def check_parameter_name(name: str) -> None:
    if not isinstance(name, str) or not _PARAMETER_NAME.match(name):
        raise ValueError(f"{name!r} is not a Parameter Store name (letters, digits, '_', '.', '-', '/')")
    if name.lstrip("/").lower().startswith(("aws", "ssm")):
        raise ValueError(f"{name}: Parameter Store names cannot start with 'aws' or 'ssm'")
    if len(name) > _PARAMETER_NAME_MAX:
        raise ValueError(f"{name[:40]}...: longer than a Parameter Store name may be ({_PARAMETER_NAME_MAX})")
    if name.count("/") > _PARAMETER_LEVELS_MAX:
        raise ValueError(f"{name}: more than {_PARAMETER_LEVELS_MAX} levels of hierarchy")


# --- the commands ----------------------------------------------------------------


def parameters_size(commands: Sequence[str]) -> int:
    """Bytes of the SendCommand ``Parameters`` these commands make (as JSON, UTF-8)."""
    return len(json.dumps({"commands": list(commands)}).encode("utf-8"))


def _log_name(script: str) -> str:
    return f"{script.removesuffix('.sh')}.log"


def _target_name(script: str) -> str:
    m = _SCRIPT_TARGET.match(script)
    return m.group(1) if m else script


def _check_inputs(
    files: Sequence[RenderedFile], script: str, secrets: Mapping[str, str], region: str, workdir: str
) -> list[RenderedFile]:
    if not REGION_NAME.match(region or ""):
        raise ValueError(f"region {region!r} is not an AWS region name like us-east-1")
    if not WORKDIR_PATH.match(workdir or "") or workdir.count("/") < 3:
        raise ValueError(
            f"workdir {workdir!r} must be an absolute path at least three levels deep "
            "(letters, digits, '_', '.', '-'): each run removes and recreates it"
        )
    files = list(files)
    names = [f.name for f in files]
    for f in files:
        if not _FILE_NAME.match(f.name) or f.name in ("apply.sh", ".aws-stderr"):
            raise ValueError(f"file name {f.name!r} cannot be written to the work directory")
        if not 0 <= f.mode <= 0o777 or f.mode & 0o002:
            raise ValueError(f"{f.name}: mode {f.mode:#o} is not a private/plain file mode")
        if names.count(f.name) > 1:
            raise ValueError(f"{f.name} is given twice")
        if f.name == _log_name(script):
            raise ValueError(f"{f.name} clashes with the setup script's log")
    by_name = {f.name: f for f in files}
    if script not in by_name:
        raise ValueError(f"setup script {script!r} is not among the files ({', '.join(names) or 'none'})")
    if not by_name[script].mode & 0o100:
        raise ValueError(f"setup script {script} is not executable (mode {by_name[script].mode:#o})")
    for placeholder, parameter in secrets.items():
        if not isinstance(placeholder, str) or not PSK_PATTERN.match(placeholder):
            raise ValueError(f"a placeholder in secrets is not a token by the PSK rule ({PSK_RULE}): {placeholder!r}")
        check_parameter_name(parameter)
    for f in files:
        for token in sorted(set(_PLACEHOLDER_ANY.findall(f.content))):
            if token not in secrets:
                raise ValueError(
                    f"{f.name} holds the placeholder {token} but secrets names no parameter for it; "
                    "the router would get the placeholder as its key"
                )
    return files


def b64_lines(text: str) -> list[str]:
    """`text` (UTF-8) as base64 lines, for a here-document in a command."""
    return base64.encodebytes(text.encode("utf-8")).decode("ascii").splitlines()


def _bash_script(
    files: list[RenderedFile], script: str, secrets: Mapping[str, str], tag: str, region: str, workdir: str
) -> list[str]:
    q = shlex.quote
    used = [(ph, secrets[ph]) for ph in secrets if any(ph in f.content for f in files)]
    secret_files = [f.name for f in files if any(ph in f.content for ph, _ in used)]
    log = _log_name(script)
    fix = (
        f"the parameter must exist in {region} as a SecureString, the instance profile needs "
        "ssm:GetParameters on it and kms:Decrypt on its KMS key "
        "(alias/aws/ssm unless another was chosen), and the instance must reach "
        f"ssm.{region}.amazonaws.com (internet, NAT, or an ssm VPC interface endpoint)"
    )
    lines = [
        "set -euo pipefail",
        "export LC_ALL=C AWS_PAGER=''",
        'export PATH="$PATH:/usr/local/bin:/snap/bin"',
        "umask 077",
        f"dir={q(workdir)}",
        f"secret_files=({' '.join(q(n) for n in secret_files)})",
        f"psk_re={q(PSK_PATTERN.pattern)}",
        "step='start'",
        "reported=0",
        "cleanup() {",
        "    local rc=$? f",
        '    for f in "${secret_files[@]}" .aws-stderr; do',
        '        rm -f -- "$dir/$f"',
        "    done",
        '    if [ "$rc" -ne 0 ] && [ "$reported" = 0 ]; then',
        f'        echo "{tag}: failed at step: $step (exit $rc)" >&2',
        "    fi",
        '    exit "$rc"',
        "}",
        "trap cleanup EXIT",
        "trap 'exit 143' TERM INT HUP",
        'cd -- "$dir"',
    ]
    for f in files:
        lines += [
            f"step={q('write ' + f.name)}",
            f"base64 -d > {q(f.name)} <<'{_B64_EOF}'",
            *b64_lines(f.content),
            _B64_EOF,
            f"chmod {f.mode:04o} -- {q(f.name)}",
        ]
    if used:
        lines += [
            "step='find the aws CLI'",
            "if ! command -v aws >/dev/null 2>&1; then",
            f'    echo "{tag}: no aws CLI on the router to read the pre-shared keys from Parameter Store: '
            'install it (awscli, or AWS CLI v2)" >&2',
            "    reported=1",
            "    exit 3",
            "fi",
        ]
    # The last non-empty line of aws's complaint, on one line, without a trailing ':'.
    aws_reason = (
        "{ grep -v '^[[:space:]]*$' .aws-stderr || true; } "
        "| tail -n 1 | tr -s '[:space:]' ' ' | sed 's/[ :]*$//' | cut -c1-300"
    )
    if used:
        names = [parameter for _, parameter in used]
        where = f"{', '.join(names)} ({region})"
        lines += [
            f"step={q('read the pre-shared keys from Parameter Store')}",
            # One call for every tunnel (the CLI takes a second to start). AWS CLI v2
            # before 2.13 (Debian 12's) ignores AWS_ENDPOINT_URL: pass it where it is
            # set (an emulator, a VPC endpoint named by the caller), never otherwise.
            'if ! pairs="$(aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} ssm get-parameters '
            f"--region {q(region)} --names {' '.join(q(n) for n in names)} --with-decryption "
            "--query 'Parameters[*].[Name,Value]' --output text 2>.aws-stderr)\"; then",
            f'    why="$({aws_reason})"',
            f'    echo {q(f"{tag}: cannot read the SecureString parameter(s) {where}: ")}"${{why:-aws failed}}. '
            f'Fix: "{q(fix)} >&2',
            "    reported=1",
            "    exit 3",
            "fi",
            *[f"psk_{i}=''" for i in range(1, len(used) + 1)],
            "while IFS=$'\\t' read -r name value; do",
            '    case "$name" in',
            *[f"        {q(parameter)}) psk_{i}=$value ;;" for i, (_, parameter) in enumerate(used, start=1)],
            "    esac",
            'done <<< "$pairs"',
            "unset pairs value",
        ]
    for i, (_, parameter) in enumerate(used, start=1):
        where = f"{parameter} ({region})"
        cannot_read = f"{tag}: cannot read the SecureString parameter {where}: not found. Fix: "
        not_a_key = (
            f"{tag}: parameter {where} does not hold a pre-shared key by AWS rule (8-64 letters, "
            "digits, . or _, not starting with 0): put the tunnel key there as a SecureString"
        )
        lines += [
            f"step={q('check parameter ' + parameter)}",
            f'if [ -z "$psk_{i}" ]; then',
            f"    echo {q(cannot_read)}{q(fix)} >&2",
            "    reported=1",
            "    exit 3",
            "fi",
            f"if [[ ! $psk_{i} =~ $psk_re ]]; then",
            f"    echo {q(not_a_key)} >&2",
            "    reported=1",
            "    exit 3",
            "fi",
        ]
    for name in secret_files:
        f = next(f for f in files if f.name == name)
        subs = [(i, ph) for i, (ph, _) in enumerate(used, start=1) if ph in f.content]
        lines += [
            f"step={q('put the pre-shared keys into ' + name)}",
            f"IFS= read -r -d '' content < {q(name)} || true",
            *[f'content="${{content//{ph}/"$psk_{i}"}}"' for i, ph in subs],
            f"printf '%s' \"$content\" > {q(name)}",
        ]
    lines += [
        "unset content",
        f"step={q('run ' + script)}",
        f"if ! ./{q(script)} > {q(log)} 2>&1; then",
        f"    tail -n 20 -- {q(log)} >&2",
        f"    echo {q(tag + ': ' + script + ' failed; its output is in ' + workdir + '/' + log)} >&2",
        "    reported=1",
        "    exit 4",
        "fi",
        f"echo {q(tag + ': ' + script + ' done (output: ' + workdir + '/' + log + ')')}",
    ]
    return lines


def apply_commands(
    files: list[RenderedFile],
    script: str,
    secrets: dict[str, str],
    region: str,
    workdir: str = DEFAULT_WORKDIR,
    tag: str = DEFAULT_TAG,
) -> list[str]:
    """The ``commands`` of an ``AWS-RunShellScript`` SendCommand that applies a router target.

    ``files``: the target rendered from :func:`with_placeholder_secrets`;
    ``script``: the one of them to run (``setup-router-lab.sh``, ...);
    ``secrets``: placeholder -> Parameter Store name of the key it stands for;
    ``region``: where those parameters are. Every placeholder in the files
    must have its parameter. Raises ValueError on bad input and when the
    parameters would exceed what SendCommand takes.

    The commands run under the agent's /bin/sh (dash on Debian): they make
    ``workdir`` afresh (0700), write ``apply.sh`` there and run it with bash,
    which does the work (see the module docstring).
    """
    files = _check_inputs(files, script, secrets, region, workdir)
    q = shlex.quote
    body = _bash_script(files, script, secrets, tag, region, workdir)
    if any(line == _APPLY_EOF for line in body):
        raise ValueError("a file holds the here-document delimiter")
    commands = [
        "set -eu",
        "umask 077",
        f"hn_dir={q(workdir)}",
        "hn_step='start'",
        "hn_rc=0",
        f'trap \'hn_rc=$?; [ "$hn_rc" -eq 0 ] || echo "{tag}: failed at step: $hn_step (exit $hn_rc)" >&2\' EXIT',
        "hn_step='find bash'",
        "command -v bash >/dev/null",
        'hn_step="remove the previous run\'s work directory $hn_dir"',
        'rm -rf -- "$hn_dir"',
        'hn_step="create the work directory $hn_dir"',
        'mkdir -p -- "$hn_dir"',
        'chmod 0700 -- "$hn_dir"',
        'hn_step="write $hn_dir/apply.sh"',
        f"cat > \"$hn_dir/apply.sh\" <<'{_APPLY_EOF}'",
        *body,
        _APPLY_EOF,
        "trap - EXIT",
        'exec bash "$hn_dir/apply.sh" < /dev/null',
    ]
    size = parameters_size(commands)
    if size > SEND_COMMAND_MAX_PARAMETER_BYTES:
        raise ValueError(
            f"router target {_target_name(script)!r}: the Run Command parameters would be {size:,} bytes, over the "
            f"{SEND_COMMAND_MAX_PARAMETER_BYTES:,} that fit in an SSM document's 64 KB with AWS-RunShellScript's "
            "own content; send fewer files (the setup script embeds the files it installs)"
        )
    return commands
