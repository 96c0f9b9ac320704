"""Parameter validation: every bad input named by its field, all at once."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hybridnet.params import ParamsError, load_params, parse_params

ROOT = Path(__file__).resolve().parents[2]
LAB = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())


def problems_of(mutate) -> dict[str, str]:
    data = copy.deepcopy(LAB)
    mutate(data)
    with pytest.raises(ParamsError) as info:
        parse_params(data, "test.yaml")
    return dict(info.value.problems)


@pytest.mark.parametrize("name", ["lab.yaml", "aws.example.yaml"])
def test_shipped_parameter_files_validate(name: str):
    params = load_params(ROOT / "params" / name)
    assert params.region


def test_lab_params_carry_the_seed_values():
    params = load_params(ROOT / "params" / "lab.yaml")
    assert params.target == "emulator"
    assert params.region == "ap-northeast-2"
    assert params.transit_gateway.amazon_side_asn == 64512
    assert params.customer_gateway.bgp_asn == 65016
    assert [t.inside_cidr for t in params.vpn.tunnels] == ["169.254.11.0/30", "169.254.12.0/30"]
    assert params.dns.inbound_ips == ["10.0.1.250", "10.0.2.250"]
    assert {s.az for s in params.vpc.subnets} == {"ap-northeast-2a", "ap-northeast-2c"}


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d["vpc"].update(cidr="10.0.0.0/33"), "vpc.cidr", "not a CIDR"),
        (lambda d: d["vpc"].update(cidr="10.0.0.1/16"), "vpc.cidr", "not a CIDR"),
        (lambda d: d["vpc"]["subnets"][1].update(cidr="10.0.1.128/25"), "vpc.subnets[1].cidr", "overlaps"),
        (lambda d: d["vpc"]["subnets"][0].update(cidr="10.1.0.0/24"), "vpc.subnets[0].cidr", "outside the VPC"),
        (lambda d: d["onprem"].update(cidr="10.0.0.0/8", dns_server="10.9.9.9", hosts={}), "onprem.cidr", "overlaps"),
        (lambda d: d["vpn"]["tunnels"][0].update(inside_cidr="169.254.11.0/29"), "vpn.tunnels[0].inside_cidr", "/30"),
        (
            lambda d: d["vpn"]["tunnels"][0].update(inside_cidr="10.0.0.0/30"),
            "vpn.tunnels[0].inside_cidr",
            "169.254.0.0/16",
        ),
        (
            lambda d: d["vpn"]["tunnels"][0].update(inside_cidr="169.254.2.0/30"),
            "vpn.tunnels[0].inside_cidr",
            "reserved",
        ),
        (
            lambda d: d["vpn"]["tunnels"][1].update(inside_cidr="169.254.169.252/30"),
            "vpn.tunnels[1].inside_cidr",
            "reserved",
        ),
        (
            lambda d: d["vpn"]["tunnels"][1].update(inside_cidr="169.254.11.0/30"),
            "vpn.tunnels[1].inside_cidr",
            "equals",
        ),
        (lambda d: d["vpn"]["tunnels"][0].update(pre_shared_key="short"), "vpn.tunnels[0].pre_shared_key", "8-64"),
        (
            lambda d: d["vpn"]["tunnels"][0].update(pre_shared_key="0startswithzero"),
            "vpn.tunnels[0].pre_shared_key",
            "not starting with '0'",
        ),
        (
            lambda d: d["vpn"]["tunnels"][0].update(pre_shared_key="has-a-dash-1234"),
            "vpn.tunnels[0].pre_shared_key",
            "letters, digits",
        ),
        (lambda d: d["vpn"]["tunnels"][0].update(pre_shared_key="x" * 65), "vpn.tunnels[0].pre_shared_key", "8-64"),
        (lambda d: d["customer_gateway"].update(bgp_asn=0), "customer_gateway.bgp_asn", "greater than or equal to 1"),
        (lambda d: d["customer_gateway"].update(bgp_asn=4294967295), "customer_gateway.bgp_asn", "less than or equal"),
        (lambda d: d["transit_gateway"].update(amazon_side_asn=65016), "customer_gateway.bgp_asn", "different ASN"),
        (lambda d: d["transit_gateway"].update(amazon_side_asn=7224), "transit_gateway.amazon_side_asn", "private ASN"),
        (lambda d: d["customer_gateway"].update(bpg_asn=65016), "customer_gateway.bpg_asn", "unknown key"),
        (lambda d: d.update(regoin="ap-northeast-2"), "regoin", "unknown key"),
        (lambda d: d.update(region="ap-northeast-9"), "region", "not an AWS region"),
        (
            lambda d: [s.update(az="ap-northeast-2a") for s in d["vpc"]["subnets"]],
            "vpc.subnets",
            "two availability zones",
        ),
        (lambda d: d["vpc"]["subnets"][0].update(az="us-east-1a"), "vpc.subnets[0].az", "not a zone of ap-northeast-2"),
        (lambda d: d["vpn"]["crypto"].update(phase1_dh_groups=[1]), "vpn.crypto.phase1_dh_groups", "choose from"),
        (lambda d: d["vpn"]["crypto"].update(ike_versions=["ikev3"]), "vpn.crypto.ike_versions", "choose from"),
        (lambda d: d["dns"].update(inbound_ips=["10.1.0.5", "10.0.2.250"]), "dns.inbound_ips[0]", "outside the VPC"),
        (lambda d: d["dns"].update(private_zone="not a domain"), "dns.private_zone", "not a DNS domain"),
        (lambda d: d["client_vpn"].update(client_cidr="10.0.0.0/22"), "client_vpn.client_cidr", "overlaps"),
        (lambda d: d["client_vpn"].update(client_cidr="172.16.0.0/24"), "client_vpn.client_cidr", "/12 and /22"),
        (lambda d: d.update(profile="prod"), "profile", "target: aws"),
    ],
)
def test_bad_input_names_the_field_and_the_fix(mutate, field, words):
    problems = problems_of(mutate)
    assert field in problems, problems
    assert words in problems[field]


def test_every_problem_is_reported_at_once():
    def many(d):
        d["region"] = "mars-1"
        d["vpn"]["tunnels"][0]["inside_cidr"] = "169.254.0.0/30"
        d["customer_gateway"]["typo"] = 1
        d["onprem"]["cidr"] = "10.0.0.0/16"
        d["onprem"]["dns_server"] = "10.0.0.2"
        d["onprem"]["hosts"] = {}

    problems = problems_of(many)
    assert {"region", "vpn.tunnels[0].inside_cidr", "customer_gateway.typo", "onprem.cidr"} <= set(problems)


def test_errors_never_repeat_a_pre_shared_key():
    secret = "0secretvalue_xyz"
    data = copy.deepcopy(LAB)
    data["vpn"]["tunnels"][0]["pre_shared_key"] = secret
    with pytest.raises(ParamsError) as info:
        parse_params(data)
    assert secret not in str(info.value)


def test_pre_shared_keys_are_hidden_in_the_model():
    params = load_params(ROOT / "params" / "lab.yaml")
    assert "strongswan_awsvpn1" not in repr(params)
    assert params.vpn.tunnels[0].pre_shared_key.get_secret_value() == "strongswan_awsvpn1"


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("vpc: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


@pytest.mark.parametrize("text, mode", [("off", "off"), ("on", "on"), ('"auto"', "auto")])
def test_lab_mode_reads_unquoted_yaml_words(tmp_path: Path, text: str, mode: str):
    path = tmp_path / "p.yaml"
    path.write_text((ROOT / "params" / "lab.yaml").read_text() + f"\nlab: {text}\n")
    assert load_params(path).lab == mode
