"""What the fault drills (hybridnet.faults) change in the lab, and how each is put back.

Each helper changes one thing on one side, inside the lab's own namespaces and
daemons, and returns what it changed as plain data (JSON), so that the drill's
`clear` (maybe from another process) puts back exactly that:

* the customer gateway's strongSwan setup, as phase 2 deployed it (the file the
  router's charon loaded, runtime.state["cgw_swanctl_conf"]): one tunnel's IKE
  proposals, ESP proposals or pre-shared key, then charon reloads it and that
  tunnel is negotiated again (`set_cgw_tunnel_values`, `restore_cgw_values`);
* the customer gateway's bgpd: the ASN it presents to the AWS side's
  neighbors (`neighbor ... local-as N no-prepend replace-as`: its BGP OPEN then
  carries N), `set_cgw_local_as` / `restore_cgw_local_as`;
* a filter on the "internet" between the customer gateway and AWS's side
  (nftables in hn-inet, the only namespace both sides' packets cross):
  `block_ike` / `unblock_ike`;
* one address of a lab interface, without the addresses the kernel would take
  with it (a primary address takes its subnet's secondaries along unless
  promote_secondaries is on): `remove_address` / `restore_address`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
from pathlib import Path

from . import netns
from .cgwside import cgw_connection_name
from .daemons import LabRuntime, swanctl, vtysh
from .observe import EXPECTED_CHILDREN
from .topology import CGW_NS, INET_NS
from .vici import ViciError, ViciSession

# --- the customer gateway's swanctl.conf ------------------------------------------------------

_OPEN = re.compile(r"^\s*([A-Za-z0-9_.*-]+)\s*\{\s*(#.*)?$")
_CLOSE = re.compile(r"^\s*\}\s*(#.*)?$")
_SETTING = re.compile(r"^(\s*)([A-Za-z0-9_.-]+)(\s*=\s*)(.*?)\s*$")


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p == "*" or p == s for s, p in zip(path, pattern))


def swanctl_settings(text: str) -> list[tuple[int, tuple[str, ...], str, str]]:
    """(line index, section path, key, value) of every `key = value` of a swanctl.conf
    written one statement a line (as phase 2 writes it)."""
    found, path = [], []
    for index, line in enumerate(text.splitlines()):
        if (opened := _OPEN.match(line)) is not None:
            path.append(opened.group(1))
        elif _CLOSE.match(line):
            if path:
                path.pop()
        elif (setting := _SETTING.match(line)) is not None and not line.lstrip().startswith("#"):
            found.append((index, tuple(path), setting.group(2), setting.group(4)))
    return found


def edit_swanctl(
    text: str, changes: list[tuple[tuple[str, ...], str, str]], strict: bool = True
) -> tuple[str, list[list]]:
    """`text` with each (section path pattern, key, new value) set wherever the pattern
    ("*" for any one section) matches; and what each changed line held before:
    [[section path, key, old value], ...]. With `strict`, every pattern must match."""
    lines = text.splitlines(keepends=True)
    settings = swanctl_settings(text)
    before = []
    for pattern, key, value in changes:
        hits = [(i, path, old) for i, path, k, old in settings if k == key and _matches(path, pattern)]
        if not hits and strict:
            raise ValueError(f"no {'.'.join(pattern)}.{key} in the customer gateway's swanctl.conf")
        for index, path, old in hits:
            setting = _SETTING.match(lines[index].rstrip("\n"))
            assert setting is not None  # swanctl_settings found this line with the same pattern
            indent, _, equals, _ = setting.groups()
            ending = "\n" if lines[index].endswith("\n") else ""
            lines[index] = f"{indent}{key}{equals}{value}{ending}"
            before.append([list(path), key, old])
    return "".join(lines), before


_INCLUDE = re.compile(r"^\s*include\s+(\S+)\s*$")


def swanctl_files(path: Path) -> list[Path]:
    """`path` and the files its `include` statements name (globs, relative to the
    including file's folder), in the order swanctl reads them."""
    files = [path]
    for line in path.read_text().splitlines():
        if (included := _INCLUDE.match(line)) is not None:
            pattern = included.group(1).strip('"')
            base = Path(pattern) if pattern.startswith("/") else path.parent / pattern
            for found in sorted(base.parent.glob(base.name)):
                if found.is_file() and found not in files:
                    files += [f for f in swanctl_files(found) if f not in files]
    return files


def edit_swanctl_files(files: list[Path], changes: list[tuple[tuple[str, ...], str, str]]) -> list[list]:
    """edit_swanctl() over a swanctl.conf and what it includes: each change wherever it
    matches, in whichever file; each must match somewhere. Returns
    [[file, section path, key, old value], ...]."""
    texts = {f: f.read_text() for f in files}
    for pattern, key, _ in changes:
        if not any(
            k == key and _matches(path, pattern) for t in texts.values() for _, path, k, _ in swanctl_settings(t)
        ):
            raise ValueError(
                f"no {'.'.join(pattern)}.{key} in the customer gateway's swanctl.conf ({', '.join(map(str, files))})"
            )
    before = []
    for file, text in texts.items():
        edited, changed = edit_swanctl(text, changes, strict=False)
        if changed:
            _write_like(file, edited)
            before += [[str(file), *entry] for entry in changed]
    return before


def cgw_swanctl_path(lab_dir: Path | str) -> Path:
    """The swanctl.conf the router's charon loaded: its setup's (/etc/swanctl on the
    router host, through SSM), or the one a lab brought up from files was given."""
    path = LabRuntime.load(lab_dir).state.get("cgw_swanctl_conf")
    if not path or not Path(path).is_file():
        raise ValueError(
            "the customer gateway has no strongSwan setup yet (phase 2: notebook 02 with "
            "router.apply, or hybridnet lab up)"
        )
    return Path(path)


def _write_like(path: Path, text: str) -> None:
    """Replace `path` whole (a reader never sees half of it), keeping its mode and owner."""
    st = path.stat()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tunnel(runtime: LabRuntime, n: int) -> dict:
    tunnels = runtime.state.get("tunnels", [])
    if not 1 <= n <= len(tunnels):
        raise ValueError(f"the lab plays {len(tunnels)} tunnel(s): no tunnel {n}")
    return tunnels[n - 1]


def _secret_section(texts: list[str], vgw_outside_ip: str, conn: str) -> str:
    """The secrets section of tunnel `conn`: ike-<conn> as phase 2 names it, else the one
    whose id-remote is the tunnel's AWS outside address."""
    sections = {
        path[1]: value
        for text in texts
        for _, path, key, value in swanctl_settings(text)
        if len(path) == 2 and path[0] == "secrets" and key == "id-remote"
    }
    if f"ike-{conn}" in sections:
        return f"ike-{conn}"
    for name, remote in sections.items():
        if remote.strip('"') == vgw_outside_ip:
            return name
    raise ValueError(f"no secret for tunnel {conn} ({vgw_outside_ip}) in the customer gateway's swanctl.conf")


def set_cgw_tunnel_values(
    lab_dir: Path | str,
    n: int,
    *,
    proposals: str | None = None,
    esp_proposals: str | None = None,
    psk: str | None = None,
) -> list[list]:
    """Change tunnel `n`'s IKE proposals, ESP proposals (every child) and/or pre-shared
    key in the customer gateway's swanctl.conf (and what it includes: the router's setup
    puts its connections in conf.d), have charon load it and negotiate the tunnel
    again. Returns what the changed lines held before (for restore_cgw_values)."""
    runtime = LabRuntime.load(lab_dir)
    conn = cgw_connection_name(n)
    files = swanctl_files(cgw_swanctl_path(lab_dir))
    changes: list[tuple[tuple[str, ...], str, str]] = []
    if proposals is not None:
        changes.append((("connections", conn), "proposals", proposals))
    if esp_proposals is not None:
        changes.append((("connections", conn, "children", "*"), "esp_proposals", esp_proposals))
    if psk is not None:
        secret = _secret_section([f.read_text() for f in files], _tunnel(runtime, n)["vgw_outside_ip"], conn)
        changes.append((("secrets", secret), "secret", json.dumps(psk)))
    before = edit_swanctl_files(files, changes)
    try:
        renegotiate_cgw_tunnel(lab_dir, n)
    except BaseException:  # nothing recorded for clear: put the files back now
        _restore_files(before)
        raise
    return before


def _restore_files(before: list[list]) -> None:
    for file in dict.fromkeys(entry[0] for entry in before):
        path = Path(file)
        edited, _ = edit_swanctl(
            path.read_text(), [(tuple(section), key, value) for f, section, key, value in before if f == file]
        )
        _write_like(path, edited)


def restore_cgw_values(lab_dir: Path | str, n: int, before: list[list]) -> None:
    """Put back what set_cgw_tunnel_values changed (only that: another drill's change to
    the same file stays), reload, and negotiate tunnel `n` again."""
    _restore_files(before)
    renegotiate_cgw_tunnel(lab_dir, n)


def renegotiate_cgw_tunnel(lab_dir: Path | str, n: int, timeout: float = 5.0) -> None:
    """What an engineer does after changing the router's strongSwan setup: load it
    (connections and secrets: `swanctl --load-all`), close tunnel `n`'s IKE SA (an
    established SA keeps what it negotiated) and initiate it again with the new
    setup, as start_action=start would. Returns without waiting for the outcome."""
    runtime = LabRuntime.load(lab_dir)
    conn = cgw_connection_name(n)
    swanctl(runtime, CGW_NS, "--load-all", "--noprompt", "--file", str(cgw_swanctl_path(lab_dir)))
    with _cgw_vici(runtime) as vici:
        try:
            vici.command("terminate", {"ike": conn, "timeout": str(int(timeout * 1000)), "force": "yes"})
        except ViciError as exc:
            if "no matching" not in str(exc):  # nothing up: fine
                raise
        children = list((vici.list_conns().get(conn, {}).get("children") or {}).keys()) or list(EXPECTED_CHILDREN)
        for child in children:  # asynchronous: whatever the peer answers shows in the lab's status
            vici.command("initiate", {"ike": conn, "child": child, "timeout": "-1"})


def initiate_down_tunnels(lab_dir: Path | str) -> list[str]:
    """Initiate at once, on the customer gateway, every tunnel it has no established IKE
    SA for (instead of at its next retransmission, up to a minute later); half-open
    attempts are closed first. Returns the connections initiated."""
    runtime = LabRuntime.load(lab_dir)
    started = []
    with _cgw_vici(runtime) as vici:
        sas = vici.list_sas()
        conns = vici.list_conns()
        for number in range(1, len(runtime.state.get("tunnels", [])) + 1):
            conn = cgw_connection_name(number)
            if conn not in conns or any(name == conn and sa.get("state") == "ESTABLISHED" for name, sa in sas):
                continue
            try:
                vici.command("terminate", {"ike": conn, "timeout": "2000", "force": "yes"})
            except ViciError as exc:
                if "no matching" not in str(exc):
                    raise
            for child in conns[conn].get("children") or {}:
                vici.command("initiate", {"ike": conn, "child": child, "timeout": "-1"})
            started.append(conn)
    return started


def _cgw_vici(runtime: LabRuntime) -> ViciSession:
    from .daemons import charon_paths

    return ViciSession(charon_paths(runtime, CGW_NS)["vici"], timeout=10.0)


# --- the customer gateway's bgpd ----------------------------------------------------------------


def _vtysh_config(ns: str, commands: list[str]) -> None:
    netns.run(
        [
            "vtysh",
            "-N",
            netns.check_lab_namespace(ns),
            "-c",
            "configure terminal",
            *[arg for command in commands for arg in ("-c", command)],
        ]
    )


def cgw_bgp_asn(ns: str = CGW_NS) -> int:
    """The ASN the router's bgpd runs as (its `router bgp`)."""
    summary = json.loads(vtysh(ns, "show bgp ipv4 unicast summary json") or "{}")
    asn = summary.get("as", summary.get("ipv4Unicast", {}).get("as"))
    if asn is None:
        raise ValueError("the customer gateway's bgpd has no BGP instance (is FRR set up? notebook 02)")
    return int(asn)


def _local_as_lines(ns: str, neighbor: str) -> list[str]:
    config = vtysh(ns, "show running-config bgpd")
    return [line.strip() for line in config.splitlines() if line.strip().startswith(f"neighbor {neighbor} local-as ")]


def set_cgw_local_as(lab_dir: Path | str, asn: int) -> dict:
    """The router's bgpd presents `asn` instead of its own to every AWS side neighbor
    (the tunnels' AWS inside addresses): each session is reset, and AWS's side, which
    expects the customer gateway's ASN, refuses the OPEN (bad peer AS). IPsec is not
    touched. Returns the router's ASN and each neighbor's previous local-as lines."""
    runtime = LabRuntime.load(lab_dir)
    own = cgw_bgp_asn()
    if asn == own:
        raise ValueError(f"AS {asn} is the router's own")
    neighbors = [t["vgw_inside_ip"] for t in runtime.state.get("tunnels", [])]
    before = {n: _local_as_lines(CGW_NS, n) for n in neighbors}
    _vtysh_config(
        CGW_NS, [f"router bgp {own}", *[f"neighbor {n} local-as {asn} no-prepend replace-as" for n in neighbors]]
    )
    return {"asn": own, "neighbors": before}


def restore_cgw_local_as(lab_dir: Path | str, undo: dict) -> None:
    commands = [f"router bgp {undo['asn']}"]
    for neighbor, lines in undo["neighbors"].items():
        commands += [f"no neighbor {neighbor} local-as", *lines]
    _vtysh_config(CGW_NS, commands)


# --- the "internet" between the customer gateway and AWS ------------------------------------------

IKE_BLOCK_TABLE = "hybridnet_drill_ike"
IKE_PORTS = (500, 4500)  # IKE, and NAT-T (IKE and ESP in UDP: kernel-libipsec always encapsulates)


def block_ike(lab_dir: Path | str) -> dict:
    """Drop UDP 500 and 4500 both ways between the customer gateway's outside address
    and the tunnels' AWS outside addresses, in hn-inet (the "internet" router both
    sides' packets cross): nothing else is filtered. An nftables table of its own."""
    runtime = LabRuntime.load(lab_dir)
    tunnels = runtime.state.get("tunnels", [])
    if not tunnels:
        raise ValueError("the lab plays no tunnel")
    cgw = sorted({t["cgw_outside_ip"] for t in tunnels})
    aws = sorted({t["vgw_outside_ip"] for t in tunnels})
    for address in cgw + aws:
        ipaddress.ip_address(address)  # only addresses go into the rule set
    ports = ", ".join(map(str, IKE_PORTS))
    ruleset = f"""table inet {IKE_BLOCK_TABLE} {{
  chain forward {{
    type filter hook forward priority -10; policy accept;
    ip saddr {{ {", ".join(cgw)} }} ip daddr {{ {", ".join(aws)} }} udp dport {{ {ports} }} counter drop
    ip saddr {{ {", ".join(aws)} }} ip daddr {{ {", ".join(cgw)} }} udp dport {{ {ports} }} counter drop
    ip saddr {{ {", ".join(cgw)} }} ip daddr {{ {", ".join(aws)} }} udp sport {{ {ports} }} counter drop
    ip saddr {{ {", ".join(aws)} }} ip daddr {{ {", ".join(cgw)} }} udp sport {{ {ports} }} counter drop
  }}
}}
"""
    unblock_ike(lab_dir)  # one table, whatever ran before
    netns.exec_in(INET_NS, [_nft(), "-f", "-"], input=ruleset)
    return {"ns": INET_NS, "table": IKE_BLOCK_TABLE, "between": [cgw, aws]}


def unblock_ike(lab_dir: Path | str) -> None:
    """Remove block_ike's table (nothing else of hn-inet's), if it is there."""
    listed = netns.exec_in(INET_NS, [_nft(), "list", "tables"], check=False).stdout
    if f"table inet {IKE_BLOCK_TABLE}" in listed:
        netns.exec_in(INET_NS, [_nft(), "delete", "table", "inet", IKE_BLOCK_TABLE])


def _nft() -> str:
    return "/usr/sbin/nft"


# --- one address of an interface ---------------------------------------------------------------


def _addresses(ns: str, dev: str) -> list[str]:
    shown = netns.ip_in(ns, "-o", "-4", "addr", "show", "dev", dev).stdout
    return re.findall(r"\binet (\S+)", shown)


def _sysctl(ns: str, key: str) -> str:
    return netns.exec_in(ns, ["sysctl", "-n", key]).stdout.strip()


def remove_address(ns: str, dev: str, address: str) -> dict:
    """Delete `address` (an IP, or IP/prefix) from `dev` in `ns`, and nothing else: the
    kernel deletes a primary address's secondaries of the same subnet with it unless
    promote_secondaries is on, so it is turned on for the interface first (its old
    value kept for restore_address), and what the deletion still took is put back.
    Returns {ns, dev, address (with its prefix), promote_secondaries (the old value)}."""
    before = _addresses(ns, dev)
    ip = address.split("/")[0]
    cidr = next((a for a in before if a.split("/")[0] == ip), None)
    if cidr is None:
        raise ValueError(f"{ip} is not on {dev} in {ns}")
    key = f"net.ipv4.conf.{dev}.promote_secondaries"
    old = _sysctl(ns, key)
    netns.set_sysctl(ns, key, 1)
    netns.ip_in(ns, "addr", "del", cidr, "dev", dev)
    taken = [a for a in before if a != cidr and a not in _addresses(ns, dev)]
    if taken:  # should not happen with promote_secondaries: put them back all the same
        netns.ip_batch_in(ns, netns.address_commands(dev, taken))
    return {"ns": ns, "dev": dev, "address": cidr, "promote_secondaries": old}


def restore_address(undo: dict) -> None:
    """Put back what remove_address deleted (once), and the interface's promote_secondaries."""
    ns, dev = undo["ns"], undo["dev"]
    if undo["address"] not in _addresses(ns, dev):
        netns.ip_batch_in(ns, netns.address_commands(dev, [undo["address"]]))
    netns.set_sysctl(ns, f"net.ipv4.conf.{dev}.promote_secondaries", undo["promote_secondaries"])


__all__ = [
    "IKE_BLOCK_TABLE",
    "block_ike",
    "cgw_bgp_asn",
    "cgw_swanctl_path",
    "edit_swanctl",
    "edit_swanctl_files",
    "initiate_down_tunnels",
    "remove_address",
    "renegotiate_cgw_tunnel",
    "restore_address",
    "restore_cgw_local_as",
    "restore_cgw_values",
    "set_cgw_local_as",
    "set_cgw_tunnel_values",
    "swanctl_files",
    "swanctl_settings",
    "unblock_ike",
]
