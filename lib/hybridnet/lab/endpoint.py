"""The AWS API as a lab host sees it: 127.0.0.1:PORT inside the host's network
namespace, piped to the emulator's instance socket.

A real EC2 instance reaches AWS's endpoints over its network (or a VPC
endpoint); a lab namespace has its own loopback and no route out, so the lab
runs this pipe in each host namespace. It carries bytes only: the emulator's
instance socket serves the AWS API alone (authenticated, no admin routes), and
the command's credentials are the instance profile's, which the emulator puts
in the command's environment.

    ip netns exec NS python -m hybridnet.lab.endpoint --port 4510 --socket /run/.../instances.sock
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading

PORT = 4510  # the same in every host namespace: each has its own loopback
BUFFER = 65536


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(BUFFER):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def _serve_one(client: socket.socket, socket_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(socket_path)
    except OSError:
        client.close()  # the emulator is gone: the caller sees a refused/closed connection
        upstream.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(port: int, socket_path: str) -> None:
    listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"AWS API on 127.0.0.1:{port} -> {socket_path}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(client, socket_path), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hybridnet.lab.endpoint", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--socket", required=True, help="the emulator's instance socket")
    args = parser.parse_args(argv)
    serve(args.port, args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
