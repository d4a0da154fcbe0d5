"""`truceline ingest --format auto`: each format recognised by content, and bad files refused with nothing stored."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from conftest import native
from test_ingest_acled import ROW, acled
from test_ingest_sensorthings import datastream, observation
from truceline.cli import app
from truceline.ingest import pipeline
from truceline.store.ports import ObservationQuery
from truceline.store.sqlite import open_store

runner = CliRunner()


def ingest(data_dir: Path, *files: Path, fmt: str = "auto") -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["ingest", "--data-dir", str(data_dir), "--format", fmt, "--json", *map(str, files)])
    return result.exit_code, orjson.loads(result.stdout)


def stored(data_dir: Path) -> int:
    store = open_store(data_dir)
    try:
        return store.count_observations()
    finally:
        store.close()


def firms_csv() -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [["latitude", "longitude", "acq_date", "acq_time"], ["48.1", "37.7", "2023-04-02", "0312"]]
    )
    return out.getvalue().encode()


def geojson_with_long_preamble() -> bytes:
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.712, 48.105]},
               "properties": {k: v for k, v in native(id="gj-1").items() if k != "location"}}
    return orjson.dumps({"name": "x" * 10_000, "type": "FeatureCollection", "features": [feature]})


CASES: list[tuple[str, bytes, str]] = [
    ("obs.json", orjson.dumps([native(id="n-1", attributes={"note": '"Feature" "FeatureCollection"'})]), "json"),
    ("obs.jsonl", orjson.dumps(native(id="l-1")) + b"\n" + orjson.dumps(native(id="l-2")) + b"\n", "jsonl"),
    ("fc.json", geojson_with_long_preamble(), "geojson"),
    ("sta.json", orjson.dumps({"value": [observation(Datastream=datastream(), FeatureOfInterest={
        "feature": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.7, 48.1]}}})]}), "sensorthings"),
    ("ds-export", orjson.dumps(datastream(Observations=[observation()])), "sensorthings"),
    ("acled.csv", acled(ROW), "acled"),
    ("acled-export.txt.csv", acled(ROW), "acled"),
    ("fires.csv", firms_csv(), "firms"),
]


@pytest.mark.parametrize(("name", "content", "expected"), CASES, ids=[c[0] for c in CASES])
def test_auto_recognises_each_format(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, summary = ingest(tmp_path / "data", path)
    (entry,) = summary["files"]
    assert entry["format"] == expected
    assert code == 0 and entry["rejected"] == [] and entry["accepted"] == entry["records"] >= 1


def test_json_summary_lists_each_rejection_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(acled(ROW, {**ROW, "event_id_cnty": "X2", "geo_precision": "9"}, {**ROW, "event_id_cnty": "X3", "latitude": "95"}))
    code, summary = ingest(tmp_path / "data", path)
    (entry,) = summary["files"]
    assert code == 1
    assert (entry["records"], entry["accepted"], entry["rejected_count"]) == (3, 1, 2)
    assert [(r["where"], r["field"]) for r in entry["rejected"]] == [("line 4", "geo_precision"), ("line 6", "location.lat")]  # each row spans two lines (its note does)
    sta = tmp_path / "sta.json"
    sta.write_bytes(orjson.dumps(datastream(Observations=[observation(), observation(**{"@iot.id": 2}, phenomenonTime="nope")])))
    code, summary = ingest(tmp_path / "data", sta)
    assert [(r["where"], r["field"]) for r in summary["files"][0]["rejected"]] == [("$.Observations[1]", "time")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nan.json", b'[{"id": "a", "time_uncertainty_s": NaN}]', "line 1 column"),
        ("deep.json", b"[" * 5000 + b"]" * 5000, "depth limit"),
        ("latin1.csv", acled(ROW, {**ROW, "event_id_cnty": "Z", "location": "Kyïv"}).decode().encode("latin-1"), "line 4 is not UTF-8"),
        ("utf16.csv", acled(ROW).decode().encode("utf-16"), "UTF-16"),
        ("wrong.csv", b"id,date,lat,lon\n1,2023-04-02,48,37\n", "ACLED needs event_id_cnty"),
        ("acled-missing.csv", acled(ROW, columns=tuple(c for c in ROW if c != "fatalities")), "missing fatalities"),
        ("noise.bin", b"\x00\x01binary", "cannot tell the format"),
    ],
)
def test_unreadable_files_are_refused_whole_and_nothing_is_stored(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, summary = ingest(tmp_path / "data", path)
    assert code == 2
    assert message in summary["files"][0]["error"]
    assert stored(tmp_path / "data") == 0


def test_whole_document_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "MAX_DOCUMENT_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_bytes(orjson.dumps([native(id=f"b-{i}") for i in range(10)]))
    code, summary = ingest(tmp_path / "data", path)
    assert code == 2 and "use JSON Lines" in summary["files"][0]["error"]
    assert stored(tmp_path / "data") == 0


def test_explicit_formats_are_honoured(tmp_path: Path) -> None:
    path = tmp_path / "events.dat"
    path.write_bytes(acled(ROW))
    code, summary = ingest(tmp_path / "data", path, fmt="acled")
    assert code == 0 and summary["files"][0]["format"] == "acled"
    code, summary = ingest(tmp_path / "data2", path, fmt="sensorthings")
    assert code == 2 and "malformed JSON" in summary["files"][0]["error"]


def test_sensorthings_export_without_owner_is_stored_under_the_operators_org(tmp_path: Path) -> None:
    path = tmp_path / "national-server.json"
    path.write_bytes(orjson.dumps({"value": [datastream(properties={}, Observations=[observation()])]}))
    code, summary = ingest(tmp_path / "data", path)
    assert summary["files"][0]["rejected_count"] == 1 and stored(tmp_path / "data") == 0
    result = runner.invoke(app, ["ingest", "--data-dir", str(tmp_path / "data"), "--org", "PL", "--json", str(path)])
    assert result.exit_code == 0, result.stdout
    store = open_store(tmp_path / "data")
    try:
        (obs,) = store.list_observations(ObservationQuery()).items
    finally:
        store.close()
    assert obs.document["source"]["org"] == "PL" and obs.document["releasable_to"] == ["PL"]
