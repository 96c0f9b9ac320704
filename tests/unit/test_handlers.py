"""The Client VPN connect handler: seed policies, composition, clock, contract, package."""

from __future__ import annotations

import ast
import datetime as dt
import io
import json
import subprocess
import sys
import zipfile
import zoneinfo
from pathlib import Path

import pytest
from hybridnet import handlers
from hybridnet.handlers import (
    AWS_DEFAULT_DENY_MESSAGE,
    HandlerConfigError,
    HandlerDecision,
    build_package,
    check_function_name,
    decide_locally,
    handler_environment,
    sample_event,
    sample_events,
    validate_response,
)
from hybridnet.handlers import connect_handler as deployed

UTC = dt.UTC
WEEKEND_MSG = "You are not allowed to connect on a weekend day."
IP_MSG = "Your IP is not allowed to establish a connection. Please contact your administrator."
SEED_CIDR = "72.21.0.0/16"

WEDNESDAY = dt.datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
SATURDAY = dt.datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
SUNDAY = dt.datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
FRIDAY_2330_UTC = dt.datetime(2024, 3, 8, 23, 30, tzinfo=UTC)  # Saturday 08:30 in Seoul
MONDAY_0030_SEOUL = dt.datetime(2024, 3, 10, 15, 30, tzinfo=UTC)  # Sunday 15:30 UTC

INSIDE = "72.21.10.20"
OUTSIDE = "198.51.100.7"


def env(*policies: str, cidrs=(SEED_CIDR,), tz: str = "UTC", deny_all: bool = False) -> dict[str, str]:
    return handler_environment(list(policies), cidrs if "source_ip" in policies else (), tz, deny_all)


def decide(policies, ip=INSIDE, now=WEDNESDAY, **kw) -> HandlerDecision:
    return decide_locally(sample_event(ip), env(*policies, **kw), now=now)


def assert_allowed(d: HandlerDecision) -> None:
    assert d.allow is True and d.valid and d.failure_reason is None, d


def assert_denied(d: HandlerDecision, message: str) -> None:
    assert d.allow is False and d.valid and d.failure_reason == "client-connect-failed", d
    assert d.message == message


# --- the seed's two policies ------------------------------------------------------------


def test_weekdays_policy() -> None:
    for day in range(4, 9):  # Monday 2024-03-04 .. Friday 2024-03-08
        assert_allowed(decide(["weekdays"], now=dt.datetime(2024, 3, day, 9, tzinfo=UTC)))
    assert_denied(decide(["weekdays"], now=SATURDAY), WEEKEND_MSG)
    assert_denied(decide(["weekdays"], now=SUNDAY), WEEKEND_MSG)
    # the weekday policy does not care where the client is
    assert_allowed(decide(["weekdays"], ip=OUTSIDE, now=WEDNESDAY))


def test_source_ip_policy() -> None:
    for ip in ("72.21.0.0", INSIDE, "72.21.255.255"):
        assert_allowed(decide(["source_ip"], ip=ip))
    for ip in (OUTSIDE, "72.22.0.1", "72.20.255.255", "10.0.0.1", "2001:db8::1"):
        assert_denied(decide(["source_ip"], ip=ip), IP_MSG)
    # not clock dependent
    assert_allowed(decide(["source_ip"], now=SATURDAY))


def test_source_ip_several_cidrs_and_ipv6() -> None:
    cidrs = (SEED_CIDR, "198.51.100.0/24", "2001:db8:1::/48")
    for ip in (INSIDE, OUTSIDE, "2001:db8:1::5", "::ffff:72.21.1.1"):
        assert_allowed(decide(["source_ip"], ip=ip, cidrs=cidrs))
    for ip in ("203.0.113.9", "2001:db8:2::5"):
        assert_denied(decide(["source_ip"], ip=ip, cidrs=cidrs), IP_MSG)


def test_seed_handlers_match_the_write_up() -> None:
    """The seed's code, run side by side with ours on the same inputs."""

    def seed_weekday(now):
        return {
            "allow": now.weekday() < 5,
            "error-msg-on-failed-posture-compliance": WEEKEND_MSG,
            "posture-compliance-statuses": [],
            "schema-version": "v1",
        }

    def seed_ip(event):
        import ipaddress

        ok = ipaddress.ip_address(event["public-ip"]) in ipaddress.ip_network(SEED_CIDR)
        return {
            "allow": ok,
            "error-msg-on-failed-posture-compliance": IP_MSG,
            "posture-compliance-statuses": [],
            "schema-version": "v1",
        }

    for now in (WEDNESDAY, SATURDAY, SUNDAY, FRIDAY_2330_UTC):
        ours = decide(["weekdays"], now=now)
        assert ours.allow == seed_weekday(now)["allow"]
    for ip in (INSIDE, OUTSIDE):
        ours = decide(["source_ip"], ip=ip)
        assert ours.allow == seed_ip(sample_event(ip))["allow"]


# --- composition ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "ip", "allow", "message"),
    [
        (WEDNESDAY, INSIDE, True, ""),
        (SATURDAY, INSIDE, False, WEEKEND_MSG),
        (WEDNESDAY, OUTSIDE, False, IP_MSG),
        (SATURDAY, OUTSIDE, False, WEEKEND_MSG),  # both fail: the first configured one speaks
    ],
)
def test_both_policies_must_pass(now, ip, allow, message) -> None:
    d = decide(["weekdays", "source_ip"], ip=ip, now=now)
    assert d.allow is allow and d.message == message


def test_order_of_policies_decides_the_message() -> None:
    assert decide(["weekdays", "source_ip"], ip=OUTSIDE, now=SATURDAY).message == WEEKEND_MSG
    assert decide(["source_ip", "weekdays"], ip=OUTSIDE, now=SATURDAY).message == IP_MSG


def test_no_policies_allows_but_unset_variable_denies() -> None:
    assert_allowed(decide([], ip=OUTSIDE, now=SATURDAY))
    d = decide_locally(sample_event(), {}, now=WEDNESDAY)
    assert not d.allow and d.valid and "HYBRIDNET_POLICIES" in d.message


# --- the clock and time zones ----------------------------------------------------------------


def test_friday_night_utc_is_saturday_in_seoul() -> None:
    assert_allowed(decide(["weekdays"], now=FRIDAY_2330_UTC, tz="UTC"))
    assert_denied(decide(["weekdays"], now=FRIDAY_2330_UTC, tz="Asia/Seoul"), WEEKEND_MSG)
    # and Sunday afternoon UTC is already Monday morning in Seoul
    assert_denied(decide(["weekdays"], now=MONDAY_0030_SEOUL, tz="UTC"), WEEKEND_MSG)
    assert_allowed(decide(["weekdays"], now=MONDAY_0030_SEOUL, tz="Asia/Seoul"))
    # the zone applies whatever zone the clock reading carries
    seoul = dt.timezone(dt.timedelta(hours=9))
    assert_allowed(decide(["weekdays"], now=FRIDAY_2330_UTC.astimezone(seoul), tz="America/New_York"))


def test_clock_is_injectable_in_the_module(monkeypatch) -> None:
    monkeypatch.setenv("HYBRIDNET_POLICIES", "weekdays")
    monkeypatch.setenv("HYBRIDNET_TIMEZONE", "Asia/Seoul")
    monkeypatch.setattr(deployed, "now", lambda: FRIDAY_2330_UTC)
    assert deployed.lambda_handler(sample_event(), None)["allow"] is False
    monkeypatch.setattr(deployed, "now", lambda: WEDNESDAY)
    assert deployed.lambda_handler(sample_event(), None)["allow"] is True


def test_default_clock_is_real_utc() -> None:
    reading = deployed.now()
    assert reading.tzinfo is not None and reading.utcoffset() == dt.timedelta(0)
    assert abs(reading - dt.datetime.now(UTC)) < dt.timedelta(seconds=5)
    # decide_locally without a clock uses it (source_ip is clock-independent)
    assert_allowed(decide_locally(sample_event(), env("source_ip")))


def test_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_locally(sample_event(), env("weekdays"), now=dt.datetime(2024, 3, 6, 12))


# --- the fault drill -----------------------------------------------------------------------


def test_deny_all_drill() -> None:
    for policies in ([], ["weekdays"], ["weekdays", "source_ip"]):
        d = decide(policies, deny_all=True)
        assert not d.allow and d.valid and d.message == deployed.DENY_ALL_MESSAGE
        assert "administrator" in d.message
    assert env("weekdays", deny_all=True)["HYBRIDNET_DENY_ALL"] == "1"
    assert env("weekdays")["HYBRIDNET_DENY_ALL"] == "0"
    for flag in ("1", "true", "YES", "on"):
        e = {**env("weekdays"), "HYBRIDNET_DENY_ALL": flag}
        assert decide_locally(sample_event(), e, now=WEDNESDAY).message == deployed.DENY_ALL_MESSAGE
    for flag in ("0", "false", "", "off"):
        assert_allowed(decide_locally(sample_event(), {**env("weekdays"), "HYBRIDNET_DENY_ALL": flag}, now=WEDNESDAY))
    # the drill works even when the rest of the configuration is broken
    broken = {"HYBRIDNET_DENY_ALL": "1", "HYBRIDNET_TIMEZONE": "No/Such_Zone"}
    assert decide_locally(sample_event(), broken, now=WEDNESDAY).message == deployed.DENY_ALL_MESSAGE
    garbled = decide_locally(sample_event(), {**env("weekdays"), "HYBRIDNET_DENY_ALL": "maybe"}, now=WEDNESDAY)
    assert not garbled.allow and "HYBRIDNET_DENY_ALL" in garbled.message


# --- malformed requests and configuration ----------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ({k: v for k, v in sample_event().items() if k != "public-ip"}, "public-ip is missing"),
        (sample_event(""), "public-ip is missing"),
        (sample_event("not-an-ip"), "is not an IP address"),
        (sample_event("72.21.0.0/16"), "is not an IP address"),
        ({**sample_event(), "public-ip": 1234}, "public-ip is a int"),
        ({**sample_event(), "common-name": ["x"]}, "common-name is a list"),
        ("a string", "not a JSON object"),
        (None, "not a JSON object"),
        ([], "not a JSON object"),
    ],
)
def test_malformed_request_is_denied_with_a_message(event, detail) -> None:
    for policies in (["source_ip"], ["weekdays"]):
        d = decide_locally(event, env(*policies), now=WEDNESDAY)
        assert not d.allow and d.valid, d
        assert "malformed" in d.message and detail in d.message
        assert len(d.message) <= 255


def test_long_garbage_ip_keeps_the_message_within_255_characters() -> None:
    d = decide_locally(sample_event("x" * 5000), env("source_ip"), now=WEDNESDAY)
    assert not d.allow and d.valid and len(d.message) <= 255


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HYBRIDNET_POLICIES", "weekdays,office_hours"),
        ("HYBRIDNET_ALLOWED_CIDRS", "72.21.0.0/33"),
        ("HYBRIDNET_ALLOWED_CIDRS", ""),
        ("HYBRIDNET_TIMEZONE", "Mars/Olympus_Mons"),
        ("HYBRIDNET_TIMEZONE", "/etc/localtime"),
    ],
)
def test_bad_configuration_fails_closed(variable, value) -> None:
    e = {**env("weekdays", "source_ip"), variable: value}
    d = decide_locally(sample_event(), e, now=WEDNESDAY)
    assert not d.allow and d.valid and variable in d.message and "misconfigured" in d.message


def test_unexpected_error_fails_closed_with_a_valid_response(monkeypatch) -> None:
    def boom(*_):
        raise RuntimeError("policy crashed")

    monkeypatch.setitem(deployed.POLICIES, "weekdays", boom)
    d = decide(["weekdays"])
    assert not d.allow and d.valid and d.message == deployed.ERROR_MESSAGE


# --- the response contract --------------------------------------------------------------------------


def good(**over) -> dict:
    base = {
        "allow": True,
        "error-msg-on-failed-posture-compliance": "",
        "posture-compliance-statuses": [],
        "schema-version": "v1",
    }
    base.update(over)
    return base


def test_every_handler_response_follows_the_contract() -> None:
    cases = sample_events()
    envs = [
        env(),
        env("weekdays"),
        env("source_ip"),
        env("weekdays", "source_ip", tz="Asia/Seoul"),
        env("weekdays", deny_all=True),
        {},
    ]
    for e in envs:
        for case in cases:
            raw = deployed.handle(case.event, e, case.now)
            assert list(raw) == list(handlers.RESPONSE_FIELDS)
            assert type(raw["allow"]) is bool and raw["posture-compliance-statuses"] == []
            assert raw["schema-version"] == "v1" and len(raw["error-msg-on-failed-posture-compliance"]) <= 255
            assert validate_response(raw).valid


def test_valid_responses() -> None:
    d = validate_response(good())
    assert d.allow and d.valid and d.failure_reason is None
    d = validate_response(good(allow=False, **{"error-msg-on-failed-posture-compliance": "no"}))
    assert not d.allow and d.valid and d.message == "no" and d.failure_reason == "client-connect-failed"
    d = validate_response(good(**{"posture-compliance-statuses": ["compliant"] * 10}))
    assert d.valid and d.posture_compliance_statuses == ("compliant",) * 10
    assert validate_response(json.dumps(good())).allow  # raw Invoke payload
    assert validate_response(json.dumps(good()).encode()).allow
    assert validate_response(good(extra="ignored")).valid
    assert validate_response(good(**{"error-msg-on-failed-posture-compliance": "x" * 255})).valid


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        ({k: v for k, v in good().items() if k != "allow"}, "missing allow"),
        ({k: v for k, v in good().items() if k != "schema-version"}, "missing schema-version"),
        ({k: v for k, v in good().items() if k != "posture-compliance-statuses"}, "missing posture"),
        ({k: v for k, v in good().items() if k != "error-msg-on-failed-posture-compliance"}, "missing error-msg"),
        ({}, "missing allow, error-msg"),
        (good(allow="true"), "not a boolean"),
        (good(allow=1), "not a boolean"),
        (good(allow=None), "not a boolean"),
        (good(**{"schema-version": "v2"}), "schema-version"),
        (good(**{"schema-version": None}), "schema-version"),
        (good(**{"error-msg-on-failed-posture-compliance": None}), "not a string"),
        (good(**{"error-msg-on-failed-posture-compliance": 42}), "not a string"),
        (good(**{"error-msg-on-failed-posture-compliance": "x" * 256}), "256 characters"),
        (good(**{"posture-compliance-statuses": "compliant"}), "not a list"),
        (good(**{"posture-compliance-statuses": None}), "not a list"),
        (good(**{"posture-compliance-statuses": [1]}), "[0] is a int"),
        (good(**{"posture-compliance-statuses": ["s"] * 11}), "11 entries"),
        (good(**{"posture-compliance-statuses": ["s" * 256]}), "256 characters"),
        (None, "not a JSON object"),
        ([good()], "not a JSON object"),
        ("true", "not a JSON object"),
        ("{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (42, "not a JSON object"),
    ],
)
def test_malformed_responses_are_denials(response, problem) -> None:
    d = validate_response(response)
    assert d.allow is False and d.valid is False
    assert d.message == AWS_DEFAULT_DENY_MESSAGE
    assert d.failure_reason == "client-connect-handler-invalid-response"
    assert any(problem in p for p in d.problems), d.problems


def test_allow_true_with_a_bad_field_is_still_a_denial() -> None:
    d = validate_response(good(allow=True, **{"schema-version": "v0"}))
    assert d.allow is False


def test_function_error_is_a_denial() -> None:
    payload = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"})
    d = validate_response(payload, function_error="Unhandled")
    assert not d.allow and not d.valid and d.failure_reason == "client-connect-handler-other-execution-error"
    # an error payload without the header is still not a valid response
    assert not validate_response(payload).allow


def test_decide_locally_treats_a_non_json_response_as_an_execution_error(monkeypatch) -> None:
    monkeypatch.setattr(deployed, "handle", lambda *a: {**good(), "allow": dt.datetime.now()})
    d = decide(["weekdays"])
    assert not d.allow and not d.valid and d.message == AWS_DEFAULT_DENY_MESSAGE


def test_request_fields_are_the_documented_ones() -> None:
    assert handlers.REQUEST_FIELDS == (
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
    for case in sample_events():
        assert set(case.event) <= set(handlers.REQUEST_FIELDS)
        assert case.now.tzinfo is not None
    assert set(sample_event()) == set(handlers.REQUEST_FIELDS)


def test_sample_events_cover_the_seed_scenarios() -> None:
    e = env("weekdays", "source_ip", tz="Asia/Seoul")
    got = {c.name: decide_locally(c.event, e, now=c.now) for c in sample_events()}
    assert got["weekday, allowed IP"].allow
    assert got["weekend, allowed IP"].message == WEEKEND_MSG
    assert got["weekday, other IP"].message == IP_MSG
    assert not got["malformed: no public-ip"].allow and "malformed" in got["malformed: no public-ip"].message
    # noon UTC keeps its weekday from UTC-12 to UTC+14
    for tz in ("Pacific/Kiritimati", "Etc/GMT+12", "Asia/Seoul", "America/Los_Angeles"):
        for c in sample_events():
            wanted = c.now.weekday() < 5
            assert (c.now.astimezone(zoneinfo.ZoneInfo(tz)).weekday() < 5) == wanted


# --- names ---------------------------------------------------------------------------------------


def test_function_name_rules() -> None:
    assert check_function_name("AWSClientVPN-hybridnet-connect") == "AWSClientVPN-hybridnet-connect"
    assert check_function_name("AWSClientVPN-" + "a" * 51) == "AWSClientVPN-" + "a" * 51  # 64
    with pytest.raises(
        ValueError,
        match=r"function_name: 'weekday-check' does not start with 'AWSClientVPN-'"
        r".*'AWSClientVPN-weekday-check'",
    ):
        check_function_name("weekday-check")
    with pytest.raises(ValueError, match="exactly as 'AWSClientVPN-'.*'AWSClientVPN-x'"):
        check_function_name("awsclientvpn-x")
    with pytest.raises(ValueError, match="at most 64"):
        check_function_name("AWSClientVPN-" + "a" * 52)
    with pytest.raises(ValueError, match="may only contain letters, digits"):
        check_function_name("AWSClientVPN-week day")
    with pytest.raises(ValueError, match="may only contain"):
        check_function_name("AWSClientVPN-x.y")
    with pytest.raises(ValueError, match="ARN"):
        check_function_name("arn:aws:lambda:ap-northeast-2:123456789012:function:AWSClientVPN-x")
    for bad in ("", None, 5):
        with pytest.raises(ValueError, match="not a function name"):
            check_function_name(bad)
    with pytest.raises(HandlerConfigError) as info:
        check_function_name("x", field="client_vpn.handler.function_name")
    assert info.value.field == "client_vpn.handler.function_name"
    assert str(info.value).startswith("client_vpn.handler.function_name: ")


# --- environment -------------------------------------------------------------------------------------


def test_handler_environment_values() -> None:
    assert handler_environment(["weekdays", "source_ip"], [SEED_CIDR, "198.51.100.0/24"], "Asia/Seoul") == {
        "HYBRIDNET_POLICIES": "weekdays,source_ip",
        "HYBRIDNET_ALLOWED_CIDRS": "72.21.0.0/16,198.51.100.0/24",
        "HYBRIDNET_TIMEZONE": "Asia/Seoul",
        "HYBRIDNET_DENY_ALL": "0",
    }
    assert handler_environment("weekdays", timezone="utc") == {
        "HYBRIDNET_POLICIES": "weekdays",
        "HYBRIDNET_TIMEZONE": "UTC",
        "HYBRIDNET_DENY_ALL": "0",
    }
    assert handler_environment([])["HYBRIDNET_POLICIES"] == ""
    assert all(isinstance(v, str) for v in env("weekdays", "source_ip").values())


@pytest.mark.parametrize(
    ("kwargs", "field", "hint"),
    [
        ({"policies": ["weekdays", "office_hours"]}, "policies[1]", "use one of weekdays, source_ip"),
        ({"policies": ["weekdays", "weekdays"]}, "policies[1]", "listed twice"),
        ({"policies": [""]}, "policies[0]", "not a policy name"),
        ({"policies": ["source_ip"]}, "allowed_cidrs", "at least one"),
        ({"policies": ["source_ip"], "allowed_cidrs": ["72.21.0.0/33"]}, "allowed_cidrs[0]", "not a CIDR"),
        (
            {"policies": ["source_ip"], "allowed_cidrs": ["72.21.5.0/16"]},
            "allowed_cidrs[0]",
            "did you mean 72.21.0.0/16",
        ),
        ({"policies": ["source_ip"], "allowed_cidrs": ["72.21.5.1"]}, "allowed_cidrs[0]", "no prefix length"),
        ({"policies": ["source_ip"], "allowed_cidrs": ["hello"]}, "allowed_cidrs[0]", "not a CIDR"),
        ({"policies": ["source_ip"], "allowed_cidrs": [SEED_CIDR, SEED_CIDR]}, "allowed_cidrs[1]", "twice"),
        (
            {"policies": ["source_ip"], "allowed_cidrs": [f"10.{i // 256}.{i % 256}.0/24" for i in range(300)]},
            "allowed_cidrs",
            "Lambda allows 4096",
        ),
        ({"policies": ["weekdays"], "timezone": "Asia/Sesoul"}, "timezone", "not an IANA"),
        ({"policies": ["weekdays"], "timezone": ""}, "timezone", "e.g. 'UTC'"),
        ({"policies": ["weekdays"], "deny_all": "yes"}, "deny_all", "true/false"),
    ],
)
def test_handler_environment_errors(kwargs, field, hint) -> None:
    with pytest.raises(HandlerConfigError) as info:
        handler_environment(**kwargs)
    assert info.value.field == field
    assert hint in str(info.value)
    assert isinstance(info.value, ValueError)


# --- the package ------------------------------------------------------------------------------------


def test_build_package_is_deterministic_and_minimal() -> None:
    first, second = build_package(), build_package()
    assert first == second
    assert handlers.code_sha256(first) == handlers.code_sha256(second)
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        assert zf.namelist() == ["connect_handler.py"]
        info = zf.getinfo("connect_handler.py")
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert (info.external_attr >> 16) & 0o777 == 0o644
        assert zf.read("connect_handler.py") == handlers.MODULE_PATH.read_bytes()
        assert zf.testzip() is None
    assert handlers.HANDLER == "connect_handler.lambda_handler"
    assert handlers.RUNTIME == "python3.12"


def test_code_sha256_is_lambdas_format() -> None:
    import base64
    import hashlib

    pkg = build_package()
    assert handlers.code_sha256(pkg) == base64.b64encode(hashlib.sha256(pkg).digest()).decode()
    assert handlers.code_sha256(pkg) != handlers.code_sha256(pkg + b"x")


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import in the deployed module: line {node.lineno}"
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "__import__",
            "import_module",
        ):
            raise AssertionError(f"dynamic import in the deployed module: line {node.lineno}")
    return found


def test_deployed_module_imports_only_the_standard_library() -> None:
    source = handlers.MODULE_PATH.read_text()
    modules = _imports(ast.parse(source))
    assert modules, "no imports found: the parser walked the wrong file"
    outside = {m for m in modules if m not in sys.stdlib_module_names}
    assert not outside, f"the deployed handler imports non-standard modules: {sorted(outside)}"
    assert "hybridnet" not in modules and "pydantic" not in modules


def _run_in_clean_python(
    tmp_path: Path, cases: list[tuple[dict, dt.datetime | None]], environment: dict[str, str]
) -> list[dict]:
    """Unzip the package and run lambda_handler under ``python -I -S`` with only ``environment``.

    -I: no PYTHON* variables, no user site, no script directory; -S: no
    site-packages at all -- only the standard library is importable, as
    with a bare Lambda runtime. The clock is set through the module's
    ``now`` when a case gives one.
    """
    code_dir = tmp_path / "task"
    with zipfile.ZipFile(io.BytesIO(build_package())) as zf:
        zf.extractall(code_dir)
    script = (
        "import datetime, json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import connect_handler as m\n"
        "assert not [n for n in sys.modules if n.split('.')[0] in ('hybridnet', 'pydantic')]\n"
        "out = []\n"
        "for event, when in json.loads(sys.stdin.read()):\n"
        "    if when is not None:\n"
        "        m.now = lambda when=when: datetime.datetime.fromisoformat(when)\n"
        "    out.append(m.lambda_handler(event, None))\n"
        "print(json.dumps(out))\n"
    )
    payload = json.dumps([(event, when.isoformat() if when else None) for event, when in cases])
    res = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(code_dir)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(environment),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize(
    "environment",
    [
        env("weekdays"),
        env("source_ip"),
        env("weekdays", "source_ip", tz="Asia/Seoul"),
        env("source_ip", "weekdays", cidrs=(SEED_CIDR, "198.51.100.0/24")),
        env("weekdays", deny_all=True),
        {**env("weekdays"), "HYBRIDNET_TIMEZONE": "No/Such_Zone"},
    ],
    ids=["weekdays", "source_ip", "both-seoul", "both-reversed", "deny-all", "bad-zone"],
)
def test_subprocess_matches_decide_locally(tmp_path, environment) -> None:
    cases = [(c.event, c.now) for c in sample_events()]
    cases.append((sample_event(INSIDE), FRIDAY_2330_UTC))
    results = _run_in_clean_python(tmp_path, cases, environment)
    for (event, when), raw in zip(cases, results, strict=True):
        remote = validate_response(raw)
        local = decide_locally(event, environment, now=when)
        assert remote == local, (event, when)


def test_subprocess_with_the_real_clock(tmp_path) -> None:
    environment = env("source_ip")
    events = [sample_event(INSIDE), sample_event(OUTSIDE)]
    results = _run_in_clean_python(tmp_path, [(e, None) for e in events], environment)
    assert [validate_response(r) for r in results] == [decide_locally(e, environment) for e in events]
    assert [r["allow"] for r in results] == [True, False]
