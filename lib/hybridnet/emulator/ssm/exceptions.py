"""SSM's typed errors for Run Command, as the service names them (botocore's SSM model)."""

from __future__ import annotations

from moto.ssm.exceptions import InvalidDocument, InvalidFilterKey, SSMException

__all__ = [
    "InvalidCommandId",
    "InvalidDocument",
    "InvalidDocumentVersion",
    "InvalidFilterKey",
    "InvalidFilterValue",
    "InvalidInstanceId",
    "InvalidInstanceInformationFilterValue",
    "InvalidNextToken",
    "InvalidParameters",
    "InvalidPluginName",
    "InvocationDoesNotExist",
]


class InvalidInstanceId(SSMException):
    def __init__(self, instance_ids: list[str], account_id: str):
        # The service's wording, e.g. "Instances [[i-0123456789abcdef0]] not in a valid state for account 123456789012".
        super().__init__(
            "InvalidInstanceId",
            f"Instances [[{', '.join(instance_ids)}]] not in a valid state for account {account_id}",
        )


class InvocationDoesNotExist(SSMException):
    def __init__(self) -> None:
        # AWS sends no message with it (botocore shows "An error occurred (InvocationDoesNotExist) ...: ").
        super().__init__("InvocationDoesNotExist", "")


class InvalidCommandId(SSMException):
    def __init__(self) -> None:
        super().__init__("InvalidCommandId", "")


class InvalidPluginName(SSMException):
    def __init__(self) -> None:
        super().__init__("InvalidPluginName", "")


class InvalidParameters(SSMException):
    def __init__(self, message: str):
        super().__init__("InvalidParameters", message)


class InvalidDocumentVersion(SSMException):
    def __init__(self) -> None:
        super().__init__("InvalidDocumentVersion", "The document version is not valid or does not exist.")


class InvalidNextToken(SSMException):
    def __init__(self) -> None:
        super().__init__("InvalidNextToken", "The specified token isn't valid.")


class InvalidInstanceInformationFilterValue(SSMException):
    def __init__(self, message: str):
        super().__init__("InvalidInstanceInformationFilterValue", message)


class InvalidFilterValue(SSMException):
    def __init__(self, message: str):
        super().__init__("InvalidFilterValue", message)
