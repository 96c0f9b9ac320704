"""Phase 2's router.apply without a lab: what is sent, what is refused, and
that a router SSM cannot reach leaves the account untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from hybridnet.aws import connect
from hybridnet.params import ParamsError, load_params, parse_params
from hybridnet.phases import router_config, tgw_attachment

ROOT = Path(__file__).resolve().parents[2]
STACK = "applytest"


def params(**overrides):
    return load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK, "lab": "off", **overrides})


@pytest.fixture(scope="module")
def ctx(own_emulator):
    context = connect(params())
    tgw_attachment.run(context, progress=None)
    return context


def stored_parameters(ctx) -> list[str]:
    return [
        p["Name"]
        for p in ctx.client("ssm").describe_parameters()["Parameters"]
        if p["Name"].startswith(f"/hybridnet/{STACK}/")
    ]


def test_lab_params_apply_the_lab_target_and_aws_example_applies_nothing():
    lab = load_params(ROOT / "params" / "lab.yaml")
    assert (lab.router.target, lab.router.apply) == ("lab", True)
    example = load_params(ROOT / "params" / "aws.example.yaml")
    assert example.router.apply is False


@pytest.mark.parametrize(
    "router, hosts, field, words",
    [
        ({"target": "swanctl", "apply": True}, {"router": "r1"}, "router.apply", "target swanctl is files only"),
        ({"target": "frr", "apply": True}, {}, "router.apply", "no hosts.router"),
        ({"target": "vyos"}, {"router": "r1"}, "router.target", "'seed', 'frr', 'swanctl' or 'lab'"),
    ],
)
def test_bad_router_settings_name_the_field_and_the_fix(router, hosts, field, words):
    import yaml

    data = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())
    data.update(router=router, hosts=hosts)
    with pytest.raises(ParamsError) as caught:
        parse_params(data, "test.yaml")
    problems = dict(caught.value.problems)
    assert field in problems and words in problems[field], problems


def test_apply_false_sends_nothing_and_says_what_to_do(ctx):
    plain = connect(params(router={"target": "frr", "apply": False}))
    vpn, cfg = router_config.load_connection(plain)
    deployment = router_config.deploy(plain, vpn, cfg)
    assert deployment.ok is False
    assert "copy router/frr/ to the customer gateway" in deployment.table["next step"][0]
    assert not stored_parameters(ctx)
    assert not ctx.client("ssm").list_commands()["Commands"]


def test_an_unreachable_router_is_one_row_and_nothing_is_stored(ctx):
    """The seed's router instance is not a managed instance here (no lab): the
    step says so, no key goes to Parameter Store, no command is sent."""
    router_config.ROUTER_ONLINE_S["emulator"], saved = 0.5, router_config.ROUTER_ONLINE_S["emulator"]
    try:
        vpn, cfg = router_config.load_connection(ctx)
        deployment = router_config.deploy(ctx, vpn, cfg)
    finally:
        router_config.ROUTER_ONLINE_S["emulator"] = saved
    assert deployment.ok is False
    assert deployment.table["step"].tolist() == ["router online in SSM"]
    assert "is not a managed instance" in deployment.reason and "i-" in deployment.reason
    assert not stored_parameters(ctx)
    assert not ctx.client("ssm").list_commands()["Commands"]


def test_pre_shared_keys_are_secure_strings_written_once(ctx):
    vpn, cfg = router_config.load_connection(ctx)
    secrets = router_config.store_pre_shared_keys(ctx, vpn, cfg)
    ssm = ctx.client("ssm")
    versions = {}
    for number, name in enumerate(sorted(secrets.values()), start=1):
        assert name == f"/hybridnet/{STACK}/{vpn['VpnConnectionId']}/tunnel{number}/pre-shared-key"
        got = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        assert got["Type"] == "SecureString" and got["Value"] == f"strongswan_awsvpn{number}"
        versions[name] = got["Version"]
    router_config.store_pre_shared_keys(ctx, vpn, cfg)  # unchanged: not written again
    assert {n: ssm.get_parameter(Name=n)["Parameter"]["Version"] for n in versions} == versions
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=next(iter(versions)))["TagList"]
    assert {"Key": "hybridnet:stack", "Value": STACK} in tags  # so teardown finds them
    from hybridnet.phases import teardown

    assert sorted(n for n, _ in teardown._ssm_parameters(ctx)) == sorted(versions)


@pytest.mark.parametrize(
    "change, field, words",
    [
        (
            {"hosts": {"router": "r1"}, "router": {"apply": False}, "onprem_dns": {"apply": True}},
            "onprem_dns.apply",
            "no hosts.onprem_dns",
        ),
        ({"dns": None, "onprem_dns": {"apply": True}}, "onprem_dns.apply", "there is no dns section"),
    ],
)
def test_bad_onprem_dns_settings_name_the_field_and_the_fix(change, field, words):
    import yaml

    data = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())
    data.update(change)
    if data["dns"] is None:
        del data["dns"]
    with pytest.raises(ParamsError) as caught:
        parse_params(data, "test.yaml")
    problems = dict(caught.value.problems)
    assert field in problems and words in problems[field], problems


def test_onprem_dns_files_go_nowhere_unless_asked_and_never_to_an_unreachable_server(ctx):
    from hybridnet.phases import hybrid_dns

    plain = connect(params(onprem_dns={"apply": False}))
    skipped = hybrid_dns.apply_onprem_bind(plain, ["10.0.1.250", "10.0.2.250"])
    assert skipped.ok is False and "run setup-onprem-bind.sh there as root" in skipped.table["detail"][0]
    hybrid_dns.ONPREM_ONLINE_S["emulator"], saved = 0.5, hybrid_dns.ONPREM_ONLINE_S["emulator"]
    try:
        unreachable = hybrid_dns.apply_onprem_bind(ctx, ["10.0.1.250", "10.0.2.250"])
    finally:
        hybrid_dns.ONPREM_ONLINE_S["emulator"] = saved
    assert unreachable.ok is False and unreachable.table["step"].tolist() == ["DNS server online in SSM"]
    assert "onprem_dns i-" in unreachable.reason and "is not a managed instance" in unreachable.reason
    assert not ctx.client("ssm").list_commands()["Commands"]


def test_a_replaced_connections_keys_are_removed(ctx):
    """After phase 1 replaced the VPN connection (allow_replace), phase 2 stores the new
    connection's keys and removes the old one's: no orphaned secret stays behind."""
    vpn, cfg = router_config.load_connection(ctx)
    router_config.store_pre_shared_keys(ctx, vpn, cfg)
    old = sorted(stored_parameters(ctx))
    replaced = connect(
        params(allow_replace=True, vpn={**params().model_dump(mode="python")["vpn"], "static_routes_only": True})
    )
    assert [s.action for s in tgw_attachment.plan(replaced)][-1] == "replace"
    tgw_attachment.run(replaced, progress=None)
    new_vpn, new_cfg = router_config.load_connection(ctx)
    assert new_vpn["VpnConnectionId"] != vpn["VpnConnectionId"]
    secrets = router_config.store_pre_shared_keys(ctx, new_vpn, new_cfg)
    assert sorted(stored_parameters(ctx)) == sorted(secrets.values())
    assert not set(old) & set(stored_parameters(ctx))
    tgw_attachment.run(connect(params(allow_replace=True)), progress=None)  # back, for the other tests
