"""AWS Client VPN client connect handler -- the code deployed to AWS Lambda.

This file alone is the Lambda deployment package (handler
``connect_handler.lambda_handler``, runtime Python 3.12). It uses the
Python standard library only: nothing from hybridnet, nothing third-party.

Client VPN calls the function for every new connection, after the
certificate (and user) authentication and before authorization rules, with
a JSON object holding ``connection-id``, ``endpoint-id``, ``common-name``,
``username``, ``platform``, ``platform-version``, ``public-ip``,
``client-openvpn-version`` and ``schema-version``. It must answer within
30 s with::

    {"allow": bool, "error-msg-on-failed-posture-compliance": str,
     "posture-compliance-statuses": [], "schema-version": "v1"}

The message is shown to a denied user; AWS allows at most 255 characters.

Policies are configured through the function's environment, so one code
package serves every policy set:

``HYBRIDNET_POLICIES``
    Comma-separated policy names, checked in this order; all must pass and
    the first that fails gives the message. ``weekdays``: Monday-Friday in
    ``HYBRIDNET_TIMEZONE``. ``source_ip``: ``public-ip`` inside one of
    ``HYBRIDNET_ALLOWED_CIDRS``. An empty value means no policy (allow).
    The variable must be set: a function deployed without it denies.
``HYBRIDNET_ALLOWED_CIDRS``
    Comma-separated IPv4/IPv6 networks, e.g. ``72.21.0.0/16``.
``HYBRIDNET_TIMEZONE``
    IANA time-zone name deciding which day it is (default ``UTC``).
``HYBRIDNET_DENY_ALL``
    ``1``/``true``: deny everybody (a fault drill); ``0``/``false``/unset: off.

The handler fails closed: a configuration it cannot read, a malformed
request or an unexpected error denies the connection with a well-formed
response whose message says what is wrong, never a crash (which Client
VPN would also count as a denial, with only a generic message).

Tests replace the module-level :func:`now` to fix the clock; on Lambda it
is the real UTC clock.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import zoneinfo

SCHEMA_VERSION = "v1"
MAX_MESSAGE_LENGTH = 255

ENV_POLICIES = "HYBRIDNET_POLICIES"
ENV_ALLOWED_CIDRS = "HYBRIDNET_ALLOWED_CIDRS"
ENV_TIMEZONE = "HYBRIDNET_TIMEZONE"
ENV_DENY_ALL = "HYBRIDNET_DENY_ALL"
ENV_VARIABLES = (ENV_POLICIES, ENV_ALLOWED_CIDRS, ENV_TIMEZONE, ENV_DENY_ALL)
DEFAULT_TIMEZONE = "UTC"

REQUEST_FIELDS = (
    "connection-id",
    "endpoint-id",
    "common-name",
    "username",
    "platform",
    "platform-version",
    "public-ip",
    "client-openvpn-version",
    "schema-version",
)

WEEKEND_MESSAGE = "You are not allowed to connect on a weekend day."
SOURCE_IP_MESSAGE = "Your IP is not allowed to establish a connection. Please contact your administrator."
DENY_ALL_MESSAGE = "New VPN connections are temporarily disabled. Please contact your administrator."
MALFORMED_MESSAGE = (
    "The connection request was rejected because it is malformed ({detail}). Please contact your administrator."
)
MISCONFIGURED_MESSAGE = "The VPN connection policy is misconfigured ({detail}). Please contact your administrator."
ERROR_MESSAGE = "The VPN connection policy could not be checked. Please contact your administrator."

POLICY_MESSAGES = {
    "weekdays": WEEKEND_MESSAGE,
    "source_ip": SOURCE_IP_MESSAGE,
}
POLICY_NAMES = tuple(POLICY_MESSAGES)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

logger = logging.getLogger("hybridnet.connect_handler")
logger.setLevel(logging.INFO)


class ConfigError(ValueError):
    """The function's environment is unusable; ``variable`` names the culprit."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class RequestError(ValueError):
    """The request event does not follow the documented schema."""


def now() -> datetime.datetime:
    """The current time (timezone-aware, UTC). Tests replace this function."""
    return datetime.datetime.now(datetime.UTC)


# --- configuration ----------------------------------------------------------


class Config:
    __slots__ = ("policies", "networks", "timezone", "deny_all")

    def __init__(self, policies, networks, timezone, deny_all):
        self.policies = policies
        self.networks = networks
        self.timezone = timezone
        self.deny_all = deny_all


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def deny_all_requested(environ) -> bool:
    """The fault drill switch (``HYBRIDNET_DENY_ALL``)."""
    flag = environ.get(ENV_DENY_ALL, "").strip().lower()
    if flag not in _TRUE and flag not in _FALSE:
        raise ConfigError(ENV_DENY_ALL, f"{flag[:20]!r} is not one of 1/0/true/false/yes/no/on/off")
    return flag in _TRUE


def load_config(environ) -> Config:
    """Read the policy configuration from a mapping of environment variables."""
    deny_all = deny_all_requested(environ)

    if ENV_POLICIES not in environ:
        raise ConfigError(ENV_POLICIES, "not set (set it to the policies to enforce, or to '' for none)")
    policies = []
    for name in _split(environ[ENV_POLICIES]):
        name = name.lower()
        if name not in POLICY_MESSAGES:
            raise ConfigError(ENV_POLICIES, f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
        if name not in policies:
            policies.append(name)

    networks = []
    for text in _split(environ.get(ENV_ALLOWED_CIDRS, "")):
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(ENV_ALLOWED_CIDRS, f"{text!r} is not a CIDR block") from None
    if "source_ip" in policies and not networks:
        raise ConfigError(ENV_ALLOWED_CIDRS, "empty, but the source_ip policy needs at least one CIDR block")

    zone_name = environ.get(ENV_TIMEZONE, "").strip() or DEFAULT_TIMEZONE
    timezone: datetime.tzinfo
    if zone_name.upper() == "UTC":
        timezone = datetime.UTC  # needs no time-zone database
    else:
        try:
            timezone = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ConfigError(ENV_TIMEZONE, f"unknown time zone {zone_name!r}") from None
    return Config(tuple(policies), tuple(networks), timezone, deny_all)


# --- the request -------------------------------------------------------------


class Request:
    __slots__ = ("fields", "public_ip")

    def __init__(self, fields, public_ip):
        self.fields = fields
        self.public_ip = public_ip


def parse_request(event) -> Request:
    """Check ``event`` against the documented request schema."""
    if not isinstance(event, dict):
        raise RequestError(f"the request is a {type(event).__name__}, not a JSON object")
    for key in REQUEST_FIELDS:
        value = event.get(key)
        if value is not None and not isinstance(value, str):
            raise RequestError(f"{key} is a {type(value).__name__}, not a string")
    raw_ip = event.get("public-ip")
    if raw_ip is None or not raw_ip.strip():
        raise RequestError("public-ip is missing")
    try:
        ip = ipaddress.ip_address(raw_ip.strip())
    except ValueError:
        raise RequestError(f"public-ip {raw_ip[:45]!r} is not an IP address") from None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return Request({k: event.get(k) for k in REQUEST_FIELDS}, ip)


# --- policies ----------------------------------------------------------------


def weekdays(request: Request, config: Config, current: datetime.datetime) -> bool:
    """Monday to Friday, in the configured time zone."""
    return current.astimezone(config.timezone).weekday() < 5


def source_ip(request: Request, config: Config, current: datetime.datetime) -> bool:
    """The client's public IP is inside one of the allowed CIDR blocks."""
    return any(request.public_ip in network for network in config.networks)


POLICIES = {"weekdays": weekdays, "source_ip": source_ip}


# --- the decision --------------------------------------------------------------


def response(allow: bool, message: str = "") -> dict:
    """A response in the documented format (the message cut to 255 characters)."""
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[: MAX_MESSAGE_LENGTH - 3] + "..."
    return {
        "allow": bool(allow),
        "error-msg-on-failed-posture-compliance": message,
        "posture-compliance-statuses": [],
        "schema-version": SCHEMA_VERSION,
    }


def _log(event, allow: bool, reason: str) -> None:
    fields = event if isinstance(event, dict) else {}
    record = {
        k: fields.get(k)
        for k in ("connection-id", "endpoint-id", "common-name", "public-ip")
        if isinstance(fields.get(k), str)
    }
    record.update(allow=allow, reason=reason)
    logger.info(json.dumps(record, sort_keys=True))


def evaluate(event, environ, current: datetime.datetime) -> dict:
    """Decide on ``event`` under the configuration in ``environ`` at time ``current``."""
    if not isinstance(current, datetime.datetime) or current.tzinfo is None:
        raise TypeError("current must be a timezone-aware datetime")
    try:
        # The drill wins over everything else, even a configuration error.
        if deny_all_requested(environ):
            _log(event, False, "deny_all")
            return response(False, DENY_ALL_MESSAGE)
        config = load_config(environ)
    except ConfigError as exc:
        logger.error("configuration error: %s", exc)
        _log(event, False, f"misconfigured: {exc.variable}")
        return response(False, MISCONFIGURED_MESSAGE.format(detail=exc.variable))
    try:
        request = parse_request(event)
    except RequestError as exc:
        _log(event, False, f"malformed: {exc}")
        return response(False, MALFORMED_MESSAGE.format(detail=exc))
    for name in config.policies:
        if not POLICIES[name](request, config, current):
            _log(event, False, name)
            return response(False, POLICY_MESSAGES[name])
    _log(event, True, "allowed")
    return response(True)


def handle(event, environ, current: datetime.datetime) -> dict:
    """:func:`evaluate`, failing closed (deny, well-formed) on any unexpected error."""
    try:
        return evaluate(event, environ, current)
    except Exception:
        logger.exception("unexpected error in the connect handler")
        return response(False, ERROR_MESSAGE)


def lambda_handler(event, context):
    """The Lambda entry point."""
    return handle(event, os.environ, now())
