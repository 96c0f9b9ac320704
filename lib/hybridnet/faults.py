"""Fault drills in the lab: break one thing on purpose, see the health check catch it.

`hybridnet lab fault <name>` applies a drill, `hybridnet lab fault clear`
undoes every applied drill (recorded in the lab folder, so `clear` works from
another process). Each drill changes exactly one thing, on one side: the
customer gateway's own setup (hn-cgw), the "internet" between it and AWS
(hn-inet), a lab host, or the account through the AWS API as an engineer
would (the lab's agent then plays what the account says, as AWS does). Each
names the verdict it should cause (`expect`) and the cause code the health
check must give that verdict (`cause`, diagnostics.causes). `clear` puts back
exactly what the drill changed, and only that.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import signal
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import dataplane
from .aws import AwsContext
from .waiting import poll
from .workspace import write_private

if TYPE_CHECKING:
    from .pki import Credential

# The drills' undo records; some hold what a file had (a tunnel's key): mode 0600.
STATE_FILE = dataplane.LAB_DIR / "faults.json"


@dataclass(frozen=True)
class Drill:
    name: str
    what: str
    expect: str  # the health check's verdict
    apply: Callable[[AwsContext], dict]
    clear: Callable[[AwsContext, dict], None]
    cause: str = "UNKNOWN"  # the cause code (diagnostics.causes) the health check must name for it
    # False: made through the AWS API (the account keeps it, lab or not); True: made in
    # the lab's namespaces and daemons, gone with the lab (`lab down`).
    in_lab: bool = True


def _tunnel_down(ctx: AwsContext) -> dict:
    from . import lab

    lab.tunnel_down(dataplane.LAB_DIR, 1)
    return {}


def _tunnel_restore(ctx: AwsContext, undo: dict) -> None:
    from . import lab

    lab.tunnel_restore(dataplane.LAB_DIR, 1)


def _bgp_network(ctx: AwsContext, present: bool) -> None:
    from .lab import CGW_NS, netns

    statement = f"{'' if present else 'no '}network {ctx.params.onprem.cidr}"
    commands = [
        "configure terminal",
        f"router bgp {ctx.params.customer_gateway.bgp_asn}",
        "address-family ipv4 unicast",
        statement,
        "end",
    ]
    netns.run(["vtysh", "-N", netns.check_lab_namespace(CGW_NS), *[a for c in commands for a in ("-c", c)]])


def _withdraw_prefix(ctx: AwsContext) -> dict:
    _bgp_network(ctx, present=False)
    return {}


def _announce_prefix(ctx: AwsContext, undo: dict) -> None:
    _bgp_network(ctx, present=True)


def _inbound_cidr(ctx: AwsContext) -> str:
    from .phases import hybrid_dns

    ip = hybrid_dns.dns_params(ctx).inbound_ips[0]
    prefix = next(s.cidr for s in ctx.params.vpc.subnets if ipaddress.ip_address(ip) in ipaddress.ip_network(s.cidr))
    return f"{ip}/{prefix.split('/')[1]}"


def _stop_inbound(ctx: AwsContext) -> dict:
    """The first inbound endpoint IP off hn-vpc's interface, and only it: it is its
    subnet's primary address there, and the outbound endpoint's IP of the same subnet
    (a secondary) must stay (lab.drills.remove_address)."""
    from .lab import VPC_NS
    from .lab.drills import remove_address

    return remove_address(VPC_NS, "vpc", _inbound_cidr(ctx))


def _start_inbound(ctx: AwsContext, undo: dict) -> None:
    from .lab import VPC_NS
    from .lab.drills import restore_address

    restore_address(undo or {"ns": VPC_NS, "dev": "vpc", "address": _inbound_cidr(ctx), "promote_secondaries": "0"})


def _idc_named(signal_number: int) -> int:
    """Pause or resume the lab's on-prem named (recorded by the lab: ours to signal)."""
    from . import lab

    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    name = dataplane.DNS_DAEMONS["onprem"][0]
    record = next(r for r in runtime.daemons if r.name == name and runtime.is_running(r))
    os.kill(record.pid, signal_number)
    return record.pid


def _stop_idc_dns(ctx: AwsContext) -> dict:
    return {"pid": _idc_named(signal.SIGSTOP)}


def _start_idc_dns(ctx: AwsContext, undo: dict) -> None:
    _idc_named(signal.SIGCONT)


def _crash(name: str) -> dict:
    """SIGKILL a lab daemon by the pid the lab recorded (ours to signal), as a crash
    ends it; its record stays, for clear to start it again as it was started."""
    from . import lab

    try:
        return {"pid": lab.LabRuntime.load(dataplane.LAB_DIR).kill(name).pid}
    except (KeyError, RuntimeError) as exc:
        raise ValueError(f"nothing to crash: {exc.args[0]}") from None


def _respawn(name: str, ready: Callable, timeout: float = 10.0, stale: tuple[Path, ...] = ()):
    """Start a crashed lab daemon again exactly as the lab (or the host's systemctl,
    through the lab's agent) started it, without the `stale` files the dead one
    left (not a sign of the new one); back, with the lab's runtime, once
    `ready(runtime)` says so. None when it runs already: `hybridnet lab up` (the
    router's setup, the DNS server's files through SSM) starts it again too."""
    from . import lab

    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    if runtime.is_running(runtime.daemon(name)):
        return None
    for path in stale:
        path.unlink(missing_ok=True)
    record = runtime.respawn(name)
    runtime.wait_ready(record, lambda: ready(runtime), timeout=timeout)
    return runtime


def _cgw(daemon: str) -> str:
    from .lab import CGW_NS

    return f"{daemon}@{CGW_NS}"


def _crash_cgw_charon(ctx: AwsContext) -> dict:
    from .lab import CGW_NS, netns

    # kernel-libipsec's ipsec0 dies with charon, and the tunnel inside addresses the
    # router's setup put there with it: noted, to be put back.
    shown = netns.ip_in(CGW_NS, "-o", "-4", "addr", "show", "dev", "ipsec0", check=False).stdout
    return {**_crash(_cgw("charon")), "ipsec0": re.findall(r"\binet (\S+)", shown)}


def _restart_cgw_charon(ctx: AwsContext, undo: dict) -> None:
    from .lab import CGW_NS, netns
    from .lab.daemons import charon_paths, swanctl, vici_ready

    def ready(runtime) -> bool:
        return (
            vici_ready(charon_paths(runtime, CGW_NS)["vici"])
            and netns.ip_in(CGW_NS, "link", "show", "dev", "ipsec0", check=False).returncode == 0
        )

    runtime = _respawn(_cgw("charon"), ready)
    if runtime is None:
        return
    # What the router's setup does after starting charon: the inside addresses on
    # ipsec0, then its connections and secrets (start_action=start brings them up).
    for address in undo.get("ipsec0", []):
        netns.ip_in(CGW_NS, "addr", "replace", address, "dev", "ipsec0")
    swanctl(runtime, CGW_NS, "--load-all", "--noprompt", "--file", runtime.state["cgw_swanctl_conf"])


def _crash_cgw_bgpd(ctx: AwsContext) -> dict:
    return _crash(_cgw("bgpd"))


def _restart_cgw_bgpd(ctx: AwsContext, undo: dict) -> None:
    from .lab import CGW_NS
    from .lab.daemons import frr_run_dir

    vty = frr_run_dir(CGW_NS) / "bgpd.vty"
    _respawn(_cgw("bgpd"), lambda runtime: vty.exists(), stale=(vty,))


def _crash_onprem_named(ctx: AwsContext) -> dict:
    return _crash(dataplane.DNS_DAEMONS["onprem"][0])


def _restart_onprem_named(ctx: AwsContext, undo: dict) -> None:
    from . import lab

    name = dataplane.DNS_DAEMONS["onprem"][0]
    log = Path(lab.LabRuntime.load(dataplane.LAB_DIR).daemon(name).log)
    offset = log.stat().st_size if log.exists() else 0
    _respawn(name, lambda runtime: dataplane.named_ready(log, offset), timeout=15.0)


def _handler_deny_all(ctx: AwsContext, deny: bool) -> None:
    from .phases import connect_handler

    client = ctx.client("lambda")
    name = connect_handler.function_name(ctx)
    variables = dict(client.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {}))
    if deny:
        variables["HYBRIDNET_DENY_ALL"] = "1"
    else:
        variables.pop("HYBRIDNET_DENY_ALL", None)
    client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def _deny_everybody(ctx: AwsContext) -> dict:
    _handler_deny_all(ctx, deny=True)
    return {}


def _admit_again(ctx: AwsContext, undo: dict) -> None:
    _handler_deny_all(ctx, deny=False)


# --- the connect handler's code, through the Lambda API ----------------------------------------------

# A handler that sleeps this long outlasts Client VPN's 30 s (and the function's own Timeout).
HANDLER_SLEEP_S = 60
BROKEN_HANDLERS = {
    "error": (
        '"""Fault drill handler-error: a connect handler that fails on every request."""\n\n\n'
        "def lambda_handler(event, context):\n"
        '    raise RuntimeError("fault drill handler-error: the connect handler fails on every request")\n'
    ),
    "timeout": (
        '"""Fault drill handler-timeout: a connect handler that answers too late."""\n\n'
        "import time\n\n\n"
        "def lambda_handler(event, context):\n"
        f"    time.sleep({HANDLER_SLEEP_S})\n"
        '    return {"allow": True, "error-msg-on-failed-posture-compliance": "", '
        '"posture-compliance-statuses": [], "schema-version": "v1"}\n'
    ),
}


def broken_handler_package(kind: str) -> bytes:
    """A deployment package with the same module and handler as the real one
    (handlers.HANDLER), whose handler raises ("error") or sleeps past Client VPN's
    30 s ("timeout")."""
    from . import handlers

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            zipfile.ZipInfo(f"{handlers.MODULE_NAME}.py", date_time=(1980, 1, 1, 0, 0, 0)), BROKEN_HANDLERS[kind]
        )
    return buf.getvalue()


def _deploy_handler_code(ctx: AwsContext, package: bytes) -> str:
    """UpdateFunctionCode of the stack's connect handler; its CodeSha256 once updated."""
    from .phases import connect_handler

    client = ctx.client("lambda")
    name = connect_handler.function_name(ctx)
    client.update_function_code(FunctionName=name, ZipFile=package)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return client.get_function_configuration(FunctionName=name)["CodeSha256"]


def _handler_code(kind: str) -> Callable[[AwsContext], dict]:
    def apply(ctx: AwsContext) -> dict:
        from .phases import connect_handler

        name = connect_handler.function_name(ctx)
        before = ctx.client("lambda").get_function_configuration(FunctionName=name)["CodeSha256"]
        return {
            "function": name,
            "code_sha256_before": before,
            "code_sha256": _deploy_handler_code(ctx, broken_handler_package(kind)),
        }

    return apply


def _real_handler_code(ctx: AwsContext, undo: dict) -> None:
    """The real package back (handlers.build_package(), as phase 5 deploys it)."""
    from . import handlers

    _deploy_handler_code(ctx, handlers.build_package())


# --- the Client VPN server certificate, through ACM -----------------------------------------------

EXPIRING_DAYS = 5  # well inside the health check's warning window (thresholds.cert_warn_days)


def _server_certificate(ctx: AwsContext) -> tuple[str, Credential]:
    """The endpoint's server certificate ARN, and the stack's PKI credential that ACM holds
    under it (its key is needed to put it back)."""
    from . import pki
    from .phases import client_vpn

    endpoint = client_vpn.find_endpoint(ctx)
    if endpoint is None:
        raise ValueError("the stack has no Client VPN endpoint: run notebook 04 first")
    arn = endpoint["ServerCertificateArn"]
    body = ctx.client("acm").get_certificate(CertificateArn=arn)["Certificate"]
    directory = client_vpn.pki_dir(ctx)
    try:
        server = pki.load_credential(directory, "server")
    except (OSError, pki.PkiError) as exc:
        raise ValueError(
            f"the stack's PKI in {directory} has no usable server credential ({exc}): run notebook 04 first"
        ) from None
    if pki.Credential(cert_pem=body, key_pem="").fingerprint != server.fingerprint:
        raise ValueError(
            f"ACM's {arn} is not the server certificate of the stack's PKI in {directory}: the drill "
            "could not put it back; run notebook 04 (it re-imports the PKI's) first"
        )
    return arn, server


def _expiring_certificate(ctx: AwsContext) -> dict:
    """ImportCertificate into the same ARN: a server certificate from the stack's CA for the
    same name and key type, valid EXPIRING_DAYS days (nothing written to the PKI folder)."""
    from cryptography import x509

    from . import pki
    from .phases import client_vpn

    arn, server = _server_certificate(ctx)
    ca = pki.load_credential(client_vpn.pki_dir(ctx), "ca")
    try:
        sans = server.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n for n in sans.get_values_for_type(x509.DNSName) if n != server.common_name]
    except x509.ExtensionNotFound:
        names = []
    short = pki.issue_server(ca, server.common_name, san=names, key_type=server.key_type, days=EXPIRING_DAYS)
    ctx.client("acm").import_certificate(
        CertificateArn=arn,
        Certificate=short.cert_pem.encode(),
        PrivateKey=short.key_pem.encode(),
        CertificateChain=short.chain_pem.encode(),
    )
    return {"arn": arn, "fingerprint": server.fingerprint, "not_after": short.not_after.isoformat()}


def _original_certificate(ctx: AwsContext, undo: dict) -> None:
    """ImportCertificate of the original (the PKI's server credential, checked by its
    fingerprint) into the same ARN."""
    from . import pki
    from .phases import client_vpn

    server = pki.load_credential(client_vpn.pki_dir(ctx), "server")
    if server.fingerprint != undo["fingerprint"]:
        raise ValueError(
            f"the PKI's server certificate is no longer the one ACM's {undo['arn']} held before the "
            "drill: run notebook 04 to import the PKI's again"
        )
    ctx.client("acm").import_certificate(
        CertificateArn=undo["arn"],
        Certificate=server.cert_pem.encode(),
        PrivateKey=server.key_pem.encode(),
        CertificateChain=server.chain_pem.encode(),
    )


# --- the customer gateway's strongSwan setup (tunnel 1 only) ------------------------------------

WRONG_PSK = "hybridnet-drill-wrong-key"
# Phase 1 / phase 2 proposals the seed's tunnel options (AES128, SHA1, group 2) do not allow.
WRONG_IKE_PROPOSAL = "aes256-sha512-modp4096"
WRONG_ESP_PROPOSAL = "aes256-sha512-modp4096"


def _not_allowed(phase: int) -> str:
    """The drill's proposal for `phase`, after checking that AWS's side of tunnel 1 (as the
    lab plays it from the tunnel's options: one proposal per allowed combination)
    does not accept it, else the drill would break nothing."""
    from . import lab

    proposal, key = (WRONG_IKE_PROPOSAL, "ike_proposals") if phase == 1 else (WRONG_ESP_PROPOSAL, "esp_proposals")
    allowed = lab.LabRuntime.load(dataplane.LAB_DIR).state.get("spec", {}).get("tunnels", [{}])[0].get(key, [])
    if proposal in allowed:
        raise ValueError(f"tunnel 1's options allow {proposal} in phase {phase}: the drill would break nothing")
    return proposal


def _cgw_tunnel1(**values) -> dict:
    from .lab.drills import set_cgw_tunnel_values

    return {"tunnel": 1, "before": set_cgw_tunnel_values(dataplane.LAB_DIR, 1, **values)}


def _cgw_tunnel_restore(ctx: AwsContext, undo: dict) -> None:
    from .lab.drills import restore_cgw_values

    restore_cgw_values(dataplane.LAB_DIR, undo["tunnel"], undo["before"])


def _psk_mismatch(ctx: AwsContext) -> dict:
    return _cgw_tunnel1(psk=WRONG_PSK)


def _phase1_mismatch(ctx: AwsContext) -> dict:
    return _cgw_tunnel1(proposals=_not_allowed(1))


def _phase2_mismatch(ctx: AwsContext) -> dict:
    return _cgw_tunnel1(esp_proposals=_not_allowed(2))


# --- the customer gateway's BGP ASN -------------------------------------------------------------


def _asn_mismatch(ctx: AwsContext) -> dict:
    """bgpd presents another ASN to AWS's side (one more than the params' customer
    gateway ASN, skipping the transit gateway's)."""
    from .lab.drills import set_cgw_local_as

    wrong = ctx.params.customer_gateway.bgp_asn + 1
    if wrong == ctx.params.transit_gateway.amazon_side_asn:
        wrong += 1
    return set_cgw_local_as(dataplane.LAB_DIR, wrong)


def _asn_restore(ctx: AwsContext, undo: dict) -> None:
    from .lab.drills import restore_cgw_local_as

    restore_cgw_local_as(dataplane.LAB_DIR, undo)


# --- IKE and NAT-T blocked on the way -------------------------------------------------------------


def _block_ike(ctx: AwsContext) -> dict:
    from .lab.drills import block_ike

    return block_ike(dataplane.LAB_DIR)


def _unblock_ike(ctx: AwsContext, undo: dict) -> None:
    """The filter gone; the customer gateway (keyingtries 0, dpd_action restart) would
    come back at its next retransmission, up to a minute later: it initiates now."""
    from .lab.drills import initiate_down_tunnels, unblock_ike

    unblock_ike(dataplane.LAB_DIR)
    initiate_down_tunnels(dataplane.LAB_DIR)


# --- Route 53 Resolver, through the AWS API ------------------------------------------------------

DNS_PORT = 53


def _resolver_group(ctx: AwsContext) -> dict:
    from .phases import find_vpc, hybrid_dns

    group = hybrid_dns.find_security_group(ctx, find_vpc(ctx)["VpcId"])
    if group is None:
        raise ValueError("the stack has no Resolver endpoint security group: run notebook 03 first")
    return group


def _replay_dns_without_agent(ctx: AwsContext) -> None:
    """The lab's agent plays the account's Resolver again within seconds of a change
    (its DNS part reads the endpoints' group and rules every few seconds). A lab brought
    up without its agent (the tests' dataplane.lab_up) does it here, the same way."""
    from . import lab

    if dataplane.twin_status() is not None or not ctx.params.dns:
        return
    # a copy of what runs goes with the lab's logs, as the agent's does
    dataplane.dns_up(ctx, lab.LabRuntime.load(dataplane.LAB_DIR).log_dir / "dns", roles=("resolver",))


def _revoke_dns(ctx: AwsContext) -> dict:
    """RevokeSecurityGroupIngress of every UDP and TCP rule that admits DNS (port 53) from
    the on-prem CIDR (or a network holding it) on the Resolver endpoints' group."""
    group = _resolver_group(ctx)
    onprem = ipaddress.IPv4Network(ctx.params.onprem.cidr)  # Cidr is validated IPv4
    revoked = []
    for perm in group.get("IpPermissions", []):
        if perm.get("IpProtocol") not in ("udp", "tcp") or not perm.get("FromPort", 0) <= DNS_PORT <= perm.get(
            "ToPort", 65535
        ):
            continue
        # IpRanges holds IPv4 ranges only (IPv6 ones are in Ipv6Ranges)
        ranges = [r for r in perm.get("IpRanges", []) if onprem.subnet_of(ipaddress.IPv4Network(r["CidrIp"]))]
        if ranges:
            revoked.append(
                {
                    "IpProtocol": perm["IpProtocol"],
                    "FromPort": perm["FromPort"],
                    "ToPort": perm["ToPort"],
                    "IpRanges": ranges,
                }
            )
    if not revoked:
        raise ValueError(f"security group {group['GroupId']} admits no DNS from {onprem} already")
    ctx.client("ec2").revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=revoked)
    _replay_dns_without_agent(ctx)
    return {"group_id": group["GroupId"], "revoked": revoked}


def _authorize_dns(ctx: AwsContext, undo: dict) -> None:
    """AuthorizeSecurityGroupIngress of exactly what was revoked (a rule back already is kept)."""
    from botocore.exceptions import ClientError

    ec2 = ctx.client("ec2")
    for perm in undo["revoked"]:
        try:
            ec2.authorize_security_group_ingress(GroupId=undo["group_id"], IpPermissions=[perm])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "InvalidPermission.Duplicate":
                raise
    _replay_dns_without_agent(ctx)


def _forward_rule(ctx: AwsContext) -> tuple[dict, str]:
    from .phases import find_vpc, hybrid_dns

    rule = hybrid_dns.find_forward_rule(ctx)
    if rule is None:
        raise ValueError("the stack has no forwarding rule: run notebook 03 first")
    return rule, find_vpc(ctx)["VpcId"]


def _disassociate_rule(ctx: AwsContext) -> dict:
    """DisassociateResolverRule of the stack's forwarding rule from the VPC (the rule stays)."""
    from .phases import hybrid_dns

    rule, vpc_id = _forward_rule(ctx)
    association = hybrid_dns.find_rule_association(ctx, rule["Id"], vpc_id)
    if association is None:
        raise ValueError(f"forwarding rule {rule['Id']} is not associated with {vpc_id} already")
    ctx.client("route53resolver").disassociate_resolver_rule(VPCId=vpc_id, ResolverRuleId=rule["Id"])
    poll(
        lambda: hybrid_dns.find_rule_association(ctx, rule["Id"], vpc_id) is None,
        timeout=30 * ctx.waiter_delay,
        interval=min(ctx.waiter_delay, 1),
    )
    _replay_dns_without_agent(ctx)
    return {
        "rule_id": rule["Id"],
        "vpc_id": vpc_id,
        "association_id": association["Id"],
        "name": association.get("Name", ""),
    }


def _associate_rule(ctx: AwsContext, undo: dict) -> None:
    """AssociateResolverRule again (a new association id), unless associated already."""
    from .phases import hybrid_dns

    rule_id, vpc_id = undo["rule_id"], undo["vpc_id"]
    if hybrid_dns.find_rule_association(ctx, rule_id, vpc_id) is None:
        named = {"Name": undo["name"]} if undo.get("name") else {}
        ctx.client("route53resolver").associate_resolver_rule(ResolverRuleId=rule_id, VPCId=vpc_id, **named)
    poll(
        lambda: (hybrid_dns.find_rule_association(ctx, rule_id, vpc_id) or {}).get("Status") == "COMPLETE",
        timeout=30 * ctx.waiter_delay,
        interval=min(ctx.waiter_delay, 1),
    )
    _replay_dns_without_agent(ctx)


DRILLS: dict[str, Drill] = {
    d.name: d
    for d in (
        Drill(
            "tunnel-down",
            "take tunnel 1 down on the customer gateway (its connection unloaded, its SAs deleted)",
            "WARN tunnels (1 of 2 UP)",
            _tunnel_down,
            _tunnel_restore,
            cause="IKE_DELETED_BY_CGW",
        ),
        Drill(
            "withdraw-prefix",
            "stop announcing the on-prem prefix over BGP",
            "FAIL BGP routes / TGW route to on-prem",
            _withdraw_prefix,
            _announce_prefix,
            cause="BGP_PREFIX_NOT_ANNOUNCED",
        ),
        Drill(
            "inbound-endpoint-down",
            "remove the first inbound endpoint IP in the VPC (that address only)",
            "WARN inbound endpoints (redundancy lost)",
            _stop_inbound,
            _start_inbound,
            # the API still shows the endpoint's two IPs: no log or fact names it
            cause="UNKNOWN",
        ),
        Drill(
            "idc-dns-down",
            "stop (pause) the on-prem DNS server",
            "FAIL hybrid DNS",
            _stop_idc_dns,
            _start_idc_dns,
            cause="ONPREM_DNS_DOWN",
        ),
        Drill(
            "handler-deny-all",
            "make the client connect handler deny everybody",
            "FAIL connect handler (a user the policy admits is denied)",
            _deny_everybody,
            _admit_again,
            cause="HANDLER_DENIED",
            in_lab=False,
        ),
        # Crashes (SIGKILL): the health check names the daemon that is gone, on the host
        # itself, before the tunnels, routes and answers it takes with it.
        Drill(
            "cgw-ike-crash",
            "kill the customer gateway's charon (strongSwan's IKE daemon)",
            "FAIL router daemons (charon not running)",
            _crash_cgw_charon,
            _restart_cgw_charon,
            cause="DAEMON_DOWN",
        ),
        Drill(
            "cgw-bgp-crash",
            "kill the customer gateway's bgpd (FRR)",
            "FAIL router daemons (bgpd not running)",
            _crash_cgw_bgpd,
            _restart_cgw_bgpd,
            cause="DAEMON_DOWN",
        ),
        Drill(
            "onprem-dns-crash",
            "kill the on-prem DNS server's named",
            "FAIL on-prem DNS server (named not running)",
            _crash_onprem_named,
            _restart_onprem_named,
            cause="ONPREM_DNS_DOWN",
        ),
        # The customer gateway's own setup, tunnel 1 only (its swanctl.conf as phase 2
        # deployed it, reloaded; the tunnel negotiated again): AWS's side is untouched.
        Drill(
            "psk-mismatch",
            "give tunnel 1 a wrong pre-shared key on the customer gateway",
            "WARN tunnels (1 of 2 UP)",
            _psk_mismatch,
            _cgw_tunnel_restore,
            cause="IKE_PSK_MISMATCH",
        ),
        Drill(
            "phase1-mismatch",
            f"make the customer gateway propose only {WRONG_IKE_PROPOSAL} for IKE (phase 1) on tunnel 1",
            "WARN tunnels (1 of 2 UP)",
            _phase1_mismatch,
            _cgw_tunnel_restore,
            cause="IKE_PHASE1_NO_PROPOSAL",
        ),
        Drill(
            "phase2-mismatch",
            f"make the customer gateway propose only {WRONG_ESP_PROPOSAL} for ESP (phase 2) on tunnel 1",
            "WARN tunnels (1 of 2 UP)",
            _phase2_mismatch,
            _cgw_tunnel_restore,
            cause="IKE_PHASE2_NO_PROPOSAL",
        ),
        Drill(
            "asn-mismatch",
            "make the customer gateway's bgpd present another ASN (customer_gateway.bgp_asn + 1) "
            "to AWS's side: BGP OPEN refused, IPsec stays up",
            "FAIL BGP routes / TGW route to on-prem",
            _asn_mismatch,
            _asn_restore,
            cause="BGP_ASN_MISMATCH",
        ),
        Drill(
            "ike-blocked",
            "drop UDP 500 and 4500 between the customer gateway and AWS's side (nftables in the lab's "
            "internet): AWS's dead peer detection gives up after its timeout (30 s)",
            "FAIL tunnels (all tunnels DOWN)",
            _block_ike,
            _unblock_ike,
            cause="DPD_TIMEOUT",
        ),
        # Through the AWS API, as an engineer would break it; the lab's agent plays the
        # account's new state (its DNS part re-reads it every few seconds).
        Drill(
            "sg-blocks-dns",
            "revoke DNS (UDP and TCP 53) from the on-prem CIDR on the Resolver endpoints' security group",
            "FAIL inbound endpoints / hybrid DNS",
            _revoke_dns,
            _authorize_dns,
            cause="RESOLVER_SG_BLOCKS_DNS",
            in_lab=False,
        ),
        Drill(
            "rule-disassociated",
            "disassociate the forwarding rule for the on-prem domain from the VPC",
            "FAIL hybrid DNS (the VPC side does not resolve on-prem names)",
            _disassociate_rule,
            _associate_rule,
            cause="RESOLVER_RULE_NOT_ASSOCIATED",
            in_lab=False,
        ),
        Drill(
            "handler-error",
            "deploy connect handler code that raises (Lambda UpdateFunctionCode)",
            "FAIL connect handler (a user the policy admits is denied)",
            _handler_code("error"),
            _real_handler_code,
            cause="HANDLER_ERROR",
            in_lab=False,
        ),
        Drill(
            "handler-timeout",
            f"deploy connect handler code that sleeps {HANDLER_SLEEP_S} s, past Client VPN's 30 s "
            "(Lambda UpdateFunctionCode)",
            "FAIL connect handler (a user the policy admits is denied)",
            _handler_code("timeout"),
            _real_handler_code,
            cause="HANDLER_TIMEOUT",
            in_lab=False,
        ),
        Drill(
            "cert-expiring",
            f"re-import the Client VPN server certificate (same ARN) with one from the stack's CA "
            f"that expires in {EXPIRING_DAYS} days",
            f"WARN certificates (expires in {EXPIRING_DAYS} days)",
            _expiring_certificate,
            _original_certificate,
            cause="CERT_EXPIRING",
            in_lab=False,
        ),
    )
}


def _load() -> dict[str, dict]:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _save(state: dict[str, dict]) -> None:
    write_private(STATE_FILE, json.dumps(state))


def apply(ctx: AwsContext, name: str) -> Drill:
    if name not in DRILLS:
        raise ValueError(f"unknown fault {name!r}; choose from {', '.join(DRILLS)} (or clear)")
    if not dataplane.lab_running():
        raise ValueError("fault drills need the lab: run hybridnet lab up (as root) first")
    state = _load()
    if name not in state:
        state[name] = DRILLS[name].apply(ctx)
        _save(state)
    return DRILLS[name]


def clear(ctx: AwsContext) -> list[str]:
    """Undo every applied drill. One made in the lab when the lab is gone (`lab down`
    took it with the namespaces and daemons it changed) is forgotten; one made through
    the AWS API is undone whether the lab runs or not."""
    state = _load()
    cleared = []
    lab_gone = not dataplane.lab_running()
    for name in list(state):
        undo = state[name]
        if not (DRILLS[name].in_lab and lab_gone):
            DRILLS[name].clear(ctx, undo)
        state.pop(name)
        _save(state)
        cleared.append(name)
    return cleared


def active() -> list[str]:
    return list(_load())
