"""Phase 3 end to end in the lab: phases 1, 2 and 3 driven through the library,
the lab up with real strongSwan/FRR, and two real named servers configured
from the emulator's state (the IDC's DNS server in hn-idc, Route 53 Resolver in
hn-vpc). DNS between them crosses the IPsec tunnels.

Needs root (lab_session: root + the machine-wide lab lock); without it the
tests skip, and under CI=true that is a failure."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hybridnet import dataplane, hosts, lab
from hybridnet.aws import connect
from hybridnet.diagnostics.charts_dns import FAILED, outcome
from hybridnet.diagnostics.dns import Probe, probe_matrix
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX
from hybridnet.params import load_params
from hybridnet.phases import hybrid_dns, router_config, tgw_attachment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
STACK = "labdns"
ONPREM_DNS, ONPREM_CLIENT = "192.168.2.250", "192.168.2.20"
VPC_RESOLVER, VPC_HOST = "10.0.0.2", "10.0.10.10"
INBOUND = ["10.0.1.250", "10.0.2.250"]
LAB_NETS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8")]


@pytest.fixture(scope="module")
def ctx(lab_session, own_emulator):
    context = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK}))
    assert context.data_plane == dataplane.LAB, context.data_plane_reason
    tgw_attachment.run(context, progress=None)
    return context


def bring_up(ctx, run_dir: Path) -> None:
    vpn, cfg = router_config.load_connection(ctx)
    router_config.write_router_configs(cfg, router_config.router_site(ctx), run_dir, targets=("lab",))
    timings = dataplane.lab_up(ctx, vpn, router_config.router_dir(run_dir) / "lab", run_dir / "lab-logs")
    assert "error" not in timings, str(timings)  # a str: pytest shortens a dict


def dns_up(ctx, run_dir: Path):
    """(Re)start both named servers from the emulator's state, as the lab's agent does."""
    table, _ = dataplane.dns_up(ctx, run_dir / "dns-lab", run_dir / "lab-logs")
    assert table["running"].all(), table.to_string()
    return table


@pytest.fixture(scope="module")
def dns_lab(ctx, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("lab-dns-run")
    bring_up(ctx, run_dir)
    result = hybrid_dns.run(ctx, progress=None)
    table = dns_up(ctx, run_dir)
    assert hybrid_dns.servers_answering(ctx).ok
    yield run_dir, result, table
    dataplane.lab_down()


def onprem(name: str, expected) -> Probe:
    return Probe("on-prem client", ONPREM_DNS, name, expected=expected, source=ONPREM_CLIENT, netns=f"{NS_PREFIX}idc")


def vpc(name: str, expected) -> Probe:
    return Probe("VPC host", VPC_RESOLVER, name, expected=expected, source=VPC_HOST, netns=f"{NS_PREFIX}vpc")


def lan_bytes() -> int:
    """Bytes the AWS side received on the tunnels' on-prem <-> VPC child SAs."""
    status = lab.status(dataplane.LAB_DIR)
    return sum(t["aws"]["child_sas"].get("lan", {}).get("bytes_in", 0) for t in status["tunnels"])


def no_route_count(ns: str) -> int:
    res = subprocess.run(
        ["ip", "netns", "exec", ns, "nstat", "-asz", "IpOutNoRoutes"], capture_output=True, text=True, timeout=10
    )
    assert res.returncode == 0, res.stderr
    return int(res.stdout.split("IpOutNoRoutes")[1].split()[0])


def test_every_generated_bind_configuration_passes_named_checkconf(dns_lab):
    run_dir, _, table = dns_lab
    assert list(table["running"]) == [True, True]
    checkconf = tooling.require_tool("named-checkconf")
    for role in ("onprem", "resolver"):
        conf = run_dir / "dns-lab" / role / "named.conf"
        res = tooling.run([checkconf, "-z", str(conf)])
        assert res.returncode == 0, res.stdout + res.stderr
        # no forwarder outside the lab (the seed's 8.8.8.8 is dropped)
        text = conf.read_text()
        for block in re.findall(r"forwarders \{(.*?)\};", text, re.S):
            for ip in re.findall(r"\d+\.\d+\.\d+\.\d+", block):
                assert any(ipaddress.ip_address(ip) in net for net in LAB_NETS), ip


def test_lab_servers_are_configured_from_the_emulator(dns_lab):
    run_dir, result, _ = dns_lab
    onprem_conf = (run_dir / "dns-lab" / "onprem" / "named.conf").read_text()
    resolver_conf = (run_dir / "dns-lab" / "resolver" / "named.conf").read_text()
    assert result.inbound.ips == INBOUND
    for ip in result.inbound.ips:  # the on-prem server forwards to the endpoint's IPs as AWS reports them
        assert f"{ip};" in onprem_conf
    assert "query-source address 10.0.1.251;" in resolver_conf  # an outbound endpoint IP
    assert re.search(
        r'zone "anycompany.corp" \{\s*type forward;\s*forward only;\s*forwarders \{\s*192.168.2.250;', resolver_conf
    )


def test_both_directions_resolve_across_the_tunnels(ctx, dns_lab):
    before = lan_bytes()
    no_routes = {ns: no_route_count(ns) for ns in (f"{NS_PREFIX}idc", f"{NS_PREFIX}vpc")}
    matrix = hybrid_dns.probe_matrix(ctx)
    assert matrix["ok"].all(), "\n" + matrix.to_string()
    got = {(r.side, r.name): (r.rcode, r.answer) for r in matrix.itertuples()}
    assert got[("on-prem client", "web1.awsanycompany.corp")] == ("NOERROR", "10.0.10.10")
    assert got[("on-prem client", "web2.awsanycompany.corp")] == ("NOERROR", "10.0.20.10")
    assert got[("VPC host", "websrv.anycompany.corp")] == ("NOERROR", "192.168.2.20")
    # a name that does not exist is an answer, not a timeout, from both sides
    assert got[("on-prem client", "does-not-exist.awsanycompany.corp")] == ("NXDOMAIN", "")
    assert got[("VPC host", "does-not-exist.awsanycompany.corp")] == ("NXDOMAIN", "")
    assert (matrix["latency_ms"] < 1000).all(), matrix.to_string()
    # the forwarded queries crossed the IPsec tunnels, and nothing tried to leave the lab
    assert lan_bytes() > before
    assert {ns: no_route_count(ns) for ns in no_routes} == no_routes


def test_the_matrix_is_asked_on_the_hosts_through_ssm(ctx, dns_lab):
    """Each side's questions ran as one Run Command on the seed's instance for that
    role (the lab's namespace), through the host's own resolver."""
    ssm = ctx.client("ssm")
    hybrid_dns.probe_matrix(ctx)
    commands = ssm.list_commands()["Commands"]
    mine = [
        c
        for c in commands
        if c["Comment"] == "hybridnet" and any("dig +yaml" in line for line in c["Parameters"]["commands"])
    ][:2]
    ec2 = ctx.client("ec2")
    names = {}
    for command in mine:
        instance = ec2.describe_instances(InstanceIds=command["InstanceIds"])["Reservations"][0]["Instances"][0]
        names[next(t["Value"] for t in instance["Tags"] if t["Key"] == "Name")] = command["Status"]
    assert names == {"seed-idc-websrv": "Success", "seed-web1": "Success"}
    resolv = hosts.plane(ctx).run_many(
        {"onprem_client": ["cat /etc/resolv.conf"], "vpc_client": ["cat /etc/resolv.conf"]}
    )
    assert "nameserver 192.168.2.250" in resolv["onprem_client"].stdout
    assert "nameserver 10.0.0.2" in resolv["vpc_client"].stdout


def test_a_record_changed_in_route53_is_what_the_lab_answers(ctx, dns_lab):
    run_dir, result, _ = dns_lab
    r53 = ctx.client("route53")

    def upsert(ip: str) -> None:
        r53.change_resource_record_sets(
            HostedZoneId=result.hosted_zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": "web2.awsanycompany.corp.",
                            "Type": "A",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": ip}],
                        },
                    }
                ]
            },
        )

    upsert("10.0.20.11")
    try:
        dns_up(ctx, run_dir)
        df = probe_matrix(
            [onprem("web2.awsanycompany.corp", ["10.0.20.11"]), vpc("web2.awsanycompany.corp", ["10.0.20.11"])]
        )
        assert df["ok"].all(), df.to_string()
    finally:
        upsert("10.0.20.10")
        dns_up(ctx, run_dir)


def test_on_prem_still_resolves_with_the_first_inbound_ip_gone(dns_lab):
    subprocess.run(
        ["ip", "-n", f"{NS_PREFIX}vpc", "addr", "del", f"{INBOUND[0]}/24", "dev", "vpc"], check=True, timeout=10
    )
    try:
        # names not asked before: nothing cached on the on-prem server, so each answer
        # came through the tunnels from the second inbound IP
        df = probe_matrix(
            [
                onprem("ip-10-0-20-10.ap-northeast-2.compute.internal", ["10.0.20.10"]),
                onprem("not-there-1.awsanycompany.corp", "NXDOMAIN"),
            ],
            timeout=4.0,
        )
        assert df["ok"].all(), df.to_string()
        unreachable = probe_matrix(
            [
                Probe(
                    "VPC host",
                    INBOUND[0],
                    "web1.awsanycompany.corp",
                    source=VPC_HOST,
                    netns=f"{NS_PREFIX}vpc",
                    expected=["10.0.10.10"],
                )
            ],
            timeout=1.0,
        )
        assert not unreachable["ok"].any()  # the first inbound IP really was gone
    finally:
        subprocess.run(
            ["ip", "-n", f"{NS_PREFIX}vpc", "addr", "add", f"{INBOUND[0]}/24", "dev", "vpc"], check=True, timeout=10
        )


def test_moved_inbound_ips_are_changed_in_place_and_what_the_lab_plays(ctx, dns_lab):
    """Phase 3 with another inbound IP: the same endpoint gets it (plan: modify), the
    lab's Resolver answers on it, and the on-prem server forwards to it."""
    from hybridnet.params import parse_params

    run_dir, result, _ = dns_lab
    data = ctx.params.model_dump(mode="python")
    for tunnel, key in zip(data["vpn"]["tunnels"], ("strongswan_awsvpn1", "strongswan_awsvpn2")):
        tunnel["pre_shared_key"] = key
    data["dns"]["inbound_ips"] = ["10.0.1.240", INBOUND[1]]
    moved = connect(parse_params(data))
    # ... and the query log group, configuration and association
    assert [s.action for s in hybrid_dns.plan(moved)] == ["keep", "modify", "keep", "keep", "keep"] + ["keep"] * 3
    try:
        after = hybrid_dns.run(moved, progress=None)
        assert after.inbound.id == result.inbound.id and after.inbound.ips == ["10.0.1.240", INBOUND[1]]
        dns_up(moved, run_dir)
        df = probe_matrix(
            [
                Probe(
                    "VPC host",
                    "10.0.1.240",
                    "web1.awsanycompany.corp",
                    source=VPC_HOST,
                    netns=f"{NS_PREFIX}vpc",
                    expected=["10.0.10.10"],
                ),
                onprem("not-there-2.awsanycompany.corp", "NXDOMAIN"),
                onprem("web2.awsanycompany.corp", ["10.0.20.10"]),
            ],
            timeout=4.0,
        )
        assert df["ok"].all(), df.to_string()
        assert dataplane.dns_spec(moved)["inbound_ips"] == ["10.0.1.240", INBOUND[1]]
    finally:
        assert hybrid_dns.run(ctx, progress=None).inbound.ips == INBOUND
        dns_up(ctx, run_dir)


def test_both_tunnels_down_the_matrix_shows_failures_and_the_notebook_completes(ctx, dns_lab, tmp_path):
    import papermill

    run_dir, _, _ = dns_lab
    params_file = tmp_path / "params.yaml"
    data = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())
    params_file.write_text(yaml.safe_dump({**data, "name": STACK}))
    nb_run = tmp_path / "run"
    nb_run.mkdir()
    lab.tunnel_down(dataplane.LAB_DIR, 1)
    lab.tunnel_down(dataplane.LAB_DIR, 2)
    dns_up(ctx, run_dir)  # empty caches: every answer from the other side needs a tunnel
    try:
        started = time.monotonic()
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "03_hybrid_dns.ipynb"),
            str(nb_run / "03_hybrid_dns.ipynb"),
            parameters={"params_file": str(params_file), "run_dir": str(nb_run)},
            kernel_name="python3",
            cwd=str(ROOT / "notebooks"),
            progress_bar=False,
            log_output=False,
        )
        assert time.monotonic() - started < 60
        recorded = json.loads((nb_run / "results" / "03_hybrid_dns.json").read_text())
        rows = {(r["side"], r["name"]): r for r in recorded["matrix"]}
        across = [
            ("on-prem client", "web1.awsanycompany.corp"),
            ("on-prem client", "web2.awsanycompany.corp"),
            ("on-prem client", "does-not-exist.awsanycompany.corp"),
            ("VPC host", "websrv.anycompany.corp"),
        ]
        for key in across:  # the named servers restarted with empty caches: every answer needs a tunnel
            assert not rows[key]["ok"] and rows[key]["rcode"] in ("TIMEOUT", "SERVFAIL"), rows[key]
        local = [
            ("on-prem client", "websrv.anycompany.corp"),
            ("VPC host", "web1.awsanycompany.corp"),
            ("VPC host", "does-not-exist.awsanycompany.corp"),
        ]
        for key in local:
            assert rows[key]["ok"], rows[key]
        assert recorded["matrix_ok"] == 4 and recorded["matrix_total"] == 8
        assert (nb_run / "dns" / "dns-matrix.png").stat().st_size > 1000
        # and the chart colours them as failures
        import pandas as pd

        frame = pd.DataFrame(recorded["matrix"])
        assert [outcome(frame.loc[i]) for i in frame.index if not frame.loc[i, "ok"]] == [FAILED] * 4
    finally:
        lab.tunnel_restore(dataplane.LAB_DIR, 1)
        lab.tunnel_restore(dataplane.LAB_DIR, 2)
        lab.wait_until_up(dataplane.LAB_DIR, timeout=40)
        dns_up(ctx, run_dir)
    df = hybrid_dns.probe_matrix(ctx)
    assert df["ok"].all(), df.to_string()


def test_lab_down_stops_the_dns_servers(ctx, dns_lab):
    run_dir, _, _ = dns_lab
    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    named = [d for d in runtime.daemons if d.name.startswith("named@")]
    assert sorted(d.ns for d in named) == [f"{NS_PREFIX}idc", f"{NS_PREFIX}vpc"]
    dataplane.lab_down()
    assert not [d.pid for d in named if Path(f"/proc/{d.pid}").exists()]
    assert not (dataplane.LAB_DIR.exists() and list(dataplane.LAB_DIR.glob(f"{NS_PREFIX}*-named")))
    assert dataplane.dns_daemons_missing() == [f"named@{NS_PREFIX}idc", f"named@{NS_PREFIX}vpc"]
    matrix = hybrid_dns.probe_matrix(ctx)  # no lab: the hosts are offline for SSM, nothing sent, said plainly
    assert set(matrix["rcode"]) == {"UNREACHABLE"}
    assert all("SSM Agent has not checked in (PingStatus ConnectionLost)" in d for d in matrix["detail"])
    # leave the lab as the fixture made it, for any test after this one
    bring_up(ctx, run_dir)
    dns_up(ctx, run_dir)
