"""What a phase would do to the account, before it does it: per resource,
create, keep, modify in place or replace, with the fields that differ (as
`terraform plan` shows it). Plain data; secrets are never shown, only that
they differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

ACTIONS = ("create", "keep", "modify", "replace")


@dataclass(frozen=True)
class Change:
    field: str
    have: str
    want: str


@dataclass
class Step:
    kind: str  # "customer gateway", "VPN connection", ...
    resource: str  # its id, or "(new)"
    action: str  # one of ACTIONS
    changes: list[Change] = field(default_factory=list)
    how: str = ""  # the API call(s) that would do it, and what it costs (an outage, a new address)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"plan action {self.action!r}: one of {', '.join(ACTIONS)}")


def secret_change(field_name: str) -> Change:
    """A secret that differs: shown as changed, never as values."""
    return Change(field_name, "(secret)", "(a different secret)")


def frame(steps: list[Step]) -> pd.DataFrame:
    rows = [{"resource": f"{s.kind} {s.resource}", "action": s.action,
             "changes": "; ".join(f"{c.field}: {c.have} -> {c.want}" for c in s.changes) or "-",
             "how": s.how or "-"} for s in steps]
    return pd.DataFrame(rows, columns=["resource", "action", "changes", "how"])


def pending(steps: list[Step]) -> list[Step]:
    """The steps that change what exists (modify, replace)."""
    return [s for s in steps if s.action in ("modify", "replace")]


__all__ = ["ACTIONS", "Change", "Step", "frame", "pending", "secret_change"]
