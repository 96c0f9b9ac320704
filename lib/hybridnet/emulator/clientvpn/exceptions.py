"""Client VPN's typed errors added with connection logging (EC2's error format)."""

from __future__ import annotations

from moto.ec2.exceptions import EC2ClientError

__all__ = ["InvalidConnectionLogDestination"]


class InvalidConnectionLogDestination(EC2ClientError):
    """ConnectionLogOptions naming a log group or a log stream that does not exist
    (InvalidParameterValue, as every other invalid Client VPN option)."""

    def __init__(self, what: str, name: str, group: str | None = None):
        where = f" in the log group {group}" if group else ""
        super().__init__("InvalidParameterValue", f"The CloudWatch Logs {what} {name} does not exist{where}.")
