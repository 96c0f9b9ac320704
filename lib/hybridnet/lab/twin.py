"""The lab's agent: AWS's side of the account's resources, played by real
daemons as the account changes, and the service manager of the lab's hosts.

On AWS, creating a VPN connection brings up two tunnel endpoints on AWS's side;
nothing on the customer's side changes until the customer configures the
router. The agent does the same offline: every second it reads the stack's
resources from the emulator, through the AWS API as the notebooks do, and when
they change it rebuilds what AWS would run for them:

* a VPN connection of the stack: the lab's network (namespaces, links) and the
  AWS side of both tunnels (charon + FRR in hn-aws), the hosts registered with
  the emulator's SSM (hn-cgw is the router, hn-idc the IDC's servers, hn-vpc
  web1) and the AWS side's telemetry. The customer gateway stays unconfigured
  until its setup script runs there through SSM (phase 2 with router.apply);
* the stack's Resolver endpoints: the lab's DNS servers (hybridnet.dataplane.dns_up);
* the stack's Client VPN endpoint with an associated target network: OpenVPN
  playing it (hybridnet.lab.client_vpn), configured from the API and the server
  certificate's key the emulator holds as AWS does (hybridnet.lab.fromaws);
  replaced only when what it plays changed, since users may be connected.

What it plays of the Client VPN endpoint is in STATUS_FILE (dataplane.twin_status).
It also answers the hosts' `systemctl` (hybridnet.lab.hostinit) on a 0600
socket in each host's folder, so a script run through SSM starts that host's
daemons. One process, one thread: requests and reconciling never overlap.

    python -m hybridnet.lab.twin --params params/lab.yaml     (started by `hybridnet lab up`)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ..aws import RETRY_CONFIG, AwsContext
from . import hostinit, identity
from .daemons import reap_exited
from .hosts import HOST_NAMESPACES, REMOTE_NAMESPACES, init_socket

INTERVAL_S = 1.0
DNS_READ_S = 5.0
CLIENT_VPN_READ_S = 5.0  # also how often a Client VPN endpoint that failed to come up is tried again
PID_FILE = identity.LAB_DIR.with_name(identity.LAB_DIR.name + ".twin.json")
# Written by the agent (PID_FILE is its starter's): {"client_vpn": {endpoint_id, played, public_ip, checked, error}}.
STATUS_FILE = identity.LAB_DIR.with_name(identity.LAB_DIR.name + ".twin-status.json")
# The agent's AWS clients: the emulator on this machine, asked again every tick. A dead
# one (killed, restarting) refuses at once; what held a tick for seconds was botocore's
# retries (8 attempts, backing off up to 20 s each), so: one retry (a pooled connection
# the old emulator closed), and a connect that gives up in 2 s (a loopback SYN is
# retransmitted after 1 s). Each tick asks emulator.status() first anyway.
AGENT_CLIENT_CONFIG = RETRY_CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2))


@dataclasses.dataclass
class AgentContext(AwsContext):
    """The agent's AwsContext: its clients use AGENT_CLIENT_CONFIG."""

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=AGENT_CLIENT_CONFIG
            )
        return self._clients[service]


def agent_context(params) -> AgentContext:
    """aws.connect(params) (the emulator started if needed, the seed ensured), with the
    agent's clients."""
    from ..aws import connect

    ctx = connect(params)
    return AgentContext(
        **{f.name: getattr(ctx, f.name) for f in dataclasses.fields(AwsContext) if f.name != "_clients"}
    )


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class Twin:
    def __init__(self, ctx, log_dir: Path):
        self.ctx = ctx
        self.log_dir = log_dir
        self.lab_dir = identity.LAB_DIR
        self.selector = selectors.DefaultSelector()
        self.listeners: dict[str, socket.socket] = {}
        self.s2s: str | None = None  # digest of what the site-to-site part plays
        self.dns: str | None = None
        self.hosts_ready = False
        self.described: str | None = None  # the VPN connection as last described
        self.spec_digest: str | None = None
        self.dns_read_at = 0.0
        self.endpoints: str | None = None  # the VPC's Resolver endpoints as last listed
        self.cvpn: str | None = None  # digest of the Client VPN endpoint the lab plays (its spec)
        self.cvpn_described: str | None = None  # the endpoint as last described (ACM aside)
        self.cvpn_read_at = 0.0
        self.cvpn_error: str | None = None  # why the stack's endpoint is not played, as last logged
        self.report_error: str | None = None  # why the emulator did not take the last report, as logged
        self.emulator_started: str | None = None  # the emulator's start time when the hosts were registered
        self.emulator_gone = False  # the last tick found no emulator answering (logged once)
        self.stopping = False

    # -- the account -> the lab
    def _vpn(self) -> dict | None:
        from ..phases import PhaseError
        from ..phases.tgw_attachment import find_vpn_connection

        try:
            vpn = find_vpn_connection(self.ctx)
        except PhaseError:
            return None
        return vpn if vpn["State"] == "available" else None

    def reconcile(self) -> None:
        from .. import dataplane
        from . import daemons, lifecycle

        info = self._emulator()  # first: no AWS call while the emulator is down
        if info is None:
            return
        vpn = self._vpn()
        if vpn is None:
            if self.s2s is not None or (self.lab_dir / daemons.STATE_FILE_NAME).exists():
                self._close_listeners()
                lifecycle.down(self.lab_dir)
                log("no VPN connection of the stack: the lab's network is down")
            self.s2s = self.dns = self.endpoints = None
            self.hosts_ready = False
            self._forget_client_vpn(time.time())
            return
        # The connection as described (its telemetry aside) changes whenever what the
        # lab plays could: only then are the gateways and VPCs read too (a few calls).
        described = _digest({k: v for k, v in vpn.items() if k != "VgwTelemetry"})
        if described != self.described or self.s2s is None:
            spec = dataplane.lab_spec(self.ctx, vpn)
            self.spec_digest = _digest([spec.model_dump(mode="json"), [t.psk.get_secret_value() for t in spec.tunnels]])
            self.described = described
        digest = self.spec_digest
        if self.s2s is None:  # a restarted agent: keep a lab that plays the same (hosts registered again)
            self.s2s = self._recorded("s2s")
        if digest != self.s2s and self.s2s is not None:
            started = time.monotonic()
            if lifecycle.aws_side_replay(dataplane.lab_spec(self.ctx, vpn), self.lab_dir):
                self._record("s2s", digest)
                self.s2s = digest
                log(
                    f"{vpn['VpnConnectionId']}: AWS side of both tunnels again with the connection's new values "
                    f"in {time.monotonic() - started:.1f} s; the network and the customer gateway keep running"
                )
        if digest != self.s2s:
            self._close_listeners()
            started = time.monotonic()
            lifecycle.aws_side_up(dataplane.lab_spec(self.ctx, vpn), self.lab_dir, self.log_dir)
            self._record("s2s", digest)
            self.s2s, self.dns, self.hosts_ready, self.endpoints = digest, None, False, None
            self._forget_client_vpn(time.time())  # the new network has none
            log(
                f"{vpn['VpnConnectionId']}: AWS side of both tunnels up in {time.monotonic() - started:.1f} s; "
                "the customer gateway waits for its setup (phase 2)"
            )
        if not self.hosts_ready:  # retried every tick until it works: the log says why not
            dataplane.record_owner(self.ctx)
            dataplane.register_hosts(self.ctx, info)
            dataplane.start_host_endpoints(info)
            dataplane.start_telemetry(self.ctx, info)
            self._close_listeners()
            self._open_listeners()
            self._record("hosts", "registered")
            self.hosts_ready, self.emulator_started = True, info.started_at
            log("the seed's instances are online for SSM; telemetry reports to the emulator")
        self._reconcile_client_vpn()  # first: it never raises, so DNS trouble cannot hold it up
        from . import vpnlogs

        vpnlogs.publish(self.ctx, vpn, self.lab_dir)  # AWS's tunnel and BGP logs (never raises either)
        from . import resolverlogs

        resolverlogs.ship(self.ctx, self.lab_dir, log)  # Route 53 Resolver query logs (never raises)
        self._reconcile_dns()

    def _emulator(self):
        """First in every tick, before any AWS call: the emulator, if it answers
        (emulator.status(): its state file and its unix socket, on this machine). None
        skips the tick, so that no call waits on a dead emulator; the first tick that
        finds it again (restarted) registers the hosts again before anything else."""
        from .. import emulator

        info = emulator.status()
        if info is None:
            if not self.emulator_gone:
                log("the emulator does not answer (stopped, or restarting): no AWS call until it does")
            self.emulator_gone = True
            return None
        if self.emulator_gone:
            log(f"the emulator answers again (started {info.started_at})")
            self.emulator_gone = False
        self._follow_emulator_restart(info)
        return info

    def _follow_emulator_restart(self, info) -> None:
        """An emulator restarted (its state restored from its file) knows the account but
        not which namespaces play the instances: register them again. If it could not
        take its old port, the agent's clients follow it to the new one (before any
        other call: on the old port nothing answers any more)."""
        from .. import dataplane

        if info.endpoint != self.ctx.endpoint_url:
            self.ctx = agent_context(self.ctx.params)
            if self.hosts_ready:  # else the registration below this tick records it
                dataplane.record_owner(self.ctx)
        if not self.hosts_ready or info.started_at == self.emulator_started:
            return
        dataplane.register_hosts(self.ctx, info)
        self.emulator_started = info.started_at
        log(f"the emulator restarted ({info.started_at}): the seed's instances registered again")

    def _reconcile_dns(self) -> None:
        from .. import dataplane

        if not self.ctx.params.dns:
            return
        # Every tick: the VPC's Resolver endpoints (one call). Everything the servers
        # play (rules, zones and records, the security group): when they change, and
        # every DNS_READ_S seconds.
        endpoints = _digest(self._endpoints())
        if endpoints == self.endpoints and time.monotonic() - self.dns_read_at < DNS_READ_S:
            return
        self.endpoints, self.dns_read_at = endpoints, time.monotonic()
        try:
            spec = dataplane.dns_spec(self.ctx)
        except RuntimeError:
            spec = None
        if spec is None or not spec["inbound_ips"]:
            if self.dns is not None:
                from .daemons import LabRuntime

                LabRuntime.load(self.lab_dir).stop(
                    [dataplane.DNS_DAEMONS["resolver"][0]]
                    if self.ctx.params.onprem_dns.apply
                    else [name for name, _ in dataplane.DNS_DAEMONS.values()]
                )
                log("no OPERATIONAL inbound Resolver endpoint of the stack: the lab's DNS servers stopped")
            self.dns = None
            return
        digest = _digest(spec)
        if digest == self.dns:
            return
        # With onprem_dns.apply the on-prem server is the DNS host's own: its files come through SSM.
        roles = ("resolver",) if self.ctx.params.onprem_dns.apply else tuple(dataplane.DNS_DAEMONS)
        table, timings = dataplane.dns_up(self.ctx, self.log_dir / "dns", self.log_dir, roles=roles)
        self.dns = digest
        log(
            f"DNS servers up in {timings['named_s']:.1f} s: "
            + "; ".join(
                f"{r['server']} {'running' if r['running'] else 'NOT running'}" for r in table.to_dict("records")
            )
        )

    def _reconcile_client_vpn(self) -> None:
        """Every tick: the stack's endpoint, its target networks, routes and rules (four
        calls). Its certificates in ACM and the server's key too when that answer
        changes, and every CLIENT_VPN_READ_S seconds; OpenVPN is replaced only when
        what it plays changed (or it died). Errors go to the log and the status,
        never further."""
        checked = time.time()  # callers wait for a read that started after their change
        try:
            self._play_client_vpn(checked)
        except Exception as exc:  # the lab's own trouble (e.g. a namespace that would not go)
            self._client_vpn_failed(None, f"{type(exc).__name__}: {exc}", checked, traceback.format_exc())

    def _play_client_vpn(self, checked: float) -> None:
        from ..phases import PhaseError
        from ..phases.client_vpn import find_endpoint
        from . import client_vpn, fromaws

        try:
            endpoint = find_endpoint(self.ctx)
            described = fromaws.client_vpn_described(self.ctx, endpoint) if endpoint else None
        except (PhaseError, ClientError, BotoCoreError, OSError) as exc:
            self._client_vpn_failed(None, f"reading the stack's Client VPN endpoint: {exc}", checked)
            return
        # deleted, or nothing associated: AWS plays nothing (no endpoint: nothing described)
        if not endpoint or described is None or not described["networks"]:
            if self.cvpn is not None or client_vpn.running(self.lab_dir):
                self._client_vpn_down()
                log("no Client VPN endpoint of the stack with an associated target network: OpenVPN stopped")
            self._forget_client_vpn(checked, endpoint["ClientVpnEndpointId"] if endpoint else None)
            return
        endpoint_id = endpoint["ClientVpnEndpointId"]
        if self.cvpn is None and client_vpn.running(self.lab_dir):  # a restarted agent: keep what plays the same
            self.cvpn = self._recorded("client_vpn")
        digest = _digest(described)
        if digest == self.cvpn_described and time.monotonic() - self.cvpn_read_at < CLIENT_VPN_READ_S:
            self._client_vpn_status(endpoint_id, checked)  # as played (or as failed) at the last read
            return
        self.cvpn_described, self.cvpn_read_at = digest, time.monotonic()
        started = time.monotonic()
        try:
            from .. import dataplane, emulator

            info = emulator.status()
            if info is None or not info.socket:
                raise client_vpn.ClientVpnLabError("the emulator is not running, or serves no unix socket")
            spec = fromaws.client_vpn_spec_from_aws(self.ctx, endpoint_id, info.socket, described)
            wanted = _digest([spec.model_dump(mode="json"), spec.server_key_pem.get_secret_value()])
            if wanted == self.cvpn and client_vpn.running(self.lab_dir):
                self.cvpn_error = None
                self._client_vpn_status(endpoint_id, checked)
                return
            if wanted == self.cvpn:
                log(f"{endpoint_id}: the Client VPN endpoint's daemons stopped: playing it again")
            state = client_vpn.up(self.lab_dir, spec)
            # the remote users' namespaces are new: their hosts' AWS API (SSM's GetParameter)
            dataplane.start_host_endpoints(info, REMOTE_NAMESPACES)
        except client_vpn.ClientVpnLabError as exc:  # the account describes what the lab cannot play (any more)
            if self.cvpn is not None or client_vpn.running(self.lab_dir):
                self._client_vpn_down()
            self._client_vpn_failed(endpoint_id, str(exc), checked)
            return
        except Exception as exc:  # e.g. the emulator did not answer: an endpoint that plays keeps playing
            if not client_vpn.running(self.lab_dir):  # client_vpn.up failed, and took it down
                self.cvpn = None
            self._client_vpn_failed(endpoint_id, f"{type(exc).__name__}: {exc}", checked, traceback.format_exc())
            return
        self.cvpn, self.cvpn_error = wanted, None
        self._record("client_vpn", wanted)
        self._client_vpn_status(endpoint_id, checked)
        log(
            f"{endpoint_id}: Client VPN endpoint played by OpenVPN on {state.public_ip} (its address in the VPC "
            f"{state.eni_ip}; routes {', '.join(map(str, spec.routes))}) in {time.monotonic() - started:.1f} s"
        )

    def _client_vpn_down(self) -> None:
        from . import client_vpn

        client_vpn.down(self.lab_dir)
        self._record("client_vpn", None)
        self.cvpn = None

    def _forget_client_vpn(self, checked: float, endpoint_id: str | None = None) -> None:
        """Nothing of the stack's Client VPN to play (or the network under it was rebuilt)."""
        self.cvpn = self.cvpn_described = self.cvpn_error = None
        self._client_vpn_status(endpoint_id, checked)

    def _client_vpn_failed(self, endpoint_id: str | None, error: str, checked: float, details: str = "") -> None:
        if error != self.cvpn_error:  # once per distinct error: it is tried again every few seconds
            log(f"{endpoint_id or 'Client VPN'}: not played: {error}" + (f"\n{details}" if details else ""))
        self.cvpn_error = error
        self._client_vpn_status(endpoint_id, checked)

    def _client_vpn_status(self, endpoint_id: str | None, checked: float) -> None:
        """STATUS_FILE's client_vpn: the stack's endpoint (None: none), whether the lab's
        OpenVPN plays it, `checked` = when the read that found this started (time.time()),
        and `error`: why it is not played, or not as the account now describes it."""
        from .client_vpn import ENDPOINT_PUBLIC_IP

        playing = self._played()
        played = endpoint_id is not None and playing.get("endpoint_id") == endpoint_id
        write_status(
            {
                "client_vpn": {
                    "endpoint_id": endpoint_id,
                    "played": played,
                    "public_ip": ENDPOINT_PUBLIC_IP if played else None,
                    "checked": checked,
                    "error": self.cvpn_error,
                }
            }
        )
        if endpoint_id is not None and self.cvpn_error is None:
            self._report_played(endpoint_id, playing if played else {})

    def _report_played(self, endpoint_id: str, playing: dict) -> None:
        """Tell the emulator which routes and rules the lab applies (none yet, before
        the first play): until then they stay creating / authorizing in the API, so a
        runbook that waited for "active" meets an endpoint that serves them. Every
        tick: a lab that stops reporting is gone, and the API settles by time again."""
        from .. import emulator

        info = emulator.status()
        if info is None:
            return
        try:
            emulator.admin_call(
                info,
                "POST",
                "clientvpn-played",
                {
                    "client_vpn_endpoint_id": endpoint_id,
                    "routes": playing.get("routes", []),
                    "rules": playing.get("authorized", []),
                },
            )
        except Exception as exc:  # the emulator restarting: the next tick reports again
            if str(exc) != self.report_error:
                log(f"{endpoint_id}: could not tell the emulator what the lab plays: {exc}")
            self.report_error = str(exc)
        else:
            self.report_error = None

    def _played(self) -> dict:
        """What the lab's OpenVPN plays (client_vpn.up records it), if it runs: endpoint_id,
        routes, authorized, ...; {} when nothing plays."""
        from .client_vpn import running
        from .daemons import LabRuntime

        if not running(self.lab_dir):
            return {}
        try:
            return LabRuntime.load(self.lab_dir).state.get("client_vpn", {})
        except FileNotFoundError:
            return {}

    def _endpoints(self) -> list:
        from ..aws import paginate

        return [
            (e["Id"], e["Status"])
            for e in paginate(self.ctx.client("route53resolver"), "list_resolver_endpoints", "ResolverEndpoints")
        ]

    def _recorded(self, key: str) -> str | None:
        from .daemons import LabRuntime

        try:
            return LabRuntime.load(self.lab_dir).state.get("twin", {}).get(key)
        except FileNotFoundError:
            return None

    def _record(self, key: str, digest: str | None) -> None:
        from .daemons import LabRuntime

        runtime = LabRuntime.load(self.lab_dir)
        runtime.state.setdefault("twin", {})[key] = digest
        runtime.save()

    # -- the hosts' systemctl
    def _open_listeners(self) -> None:
        for ns in HOST_NAMESPACES:
            path = init_socket(self.lab_dir, ns)
            if not path.parent.is_dir():
                continue  # the host is not registered (e.g. no such role in the params)
            path.unlink(missing_ok=True)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                listener.bind(str(path))  # 0600 from the start: only root on this machine
            finally:
                os.umask(old)
            listener.listen(8)
            self.listeners[ns] = listener
            self.selector.register(listener, selectors.EVENT_READ, ns)

    def _close_listeners(self) -> None:
        for listener in self.listeners.values():
            self.selector.unregister(listener)
            listener.close()
        self.listeners.clear()

    def _serve(self, listener: socket.socket, ns: str) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5.0)
            data = b""
            try:
                while chunk := conn.recv(65536):
                    data += chunk
                    if len(data) > hostinit.MAX_REQUEST:
                        raise ValueError("request too large")
                argv = [str(a) for a in json.loads(data)["argv"]]
                code, output = hostinit.handle(self.lab_dir, ns, argv)
                log(f"{ns}: systemctl {' '.join(argv)} -> {code}")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                code, output = 1, f"systemctl (lab host): {exc}"
            try:
                conn.sendall(json.dumps({"rc": code, "output": output}).encode())
            except OSError:
                pass

    # -- the loop
    def run(self) -> None:
        next_tick = 0.0
        while not self.stopping:
            for key, _ in self.selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                assert isinstance(key.fileobj, socket.socket)  # only the hosts' listening sockets are registered
                self._serve(key.fileobj, key.data)
            if time.monotonic() >= next_tick:
                reap_exited()  # the hosts' daemons it started that someone killed (a crash drill)
                try:
                    self.reconcile()
                except (BotoConnectionError, HTTPClientError) as exc:  # the emulator went during the tick
                    log(f"reconcile failed: {type(exc).__name__}: {exc} (the next tick asks the emulator first)")
                except Exception:  # keep playing: the next tick tries again, the log says why
                    log("reconcile failed:\n" + traceback.format_exc())
                next_tick = time.monotonic() + INTERVAL_S
        self._close_listeners()


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def write_status(status: dict) -> None:
    """STATUS_FILE, replaced whole (a reader never sees half of it), 0600 from the start."""
    tmp = STATUS_FILE.with_name(STATUS_FILE.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(status, handle)
    tmp.replace(STATUS_FILE)


def read_status() -> dict:
    """What the agent last wrote to STATUS_FILE ({} when nothing)."""
    try:
        return json.loads(STATUS_FILE.read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    from ..params import load_params

    parser = argparse.ArgumentParser(prog="python -m hybridnet.lab.twin", description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True)
    parser.add_argument("--log-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    ctx = agent_context(load_params(args.params))
    twin = Twin(ctx, args.log_dir)

    def stop(*_):
        twin.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"playing stack {ctx.params.name!r} of {ctx.endpoint_url}")
    try:
        twin.run()
    finally:
        STATUS_FILE.unlink(missing_ok=True)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
