"""Phase 5 against the emulator: the client connect handler as a Lambda function.

Idempotent (one role, one function; re-deployed only when the code or its
configuration changed), the name checked before any call, enabled on the
phase-4 endpoint, and its decisions obtained by invoking the deployed code.
The emulator admits clients through it (what the lab's OpenVPN server asks,
over the emulator's unix socket), and DescribeClientVpnConnections lists
allowed and refused attempts.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hybridnet import emulator, handlers
from hybridnet.aws import connect
from hybridnet.emulator.unix_client import admin_call_unix
from hybridnet.handlers import connect_handler as deployed
from hybridnet.params import load_params, parse_params
from hybridnet.phases import PhaseError, client_vpn
from hybridnet.phases import connect_handler as phase5

ROOT = Path(__file__).resolve().parents[2]
STACK = "phase5test"
FUNCTION = f"AWSClientVPN-{STACK}-connect-handler"


def params(**changes):
    data = load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK, "lab": "off"}).model_dump(mode="python")
    for tunnel, key in zip(data["vpn"]["tunnels"], ("strongswan_awsvpn1", "strongswan_awsvpn2")):
        tunnel["pre_shared_key"] = key
    for section, values in changes.items():
        data[section] = values if values is None else {**(data.get(section) or {}), **values}
    return parse_params(data)


@pytest.fixture(scope="module")
def ctx(own_emulator):
    return connect(params())


@pytest.fixture(scope="module")
def endpoint(ctx, tmp_path_factory):
    return client_vpn.run(ctx, tmp_path_factory.mktemp("phase5-run"), progress=None)


@pytest.fixture(scope="module")
def first(ctx, endpoint):
    return phase5.run(ctx, progress=None)


def stack_functions(ctx) -> list[str]:
    aws_lambda = ctx.client("lambda")
    return [
        f["FunctionName"]
        for f in aws_lambda.list_functions()["Functions"]
        if aws_lambda.list_tags(Resource=f["FunctionArn"])["Tags"].get("hybridnet:stack") == STACK
    ]


def test_phase5_twice_deploys_one_function_and_enables_it(ctx, endpoint, first):
    again = phase5.run(ctx, progress=None)
    assert first.function.action == "created" and again.function.action == "unchanged"
    assert again.created == [] and again.changed == []
    assert stack_functions(ctx) == [FUNCTION]
    iam = ctx.client("iam")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(STACK)]
    assert roles == [f"{STACK}-clientvpn-connect-handler"]
    config = ctx.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert config["CodeSha256"] == handlers.code_sha256(handlers.build_package())
    assert (config["Runtime"], config["Handler"], config["Timeout"]) == ("python3.12", handlers.HANDLER, 30)
    assert config["Environment"]["Variables"] == handlers.handler_environment(
        ["source_ip"], ["72.21.0.0/16", "192.0.2.0/28"], "Asia/Seoul"
    )
    options = client_vpn.describe_endpoint(ctx, endpoint.endpoint_id)["ClientConnectOptions"]
    assert options["Enabled"] is True and options["LambdaFunctionArn"] == config["FunctionArn"]


def test_decisions_come_from_the_deployed_code(ctx, first):
    table = phase5.decisions_frame(ctx, first)
    allowed = dict(zip(table.index, table["allow"]))
    assert allowed == {
        "seed's allowed range": True,
        "lab remote user (home)": True,
        "lab remote user (hotel)": False,
        "another address": False,
        "malformed: no public-ip": False,
        "malformed: public-ip not an address": False,
    }
    assert set(table["valid response"]) == {True}  # the handler fails closed with well-formed answers
    messages = dict(zip(table.index, table["message to the user"]))
    assert messages["another address"] == deployed.SOURCE_IP_MESSAGE
    assert "malformed (public-ip is missing)" in messages["malformed: no public-ip"]


def test_a_code_change_is_redeployed_and_nothing_else(ctx, first, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # the same handler, one comment more
        archive.writestr("connect_handler.py", handlers.MODULE_PATH.read_bytes() + b"\n# changed\n")
    changed = buffer.getvalue()
    monkeypatch.setattr(handlers, "build_package", lambda: changed)
    updated = phase5.run(ctx, progress=None)
    assert updated.function.action == "updated (code)"
    assert updated.function.code_sha256 == handlers.code_sha256(changed) != first.function.code_sha256
    monkeypatch.undo()
    back = phase5.run(ctx, progress=None)
    assert back.function.code_sha256 == first.function.code_sha256 and stack_functions(ctx) == [FUNCTION]


def test_policy_changes_update_the_configuration(ctx, first):
    both = connect(params(connect_handler={"policies": ["weekdays", "source_ip"]}))
    assert [(s.kind, s.action) for s in phase5.plan(ctx)] == [
        ("IAM role", "keep"),
        ("Lambda function", "keep"),
        ("Client VPN endpoint", "keep"),
    ]
    steps = phase5.plan(both)
    assert [s.action for s in steps] == ["keep", "modify", "keep"]
    assert [(c.field, c.have, c.want) for c in steps[1].changes] == [
        (f"environment {handlers.ENV_POLICIES}", "source_ip", "weekdays,source_ip")
    ]
    updated = phase5.run(both, progress=None)
    assert updated.function.action == "updated (configuration)"
    assert updated.function.environment[handlers.ENV_POLICIES] == "weekdays,source_ip"
    phase5.run(ctx, progress=None)


def test_the_name_is_checked_before_any_call(ctx, endpoint, monkeypatch):
    bad = ctx.params.model_copy(
        update={"connect_handler": ctx.params.connect_handler.model_copy(update={"function_name": "clientvpn-handler"})}
    )  # bypasses validation, as a hand-made model could
    other = connect(params())
    other.params = bad
    monkeypatch.setattr(other, "client", lambda service: pytest.fail(f"called {service} before checking the name"))
    with pytest.raises(
        PhaseError,
        match=r"connect_handler\.function_name: 'clientvpn-handler' does not start "
        r"with 'AWSClientVPN-'.*AWSClientVPN-clientvpn-handler",
    ):
        phase5.run(other, progress=None)


def test_no_connect_handler_section_is_a_clear_error(ctx):
    bare = connect(params(connect_handler=None))
    with pytest.raises(PhaseError, match="no connect_handler section"):
        phase5.run(bare, progress=None)


def test_handler_needs_the_phase4_endpoint(own_emulator):
    alone = connect(params().model_copy(update={"name": "phase5alone"}))
    with pytest.raises(PhaseError, match="run notebook 04_client_vpn first"):
        phase5.run(alone, progress=None)


def test_the_emulator_admits_clients_through_the_handler_over_its_unix_socket(ctx, endpoint, first):
    """What the lab's OpenVPN server does for each client, without the lab."""
    socket = emulator.status().socket
    assert socket and Path(socket).stat().st_mode & 0o777 == 0o600

    def attempt(ip: str) -> dict:
        return admin_call_unix(
            socket,
            "POST",
            "clientvpn-connect",
            {
                "region": ctx.params.region,
                "client_vpn_endpoint_id": endpoint.endpoint_id,
                "common_name": "client1.hybridnet.lab",
                "public_ip": ip,
                "platform": "linux",
                "client_openvpn_version": "2.6.14",
            },
        )

    home, hotel = attempt("192.0.2.10"), attempt("192.0.2.200")
    assert home["allow"] is True and home["handler_invoked"] is True
    assert hotel["allow"] is False and hotel["message"] == deployed.SOURCE_IP_MESSAGE
    table = phase5.connections_frame(ctx, endpoint.endpoint_id)
    by_id = {row["connection"]: row for row in table.to_dict(orient="records")}
    assert by_id[home["connection_id"]]["status"] == "active"
    assert by_id[hotel["connection_id"]]["status"] == "terminated"
    assert by_id[hotel["connection_id"]]["message"] == deployed.SOURCE_IP_MESSAGE


def test_policy_matrix_is_deterministic_and_composes_both_policies(ctx):
    table = phase5.policy_matrix_frame(ctx).reset_index()
    allow = {(r["policies"], r["event"]): r["allow"] for r in table.to_dict(orient="records")}
    assert allow[("weekdays", "weekend, allowed IP")] is False
    assert allow[("source_ip", "weekend, allowed IP")] is True
    assert allow[("weekdays + source_ip", "weekday, allowed IP")] is True
    assert allow[("weekdays + source_ip", "weekday, other IP")] is False
    assert table.equals(phase5.policy_matrix_frame(ctx).reset_index())


def test_malformed_responses_are_denials():
    table = phase5.response_rules_frame()
    assert table.loc["well-formed: allow", "allow"]
    malformed = table[~table["valid"]]
    assert len(malformed) == 5 and not malformed["allow"].any()
    assert set(malformed["message to the user"]) == {handlers.AWS_DEFAULT_DENY_MESSAGE}
