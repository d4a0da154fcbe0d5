"""The `truceline` command line: ingest of native JSON, JSON Lines, GeoJSON and FIRMS; demo loading; bench."""

from __future__ import annotations

import gc
import gzip
import json
import os
import stat
from pathlib import Path

import orjson
import pytest
from tests.conftest import native
from typer.testing import CliRunner

from truceline.cli import app
from truceline.store.sqlite import open_store

runner = CliRunner()


def ingest(data_dir: Path, *files: Path, fmt: str = "auto") -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(app, ["ingest", "--data-dir", str(data_dir), "--format", fmt, "--json", *map(str, files)])
    return result.exit_code, json.loads(result.stdout)


def count(data_dir: Path) -> int:
    store = open_store(data_dir)
    try:
        return store.count_observations()
    finally:
        store.close()


def test_ingest_json_array_with_bad_items_keeps_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_bytes(orjson.dumps([native(id="a"), native(id="b", location={"lat": 95, "lon": 1}), native(id="c")]))
    code, summary = ingest(tmp_path / "d", path)
    assert code == 1
    (file,) = summary["files"]
    assert file["format"] == "json" and file["accepted"] == 2 and file["rejected_count"] == 1
    assert file["rejected"] == [{"where": "item 2", "field": "location.lat", "message": "Input should be less than or equal to 90", "value": "95"}]
    assert count(tmp_path / "d") == 2


def test_ingest_json_lines_reports_line_numbers_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    lines = [orjson.dumps(native(id=f"l{i}")) for i in range(5)]
    lines.insert(2, b'{"id": "broken", ')
    lines.insert(4, b"")
    lines.append(orjson.dumps(native(id="naive", time="2023-04-02T03:15:00")))
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, summary = ingest(tmp_path / "d", path)
    file = summary["files"][0]
    assert code == 1 and file["format"] == "jsonl" and file["stored"] == 5
    assert [(r["where"], r["field"]) for r in file["rejected"]] == [("line 3", "(record)"), ("line 8", "time")]
    code, summary = ingest(tmp_path / "d", path)
    assert summary["files"][0]["stored"] == 0 and summary["files"][0]["duplicates"] == 5
    assert count(tmp_path / "d") == 5


def test_ingest_geojson_maps_lon_lat_order(tmp_path: Path) -> None:
    feature = lambda fid, coords, **props: {  # noqa: E731
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": coords},
        "properties": {k: v for k, v in native(**props).items() if k not in ("id", "location")} | {"cep_m": 50},
    }
    doc = {
        "type": "FeatureCollection",
        "features": [
            feature("g1", [37.712, 48.105]),
            feature("g2", [37.0, 48.0, 120.0]),
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}, "properties": {}},
        ],
    }
    path = tmp_path / "obs.geojson"
    path.write_text(json.dumps(doc))
    code, summary = ingest(tmp_path / "d", path)
    assert code == 1 and summary["files"][0]["stored"] == 2
    assert summary["files"][0]["rejected"][0]["where"] == "feature 3"  # the third: places count from 1, like lines
    assert "Point" in summary["files"][0]["rejected"][0]["message"]
    store = open_store(tmp_path / "d")
    loc = store.get_observation("g1").document["location"]  # type: ignore[union-attr]
    assert (loc["lat"], loc["lon"], loc["cep_m"]) == (48.105, 37.712, 50.0)
    assert store.get_observation("g2").document["location"]["alt_m"] == 120.0  # type: ignore[union-attr]
    store.close()


def test_unreadable_file_is_exit_2_and_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"id": "a", ')
    code, summary = ingest(tmp_path / "d", path)
    assert code == 2 and "malformed JSON at line 1" in summary["files"][0]["error"]
    assert count(tmp_path / "d") == 0
    csv = tmp_path / "other.csv"
    csv.write_text("a,b,c\n1,2,3\n")
    code, summary = ingest(tmp_path / "d", csv)
    assert code == 2 and "header" in summary["files"][0]["error"]


def test_firms_rows_are_checked_one_by_one(tmp_path: Path, datasets: Path) -> None:
    source = (datasets / "firms-ukraine-2023.csv").read_text().splitlines()
    rows = source[:201] + ["95.0,30.0,2023-01-02", "48.1,37.7,2023-02-30", "48.1,37.7", source[1]]
    path = tmp_path / "firms.csv"
    path.write_text("\n".join(rows) + "\n")
    code, summary = ingest(tmp_path / "d", path)
    file = summary["files"][0]
    assert code == 1 and file["format"] == "firms"
    assert file["stored"] == len(set(source[1:201])) and file["duplicates"] >= 1
    rejected = {r["where"]: r for r in file["rejected"]}
    assert rejected["line 202"]["field"] == "location.lat"
    assert rejected["line 203"]["field"] == "acq_date" and "2023-02-30" in rejected["line 203"]["message"]
    assert rejected["line 204"]["field"] == "(row)"


def test_firms_viirs_and_modis_layouts(tmp_path: Path) -> None:
    viirs = tmp_path / "viirs.csv"
    viirs.write_text(
        "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight\n"
        "48.12345,37.54321,330.5,0.39,0.36,2023-04-02,0142,N,VIIRS,h,2.0NRT,290.1,5.2,N\n"
    )
    modis = tmp_path / "modis.csv"
    modis.write_text(
        "LATITUDE,LONGITUDE,BRIGHTNESS,SCAN,TRACK,ACQ_DATE,ACQ_TIME,SATELLITE,CONFIDENCE,VERSION,BRIGHT_T31,FRP,DAYNIGHT\n"
        "47.5,35.1,310.2,1.2,1.1,2023-04-03,856,Aqua,77,6.1NRT,290.0,12.0,D\n"
    )
    code, summary = ingest(tmp_path / "d", viirs, modis)
    assert code == 0 and [f["stored"] for f in summary["files"]] == [1, 1]
    store = open_store(tmp_path / "d")
    docs = [item.document for item in store.list_observations(__import__("truceline.store.ports", fromlist=["x"]).ObservationQuery()).items]
    store.close()
    by_sat = {d["attributes"]["satellite"]: d for d in docs}
    assert by_sat["N"]["time"] == "2023-04-02T01:42:00Z" and by_sat["N"]["attributes"]["confidence"] == "high"
    assert by_sat["Aqua"]["time"] == "2023-04-03T08:56:00Z" and by_sat["Aqua"]["attributes"]["confidence"] == "77"
    cov = by_sat["N"]["location"]["cov_m2"]
    assert cov[0][0] == pytest.approx((390 / 12**0.5) ** 2) and cov[1][1] == pytest.approx((360 / 12**0.5) ** 2)


def test_demo_loads_the_bundled_sample_which_matches_the_source(tmp_path: Path, datasets: Path) -> None:
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo"), "--load-only"])
    assert result.exit_code == 0, result.output
    source_rows = [
        line for line in (datasets / "firms-ukraine-2023.csv").read_text().splitlines()[1:] if "2023-04-01" <= line.split(",")[2] <= "2023-06-30"
    ]
    store = open_store(tmp_path / "demo")
    summary = store.summarize_observations()
    store.close()
    # every FIRMS row is one thermal observation; the simulated week adds no thermal ones (tests/test_demo.py)
    assert summary["by_kind"]["thermal"] == len(set(source_rows))
    assert summary["first_time"].startswith("2023-04-01") and summary["last_time"].startswith("2023-06-30")
    assert stat.S_IMODE(os.stat(tmp_path / "demo" / "admin.key").st_mode) == 0o600
    again = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo"), "--load-only"])
    assert again.exit_code == 0 and "0 new" in again.output.replace("\n", " ")


def test_bundled_sample_is_unchanged_source_data(datasets: Path) -> None:
    from importlib import resources

    bundled = gzip.decompress(resources.files("truceline.data.demo").joinpath("firms-ukraine-2023-04-06.csv.gz").read_bytes()).decode()
    source = (datasets / "firms-ukraine-2023.csv").read_text().splitlines()
    expected = [source[0]] + [line for line in source[1:] if "2023-04-01" <= line.split(",")[2] <= "2023-06-30"]
    assert bundled.splitlines() == expected


def test_unknown_benchmark_is_a_clear_error() -> None:
    result = runner.invoke(app, ["bench", "no-such-bench"])
    assert result.exit_code == 2 and "no benchmark" in result.output


def test_fuse_command_fuses_what_was_ingested_and_only_once(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    docs = [
        native(id="f1", location={"lat": 48.1, "lon": 37.7, "cep_m": 50}),
        native(id="f2", location={"lat": 48.1002, "lon": 37.7001, "cep_m": 50}, source={"id": "fr-r", "type": "radar", "org": "FR"}),
        native(id="f3", location={"lat": 47.0, "lon": 36.0, "cep_m": 50}),
    ]
    path.write_bytes(b"\n".join(orjson.dumps(d) for d in docs))
    data = tmp_path / "d"
    assert ingest(data, path)[0] == 0
    thresholds = gc.get_threshold()
    first = runner.invoke(app, ["fuse", "--data-dir", str(data)])
    assert first.exit_code == 0 and "fused 3 observations" in first.output
    assert gc.get_threshold() == thresholds  # fusing raised the collector's threshold while it ran, not after
    again = runner.invoke(app, ["fuse", "--data-dir", str(data)])
    assert "fused 0 observations" in again.output
    from truceline.store.ports import IncidentQuery

    store = open_store(data)
    incidents = store.list_incidents(IncidentQuery())
    store.close()
    assert sorted(len(i.observation_ids) for i in incidents) == [1, 2]
