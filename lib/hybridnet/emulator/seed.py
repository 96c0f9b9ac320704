"""The emulator's starting state: what the seed lab already had on AWS before
phase 1 (VPC with subnets in two AZs, a transit gateway attached to it, a
private hosted zone with web1/web2, and the EC2 instances the engineer reaches
with Session Manager: the IDC's router, DNS server and server in an "IDC" VPC
with the on-prem CIDR, a web server in the VPC, and two remote workers'
machines on the "internet", 192.0.2.0/24, one at an address the connect
handler's policy allows and one elsewhere). Created through boto3,
like a user would, and only once: later calls find it by its baseline tag.
The hosts have the IAM instance profile an SSM-managed instance needs to read
the suite's secrets (SSM_PROFILE): their SSM commands get its role's
credentials from the emulator, as an instance gets them from its metadata.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING

from ..aws import BASELINE_TAG
from ..handlers import REMOTE_USER_IPS

if TYPE_CHECKING:
    from ..aws import AwsContext


# One existing environment per emulator, whatever the stack name: like a
# real account, where several stacks may share one VPC and transit gateway.
BASELINE = "seed"


def _tags(ctx: AwsContext, name: str) -> list[dict]:
    return [{"Key": BASELINE_TAG, "Value": BASELINE}, {"Key": "Name", "Value": f"seed-{name}"}]


# The seed hosts' instance profile, and its role (same name): what an SSM-managed
# instance needs to read the suite's parameters (SecureStrings included).
SSM_PROFILE = "seed-idc-ssm"
SSM_ROLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SSM_ROLE_POLICY_NAME = "read-hybridnet-parameters"
# kms:Decrypt without a kms:ViaService condition: the emulator's policy evaluation
# (moto's) evaluates no condition of an identity policy, so the condition would
# only pretend to restrict it. On AWS, add
# "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"}}.
SSM_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadHybridnetParameters",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"],
            "Resource": "arn:aws:ssm:*:*:parameter/hybridnet/*",
        },
        {"Sid": "DecryptSecureStrings", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
    ],
}


def ensure_baseline(ctx: AwsContext) -> dict:
    ec2 = ctx.client("ec2")
    p = ctx.params
    baseline = [{"Name": f"tag:{BASELINE_TAG}", "Values": [BASELINE]}]

    vpcs = ec2.describe_vpcs(Filters=baseline + [{"Name": "cidr-block", "Values": [p.vpc.cidr]}])["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(
            CidrBlock=p.vpc.cidr, TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags(ctx, "vpc")}]
        )["Vpc"]["VpcId"]

    existing = {
        s["CidrBlock"]: s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    }
    subnet_ids = {}
    for subnet in p.vpc.subnets:
        subnet_ids[subnet.name] = (
            existing.get(subnet.cidr)
            or ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=subnet.cidr,
                AvailabilityZone=subnet.az,
                TagSpecifications=[{"ResourceType": "subnet", "Tags": _tags(ctx, subnet.name)}],
            )["Subnet"]["SubnetId"]
        )

    tgws = [
        t
        for t in ec2.describe_transit_gateways(Filters=baseline)["TransitGateways"]
        if t["State"] in ("pending", "available") and t["Options"]["AmazonSideAsn"] == p.transit_gateway.amazon_side_asn
    ]
    if tgws:
        tgw_id = tgws[0]["TransitGatewayId"]
    else:
        tgw_id = ec2.create_transit_gateway(
            Description=p.transit_gateway.description,
            Options={
                "AmazonSideAsn": p.transit_gateway.amazon_side_asn,
                "DefaultRouteTableAssociation": "enable",
                "DefaultRouteTablePropagation": "enable",
            },
            TagSpecifications=[{"ResourceType": "transit-gateway", "Tags": _tags(ctx, "tgw")}],
        )["TransitGateway"]["TransitGatewayId"]

    attachments = ec2.describe_transit_gateway_vpc_attachments(
        Filters=[{"Name": "transit-gateway-id", "Values": [tgw_id]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )
    if not [a for a in attachments["TransitGatewayVpcAttachments"] if a["State"] != "deleted"]:
        one_per_az: dict[str, str] = {}
        for subnet in p.vpc.subnets:
            one_per_az.setdefault(subnet.az, subnet_ids[subnet.name])
        attachment = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=tgw_id,
            VpcId=vpc_id,
            SubnetIds=list(one_per_az.values()),
            TagSpecifications=[{"ResourceType": "transit-gateway-attachment", "Tags": _tags(ctx, "vpc-attachment")}],
        )["TransitGatewayVpcAttachment"]
        route_table = ec2.describe_transit_gateways(TransitGatewayIds=[tgw_id])["TransitGateways"][0]["Options"][
            "PropagationDefaultRouteTableId"
        ]
        ec2.enable_transit_gateway_route_table_propagation(
            TransitGatewayRouteTableId=route_table, TransitGatewayAttachmentId=attachment["TransitGatewayAttachmentId"]
        )

    zone_id = None
    if p.dns:
        zone_id = _ensure_private_zone(ctx, vpc_id)
    instances = _ensure_host_instances(ctx, vpc_id, subnet_ids)
    return {
        "vpc_id": vpc_id,
        "subnet_ids": subnet_ids,
        "transit_gateway_id": tgw_id,
        "hosted_zone_id": zone_id,
        "instances": instances,
    }


def _host_addresses(ctx: AwsContext, vpc_subnets: dict[str, str]) -> dict[str, tuple[str, str]]:
    """role -> (where: "idc-router" | "idc-servers" | VPC subnet name, private IP), as in the seed:
    the router in the IDC's first /24, the DNS server and the IDC server in the
    DNS server's /24, the VPC host at the private zone's first record (web1)."""
    p = ctx.params
    onprem = ipaddress.ip_network(p.onprem.cidr)
    servers = ipaddress.ip_network(f"{p.onprem.dns_server}/24", strict=False)
    router_net = next(n for n in onprem.subnets(new_prefix=max(24, onprem.prefixlen)) if n != servers)
    out = {
        "router": ("idc-router", str(router_net.network_address + 10)),
        "onprem_dns": ("idc-servers", p.onprem.dns_server),
    }
    client_ip = next((ip for ip in p.onprem.hosts.values() if ipaddress.ip_address(ip) in servers), None)
    out["onprem_client"] = ("idc-servers", client_ip or str(servers.network_address + 20))
    records = list(p.dns.records.values()) if p.dns else []
    for subnet in p.vpc.subnets:
        net = ipaddress.ip_network(subnet.cidr)
        ip = next((r for r in records if ipaddress.ip_address(r) in net), None)
        if ip:
            out["vpc_client"] = (subnet.name, ip)
            break
    else:
        first = p.vpc.subnets[-1]
        out["vpc_client"] = (first.name, str(ipaddress.ip_network(first.cidr).network_address + 10))
    out["remote_user"] = ("remote", REMOTE_USER_IPS["user"])
    out["remote_user_away"] = ("remote", REMOTE_USER_IPS["guest"])
    return out


# The seed lab's hosts (params/lab.yaml's `hosts:` names them); the Name tags are fixed,
# like the rest of the seed: params naming other instances find none here, as on an account.
HOST_NAMES = {
    "router": "seed-idc-router",
    "onprem_dns": "seed-idc-dns",
    "onprem_client": "seed-idc-websrv",
    "vpc_client": "seed-web1",
    "remote_user": "seed-remote-home",
    "remote_user_away": "seed-remote-hotel",
}
# Where the remote workers' machines live: a VPC standing for the internet, with
# the documentation range the lab's remote users have.
REMOTE_CIDR = "192.0.2.0/24"


def _ensure_ssm_instance_profile(ctx: AwsContext) -> str:
    """The instance profile SSM_PROFILE with its role (trusting EC2, allowed to read
    /hybridnet/* parameters), created once; its name."""
    iam = ctx.client("iam")
    missing = iam.exceptions.NoSuchEntityException
    try:
        iam.get_role(RoleName=SSM_PROFILE)
    except missing:
        iam.create_role(
            RoleName=SSM_PROFILE,
            AssumeRolePolicyDocument=json.dumps(SSM_ROLE_TRUST),
            Description="The seed hosts' instance profile role: read the suite's SSM parameters",
            Tags=_tags(ctx, "idc-ssm"),
        )
    try:
        policy = iam.get_role_policy(RoleName=SSM_PROFILE, PolicyName=SSM_ROLE_POLICY_NAME)["PolicyDocument"]
    except missing:
        policy = None
    if isinstance(policy, str):
        policy = json.loads(policy)
    if policy != SSM_ROLE_POLICY:
        iam.put_role_policy(
            RoleName=SSM_PROFILE, PolicyName=SSM_ROLE_POLICY_NAME, PolicyDocument=json.dumps(SSM_ROLE_POLICY)
        )
    try:
        profile = iam.get_instance_profile(InstanceProfileName=SSM_PROFILE)["InstanceProfile"]
    except missing:
        profile = iam.create_instance_profile(InstanceProfileName=SSM_PROFILE, Tags=_tags(ctx, "idc-ssm"))[
            "InstanceProfile"
        ]
    if not profile.get("Roles"):
        iam.add_role_to_instance_profile(InstanceProfileName=SSM_PROFILE, RoleName=SSM_PROFILE)
    return SSM_PROFILE


def _ensure_host_instances(ctx: AwsContext, vpc_id: str, vpc_subnets: dict[str, str]) -> dict[str, str]:
    """The seed's hosts as EC2 instances (role -> instance id), with the instance profile SSM_PROFILE."""
    wanted = HOST_NAMES
    ec2 = ctx.client("ec2")
    profile = _ensure_ssm_instance_profile(ctx)
    baseline = [{"Name": f"tag:{BASELINE_TAG}", "Values": [BASELINE]}]
    existing = {}
    for reservation in ec2.describe_instances(
        Filters=baseline + [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]:
        for instance in reservation["Instances"]:
            name = next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), None)
            existing[name] = instance["InstanceId"]
    addresses = _host_addresses(ctx, vpc_subnets)
    idc_subnets: dict[str, str] = {}
    image_id = None
    out = {}
    with_profile = {
        a["InstanceId"]
        for a in ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "state", "Values": ["associating", "associated"]}]
        )["IamInstanceProfileAssociations"]
    }
    for role, name in wanted.items():
        if name in existing:
            out[role] = existing[name]
            if existing[name] not in with_profile:  # seeded before the hosts had one
                ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": profile}, InstanceId=existing[name])
            continue
        where, ip = addresses[role]
        if where.startswith("idc-"):
            if not idc_subnets:
                idc_subnets = _ensure_idc_network(ctx, addresses)
            subnet_id = idc_subnets[where]
        elif where == "remote":
            subnet_id = _ensure_remote_network(ctx)
        else:
            subnet_id = vpc_subnets[where]
        if image_id is None:
            images = ec2.describe_images(
                Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}]
            )["Images"]
            image_id = images[0]["ImageId"] if images else "ami-12c6146b"
        out[role] = ec2.run_instances(
            ImageId=image_id,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet_id,
            PrivateIpAddress=ip,
            IamInstanceProfile={"Name": profile},
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [
                        {"Key": BASELINE_TAG, "Value": BASELINE},
                        {"Key": "Name", "Value": name},
                        {"Key": "hybridnet:role", "Value": role},
                    ],
                }
            ],
        )["Instances"][0]["InstanceId"]
    return out


def _ensure_idc_network(ctx: AwsContext, addresses: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The seed's "on-prem IDC": a VPC with the on-prem CIDR, a subnet for the
    router and one for the servers."""
    ec2 = ctx.client("ec2")
    p = ctx.params
    baseline = [{"Name": f"tag:{BASELINE_TAG}", "Values": [BASELINE]}]
    vpcs = ec2.describe_vpcs(Filters=baseline + [{"Name": "cidr-block", "Values": [p.onprem.cidr]}])["Vpcs"]
    vpc_id = (
        vpcs[0]["VpcId"]
        if vpcs
        else ec2.create_vpc(
            CidrBlock=p.onprem.cidr, TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags(ctx, "idc-vpc")}]
        )["Vpc"]["VpcId"]
    )
    existing = {
        s["CidrBlock"]: s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    }
    out = {}
    for where, (_, ip) in {w: (w, ip) for w, ip in addresses.values() if w.startswith("idc-")}.items():
        cidr = str(ipaddress.ip_network(f"{ip}/24", strict=False))
        out[where] = (
            existing.get(cidr)
            or ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=cidr,
                AvailabilityZone=p.vpc.subnets[0].az,
                TagSpecifications=[{"ResourceType": "subnet", "Tags": _tags(ctx, where)}],
            )["Subnet"]["SubnetId"]
        )
        existing[cidr] = out[where]
    return out


def _ensure_remote_network(ctx: AwsContext) -> str:
    """The remote workers' "internet": one VPC and subnet with REMOTE_CIDR; the subnet's id."""
    ec2 = ctx.client("ec2")
    baseline = [{"Name": f"tag:{BASELINE_TAG}", "Values": [BASELINE]}]
    vpcs = ec2.describe_vpcs(Filters=baseline + [{"Name": "cidr-block", "Values": [REMOTE_CIDR]}])["Vpcs"]
    vpc_id = (
        vpcs[0]["VpcId"]
        if vpcs
        else ec2.create_vpc(
            CidrBlock=REMOTE_CIDR, TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags(ctx, "remote-vpc")}]
        )["Vpc"]["VpcId"]
    )
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    if subnets:
        return subnets[0]["SubnetId"]
    return ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock=REMOTE_CIDR,
        AvailabilityZone=ctx.params.vpc.subnets[0].az,
        TagSpecifications=[{"ResourceType": "subnet", "Tags": _tags(ctx, "remote")}],
    )["Subnet"]["SubnetId"]


def _ensure_private_zone(ctx: AwsContext, vpc_id: str) -> str:
    r53 = ctx.client("route53")
    p = ctx.params
    assert p.dns is not None  # called only for a stack with a DNS section (`if p.dns` above)
    zone_name = p.dns.private_zone + "."
    zones = r53.list_hosted_zones_by_name(DNSName=zone_name)["HostedZones"]
    zone = next((z for z in zones if z["Name"] == zone_name and z["Config"].get("PrivateZone")), None)
    if zone:
        return zone["Id"].split("/")[-1]
    zone = r53.create_hosted_zone(
        Name=zone_name,
        CallerReference=f"hybridnet-baseline-{zone_name}",
        HostedZoneConfig={"Comment": f"{BASELINE_TAG}={BASELINE}", "PrivateZone": True},
        VPC={"VPCRegion": p.region, "VPCId": vpc_id},
    )["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{host}.{zone_name}",
                        "Type": "A",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": ip}],
                    },
                }
                for host, ip in p.dns.records.items()
            ]
        },
    )
    return zone_id


__all__ = ["ensure_baseline"]
