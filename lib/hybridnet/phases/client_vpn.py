"""Phase 4: AWS Client VPN with mutual (certificate) authentication.

1. PKI: a CA, a server and a client certificate (hybridnet.pki, the
   properties easy-rsa gives), kept under ``outputs/.state/pki/<stack>/`` so
   that every run reuses the same CA and the same ACM certificates; keys 0600.
2. ACM: the server and the client certificate, each with the CA chain, found
   again by tag; re-imported into the same ARN only when the local
   certificate changed.
3. The endpoint: client CIDR, the server certificate, mutual authentication
   with the client certificate's chain, split tunnel, DNS servers (the VPC
   resolver by default), connection logging off; tagged, found again by tag.
4. Two target networks (subnets in two AZs), authorization rules for the VPC
   CIDR and the on-prem CIDR, a route to the on-prem CIDR through each
   associated subnet; every change waited for with waiters.
5. The client profile: the exported configuration plus the client's
   ``<cert>`` and ``<key>``, without the ``verify-x509-name`` line (as the
   seed's runbook does), written 0600 under ``<run>/clientvpn/``.
6. In the local lab (root): an OpenVPN server configured from the endpoint
   as the API describes it, and a remote user connecting with exactly that
   profile (hybridnet.lab.clientvpn).

Private keys and the profile's content never appear in a returned table.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .. import dataplane, pki, workspace
from ..aws import AwsContext, tag_value
from ..params import ClientVpn
from ..waiting import extra_waiter, poll, wait
from . import PhaseError, find_vpc, nothing_here

PHASE = "4"
NOTEBOOK = "04_client_vpn"
LIVE_ENDPOINT = ("pending-associate", "available")
GONE_ASSOCIATION = ("disassociating", "disassociated")
ROLES = ("server", "client")


# --- parameters --------------------------------------------------------------------------------

def settings(ctx: AwsContext) -> ClientVpn:
    if ctx.params.client_vpn is None:
        raise PhaseError("the params have no client_vpn section; add one (client_cidr, subnets) to run phase 4, "
                         "e.g. as in params/lab.yaml")
    return ctx.params.client_vpn


def dns_servers(ctx: AwsContext) -> list[str]:
    """What clients are told to resolve with: the params', else the VPC resolver (VPC CIDR base + 2)."""
    cv = settings(ctx)
    if cv.dns_servers is not None:
        return list(cv.dns_servers)
    return [str(ipaddress.ip_network(ctx.params.vpc.cidr).network_address + 2)]


def chosen_subnets(ctx: AwsContext) -> list:
    """The params' endpoint subnets, or the first subnet of each of the first two AZs listed."""
    cv, vpc = settings(ctx), ctx.params.vpc
    if cv.subnets:
        return [vpc.subnet(name) for name in cv.subnets]
    picked: dict[str, object] = {}
    for subnet in vpc.subnets:
        picked.setdefault(subnet.az, subnet)
    return list(picked.values())[:2]


# --- PKI ---------------------------------------------------------------------------------------

def pki_dir(ctx: AwsContext) -> Path:
    """Stable across runs (one CA per stack): outputs/.state/pki/<stack>/, mode 0700."""
    path = workspace.state_dir() / "pki" / ctx.params.name
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    os.chmod(path.parent, 0o700)
    return path


@dataclass(repr=False)
class Pki:
    directory: Path
    ca: pki.Credential
    server: pki.Credential
    client: pki.Credential

    def credential(self, role: str) -> pki.Credential:
        return {"ca": self.ca, "server": self.server, "client": self.client}[role]

    def __repr__(self) -> str:  # never the keys
        return f"Pki({self.directory}: ca {self.ca.common_name}, server {self.server.common_name}, " \
               f"client {self.client.common_name})"


def ca_common_name(ctx: AwsContext) -> str:
    return f"{ctx.params.name}-clientvpn-ca"


def ensure_pki(ctx: AwsContext) -> Pki:
    """The CA, server and client credentials, made once and reused (re-issued only when needed)."""
    cv = settings(ctx)
    directory = pki_dir(ctx)
    try:
        ca = pki.ensure_ca(directory, ca_common_name(ctx), key_type=cv.key_type)
        server = pki.ensure_server(directory, ca, cv.server_name, file_name="server", key_type=cv.key_type)
        client = pki.ensure_client(directory, ca, cv.client_name, file_name="client", key_type=cv.key_type)
        pki.verify_chain(server.cert_pem, ca.cert_pem, purpose="server")
        pki.verify_chain(client.cert_pem, ca.cert_pem, purpose="client")
    except pki.PkiError as exc:
        raise PhaseError(f"PKI in {directory}: {exc}") from None
    return Pki(directory, ca, server, client)


def short_fingerprint(cred: pki.Credential) -> str:
    return f"sha256:{cred.fingerprint[:16]}"


def _usage(cred: pki.Credential) -> str:
    cert = cred.certificate
    if cred.is_ca:
        return "CA (keyCertSign, cRLSign)"
    try:
        ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        return ", ".join(e._name for e in ekus)
    except x509.ExtensionNotFound:
        return "-"


def pki_frame(p: Pki) -> pd.DataFrame:
    """One row per certificate: what it is, never its key (the key file's mode only)."""
    rows = []
    for role in ("ca", "server", "client"):
        cred = p.credential(role)
        files = "ca" if role == "ca" else role
        key = p.directory / f"{files}.key"
        rows.append({
            "role": role,
            "common name": cred.common_name,
            "issuer": cred.certificate.issuer.rfc4514_string(),
            "usage": _usage(cred),
            "key": cred.key_type,
            "valid days": (cred.not_after - cred.not_before).days,
            "fingerprint": short_fingerprint(cred),
            "files": f"{files}.crt, {files}.key ({oct(key.stat().st_mode & 0o777)})",
        })
    return pd.DataFrame(rows).set_index("role")


# --- ACM ---------------------------------------------------------------------------------------

ALL_KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]


@dataclass
class AcmCertificate:
    role: str
    arn: str
    domain: str
    action: str  # imported | re-imported | reused | adopted
    fingerprint: str


def _acm_name(ctx: AwsContext, role: str) -> str:
    return f"{ctx.params.name}-clientvpn-{role}"


def _pem_fingerprint(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


def _acm_certificates(ctx: AwsContext) -> list[dict]:
    acm = ctx.client("acm")
    return [c for page in acm.get_paginator("list_certificates").paginate(Includes={"keyTypes": ALL_KEY_TYPES})
            for c in page["CertificateSummaryList"]]


def find_acm_certificate(ctx: AwsContext, role: str) -> str | None:
    """The ARN of the stack's certificate for `role` (tags hybridnet:stack + Name)."""
    acm = ctx.client("acm")
    want = _acm_name(ctx, role)
    for summary in _acm_certificates(ctx):
        tags = {"Tags": acm.list_tags_for_certificate(CertificateArn=summary["CertificateArn"]).get("Tags", [])}
        if tag_value(tags, "hybridnet:stack") == ctx.params.name and tag_value(tags, "Name") == want:
            return summary["CertificateArn"]
    return None


def _find_by_fingerprint(ctx: AwsContext, cred: pki.Credential) -> str | None:
    """A certificate with exactly our certificate in it (imported by hand, tags lost): ours."""
    acm = ctx.client("acm")
    for summary in _acm_certificates(ctx):
        try:
            body = acm.get_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
        except ClientError:
            continue
        if _pem_fingerprint(body) == cred.fingerprint:
            return summary["CertificateArn"]
    return None


def ensure_acm_certificate(ctx: AwsContext, role: str, cred: pki.Credential, created: list[str]) -> AcmCertificate:
    """Import `cred` (certificate, key, CA chain) for `role`, or reuse what ACM has.

    Re-imports into the same ARN when ACM holds another certificate (the
    endpoint keeps pointing at it): the PKI re-issued it.
    """
    acm = ctx.client("acm")
    material = {"Certificate": cred.cert_pem.encode(), "PrivateKey": cred.key_pem.encode(),
                "CertificateChain": cred.chain_pem.encode()}
    arn = find_acm_certificate(ctx, role)
    action = "reused"
    if arn is None:
        arn = _find_by_fingerprint(ctx, cred)
        if arn is not None:
            acm.add_tags_to_certificate(CertificateArn=arn, Tags=ctx.tags(PHASE, f"clientvpn-{role}"))
            action = "adopted"
    if arn is None:
        arn = acm.import_certificate(**material, Tags=ctx.tags(PHASE, f"clientvpn-{role}"))["CertificateArn"]
        created.append(arn)
        action = "imported"
    else:
        body = acm.get_certificate(CertificateArn=arn)["Certificate"]
        if _pem_fingerprint(body) != cred.fingerprint:
            acm.import_certificate(CertificateArn=arn, **material)  # same ARN; tags stay
            action = "re-imported"
    described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    return AcmCertificate(role, arn, described.get("DomainName", ""), action, short_fingerprint(cred))


def ensure_acm(ctx: AwsContext, p: Pki, created: list[str]) -> dict[str, AcmCertificate]:
    return {role: ensure_acm_certificate(ctx, role, p.credential(role), created) for role in ROLES}


def acm_frame(certs: dict[str, AcmCertificate]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in certs.values()]).set_index("role")


# --- the endpoint ---------------------------------------------------------------------------------

def find_subnets(ctx: AwsContext, vpc_id: str) -> list[dict]:
    """The endpoint's subnets as AWS has them (found by CIDR), in params order."""
    ec2 = ctx.client("ec2")
    found = []
    for subnet in chosen_subnets(ctx):
        rows = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                             {"Name": "cidr-block", "Values": [subnet.cidr]}])["Subnets"]
        if not rows:
            raise PhaseError(f"subnet {subnet.name} ({subnet.cidr}) does not exist in {vpc_id}; create it or "
                             "pick others in client_vpn.subnets")
        found.append({**rows[0], "Name": subnet.name})
    return found


def find_endpoint(ctx: AwsContext) -> dict | None:
    """The stack's live Client VPN endpoint (tags), or None."""
    ec2 = ctx.client("ec2")
    found = [e for page in ec2.get_paginator("describe_client_vpn_endpoints").paginate(
        Filters=ctx.stack_filters(PHASE)) for e in page["ClientVpnEndpoints"]
        if e["Status"]["Code"] in LIVE_ENDPOINT]
    if len(found) > 1:
        raise PhaseError(f"several Client VPN endpoints are tagged hybridnet:stack={ctx.params.name}: "
                         f"{', '.join(e['ClientVpnEndpointId'] for e in found)}; delete the extra ones")
    return found[0] if found else None


def require_endpoint(ctx: AwsContext) -> dict:
    endpoint = find_endpoint(ctx)
    if endpoint is None:
        raise PhaseError(f"no Client VPN endpoint tagged hybridnet:stack={ctx.params.name}; "
                         "run notebook 04_client_vpn first")
    return endpoint


def describe_endpoint(ctx: AwsContext, endpoint_id: str) -> dict:
    return ctx.client("ec2").describe_client_vpn_endpoints(ClientVpnEndpointIds=[endpoint_id])[
        "ClientVpnEndpoints"][0]


def _chain_arn(endpoint: dict) -> str | None:
    for option in endpoint.get("AuthenticationOptions", []):
        chain = (option.get("MutualAuthentication") or {}).get("ClientRootCertificateChain")
        if chain:
            return chain
    return None


def ensure_endpoint(ctx: AwsContext, certs: dict[str, AcmCertificate], vpc_id: str,
                    created: list[str], changed: list[str]) -> dict:
    cv = settings(ctx)
    ec2 = ctx.client("ec2")
    dns = dns_servers(ctx)
    endpoint = find_endpoint(ctx)
    if endpoint is None:
        endpoint_id = ec2.create_client_vpn_endpoint(
            ClientCidrBlock=cv.client_cidr,
            ServerCertificateArn=certs["server"].arn,
            AuthenticationOptions=[{"Type": "certificate-authentication",
                                    "MutualAuthentication": {"ClientRootCertificateChainArn": certs["client"].arn}}],
            ConnectionLogOptions={"Enabled": False},
            DnsServers=dns,
            TransportProtocol=cv.transport_protocol,
            VpnPort=cv.vpn_port,
            SplitTunnel=cv.split_tunnel,
            VpcId=vpc_id,
            Description=f"{ctx.params.name} remote access (hybridnet phase 4)",
            TagSpecifications=ctx.tag_spec("client-vpn-endpoint", PHASE, "client-vpn"),
        )["ClientVpnEndpointId"]
        created.append(endpoint_id)
        return describe_endpoint(ctx, endpoint_id)

    endpoint_id = endpoint["ClientVpnEndpointId"]
    fixed = {"client CIDR": (endpoint["ClientCidrBlock"], cv.client_cidr),
             "transport protocol": (endpoint["TransportProtocol"], cv.transport_protocol),
             "client certificate chain": (_chain_arn(endpoint), certs["client"].arn)}
    drift = [f"{what} is {have}, the params ask for {want}" for what, (have, want) in fixed.items() if have != want]
    if drift:
        raise PhaseError(f"{endpoint_id}: {'; '.join(drift)}. AWS cannot change these on an existing endpoint: "
                         "run the teardown notebook (99) to replace it, or set the params to the existing values")
    modify: dict = {}
    if endpoint["ServerCertificateArn"] != certs["server"].arn:
        modify["ServerCertificateArn"] = certs["server"].arn
    if sorted(endpoint.get("DnsServers", [])) != sorted(dns):
        modify["DnsServers"] = {"CustomDnsServers": dns, "Enabled": bool(dns)}
    if endpoint["SplitTunnel"] != cv.split_tunnel:
        modify["SplitTunnel"] = cv.split_tunnel
    if endpoint["VpnPort"] != cv.vpn_port:
        modify["VpnPort"] = cv.vpn_port
    if endpoint.get("ConnectionLogOptions", {}).get("Enabled"):
        modify["ConnectionLogOptions"] = {"Enabled": False}
    if modify:
        ec2.modify_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id, **modify)
        changed += [f"{endpoint_id}: {key}" for key in modify]
    return describe_endpoint(ctx, endpoint_id)


def _target_networks(ctx: AwsContext, endpoint_id: str) -> list[dict]:
    ec2 = ctx.client("ec2")
    return [n for page in ec2.get_paginator("describe_client_vpn_target_networks").paginate(
        ClientVpnEndpointId=endpoint_id) for n in page["ClientVpnTargetNetworks"]]


def _rules(ctx: AwsContext, endpoint_id: str) -> list[dict]:
    ec2 = ctx.client("ec2")
    return [r for page in ec2.get_paginator("describe_client_vpn_authorization_rules").paginate(
        ClientVpnEndpointId=endpoint_id) for r in page["AuthorizationRules"]]


def _routes(ctx: AwsContext, endpoint_id: str) -> list[dict]:
    ec2 = ctx.client("ec2")
    return [r for page in ec2.get_paginator("describe_client_vpn_routes").paginate(
        ClientVpnEndpointId=endpoint_id) for r in page["Routes"]]


def ensure_associations(ctx: AwsContext, endpoint_id: str, subnets: list[dict], created: list[str],
                        progress: Callable[[str], None] | None, timeout: float) -> list[dict]:
    ec2 = ctx.client("ec2")
    live = {n["TargetNetworkId"]: n for n in _target_networks(ctx, endpoint_id)
            if n["Status"]["Code"] not in GONE_ASSOCIATION}
    for subnet in subnets:
        if subnet["SubnetId"] not in live:
            association = ec2.associate_client_vpn_target_network(ClientVpnEndpointId=endpoint_id,
                                                                  SubnetId=subnet["SubnetId"])
            created.append(association["AssociationId"])
    wanted = [s["SubnetId"] for s in subnets]
    wait(extra_waiter("ClientVpnTargetNetworksAssociated", ec2), label=f"target networks of {endpoint_id}",
         delay=ctx.waiter_delay, timeout=timeout, progress=progress, done="associated",
         ClientVpnEndpointId=endpoint_id, Filters=[{"Name": "target-network-id", "Values": wanted}])
    wait(extra_waiter("ClientVpnEndpointAvailable", ec2), label=f"Client VPN endpoint {endpoint_id}",
         delay=ctx.waiter_delay, timeout=timeout, progress=progress, ClientVpnEndpointIds=[endpoint_id])
    return [n for n in _target_networks(ctx, endpoint_id) if n["Status"]["Code"] not in GONE_ASSOCIATION]


def ensure_authorization_rules(ctx: AwsContext, endpoint_id: str, created: list[str],
                               progress: Callable[[str], None] | None, timeout: float) -> list[dict]:
    """Everyone (AuthorizeAllGroups) may reach the VPC and the on-prem network."""
    ec2 = ctx.client("ec2")
    wanted = {ctx.params.vpc.cidr: "the VPC", ctx.params.onprem.cidr: "the on-prem data centre (IDC)"}
    have = {r["DestinationCidr"] for r in _rules(ctx, endpoint_id)
            if r.get("AccessAll") and r["Status"]["Code"] in ("authorizing", "active")}
    for cidr, what in wanted.items():
        if cidr not in have:
            ec2.authorize_client_vpn_ingress(ClientVpnEndpointId=endpoint_id, TargetNetworkCidr=cidr,
                                             AuthorizeAllGroups=True, Description=f"{what} (hybridnet)")
            created.append(f"authorization rule {cidr}")
    wait(extra_waiter("ClientVpnAuthorizationRulesActive", ec2), label=f"authorization rules of {endpoint_id}",
         delay=ctx.waiter_delay, timeout=timeout, progress=progress, done="active",
         ClientVpnEndpointId=endpoint_id, Filters=[{"Name": "destination-cidr", "Values": list(wanted)}])
    return _rules(ctx, endpoint_id)


def ensure_routes(ctx: AwsContext, endpoint_id: str, subnets: list[dict], created: list[str],
                  progress: Callable[[str], None] | None, timeout: float) -> list[dict]:
    """The on-prem CIDR through every associated subnet (the seed adds it to both, for availability)."""
    ec2 = ctx.client("ec2")
    onprem = ctx.params.onprem.cidr
    have = {(r["DestinationCidr"], r["TargetSubnet"]) for r in _routes(ctx, endpoint_id)
            if r["Status"]["Code"] in ("creating", "active")}
    for subnet in subnets:
        if (onprem, subnet["SubnetId"]) not in have:
            ec2.create_client_vpn_route(ClientVpnEndpointId=endpoint_id, DestinationCidrBlock=onprem,
                                        TargetVpcSubnetId=subnet["SubnetId"],
                                        Description=f"on-prem data centre (IDC) via {subnet['Name']}")
            created.append(f"route {onprem} via {subnet['SubnetId']}")
    wait(extra_waiter("ClientVpnRoutesActive", ec2), label=f"routes of {endpoint_id}", delay=ctx.waiter_delay,
         timeout=timeout, progress=progress, done="active", ClientVpnEndpointId=endpoint_id)
    return _routes(ctx, endpoint_id)


# --- the client profile ---------------------------------------------------------------------------

VERIFY_X509_NAME = re.compile(r"^[ \t]*verify-x509-name\b[^\n]*\n?", re.M)
_INLINE = "<{tag}>\n{body}\n</{tag}>\n"


def _strip_inline(text: str, tag: str) -> str:
    return re.sub(rf"^<{tag}>\n.*?^</{tag}>\n?", "", text, flags=re.M | re.S)


def add_client_credentials(config: str, cert_pem: str, key_pem: str) -> str:
    """The exported configuration made usable for mutual authentication, as the
    seed's runbook does by hand: the client's ``<cert>`` and ``<key>`` added
    (after ``<ca>``; replacing any there already) and the ``verify-x509-name``
    line removed. Applying it again gives the same text."""
    if "<ca>" not in config or "</ca>" not in config:
        raise PhaseError("the exported client configuration has no <ca> block; it is not an AWS Client VPN profile")
    text = VERIFY_X509_NAME.sub("", config)
    text = _strip_inline(_strip_inline(text, "cert"), "key")
    block = _INLINE.format(tag="cert", body=cert_pem.strip()) + _INLINE.format(tag="key", body=key_pem.strip())
    head, tail = text.split("</ca>", 1)
    tail = tail.split("\n", 1)[1] if "\n" in tail else ""  # the rest of the </ca> line is its newline
    return head + "</ca>\n" + block + tail


def profile_path(ctx: AwsContext, run_dir: Path) -> Path:
    return Path(run_dir) / "clientvpn" / f"{settings(ctx).client_name}.ovpn"


@dataclass
class Profile:
    path: Path
    remote: str
    blocks: list[str]
    verify_x509_name_removed: bool
    client_common_name: str
    mode: str

    def frame(self, run_dir: Path) -> pd.DataFrame:
        try:
            shown = str(self.path.relative_to(Path(run_dir)))
        except ValueError:
            shown = str(self.path)
        rows = [("file", shown), ("mode", self.mode), ("remote", self.remote),
                ("inline blocks", ", ".join(f"<{b}>" for b in self.blocks)),
                ("verify-x509-name line", "removed" if self.verify_x509_name_removed else "PRESENT"),
                ("client certificate", self.client_common_name)]
        return pd.DataFrame(rows, columns=["", "profile"]).set_index("")


def write_profile(ctx: AwsContext, endpoint_id: str, p: Pki, run_dir: Path) -> Profile:
    exported = ctx.client("ec2").export_client_vpn_client_configuration(
        ClientVpnEndpointId=endpoint_id)["ClientConfiguration"]
    text = add_client_credentials(exported, p.client.cert_pem, p.client.key_pem)
    path = workspace.write_private(profile_path(ctx, run_dir), text)
    os.chmod(path.parent, 0o700)
    remote = next((line.strip() for line in text.splitlines() if line.startswith("remote ")), "-")
    blocks = [tag for tag in ("ca", "cert", "key") if f"<{tag}>" in text and f"</{tag}>" in text]
    return Profile(path, remote, blocks, "verify-x509-name" not in text, p.client.common_name,
                   oct(path.stat().st_mode & 0o777))


# --- the whole phase ------------------------------------------------------------------------------

@dataclass
class ClientVpnResult:
    endpoint: dict
    certificates: dict[str, AcmCertificate]
    target_networks: list[dict]
    rules: list[dict]
    routes: list[dict]
    profile: Profile
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def endpoint_id(self) -> str:
        return self.endpoint["ClientVpnEndpointId"]


def run(ctx: AwsContext, run_dir: Path, pki_material: Pki | None = None,
        progress: Callable[[str], None] | None = print, timeout: float = 900) -> ClientVpnResult:
    """The whole phase: find or create, wait, export. Safe to re-run."""
    settings(ctx)
    created: list[str] = []
    changed: list[str] = []
    material = pki_material or ensure_pki(ctx)
    certs = ensure_acm(ctx, material, created)
    vpc = find_vpc(ctx)
    subnets = find_subnets(ctx, vpc["VpcId"])
    endpoint = ensure_endpoint(ctx, certs, vpc["VpcId"], created, changed)
    endpoint_id = endpoint["ClientVpnEndpointId"]
    networks = ensure_associations(ctx, endpoint_id, subnets, created, progress, timeout)
    rules = ensure_authorization_rules(ctx, endpoint_id, created, progress, timeout)
    routes = ensure_routes(ctx, endpoint_id, subnets, created, progress, timeout)
    profile = write_profile(ctx, endpoint_id, material, run_dir)
    return ClientVpnResult(describe_endpoint(ctx, endpoint_id), certs, networks, rules, routes, profile,
                           created, changed)


def endpoint_frame(result: ClientVpnResult) -> pd.DataFrame:
    e = result.endpoint
    auth = ", ".join(f"{o['Type']} (client chain {o['MutualAuthentication']['ClientRootCertificateChain']})"
                     if "MutualAuthentication" in o else o["Type"] for o in e.get("AuthenticationOptions", []))
    rows = [
        ("endpoint", e["ClientVpnEndpointId"]),
        ("status", e["Status"]["Code"]),
        ("created now", "yes" if e["ClientVpnEndpointId"] in result.created else "no (reused)"),
        ("DNS name", e["DnsName"]),
        ("client CIDR", e["ClientCidrBlock"]),
        ("transport", f"{e['TransportProtocol']}/{e['VpnPort']}"),
        ("split tunnel", "on" if e["SplitTunnel"] else "off"),
        ("DNS servers", ", ".join(e.get("DnsServers", [])) or "-"),
        ("server certificate", e["ServerCertificateArn"]),
        ("authentication", auth),
        ("connection logging", "on" if e["ConnectionLogOptions"].get("Enabled") else "off"),
        ("client connect handler", e.get("ClientConnectOptions", {}).get("LambdaFunctionArn", "-")
         if e.get("ClientConnectOptions", {}).get("Enabled") else "off"),
    ]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def networks_frame(ctx: AwsContext, result: ClientVpnResult) -> pd.DataFrame:
    """Target networks, authorization rules and routes, as the console's tabs show them."""
    names = {s["SubnetId"]: s for s in ctx.client("ec2").describe_subnets(
        SubnetIds=[n["TargetNetworkId"] for n in result.target_networks])["Subnets"]} if result.target_networks else {}
    by_cidr = {s.cidr: s.name for s in ctx.params.vpc.subnets}
    rows = []
    for n in sorted(result.target_networks, key=lambda n: names[n["TargetNetworkId"]]["AvailabilityZone"]):
        subnet = names[n["TargetNetworkId"]]
        rows.append({"kind": "target network", "destination / subnet": n["TargetNetworkId"],
                     "detail": f"{by_cidr.get(subnet['CidrBlock'], '?')} {subnet['CidrBlock']} "
                               f"{subnet['AvailabilityZone']}", "status": n["Status"]["Code"]})
    for r in sorted(result.rules, key=lambda r: r["DestinationCidr"]):
        rows.append({"kind": "authorization rule", "destination / subnet": r["DestinationCidr"],
                     "detail": ("all users" if r.get("AccessAll") else f"group {r.get('GroupId')}")
                     + (f": {r['Description']}" if r.get("Description") else ""),
                     "status": r["Status"]["Code"]})
    for r in sorted(result.routes, key=lambda r: (r["DestinationCidr"], r["Origin"],
                                                   names.get(r["TargetSubnet"], {}).get("AvailabilityZone", ""))):
        subnet = names.get(r["TargetSubnet"], {})
        rows.append({"kind": f"route ({r['Origin']})", "destination / subnet": r["DestinationCidr"],
                     "detail": f"via {by_cidr.get(subnet.get('CidrBlock'), r['TargetSubnet'])}",
                     "status": r["Status"]["Code"]})
    return pd.DataFrame(rows)


# --- the lab ----------------------------------------------------------------------------------------

def issuing_chain(leaf_pem: str, chain_pem: str) -> str:
    """The certificates of `chain_pem` that issued `leaf_pem`, leaf's issuer first, up to a root.

    What a server must trust to accept the client certificate, whatever else
    the chain text holds (an emulator adds its own fake root).
    """
    leaf = x509.load_pem_x509_certificate(leaf_pem.encode())
    pool = x509.load_pem_x509_certificates(chain_pem.encode()) if chain_pem.strip() else []
    path, current = [], leaf
    while True:
        issuer = next((c for c in pool if c.subject == current.issuer and c not in path), None)
        if issuer is None:
            break
        path.append(issuer)
        if issuer.subject == issuer.issuer:
            break
        current = issuer
    if not path:
        raise PhaseError("the client certificate's chain in ACM does not hold its issuer; re-import it with the CA "
                         "chain (run this notebook again)")
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in path)


def lab_spec(ctx: AwsContext, endpoint_id: str, p: Pki):
    """The lab endpoint, from what the API says (endpoint, routes, rules, ACM); the server key from the PKI."""
    from .. import emulator
    from ..lab.clientvpn import ClientVpnLabSpec

    info = emulator.status()
    if info is None or not info.socket:
        raise PhaseError("the emulator serves no unix socket (started by an older version?): "
                         "run `hybridnet emulator stop` and run the notebook again")
    endpoint = describe_endpoint(ctx, endpoint_id)
    acm = ctx.client("acm")
    server_body = acm.get_certificate(CertificateArn=endpoint["ServerCertificateArn"])["Certificate"]
    if _pem_fingerprint(server_body) != p.server.fingerprint:
        raise PhaseError(f"{endpoint_id}'s server certificate in ACM is not the one in {p.directory} (whose key the "
                         "lab server needs): run this notebook's ACM step again")
    client_arn = _chain_arn(endpoint)
    client = acm.get_certificate(CertificateArn=client_arn)
    networks = {n["TargetNetworkId"] for n in _target_networks(ctx, endpoint_id) if n["Status"]["Code"] == "associated"}
    subnets = [s for s in find_subnets(ctx, endpoint["VpcId"]) if s["SubnetId"] in networks]
    if not subnets:
        raise PhaseError(f"{endpoint_id} has no associated target network")
    routes = sorted({r["DestinationCidr"] for r in _routes(ctx, endpoint_id)
                     if r["Status"]["Code"] in ("creating", "active")})
    rules = sorted({r["DestinationCidr"] for r in _rules(ctx, endpoint_id)
                    if r.get("AccessAll") and r["Status"]["Code"] in ("authorizing", "active")})
    return ClientVpnLabSpec(
        endpoint_id=endpoint_id, region=ctx.params.region, dns_name=endpoint["DnsName"],
        client_cidr=endpoint["ClientCidrBlock"], transport_protocol=endpoint["TransportProtocol"],
        vpn_port=endpoint["VpnPort"], split_tunnel=endpoint["SplitTunnel"],
        dns_servers=endpoint.get("DnsServers", []), routes=routes, authorized=rules,
        target_subnet=subnets[0]["CidrBlock"], server_cert_pem=p.server.cert_pem,
        server_key_pem=p.server.key_pem, client_ca_pem=issuing_chain(client["Certificate"],
                                                                      client.get("CertificateChain", "")),
        emulator_socket=info.socket)


@dataclass
class LabDeployment:
    data_plane: str | None
    reason: str
    table: pd.DataFrame
    attempt: dict | None = None
    checks: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return self.table._repr_html_()

    def __repr__(self) -> str:
        return self.table.to_string()


def lab_unavailable(ctx: AwsContext) -> str | None:
    """Why the lab cannot play this endpoint, or None."""
    if ctx.data_plane != dataplane.LAB:
        return ctx.data_plane_reason
    if not dataplane.lab_running():
        return "the site-to-site lab is not running: run notebook 02_router_config first"
    return None


def lab_checks(ctx: AwsContext, who: str = "user") -> list[dict]:
    """From a connected remote user: ping a VPC host and an on-prem host, resolve through the VPC resolver."""
    from .. import lab
    from ..lab import clientvpn, netns
    from ..lab.topology import VPC_HOSTS

    ns = clientvpn.USERS[who][0]
    hosts = dict(VPC_HOSTS)
    targets = [("VPC host web1", hosts["web1"]), *((f"on-prem host {n}", ip) for n, ip in
                                                    ctx.params.onprem.hosts.items())]
    rows = []
    for what, ip in targets:
        result = lab.ping(dataplane.LAB_DIR, ns, ip, count=3, interval_s=0.2)
        rows.append({"check": f"ping {what}", "target": ip, "ok": result["received"] == result["sent"],
                     "detail": f"{result['received']}/{result['sent']} replies"})
    if ctx.params.dns and not dataplane.dns_daemons_missing():
        resolver = dns_servers(ctx)[0]
        name = f"web1.{ctx.params.dns.private_zone}"
        answer = netns.exec_in(ns, ["dig", "+short", "+time=2", "+tries=1", f"@{resolver}", name, "A"],
                               check=False, timeout=10).stdout.split()
        expected = ctx.params.dns.records.get("web1")
        rows.append({"check": f"resolve {name}", "target": resolver, "ok": expected in answer,
                     "detail": ", ".join(answer) or "no answer"})
    return rows


def wait_connection_status(ctx: AwsContext, endpoint_id: str, client_ip: str, status: str,
                           timeout: float = 10.0) -> list[dict]:
    """Wait until every connection DescribeClientVpnConnections shows for `client_ip`
    has `status` (a client address is reused once its connection ended); returns them."""
    ec2 = ctx.client("ec2")
    found: list[dict] = []

    def reached() -> bool:
        found[:] = [c for page in ec2.get_paginator("describe_client_vpn_connections").paginate(
            ClientVpnEndpointId=endpoint_id) for c in page["Connections"] if c.get("ClientIp") == client_ip]
        return bool(found) and all(c["Status"]["Code"] == status for c in found)

    poll(reached, timeout=timeout, interval=0.1)
    return found


def deploy_lab(ctx: AwsContext, endpoint_id: str, p: Pki, profile: Path, keep_connected: bool = False
               ) -> LabDeployment:
    """As root with the lab: play the endpoint with OpenVPN, connect the remote user with the
    profile, check what it reaches. Otherwise say what to do."""
    reason = lab_unavailable(ctx)
    if reason:
        table = nothing_here(reason, "import the profile into the AWS VPN Client (or OpenVPN 2.6) on a remote "
                                     "machine and connect")
        return LabDeployment(None, reason, table)
    from ..lab import clientvpn
    from ..lab.topology import CVPN_NS

    state = clientvpn.up(dataplane.LAB_DIR, lab_spec(ctx, endpoint_id, p))
    attempt = clientvpn.connect(dataplane.LAB_DIR, "user", profile)
    checks = lab_checks(ctx) if attempt.connected else []
    if not keep_connected and attempt.connected:
        clientvpn.disconnect(dataplane.LAB_DIR, "user")
        # OpenVPN reports a client's goodbye after a 5 s grace: wait for it, so the
        # API (and the next notebook) see this connection terminated.
        wait_connection_status(ctx, endpoint_id, attempt.client_ip, "terminated")
    rows = [{"step": f"endpoint (OpenVPN) in {CVPN_NS}", "result": f"listening on {state.public_ip}, "
                                                                  f"address in the VPC {state.eni_ip}", "ok": True},
            {"step": f"remote user {attempt.public_ip} connects with the profile", "ok": attempt.connected,
             "result": f"{attempt.outcome}: {attempt.client_ip or attempt.message}"}]
    rows += [{"step": c["check"], "result": c["detail"], "ok": c["ok"]} for c in checks]
    return LabDeployment(dataplane.LAB, ctx.data_plane_reason, pd.DataFrame(rows, columns=["step", "ok", "result"]),
                         attempt.to_dict(), checks, state.timings_s)


def result(res: ClientVpnResult, deployment: LabDeployment, run_dir: Path) -> dict:
    e = res.endpoint
    return {
        "client_vpn_endpoint_id": res.endpoint_id,
        "status": e["Status"]["Code"],
        "dns_name": e["DnsName"],
        "client_cidr": e["ClientCidrBlock"],
        "split_tunnel": e["SplitTunnel"],
        "dns_servers": e.get("DnsServers", []),
        "certificates": {role: {"arn": c.arn, "action": c.action, "fingerprint": c.fingerprint}
                         for role, c in res.certificates.items()},
        "target_networks": sorted(n["TargetNetworkId"] for n in res.target_networks),
        "authorization_rules": sorted(r["DestinationCidr"] for r in res.rules),
        "routes": sorted({f"{r['DestinationCidr']} via {r['TargetSubnet']}" for r in res.routes}),
        "profile": str(res.profile.path),
        "profile_mode": res.profile.mode,
        "created": res.created,
        "changed": res.changed,
        "data_plane": deployment.data_plane,
        "data_plane_reason": deployment.reason,
        "lab_connect": deployment.attempt,
        "lab_checks": deployment.checks,
        "lab_timings": deployment.timings,
    }
