"""Alerts from the scheduled health check: an SNS message when it turns WARN or FAIL,
and once more when it returns to OK; never the same state twice.

The **state** of a run is its exit status (0 OK, 1 WARN, 2 FAIL) and the set of
(check, cause) of its WARN and FAIL verdicts. A message is published when the
state differs from the last one recorded for the stack and topic and is not
OK, or is OK after a state that was not (the recovery). The same state again
is not re-sent, nor is OK after OK (or a first run that is OK). A new failing
check, or a check failing for another cause, is a new state: a message again.
The reasons and evidence (counts, ids, timings) are left out of the state,
so a flapping figure does not re-send the same alert.

The last state is kept per stack and topic in outputs/.state/notify-<stack>.json
(0600, written atomically). It is updated only when the state was delivered,
or needed no message: a publish that failed leaves it as it was, so the
next run tries again. A failed publish is one line (``Notification.line``),
never a traceback, and never changes the health check's exit status.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import workspace
from .diagnostics.verdicts import STATUS_WORDS

SUBJECT_LIMIT = 100  # SNS: at most 100 characters (ASCII)
MESSAGE_REASON_LIMIT = 300  # characters of one verdict's reason in the message
FORMAT = 1


@dataclass
class Notification:
    """What notify() did: `sent` (a message was published), `reason` (why it was
    or was not: "new state", "recovered", "same state as ...", or the failure),
    `failed` (a publish was attempted and failed)."""

    sent: bool
    reason: str
    subject: str = ""
    message: str = ""
    topic_arn: str = ""
    failed: bool = False

    @property
    def line(self) -> str:
        """One line for the CLI."""
        if self.failed:
            return f"warning: notification to {self.topic_arn} not sent: {self.reason}"
        if self.sent:
            return f"notification sent to {self.topic_arn}: {self.subject}"
        return f"notification not sent ({self.reason})"


def state_of(exit_code: int, verdicts: pd.DataFrame) -> dict:
    """The run's state as compared between runs: its exit status and the sorted
    (check, cause) pairs of its non-OK verdicts (cause "" when a verdict has none)."""
    problems = set()
    if verdicts is not None and not verdicts.empty:
        for row in verdicts.to_dict("records"):
            if row.get("status") != "OK":
                problems.add((str(row.get("check", "")), str(row.get("cause") or "")))
    return {"exit_code": int(exit_code), "problems": [list(p) for p in sorted(problems)]}


def _same(a: dict | None, b: dict) -> bool:
    return (
        a is not None
        and a.get("exit_code") == b["exit_code"]
        and sorted(map(tuple, a.get("problems", []))) == sorted(map(tuple, b["problems"]))
    )


def state_file(stack: str) -> Path:
    return workspace.state_dir() / f"notify-{stack}.json"


def _load(stack: str) -> dict:
    path = state_file(stack)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    topics = data.get("topics") if isinstance(data, dict) else None
    return topics if isinstance(topics, dict) else {}


def _save(stack: str, topic_arn: str, record: dict) -> None:
    topics = _load(stack)
    topics[topic_arn] = record
    workspace.write_private(
        state_file(stack),
        json.dumps({"format": FORMAT, "stack": stack, "topics": topics}, indent=2, sort_keys=True) + "\n",
    )


def compose(stack: str, run, recovered_from: str = "") -> tuple[str, str]:
    """(subject, message) of one run (a healthcheck.HealthCheckRun)."""
    status = STATUS_WORDS[run.exit_code]
    subject = f"hybridnet {stack}: {status}"[:SUBJECT_LIMIT]
    verdicts = run.verdicts if run.verdicts is not None else pd.DataFrame(columns=["check", "status"])
    counts = verdicts["status"].value_counts() if "status" in verdicts else {}
    shown = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("FAIL", "WARN", "OK"))
    lines = [
        f"hybridnet {stack}: {status} ({shown})" + (f", recovered from {recovered_from}" if recovered_from else "")
    ]
    order = {"FAIL": 0, "WARN": 1}
    failing = [r for r in verdicts.to_dict("records") if r.get("status") in order]
    for row in sorted(failing, key=lambda r: order[r["status"]]):
        reason = str(row.get("reason") or "")
        if len(reason) > MESSAGE_REASON_LIMIT:
            reason = reason[: MESSAGE_REASON_LIMIT - 3] + "..."
        cause = row.get("cause") or "-"
        lines.append(f"{row['status']} {row['check']} [{cause}]: {reason}")
    lines.append(f"report: {run.report}")
    if run.changes:
        lines.append(f"since the last run: {run.changes}")
    return subject, "\n".join(lines) + "\n"


def notify(run, params, topic_arn: str, ctx=None) -> Notification:
    """Publish the run's state to `topic_arn` if it is news (see the module's doc).
    `params`: the stack's parameter set; `ctx`: its AwsContext (else
    hybridnet.aws.connect(params), the same session as everything)."""
    stack = params.name
    now = state_of(run.exit_code, run.verdicts)
    last = _load(stack).get(topic_arn)
    status = STATUS_WORDS[now["exit_code"]]
    record = {
        **now,
        "status": status,
        "run": Path(run.run_dir).name if run.run_dir else "",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if last is not None and _same(last, now):
        return Notification(False, f"same state as run {last.get('run') or '?'}: {status}", topic_arn=topic_arn)
    last_status = STATUS_WORDS.get(last.get("exit_code")) if last else None
    if now["exit_code"] == 0 and last_status in (None, "OK"):
        _save(stack, topic_arn, {**record, "sent": False})
        return Notification(False, "OK, and nothing to recover from", topic_arn=topic_arn)
    recovered = last_status if now["exit_code"] == 0 else ""
    subject, message = compose(stack, run, recovered_from=recovered or "")
    try:
        if ctx is None:
            from .aws import connect

            ctx = connect(params)
        sns = ctx.client("sns")
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)
    except Exception as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        return Notification(False, f"{type(exc).__name__}: {detail}", subject, message, topic_arn, failed=True)
    _save(stack, topic_arn, {**record, "sent": True})
    return Notification(True, f"recovered from {recovered}" if recovered else "new state", subject, message, topic_arn)


__all__ = ["Notification", "compose", "notify", "state_file", "state_of"]
