"""Client VPN's typed errors, in EC2's error format (moto's EC2ClientError), with
the codes AWS answers (botocore's EC2 model and the Client VPN API reference).

The codes that name what is wrong (InvalidClientVpn...) have a class each; the
many request values AWS refuses as InvalidParameterValue share moto's
InvalidParameterValue, with a subclass for each kind of refusal that has
parameters or is raised from more than one place. The admin API (admin.py)
raises them too: its 400 answer names the class and the EC2 code.
"""

from __future__ import annotations

from collections.abc import Iterable

from moto.ec2.exceptions import EC2ClientError, InvalidParameterValue, MissingParameterError
from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError as InvalidGroupNotFound

__all__ = [
    "AcmCertificateNotFound",
    "CertificateNotInEndpointAccount",
    "CertificateWithoutDomain",
    "ClientIpNotInClientCidr",
    "ClientVpnEndpointAssociationExists",
    "ClientVpnEndpointNotAvailable",
    "ClientVpnTerminateConnectionsLimitExceeded",
    "CommonNameRequired",
    "DescriptionTooLong",
    "HandlerFunctionNotFound",
    "HandlerNotInEndpointAccount",
    "InvalidAcmCertificateArn",
    "InvalidChoice",
    "InvalidCidrBlock",
    "InvalidClientCidrRange",
    "InvalidClientIp",
    "InvalidClientVpnActiveAssociationNotFound",
    "InvalidClientVpnAssociationIdNotFound",
    "InvalidClientVpnConnectionIdNotFound",
    "InvalidClientVpnConnectionUserNotFound",
    "InvalidClientVpnDuplicateAssociation",
    "InvalidClientVpnDuplicateAuthorizationRule",
    "InvalidClientVpnDuplicateRoute",
    "InvalidClientVpnEndpointAuthorizationRuleNotFound",
    "InvalidClientVpnEndpointIdNotFound",
    "InvalidClientVpnRouteNotFound",
    "InvalidClientVpnSubnetIdDuplicateAz",
    "InvalidClientVpnSubnetIdNotFound",
    "InvalidClientVpnSubnetIdOverlappingCidr",
    "InvalidConnectionLogDestination",
    "InvalidConnectionStatus",
    "InvalidFilterName",
    "InvalidGroupNotFound",
    "InvalidHandlerArn",
    "InvalidHandlerName",
    "InvalidNextToken",
    "InvalidParameterValue",
    "InvalidTagResourceType",
    "MissingParameterError",
    "NoFreeClientIp",
    "NotBoth",
    "RequiredWhenEnabled",
    "SubnetNotTargetNetwork",
    "SubnetStillAssociating",
    "UnsupportedByEmulator",
]

# moto's InvalidParameterValue (code InvalidParameterValue, the message as given),
# MissingParameterError ("The request must contain the parameter X") and
# InvalidSecurityGroupNotFoundError (InvalidGroup.NotFound, "The security group 'sg-...'
# does not exist") are AWS's errors as Client VPN answers them: used as they are.


# ---------------------------------------------------------------- InvalidParameterValue, by kind


class UnsupportedByEmulator(InvalidParameterValue):
    """A request member the emulator does not implement: an error, never a silent no-op."""

    def __init__(self, what: str):
        super().__init__(f"{what} is not supported by the hybridnet emulator.")


class InvalidCidrBlock(InvalidParameterValue):
    def __init__(self, parameter: str, value: object):
        super().__init__(f"{parameter} {value!r} is not a valid IPv4 CIDR block.")


class InvalidClientCidrRange(InvalidParameterValue):
    def __init__(self, value: object, min_prefix: int, max_prefix: int):
        super().__init__(
            f"Invalid client CIDR block {value}: the client CIDR range must have a size of at least "
            f"/{max_prefix} and must not be greater than /{min_prefix}."
        )


class InvalidFilterName(InvalidParameterValue):
    def __init__(self, name: str):
        super().__init__(f"The filter '{name}' is invalid")


class InvalidNextToken(InvalidParameterValue):
    def __init__(self, next_token: object):
        super().__init__(f"Invalid NextToken {next_token!r}")


class InvalidChoice(InvalidParameterValue):
    """A value outside the parameter's valid values ("Invalid VpnPort 22; valid values: 443, 1194")."""

    def __init__(self, parameter: str, value: object, valid: Iterable[object], *, quoted: bool = False):
        shown = repr(value) if quoted else value
        super().__init__(f"Invalid {parameter} {shown}; valid values: {', '.join(str(v) for v in valid)}")


class DescriptionTooLong(InvalidParameterValue):
    def __init__(self, limit: int = 255):
        super().__init__(f"Description can have at most {limit} characters.")


class NotBoth(InvalidParameterValue):
    """Two request members of which exactly one must be given."""

    def __init__(self, first: str, second: str):
        super().__init__(f"Specify either {first} or {second}, but not both.")


class RequiredWhenEnabled(InvalidParameterValue):
    def __init__(self, parameter: str, feature: str):
        super().__init__(f"{parameter} is required when {feature} is enabled.")


class InvalidTagResourceType(InvalidParameterValue):
    def __init__(self, resource_type: object, expected: str):
        super().__init__(
            f"'{resource_type}' is not a valid taggable resource type for this operation; use '{expected}'."
        )


class InvalidConnectionLogDestination(InvalidParameterValue):
    """ConnectionLogOptions naming a log group or a log stream that does not exist
    (InvalidParameterValue, as every other invalid Client VPN option)."""

    def __init__(self, what: str, name: str, group: str | None = None):
        where = f" in the log group {group}" if group else ""
        super().__init__(f"The CloudWatch Logs {what} {name} does not exist{where}.")


# -- certificates (ACM)


class InvalidAcmCertificateArn(InvalidParameterValue):
    def __init__(self, parameter: str, arn: object):
        super().__init__(f"{parameter} {arn!r} is not a valid ACM certificate ARN.")


class CertificateNotInEndpointAccount(InvalidParameterValue):
    def __init__(self, arn: str):
        super().__init__(f"Certificate {arn} must be in the same Region and account as the Client VPN endpoint.")


class AcmCertificateNotFound(InvalidParameterValue):
    def __init__(self, arn: str):
        super().__init__(f"Certificate {arn} does not exist")


class CertificateWithoutDomain(InvalidParameterValue):
    def __init__(self, arn: str):
        super().__init__(f"Certificate {arn} does not have a domain")


# -- the client connect handler (Lambda)


class InvalidHandlerArn(InvalidParameterValue):
    def __init__(self, arn: object):
        super().__init__(f"Invalid Lambda function ARN {arn!r} for the client connect handler.")


class HandlerNotInEndpointAccount(InvalidParameterValue):
    def __init__(self) -> None:
        super().__init__(
            "The client connect handler's Lambda function must be in the same Region and account "
            "as the Client VPN endpoint."
        )


class InvalidHandlerName(InvalidParameterValue):
    def __init__(self, name: str, prefix: str):
        super().__init__(
            f"The name of the client connect handler's Lambda function must begin with the {prefix} prefix: {name}"
        )


class HandlerFunctionNotFound(InvalidParameterValue):
    def __init__(self, arn: str):
        super().__init__(f"Lambda function {arn} does not exist")


# -- what a data plane reports (admin API)


class InvalidConnectionStatus(InvalidParameterValue):
    def __init__(self, status: object, statuses: Iterable[str]):
        super().__init__(f"connection status must be one of {', '.join(statuses)}, not {status!r}")


class InvalidClientIp(InvalidParameterValue):
    def __init__(self, client_ip: object):
        super().__init__(f"client_ip {client_ip!r} is not an IP address")


class ClientIpNotInClientCidr(InvalidParameterValue):
    def __init__(self, client_ip: object, client_cidr: str):
        super().__init__(f"client_ip {client_ip} is not in the endpoint's client CIDR {client_cidr}")


class NoFreeClientIp(InvalidParameterValue):
    def __init__(self, client_cidr: str):
        super().__init__(f"No free address left in the client CIDR {client_cidr}")


class CommonNameRequired(InvalidParameterValue):
    def __init__(self) -> None:
        super().__init__("common_name is required for a new connection")


# ---------------------------------------------------------------- Client VPN's own codes


class InvalidClientVpnEndpointIdNotFound(EC2ClientError):
    def __init__(self, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnEndpointId.NotFound", f"The Client VPN endpoint ID '{endpoint_id}' does not exist"
        )


class ClientVpnEndpointAssociationExists(EC2ClientError):
    def __init__(self, association_ids: Iterable[str]):
        super().__init__(
            "ClientVpnEndpointAssociationExists",
            "The endpoint that you're trying to delete has associations " + ", ".join(association_ids),
        )


class ClientVpnEndpointNotAvailable(EC2ClientError):
    """A connection to an endpoint that is not `available` (IncorrectState)."""

    def __init__(self, endpoint_id: str, status: str):
        super().__init__("IncorrectState", f"Client VPN endpoint {endpoint_id} is {status}; it accepts no connections")


class InvalidClientVpnDuplicateAssociation(EC2ClientError):
    def __init__(self, subnet_id: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnDuplicateAssociationException",
            f"Subnet {subnet_id} is already associated with Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnSubnetIdNotFound(EC2ClientError):
    """A subnet outside the endpoint's VPC."""

    def __init__(self, subnet_id: str, vpc_id: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnSubnetId.NotFound",
            f"Subnet {subnet_id} is not in VPC {vpc_id}, the VPC of Client VPN endpoint {endpoint_id}",
        )


class SubnetNotTargetNetwork(EC2ClientError):
    """A route through a subnet that is not one of the endpoint's target networks."""

    def __init__(self, subnet_id: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnSubnetId.NotFound",
            f"Subnet {subnet_id} is not a target network of Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnSubnetIdDuplicateAz(EC2ClientError):
    def __init__(self, availability_zone: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnSubnetId.DuplicateAz",
            "You have already associated a subnet from Availability Zone "
            f"{availability_zone} with Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnSubnetIdOverlappingCidr(EC2ClientError):
    def __init__(self, client_cidr: str, endpoint_id: str, vpc_cidr: str, vpc_id: str, subnet_id: str):
        super().__init__(
            "InvalidClientVpnSubnetId.OverlappingCidr",
            f"The client CIDR {client_cidr} of Client VPN endpoint {endpoint_id} overlaps the CIDR "
            f"{vpc_cidr} of VPC {vpc_id}, which holds target network {subnet_id}",
        )


class InvalidClientVpnAssociationIdNotFound(EC2ClientError):
    def __init__(self, association_id: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnAssociationIdNotFound",
            f"The association ID '{association_id}' does not exist on Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnDuplicateAuthorizationRule(EC2ClientError):
    def __init__(self, cidr: str, access_all: bool, group_id: str | None, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnDuplicateAuthorizationRule",
            f"An authorization rule for {cidr} "
            f"({'all groups' if access_all else 'group ' + str(group_id)}) "
            f"already exists on Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnEndpointAuthorizationRuleNotFound(EC2ClientError):
    def __init__(self, cidr: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnEndpointAuthorizationRuleNotFound",
            f"No authorization rule for {cidr} exists on Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnActiveAssociationNotFound(EC2ClientError):
    """A route on an endpoint without an associated target network."""

    def __init__(self, endpoint_id: str, status: str):
        super().__init__(
            "InvalidClientVpnActiveAssociationNotFound",
            f"Client VPN endpoint {endpoint_id} has no associated target network "
            f"({status}); a route needs an associated target subnet",
        )


class SubnetStillAssociating(EC2ClientError):
    """A route through a target subnet whose association has not completed yet."""

    def __init__(self, subnet_id: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnActiveAssociationNotFound",
            f"Subnet {subnet_id} is still being associated with Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnDuplicateRoute(EC2ClientError):
    def __init__(self, cidr: str, subnet_id: str):
        super().__init__("InvalidClientVpnDuplicateRoute", f"Route already exists: {cidr} through {subnet_id}")


class InvalidClientVpnRouteNotFound(EC2ClientError):
    def __init__(self, cidr: str, subnet_id: str | None, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnRouteNotFound",
            f"No route to {cidr}"
            + (f" through {subnet_id}" if subnet_id else "")
            + f" exists on Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnConnectionIdNotFound(EC2ClientError):
    def __init__(self, connection_id: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnConnection.IdNotFound",
            f"The connection ID '{connection_id}' does not exist on Client VPN endpoint {endpoint_id}",
        )


class InvalidClientVpnConnectionUserNotFound(EC2ClientError):
    def __init__(self, username: str, endpoint_id: str):
        super().__init__(
            "InvalidClientVpnConnection.UserNotFound",
            f"User {username} has no active connection to Client VPN endpoint {endpoint_id}",
        )


class ClientVpnTerminateConnectionsLimitExceeded(EC2ClientError):
    def __init__(self, username: str, count: int, limit: int):
        super().__init__(
            "ClientVpnTerminateConnectionsLimitExceeded",
            f"User {username} has {count} connections; terminating by user name is limited to {limit}",
        )
