"""Facts read from the AWS API that name a cause where no log does: who the
Resolver endpoints' security group admits, whether the forwarding rule is
associated with the VPC, and when the Client VPN certificates expire (AWS logs
no failed mutual-TLS attempt, so an expired certificate shows nowhere else)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..aws import AwsContext, paginate

FACT_COLUMNS = ["subject", "text", "ok"]
CERTIFICATE_COLUMNS = ["endpoint_id", "role", "certificate", "domain", "not_after", "days_left"]


def resolver_facts(ctx: AwsContext) -> pd.DataFrame:
    """The endpoints' group admits UDP and TCP 53 from on-prem; the stack's forwarding
    rule is associated with the VPC. Empty when phase 3 built nothing (the DNS
    checks say so themselves)."""
    from ..phases import PhaseError, find_vpc, hybrid_dns

    rows = []
    try:
        vpc_id = find_vpc(ctx)["VpcId"]
    except PhaseError:
        return pd.DataFrame(columns=FACT_COLUMNS)
    onprem = ctx.params.onprem.cidr
    group = hybrid_dns.find_security_group(ctx, vpc_id)
    if group is not None:
        have = {
            (p.get("IpProtocol"), r["CidrIp"])
            for p in group.get("IpPermissions", [])
            if p.get("IpProtocol") == "-1" or p.get("FromPort", 0) <= hybrid_dns.DNS_PORT <= p.get("ToPort", -1)
            for r in p.get("IpRanges", [])
        }
        for proto in ("udp", "tcp"):
            admitted = (proto, onprem) in have or ("-1", onprem) in have
            rows.append(
                {
                    "subject": group["GroupId"],
                    "ok": admitted,
                    "text": f"security group {group['GroupId']} admits {proto}/53 from {onprem}"
                    if admitted
                    else f"security group {group['GroupId']} admits no {proto}/53 from {onprem} (the on-prem network)",
                }
            )
    rule = hybrid_dns.find_forward_rule(ctx)
    if rule is not None:
        associated = hybrid_dns.find_rule_association(ctx, rule["Id"], vpc_id) is not None
        domain = rule["DomainName"].rstrip(".")
        rows.append(
            {
                "subject": rule["Id"],
                "ok": associated,
                "text": f"forwarding rule {rule['Id']} for {domain} is "
                f"{'associated' if associated else 'not associated'} with {vpc_id}",
            }
        )
    return pd.DataFrame(rows, columns=FACT_COLUMNS)


def certificates_frame(ctx: AwsContext, endpoint_ids: list[str], now: dt.datetime | None = None) -> pd.DataFrame:
    """The server certificate and the client certificate chain of each endpoint, with
    the days left before they expire (negative: expired)."""
    from ..phases.client_vpn import client_root_chain_arn

    if not endpoint_ids:
        return pd.DataFrame(columns=CERTIFICATE_COLUMNS)
    now = now or dt.datetime.now(dt.UTC)
    ec2, acm = ctx.client("ec2"), ctx.client("acm")
    rows = []
    for endpoint in paginate(
        ec2, "describe_client_vpn_endpoints", "ClientVpnEndpoints", ClientVpnEndpointIds=endpoint_ids
    ):
        for role, arn in (
            ("server", endpoint.get("ServerCertificateArn")),
            ("client chain", client_root_chain_arn(endpoint)),
        ):
            if not arn:
                continue
            described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
            not_after = described.get("NotAfter")
            days = None if not_after is None else (not_after - now).total_seconds() / 86400
            rows.append(
                {
                    "endpoint_id": endpoint["ClientVpnEndpointId"],
                    "role": role,
                    "certificate": arn.rsplit("/", 1)[-1],
                    "domain": described.get("DomainName", ""),
                    "not_after": not_after,
                    "days_left": None if days is None else round(days, 1),
                }
            )
    return pd.DataFrame(rows, columns=CERTIFICATE_COLUMNS)


__all__ = ["CERTIFICATE_COLUMNS", "FACT_COLUMNS", "certificates_frame", "resolver_facts"]
