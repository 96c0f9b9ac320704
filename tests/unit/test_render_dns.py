"""BIND configuration generators: values, modes, idempotence, named-checkconf/named-checkzone."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest
from hybridnet.params import load_params
from hybridnet.render.dns import (
    compute_internal_zone,
    render_lab_bind,
    render_onprem_bind,
    render_onprem_bind_from_params,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

ROOT = Path(__file__).resolve().parents[2]
INBOUND = ["10.0.1.250", "10.0.2.250"]
OUTBOUND = ["10.0.1.251", "10.0.2.251"]
REGION = "ap-northeast-2"


def onprem(out_dir: Path, **overrides) -> list[Path]:
    kwargs = dict(
        inbound_ips=INBOUND,
        private_zone="awsanycompany.corp",
        region=REGION,
        onprem_zone="anycompany.corp",
        onprem_records={"websrv": "192.168.2.20"},
        out_dir=out_dir,
        listen_ips=["192.168.2.250"],
        onprem_cidrs=["192.168.0.0/16"],
        vpc_cidrs=["10.0.0.0/16"],
    )
    kwargs.update(overrides)
    return render_onprem_bind(**kwargs)


def lab_onprem(out_dir: Path, **overrides) -> list[Path]:
    kwargs = dict(
        listen_ips=["192.168.2.250"],
        allow_query=["192.168.0.0/16", "10.0.0.0/16"],
        onprem_zone="anycompany.corp",
        onprem_records={"websrv": "192.168.2.20"},
        inbound_ips=INBOUND,
        private_zones=["awsanycompany.corp"],
        region=REGION,
    )
    kwargs.update(overrides)
    return render_lab_bind("onprem", out_dir, **kwargs)


# What list_resource_record_sets returns for the seed's private zone (as moto serves it).
ROUTE53_RRSETS = [
    {
        "Name": "awsanycompany.corp.",
        "Type": "NS",
        "TTL": 172800,
        "ResourceRecords": [{"Value": "ns-2048.awsdns-64.com"}, {"Value": "ns-2049.awsdns-65.net"}],
    },
    {
        "Name": "awsanycompany.corp.",
        "Type": "SOA",
        "TTL": 900,
        "ResourceRecords": [{"Value": "ns-2048.awsdns-64.com. hostmaster.example.com. 1 7200 900 1209600 86400"}],
    },
    {"Name": "web1.awsanycompany.corp.", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "10.0.10.10"}]},
    {"Name": "web2.awsanycompany.corp.", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "10.0.20.10"}]},
    {
        "Name": "www.awsanycompany.corp.",
        "Type": "CNAME",
        "TTL": 60,
        "ResourceRecords": [{"Value": "web1.awsanycompany.corp"}],
    },
    {"Name": "awsanycompany.corp.", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"v=spf1 -all"'}]},
    {
        "Name": "awsanycompany.corp.",
        "Type": "MX",
        "TTL": 60,
        "ResourceRecords": [{"Value": "10 mail.awsanycompany.corp."}],
    },
    {"Name": "mail.awsanycompany.corp.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.10.25"}]},
    {"Name": "\\052.apps.awsanycompany.corp.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.10.30"}]},
    {
        "Name": "lb.awsanycompany.corp.",
        "Type": "A",
        "AliasTarget": {"HostedZoneId": "Z1", "DNSName": "x.elb.amazonaws.com.", "EvaluateTargetHealth": False},
    },
]


def lab_resolver(out_dir: Path, **overrides) -> list[Path]:
    kwargs = dict(
        listen_ips=INBOUND + ["10.0.0.2"],
        allow_query=["192.168.0.0/16", "10.0.0.0/16"],
        hosted_zones={"awsanycompany.corp": {"web1": "10.0.10.10", "web2": "10.0.20.10"}},
        forward_rules={"anycompany.corp": ["192.168.2.250"]},
        query_source_ip=OUTBOUND[0],
        region=REGION,
        vpc_host_ips=["10.0.10.10", "10.0.20.10"],
    )
    kwargs.update(overrides)
    return render_lab_bind("resolver", out_dir, **kwargs)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load_zone(path: Path, origin: str) -> dict[tuple[str, str], set[str]]:
    zone = dns.zone.from_file(str(path), origin=origin, relativize=True)
    out: dict[tuple[str, str], set[str]] = {}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            out[(name.to_text(), dns.rdatatype.to_text(rdataset.rdtype))] = {
                r.to_text(origin=zone.origin, relativize=False) for r in rdataset
            }
    return out


# --- on-prem (Debian layout) ----------------------------------------------------------


def test_onprem_files_and_modes(tmp_path):
    paths = onprem(tmp_path)
    assert [p.name for p in paths] == [
        "named.conf.options",
        "named.conf.local",
        "db.anycompany.corp",
        "setup-onprem-bind.sh",
    ]
    assert [mode(p) for p in paths] == [0o644, 0o644, 0o644, 0o755]
    assert all(p.parent == tmp_path for p in paths)


def test_onprem_options_are_the_seed_made_right(tmp_path):
    options = (tmp_path / "named.conf.options").read_text() if onprem(tmp_path) else ""
    body = "\n".join(line for line in options.splitlines() if not line.lstrip().startswith("//"))
    assert "8.8.8.8" not in body and "forwarders" not in body
    assert "recursion yes;" in body
    assert "dnssec-validation no;" in body
    assert "allow-query { hybrid-clients; };" in body and "allow-recursion { hybrid-clients; };" in body
    assert "any;" not in body.replace("listen-on-v6 { any; }", "")
    acl = body.split('acl "hybrid-clients" {')[1].split("};")[0].split()
    assert acl == ["192.168.0.0/16;", "10.0.0.0/16;", "localhost;"]
    assert "192.168.2.250;" in body.split("listen-on port 53")[1]
    assert options.startswith("// named.conf.options -- on-prem DNS server 192.168.2.250")
    assert "/etc/bind/named.conf.options" in options  # says where it goes


def test_onprem_local_forwards_to_inbound_endpoint(tmp_path):
    onprem(tmp_path)
    local = (tmp_path / "named.conf.local").read_text()
    for zone in ("awsanycompany.corp", "ap-northeast-2.compute.internal"):
        block = local.split(f'zone "{zone}" {{')[1].split("\n};")[0]
        assert "type forward;" in block and "forward only;" in block
        assert block.split("forwarders {")[1].split("};")[0].split() == ["10.0.1.250;", "10.0.2.250;"]
    primary = local.split('zone "anycompany.corp" {')[1].split("\n};")[0]
    assert "type master;" in primary and 'file "/etc/bind/db.anycompany.corp";' in primary


def test_onprem_zone_file(tmp_path):
    onprem(tmp_path)
    records = load_zone(tmp_path / "db.anycompany.corp", "anycompany.corp")
    assert records[("websrv", "A")] == {"192.168.2.20"}
    assert records[("ns", "A")] == {"192.168.2.250"} and records[("dns", "A")] == {"192.168.2.250"}
    assert records[("@", "NS")] == {"ns.anycompany.corp."}
    soa = records[("@", "SOA")].pop().split()
    assert soa[:2] == ["ns.anycompany.corp.", "hostmaster.anycompany.corp."]


def test_onprem_several_private_zones_and_us_east_1(tmp_path):
    onprem(tmp_path, private_zone=["awsanycompany.corp", "Apps.Internal.Example."], region="us-east-1")
    local = (tmp_path / "named.conf.local").read_text()
    assert 'zone "apps.internal.example" {' in local
    assert 'zone "ec2.internal" {' in local and "us-east-1.compute.internal" not in local
    assert compute_internal_zone("eu-west-1") == "eu-west-1.compute.internal"


def test_onprem_from_params(tmp_path):
    params = load_params(ROOT / "params" / "lab.yaml")
    paths = render_onprem_bind_from_params(params, tmp_path)
    assert [p.read_bytes() for p in paths] == [
        p.read_bytes() for p in onprem(tmp_path / "direct", dns_server_ip="192.168.2.250")
    ]


def test_idempotent_same_bytes(tmp_path):
    renders = {
        "onprem": lambda d: onprem(d),
        "lab-onprem": lambda d: lab_onprem(d, run_dir="/srv/lab/dns"),
        "lab-resolver": lambda d: lab_resolver(d, run_dir="/srv/lab/dns"),
    }
    for name, render in renders.items():
        first = {p.name: p.read_bytes() for p in render(tmp_path / name / "a")}
        again = {p.name: p.read_bytes() for p in render(tmp_path / name / "a")}
        other = {p.name: p.read_bytes() for p in render(tmp_path / name / "b")}
        assert first == again == other, name


def test_serial_follows_the_content(tmp_path):
    def serial(records):
        onprem(tmp_path, onprem_records=records)
        return load_zone(tmp_path / "db.anycompany.corp", "anycompany.corp")[("@", "SOA")].pop().split()[2]

    assert serial({"websrv": "192.168.2.20"}) == serial({"websrv": "192.168.2.20"})
    assert serial({"websrv": "192.168.2.20"}) != serial({"websrv": "192.168.2.21"})


# --- lab ----------------------------------------------------------------------------------


def test_lab_onprem(tmp_path):
    paths = lab_onprem(tmp_path)
    assert [p.name for p in paths] == ["named.conf", "db.anycompany.corp"] and all(mode(p) == 0o644 for p in paths)
    conf = paths[0].read_text()
    assert f'directory "{tmp_path}";' in conf and f'pid-file "{tmp_path}/named.pid";' in conf
    assert f'session-keyfile "{tmp_path}/session.key";' in conf and "controls { };" in conf
    assert conf.split("listen-on port 53 {")[1].split("};")[0].split() == ["192.168.2.250;"]
    assert "blackhole { !lab-nets; any; };" in conf
    assert 'zone "."' not in conf and "type hint" not in conf and "8.8.8.8" not in conf
    for zone in ("awsanycompany.corp", "ap-northeast-2.compute.internal"):
        block = conf.split(f'zone "{zone}" {{')[1].split("\n};")[0]
        assert "forward only;" in block and "10.0.1.250;" in block and "10.0.2.250;" in block
    assert load_zone(paths[1], "anycompany.corp")[("websrv", "A")] == {"192.168.2.20"}


def test_lab_resolver(tmp_path):
    paths = lab_resolver(tmp_path)
    assert [p.name for p in paths] == ["named.conf", "db.ap-northeast-2.compute.internal", "db.awsanycompany.corp"]
    conf = paths[0].read_text()
    assert conf.split("listen-on port 53 {")[1].split("};")[0].split() == ["10.0.1.250;", "10.0.2.250;", "10.0.0.2;"]
    assert "query-source address 10.0.1.251;" in conf
    rule = conf.split('zone "anycompany.corp" {')[1].split("\n};")[0]
    assert "type forward;" in rule and "forward only;" in rule and "192.168.2.250;" in rule
    private = load_zone(tmp_path / "db.awsanycompany.corp", "awsanycompany.corp")
    assert private[("web1", "A")] == {"10.0.10.10"} and private[("web2", "A")] == {"10.0.20.10"}
    compute = load_zone(tmp_path / "db.ap-northeast-2.compute.internal", "ap-northeast-2.compute.internal")
    assert compute[("ip-10-0-10-10", "A")] == {"10.0.10.10"}


def test_lab_resolver_from_route53_record_sets(tmp_path):
    lab_resolver(
        tmp_path,
        hosted_zones={"awsanycompany.corp.": ROUTE53_RRSETS},
        forward_rules={
            "anycompany.corp.": [{"Ip": "192.168.2.250", "Port": 53}],
            "legacy.example": ["192.168.3.53 port 5353"],
        },
    )
    zone_file = tmp_path / "db.awsanycompany.corp"
    records = load_zone(zone_file, "awsanycompany.corp")
    assert records[("@", "NS")] == {"ns-2048.awsdns-64.com.", "ns-2049.awsdns-65.net."}
    assert records[("@", "SOA")].pop().split()[:2] == ["ns-2048.awsdns-64.com.", "hostmaster.example.com."]
    assert records[("www", "CNAME")] == {"web1.awsanycompany.corp."}
    assert records[("*.apps", "A")] == {"10.0.10.30"}
    assert records[("@", "MX")] == {"10 mail.awsanycompany.corp."}
    assert ("lb", "A") not in records and "skipped: lb A: alias record" in zone_file.read_text()
    conf = (tmp_path / "named.conf").read_text()
    assert "192.168.3.53 port 5353;" in conf


def test_lab_rule_wins_over_private_zone(tmp_path):
    """Route 53 Resolver: a forwarding rule for a private zone's own name takes precedence."""
    paths = lab_resolver(
        tmp_path, forward_rules={"anycompany.corp": ["192.168.2.250"], "awsanycompany.corp": ["192.168.2.250"]}
    )
    assert "db.awsanycompany.corp" not in [p.name for p in paths]
    conf = (tmp_path / "named.conf").read_text()
    assert conf.count('zone "awsanycompany.corp"') == 1 and "type master" in conf  # compute.internal stays


# --- bad inputs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"private_zone": "bad name!"}, "private_zone"),
        ({"private_zone": "awsanycompany..corp"}, "private_zone"),
        ({"private_zone": ["awsanycompany.corp", "-bad.corp"]}, "private_zone[1]"),
        ({"onprem_zone": "anycompany_corp"}, "onprem_zone"),
        ({"onprem_zone": "a" * 64 + ".corp"}, "onprem_zone"),
        ({"region": "Seoul"}, "region"),
        ({"inbound_ips": ["10.0.1.250", "10.0.2.x"]}, "inbound_ips[1]"),
        ({"inbound_ips": ["fd00::1"]}, "inbound_ips[0]"),
        ({"inbound_ips": "10.0.1.250"}, "inbound_ips"),
        ({"inbound_ips": []}, "inbound_ips"),
        ({"listen_ips": ["192.168.2.256"]}, "listen_ips[0]"),
        ({"onprem_cidrs": ["192.168.0.1/16"]}, "onprem_cidrs[0]"),
        ({"vpc_cidrs": ["10.0.0.0/33"]}, "vpc_cidrs[0]"),
        ({"onprem_records": {"websrv": "192.168.2.x"}}, "onprem_records['websrv']"),
        ({"onprem_records": {"bad name": "192.168.2.20"}}, "onprem_records['bad name']"),
        ({"onprem_records": {"ns": "192.168.2.9"}}, "onprem_records['ns']"),
        ({"listen_ips": None}, "dns_server_ip"),
        ({"private_zone": "corp.anycompany.corp"}, "private_zone"),
    ],
)
def test_onprem_bad_inputs_name_the_field(tmp_path, overrides, field):
    with pytest.raises(ValueError) as exc:
        onprem(tmp_path, **overrides)
    assert str(exc.value).startswith(f"{field}:") or f"{field}:" in str(exc.value)
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"forward_rules": {"anycompany.corp": ["not-an-ip"]}}, "forward_rules['anycompany.corp'][0]"),
        (
            {"forward_rules": {"anycompany.corp": [{"Ip": "192.168.2.250", "Port": 0}]}},
            "forward_rules['anycompany.corp'][0]",
        ),
        ({"forward_rules": {"any company": ["192.168.2.250"]}}, "forward_rules['any company']"),
        ({"forward_rules": {"anycompany.corp": []}}, "forward_rules['anycompany.corp']"),
        ({"query_source_ip": "10.0.1"}, "query_source_ip"),
        ({"query_source_ip": None}, "query_source_ip"),
        ({"listen_ips": ["10.0.1.250", "10.0.1.250"]}, "listen_ips"),
        ({"allow_query": []}, "allow_query"),
        ({"hosted_zones": {"aws anycompany": {}}}, "hosted_zones['aws anycompany']"),
        ({"hosted_zones": {"awsanycompany.corp": {"web1": "10.0.10"}}}, "hosted_zones['awsanycompany.corp']['web1']"),
        (
            {
                "hosted_zones": {
                    "awsanycompany.corp": [
                        {"Name": "x.awsanycompany.corp", "Type": "TXT", "ResourceRecords": [{"Value": "a; rm -rf /"}]}
                    ]
                }
            },
            "hosted_zones['awsanycompany.corp'][0].ResourceRecords[0]",
        ),
        (
            {
                "hosted_zones": {
                    "awsanycompany.corp": [
                        {"Name": "www.example.org", "Type": "A", "ResourceRecords": [{"Value": "10.0.0.9"}]}
                    ]
                }
            },
            "hosted_zones['awsanycompany.corp'][0].Name",
        ),
        ({"vpc_host_ips": ["10.0.10.x"]}, "vpc_host_ips[0]"),
    ],
)
def test_lab_resolver_bad_inputs_name_the_field(tmp_path, overrides, field):
    with pytest.raises(ValueError) as exc:
        lab_resolver(tmp_path, **overrides)
    assert f"{field}:" in str(exc.value)


def test_lab_bad_role(tmp_path):
    with pytest.raises(ValueError, match="role: 'dns'"):
        render_lab_bind("dns", tmp_path)


# --- real tools: named-checkconf, named-checkzone --------------------------------------------


def _checkconf(*args: str) -> None:
    exe = tooling.require_tool("named-checkconf")
    res = tooling.run([exe, "-z", *args])
    out = (res.stdout + res.stderr).strip()
    assert res.returncode == 0, out
    problems = [line for line in out.splitlines() if "loaded serial" not in line]
    assert not problems, out


def _checkzone(zone: str, path: Path) -> None:
    exe = tooling.require_tool("named-checkzone")
    # -i local: integrity checks without looking up names outside the zone
    res = tooling.run([exe, "-i", "local", "-k", "fail", "-n", "fail", zone, str(path)])
    out = (res.stdout + res.stderr).strip()
    assert res.returncode == 0 and out.endswith("OK"), out
    assert [line for line in out.splitlines() if "loaded serial" not in line] == ["OK"], out


def test_named_checkconf_onprem(tmp_path):
    """The Debian files, loaded from where named.conf would include them (zones loaded: -z)."""
    onprem(tmp_path, bind_dir=str(tmp_path), cache_dir=str(tmp_path))
    wrapper = tmp_path / "named.conf"
    wrapper.write_text(f'include "{tmp_path}/named.conf.options";\ninclude "{tmp_path}/named.conf.local";\n')
    _checkconf(str(wrapper))
    _checkzone("anycompany.corp", tmp_path / "db.anycompany.corp")


def test_named_checkconf_onprem_debian_layout(tmp_path):
    """The default paths (/etc/bind, /var/cache/bind) in a chroot with Debian's named.conf."""
    tooling.require_root()  # named-checkconf -t chroots
    root = tmp_path / "root"
    etc = root / "etc" / "bind"
    onprem(etc)
    (root / "var" / "cache" / "bind").mkdir(parents=True)
    (etc / "named.conf").write_text('include "/etc/bind/named.conf.options";\ninclude "/etc/bind/named.conf.local";\n')
    _checkconf("-t", str(root), "/etc/bind/named.conf")


@pytest.mark.parametrize("variant", ["onprem", "resolver", "resolver-route53", "onprem-us-east-1"])
def test_named_checkconf_lab(tmp_path, variant):
    if variant == "onprem":
        paths = lab_onprem(tmp_path)
    elif variant == "onprem-us-east-1":
        paths = lab_onprem(tmp_path, region="us-east-1")
    elif variant == "resolver":
        paths = lab_resolver(tmp_path)
    else:
        paths = lab_resolver(tmp_path, hosted_zones={"awsanycompany.corp": ROUTE53_RRSETS})
    _checkconf(str(paths[0]))
    for zone_file in paths[1:]:
        _checkzone(zone_file.name.removeprefix("db."), zone_file)


def test_the_onprem_setup_script_passes_shellcheck_and_installs_checks_and_reloads(tmp_path):
    shellcheck = tooling.require_tool("shellcheck")
    script = next(p for p in onprem(tmp_path) if p.name == "setup-onprem-bind.sh")
    res = tooling.run([shellcheck, "--severity=style", str(script)])
    assert res.returncode == 0, res.stdout + res.stderr
    text = script.read_text()
    assert "files=(named.conf.options named.conf.local db.anycompany.corp)" in text
    assert text.index("named-checkconf -z") < text.index("systemctl reload-or-restart")
    assert "the previous files are back" in text
