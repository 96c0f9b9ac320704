"""`make jupyter`: JupyterLab on the runbook, against the emulator (and the lab)
that `hybridnet run` uses.

    python -m hybridnet.jupyter [--params FILE] [--port N] [--notebook-dir DIR]

As `hybridnet run` does before its notebooks, it connects with the params (which
starts the embedded emulator when it does not run), prints the account it acts
as and, as root with the lab available, starts the lab's agent for the stack
(or keeps the one that plays it). Then it starts JupyterLab, as root too:

- on 127.0.0.1 only (never another interface; Host headers of other names are
  refused), on port 8888 or the next free one, or exactly --port;
- with a token: a random one (or JUPYTER_TOKEN's), passed in the environment,
  not on the command line, where `ps` would show it to every user; the server is
  asked without it once it is up, and stopped if it answers (a config file of
  yours that turned the token off);
- no cross-origin access: no origin but its own may read its answers, even
  with the token (Jupyter's default lets a request that carries it);
- no news feed, update check or extension manager fetching from the internet;

and prints the URL to open, with its token. Ctrl-C stops JupyterLab (and its
kernels); the emulator and the lab keep running, as after `hybridnet run`.

The kernels run as the user who starts it, root included. The notebooks need
no root of their own (they reach hosts through SSM, in the emulator), but they
are the emulator's client, and its credentials file and unix sockets are 0600
files of the user who started it (root after `make run` as root): a kernel of
another user finds no emulator running (it cannot ask the socket) and fails to
start its own in the same outputs/.state. Sharing them with another user would
undo what their 0600 protects (README: Security). Anyone holding the token can
run code as that user: keep it private.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import dataplane, emulator, workspace
from .errors import HybridnetError
from .params import ParamsError, load_params
from .workspace import resolve_params_path

HOST = "127.0.0.1"
DEFAULT_PORT = 8888
PORTS_TRIED = 50  # 8888 and the next ones, when no --port is given
START_TIMEOUT_S = 90.0


def notebooks_dir() -> Path:
    return workspace.project_root() / "notebooks"


def notebooks_default_params(notebook_dir: Path) -> Path:
    """The file the notebooks' parameters cell (params_file = "params/lab.yaml")
    opens from `notebook_dir`, where their kernels start (workspace.resolve_params_path)."""
    beside = notebook_dir / "params" / "lab.yaml"
    return beside if beside.exists() else workspace.project_root() / "params" / "lab.yaml"


def free_port(first: int = DEFAULT_PORT, count: int = PORTS_TRIED) -> int:
    """The first port from `first` on which 127.0.0.1 is free (0: any free one)."""
    for port in [0] if first == 0 else range(first, first + count):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise HybridnetError(f"no free port on {HOST} in {first}-{first + count - 1}: pass --port")


def server_command(port: int, notebook_dir: Path, as_root: bool) -> list[str]:
    """JupyterLab's command line: everything that matters for safety is set here,
    on the command line, so that no config file can loosen it (the token, which
    must not be on a command line, is in the environment and checked once up)."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # the URL printed is the one it listens on
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=False",  # only Host: 127.0.0.1 / localhost
        "--ServerApp.allow_origin=",  # no origin but its own may read its answers (CORS)...
        "--ServerApp.allow_origin_pat=",
        # ... not even with the token: Jupyter would echo any Origin of a request that carries
        # it; a fixed Access-Control-Allow-Origin, its own origin, turns that off
        "--ServerApp.tornado_settings="
        + json.dumps({"headers": {"Access-Control-Allow-Origin": f"http://{HOST}:{port}"}}),
        "--ServerApp.disable_check_xsrf=False",
        f"--ServerApp.root_dir={notebook_dir}",
        "--LabApp.news_url=None",  # no requests to the internet from the server
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if as_root:
        command.append("--ServerApp.allow_root=True")
    return command


def _status(port: int, token: str | None, timeout: float = 2.0) -> int:
    """HTTP status of GET /api/status on the server, with or without the token."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/api/status", headers={"Authorization": f"token {token}"} if token else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_until_serving(server: subprocess.Popen, port: int, token: str, timeout: float = START_TIMEOUT_S) -> None:
    """Until the server answers with the token; HybridnetError if it exits first,
    does not answer in time, or answers without the token."""
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise HybridnetError(f"JupyterLab exited with status {server.returncode} before serving (see above)")
        try:
            if _status(port, token) == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise HybridnetError(f"JupyterLab did not answer on {HOST}:{port} within {timeout:.0f} s")
        time.sleep(0.25)
    if _status(port, None) == 200:
        raise HybridnetError(
            "JupyterLab answered without its token (a Jupyter config file turns the token off: "
            "IdentityProvider.token / ServerApp.token set to ''); it was stopped"
        )


def start_backends(params_file: Path) -> None:
    """What `hybridnet run` does before its first notebook: connect (the emulator
    starts if needed), say which account, and, as root with the lab available,
    the lab's agent for the stack."""
    from .aws import caller_identity, connect
    from .locks import stack_lock

    params = load_params(params_file)
    ctx = connect(params)
    identity = caller_identity(ctx)
    print(f"account {identity['Account']} as {identity['Arn']} ({params.target}, {params.region})")
    if params.target != "emulator":
        return
    info = emulator.status()
    if info:
        print(f"emulator running at {info.endpoint} (pid {info.pid})")
    if ctx.data_plane != dataplane.LAB:
        print(f"no lab: {ctx.data_plane_reason}")
        return
    with stack_lock(params, "hybridnet jupyter"):  # as `lab up`: not while a run or teardown changes the stack
        agent = dataplane.twin_start(ctx, params_file)
    print(f"lab agent (pid {agent['pid']}) plays stack {params.name!r}; its log: {agent['log']}")


def serve(port: int, notebook_dir: Path, token: str) -> int:
    """Run JupyterLab until it stops; print its URL once it serves."""
    as_root = os.geteuid() == 0
    env = dict(os.environ, JUPYTER_TOKEN=token)
    server = subprocess.Popen(server_command(port, notebook_dir, as_root), env=env)  # stdin: its Ctrl-C prompt

    def stop(signum, frame):  # `kill` of this process stops JupyterLab and its kernels too
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    try:
        try:
            wait_until_serving(server, port, token)
        except HybridnetError:
            stop(None, None)
            _wait(server)
            raise
        url = f"http://{HOST}:{port}/lab?token={token}"
        print(
            f"\nJupyterLab on the runbook ({notebook_dir}), {'as root, ' if as_root else ''}"
            f"on {HOST} only; open:\n\n    {url}\n",
            flush=True,
        )
        if as_root:
            print(
                "The kernels run as root (the emulator's credentials and socket are root's, the lab's agent needs "
                "root): whoever has the token is root here. Keep it private.",
                flush=True,
            )
        print(
            "Stop: Ctrl-C (JupyterLab asks, or press it twice). The emulator and the lab keep running "
            "(hybridnet emulator stop; hybridnet lab down).",
            flush=True,
        )
        return _wait(server)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            _wait(server, timeout=30)


def _wait(server: subprocess.Popen, timeout: float | None = None) -> int:
    """Wait for JupyterLab; Ctrl-C reaches it too (the same process group): it asks,
    or stops on a second Ctrl-C, and we wait for it to finish."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return server.wait(timeout=None if deadline is None else max(0.1, deadline - time.monotonic()))
        except KeyboardInterrupt:
            continue
        except subprocess.TimeoutExpired:
            server.kill()
            return server.wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hybridnet.jupyter",
        description="JupyterLab on the runbook, against the embedded emulator (and the lab, as root), "
        f"on {HOST} only, with a token.",
    )
    parser.add_argument(
        "--params",
        default="params/lab.yaml",
        help="parameter file of the stack (default params/lab.yaml, which the notebooks open)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port on {HOST} (default: {DEFAULT_PORT} or the next free one; 0: any free one)",
    )
    parser.add_argument("--notebook-dir", type=Path, default=None, help="folder JupyterLab shows (default notebooks/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        params_file = resolve_params_path(args.params)
        notebook_dir = (args.notebook_dir or notebooks_dir()).resolve()
        start_backends(params_file)
        opened = notebooks_default_params(notebook_dir)
        if params_file.resolve() != opened.resolve():
            print(
                f'note: the notebooks\' parameters cell opens {opened}; set params_file = "{params_file}" '
                "there to use this stack"
            )
        port = free_port() if args.port is None else (free_port(0) if args.port == 0 else args.port)
        token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
        return serve(port, notebook_dir, token)
    except ParamsError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    except HybridnetError as exc:
        print(f"hybridnet: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"hybridnet: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
