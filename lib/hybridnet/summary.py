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


SUMMARIES: dict[str, Callable[[dict], list[str]]] = {
    "01_tgw_attachment": tgw_attachment,
}


def summarize(run_dir: Path, notebooks: list[str]) -> list[str]:
    lines = []
    for name in notebooks:
        if name in SUMMARIES:
            lines.append(f"== {name}")
            lines += ["   " + line for line in SUMMARIES[name](results.load(run_dir, name))]
    return lines
