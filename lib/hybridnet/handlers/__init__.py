"""The Client VPN client connect handler: build, configure, validate and try it.

The deployable Lambda code is :mod:`hybridnet.handlers.connect_handler`
(standard library only; see its docstring for the policies and their
environment variables). This module is the library side that the phase 5
notebook and the tests use:

- :func:`check_function_name` -- Client VPN only accepts functions named
  ``AWSClientVPN-...``; Lambda names are 1-64 letters, digits, ``-``, ``_``.
- :func:`build_package` -- a deterministic zip of the handler (same bytes,
  same ``CodeSha256`` for the same code, so a phase can tell "unchanged").
- :func:`handler_environment` -- validated Lambda environment variables for
  a policy set.
- :func:`validate_response` -- what Client VPN makes of a handler's
  response: anything that does not follow the documented format is a
  denial with AWS's generic message.
- :func:`sample_events` and :func:`decide_locally` -- documented-schema
  requests and an in-process run of the deployable module with a given
  environment and clock (for tests, and for the notebook when no Lambda
  runtime is at hand).

Response rules, from the AWS Client VPN administrator guide ("Connection
authorization"): all four fields are required; ``allow`` is a boolean;
``error-msg-on-failed-posture-compliance`` is a string of up to 255
characters; ``posture-compliance-statuses`` is a list of at most 10 status
names of up to 255 characters each; ``schema-version`` is ``v1``. A
response that is not valid -- or a function that errors, times out (30 s)
or is throttled -- denies the connection, the client sees "Error
establishing connection. Please contact your administrator." and the
connection log records ``client-connect-handler-invalid-response`` (or the
matching ``-timed-out`` / ``-other-execution-error`` / ``-throttled``).
Extra keys in a response are not mentioned by AWS; they are ignored here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import ipaddress
import json
import re
import zipfile
import zoneinfo
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import HybridnetError
from . import connect_handler as _deployed

__all__ = [
    "REMOTE_USER_IPS",
    "AWS_DEFAULT_DENY_MESSAGE",
    "FUNCTION_NAME_PREFIX",
    "HANDLER",
    "MAX_MESSAGE_LENGTH",
    "MAX_STATUSES",
    "MODULE_PATH",
    "POLICY_NAMES",
    "REQUEST_FIELDS",
    "RESPONSE_FIELDS",
    "RUNTIME",
    "TIMEOUT_SECONDS",
    "HandlerConfigError",
    "HandlerDecision",
    "SampleEvent",
    "build_package",
    "check_function_name",
    "code_sha256",
    "decide_locally",
    "handler_environment",
    "sample_event",
    "sample_events",
    "validate_response",
]

MODULE_PATH = Path(_deployed.__file__)
MODULE_NAME = "connect_handler"
HANDLER = f"{MODULE_NAME}.lambda_handler"
RUNTIME = "python3.12"
TIMEOUT_SECONDS = 30  # Client VPN stops waiting after 30 s; a longer Lambda timeout is pointless

FUNCTION_NAME_PREFIX = "AWSClientVPN-"
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

REQUEST_FIELDS: tuple[str, ...] = _deployed.REQUEST_FIELDS
RESPONSE_FIELDS = (
    "allow",
    "error-msg-on-failed-posture-compliance",
    "posture-compliance-statuses",
    "schema-version",
)
SCHEMA_VERSION = _deployed.SCHEMA_VERSION
MAX_MESSAGE_LENGTH = _deployed.MAX_MESSAGE_LENGTH  # Client VPN's limit, as the function applies it
MAX_STATUSES = 10
MAX_STATUS_LENGTH = 255
AWS_DEFAULT_DENY_MESSAGE = "Error establishing connection. Please contact your administrator."
POLICY_NAMES: tuple[str, ...] = _deployed.POLICY_NAMES
POLICY_MESSAGES: dict[str, str] = dict(_deployed.POLICY_MESSAGES)
ENV_POLICIES = _deployed.ENV_POLICIES
ENV_ALLOWED_CIDRS = _deployed.ENV_ALLOWED_CIDRS
ENV_TIMEZONE = _deployed.ENV_TIMEZONE
ENV_DENY_ALL = _deployed.ENV_DENY_ALL
LAMBDA_ENVIRONMENT_LIMIT = 4096  # bytes, all keys and values together

# connection-attempt-failure-reason values in Client VPN connection logs
REASON_DENIED = "client-connect-failed"
REASON_INVALID = "client-connect-handler-invalid-response"
REASON_ERROR = "client-connect-handler-other-execution-error"
REASON_TIMEOUT = "client-connect-handler-timed-out"


class HandlerConfigError(HybridnetError, ValueError):
    """A handler setting is invalid; ``field`` names it, the message says how to fix it."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


# --- decisions ---------------------------------------------------------------


class HandlerDecision(BaseModel):
    """What Client VPN does with one handler response.

    ``message`` is what a denied client is shown: the handler's own
    message for a valid response, AWS's generic one otherwise.
    ``failure_reason`` is what the connection log would record (``None``
    when allowed); ``problems`` lists why a response was not valid.
    """

    model_config = ConfigDict(frozen=True)

    allow: bool
    message: str = ""
    valid: bool = True
    failure_reason: str | None = None
    problems: tuple[str, ...] = ()
    posture_compliance_statuses: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        """A flat dict for a table (pandas.DataFrame) row."""
        return {
            "allow": self.allow,
            "message": self.message,
            "valid": self.valid,
            "failure_reason": self.failure_reason or "",
            "problems": "; ".join(self.problems),
        }


def _invalid(problems: list[str], reason: str = REASON_INVALID) -> HandlerDecision:
    return HandlerDecision(
        allow=False, message=AWS_DEFAULT_DENY_MESSAGE, valid=False, failure_reason=reason, problems=tuple(problems)
    )


def validate_response(obj: Any, *, function_error: str | None = None) -> HandlerDecision:
    """Judge a handler response the way Client VPN does.

    ``obj`` is the returned object, or the raw JSON text/bytes of a Lambda
    ``Invoke`` payload. ``function_error`` is Invoke's ``FunctionError``
    (set when the function raised): that is a denial whatever the payload.
    Anything malformed -- not JSON, not an object, a missing key, ``allow``
    not a boolean (``"true"`` and ``1`` are not), a message that is not a
    string or is longer than 255 characters, statuses that are not a list
    of at most 10 strings of at most 255 characters, ``schema-version``
    other than ``"v1"`` -- is a denial with AWS's generic message.
    """
    if function_error:
        return _invalid([f"the function failed ({function_error})"], REASON_ERROR)
    if isinstance(obj, (bytes, bytearray, str)):
        try:
            obj = json.loads(obj)
        except (ValueError, UnicodeDecodeError) as exc:
            return _invalid([f"the response is not JSON: {exc}"])
    if not isinstance(obj, Mapping):
        return _invalid([f"the response is a {type(obj).__name__}, not a JSON object"])

    problems: list[str] = []
    missing = [key for key in RESPONSE_FIELDS if key not in obj]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    allow = obj.get("allow")
    if "allow" in obj and not isinstance(allow, bool):
        problems.append(f"allow is {allow!r} ({type(allow).__name__}), not a boolean true/false")
    message = obj.get("error-msg-on-failed-posture-compliance")
    if "error-msg-on-failed-posture-compliance" in obj:
        if not isinstance(message, str):
            problems.append(f"error-msg-on-failed-posture-compliance is a {type(message).__name__}, not a string")
        elif len(message) > MAX_MESSAGE_LENGTH:
            problems.append(
                f"error-msg-on-failed-posture-compliance has {len(message)} characters; "
                f"at most {MAX_MESSAGE_LENGTH} are allowed"
            )
    statuses = obj.get("posture-compliance-statuses")
    if "posture-compliance-statuses" in obj:
        if not isinstance(statuses, list):
            problems.append(f"posture-compliance-statuses is a {type(statuses).__name__}, not a list")
        else:
            if len(statuses) > MAX_STATUSES:
                problems.append(
                    f"posture-compliance-statuses has {len(statuses)} entries; at most {MAX_STATUSES} are allowed"
                )
            for i, status in enumerate(statuses):
                if not isinstance(status, str):
                    problems.append(f"posture-compliance-statuses[{i}] is a {type(status).__name__}, not a string")
                elif len(status) > MAX_STATUS_LENGTH:
                    problems.append(
                        f"posture-compliance-statuses[{i}] has {len(status)} characters; "
                        f"at most {MAX_STATUS_LENGTH} are allowed"
                    )
    version = obj.get("schema-version")
    if "schema-version" in obj and version != SCHEMA_VERSION:
        problems.append(f"schema-version is {version!r}, not {SCHEMA_VERSION!r}")
    if problems:
        return _invalid(problems)
    # no problem: every key is there with its type (each one missing or wrong added a problem)
    assert isinstance(allow, bool) and isinstance(message, str) and isinstance(statuses, list)
    return HandlerDecision(
        allow=allow,
        message=message,
        valid=True,
        failure_reason=None if allow else REASON_DENIED,
        posture_compliance_statuses=tuple(statuses),
    )


# --- names, package, environment ---------------------------------------------


def check_function_name(name: Any, *, field: str = "function_name") -> str:
    """Return ``name`` if Client VPN can use it as a connect handler, else raise ValueError.

    Lambda allows 1-64 letters, digits, hyphens and underscores; Client VPN
    additionally requires the ``AWSClientVPN-`` prefix (case as written).
    ``field`` is the parameter path used in the message.
    """
    example = f"{FUNCTION_NAME_PREFIX}hybridnet-connect-handler"
    if not isinstance(name, str) or not name:
        raise HandlerConfigError(field, f"{name!r} is not a function name; use e.g. {example!r}")
    if name.startswith("arn:"):
        raise HandlerConfigError(field, f"{name!r} is an ARN; give the function name alone, e.g. {example!r}")
    if len(name) > 64:
        raise HandlerConfigError(
            field, f"{name!r} has {len(name)} characters; Lambda function names have at most 64 -- shorten it"
        )
    if not _FUNCTION_NAME.match(name):
        bad = "".join(sorted({c for c in name if not re.match(r"[A-Za-z0-9_-]", c)}))
        raise HandlerConfigError(
            field, f"{name!r} contains {bad!r}; Lambda function names may only contain letters, digits, '-' and '_'"
        )
    if not name.startswith(FUNCTION_NAME_PREFIX):
        if name.lower().startswith(FUNCTION_NAME_PREFIX.lower()):
            fix = (
                f"write the prefix exactly as {FUNCTION_NAME_PREFIX!r}: "
                f"{FUNCTION_NAME_PREFIX + name[len(FUNCTION_NAME_PREFIX) :]!r}"
            )
        else:
            suggestion = FUNCTION_NAME_PREFIX + name
            fix = (
                f"rename it to e.g. {suggestion!r}"
                if len(suggestion) <= 64
                else f"rename it to start with {FUNCTION_NAME_PREFIX!r} (at most 64 characters)"
            )
        raise HandlerConfigError(
            field,
            f"{name!r} does not start with {FUNCTION_NAME_PREFIX!r}; AWS Client VPN "
            f"only accepts connect handlers named so -- {fix}",
        )
    return name


_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def build_package() -> bytes:
    """The Lambda deployment package: a zip holding only ``connect_handler.py``.

    Deterministic: fixed timestamp, permissions and creator, stored (not
    deflated, so the bytes do not depend on the zlib version), so the same
    code always gives the same bytes and the same ``CodeSha256``.
    """
    source = MODULE_PATH.read_bytes()
    info = zipfile.ZipInfo(f"{MODULE_NAME}.py", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, so external_attr carries the mode
    info.external_attr = 0o100644 << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(info, source)
    return buf.getvalue()


def code_sha256(package: bytes) -> str:
    """Lambda's ``CodeSha256`` of a package: base64 of its SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def handler_environment(
    policies: Iterable[str] | str,
    allowed_cidrs: Iterable[str] | str = (),
    timezone: str = "UTC",
    deny_all: bool = False,
) -> dict[str, str]:
    """Validated Lambda environment variables for a policy set.

    ``policies`` is a list (or comma-separated string) of
    :data:`POLICY_NAMES`, checked in the given order; ``allowed_cidrs`` the
    networks the ``source_ip`` policy allows; ``timezone`` an IANA name
    deciding which day it is for ``weekdays``; ``deny_all`` the fault drill.
    Raises :class:`HandlerConfigError` naming the field and the fix.
    """
    if isinstance(policies, str):
        policies = policies.split(",")
    names: list[str] = []
    for i, raw in enumerate(policies):
        if not isinstance(raw, str) or not raw.strip():
            raise HandlerConfigError(
                f"policies[{i}]", f"{raw!r} is not a policy name; use one of {', '.join(POLICY_NAMES)}"
            )
        name = raw.strip().lower()
        if name not in POLICY_NAMES:
            raise HandlerConfigError(f"policies[{i}]", f"unknown policy {raw!r}; use one of {', '.join(POLICY_NAMES)}")
        if name in names:
            raise HandlerConfigError(f"policies[{i}]", f"{name!r} is listed twice; list each policy once")
        names.append(name)

    if isinstance(allowed_cidrs, str):
        allowed_cidrs = [c for c in allowed_cidrs.split(",") if c.strip()]
    networks: list[str] = []
    for i, raw in enumerate(allowed_cidrs):
        field = f"allowed_cidrs[{i}]"
        if not isinstance(raw, str):
            raise HandlerConfigError(field, f"{raw!r} is not a CIDR block like 72.21.0.0/16")
        text = raw.strip()
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            try:
                host_bits = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise HandlerConfigError(field, f"{raw!r} is not a CIDR block like 72.21.0.0/16: {exc}") from None
            raise HandlerConfigError(field, f"{raw!r} has host bits set; did you mean {host_bits}?") from None
        if "/" not in text:
            raise HandlerConfigError(field, f"{raw!r} has no prefix length; write e.g. {net}")
        if str(net) in networks:
            raise HandlerConfigError(field, f"{net} is listed twice")
        networks.append(str(net))
    if "source_ip" in names and not networks:
        raise HandlerConfigError(
            "allowed_cidrs", "the source_ip policy needs at least one CIDR block, e.g. ['72.21.0.0/16']"
        )

    if not isinstance(timezone, str) or not timezone.strip():
        raise HandlerConfigError("timezone", f"{timezone!r} is not a time-zone name; use e.g. 'UTC' or 'Asia/Seoul'")
    timezone = timezone.strip()
    if timezone.upper() == "UTC":
        timezone = "UTC"
    else:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise HandlerConfigError(
                "timezone", f"{timezone!r} is not an IANA time-zone name; use e.g. 'UTC' or 'Asia/Seoul'"
            ) from None
    if not isinstance(deny_all, bool):
        raise HandlerConfigError("deny_all", f"{deny_all!r} is not true/false")

    env = {
        ENV_POLICIES: ",".join(names),
        ENV_TIMEZONE: timezone,
        ENV_DENY_ALL: "1" if deny_all else "0",
    }
    if networks:
        env[ENV_ALLOWED_CIDRS] = ",".join(networks)
    size = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
    if size > LAMBDA_ENVIRONMENT_LIMIT:
        raise HandlerConfigError(
            "allowed_cidrs",
            f"the environment would take {size} bytes; Lambda allows "
            f"{LAMBDA_ENVIRONMENT_LIMIT} -- use fewer or wider CIDR blocks",
        )
    # The deployed module must accept exactly what we produce.
    _deployed.load_config(env)
    return env


# --- trying it ----------------------------------------------------------------


class SampleEvent(BaseModel):
    """A documented-schema request with the moment it arrives."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    event: dict[str, Any]
    now: dt.datetime


# The seed lab's remote worker, from home (inside params/lab.yaml's allowed range)
# and from a hotel (outside it): the addresses of the lab's two OpenVPN users, and
# of the test events phase 5 sends the deployed handler.
REMOTE_USER_IPS = {"user": "192.0.2.10", "guest": "192.0.2.200"}


def sample_event(
    public_ip: str | None = "72.21.10.20",
    *,
    common_name: str = "client1.hybridnet.lab",
    connection_id: str = "cvpn-connection-0123456789abcdef0",
    endpoint_id: str = "cvpn-endpoint-0123456789abcdef0",
) -> dict[str, Any]:
    """One request as Client VPN sends it for mutual authentication (``username`` empty).

    ``public_ip=None`` leaves ``public-ip`` out.
    """
    event = {
        "connection-id": connection_id,
        "endpoint-id": endpoint_id,
        "common-name": common_name,
        "username": "",
        "platform": "linux",
        "platform-version": "",
        "public-ip": public_ip,
        "client-openvpn-version": "2.6.14",
        "schema-version": SCHEMA_VERSION,
    }
    if public_ip is None:
        del event["public-ip"]
    return event


# Noon UTC: the same weekday in every time zone from UTC-12 to UTC+14.
WEEKDAY_NOON = dt.datetime(2024, 3, 6, 12, 0, tzinfo=dt.UTC)  # Wednesday (the seed's lab day)
WEEKEND_NOON = dt.datetime(2024, 3, 9, 12, 0, tzinfo=dt.UTC)  # Saturday


def sample_events(
    *,
    allowed_ip: str = "72.21.10.20",
    denied_ip: str = "198.51.100.7",
    common_name: str = "client1.hybridnet.lab",
    endpoint_id: str = "cvpn-endpoint-0123456789abcdef0",
) -> list[SampleEvent]:
    """Requests covering the seed's policies: allowed IP on a weekday, on a weekend, an IP
    outside the range, and malformed requests.

    ``allowed_ip`` should be inside, ``denied_ip`` outside the allowed CIDR
    blocks (the defaults suit the seed's 72.21.0.0/16).
    """

    def ev(ip, n):
        return sample_event(
            ip, common_name=common_name, endpoint_id=endpoint_id, connection_id=f"cvpn-connection-{n:017x}"
        )

    return [
        SampleEvent(
            name="weekday, allowed IP",
            description=f"Wednesday noon UTC from {allowed_ip}",
            event=ev(allowed_ip, 1),
            now=WEEKDAY_NOON,
        ),
        SampleEvent(
            name="weekend, allowed IP",
            description=f"Saturday noon UTC from {allowed_ip}",
            event=ev(allowed_ip, 2),
            now=WEEKEND_NOON,
        ),
        SampleEvent(
            name="weekday, other IP",
            description=f"Wednesday noon UTC from {denied_ip}",
            event=ev(denied_ip, 3),
            now=WEEKDAY_NOON,
        ),
        SampleEvent(
            name="weekend, other IP",
            description=f"Saturday noon UTC from {denied_ip}",
            event=ev(denied_ip, 4),
            now=WEEKEND_NOON,
        ),
        SampleEvent(
            name="malformed: no public-ip",
            description="public-ip missing from the request",
            event=ev(None, 5),
            now=WEEKDAY_NOON,
        ),
        SampleEvent(
            name="malformed: bad public-ip",
            description="public-ip is not an address",
            event=ev("not-an-ip", 6),
            now=WEEKDAY_NOON,
        ),
    ]


def decide_locally(event: Any, environment: Mapping[str, str], now: dt.datetime | None = None) -> HandlerDecision:
    """Run the deployable handler in-process with ``environment`` and clock ``now``.

    ``environment`` stands for the function's environment variables (only
    these; the process environment is not read or changed). ``now`` must
    be timezone-aware; default the real clock. The response goes through a
    JSON round trip, as Lambda's would, and is judged by
    :func:`validate_response`; an exception or a non-JSON response counts
    as an execution error, as on Lambda.
    """
    if now is None:
        now = _deployed.now()
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime, e.g. datetime(..., tzinfo=timezone.utc)")
    env = {str(k): str(v) for k, v in dict(environment).items()}
    try:
        result = _deployed.handle(event, env, now)
        payload = json.dumps(result)
    except Exception as exc:
        return validate_response(None, function_error=f"{type(exc).__name__}: {exc}")
    return validate_response(payload)
