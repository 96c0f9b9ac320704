"""Phase 5: the Client VPN client connect handler (a Lambda function).

1. The function's name is checked before any call: Client VPN only accepts
   functions named ``AWSClientVPN-...`` (handlers.check_function_name).
2. An IAM role for it (Lambda's basic execution role), created or reused.
3. The function: the deterministic package of hybridnet.handlers.connect_handler
   (re-deployed only when its CodeSha256 differs), configured from the
   params' ``connect_handler`` section through environment variables
   (policies ``weekdays`` / ``source_ip``, allowed CIDRs, time zone).
4. Enabled as the phase-4 endpoint's client connect handler
   (ModifyClientVpnEndpoint ClientConnectOptions).
5. What it decides: documented-schema test events, sent to the deployed
   function through Lambda Invoke and judged as Client VPN judges responses
   (handlers.validate_response: anything malformed is a denial).
6. Real clients: the remote worker's machine at an allowed address
   (hosts.remote_user) and elsewhere (hosts.remote_user_away) connect with
   the phase-4 profile through SSM Run Command; the refused one is told the
   handler's message; DescribeClientVpnConnections lists both attempts.

Deterministic outputs: the deployed function reads the real clock, so the
events sent to it are the clock-independent ones (source addresses and
malformed requests; with the lab's `source_ip` policy their answers never
depend on the day). The weekday policy is shown in a second table that runs
the same module in-process with an injected clock (handlers.decide_locally),
for every combination of the two policies.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from botocore.exceptions import ClientError

from .. import handlers, results
from ..aws import STACK_TAG, AwsContext, paginate
from ..params import ClientVpn, ConnectHandler
from ..plan import Change, Step, frame
from ..waiting import wait
from . import HostSteps, PhaseError, client_vpn, nothing_here

PHASE = "5"
NOTEBOOK = "05_connection_handler"
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# What AWSLambdaBasicExecutionRole grants (its own log group only), inline: the
# handler needs nothing else (it reads no AWS API).
LOGS_POLICY_NAME = "connect-handler-logs"


def logs_policy(ctx: AwsContext, name: str) -> dict:
    group = f"arn:aws:logs:{ctx.params.region}:*:log-group:/aws/lambda/{name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": group},
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{group}:*"},
        ],
    }


ROLE_PROPAGATION_TRIES = 10  # a new IAM role takes seconds before Lambda may assume it (AWS)


# --- parameters ------------------------------------------------------------------------------


def settings(ctx: AwsContext) -> ConnectHandler:
    if ctx.params.connect_handler is None:
        raise PhaseError(
            "the params have no connect_handler section; add one (policies, allowed_cidrs, timezone) "
            "to run phase 5, e.g. as in params/lab.yaml"
        )
    return ctx.params.connect_handler


def function_name(ctx: AwsContext) -> str:
    """The function's name, checked against Client VPN's rules before anything is called."""
    name = settings(ctx).function_name or f"{handlers.FUNCTION_NAME_PREFIX}{ctx.params.name}-connect-handler"
    try:
        return handlers.check_function_name(name, field="connect_handler.function_name")
    except handlers.HandlerConfigError as exc:
        raise PhaseError(str(exc)) from None


def role_name(ctx: AwsContext) -> str:
    return f"{ctx.params.name}-clientvpn-connect-handler"


def environment(ctx: AwsContext) -> dict[str, str]:
    s = settings(ctx)
    try:
        return handlers.handler_environment(s.policies, s.allowed_cidrs, s.timezone, s.deny_all)
    except handlers.HandlerConfigError as exc:
        raise PhaseError(f"connect_handler.{exc}") from None


def _stack_tags(ctx: AwsContext, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in ctx.tags(PHASE, name)}


# --- IAM role --------------------------------------------------------------------------------------


def ensure_role(ctx: AwsContext, created: list[str]) -> str:
    iam = ctx.client("iam")
    name = role_name(ctx)
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
            Description=f"{ctx.params.name}: Client VPN client connect handler (hybridnet)",
            Tags=ctx.tags(PHASE, "clientvpn-connect-handler"),
        )["Role"]
        created.append(role["Arn"])
        iam.get_waiter("role_exists").wait(RoleName=name, WaiterConfig={"Delay": ctx.waiter_delay, "MaxAttempts": 20})
    else:
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name).get("Tags", [])}
        if tags.get(STACK_TAG) != ctx.params.name:
            raise PhaseError(
                f"IAM role {name} exists but is not tagged hybridnet:stack={ctx.params.name}: it is not "
                "this stack's; delete or rename it, or use another stack name"
            )
    document = logs_policy(ctx, function_name(ctx))
    try:
        have = iam.get_role_policy(RoleName=name, PolicyName=LOGS_POLICY_NAME)["PolicyDocument"]
        if isinstance(have, str):
            have = json.loads(urllib.parse.unquote(have))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        have = None
    if have != document:
        iam.put_role_policy(RoleName=name, PolicyName=LOGS_POLICY_NAME, PolicyDocument=json.dumps(document))
    return role["Arn"]


# --- the function ------------------------------------------------------------------------------------


@dataclass
class Deployed:
    name: str
    arn: str
    code_sha256: str
    action: str  # created | updated (code / configuration) | unchanged
    environment: dict[str, str]
    role_arn: str


def _wait_updated(ctx: AwsContext, name: str, progress: Callable[[str], None] | None) -> None:
    wait(
        ctx.client("lambda").get_waiter("function_updated_v2"),
        label=f"Lambda function {name}",
        delay=ctx.waiter_delay,
        timeout=300,
        progress=progress,
        done="updated",
        FunctionName=name,
    )


def ensure_function(
    ctx: AwsContext,
    role_arn: str,
    created: list[str],
    changed: list[str],
    progress: Callable[[str], None] | None = print,
) -> Deployed:
    name = function_name(ctx)  # before any call
    aws_lambda = ctx.client("lambda")
    package = handlers.build_package()
    sha = handlers.code_sha256(package)
    env = environment(ctx)
    wanted = {
        "Runtime": handlers.RUNTIME,
        "Handler": handlers.HANDLER,
        "Role": role_arn,
        "Timeout": handlers.TIMEOUT_SECONDS,
    }
    try:
        config = aws_lambda.get_function(FunctionName=name)["Configuration"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        config = None
    if config is None:
        for attempt in range(ROLE_PROPAGATION_TRIES):
            try:
                config = aws_lambda.create_function(
                    FunctionName=name,
                    Code={"ZipFile": package},
                    Environment={"Variables": env},
                    Description=f"{ctx.params.name}: Client VPN client connect handler (hybridnet)",
                    Tags=_stack_tags(ctx, "clientvpn-connect-handler"),
                    Publish=False,
                    **wanted,
                )
                break
            except ClientError as exc:
                if "cannot be assumed" not in str(exc) or attempt == ROLE_PROPAGATION_TRIES - 1:
                    raise
                time.sleep(ctx.waiter_delay)  # the new role is not visible to Lambda yet
        created.append(config["FunctionArn"])
        wait(
            aws_lambda.get_waiter("function_active_v2"),
            label=f"Lambda function {name}",
            delay=ctx.waiter_delay,
            timeout=300,
            progress=progress,
            done="Active",
            FunctionName=name,
        )
        action = "created"
    else:
        tags = aws_lambda.list_tags(Resource=config["FunctionArn"]).get("Tags", {})
        if tags.get(STACK_TAG) != ctx.params.name:
            raise PhaseError(
                f"Lambda function {name} exists but is not tagged hybridnet:stack={ctx.params.name}: "
                "it is not this stack's; set connect_handler.function_name to another name"
            )
        updates = []
        if config["CodeSha256"] != sha:
            aws_lambda.update_function_code(FunctionName=name, ZipFile=package)
            _wait_updated(ctx, name, progress)
            updates.append("code")
        have_env = (config.get("Environment") or {}).get("Variables") or {}
        if have_env != env or any(config.get(k) != v for k, v in wanted.items()):
            aws_lambda.update_function_configuration(FunctionName=name, Environment={"Variables": env}, **wanted)
            _wait_updated(ctx, name, progress)
            updates.append("configuration")
        action = f"updated ({', '.join(updates)})" if updates else "unchanged"
        changed += [f"{name}: {u}" for u in updates]
    config = aws_lambda.get_function(FunctionName=name)["Configuration"]
    return Deployed(
        name,
        config["FunctionArn"],
        config["CodeSha256"],
        action,
        (config.get("Environment") or {}).get("Variables") or {},
        role_arn,
    )


def enable_on_endpoint(ctx: AwsContext, endpoint_id: str, function_arn: str, changed: list[str]) -> dict:
    """Client connect handler of the endpoint = this function (ModifyClientVpnEndpoint)."""
    endpoint = client_vpn.describe_endpoint(ctx, endpoint_id)
    options = endpoint.get("ClientConnectOptions", {})
    if not (options.get("Enabled") and options.get("LambdaFunctionArn") == function_arn):
        ctx.client("ec2").modify_client_vpn_endpoint(
            ClientVpnEndpointId=endpoint_id, ClientConnectOptions={"Enabled": True, "LambdaFunctionArn": function_arn}
        )
        changed.append(f"{endpoint_id}: client connect handler")
    return client_vpn.describe_endpoint(ctx, endpoint_id)


@dataclass
class HandlerResult:
    function: Deployed
    endpoint: dict
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def endpoint_id(self) -> str:
        return self.endpoint["ClientVpnEndpointId"]


def plan(ctx: AwsContext) -> list[Step]:
    """What run() would do to the account: the function's role, the function (its code
    and configuration), and the endpoint's client connect handler."""
    name = function_name(ctx)
    env = environment(ctx)
    endpoint = client_vpn.require_endpoint(ctx)
    iam, aws_lambda = ctx.client("iam"), ctx.client("lambda")
    steps = []
    try:
        role_arn = iam.get_role(RoleName=role_name(ctx))["Role"]["Arn"]
        steps.append(Step("IAM role", role_name(ctx), "keep"))
    except iam.exceptions.NoSuchEntityException:
        role_arn = None
        steps.append(Step("IAM role", role_name(ctx), "create", how="CreateRole, PutRolePolicy (its logs)"))
    try:
        config = aws_lambda.get_function(FunctionName=name)["Configuration"]
    except aws_lambda.exceptions.ResourceNotFoundException:
        config = None
    if config is None:
        steps.append(Step("Lambda function", name, "create", how="CreateFunction"))
    else:
        changes = []
        if config["CodeSha256"] != handlers.code_sha256(handlers.build_package()):
            changes.append(Change("code", config["CodeSha256"][:12], "this version's handler"))
        have_env = (config.get("Environment") or {}).get("Variables") or {}
        changes += [
            Change(f"environment {key}", have_env.get(key, "-"), env.get(key, "-"))
            for key in sorted(set(have_env) | set(env))
            if have_env.get(key) != env.get(key)
        ]
        wanted = {
            "Runtime": handlers.RUNTIME,
            "Handler": handlers.HANDLER,
            "Timeout": handlers.TIMEOUT_SECONDS,
            **({"Role": role_arn} if role_arn else {}),
        }
        changes += [
            Change(key, str(config.get(key)), str(value)) for key, value in wanted.items() if config.get(key) != value
        ]
        steps.append(
            Step(
                "Lambda function",
                name,
                "modify" if changes else "keep",
                changes,
                "UpdateFunctionCode / UpdateFunctionConfiguration (in place; new connections get the new version)"
                if changes
                else "",
            )
        )
    options = endpoint.get("ClientConnectOptions", {})
    handler_arn = config["FunctionArn"] if config else "(the new function)"
    same = bool(options.get("Enabled")) and options.get("LambdaFunctionArn") == handler_arn
    steps.append(
        Step(
            "Client VPN endpoint",
            endpoint["ClientVpnEndpointId"],
            "keep" if same else "modify",
            []
            if same
            else [Change("client connect handler", options.get("LambdaFunctionArn") or "disabled", handler_arn)],
            "" if same else "ModifyClientVpnEndpoint (in place)",
        )
    )
    return steps


def plan_frame(ctx: AwsContext) -> pd.DataFrame:
    return frame(plan(ctx))


def run(ctx: AwsContext, progress: Callable[[str], None] | None = print) -> HandlerResult:
    """The whole phase: role, function, enabled on the endpoint. Safe to re-run."""
    function_name(ctx)
    environment(ctx)
    endpoint = client_vpn.require_endpoint(ctx)
    created: list[str] = []
    changed: list[str] = []
    role_arn = ensure_role(ctx, created)
    deployed = ensure_function(ctx, role_arn, created, changed, progress)
    endpoint = enable_on_endpoint(ctx, endpoint["ClientVpnEndpointId"], deployed.arn, changed)
    return HandlerResult(deployed, endpoint, created, changed)


def deployment_frame(res: HandlerResult) -> pd.DataFrame:
    f = res.function
    options = res.endpoint.get("ClientConnectOptions", {})
    rows = [
        ("function", f.name),
        ("function ARN", f.arn),
        ("this run", f.action),
        ("runtime / handler", f"{handlers.RUNTIME} / {handlers.HANDLER}"),
        ("code (CodeSha256)", f.code_sha256),
        ("role", f.role_arn),
        *((f"environment {k}", v) for k, v in sorted(f.environment.items())),
        ("endpoint", res.endpoint_id),
        (
            "client connect handler",
            f"{'enabled' if options.get('Enabled') else 'disabled'} ({options.get('Status', {}).get('Code', '-')})",
        ),
    ]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


# --- what it decides ---------------------------------------------------------------------------------


def invoke(ctx: AwsContext, name: str, event: dict, wait_s: float | None = None) -> handlers.HandlerDecision:
    """One request through Lambda Invoke (the emulator runs the deployed code), judged as
    Client VPN does. With `wait_s`, a handler that has not answered by then is judged
    as one that timed out (Client VPN itself waits 30 s)."""
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    from ..aws import RETRY_CONFIG

    client = (
        ctx.client("lambda")
        if wait_s is None
        else ctx.session.client(
            "lambda",
            endpoint_url=ctx.endpoint_url,
            config=RETRY_CONFIG.merge(Config(read_timeout=wait_s, retries={"mode": "standard", "max_attempts": 1})),
        )
    )
    try:
        answer = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    except ReadTimeoutError:
        return handlers.HandlerDecision(
            allow=False,
            message=handlers.AWS_DEFAULT_DENY_MESSAGE,
            valid=False,
            failure_reason=handlers.REASON_TIMEOUT,
            problems=(f"no answer within {wait_s:g} s",),
        )
    return handlers.validate_response(answer["Payload"].read(), function_error=answer.get("FunctionError"))


def test_events(ctx: AwsContext, endpoint_id: str) -> list[tuple[str, dict]]:
    """Requests whose answers do not depend on the clock under a source_ip policy:
    the seed's range, the lab's two users, another address, malformed requests."""
    # without a client_vpn section: the name the params would give the client
    common_name = (ctx.params.client_vpn or ClientVpn.model_construct()).client_name
    cases = [
        ("seed's allowed range", "72.21.10.20"),
        ("lab remote user (home)", handlers.REMOTE_USER_IPS["user"]),
        ("lab remote user (hotel)", handlers.REMOTE_USER_IPS["guest"]),
        ("another address", "198.51.100.7"),
        ("malformed: no public-ip", None),
        ("malformed: public-ip not an address", "not-an-ip"),
    ]
    return [
        (
            what,
            handlers.sample_event(
                ip, common_name=common_name, endpoint_id=endpoint_id, connection_id=f"cvpn-connection-{n:017x}"
            ),
        )
        for n, (what, ip) in enumerate(cases, start=1)
    ]


def decisions_frame(ctx: AwsContext, res: HandlerResult) -> pd.DataFrame:
    rows = []
    for what, event in test_events(ctx, res.endpoint_id):
        decision = invoke(ctx, res.function.name, event)
        rows.append(
            {
                "event": what,
                "public-ip": event.get("public-ip", "(missing)"),
                "allow": decision.allow,
                "message to the user": decision.message or "-",
                "valid response": decision.valid,
                "failure reason": decision.failure_reason or "-",
            }
        )
    return pd.DataFrame(rows).set_index("event")


def sample_ips(ctx: AwsContext) -> tuple[str, str]:
    import ipaddress

    allowed = [ipaddress.ip_network(c) for c in settings(ctx).allowed_cidrs] or [ipaddress.ip_network("72.21.0.0/16")]
    inside = (
        "72.21.10.20"
        if any(ipaddress.ip_address("72.21.10.20") in n for n in allowed)
        else str(next(allowed[0].hosts()))
    )
    outside = next(
        ip
        for ip in ("198.51.100.7", "203.0.113.99", "192.0.2.250")
        if not any(ipaddress.ip_address(ip) in n for n in allowed)
    )
    return inside, outside


def policy_matrix_frame(ctx: AwsContext) -> pd.DataFrame:
    """Both seed policies and their combination, at a fixed Wednesday and Saturday noon (UTC):
    the deployable module run in-process with an injected clock."""
    s = settings(ctx)
    allowed = s.allowed_cidrs or ["72.21.0.0/16"]
    inside, outside = sample_ips(ctx)
    events = handlers.sample_events(allowed_ip=inside, denied_ip=outside)[:4]
    rows = []
    for policies in (["weekdays"], ["source_ip"], ["weekdays", "source_ip"]):
        env = handlers.handler_environment(policies, allowed, s.timezone)
        for sample in events:
            decision = handlers.decide_locally(sample.event, env, now=sample.now)
            rows.append(
                {
                    "policies": " + ".join(policies),
                    "event": sample.name,
                    "moment": f"{sample.now:%a %Y-%m-%d %H:%M} UTC",
                    "public-ip": sample.event["public-ip"],
                    "allow": decision.allow,
                    "message to the user": decision.message or "-",
                }
            )
    return pd.DataFrame(rows).set_index(["policies", "event"])


def response_rules_frame() -> pd.DataFrame:
    """How Client VPN judges what a handler returns: anything malformed denies, with AWS's generic message."""
    ok = handlers.connect_handler.response(True)
    deny = handlers.connect_handler.response(False, "Your IP is not allowed to establish a connection.")
    cases = [
        ("well-formed: allow", ok, None),
        ("well-formed: deny with a message", deny, None),
        ('"allow": "true" (a string)', {**ok, "allow": "true"}, None),
        ("schema-version missing", {k: v for k, v in ok.items() if k != "schema-version"}, None),
        ("message of 300 characters", {**deny, "error-msg-on-failed-posture-compliance": "x" * 300}, None),
        ("not JSON", b"allow", None),
        ("the function raised an error", b'{"errorMessage": "boom"}', "Unhandled"),
    ]
    rows = []
    for what, response, error in cases:
        decision = handlers.validate_response(
            response if isinstance(response, bytes) else json.dumps(response), function_error=error
        )
        rows.append(
            {
                "response": what,
                "allow": decision.allow,
                "valid": decision.valid,
                "message to the user": decision.message or "-",
                "connection log reason": decision.failure_reason or "-",
            }
        )
    return pd.DataFrame(rows).set_index("response")


# --- real clients, through SSM --------------------------------------------------------------------------


def profile_of_run(run_dir: Path) -> Path:
    data = results.load(run_dir, client_vpn.NOTEBOOK)
    return Path(data["profile"])


# The two places a remote worker connects from: where the policy allows, and elsewhere.
PLACES = ((client_vpn.REMOTE_USER, "home"), (client_vpn.REMOTE_USER_AWAY, "elsewhere"))


def remote_attempts(ctx: AwsContext, endpoint_id: str, profile: Path) -> HostSteps:
    """The remote worker connects with the phase-4 profile from hosts.remote_user
    (an allowed address) and from hosts.remote_user_away (elsewhere), one after
    the other, through SSM Run Command; the refused one is told the handler's message."""
    named = [(role, where) for role, where in PLACES if getattr(ctx.params.hosts, role) is not None]
    if not named:
        reason = "no hosts.remote_user or hosts.remote_user_away in the params"
        table = nothing_here(
            reason,
            "connect with the AWS VPN Client from an allowed and from another address; "
            "the denied one shows the handler's message",
        )
        return HostSteps(False, reason, table, ctx.host_plane)
    p = client_vpn.ensure_pki(ctx)
    key_parameter = client_vpn.store_client_key(ctx, p)
    text = client_vpn.profile_without_key(profile, p)
    rows, attempts = [], []
    for role, where in named:  # one at a time: the same certificate, as one user would
        attempt = client_vpn.try_from(ctx, role, endpoint_id, text, key_parameter)
        attempts.append(attempt.to_dict())
        rows.append(
            {
                "remote user at": where,
                "host": f"{role} {attempt.instance_id or attempt.host}",
                "public IP": attempt.address or "-",
                "outcome": attempt.outcome,
                "client IP": attempt.client_ip or "-",
                "what the client was told": attempt.message or "-",
                "time": f"{attempt.seconds:.1f} s" if attempt.seconds is not None else "-",
            }
        )
    return HostSteps(True, "", pd.DataFrame(rows).set_index("remote user at"), ctx.host_plane, attempts=attempts)


def connections_frame(ctx: AwsContext, endpoint_id: str, with_bytes: bool = False) -> pd.DataFrame:
    """DescribeClientVpnConnections: every attempt, admitted or refused, oldest first
    (byte counters only on request: they differ from run to run)."""
    ec2 = ctx.client("ec2")
    found = paginate(ec2, "describe_client_vpn_connections", "Connections", ClientVpnEndpointId=endpoint_id)
    columns = ["established", "connection", "common name", "client IP", "status", "message"]
    if with_bytes:
        columns += ["ingress bytes", "egress bytes"]
    rows = [
        {
            "established": c["ConnectionEstablishedTime"],
            "connection": c["ConnectionId"],
            "common name": c.get("CommonName", "-"),
            "client IP": c.get("ClientIp", "-"),
            "status": c["Status"]["Code"],
            "message": c["Status"].get("Message", "-"),
            "ingress bytes": int(c.get("IngressBytes", 0)),
            "egress bytes": int(c.get("EgressBytes", 0)),
        }
        for c in sorted(found, key=lambda c: (c["ConnectionEstablishedTime"], c.get("ClientIp", "")))
    ]
    return pd.DataFrame(rows, columns=columns)


def result(res: HandlerResult, decisions: pd.DataFrame, attempts: HostSteps, connections: pd.DataFrame) -> dict:
    return {
        "function_name": res.function.name,
        "function_arn": res.function.arn,
        "code_sha256": res.function.code_sha256,
        "function_action": res.function.action,
        "environment": res.function.environment,
        "client_vpn_endpoint_id": res.endpoint_id,
        "handler_enabled": bool(res.endpoint.get("ClientConnectOptions", {}).get("Enabled")),
        "created": res.created,
        "changed": res.changed,
        "decisions": decisions.reset_index().to_dict(orient="records"),
        "host_plane": attempts.host_plane,
        "remote_attempts": attempts.attempts,
        "remote_not_tried": attempts.reason,
        "connections": connections.to_dict(orient="records"),
    }
