"""Phase 4 against the emulator: PKI, ACM, the Client VPN endpoint, the client profile.

Idempotent (one endpoint, one CA, the same ACM certificates however often it
runs); the profile is 0600, carries the client's certificate and key, has no
verify-x509-name line, and real OpenVPN parses it and loads its keys.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from hybridnet import pki
from hybridnet.aws import connect
from hybridnet.params import load_params, parse_params
from hybridnet.phases import PhaseError, client_vpn
from hybridnet.render.client_vpn import key_parameter_name

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

ROOT = Path(__file__).resolve().parents[2]
STACK = "phase4test"


def params(**changes):
    data = load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK, "lab": "off"}).model_dump(mode="python")
    for tunnel, key in zip(data["vpn"]["tunnels"], ("strongswan_awsvpn1", "strongswan_awsvpn2")):
        tunnel["pre_shared_key"] = key  # model_dump keeps SecretStr objects
    for section, values in changes.items():
        data[section] = values if not isinstance(values, dict) else {**(data.get(section) or {}), **values}
    return parse_params(data)


@pytest.fixture(scope="module")
def ctx(own_emulator):
    return connect(params())


@pytest.fixture(scope="module")
def first(ctx, tmp_path_factory):
    run = tmp_path_factory.mktemp("phase4-run1")
    messages: list[str] = []
    return run, client_vpn.run(ctx, run, progress=messages.append), messages


@pytest.fixture(scope="module")
def second(ctx, first, tmp_path_factory):
    run = tmp_path_factory.mktemp("phase4-run2")
    return run, client_vpn.run(ctx, run, progress=None)


def stack_certificates(ctx) -> list[str]:
    acm = ctx.client("acm")
    found = []
    for summary in acm.list_certificates()["CertificateSummaryList"]:
        tags = {
            t["Key"]: t["Value"]
            for t in acm.list_tags_for_certificate(CertificateArn=summary["CertificateArn"])["Tags"]
        }
        if tags.get("hybridnet:stack") == STACK:
            found.append(summary["CertificateArn"])
    return sorted(found)


def test_phase4_twice_makes_one_endpoint_one_ca_and_reuses_the_acm_certificates(ctx, first, second):
    _, one, messages = first
    _, two = second
    assert one.endpoint_id in one.created
    assert two.created == [] and two.changed == []
    assert two.endpoint_id == one.endpoint_id
    assert {r: c.arn for r, c in two.certificates.items()} == {r: c.arn for r, c in one.certificates.items()}
    assert [c.action for c in one.certificates.values()] == ["imported", "imported"]
    assert [c.action for c in two.certificates.values()] == ["reused", "reused"]
    endpoints = ctx.client("ec2").describe_client_vpn_endpoints(Filters=ctx.stack_filters())["ClientVpnEndpoints"]
    assert [e["ClientVpnEndpointId"] for e in endpoints] == [one.endpoint_id]
    assert stack_certificates(ctx) == sorted(c.arn for c in one.certificates.values())
    directory = client_vpn.pki_dir(ctx)
    assert sorted(p.name for p in directory.glob("*.crt")) == [
        "ca.crt",
        "client.chain.crt",
        "client.crt",
        "server.chain.crt",
        "server.crt",
    ]
    assert one.profile.path.read_text().count("BEGIN CERTIFICATE") == two.profile.path.read_text().count(
        "BEGIN CERTIFICATE"
    )
    # the waits really waited, with boto3 waiters
    assert f"target networks of {one.endpoint_id}: associating" in messages
    assert f"Client VPN endpoint {one.endpoint_id}: available" in messages


def test_endpoint_is_what_the_seed_builds(ctx, first):
    _, res, _ = first
    e = client_vpn.describe_endpoint(ctx, res.endpoint_id)
    assert e["Status"]["Code"] == "available"
    assert e["ClientCidrBlock"] == "172.16.0.0/22"
    assert e["SplitTunnel"] is True
    assert e["DnsServers"] == ["10.0.0.2"]  # the VPC resolver
    assert e["ConnectionLogOptions"] == {
        "Enabled": True,
        "CloudwatchLogGroup": "/hybridnet/phase4test/client-vpn",
        "CloudwatchLogStream": "connections",
    }
    assert e["ServerCertificateArn"] == res.certificates["server"].arn
    assert e["AuthenticationOptions"] == [
        {
            "Type": "certificate-authentication",
            "MutualAuthentication": {"ClientRootCertificateChain": res.certificates["client"].arn},
        }
    ]
    networks = ctx.client("ec2").describe_client_vpn_target_networks(ClientVpnEndpointId=res.endpoint_id)[
        "ClientVpnTargetNetworks"
    ]
    subnets = ctx.client("ec2").describe_subnets(SubnetIds=[n["TargetNetworkId"] for n in networks])["Subnets"]
    assert sorted(s["CidrBlock"] for s in subnets) == ["10.0.1.0/24", "10.0.2.0/24"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert {n["Status"]["Code"] for n in networks} == {"associated"}
    rules = ctx.client("ec2").describe_client_vpn_authorization_rules(ClientVpnEndpointId=res.endpoint_id)[
        "AuthorizationRules"
    ]
    assert sorted((r["DestinationCidr"], r["AccessAll"], r["Status"]["Code"]) for r in rules) == [
        ("10.0.0.0/16", True, "active"),
        ("192.168.0.0/16", True, "active"),
    ]
    routes = ctx.client("ec2").describe_client_vpn_routes(ClientVpnEndpointId=res.endpoint_id)["Routes"]
    idc = sorted(r["TargetSubnet"] for r in routes if r["DestinationCidr"] == "192.168.0.0/16")
    assert idc == sorted(n["TargetNetworkId"] for n in networks)  # one route through each associated subnet
    assert {r["Status"]["Code"] for r in routes} == {"active"}
    tags = {t["Key"]: t["Value"] for t in e["Tags"]}
    assert tags["hybridnet:stack"] == STACK and tags["hybridnet:phase"] == "4"


def test_certificates_verify_as_a_chain_with_the_right_usages(ctx, first):
    material = client_vpn.ensure_pki(ctx)
    pki.verify_chain(material.server.cert_pem, material.ca.cert_pem, purpose="server")
    pki.verify_chain(material.client.cert_pem, material.ca.cert_pem, purpose="client")
    with pytest.raises(pki.PkiError):
        pki.verify_chain(material.client.cert_pem, material.ca.cert_pem, purpose="server")

    def eku(cred):
        return list(cred.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)

    assert eku(material.server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert eku(material.client) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert material.server.key_type == material.client.key_type == "rsa2048"
    directory = client_vpn.pki_dir(ctx)
    assert directory.stat().st_mode & 0o777 == 0o700
    for key in directory.glob("*.key"):
        assert key.stat().st_mode & 0o777 == 0o600, key
    # what the notebook shows: fingerprints and file modes, never key material
    shown = client_vpn.pki_frame(material).to_string() + repr(material)
    assert "PRIVATE KEY" not in shown and material.client.fingerprint[:16] in shown


def test_profile_is_private_and_carries_the_client_cert_and_key(ctx, first):
    run, res, _ = first
    material = client_vpn.ensure_pki(ctx)
    path = res.profile.path
    assert path == run / "clientvpn" / "client1.hybridnet.lab.ovpn"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert "verify-x509-name" not in text
    assert f"<cert>\n{material.client.cert_pem.strip()}\n</cert>" in text
    assert f"<key>\n{material.client.key_pem.strip()}\n</key>" in text
    assert material.ca.cert_pem.strip() in text.split("<ca>")[1].split("</ca>")[0]
    assert re.search(rf"^remote {res.endpoint_id}\.prod\.clientvpn\.ap-northeast-2\.amazonaws\.com 443$", text, re.M)
    assert text.index("</ca>") < text.index("<cert>") < text.index("<key>")
    # the notebook's table says so without showing the content
    shown = res.profile.frame(run).to_string()
    assert "0o600" in shown and "removed" in shown and "BEGIN" not in shown


def test_adding_credentials_is_idempotent_and_only_drops_verify_x509_name():
    exported = (
        "client\ndev tun\nremote cvpn-endpoint-0123456789abcdef0.prod.clientvpn.ap-northeast-2.amazonaws.com"
        " 443\n<ca>\n-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n</ca>\n\nreneg-sec 0\n\n"
        "verify-x509-name server.hybridnet.lab name\n"
    )
    once = client_vpn.add_client_credentials(
        exported,
        "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n",
        "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n",
    )
    twice = client_vpn.add_client_credentials(
        once,
        "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n",
        "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n",
    )
    assert once == twice
    assert "verify-x509-name" not in once
    assert once.replace("<cert>\n-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n</cert>\n", "").replace(
        "<key>\n-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n</key>\n", ""
    ) == exported.replace("verify-x509-name server.hybridnet.lab name\n", "")
    with pytest.raises(PhaseError, match="<ca>"):
        client_vpn.add_client_credentials("client\n", "c", "k")


def test_profile_parses_with_openvpn_and_its_keys_load(first, tmp_path):
    """OpenVPN reads the options and loads <ca>, <cert> and <key> (checking that the key is the
    certificate's) before it resolves the remote: in a namespace with only `lo`, a good profile
    gets as far as the name lookup (which fails there), a broken one does not."""
    _, res, _ = first
    openvpn = tooling.require_tool("openvpn")
    text = res.profile.path.read_text()
    broken_key = tmp_path / "broken.ovpn"
    marker = "<key>\n-----BEGIN PRIVATE KEY-----\n"
    at = text.index(marker) + len(marker)
    broken_key.write_text(text[:at] + "AAAA" + text[at + 4 :])
    with tooling.private_netns() as ns:

        def load(profile: Path) -> str:
            res_ = tooling.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    openvpn,
                    "--config",
                    str(profile),
                    "--verb",
                    "4",
                    "--resolv-retry",
                    "0",
                    "--connect-retry-max",
                    "1",
                ],
                timeout=30,
            )
            return res_.stdout + res_.stderr

        good = load(res.profile.path)
        bad = load(broken_key)
    assert "Options error" not in good and "Cannot load" not in good, good[-2000:]
    assert re.search(r"RESOLVE: Cannot resolve host address: [0-9a-f]{12}\." + re.escape(res.endpoint_id), good), good[
        -2000:
    ]  # remote-random-hostname put its random label in front of the endpoint's name
    assert "Cannot load private key" in bad


def test_a_reissued_client_certificate_is_reimported_into_the_same_arn(ctx, first, tmp_path):
    _, res, _ = first
    directory = client_vpn.pki_dir(ctx)
    for name in ("client.crt", "client.key", "client.chain.crt"):
        (directory / name).unlink()
    again = client_vpn.run(ctx, tmp_path, progress=None)
    assert again.certificates["client"].action == "re-imported"
    assert again.certificates["client"].arn == res.certificates["client"].arn
    assert sorted(stack_certificates(ctx)) == sorted(c.arn for c in res.certificates.values())  # tags kept
    assert again.certificates["server"].action == "reused"
    assert again.endpoint_id == res.endpoint_id and again.created == []
    body = ctx.client("acm").get_certificate(CertificateArn=again.certificates["client"].arn)["Certificate"]
    assert client_vpn.ensure_pki(ctx).client.cert_pem.strip() == body.strip()


def test_connection_logs_go_to_the_stacks_log_group_and_follow_the_params(ctx, first, second, tmp_path):
    _, res, _ = first
    assert {"/hybridnet/phase4test/client-vpn", "/hybridnet/phase4test/client-vpn:connections"} <= set(res.created)
    logs = ctx.client("logs")
    [group] = logs.describe_log_groups(logGroupNamePrefix="/hybridnet/phase4test/client-vpn")["logGroups"]
    assert group["retentionInDays"] == 14
    assert logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"]["hybridnet:stack"] == STACK
    streams = logs.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["connections"]
    frame = client_vpn.endpoint_frame(res)
    assert frame.loc["connection logging", "value"] == "on (/hybridnet/phase4test/client-vpn / connections)"
    material = client_vpn.ensure_pki(ctx)
    steps = {s.kind: s for s in client_vpn.plan(ctx, material)}
    assert (steps["log group"].resource, steps["log group"].action) == ("/hybridnet/phase4test/client-vpn", "keep")

    off = connect(params(logs={"enabled": False}))
    steps = {s.kind: s for s in client_vpn.plan(off, material)}
    assert "log group" not in steps
    assert [(c.field, c.have, c.want) for c in steps["Client VPN endpoint"].changes] == [
        ("ConnectionLogOptions", "enabled: /hybridnet/phase4test/client-vpn / connections", "disabled")
    ]
    stopped = client_vpn.run(off, tmp_path, progress=None)
    assert stopped.changed == [f"{res.endpoint_id}: ConnectionLogOptions"]
    assert stopped.endpoint["ConnectionLogOptions"]["Enabled"] is False
    assert {s.action for s in client_vpn.plan(off, material)} == {"keep"}
    again = client_vpn.run(ctx, tmp_path, progress=None)  # the params decide, either way
    assert again.changed == [f"{res.endpoint_id}: ConnectionLogOptions"] and again.created == []
    assert again.endpoint["ConnectionLogOptions"]["CloudwatchLogStream"] == "connections"
    assert {s.action for s in client_vpn.plan(ctx, material)} == {"keep"}


def test_dns_servers_follow_the_params(ctx, first, tmp_path):
    _, res, _ = first
    changed = connect(params(client_vpn={"dns_servers": ["10.0.1.250", "10.0.2.250"]}))
    steps = {s.kind: s for s in client_vpn.plan(changed, client_vpn.ensure_pki(ctx))}
    assert [(c.field, c.have, c.want) for c in steps["Client VPN endpoint"].changes] == [
        ("DnsServers", "10.0.0.2", "10.0.1.250, 10.0.2.250")
    ]
    assert steps["Client VPN endpoint"].action == "modify"
    again = client_vpn.run(changed, tmp_path, progress=None)
    assert again.changed == [f"{res.endpoint_id}: DnsServers"]
    assert again.endpoint["DnsServers"] == ["10.0.1.250", "10.0.2.250"]
    back = client_vpn.run(ctx, tmp_path, progress=None)
    assert back.endpoint["DnsServers"] == ["10.0.0.2"]


def test_no_client_vpn_section_is_a_clear_error_before_any_call(ctx, tmp_path, monkeypatch):
    bare = connect(params(client_vpn=None, connect_handler=None))
    monkeypatch.setattr(bare, "client", lambda service: pytest.fail(f"called {service} before checking the params"))
    with pytest.raises(PhaseError, match="no client_vpn section"):
        client_vpn.run(bare, tmp_path, progress=None)


def test_chosen_subnets_default_to_one_per_zone(ctx):
    auto = connect(params(client_vpn={"subnets": []}))
    chosen = client_vpn.chosen_subnets(auto)
    assert [s.name for s in chosen] == ["endpoints-a", "endpoints-c"]
    assert all(ipaddress.ip_network(s.cidr).subnet_of(ipaddress.ip_network("10.0.0.0/16")) for s in chosen)


@pytest.mark.parametrize("notebook", ["04_client_vpn", "05_connection_handler"])
def test_saved_notebooks_hold_no_key_or_profile_content(notebook):
    import json

    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    outputs = json.dumps([cell.get("outputs", []) for cell in cells])
    assert outputs != "[]" and "BEGIN" not in outputs and "PRIVATE KEY" not in outputs
    assert "-----" not in outputs  # no PEM block of any kind


def test_a_remote_user_ssm_cannot_reach_is_one_row_and_the_key_waits_in_parameter_store(ctx, first):
    import json

    run, res, _ = first
    material = client_vpn.ensure_pki(ctx)  # other tests here renew certificates: a profile of today's
    profile = client_vpn.write_profile(ctx, res.endpoint_id, material, run)
    deployment = client_vpn.deploy(ctx, res.endpoint_id, material, profile.path, online_timeout=0.2)
    attempt = deployment.attempts[0]
    # No lab here: the seed's instance is not a managed instance, and the row says what to do.
    assert attempt["outcome"] == "unreachable" and attempt["ssm"] == "NotManaged"
    assert "seed-remote-home" in attempt["host"] and "SSM Agent" in attempt["message"]
    connect_row = deployment.table[deployment.table["step"].str.contains("connects with the profile")]
    assert connect_row["ok"].tolist() == [False]
    stored = ctx.client("ssm").get_parameter(
        Name=key_parameter_name(STACK, "client1.hybridnet.lab"), WithDecryption=True
    )["Parameter"]
    assert stored["Type"] == "SecureString" and stored["Value"] == material.client.key_pem
    recorded = json.dumps(client_vpn.result(res, deployment, run), default=str)
    assert "PRIVATE KEY" not in recorded and "BEGIN" not in recorded


def test_without_a_remote_user_the_table_says_what_to_do(first):
    run, res, _ = first
    bare = connect(params(hosts={"remote_user": None, "remote_user_away": None}))
    deployment = client_vpn.deploy(bare, res.endpoint_id, client_vpn.ensure_pki(bare), res.profile.path)
    assert deployment.attempts == [] and "no hosts.remote_user" in deployment.reason
    assert "AWS VPN Client" in deployment.table.to_string()


def _live_endpoints(ctx) -> list[str]:
    return [
        e["ClientVpnEndpointId"]
        for e in ctx.client("ec2").describe_client_vpn_endpoints(Filters=ctx.stack_filters())["ClientVpnEndpoints"]
        if e["Status"]["Code"] in client_vpn.LIVE_ENDPOINT
    ]


# Last in this module: the endpoint the other tests share gets a new id.
def test_a_changed_client_cidr_replaces_the_endpoint_only_when_allowed(ctx, first, tmp_path):
    _, res, _ = first
    material = client_vpn.ensure_pki(ctx)
    drifted = connect(params(client_vpn={"client_cidr": "172.20.0.0/22"}))
    endpoint = {s.kind: s for s in client_vpn.plan(drifted, material)}["Client VPN endpoint"]
    assert (endpoint.action, [(c.field, c.have, c.want) for c in endpoint.changes]) == (
        "replace",
        [("client CIDR", "172.16.0.0/22", "172.20.0.0/22")],
    )
    before = stack_certificates(ctx)
    with pytest.raises(
        PhaseError,
        match=rf"Client VPN endpoint {res.endpoint_id}: client CIDR 172\.16\.0\.0/22 -> "
        r"172\.20\.0\.0/22: AWS cannot change this in place .*allow_replace: true",
    ):
        client_vpn.run(drifted, tmp_path, progress=None)
    assert _live_endpoints(ctx) == [res.endpoint_id] and stack_certificates(ctx) == before

    allowed = connect(params(client_vpn={"client_cidr": "172.20.0.0/22"}, allow_replace=True))
    replaced = client_vpn.run(allowed, tmp_path, progress=None)
    assert replaced.endpoint_id != res.endpoint_id and replaced.endpoint["ClientCidrBlock"] == "172.20.0.0/22"
    assert replaced.changed == [f"{res.endpoint_id}: deleted, to be replaced (allow_replace)"]
    assert _live_endpoints(ctx) == [replaced.endpoint_id] and stack_certificates(ctx) == before
    assert {s.action for s in client_vpn.plan(allowed, material)} == {"keep"}
    back = client_vpn.run(connect(params(allow_replace=True)), tmp_path, progress=None)  # for the other tests
    assert _live_endpoints(ctx) == [back.endpoint_id] and back.endpoint["ClientCidrBlock"] == "172.16.0.0/22"
