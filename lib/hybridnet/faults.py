"""Fault drills in the lab: break one thing on purpose, see the health check catch it.

`hybridnet lab fault <name>` applies a drill, `hybridnet lab fault clear`
undoes every applied drill (recorded in the lab folder, so `clear` works from
another process). Each drill names the verdict it should cause.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
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


def _crash(name: str) -> dict:
    """SIGKILL a lab daemon by the pid the lab recorded (ours to signal), as a crash
    ends it; its record stays, for clear to start it again as it was started."""
    from . import lab

    try:
        return {"pid": lab.LabRuntime.load(dataplane.LAB_DIR).kill(name).pid}
    except (KeyError, RuntimeError) as exc:
        raise ValueError(f"nothing to crash: {exc.args[0]}") from None


def _respawn(name: str, ready: Callable, timeout: float = 10.0, stale: tuple[Path, ...] = ()):
    """Start a crashed lab daemon again exactly as the lab (or the host's systemctl,
    through the lab's agent) started it, without the `stale` files the dead one
    left (not a sign of the new one); back, with the lab's runtime, once
    `ready(runtime)` says so. None when it runs already: `hybridnet lab up` (the
    router's setup, the DNS server's files through SSM) starts it again too."""
    from . import lab

    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    if runtime.is_running(runtime.daemon(name)):
        return None
    for path in stale:
        path.unlink(missing_ok=True)
    record = runtime.respawn(name)
    runtime.wait_ready(record, lambda: ready(runtime), timeout=timeout)
    return runtime


def _cgw(daemon: str) -> str:
    from .lab import CGW_NS

    return f"{daemon}@{CGW_NS}"


def _crash_cgw_charon(ctx: AwsContext) -> dict:
    from .lab import CGW_NS, netns

    # kernel-libipsec's ipsec0 dies with charon, and the tunnel inside addresses the
    # router's setup put there with it: noted, to be put back.
    shown = netns.ip_in(CGW_NS, "-o", "-4", "addr", "show", "dev", "ipsec0", check=False).stdout
    return {**_crash(_cgw("charon")), "ipsec0": re.findall(r"\binet (\S+)", shown)}


def _restart_cgw_charon(ctx: AwsContext, undo: dict) -> None:
    from .lab import CGW_NS, netns
    from .lab.daemons import charon_paths, swanctl, vici_ready

    def ready(runtime) -> bool:
        return vici_ready(charon_paths(runtime, CGW_NS)["vici"]) and \
            netns.ip_in(CGW_NS, "link", "show", "dev", "ipsec0", check=False).returncode == 0

    runtime = _respawn(_cgw("charon"), ready)
    if runtime is None:
        return
    # What the router's setup does after starting charon: the inside addresses on
    # ipsec0, then its connections and secrets (start_action=start brings them up).
    for address in undo.get("ipsec0", []):
        netns.ip_in(CGW_NS, "addr", "replace", address, "dev", "ipsec0")
    swanctl(runtime, CGW_NS, "--load-all", "--noprompt", "--file", runtime.state["cgw_swanctl_conf"])


def _crash_cgw_bgpd(ctx: AwsContext) -> dict:
    return _crash(_cgw("bgpd"))


def _restart_cgw_bgpd(ctx: AwsContext, undo: dict) -> None:
    from .lab import CGW_NS
    from .lab.daemons import frr_run_dir

    vty = frr_run_dir(CGW_NS) / "bgpd.vty"
    _respawn(_cgw("bgpd"), lambda runtime: vty.exists(), stale=(vty,))


def _crash_onprem_named(ctx: AwsContext) -> dict:
    return _crash(dataplane.DNS_DAEMONS["onprem"][0])


def _restart_onprem_named(ctx: AwsContext, undo: dict) -> None:
    from . import lab

    name = dataplane.DNS_DAEMONS["onprem"][0]
    log = Path(lab.LabRuntime.load(dataplane.LAB_DIR).daemon(name).log)
    offset = log.stat().st_size if log.exists() else 0
    _respawn(name, lambda runtime: dataplane.named_ready(log, offset), timeout=15.0)


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
    # Crashes (SIGKILL): the health check names the daemon that is gone, on the host
    # itself, before the tunnels, routes and answers it takes with it.
    "cgw-ike-crash": Drill("cgw-ike-crash", "kill the customer gateway's charon (strongSwan's IKE daemon)",
                           "FAIL router daemons (charon not running)", _crash_cgw_charon, _restart_cgw_charon),
    "cgw-bgp-crash": Drill("cgw-bgp-crash", "kill the customer gateway's bgpd (FRR)",
                           "FAIL router daemons (bgpd not running)", _crash_cgw_bgpd, _restart_cgw_bgpd),
    "onprem-dns-crash": Drill("onprem-dns-crash", "kill the on-prem DNS server's named",
                              "FAIL on-prem DNS server (named not running)", _crash_onprem_named,
                              _restart_onprem_named),
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

