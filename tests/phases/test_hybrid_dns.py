"""Phase 3 against the emulator: Route 53 Resolver endpoints, forwarding rule and
on-prem BIND files; creates once, finds again, never duplicates; without a lab
no DNS query is sent."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hybridnet import summary
from hybridnet.aws import AwsContext, connect
from hybridnet.params import load_params, parse_params
from hybridnet.phases import PhaseError, hybrid_dns
from hybridnet.waiting import EXTRA_WAITERS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

ROOT = Path(__file__).resolve().parents[2]
STACK = "phase3test"


def params_data(**dns_changes) -> dict:
    data = load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK, "lab": "off"}).model_dump(mode="python")
    for tunnel, key in zip(data["vpn"]["tunnels"], ("strongswan_awsvpn1", "strongswan_awsvpn2")):
        tunnel["pre_shared_key"] = key  # model_dump masks secrets
    data["dns"].update(dns_changes)
    return data


@pytest.fixture(scope="module")
def ctx(own_emulator):
    return connect(parse_params(params_data()))


def other(ctx: AwsContext, **dns_changes) -> AwsContext:
    """Same emulator and stack, other params."""
    return AwsContext(
        parse_params(params_data(**dns_changes)),
        ctx.session,
        ctx.endpoint_url,
        ctx.waiter_delay,
        data_plane=None,
        data_plane_reason="lab: off in the params",
    )


def test_phase3_twice_two_endpoints_one_rule_one_association(ctx):
    messages: list[str] = []
    first = hybrid_dns.run(ctx, progress=messages.append)
    second = hybrid_dns.run(ctx, progress=messages.append)

    assert first.created == [
        first.security_group_id,
        first.inbound.id,
        first.outbound.id,
        first.rule_id,
        first.association_id,
        "/hybridnet/phase3test/resolver",
        first.query_log_config_id,
        first.query_log_association_id,
    ]
    assert second.created == []
    assert (second.query_log_config_id, second.query_log_association_id) == (
        first.query_log_config_id,
        first.query_log_association_id,
    )
    assert (second.inbound.id, second.outbound.id, second.rule_id, second.association_id) == (
        first.inbound.id,
        first.outbound.id,
        first.rule_id,
        first.association_id,
    )

    resolver = ctx.client("route53resolver")
    endpoints = resolver.list_resolver_endpoints(Filters=[{"Name": "HostVPCId", "Values": [first.vpc_id]}])
    assert sorted(e["Direction"] for e in endpoints["ResolverEndpoints"]) == ["INBOUND", "OUTBOUND"]
    rules = resolver.list_resolver_rules(Filters=[{"Name": "Type", "Values": ["FORWARD"]}])["ResolverRules"]
    assert [(r["Id"], r["DomainName"]) for r in rules] == [(first.rule_id, "anycompany.corp.")]
    assert rules[0]["TargetIps"] == [{"Ip": "192.168.2.250", "Port": 53}]
    assert rules[0]["ResolverEndpointId"] == first.outbound.id
    associations = resolver.list_resolver_rule_associations()["ResolverRuleAssociations"]
    assert [(a["ResolverRuleId"], a["VPCId"]) for a in associations] == [(first.rule_id, first.vpc_id)]
    groups = ctx.client("ec2").describe_security_groups(Filters=ctx.stack_filters())["SecurityGroups"]
    assert [g["GroupId"] for g in groups] == [first.security_group_id]
    # every wait was a boto3 waiter that reported its end state
    assert f"Resolver endpoint {first.inbound.id}: OPERATIONAL" in messages
    assert f"rule association {first.association_id}: COMPLETE" in messages
    assert f"query log association {first.query_log_association_id}: ACTIVE" in messages


def test_endpoints_have_the_params_ips_in_two_azs(ctx):
    result = hybrid_dns.run(ctx, progress=None)
    frame = hybrid_dns.endpoints_frame(result)
    assert frame[["endpoint", "ip", "availability_zone"]].values.tolist() == [
        ["inbound", "10.0.1.250", "ap-northeast-2a"],
        ["inbound", "10.0.2.250", "ap-northeast-2c"],
        ["outbound", "10.0.1.251", "ap-northeast-2a"],
        ["outbound", "10.0.2.251", "ap-northeast-2c"],
    ]
    assert (result.inbound.status, result.outbound.status) == ("OPERATIONAL", "OPERATIONAL")
    assert (result.rule_status, result.association_status) == ("COMPLETE", "COMPLETE")
    assert result.inbound.security_group_ids == [result.security_group_id] == result.outbound.security_group_ids


def test_security_group_admits_dns_from_onprem_only_and_is_restored(ctx):
    result = hybrid_dns.run(ctx, progress=None)
    want = [["tcp", 53, "192.168.0.0/16"], ["udp", 53, "192.168.0.0/16"]]
    assert (
        hybrid_dns.ingress_frame(ctx, result.security_group_id)[["protocol", "port", "source"]].values.tolist() == want
    )
    # drift: someone opens the group to the world and drops the TCP rule
    ec2 = ctx.client("ec2")
    ec2.authorize_security_group_ingress(
        GroupId=result.security_group_id,
        IpPermissions=[{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.revoke_security_group_ingress(
        GroupId=result.security_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "192.168.0.0/16"}]}],
    )
    again = hybrid_dns.run(ctx, progress=None)
    assert again.created == []
    assert (
        hybrid_dns.ingress_frame(ctx, result.security_group_id)[["protocol", "port", "source"]].values.tolist() == want
    )


def test_query_logging_sends_the_vpcs_queries_to_the_stacks_log_group(ctx):
    result = hybrid_dns.run(ctx, progress=None)
    resolver, logs = ctx.client("route53resolver"), ctx.client("logs")
    group = logs.describe_log_groups(logGroupNamePrefix="/hybridnet/phase3test/resolver")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in group] == [("/hybridnet/phase3test/resolver", 14)]
    assert logs.list_tags_for_resource(resourceArn=group[0]["logGroupArn"])["tags"]["hybridnet:stack"] == "phase3test"
    config = resolver.get_resolver_query_log_config(ResolverQueryLogConfigId=result.query_log_config_id)[
        "ResolverQueryLogConfig"
    ]
    assert (config["Status"], config["DestinationArn"], config["Name"]) == (
        "CREATED",
        group[0]["logGroupArn"],
        "phase3test-query-log",
    )
    tags = {t["Key"]: t["Value"] for t in resolver.list_tags_for_resource(ResourceArn=config["Arn"])["Tags"]}
    assert tags["hybridnet:stack"] == "phase3test" and tags["hybridnet:phase"] == "3"
    associations = resolver.list_resolver_query_log_config_associations()["ResolverQueryLogConfigAssociations"]
    assert [(a["Id"], a["ResourceId"], a["Status"]) for a in associations] == [
        (result.query_log_association_id, result.vpc_id, "ACTIVE")
    ]
    assert (result.query_log_group, result.query_log_config_status, result.query_log_association_status) == (
        "/hybridnet/phase3test/resolver",
        "CREATED",
        "ACTIVE",
    )
    summary = hybrid_dns.summary_frame(result)
    assert summary.loc["query log config", "id"] == result.query_log_config_id
    assert summary.loc["query log association", "state"].startswith(f"ACTIVE: with {result.vpc_id}")
    steps = {s.kind: s for s in hybrid_dns.plan(ctx)}
    assert [
        (steps[k].resource, steps[k].action) for k in ("log group", "query log config", "query log association")
    ] == [
        ("/hybridnet/phase3test/resolver", "keep"),
        (result.query_log_config_id, "keep"),
        (result.query_log_association_id, "keep"),
    ]


def test_query_logging_follows_the_params_retention_and_switch(ctx):
    first = hybrid_dns.run(ctx, progress=None)
    logs = ctx.client("logs")
    week = _stack_params(ctx, logs__retention_days=7)
    step = {s.kind: s for s in hybrid_dns.plan(week)}["log group"]
    assert (step.action, [(c.field, c.have, c.want) for c in step.changes]) == (
        "modify",
        [("retention", "14 days", "7 days")],
    )
    after = hybrid_dns.run(week, progress=None)
    assert after.created == [] and after.query_log_config_id == first.query_log_config_id
    assert after.changed == ["/hybridnet/phase3test/resolver: retention 14 days -> 7 days"]
    assert (
        logs.describe_log_groups(logGroupNamePrefix="/hybridnet/phase3test/resolver")["logGroups"][0]["retentionInDays"]
        == 7
    )

    off = _stack_params(ctx, logs__enabled=False)
    step = {s.kind: s for s in hybrid_dns.plan(off)}["query log config"]
    assert (step.resource, step.action) == (first.query_log_config_id, "modify")
    stopped = hybrid_dns.run(off, progress=None)
    assert stopped.query_log_config_id is None and stopped.changed == [
        f"{first.query_log_config_id}: query logging off (logs.enabled: false): DisassociateResolverQueryLogConfig, "
        "DeleteResolverQueryLogConfig"
    ]
    resolver = ctx.client("route53resolver")
    assert resolver.list_resolver_query_log_configs()["ResolverQueryLogConfigs"] == []
    assert "query log config" not in {s.kind for s in hybrid_dns.plan(off)}
    assert "query log config" not in hybrid_dns.summary_frame(stopped).index

    again = hybrid_dns.run(ctx, progress=None)  # on again: a new configuration, the same log group
    assert again.created == [again.query_log_config_id, again.query_log_association_id]
    assert again.changed == ["/hybridnet/phase3test/resolver: retention 7 days -> 14 days"]


def test_private_zone_records_are_checked(ctx):
    zone = hybrid_dns.check_private_zone(ctx)
    assert zone.ok and zone.name == "awsanycompany.corp"
    assert zone.records[["name", "found", "ok"]].values.tolist() == [
        ["web1.awsanycompany.corp", "10.0.10.10", True],
        ["web2.awsanycompany.corp", "10.0.20.10", True],
    ]
    wrong = hybrid_dns.check_private_zone(other(ctx, records={"web1": "10.0.10.99", "web3": "10.0.20.30"}))
    assert not wrong.ok
    assert wrong.records[["name", "found", "ok"]].values.tolist() == [
        ["web1.awsanycompany.corp", "10.0.10.10", False],
        ["web3.awsanycompany.corp", "(missing)", False],
    ]


def test_missing_private_zone_is_a_clear_error(ctx):
    with pytest.raises(
        PhaseError, match="no private hosted zone elsewhere.corp associated with vpc-.*dns.private_zone"
    ):
        hybrid_dns.run(other(ctx, private_zone="elsewhere.corp"), progress=None)


def _stack_params(ctx: AwsContext, **changes) -> AwsContext:
    """Same emulator and stack, other top-level or onprem params."""
    data = params_data()
    for key, value in changes.items():
        section, _, name = key.rpartition("__")
        (data[section] if section else data)[name] = value
    return AwsContext(
        parse_params(data),
        ctx.session,
        ctx.endpoint_url,
        ctx.waiter_delay,
        data_plane=None,
        data_plane_reason="lab: off in the params",
    )


def test_changed_endpoint_ips_are_planned_then_moved_in_place(ctx):
    first = hybrid_dns.run(ctx, progress=None)
    moved = other(ctx, inbound_ips=["10.0.1.240", "10.0.2.250"])
    steps = {s.kind: s for s in hybrid_dns.plan(moved)}
    assert [s.action for s in steps.values()] == ["keep", "modify", "keep", "keep", "keep", "keep", "keep", "keep"]
    assert [(c.field, c.have, c.want) for c in steps["inbound endpoint"].changes] == [
        ("ip_addresses", "10.0.1.250, 10.0.2.250", "10.0.1.240, 10.0.2.250")
    ]
    after = hybrid_dns.run(moved, progress=None)
    assert after.inbound.id == first.inbound.id and after.created == []
    assert after.changed == [f"{first.inbound.id}: IPs + 10.0.1.240; - 10.0.1.250"]
    assert after.inbound.ips == ["10.0.1.240", "10.0.2.250"]
    assert hybrid_dns.summary_frame(after).loc["inbound endpoint", "state"] == "OPERATIONAL (changed)"
    endpoints = ctx.client("route53resolver").list_resolver_endpoints()["ResolverEndpoints"]
    assert len(endpoints) == 2
    back = hybrid_dns.run(ctx, progress=None)
    assert back.inbound.ips == ["10.0.1.250", "10.0.2.250"]
    assert [s.action for s in hybrid_dns.plan(ctx)] == ["keep"] * 8


def test_a_changed_onprem_dns_server_updates_the_rule_in_place(ctx):
    first = hybrid_dns.run(ctx, progress=None)
    moved = _stack_params(ctx, onprem__dns_server="192.168.2.251")
    rule = {s.kind: s for s in hybrid_dns.plan(moved)}["forwarding rule"]
    assert (rule.action, [(c.field, c.have, c.want) for c in rule.changes]) == (
        "modify",
        [("targets", "192.168.2.250:53", "192.168.2.251:53")],
    )
    after = hybrid_dns.run(moved, progress=None)
    assert (after.rule_id, after.rule_targets, after.rule_status) == (first.rule_id, ["192.168.2.251:53"], "COMPLETE")
    assert after.changed == [f"{first.rule_id}: targets (UpdateResolverRule)"]
    assert hybrid_dns.run(ctx, progress=None).rule_targets == ["192.168.2.250:53"]


def test_another_domain_replaces_the_rule_only_when_allowed(ctx):
    first = hybrid_dns.run(ctx, progress=None)
    renamed = _stack_params(ctx, onprem__domain="idc.example")
    with pytest.raises(
        PhaseError,
        match=rf"forwarding rule {first.rule_id}: domain anycompany.corp -> idc.example: "
        r"AWS cannot change this in place \(DisassociateResolverRule.*allow_replace",
    ):
        hybrid_dns.run(renamed, progress=None)
    assert hybrid_dns.run(ctx, progress=None).rule_id == first.rule_id  # nothing was touched
    after = hybrid_dns.run(_stack_params(ctx, onprem__domain="idc.example", allow_replace=True), progress=None)
    assert after.rule_id != first.rule_id and after.rule_domain == "idc.example"
    assert after.association_status == "COMPLETE" and after.created == [after.rule_id, after.association_id]
    rules = [
        r for r in ctx.client("route53resolver").list_resolver_rules()["ResolverRules"] if r["RuleType"] == "FORWARD"
    ]
    assert [r["Id"] for r in rules] == [after.rule_id]
    back = hybrid_dns.run(_stack_params(ctx, allow_replace=True), progress=None)
    assert back.rule_domain == "anycompany.corp"


def test_onprem_bind_files_forward_to_the_inbound_endpoint(ctx, tmp_path):
    result = hybrid_dns.run(ctx, progress=None)
    table = hybrid_dns.write_onprem_bind(ctx, result, tmp_path)
    assert table[["zone", "type", "to"]].values.tolist() == [
        ["awsanycompany.corp", "forward only", "10.0.1.250, 10.0.2.250"],
        ["ap-northeast-2.compute.internal", "forward only", "10.0.1.250, 10.0.2.250"],
        ["anycompany.corp", "master", "(served here)"],
    ]
    files = hybrid_dns.bind_files_frame(tmp_path)
    assert sorted(files["file"]) == [
        "onprem-bind/db.anycompany.corp",
        "onprem-bind/named.conf.local",
        "onprem-bind/named.conf.options",
        "onprem-bind/setup-onprem-bind.sh",
    ]
    out = tmp_path / "dns" / "onprem-bind"
    local = (out / "named.conf.local").read_text()
    assert 'zone "awsanycompany.corp"' in local and "10.0.1.250;" in local and "10.0.2.250;" in local
    options = [
        line for line in (out / "named.conf.options").read_text().splitlines() if not line.lstrip().startswith("//")
    ]
    assert not [line for line in options if "forwarders" in line or "8.8.8.8" in line]  # the seed's is dropped
    # named-checkconf -z on the files as named.conf would include them (paths rewritten to here)
    wrapper = tmp_path / "named.conf"
    text = {
        name: (out / name).read_text().replace("/etc/bind/", f"{out}/").replace("/var/cache/bind", str(out))
        for name in ("named.conf.options", "named.conf.local")
    }
    for name, content in text.items():
        (tmp_path / name).write_text(content)
    wrapper.write_text(f'include "{tmp_path}/named.conf.options";\ninclude "{tmp_path}/named.conf.local";\n')
    res = tooling.run([tooling.require_tool("named-checkconf"), "-z", str(wrapper)])
    assert res.returncode == 0, res.stdout + res.stderr


def test_without_a_lab_no_query_is_sent_and_every_row_says_why(ctx, tmp_path, monkeypatch):
    """The params name the hosts, but no lab registered them with the emulator's
    SSM: as on an account whose instances have no SSM Agent, nothing is sent and
    every row names the instance and what to do."""
    from hybridnet.diagnostics import dns as dnsdiag

    def refuse(*args, **kwargs):
        raise AssertionError("a DNS query was about to be sent from this machine")

    monkeypatch.setattr(dnsdiag, "probe_matrix", refuse)
    monkeypatch.setattr(dnsdiag, "aprobe_rows", refuse)
    monkeypatch.setattr(dnsdiag, "_rows_in_netns", refuse)
    result = hybrid_dns.run(ctx, progress=None)
    deployment = hybrid_dns.servers_answering(ctx)
    assert not deployment.ok and "is not a managed instance" in deployment.reason
    assert deployment.timings["answering_s"] < 5  # SSM said why: no waiting for what cannot change
    matrix = hybrid_dns.probe_matrix(ctx)
    assert len(matrix) == 8
    assert set(matrix["rcode"]) == {"UNREACHABLE"} and not matrix["ok"].any()
    onprem = matrix[matrix["side"] == "on-prem client"]["detail"]
    assert all(
        re.fullmatch(r"onprem_client i-[0-9a-f]{17} is not a managed instance: it needs the SSM Agent.*", d)
        for d in onprem
    ), onprem.tolist()
    assert set(matrix["name"]) == {
        "web1.awsanycompany.corp",
        "web2.awsanycompany.corp",
        "websrv.anycompany.corp",
        "does-not-exist.awsanycompany.corp",
    }
    assert set(matrix["side"]) == {"on-prem client", "VPC host"}
    fig = hybrid_dns.matrix_chart(matrix, tmp_path)
    assert (tmp_path / "dns" / "dns-matrix.png").stat().st_size > 1000
    assert fig.axes
    # the recorded result and its one-screen summary
    data = hybrid_dns.result(result, deployment, matrix, tmp_path)
    lines = summary.SUMMARIES[hybrid_dns.NOTEBOOK](data)
    assert any(line.startswith("DNS matrix      0/8 as expected (not asked: onprem_client i-") for line in lines)
    assert any(
        line.startswith("inbound  endpoint rslvr-in-") and "10.0.1.250 ap-northeast-2a" in line for line in lines
    )


def test_resolver_waiters_are_botocore_waiter_models():
    assert {"ResolverEndpointOperational", "ResolverRuleComplete", "ResolverRuleAssociationComplete"} <= set(
        EXTRA_WAITERS.waiter_names
    )
    endpoint = EXTRA_WAITERS.get_waiter("ResolverEndpointOperational")
    assert endpoint.operation == "GetResolverEndpoint"
    assert {(a.state, a.expected) for a in endpoint.acceptors} >= {
        ("success", "OPERATIONAL"),
        ("failure", "ACTION_NEEDED"),
    }


def test_no_dns_section_is_a_clear_error(ctx):
    data = params_data()
    data.pop("dns")
    data.pop("onprem_dns")
    bare = AwsContext(parse_params(data), ctx.session, ctx.endpoint_url, ctx.waiter_delay)
    with pytest.raises(PhaseError, match="no dns section"):
        hybrid_dns.run(bare, progress=None)


def test_what_the_lab_would_play_comes_from_the_aws_api(ctx):
    """dataplane.dns_spec reads the Resolver set-up back through boto3 (no root needed)."""
    from hybridnet import dataplane

    result = hybrid_dns.run(ctx, progress=None)
    spec = dataplane.dns_spec(ctx)
    assert (spec["vpc_id"], spec["vpc_resolver_ip"]) == (result.vpc_id, "10.0.0.2")
    assert spec["inbound_ips"] == ["10.0.1.250", "10.0.2.250"]
    assert spec["outbound_ips"] == ["10.0.1.251", "10.0.2.251"]
    assert spec["query_source_ip"] in spec["outbound_ips"]
    assert spec["forward_rules"] == {"anycompany.corp": [{"Ip": "192.168.2.250", "Port": 53}]}
    assert spec["admitted_cidrs"] == ["192.168.0.0/16"]  # from the security group, as AWS reports it
    records = {
        (r["Name"], r["Type"]): [v["Value"] for v in r.get("ResourceRecords", [])]
        for r in spec["hosted_zones"]["awsanycompany.corp"]
    }
    assert records[("web1.awsanycompany.corp.", "A")] == ["10.0.10.10"]
    assert records[("web2.awsanycompany.corp.", "A")] == ["10.0.20.10"]


def test_the_notebook_completes_without_a_lab(ctx, tmp_path):
    """Not root / no lab: the notebook still runs to the end and says why no probe was sent."""
    import json

    import papermill
    import yaml

    params_file = tmp_path / "params.yaml"
    params_file.write_text(
        yaml.safe_dump({**yaml.safe_load((ROOT / "params" / "lab.yaml").read_text()), "name": STACK, "lab": "off"})
    )
    run = tmp_path / "run"
    run.mkdir()
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "03_hybrid_dns.ipynb"),
        str(run / "03_hybrid_dns.ipynb"),
        parameters={"params_file": str(params_file), "run_dir": str(run)},
        kernel_name="python3",
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
        log_output=False,
    )
    recorded = json.loads((run / "results" / "03_hybrid_dns.json").read_text())
    assert recorded["servers_answering"] is False and recorded["matrix_ok"] == 0 and recorded["matrix_total"] == 8
    assert {r["rcode"] for r in recorded["matrix"]} == {"UNREACHABLE"}
    assert all("is not a managed instance" in r["detail"] for r in recorded["matrix"])
    assert (run / "dns" / "dns-matrix.png").exists() and (run / "dns" / "onprem-bind" / "named.conf.local").exists()
    assert "is not a managed instance" in (run / "03_hybrid_dns.ipynb").read_text()


def test_params_without_hosts_say_so_in_every_row(ctx):
    data = params_data()
    data.pop("hosts")
    data.pop("router")  # its apply needs a router to send the setup to
    data.pop("onprem_dns")  # and this one a DNS server
    no_hosts = connect(parse_params(data))
    assert no_hosts.host_plane == "none"
    matrix = hybrid_dns.probe_matrix(no_hosts)
    assert set(matrix["rcode"]) == {"UNREACHABLE"}
    assert {d.split(" in the params")[0] for d in matrix["detail"]} == {"no hosts.onprem_client", "no hosts.vpc_client"}


def test_teardown_removes_the_query_logging_and_its_association_first(ctx):
    """Last in this module: it removes the stack."""
    from hybridnet.phases import teardown

    result = hybrid_dns.run(ctx, progress=None)
    found = teardown.leftovers(ctx)
    kinds = list(found["kind"])
    assert (
        kinds.index("resolver query log association")
        < kinds.index("resolver query log config")
        < kinds.index("log group")
    )
    assert set(found[found["kind"].str.startswith("resolver query log")]["id"]) == {
        result.query_log_association_id,
        result.query_log_config_id,
    }
    removed = teardown.run(ctx, progress=None)
    assert set(removed["outcome"]) == {"deleted"}, removed.to_string()
    assert teardown.leftovers(ctx).empty
    resolver = ctx.client("route53resolver")
    assert resolver.list_resolver_query_log_configs()["ResolverQueryLogConfigs"] == []
    assert resolver.list_resolver_query_log_config_associations()["ResolverQueryLogConfigAssociations"] == []
