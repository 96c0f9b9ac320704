"""The lab Client VPN endpoint's connect step: admit or refuse each new client.

OpenVPN (``--management-client-auth``) holds every client that passed the TLS
(mutual certificate) check until this agent answers on its management socket.
For each ``>CLIENT:CONNECT`` the agent builds the request AWS Client VPN sends
a client connect handler (common name, public IP, platform, client version
from OpenVPN's environment) and asks the emulator to admit the client as the
service does (POST /_hybridnet/clientvpn-connect, over the emulator's unix
socket: this runs in the endpoint's network namespace, where 127.0.0.1 is not
the host's). The emulator runs the endpoint's client connect handler (the
Lambda function's real code), records the attempt for
DescribeClientVpnConnections, and assigns the client address. Then:

* allowed: ``client-auth`` with ``ifconfig-push <address>``, so the client's
  tunnel address is the one the API reports;
* refused: ``client-deny CID KID "<reason>" "<handler's message>"``; OpenVPN
  sends the client ``AUTH_FAILED,<handler's message>`` (a failing
  ``--client-connect`` script cannot carry a message to the client).

Disconnects and byte counts are reported back (POST
/_hybridnet/clientvpn-connection). Fails closed: when the emulator cannot be
asked, the client is refused with AWS's generic message. Exits when OpenVPN
closes the management socket.

    python -m hybridnet.lab.cvpn_agent --management SOCK --emulator-socket SOCK \\
        --region R --endpoint-id cvpn-endpoint-... --netmask 255.255.252.0 [--ready-file F]
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path

from ..emulator.unix_client import AdminCallError, admin_call_unix

GENERIC_DENY_MESSAGE = "Error establishing connection. Please contact your administrator."
BYTECOUNT_SECONDS = 5
CONNECT_TIMEOUT_S = 35.0  # the handler may take 30 s


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)


def quote(text: str) -> str:
    """A management-interface string argument (double quotes, backslash escapes, one line)."""
    text = " ".join(str(text).split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def handler_request(env: dict[str, str]) -> dict[str, str]:
    """What the emulator needs to build Client VPN's handler request, from OpenVPN's environment."""
    return {
        "common_name": env.get("common_name", ""),
        "public_ip": env.get("untrusted_ip") or env.get("trusted_ip", ""),
        "username": env.get("username", ""),
        "platform": env.get("IV_PLAT", ""),
        "platform_version": env.get("IV_PLAT_VER", ""),
        "client_openvpn_version": env.get("IV_VER", ""),
        "port": env.get("untrusted_port") or env.get("trusted_port", ""),  # for the connection log
    }


class Agent:
    def __init__(self, management: str, emulator_socket: str, region: str, endpoint_id: str, netmask: str):
        self.management, self.emulator_socket = management, emulator_socket
        self.region, self.endpoint_id, self.netmask = region, endpoint_id, netmask
        self.sock: socket.socket | None = None
        self.write_lock = threading.Lock()
        self.connections: dict[str, str] = {}  # OpenVPN client id -> Client VPN connection id
        self.last_bytes: dict[str, float] = {}

    # -- management socket
    def send(self, text: str) -> None:
        with self.write_lock:
            assert self.sock is not None
            self.sock.sendall(text.encode())

    def open(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.management)
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock = sock
        self.send(f"bytecount {BYTECOUNT_SECONDS}\n")

    def admin(self, route: str, body: dict) -> dict:
        return admin_call_unix(
            self.emulator_socket,
            "POST",
            route,
            {"region": self.region, "client_vpn_endpoint_id": self.endpoint_id, **body},
            timeout=CONNECT_TIMEOUT_S,
        )

    # -- events
    def on_connect(self, cid: str, kid: str, env: dict[str, str]) -> None:
        started = time.monotonic()
        request = handler_request(env)
        try:
            answer = self.admin("clientvpn-connect", request)
        except (AdminCallError, OSError) as exc:
            log(
                f"connect cid={cid} cn={request['common_name']} from {request['public_ip']}: "
                f"the emulator could not decide ({exc}); refused"
            )
            self.send(f"client-deny {cid} {kid} {quote('emulator unreachable')} {quote(GENERIC_DENY_MESSAGE)}\n")
            return
        seconds = time.monotonic() - started
        if answer.get("allow"):
            self.connections[cid] = answer["connection_id"]
            self.send(f"client-auth {cid} {kid}\nifconfig-push {answer['client_ip']} {self.netmask}\nEND\n")
            log(
                f"connect cid={cid} cn={request['common_name']} from {request['public_ip']}: allowed as "
                f"{answer['connection_id']} {answer['client_ip']} ({seconds:.2f} s)"
            )
        else:
            message = answer.get("message") or GENERIC_DENY_MESSAGE
            reason = f"client connect handler: {answer.get('failure_reason') or 'denied'}"
            self.send(f"client-deny {cid} {kid} {quote(reason)} {quote(message)}\n")
            log(
                f"connect cid={cid} cn={request['common_name']} from {request['public_ip']}: refused as "
                f"{answer['connection_id']}: {message} ({seconds:.2f} s)"
            )

    def on_disconnect(self, cid: str, env: dict[str, str]) -> None:
        connection_id = self.connections.pop(cid, None)
        self.last_bytes.pop(cid, None)
        if connection_id is None:  # refused, or never admitted
            return
        body: dict[str, str | int] = {"connection_id": connection_id, "status": "terminated"}
        for key, name in (("ingress_bytes", "bytes_received"), ("egress_bytes", "bytes_sent")):
            if env.get(name, "").isdigit():
                body[key] = int(env[name])
        try:
            self.admin("clientvpn-connection", body)
            log(f"disconnect cid={cid}: {connection_id} terminated")
        except (AdminCallError, OSError) as exc:
            log(f"disconnect cid={cid}: could not report {connection_id}: {exc}")

    def on_bytecount(self, cid: str, received: str, sent: str) -> None:
        connection_id = self.connections.get(cid)
        if connection_id is None:
            return
        try:
            self.admin(
                "clientvpn-connection",
                {
                    "connection_id": connection_id,
                    "status": "active",
                    "ingress_bytes": int(received),
                    "egress_bytes": int(sent),
                },
            )
        except (AdminCallError, OSError, ValueError) as exc:
            log(f"bytecount cid={cid}: {exc}")

    # -- the loop
    def run(self, ready_file: Path | None = None) -> int:
        self.open()
        if ready_file is not None:
            ready_file.write_text("ready\n")
        log(f"agent for {self.endpoint_id} on {self.management}")
        assert self.sock is not None
        reader = self.sock.makefile("r", encoding="utf-8", errors="replace", newline="\n")
        event: tuple[str, str, str] | None = None
        env: dict[str, str] = {}
        for raw in reader:
            line = raw.rstrip("\r\n")
            if line.startswith(">CLIENT:ENV,"):
                item = line[len(">CLIENT:ENV,") :]
                if item == "END" and event is not None:
                    kind, cid, kid = event
                    event = None
                    if kind == "CONNECT":
                        threading.Thread(target=self.on_connect, args=(cid, kid, env), daemon=True).start()
                    elif kind == "REAUTH":  # a TLS renegotiation of an admitted client: keep it
                        self.send(f"client-auth-nt {cid} {kid}\n")
                    elif kind == "DISCONNECT":
                        threading.Thread(target=self.on_disconnect, args=(cid, env), daemon=True).start()
                    env = {}
                else:
                    name, _, value = item.partition("=")
                    env[name] = value
            elif line.startswith(">CLIENT:"):
                kind, _, rest = line[len(">CLIENT:") :].partition(",")
                fields = rest.split(",")
                event = (kind, fields[0], fields[1] if len(fields) > 1 else "")
                env = {}
            elif line.startswith(">BYTECOUNT_CLI:"):
                fields = line[len(">BYTECOUNT_CLI:") :].split(",")
                if len(fields) == 3:
                    now = time.monotonic()
                    if now - self.last_bytes.get(fields[0], 0.0) >= BYTECOUNT_SECONDS:
                        self.last_bytes[fields[0]] = now
                        threading.Thread(target=self.on_bytecount, args=tuple(fields), daemon=True).start()
            elif line.startswith("ERROR:"):
                log(f"management: {line}")
        log("OpenVPN closed the management socket; exiting")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--management", required=True, help="OpenVPN's management unix socket")
    parser.add_argument("--emulator-socket", required=True, help="the emulator's unix socket")
    parser.add_argument("--region", required=True)
    parser.add_argument("--endpoint-id", required=True)
    parser.add_argument("--netmask", required=True, help="the client CIDR's netmask (for ifconfig-push)")
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args(argv)
    agent = Agent(args.management, args.emulator_socket, args.region, args.endpoint_id, args.netmask)
    return agent.run(args.ready_file)


if __name__ == "__main__":
    sys.exit(main())
