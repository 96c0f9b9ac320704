"""BIND configuration for hybrid DNS (seed lab phase 3: Route 53 Resolver).

On-prem DNS server (the IDC's BIND, Debian layout)::

    render_onprem_bind(["10.0.1.250", "10.0.2.250"], "awsanycompany.corp", "ap-northeast-2",
                       "anycompany.corp", {"websrv": "192.168.2.20"}, out_dir,
                       listen_ips=["192.168.2.250"],
                       onprem_cidrs=["192.168.0.0/16"], vpc_cidrs=["10.0.0.0/16"])

writes ``named.conf.options``, ``named.conf.local`` and ``db.anycompany.corp``:
what an engineer copies to /etc/bind. It is the seed's named.conf.options
made right: recursion for the on-prem and VPC networks only (not ``any``), no
global forwarders (the seed's public-internet forwarder is dropped), ``dnssec-validation no``
(the private zones are unsigned), conditional ``forward only`` zones for the
private hosted zone(s) and ``<region>.compute.internal`` to the Resolver
inbound endpoint IPs, and the on-prem zone itself (SOA, NS, ns/dns and the
hosts). :func:`render_onprem_bind_from_params` takes the values from a
parameter set.

Lab variants (:func:`render_lab_bind`), one self-contained ``named.conf`` (+
zone files) per named running in a lab namespace:

``onprem``
    authoritative for the on-prem zone, forwarding the private zone(s) and
    compute.internal to the inbound endpoint IPs;
``resolver``
    plays Route 53 Resolver in the VPC namespace: authoritative for the
    private hosted zones (from their record sets), listening on the inbound
    endpoint IPs and the VPC resolver IP (10.0.0.2), forwarding per FORWARD
    rule with ``query-source`` bound to an outbound endpoint IP.

Both lab roles ``blackhole`` every address outside the lab, so named never
uses its root hints: names outside the configured zones get SERVFAIL at
once (measured: ~20 ms), no packet leaves the lab, and no private root zone
is needed (see LAB-RECIPES: a forward zone under an authoritative "."
answers NXDOMAIN).

Every input is validated first; a bad one raises ValueError naming the field
(``private_zone``, ``inbound_ips[1]``, ``forward_rules['corp'][0]``, ...).
Files are written 0644 (no secrets), atomically, and rendering twice gives
identical bytes (the zone serial is derived from the zone's content).
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridnet.render.router import FILE_MODE, SCRIPT_MODE, RenderedFile, template_environment, write_file

DEFAULT_TTL = 300
SOA_TIMERS = "3600 900 1209600 300"  # refresh retry expire negative-TTL
ROUTE53_SOA = "ns-0.awsdns-00.com. awsdns-hostmaster.amazon.com. {serial} 7200 900 1209600 86400"
ROUTE53_NS = "ns-0.awsdns-00.com."
ROLES = ("onprem", "resolver")
ONPREM_SETUP_SCRIPT = "setup-onprem-bind.sh"

_ENV = template_environment()  # the same Jinja2 settings as the router templates

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_OWNER_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")  # _srv._tcp style owners too
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_SAFE_RDATA = re.compile(r"^[\x20-\x7e]+$")
_ESCAPE = re.compile(r"\\([0-7]{3})")  # Route 53 writes a backslash + 3 octal digits (\052 is *)


def _render(template: str, **context: Any) -> str:
    text = _ENV.get_template(template).render(**context)
    return text if text.endswith("\n") else text + "\n"


# --- validation ---------------------------------------------------------------------


def _domain(field: str, value: Any) -> str:
    """A DNS domain name (letters, digits, '-'), lower case, no trailing dot."""
    text = str(value).strip() if isinstance(value, str) else ""
    name = text.rstrip(".").lower()
    labels = name.split(".") if name else []
    if not labels or len(name) > 253 or text.endswith("..") or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"{field}: {value!r} is not a valid DNS domain name like anycompany.corp "
            "(labels of letters, digits and '-', 1-63 characters, separated by dots)"
        )
    return name


def _ip(field: str, value: Any, version: int | None = 4) -> str:
    try:
        ip = ipaddress.ip_address(str(value).strip()) if isinstance(value, str) else None
    except ValueError:
        ip = None
    if ip is None or (version and ip.version != version):
        kind = f"an IPv{version} address" if version else "an IP address"
        raise ValueError(f"{field}: {value!r} is not {kind}")
    return str(ip)


def _ips(field: str, values: Any, *, minimum: int = 1) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{field}: expected a list of IPv4 addresses, got {values!r}")
    out = [_ip(f"{field}[{i}]", v) for i, v in enumerate(values)]
    if len(out) < minimum:
        raise ValueError(f"{field}: give at least {minimum} IPv4 address(es)")
    if len(set(out)) != len(out):
        raise ValueError(f"{field}: {out} lists an address twice")
    return out


def _cidrs(field: str, values: Any) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{field}: expected a list of CIDR blocks, got {values!r}")
    out = []
    for i, v in enumerate(values):
        try:
            out.append(str(ipaddress.IPv4Network(str(v).strip(), strict=True)))
        except ValueError as exc:
            raise ValueError(f"{field}[{i}]: {v!r} is not an IPv4 CIDR block like 10.0.0.0/16 ({exc})") from None
    return out


def _region(value: Any) -> str:
    if not isinstance(value, str) or not _REGION.match(value):
        raise ValueError(f"region: {value!r} is not an AWS region name like ap-northeast-2")
    return value


def compute_internal_zone(region: str) -> str:
    """The VPC's EC2 private host names: ``<region>.compute.internal``
    (``ec2.internal`` in us-east-1)."""
    region = _region(region)
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def _zones(field: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else list(value or [])
    if not values:
        raise ValueError(f"{field}: give at least one zone name")
    return [_domain(f"{field}[{i}]" if not isinstance(value, str) else field, v) for i, v in enumerate(values)]


def _owner(field: str, name: Any, zone: str, absolute: bool = False) -> str:
    """A record's owner relative to `zone` ('@' for the apex).

    `name` is relative to the zone ("websrv") unless `absolute` is set or it
    ends with a dot; an absolute name must be in the zone."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{field}: {name!r} is not a record name")
    absolute = absolute or name.strip().endswith(".")
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name.strip()).rstrip(".").lower()
    if text == "@" and not absolute or text == zone:
        return "@"
    if text.endswith("." + zone):
        text = text[: -len(zone) - 1]
    elif absolute:
        raise ValueError(f"{field}: {name!r} is not in zone {zone}")
    labels = text.split(".")
    ok = all(_OWNER_LABEL.match(label) or (label == "*" and i == 0) for i, label in enumerate(labels))
    if not ok or len(text) + len(zone) + 1 > 253:
        raise ValueError(f"{field}: {name!r} is not a valid name in zone {zone}")
    return text


# --- zone files ---------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneRecord:
    owner: str  # relative to the zone, '@' for the apex
    type: str
    value: str
    ttl: int


def _rdata(field: str, rtype: str, value: Any) -> str:
    if rtype == "A":
        return _ip(field, value, 4)
    if rtype == "AAAA":
        return _ip(field, value, 6)
    if rtype in ("CNAME", "NS", "PTR"):
        return _domain(field, value) + "."
    text = str(value).strip()
    if not text or not _SAFE_RDATA.match(text) or not _balanced(text):
        raise ValueError(f"{field}: {value!r} cannot be written as {rtype} record data")
    return text


def _balanced(text: str) -> bool:
    """Quotes closed, and no zone-file syntax (; comment, ( ) continuation) outside them."""
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch in ";()":
            return False
    return not quoted and not escaped


def _serial(records: Sequence[ZoneRecord], soa_head: str) -> int:
    """Deterministic, changes with the content (no secondaries depend on its order)."""
    data = soa_head + "\n" + "\n".join(f"{r.owner} {r.ttl} {r.type} {r.value}" for r in records)
    return (zlib.crc32(data.encode()) & 0x7FFFFFFF) or 1


def _zone_file(
    zone: str,
    file_name: str,
    header: Sequence[str],
    records: list[ZoneRecord],
    soa_template: str,
    ttl: int = DEFAULT_TTL,
) -> RenderedFile:
    records = sorted(records, key=lambda r: (r.owner != "@", r.type != "NS", r.owner.split(".")[::-1], r.type, r.value))
    serial = _serial(records, soa_template)
    return RenderedFile(
        file_name,
        _render(
            "bind-zone.db.j2",
            zone=zone,
            file_name=file_name,
            header=list(header),
            ttl=ttl,
            soa=soa_template.format(serial=serial),
            records=records,
        ),
        FILE_MODE,
    )


def _host_records(field: str, zone: str, records: Mapping[str, Any]) -> list[ZoneRecord]:
    """{name: IP or [IPs]} -> A/AAAA records."""
    if not isinstance(records, Mapping):
        raise ValueError(f"{field}: expected a mapping of name -> IP address, got {records!r}")
    out = []
    for name, ips in records.items():
        owner = _owner(f"{field}[{name!r}]", name, zone)
        for i, ip in enumerate([ips] if isinstance(ips, str) else list(ips)):
            addr = _ip(f"{field}[{name!r}]" + (f"[{i}]" if not isinstance(ips, str) else ""), ip, None)
            out.append(ZoneRecord(owner, "A" if ":" not in addr else "AAAA", addr, DEFAULT_TTL))
    return out


def _rrset_records(
    field: str, zone: str, rrsets: Sequence[Mapping[str, Any]]
) -> tuple[list[ZoneRecord], str | None, list[str]]:
    """Route 53 ResourceRecordSets -> records, the zone's own SOA rdata, skipped notes."""
    records: list[ZoneRecord] = []
    soa: str | None = None
    skipped: list[str] = []
    for i, rrset in enumerate(rrsets):
        where = f"{field}[{i}]"
        if not isinstance(rrset, Mapping) or "Name" not in rrset or "Type" not in rrset:
            raise ValueError(f"{where}: expected a Route 53 record set with Name and Type, got {rrset!r}")
        owner = _owner(f"{where}.Name", rrset["Name"], zone, absolute=True)
        rtype = str(rrset["Type"]).upper()
        if not re.fullmatch(r"[A-Z0-9]{1,10}", rtype):
            raise ValueError(f"{where}.Type: {rrset['Type']!r} is not a record type")
        if "AliasTarget" in rrset:
            skipped.append(f"{owner} {rtype}: alias record (not served in the lab)")
            continue
        ttl = int(rrset.get("TTL", DEFAULT_TTL))
        values = [v["Value"] if isinstance(v, Mapping) else v for v in rrset.get("ResourceRecords", [])]
        if rtype == "SOA":
            if owner == "@" and values:
                fields = str(values[0]).split()
                if len(fields) != 7:
                    raise ValueError(f"{where}: {values[0]!r} is not SOA record data")
                soa = " ".join(fields[:2] + ["{serial}"] + fields[3:])
            continue
        for j, value in enumerate(values):
            records.append(ZoneRecord(owner, rtype, _rdata(f"{where}.ResourceRecords[{j}]", rtype, value), ttl))
    return records, soa, skipped


# --- on-prem (Debian /etc/bind) -------------------------------------------------------


def _onprem_zone_records(zone: str, ns_ip: str, onprem_records: Mapping[str, Any]) -> list[ZoneRecord]:
    """NS ns.<zone>, ns and dns -> the server itself, then the given hosts."""
    hosts = _host_records("onprem_records", zone, onprem_records)
    given = {(r.owner, r.type): r.value for r in hosts}
    if given.get(("ns", "A"), ns_ip) != ns_ip:
        raise ValueError(f"onprem_records['ns']: {given[('ns', 'A')]} differs from the DNS server's address {ns_ip}")
    own = [ZoneRecord("@", "NS", f"ns.{zone}.", DEFAULT_TTL), ZoneRecord("ns", "A", ns_ip, DEFAULT_TTL)]
    if not any(owner == "dns" for owner, _ in given):
        own.append(ZoneRecord("dns", "A", ns_ip, DEFAULT_TTL))
    return own + [r for r in hosts if (r.owner, r.type) != ("ns", "A")]


def onprem_bind_files(
    inbound_ips: Sequence[str],
    private_zone: str | Sequence[str],
    region: str,
    onprem_zone: str,
    onprem_records: Mapping[str, Any],
    listen_ips: Sequence[str] | None = None,
    *,
    onprem_cidrs: Sequence[str],
    vpc_cidrs: Sequence[str],
    dns_server_ip: str | None = None,
    bind_dir: str = "/etc/bind",
    cache_dir: str = "/var/cache/bind",
) -> list[RenderedFile]:
    """The on-prem server's files in memory (see :func:`render_onprem_bind`)."""
    inbound = _ips("inbound_ips", inbound_ips)
    private_zones = _zones("private_zone", private_zone)
    compute_zone = compute_internal_zone(region)
    zone = _domain("onprem_zone", onprem_zone)
    listen = _ips("listen_ips", listen_ips) if listen_ips is not None else []
    allowed = _cidrs("onprem_cidrs", onprem_cidrs) + _cidrs("vpc_cidrs", vpc_cidrs)
    if not allowed:
        raise ValueError("onprem_cidrs, vpc_cidrs: give the networks allowed to query (at least one CIDR)")
    if dns_server_ip is None and not listen:
        raise ValueError("dns_server_ip: give the server's own address (or listen_ips) for the zone's NS record")
    ns_ip = _ip("dns_server_ip", dns_server_ip) if dns_server_ip is not None else listen[0]
    for field, path in (("bind_dir", bind_dir), ("cache_dir", cache_dir)):
        if not re.fullmatch(r"/[A-Za-z0-9_./-]*", str(path)):
            raise ValueError(f"{field}: {path!r} is not an absolute path")
    for z in private_zones + [compute_zone]:
        if z == zone or z.endswith("." + zone) or zone.endswith("." + z):
            raise ValueError(f"private_zone: {z} overlaps the on-prem zone {zone}")

    records = _onprem_zone_records(zone, ns_ip, onprem_records)
    zone_file_name = f"db.{zone}"
    ctx = dict(
        dns_server_ip=ns_ip,
        onprem_zone=zone,
        bind_dir=bind_dir.rstrip("/") or "/",
        cache_dir=cache_dir,
        private_zones=private_zones,
        compute_zone=compute_zone,
        inbound_ips=inbound,
        forward_zones=private_zones + [compute_zone],
        allowed_cidrs=allowed,
        listen_ips=listen,
        acl_name="hybrid-clients",
        zone_file_path=f"{bind_dir.rstrip('/')}/{zone_file_name}",
    )
    zone_file = _zone_file(
        zone,
        zone_file_name,
        [
            f"What it is: the on-prem zone {zone}, served by the IDC DNS server {ns_ip}.",
            f"Copy to {ctx['zone_file_path']} (named.conf.local loads it as type master).",
            "The serial is derived from the content: it changes whenever a record does.",
        ],
        records,
        f"ns.{zone}. hostmaster.{zone}. {{serial}} {SOA_TIMERS}",
    )
    files = [
        RenderedFile("named.conf.options", _render("bind-onprem-named.conf.options.j2", **ctx), FILE_MODE),
        RenderedFile("named.conf.local", _render("bind-onprem-named.conf.local.j2", **ctx), FILE_MODE),
        zone_file,
    ]
    # installs the three into bind_dir, checks them with named-checkconf (putting
    # the previous ones back if it fails) and reloads named: by hand, or through SSM
    setup = _render("setup-onprem-bind.sh.j2", files=[f.name for f in files], **ctx)
    return files + [RenderedFile(ONPREM_SETUP_SCRIPT, setup, SCRIPT_MODE)]


def render_onprem_bind(
    inbound_ips: Sequence[str],
    private_zone: str | Sequence[str],
    region: str,
    onprem_zone: str,
    onprem_records: Mapping[str, Any],
    out_dir: Path | str,
    listen_ips: Sequence[str] | None = None,
    *,
    onprem_cidrs: Sequence[str],
    vpc_cidrs: Sequence[str],
    dns_server_ip: str | None = None,
    bind_dir: str = "/etc/bind",
    cache_dir: str = "/var/cache/bind",
) -> list[Path]:
    """Write the on-prem BIND server's files into `out_dir`; return their paths.

    * `inbound_ips`: the Route 53 Resolver inbound endpoint IPs (forwarders);
    * `private_zone`: the private hosted zone name, or several;
    * `region`: gives the forwarded ``<region>.compute.internal`` zone;
    * `onprem_zone` / `onprem_records`: the on-prem zone and its hosts
      ({name: IPv4/IPv6 or a list}); ``ns`` and ``dns`` get `dns_server_ip`;
    * `listen_ips`: the server's addresses to listen on (plus 127.0.0.1);
      None keeps Debian's default (all);
    * `onprem_cidrs` / `vpc_cidrs`: who may query and recurse (the VPC's
      because the Resolver outbound endpoint queries from there);
    * `dns_server_ip`: the server's own address, for its NS record
      (default: the first of `listen_ips`);
    * `bind_dir` / `cache_dir`: where the files live on the server.
    """
    files = onprem_bind_files(
        inbound_ips,
        private_zone,
        region,
        onprem_zone,
        onprem_records,
        listen_ips,
        onprem_cidrs=onprem_cidrs,
        vpc_cidrs=vpc_cidrs,
        dns_server_ip=dns_server_ip,
        bind_dir=bind_dir,
        cache_dir=cache_dir,
    )
    out = Path(out_dir)
    return [write_file(out / f.name, f.content, f.mode) for f in files]


def _onprem_kwargs(params: Any, overrides: Mapping[str, Any]) -> dict[str, Any]:
    if params.dns is None:
        raise ValueError("dns: the parameter set has no dns section (private zone, inbound IPs)")
    kwargs: dict[str, Any] = dict(
        inbound_ips=list(params.dns.inbound_ips),
        private_zone=params.dns.private_zone,
        region=params.region,
        onprem_zone=params.onprem.domain,
        onprem_records=dict(params.onprem.hosts),
        listen_ips=[params.onprem.dns_server],
        onprem_cidrs=[params.onprem.cidr],
        vpc_cidrs=[params.vpc.cidr],
        dns_server_ip=params.onprem.dns_server,
    )
    kwargs.update(overrides)
    return kwargs


def onprem_bind_files_from_params(params: Any, **overrides: Any) -> list[RenderedFile]:
    """:func:`onprem_bind_files` with the values of a :class:`hybridnet.params.Params`."""
    return onprem_bind_files(**_onprem_kwargs(params, overrides))


def render_onprem_bind_from_params(params: Any, out_dir: Path | str, **overrides: Any) -> list[Path]:
    """:func:`render_onprem_bind` with the values of a :class:`hybridnet.params.Params`."""
    return render_onprem_bind(out_dir=out_dir, **_onprem_kwargs(params, overrides))


# --- lab ------------------------------------------------------------------------------


def _targets(field: str, values: Any) -> tuple[list[str], list[str]]:
    """Forwarder targets: IPs, "ip port N", or Route 53 TargetIps {"Ip", "Port"}.
    Returns (named.conf forwarder entries, bare IPs)."""
    if isinstance(values, (str, Mapping)) or not isinstance(values, Iterable):
        values = [values]
    entries, ips = [], []
    for i, item in enumerate(values):
        where = f"{field}[{i}]"
        port: Any = 53
        if isinstance(item, Mapping):
            ip, port = item.get("Ip"), item.get("Port", 53)
        elif isinstance(item, str) and " port " in item:
            ip, _, port = item.partition(" port ")
        else:
            ip = item
        ip = _ip(where, ip)
        try:
            port = int(port)
        except (TypeError, ValueError):
            port = -1
        if not 1 <= port <= 65535:
            raise ValueError(f"{where}: port {port!r} is not 1-65535")
        entries.append(ip if port == 53 else f"{ip} port {port}")
        ips.append(ip)
    if not entries:
        raise ValueError(f"{field}: give at least one target IP")
    return entries, ips


def _lab_common(
    out_dir: Path | str, run_dir: Path | str | None, listen_ips: Any, allow_query: Any, port: int
) -> dict[str, Any]:
    listen = _ips("listen_ips", listen_ips)
    allowed = _cidrs("allow_query", allow_query)
    if not allowed:
        raise ValueError("allow_query: give the lab networks allowed to query (at least one CIDR)")
    run = Path(run_dir if run_dir is not None else out_dir).resolve()
    if not re.fullmatch(r"/[A-Za-z0-9_./+-]*", str(run)):
        raise ValueError(f"run_dir: {str(run)!r} has characters named.conf paths cannot hold")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port: {port!r} is not 1-65535")
    return {
        "listen_ips": listen,
        "allowed_cidrs": allowed,
        "run_dir": str(run),
        "conf_path": str(run / "named.conf"),
        "port": port,
        "dnstap_socket": None,
    }


def lab_onprem_bind_files(
    out_dir: Path | str,
    *,
    listen_ips: Sequence[str],
    allow_query: Sequence[str],
    onprem_zone: str,
    onprem_records: Mapping[str, Any],
    inbound_ips: Sequence[str],
    private_zones: str | Sequence[str],
    region: str | None = None,
    dns_server_ip: str | None = None,
    run_dir: Path | str | None = None,
    port: int = 53,
) -> list[RenderedFile]:
    """The lab's on-prem named in memory (see :func:`render_lab_bind`)."""
    ctx = _lab_common(out_dir, run_dir, listen_ips, allow_query, port)
    zone = _domain("onprem_zone", onprem_zone)
    inbound = _ips("inbound_ips", inbound_ips)
    forwarded = _zones("private_zones", private_zones)
    if region is not None:
        forwarded.append(compute_internal_zone(region))
    ns_ip = _ip("dns_server_ip", dns_server_ip) if dns_server_ip is not None else ctx["listen_ips"][0]
    records = _onprem_zone_records(zone, ns_ip, onprem_records)
    zone_file = _zone_file(
        zone,
        f"db.{zone}",
        ["What it is: the lab's on-prem zone (role onprem)."],
        records,
        f"ns.{zone}. hostmaster.{zone}. {{serial}} {SOA_TIMERS}",
    )
    run = Path(ctx["run_dir"])
    conf = _render(
        "bind-lab-named.conf.j2",
        role="onprem",
        title=f"IDC DNS server for {zone}",
        description=[
            f"Primary for {zone}; forwards {', '.join(forwarded)} to the Route 53 Resolver",
            f"inbound endpoint ({', '.join(inbound)}).",
        ],
        upstream_ips=inbound,
        query_source_ip=None,
        primary_zones=[{"name": zone, "path": str(run / zone_file.name), "comment": "the on-prem zone"}],
        forward_zones=[
            {"name": z, "targets": inbound, "comment": "to the Resolver inbound endpoint"} for z in forwarded
        ],
        **ctx,
    )
    return [RenderedFile("named.conf", conf, FILE_MODE), zone_file]


def lab_resolver_bind_files(
    out_dir: Path | str,
    *,
    listen_ips: Sequence[str],
    allow_query: Sequence[str],
    hosted_zones: Mapping[str, Any],
    forward_rules: Mapping[str, Any] | None = None,
    query_source_ip: str | None = None,
    region: str | None = None,
    vpc_host_ips: Sequence[str] = (),
    run_dir: Path | str | None = None,
    port: int = 53,
    dnstap_socket: Path | str | None = None,
) -> list[RenderedFile]:
    """The lab's Route 53 Resolver named in memory (see :func:`render_lab_bind`)."""
    ctx = _lab_common(out_dir, run_dir, listen_ips, allow_query, port)
    if dnstap_socket is not None:
        if not re.fullmatch(r"/[A-Za-z0-9_./+-]*", str(dnstap_socket)):
            raise ValueError(f"dnstap_socket: {str(dnstap_socket)!r} is not an absolute path named.conf can hold")
        ctx["dnstap_socket"] = str(dnstap_socket)
    rules = dict(forward_rules or {})
    if rules and query_source_ip is None:
        raise ValueError("query_source_ip: FORWARD rules need an outbound endpoint IP to send from")
    source = _ip("query_source_ip", query_source_ip) if query_source_ip is not None else None
    if not isinstance(hosted_zones, Mapping):
        raise ValueError(f"hosted_zones: expected a mapping of zone name -> record sets, got {hosted_zones!r}")

    forward_zones, upstream = [], []
    rule_names = set()
    for domain, targets in rules.items():
        name = _domain(f"forward_rules[{domain!r}]", domain)
        entries, ips = _targets(f"forward_rules[{domain!r}]", targets)
        forward_zones.append({"name": name, "targets": entries, "comment": "FORWARD rule, via the outbound endpoint"})
        upstream += [ip for ip in ips if ip not in upstream]
        rule_names.add(name)

    files: list[RenderedFile] = []
    primary = []
    run = Path(ctx["run_dir"])
    zones: dict[str, Any] = {}
    for zone_name, data in hosted_zones.items():
        zones[_domain(f"hosted_zones[{zone_name!r}]", zone_name)] = (zone_name, data)
    if region is not None:
        compute = compute_internal_zone(region)
        hosts = {f"ip-{ip.replace('.', '-')}": ip for ip in _ips("vpc_host_ips", vpc_host_ips, minimum=0)}
        zones.setdefault(compute, (compute, hosts))
        comments = {compute: "EC2 private host names (ip-a-b-c-d), as the VPC's DNS answers them"}
    else:
        comments = {}
    if region is None and vpc_host_ips:
        raise ValueError("region: needed for the compute.internal names of vpc_host_ips")
    for zone, (given_name, data) in sorted(zones.items()):
        field = f"hosted_zones[{given_name!r}]"
        if zone in rule_names:
            continue  # Route 53 Resolver: a forwarding rule for the same name wins over the private zone
        skipped: list[str]
        if isinstance(data, Mapping):
            records, soa, skipped = _host_records(field, zone, data), None, []
        else:
            records, soa, skipped = _rrset_records(field, zone, list(data))
        if not any(r.owner == "@" and r.type == "NS" for r in records):
            records.append(ZoneRecord("@", "NS", ROUTE53_NS, 172800))
        comment = comments.get(zone, "private hosted zone")
        zone_file = _zone_file(
            zone,
            f"db.{zone}",
            [
                f"What it is: {comment}: {zone} as Route 53 Resolver answers it (lab role resolver).",
                *[f"skipped: {note}" for note in skipped],
            ],
            records,
            soa or ROUTE53_SOA,
        )
        files.append(zone_file)
        primary.append({"name": zone, "path": str(run / zone_file.name), "comment": comment})

    conf = _render(
        "bind-lab-named.conf.j2",
        role="resolver",
        title="Route 53 Resolver in the VPC",
        description=[
            "Answers the private hosted zones and forwards per FORWARD rule, sending",
            f"forwarded queries from the outbound endpoint IP {source or '(none)'}.",
        ],
        upstream_ips=upstream,
        query_source_ip=source,
        primary_zones=primary,
        forward_zones=sorted(forward_zones, key=lambda z: z["name"]),
        **ctx,
    )
    return [RenderedFile("named.conf", conf, FILE_MODE), *files]


def render_lab_bind(role: str, out_dir: Path | str, **kwargs: Any) -> list[Path]:
    """Write a lab named's ``named.conf`` and zone files into `out_dir`; return their paths.

    ``role="onprem"`` (IDC DNS server), keyword arguments:
        listen_ips, allow_query (CIDRs of the lab clients), onprem_zone,
        onprem_records ({name: IP}), inbound_ips, private_zones, region
        (adds ``<region>.compute.internal``), dns_server_ip, run_dir, port.
    ``role="resolver"`` (Route 53 Resolver in the VPC), keyword arguments:
        listen_ips (inbound endpoint IPs and e.g. 10.0.0.2), allow_query,
        hosted_zones ({zone: {name: IP}} or {zone: Route 53 ResourceRecordSets}),
        forward_rules ({domain: [IP | "IP port N" | {"Ip", "Port"}]}),
        query_source_ip (an outbound endpoint IP), region + vpc_host_ips
        (``ip-a-b-c-d.<region>.compute.internal`` names), run_dir, port,
        dnstap_socket (every answer to a client sent as dnstap to that unix
        socket: the lab's Resolver query logs, hybridnet.lab.dnstap).

    `run_dir` (default `out_dir`) is where named finds the files and keeps its
    pid file; it must be writable by user ``bind``.
    """
    if role == "onprem":
        files = lab_onprem_bind_files(out_dir, **kwargs)
    elif role == "resolver":
        files = lab_resolver_bind_files(out_dir, **kwargs)
    else:
        raise ValueError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    out = Path(out_dir)
    return [write_file(out / f.name, f.content, f.mode) for f in files]


__all__ = [
    "ROLES",
    "compute_internal_zone",
    "lab_onprem_bind_files",
    "lab_resolver_bind_files",
    "onprem_bind_files",
    "onprem_bind_files_from_params",
    "render_lab_bind",
    "render_onprem_bind",
    "render_onprem_bind_from_params",
]
