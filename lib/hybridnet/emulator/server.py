"""The emulator process: moto's server with our extensions and an admin API.

Run as `python -m hybridnet.emulator.server --state-file FILE --socket PATH
--credentials-file FILE [--instance-socket PATH] [--saved-state FILE] [--port N]`.
It serves:

* on a free port of 127.0.0.1 (never another interface; a restarted emulator
  takes the port of the state it restores again when it is free, so the
  clients and the lab that knew it keep reaching it): the AWS API only,
  to requests signed with the emulator's credentials (auth.py; generated into
  the credentials file at the first start, reused later), from no web page;
* on the unix socket (mode 0600; the lab's daemons run in network namespaces
  where the host's 127.0.0.1 is another loopback, but the filesystem is
  shared): the same AWS API, equally authenticated, plus the admin API
  (/_hybridnet/...) and moto's /moto-api/, which the socket's file mode
  alone protects and TCP never serves;
* on the instance socket (`--instance-socket`, mode 0600 too): the AWS API
  only, equally authenticated, as on TCP (admin API and /moto-api/ refused
  with the same answer). The lab pipes 127.0.0.1:PORT inside a host's network
  namespace to it, so that commands run on a lab "instance" (SSM Run Command,
  with its instance profile's credentials) reach the AWS API and never the
  admin API.

It refuses to start without its sockets. With `--saved-state FILE` it first
restores the state saved there, or refuses to start if it cannot (see
persistence.py), and saves it there after every change. It writes {pid, port,
endpoint, socket, instance_socket, credentials_file, started_at,
restored_from} to the state file once it is serving, and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import admin, persistence
from .extensions import install_all
from .process import Credentials
from .unix_client import UNIX_PATH_MAX

ADMIN_PREFIX = "/_hybridnet/"
MOTO_API_PREFIX = "/moto-api"
SOCKET_ONLY = (ADMIN_PREFIX.rstrip("/"), MOTO_API_PREFIX)


def _json(start_response: Callable, status: int, payload: dict) -> list[bytes]:
    data = json.dumps(payload, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class AdminMiddleware:
    """On the unix socket: /_hybridnet/* to the admin API, /moto-api/* to moto
    (then the emulator's credentials are installed again: a reset empties IAM),
    everything else to the AWS API (`api`, authenticated)."""

    def __init__(
        self,
        api: Callable,
        moto_app: Callable,
        extensions: list[str],
        after_moto_api: Callable[[], None] = lambda: None,
    ):
        self.api, self.moto_app = api, moto_app
        self.extensions = extensions
        self.after_moto_api = after_moto_api

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(MOTO_API_PREFIX):
            try:
                return list(self.moto_app(environ, start_response))
            finally:
                self.after_moto_api()
                if environ.get("REQUEST_METHOD") == "POST":  # a reset, a seed...: saved as it is now
                    persistence.note_change()
        if not path.startswith(ADMIN_PREFIX):
            return self.api(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            status, payload = admin.handle(environ["REQUEST_METHOD"], path[len(ADMIN_PREFIX) :], body, self.extensions)
        except Exception as exc:  # the admin API answers every error as JSON
            status, payload = 400, {"error": f"{type(exc).__name__}: {exc}"}
        return _json(start_response, status, payload)


class TcpOnlyApi:
    """On 127.0.0.1 and on the instance socket: the AWS API (`api`) only; the
    admin API and /moto-api/ are refused (the same answer on both)."""

    def __init__(self, api: Callable):
        self.api = api

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(SOCKET_ONLY):
            return _json(
                start_response,
                403,
                {
                    "error": f"{path} is served on the emulator's unix socket only (see EmulatorInfo.socket), "
                    "not on its TCP port or its instance socket, which serve the AWS API alone"
                },
            )
        return self.api(environ, start_response)


class SavingApi:
    """The AWS API (`api`: moto), then, after a call that may have changed the state and
    succeeded, the state saved before the answer leaves (persistence.py)."""

    def __init__(self, api: Callable):
        self.api = api

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if persistence.is_read(environ):
            return self.api(environ, start_response)
        status: list[str] = []

        def noting(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        answer = self.api(environ, noting)  # moto has done the call when it returns
        if status and status[0][:1] in ("2", "3"):  # AWS changes nothing on an error
            persistence.note_change()
        return answer


def build_apps(credentials: Credentials, store: persistence.Store | None = None) -> tuple[Any, Any]:
    """(the AWS-API-only app for TCP and the instance socket, the unix socket app), sharing one moto;
    with `store`, the state it saved is restored first (StateFileError if it cannot be) and
    every change is saved there."""
    os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")
    from moto.moto_server import werkzeug_app
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from . import auth

    werkzeug_app.DISABLE_GLOBAL_CORS = True  # no flask_cors on moto's apps (also set by process.start)
    extensions = install_all()
    if store is not None:
        store.restore()  # before the credentials, which go into the restored IAM
    auth.install(credentials)
    moto_app = DomainDispatcherApplication(create_backend_app)
    api = auth.Gate(moto_app if store is None else SavingApi(moto_app))
    unix_app = AdminMiddleware(api, moto_app, extensions, after_moto_api=lambda: auth.install(credentials))
    return TcpOnlyApi(api), unix_app


def serve_unix(app: Any, socket_path: Path, name: str = "emulator-unix-socket") -> Any:
    """Serve `app` on a unix socket (owner only), in a background thread."""
    import threading

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    if len(str(socket_path).encode()) > UNIX_PATH_MAX:
        raise ValueError(
            f"{socket_path} is longer than {UNIX_PATH_MAX} bytes (a unix socket path); "
            "set HYBRIDNET_HOME to a shorter folder"
        )
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o177)  # created 0600: only the emulator's user may call it
    try:
        server = make_server(f"unix://{socket_path}", 0, app, threaded=True, request_handler=MotoRequestHandler)
    finally:
        os.umask(old_umask)
    os.chmod(socket_path, 0o600)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def serve(
    state_file: Path,
    socket_path: Path,
    credentials_file: Path,
    port: int = 0,
    instance_socket: Path | None = None,
    saved_state: Path | None = None,
) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from . import auth

    credentials = auth.load_or_create(credentials_file)
    store = persistence.Store(saved_state) if saved_state is not None else None
    try:
        tcp_app, unix_app = build_apps(credentials, store)
    except persistence.StateFileError as exc:  # never serve a half-restored state
        raise SystemExit(str(exc)) from None
    unix_servers = []
    try:
        unix_servers.append(serve_unix(unix_app, socket_path))
    except (OSError, ValueError) as exc:  # no socket, no emulator: the lab and the admin API need it
        raise SystemExit(f"the emulator cannot serve its unix socket {socket_path}: {exc}") from None
    if instance_socket is not None:
        try:  # the AWS API alone, as on TCP: what commands on the lab's instances reach
            unix_servers.append(serve_unix(tcp_app, instance_socket, name="emulator-instance-socket"))
        except (OSError, ValueError) as exc:
            unix_servers[0].server_close()
            socket_path.unlink(missing_ok=True)
            raise SystemExit(f"the emulator cannot serve its instance socket {instance_socket}: {exc}") from None
    try:
        server = make_server("127.0.0.1", port, tcp_app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:  # the port the saved state was served on is taken now: any free one
        if not port:
            raise
        print(f"port {port} is not free ({exc.strerror}): serving on another", file=sys.stderr, flush=True)
        server = make_server("127.0.0.1", 0, tcp_app, threaded=True, request_handler=MotoRequestHandler)
    bound = server.server_address[1]
    if store is not None:
        store.port = bound
    state: dict[str, Any] = {
        "pid": os.getpid(),
        "port": bound,
        "endpoint": f"http://127.0.0.1:{bound}",
        "socket": str(socket_path),
        "instance_socket": str(instance_socket) if instance_socket is not None else None,
        "credentials_file": str(credentials_file),
        "started_at": store.started_at if store else None,
        "restored_from": store.restored_from if store else None,
    }
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
        for unix_server in unix_servers:
            unix_server.server_close()
        for path in (state["socket"], state["instance_socket"]):
            if path:
                Path(path).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument(
        "--socket", type=Path, required=True, help="the unix socket (AWS API, admin API and /moto-api/)"
    )
    parser.add_argument(
        "--credentials-file",
        type=Path,
        required=True,
        help="the emulator's credentials (0600; generated at the first start)",
    )
    parser.add_argument(
        "--instance-socket",
        type=Path,
        default=None,
        help="a unix socket serving the AWS API alone (for commands on the lab's instances)",
    )
    parser.add_argument(
        "--saved-state",
        type=Path,
        default=None,
        help="restore the state saved in this file (0600), and save every change there",
    )
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve(
        args.state_file,
        args.socket,
        args.credentials_file,
        args.port,
        instance_socket=args.instance_socket,
        saved_state=args.saved_state,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
