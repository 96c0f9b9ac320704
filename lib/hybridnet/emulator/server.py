"""The emulator process: moto's server with our extensions and an admin API.

Run as `python -m hybridnet.emulator.server --state-file FILE`. It binds a
free port on 127.0.0.1 (never another interface), writes {pid, port,
endpoint} to the state file once it is serving, and serves until SIGTERM.
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


def serve(state_file: Path, port: int = 0) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, build_app(), threaded=True, request_handler=MotoRequestHandler)
    bound = server.server_address[1]
    state = {"pid": os.getpid(), "port": bound, "endpoint": f"http://127.0.0.1:{bound}"}
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve(args.state_file, args.port)


if __name__ == "__main__":
    main(sys.argv[1:])
