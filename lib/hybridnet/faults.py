"""Fault drills in the lab: break one thing on purpose, see the health check catch it.

`hybridnet lab fault <name>` applies a drill, `hybridnet lab fault clear`
undoes every applied drill (recorded in the lab folder, so `clear` works from
another process). Each drill names the verdict it should cause.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
from dataclasses import dataclass
from typing import Callable

from . import dataplane
from .aws import AwsContext

STATE_FILE = dataplane.LAB_DIR / "faults.json"


@dataclass(frozen=True)
class Drill:
    name: str
    what: str
    expect: str  # the health check's verdict
    apply: Callable[[AwsContext], dict]
    clear: Callable[[AwsContext, dict], None]


def _tunnel_down(ctx: AwsContext) -> dict:
    from . import lab

    lab.tunnel_down(dataplane.LAB_DIR, 1)
    return {}


def _tunnel_restore(ctx: AwsContext, undo: dict) -> None:
    from . import lab

    lab.tunnel_restore(dataplane.LAB_DIR, 1)


def _bgp_network(ctx: AwsContext, present: bool) -> None:
    from .lab import CGW_NS, netns

    statement = f"{'' if present else 'no '}network {ctx.params.onprem.cidr}"
    commands = ["configure terminal", f"router bgp {ctx.params.customer_gateway.bgp_asn}",
                "address-family ipv4 unicast", statement, "end"]
    netns.run(["vtysh", "-N", netns.check_lab_namespace(CGW_NS), *[a for c in commands for a in ("-c", c)]])


def _withdraw_prefix(ctx: AwsContext) -> dict:
    _bgp_network(ctx, present=False)
    return {}


def _announce_prefix(ctx: AwsContext, undo: dict) -> None:
    _bgp_network(ctx, present=True)


def _inbound_address(ctx: AwsContext, present: bool) -> None:
    from .lab import VPC_NS, netns

    ip = ctx.params.dns.inbound_ips[0]
    prefix = next(s.cidr for s in ctx.params.vpc.subnets if ipaddress.ip_address(ip) in ipaddress.ip_network(s.cidr))
    netns.ip_in(VPC_NS, "addr", "add" if present else "del", f"{ip}/{prefix.split('/')[1]}", "dev", "vpc")


def _stop_inbound(ctx: AwsContext) -> dict:
    _inbound_address(ctx, present=False)
    return {}


def _start_inbound(ctx: AwsContext, undo: dict) -> None:
    _inbound_address(ctx, present=True)


def _idc_named(signal_number: int) -> int:
    """Pause or resume the lab's on-prem named (recorded by the lab: ours to signal)."""
    from . import lab

    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    name = dataplane.DNS_DAEMONS["onprem"][0]
    record = next(r for r in runtime.daemons if r.name == name and runtime.is_running(r))
    os.kill(record.pid, signal_number)
    return record.pid


def _stop_idc_dns(ctx: AwsContext) -> dict:
    return {"pid": _idc_named(signal.SIGSTOP)}


def _start_idc_dns(ctx: AwsContext, undo: dict) -> None:
    _idc_named(signal.SIGCONT)


def _handler_deny_all(ctx: AwsContext, deny: bool) -> None:
    from .phases import connect_handler

    client = ctx.client("lambda")
    name = connect_handler.function_name(ctx)
    variables = dict(client.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {}))
    if deny:
        variables["HYBRIDNET_DENY_ALL"] = "1"
    else:
        variables.pop("HYBRIDNET_DENY_ALL", None)
    client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def _deny_everybody(ctx: AwsContext) -> dict:
    _handler_deny_all(ctx, deny=True)
    return {}


def _admit_again(ctx: AwsContext, undo: dict) -> None:
    _handler_deny_all(ctx, deny=False)


DRILLS: dict[str, Drill] = {
    "tunnel-down": Drill("tunnel-down", "take tunnel 1 down on the customer gateway",
                         "WARN tunnels (1 of 2 UP)", _tunnel_down, _tunnel_restore),
    "withdraw-prefix": Drill("withdraw-prefix", "stop announcing the on-prem prefix over BGP",
                             "FAIL BGP routes / TGW route to on-prem", _withdraw_prefix, _announce_prefix),
    "inbound-endpoint-down": Drill("inbound-endpoint-down", "remove the first inbound endpoint IP in the VPC",
                                   "WARN inbound endpoints (redundancy lost)", _stop_inbound, _start_inbound),
    "idc-dns-down": Drill("idc-dns-down", "stop (pause) the on-prem DNS server",
                          "FAIL hybrid DNS", _stop_idc_dns, _start_idc_dns),
    "handler-deny-all": Drill("handler-deny-all", "make the client connect handler deny everybody",
                              "FAIL connect handler", _deny_everybody, _admit_again),
}


def _load() -> dict[str, dict]:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _save(state: dict[str, dict]) -> None:
    STATE_FILE.write_text(json.dumps(state))


def apply(ctx: AwsContext, name: str) -> Drill:
    if name not in DRILLS:
        raise ValueError(f"unknown fault {name!r}; choose from {', '.join(DRILLS)} (or clear)")
    if not dataplane.lab_running():
        raise ValueError("fault drills need the lab: run hybridnet lab up (as root) first")
    state = _load()
    if name not in state:
        state[name] = DRILLS[name].apply(ctx)
        _save(state)
    return DRILLS[name]


def clear(ctx: AwsContext) -> list[str]:
    state = _load()
    cleared = []
    for name in list(state):
        DRILLS[name].clear(ctx, state.pop(name))
        _save(state)
        cleared.append(name)
    return cleared


def active() -> list[str]:
    return list(_load())

