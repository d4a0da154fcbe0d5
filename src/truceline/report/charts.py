"""Charts of the daily report, drawn with matplotlib (Agg, no pyplot state) and embedded as data URIs.

Images travel inside the HTML and Markdown as ``data:`` URIs so a report is one self-contained file that
opens offline and prints to PDF without fetching anything. Colours are shared with the map so a party has
one colour throughout a report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from truceline.domain.agreement import UNDETERMINED
from truceline.report.daily import Breakdown

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn: it costs 0.65 s, and every server imported it at start
    from matplotlib.figure import Figure

_PARTY_PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d4a017", "#16a085")
UNDETERMINED_COLOUR = "#8c8c8c"


def party_colours(parties: Sequence[str]) -> dict[str, str]:
    """A fixed colour per party in agreement order; grey for 'undetermined'."""
    colours: dict[str, str] = {}
    named = [p for p in parties if p != UNDETERMINED]
    for i, party in enumerate(named):
        colours[party] = _PARTY_PALETTE[i % len(_PARTY_PALETTE)]
    colours[UNDETERMINED] = UNDETERMINED_COLOUR
    return colours


def figure_data_uri(figure: Figure, fmt: str = "svg", dpi: int = 110) -> str:
    """The figure as a ``data:`` URI (SVG for line art, PNG for dense scatter)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
    mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def trend_chart(trend: Sequence[Breakdown], parties: Sequence[str], fmt: str = "svg") -> str:
    """Stacked bars of violations per day and party; the last bar (the report day) drawn solid, the rest lighter."""
    colours = party_colours(parties)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(7.0, 2.8))
    ax = figure.add_subplot()
    x = list(range(len(trend)))
    bottom = [0] * len(trend)
    for party in parties:
        heights = [day.by_party.get(party, 0) for day in trend]
        alphas = [0.55] * (len(trend) - 1) + [1.0]
        for xi, h, b, a in zip(x, heights, bottom, alphas, strict=True):
            if h:
                ax.bar(xi, h, bottom=b, color=colours[party], alpha=a, width=0.7, edgecolor="white", linewidth=0.5)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    history = [day.total for day in trend[:-1]]
    if history:
        mean = sum(history) / len(history)
        ax.axhline(mean, color="#333333", linestyle="--", linewidth=0.8, label=f"mean of previous {len(history)} days")
    for xi, total in zip(x, bottom, strict=True):
        ax.annotate(f"{total:,}", (xi, total), ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, [day.label[5:] for day in trend], fontsize=8)
    ax.set_ylabel("violations", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylim(0, max(max(bottom, default=0), 1) * 1.18)
    ax.spines[["top", "right"]].set_visible(False)
    handles = [Patch(color=colours[p], label=p) for p in parties] + ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, frameon=False, ncols=len(parties) + 1, loc="upper left")
    return figure_data_uri(figure, fmt)
