"""One-screen summaries of a run, one function per notebook (a registry)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import results


def tgw_attachment(data: dict) -> list[str]:
    lines = [
        f"VPN connection  {data['vpn_connection_id']}  ({data['vpn_state']})",
        f"TGW attachment  {data['attachment_id']}  ({data['attachment_state']}; "
        f"association {data['association_state']}, propagation {data['propagation_state']})",
    ]
    for t in data["tunnels"]:
        lines.append(
            f"tunnel {t['number']}        outside {t['outside_ip']:<15} inside {t['inside_cidr']:<18} "
            f"{t['status']}: {t['status_message']}"
        )
    lines.append("created now: " + (", ".join(data["created"]) or "nothing (all reused)"))
    lines += [f"changed now: {change}" for change in data.get("changed", [])]
    return lines


def router_config(data: dict) -> list[str]:
    lines = [f"router setup    {data['router_dir']}/{{seed,frr,swanctl,lab}}/"]
    if data["applied"]:
        lines.append(
            f"applied         {data['target']}/ on the router through SSM Run Command in "
            f"{data['timings'].get('apply_s', 0):.1f} s; pre-shared keys from Parameter Store"
        )
    else:
        lines.append(f"not applied     {data['apply_reason']}")
    for t in data.get("router_view", []):
        lines.append(
            f"router tunnel {t['tunnel']} IKE {t['ike_sa']}; BGP {t['bgp_state']} with {t['bgp_peer']}, "
            f"{t['prefixes_received']} prefix(es)"
        )
    for number, t in enumerate(data["tunnels"], start=1):
        lines.append(f"tunnel {number} (AWS)  {t['outside_ip']:<15} {t['status']}: {t['status_message']}")
    return lines


def health_check(data: dict) -> list[str]:
    lines = [f"health check    {data['status']}"]
    lines += [
        f"  {v['status']:<4}  {v['check']}: {v['reason']}" + (f" [{v['cause']}]" if v.get("cause") else "")
        for v in data["verdicts"]
    ]
    return lines


def teardown(data: dict) -> list[str]:
    lines = [f"removed         {len(data['removed'])} resource(s)"]
    lines.append("left            " + (", ".join(f"{r['kind']} {r['id']}" for r in data["left"]) or "nothing"))
    return lines


def hybrid_dns(data: dict) -> list[str]:
    lines = [
        f"private zone    {data['private_zone']}  records {'as expected' if data['records_ok'] else 'NOT as expected'}"
    ]
    for key in ("inbound", "outbound"):
        e = data[key]
        lines.append(
            f"{key:<8} endpoint {e['id']}  ({e['status']}; "
            f"{', '.join(a['ip'] + ' ' + a['availability_zone'] for a in e['ip_addresses'])})"
        )
    lines.append(
        f"forward rule    {data['rule_id']}  ({data['rule_status']}: {data['rule_domain']} -> "
        f"{', '.join(data['rule_targets'])}; association {data['association_status']})"
    )
    lines.append(f"on-prem BIND    {data['dns_dir']}/onprem-bind/")
    if data.get("onprem_applied"):
        lines.append("applied         onprem-bind/ on the DNS server through SSM Run Command (named-checkconf, reload)")
    else:
        lines.append(f"not applied     {data.get('onprem_apply_reason', 'not asked')}")
    lines.append(f"DNS servers     {data['servers_reason']}")
    asked_on = [
        f"{h['role']} {h['host']} ({h['instance_id'] or 'not found'}, {h['ssm_status']})" for h in data.get("hosts", [])
    ]
    if asked_on:
        lines.append(f"DNS asked on    {'; '.join(asked_on)}, through SSM Run Command")
    # A host SSM cannot reach fails all its rows for one reason: say it once.
    unreachable = list(dict.fromkeys(r["detail"] for r in data["matrix"] if r["rcode"] == "UNREACHABLE"))
    failed = [
        f"{r['side']} {r['name']} {r['rcode']}" for r in data["matrix"] if not r["ok"] and r["rcode"] != "UNREACHABLE"
    ]
    lines.append(
        f"DNS matrix      {data['matrix_ok']}/{data['matrix_total']} as expected"
        + (f" (not asked: {'; '.join(unreachable[:2])})" if unreachable else "")
        + (f"; failed: {'; '.join(failed[:4])}{' ...' if len(failed) > 4 else ''}" if failed else "")
    )
    return lines


def client_vpn(data: dict) -> list[str]:
    lines = [
        f"endpoint        {data['client_vpn_endpoint_id']}  ({data['status']}; client CIDR {data['client_cidr']}, "
        f"split tunnel {'on' if data['split_tunnel'] else 'off'})",
        "certificates    " + ", ".join(f"{role} {c['action']}" for role, c in data["certificates"].items()) + " (ACM)",
        f"profile         {data['profile']}  (mode {data['profile_mode']})",
    ]
    attempt = data.get("remote_user")
    if attempt:
        checks = ", ".join(f"{c['check']} {'ok' if c['ok'] else 'FAILED'}" for c in attempt["checks"])
        lines.append(
            f"remote user     {attempt['address'] or attempt['instance_id'] or attempt['host']} (SSM): "
            f"{attempt['outcome']}"
            + (f" as {attempt['client_ip']}" if attempt.get("client_ip") else f" ({attempt['message']})")
            + (f"; {checks}" if checks else "")
        )
    else:
        lines.append(f"remote user     not tried: {data['remote_user_not_tried']}")
    return lines


def connection_handler(data: dict) -> list[str]:
    env = data["environment"]
    allowed = sum(1 for d in data["decisions"] if d["allow"])
    lines = [
        f"handler         {data['function_name']}  ({data['function_action']}; "
        f"{'enabled' if data['handler_enabled'] else 'NOT enabled'} on {data['client_vpn_endpoint_id']})",
        f"policies        {env.get('HYBRIDNET_POLICIES') or 'none'}"
        + (f" (allowed {env['HYBRIDNET_ALLOWED_CIDRS']})" if env.get("HYBRIDNET_ALLOWED_CIDRS") else ""),
        f"test events     {allowed} allowed, {len(data['decisions']) - allowed} denied (through Lambda Invoke)",
    ]
    for attempt in data.get("remote_attempts") or []:
        lines.append(
            f"remote user     {attempt['role']} {attempt['address'] or '-'}: {attempt['outcome']}"
            + (f" as {attempt['client_ip']}" if attempt.get("client_ip") else "")
            + (f": {attempt['message']}" if attempt.get("message") else "")
        )
    if not data.get("remote_attempts"):
        lines.append(f"remote users    not tried: {data['remote_not_tried']}")
    return lines


SUMMARIES: dict[str, Callable[[dict], list[str]]] = {
    "01_tgw_attachment": tgw_attachment,
    "02_router_config": router_config,
    "03_hybrid_dns": hybrid_dns,
    "04_client_vpn": client_vpn,
    "05_connection_handler": connection_handler,
    "10_health_check": health_check,
    "99_teardown": teardown,
}


def summarize(run_dir: Path, notebooks: list[str]) -> list[str]:
    lines = []
    for name in notebooks:
        if name in SUMMARIES:
            lines.append(f"== {name}")
            lines += ["   " + line for line in SUMMARIES[name](results.load(run_dir, name))]
    return lines
