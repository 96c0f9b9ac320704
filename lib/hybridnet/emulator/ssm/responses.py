"""SSM Run Command's protocol: the actions moto lacks or answers with no command run."""

from __future__ import annotations

from typing import Any, cast

from moto.core.exceptions import InvalidToken
from moto.core.responses import ActionResult, EmptyResult

from .exceptions import InvalidNextToken
from .models import parameter_resources


def _page(items: list[dict], key: str, token: str | None) -> ActionResult:
    result: dict[str, Any] = {key: items}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


class RunCommandResponses:
    """Installed into moto's SimpleSystemManagerResponse (replacing SendCommand,
    ListCommands and GetCommandInvocation, and authorizing the actions on named
    parameters against the parameters' ARNs)."""

    ssm_backend: Any
    _get_param: Any
    _get_int_param: Any
    _get_bool_param: Any
    _get_action: Any
    region: str
    current_account: str

    def _authenticate_and_authorize_normal_action(self, resource: str = "*") -> None:
        """moto's authorization (auth.py's), once per named parameter for the actions on
        parameters, so that a policy's Resource (arn:aws:ssm:...:parameter/...) counts."""
        from moto.core.authorization import ActionAuthenticatorMixin

        authorize = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
        arns = parameter_resources(self._get_action(), self._get_param, self.region, self.current_account)
        for arn in arns or [resource]:
            authorize(cast(ActionAuthenticatorMixin, self), arn)  # self: moto's SimpleSystemManagerResponse, installed

    def send_command(self) -> ActionResult:
        command = self.ssm_backend.send_command(
            document_name=self._get_param("DocumentName"),
            document_version=self._get_param("DocumentVersion"),
            parameters=self._get_param("Parameters", {}),
            instance_ids=self._get_param("InstanceIds", []),
            targets=self._get_param("Targets", []),
            timeout_seconds=self._get_int_param("TimeoutSeconds"),
            comment=self._get_param("Comment", ""),
            max_concurrency=self._get_param("MaxConcurrency"),
            max_errors=self._get_param("MaxErrors"),
            notification_config=self._get_param("NotificationConfig"),
            cloudwatch_output_config=self._get_param("CloudWatchOutputConfig"),
            output_s3_bucket_name=self._get_param("OutputS3BucketName", ""),
            output_s3_key_prefix=self._get_param("OutputS3KeyPrefix", ""),
            output_s3_region=self._get_param("OutputS3Region", ""),
            service_role=self._get_param("ServiceRoleArn", ""),
        )
        return ActionResult({"Command": command.response_object(sent=True)})

    def describe_instance_information(self) -> ActionResult:
        try:
            rows, token = self.ssm_backend.describe_instance_information(
                instance_information_filter_list=self._get_param("InstanceInformationFilterList"),
                filters=self._get_param("Filters"),
                max_results=self._get_int_param("MaxResults"),
                next_token=self._get_param("NextToken"),
            )
        except InvalidToken:
            raise InvalidNextToken() from None
        return _page([row.information for row in rows], "InstanceInformationList", token)

    def list_commands(self) -> ActionResult:
        try:
            commands, token = self.ssm_backend.list_commands(
                command_id=self._get_param("CommandId"),
                instance_id=self._get_param("InstanceId"),
                filters=self._get_param("Filters"),
                max_results=self._get_int_param("MaxResults"),
                next_token=self._get_param("NextToken"),
            )
        except InvalidToken:
            raise InvalidNextToken() from None
        return _page([command.response_object() for command in commands], "Commands", token)

    def list_command_invocations(self) -> ActionResult:
        details = bool(self._get_bool_param("Details", False))
        try:
            invocations, token = self.ssm_backend.list_command_invocations(
                command_id=self._get_param("CommandId"),
                instance_id=self._get_param("InstanceId"),
                filters=self._get_param("Filters"),
                max_results=self._get_int_param("MaxResults"),
                next_token=self._get_param("NextToken"),
            )
        except InvalidToken:
            raise InvalidNextToken() from None
        return _page([invocation.list_entry(details) for invocation in invocations], "CommandInvocations", token)

    def get_command_invocation(self) -> ActionResult:
        return ActionResult(
            self.ssm_backend.get_command_invocation(
                self._get_param("CommandId"), self._get_param("InstanceId"), self._get_param("PluginName")
            )
        )

    def cancel_command(self) -> EmptyResult:
        self.ssm_backend.cancel_command(self._get_param("CommandId"), self._get_param("InstanceIds"))
        return EmptyResult()
