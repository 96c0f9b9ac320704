"""CreateVpnConnection that passes `Options` on to the backend (moto drops it),
ModifyVpnTunnelOptions / ModifyVpnConnection, which moto does not have, and
DescribeVpnConnections written from the connections' own description
(core/xmlanswer.py), not looked up member by member by moto's serializer."""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.ec2.responses._base_response import EC2BaseResponse
from moto.ec2.utils import add_tag_specification

from ..core.xmlanswer import Ec2XmlAnswer
from .models import TunnelledVpnConnection


class TunnelledVpnConnectionResponses(EC2BaseResponse):
    def create_vpn_connection(self) -> ActionResult:
        connection = self.ec2_backend.create_vpn_connection(
            self._get_param("Type"),
            self._get_param("CustomerGatewayId"),
            vpn_gateway_id=self._get_param("VpnGatewayId"),
            transit_gateway_id=self._get_param("TransitGatewayId"),
            tags=add_tag_specification(self._get_param("TagSpecifications", [])),
            options=self._get_param("Options", {}),
        )
        if connection.transit_gateway_id:
            self.ec2_backend.create_transit_gateway_vpn_attachment(
                vpn_id=connection.id,
                transit_gateway_id=connection.transit_gateway_id,
            )  # AWS applies the request's tags to the connection only, not to the attachment
        return ActionResult({"VpnConnection": connection})

    def modify_vpn_tunnel_options(self) -> ActionResult:
        connection = self.ec2_backend.modify_vpn_tunnel_options(
            self._get_param("VpnConnectionId"),
            self._get_param("VpnTunnelOutsideIpAddress"),
            self._get_param("TunnelOptions", {}),
        )
        return ActionResult({"VpnConnection": connection})

    def modify_vpn_connection(self) -> ActionResult:
        connection = self.ec2_backend.modify_vpn_connection(
            self._get_param("VpnConnectionId"),
            customer_gateway_id=self._get_param("CustomerGatewayId"),
            transit_gateway_id=self._get_param("TransitGatewayId"),
            vpn_gateway_id=self._get_param("VpnGatewayId"),
        )
        return ActionResult({"VpnConnection": connection})

    def describe_vpn_connections(self) -> ActionResult:
        connections = self.ec2_backend.describe_vpn_connections(
            vpn_connection_ids=self._get_param("VpnConnectionIds", []),
            filters=self._filters_from_querystring(),
        )
        if not all(isinstance(c, TunnelledVpnConnection) for c in connections):
            return ActionResult({"VpnConnections": connections})  # not ours to describe: moto's answer
        return Ec2XmlAnswer({"VpnConnections": [c.described() for c in connections]})
