"""SSM Run Command that really runs commands, on the hosts a data plane registered.

moto accepts SendCommand and reports every invocation Success with empty
output, and has no DescribeInstanceInformation or ListCommandInvocations.
Here, as on AWS:

* **Managed instances** are the EC2 instances a data plane (the lab) has
  registered through the admin API (POST /_hybridnet/ssm-instances; see
  `register_instances`): each with how to run a command "on" it
  (`argv_prefix`, e.g. ``["ip", "netns", "exec", "hn-cgw"]``) and a path whose
  existence means its agent is up (`alive_path`, e.g. ``/run/netns/hn-cgw``).
  Only those are managed: DescribeInstanceInformation lists them (PingStatus
  Online while alive_path exists and the EC2 instance runs, ConnectionLost
  otherwise), SendCommand refuses any other instance with InvalidInstanceId,
  and nothing ever runs for an instance that is not registered. The emulator
  never imports the lab: it only knows what was registered.
* **The instance side**: a command calls AWS as it would on an EC2 instance.
  Its environment is the emulator's without any AWS_* variable of the host,
  then AWS_REGION / AWS_DEFAULT_REGION (the instance's region: what the SDKs
  would read from the instance metadata), AWS_EC2_METADATA_DISABLED=true and
  AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE=/dev/null (the host's metadata
  service and ~/.aws are not the instance's), then the registration's
  `environment` (e.g. AWS_ENDPOINT_URL, the AWS API as the instance reaches
  it), then what the agent sets (AWS_SSM_INSTANCE_ID, AWS_SSM_REGION_NAME),
  then, when the EC2 instance has an IAM instance profile whose role trusts
  ec2.amazonaws.com, that role's temporary credentials (AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; session name: the instance id),
  assumed through the emulator's STS as the Lambda sandbox's execution role is
  (roles.py), reused while they have the command's execution timeout left, as
  the instance metadata service hands out the same credentials until they
  near their expiry. No profile, no role in it, or a role that does not trust
  EC2: no credentials at all (the SDKs then find none). The emulator's
  IAM policy evaluation gives them the role's own policies only; a policy's
  Resource is matched for the actions on named parameters (see
  `parameter_resources`). The credentials never show in what the API returns:
  not in the command's parameters (they are not there), and any occurrence of
  them in a command's output is replaced with "****".
* **AWS-RunShellScript** runs as SSM Agent runs it: the commands joined with
  newlines into ``<orchestration dir>/_script.sh`` (mode 0700), run as
  ``argv_prefix + ["sh", "-c", <script>]`` in its own process group, in a
  background thread. No ``set -e``: the script's exit code is its last
  command's. Statuses go Pending -> InProgress -> Success | Failed (the exit
  code as ResponseCode, "failed to run commands: exit status N" appended to
  stderr) | TimedOut (executionTimeout reached: the group is killed,
  StatusDetails ExecutionTimedOut, ResponseCode 137) | Cancelled
  (CancelCommand; 137 if it was running, -1 if it never ran).
* **Delivery**: a command for an instance that is not Online stays Pending
  until it is (then it runs) or until the command expires: ExpiresAfter =
  RequestedDateTime + TimeoutSeconds + executionTimeout (AWS's "total
  timeout"), then TimedOut / DeliveryTimedOut with ResponseCode -1. The
  environment variable HYBRIDNET_EMULATOR_SSM_DELIVERY_TIMEOUT_SECONDS (read
  by the emulator process) caps that wait, so tests need not wait the 30 s
  minimum TimeoutSeconds; ExpiresAfter then shows the capped expiry.
* Output as the service returns it: StandardOutputContent the first 24,000
  characters, StandardErrorContent the first 8,000 (cut with the agent's
  "--output truncated--" suffix), empty until the invocation has finished;
  CommandPlugins[].Output (ListCommandInvocations with Details) stdout and
  stderr in 2,500 characters, with the agent's "----------ERROR-------" title.

As with the agent, a command whose background child keeps the output pipes
open is not finished until they close (on AWS it then times out), the
execution timeout is the document's executionTimeout with values under 5 s
running for the default 3,600 s (the agent's rule), and an exit code of 137
reads as TimedOut. Not emulated: MaxConcurrency (all invocations run at
once), MaxErrors beyond the command's aggregate status, S3 / CloudWatch
output (OutputS3BucketName is accepted and ignored), notifications, other
documents than AWS-RunShellScript (InvalidDocument), the Delayed status.
The commands are saved with the emulator's state (persistence.py); an
invocation still pending or running when it was saved is restored Failed
(ResponseCode -1, its stderr says why): its process belonged to the stopped
emulator. The registrations are not saved: a restarted emulator knows no
managed instances until the data plane registers them again.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from moto.core import DEFAULT_ACCOUNT_ID
from moto.utilities.paginator import paginate

from .. import persistence, roles
from . import utils
from .exceptions import (
    InvalidCommandId,
    InvalidDocument,
    InvalidDocumentVersion,
    InvalidFilterKey,
    InvalidFilterValue,
    InvalidInstanceId,
    InvalidInstanceInformationFilterValue,
    InvalidParameters,
    InvalidPluginName,
    InvocationDoesNotExist,
)

DELIVERY_TIMEOUT_ENV = "HYBRIDNET_EMULATOR_SSM_DELIVERY_TIMEOUT_SECONDS"
DELIVERY_POLL_SECONDS = 0.2  # how often an undelivered command looks for its instance
TICK_SECONDS = 0.1  # how soon a running command notices CancelCommand
CANCEL_WAIT_SECONDS = 5.0  # CancelCommand waits this long for the invocations to stop
KILL_WAIT_SECONDS = 5.0

# The instance side (see the module's docstring).
EC2_SERVICE = "ec2.amazonaws.com"
ENVIRONMENT_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
MAX_ENVIRONMENT = 32  # registered variables per instance
INSTANCE_ENVIRONMENT = {  # the host's instance metadata service and ~/.aws are not the instance's
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
ROLE_SESSION_SECONDS = 6 * 3600  # instance profile credentials (EC2 hands out sessions of about 6 h)
MAX_ROLE_SESSION_SECONDS = 12 * 3600  # STS's limit
ROLE_SESSION_MARGIN_SECONDS = 300  # credentials handed to a command outlast its timeout by this much
REDACTED = "****"

TERMINAL_DETAILS = frozenset(
    {"Success", "Failed", "ExecutionTimedOut", "DeliveryTimedOut", "Cancelled", "Undeliverable", "Terminated"}
)
ERROR_DETAILS = frozenset({"Failed", "ExecutionTimedOut"})
GONE_STATES = frozenset({"shutting-down", "terminated"})

_lock = threading.RLock()  # registrations and the commands list, in every backend
# Where a backend keeps its registrations (left out of the saved state: see persistence.py).
REGISTRY_ATTRIBUTE = "_hybridnet_managed_instances"
INTERRUPTED = "hybridnet emulator: the emulator stopped while this command was {state}; what became of it is unknown"


def _ec2_backend(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _ec2_instance(account_id: str, region: str, instance_id: str) -> Any | None:
    try:
        return _ec2_backend(account_id, region).get_instance(instance_id)
    except Exception:  # moto's InvalidInstanceIdError: no such instance
        return None


def _tags(instance: Any) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in instance.get_tags()}


def _all_ec2_instances(account_id: str, region: str) -> list[Any]:
    return [i for r in _ec2_backend(account_id, region).all_reservations() for i in r.instances]


def _tag_target_matches(instance: Any, key: str, values: list[str]) -> bool:
    """An EC2 instance against one SSM target key: tag:<name> (one of the values) or tag-key."""
    tags = _tags(instance)
    if key == "tag-key":
        return any(k in values for k in tags)
    return tags.get(key[len("tag:") :]) in values


# --- managed instances -------------------------------------------------------


@dataclass
class ManagedInstance:
    """An EC2 instance a data plane registered: how to run commands on it, and how to see it is up."""

    account_id: str
    region: str
    instance_id: str
    argv_prefix: tuple[str, ...]
    alive_path: str
    platform_name: str
    platform_version: str
    computer_name: str
    ip_address: str
    registered: dt.datetime
    last_ping: dt.datetime
    environment: dict[str, str] = field(default_factory=dict)  # registered; added to every command's
    _role_session: roles.RoleSession | None = field(default=None, repr=False, compare=False)
    _role_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def ec2_instance(self) -> Any | None:
        return _ec2_instance(self.account_id, self.region, self.instance_id)

    def instance_profile_role(self) -> str | None:
        """The ARN of the role in the EC2 instance's IAM instance profile, as IAM has it now
        (None: no instance profile, or one without a role)."""
        from moto.iam.models import iam_backends

        association = _ec2_backend(self.account_id, self.region).iam_instance_profile_associations.get(self.instance_id)
        if association is None:
            return None
        profile = association.iam_instance_profile
        try:
            profile = iam_backends[profile.account_id][profile.partition].get_instance_profile_by_arn(profile.arn)
        except Exception:  # deleted since it was associated
            return None
        return profile.roles[0].arn if profile.roles else None

    def role_session(self, timeout: int) -> roles.RoleSession | None:
        """The instance profile's credentials for a command that may run `timeout` seconds, or None."""
        role_arn = self.instance_profile_role()
        if role_arn is None or roles.why_not(role_arn, EC2_SERVICE, "the instance profile's role") is not None:
            return None
        needed = min(timeout + ROLE_SESSION_MARGIN_SECONDS, MAX_ROLE_SESSION_SECONDS)
        with self._role_lock:
            cached = self._role_session
            if cached is not None and cached.role_arn == role_arn and cached.seconds_left() >= needed:
                return cached
            session, _ = roles.assume_for_service(
                role_arn,
                EC2_SERVICE,
                account_id=self.account_id,
                region=self.region,
                session_name=self.instance_id,
                duration=max(ROLE_SESSION_SECONDS, needed),
                what="the instance profile's role",
            )
            self._role_session = session
            return session

    def command_environment(self, timeout: int) -> tuple[dict[str, str], tuple[str, ...]]:
        """(a command's environment, the secrets in it that its output must not show)."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env.update(INSTANCE_ENVIRONMENT)
        env.update(AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region)
        env.update(self.environment)
        env.update(AWS_SSM_INSTANCE_ID=self.instance_id, AWS_SSM_REGION_NAME=self.region)
        session = self.role_session(timeout)
        if session is None:
            return env, ()
        env.update(session.environment())
        return env, session.secrets()

    def is_managed(self) -> bool:
        """Listed and addressable at all (an instance that is gone is not)."""
        instance = self.ec2_instance()
        return instance is not None and instance.state not in GONE_STATES

    def ping_status(self) -> str:
        instance = self.ec2_instance()
        if instance is not None and instance.state == "running" and os.path.exists(self.alive_path):
            self.last_ping = utils.utcnow()
            return "Online"
        return "ConnectionLost"

    def information(self) -> dict[str, Any]:
        """The API's InstanceInformation."""
        ping = self.ping_status()
        info: dict[str, Any] = {
            "InstanceId": self.instance_id,
            "PingStatus": ping,
            "LastPingDateTime": self.last_ping,
            "AgentVersion": utils.AGENT_VERSION,
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": self.platform_name,
            "ResourceType": "EC2Instance",
            "IPAddress": self.ip_address,
            "ComputerName": self.computer_name,
            "SourceId": self.instance_id,
            "SourceType": "AWS::EC2::Instance",
        }
        if self.platform_version:
            info["PlatformVersion"] = self.platform_version
        return info


ENTRY_KEYS = {
    "instance_id",
    "name_tag",
    "argv_prefix",
    "alive_path",
    "platform_name",
    "platform_version",
    "computer_name",
    "ip_address",
    "environment",
}


def _environment(instance_id: str, value: Any) -> dict[str, str]:
    """A registration's `environment`, validated (errors name the field, never show a value)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'{instance_id}: environment must be an object of NAME: "value", not {type(value).__name__}')
    if len(value) > MAX_ENVIRONMENT:
        raise ValueError(f"{instance_id}: environment has {len(value)} variables; at most {MAX_ENVIRONMENT}")
    for name, text in value.items():
        if not ENVIRONMENT_NAME.fullmatch(name):
            raise ValueError(f"{instance_id}: environment name {name!r} must match ^[A-Z_][A-Z0-9_]*$")
        if name.startswith(roles.CREDENTIAL_VARIABLES):
            raise ValueError(
                f"{instance_id}: environment.{name} is refused: a command's credentials are its "
                "instance profile's (the EC2 instance's IamInstanceProfile), never registered ones"
            )
        if not isinstance(text, str):
            raise ValueError(f"{instance_id}: environment.{name} must be a string, not {type(text).__name__}")
        if "\0" in text:
            raise ValueError(f"{instance_id}: environment.{name} must not contain a NUL character")
    return dict(value)


def _find_ec2_instance(account_id: str, region: str, entry: dict) -> Any:
    if "instance_id" in entry:
        instance = _ec2_instance(account_id, region, str(entry["instance_id"]))
        if instance is None:
            raise ValueError(f"no EC2 instance {entry['instance_id']} in {region}")
        if instance.state in GONE_STATES:
            raise ValueError(f"EC2 instance {instance.id} in {region} is {instance.state}")
        if "name_tag" in entry and _tags(instance).get("Name") != entry["name_tag"]:
            raise ValueError(f"EC2 instance {instance.id} in {region} is not named {entry['name_tag']!r}")
        return instance
    if "name_tag" not in entry:
        raise ValueError("each instance needs instance_id or name_tag")
    name = str(entry["name_tag"])
    found = [
        i for i in _all_ec2_instances(account_id, region) if i.state not in GONE_STATES and _tags(i).get("Name") == name
    ]
    if not found:
        raise ValueError(f"no EC2 instance named {name!r} in {region}")
    if len(found) > 1:
        raise ValueError(
            f"{len(found)} EC2 instances are named {name!r} in {region}: "
            f"{', '.join(sorted(i.id for i in found))}; register them by instance_id"
        )
    return found[0]


def _managed_instance(account_id: str, region: str, entry: Any, platform: tuple[str, str]) -> ManagedInstance:
    if not isinstance(entry, dict):
        raise ValueError(f"an instance is an object, not {entry!r}")
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise ValueError(f"unknown instance field(s) {', '.join(unknown)}; known: {', '.join(sorted(ENTRY_KEYS))}")
    instance = _find_ec2_instance(account_id, region, entry)
    prefix = entry.get("argv_prefix")
    if not isinstance(prefix, list) or not all(isinstance(arg, str) and arg for arg in prefix):
        raise ValueError(
            f"{instance.id}: argv_prefix must be a list of non-empty strings (may be empty), not {prefix!r}"
        )
    alive_path = entry.get("alive_path")
    if not isinstance(alive_path, str) or not os.path.isabs(alive_path):
        raise ValueError(f"{instance.id}: alive_path must be an absolute path, not {alive_path!r}")
    environment = _environment(instance.id, entry.get("environment"))
    now = utils.utcnow()
    return ManagedInstance(
        account_id=account_id,
        region=region,
        instance_id=instance.id,
        argv_prefix=tuple(prefix),
        alive_path=alive_path,
        platform_name=str(entry.get("platform_name") or platform[0]),
        platform_version=str(entry.get("platform_version") or platform[1]),
        computer_name=str(entry.get("computer_name") or instance.private_dns_name),
        ip_address=str(entry.get("ip_address") or instance.private_ip or ""),
        registered=now,
        last_ping=now,
        environment=environment,
    )


def register_instances(body: dict) -> dict:
    """The admin API's POST /_hybridnet/ssm-instances (see admin.py)."""
    from moto.ssm.models import ssm_backends

    region = body.get("region")
    if not isinstance(region, str) or not region:
        raise ValueError("region is required")
    entries = body.get("instances")
    if not isinstance(entries, list):
        raise ValueError("instances must be a list")
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise ValueError("replace must be true or false")
    account_id = DEFAULT_ACCOUNT_ID
    platform = utils.host_platform()
    registered = [_managed_instance(account_id, region, entry, platform) for entry in entries]  # all or nothing
    ids = [m.instance_id for m in registered]
    if len(set(ids)) != len(ids):
        raise ValueError(f"an instance is listed twice: {', '.join(sorted(i for i in ids if ids.count(i) > 1))}")
    backend = cast(RunCommandBackend, ssm_backends[account_id][region])  # moto's, with RunCommandBackend installed
    with _lock:
        registry = backend.run_command_registry()
        if replace:
            registry.clear()
        registry.update({m.instance_id: m for m in registered})
        current = sorted(registry.values(), key=lambda m: m.instance_id)
    answer = []
    for managed in current:
        instance = managed.ec2_instance()
        answer.append(
            {
                "instance_id": managed.instance_id,
                "name_tag": _tags(instance).get("Name") if instance is not None else None,
                "ping_status": managed.ping_status(),
            }
        )
    return {"region": region, "instances": answer}


# --- parameter resources -------------------------------------------------------

# The actions on named parameters, and the request field(s) naming them.
PARAMETER_ACTIONS = {
    "GetParameter": "Name",
    "GetParameters": "Names",
    "GetParameterHistory": "Name",
    "GetParametersByPath": "Path",
    "PutParameter": "Name",
    "DeleteParameter": "Name",
    "DeleteParameters": "Names",
    "LabelParameterVersion": "Name",
    "UnlabelParameterVersion": "Name",
}


def parameter_arn(name: str, region: str, account_id: str, partition: str = "aws") -> str:
    """arn:aws:ssm:REGION:ACCOUNT:parameter/NAME for a parameter's name (or ARN), without
    a version or label selector (name:3, name:label): what IAM policies' Resource match."""
    if name.startswith("arn:"):
        prefix, _, rest = name.partition(":parameter/")
        return f"{prefix}:parameter/{rest.split(':', 1)[0]}" if rest else name
    name = name.split(":", 1)[0]
    return f"arn:{partition}:ssm:{region}:{account_id}:parameter/{name.lstrip('/')}"


def parameter_resources(action: str, get_param: Any, region: str, account_id: str) -> list[str]:
    """The parameters' ARNs an action on named parameters is authorized against, as on AWS
    (one per name; GetParametersByPath: the path's); [] for any other action. moto
    authorizes every SSM action against "*", so a policy allowing ssm:GetParameter on
    arn:aws:ssm:*:*:parameter/hybridnet/* alone would allow nothing."""
    field_name = PARAMETER_ACTIONS.get(action)
    if field_name is None:
        return []
    from moto.utilities.utils import get_partition

    value = get_param(field_name)
    names = value if isinstance(value, list) else [value]
    names = [str(n) for n in names if isinstance(n, str) and n]
    if action == "GetParametersByPath":
        names = [n.rstrip("/") or "/" for n in names]
    partition = get_partition(region)
    return [parameter_arn(n, region, account_id, partition) for n in names]


# --- commands ----------------------------------------------------------------


@dataclass(frozen=True)
class ShellScript:
    """An AWS-RunShellScript invocation's parameters, validated."""

    commands: tuple[str, ...]
    working_directory: str
    execution_timeout: int  # the document's value
    timeout: int  # what the agent enforces

    @classmethod
    def from_parameters(cls, parameters: Any) -> ShellScript:
        if not isinstance(parameters, dict):
            raise InvalidParameters("Parameters must be a map of parameter name to list of values.")
        unknown = sorted(set(parameters) - set(utils.PARAMETERS))
        if unknown:
            raise InvalidParameters(
                f"{utils.RUN_SHELL_SCRIPT} has no parameter(s) {', '.join(unknown)}; "
                f"its parameters are {', '.join(utils.PARAMETERS)}."
            )
        for name, values in parameters.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise InvalidParameters(f"Parameter {name!r} must be a list of strings.")
        commands = parameters.get("commands") or []
        if not commands:
            raise InvalidParameters("Parameter 'commands' is required and needs at least one item.")

        def single(name: str, default: str) -> str:
            values = parameters.get(name, [default])
            if len(values) != 1:
                raise InvalidParameters(f"Parameter {name!r} is a String: give exactly one value, not {len(values)}.")
            return values[0]

        working_directory = single("workingDirectory", "")
        if len(working_directory) > utils.WORKING_DIRECTORY_MAX_CHARS:
            raise InvalidParameters(
                f"Parameter 'workingDirectory' is longer than {utils.WORKING_DIRECTORY_MAX_CHARS} characters."
            )
        timeout_text = single("executionTimeout", str(utils.DEFAULT_EXECUTION_TIMEOUT))
        if not utils.EXECUTION_TIMEOUT_PATTERN.fullmatch(timeout_text):
            raise InvalidParameters(
                f"Parameter 'executionTimeout' value {timeout_text!r} does not match the allowed "
                "pattern (an integer from 1 to 172800)."
            )
        execution_timeout = int(timeout_text)
        agent_timeout = (
            execution_timeout
            if utils.AGENT_MIN_EXECUTION_TIMEOUT <= execution_timeout <= utils.AGENT_MAX_EXECUTION_TIMEOUT
            else utils.DEFAULT_EXECUTION_TIMEOUT
        )
        return cls(tuple(commands), working_directory, execution_timeout, agent_timeout)


def _delivery_cap() -> float | None:
    try:
        value = float(os.environ.get(DELIVERY_TIMEOUT_ENV, ""))
    except ValueError:
        return None
    return value if value > 0 else None


@dataclass
class Outcome:
    status: str
    details: str
    response_code: int
    stdout: str = ""
    stderr: str = ""


class Invocation:
    """One command on one instance: its state, and the thread that delivers and runs it."""

    def __init__(self, command: RunCommand, instance_id: str, instance_name: str, deliverable: bool):
        self.command = command
        self.instance_id = instance_id
        self.instance_name = instance_name
        self.deliverable = deliverable
        self.lock = threading.Lock()
        self.status, self.details = "Pending", "Pending"
        self.response_code = utils.NOT_RUN_RESPONSE_CODE
        self.stdout = self.stderr = ""
        self.started: dt.datetime | None = None
        self.ended: dt.datetime | None = None
        self._started_at = 0.0
        self._elapsed: float | None = None
        self.cancel_requested = threading.Event()
        self.done = threading.Event()

    @property
    def command_id(self) -> str:  # for moto's paginator
        return self.command.command_id

    # -- saved with the emulator's state (persistence.py): no lock, event or thread

    def __getstate__(self) -> dict[str, Any]:
        with self.lock:
            state = {k: v for k, v in self.__dict__.items() if k not in ("lock", "cancel_requested", "done")}
            if self.details not in TERMINAL_DETAILS:
                # As a restored emulator tells it: its process belonged to this emulator.
                running = self.started is not None
                state.update(
                    status="Failed",
                    details="Failed",
                    response_code=utils.NOT_RUN_RESPONSE_CODE,
                    stderr=INTERRUPTED.format(state="running" if running else "pending"),
                )
                if running:
                    state.update(ended=utils.utcnow(), _elapsed=time.monotonic() - self._started_at)
            return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()
        self.cancel_requested = threading.Event()
        self.done = threading.Event()
        self.done.set()  # restored terminal: nothing runs it any more

    # -- state, read under the lock --

    def state(self) -> tuple[str, str]:
        with self.lock:
            return self._state()

    def _state(self) -> tuple[str, str]:
        if self.details not in TERMINAL_DETAILS and self.cancel_requested.is_set():
            return "Cancelling", "Cancelling"
        return self.status, self.details

    def terminal(self) -> bool:
        with self.lock:
            return self.details in TERMINAL_DETAILS

    def _elapsed_seconds(self) -> float | None:
        if self.started is None:
            return None
        return self._elapsed if self._elapsed is not None else time.monotonic() - self._started_at

    def get_command_invocation(self) -> dict[str, Any]:
        """GetCommandInvocation's answer."""
        command = self.command
        with self.lock:
            status, details = self._state()
            finished = self.details in TERMINAL_DETAILS
            return {
                "CommandId": command.command_id,
                "InstanceId": self.instance_id,
                "Comment": command.comment,
                "DocumentName": command.document_name,
                "DocumentVersion": command.document_version,
                "PluginName": utils.PLUGIN_NAME,
                "ResponseCode": self.response_code,
                "ExecutionStartDateTime": utils.iso8601(self.started),
                "ExecutionElapsedTime": utils.iso8601_duration(self._elapsed_seconds()),
                "ExecutionEndDateTime": utils.iso8601(self.ended),
                "Status": status,
                "StatusDetails": details,
                "StandardOutputContent": utils.string_prefix(self.stdout, utils.MAX_STDOUT) if finished else "",
                "StandardOutputUrl": "",
                "StandardErrorContent": utils.string_prefix(self.stderr, utils.MAX_STDERR) if finished else "",
                "StandardErrorUrl": "",
                "CloudWatchOutputConfig": command.cloudwatch_output_config,
            }

    def list_entry(self, details: bool) -> dict[str, Any]:
        """ListCommandInvocations' CommandInvocation."""
        command = self.command
        with self.lock:
            status, status_details = self._state()
            entry: dict[str, Any] = {
                "CommandId": command.command_id,
                "InstanceId": self.instance_id,
                "InstanceName": self.instance_name,
                "Comment": command.comment,
                "DocumentName": command.document_name,
                "DocumentVersion": command.document_version,
                "RequestedDateTime": command.requested,
                "Status": status,
                "StatusDetails": status_details,
                "TraceOutput": "",
                "StandardOutputUrl": "",
                "StandardErrorUrl": "",
                "CommandPlugins": [],
                "ServiceRole": command.service_role,
                "NotificationConfig": command.notification_config,
                "CloudWatchOutputConfig": command.cloudwatch_output_config,
            }
            if details:
                plugin_status = status if status != "Cancelling" else "InProgress"
                plugin: dict[str, Any] = {
                    "Name": utils.PLUGIN_NAME,
                    "Status": plugin_status,
                    "StatusDetails": status_details,
                    "ResponseCode": self.response_code,
                    "Output": (
                        utils.plugin_output(self.stdout, self.stderr) if self.details in TERMINAL_DETAILS else ""
                    ),
                    "StandardOutputUrl": "",
                    "StandardErrorUrl": "",
                    "OutputS3Region": command.output_s3_region,
                    "OutputS3BucketName": command.output_s3_bucket_name,
                    "OutputS3KeyPrefix": command.output_s3_key_prefix,
                }
                if self.started is not None:
                    plugin["ResponseStartDateTime"] = self.started
                if self.ended is not None:
                    plugin["ResponseFinishDateTime"] = self.ended
                entry["CommandPlugins"] = [plugin]
            return entry

    # -- the worker --

    def start(self) -> None:
        if not self.deliverable:
            self._finish(Outcome("Failed", "Undeliverable", utils.NOT_RUN_RESPONSE_CODE))
            return
        threading.Thread(
            target=self._run, name=f"ssm-{self.command.command_id[:8]}-{self.instance_id}", daemon=True
        ).start()

    def cancel(self) -> None:
        self.cancel_requested.set()

    def _finish(self, outcome: Outcome) -> None:
        with self.lock:
            if self.details in TERMINAL_DETAILS:
                return
            if self.started is not None:
                self._elapsed = time.monotonic() - self._started_at
                self.ended = utils.utcnow()
            self.status, self.details, self.response_code = outcome.status, outcome.details, outcome.response_code
            self.stdout, self.stderr = outcome.stdout, outcome.stderr
        self.done.set()
        persistence.note_change()  # no API call follows a command's end: save it now

    def _run(self) -> None:
        try:
            host = self._await_delivery()
            if host is not None:
                self._finish(self._execute(host))
        except Exception as exc:  # an invocation never stays unfinished
            self._finish(Outcome("Failed", "Failed", 1, stderr=f"hybridnet emulator: {type(exc).__name__}: {exc}"))

    def _await_delivery(self) -> ManagedInstance | None:
        """The instance once it is Online; None if the command expired or was cancelled first."""
        while True:
            if self.cancel_requested.is_set():
                self._finish(Outcome("Cancelled", "Cancelled", utils.NOT_RUN_RESPONSE_CODE))
                return None
            host = self.command.backend.registered_instance(self.instance_id)
            if host is not None and host.ping_status() == "Online":
                return host
            remaining = self.command.expires_at - time.monotonic()
            if remaining <= 0:
                self._finish(Outcome("TimedOut", "DeliveryTimedOut", utils.NOT_RUN_RESPONSE_CODE))
                return None
            self.cancel_requested.wait(min(DELIVERY_POLL_SECONDS, remaining))

    def _execute(self, host: ManagedInstance) -> Outcome:
        script = self.command.script
        with self.lock:
            self.status = self.details = "InProgress"
            self.started, self._started_at = utils.utcnow(), time.monotonic()
        root = Path(tempfile.mkdtemp(prefix="hybridnet-ssm-"))
        try:
            # The agent's layout: <data>/<instance>/document/orchestration/<command>/<plugin>/<step>/
            document_dir = root / self.instance_id / "document" / "orchestration" / self.command.command_id
            plugin_dir = document_dir / "awsrunShellScript"
            step_dir = plugin_dir / "0.awsrunShellScript"
            step_dir.mkdir(parents=True)
            script_path = step_dir / utils.SCRIPT_NAME
            script_path.write_text("\n".join(script.commands) + "\n")
            script_path.chmod(0o700)
            working_dir = _working_directory(script.working_directory, document_dir, plugin_dir)
            if not os.path.isdir(working_dir):
                return Outcome(
                    "Failed",
                    "Failed",
                    1,
                    stderr=f"failed to run commands: chdir {working_dir}: no such file or directory",
                )
            argv = [*host.argv_prefix, *utils.SHELL, str(script_path)]
            env, secrets = host.command_environment(script.timeout)
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=working_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                return Outcome(
                    "Failed", "Failed", 1, stderr=f"failed to run commands: fork/exec {argv[0]}: {exc.strerror or exc}"
                )
            outcome = self._supervise(proc, script.timeout)
            outcome.stdout, outcome.stderr = _redact(outcome.stdout, secrets), _redact(outcome.stderr, secrets)
            return outcome
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _supervise(self, proc: subprocess.Popen, timeout: int) -> Outcome:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None and proc.stderr is not None
        captured = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
        limits = {proc.stdout.fileno(): utils.CAPTURE_STDOUT_BYTES, proc.stderr.fileno(): utils.CAPTURE_STDERR_BYTES}
        stopped: str | None = None  # "timeout" | "cancel"
        selector = selectors.DefaultSelector()
        try:
            for stream in (proc.stdout, proc.stderr):
                selector.register(stream, selectors.EVENT_READ)
            # Like the agent (Go's exec.Cmd.Wait), finished means: both pipes closed and the shell exited.
            while selector.get_map() and stopped is None:
                stopped = self._stop_reason(deadline)
                if stopped:
                    break
                for key, _ in selector.select(min(TICK_SECONDS, max(0.0, deadline - time.monotonic()))):
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fileobj)
                        continue
                    buffer = captured[key.fd]
                    room = limits[key.fd] - len(buffer)
                    if room > 0:
                        buffer += data[:room]
            while stopped is None:
                stopped = self._stop_reason(deadline)
                if stopped:
                    break
                try:
                    proc.wait(timeout=min(TICK_SECONDS, max(0.0, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    pass
        finally:
            selector.close()
            if stopped:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(timeout=KILL_WAIT_SECONDS)
                except subprocess.TimeoutExpired:
                    pass
            proc.stdout.close()
            proc.stderr.close()
        out, err = (bytes(buffer).decode("utf-8", "replace") for buffer in captured.values())  # stdout, stderr
        if stopped == "timeout":
            return Outcome("TimedOut", "ExecutionTimedOut", utils.STOPPED_PREEMPTIVELY_EXIT_CODE, out, err)
        if stopped == "cancel":
            return Outcome("Cancelled", "Cancelled", utils.STOPPED_PREEMPTIVELY_EXIT_CODE, out, err)
        code = proc.returncode
        if code == 0:
            return Outcome("Success", "Success", 0, out, err)
        if code == utils.STOPPED_PREEMPTIVELY_EXIT_CODE:  # the agent reads 137 as "stopped by its timeout"
            return Outcome("TimedOut", "ExecutionTimedOut", code, out, err)
        # The agent appends Go's error to stderr; a shell killed by a signal has exit code -1 there.
        return Outcome("Failed", "Failed", code if code > 0 else -1, out, err + utils.exit_message(code))

    def _stop_reason(self, deadline: float) -> str | None:
        if self.cancel_requested.is_set():
            return "cancel"
        if time.monotonic() >= deadline:
            return "timeout"
        return None


def _redact(text: str, secrets: Iterable[str]) -> str:
    """`text` without the credentials a command was given (e.g. a command that ran `env`)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _working_directory(requested: str, document_dir: Path, plugin_dir: Path) -> str:
    """The agent's rule: an absolute path as given; a relative one under the
    document's downloads/ if it exists there; else the plugin's orchestration directory."""
    if os.path.isabs(requested):
        return requested
    candidate = document_dir / "downloads" / requested
    return str(candidate) if requested and candidate.exists() else str(plugin_dir)


def _max_errors(value: str, targets: int) -> int:
    try:
        if value.endswith("%"):
            return int(targets * int(value[:-1]) / 100)
        return int(value)
    except ValueError:
        return 0


class RunCommand:
    """One SendCommand: what was asked, and its invocations."""

    def __init__(
        self,
        backend: Any,
        *,
        document_name: str,
        document_version: str,
        comment: str,
        parameters: dict,
        script: ShellScript,
        instance_ids: list[str],
        targets: list[dict],
        timeout_seconds: int,
        max_concurrency: str,
        max_errors: str,
        notification_config: dict | None,
        cloudwatch_output_config: dict | None,
        output_s3_bucket_name: str,
        output_s3_key_prefix: str,
        output_s3_region: str,
        service_role: str,
    ):
        self.backend = backend
        self.command_id = str(uuid.uuid4())
        self.document_name, self.document_version = document_name, document_version
        self.comment = comment
        self.parameters = parameters
        self.script = script
        self.instance_ids = instance_ids
        self.targets = targets
        self.timeout_seconds = timeout_seconds
        self.max_concurrency, self.max_errors = max_concurrency, max_errors
        self.notification_config = notification_config or {
            "NotificationArn": "",
            "NotificationEvents": [],
            "NotificationType": "",
        }
        self.cloudwatch_output_config = cloudwatch_output_config or {
            "CloudWatchLogGroupName": "",
            "CloudWatchOutputEnabled": False,
        }
        self.output_s3_bucket_name = output_s3_bucket_name
        self.output_s3_key_prefix = output_s3_key_prefix
        self.output_s3_region = output_s3_region
        self.service_role = service_role
        self.requested = utils.utcnow()
        # AWS: a command not delivered within TimeoutSeconds + executionTimeout is DeliveryTimedOut.
        expires_in = float(timeout_seconds + script.execution_timeout)
        cap = _delivery_cap()
        if cap is not None:
            expires_in = min(expires_in, cap)
        self.expires_at = time.monotonic() + expires_in
        self.expires_after = self.requested + dt.timedelta(seconds=expires_in)
        self.invocations: list[Invocation] = []

    def invocation(self, instance_id: str) -> Invocation | None:
        return next((i for i in self.invocations if i.instance_id == instance_id), None)

    def start(self) -> None:
        for invocation in self.invocations:
            invocation.start()

    def cancel(self, instance_ids: Iterable[str] | None) -> None:
        chosen = [i for i in self.invocations if instance_ids is None or i.instance_id in set(instance_ids)]
        for invocation in chosen:
            invocation.cancel()
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        for invocation in chosen:
            invocation.done.wait(max(0.0, deadline - time.monotonic()))

    def state(self) -> tuple[str, str, dict[str, int]]:
        """(Status, StatusDetails, counts) over the invocations, as the service aggregates them."""
        states = [i.state() for i in self.invocations]
        details = [d for _, d in states]
        counts = {
            "TargetCount": len(states),
            "CompletedCount": sum(d in TERMINAL_DETAILS for d in details),
            "ErrorCount": sum(d in ERROR_DETAILS for d in details),
            "DeliveryTimedOutCount": details.count("DeliveryTimedOut"),
        }
        if not states:
            return "Failed", "NoInstancesInTag", counts
        if any(d not in TERMINAL_DETAILS for d in details):
            if "Cancelling" in details:
                return "Cancelling", "Cancelling", counts
            if all(d == "Pending" for d in details):
                return "Pending", "Pending", counts
            return "InProgress", "InProgress", counts
        deliverable = [d for d in details if d != "Undeliverable"]
        if not deliverable:
            return "Failed", "Undeliverable", counts
        if all(d == "Success" for d in deliverable):
            return "Success", "Success", counts
        if "Cancelled" in details:
            return "Cancelled", "Cancelled", counts
        allowed = _max_errors(self.max_errors, len(states))
        if counts["ErrorCount"] > allowed:
            if "Failed" in details:
                return "Failed", "Failed", counts
            return "TimedOut", "ExecutionTimedOut", counts
        if counts["DeliveryTimedOutCount"] > allowed:
            return "TimedOut", "DeliveryTimedOut", counts
        return "Failed", "Incomplete", counts

    def response_object(self, sent: bool = False) -> dict[str, Any]:
        """The API's Command; `sent`: as SendCommand answers (Pending, every count 0)."""
        if sent:
            status, details = "Pending", "Pending"
            counts = {"TargetCount": 0, "CompletedCount": 0, "ErrorCount": 0, "DeliveryTimedOutCount": 0}
        else:
            status, details, counts = self.state()
        return {
            "CommandId": self.command_id,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "Comment": self.comment,
            "ExpiresAfter": self.expires_after,
            "Parameters": self.parameters,
            "InstanceIds": self.instance_ids,
            "Targets": self.targets,
            "RequestedDateTime": self.requested,
            "Status": status,
            "StatusDetails": details,
            "OutputS3Region": self.output_s3_region,
            "OutputS3BucketName": self.output_s3_bucket_name,
            "OutputS3KeyPrefix": self.output_s3_key_prefix,
            "MaxConcurrency": self.max_concurrency,
            "MaxErrors": self.max_errors,
            **counts,
            "ServiceRole": self.service_role,
            "NotificationConfig": self.notification_config,
            "CloudWatchOutputConfig": self.cloudwatch_output_config,
            "TimeoutSeconds": self.timeout_seconds,
        }


# --- filters -----------------------------------------------------------------


def _parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilterValue(f"{value!r} is not a timestamp such as 2024-07-07T00:00:00Z") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _command_filter(filters: list[dict] | None, *, invocations: bool) -> Any:
    """A predicate over (requested, document_name, status, details) for ListCommands / ListCommandInvocations."""
    checks = []
    for entry in filters or []:
        key, value = entry.get("key"), entry.get("value", "")
        if key == "InvokedAfter":
            after = _parse_time(value)
            checks.append(lambda r, d, s, sd, t=after: r >= t)
        elif key == "InvokedBefore":
            before = _parse_time(value)
            checks.append(lambda r, d, s, sd, t=before: r <= t)
        elif key == "Status":
            checks.append(lambda r, d, s, sd, v=value: v in (s, sd))
        elif key == "DocumentName":
            checks.append(lambda r, d, s, sd, v=value: d == v)
        elif key == "ExecutionStage" and not invocations:
            if value not in ("Executing", "Complete"):
                raise InvalidFilterValue("ExecutionStage is Executing or Complete")
            checks.append(
                lambda r, d, s, sd, v=value: (
                    (sd in TERMINAL_DETAILS or sd in ("Incomplete", "NoInstancesInTag")) == (v == "Complete")
                )
            )
        else:
            raise InvalidFilterKey(f"{key} is not a filter key here")
    return lambda *fields: all(check(*fields) for check in checks)


def _instance_filter(key: str, values: list[str]) -> Any:
    """A predicate over (ManagedInstance, InstanceInformation) for one DescribeInstanceInformation filter."""
    if key == "PingStatus":
        bad = [v for v in values if v not in utils.PING_STATUSES]
        if bad:
            raise InvalidInstanceInformationFilterValue(
                f"PingStatus filter is invalid, valid values are {', '.join(utils.PING_STATUSES)}"
            )
        return lambda m, info: info["PingStatus"] in values
    if key == "ResourceType":
        if len(values) != 1:
            raise InvalidInstanceInformationFilterValue("ResourceType filter may contain only one value.")
        if values[0] not in utils.RESOURCE_TYPES:
            raise InvalidInstanceInformationFilterValue(
                f"ResourceType filter is invalid, valid values are {', '.join(utils.RESOURCE_TYPES)}"
            )
        return lambda m, info: info["ResourceType"] in values
    if key == "PlatformTypes":
        return lambda m, info: info["PlatformType"] in values
    simple = {
        "InstanceIds": "InstanceId",
        "AgentVersion": "AgentVersion",
        "SourceIds": "SourceId",
        "SourceTypes": "SourceType",
    }
    if key in simple:
        return lambda m, info, field=simple[key]: info[field] in values
    if key in ("ActivationIds", "IamRole", "AssociationStatus"):
        return lambda m, info: False  # no hybrid activations, instance profiles or associations here
    if key == "tag-key" or key.startswith("tag:"):
        return lambda m, info: _tag_target_matches(m.ec2_instance(), key, values)
    raise InvalidFilterKey(f"{key} is not a valid filter key")


@dataclass
class InformationRow:
    instance_id: str  # for moto's paginator
    information: dict[str, Any]


# --- the backend -------------------------------------------------------------


class RunCommandBackend:
    """Installed into moto's SimpleSystemManagerBackend (one per account and region)."""

    account_id: str
    region_name: str
    _commands: list

    def run_command_registry(self) -> dict[str, ManagedInstance]:
        with _lock:
            registry = self.__dict__.get(REGISTRY_ATTRIBUTE)
            if registry is None:
                registry = self.__dict__[REGISTRY_ATTRIBUTE] = {}
            return registry

    def registered_instance(self, instance_id: str) -> ManagedInstance | None:
        """The registration of a managed instance (registered, and its EC2 instance not gone)."""
        with _lock:
            host = self.run_command_registry().get(instance_id)
        return host if host is not None and host.is_managed() else None

    def run_commands(self) -> list[RunCommand]:
        with _lock:
            return [c for c in self._commands if isinstance(c, RunCommand)]

    def run_command(self, command_id: str | None) -> RunCommand | None:
        return next((c for c in self.run_commands() if c.command_id == command_id), None)

    @paginate(pagination_model=utils.PAGINATION_MODEL)
    def describe_instance_information(
        self, instance_information_filter_list: list[dict] | None = None, filters: list[dict] | None = None
    ) -> list[InformationRow]:
        if instance_information_filter_list and filters:
            raise InvalidInstanceInformationFilterValue(
                "InstanceInformationFilterList and Filters cannot be used together; use Filters."
            )
        predicates = [
            _instance_filter(f["key"], list(f.get("valueSet") or [])) for f in instance_information_filter_list or []
        ]
        predicates += [_instance_filter(f["Key"], list(f.get("Values") or [])) for f in filters or []]
        with _lock:
            hosts = sorted(self.run_command_registry().values(), key=lambda m: m.instance_id)
        rows = []
        for host in hosts:
            if not host.is_managed():
                continue
            info = host.information()
            if all(predicate(host, info) for predicate in predicates):
                rows.append(InformationRow(host.instance_id, info))
        return rows

    def send_command(
        self,
        *,
        document_name: str,
        document_version: str | None,
        parameters: Any,
        instance_ids: list[str],
        targets: list[dict],
        timeout_seconds: int | None,
        comment: str,
        max_concurrency: str | None,
        max_errors: str | None,
        notification_config: dict | None,
        cloudwatch_output_config: dict | None,
        output_s3_bucket_name: str,
        output_s3_key_prefix: str,
        output_s3_region: str,
        service_role: str,
    ) -> RunCommand:
        name = document_name.rsplit("document/", 1)[-1] if document_name.startswith("arn:") else document_name
        if name != utils.RUN_SHELL_SCRIPT:
            if name in (getattr(self, "_documents", None) or {}):
                raise InvalidDocument(f"The hybridnet emulator runs {utils.RUN_SHELL_SCRIPT} only, not {name}.")
            raise InvalidDocument("The specified document does not exist.")
        if document_version and document_version not in utils.DOCUMENT_VERSIONS:
            raise InvalidDocumentVersion()
        script = ShellScript.from_parameters(parameters)
        if instance_ids and targets:
            raise InvalidParameters("Specify InstanceIds or Targets, not both.")
        if not instance_ids and not targets:
            raise InvalidParameters("Specify the managed nodes to run the command on: InstanceIds or Targets.")
        plan: list[tuple[str, bool]]
        if instance_ids:
            ids = list(dict.fromkeys(instance_ids))
            unmanaged = [i for i in ids if self.registered_instance(i) is None]
            if unmanaged:
                raise InvalidInstanceId(unmanaged, self.account_id)
            plan = [(i, True) for i in ids]
        else:
            plan = self._resolve_targets(targets)
        command = RunCommand(
            self,
            document_name=name,
            document_version=document_version or "$DEFAULT",
            comment=comment,
            parameters=parameters,
            script=script,
            instance_ids=list(dict.fromkeys(instance_ids)),
            targets=targets,
            timeout_seconds=timeout_seconds or utils.DEFAULT_DELIVERY_TIMEOUT,
            max_concurrency=max_concurrency or "50",
            max_errors=max_errors or "0",
            notification_config=notification_config,
            cloudwatch_output_config=cloudwatch_output_config,
            output_s3_bucket_name=output_s3_bucket_name,
            output_s3_key_prefix=output_s3_key_prefix,
            output_s3_region=output_s3_region,
            service_role=service_role,
        )
        for instance_id, deliverable in plan:
            host = self.registered_instance(instance_id) if deliverable else None
            command.invocations.append(
                Invocation(command, instance_id, host.computer_name if host else "", deliverable)
            )
        with _lock:
            self._commands.append(command)
        command.start()
        return command

    def _resolve_targets(self, targets: list[dict]) -> list[tuple[str, bool]]:
        """(instance id, deliverable): managed instances matching every target; an instance
        named by an InstanceIds target but not managed is there, Undeliverable."""
        instances = _all_ec2_instances(self.account_id, self.region_name)
        matched: set[str] | None = None
        named: list[str] = []
        for target in targets:
            key, values = target.get("Key", ""), list(target.get("Values") or [])
            if key == "InstanceIds":
                found = set(values)
                named += values
            elif key.startswith("tag:") or key == "tag-key":
                found = {i.id for i in instances if _tag_target_matches(i, key, values)}
            else:
                raise InvalidParameters(
                    f"Target key {key!r} is not supported by the hybridnet emulator; "
                    "use InstanceIds, tag:<key> or tag-key."
                )
            matched = found if matched is None else matched & found
        plan = []
        for instance_id in sorted(matched or ()):
            if self.registered_instance(instance_id) is not None:
                plan.append((instance_id, True))
            elif instance_id in named:
                plan.append((instance_id, False))
        return plan

    @paginate(pagination_model=utils.PAGINATION_MODEL)
    def list_commands(
        self, command_id: str | None = None, instance_id: str | None = None, filters: list[dict] | None = None
    ) -> list[RunCommand]:
        if command_id:
            command = self.run_command(command_id)
            if command is None:
                raise InvalidCommandId()
            commands = [command]
        else:
            commands = sorted(self.run_commands(), key=lambda c: c.requested, reverse=True)
        if instance_id:
            commands = [c for c in commands if c.invocation(instance_id) is not None]
        keep = _command_filter(filters, invocations=False)
        result = []
        for command in commands:
            status, details, _ = command.state()
            if keep(command.requested, command.document_name, status, details):
                result.append(command)
        return result

    @paginate(pagination_model=utils.PAGINATION_MODEL)
    def list_command_invocations(
        self, command_id: str | None = None, instance_id: str | None = None, filters: list[dict] | None = None
    ) -> list[Invocation]:
        if command_id:
            command = self.run_command(command_id)
            commands = [command] if command is not None else []  # AWS: an empty list, not an error
        else:
            commands = sorted(self.run_commands(), key=lambda c: c.requested, reverse=True)
        keep = _command_filter(filters, invocations=True)
        result = []
        for command in commands:
            for invocation in command.invocations:
                if instance_id and invocation.instance_id != instance_id:
                    continue
                status, details = invocation.state()
                if keep(command.requested, command.document_name, status, details):
                    result.append(invocation)
        return result

    def get_command_invocation(self, command_id: str, instance_id: str, plugin_name: str | None) -> dict[str, Any]:
        command = self.run_command(command_id)
        invocation = command.invocation(instance_id) if command is not None else None
        if invocation is None:
            raise InvocationDoesNotExist()
        if plugin_name is not None and plugin_name != utils.PLUGIN_NAME:
            raise InvalidPluginName()
        return invocation.get_command_invocation()

    def cancel_command(self, command_id: str, instance_ids: list[str] | None) -> None:
        command = self.run_command(command_id)
        if command is None:
            raise InvalidCommandId()
        command.cancel(instance_ids or None)
