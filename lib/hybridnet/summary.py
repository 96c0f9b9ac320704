"""One-screen summaries of a run, one function per notebook (a registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

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
            f"{t['status']}: {t['status_message']}")
    lines.append("created now: " + (", ".join(data["created"]) or "nothing (all reused)"))
    return lines


def router_config(data: dict) -> list[str]:
    lines = [f"router setup    {data['router_dir']}/{{seed,frr,swanctl,lab}}/"]
    lines.append(f"data plane      {data['data_plane'] or 'none'}: {data['data_plane_reason']}")
    if data["timings"].get("tunnels_and_bgp_s") is not None:
        lines.append(f"lab up          tunnels and BGP in {data['timings']['tunnels_and_bgp_s']:.1f} s")
    for number, t in enumerate(data["tunnels"], start=1):
        lines.append(f"tunnel {number} (AWS)  {t['outside_ip']:<15} {t['status']}: {t['status_message']}")
    return lines


SUMMARIES: dict[str, Callable[[dict], list[str]]] = {
    "01_tgw_attachment": tgw_attachment,
    "02_router_config": router_config,
}


def summarize(run_dir: Path, notebooks: list[str]) -> list[str]:
    lines = []
    for name in notebooks:
        if name in SUMMARIES:
            lines.append(f"== {name}")
            lines += ["   " + line for line in SUMMARIES[name](results.load(run_dir, name))]
    return lines
