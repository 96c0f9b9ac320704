"""Chart of a DNS resolution matrix (:func:`hybridnet.diagnostics.dns.probe_matrix`).

One cell per (name, side): green when every probe in it got what was
expected, amber when a server answered but not as expected (a wrong
address, NXDOMAIN where a record was expected, or the reverse), red when it
failed (TIMEOUT, UNREACHABLE, SERVFAIL, REFUSED, ERROR); grey where nothing
was asked. Each cell is annotated with its latency (the slowest probe in
it) or its failure; several servers on one side show "n/m ok".
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

OK, WRONG, FAILED, NONE = "ok", "wrong answer", "failed", "not asked"
COLOURS = {OK: "#2e9e4f", WRONG: "#f0a202", FAILED: "#d1392b", NONE: "#e0e0e0"}
ANSWERED = ("NOERROR", "NXDOMAIN")
CELL_GID = "dns-cell"
_SEVERITY = {OK: 0, WRONG: 1, FAILED: 2}


def outcome(row: pd.Series) -> str:
    if bool(row["ok"]):
        return OK
    return WRONG if row["rcode"] in ANSWERED else FAILED


def _label(row: pd.Series) -> str:
    return row["name"] if row["type"] == "A" else f"{row['name']} {row['type']}"


def dns_matrix_chart(df: pd.DataFrame, title: str = "DNS resolution by side") -> Figure:
    """A names x sides grid coloured by outcome, latency annotated; returns the Figure."""
    if df.empty:
        fig = Figure(figsize=(4, 2), layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(title)
        ax.text(0.5, 0.5, "no probes", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    frame = df.assign(_label=df.apply(_label, axis=1), _outcome=df.apply(outcome, axis=1))
    names = list(dict.fromkeys(frame["_label"]))
    sides = list(dict.fromkeys(frame["side"]))
    fig = Figure(figsize=(3.0 + 2.2 * len(sides), 1.6 + 0.55 * len(names)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    for y, name in enumerate(names):
        for x, side in enumerate(sides):
            cell = frame[(frame["_label"] == name) & (frame["side"] == side)]
            if cell.empty:
                state, text = NONE, ""
            else:
                state = max(cell["_outcome"], key=_SEVERITY.__getitem__)
                failed = cell[cell["_outcome"] == FAILED]
                if len(failed):
                    text = str(failed.iloc[0]["rcode"])
                else:
                    text = f"{cell['latency_ms'].max():.0f} ms"
                    if state == WRONG:
                        wrong = cell[cell["_outcome"] == WRONG].iloc[0]
                        text = f"{wrong['answer'] or wrong['rcode']}\n{text}"
                if len(cell) > 1:
                    text += f"\n{int(cell['ok'].sum())}/{len(cell)} ok"
            rect = Rectangle((x, y), 1, 1, facecolor=COLOURS[state], edgecolor="white", linewidth=2)
            rect.set_gid(f"{CELL_GID}:{name}|{side}")
            ax.add_patch(rect)
            ax.text(
                x + 0.5,
                y + 0.5,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="black" if state in (WRONG, NONE) else "white",
            )
    ax.set_xlim(0, len(sides))
    ax.set_ylim(len(names), 0)
    ax.set_xticks([x + 0.5 for x in range(len(sides))], sides)
    ax.set_yticks([y + 0.5 for y in range(len(names))], names)
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for spine in ax.spines.values():
        spine.set_visible(False)
    shown = [OK, WRONG, FAILED] + ([NONE] if len(names) * len(sides) > len(frame.groupby(["_label", "side"])) else [])
    ax.legend(
        handles=[Patch(color=COLOURS[k], label=k) for k in shown],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=len(shown),
        frameon=False,
        fontsize=8,
    )
    return fig


def cells(fig: Figure) -> list[Rectangle]:
    """The grid's cells (for tests and for callers that restyle them)."""
    return [
        p
        for ax in fig.axes
        for p in ax.patches
        if isinstance(p, Rectangle) and (p.get_gid() or "").startswith(CELL_GID + ":")
    ]


__all__ = ["COLOURS", "cells", "dns_matrix_chart", "outcome"]
