"""Route 53 TestDNSAnswer and Resolver endpoint IP checks, through boto3 over HTTP."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from hybridnet import emulator
from hybridnet.render.dns import render_lab_bind

from .conftest import REGION

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling


def _client(service: str, endpoint: str, **config):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        **emulator.credentials(endpoint).as_boto3(),
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def r53(endpoint):
    return _client("route53", endpoint)


@pytest.fixture(scope="module")
def resolver(endpoint):
    return _client("route53resolver", endpoint)


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


# --- TestDNSAnswer ------------------------------------------------------------


def _rr(name, rtype, values, **extra):
    rrset = {"Name": name, "Type": rtype, "TTL": 60, **extra}
    if values is not None:
        rrset["ResourceRecords"] = [{"Value": v} for v in values]
    return {"Action": "CREATE", "ResourceRecordSet": rrset}


@pytest.fixture(scope="module")
def public_zone(r53) -> tuple[str, str]:
    name = f"t{uuid.uuid4().hex[:8]}.example.com"
    zone_id = r53.create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"].split("/")[-1]
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                _rr(f"www.{name}", "A", ["192.0.2.10", "192.0.2.11"]),
                _rr(f"www.{name}", "TXT", ['"hello world"']),
                _rr(f"web.{name}", "CNAME", [f"www.{name}"]),
                _rr(f"out.{name}", "CNAME", ["target.example.net"]),
                _rr(f"dangling.{name}", "CNAME", [f"missing.{name}"]),
                _rr(f"*.apps.{name}", "A", ["192.0.2.50"]),
                _rr(f"host.deep.ent.{name}", "A", ["192.0.2.60"]),
                _rr(f"sub.{name}", "NS", ["ns1.elsewhere.example.org"]),
                _rr(f"w.{name}", "A", ["192.0.2.70"], SetIdentifier="light", Weight=10),
                _rr(f"w.{name}", "A", ["192.0.2.71"], SetIdentifier="heavy", Weight=90),
                _rr(f"f.{name}", "A", ["192.0.2.81"], SetIdentifier="b", Failover="SECONDARY"),
                _rr(f"f.{name}", "A", ["192.0.2.80"], SetIdentifier="a", Failover="PRIMARY"),
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"apex-alias.{name}",
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": zone_id,
                            "DNSName": f"www.{name}",
                            "EvaluateTargetHealth": False,
                        },
                    },
                },
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"lb.{name}",
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": "ZWKZPGTI48KDX",
                            "DNSName": "my-lb-123.ap-northeast-2.elb.amazonaws.com.",
                            "EvaluateTargetHealth": False,
                        },
                    },
                },
            ]
        },
    )
    return zone_id, name


def answer(r53, zone_id, name, rtype="A"):
    out = r53.test_dns_answer(HostedZoneId=zone_id, RecordName=name, RecordType=rtype)
    out.pop("ResponseMetadata")
    return out


def test_answer_has_aws_shape(r53, public_zone):
    zone_id, name = public_zone
    out = answer(r53, zone_id, f"www.{name}")
    assert out == {
        "Nameserver": "ns-2048.awsdns-64.com",
        "RecordName": f"www.{name}",
        "RecordType": "A",
        "RecordData": ["192.0.2.10", "192.0.2.11"],
        "ResponseCode": "NOERROR",
        "Protocol": "UDP",
    }


@pytest.mark.parametrize(
    "qname, rtype, rcode, data",
    [
        ("WWW.{z}.", "A", "NOERROR", ["192.0.2.10", "192.0.2.11"]),  # case and trailing dot do not matter
        ("www.{z}", "TXT", "NOERROR", ['"hello world"']),
        ("www.{z}", "AAAA", "NOERROR", []),  # the name exists with other types
        ("nothere.{z}", "A", "NXDOMAIN", []),
        ("web.{z}", "A", "NOERROR", ["www.{z}", "192.0.2.10", "192.0.2.11"]),  # CNAME followed inside the zone
        ("web.{z}", "CNAME", "NOERROR", ["www.{z}"]),
        ("out.{z}", "A", "NOERROR", ["target.example.net"]),  # CNAME out of the zone: not followed
        ("dangling.{z}", "A", "NXDOMAIN", ["missing.{z}"]),  # RFC 6604: the last name's rcode
        ("x.apps.{z}", "A", "NOERROR", ["192.0.2.50"]),  # wildcard
        ("apps.{z}", "A", "NOERROR", []),  # empty non-terminal above the wildcard
        ("deep.ent.{z}", "A", "NOERROR", []),  # empty non-terminal
        ("y.deep.ent.{z}", "A", "NXDOMAIN", []),
        ("sub.{z}", "NS", "NOERROR", []),  # delegation: a referral has no answer section
        ("host.sub.{z}", "A", "NOERROR", []),
        ("w.{z}", "A", "NOERROR", ["192.0.2.71"]),  # weighted: the heavier record set
        ("f.{z}", "A", "NOERROR", ["192.0.2.80"]),  # failover: PRIMARY
        ("apex-alias.{z}", "A", "NOERROR", ["192.0.2.10", "192.0.2.11"]),  # alias to a record in the zone
        ("lb.{z}", "A", "NOERROR", ["my-lb-123.ap-northeast-2.elb.amazonaws.com"]),  # alias to an AWS resource
        (
            "{z}",
            "NS",
            "NOERROR",
            ["ns-2048.awsdns-64.com", "ns-2049.awsdns-65.net", "ns-2050.awsdns-66.org", "ns-2051.awsdns-67.co.uk"],
        ),
    ],
)
def test_answers(r53, public_zone, qname, rtype, rcode, data):
    zone_id, name = public_zone
    out = answer(r53, zone_id, qname.format(z=name), rtype)
    assert (out["ResponseCode"], out["RecordData"]) == (rcode, [d.format(z=name) for d in data])
    assert out["RecordName"] == qname.format(z=name)
    assert out["RecordType"] == rtype


def test_soa_at_apex(r53, public_zone):
    zone_id, name = public_zone
    out = answer(r53, zone_id, name, "SOA")
    assert out["ResponseCode"] == "NOERROR"
    assert len(out["RecordData"]) == 1 and out["RecordData"][0].split()[0] == "ns-2048.awsdns-64.com."


def test_soa_record_set_holds_a_string(r53, public_zone):
    """moto stored the new zone's SOA as a dict and listed its text; the emulator lists the value."""
    zone_id, name = public_zone
    soa = next(
        s for s in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"] if s["Type"] == "SOA"
    )
    assert soa["ResourceRecords"] == [
        {"Value": "ns-2048.awsdns-64.com. hostmaster.example.com. 1 7200 900 1209600 86400"}
    ]


def test_answer_follows_changes(r53, public_zone):
    zone_id, name = public_zone
    qname = f"late.{name}"
    assert answer(r53, zone_id, qname)["ResponseCode"] == "NXDOMAIN"
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": qname,
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.99"}],
                    },
                }
            ]
        },
    )
    assert answer(r53, zone_id, qname)["RecordData"] == ["192.0.2.99"]


def test_unknown_zone(r53):
    with pytest.raises(ClientError) as exc:
        answer(r53, "Z0000000000000000000", "www.example.com")
    code, message = _error(exc)
    assert code == "NoSuchHostedZone" and "Z0000000000000000000" in message


def test_name_outside_zone(r53, public_zone):
    zone_id, name = public_zone
    with pytest.raises(ClientError) as exc:
        answer(r53, zone_id, "www.example.org")
    code, message = _error(exc)
    assert code == "InvalidInput" and "not in hosted zone" in message


def test_bad_record_type(r53, public_zone):
    zone_id, name = public_zone
    with pytest.raises(ClientError) as exc:
        answer(r53, zone_id, f"www.{name}", "BOGUS")
    assert _error(exc)[0] == "InvalidInput"


def test_private_zone_refused_as_documented(r53, ec2):
    """AWS: "This call only supports querying public hosted zones"."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zone = r53.create_hosted_zone(
        Name="awsanycompany.corp",
        CallerReference=uuid.uuid4().hex,
        HostedZoneConfig={"PrivateZone": True, "Comment": "test"},
        VPC={"VPCRegion": REGION, "VPCId": vpc_id},
    )["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    r53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [_rr("web1.awsanycompany.corp", "A", ["10.0.10.10"])]}
    )
    with pytest.raises(ClientError) as exc:
        answer(r53, zone_id, "web1.awsanycompany.corp")
    code, message = _error(exc)
    assert code == "InvalidInput"
    assert "public hosted zones" in message and zone_id in message
    # what the runbook can check instead: the record set itself
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert {"Value": "10.0.10.10"} in next(s for s in sets if s["Name"] == "web1.awsanycompany.corp.")[
        "ResourceRecords"
    ]


def test_private_zone_record_sets_feed_the_lab_resolver(r53, ec2, tmp_path):
    """What ListResourceRecordSets returns is what the lab's Route 53 Resolver serves."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zone_id = r53.create_hosted_zone(
        Name="awsanycompany.corp",
        CallerReference=uuid.uuid4().hex,
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": REGION, "VPCId": vpc_id},
    )["HostedZone"]["Id"].split("/")[-1]
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                _rr("web1.awsanycompany.corp", "A", ["10.0.10.10"]),
                _rr("web2.awsanycompany.corp", "A", ["10.0.20.10"]),
            ]
        },
    )
    rrsets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    paths = render_lab_bind(
        "resolver",
        tmp_path,
        listen_ips=["10.0.1.250", "10.0.2.250", "10.0.0.2"],
        allow_query=["10.0.0.0/16", "192.168.0.0/16"],
        hosted_zones={"awsanycompany.corp.": rrsets},
        forward_rules={"anycompany.corp": ["192.168.2.250"]},
        query_source_ip="10.0.1.251",
    )
    zone_text = (tmp_path / "db.awsanycompany.corp").read_text()
    assert "web1\t60\tIN\tA\t10.0.10.10" in zone_text and "ns-2048.awsdns-64.com." in zone_text
    res = tooling.run([tooling.require_tool("named-checkconf"), "-z", str(paths[0])])
    assert res.returncode == 0, res.stdout + res.stderr


# --- Resolver endpoints ---------------------------------------------------------


@pytest.fixture
def vpc(ec2, resolver):
    """A VPC like the seed's: two endpoint subnets in two AZs, one web subnet.

    The test's endpoints are deleted afterwards (moto, like AWS, limits
    endpoints per region)."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        key: ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for key, cidr, az in (
            ("a", "10.0.1.0/24", f"{REGION}a"),
            ("c", "10.0.2.0/24", f"{REGION}c"),
            ("web", "10.0.10.0/24", f"{REGION}a"),
        )
    }
    sg = ec2.create_security_group(GroupName=f"dns-{uuid.uuid4().hex[:8]}", Description="dns", VpcId=vpc_id)["GroupId"]
    yield {"vpc_id": vpc_id, "sg": sg, **subnets}
    for ep in resolver.list_resolver_endpoints()["ResolverEndpoints"]:
        if ep["HostVPCId"] == vpc_id:
            resolver.delete_resolver_endpoint(ResolverEndpointId=ep["Id"])


def create_endpoint(resolver, vpc, direction, ips, client=None):
    return (client or resolver).create_resolver_endpoint(
        CreatorRequestId=uuid.uuid4().hex,
        Name=f"{direction.lower()}-{uuid.uuid4().hex[:6]}",
        SecurityGroupIds=[vpc["sg"]],
        Direction=direction,
        IpAddresses=[{"SubnetId": vpc[s], "Ip": ip} for s, ip in ips],
    )["ResolverEndpoint"]


def endpoint_ips(resolver, endpoint_id):
    return sorted(
        a["Ip"] for a in resolver.list_resolver_endpoint_ip_addresses(ResolverEndpointId=endpoint_id)["IpAddresses"]
    )


def test_seed_endpoints_are_created(resolver, vpc):
    inbound = create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    outbound = create_endpoint(resolver, vpc, "OUTBOUND", [("a", "10.0.1.251"), ("c", "10.0.2.251")])
    assert inbound["IpAddressCount"] == 2 and outbound["IpAddressCount"] == 2
    assert endpoint_ips(resolver, inbound["Id"]) == ["10.0.1.250", "10.0.2.250"]
    assert endpoint_ips(resolver, outbound["Id"]) == ["10.0.1.251", "10.0.2.251"]


@pytest.mark.parametrize("first, second", [("INBOUND", "OUTBOUND"), ("INBOUND", "INBOUND"), ("OUTBOUND", "INBOUND")])
def test_ip_of_another_endpoint_is_refused(resolver, vpc, first, second):
    existing = create_endpoint(resolver, vpc, first, [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    with pytest.raises(ClientError) as exc:
        create_endpoint(resolver, vpc, second, [("a", "10.0.1.251"), ("c", "10.0.2.250")])
    code, message = _error(exc)
    assert code == "ResourceExistsException"
    assert message == f"The IP address '10.0.2.250' in subnet '{vpc['c']}' is already in use"
    # nothing was half-created: the free IP 10.0.1.251 is still free
    create_endpoint(resolver, vpc, second, [("a", "10.0.1.251"), ("c", "10.0.2.251")])
    assert endpoint_ips(resolver, existing["Id"]) == ["10.0.1.250", "10.0.2.250"]


def test_ip_of_any_eni_is_refused(resolver, ec2, vpc):
    ec2.create_network_interface(SubnetId=vpc["a"], PrivateIpAddress="10.0.1.250")
    with pytest.raises(ClientError) as exc:
        create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    assert _error(exc)[0] == "ResourceExistsException"


def test_ip_of_an_instance_is_refused(resolver, ec2, vpc):
    ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        SubnetId=vpc["a"],
        PrivateIpAddress="10.0.1.77",
    )
    with pytest.raises(ClientError) as exc:
        create_endpoint(resolver, vpc, "OUTBOUND", [("a", "10.0.1.77"), ("c", "10.0.2.251")])
    assert _error(exc)[0] == "ResourceExistsException"


def test_same_ip_in_another_vpc_is_fine(resolver, ec2, vpc):
    create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    other_vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    other = {
        "a": ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"][
            "SubnetId"
        ],
        "c": ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.0.2.0/24", AvailabilityZone=f"{REGION}c")["Subnet"][
            "SubnetId"
        ],
        "sg": ec2.create_security_group(GroupName=f"dns-{uuid.uuid4().hex[:8]}", Description="dns", VpcId=other_vpc)[
            "GroupId"
        ],
    }
    ep = create_endpoint(resolver, other, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    resolver.delete_resolver_endpoint(ResolverEndpointId=ep["Id"])


def test_ip_is_free_again_after_delete(resolver, vpc):
    first = create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    resolver.delete_resolver_endpoint(ResolverEndpointId=first["Id"])
    again = create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    assert endpoint_ips(resolver, again["Id"]) == ["10.0.1.250", "10.0.2.250"]


def test_associate_ip_in_use_is_refused(resolver, vpc):
    inbound = create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    outbound = create_endpoint(resolver, vpc, "OUTBOUND", [("a", "10.0.1.251"), ("c", "10.0.2.251")])
    with pytest.raises(ClientError) as exc:
        resolver.associate_resolver_endpoint_ip_address(
            ResolverEndpointId=outbound["Id"], IpAddress={"SubnetId": vpc["a"], "Ip": "10.0.1.250"}
        )
    assert _error(exc)[0] == "ResourceExistsException"
    resolver.associate_resolver_endpoint_ip_address(
        ResolverEndpointId=outbound["Id"], IpAddress={"SubnetId": vpc["a"], "Ip": "10.0.1.252"}
    )
    assert endpoint_ips(resolver, outbound["Id"]) == ["10.0.1.251", "10.0.1.252", "10.0.2.251"]
    assert endpoint_ips(resolver, inbound["Id"]) == ["10.0.1.250", "10.0.2.250"]


@pytest.mark.parametrize(
    "subnet, ip",
    [
        ("a", "10.0.2.250"),  # in the other subnet's range
        ("a", "10.0.1.0"),
        ("a", "10.0.1.1"),  # reserved by AWS
        ("a", "10.0.1.3"),
        ("a", "10.0.1.255"),
    ],
)
def test_ip_outside_subnet_or_reserved(resolver, vpc, subnet, ip):
    with pytest.raises(ClientError) as exc:
        create_endpoint(resolver, vpc, "INBOUND", [(subnet, ip), ("c", "10.0.2.250")])
    code, message = _error(exc)
    assert code == "InvalidRequestException"
    assert message == f"IP address '{ip}' is either not in subnet '{vpc[subnet]}' CIDR range or is reserved"


def test_one_ip_is_refused(resolver, vpc, endpoint):
    # boto3 refuses it before sending (the model's IpAddresses has min 2) ...
    with pytest.raises(ParamValidationError):
        create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250")])
    # ... and the service refuses it too, as AWS does ([RSLVR-00400] on AWS)
    unvalidated = _client("route53resolver", endpoint, parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250")], client=unvalidated)
    code, message = _error(exc)
    assert code == "InvalidRequestException" and "at least 2 IP addresses" in message


def test_two_ips_in_one_subnet_are_accepted(resolver, vpc):
    """AWS requires two IPs, and recommends (does not require) two AZs."""
    ep = create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("a", "10.0.1.249")])
    assert endpoint_ips(resolver, ep["Id"]) == ["10.0.1.249", "10.0.1.250"]


def test_same_ip_twice_in_one_request(resolver, vpc):
    with pytest.raises(ClientError) as exc:
        create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("a", "10.0.1.250")])
    assert _error(exc)[0] == "ResourceExistsException"


def test_an_endpoint_keeps_two_ips_and_names_one_it_never_had(resolver, vpc):
    ep = create_endpoint(resolver, vpc, "OUTBOUND", [("a", "10.0.1.251"), ("c", "10.0.2.251")])
    with pytest.raises(ClientError) as exc:
        resolver.disassociate_resolver_endpoint_ip_address(
            ResolverEndpointId=ep["Id"], IpAddress={"SubnetId": vpc["a"], "Ip": "10.0.1.251"}
        )
    assert _error(exc) == ("InvalidRequestException", "Resolver endpoint needs to have at least 2 IP addresses")
    with pytest.raises(ClientError) as exc:
        resolver.disassociate_resolver_endpoint_ip_address(
            ResolverEndpointId=ep["Id"], IpAddress={"SubnetId": vpc["a"], "Ip": "10.0.1.99"}
        )
    assert _error(exc)[0] == "ResourceNotFoundException" and "10.0.1.99" in _error(exc)[1]
    # a new IP first, then the old one goes: the endpoint moves address in place
    resolver.associate_resolver_endpoint_ip_address(
        ResolverEndpointId=ep["Id"], IpAddress={"SubnetId": vpc["a"], "Ip": "10.0.1.252"}
    )
    resolver.disassociate_resolver_endpoint_ip_address(
        ResolverEndpointId=ep["Id"], IpAddress={"SubnetId": vpc["a"], "Ip": "10.0.1.251"}
    )
    assert endpoint_ips(resolver, ep["Id"]) == ["10.0.1.252", "10.0.2.251"]


def test_update_resolver_rule_changes_targets_in_place(resolver, vpc):
    outbound = create_endpoint(resolver, vpc, "OUTBOUND", [("a", "10.0.1.251"), ("c", "10.0.2.251")])
    inbound = create_endpoint(resolver, vpc, "INBOUND", [("a", "10.0.1.250"), ("c", "10.0.2.250")])
    rule = resolver.create_resolver_rule(
        CreatorRequestId=uuid.uuid4().hex,
        Name="fwd",
        RuleType="FORWARD",
        DomainName="corp.example",
        TargetIps=[{"Ip": "192.168.2.250", "Port": 53}],
        ResolverEndpointId=outbound["Id"],
    )["ResolverRule"]
    try:
        updated = resolver.update_resolver_rule(
            ResolverRuleId=rule["Id"],
            Config={"TargetIps": [{"Ip": "192.168.2.251"}, {"Ip": "192.168.3.250", "Port": 5353}]},
        )["ResolverRule"]
        assert [(t["Ip"], t["Port"]) for t in updated["TargetIps"]] == [("192.168.2.251", 53), ("192.168.3.250", 5353)]
        assert (updated["Id"], updated["Name"], updated["ResolverEndpointId"]) == (rule["Id"], "fwd", outbound["Id"])
        again = resolver.get_resolver_rule(ResolverRuleId=rule["Id"])["ResolverRule"]
        assert again["TargetIps"] == updated["TargetIps"] and again["Status"] == "COMPLETE"
        for config, code in (
            ({"ResolverEndpointId": inbound["Id"]}, "InvalidRequestException"),
            ({"TargetIps": [{"Ip": "2001:db8::1"}]}, "InvalidParameterException"),
            ({"TargetIps": [{"Ip": "not-an-ip"}]}, "InvalidParameterException"),
        ):
            with pytest.raises(ClientError) as exc:
                resolver.update_resolver_rule(ResolverRuleId=rule["Id"], Config=config)
            assert _error(exc)[0] == code, config
        with pytest.raises(ClientError) as exc:
            resolver.update_resolver_rule(ResolverRuleId="rslvr-rr-0123456789abcdef0", Config={"Name": "x"})
        assert _error(exc)[0] == "ResourceNotFoundException"
        assert (
            resolver.get_resolver_rule(ResolverRuleId=rule["Id"])["ResolverRule"]["TargetIps"] == updated["TargetIps"]
        )
    finally:
        resolver.delete_resolver_rule(ResolverRuleId=rule["Id"])
