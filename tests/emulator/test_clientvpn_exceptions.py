"""Client VPN's typed errors answer AWS's codes with the messages the emulator has
always given (no emulator needed: each is built and read)."""

from __future__ import annotations

import pytest
from hybridnet.emulator.client_vpn import exceptions as e
from hybridnet.emulator.client_vpn.utils import (
    CONNECTION_STATUSES,
    MAX_CLIENT_PREFIX,
    MIN_CLIENT_PREFIX,
    SELF_SERVICE_PORTAL,
    SESSION_TIMEOUT_HOURS,
    TRANSPORT_PROTOCOLS,
    VPN_PORTS,
)
from moto.ec2.exceptions import EC2ClientError

EP, SUBNET, CIDR = "cvpn-endpoint-0123456789abcdef0", "subnet-0123456789abcdef0", "192.168.0.0/16"
ARN = "arn:aws:acm:ap-northeast-2:123456789012:certificate/abc"
FN = "arn:aws:lambda:ap-northeast-2:123456789012:function:AWSClientVPN-x"

CASES = [
    (e.MissingParameterError("SubnetId"), "MissingParameter", "The request must contain the parameter SubnetId"),
    (e.InvalidGroupNotFound("sg-1"), "InvalidGroup.NotFound", "The security group 'sg-1' does not exist"),
    (e.InvalidParameterValue("anything"), "InvalidParameterValue", "anything"),
    (
        e.UnsupportedByEmulator("EndpointIpAddressType ipv6"),
        "InvalidParameterValue",
        "EndpointIpAddressType ipv6 is not supported by the hybridnet emulator.",
    ),
    (
        e.InvalidCidrBlock("TargetNetworkCidr", "10.0.0.1/16"),
        "InvalidParameterValue",
        "TargetNetworkCidr '10.0.0.1/16' is not a valid IPv4 CIDR block.",
    ),
    (
        e.InvalidClientCidrRange("172.16.0.0/23", MIN_CLIENT_PREFIX, MAX_CLIENT_PREFIX),
        "InvalidParameterValue",
        "Invalid client CIDR block 172.16.0.0/23: the client CIDR range must have a size of at least /22 and must "
        "not be greater than /12.",
    ),
    (e.InvalidFilterName("state"), "InvalidParameterValue", "The filter 'state' is invalid"),
    (e.InvalidNextToken("x"), "InvalidParameterValue", "Invalid NextToken 'x'"),
    (
        e.InvalidChoice("TransportProtocol", "sctp", TRANSPORT_PROTOCOLS, quoted=True),
        "InvalidParameterValue",
        "Invalid TransportProtocol 'sctp'; valid values: udp, tcp",
    ),
    (e.InvalidChoice("VpnPort", 22, VPN_PORTS), "InvalidParameterValue", "Invalid VpnPort 22; valid values: 443, 1194"),
    (
        e.InvalidChoice("SessionTimeoutHours", 5, SESSION_TIMEOUT_HOURS),
        "InvalidParameterValue",
        "Invalid SessionTimeoutHours 5; valid values: 8, 10, 12, 24",
    ),
    (
        e.InvalidChoice("SelfServicePortal", "on", SELF_SERVICE_PORTAL, quoted=True),
        "InvalidParameterValue",
        "Invalid SelfServicePortal 'on'; valid values: enabled, disabled",
    ),
    (e.DescriptionTooLong(), "InvalidParameterValue", "Description can have at most 255 characters."),
    (
        e.NotBoth("AccessGroupId", "AuthorizeAllGroups"),
        "InvalidParameterValue",
        "Specify either AccessGroupId or AuthorizeAllGroups, but not both.",
    ),
    (
        e.RequiredWhenEnabled("CloudwatchLogGroup", "connection logging"),
        "InvalidParameterValue",
        "CloudwatchLogGroup is required when connection logging is enabled.",
    ),
    (
        e.RequiredWhenEnabled("LambdaFunctionArn", "the client connect handler"),
        "InvalidParameterValue",
        "LambdaFunctionArn is required when the client connect handler is enabled.",
    ),
    (
        e.RequiredWhenEnabled("BannerText", "the client login banner"),
        "InvalidParameterValue",
        "BannerText is required when the client login banner is enabled.",
    ),
    (
        e.InvalidTagResourceType("vpc", "client-vpn-endpoint"),
        "InvalidParameterValue",
        "'vpc' is not a valid taggable resource type for this operation; use 'client-vpn-endpoint'.",
    ),
    (
        e.InvalidConnectionLogDestination("log stream", "s", "g"),
        "InvalidParameterValue",
        "The CloudWatch Logs log stream s does not exist in the log group g.",
    ),
    (
        e.InvalidConnectionLogDestination("log group", "g"),
        "InvalidParameterValue",
        "The CloudWatch Logs log group g does not exist.",
    ),
    (
        e.InvalidAcmCertificateArn("ServerCertificateArn", "arn"),
        "InvalidParameterValue",
        "ServerCertificateArn 'arn' is not a valid ACM certificate ARN.",
    ),
    (
        e.CertificateNotInEndpointAccount(ARN),
        "InvalidParameterValue",
        f"Certificate {ARN} must be in the same Region and account as the Client VPN endpoint.",
    ),
    (e.AcmCertificateNotFound(ARN), "InvalidParameterValue", f"Certificate {ARN} does not exist"),
    (e.CertificateWithoutDomain(ARN), "InvalidParameterValue", f"Certificate {ARN} does not have a domain"),
    (
        e.InvalidHandlerArn("fn"),
        "InvalidParameterValue",
        "Invalid Lambda function ARN 'fn' for the client connect handler.",
    ),
    (
        e.HandlerNotInEndpointAccount(),
        "InvalidParameterValue",
        "The client connect handler's Lambda function must be in the same Region and account as the Client VPN "
        "endpoint.",
    ),
    (
        e.InvalidHandlerName("x", "AWSClientVPN-"),
        "InvalidParameterValue",
        "The name of the client connect handler's Lambda function must begin with the AWSClientVPN- prefix: x",
    ),
    (e.HandlerFunctionNotFound(FN), "InvalidParameterValue", f"Lambda function {FN} does not exist"),
    (
        e.InvalidConnectionStatus("up", CONNECTION_STATUSES),
        "InvalidParameterValue",
        "connection status must be one of active, failed-to-terminate, terminating, terminated, not 'up'",
    ),
    (e.InvalidClientIp("x"), "InvalidParameterValue", "client_ip 'x' is not an IP address"),
    (
        e.ClientIpNotInClientCidr("10.0.0.5", "172.16.0.0/22"),
        "InvalidParameterValue",
        "client_ip 10.0.0.5 is not in the endpoint's client CIDR 172.16.0.0/22",
    ),
    (
        e.NoFreeClientIp("172.16.0.0/22"),
        "InvalidParameterValue",
        "No free address left in the client CIDR 172.16.0.0/22",
    ),
    (e.CommonNameRequired(), "InvalidParameterValue", "common_name is required for a new connection"),
    (
        e.InvalidClientVpnEndpointIdNotFound(EP),
        "InvalidClientVpnEndpointId.NotFound",
        f"The Client VPN endpoint ID '{EP}' does not exist",
    ),
    (
        e.ClientVpnEndpointAssociationExists({"cvpn-assoc-1": None, "cvpn-assoc-2": None}),
        "ClientVpnEndpointAssociationExists",
        "The endpoint that you're trying to delete has associations cvpn-assoc-1, cvpn-assoc-2",
    ),
    (
        e.ClientVpnEndpointNotAvailable(EP, "pending-associate"),
        "IncorrectState",
        f"Client VPN endpoint {EP} is pending-associate; it accepts no connections",
    ),
    (
        e.InvalidClientVpnDuplicateAssociation(SUBNET, EP),
        "InvalidClientVpnDuplicateAssociationException",
        f"Subnet {SUBNET} is already associated with Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnSubnetIdNotFound(SUBNET, "vpc-1", EP),
        "InvalidClientVpnSubnetId.NotFound",
        f"Subnet {SUBNET} is not in VPC vpc-1, the VPC of Client VPN endpoint {EP}",
    ),
    (
        e.SubnetNotTargetNetwork(SUBNET, EP),
        "InvalidClientVpnSubnetId.NotFound",
        f"Subnet {SUBNET} is not a target network of Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnSubnetIdDuplicateAz("ap-northeast-2a", EP),
        "InvalidClientVpnSubnetId.DuplicateAz",
        f"You have already associated a subnet from Availability Zone ap-northeast-2a with Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnSubnetIdOverlappingCidr("172.16.0.0/22", EP, "172.16.0.0/16", "vpc-1", SUBNET),
        "InvalidClientVpnSubnetId.OverlappingCidr",
        f"The client CIDR 172.16.0.0/22 of Client VPN endpoint {EP} overlaps the CIDR 172.16.0.0/16 of VPC vpc-1, "
        f"which holds target network {SUBNET}",
    ),
    (
        e.InvalidClientVpnAssociationIdNotFound("cvpn-assoc-1", EP),
        "InvalidClientVpnAssociationIdNotFound",
        f"The association ID 'cvpn-assoc-1' does not exist on Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnDuplicateAuthorizationRule(CIDR, True, None, EP),
        "InvalidClientVpnDuplicateAuthorizationRule",
        f"An authorization rule for {CIDR} (all groups) already exists on Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnDuplicateAuthorizationRule(CIDR, False, "g", EP),
        "InvalidClientVpnDuplicateAuthorizationRule",
        f"An authorization rule for {CIDR} (group g) already exists on Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnEndpointAuthorizationRuleNotFound(CIDR, EP),
        "InvalidClientVpnEndpointAuthorizationRuleNotFound",
        f"No authorization rule for {CIDR} exists on Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnActiveAssociationNotFound(EP, "pending-associate"),
        "InvalidClientVpnActiveAssociationNotFound",
        f"Client VPN endpoint {EP} has no associated target network (pending-associate); a route needs an "
        "associated target subnet",
    ),
    (
        e.SubnetStillAssociating(SUBNET, EP),
        "InvalidClientVpnActiveAssociationNotFound",
        f"Subnet {SUBNET} is still being associated with Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnDuplicateRoute(CIDR, SUBNET),
        "InvalidClientVpnDuplicateRoute",
        f"Route already exists: {CIDR} through {SUBNET}",
    ),
    (
        e.InvalidClientVpnRouteNotFound(CIDR, SUBNET, EP),
        "InvalidClientVpnRouteNotFound",
        f"No route to {CIDR} through {SUBNET} exists on Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnRouteNotFound(CIDR, None, EP),
        "InvalidClientVpnRouteNotFound",
        f"No route to {CIDR} exists on Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnConnectionIdNotFound("cvpn-connection-1", EP),
        "InvalidClientVpnConnection.IdNotFound",
        f"The connection ID 'cvpn-connection-1' does not exist on Client VPN endpoint {EP}",
    ),
    (
        e.InvalidClientVpnConnectionUserNotFound("kim", EP),
        "InvalidClientVpnConnection.UserNotFound",
        f"User kim has no active connection to Client VPN endpoint {EP}",
    ),
    (
        e.ClientVpnTerminateConnectionsLimitExceeded("kim", 6, 5),
        "ClientVpnTerminateConnectionsLimitExceeded",
        "User kim has 6 connections; terminating by user name is limited to 5",
    ),
]


@pytest.mark.parametrize("error, code, message", CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_code_and_message(error, code, message):
    assert isinstance(error, EC2ClientError)
    assert (error.code, error.message) == (code, message)


def test_every_error_is_covered():
    assert {getattr(e, name) for name in e.__all__} == {type(case[0]) for case in CASES}
