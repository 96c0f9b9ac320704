"""VPN attachments join the TGW's default route table like any attachment.

moto creates the attachment but neither associates it with the default
association route table nor enables propagation to the default propagation
table, and leaves it behind when the VPN connection is deleted. A transit
gateway created with the defaults (DefaultRouteTableAssociation/Propagation =
enable) does both on AWS.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.transit_gateway_attachments import TransitGatewayAttachmentBackend
from moto.ec2.utils import generic_filter

_moto_create_vpn_attachment = TransitGatewayAttachmentBackend.create_transit_gateway_vpn_attachment


class DefaultRouteTableVpnAttachments:
    def create_transit_gateway_vpn_attachment(self, vpn_id: str, transit_gateway_id: str,
                                              tags: dict[str, str] | None = None) -> Any:
        attachment = _moto_create_vpn_attachment(self, vpn_id, transit_gateway_id, tags)  # type: ignore[arg-type]
        options = self.transit_gateways[transit_gateway_id].options  # type: ignore[attr-defined]
        if options.get("DefaultRouteTableAssociation") == "enable":
            self.associate_transit_gateway_route_table(  # type: ignore[attr-defined]
                attachment.id, options["AssociationDefaultRouteTableId"])
        if options.get("DefaultRouteTablePropagation") == "enable":
            self.enable_transit_gateway_route_table_propagation(  # type: ignore[attr-defined]
                attachment.id, options["PropagationDefaultRouteTableId"])
        return attachment

    def release_vpn_attachment(self, vpn_id: str) -> None:
        """The attachment of a deleted VPN connection leaves its route tables."""
        for attachment in self.transit_gateway_attachments.values():  # type: ignore[attr-defined]
            if attachment.resource_id != vpn_id:
                continue
            attachment.state = "deleted"
            for table in self.transit_gateways_route_tables.values():  # type: ignore[attr-defined]
                table.route_table_associations.pop(attachment.id, None)
                table.route_table_propagation = [
                    p for p in table.route_table_propagation
                    if p.transitGatewayAttachmentId != attachment.id
                ]
            self.transit_gateway_associations.pop(attachment.id, None)  # type: ignore[attr-defined]
            self.transit_gateway_propagations.pop(attachment.id, None)  # type: ignore[attr-defined]


class FilterableTransitGatewayAttachment:
    """DescribeTransitGatewayAttachments filters moto ignores (tag:*, state)."""

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        values = {
            "resource-id": self.resource_id,  # type: ignore[attr-defined]
            "resource-type": self.resource_type,  # type: ignore[attr-defined]
            "transit-gateway-id": self.transit_gateway_id,  # type: ignore[attr-defined]
            "transit-gateway-attachment-id": self.id,  # type: ignore[attr-defined]
            "state": self.state,  # type: ignore[attr-defined]
        }
        if filter_name in values:
            return values[filter_name]
        return TaggedEC2Resource.get_filter_value(self, filter_name,  # type: ignore[arg-type]
                                                  "DescribeTransitGatewayAttachments")


class FilteringTransitGatewayAttachmentBackend:
    def describe_transit_gateway_attachments(self, transit_gateways_attachment_ids: list[str] | None = None,
                                             filters: Any = None) -> list:
        attachments = list(self.transit_gateway_attachments.values())  # type: ignore[attr-defined]
        if transit_gateways_attachment_ids:
            attachments = [a for a in attachments if a.id in transit_gateways_attachment_ids]
        return generic_filter(filters, attachments)
