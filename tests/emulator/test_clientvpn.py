"""The emulator's AWS Client VPN, through boto3 over HTTP as against AWS."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import itertools
import json
import re
import time
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hybridnet import emulator
from hybridnet.handlers import AWS_DEFAULT_DENY_MESSAGE

from .conftest import REGION

CLIENT_CIDR = "172.16.0.0/22"
IDC_CIDR = "192.168.0.0/16"
_vpc_numbers = itertools.count(1)


# ---------------------------------------------------------------- helpers


def client(endpoint: str, service: str, **config):
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        **emulator.credentials(endpoint).as_boto3(),
        config=Config(**config) if config else None,
    )


def code_of(exc_info) -> str:
    return exc_info.value.response["Error"]["Code"]


def wait_for(read, done, timeout: float = 6.0):
    """Poll read() until done(value); the emulator's transitions take about a second."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {timeout} s"
        time.sleep(0.1)


def certificate(common_name: str, issuer=None, san: list[str] | None = None, ca: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in san]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def handler_zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def acm(endpoint):
    return client(endpoint, "acm")


@pytest.fixture(scope="module")
def awslambda(endpoint):
    return client(endpoint, "lambda")


@pytest.fixture(scope="module")
def pki(acm) -> dict:
    """The lab's mutual-TLS material in ACM: a CA, a server certificate (easy-rsa
    --san=DNS:server) and a client certificate, each imported with the CA chain."""
    ca = certificate("Easy-RSA CA", ca=True)
    server = certificate("server", issuer=ca, san=["server"])
    client_cert = certificate("client1.domain.tld", issuer=ca)
    no_domain = certificate("server", issuer=ca)  # no SAN, undotted CN: ACM shows no domain

    def imported(pair) -> str:
        return acm.import_certificate(
            Certificate=pem(pair[0]), PrivateKey=key_pem(pair[1]), CertificateChain=pem(ca[0])
        )["CertificateArn"]

    return {
        "ca_pem": pem(ca[0]).decode(),
        "server": imported(server),
        "client": imported(client_cert),
        "no_domain": imported(no_domain),
        "server_2": imported(certificate("server", issuer=ca, san=["server"])),
    }  # a renewal


@pytest.fixture(scope="module")
def role(endpoint) -> str:
    iam = client(endpoint, "iam")
    return iam.create_role(
        RoleName="hybridnet-clientvpn-test-handler",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]


def make_vpc(ec2) -> dict:
    """A fresh VPC 10.N.0.0/16 with subnets in two AZs (plus a spare in the first AZ)."""
    n = next(_vpc_numbers)
    cidr = f"10.{n}.0.0/16"
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]

    def subnet(third: int, zone: str) -> str:
        return ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{n}.{third}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]

    return {"id": vpc_id, "cidr": cidr, "a": subnet(1, "a"), "c": subnet(2, "c"), "a2": subnet(3, "a")}


@pytest.fixture
def vpc(ec2) -> dict:
    return make_vpc(ec2)


def create_endpoint(ec2, pki, **extra) -> dict:
    params = {
        "ClientCidrBlock": CLIENT_CIDR,
        "ServerCertificateArn": pki["server"],
        "AuthenticationOptions": [
            {
                "Type": "certificate-authentication",
                "MutualAuthentication": {"ClientRootCertificateChainArn": pki["client"]},
            }
        ],
        "ConnectionLogOptions": {"Enabled": False},
    }
    params.update(extra)
    return ec2.create_client_vpn_endpoint(**params)


def describe(ec2, endpoint_id: str) -> dict:
    return ec2.describe_client_vpn_endpoints(ClientVpnEndpointIds=[endpoint_id])["ClientVpnEndpoints"][0]


def routes(ec2, endpoint_id: str) -> list[dict]:
    return ec2.describe_client_vpn_routes(ClientVpnEndpointId=endpoint_id)["Routes"]


def rules(ec2, endpoint_id: str) -> list[dict]:
    return ec2.describe_client_vpn_authorization_rules(ClientVpnEndpointId=endpoint_id)["AuthorizationRules"]


def associate_and_wait(ec2, endpoint_id: str, *subnets: str) -> list[str]:
    ids = [
        ec2.associate_client_vpn_target_network(ClientVpnEndpointId=endpoint_id, SubnetId=s)["AssociationId"]
        for s in subnets
    ]
    wait_for(lambda: describe(ec2, endpoint_id)["Status"]["Code"], lambda code: code == "available")
    wait_for(
        lambda: ec2.describe_client_vpn_target_networks(ClientVpnEndpointId=endpoint_id)["ClientVpnTargetNetworks"],
        lambda nets: all(n["Status"]["Code"] == "associated" for n in nets),
    )
    return ids


def make_available(ec2, pki, vpc) -> dict:
    endpoint_id = create_endpoint(ec2, pki)["ClientVpnEndpointId"]
    association = associate_and_wait(ec2, endpoint_id, vpc["a"])[0]
    return {"id": endpoint_id, "association": association, **{f"vpc_{k}": v for k, v in vpc.items()}}


@pytest.fixture(scope="module")
def shared(ec2, pki) -> dict:
    """One available endpoint for the tests that each touch a different part of it
    (routes, rules, attributes, connections), to wait for one association only."""
    return make_available(ec2, pki, make_vpc(ec2))


# ---------------------------------------------------------------- the lifecycle


def test_endpoint_lifecycle_as_the_runbook_drives_it(ec2, emulator_info, pki, vpc, awslambda, role):
    created = create_endpoint(
        ec2,
        pki,
        SplitTunnel=True,
        Description="lab remote access",
        DnsServers=["10.1.0.2"],
        TagSpecifications=[{"ResourceType": "client-vpn-endpoint", "Tags": [{"Key": "Name", "Value": "lifecycle"}]}],
    )
    endpoint_id = created["ClientVpnEndpointId"]
    assert re.fullmatch(r"cvpn-endpoint-[0-9a-f]{17}", endpoint_id)
    assert created["Status"] == {"Code": "pending-associate"}
    assert created["DnsName"] == f"*.{endpoint_id}.prod.clientvpn.{REGION}.amazonaws.com"

    endpoint = describe(ec2, endpoint_id)
    assert endpoint["Status"]["Code"] == "pending-associate"
    assert (endpoint["ClientCidrBlock"], endpoint["TransportProtocol"], endpoint["VpnPort"]) == (
        CLIENT_CIDR,
        "udp",
        443,
    )
    assert endpoint["SplitTunnel"] is True and endpoint["SessionTimeoutHours"] == 24
    assert endpoint["VpnProtocol"] == "openvpn" and endpoint["DnsServers"] == ["10.1.0.2"]
    assert endpoint["AuthenticationOptions"] == [
        {"Type": "certificate-authentication", "MutualAuthentication": {"ClientRootCertificateChain": pki["client"]}}
    ]
    assert endpoint["ClientConnectOptions"] == {"Enabled": False, "Status": {"Code": "applied"}}
    assert endpoint["Tags"] == [{"Key": "Name", "Value": "lifecycle"}]
    assert "VpcId" not in endpoint and endpoint["SecurityGroupIds"] == []
    assert ec2.describe_client_vpn_connections(ClientVpnEndpointId=endpoint_id)["Connections"] == []
    dt.datetime.strptime(endpoint["CreationTime"], "%Y-%m-%d %H:%M:%S")

    # A route needs an associated target subnet.
    with pytest.raises(ClientError) as exc:
        ec2.create_client_vpn_route(
            ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=IDC_CIDR, TargetVpcSubnetId=vpc["a"]
        )
    assert code_of(exc) == "InvalidClientVpnActiveAssociationNotFound"

    # Two subnets in two AZs: associating, then associated; the endpoint becomes available.
    first = ec2.associate_client_vpn_target_network(ClientVpnEndpointId=endpoint_id, SubnetId=vpc["a"])
    second = ec2.associate_client_vpn_target_network(ClientVpnEndpointId=endpoint_id, SubnetId=vpc["c"])
    assert re.fullmatch(r"cvpn-assoc-[0-9a-f]{17}", first["AssociationId"])
    assert first["Status"] == second["Status"] == {"Code": "associating"}
    assert describe(ec2, endpoint_id)["Status"]["Code"] == "pending-associate"
    wait_for(lambda: describe(ec2, endpoint_id)["Status"]["Code"], lambda code: code == "available")
    networks = wait_for(
        lambda: ec2.describe_client_vpn_target_networks(ClientVpnEndpointId=endpoint_id)["ClientVpnTargetNetworks"],
        lambda nets: all(n["Status"]["Code"] == "associated" for n in nets),
    )
    assert {n["TargetNetworkId"] for n in networks} == {vpc["a"], vpc["c"]}
    assert {n["VpcId"] for n in networks} == {vpc["id"]}
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["id"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    endpoint = describe(ec2, endpoint_id)
    assert endpoint["VpcId"] == vpc["id"] and endpoint["SecurityGroupIds"] == [default_sg]
    by_subnet = ec2.describe_client_vpn_target_networks(
        ClientVpnEndpointId=endpoint_id, Filters=[{"Name": "target-network-id", "Values": [vpc["c"]]}]
    )
    assert [n["AssociationId"] for n in by_subnet["ClientVpnTargetNetworks"]] == [second["AssociationId"]]

    with pytest.raises(ClientError) as exc:  # a subnet of the VPC, but not a target network
        ec2.create_client_vpn_route(
            ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=IDC_CIDR, TargetVpcSubnetId=vpc["a2"]
        )
    assert code_of(exc) == "InvalidClientVpnSubnetId.NotFound"

    # The association added the route to the VPC's CIDR through each subnet.
    assert sorted(
        (r["DestinationCidr"], r["TargetSubnet"], r["Origin"], r["Type"], r["Status"]["Code"])
        for r in routes(ec2, endpoint_id)
    ) == sorted(
        [(vpc["cidr"], vpc["a"], "associate", "Nat", "active"), (vpc["cidr"], vpc["c"], "associate", "Nat", "active")]
    )

    # Authorization rules for the VPC and for the IDC network.
    assert ec2.authorize_client_vpn_ingress(
        ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=vpc["cidr"], AuthorizeAllGroups=True
    )["Status"] == {"Code": "authorizing"}
    ec2.authorize_client_vpn_ingress(
        ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=IDC_CIDR, AuthorizeAllGroups=True, Description="IDC"
    )
    # A route to the IDC through each subnet.
    for subnet in (vpc["a"], vpc["c"]):
        assert ec2.create_client_vpn_route(
            ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=IDC_CIDR, TargetVpcSubnetId=subnet, Description="IDC"
        )["Status"] == {"Code": "creating"}
    assert {r["Status"]["Code"] for r in rules(ec2, endpoint_id)} == {"authorizing"}
    active = wait_for(lambda: rules(ec2, endpoint_id), lambda rs: all(r["Status"]["Code"] == "active" for r in rs))
    assert sorted((r["DestinationCidr"], r["AccessAll"]) for r in active) == sorted(
        [(vpc["cidr"], True), (IDC_CIDR, True)]
    )
    idc_routes = wait_for(
        lambda: ec2.describe_client_vpn_routes(
            ClientVpnEndpointId=endpoint_id, Filters=[{"Name": "origin", "Values": ["add-route"]}]
        )["Routes"],
        lambda rs: rs and all(r["Status"]["Code"] == "active" for r in rs),
    )
    assert sorted((r["DestinationCidr"], r["TargetSubnet"], r["Type"]) for r in idc_routes) == sorted(
        [(IDC_CIDR, vpc["a"], "Nat"), (IDC_CIDR, vpc["c"], "Nat")]
    )

    # The client configuration, in AWS's .ovpn layout.
    config = ec2.export_client_vpn_client_configuration(ClientVpnEndpointId=endpoint_id)["ClientConfiguration"]
    lines = config.splitlines()
    assert lines[:4] == ["client", "dev tun", "proto udp", f"remote {created['DnsName'].removeprefix('*.')} 443"]
    for line in (
        "remote-random-hostname",
        "resolv-retry infinite",
        "nobind",
        "remote-cert-tls server",
        "cipher AES-256-GCM",
        "verb 3",
        "reneg-sec 0",
        "verify-x509-name server name",
    ):
        assert line in lines
    ca = config[config.index("<ca>\n") + 5 : config.index("</ca>")].strip()
    assert ca == pki["ca_pem"].strip()
    assert "<cert>" not in config and "<key>" not in config

    # The client connect handler.
    handler_arn = awslambda.create_function(
        FunctionName="AWSClientVPN-lifecycle",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": handler_zip("def handler(event, context):\n    return {}\n")},
    )["FunctionArn"]
    assert (
        ec2.modify_client_vpn_endpoint(
            ClientVpnEndpointId=endpoint_id, ClientConnectOptions={"Enabled": True, "LambdaFunctionArn": handler_arn}
        )["Return"]
        is True
    )
    assert describe(ec2, endpoint_id)["ClientConnectOptions"] == {
        "Enabled": True,
        "LambdaFunctionArn": handler_arn,
        "Status": {"Code": "applied"},
    }

    # Teardown: associations first, as AWS insists.
    connected = report(emulator_info, client_vpn_endpoint_id=endpoint_id, common_name="client1.domain.tld")
    with pytest.raises(ClientError) as refused:
        ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)
    assert code_of(refused) == "ClientVpnEndpointAssociationExists"
    assert first["AssociationId"] in refused.value.response["Error"]["Message"]
    for association in (first, second):
        assert ec2.disassociate_client_vpn_target_network(
            ClientVpnEndpointId=endpoint_id, AssociationId=association["AssociationId"]
        )["Status"] == {"Code": "disassociating"}
    # The routes through the subnets go with them, and with the last one the connections end;
    # the endpoint waits for a new association.
    assert {r["Status"]["Code"] for r in routes(ec2, endpoint_id)} == {"deleting"}
    assert [(c["ConnectionId"], c["Status"]["Code"]) for c in connections(ec2, endpoint_id)] == [
        (connected["connection_id"], "terminating")
    ]
    wait_for(
        lambda: ec2.describe_client_vpn_target_networks(ClientVpnEndpointId=endpoint_id)["ClientVpnTargetNetworks"],
        lambda nets: nets == [],
    )
    assert routes(ec2, endpoint_id) == []
    assert describe(ec2, endpoint_id)["Status"]["Code"] == "pending-associate"
    assert connections(ec2, endpoint_id)[0]["Status"]["Code"] == "terminated"
    assert ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)["Status"] == {"Code": "deleting"}
    assert describe(ec2, endpoint_id)["Status"]["Code"] == "deleting"

    def gone() -> bool:
        try:
            describe(ec2, endpoint_id)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidClientVpnEndpointId.NotFound"
            return True
        return False

    wait_for(gone, bool)
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [endpoint_id]}])["Tags"] == []


def test_tags_and_filters(ec2, pki):
    tagged = create_endpoint(
        ec2,
        pki,
        TransportProtocol="tcp",
        VpnPort=1194,
        TagSpecifications=[{"ResourceType": "client-vpn-endpoint", "Tags": [{"Key": "Name", "Value": "filters-tcp"}]}],
    )["ClientVpnEndpointId"]
    other = create_endpoint(ec2, pki)["ClientVpnEndpointId"]
    ec2.create_tags(Resources=[other], Tags=[{"Key": "Name", "Value": "filters-udp"}, {"Key": "team", "Value": "net"}])

    def ids(filters):
        found = ec2.describe_client_vpn_endpoints(Filters=filters)["ClientVpnEndpoints"]
        return {e["ClientVpnEndpointId"] for e in found} & {tagged, other}

    assert ids([{"Name": "tag:Name", "Values": ["filters-tcp"]}]) == {tagged}
    assert ids([{"Name": "tag:team", "Values": ["net"]}]) == {other}
    assert ids([{"Name": "endpoint-id", "Values": [other]}]) == {other}
    assert ids([{"Name": "transport-protocol", "Values": ["tcp"]}]) == {tagged}
    assert ids([{"Name": "tag:Name", "Values": ["filters-*"]}]) == {tagged, other}
    assert describe(ec2, tagged)["VpnPort"] == 1194
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [other]}])["Tags"]
    assert {(t["Key"], t["Value"], t["ResourceType"]) for t in tags} == {
        ("Name", "filters-udp", "client-vpn-endpoint"),
        ("team", "net", "client-vpn-endpoint"),
    }
    ec2.delete_tags(Resources=[other], Tags=[{"Key": "team"}])
    assert describe(ec2, other)["Tags"] == [{"Key": "Name", "Value": "filters-udp"}]
    config = ec2.export_client_vpn_client_configuration(ClientVpnEndpointId=tagged)["ClientConfiguration"]
    assert "proto tcp" in config.splitlines() and config.splitlines()[3].endswith(" 1194")

    with pytest.raises(ClientError) as exc:
        ec2.create_tags(Resources=["cvpn-endpoint-0123456789abcdef0"], Tags=[{"Key": "a", "Value": "b"}])
    assert code_of(exc) == "InvalidClientVpnEndpointId.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.describe_client_vpn_endpoints(Filters=[{"Name": "vpc-id", "Values": ["vpc-1"]}])
    assert code_of(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "a", "Value": "b"}]}])
    assert code_of(exc) == "InvalidParameterValue"
    for endpoint_id in (tagged, other):
        ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def test_pagination(ec2, pki):
    made = {create_endpoint(ec2, pki, Description="page")["ClientVpnEndpointId"] for _ in range(6)}
    paginator = ec2.get_paginator("describe_client_vpn_endpoints")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) >= 2 and all(len(p["ClientVpnEndpoints"]) <= 5 for p in pages)
    seen = [e["ClientVpnEndpointId"] for p in pages for e in p["ClientVpnEndpoints"]]
    assert len(seen) == len(set(seen)) and made <= set(seen)
    for endpoint_id in made:
        ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def test_pagination_of_an_endpoints_parts(ec2, emulator_info, pki):
    """Routes, rules, target networks and connections page as endpoints do (moto's
    paginator), a rule being revoked next to its successor included; a token that
    is not one, or one used with other parameters, is AWS's InvalidParameterValue."""
    state = make_available(ec2, pki, make_vpc(ec2))
    endpoint_id, subnet = state["id"], state["vpc_a"]
    cidrs = [f"192.168.{n}.0/24" for n in range(6)]
    for cidr in cidrs:
        ec2.create_client_vpn_route(
            ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=cidr, TargetVpcSubnetId=subnet
        )
        ec2.authorize_client_vpn_ingress(
            ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=cidr, AuthorizeAllGroups=True
        )
    # The same rule revoked and authorized again: both are listed (revoking, authorizing).
    ec2.revoke_client_vpn_ingress(ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=cidrs[0], RevokeAllGroups=True)
    ec2.authorize_client_vpn_ingress(
        ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=cidrs[0], AuthorizeAllGroups=True
    )
    made = [
        report(emulator_info, client_vpn_endpoint_id=endpoint_id, common_name=f"client{n}.domain.tld")["connection_id"]
        for n in range(6)
    ]

    def all_pages(operation: str, key: str) -> list[dict]:
        pages = list(
            ec2.get_paginator(operation).paginate(ClientVpnEndpointId=endpoint_id, PaginationConfig={"PageSize": 5})
        )
        assert all(len(p[key]) <= 5 for p in pages)
        assert all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
        return [item for p in pages for item in p[key]]

    paged_routes = all_pages("describe_client_vpn_routes", "Routes")
    # In the order of one unpaged call (statuses may settle in between: not compared).
    assert [r["DestinationCidr"] for r in paged_routes] == [r["DestinationCidr"] for r in routes(ec2, endpoint_id)]
    assert sorted(r["DestinationCidr"] for r in paged_routes) == sorted([state["vpc_cidr"], *cidrs])
    paged_rules = all_pages("describe_client_vpn_authorization_rules", "AuthorizationRules")
    assert sorted(r["DestinationCidr"] for r in paged_rules) == sorted([*cidrs, cidrs[0]])
    assert len(all_pages("describe_client_vpn_target_networks", "ClientVpnTargetNetworks")) == 1
    assert set(made) <= {c["ConnectionId"] for c in all_pages("describe_client_vpn_connections", "Connections")}

    first = ec2.describe_client_vpn_routes(ClientVpnEndpointId=endpoint_id, MaxResults=5)
    assert len(first["Routes"]) == 5 and first["NextToken"]
    for token, filters in (("not-a-token", []), (first["NextToken"], [{"Name": "origin", "Values": ["add-route"]}])):
        with pytest.raises(ClientError) as exc:
            ec2.describe_client_vpn_routes(
                ClientVpnEndpointId=endpoint_id, MaxResults=5, NextToken=token, Filters=filters
            )
        assert code_of(exc) == "InvalidParameterValue"
        assert exc.value.response["Error"]["Message"] == f"Invalid NextToken {token!r}"


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "cidr", ["172.16.0.0/11", "172.16.0.0/23", "172.16.0.0/28", "172.16.0.1/22", "not-a-cidr", "2001:db8::/48"]
)
def test_client_cidr_must_be_a_v4_block_between_12_and_22(ec2, pki, cidr):
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, ClientCidrBlock=cidr)
    assert code_of(exc) == "InvalidParameterValue"


@pytest.mark.parametrize("cidr", ["172.16.0.0/12", "172.16.0.0/22"])
def test_client_cidr_limits_are_inclusive(ec2, pki, cidr):
    endpoint_id = create_endpoint(ec2, pki, ClientCidrBlock=cidr)["ClientVpnEndpointId"]
    assert describe(ec2, endpoint_id)["ClientCidrBlock"] == cidr
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def test_certificates_must_exist_in_acm(ec2, pki):
    unknown = f"arn:aws:acm:{REGION}:123456789012:certificate/00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, ServerCertificateArn=unknown)
    assert code_of(exc) == "InvalidParameterValue" and unknown in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        create_endpoint(
            ec2,
            pki,
            AuthenticationOptions=[
                {
                    "Type": "certificate-authentication",
                    "MutualAuthentication": {"ClientRootCertificateChainArn": unknown},
                }
            ],
        )
    assert code_of(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, ServerCertificateArn=pki["no_domain"])
    assert code_of(exc) == "InvalidParameterValue"
    assert "does not have a domain" in exc.value.response["Error"]["Message"]


def test_acm_shows_the_endpoint_using_its_certificates(ec2, pki, acm):
    endpoint_id = create_endpoint(ec2, pki)["ClientVpnEndpointId"]
    arn = f"arn:aws:ec2:{REGION}:123456789012:client-vpn-endpoint/{endpoint_id}"
    assert arn in acm.describe_certificate(CertificateArn=pki["server"])["Certificate"]["InUseBy"]
    assert arn in acm.describe_certificate(CertificateArn=pki["client"])["Certificate"]["InUseBy"]
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)
    assert arn not in acm.describe_certificate(CertificateArn=pki["server"])["Certificate"]["InUseBy"]


def test_a_new_server_certificate_frees_the_old_one_in_acm(ec2, pki, acm):
    """ACM's InUseBy follows ModifyClientVpnEndpoint: the replaced server certificate no
    longer names the endpoint, the new one does."""
    endpoint_id = create_endpoint(ec2, pki)["ClientVpnEndpointId"]
    arn = f"arn:aws:ec2:{REGION}:123456789012:client-vpn-endpoint/{endpoint_id}"
    try:
        ec2.modify_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id, ServerCertificateArn=pki["server_2"])
        assert arn not in acm.describe_certificate(CertificateArn=pki["server"])["Certificate"]["InUseBy"]
        assert arn in acm.describe_certificate(CertificateArn=pki["server_2"])["Certificate"]["InUseBy"]
    finally:
        ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


@pytest.mark.parametrize(
    "extra",
    [
        {"VpnPort": 8443},
        {"SessionTimeoutHours": 5},
        {"TransportProtocol": "sctp"},
        {"DnsServers": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]},
        {"ConnectionLogOptions": {"Enabled": True}},
        {"ConnectionLogOptions": {"Enabled": True, "CloudwatchLogGroup": "no-such-group"}},
        {"SecurityGroupIds": ["sg-0123456789abcdef0"]},
    ],
)
def test_invalid_endpoint_options(ec2, pki, extra):
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, **extra)
    assert code_of(exc) == "InvalidParameterValue"


def test_connection_logging_names_a_stream_in_the_log_group(ec2, pki, endpoint):
    logs = client(endpoint, "logs")
    logs.create_log_group(logGroupName="hybridnet-cvpn-test")
    endpoint_id = create_endpoint(
        ec2, pki, ConnectionLogOptions={"Enabled": True, "CloudwatchLogGroup": "hybridnet-cvpn-test"}
    )["ClientVpnEndpointId"]
    options = describe(ec2, endpoint_id)["ConnectionLogOptions"]
    assert options["Enabled"] is True and options["CloudwatchLogGroup"] == "hybridnet-cvpn-test"
    assert options["CloudwatchLogStream"].startswith(endpoint_id)
    streams = logs.describe_log_streams(logGroupName="hybridnet-cvpn-test")["logStreams"]
    assert options["CloudwatchLogStream"] in {s["logStreamName"] for s in streams}
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def test_vpc_and_security_groups(ec2, pki, vpc):
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["id"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    endpoint_id = create_endpoint(ec2, pki, VpcId=vpc["id"])["ClientVpnEndpointId"]
    endpoint = describe(ec2, endpoint_id)
    assert endpoint["VpcId"] == vpc["id"] and endpoint["SecurityGroupIds"] == [default_sg]
    own_sg = ec2.create_security_group(GroupName="cvpn-clients", Description="Client VPN clients", VpcId=vpc["id"])[
        "GroupId"
    ]
    assert ec2.apply_security_groups_to_client_vpn_target_network(
        ClientVpnEndpointId=endpoint_id, VpcId=vpc["id"], SecurityGroupIds=[own_sg]
    )["SecurityGroupIds"] == [own_sg]
    assert describe(ec2, endpoint_id)["SecurityGroupIds"] == [own_sg]
    other_vpc = ec2.create_vpc(CidrBlock="10.251.0.0/16")["Vpc"]["VpcId"]
    foreign_sg = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)["GroupId"]
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, VpcId=vpc["id"], SecurityGroupIds=[foreign_sg])
    assert code_of(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, VpcId="vpc-0123456789abcdef0")
    assert code_of(exc) == "InvalidVpcID.NotFound"
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def test_a_repeated_client_token_creates_nothing_new(ec2, pki):
    first = create_endpoint(ec2, pki, ClientToken="hybridnet-token-1")["ClientVpnEndpointId"]
    again = create_endpoint(ec2, pki, ClientToken="hybridnet-token-1")["ClientVpnEndpointId"]
    other = create_endpoint(ec2, pki, ClientToken="hybridnet-token-2")["ClientVpnEndpointId"]
    assert first == again != other
    for endpoint_id in (first, other):
        ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def test_unknown_endpoint(ec2):
    missing = "cvpn-endpoint-0123456789abcdef0"
    for call in (
        lambda: ec2.describe_client_vpn_endpoints(ClientVpnEndpointIds=[missing]),
        lambda: ec2.describe_client_vpn_routes(ClientVpnEndpointId=missing),
        lambda: ec2.associate_client_vpn_target_network(ClientVpnEndpointId=missing, SubnetId="subnet-1"),
        lambda: ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=missing),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "InvalidClientVpnEndpointId.NotFound"


def test_target_network_rules(ec2, pki, vpc):
    endpoint_id = create_endpoint(ec2, pki)["ClientVpnEndpointId"]
    ec2.associate_client_vpn_target_network(ClientVpnEndpointId=endpoint_id, SubnetId=vpc["a"])

    def refused(subnet: str) -> str:
        with pytest.raises(ClientError) as exc:
            ec2.associate_client_vpn_target_network(ClientVpnEndpointId=endpoint_id, SubnetId=subnet)
        return code_of(exc)

    other_vpc = ec2.create_vpc(CidrBlock="10.250.0.0/16")["Vpc"]["VpcId"]
    foreign = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.250.1.0/24", AvailabilityZone=f"{REGION}c")["Subnet"][
        "SubnetId"
    ]
    assert refused(vpc["a"]) == "InvalidClientVpnDuplicateAssociationException"
    assert refused(vpc["a2"]) == "InvalidClientVpnSubnetId.DuplicateAz"
    assert refused(foreign) == "InvalidClientVpnSubnetId.NotFound"
    assert refused("subnet-0123456789abcdef0") == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.disassociate_client_vpn_target_network(
            ClientVpnEndpointId=endpoint_id, AssociationId="cvpn-assoc-0123456789abcdef0"
        )
    assert code_of(exc) == "InvalidClientVpnAssociationIdNotFound"


def test_client_cidr_must_not_overlap_the_vpc(ec2, pki):
    vpc_id = ec2.create_vpc(CidrBlock="172.16.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="172.16.8.0/24", AvailabilityZone=f"{REGION}a")["Subnet"][
        "SubnetId"
    ]
    endpoint_id = create_endpoint(ec2, pki, ClientCidrBlock="172.16.0.0/22")["ClientVpnEndpointId"]
    with pytest.raises(ClientError) as exc:
        ec2.associate_client_vpn_target_network(ClientVpnEndpointId=endpoint_id, SubnetId=subnet)
    assert code_of(exc) == "InvalidClientVpnSubnetId.OverlappingCidr"
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id)


def test_duplicate_and_unknown_routes(ec2, shared):
    endpoint_id, subnet = shared["id"], shared["vpc_a"]

    def create(cidr: str) -> None:
        ec2.create_client_vpn_route(
            ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=cidr, TargetVpcSubnetId=subnet
        )

    create(IDC_CIDR)
    for cidr in (IDC_CIDR, shared["vpc_cidr"]):  # the association's own VPC route counts too
        with pytest.raises(ClientError) as exc:
            create(cidr)
        assert code_of(exc) == "InvalidClientVpnDuplicateRoute"
    with pytest.raises(ClientError) as exc:
        create("192.168.0.1/16")
    assert code_of(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.delete_client_vpn_route(
            ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=shared["vpc_cidr"], TargetVpcSubnetId=subnet
        )
    assert code_of(exc) == "InvalidParameterValue"  # only routes added with CreateClientVpnRoute
    with pytest.raises(ClientError) as exc:
        ec2.delete_client_vpn_route(
            ClientVpnEndpointId=endpoint_id, DestinationCidrBlock="10.99.0.0/16", TargetVpcSubnetId=subnet
        )
    assert code_of(exc) == "InvalidClientVpnRouteNotFound"
    assert ec2.delete_client_vpn_route(
        ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=IDC_CIDR, TargetVpcSubnetId=subnet
    )["Status"] == {"Code": "deleting"}
    wait_for(lambda: routes(ec2, endpoint_id), lambda rs: [r["Origin"] for r in rs] == ["associate"])


def test_duplicate_and_unknown_authorization_rules(ec2, shared):
    endpoint_id = shared["id"]
    ec2.authorize_client_vpn_ingress(
        ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=IDC_CIDR, AuthorizeAllGroups=True
    )
    ec2.authorize_client_vpn_ingress(
        ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=IDC_CIDR, AccessGroupId="S-1-5-21-engineers"
    )
    with pytest.raises(ClientError) as exc:
        ec2.authorize_client_vpn_ingress(
            ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=IDC_CIDR, AuthorizeAllGroups=True
        )
    assert code_of(exc) == "InvalidClientVpnDuplicateAuthorizationRule"
    with pytest.raises(ClientError) as exc:
        ec2.authorize_client_vpn_ingress(ClientVpnEndpointId=endpoint_id, TargetNetworkCidr="10.20.0.0/16")
    assert code_of(exc) == "InvalidParameterValue"  # neither a group nor all groups
    group_rule = ec2.describe_client_vpn_authorization_rules(
        ClientVpnEndpointId=endpoint_id, Filters=[{"Name": "group-id", "Values": ["S-1-5-21-engineers"]}]
    )["AuthorizationRules"]
    assert [(r["DestinationCidr"], r["AccessAll"]) for r in group_rule] == [(IDC_CIDR, False)]
    with pytest.raises(ClientError) as exc:
        ec2.revoke_client_vpn_ingress(
            ClientVpnEndpointId=endpoint_id, TargetNetworkCidr="10.20.0.0/16", RevokeAllGroups=True
        )
    assert code_of(exc) == "InvalidClientVpnEndpointAuthorizationRuleNotFound"
    assert ec2.revoke_client_vpn_ingress(
        ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=IDC_CIDR, RevokeAllGroups=True
    )["Status"] == {"Code": "revoking"}
    remaining = wait_for(lambda: rules(ec2, endpoint_id), lambda rs: len(rs) == 1)
    assert remaining[0].get("GroupId") == "S-1-5-21-engineers"


def test_client_connect_handler_must_be_an_existing_AWSClientVPN_function(ec2, shared, awslambda, role):
    endpoint_id = shared["id"]
    plain = awslambda.create_function(
        FunctionName="hybridnet-plain-handler",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": handler_zip("def handler(event, context):\n    return {}\n")},
    )["FunctionArn"]
    missing = f"arn:aws:lambda:{REGION}:123456789012:function:AWSClientVPN-does-not-exist"
    before = describe(ec2, endpoint_id)["ClientConnectOptions"]

    def refused(arn: str) -> str:
        with pytest.raises(ClientError) as exc:
            ec2.modify_client_vpn_endpoint(
                ClientVpnEndpointId=endpoint_id, ClientConnectOptions={"Enabled": True, "LambdaFunctionArn": arn}
            )
        assert code_of(exc) == "InvalidParameterValue"
        return exc.value.response["Error"]["Message"]

    assert "AWSClientVPN-" in refused(plain)
    assert "does not exist" in refused(missing)
    with pytest.raises(ClientError) as exc:
        ec2.modify_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id, ClientConnectOptions={"Enabled": True})
    assert code_of(exc) == "InvalidParameterValue"
    # A rejected modification changes nothing.
    assert describe(ec2, endpoint_id)["ClientConnectOptions"] == before


def test_modify_endpoint(ec2, shared):
    endpoint_id = shared["id"]
    ec2.modify_client_vpn_endpoint(
        ClientVpnEndpointId=endpoint_id,
        SplitTunnel=True,
        Description="changed",
        DnsServers={"CustomDnsServers": ["10.9.0.2"], "Enabled": True},
        VpnPort=1194,
        SessionTimeoutHours=12,
    )
    endpoint = describe(ec2, endpoint_id)
    assert (
        endpoint["SplitTunnel"],
        endpoint["Description"],
        endpoint["DnsServers"],
        endpoint["VpnPort"],
        endpoint["SessionTimeoutHours"],
    ) == (True, "changed", ["10.9.0.2"], 1194, 12)
    ec2.modify_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id, DnsServers={"Enabled": False})
    assert "DnsServers" not in describe(ec2, endpoint_id)
    with pytest.raises(ClientError) as exc:
        ec2.modify_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id, VpnPort=22)
    assert code_of(exc) == "InvalidParameterValue"
    assert describe(ec2, endpoint_id)["VpnPort"] == 1194


def test_unsupported_options_are_refused_not_ignored(ec2, pki):
    with pytest.raises(ClientError) as exc:
        create_endpoint(ec2, pki, TrafficIpAddressType="ipv6")
    assert code_of(exc) == "InvalidParameterValue" and "hybridnet emulator" in exc.value.response["Error"]["Message"]


# ---------------------------------------------------------------- connections


def report(info: emulator.EmulatorInfo, **body) -> dict:
    """What a data plane reports, over the emulator's unix socket (the admin API is served there only)."""
    return emulator.admin_call(info, "POST", "clientvpn-connection", {"region": REGION, **body})


def connections(ec2, endpoint_id: str, **kwargs) -> list[dict]:
    return ec2.describe_client_vpn_connections(ClientVpnEndpointId=endpoint_id, **kwargs)["Connections"]


def test_reported_connections_are_described_and_can_be_terminated(ec2, emulator_info, shared):
    endpoint_id = shared["id"]
    first = report(
        emulator_info,
        client_vpn_endpoint_id=endpoint_id,
        common_name="client1.domain.tld",
        public_ip="198.51.100.7",
        status="active",
    )
    assert re.fullmatch(r"cvpn-connection-[0-9a-f]{17}", first["connection_id"])
    assert ipaddress.ip_address(first["client_ip"]) in ipaddress.ip_network(CLIENT_CIDR)
    second = report(
        emulator_info,
        client_vpn_endpoint_id=endpoint_id,
        common_name="client2.domain.tld",
        client_ip="172.16.1.10",
        username="kim",
    )
    report(
        emulator_info,
        client_vpn_endpoint_id=endpoint_id,
        connection_id=first["connection_id"],
        status="active",
        ingress_bytes=32302,
        egress_bytes=5696,
        ingress_packets=332,
        egress_packets=67,
    )

    described = {c["ConnectionId"]: c for c in connections(ec2, endpoint_id)}
    one = described[first["connection_id"]]
    assert one["CommonName"] == "client1.domain.tld" and one["ClientIp"] == first["client_ip"]
    assert one["Status"] == {"Code": "active"} and one["ConnectionEndTime"] == "-"
    assert (one["IngressBytes"], one["EgressBytes"], one["IngressPackets"], one["EgressPackets"]) == (
        "32302",
        "5696",
        "332",
        "67",
    )
    dt.datetime.strptime(one["ConnectionEstablishedTime"], "%Y-%m-%d %H:%M:%S")
    assert described[second["connection_id"]]["ClientIp"] == "172.16.1.10"
    assert described[second["connection_id"]]["Username"] == "kim"
    assert [
        c["ConnectionId"] for c in connections(ec2, endpoint_id, Filters=[{"Name": "username", "Values": ["kim"]}])
    ] == [second["connection_id"]]

    terminated = ec2.terminate_client_vpn_connections(
        ClientVpnEndpointId=endpoint_id, ConnectionId=first["connection_id"]
    )
    assert terminated["ClientVpnEndpointId"] == endpoint_id
    assert terminated["ConnectionStatuses"] == [
        {
            "ConnectionId": first["connection_id"],
            "PreviousStatus": {"Code": "active"},
            "CurrentStatus": {"Code": "terminating"},
        }
    ]
    # A data plane still seeing the client active does not undo the termination.
    report(emulator_info, client_vpn_endpoint_id=endpoint_id, connection_id=first["connection_id"], status="active")
    done = wait_for(
        lambda: {c["ConnectionId"]: c for c in connections(ec2, endpoint_id)}[first["connection_id"]],
        lambda c: c["Status"]["Code"] == "terminated",
    )
    dt.datetime.strptime(done["ConnectionEndTime"], "%Y-%m-%d %H:%M:%S")
    by_user = ec2.terminate_client_vpn_connections(ClientVpnEndpointId=endpoint_id, Username="kim")
    assert by_user["Username"] == "kim" and [s["ConnectionId"] for s in by_user["ConnectionStatuses"]] == [
        second["connection_id"]
    ]

    with pytest.raises(ClientError) as exc:
        ec2.terminate_client_vpn_connections(
            ClientVpnEndpointId=endpoint_id, ConnectionId="cvpn-connection-0123456789abcdef0"
        )
    assert code_of(exc) == "InvalidClientVpnConnection.IdNotFound"
    with pytest.raises(ClientError) as exc:
        ec2.terminate_client_vpn_connections(ClientVpnEndpointId=endpoint_id, Username="nobody")
    assert code_of(exc) == "InvalidClientVpnConnection.UserNotFound"


def test_connection_reports_are_checked(ec2, emulator_info, pki, shared):
    with pytest.raises(emulator.EmulatorError, match="client CIDR"):
        report(emulator_info, client_vpn_endpoint_id=shared["id"], common_name="c", client_ip="10.0.0.5")
    with pytest.raises(emulator.EmulatorError, match="status"):
        report(emulator_info, client_vpn_endpoint_id=shared["id"], common_name="c", status="up")
    pending = create_endpoint(ec2, pki)["ClientVpnEndpointId"]
    with pytest.raises(emulator.EmulatorError, match="pending-associate"):
        report(emulator_info, client_vpn_endpoint_id=pending, common_name="c")
    with pytest.raises(emulator.EmulatorError, match="InvalidClientVpnEndpointId.NotFound"):
        report(emulator_info, client_vpn_endpoint_id="cvpn-endpoint-0123456789abcdef0", common_name="c")
    ec2.delete_client_vpn_endpoint(ClientVpnEndpointId=pending)


HANDLER = """
import ipaddress

def handler(event, context):
    if event["schema-version"] != "v1" or not event["connection-id"].startswith("cvpn-connection-"):
        raise ValueError("unexpected request %r" % event)
    if event["common-name"] == "broken":
        return {"allow": "yes"}
    allowed = ipaddress.ip_address(event["public-ip"]) in ipaddress.ip_network("72.21.0.0/16")
    return {"allow": allowed,
            "error-msg-on-failed-posture-compliance": "" if allowed else "Connections are only allowed from the office",
            "posture-compliance-statuses": [] if allowed else ["non-compliant"],
            "schema-version": "v1"}
"""


def test_connect_runs_the_client_connect_handler(ec2, emulator_info, shared, awslambda, role):
    endpoint_id = shared["id"]
    arn = awslambda.create_function(
        FunctionName="AWSClientVPN-source-ip",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": handler_zip(HANDLER)},
    )["FunctionArn"]

    def connect(common_name: str, public_ip: str) -> dict:
        return emulator.admin_call(
            emulator_info,
            "POST",
            "clientvpn-connect",
            {
                "region": REGION,
                "client_vpn_endpoint_id": endpoint_id,
                "common_name": common_name,
                "public_ip": public_ip,
                "platform": "linux",
                "client_openvpn_version": "2.6.12",
            },
        )

    # Without a handler every authenticated client is admitted.
    open_door = connect("client1.domain.tld", "198.51.100.7")
    assert open_door["allow"] is True and open_door["handler_invoked"] is False
    ec2.modify_client_vpn_endpoint(
        ClientVpnEndpointId=endpoint_id, ClientConnectOptions={"Enabled": True, "LambdaFunctionArn": arn}
    )
    office = connect("client1.domain.tld", "72.21.4.5")
    home = connect("client1.domain.tld", "198.51.100.7")
    broken = connect("broken", "72.21.4.5")
    assert (office["allow"], office["status"], office["handler_invoked"]) == (True, "active", True)
    assert (home["allow"], home["status"]) == (False, "terminated")
    assert home["message"] == "Connections are only allowed from the office"
    # A malformed response denies with AWS's generic message (hybridnet.handlers judges it).
    assert (broken["allow"], broken["message"]) == (False, AWS_DEFAULT_DENY_MESSAGE)
    assert broken["failure_reason"] == "client-connect-handler-invalid-response"

    described = {c["ConnectionId"]: c for c in connections(ec2, endpoint_id)}
    assert described[office["connection_id"]]["Status"] == {"Code": "active"}
    assert described[home["connection_id"]]["Status"] == {
        "Code": "terminated",
        "Message": "Connections are only allowed from the office",
    }
    assert described[home["connection_id"]]["PostureComplianceStatuses"] == ["non-compliant"]
    assert ipaddress.ip_address(described[office["connection_id"]]["ClientIp"]) in ipaddress.ip_network(CLIENT_CIDR)


def test_with_a_data_plane_routes_and_rules_turn_active_once_it_applies_them(ec2, emulator_info, pki):
    """A client that connects after "active" must get the route: while a data plane
    reports what it plays, a route or an all-users rule waits for it; without
    reports (or once they stop) statuses settle by time."""
    state = make_available(ec2, pki, make_vpc(ec2))
    endpoint_id = state["id"]

    def played(routes: list[str], rules: list[str]) -> dict:
        return emulator.admin_call(
            emulator_info,
            "POST",
            "clientvpn-played",
            {"client_vpn_endpoint_id": endpoint_id, "routes": routes, "rules": rules},
        )

    def status_of(listed: list[dict], cidr: str) -> str:
        return next(item["Status"]["Code"] for item in listed if item["DestinationCidr"] == cidr)

    assert played([state["vpc_cidr"]], []) == {
        "client_vpn_endpoint_id": endpoint_id,
        "routes": [state["vpc_cidr"]],
        "rules": [],
    }
    ec2.create_client_vpn_route(
        ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=IDC_CIDR, TargetVpcSubnetId=state["vpc_a"]
    )
    ec2.authorize_client_vpn_ingress(
        ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=IDC_CIDR, AuthorizeAllGroups=True
    )
    for _ in range(25):  # longer than the pending time: it is the data plane that holds them
        played([state["vpc_cidr"]], [])
        time.sleep(0.1)
    assert status_of(routes(ec2, endpoint_id), IDC_CIDR) == "creating"
    assert status_of(routes(ec2, endpoint_id), state["vpc_cidr"]) == "active"
    assert status_of(rules(ec2, endpoint_id), IDC_CIDR) == "authorizing"
    played([state["vpc_cidr"], IDC_CIDR], [IDC_CIDR])
    assert status_of(routes(ec2, endpoint_id), IDC_CIDR) == "active"
    assert status_of(rules(ec2, endpoint_id), IDC_CIDR) == "active"
    with pytest.raises(emulator.EmulatorError, match="clientvpn-played"):
        played(["not a cidr"], [])
