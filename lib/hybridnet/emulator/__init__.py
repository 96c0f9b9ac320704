"""The embedded AWS emulator: moto in its own process on 127.0.0.1, extended
where it falls short of what hybridnet needs (see extensions.py), answering
only requests signed with the credentials it generated (see auth.py)."""

from .process import (
    Credentials,
    EmulatorError,
    EmulatorInfo,
    admin_call,
    client,
    credentials,
    saved_state_file,
    session,
    start,
    status,
    stop,
)

__all__ = [
    "Credentials",
    "EmulatorError",
    "EmulatorInfo",
    "admin_call",
    "client",
    "credentials",
    "saved_state_file",
    "session",
    "start",
    "status",
    "stop",
]
