"""The embedded AWS emulator: moto in its own process on 127.0.0.1, extended
where it falls short of what hybridnet needs (see extensions.py)."""

from .process import EmulatorError, EmulatorInfo, admin_call, start, status, stop

__all__ = ["EmulatorError", "EmulatorInfo", "admin_call", "start", "status", "stop"]
