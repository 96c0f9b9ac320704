"""The emulator's starting state: what the seed lab already had on AWS before
phase 1 (VPC with subnets in two AZs, a transit gateway attached to it, a
private hosted zone with web1/web2). Created through boto3, like a user would,
and only once: later calls find it by its baseline tag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..aws import BASELINE_TAG

if TYPE_CHECKING:
    from ..aws import AwsContext


# One existing environment per emulator, whatever the stack name: like a
# real account, where several stacks may share one VPC and transit gateway.
BASELINE = "seed"


def _tags(ctx: "AwsContext", name: str) -> list[dict]:
    return [{"Key": BASELINE_TAG, "Value": BASELINE}, {"Key": "Name", "Value": f"seed-{name}"}]


def ensure_baseline(ctx: "AwsContext") -> dict:
    ec2 = ctx.client("ec2")
    p = ctx.params
    baseline = [{"Name": f"tag:{BASELINE_TAG}", "Values": [BASELINE]}]

    vpcs = ec2.describe_vpcs(Filters=baseline + [{"Name": "cidr-block", "Values": [p.vpc.cidr]}])["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock=p.vpc.cidr, TagSpecifications=[
            {"ResourceType": "vpc", "Tags": _tags(ctx, "vpc")}])["Vpc"]["VpcId"]

    existing = {s["CidrBlock"]: s["SubnetId"] for s in
                ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    subnet_ids = {}
    for subnet in p.vpc.subnets:
        subnet_ids[subnet.name] = existing.get(subnet.cidr) or ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=subnet.cidr, AvailabilityZone=subnet.az,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": _tags(ctx, subnet.name)}],
        )["Subnet"]["SubnetId"]

    tgws = [t for t in ec2.describe_transit_gateways(Filters=baseline)["TransitGateways"]
            if t["State"] in ("pending", "available")
            and t["Options"]["AmazonSideAsn"] == p.transit_gateway.amazon_side_asn]
    if tgws:
        tgw_id = tgws[0]["TransitGatewayId"]
    else:
        tgw_id = ec2.create_transit_gateway(
            Description=p.transit_gateway.description,
            Options={"AmazonSideAsn": p.transit_gateway.amazon_side_asn,
                     "DefaultRouteTableAssociation": "enable", "DefaultRouteTablePropagation": "enable"},
            TagSpecifications=[{"ResourceType": "transit-gateway", "Tags": _tags(ctx, "tgw")}],
        )["TransitGateway"]["TransitGatewayId"]

    attachments = ec2.describe_transit_gateway_vpc_attachments(Filters=[
        {"Name": "transit-gateway-id", "Values": [tgw_id]}, {"Name": "vpc-id", "Values": [vpc_id]}])
    if not [a for a in attachments["TransitGatewayVpcAttachments"] if a["State"] != "deleted"]:
        one_per_az = {}
        for subnet in p.vpc.subnets:
            one_per_az.setdefault(subnet.az, subnet_ids[subnet.name])
        attachment = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=tgw_id, VpcId=vpc_id, SubnetIds=list(one_per_az.values()),
            TagSpecifications=[{"ResourceType": "transit-gateway-attachment", "Tags": _tags(ctx, "vpc-attachment")}],
        )["TransitGatewayVpcAttachment"]
        route_table = ec2.describe_transit_gateways(TransitGatewayIds=[tgw_id])[
            "TransitGateways"][0]["Options"]["PropagationDefaultRouteTableId"]
        ec2.enable_transit_gateway_route_table_propagation(
            TransitGatewayRouteTableId=route_table,
            TransitGatewayAttachmentId=attachment["TransitGatewayAttachmentId"])

    zone_id = None
    if p.dns:
        zone_id = _ensure_private_zone(ctx, vpc_id)
    return {"vpc_id": vpc_id, "subnet_ids": subnet_ids, "transit_gateway_id": tgw_id, "hosted_zone_id": zone_id}


def _ensure_private_zone(ctx: "AwsContext", vpc_id: str) -> str:
    r53 = ctx.client("route53")
    p = ctx.params
    zone_name = p.dns.private_zone + "."
    zones = r53.list_hosted_zones_by_name(DNSName=zone_name)["HostedZones"]
    zone = next((z for z in zones if z["Name"] == zone_name and z["Config"].get("PrivateZone")), None)
    if zone:
        return zone["Id"].split("/")[-1]
    zone = r53.create_hosted_zone(
        Name=zone_name, CallerReference=f"hybridnet-baseline-{zone_name}",
        HostedZoneConfig={"Comment": f"{BASELINE_TAG}={BASELINE}", "PrivateZone": True},
        VPC={"VPCRegion": p.region, "VPCId": vpc_id},
    )["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"{host}.{zone_name}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": ip}]}}
        for host, ip in p.dns.records.items()
    ]})
    return zone_id


__all__ = ["ensure_baseline"]
