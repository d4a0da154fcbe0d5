"""``ingest --format text``: reports in a file become observations; unusable reports are rejected precisely."""

from __future__ import annotations

import orjson
import pytest
from tests.testdata import shared_or_skip

from truceline.ingest.pipeline import IngestSummary, ingest_records
from truceline.ingest.records import FormatError, Record, Rejection
from truceline.ingest.text import decode_text
from truceline.store.sqlite import SqliteStore

REPORT = {
    "text": "Russian drones hit Kupiansk overnight; three people were injured, according to the regional governor.",
    "published_at": "2023-04-03T06:00:00Z",
    "source": {"id": "gov-kharkiv", "type": "official", "org": "UA"},
}


def test_json_lines_reports_become_records() -> None:
    items = list(decode_text(orjson.dumps(REPORT) + b"\n\n" + orjson.dumps({**REPORT, "published_at": "2023-04-04T06:00:00Z"})))
    assert all(isinstance(i, Record) for i in items) and len(items) == 2
    assert items[0].where == "line 1, observation 1" and items[1].where == "line 3, observation 1"
    assert items[0].value["location"]["name"] == "Kupyansk" and items[0].value["attributes"]["injured"] == 3


def test_a_report_without_publication_time_is_one_precise_rejection() -> None:
    bad = {k: v for k, v in REPORT.items() if k != "published_at"}
    (item,) = list(decode_text(orjson.dumps(bad)))
    assert isinstance(item, Rejection) and item.field == "published_at" and item.where == "line 1"


def test_a_naive_publication_time_is_rejected() -> None:
    (item,) = list(decode_text(orjson.dumps({**REPORT, "published_at": "2023-04-03T06:00:00"})))
    assert isinstance(item, Rejection) and item.field == "published_at"


def test_headed_plain_text_report_from_the_seed_articles() -> None:
    seed = next(shared_or_skip("seeds").glob("001_*.txt")).read_text(encoding="utf-8")
    data = f"Published-At: 2025-08-20T20:00:00+02:00\nSource-Id: seed-001\nOrg: PRESS\nReleasable-To: PUBLIC\n\n{seed}".encode()
    records = [i.value for i in decode_text(data) if isinstance(i, Record)]
    assert {r["location"]["name"] for r in records} >= {"Sumy", "Odesa"}
    assert all(r["releasable_to"] == ["PUBLIC"] for r in records)


def test_plain_text_without_headers_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="header"):
        list(decode_text(b"Only a sentence about Kharkiv."))


def test_a_bad_header_names_its_line() -> None:
    with pytest.raises(FormatError, match="header line 2"):
        list(decode_text(b"Published-At: 2023-04-03T06:00:00Z\nColour: blue\n\ntext"))


def test_records_are_stored_through_the_ingest_pipeline(store: SqliteStore) -> None:
    summary = ingest_records(store, decode_text(orjson.dumps([REPORT])), IngestSummary("reports.json", "text"))
    assert summary.rejected_count == 0 and summary.stored == 1
    again = ingest_records(store, decode_text(orjson.dumps([REPORT])), IngestSummary("reports.json", "text"))
    assert again.stored == 0 and again.duplicates == 1
