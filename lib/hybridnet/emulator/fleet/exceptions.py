"""What the fleet's admin routes and request rules answer."""

from __future__ import annotations


class FleetSpecError(ValueError):
    """A seed, throttle or Regions request the emulator cannot follow (the admin API's 400)."""
