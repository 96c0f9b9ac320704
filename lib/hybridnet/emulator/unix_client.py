"""HTTP to the emulator over its unix socket (standard library only).

The lab's daemons run inside network namespaces, where 127.0.0.1 is the
namespace's own loopback, not the host's: they reach the emulator through the
unix socket it also serves on (EmulatorInfo.socket), i.e. through the
filesystem, never through a network.
"""

from __future__ import annotations

import http.client
import json
import socket

from ..errors import LocalPlaneError

# sun_path holds 108 bytes with the terminating NUL.
UNIX_PATH_MAX = 107


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, socket_path: str, timeout: float = 35.0):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class AdminCallError(LocalPlaneError, RuntimeError):
    """The admin API answered with an error (its message), or could not be reached."""


def admin_call_unix(socket_path: str, method: str, route: str, body: dict | None = None, timeout: float = 35.0) -> dict:
    """Call /_hybridnet/<route> over the unix socket; the JSON answer, or AdminCallError.

    The default timeout outlasts a client connect handler (AWS gives it 30 s).
    """
    connection = UnixHTTPConnection(socket_path, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    try:
        connection.request(method, f"/_hybridnet/{route}", body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
    except OSError as exc:
        raise AdminCallError(f"emulator socket {socket_path}: {exc}") from None
    finally:
        connection.close()
    try:
        answer = json.loads(payload or b"{}")
    except ValueError:
        raise AdminCallError(f"emulator answered {response.status} with non-JSON: {payload[:200]!r}") from None
    if response.status != 200:
        raise AdminCallError(answer.get("error", f"HTTP {response.status}"))
    return answer
