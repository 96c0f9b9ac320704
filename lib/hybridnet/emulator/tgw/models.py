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
    def create_transit_gateway_vpn_attachment(
        self, vpn_id: str, transit_gateway_id: str, tags: dict[str, str] | None = None
    ) -> Any:
        attachment = _moto_create_vpn_attachment(self, vpn_id, transit_gateway_id, tags)  # type: ignore[arg-type]
        options = self.transit_gateways[transit_gateway_id].options  # type: ignore[attr-defined]
        if options.get("DefaultRouteTableAssociation") == "enable":
            self.associate_transit_gateway_route_table(  # type: ignore[attr-defined]
                attachment.id, options["AssociationDefaultRouteTableId"]
            )
        if options.get("DefaultRouteTablePropagation") == "enable":
            self.enable_transit_gateway_route_table_propagation(  # type: ignore[attr-defined]
                attachment.id, options["PropagationDefaultRouteTableId"]
            )
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
                    p for p in table.route_table_propagation if p.transitGatewayAttachmentId != attachment.id
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
        # self is moto's TransitGatewayAttachment (a TaggedEC2Resource) once installed, which mypy cannot see
        return TaggedEC2Resource.get_filter_value(
            self,  # type: ignore[arg-type]
            filter_name,
            "DescribeTransitGatewayAttachments",
        )


class FilteringTransitGatewayAttachmentBackend:
    def describe_transit_gateway_attachments(
        self, transit_gateways_attachment_ids: list[str] | None = None, filters: Any = None
    ) -> list:
        attachments = list(self.transit_gateway_attachments.values())  # type: ignore[attr-defined]
        if transit_gateways_attachment_ids:
            attachments = [a for a in attachments if a.id in transit_gateways_attachment_ids]
        return generic_filter(filters, attachments)


_moto_search_routes: Any = None  # set by the installer: moto's own static-route search


class PropagatedRouteSearch:
    """SearchTransitGatewayRoutes with propagated routes, as AWS shows them.

    moto only knows static routes. A route table that an attachment propagates
    to also holds that attachment's prefixes: the VPC's CIDR blocks for a VPC
    attachment, and for a VPN attachment the prefixes the customer gateway
    announces over BGP on tunnels that are UP (reported by the data plane).
    Static routes win over propagated ones for the same prefix.
    """

    def _propagated_routes(self, table: Any) -> list[dict]:
        routes = []
        for propagation in table.route_table_propagation:
            if propagation.state != "enabled":
                continue
            if propagation.resourceType == "vpc":
                vpc = self.vpcs.get(propagation.resourceId)  # type: ignore[attr-defined]
                prefixes = [vpc.cidr_block] if vpc else []
            elif propagation.resourceType == "vpn":
                connection = self.vpn_connections.get(propagation.resourceId)  # type: ignore[attr-defined]
                prefixes = getattr(connection, "propagated_prefixes", []) if connection else []
            else:
                prefixes = []
            for prefix in prefixes:
                routes.append(
                    {
                        "destinationCidrBlock": prefix,
                        "type": "propagated",
                        "state": "active",
                        "transitGatewayAttachments": [
                            {
                                "resourceId": propagation.resourceId,
                                "resourceType": propagation.resourceType,
                                "transitGatewayAttachmentId": propagation.transitGatewayAttachmentId,
                            }
                        ],
                    }
                )
        return routes

    def search_transit_gateway_routes(
        self, transit_gateway_route_table_id: str, filters: Any, max_results: int | None = None
    ) -> list[dict]:
        static = _moto_search_routes(self, transit_gateway_route_table_id, filters, None)
        table = self.transit_gateways_route_tables.get(transit_gateway_route_table_id)  # type: ignore[attr-defined]
        if table is None:
            return static
        have = {r.get("destinationCidrBlock") for r in static}
        wanted = {
            "type": (filters or {}).get("type"),
            "state": (filters or {}).get("state"),
            "destinationCidrBlock": (filters or {}).get("route-search.exact-match"),
        }
        propagated = [
            r
            for r in self._propagated_routes(table)
            if r["destinationCidrBlock"] not in have
            and all(not values or r[key] in values for key, values in wanted.items())
        ]
        routes = static + propagated
        return routes[: int(max_results)] if max_results else routes
