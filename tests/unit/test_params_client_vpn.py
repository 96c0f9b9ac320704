"""The client_vpn and connect_handler sections: one clear message per bad field, before any call."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hybridnet.params import ParamsError, load_params, parse_params

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())


def problems(**sections) -> list[tuple[str, str]]:
    data = {**BASE, **sections}
    with pytest.raises(ParamsError) as info:
        parse_params(data, "test.yaml")
    return info.value.problems


def test_lab_params_have_both_sections_with_the_seed_values():
    p = load_params(ROOT / "params" / "lab.yaml")
    assert p.client_vpn.client_cidr == "172.16.0.0/22" and p.client_vpn.split_tunnel is True
    assert p.client_vpn.subnets == ["endpoints-a", "endpoints-c"]
    assert p.connect_handler.policies == ["source_ip"]
    assert "72.21.0.0/16" in p.connect_handler.allowed_cidrs
    load_params(ROOT / "params" / "aws.example.yaml")


@pytest.mark.parametrize(
    "subnets, field, text",
    [
        (["endpoints-a", "web-a"], "client_vpn.subnets", "same availability zone ap-northeast-2a"),
        (["endpoints-a", "nope"], "client_vpn.subnets[1]", "'nope' is not one of vpc.subnets"),
        (["endpoints-a"], "client_vpn.subnets", "has 1 subnet(s); give two"),
        (["endpoints-a", "endpoints-a"], "client_vpn.subnets", "same availability zone"),
    ],
)
def test_endpoint_subnets_must_be_two_listed_subnets_in_two_zones(subnets, field, text):
    found = problems(client_vpn={"client_cidr": "172.16.0.0/22", "subnets": subnets})
    assert any(f == field and text in m for f, m in found), found


@pytest.mark.parametrize(
    "section, field, text",
    [
        ({"client_cidr": "172.16.0.0/24"}, "client_vpn.client_cidr", "between /12 and /22"),
        ({"client_cidr": "10.0.0.0/20"}, "client_vpn.client_cidr", "overlaps vpc.cidr"),
        ({"client_cidr": "172.16.0.0/22", "vpn_port": 80}, "client_vpn.vpn_port", "443 or 1194"),
        (
            {"client_cidr": "172.16.0.0/22", "dns_servers": ["10.0.0.2", "dns"]},
            "client_vpn.dns_servers[1]",
            "not an IPv4 address",
        ),
        ({"client_cidr": "172.16.0.0/22", "transport_protocol": "sctp"}, "client_vpn.transport_protocol", "udp"),
    ],
)
def test_client_vpn_fields(section, field, text):
    found = problems(client_vpn=section)
    assert any(f == field and text in m for f, m in found), found


@pytest.mark.parametrize(
    "section, field, text",
    [
        (
            {"function_name": "clientvpn-handler"},
            "connect_handler.function_name",
            "does not start with 'AWSClientVPN-'",
        ),
        ({"function_name": "AWSClientVPN-" + "x" * 60}, "connect_handler.function_name", "at most 64"),
        ({"policies": ["weekdays", "moon"]}, "connect_handler.policies[1]", "unknown policy 'moon'"),
        (
            {"policies": ["source_ip"], "allowed_cidrs": []},
            "connect_handler.allowed_cidrs",
            "needs at least one CIDR block",
        ),
        ({"allowed_cidrs": ["72.21.0.1/16"]}, "connect_handler.allowed_cidrs[0]", "did you mean 72.21.0.0/16"),
        ({"timezone": "Mars/Base"}, "connect_handler.timezone", "not an IANA time-zone name"),
    ],
)
def test_connect_handler_fields(section, field, text):
    found = problems(connect_handler={**BASE["connect_handler"], **section})
    assert any(f == field and text in m for f, m in found), found


def test_a_handler_needs_an_endpoint():
    data = {k: v for k, v in BASE.items() if k != "client_vpn"}
    with pytest.raises(ParamsError) as info:
        parse_params(data)
    assert (
        "connect_handler",
        "needs a client_vpn section (phase 4): the handler is enabled on that endpoint",
    ) in info.value.problems
