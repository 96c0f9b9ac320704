"""A fleet of accounts and Regions with a known truth, seeded straight into moto's backends.

For the fleet health check's tests and benchmark (lib/hybridnet/fleet/ reads several
accounts and Regions through an assumed reader role): POST /_hybridnet/fleet/seed
(responses.py) creates, in the backends of each account and Region named (moto keys
its backends by account id), what the spec says:

* per account: the reader role (trusting the emulator's default account, and only
  with the account's `external_ids` entry as sts:ExternalId where it has one; with a
  read-only inline policy; a role with no policy at all in a `deny` account);
* per account and Region with a `tgw` connection: one transit gateway (with its
  default route table), created once;
* per connection: a customer gateway (a documentation address, unique in its account
  and Region), a virtual private gateway (`vgw`) or an attachment to the transit
  gateway (`tgw`: associated with the default route table; propagating into it unless
  `propagate` is false), the VPN connection (tagged Name=<name> and the spec's tags,
  its tunnels' outside addresses from the VPN model's fleet pool, unique across the
  emulator), its tunnels' VgwTelemetry as seeded (status, message, accepted route
  count; the customer gateway's prefixes are the tunnel's accepted routes when it is
  UP with accepted_routes > 0, which the TGW shows as propagated routes), and AWS/VPN
  TunnelState one point a minute ending now;
* Route 53 Resolver endpoints and Client VPN endpoints with the status asked.

A seeded tunnel stays as seeded (Tunnel.seeded): the data plane's reports and their
lease (datafeed.py) never touch it, and it is saved with the emulator's state
together with its metric history (persistence.py). Seeding again adds the new names
and updates, in place, a connection already seeded under its name in its account and
Region (telemetry, history, tags, propagation; not its gateway).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import threading
import time
import uuid
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from ..client_vpn.models import ClientVpnEndpoint
from ..vpn.models import FLEET_OUTSIDE_ADDRESS_POOL, fleet_outside_ips_in_use
from .exceptions import FleetSpecError

# Customer gateways: documentation ranges (RFC 5737), not 203.0.113.0/24, where the
# emulator's own VPN tunnels and the lab's routers have their outside addresses.
CUSTOMER_GATEWAY_POOLS = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("198.51.100.0/24"))
FIRST_CUSTOMER_GATEWAY_ASN = 65001
READER_ACTIONS = [
    "ec2:Describe*",
    "ec2:SearchTransitGatewayRoutes",
    "ec2:GetTransitGatewayRouteTable*",
    "cloudwatch:GetMetricData",
    "logs:FilterLogEvents",
    "logs:DescribeLogGroups",
    "route53resolver:List*",
    "route53resolver:Get*",
]
READER_POLICY_NAME = "hybridnet-fleet-read-only"
TUNNEL_STATE = "TunnelState"
VPN_NAMESPACE = "AWS/VPN"
STATE_ATTRIBUTE = "hybridnet_fleet"  # on an EC2 backend: what was seeded there (saved with it)
RESOLVER_STATUSES = ("CREATING", "OPERATIONAL", "UPDATING", "AUTO_RECOVERING", "ACTION_NEEDED", "DELETING")
CLIENT_VPN_STATUSES = ("pending-associate", "available", "deleting", "deleted")

_lock = threading.Lock()  # one seed at a time


def ec2_backend(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _fleet_state(backend: Any) -> dict:
    return backend.__dict__.setdefault(STATE_ATTRIBUTE, {"transit_gateway_id": None, "connections": {}})


def _account(value: Any) -> str:
    account = str(value)
    if not (len(account) == 12 and account.isdigit()):
        raise FleetSpecError(f"account {value!r} is not a 12-digit AWS account id")
    return account


def _region(value: Any) -> str:
    from moto.ec2.models import ec2_backends

    region = str(value)
    if region not in ec2_backends[DEFAULT_ACCOUNT_ID].regions:
        raise FleetSpecError(f"region {value!r} is not an AWS Region the emulator knows")
    return region


# --------------------------------------------------------------------------- roles


def trust_policy(external_id: str | None = None) -> dict:
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def reader_policy() -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": READER_ACTIONS, "Resource": "*"}]}


def seed_role(account: str, role_name: str, denied: bool, external_id: str | None = None) -> str:
    """The reader role in `account` (created or updated): read-only, or no permission at
    all; assumed only with `external_id`, where given."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    trust = json.dumps(trust_policy(external_id))
    role = next((r for r in iam.roles.values() if r.name == role_name), None)
    if role is None:
        role = iam.create_role(
            role_name=role_name,
            assume_role_policy_document=trust,
            path="/",
            permissions_boundary=None,
            description="hybridnet fleet reader (seeded)",
            tags=[],
            max_session_duration=None,
        )
    else:
        role.assume_role_policy_document = trust
    for name in list(role.policies):
        iam.delete_role_policy(role_name, name)
    for policy in list(role.managed_policies.values()):
        iam.detach_role_policy(policy.arn, role_name)
    if not denied:
        iam.put_role_policy(role_name, READER_POLICY_NAME, json.dumps(reader_policy()))
    return role.arn


# --------------------------------------------------------------------------- connections


def _customer_gateway_ips(backend: Any) -> Any:
    """The free documentation addresses of this account and Region, in order."""
    used = {g.ip_address for g in backend.customer_gateways.values() if getattr(g, "state", "") != "deleted"}
    for pool in CUSTOMER_GATEWAY_POOLS:
        for ip in pool.hosts():
            if str(ip) not in used:
                yield str(ip)


def _transit_gateway(backend: Any, state: dict) -> Any:
    tgw = backend.transit_gateways.get(state["transit_gateway_id"]) if state["transit_gateway_id"] else None
    if tgw is None:
        tgw = backend.create_transit_gateway(
            description="hybridnet fleet (seeded)", options=None, tags=[{"Key": "Name", "Value": "fleet-tgw"}]
        )
        state["transit_gateway_id"] = tgw.id
    return tgw


def _validate_connection(spec: dict) -> tuple[str, str, str]:
    for key in ("account", "region", "name"):
        if not spec.get(key):
            raise FleetSpecError(f"a connection needs {key!r}: {spec!r}")
    gateway = spec.get("gateway", "tgw")
    if gateway not in ("tgw", "vgw"):
        raise FleetSpecError(f"connection {spec['name']}: gateway must be tgw or vgw, not {gateway!r}")
    tunnels = spec.get("tunnels") or []
    if not 1 <= len(tunnels) <= 2:
        raise FleetSpecError(f"connection {spec['name']}: 1 or 2 tunnels, not {len(tunnels)}")
    for tunnel in tunnels:
        if tunnel.get("status", "DOWN") not in ("UP", "DOWN"):
            raise FleetSpecError(
                f"connection {spec['name']}: tunnel status must be UP or DOWN, not {tunnel.get('status')!r}"
            )
        if any(v not in (0, 1) for v in tunnel.get("history") or []):
            raise FleetSpecError(f"connection {spec['name']}: a TunnelState history holds 0 and 1 only")
    for prefix in spec.get("onprem_prefixes") or []:
        ipaddress.ip_network(prefix)  # ValueError: the admin API's 400
    return _account(spec["account"]), _region(spec["region"]), gateway


def _tags(spec: dict) -> dict[str, str]:
    return {**{str(k): str(v) for k, v in (spec.get("tags") or {}).items()}, "Name": str(spec["name"])}


def _apply_telemetry(connection: Any, spec: dict, stamps: list[dt.datetime], now: dt.datetime) -> None:
    prefixes = tuple(spec.get("onprem_prefixes") or ())
    seeded = list(spec.get("tunnels") or [])
    seeded += [{"status": "DOWN", "accepted_routes": 0, "message": "", "history": []}] * (2 - len(seeded))
    for tunnel, wanted in zip(connection.tunnel_list, seeded):
        status = wanted.get("status", "DOWN")
        accepted = int(wanted.get("accepted_routes", 0))
        history = list(wanted.get("history") or [])
        tunnel.seeded = True
        tunnel.status, tunnel.status_message = status, str(wanted.get("message", ""))
        tunnel.accepted_route_count = accepted
        tunnel.received_routes = prefixes if status == "UP" and accepted > 0 else ()
        tunnel.last_status_change = _last_change(history, stamps[-len(history) :] if history else [], now)


def _last_change(history: list[int], stamps: list[dt.datetime], now: dt.datetime) -> dt.datetime:
    """When the tunnel last changed state: the history's last transition (its start when none)."""
    if not history:
        return now.replace(tzinfo=dt.UTC)
    index = max((i for i in range(1, len(history)) if history[i] != history[i - 1]), default=0)
    return stamps[index].replace(tzinfo=dt.UTC)


def _history(connection: Any, spec: dict, stamps: list[dt.datetime]) -> list[Any]:
    """The connection's TunnelState points (moto's MetricDatum), marked as seeded."""
    from moto.cloudwatch.models import MetricDatum

    from ..datafeed import tunnel_dimensions

    points = []
    for tunnel, wanted in zip(connection.tunnel_list, spec.get("tunnels") or []):
        history = list(wanted.get("history") or [])
        dimensions = tunnel_dimensions(connection.id, tunnel.outside_ip)
        for value, stamp in zip(history, stamps[len(stamps) - len(history) :]):
            point = MetricDatum(VPN_NAMESPACE, TUNNEL_STATE, float(value), dimensions, stamp, "None")
            # a mark of ours on moto's MetricDatum, which has no such attribute (read with getattr)
            point.hybridnet_seeded = True  # type: ignore[attr-defined]  # kept by persistence.py
            points.append(point)
    return points


def _set_propagation(backend: Any, connection: Any, tgw: Any, propagate: bool) -> None:
    attachment = next(
        (
            a
            for a in backend.transit_gateway_attachments.values()
            if a.resource_id == connection.id and a.state != "deleted"
        ),
        None,
    )
    if attachment is None:
        return
    table_id = tgw.options["PropagationDefaultRouteTableId"]
    table = backend.transit_gateways_route_tables[table_id]
    enabled = any(
        p.transitGatewayAttachmentId == attachment.id and p.state == "enabled" for p in table.route_table_propagation
    )
    if propagate and not enabled:
        table.route_table_propagation = [
            p for p in table.route_table_propagation if p.transitGatewayAttachmentId != attachment.id
        ]
        backend.enable_transit_gateway_route_table_propagation(attachment.id, table_id)
    elif not propagate and enabled:
        backend.disable_transit_gateway_route_table_propagation(attachment.id, table_id)


def seed_connections(specs: list[dict], now: dt.datetime) -> list[dict]:
    """Create (or update, by name) the connections of `specs`; their description, in order."""
    from moto.cloudwatch.models import cloudwatch_backends

    checked = [(_validate_connection(spec), spec) for spec in specs]
    longest = max((len(t.get("history") or []) for spec in specs for t in spec.get("tunnels") or []), default=0)
    stamps = [now - dt.timedelta(minutes=longest - 1 - i) for i in range(longest)]
    names = [(account, region, str(spec["name"])) for (account, region, _), spec in checked]
    if len(set(names)) != len(names):
        raise FleetSpecError("a name appears twice for one account and Region in this seed")
    # Outside addresses for the new connections, in one pass over the pool.
    new = sum(
        1
        for (account, region, _), spec in checked
        if str(spec["name"]) not in _fleet_state(ec2_backend(account, region))["connections"]
    )
    free = (
        iter(
            ec2_backend(*checked[0][0][:2])._allocate_outside_ips(
                2 * new, pool=FLEET_OUTSIDE_ADDRESS_POOL, used=fleet_outside_ips_in_use()
            )
        )
        if new
        else iter(())
    )
    cgw_ips: dict[tuple[str, str], Any] = {}
    history: dict[tuple[str, str], list[Any]] = {}
    replaced: dict[tuple[str, str], set[str]] = {}
    answers = []
    for (account, region, gateway), spec in checked:
        backend = ec2_backend(account, region)
        state = _fleet_state(backend)
        name = str(spec["name"])
        connection = backend.vpn_connections.get(state["connections"].get(name, ""))
        tgw = None
        if connection is None or connection.state == "deleted":
            if (account, region) not in cgw_ips:
                cgw_ips[(account, region)] = _customer_gateway_ips(backend)
            try:
                ip = next(cgw_ips[(account, region)])
            except StopIteration:
                raise FleetSpecError(
                    f"{account} {region}: no free customer gateway address left in "
                    f"{', '.join(map(str, CUSTOMER_GATEWAY_POOLS))}"
                ) from None
            asn = FIRST_CUSTOMER_GATEWAY_ASN + len(state["connections"])
            cgw = backend.create_customer_gateway("ipsec.1", ip, str(asn), tags={"Name": name})
            vgw_id = tgw_id = None
            if gateway == "tgw":
                tgw = _transit_gateway(backend, state)
                tgw_id = tgw.id
            else:
                vgw_id = backend.create_vpn_gateway("ipsec.1", tags={"Name": name}).id
            connection = backend.create_vpn_connection(
                "ipsec.1",
                cgw.id,
                vpn_gateway_id=vgw_id,
                transit_gateway_id=tgw_id,
                tags=_tags(spec),
                options={},
                outside_ips=[next(free), next(free)],
            )
            connection.created_at -= 3600.0  # seeded as long available, not pending
            if tgw_id:
                backend.create_transit_gateway_vpn_attachment(vpn_id=connection.id, transit_gateway_id=tgw_id)
            state["connections"][name] = connection.id
        else:
            replaced.setdefault((account, region), set()).add(connection.id)
            backend.tags.pop(connection.id, None)
            backend.create_tags([connection.id], _tags(spec))
            if connection.transit_gateway_id:
                tgw = backend.transit_gateways[connection.transit_gateway_id]
        if tgw is not None:
            _set_propagation(backend, connection, tgw, bool(spec.get("propagate", True)))
        _apply_telemetry(connection, spec, stamps, now)
        history.setdefault((account, region), []).extend(_history(connection, spec, stamps))
        answers.append(
            {
                "account": account,
                "region": region,
                "name": name,
                "vpn_connection_id": connection.id,
                "gateway_id": connection.transit_gateway_id or connection.vpn_gateway_id,
                "customer_gateway_ip": connection.customer_gateway.ip_address,
                "outside_ips": [t.outside_ip for t in connection.tunnel_list],
            }
        )
    for key, points in history.items():
        watch = cloudwatch_backends[key[0]][key[1]]
        gone = replaced.get(key)
        if gone:  # a connection seeded again: its history is the new one
            watch.metric_data = [
                d
                for d in watch.metric_data
                if not (getattr(d, "hybridnet_seeded", False) and d.dimensions and d.dimensions[0].value in gone)
            ]
        watch.metric_data.extend(points)
    return answers


# --------------------------------------------------------------------------- Resolver and Client VPN


def _default_network(backend: Any) -> tuple[list[str], str]:
    vpc = backend.get_default_vpc() or backend.create_default_vpc()
    subnets = sorted(backend.describe_subnets(filters={"vpc-id": [vpc.id]}), key=lambda s: s.availability_zone)
    group = backend.get_default_security_group(vpc.id)
    return [s.id for s in subnets[:2]], group.id


def seed_resolver_endpoint(spec: dict) -> dict:
    from moto.route53resolver.models import route53resolver_backends

    account, region = _account(spec.get("account")), _region(spec.get("region"))
    direction = spec.get("direction", "INBOUND")
    status = spec.get("status", "OPERATIONAL")
    if direction not in ("INBOUND", "OUTBOUND") or status not in RESOLVER_STATUSES:
        raise FleetSpecError(
            f"resolver endpoint {spec!r}: direction INBOUND|OUTBOUND, status one of {', '.join(RESOLVER_STATUSES)}"
        )
    name = str(spec.get("name") or f"fleet-{direction.lower()}")
    resolver = route53resolver_backends[account][region]
    endpoint = next((e for e in resolver.resolver_endpoints.values() if e.name == name), None)
    if endpoint is None:
        subnets, group = _default_network(ec2_backend(account, region))
        endpoint = resolver.create_resolver_endpoint(
            region=region,
            creator_request_id=f"hybridnet-fleet-{uuid.uuid4()}",
            name=name,
            security_group_ids=[group],
            direction=direction,
            ip_addresses=[{"SubnetId": s} for s in subnets],
            tags=[{"Key": "Name", "Value": name}],
        )
    endpoint.status = status
    endpoint.status_message = {
        "OPERATIONAL": "This Resolver Endpoint is operational.",
        "ACTION_NEEDED": "This Resolver Endpoint needs your attention.",
        "AUTO_RECOVERING": "This Resolver Endpoint is recovering.",
    }.get(status, status)
    return {"account": account, "region": region, "name": name, "id": endpoint.id, "status": status}


class SeededClientVpnEndpoint(ClientVpnEndpoint):
    """A Client VPN endpoint whose status is the one seeded (no target network behind it)."""

    seeded_status = "available"

    @property
    def status(self) -> str:
        return "deleting" if self.deleted_at is not None else self.seeded_status


def seed_client_vpn_endpoint(spec: dict) -> dict:
    account, region = _account(spec.get("account")), _region(spec.get("region"))
    status = spec.get("status", "available")
    if status not in CLIENT_VPN_STATUSES:
        raise FleetSpecError(f"Client VPN endpoint {spec!r}: status one of {', '.join(CLIENT_VPN_STATUSES)}")
    name = str(spec.get("name") or "fleet-client-vpn")
    backend = ec2_backend(account, region)
    endpoints = backend._client_vpn_endpoints()
    endpoint = next(
        (
            e
            for e in endpoints.values()
            if isinstance(e, SeededClientVpnEndpoint) and backend.tags.get(e.id, {}).get("Name") == name
        ),
        None,
    )
    if endpoint is None:
        endpoint = SeededClientVpnEndpoint(
            backend,
            client_cidr_block="10.250.0.0/22",
            server_certificate_arn=f"arn:aws:acm:{region}:{account}:certificate/{uuid.uuid4()}",
            authentication_options=[],
            description=f"{name} (seeded)",
            dns_servers=[],
            split_tunnel=True,
            transport_protocol="udp",
            vpn_port=443,
            session_timeout_hours=24,
            disconnect_on_session_timeout=True,
            self_service_portal="disabled",
            client_route_enforced=False,
        )
        endpoints[endpoint.id] = endpoint
        backend.create_tags([endpoint.id], {"Name": name})
    endpoint.seeded_status = status
    return {"account": account, "region": region, "name": name, "id": endpoint.id, "status": status}


# --------------------------------------------------------------------------- the seed


def seed(spec: dict) -> dict:
    """POST /_hybridnet/fleet/seed (see the module's docstring and responses.py)."""
    from moto.core.utils import utcnow

    started = time.perf_counter()
    connections = list(spec.get("connections") or [])
    denied = {_account(a) for a in spec.get("deny") or []}
    role_name = str(spec.get("reader_role") or "hybridnet-fleet-reader")
    external_ids = {_account(a): str(i) for a, i in (spec.get("external_ids") or {}).items()}
    now = utcnow().replace(microsecond=0)  # moto's convention: naive UTC
    with _lock:
        endpoints = [*(spec.get("resolver_endpoints") or []), *(spec.get("client_vpn_endpoints") or [])]
        accounts = (
            {_account(c.get("account")) for c in connections} | denied | {_account(e.get("account")) for e in endpoints}
        )
        roles = {
            account: seed_role(account, role_name, account in denied, external_ids.get(account))
            for account in sorted(accounts)
        }
        seeded = seed_connections(connections, now) if connections else []
        resolvers = [seed_resolver_endpoint(e) for e in spec.get("resolver_endpoints") or []]
        client_vpns = [seed_client_vpn_endpoint(e) for e in spec.get("client_vpn_endpoints") or []]
    return {
        "connections": seeded,
        "roles": roles,
        "resolver_endpoints": resolvers,
        "client_vpn_endpoints": client_vpns,
        "now": now.isoformat() + "Z",
        "seconds": round(time.perf_counter() - started, 3),
    }
