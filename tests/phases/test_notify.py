"""The health check's alerts (hybridnet.notify) on the emulator: SNS Publish on WARN
and FAIL and once on the return to OK, never the same state twice; what was
published is read back the AWS way, from an SQS queue subscribed to the topic."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pandas as pd
import pytest
from hybridnet import cli, healthcheck, notify
from hybridnet.aws import AwsContext, connect
from hybridnet.params import load_params

ROOT = Path(__file__).resolve().parents[2]
STACK = "notifytest"


@pytest.fixture(scope="module")
def ctx(own_emulator) -> AwsContext:
    return connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK, "lab": "off"}))


@pytest.fixture(scope="module")
def topic(ctx):
    """A topic, and a queue subscribed to it: (topic ARN, queue URL)."""
    sns, sqs = ctx.client("sns"), ctx.client("sqs")
    arn = sns.create_topic(Name=f"{STACK}-health")["TopicArn"]
    url = sqs.create_queue(QueueName=f"{STACK}-health")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return arn, url


def received(ctx, url: str) -> list[tuple[str, str]]:
    """(Subject, Message) of every notification in the queue, oldest first; consumed."""
    sqs, found = ctx.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            return found
        for m in got:
            body = json.loads(m["Body"])  # the SNS envelope (no raw delivery)
            assert body["Type"] == "Notification"
            found.append((body["Subject"], body["Message"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def verdict(check, status, cause="", reason="fine"):
    return {"check": check, "status": status, "cause": cause, "reason": reason, "action": "", "evidence": ""}


def a_run(exit_code: int, rows: list[dict], n: int, changes: str = "") -> healthcheck.HealthCheckRun:
    run_dir = Path(f"/srv/outputs/2026120{n}-020000-healthcheck")
    return healthcheck.HealthCheckRun(
        exit_code,
        run_dir,
        run_dir / "10_health_check.ipynb",
        run_dir / "health_check.html",
        pd.DataFrame(rows),
        changes,
        stack=STACK,
    )


OK = [verdict("tunnels", "OK"), verdict("dns", "OK")]
WARN = [verdict("tunnels", "WARN", "tunnel-down", "1 of 2 tunnels UP (203.0.113.12 DOWN)"), verdict("dns", "OK")]
FAIL = [
    verdict("tunnels", "FAIL", "no-tunnel-up", "0 of 2 tunnels UP"),
    verdict("dns", "WARN", "dns-slow", "resolver answered in 400 ms"),
]


def test_alerts_on_warn_and_fail_once_on_recovery_never_on_repeats(ctx, topic):
    arn, url = topic
    p = ctx.params
    sequence = [
        (0, OK, "", False),
        (1, WARN, "tunnel 203.0.113.12 UP -> DOWN", True),
        (1, [dict(WARN[0], reason="1 of 2 tunnels UP, 3 drops"), WARN[1]], "nothing changed", False),
        (2, FAIL, "tunnel 203.0.113.11 UP -> DOWN", True),
        (0, OK, "2 tunnels DOWN -> UP", True),
        (0, OK, "nothing changed", False),
    ]
    outcomes = []
    for n, (code, rows, changes, expected) in enumerate(sequence, start=1):
        done = notify.notify(a_run(code, rows, n, changes), p, arn, ctx=ctx)
        assert done.sent is expected and not done.failed, (n, done)
        outcomes.append(done.line)
    assert outcomes[0] == "notification not sent (OK, and nothing to recover from)"
    assert outcomes[1] == f"notification sent to {arn}: hybridnet {STACK}: WARN"
    assert outcomes[2] == "notification not sent (same state as run 20261202-020000-healthcheck: WARN)"
    assert outcomes[5] == "notification not sent (same state as run 20261205-020000-healthcheck: OK)"

    assert received(ctx, url) == [
        (
            f"hybridnet {STACK}: WARN",
            f"hybridnet {STACK}: WARN (0 FAIL, 1 WARN, 1 OK)\n"
            "WARN tunnels [tunnel-down]: 1 of 2 tunnels UP (203.0.113.12 DOWN)\n"
            "report: /srv/outputs/20261202-020000-healthcheck/health_check.html\n"
            "since the last run: tunnel 203.0.113.12 UP -> DOWN\n",
        ),
        (
            f"hybridnet {STACK}: FAIL",
            f"hybridnet {STACK}: FAIL (1 FAIL, 1 WARN, 0 OK)\n"
            "FAIL tunnels [no-tunnel-up]: 0 of 2 tunnels UP\n"
            "WARN dns [dns-slow]: resolver answered in 400 ms\n"
            "report: /srv/outputs/20261204-020000-healthcheck/health_check.html\n"
            "since the last run: tunnel 203.0.113.11 UP -> DOWN\n",
        ),
        (
            f"hybridnet {STACK}: OK",
            f"hybridnet {STACK}: OK (0 FAIL, 0 WARN, 2 OK), recovered from FAIL\n"
            "report: /srv/outputs/20261205-020000-healthcheck/health_check.html\n"
            "since the last run: 2 tunnels DOWN -> UP\n",
        ),
    ]
    state = notify.state_file(STACK)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    kept = json.loads(state.read_text())["topics"][arn]
    assert (kept["exit_code"], kept["problems"], kept["run"]) == (
        0,
        [],
        "20261205-020000-healthcheck",
    )  # the last one notified


def test_another_cause_is_another_state(ctx, topic):
    arn, url = topic
    first = notify.notify(a_run(1, WARN, 7), ctx.params, arn, ctx=ctx)
    other = [verdict("tunnels", "WARN", "tunnel-flapping", "3 drops in 60 min"), verdict("dns", "OK")]
    second = notify.notify(a_run(1, other, 8), ctx.params, arn, ctx=ctx)
    again = notify.notify(a_run(1, other, 9), ctx.params, arn, ctx=ctx)
    assert (first.sent, second.sent, again.sent) == (True, True, False)
    assert [s for s, _ in received(ctx, url)] == [f"hybridnet {STACK}: WARN"] * 2


def test_a_failed_publish_is_one_line_and_is_tried_again(ctx, topic):
    arn, url = topic
    missing = arn.rsplit(":", 1)[0] + ":no-such-topic"
    done = notify.notify(a_run(2, FAIL, 1), ctx.params, missing, ctx=ctx)
    assert done.failed and not done.sent
    assert done.line.startswith(f"warning: notification to {missing} not sent: ")
    assert "\n" not in done.line and "Traceback" not in done.line
    state = notify.state_file(STACK)  # written by an earlier publish, if any ran before this test
    recorded = json.loads(state.read_text())["topics"] if state.exists() else {}
    assert missing not in recorded  # not recorded: the next run tries again
    # the topic's own state is unaffected
    assert received(ctx, url) == []


def test_the_cli_prints_one_line_and_keeps_the_exit_status(monkeypatch, capsys, tmp_path):
    failed = notify.Notification(
        False, "NotFoundException: Topic does not exist", topic_arn="arn:aws:sns:x", failed=True
    )
    run = a_run(1, WARN, 1)
    run.notification = failed
    monkeypatch.setattr(cli, "_check_account", lambda params: None)
    monkeypatch.setattr(healthcheck, "run", lambda path, since="", **_: run)
    assert cli.main(["healthcheck", "--params", str(ROOT / "params" / "healthcheck.yaml")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "warning: notification to arn:aws:sns:x not sent: NotFoundException: Topic does not exist"
