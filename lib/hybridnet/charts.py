"""Every chart the suite draws: matplotlib figures, shown inline and saved as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from .diagnostics.charts_dns import dns_matrix_chart  # noqa: F401  (one place to find every chart)

UP_COLOUR, DOWN_COLOUR = "#2e7d32", "#c62828"
STATUS_COLOURS = {"OK": UP_COLOUR, "WARN": "#f9a825", "FAIL": DOWN_COLOUR}


def save(fig: Figure, run_dir: Path, name: str) -> Path:
    path = Path(run_dir) / "charts" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def tunnel_timeline_chart(timeline: pd.DataFrame, telemetry: pd.DataFrame,
                          title: str = "Tunnel state (AWS/VPN TunnelState)") -> Figure:
    """One lane per tunnel: green while UP, red while DOWN; the current state at the right."""
    tunnels = sorted(set(telemetry["outside_ip"]) | set(timeline["outside_ip"]))
    fig, ax = plt.subplots(figsize=(9, 0.7 + 0.6 * max(1, len(tunnels))))
    for lane, ip in enumerate(tunnels):
        points = timeline[timeline["outside_ip"] == ip].sort_values("time")
        times = list(points["time"])
        for i, row in enumerate(points.itertuples()):
            end = times[i + 1] if i + 1 < len(times) else row.time + pd.Timedelta(minutes=1)
            ax.barh(lane, end - row.time, left=row.time, height=0.5,
                    color=UP_COLOUR if row.up else DOWN_COLOUR)
        now = telemetry.loc[telemetry["outside_ip"] == ip, "status"]
        label = now.iloc[0] if not now.empty else "?"
        ax.annotate(f" now {label}", xy=(1.0, lane), xycoords=("axes fraction", "data"), va="center",
                    color=UP_COLOUR if label == "UP" else DOWN_COLOUR)
    ax.set_yticks(range(len(tunnels)), tunnels)
    ax.set_title(title)
    ax.set_xlabel("time (UTC)")
    if timeline.empty:
        ax.text(0.5, 0.5, "no TunnelState data in the window", transform=ax.transAxes, ha="center", va="center")
    fig.autofmt_xdate()
    return fig


def prefixes_per_tunnel_chart(counts: pd.Series, title: str = "Prefixes the router learns per tunnel") -> Figure:
    fig, ax = plt.subplots(figsize=(5, 2.6))
    labels = [f"tunnel {t}" for t in counts.index]
    ax.bar(labels, list(counts.values), color=UP_COLOUR)
    ax.set_ylabel("prefixes")
    ax.set_title(title)
    if counts.empty:
        ax.text(0.5, 0.5, "router not reachable", transform=ax.transAxes, ha="center", va="center")
    return fig


def verdict_chart(verdicts: pd.DataFrame, title: str = "Health check") -> Figure:
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.35 * max(1, len(verdicts))))
    for i, row in enumerate(verdicts.itertuples()):
        ax.barh(i, 1, color=STATUS_COLOURS[row.status])
        ax.text(0.02, i, f"{row.status}  {row.check}", va="center", color="white", fontweight="bold")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(verdicts) - 0.5, -0.5)
    ax.axis("off")
    ax.set_title(title)
    return fig
