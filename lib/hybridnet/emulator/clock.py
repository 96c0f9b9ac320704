"""The emulator's clock for the moments its state keeps ("created 0.4 s ago: still pending").

Those moments are compared with "now" later, so they need a clock that never
jumps: time.monotonic(). But the state outlives the process (persistence.py),
and time.monotonic() starts again at every boot: a moment saved before a
reboot would lie in the restored emulator's future (pending for hours) or far
past. now() is time.monotonic() plus an offset that a restore sets so that the
clock goes on from the value it had at the last save, plus the wall-clock time
that passed meanwhile (the emulator was stopped; what was pending then has
settled since, as it would have on AWS).
"""

from __future__ import annotations

import time

_offset = 0.0


def now() -> float:
    """Seconds on the emulator's clock (monotonic while the process runs)."""
    return time.monotonic() + _offset


def resume(saved_now: float, saved_wall: float) -> None:
    """Continue the clock of a restored state: it read `saved_now` at the wall-clock time
    `saved_wall` (time.time()); a wall clock set back since counts as no time passed."""
    global _offset
    _offset = saved_now + max(0.0, time.time() - saved_wall) - time.monotonic()
