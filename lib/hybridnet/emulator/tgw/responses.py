"""CreateTransitGatewayVpcAttachment keeps the tags it is given.

moto's response reads the TagSpecifications of resource type
"transit-gateway-route-table" (copied from CreateTransitGatewayRouteTable)
where AWS's is "transit-gateway-attachment", so the attachment's tags were
dropped: neither the create call nor DescribeTransitGatewayVpcAttachments
returned them. Installed into moto's TransitGatewayAttachment responses.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.ec2.responses.transit_gateway_attachments import TransitGatewayAttachment

ATTACHMENT_RESOURCE_TYPE = "transit-gateway-attachment"


class TaggedVpcAttachmentResponses(TransitGatewayAttachment):
    def create_transit_gateway_vpc_attachment(self) -> ActionResult:
        attachment = self.ec2_backend.create_transit_gateway_vpc_attachment(
            transit_gateway_id=self._get_param("TransitGatewayId"),
            tags=self._parse_tag_specification().get(ATTACHMENT_RESOURCE_TYPE, {}),
            vpc_id=self._get_param("VpcId"),
            subnet_ids=self._get_param("SubnetIds", []),
            options=self._get_param("Options", {}),
        )
        return ActionResult({"TransitGatewayVpcAttachment": attachment})
