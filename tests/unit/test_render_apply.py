"""router.apply's pieces: placeholder keys, Parameter Store names, the Run Command
commands (run here as SSM Agent runs them, with a fake aws and stub services)
and the lab target's setup script."""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hybridnet.render import TARGETS, RenderedFile, render_files
from hybridnet.render.apply import (
    SEND_COMMAND_MAX_PARAMETER_BYTES,
    apply_commands,
    parameters_size,
    psk_parameter_name,
    psk_placeholder,
    with_placeholder_secrets,
)
from hybridnet.vpnconfig import VpnConnectionConfig, apply_tunnel_options
from hybridnet.vpnrules import psk_problem

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PSKS = ("strongswan_awsvpn1", "strongswan_awsvpn2")  # the fixture's keys: must never travel
STACK = "unittest"
REGION = "eu-west-1"
# What the fake Parameter Store holds (the keys the router must end up with).
STORED = {1: "fromParameterStore_key.one1", 2: "fromParameterStore_key.two2"}
B64_START = re.compile(r"^base64 -d > (\S+) <<'HYBRIDNET_B64_EOF'$")
# External programs the commands and the setup script run, wrapped to record their argv.
RECORDED_TOOLS = (
    "base64",
    "cat",
    "chmod",
    "chown",
    "cut",
    "dirname",
    "grep",
    "id",
    "mkdir",
    "mktemp",
    "mv",
    "rm",
    "sed",
    "tail",
    "tr",
)


def secrets_for(cfg: VpnConnectionConfig) -> dict[str, str]:
    return {psk_placeholder(t.number): psk_parameter_name(STACK, cfg.vpn_connection_id, t.number) for t in cfg.tunnels}


def with_stored_keys(cfg: VpnConnectionConfig) -> VpnConnectionConfig:
    """``cfg`` as it would render with the keys the fake Parameter Store holds."""
    return apply_tunnel_options(
        cfg, [{"OutsideIpAddress": t.vgw_outside_ip, "PreSharedKey": STORED[t.number]} for t in cfg.tunnels]
    )


def payloads(commands: list[str]) -> dict[str, bytes]:
    """The files the commands carry, decoded from their base64 here-documents."""
    found, name, lines = {}, None, []
    for line in commands:
        m = B64_START.match(line)
        if m:
            name, lines = m.group(1), []
        elif name and line == "HYBRIDNET_B64_EOF":
            found[name] = base64.b64decode("".join(lines))
            name = None
        elif name:
            lines.append(line)
    return found


def heredoc(commands: list[str], delimiter: str) -> str:
    start = next(i for i, line in enumerate(commands) if line.endswith(f"<<'{delimiter}'"))
    end = commands.index(delimiter, start + 1)
    return "\n".join(commands[start + 1 : end]) + "\n"


# --- the router's side, stubbed ------------------------------------------------------


class Router:
    """A temp dir standing in for the router: bin/ first on PATH (a fake aws that
    answers for the two parameter names, stub systemctl/ip/swanctl/sleep, and
    wrappers that record every other tool's argv), root/ for HYBRIDNET_ROOT."""

    def __init__(
        self,
        base: Path,
        cfg: VpnConnectionConfig,
        *,
        aws_fails_for: str | None = None,
        systemctl_units: tuple[str, ...] = ("strongswan", "frr"),
        ipsec0: bool = True,
    ) -> None:
        self.base = base
        self.bin = base / "bin"
        self.root = base / "root"
        self.workdir = base / "var" / "lib" / "hybridnet" / "router"
        self.argv_log = base / "argv.log"
        self.bin.mkdir(parents=True)
        self.root.mkdir()
        log = self.argv_log
        answers = "\n".join(
            f"    {psk_parameter_name(STACK, cfg.vpn_connection_id, n)}) value={STORED[n]} ;;" for n in STORED
        )
        self.stub(
            "aws",
            f"""
names=
while [ $# -gt 0 ]; do
    case "$1" in
        --names) shift; while [ $# -gt 0 ] && [ "${{1#--}}" = "$1" ]; do names="$names $1"; shift; done; continue ;;
    esac
    shift
done
for name in $names; do
    if [ "$name" = "{aws_fails_for or ""}" ]; then
        printf '\\nAn error occurred (AccessDeniedException) when calling the GetParameters operation: User: ' >&2
        printf 'arn:aws:sts::111122223333:assumed-role/router/i-0abc ' >&2
        printf 'is not authorized to perform: ssm:GetParameters\\n' >&2
        exit 254
    fi
done
for name in $names; do
    case "$name" in
{answers}
        *) continue ;;  # GetParameters lists an unknown name under InvalidParameters
    esac
    printf '%s\\t%s\\n' "$name" "$value"
done
""",
        )
        units = " ".join(f"{u}.service" for u in systemctl_units)
        self.stub(
            "systemctl",
            f"""
if [ "$1" = cat ]; then
    for unit in {units}; do
        [ "$2" = "$unit" ] && exit 0
    done
    exit 1
fi
""",
        )
        self.stub(
            "ip",
            f"""
if [ "$1" = link ]; then
    exit {0 if ipsec0 else 1}
fi
""",
        )
        self.stub("swanctl", "")
        self.stub("sleep", "")  # the ipsec0 wait loop, without waiting
        for tool in RECORDED_TOOLS:
            real = shutil.which(tool)
            assert real, tool
            self.write(tool, f'#!/bin/sh\nprintf "%s\\n" "{tool} $*" >> "{log}"\nexec {real} "$@"\n')

    def write(self, name: str, text: str) -> None:
        path = self.bin / name
        path.write_text(text)
        path.chmod(0o755)

    def stub(self, name: str, body: str) -> None:
        self.write(name, f'#!/bin/sh\nprintf "%s\\n" "{name} $*" >> "{self.argv_log}"\n{body}\nexit 0\n')

    def run(self, commands: list[str]) -> subprocess.CompletedProcess:
        """As SSM Agent runs AWS-RunShellScript: the commands joined into
        _script.sh (0700), run as `sh -c <path>` (dash here, as on Debian)."""
        script = self.base / "_script.sh"
        script.write_text("\n".join(commands) + "\n")
        script.chmod(0o700)
        env = {"PATH": f"{self.bin}:{os.environ['PATH']}", "HOME": str(self.base), "HYBRIDNET_ROOT": str(self.root)}
        return subprocess.run(
            ["sh", "-c", str(script)], capture_output=True, text=True, env=env, timeout=60, cwd=self.base
        )

    def argv(self) -> list[str]:
        return self.argv_log.read_text().splitlines() if self.argv_log.exists() else []

    def tree(self, top: Path) -> dict[str, tuple[bytes, int]]:
        return {
            str(p.relative_to(top)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(top.rglob("*"))
            if p.is_file()
        }


def lab_commands(cfg, site, router: Router, target: str = "lab") -> tuple[list[RenderedFile], list[str]]:
    files = render_files(with_placeholder_secrets(cfg), site, target)
    commands = apply_commands(files, f"setup-router-{target}.sh", secrets_for(cfg), REGION, str(router.workdir))
    return files, commands


def no_key_anywhere(*texts: str) -> None:
    for text in texts:
        for key in (*PSKS, *STORED.values()):
            assert key not in text


# --- placeholders, parameter names -------------------------------------------------


def test_placeholder_is_a_valid_key_and_unambiguous() -> None:
    assert psk_placeholder(1) == "hybridnetPskTunnel1FromParameterStore"
    tokens = [psk_placeholder(n) for n in (1, 2, 10, 12, 123)]
    for token in tokens:
        assert psk_problem(token) is None
        assert 8 <= len(token) <= 64
        assert sum(token in other for other in tokens) == 1  # no placeholder inside another
    for bad in (0, -1, True, "1"):
        with pytest.raises(ValueError):
            psk_placeholder(bad)


def test_parameter_name(cfg) -> None:
    assert (
        psk_parameter_name("demo", "vpn-0a1b2c3d4e5f60718", 2)
        == "/hybridnet/demo/vpn-0a1b2c3d4e5f60718/tunnel2/pre-shared-key"
    )
    for stack, vpn in (("my stack", "vpn-1"), ("a/b", "vpn-1"), ("", "vpn-1"), ("demo", "vpn-1;rm")):
        with pytest.raises(ValueError, match="Parameter Store"):
            psk_parameter_name(stack, vpn, 1)
    with pytest.raises(ValueError):
        psk_parameter_name("demo", "vpn-1", 0)
    with pytest.raises(ValueError, match="longer"):
        psk_parameter_name("x" * 1000, "vpn-1", 1)


def test_placeholder_config_leaves_the_original_alone(cfg) -> None:
    placeholder = with_placeholder_secrets(cfg)
    assert [t.ike.pre_shared_key.get_secret_value() for t in cfg.tunnels] == list(PSKS)
    assert [t.ike.pre_shared_key.get_secret_value() for t in placeholder.tunnels] == [
        psk_placeholder(1),
        psk_placeholder(2),
    ]
    assert placeholder.model_dump(exclude={"tunnels"}) == cfg.model_dump(exclude={"tunnels"})


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_placeholder_rendering_holds_no_key(cfg, site, target) -> None:
    real = render_files(cfg, site, target)
    files = render_files(with_placeholder_secrets(cfg), site, target)
    assert [(f.name, f.mode) for f in files] == [(f.name, f.mode) for f in real]
    no_key_anywhere(*(f.content for f in files))
    secrets = secrets_for(cfg)
    found = {m for f in files for m in re.findall(r"hybridnetPsk\w+", f.content)}
    assert found == set(secrets)  # every placeholder covered; every key has its place
    for f in files:  # exactly where the real keys were
        text = f.content
        for n, key in enumerate(PSKS, start=1):
            text = text.replace(psk_placeholder(n), key)
        assert text == next(r.content for r in real if r.name == f.name)


@pytest.mark.parametrize("target", ["lab", "frr", "seed"])
def test_commands_carry_the_files_and_no_key(cfg, site, target, tmp_path) -> None:
    files = render_files(with_placeholder_secrets(cfg), site, target)
    commands = apply_commands(files, f"setup-router-{target}.sh", secrets_for(cfg), REGION)
    assert payloads(commands) == {f.name: f.content.encode() for f in files}
    no_key_anywhere("\n".join(commands))
    for name in secrets_for(cfg).values():
        assert name in next(c for c in commands if "ssm get-parameters" in c)
    assert parameters_size(commands) < SEND_COMMAND_MAX_PARAMETER_BYTES


def test_commands_pass_shellcheck(cfg, site, tmp_path) -> None:
    router = Router(tmp_path, cfg)
    _, commands = lab_commands(cfg, site, router)
    outer = tmp_path / "outer.sh"
    outer.write_text("\n".join(commands) + "\n")
    inner = tmp_path / "apply.sh"
    inner.write_text("#!/usr/bin/env bash\n" + heredoc(commands, "HYBRIDNET_APPLY_EOF"))
    assert tooling.run([tooling.require_tool("dash"), "-n", str(outer)]).returncode == 0
    assert tooling.run([tooling.require_tool("bash"), "-n", str(inner)]).returncode == 0
    shellcheck = tooling.require_tool("shellcheck")
    for path, shell in ((outer, "sh"), (inner, "bash")):
        res = tooling.run([shellcheck, "--severity=style", "-s", shell, str(path)])
        assert res.returncode == 0, (path.name, res.stdout)


def test_every_placeholder_needs_its_parameter(cfg, site) -> None:
    files = render_files(with_placeholder_secrets(cfg), site, "lab")
    partial = {psk_placeholder(1): psk_parameter_name(STACK, cfg.vpn_connection_id, 1)}
    with pytest.raises(ValueError, match=psk_placeholder(2)):
        apply_commands(files, "setup-router-lab.sh", partial, REGION)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"region": "eu west 1"}, "region"),
        ({"workdir": "/"}, "workdir"),
        ({"workdir": "/var/lib"}, "workdir"),
        ({"workdir": "var/lib/hybridnet/router"}, "workdir"),
        ({"workdir": "/var/lib/../etc"}, "workdir"),
        ({"script": "setup-router-frr.sh"}, "not among the files"),
        ({"script": "frr.conf"}, "not executable"),
        ({"secrets": {"hybridnetPskTunnel1FromParameterStore": "/aws/x"}}, "aws"),
    ],
)
def test_inputs_are_checked(cfg, site, change, fragment) -> None:
    files = render_files(with_placeholder_secrets(cfg), site, "lab")
    args = {
        "files": files,
        "script": "setup-router-lab.sh",
        "secrets": secrets_for(cfg),
        "region": REGION,
        "workdir": "/var/lib/hybridnet/router",
        **change,
    }
    with pytest.raises(ValueError, match=re.escape(fragment)):
        apply_commands(**args)


def test_size_check_names_the_target_and_the_size(cfg, site) -> None:
    files = render_files(with_placeholder_secrets(cfg), site, "lab")
    big = files + [RenderedFile("notes.txt", os.urandom(48_000).hex()[:48_000], 0o644)]
    with pytest.raises(ValueError, match=r"router target 'lab': the Run Command parameters would be [\d,]+ bytes"):
        apply_commands(big, "setup-router-lab.sh", secrets_for(cfg), REGION)
    # without it, the same target fits
    assert apply_commands(files, "setup-router-lab.sh", secrets_for(cfg), REGION)


# --- running the commands ------------------------------------------------------------


def test_lab_apply_installs_the_files_with_the_stored_keys(cfg, site, tmp_path) -> None:
    router = Router(tmp_path, cfg)
    files, commands = lab_commands(cfg, site, router)
    res = router.run(commands)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stderr == ""
    assert res.stdout.splitlines() == [
        f"hybridnet router.apply: setup-router-lab.sh done (output: {router.workdir}/setup-router-lab.log)"
    ]

    expected = {f.name: f.content.encode() for f in render_files(with_stored_keys(cfg), site, "lab")}
    installed = router.tree(router.root)
    assert installed == {
        "etc/swanctl/conf.d/hybridnet-aws.conf": (expected["swanctl.conf"], 0o600),
        "etc/frr/frr.conf": (expected["frr.conf"], 0o640),
        "etc/hybridnet/ipsec0-addresses": (expected["ipsec0-addresses"], 0o644),
    }
    assert installed["etc/swanctl/conf.d/hybridnet-aws.conf"][0].count(b'secret = "fromParameterStore_key.') == 2

    # The work directory: private, without the files that held keys.
    assert stat.S_IMODE(router.workdir.stat().st_mode) == 0o700
    left = router.tree(router.workdir)
    assert set(left) == {"apply.sh", "frr.conf", "ipsec0-addresses", "setup-router-lab.log"}
    no_key_anywhere(*(data.decode() for data, _ in left.values()), res.stdout, res.stderr)

    argv = router.argv()
    no_key_anywhere(*argv)
    assert [a for a in argv if a.split()[0] in ("systemctl", "ip", "swanctl")] == [
        "systemctl cat strongswan.service",
        "systemctl enable strongswan frr",
        "systemctl restart strongswan",
        "ip link show dev ipsec0",
        "ip addr replace 169.254.11.2/30 dev ipsec0",
        "ip addr replace 169.254.12.2/30 dev ipsec0",
        "swanctl --load-all --noprompt",
        "systemctl restart frr",
    ]
    assert sum(a.startswith("aws ssm get-parameters --region eu-west-1 --names /hybridnet/") for a in argv) == 1
    assert any(a.startswith("base64 -d") for a in argv) and any(a.startswith("mktemp") for a in argv)

    # Again: same result, nothing piles up.
    router.argv_log.unlink()
    again = router.run(commands)
    assert again.returncode == 0, again.stderr
    assert router.tree(router.root) == installed
    assert set(router.tree(router.workdir)) == set(left)
    no_key_anywhere(*router.argv())


def test_a_key_that_cannot_be_read_stops_with_one_line(cfg, site, tmp_path) -> None:
    name = psk_parameter_name(STACK, cfg.vpn_connection_id, 2)
    router = Router(tmp_path, cfg, aws_fails_for=name)
    _, commands = lab_commands(cfg, site, router)
    (router.workdir).mkdir(parents=True)
    (router.workdir / "swanctl.conf").write_text("a previous run's leftover")
    res = router.run(commands)
    assert res.returncode != 0
    assert res.stdout == ""
    (line,) = res.stderr.splitlines()
    assert line.startswith("hybridnet router.apply: cannot read the SecureString parameter(s) ")
    assert f"{name} (eu-west-1): An error occurred (AccessDeniedException)" in line
    for fix in ("ssm:GetParameters", "kms:Decrypt", "VPC interface endpoint", "ssm.eu-west-1.amazonaws.com"):
        assert fix in line
    no_key_anywhere(res.stderr, *router.argv())
    assert router.tree(router.root) == {}  # nothing installed, no service touched
    assert not [a for a in router.argv() if a.startswith(("systemctl", "ip ", "swanctl"))]
    assert set(router.tree(router.workdir)) == {"apply.sh", "frr.conf", "ipsec0-addresses"}


def test_a_failing_setup_script_shows_its_last_lines(cfg, site, tmp_path) -> None:
    router = Router(tmp_path, cfg, ipsec0=False)
    _, commands = lab_commands(cfg, site, router)
    res = router.run(commands)
    assert res.returncode != 0
    lines = res.stderr.splitlines()
    assert "no ipsec0 interface 20 s after starting strongswan" in res.stderr
    assert "libcharon-extra-plugins" in res.stderr
    assert lines[-1] == (
        f"hybridnet router.apply: setup-router-lab.sh failed; its output is in {router.workdir}/setup-router-lab.log"
    )
    no_key_anywhere(res.stdout, res.stderr, *router.argv())
    assert not (router.workdir / "swanctl.conf").exists() and not (router.workdir / "setup-router-lab.sh").exists()


def test_frr_apply_installs_the_secrets_file(cfg, site, tmp_path) -> None:
    router = Router(tmp_path, cfg, systemctl_units=("strongswan-starter", "frr"))
    _, commands = lab_commands(cfg, site, router, target="frr")
    res = router.run(commands)
    assert res.returncode == 0, res.stderr
    secrets, mode = router.tree(router.root)["etc/ipsec.secrets"]
    assert mode == 0o600
    assert b'PSK "fromParameterStore_key.one1"' in secrets and b'PSK "fromParameterStore_key.two2"' in secrets
    assert "systemctl restart strongswan-starter" in router.argv()
    no_key_anywhere(*router.argv(), *(d.decode() for d, _ in router.tree(router.workdir).values()))


# --- the lab target's setup script by itself -------------------------------------------


def run_lab_script(cfg, site, router: Router, **env: str) -> subprocess.CompletedProcess:
    script = router.base / "setup-router-lab.sh"
    files = {f.name: f for f in render_files(cfg, site, "lab")}
    script.write_text(files["setup-router-lab.sh"].content)
    script.chmod(0o700)
    full = {"PATH": f"{router.bin}:{os.environ['PATH']}", "HYBRIDNET_ROOT": str(router.root), **env}
    return subprocess.run([str(script)], capture_output=True, text=True, env=full, timeout=30)


def test_lab_script_prefers_strongswan_and_falls_back_to_strongswan_swanctl(cfg, site, tmp_path) -> None:
    router = Router(tmp_path / "old", cfg, systemctl_units=("strongswan-swanctl", "frr"))
    res = run_lab_script(cfg, site, router)
    assert res.returncode == 0, res.stderr
    assert "systemctl restart strongswan-swanctl" in router.argv()
    both = Router(tmp_path / "both", cfg, systemctl_units=("strongswan", "strongswan-swanctl", "frr"))
    assert run_lab_script(cfg, site, both).returncode == 0
    assert "systemctl restart strongswan" in both.argv()
    assert "systemctl restart strongswan-swanctl" not in both.argv()
    assert "swanctl --list-sas" in res.stdout and "show bgp summary" in res.stdout


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("zebra=yes\nbgpd=no\nospfd=no\n", "zebra=yes\nbgpd=yes\nospfd=no\n"),
        ("zebra=yes\nbgpd=yes\n", "zebra=yes\nbgpd=yes\n"),
        ("zebra=yes\n", "zebra=yes\nbgpd=yes\n"),
        (None, None),
    ],
)
def test_lab_script_enables_bgpd(cfg, site, tmp_path, before, after) -> None:
    router = Router(tmp_path, cfg)
    daemons = router.root / "etc/frr/daemons"
    if before is not None:
        daemons.parent.mkdir(parents=True)
        daemons.write_text(before)
    for _ in range(2):
        assert run_lab_script(cfg, site, router).returncode == 0
        assert (daemons.read_text() if daemons.exists() else None) == after


def test_lab_script_dry_run_writes_files_only(cfg, site, tmp_path) -> None:
    router = Router(tmp_path, cfg)
    res = run_lab_script(cfg, site, router, HYBRIDNET_NO_SERVICES="1")
    assert res.returncode == 0, res.stderr
    assert set(router.tree(router.root)) == {
        "etc/swanctl/conf.d/hybridnet-aws.conf",
        "etc/frr/frr.conf",
        "etc/hybridnet/ipsec0-addresses",
    }
    assert not [a for a in router.argv() if a.startswith(("systemctl", "ip ", "swanctl"))]
