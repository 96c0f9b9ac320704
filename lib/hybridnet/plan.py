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
    # A replacement that stops traffic (needs allow_replace); a customer gateway's is not:
    # the VPN connection moves to the new one in place.
    interrupts: bool = True

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"plan action {self.action!r}: one of {', '.join(ACTIONS)}")


def secret_change(field_name: str) -> Change:
    """A secret that differs: shown as changed, never as values."""
    return Change(field_name, "(secret)", "(a different secret)")


def frame(steps: list[Step]) -> pd.DataFrame:
    rows = [
        {
            "resource": f"{s.kind} {s.resource}",
            "action": s.action,
            "changes": "; ".join(f"{c.field}: {c.have} -> {c.want}" for c in s.changes) or "-",
            "how": s.how or "-",
        }
        for s in steps
    ]
    return pd.DataFrame(rows, columns=["resource", "action", "changes", "how"])


def refuse_replacements(steps: list[Step], allow_replace: bool) -> None:
    """A replacement (delete, create anew) stops the run before anything is touched,
    unless the params allow it (allow_replace: true): it interrupts traffic."""
    from .phases import PhaseError

    replaced = [s for s in steps if s.action == "replace" and s.interrupts]
    if replaced and not allow_replace:
        listed = "; ".join(
            f"{s.kind} {s.resource}: " + ", ".join(f"{c.field} {c.have} -> {c.want}" for c in s.changes)
            for s in replaced
        )
        how = "; ".join(s.how for s in replaced)
        raise PhaseError(
            f"{listed}: AWS cannot change this in place ({how}); set allow_replace: true in the params "
            "to replace it, or put the params back as they were"
        )


def pending(steps: list[Step]) -> list[Step]:
    """The steps that change what exists (modify, replace)."""
    return [s for s in steps if s.action in ("modify", "replace")]


__all__ = ["ACTIONS", "Change", "Step", "frame", "pending", "refuse_replacements", "secret_change"]
