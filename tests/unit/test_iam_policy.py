"""params/iam-policy.json is the identity policy the runbook needs on a real
account (README: A real AWS account). It must allow every AWS API call the
runbook code makes, read from the code itself, so that it cannot fall behind."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lib" / "hybridnet"
POLICY = ROOT / "params" / "iam-policy.json"
RUNBOOK = sorted(
    [
        *PACKAGE.glob("phases/*.py"),
        *PACKAGE.glob("diagnostics/*.py"),
        PACKAGE / "healthcheck.py",
        PACKAGE / "hosts.py",
        PACKAGE / "aws.py",
        PACKAGE / "waiting.py",
        PACKAGE / "notify.py",
    ]
)
# Needed besides the calls themselves (AWS checks them on the caller's behalf).
IMPLICIT = {
    "iam:PassRole",  # CreateFunction with the handler's role
    "route53resolver:TagResource",  # CreateResolverEndpoint / CreateResolverRule with tags
    "ec2:CreateNetworkInterface",  # a Resolver endpoint's addresses are network interfaces in the subnets
    "kms:Decrypt",  # GetParameter WithDecryption on the SecureStrings the runbook compares before writing
    # CreateVpnConnection / ModifyVpnTunnelOptions with LogOptions (AWS's "IAM requirements to publish to
    # CloudWatch Logs" for Site-to-Site VPN logs)
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def _client(service: str):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="unused", aws_secret_access_key="unused")


def calls_in_code() -> set[str]:
    """service:Action for every client call, paginator and waiter in the runbook code."""
    clients, found = {}, set()

    def add(service: str, operation: str) -> None:
        clients.setdefault(service, _client(service))
        mapping = clients[service].meta.method_to_api_mapping
        assert operation in mapping, f"{service} has no operation {operation}"
        found.add(f"{service}:{mapping[operation]}")

    def add_waiter(service: str, waiter: str) -> None:
        clients.setdefault(service, _client(service))
        found.add(f"{service}:{clients[service].get_waiter(waiter).config.operation}")

    for path in RUNBOOK:
        src = path.read_text()
        bound = dict(re.findall(r'(\w+) = (?:self\.)?ctx\.client\("(\w+)"\)$', src, re.M))
        client_expressions = [(r'(?:self\.)?ctx\.client\("(\w+)"\)', None)]
        client_expressions += [(rf"\b({re.escape(var)})", service) for var, service in bound.items()]
        for expression, service in client_expressions:
            for m in re.finditer(expression + r'\.(\w+)\((?:"(\w+)")?', src):
                svc, method, name = service or m.group(1), m.group(2), m.group(3)
                if method == "get_paginator":
                    add(svc, name)
                elif method == "get_waiter":
                    add_waiter(svc, name)
                elif method not in ("exceptions", "meta", "can_paginate"):
                    add(svc, method)
            for m in re.finditer(r"paginate\(" + expression + r', "(\w+)"', src):
                add(service or m.group(1), m.groups()[-1])
    for operation in re.findall(r'"operation": "(\w+)"', (PACKAGE / "waiting.py").read_text()):
        found.add(
            next(
                f"{s}:{operation}"
                for s in ("route53resolver", "ec2")
                if operation in _client(s).meta.service_model.operation_names
            )
        )
    return found


def allowed(policy: dict) -> list[str]:
    actions = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions += [listed] if isinstance(listed, str) else listed
    return actions


def test_the_policy_allows_every_call_the_runbook_makes():
    policy = json.loads(POLICY.read_text())
    actions = allowed(policy)
    calls = calls_in_code()
    assert len(calls) > 80, sorted(calls)  # the reader found the runbook's calls
    # Lambda Invoke is the action lambda:InvokeFunction
    needed = {c.replace("lambda:Invoke", "lambda:InvokeFunction") for c in calls} | IMPLICIT
    missing = sorted(a for a in needed if not any(fnmatchcase(a, pattern) for pattern in actions))
    assert not missing, f"add these to {POLICY.name}: {missing}"


@pytest.mark.parametrize("sid", ["HostsRunCommand", "SecretsForHosts"])
def test_commands_and_secrets_are_scoped(sid):
    statement = next(s for s in json.loads(POLICY.read_text())["Statement"] if s["Sid"] == sid)
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert "*" not in resources
    assert all(r.startswith("arn:aws:") for r in resources)
