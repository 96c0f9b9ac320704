"""Run Command's constants, formats and limits, as the service and SSM Agent have them.

Sources (all public): botocore's SSM service model (shapes, limits, enums and
their documentation), the AWS-RunShellScript document (schema 1.2), and the
SSM Agent's source (github.com/aws/amazon-ssm-agent: agent/plugins/runscript,
agent/plugins/pluginutil, agent/executers, agent/framework/processor/executer/
iohandler).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

RUN_SHELL_SCRIPT = "AWS-RunShellScript"
PLUGIN_NAME = "aws:runShellScript"  # the document's only step (schema 1.2: the plugin's name)
DOCUMENT_VERSIONS = ("$DEFAULT", "$LATEST", "1")  # AWS-RunShellScript has one version
AGENT_VERSION = "3.3.1142.0"

# AWS-RunShellScript's parameters.
PARAMETERS = ("commands", "workingDirectory", "executionTimeout")
WORKING_DIRECTORY_MAX_CHARS = 4096
DEFAULT_EXECUTION_TIMEOUT = 3600
EXECUTION_TIMEOUT_PATTERN = re.compile(
    r"([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})|(172[0-7][0-9]{2})|(172800)"
)
# The agent runs a timeout outside [5, 172800] s for the default 3600 s instead
# (pluginutil.ValidateExecutionTimeout): "executionTimeout": ["3"] runs up to an hour.
AGENT_MIN_EXECUTION_TIMEOUT = 5
AGENT_MAX_EXECUTION_TIMEOUT = 172800

DEFAULT_DELIVERY_TIMEOUT = 3600  # SendCommand's TimeoutSeconds when absent

# The agent: `sh -c <orchestration dir>/_script.sh`, the process its own group
# (killed as a group on timeout or cancel), exit code 137 for a command stopped
# that way (128 + SIGKILL), status TimedOut or Cancelled.
SCRIPT_NAME = "_script.sh"
SHELL = ("sh", "-c")
STOPPED_PREEMPTIVELY_EXIT_CODE = 137
NOT_RUN_RESPONSE_CODE = -1  # "the command hasn't started running on the managed node"

# GetCommandInvocation: "the first 24,000 characters written by the plugin to
# stdout", "the first 8,000 characters written ... to stderr"; the agent cuts
# with pluginutil.StringPrefix and this suffix.
MAX_STDOUT = 24000
MAX_STDERR = 8000
TRUNCATED_SUFFIX = "--output truncated--"
# ListCommandInvocations(Details=True): CommandPlugins[].Output, stdout and
# stderr together in at most 2,500 characters (iohandler.TruncateOutput).
MAX_PLUGIN_OUTPUT = 2500
ERROR_TITLE = "\n----------ERROR-------\n"
TRUNCATE_OUT = "\n---Output truncated---"
TRUNCATE_ERROR = "\n---Error truncated----"

# What the emulator keeps of a command's output in memory: enough to cut as
# above (a UTF-8 character has at most 4 bytes), the rest is read and dropped.
CAPTURE_STDOUT_BYTES = 4 * MAX_STDOUT + 4096
CAPTURE_STDERR_BYTES = 4 * MAX_STDERR + 4096

PING_STATUSES = ("Online", "ConnectionLost", "Inactive")
RESOURCE_TYPES = ("EC2Instance", "ManagedInstance")

# moto's paginator (moto.utilities.paginator.paginate), one entry per backend method.
PAGINATION_MODEL = {
    "describe_instance_information": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": 10,  # AWS: "default 10 items"
        "unique_attribute": "instance_id",
    },
    "list_commands": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": 50,
        "unique_attribute": "command_id",
    },
    "list_command_invocations": {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": 50,
        "unique_attribute": ["command_id", "instance_id"],
    },
}

# Go's names for the signals a shell may die of ("failed to run commands: signal: killed").
GO_SIGNAL_NAMES = {
    1: "hangup",
    2: "interrupt",
    3: "quit",
    4: "illegal instruction",
    6: "aborted",
    7: "bus error",
    8: "floating point exception",
    9: "killed",
    11: "segmentation fault",
    13: "broken pipe",
    14: "alarm clock",
    15: "terminated",
}


def utcnow() -> dt.datetime:
    """Naive UTC, moto's convention for the datetimes it serialises."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso8601(moment: dt.datetime | None) -> str:
    """GetCommandInvocation's Execution*DateTime strings ("" when it has not run)."""
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso8601_duration(seconds: float | None) -> str:
    """ExecutionElapsedTime, e.g. PT0.012S, PT1M39.826S."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    return text + f"{secs:.3f}S"


def string_prefix(text: str, max_length: int, suffix: str = TRUNCATED_SUFFIX) -> str:
    """The agent's pluginutil.StringPrefix: at most max_length characters, the
    suffix marking a cut (note `<`: a text of exactly max_length is cut too)."""
    if len(text) < max_length:
        return text
    if max_length > len(suffix):
        return text[: max_length - len(suffix)] + suffix
    return suffix[:max_length]


def plugin_output(stdout: str, stderr: str, capacity: int = MAX_PLUGIN_OUTPUT) -> str:
    """The agent's iohandler.TruncateOutput: CommandPlugins[].Output."""
    title = ERROR_TITLE if stderr else ""
    available = capacity - len(title)
    if len(stdout) + len(stderr) < available:
        return stdout + title + stderr
    if len(stdout) > available / 2 and len(stderr) > available / 2:
        size = (available - len(TRUNCATE_ERROR) - len(TRUNCATE_OUT)) // 2
        return stdout[:size] + TRUNCATE_OUT + title + stderr[:size] + TRUNCATE_ERROR
    if len(stdout) < available / 2:
        size = available - len(TRUNCATE_ERROR)
        return stdout + title + stderr[: size - len(stdout)] + TRUNCATE_ERROR
    size = available - len(TRUNCATE_OUT)
    return stdout[: size - len(stderr)] + TRUNCATE_OUT + title + stderr


def exit_message(returncode: int) -> str:
    """What the agent appends to stderr when the shell did not exit 0 (Go's ExitError text)."""
    if returncode < 0:
        return f"failed to run commands: signal: {GO_SIGNAL_NAMES.get(-returncode, f'signal {-returncode}')}"
    return f"failed to run commands: exit status {returncode}"


def host_platform(os_release: Path = Path("/etc/os-release")) -> tuple[str, str]:
    """(PlatformName, PlatformVersion) of the host the commands really run on."""
    fields: dict[str, str] = {}
    try:
        for line in os_release.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip()] = value.strip().strip('"')
    except OSError:
        pass
    return fields.get("NAME", "Linux"), fields.get("VERSION_ID", "")
