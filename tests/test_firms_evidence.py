"""FIRMS detections as evidence: the whole real 2023 file ingests with its verdicts, and a flagged fire
corroborates a monitor's report of shelling the same day while a fire of the season does not."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.conftest import native
from typer.testing import CliRunner

from truceline.cli import app
from truceline.domain.observation import Observation
from truceline.fuse.conflict_fire import (
    CONFLICT_FIRE_ATTRIBUTE,
    REASONS,
    is_background_fire,
)
from truceline.fuse.fuser import Fuser
from truceline.ingest.firms_flags import load_baseline
from truceline.service.fusion import FusionWorker
from truceline.store.ports import IncidentQuery, ObservationQuery
from truceline.store.sqlite import open_store

MALFORMED = {
    "48.512300,37.912300": ("(row)", "expected 3 columns"),  # a column missing
    "95.000000,37.500000,2023-05-01": ("location.lat", ""),  # latitude out of range
    "48.500000,37.500000,2023-02-30": ("acq_date", ""),  # no such day
}


def _ingest(data_dir: Path, *files: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(data_dir), "--json", *extra, *map(str, files)])
    assert result.exit_code in (0, 1), result.output
    return orjson.loads(result.stdout)


@pytest.mark.slow
def test_all_rows_of_the_real_2023_file_ingest_and_malformed_rows_are_rejected_by_line(datasets: Path, tmp_path: Path) -> None:
    source = datasets / "firms-ukraine-2023.csv"
    lines = source.read_text(encoding="utf-8").splitlines()
    rows = lines[1:]
    assert len(rows) == 98_287
    # malformed rows in the middle and at the end; the rest of the file must still ingest
    bad = list(MALFORMED)
    mixed = [lines[0], *rows[:50_000], bad[0], *rows[50_000:], bad[1], bad[2]]
    target = tmp_path / "firms-2023-with-errors.csv"
    target.write_text("\n".join(mixed) + "\n", encoding="utf-8")
    summary = _ingest(tmp_path / "data", target)["files"][0]

    assert summary["format"] == "firms"
    assert summary["records"] == 98_287 + 3
    assert summary["rejected_count"] == 3
    where = {r["where"]: r for r in summary["rejected"]}
    expected_lines = {f"line {50_002}": bad[0], f"line {len(mixed) - 1}": bad[1], f"line {len(mixed)}": bad[2]}
    assert set(where) == set(expected_lines)
    for line, row in expected_lines.items():
        field, message = MALFORMED[row]
        assert where[line]["field"] == field and message in where[line]["message"]
    # identical rows in the file are accepted once and reported as duplicates
    distinct = {tuple(f"{float(x):.6f}" for x in r.split(",")[:2]) + (r.split(",")[2],) for r in rows}
    assert summary["accepted"] == 98_287
    assert summary["stored"] == len(distinct)
    assert summary["duplicates"] == 98_287 - len(distinct)
    fires = summary["conflict_fires"]
    assert fires["analysed"] == 98_287 and "2021" in fires["baseline"]
    assert 0.05 < fires["flagged"] / fires["analysed"] < 0.5

    store = open_store(tmp_path / "data")
    try:
        assert store.count_observations() == len(distinct)
        stored = store.list_observations(ObservationQuery(limit=500)).items
    finally:
        store.close()
    assert len(stored) == 500
    verdicts = [item.document["attributes"][CONFLICT_FIRE_ATTRIBUTE] for item in stored]
    assert all(v["reason"] in REASONS and isinstance(v["flagged"], bool) for v in verdicts)


def _fire(day: str, offset_days: int, flagged: bool | None, *, lat: float = 47.6012, lon: float = 36.2015) -> dict[str, Any]:
    """A VIIRS detection (10:42 UTC overpass, 375 m pixel) as the FIRMS adapter makes it."""
    when = datetime.fromisoformat(f"{day}T10:42:00+00:00").timestamp() + offset_days * 86_400
    doc: dict[str, Any] = {
        "id": f"firms-test-{offset_days}-{flagged}",
        "time": datetime.fromtimestamp(when, UTC).isoformat(),
        "time_uncertainty_s": 60.0,
        "kind": "thermal",
        "location": {"type": "point", "lat": lat, "lon": lon, "cov_m2": [[11_719.0, 0.0], [0.0, 11_719.0]]},
        "source": {"id": "nasa-firms", "type": "satellite", "org": "NASA"},
        "reliability": "B",
        "credibility": 2,
        "releasable_to": ["PUBLIC"],
        "attributes": {},
    }
    if flagged is not None:
        doc["attributes"][CONFLICT_FIRE_ATTRIBUTE] = {"flagged": flagged, "reason": REASONS[2 if flagged else 0]}
    return doc


def _monitor_report() -> dict[str, Any]:
    """A monitoring patrol's report of shelling at 05:10 UTC the same day, 300 m from the fire."""
    return native(
        id="osce-patrol-7-0031",
        time="2023-05-10T05:10:00Z",
        kind="explosion",
        location={"lat": 47.6039, "lon": 36.2020, "cep_m": 300},
        source={"id": "patrol-7", "type": "monitor", "org": "OSCE"},
        releasable_to=["PUBLIC"],
    )


@pytest.mark.parametrize(("flagged", "joins"), [(True, True), (None, True), (False, False)])
def test_a_flagged_fire_corroborates_a_monitors_report_the_same_day(flagged: bool | None, joins: bool) -> None:
    fuser = Fuser()
    fuser.add([Observation.model_validate(_monitor_report())])
    fuser.add([Observation.model_validate(_fire("2023-05-10", 0, flagged))])
    incidents = fuser.incidents()
    report = next(i for i in incidents if "osce-patrol-7-0031" in i.observation_ids)
    if joins:
        assert len(report.observation_ids) == 2
        assert set(report.source_groups) == {"OSCE/monitor", "NASA/satellite"}
        assert report.status.value == "corroborated"
        assert len(incidents) == 1
    else:  # a fire of the season is not evidence: it joins nothing and founds nothing
        assert report.observation_ids == ("osce-patrol-7-0031",)
        assert report.status.value == "detected"
        assert len(incidents) == 1
        assert fuser.stats.background_fires == 1


def test_a_flagged_fire_days_later_does_not_corroborate() -> None:
    fuser = Fuser()
    updates = fuser.add([Observation.model_validate(_monitor_report()), Observation.model_validate(_fire("2023-05-10", 2, True))])
    final = {u.incident_id: u.incident for u in [*updates, *fuser.flush()]}
    with_report = [i for i in final.values() if i is not None and "osce-patrol-7-0031" in i.observation_ids]
    assert [i.observation_ids for i in with_report] == [("osce-patrol-7-0031",)]


def test_background_means_judged_and_not_flagged() -> None:
    assert is_background_fire({CONFLICT_FIRE_ATTRIBUTE: {"flagged": False}})
    assert not is_background_fire({CONFLICT_FIRE_ATTRIBUTE: {"flagged": True}})
    assert not is_background_fire({})
    assert not is_background_fire(None)
    assert not is_background_fire({CONFLICT_FIRE_ATTRIBUTE: "no"})


def test_ingested_firms_file_and_a_monitor_report_fuse_into_one_corroborated_incident(tmp_path: Path) -> None:
    # A quiet cell (no fire near it in the 2021 baseline) burns on six days two weeks apart: war-like, flagged.
    # A field elsewhere burns once: expected for the season, kept but not fused.
    war_days = ["2023-05-01", "2023-05-02", "2023-05-03", "2023-05-08", "2023-05-09", "2023-05-10"]
    rows = ["latitude,longitude,acq_date,acq_time,scan,track,satellite,confidence"]
    rows += [f"47.6012,36.2015,{d},1042,0.39,0.36,N,n" for d in war_days]
    rows.append("50.3011,30.2011,2023-05-10,1042,0.39,0.36,N,n")
    firms = tmp_path / "fires.csv"
    firms.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = tmp_path / "patrol.json"
    report.write_text(json.dumps([_monitor_report()]), encoding="utf-8")

    data = tmp_path / "data"
    summary = _ingest(data, firms, report)
    fires = summary["files"][0]["conflict_fires"]
    assert fires == {"analysed": 7, "flagged": 6, "baseline": fires["baseline"]}
    store = open_store(data)
    try:
        FusionWorker(store).run_until_idle()
        incidents = store.list_incidents(IncidentQuery())
    finally:
        store.close()
    with_report = [i for i in incidents if "osce-patrol-7-0031" in i.observation_ids]
    assert len(with_report) == 1
    incident = with_report[0]
    assert set(incident.source_groups) == {"OSCE/monitor", "NASA/satellite"}
    assert incident.status.value == "corroborated"
    # the background fire near Kyiv founded nothing
    assert all(abs(i.lat - 50.3011) > 0.5 for i in incidents)


def test_a_bad_fire_baseline_file_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    firms = tmp_path / "fires.csv"
    firms.write_text("latitude,longitude,acq_date\n48.1,37.7,2023-05-01\n", encoding="utf-8")
    baseline = tmp_path / "baseline.csv"
    baseline.write_text("lat,lon,day\n1,2,3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path / "data"), "--fire-baseline", str(baseline), str(firms)])
    assert result.exit_code == 2
    assert "fire baseline baseline.csv" in result.output and "latitude" in result.output
    store = open_store(tmp_path / "data")
    try:
        assert store.count_observations() == 0
    finally:
        store.close()


def test_a_given_baseline_replaces_the_bundled_one(datasets: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "base-2021.csv"
    shutil.copy(datasets / "firms-ukraine-2021.csv", baseline)
    firms = tmp_path / "fires.csv"
    firms.write_text("latitude,longitude,acq_date\n48.1,37.7,2023-05-01\n", encoding="utf-8")
    summary = _ingest(tmp_path / "data", firms, extra=("--fire-baseline", str(baseline)))
    assert summary["files"][0]["conflict_fires"]["baseline"].startswith("base-2021.csv; 1 year (2021)")


def test_the_bundled_baseline_is_built_once_and_cannot_be_changed() -> None:
    first, again = load_baseline(), load_baseline()
    assert again is first and first.label.startswith("NASA FIRMS 2021, Ukraine (bundled); 1 year (2021)")
    for array in (first.baseline.score, first.baseline.block_activity, first.baseline.persistent_cells):
        with pytest.raises(ValueError, match="read-only"):
            array[(0,) * array.ndim] = 1


@pytest.mark.parametrize(
    ("bad_row", "field", "reason"),
    [
        # ISO 8601's basic and week forms: date.fromisoformat reads them since 3.11, numpy read 20230401 as the
        # year 20,230,401 and the fire analytic asked for 55 GiB; FIRMS writes YYYY-MM-DD only
        ("48.500000,37.500000,20230401", "acq_date", "not a valid YYYY-MM-DD date"),
        ("48.500000,37.500000,2023-W13-6", "acq_date", "not a valid YYYY-MM-DD date"),
        # a carriage return inside an unquoted cell: csv.reader raised for the whole file
        ("48.500000\r,37.500000,2023-04-01", "(row)", "carriage return or line break inside an unquoted cell"),
    ],
)
def test_a_malformed_row_is_rejected_alone_not_the_file(tmp_path: Path, bad_row: str, field: str, reason: str) -> None:
    firms = tmp_path / "fires.csv"
    firms.write_text(f"latitude,longitude,acq_date\n48.400000,37.400000,2023-04-01\n{bad_row}\n48.600000,37.600000,2023-04-02\n", newline="")
    summary = _ingest(tmp_path / "data", firms)["files"][0]
    assert summary["accepted"] == 2, summary
    [rejection] = summary["rejected"]
    assert rejection["where"] == "line 3" and rejection["field"] == field and reason in rejection["message"], rejection
