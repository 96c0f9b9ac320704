"""The embedded emulator as a target of the session factory (hybridnet.aws).

Registered in pyproject.toml under the ``hybridnet.targets`` entry point
group, so the runbook reaches it by name, as papermill reaches its engines,
and never imports it.
"""

from __future__ import annotations

from ..aws import Account, Where
from . import seed
from .process import session, start


def open_account(where: Where) -> Account:
    """Start the emulator if needed; a session signed with its own generated keys
    (outputs/.state/, 0600: it refuses any other and never sees a real credential)."""
    info = start()
    # The emulator's waiters settle in a second and its commands in milliseconds.
    return Account(
        session(where.region, info),
        info.endpoint,
        waiter_delay=1,
        command_poll_s=0.05,
        prepare=seed.ensure_baseline,
        started_empty_at=None if info.restored_from else (info.started_at or "an unknown time"),
    )
