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


def tunnel_timeline_chart(
    timeline: pd.DataFrame, telemetry: pd.DataFrame, title: str = "Tunnel state (AWS/VPN TunnelState)"
) -> Figure:
    """One lane per tunnel: green while UP, red while DOWN; the current state at the right."""
    tunnels = sorted(set(telemetry["outside_ip"]) | set(timeline["outside_ip"]))
    fig, ax = plt.subplots(figsize=(9, 0.7 + 0.6 * max(1, len(tunnels))))
    for lane, ip in enumerate(tunnels):
        points = timeline[timeline["outside_ip"] == ip].sort_values("time")
        times = list(points["time"])
        for i, row in enumerate(points.itertuples()):
            end = times[i + 1] if i + 1 < len(times) else row.time + pd.Timedelta(minutes=1)
            ax.barh(lane, end - row.time, left=row.time, height=0.5, color=UP_COLOUR if row.up else DOWN_COLOUR)
        now = telemetry.loc[telemetry["outside_ip"] == ip, "status"]
        label = now.iloc[0] if not now.empty else "?"
        ax.annotate(
            f" now {label}",
            xy=(1.0, lane),
            xycoords=("axes fraction", "data"),
            va="center",
            color=UP_COLOUR if label == "UP" else DOWN_COLOUR,
        )
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


UNJUDGED_COLOUR = "#90a4ae"


def topology_chart(graph, title: str = "") -> Figure:
    """The hybrid network of diagnostics.topology.graph(): on-prem left, the tunnels and
    remote users in the middle, AWS right (networkx's multipartite layout by the nodes'
    layer), each node and link in its verdict's colour (grey: no verdict concerns it),
    with the cause on it where one is known."""
    import networkx as nx

    layers = sorted({d["layer"] for _, d in graph.nodes(data=True)})
    tallest = max((sum(1 for _, d in graph.nodes(data=True) if d["layer"] == layer) for layer in layers), default=1)
    fig, ax = plt.subplots(figsize=(max(8.0, 2.7 * len(layers)), max(5.0, 1.3 * tallest + 2.2)))
    ax.axis("off")
    ax.set_title(title or f"Hybrid network {graph.graph.get('stack', '')}: coloured by the health check")
    if graph.number_of_nodes() == 0:
        ax.text(
            0.5,
            0.5,
            "nothing to draw: no resource of the stack found",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
        return fig
    # networkx places each layer's nodes bottom-up in the order given: bands top-down
    order = {n: i for i, n in enumerate(graph.nodes)}
    subsets = {
        layer: sorted(
            (n for n, d in graph.nodes(data=True) if d["layer"] == layer),
            key=lambda n: (-graph.nodes[n].get("band", 0), -order[n]),
        )
        for layer in layers
    }
    pos = nx.multipartite_layout(graph, subset_key=subsets, align="vertical", scale=1.0)
    ys = [y for _, y in pos.values()]
    spread = max(ys) - min(ys) or 1.0
    edges = list(graph.edges(data=True))
    nx.draw_networkx_edges(
        graph,
        pos,
        ax=ax,
        edgelist=[(u, v) for u, v, _ in edges],
        edge_color=[d.get("colour", UNJUDGED_COLOUR) for _, _, d in edges],
        width=[3.0 if d.get("status") else 1.2 for _, _, d in edges],
        style=["dashed" if d.get("kind") in ("forward", "remote") else "solid" for _, _, d in edges],
    )
    kinds = nx.get_node_attributes(graph, "kind")
    labels = {
        (u, v): d["label"]
        for u, v, d in edges
        if d.get("label")
        # a tunnel's two links carry the same verdict: its cause once, on the customer gateway's side
        and not {kinds[u], kinds[v]} == {"tunnel", "vpn_connection"}
    }
    if labels:
        nx.draw_networkx_edge_labels(
            graph,
            pos,
            ax=ax,
            edge_labels=labels,
            font_size=7,
            font_color=DOWN_COLOUR,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        )
    for node, d in graph.nodes(data=True):
        x, y = pos[node]
        text = d["label"] + (f"\n{d['cause']}" if d.get("cause") else "")
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=7,
            zorder=3,
            color="black" if d.get("status") in (None, "WARN") else "white",
            fontweight="bold" if d.get("status") in ("WARN", "FAIL") else "normal",
            bbox={
                "boxstyle": "round,pad=0.35",
                "facecolor": d.get("colour", UNJUDGED_COLOUR),
                "edgecolor": "black" if d.get("status") in ("WARN", "FAIL") else "none",
            },
        )
    names = graph.graph.get("layers") or []
    xs = {d["layer"]: pos[n][0] for n, d in graph.nodes(data=True)}
    top = max(ys) + 0.12 * spread + 0.05
    for layer, x in xs.items():
        if layer < len(names):
            ax.text(x, top, names[layer], ha="center", va="bottom", fontsize=8, color="#455a64", style="italic")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=c, label=s) for s, c in STATUS_COLOURS.items()]
        + [Patch(color=UNJUDGED_COLOUR, label="no verdict")],
        loc="lower right",
        fontsize=7,
        frameon=False,
    )
    unplaced = graph.graph.get("unplaced") or []
    if unplaced:
        shown = "; ".join(f"{v['status']} {v['check']}" for v in unplaced if v["status"] != "OK")
        if shown:
            ax.text(0.0, -0.02, f"not on the map: {shown}", transform=ax.transAxes, fontsize=7, va="top")
    xmin, xmax = min(x for x, _ in pos.values()), max(x for x, _ in pos.values())
    pad = (xmax - xmin or 1.0) * 0.08
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(min(ys) - 0.15 * spread - 0.05, top + 0.08 * spread + 0.05)
    return fig


def fleet_heatmap(
    table: pd.DataFrame, checks: list[str], rows: int = 40, title: str = "Fleet health: the worst resources"
) -> Figure:
    """The fleet's verdict table as a heatmap: the `rows` worst resources (account /
    region / resource) down, the checks across, each cell its verdict's colour (grey:
    the check does not apply). A cell that is not OK carries its cause."""
    from matplotlib.colors import ListedColormap

    severity = {"OK": 0, "WARN": 1, "FAIL": 2}
    keyed = table.assign(
        key=table["account"]
        + " / "
        + table["region"]
        + " / "
        + table["resource"]
        + table["name"].map(lambda n: f" ({n})" if n else "")
    )
    worst = (
        keyed.assign(_sev=keyed["status"].map(severity))
        .groupby("key", sort=False)["_sev"]
        .max()
        .sort_values(ascending=False, kind="stable")
    )
    shown = list(worst.index[:rows])
    columns = [c for c in checks if c in set(keyed["check"])] + sorted(set(keyed["check"]) - set(checks))
    grid = pd.DataFrame(float("nan"), index=shown, columns=columns)
    labels = pd.DataFrame("", index=shown, columns=columns)
    for r in keyed[keyed["key"].isin(shown)].itertuples():
        if pd.isna(grid.at[r.key, r.check]) or severity[r.status] > grid.at[r.key, r.check]:
            grid.at[r.key, r.check] = severity[r.status]
            labels.at[r.key, r.check] = "" if r.status == "OK" else (r.cause or r.status)
    fig, ax = plt.subplots(figsize=(2.0 + 1.7 * max(len(columns), 1), 1.2 + 0.32 * max(len(shown), 1)))
    ax.set_title(f"{title} ({len(shown)} of {len(worst)})" if len(worst) > len(shown) else title)
    if not shown:
        ax.axis("off")
        ax.text(0.5, 0.5, "no resource found", ha="center", va="center", transform=ax.transAxes)
        return fig
    cmap = ListedColormap([STATUS_COLOURS["OK"], STATUS_COLOURS["WARN"], STATUS_COLOURS["FAIL"]]).with_extremes(
        bad=UNJUDGED_COLOUR
    )
    ax.imshow(grid.to_numpy(dtype=float), cmap=cmap, vmin=0, vmax=2, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(shown)), shown, fontsize=7)
    for y, key in enumerate(shown):
        for x, check in enumerate(columns):
            if labels.at[key, check]:
                ax.text(x, y, labels.at[key, check], ha="center", va="center", fontsize=6, color="white")
    return fig
