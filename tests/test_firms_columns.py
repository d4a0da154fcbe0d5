"""FIRMS read as columns (ingest/firms_columns.py) against the row path: same records, rejections, verdicts, bytes.

The row path is the reference: ``read_positions`` + ``decode_firms`` + ``annotate_conflict_fires``, then
validation by the model. For every row the columnar path validates itself, the row path must give a record
the model accepts, with the same canonical document and the same store row; every other row must come out
of both paths identically (record or rejection). Real files, and files with mutated cells and lines.
"""

from __future__ import annotations

import gzip
import io
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.paths_agree import assert_items_agree, with_model_outcomes

from truceline.ingest.firms import decode_firms, read_positions
from truceline.ingest.firms_columns import read_columns, split_rows
from truceline.ingest.firms_flags import FireAnalysis, annotate_columns, annotate_conflict_fires, load_baseline
from truceline.ingest.pipeline import IngestSummary, ingest_records, open_records
from truceline.ingest.records import Validated
from truceline.store.sqlite import open_store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parents[1] / "src" / "truceline" / "data" / "demo" / "firms-ukraine-2023-04-06.csv.gz"
BASELINE = load_baseline()
RECEIVED = datetime(2026, 11, 22, 12, 0, 1, tzinfo=UTC)

VIIRS_HEADER = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight"
VIIRS_ROWS = [
    "48.1234,37.5,330.5,0.39,0.36,2023-04-01,0113,N,VIIRS,n,2.0NRT,290.1,4.5,N",
    "47.9,36.25,301.2,0.5,0.4,2023-04-01,1142,N,VIIRS,h,2.0NRT,285.3,12.25,D",
    "50.45,30.52,345.0,0.41,0.45,2023-04-02,23,1,VIIRS,l,2.0NRT,290,3,N",
    "46.5,32.1,320.0,1,1,2023-04-02,2359,N,VIIRS,nominal,2.0NRT,288.8,1.5,D",
]


def row_path(text: str, now: datetime = NOW) -> tuple[list[Any], FireAnalysis]:
    """Items of the row path, each Record replaced by (Record, Observation or the model's errors)."""
    analysis = FireAnalysis()
    items = list(
        annotate_conflict_fires(lambda: read_positions(io.StringIO(text)), lambda: decode_firms(io.StringIO(text)), BASELINE, analysis)
    )
    return with_model_outcomes(items, now), analysis


def column_path(text: str, now: datetime = NOW) -> tuple[list[Any], FireAnalysis] | None:
    table = read_columns(text, now)
    if table is None:
        return None
    analysis = FireAnalysis()
    return list(annotate_columns(table, BASELINE, analysis)), analysis


def check_same(text: str, now: datetime = NOW) -> int:
    """Assert both paths agree on ``text``; return how many rows the columnar path validated itself (-1:
    both raised the same exception)."""
    try:
        expected, expected_analysis = row_path(text, now)
    except Exception as exc:  # FormatError for the whole file (a bad header, not UTF-8)
        with pytest.raises(type(exc)) as raised:
            column_path(text, now)
        assert str(raised.value) == str(exc)
        return -1
    got = column_path(text, now)
    if got is None:
        return 0
    items, analysis = got
    assert analysis == expected_analysis
    return assert_items_agree(items, expected, RECEIVED, "as a column", _same_fields)


def _same_fields(item: Validated, observation: Any) -> None:
    v = item.observation
    assert (v.id, v.time, v.time_sd_s, v.sigma_m, (v.lat, v.lon)) == (
        observation.id, observation.time, observation.time_sd_s, observation.sigma_m, observation.point,
    ), item.where


def _real(path: Path, every: int = 1) -> str:
    """A real file, or its header and every ``every``-th row (all months, a fraction of the test's time)."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    return "".join(lines[:1] + lines[1::every])


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("firms 2023, every 6th row", lambda: _real(DATA / "firms" / "firms-ukraine-2023.csv.gz", 6)),
        ("firms 2022, every 6th row", lambda: _real(DATA / "firms" / "firms-ukraine-2022.csv.gz", 6)),
        ("demo day", lambda: _real(DEMO)),
        ("VIIRS layout", lambda: "\n".join([VIIRS_HEADER, *VIIRS_ROWS]) + "\n"),
    ],
)
def test_real_files_give_the_same_records_and_bytes(name: str, text: Any) -> None:
    content = text()
    rows = len(split_rows(content)[1])
    assert check_same(content) == rows, f"{name}: every row of a clean file should be validated as a column"


EDGE_CELLS = [
    "", " ", "  48.1", "48.1 ", "\t48.1", "48.1\u00a0", "+48.1", "-0", "-0.0", "0", ".5", "5.", "1e1", "1E-3", "4.81e+1", "1e400",
    "-1e400", "1e-400", "nan", "NaN", "inf", "-inf", "Infinity", "1_0", "0x10", "\u0664\u0668", "48,1", '"48.1"', 'a"b', "48.1\r",
    "90", "90.0000001", "-90", "-90.0000001", "180", "180.0000001", "-180", "-180.0000001", "48.12345678901234567890", "1e16",
    "1e-5", "123456789012345678", "10", "10.0000001", "0.0000000001", "1e-200", "11", "2023-04-01", " 2023-04-01", "2023-04-01 ",
    "20230401", "2023-W13-6", "2023-02-29", "2024-02-29", "2023-13-01", "1999-12-31", "2000-01-01", "2099-01-01", "2026-11-22",
    "2026-11-23", "0000", "2359", "2400", "0060", "12345", "7", " 7", "\u00b2", "N", " N ", "n", "H", "l", "\x01", "\\", "\u2028",
    "\ufeff1", "VIIRS", "x" * 5000, "x" * 60_000, "\x00",
]


@pytest.mark.parametrize("column", range(len(VIIRS_HEADER.split(","))))
def test_every_edge_cell_in_every_column(column: int) -> None:
    """Each edge value in ``column`` of a VIIRS row, the other cells as in a clean row."""
    base = VIIRS_ROWS[0].split(",")
    validated = 0
    for cell in EDGE_CELLS:
        row = ",".join([*base[:column], cell, *base[column + 1 :]])
        # Each edge row in a file of its own after a clean one (dates decades apart in one file would make the
        # analytic's arrays large). Where a path raises for the whole file, both must raise the same.
        validated += check_same(f"{VIIRS_HEADER}\n{VIIRS_ROWS[1]}\n{row}\n") >= 1
    assert validated >= len(EDGE_CELLS) // 2


@st.composite
def mutated_files(draw: st.DrawFn) -> str:
    header = VIIRS_HEADER.split(",")
    if draw(st.booleans()):
        header = [name.upper() for name in header]
    rows = [row.split(",") for row in draw(st.lists(st.sampled_from(VIIRS_ROWS), min_size=1, max_size=6))]
    for _ in range(draw(st.integers(0, 6))):
        row = draw(st.sampled_from(rows))
        cell = draw(st.integers(0, len(row) - 1))
        row[cell] = draw(st.one_of(st.sampled_from(EDGE_CELLS), st.text(max_size=12)))
    lines = [",".join(header)] + [",".join(row) for row in rows]
    for _ in range(draw(st.integers(0, 2))):
        k = draw(st.integers(1, len(lines) - 1))
        lines[k] = draw(
            st.sampled_from(
                [lines[k] + ",", lines[k].rsplit(",", 1)[0], "", "   ", '"' + lines[k] + '"', lines[k].replace(",", ',"', 1) + '"']
            )
        )
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending, ending + ending]))
    return ("\ufeff" if draw(st.booleans()) else "") + text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_files())
def test_mutated_files_give_the_same_records_and_rejections(text: str) -> None:
    check_same(text)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2023, 4, 1, 0, 5, tzinfo=UTC), 0),
        (datetime(2023, 4, 1, 1, 7, 59, 999999, tzinfo=UTC), 0),  # the first row 1 µs beyond now + 5 min
        (datetime(2023, 4, 1, 1, 8, tzinfo=UTC), 1),  # exactly at now + 5 min: allowed
        (datetime(2023, 4, 2, 23, 50, tzinfo=UTC), 3),
    ],
)
def test_times_near_now_are_left_to_the_model(now: datetime, expected: int) -> None:
    text = "\n".join([VIIRS_HEADER, *VIIRS_ROWS]) + "\n"
    assert check_same(text, now) == expected


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_blank_and_long_lines_are_numbered_and_skipped_as_the_row_decoder_does(ending: str) -> None:
    rows = [VIIRS_ROWS[0], "", " " * 5000, "\t", VIIRS_ROWS[1].replace(",N,VIIRS,", ",N" + "x" * 5000 + ",VIIRS,"), VIIRS_ROWS[2]]
    text = ending.join([VIIRS_HEADER, *rows])
    assert [row.number for row in split_rows(text)[1]] == [2, 6, 7]
    assert check_same(text) == 2


def test_a_header_repeating_a_name_is_read_the_row_way() -> None:
    assert read_columns("latitude,longitude,acq_date,latitude\n48.1,37.5,2023-04-01,49\n", NOW) is None


def _stored(data_dir: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data_dir / "truceline.db") as conn:
        return conn.execute("SELECT id, t_us, time_unc_s, lat, lon, sigma_m, cell, doc, doc_sha256 FROM observations ORDER BY id").fetchall()


def test_ingest_stores_what_the_row_path_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _real(DEMO).splitlines(keepends=True)
    text = "".join(lines[:300]) + "48.1,37.5,2023-04-0x\n" + "".join(lines[300:600]) + "\n" + "91,37.5,2023-04-01\n" + lines[5]
    path = tmp_path / "fires.csv"
    path.write_text(text)
    summaries = {}
    for way in ("columns", "rows"):
        if way == "rows":
            monkeypatch.setattr("truceline.ingest.pipeline.MAX_COLUMNAR_BYTES", -1)
        store = open_store(tmp_path / way)
        fmt, records, _, handle = open_records(path, "firms", fires=FireAnalysis())
        try:
            summaries[way] = ingest_records(store, records, IngestSummary(str(path), fmt), chunk_size=128).as_dict()
        finally:
            handle.close()
            store.close()
    assert summaries["columns"] == summaries["rows"]
    assert summaries["rows"]["rejected_count"] == 2 and summaries["rows"]["duplicates"] == 1
    assert _stored(tmp_path / "columns") == _stored(tmp_path / "rows")
    assert os.path.exists(tmp_path / "columns" / "truceline.db")
