"""Parameter validation for phase 3 (Route 53 Resolver hybrid DNS): every bad
input named by its field, all at once, before any AWS call."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hybridnet.params import ParamsError, parse_params

ROOT = Path(__file__).resolve().parents[2]
LAB = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())


def problems_of(mutate) -> dict[str, str]:
    data = copy.deepcopy(LAB)
    mutate(data)
    with pytest.raises(ParamsError) as info:
        parse_params(data, "test.yaml")
    return dict(info.value.problems)


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        # a domain that is not a valid name
        (lambda d: d["dns"].update(private_zone="aws any.corp"), "dns.private_zone", "not a DNS domain"),
        (lambda d: d["dns"].update(private_zone="-bad.corp"), "dns.private_zone", "not a DNS domain"),
        (lambda d: d["onprem"].update(domain="anycompany..corp"), "onprem.domain", "not a DNS domain"),
        (lambda d: d["onprem"].update(domain="corp"), "onprem.domain", "not a DNS domain"),
        (lambda d: d["dns"].update(records={"web_1": "10.0.10.10"}), "dns.records.web_1", "not a host name"),
        (lambda d: d["dns"].update(private_zone="anycompany.corp"), "dns.private_zone", "overlaps the on-prem domain"),
        (lambda d: d["dns"].update(private_zone="aws.anycompany.corp"), "dns.private_zone", "overlaps the on-prem"),
        # the forwarding rule's target outside the on-prem CIDR
        (lambda d: d["onprem"].update(dns_server="10.0.2.250"), "onprem.dns_server", "outside the on-prem CIDR"),
        (lambda d: d["onprem"].update(dns_server="192.169.2.250"), "onprem.dns_server", "forwarding rule's target"),
        (lambda d: d["onprem"].update(hosts={"websrv": "172.16.0.5"}), "onprem.hosts.websrv", "outside the on-prem"),
        # endpoint IPs outside their subnets
        (lambda d: d["dns"].update(inbound_ips=["10.1.0.5", "10.0.2.250"]), "dns.inbound_ips[0]", "outside the VPC"),
        (
            lambda d: d["dns"].update(inbound_ips=["10.0.1.250", "10.0.3.250"]),
            "dns.inbound_ips[1]",
            "none of vpc.subnets",
        ),
        (lambda d: d["dns"].update(outbound_ips=["10.0.1.3", "10.0.2.251"]), "dns.outbound_ips[0]", "reserved by AWS"),
        (
            lambda d: d["dns"].update(outbound_ips=["10.0.1.251", "10.0.2.255"]),
            "dns.outbound_ips[1]",
            "reserved by AWS",
        ),
        (
            lambda d: d["dns"].update(outbound_ips=["10.0.1.250", "10.0.2.251"]),
            "dns.outbound_ips[0]",
            "also dns.inbound_ips[0]",
        ),
        (lambda d: d["dns"].update(inbound_ips=["10.0.1.250", "banana"]), "dns.inbound_ips[1]", "not an IPv4"),
        # fewer than two AZs / addresses
        (
            lambda d: d["dns"].update(inbound_ips=["10.0.1.250", "10.0.1.240"]),
            "dns.inbound_ips",
            "each of two availability zones",
        ),
        (
            lambda d: d["dns"].update(outbound_ips=["10.0.10.251", "10.0.1.251"]),
            "dns.outbound_ips",
            "all in availability zone ap-northeast-2a",
        ),
        (lambda d: d["dns"].update(inbound_ips=["10.0.1.250"]), "dns.inbound_ips", "needs 2-6"),
        (lambda d: d["dns"].update(outbound_ips=[]), "dns.outbound_ips", "needs 2-6"),
    ],
)
def test_bad_dns_input_names_the_field_and_the_fix(mutate, field, words):
    problems = problems_of(mutate)
    assert field in problems, problems
    assert words in problems[field], problems[field]


def test_every_dns_problem_is_reported_at_once():
    def many(d):
        d["dns"]["private_zone"] = "not a domain"
        d["dns"]["inbound_ips"] = ["10.0.1.250", "10.0.1.0"]
        d["dns"]["outbound_ips"] = ["10.9.1.251", "10.0.2.251"]
        d["onprem"]["dns_server"] = "10.0.2.250"

    problems = problems_of(many)
    assert {"dns.private_zone", "dns.inbound_ips[1]", "dns.outbound_ips[0]", "onprem.dns_server"} <= set(problems)
    message = str(ParamsError("test.yaml", list(problems.items())))
    assert message.startswith("test.yaml: ") and "problem(s) in the parameters" in message


def test_the_seed_dns_values_are_valid():
    params = parse_params(copy.deepcopy(LAB))
    assert params.dns.inbound_ips == ["10.0.1.250", "10.0.2.250"]
    assert params.dns.outbound_ips == ["10.0.1.251", "10.0.2.251"]
    assert (params.onprem.domain, params.onprem.dns_server) == ("anycompany.corp", "192.168.2.250")


def test_a_parameter_set_without_dns_is_still_valid():
    data = copy.deepcopy(LAB)
    data.pop("dns")
    data.pop("onprem_dns")  # its apply sends files that forward the dns section's zones
    assert parse_params(data).dns is None
