"""Rendering of a :class:`~truceline.report.daily.DailyReport`: HTML and Markdown from one Jinja2 template,
PDF from the HTML with WeasyPrint.

The template ``daily.j2`` holds the wording and order once; it imports the markup macros of the format
(``_html.j2`` or ``_md.j2``). HTML is rendered with autoescaping, Markdown with a filter that escapes
Markdown syntax and ``<``/``>``, so neither format can carry markup smuggled in through incident data.

Markdown never embeds images as base64 (they would be most of the file): written to disk it links image
files in a folder beside it (:func:`markdown_with_files`); as one document (the HTTP edition) each figure is
replaced by a sentence saying where to find it (:func:`render_markdown`). docs/report.md says the same.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, get_args
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from truceline.report.charts import trend_chart
from truceline.report.daily import (
    HISTORY_DAYS,
    NOTABLE_LIMIT,
    UNVERIFIED_LIMIT,
    UNVERIFIED_REASONS,
    Breakdown,
    DailyReport,
)
from truceline.report.formats import Format
from truceline.report.map_image import incident_map
from truceline.verify.geometry import AgreementGeometry

FORMATS: tuple[str, ...] = get_args(Format)
MEDIA_TYPES: dict[str, str] = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "pdf": "application/pdf"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}<>|#!~])")


def _md(value: Any) -> str:
    """Plain text → Markdown that shows it literally (one line, syntax characters escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if math.isfinite(value) else "—"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pct(value: float | None) -> str:
    if value is None:
        return "—"
    if 0.999 <= value < 1.0:
        return ">99.9%"
    return f"{value:.1%}"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _party_count(party: str, breakdown: Breakdown) -> str:
    return _num(breakdown.by_party.get(party, 0))


def _mean_of(party: str, means: dict[str, float]) -> str:
    return f"{means.get(party, 0.0):.1f}"


@lru_cache(maxsize=2)
def environment(fmt: str) -> Environment:
    """The Jinja2 environment for ``html`` (autoescaped) or ``md``."""
    env = Environment(
        loader=PackageLoader("truceline.report", "templates"),
        autoescape=fmt == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(md=_md, num=_num, pct=_pct, utc=_utc, coord=lambda v: f"{v:.4f}", party_count=_party_count, mean_of=_mean_of)
    return env


def title_of(report: DailyReport) -> str:
    """The report's title (also the PDF's first line)."""
    return f"Ceasefire monitoring — daily report {report.scope.day.isoformat()}"


def _edition_note(report: DailyReport) -> str:
    if report.scope.audience == "public":
        return "This edition rests only on observations releasable to the public."
    return "This edition rests on observations releasable to the coalition and to the public; do not pass it on outside the coalition."


def _trend_sentence(report: DailyReport) -> str:
    mean = report.previous_mean.get("total", 0.0)
    today = report.trend[-1].total if report.trend else 0
    if mean == 0:
        return f"No violations on the previous {HISTORY_DAYS} days; {today:,} on the report day."
    ratio = today / mean
    comparison = f"{ratio:.1f} times" if ratio >= 1.0 else f"{1.0 - ratio:.0%} below"
    return (f"The report day's {today:,} violations are {comparison} the mean of {mean:.1f} a day over the previous "
            f"{HISTORY_DAYS} days.")


#: Where a one-document Markdown edition sends the reader for a figure it does not carry.
FIGURE_ELSEWHERE = ("The {what} is in the HTML and PDF editions of this report; "
                    "`truceline report daily --format md --out FILE` writes it as an image file beside FILE.")
_EXTENSIONS = {"image/svg+xml": "svg", "image/png": "png"}


def _images(report: DailyReport, geometry: AgreementGeometry | None) -> dict[str, str | None]:
    """The chart and the map as data URIs (the map only with a geometry)."""
    return {
        "trend": trend_chart(report.trend, report.party_order),
        "map": incident_map(geometry, report.points, report.party_order, engagements=report.engagements) if geometry is not None else None,
    }


def _context(
    report: DailyReport, geometry: AgreementGeometry | None, fmt: str, images: bool,
    links: dict[str, str | None] | None = None, figures_note: bool = False,
) -> dict[str, Any]:
    """Template variables; figures are ``links`` when given (image files), else data URIs when ``images``."""
    status_line = ", ".join(f"{n:,} {s}" for s, n in report.incidents_by_status.items())
    figures = links if links is not None else _images(report, geometry) if images else {}
    return {
        "r": report,
        "fmt": fmt,
        "title": title_of(report),
        "edition_note": _edition_note(report),
        "status_line": status_line,
        "trend_sentence": _trend_sentence(report),
        "history_days": HISTORY_DAYS,
        "notable_limit": NOTABLE_LIMIT,
        "unverified_limit": UNVERIFIED_LIMIT,
        "reasons": UNVERIFIED_REASONS,
        "trend_uri": figures.get("trend"),
        "map_uri": figures.get("map"),
        "trend_note": FIGURE_ELSEWHERE.format(what="chart of these days") if figures_note else None,
        "map_note": FIGURE_ELSEWHERE.format(what="map") if figures_note and geometry is not None else None,
    }


def render_html(report: DailyReport, geometry: AgreementGeometry | None, *, images: bool = True) -> str:
    """A self-contained HTML document (images as data URIs, no external resources)."""
    return environment("html").get_template("daily.j2").render(_context(report, geometry, "html", images))


def _markdown(context: dict[str, Any]) -> str:
    text = environment("md").get_template("daily.j2").render(context)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def render_markdown(report: DailyReport, geometry: AgreementGeometry | None, *, images: bool = True) -> str:
    """One CommonMark document with pipe tables and no HTML; with ``images``, each figure's place says where it is."""
    return _markdown(_context(report, geometry, "md", False, figures_note=images))


def markdown_with_files(report: DailyReport, geometry: AgreementGeometry | None, folder: str) -> tuple[str, dict[str, bytes]]:
    """Markdown linking its images by relative path, and the images: ``{"<folder>/trend.svg": bytes, ...}``."""
    files: dict[str, bytes] = {}
    links: dict[str, str | None] = {}
    for name, uri in _images(report, geometry).items():
        if uri is None:
            links[name] = None
            continue
        header, data = uri.split(",", 1)
        path = f"{folder}/{name}.{_EXTENSIONS[header.removeprefix('data:').split(';')[0]]}"
        files[path] = base64.b64decode(data)
        links[name] = quote(path)
    return _markdown(_context(report, geometry, "md", True, links)), files


def render_pdf(report: DailyReport, geometry: AgreementGeometry | None, *, images: bool = True) -> bytes:
    """The HTML edition printed to PDF by WeasyPrint (A4, page numbers in the footer)."""
    from weasyprint import (
        HTML,  # imported late: it takes a second to load and only PDF needs it
    )

    return HTML(string=render_html(report, geometry, images=images)).write_pdf()  # type: ignore[no-any-return]


def render(report: DailyReport, geometry: AgreementGeometry | None, fmt: str) -> bytes:
    """The report in ``fmt`` (``html``, ``md`` or ``pdf``) as bytes."""
    if fmt == "html":
        return render_html(report, geometry).encode()
    if fmt == "md":
        return render_markdown(report, geometry).encode()
    if fmt == "pdf":
        return render_pdf(report, geometry)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
