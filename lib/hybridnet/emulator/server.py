"""The emulator process: moto's server with our extensions and an admin API.

Run as `python -m hybridnet.emulator.server --state-file FILE [--socket PATH]`.
It binds a free port on 127.0.0.1 (never another interface) and, with
--socket, also serves the same application on a unix socket (mode 0600):
the lab's daemons run in network namespaces where the host's 127.0.0.1 is
another loopback, but the filesystem is shared. It writes {pid, port,
endpoint, socket} to the state file once it is serving, and serves until
SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from . import admin
from .extensions import install_all

ADMIN_PREFIX = "/_hybridnet/"


class AdminMiddleware:
    """Routes /_hybridnet/* to the admin API and everything else to moto."""

    def __init__(self, moto_app: Callable, extensions: list[str]):
        self.moto_app = moto_app
        self.extensions = extensions

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(ADMIN_PREFIX):
            return self.moto_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            status, payload = admin.handle(environ["REQUEST_METHOD"], path[len(ADMIN_PREFIX):], body,
                                           self.extensions)
        except Exception as exc:  # the admin API answers every error as JSON
            status, payload = 400, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(payload, default=str).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(data)))])
        return [data]


def build_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    extensions = install_all()
    return AdminMiddleware(DomainDispatcherApplication(create_backend_app), extensions)


# sun_path holds 108 bytes with the terminating NUL.
UNIX_PATH_MAX = 107


def serve_unix(app: Any, socket_path: Path) -> Any:
    """Serve `app` on a unix socket (owner only), in a background thread."""
    import threading

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    if len(str(socket_path).encode()) > UNIX_PATH_MAX:
        raise ValueError(f"{socket_path} is longer than {UNIX_PATH_MAX} bytes (a unix socket path); "
                         "set HYBRIDNET_HOME to a shorter folder")
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o177)  # created 0600: only the emulator's user may call it
    try:
        server = make_server(f"unix://{socket_path}", 0, app, threaded=True, request_handler=MotoRequestHandler)
    finally:
        os.umask(old_umask)
    os.chmod(socket_path, 0o600)
    threading.Thread(target=server.serve_forever, name="emulator-unix-socket", daemon=True).start()
    return server


def serve(state_file: Path, port: int = 0, socket_path: Path | None = None) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    app = build_app()
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    bound = server.server_address[1]
    state: dict[str, Any] = {"pid": os.getpid(), "port": bound, "endpoint": f"http://127.0.0.1:{bound}"}
    unix_server = None
    if socket_path is not None:
        try:
            unix_server = serve_unix(app, socket_path)
            state["socket"] = str(socket_path)
        except (OSError, ValueError) as exc:  # the TCP endpoint still serves; say why there is no socket
            state["socket_error"] = str(exc)
            print(f"no unix socket: {exc}", file=sys.stderr, flush=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(state_file)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if unix_server is not None:
            unix_server.server_close()
            Path(state["socket"]).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--socket", type=Path, help="also serve on this unix socket")
    args = parser.parse_args(argv)
    serve(args.state_file, args.port, args.socket)


if __name__ == "__main__":
    main(sys.argv[1:])
