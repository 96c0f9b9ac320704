"""The data-plane seam: how the runbook reaches hosts, by role.

In the seed lab the on-prem side is EC2 instances reached with Session
Manager, so a check on a host (``nslookup``, ``vtysh -c 'show ip bgp'``) is a
command run there. Phases and diagnostics ask for a role (``router``,
``onprem_dns``, ``onprem_client``, ``vpc_client``: the params' ``hosts:``) and
get plain results; they never know what carries the command, as nornir's
tasks never import a connection driver::

    plane = hosts.plane(ctx)                      # the session factory's choice
    plane.describe()                              # one row per role: instance, SSM status
    done = plane.run("onprem_client", ["cat /etc/resolv.conf"])
    done.ok, done.stdout, done.reason

Planes, in a registry (papermill's engines):

* ``ssm``: AWS Systems Manager Run Command, on a real account and on the
  embedded emulator alike (there the lab registers its namespaces as the
  managed instances): DescribeInstanceInformation, SendCommand with
  ``AWS-RunShellScript``, botocore's ``command_executed`` waiter,
  GetCommandInvocation.
* ``none``: no host is named in the params; every command says so.

A host that is not managed, offline, or whose command fails or times out is
a :class:`HostCommand` whose ``reason`` names the instance, the SSM status and
what to do; never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from botocore.exceptions import ClientError, WaiterError

from .params import HOST_ROLES
from .waiting import poll

if TYPE_CHECKING:
    from .aws import AwsContext

DOCUMENT = "AWS-RunShellScript"
DEFAULT_TIMEOUT_S = 60
# What the runbook's own commands are told, so that an engineer reading the
# account's Run Command history knows who sent them.
COMMENT = "hybridnet"

# What to do about a host that SSM cannot reach, by what SSM says of it.
NOT_MANAGED = (
    "is not a managed instance: it needs the SSM Agent running, an instance profile with "
    "AmazonSSMManagedInstanceCore, and a way to SSM (internet, or VPC endpoints for ssm, "
    "ssmmessages and ec2messages)"
)
OFFLINE = (
    "SSM Agent has not checked in (PingStatus {status}): is the instance running, its agent up, "
    "and SSM reachable from it?"
)

FRAME_COLUMNS = ["role", "host", "instance_id", "ssm_status", "platform", "ip_address", "detail"]


@dataclass
class HostCommand:
    """One command on one host, as plain data."""

    role: str
    host: str  # what the params name (instance id or Name tag), or "-"
    instance_id: str | None
    status: str  # Success | Failed | TimedOut | Cancelled | Unreachable | NotConfigured | ...
    exit_code: int | None
    stdout: str
    stderr: str
    reason: str  # one line: what happened, and what to do when it is not Success
    command_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "Success"

    @property
    def outcome(self) -> str:
        """The reason, and for a failed command its own last words (stderr, else
        stdout; not SSM's "failed to run commands" line)."""
        if self.ok:
            return self.reason
        said = [
            line
            for line in (self.stderr.strip() or self.stdout.strip()).splitlines()
            if line.strip() and not line.startswith("failed to run commands")
        ]
        return f"{self.reason}: {said[-1][:300]}" if said else self.reason

    def to_dict(self) -> dict:
        return asdict(self)


class DataPlane(Protocol):
    """What phases and diagnostics may ask of the hosts."""

    name: str

    def describe(self) -> pd.DataFrame: ...

    def wait_online(self, role: str, timeout: float) -> str | None: ...

    def run(self, role: str, commands: Sequence[str], timeout: int = DEFAULT_TIMEOUT_S) -> HostCommand: ...

    def run_many(
        self, commands: Mapping[str, Sequence[str]], timeout: int = DEFAULT_TIMEOUT_S
    ) -> dict[str, HostCommand]: ...


class _Unreachable(Exception):
    def __init__(self, instance_id: str | None, status: str, reason: str):
        super().__init__(reason)
        self.instance_id, self.status, self.reason = instance_id, status, reason


class SsmPlane:
    """Hosts through AWS Systems Manager Run Command."""

    name = "ssm"

    def __init__(self, ctx: AwsContext):
        self.ctx = ctx
        self._instance_ids: dict[str, str] = {}

    # --- which instance plays a role ----------------------------------------------------------

    def _host(self, role: str):
        if role not in HOST_ROLES:
            raise ValueError(f"unknown host role {role!r}; roles are {', '.join(HOST_ROLES)}")
        return getattr(self.ctx.params.hosts, role)

    def instance_id(self, role: str) -> str:
        """The instance id for `role`, from the params' id or Name tag (raises _Unreachable)."""
        host = self._host(role)
        if host is None:
            raise _Unreachable(
                None,
                "NotConfigured",
                f"no hosts.{role} in the params: name the instance (its id or Name tag) to run this check there",
            )
        if host.instance_id:
            return host.instance_id
        if role not in self._instance_ids:
            from .aws import paginate  # aws imports this module

            ec2 = self.ctx.client("ec2")
            found = [
                i
                for reservation in paginate(
                    ec2,
                    "describe_instances",
                    "Reservations",
                    Filters=[
                        {"Name": "tag:Name", "Values": [host.name_tag]},
                        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
                    ],
                )
                for i in reservation["Instances"]
            ]
            if not found:
                raise _Unreachable(
                    None,
                    "NotFound",
                    f"hosts.{role}: no instance with Name tag {host.name_tag!r} "
                    f"in {self.ctx.params.region}; fix the name or use its id",
                )
            if len(found) > 1:
                ids = ", ".join(i["InstanceId"] for i in found)
                raise _Unreachable(
                    None,
                    "Ambiguous",
                    f"hosts.{role}: several instances are named {host.name_tag!r} ({ids}); give the instance id",
                )
            self._instance_ids[role] = found[0]["InstanceId"]
        return self._instance_ids[role]

    def _information(self, instance_ids: list[str]) -> dict[str, dict]:
        from .aws import paginate  # aws imports this module

        ssm = self.ctx.client("ssm")
        found = paginate(
            ssm,
            "describe_instance_information",
            "InstanceInformationList",
            Filters=[{"Key": "InstanceIds", "Values": instance_ids}],
        )
        return {i["InstanceId"]: i for i in found}

    def _check_online(self, role: str, instance_id: str, info: dict | None) -> None:
        if info is None:
            raise _Unreachable(instance_id, "NotManaged", f"{role} {instance_id} {NOT_MANAGED}")
        if info.get("PingStatus") != "Online":
            raise _Unreachable(
                instance_id,
                info.get("PingStatus", "Unknown"),
                f"{role} {instance_id}: " + OFFLINE.format(status=info.get("PingStatus")),
            )

    def describe(self) -> pd.DataFrame:
        """One row per role in the params: the instance and what SSM says of it."""
        rows, wanted = [], {}
        for role in HOST_ROLES:
            host = self._host(role)
            row: dict[str, Any] = {
                "role": role,
                "host": host.instance if host else "-",
                "instance_id": None,
                "ssm_status": None,
                "platform": None,
                "ip_address": None,
                "detail": "",
            }
            try:
                row["instance_id"] = wanted[role] = self.instance_id(role)
            except _Unreachable as exc:
                row.update(ssm_status=exc.status, detail=exc.reason)
            rows.append(row)
        information = self._information(sorted(set(wanted.values()))) if wanted else {}
        for row in rows:
            if row["instance_id"] is None:
                continue
            info = information.get(row["instance_id"])
            try:
                self._check_online(row["role"], row["instance_id"], info)
                row.update(ssm_status="Online", detail="managed instance, online")
            except _Unreachable as exc:
                row.update(ssm_status=exc.status, detail=exc.reason)
            if info:
                row.update(
                    platform=f"{info.get('PlatformName', '')} {info.get('PlatformVersion', '')}".strip(),
                    ip_address=info.get("IPAddress"),
                )
        return pd.DataFrame(rows, columns=FRAME_COLUMNS)

    def wait_online(self, role: str, timeout: float) -> str | None:
        """Until the host playing `role` is an online managed instance (an instance
        just started, or the lab's network still coming up): None then, else why
        not after `timeout` seconds, in the words describe() uses."""
        failure: list[_Unreachable] = []

        def online() -> bool:
            failure.clear()
            try:
                instance_id = self.instance_id(role)
                self._check_online(role, instance_id, self._information([instance_id]).get(instance_id))
                return True
            except _Unreachable as exc:
                failure.append(exc)
                return exc.status == "NotConfigured"  # no waiting names the host

        poll(online, timeout=timeout, interval=max(self.ctx.command_poll_s * 4, 0.2))
        return failure[0].reason if failure else None

    # --- running a command --------------------------------------------------------------------

    def run(self, role: str, commands: Sequence[str], timeout: int = DEFAULT_TIMEOUT_S) -> HostCommand:
        """Run a shell script (`commands`, one line each) on the host playing `role`."""
        host = self._host(role)
        label = host.instance if host else "-"
        try:
            instance_id = self.instance_id(role)
            self._check_online(role, instance_id, self._information([instance_id]).get(instance_id))
        except _Unreachable as exc:
            return HostCommand(
                role,
                label,
                exc.instance_id,
                "Unreachable" if exc.status != "NotConfigured" else "NotConfigured",
                None,
                "",
                "",
                exc.reason,
            )
        ssm = self.ctx.client("ssm")
        try:
            command_id = ssm.send_command(
                InstanceIds=[instance_id],
                DocumentName=DOCUMENT,
                Comment=COMMENT,
                Parameters={"commands": list(commands), "executionTimeout": [str(int(timeout))]},
                TimeoutSeconds=max(30, int(timeout)),
            )["Command"]["CommandId"]
        except ClientError as exc:
            error = exc.response["Error"]
            return HostCommand(
                role,
                label,
                instance_id,
                "Unreachable",
                None,
                "",
                "",
                f"{role} {instance_id}: SendCommand refused: {error['Code']}: {error['Message']}",
            )
        delay = self.ctx.command_poll_s
        attempts = math.ceil((timeout + 30) / delay) + 2
        try:
            ssm.get_waiter("command_executed").wait(
                CommandId=command_id, InstanceId=instance_id, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
            )
        except WaiterError:
            pass  # Failed, TimedOut, Cancelled: the invocation below says which
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        status, code = invocation["Status"], invocation.get("ResponseCode")
        details = invocation.get("StatusDetails", status)
        if status == "Success":
            reason = f"{role} {instance_id}: exit 0"
        elif status == "Failed":
            reason = f"{role} {instance_id}: the command failed with exit code {code} ({details})"
        elif status == "TimedOut":
            reason = (
                f"{role} {instance_id}: {details}: the command did not finish within {timeout} s"
                if details != "DeliveryTimedOut"
                else f"{role} {instance_id}: DeliveryTimedOut: the agent never picked the command up"
            )
        else:
            reason = f"{role} {instance_id}: {status} ({details})"
        return HostCommand(
            role,
            label,
            instance_id,
            status,
            code if code is not None and code >= 0 else None,
            invocation.get("StandardOutputContent", ""),
            invocation.get("StandardErrorContent", ""),
            reason,
            command_id,
        )

    def run_many(
        self, commands: Mapping[str, Sequence[str]], timeout: int = DEFAULT_TIMEOUT_S
    ) -> dict[str, HostCommand]:
        """The same as run() for several roles at once (in parallel), by role."""
        if not commands:
            return {}
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            futures = {role: pool.submit(self.run, role, script, timeout) for role, script in commands.items()}
            return {role: future.result() for role, future in futures.items()}


class NoPlane:
    """No host is named in the params: nothing is sent, and every answer says why."""

    name = "none"

    def __init__(self, ctx: AwsContext):
        self.ctx = ctx

    def _why(self, role: str) -> str:
        return (
            f"no hosts.{role} in the params: the runbook generates the files, and checks on hosts need "
            "the hosts named (an EC2 instance id or Name tag, reached through SSM Run Command)"
        )

    def describe(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "role": role,
                    "host": "-",
                    "instance_id": None,
                    "ssm_status": "NotConfigured",
                    "platform": None,
                    "ip_address": None,
                    "detail": self._why(role),
                }
                for role in HOST_ROLES
            ],
            columns=FRAME_COLUMNS,
        )

    def wait_online(self, role: str, timeout: float) -> str | None:
        return self._why(role)

    def run(self, role: str, commands: Sequence[str], timeout: int = DEFAULT_TIMEOUT_S) -> HostCommand:
        return HostCommand(role, "-", None, "NotConfigured", None, "", "", self._why(role))

    def run_many(
        self, commands: Mapping[str, Sequence[str]], timeout: int = DEFAULT_TIMEOUT_S
    ) -> dict[str, HostCommand]:
        return {role: self.run(role, script, timeout) for role, script in commands.items()}


PLANES: dict[str, Callable[[AwsContext], DataPlane]] = {"ssm": SsmPlane, "none": NoPlane}


def choose(params) -> str:
    """The plane for a parameter set: SSM as soon as it names a host, on AWS and
    on the emulator alike (the emulator's hosts are online while the lab runs)."""
    return "ssm" if params.hosts.roles() else "none"


def plane(ctx: AwsContext) -> DataPlane:
    return PLANES[ctx.host_plane](ctx)
