"""The daily report rendered: HTML and Markdown from one template, PDF from the HTML, and releasability in each.

Uses the data set of ``test_report_daily`` (its docstring lists the incidents and who may see them).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.test_report_daily import (
    DAY,
    SECRET_OBS,
    SECRET_ORIGIN_OBS,
    build_dataset,
    incident_of,
)

from truceline.ledger.checkpoint import ensure_ledger_key
from truceline.report.build import daily_report
from truceline.report.render import render_html, render_markdown, title_of

TAG = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?>")


@pytest.fixture(scope="module")
def editions(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """Every (audience, format) of the report day, plus the secret incident's id."""
    root = tmp_path_factory.mktemp("render")
    store = build_dataset(root / "data")
    key = ensure_ledger_key(root / "data")
    out: dict[tuple[str, str], Any] = {("secret", "incident"): incident_of(store, SECRET_OBS)}
    try:
        for audience in ("public", "coalition"):
            for fmt in ("html", "md", "pdf"):
                built = daily_report(store, key, DAY, audience, fmt)
                out[(audience, fmt)] = built
                path = root / f"{audience}.{fmt}"
                path.write_bytes(built.content)
                out[(audience, fmt + "-path")] = path
    finally:
        store.close()
    return out


def pdf_text(path: Path, first_page_only: bool = False) -> str:
    pages = ["-f", "1", "-l", "1"] if first_page_only else []
    return subprocess.run(["pdftotext", *pages, str(path), "-"], check=True, capture_output=True, text=True).stdout


def text_of(editions: dict[tuple[str, str], Any], audience: str, fmt: str) -> str:
    """The edition as searchable text without whitespace, hyphens or backslashes (PDF tables wrap long ids
    at hyphens, which pdftotext then drops; Markdown escapes some characters)."""
    text = pdf_text(editions[(audience, "pdf-path")]) if fmt == "pdf" else editions[(audience, fmt)].content.decode()
    return squeeze(text)


def squeeze(text: str) -> str:
    return re.sub(r"[\s\\-]+", "", text)


@pytest.mark.parametrize("fmt", ["html", "md", "pdf"])
def test_coalition_only_evidence_never_reaches_the_public_edition(editions: dict[tuple[str, str], Any], fmt: str) -> None:
    secret_incident = editions[("secret", "incident")]
    origin_of_mixed = "48.23000 N"  # the mixed incident's origin comes only from the coalition radar
    public = text_of(editions, "public", fmt)
    coalition = text_of(editions, "coalition", fmt)
    for needle in map(squeeze, (SECRET_OBS, secret_incident, SECRET_ORIGIN_OBS, "Kharkiv Oblast", origin_of_mixed)):
        assert needle in coalition, f"{needle} missing from the coalition {fmt}: the check below would prove nothing"
        assert needle not in public, f"{needle} leaked into the public {fmt}"


def test_html_is_self_contained_and_escaped(editions: dict[tuple[str, str], Any]) -> None:
    html = editions[("public", "html")].content.decode()
    assert html.startswith("<!DOCTYPE html>") and f"<title>{title_of(editions[('public', 'html')].report)}</title>" in html
    assert "data:image/svg+xml;base64," in html and "data:image/png;base64," in html
    assert not re.search(r"""(src|href)=["']https?:""", html), "the report must open offline"
    for heading in ("1. Summary", "2. Compared with the previous 7 days", "3. Map of the day", "4. Notable incidents",
                    "5. What could not be verified", "6. Method and confidence", "7. Evidence ledger"):
        assert heading in html


def test_markdown_has_the_same_sections_and_no_html(editions: dict[tuple[str, str], Any]) -> None:
    md = editions[("public", "md")].content.decode()
    assert md.startswith("# Ceasefire monitoring — daily report 2023-05-10\n")
    assert not TAG.search(md), TAG.search(md)
    headings = re.findall(r"^(#{1,3}) (.+)$", md, flags=re.MULTILINE)
    assert [h for level, h in headings if level == "##"] == [
        "1. Summary",
        "2. Compared with the previous 7 days",
        "3. Map of the day's incidents",
        "4. Notable incidents",
        "5. What could not be verified, and why",
        "6. Method and confidence",
        "7. Evidence ledger",
        "8. Airspace and sea lanes",
    ]
    # every table: a header row, then a separator row, then rows with the same number of cells
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if re.fullmatch(r"\|( -{3,}:? \|)+", line):
            width = line.count("|")
            assert lines[i - 1].startswith("|") and lines[i - 1].count("|") - lines[i - 1].count("\\|") == width
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                assert lines[j].count("|") - lines[j].count("\\|") == width, lines[j]
                j += 1
    assert "| RU — Russian Federation | 1 | 1 | 100.0% | 100.0% |" in md
    # one document (the HTTP edition): no base64, each figure's place says where the figure is
    assert "base64" not in md and "![" not in md
    assert "The chart of these days is in the HTML and PDF editions" in md and "The map is in the HTML and PDF editions" in md


def test_markdown_escapes_what_incident_data_could_smuggle(editions: dict[tuple[str, str], Any]) -> None:
    report = editions[("coalition", "md")].report
    from dataclasses import replace

    hostile = replace(report, scope=replace(report.scope, agreement_title="<script>x</script> | *bold* [link](http://x)"))
    md = render_markdown(hostile, None, images=False)
    assert "<script>" not in md and "\\<script\\>" in md and "\\*bold\\*" in md and "\\[link\\]" in md
    html = render_html(hostile, None, images=False)
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def test_pdf_first_page_renders_the_title_and_is_not_blank(editions: dict[tuple[str, str], Any], tmp_path: Path) -> None:
    path = editions[("public", "pdf-path")]
    assert path.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert len(pngs) == 1
    pixels = np.asarray(Image.open(pngs[0]).convert("L"), dtype=np.float64)
    assert pixels.shape[0] > pixels.shape[1] > 300  # A4 portrait at 50 dpi is 413 × 585
    assert pixels.std() > 20, "the first page is (nearly) blank"
    assert (pixels < 128).mean() > 0.01, "too little ink on the first page"
    first = pdf_text(path, first_page_only=True)
    assert "Ceasefire monitoring — daily report 2023-05-10" in first
    assert "Public edition." in first and "Violations by party held responsible" in first
