"""Phase 4: AWS Client VPN with mutual (certificate) authentication.

1. PKI: a CA, a server and a client certificate (hybridnet.pki, the
   properties easy-rsa gives), kept under ``outputs/.state/pki/<stack>/`` so
   that every run reuses the same CA and the same ACM certificates; keys 0600.
2. ACM: the server and the client certificate, each with the CA chain, found
   again by tag; re-imported into the same ARN only when the local
   certificate changed.
3. The endpoint: client CIDR, the server certificate, mutual authentication
   with the client certificate's chain, split tunnel, DNS servers (the VPC
   resolver by default), connection logging (params ``logs.enabled``: to the
   stream ``connections`` of the stack's log group /hybridnet/<stack>/client-vpn,
   with the params' retention; off otherwise); tagged, found again by tag.
4. Two target networks (subnets in two AZs), authorization rules for the VPC
   CIDR and the on-prem CIDR, a route to the on-prem CIDR through each
   associated subnet; every change waited for with waiters.
5. The client profile: the exported configuration plus the client's
   ``<cert>`` and ``<key>``, without the ``verify-x509-name`` line (as the
   seed's runbook does), written 0600 under ``<run>/clientvpn/``.
6. With hosts.remote_user: that machine connects with the profile through
   SSM Run Command (the key read there from a Parameter Store SecureString),
   tries what it reaches and disconnects. Offline, the lab's agent plays the
   endpoint with OpenVPN from what the API says, and its remote user's
   namespace plays the machine.

Private keys and the profile's content never appear in a returned table.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .. import hosts, pki, workspace
from ..aws import STACK_TAG, AwsContext, paginate, tag_value
from ..params import REMOTE_ROLES, ClientVpn
from ..plan import Change, Step, frame, refuse_replacements
from ..render.client_vpn import KEY_PLACEHOLDER, Check, key_parameter_name, parse_output, try_commands
from ..waiting import extra_waiter, poll, wait
from . import HostSteps, PhaseError, find_vpc, loggroups, nothing_here, store_secret
from .teardown import delete_client_vpn_endpoint

PHASE = "4"
NOTEBOOK = "04_client_vpn"
LIVE_ENDPOINT = ("pending-associate", "available")
GONE_ASSOCIATION = ("disassociating", "disassociated")
ROLES = ("server", "client")


# --- parameters --------------------------------------------------------------------------------


def settings(ctx: AwsContext) -> ClientVpn:
    if ctx.params.client_vpn is None:
        raise PhaseError(
            "the params have no client_vpn section; add one (client_cidr, subnets) to run phase 4, "
            "e.g. as in params/lab.yaml"
        )
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
        return (
            f"Pki({self.directory}: ca {self.ca.common_name}, server {self.server.common_name}, "
            f"client {self.client.common_name})"
        )


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
        rows.append(
            {
                "role": role,
                "common name": cred.common_name,
                "issuer": cred.certificate.issuer.rfc4514_string(),
                "usage": _usage(cred),
                "key": cred.key_type,
                "valid days": (cred.not_after - cred.not_before).days,
                "fingerprint": short_fingerprint(cred),
                "files": f"{files}.crt, {files}.key ({oct(key.stat().st_mode & 0o777)})",
            }
        )
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
    return paginate(acm, "list_certificates", "CertificateSummaryList", Includes={"keyTypes": ALL_KEY_TYPES})


def find_acm_certificate(ctx: AwsContext, role: str) -> str | None:
    """The ARN of the stack's certificate for `role` (tags hybridnet:stack + Name)."""
    acm = ctx.client("acm")
    want = _acm_name(ctx, role)
    for summary in _acm_certificates(ctx):
        tags = {"Tags": acm.list_tags_for_certificate(CertificateArn=summary["CertificateArn"]).get("Tags", [])}
        if tag_value(tags, STACK_TAG) == ctx.params.name and tag_value(tags, "Name") == want:
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
    material = {
        "Certificate": cred.cert_pem.encode(),
        "PrivateKey": cred.key_pem.encode(),
        "CertificateChain": cred.chain_pem.encode(),
    }
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
        rows = ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "cidr-block", "Values": [subnet.cidr]}]
        )["Subnets"]
        if not rows:
            raise PhaseError(
                f"subnet {subnet.name} ({subnet.cidr}) does not exist in {vpc_id}; create it or "
                "pick others in client_vpn.subnets"
            )
        found.append({**rows[0], "Name": subnet.name})
    return found


def find_endpoint(ctx: AwsContext) -> dict | None:
    """The stack's live Client VPN endpoint (tags), or None."""
    ec2 = ctx.client("ec2")
    found = [
        e
        for e in paginate(ec2, "describe_client_vpn_endpoints", "ClientVpnEndpoints", Filters=ctx.stack_filters(PHASE))
        if e["Status"]["Code"] in LIVE_ENDPOINT
    ]
    if len(found) > 1:
        raise PhaseError(
            f"several Client VPN endpoints are tagged hybridnet:stack={ctx.params.name}: "
            f"{', '.join(e['ClientVpnEndpointId'] for e in found)}; delete the extra ones"
        )
    return found[0] if found else None


def require_endpoint(ctx: AwsContext) -> dict:
    endpoint = find_endpoint(ctx)
    if endpoint is None:
        raise PhaseError(
            f"no Client VPN endpoint tagged hybridnet:stack={ctx.params.name}; run notebook 04_client_vpn first"
        )
    return endpoint


def describe_endpoint(ctx: AwsContext, endpoint_id: str) -> dict:
    return ctx.client("ec2").describe_client_vpn_endpoints(ClientVpnEndpointIds=[endpoint_id])["ClientVpnEndpoints"][0]


def client_root_chain_arn(endpoint: dict) -> str | None:
    """The mutual-authentication client certificate chain's ACM ARN of a DescribeClientVpnEndpoints entry."""
    for option in endpoint.get("AuthenticationOptions", []):
        chain = (option.get("MutualAuthentication") or {}).get("ClientRootCertificateChain")
        if chain:
            return chain
    return None


ENDPOINT_FIELDS_FIXED = "client CIDR", "transport protocol", "client certificate chain"
LOG_SERVICE = "client-vpn"  # the stack's log group /hybridnet/<stack>/client-vpn
LOG_STREAM = "connections"


def connection_log_options(ctx: AwsContext) -> dict:
    """The endpoint's ConnectionLogOptions as the params want them."""
    if not ctx.params.logs.enabled:
        return {"Enabled": False}
    return {
        "Enabled": True,
        "CloudwatchLogGroup": loggroups.group_name(ctx, LOG_SERVICE),
        "CloudwatchLogStream": LOG_STREAM,
    }


def _log_options_text(options: dict | None) -> str:
    options = options or {}
    if not options.get("Enabled"):
        return "disabled"
    return f"enabled: {options.get('CloudwatchLogGroup')} / {options.get('CloudwatchLogStream') or '(any stream)'}"


def ensure_log_destination(ctx: AwsContext, created: list[str], changed: list[str] | None = None) -> None:
    """With logs.enabled: the stack's log group (retention, tags) and the stream the
    endpoint names (Client VPN needs both to exist)."""
    if ctx.params.logs.enabled:
        group = loggroups.ensure(ctx, LOG_SERVICE, PHASE, created, changed)
        loggroups.ensure_stream(ctx, group["logGroupName"], LOG_STREAM, created)


def _endpoint_drift(
    ctx: AwsContext, endpoint: dict, server_arn: str | None, client_arn: str | None
) -> tuple[list[Change], dict, list[Change]]:
    """(what AWS cannot change on an existing endpoint, the ModifyClientVpnEndpoint request
    that brings the rest to the params, that request's changes as the plan shows them)."""
    cv = settings(ctx)
    dns = dns_servers(ctx)
    fixed = [
        Change(what, str(have), str(want))
        for what, have, want in (
            ("client CIDR", endpoint["ClientCidrBlock"], cv.client_cidr),
            ("transport protocol", endpoint["TransportProtocol"], cv.transport_protocol),
            ("client certificate chain", client_root_chain_arn(endpoint), client_arn or "(to be imported)"),
        )
        if have != want
    ]
    modify: dict = {}
    changes: list[Change] = []
    for key, have, want, request in (
        ("ServerCertificateArn", endpoint["ServerCertificateArn"], server_arn or "(to be imported)", server_arn),
        (
            "DnsServers",
            ", ".join(sorted(endpoint.get("DnsServers", []))) or "-",
            ", ".join(sorted(dns)) or "-",
            {"CustomDnsServers": dns, "Enabled": bool(dns)},
        ),
        ("SplitTunnel", endpoint["SplitTunnel"], cv.split_tunnel, cv.split_tunnel),
        ("VpnPort", endpoint["VpnPort"], cv.vpn_port, cv.vpn_port),
        (
            "ConnectionLogOptions",
            _log_options_text(endpoint.get("ConnectionLogOptions")),
            _log_options_text(connection_log_options(ctx)),
            connection_log_options(ctx),
        ),
    ):
        if str(have) != str(want):
            modify[key] = request
            changes.append(Change(key, str(have), str(want)))
    return fixed, modify, changes


REPLACE_HOW = (
    "DeleteClientVpnEndpoint (its target networks first), CreateClientVpnEndpoint: a new endpoint id "
    "and DNS name, connected users are dropped, and every client needs the new profile"
)


def ensure_endpoint(
    ctx: AwsContext, certs: dict[str, AcmCertificate], vpc_id: str, created: list[str], changed: list[str]
) -> dict:
    cv = settings(ctx)
    ec2 = ctx.client("ec2")
    ensure_log_destination(ctx, created, changed)  # before the endpoint names them
    endpoint = find_endpoint(ctx)
    if endpoint is not None:
        endpoint_id = endpoint["ClientVpnEndpointId"]
        fixed, modify, _ = _endpoint_drift(ctx, endpoint, certs["server"].arn, certs["client"].arn)
        if fixed:
            refuse_replacements(
                [Step("Client VPN endpoint", endpoint_id, "replace", fixed, REPLACE_HOW)], ctx.params.allow_replace
            )
            delete_client_vpn_endpoint(ctx, endpoint_id)
            changed.append(f"{endpoint_id}: deleted, to be replaced (allow_replace)")
        else:
            if modify:
                ec2.modify_client_vpn_endpoint(ClientVpnEndpointId=endpoint_id, **modify)
                changed += [f"{endpoint_id}: {key}" for key in modify]
            return describe_endpoint(ctx, endpoint_id)
    endpoint_id = ec2.create_client_vpn_endpoint(
        ClientCidrBlock=cv.client_cidr,
        ServerCertificateArn=certs["server"].arn,
        AuthenticationOptions=[
            {
                "Type": "certificate-authentication",
                "MutualAuthentication": {"ClientRootCertificateChainArn": certs["client"].arn},
            }
        ],
        ConnectionLogOptions=connection_log_options(ctx),
        DnsServers=dns_servers(ctx),
        TransportProtocol=cv.transport_protocol,
        VpnPort=cv.vpn_port,
        SplitTunnel=cv.split_tunnel,
        VpcId=vpc_id,
        Description=f"{ctx.params.name} remote access (hybridnet phase 4)",
        TagSpecifications=ctx.tag_spec("client-vpn-endpoint", PHASE, "client-vpn"),
    )["ClientVpnEndpointId"]
    created.append(endpoint_id)
    return describe_endpoint(ctx, endpoint_id)


def plan(ctx: AwsContext, material: Pki) -> list[Step]:
    """What run() would do to the account: the two ACM certificates, the connection log
    group (logs.enabled), the endpoint, its target networks, authorization rules and routes."""
    settings(ctx)
    acm = ctx.client("acm")
    steps = []
    arns: dict[str, str | None] = {}
    for role in ROLES:
        cred = material.credential(role)
        arn = arns[role] = find_acm_certificate(ctx, role) or _find_by_fingerprint(ctx, cred)
        if arn is None:
            steps.append(Step(f"{role} certificate", "(new)", "create", how="ImportCertificate"))
        elif _pem_fingerprint(acm.get_certificate(CertificateArn=arn)["Certificate"]) != cred.fingerprint:
            steps.append(
                Step(
                    f"{role} certificate",
                    arn.rsplit("/", 1)[-1],
                    "modify",
                    [Change("certificate", "(another certificate)", short_fingerprint(cred))],
                    "ImportCertificate into the same ARN (the endpoint keeps pointing at it)",
                )
            )
        else:
            steps.append(Step(f"{role} certificate", arn.rsplit("/", 1)[-1], "keep"))
    if ctx.params.logs.enabled:
        step = loggroups.step(ctx, LOG_SERVICE, PHASE)
        group = loggroups.group_name(ctx, LOG_SERVICE)
        if step.action == "create" or not loggroups.stream_exists(ctx, group, LOG_STREAM):
            step.how = ", ".join(filter(None, [step.how, f"CreateLogStream {LOG_STREAM}"]))
            if step.action == "keep":
                step.action, step.changes = "modify", [Change("log stream", "-", LOG_STREAM)]
        steps.append(step)
    endpoint = find_endpoint(ctx)
    if endpoint is None:
        steps.append(Step("Client VPN endpoint", "(new)", "create", how="CreateClientVpnEndpoint"))
        endpoint_id = None
    else:
        endpoint_id = endpoint["ClientVpnEndpointId"]
        fixed, _, changes = _endpoint_drift(ctx, endpoint, arns["server"], arns["client"])
        if fixed:
            steps.append(Step("Client VPN endpoint", endpoint_id, "replace", fixed + changes, REPLACE_HOW))
            endpoint_id = None
        else:
            steps.append(
                Step(
                    "Client VPN endpoint",
                    endpoint_id,
                    "modify" if changes else "keep",
                    changes,
                    "ModifyClientVpnEndpoint (in place; connected users stay)" if changes else "",
                )
            )
    vpc_id = find_vpc(ctx)["VpcId"]
    subnets = find_subnets(ctx, vpc_id)
    live = (
        {
            n["TargetNetworkId"]: n["AssociationId"]
            for n in _target_networks(ctx, endpoint_id)
            if n["Status"]["Code"] not in GONE_ASSOCIATION
        }
        if endpoint_id
        else {}
    )
    rules = (
        {
            r["DestinationCidr"]
            for r in _rules(ctx, endpoint_id)
            if r.get("AccessAll") and r["Status"]["Code"] in ("authorizing", "active")
        }
        if endpoint_id
        else set()
    )
    routes = (
        {
            (r["DestinationCidr"], r["TargetSubnet"])
            for r in _routes(ctx, endpoint_id)
            if r["Status"]["Code"] in ("creating", "active")
        }
        if endpoint_id
        else set()
    )
    for subnet in subnets:
        association = live.get(subnet["SubnetId"])
        steps.append(
            Step(f"target network {subnet['Name']}", association, "keep")
            if association
            else Step(f"target network {subnet['Name']}", "(new)", "create", how="AssociateClientVpnTargetNetwork")
        )
    for cidr in (ctx.params.vpc.cidr, ctx.params.onprem.cidr):
        steps.append(
            Step(
                "authorization rule",
                cidr,
                "keep" if cidr in rules else "create",
                how="" if cidr in rules else "AuthorizeClientVpnIngress (all groups)",
            )
        )
    for subnet in subnets:
        here = (ctx.params.onprem.cidr, subnet["SubnetId"]) in routes
        steps.append(
            Step(
                "route",
                f"{ctx.params.onprem.cidr} via {subnet['Name']}",
                "keep" if here else "create",
                how="" if here else "CreateClientVpnRoute",
            )
        )
    return steps


def plan_frame(ctx: AwsContext, material: Pki) -> pd.DataFrame:
    return frame(plan(ctx, material))


def _target_networks(ctx: AwsContext, endpoint_id: str) -> list[dict]:
    ec2 = ctx.client("ec2")
    return paginate(
        ec2, "describe_client_vpn_target_networks", "ClientVpnTargetNetworks", ClientVpnEndpointId=endpoint_id
    )


def _rules(ctx: AwsContext, endpoint_id: str) -> list[dict]:
    ec2 = ctx.client("ec2")
    return paginate(
        ec2, "describe_client_vpn_authorization_rules", "AuthorizationRules", ClientVpnEndpointId=endpoint_id
    )


def _routes(ctx: AwsContext, endpoint_id: str) -> list[dict]:
    ec2 = ctx.client("ec2")
    return paginate(ec2, "describe_client_vpn_routes", "Routes", ClientVpnEndpointId=endpoint_id)


def ensure_associations(
    ctx: AwsContext,
    endpoint_id: str,
    subnets: list[dict],
    created: list[str],
    progress: Callable[[str], None] | None,
    timeout: float,
) -> list[dict]:
    ec2 = ctx.client("ec2")
    live = {
        n["TargetNetworkId"]: n
        for n in _target_networks(ctx, endpoint_id)
        if n["Status"]["Code"] not in GONE_ASSOCIATION
    }
    for subnet in subnets:
        if subnet["SubnetId"] not in live:
            association = ec2.associate_client_vpn_target_network(
                ClientVpnEndpointId=endpoint_id, SubnetId=subnet["SubnetId"]
            )
            created.append(association["AssociationId"])
    wanted = [s["SubnetId"] for s in subnets]
    wait(
        extra_waiter("ClientVpnTargetNetworksAssociated", ec2),
        label=f"target networks of {endpoint_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        done="associated",
        ClientVpnEndpointId=endpoint_id,
        Filters=[{"Name": "target-network-id", "Values": wanted}],
    )
    wait(
        extra_waiter("ClientVpnEndpointAvailable", ec2),
        label=f"Client VPN endpoint {endpoint_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        ClientVpnEndpointIds=[endpoint_id],
    )
    return [n for n in _target_networks(ctx, endpoint_id) if n["Status"]["Code"] not in GONE_ASSOCIATION]


def ensure_authorization_rules(
    ctx: AwsContext, endpoint_id: str, created: list[str], progress: Callable[[str], None] | None, timeout: float
) -> list[dict]:
    """Everyone (AuthorizeAllGroups) may reach the VPC and the on-prem network."""
    ec2 = ctx.client("ec2")
    wanted = {ctx.params.vpc.cidr: "the VPC", ctx.params.onprem.cidr: "the on-prem data centre (IDC)"}
    have = {
        r["DestinationCidr"]
        for r in _rules(ctx, endpoint_id)
        if r.get("AccessAll") and r["Status"]["Code"] in ("authorizing", "active")
    }
    for cidr, what in wanted.items():
        if cidr not in have:
            ec2.authorize_client_vpn_ingress(
                ClientVpnEndpointId=endpoint_id,
                TargetNetworkCidr=cidr,
                AuthorizeAllGroups=True,
                Description=f"{what} (hybridnet)",
            )
            created.append(f"authorization rule {cidr}")
    wait(
        extra_waiter("ClientVpnAuthorizationRulesActive", ec2),
        label=f"authorization rules of {endpoint_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        done="active",
        ClientVpnEndpointId=endpoint_id,
        Filters=[{"Name": "destination-cidr", "Values": list(wanted)}],
    )
    return _rules(ctx, endpoint_id)


def ensure_routes(
    ctx: AwsContext,
    endpoint_id: str,
    subnets: list[dict],
    created: list[str],
    progress: Callable[[str], None] | None,
    timeout: float,
) -> list[dict]:
    """The on-prem CIDR through every associated subnet (the seed adds it to both, for availability)."""
    ec2 = ctx.client("ec2")
    onprem = ctx.params.onprem.cidr
    have = {
        (r["DestinationCidr"], r["TargetSubnet"])
        for r in _routes(ctx, endpoint_id)
        if r["Status"]["Code"] in ("creating", "active")
    }
    for subnet in subnets:
        if (onprem, subnet["SubnetId"]) not in have:
            ec2.create_client_vpn_route(
                ClientVpnEndpointId=endpoint_id,
                DestinationCidrBlock=onprem,
                TargetVpcSubnetId=subnet["SubnetId"],
                Description=f"on-prem data centre (IDC) via {subnet['Name']}",
            )
            created.append(f"route {onprem} via {subnet['SubnetId']}")
    wait(
        extra_waiter("ClientVpnRoutesActive", ec2),
        label=f"routes of {endpoint_id}",
        delay=ctx.waiter_delay,
        timeout=timeout,
        progress=progress,
        done="active",
        ClientVpnEndpointId=endpoint_id,
    )
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
        rows = [
            ("file", shown),
            ("mode", self.mode),
            ("remote", self.remote),
            ("inline blocks", ", ".join(f"<{b}>" for b in self.blocks)),
            ("verify-x509-name line", "removed" if self.verify_x509_name_removed else "PRESENT"),
            ("client certificate", self.client_common_name),
        ]
        return pd.DataFrame(rows, columns=["", "profile"]).set_index("")


def write_profile(ctx: AwsContext, endpoint_id: str, p: Pki, run_dir: Path) -> Profile:
    exported = ctx.client("ec2").export_client_vpn_client_configuration(ClientVpnEndpointId=endpoint_id)[
        "ClientConfiguration"
    ]
    text = add_client_credentials(exported, p.client.cert_pem, p.client.key_pem)
    path = workspace.write_private(profile_path(ctx, run_dir), text)
    os.chmod(path.parent, 0o700)
    remote = next((line.strip() for line in text.splitlines() if line.startswith("remote ")), "-")
    blocks = [tag for tag in ("ca", "cert", "key") if f"<{tag}>" in text and f"</{tag}>" in text]
    return Profile(
        path, remote, blocks, "verify-x509-name" not in text, p.client.common_name, oct(path.stat().st_mode & 0o777)
    )


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


def run(
    ctx: AwsContext,
    run_dir: Path,
    pki_material: Pki | None = None,
    progress: Callable[[str], None] | None = print,
    timeout: float = 900,
) -> ClientVpnResult:
    """The whole phase: find or create, wait, export. Safe to re-run."""
    settings(ctx)
    created: list[str] = []
    changed: list[str] = []
    material = pki_material or ensure_pki(ctx)
    refuse_replacements(plan(ctx, material), ctx.params.allow_replace)  # before anything is touched
    certs = ensure_acm(ctx, material, created)
    vpc = find_vpc(ctx)
    subnets = find_subnets(ctx, vpc["VpcId"])
    endpoint = ensure_endpoint(ctx, certs, vpc["VpcId"], created, changed)
    endpoint_id = endpoint["ClientVpnEndpointId"]
    networks = ensure_associations(ctx, endpoint_id, subnets, created, progress, timeout)
    rules = ensure_authorization_rules(ctx, endpoint_id, created, progress, timeout)
    routes = ensure_routes(ctx, endpoint_id, subnets, created, progress, timeout)
    profile = write_profile(ctx, endpoint_id, material, run_dir)
    return ClientVpnResult(
        describe_endpoint(ctx, endpoint_id), certs, networks, rules, routes, profile, created, changed
    )


def endpoint_frame(result: ClientVpnResult) -> pd.DataFrame:
    e = result.endpoint
    auth = ", ".join(
        f"{o['Type']} (client chain {o['MutualAuthentication']['ClientRootCertificateChain']})"
        if "MutualAuthentication" in o
        else o["Type"]
        for o in e.get("AuthenticationOptions", [])
    )
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
        (
            "connection logging",
            f"on ({e['ConnectionLogOptions'].get('CloudwatchLogGroup')} / "
            f"{e['ConnectionLogOptions'].get('CloudwatchLogStream')})"
            if e["ConnectionLogOptions"].get("Enabled")
            else "off",
        ),
        (
            "client connect handler",
            e.get("ClientConnectOptions", {}).get("LambdaFunctionArn", "-")
            if e.get("ClientConnectOptions", {}).get("Enabled")
            else "off",
        ),
    ]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def networks_frame(ctx: AwsContext, result: ClientVpnResult) -> pd.DataFrame:
    """Target networks, authorization rules and routes, as the console's tabs show them."""
    names = (
        {
            s["SubnetId"]: s
            for s in ctx.client("ec2").describe_subnets(
                SubnetIds=[n["TargetNetworkId"] for n in result.target_networks]
            )["Subnets"]
        }
        if result.target_networks
        else {}
    )
    by_cidr = {s.cidr: s.name for s in ctx.params.vpc.subnets}
    rows = []
    for n in sorted(result.target_networks, key=lambda n: names[n["TargetNetworkId"]]["AvailabilityZone"]):
        subnet = names[n["TargetNetworkId"]]
        rows.append(
            {
                "kind": "target network",
                "destination / subnet": n["TargetNetworkId"],
                "detail": f"{by_cidr.get(subnet['CidrBlock'], '?')} {subnet['CidrBlock']} {subnet['AvailabilityZone']}",
                "status": n["Status"]["Code"],
            }
        )
    for r in sorted(result.rules, key=lambda r: r["DestinationCidr"]):
        rows.append(
            {
                "kind": "authorization rule",
                "destination / subnet": r["DestinationCidr"],
                "detail": ("all users" if r.get("AccessAll") else f"group {r.get('GroupId')}")
                + (f": {r['Description']}" if r.get("Description") else ""),
                "status": r["Status"]["Code"],
            }
        )
    for r in sorted(
        result.routes,
        key=lambda r: (r["DestinationCidr"], r["Origin"], names.get(r["TargetSubnet"], {}).get("AvailabilityZone", "")),
    ):
        subnet = names.get(r["TargetSubnet"], {})
        rows.append(
            {
                "kind": f"route ({r['Origin']})",
                "destination / subnet": r["DestinationCidr"],
                "detail": f"via {by_cidr.get(subnet.get('CidrBlock'), r['TargetSubnet'])}",
                "status": r["Status"]["Code"],
            }
        )
    return pd.DataFrame(rows)


# --- a remote user, through SSM ----------------------------------------------------------------------

# The remote worker's machine at an allowed address, and elsewhere (hosts.<role>).
REMOTE_USER, REMOTE_USER_AWAY = REMOTE_ROLES
# Long enough for a host that is just coming up (offline: the lab's agent adds the
# remote users' namespaces when it sees the endpoint associated, in seconds).
ONLINE_TIMEOUT_S = 60


def store_client_key(ctx: AwsContext, p: Pki) -> str:
    """The client's private key as a Parameter Store SecureString (written only
    when it changed), for the remote user's host to read with its instance
    profile: the key never travels in a command. Its parameter name."""
    name = key_parameter_name(ctx.params.name, settings(ctx).client_name)
    store_secret(
        ctx,
        name,
        p.client.key_pem,
        PHASE,
        "client-key",
        f"private key of Client VPN client {settings(ctx).client_name}",
    )
    return name


def profile_without_key(profile: Path, p: Pki) -> str:
    """The profile as the user imports it, with the key's placeholder in ``<key>``."""
    text = Path(profile).read_text()
    key = p.client.key_pem.strip()
    if text.count(key) != 1:
        raise PhaseError(f"{profile} does not hold this stack's client key: run this notebook's profile step again")
    return text.replace(key, KEY_PLACEHOLDER)


def remote_checks(ctx: AwsContext) -> list[Check]:
    """What a connected remote user tries: a VPC host (the private zone's first
    record), each on-prem host, and that name through the endpoint's DNS server."""
    p = ctx.params
    checks = []
    dns = p.dns
    vpc_host = next(iter(dns.records.items()), None) if dns else None
    if vpc_host:
        checks.append(Check(f"ping VPC host {vpc_host[0]}", vpc_host[1]))
    checks += [Check(f"ping on-prem host {name}", ip) for name, ip in p.onprem.hosts.items()]
    if dns and vpc_host:
        name = f"{vpc_host[0]}.{dns.private_zone}"
        checks.append(Check(f"resolve {name}", dns_servers(ctx)[0], name, vpc_host[1]))
    return checks


@dataclass
class RemoteAttempt:
    """One remote host's try of the profile (plain data; no key, no profile text)."""

    role: str
    host: str
    instance_id: str | None
    address: str | None  # the host's address as SSM reports it: what the endpoint sees as its public IP
    outcome: str  # connected | refused | exited | no answer | missing | unreachable | no output
    client_ip: str | None
    message: str  # what the client was told, or why it did not connect
    seconds: float | None
    checks: list[dict] = field(default_factory=list)
    ssm: str = ""  # the command's status and reason

    @property
    def connected(self) -> bool:
        return self.outcome == "connected"

    def to_dict(self) -> dict:
        return asdict(self)


def try_from(
    ctx: AwsContext,
    role: str,
    endpoint_id: str,
    profile_text: str,
    key_parameter: str,
    checks: Sequence[Check] = (),
    online_timeout: float = ONLINE_TIMEOUT_S,
) -> RemoteAttempt:
    """The host playing `role` runs OpenVPN with the profile (the key read from
    `key_parameter` there), runs `checks` through the tunnel and disconnects;
    then the API is awaited until that connection shows terminated."""
    plane = hosts.plane(ctx)
    waited = plane.wait_online(role, online_timeout)
    row = plane.describe().set_index("role").loc[role]
    address = row["ip_address"] if isinstance(row["ip_address"], str) else None
    if waited:
        return RemoteAttempt(
            role,
            row["host"],
            row["instance_id"],
            address,
            "unreachable",
            None,
            waited,
            None,
            ssm=row["ssm_status"] or "",
        )
    commands = try_commands(profile_text, key_parameter, ctx.params.region, endpoint_id, checks)
    command = plane.run(role, commands, timeout=60)
    said = parse_output(command.stdout)
    message = said.message if said.outcome != "no output" else command.outcome
    attempt = RemoteAttempt(
        role,
        command.host,
        command.instance_id,
        address,
        said.outcome,
        said.client_ip,
        message,
        said.seconds,
        said.checks,
        ssm=command.outcome,
    )
    if attempt.connected and attempt.client_ip:
        # OpenVPN reports a client's goodbye after a grace period: wait for it, so
        # the API (and the next notebook) see this connection terminated.
        wait_connection_status(ctx, endpoint_id, attempt.client_ip, "terminated", timeout=15)
    return attempt


def wait_connection_status(
    ctx: AwsContext, endpoint_id: str, client_ip: str, status: str, timeout: float = 10.0
) -> list[dict]:
    """Wait until every connection DescribeClientVpnConnections shows for `client_ip`
    has `status` (a client address is reused once its connection ended); returns them."""
    ec2 = ctx.client("ec2")
    found: list[dict] = []

    def reached() -> bool:
        found[:] = [
            c
            for c in paginate(ec2, "describe_client_vpn_connections", "Connections", ClientVpnEndpointId=endpoint_id)
            if c.get("ClientIp") == client_ip
        ]
        return bool(found) and all(c["Status"]["Code"] == status for c in found)

    poll(reached, timeout=timeout, interval=0.1)
    return found


def deploy(
    ctx: AwsContext, endpoint_id: str, p: Pki, profile: Path, online_timeout: float = ONLINE_TIMEOUT_S
) -> HostSteps:
    """With hosts.remote_user: that machine connects with the profile through SSM
    Run Command, pings a VPC host and the on-prem hosts, resolves a private name,
    disconnects. Otherwise say what to do with the profile."""
    if ctx.params.hosts.remote_user is None:
        reason = "no hosts.remote_user in the params (a remote machine with OpenVPN, reached through SSM)"
        table = nothing_here(
            reason,
            "import the profile into the AWS VPN Client (or OpenVPN 2.6) on a remote "
            "machine and connect, or name that machine as hosts.remote_user",
        )
        return HostSteps(False, reason, table, ctx.host_plane)
    key_parameter = store_client_key(ctx, p)
    attempt = try_from(
        ctx,
        REMOTE_USER,
        endpoint_id,
        profile_without_key(profile, p),
        key_parameter,
        remote_checks(ctx),
        online_timeout,
    )
    where = f"{attempt.role} {attempt.instance_id or attempt.host}" + (
        f" ({attempt.address})" if attempt.address else ""
    )
    rows = [
        {"step": "client key in Parameter Store", "ok": True, "result": f"{key_parameter} (SecureString)"},
        {
            "step": f"{where} connects with the profile",
            "ok": attempt.connected,
            "result": f"{attempt.outcome}: {attempt.client_ip or attempt.message}",
        },
    ]
    rows += [{"step": c["check"], "ok": c["ok"], "result": c["detail"]} for c in attempt.checks]
    if attempt.connected:
        rows.append({"step": "disconnect", "ok": True, "result": "terminated, as DescribeClientVpnConnections shows"})
    return HostSteps(
        all(r["ok"] for r in rows),
        "",
        pd.DataFrame(rows, columns=["step", "ok", "result"]),
        ctx.host_plane,
        attempts=[attempt.to_dict()],
    )


def result(res: ClientVpnResult, deployment: HostSteps, run_dir: Path) -> dict:
    e = res.endpoint
    return {
        "client_vpn_endpoint_id": res.endpoint_id,
        "status": e["Status"]["Code"],
        "dns_name": e["DnsName"],
        "client_cidr": e["ClientCidrBlock"],
        "split_tunnel": e["SplitTunnel"],
        "dns_servers": e.get("DnsServers", []),
        "connection_log": {
            k: v
            for k, v in e.get("ConnectionLogOptions", {}).items()
            if k in ("Enabled", "CloudwatchLogGroup", "CloudwatchLogStream")
        },
        "certificates": {
            role: {"arn": c.arn, "action": c.action, "fingerprint": c.fingerprint}
            for role, c in res.certificates.items()
        },
        "target_networks": sorted(n["TargetNetworkId"] for n in res.target_networks),
        "authorization_rules": sorted(r["DestinationCidr"] for r in res.rules),
        "routes": sorted({f"{r['DestinationCidr']} via {r['TargetSubnet']}" for r in res.routes}),
        "profile": str(res.profile.path),
        "profile_mode": res.profile.mode,
        "created": res.created,
        "changed": res.changed,
        "host_plane": deployment.host_plane,
        "remote_user": deployment.attempts[0] if deployment.attempts else None,
        "remote_user_not_tried": deployment.reason,
    }
