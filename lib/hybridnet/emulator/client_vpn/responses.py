"""The Client VPN actions of the EC2 query API (moto has none of them).

Each method is named after its action in snake_case and is installed on
moto's EC2Response; it returns the API's own member names, which moto
serialises against botocore's EC2 model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.exceptions import InvalidToken
from moto.core.responses import ActionResult
from moto.ec2.responses._base_response import EC2BaseResponse

from .exceptions import InvalidNextToken, InvalidTagResourceType, UnsupportedByEmulator
from .utils import RESOURCE_TYPE

# Request members the emulator does not implement; using them is an error, not a silent no-op.
UNSUPPORTED = {
    "TransitGatewayConfiguration": "A Client VPN endpoint attached to a transit gateway (TransitGatewayConfiguration)",
    "DevicePostureOptions": "Device posture assessment (DevicePostureOptions)",
}


def _to_api(item: Any) -> dict:
    return item.to_api()


class ClientVpnResponses(EC2BaseResponse):
    def _client_vpn_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for spec in self._get_param("TagSpecifications", []) or []:
            if spec.get("ResourceType") != RESOURCE_TYPE:
                raise InvalidTagResourceType(spec.get("ResourceType"), RESOURCE_TYPE)
            tags.update({t["Key"]: t.get("Value", "") for t in spec.get("Tags", [])})
        return tags

    def _unsupported(self) -> list[str]:
        options = [
            text
            for name, text in UNSUPPORTED.items()
            if self._get_param(name) and (name != "DevicePostureOptions" or self._get_param(name).get("Enabled"))
        ]
        for name in ("EndpointIpAddressType", "TrafficIpAddressType"):
            value = self._get_param(name)
            if value and value != "ipv4":
                options.append(f"{name} {value}")
        if self._get_param("AvailabilityZone") or self._get_param("AvailabilityZoneId"):
            options.append("Associating an Availability Zone (transit gateway endpoints)")
        return options

    def _page(
        self, key: str, describe: Callable[..., tuple[list, str | None]], shape: Callable[[Any], dict], **kwargs: Any
    ) -> ActionResult:
        """One page of a Describe: `describe` is the backend's method (paginated with
        moto's paginator, utils.PAGINATION_MODEL), `shape` gives an item's API shape."""
        next_token = self._get_param("NextToken")
        try:
            items, token = describe(**kwargs, max_results=self._get_int_param("MaxResults"), next_token=next_token)
        except InvalidToken:  # moto's; AWS answers InvalidParameterValue here
            raise InvalidNextToken(next_token) from None
        result: dict[str, Any] = {key: [shape(item) for item in items]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    # -- endpoints
    def create_client_vpn_endpoint(self) -> ActionResult:
        tags = self._client_vpn_tags()
        self.error_on_dryrun()
        endpoint = self.ec2_backend.create_client_vpn_endpoint(
            client_cidr_block=self._get_param("ClientCidrBlock"),
            server_certificate_arn=self._get_param("ServerCertificateArn"),
            authentication_options=self._get_param("AuthenticationOptions", []),
            connection_log_options=self._get_param("ConnectionLogOptions"),
            dns_servers=self._get_param("DnsServers", []),
            transport_protocol=self._get_param("TransportProtocol"),
            vpn_port=self._get_param("VpnPort"),
            description=self._get_param("Description"),
            split_tunnel=self._get_param("SplitTunnel"),
            security_group_ids=self._get_param("SecurityGroupIds", []),
            vpc_id=self._get_param("VpcId"),
            self_service_portal=self._get_param("SelfServicePortal"),
            client_connect_options=self._get_param("ClientConnectOptions"),
            session_timeout_hours=self._get_param("SessionTimeoutHours"),
            client_login_banner_options=self._get_param("ClientLoginBannerOptions"),
            client_route_enforcement_options=self._get_param("ClientRouteEnforcementOptions"),
            disconnect_on_session_timeout=self._get_param("DisconnectOnSessionTimeout"),
            tags=tags,
            client_token=self._get_param("ClientToken"),
            unsupported_options=self._unsupported(),
        )
        return ActionResult(
            {"ClientVpnEndpointId": endpoint.id, "Status": {"Code": "pending-associate"}, "DnsName": endpoint.dns_name}
        )

    def describe_client_vpn_endpoints(self) -> ActionResult:
        self.error_on_dryrun()
        return self._page(
            "ClientVpnEndpoints",
            self.ec2_backend.describe_client_vpn_endpoints,
            _to_api,
            endpoint_ids=self._get_param("ClientVpnEndpointIds", []),
            filters=self._filters_from_querystring(),
        )

    def modify_client_vpn_endpoint(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.modify_client_vpn_endpoint(
            self._get_param("ClientVpnEndpointId"),
            server_certificate_arn=self._get_param("ServerCertificateArn"),
            connection_log_options=self._get_param("ConnectionLogOptions"),
            dns_servers=self._get_param("DnsServers"),
            vpn_port=self._get_param("VpnPort"),
            description=self._get_param("Description"),
            split_tunnel=self._get_param("SplitTunnel"),
            security_group_ids=self._get_param("SecurityGroupIds", []),
            vpc_id=self._get_param("VpcId"),
            self_service_portal=self._get_param("SelfServicePortal"),
            client_connect_options=self._get_param("ClientConnectOptions"),
            session_timeout_hours=self._get_param("SessionTimeoutHours"),
            client_login_banner_options=self._get_param("ClientLoginBannerOptions"),
            client_route_enforcement_options=self._get_param("ClientRouteEnforcementOptions"),
            disconnect_on_session_timeout=self._get_param("DisconnectOnSessionTimeout"),
            unsupported_options=self._unsupported(),
        )
        return ActionResult({"Return": True})

    def delete_client_vpn_endpoint(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.delete_client_vpn_endpoint(self._get_param("ClientVpnEndpointId"))
        return ActionResult({"Status": {"Code": "deleting"}})

    def apply_security_groups_to_client_vpn_target_network(self) -> ActionResult:
        self.error_on_dryrun()
        groups = self.ec2_backend.apply_security_groups_to_client_vpn_target_network(
            self._get_param("ClientVpnEndpointId"), self._get_param("VpcId"), self._get_param("SecurityGroupIds", [])
        )
        return ActionResult({"SecurityGroupIds": groups})

    def export_client_vpn_client_configuration(self) -> ActionResult:
        self.error_on_dryrun()
        text = self.ec2_backend.export_client_vpn_client_configuration(self._get_param("ClientVpnEndpointId"))
        return ActionResult({"ClientConfiguration": text})

    # -- target networks
    def associate_client_vpn_target_network(self) -> ActionResult:
        self.error_on_dryrun()
        unsupported = self._unsupported()
        if unsupported:
            raise UnsupportedByEmulator(unsupported[0])
        network = self.ec2_backend.associate_client_vpn_target_network(
            self._get_param("ClientVpnEndpointId"), self._get_param("SubnetId"), self._get_param("ClientToken")
        )
        return ActionResult({"AssociationId": network.association_id, "Status": {"Code": "associating"}})

    def describe_client_vpn_target_networks(self) -> ActionResult:
        self.error_on_dryrun()
        return self._page(
            "ClientVpnTargetNetworks",
            self.ec2_backend.describe_client_vpn_target_networks,
            _to_api,
            endpoint_id=self._get_param("ClientVpnEndpointId"),
            association_ids=self._get_param("AssociationIds", []),
            filters=self._filters_from_querystring(),
        )

    def disassociate_client_vpn_target_network(self) -> ActionResult:
        self.error_on_dryrun()
        network = self.ec2_backend.disassociate_client_vpn_target_network(
            self._get_param("ClientVpnEndpointId"), self._get_param("AssociationId")
        )
        return ActionResult({"AssociationId": network.association_id, "Status": {"Code": "disassociating"}})

    # -- authorization rules
    def authorize_client_vpn_ingress(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.authorize_client_vpn_ingress(
            self._get_param("ClientVpnEndpointId"),
            self._get_param("TargetNetworkCidr"),
            access_group_id=self._get_param("AccessGroupId"),
            authorize_all_groups=self._get_param("AuthorizeAllGroups"),
            description=self._get_param("Description"),
        )
        return ActionResult({"Status": {"Code": "authorizing"}})

    def revoke_client_vpn_ingress(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.revoke_client_vpn_ingress(
            self._get_param("ClientVpnEndpointId"),
            self._get_param("TargetNetworkCidr"),
            access_group_id=self._get_param("AccessGroupId"),
            revoke_all_groups=self._get_param("RevokeAllGroups"),
        )
        return ActionResult({"Status": {"Code": "revoking"}})

    def describe_client_vpn_authorization_rules(self) -> ActionResult:
        self.error_on_dryrun()
        return self._page(
            "AuthorizationRules",
            self.ec2_backend.describe_client_vpn_authorization_rules,
            _to_api,
            endpoint_id=self._get_param("ClientVpnEndpointId"),
            filters=self._filters_from_querystring(),
        )

    # -- routes
    def create_client_vpn_route(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.create_client_vpn_route(
            self._get_param("ClientVpnEndpointId"),
            self._get_param("DestinationCidrBlock"),
            self._get_param("TargetVpcSubnetId"),
            self._get_param("Description"),
        )
        return ActionResult({"Status": {"Code": "creating"}})

    def delete_client_vpn_route(self) -> ActionResult:
        self.error_on_dryrun()
        self.ec2_backend.delete_client_vpn_route(
            self._get_param("ClientVpnEndpointId"),
            self._get_param("DestinationCidrBlock"),
            self._get_param("TargetVpcSubnetId"),
        )
        return ActionResult({"Status": {"Code": "deleting"}})

    def describe_client_vpn_routes(self) -> ActionResult:
        self.error_on_dryrun()
        return self._page(
            "Routes",
            self.ec2_backend.describe_client_vpn_routes,
            _to_api,
            endpoint_id=self._get_param("ClientVpnEndpointId"),
            filters=self._filters_from_querystring(),
        )

    # -- connections
    def describe_client_vpn_connections(self) -> ActionResult:
        self.error_on_dryrun()
        # Already in the API's shape (models.ClientVpnBackend.describe_client_vpn_connections).
        return self._page(
            "Connections",
            self.ec2_backend.describe_client_vpn_connections,
            dict,
            endpoint_id=self._get_param("ClientVpnEndpointId"),
            filters=self._filters_from_querystring(),
        )

    def terminate_client_vpn_connections(self) -> ActionResult:
        self.error_on_dryrun()
        endpoint_id, username = self._get_param("ClientVpnEndpointId"), self._get_param("Username")
        statuses = self.ec2_backend.terminate_client_vpn_connections(
            endpoint_id, connection_id=self._get_param("ConnectionId"), username=username
        )
        result: dict[str, Any] = {"ClientVpnEndpointId": endpoint_id, "ConnectionStatuses": statuses}
        if username:
            result["Username"] = username
        return ActionResult(result)
