"""ACLED export: export → import keeps places, dates and counts; each reader and audience sees only its share."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import ApiClient, native
from truceline.access.policy import Role
from truceline.cli import app
from truceline.ingest.acled import decode_acled_bytes
from truceline.ingest.records import Record
from truceline.ingest.validation import validate_batch, validation_context
from truceline.report.acled_export import EXPORT_COLUMNS, geo_precision, time_precision
from truceline.service.fusion import FusionWorker
from truceline.store.sqlite import open_store

runner = CliRunner()


def spread(n: int, releasable_to: list[str], prefix: str) -> list[dict[str, Any]]:
    """``n`` observations far apart in space and time, so each is its own incident."""
    return [
        native(
            id=f"{prefix}-{i}",
            time=f"2023-04-{2 + i:02d}T{(3 * i) % 24:02d}:15:00Z",
            location={"lat": 46.6 + 0.4 * i, "lon": 35.1 + 0.5 * i, "cep_m": 150 + 900 * i},
            releasable_to=releasable_to,
        )
        for i in range(n)
    ]


def seeded_store(data_dir: Path) -> None:
    store = open_store(data_dir)
    try:
        from truceline.domain.observation import Observation

        docs = spread(5, ["PUBLIC"], "pub") + spread(3, ["COALITION"], "coa")
        for doc in docs[5:]:
            doc["location"] = {**doc["location"], "lon": doc["location"]["lon"] + 2.0}
        store.add_observations([Observation.model_validate(d, context=validation_context()) for d in docs])
        FusionWorker(store).run_until_idle()
    finally:
        store.close()


def export(data_dir: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    result = runner.invoke(app, ["export", "acled", "--data-dir", str(data_dir), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
        return list(reader)


def test_export_then_import_keeps_places_times_and_counts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seeded_store(data)
    store = open_store(data)
    try:
        from truceline.store.ports import IncidentQuery

        incidents = {i.id: i for i in store.list_incidents(IncidentQuery(limit=1000))}
    finally:
        store.close()
    assert len(incidents) == 8
    rows = export(data, tmp_path / "coalition.csv", "--audience", "coalition")
    assert len(rows) == 8
    items = list(decode_acled_bytes((tmp_path / "coalition.csv").read_bytes()))
    observations, errors = validate_batch([i.value for i in items if isinstance(i, Record)], validation_context())
    assert not errors and len(observations) == len(incidents)
    for obs in observations:
        incident = incidents[obs.attributes["acled_event_id"]]
        assert obs.point == pytest.approx((incident.lat, incident.lon), abs=1e-5)
        assert obs.time.date() == incident.time.date()
        assert abs((obs.time - incident.time).total_seconds()) <= obs.time_uncertainty_s
        assert int(obs.location.precision) == {1: 1, 2: 2, 3: 4}[geo_precision(incident.sigma_m)]
        assert obs.sigma_m >= min(incident.sigma_m, 2_000.0)  # never more precise than the incident, beyond ACLED's finest
    # and the CLI ingests its own export as a new ACLED source
    result = runner.invoke(app, ["ingest", "--data-dir", str(tmp_path / "other"), "--json", str(tmp_path / "coalition.csv")])
    assert result.exit_code == 0, result.output
    assert '"format": "acled"' in result.stdout and '"accepted": 8' in result.stdout


def test_audiences_see_only_what_is_releasable_to_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seeded_store(data)
    public = export(data, tmp_path / "public.csv")
    coalition = export(data, tmp_path / "coalition.csv", "--audience", "coalition")
    assert len(public) == 5 and len(coalition) == 8
    assert {r["event_id_cnty"] for r in public} < {r["event_id_cnty"] for r in coalition}
    result = runner.invoke(app, ["export", "acled", "--data-dir", str(data), "--out", "-", "--since", "2023-04-04T00:00:00Z",
                                 "--until", "2023-04-05T00:00:00Z"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))  # one public and one coalition incident on 4 April
    assert [r["event_date"] for r in rows] == ["2023-04-04"]


def test_bad_options_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seeded_store(data)
    for extra, message in ((["--audience", "everyone"], "'everyone' is not one of"), (["--since", "2023-04-01"], "UTC offset"),
                           (["--violations"], "agreement in force")):
        result = runner.invoke(app, ["export", "acled", "--data-dir", str(data), "--out", str(tmp_path / "x.csv"), *extra])
        assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.csv").exists()


def test_http_export_follows_the_readers_releasability(api: ApiClient) -> None:
    docs = spread(2, ["PUBLIC"], "pub") + [native(id="ua-only", time="2023-04-20T10:00:00Z", location={"lat": 49.5, "lon": 36.2, "cep_m": 100},
                                                  releasable_to=["UA"])]
    assert api.client.post("/api/v1/observations", json=docs, headers=api.auth).status_code == 201
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(api.client.get("/api/v1/incidents", headers=api.auth).json()["features"]) < 3:
        time.sleep(0.1)
    _, fr_key = api.store.create_api_key("FR", Role.OBSERVER)
    admin = api.client.get("/api/v1/exports/acled", headers=api.auth)
    fr = api.client.get("/api/v1/exports/acled", headers={"Authorization": f"Bearer {fr_key}"})
    assert admin.status_code == fr.status_code == 200
    assert admin.headers["content-type"].startswith("text/csv")
    admin_rows, fr_rows = (list(csv.DictReader(io.StringIO(r.text))) for r in (admin, fr))
    assert len(admin_rows) == 3 and len(fr_rows) == 2
    assert all(r["event_date"] != "2023-04-20" for r in fr_rows)
    assert api.client.get("/api/v1/exports/acled", params={"since": "2023-04-01T00:00:00"}, headers=api.auth).status_code == 422
    assert api.client.get("/api/v1/exports/acled").status_code == 401


def test_precision_codes() -> None:
    from datetime import datetime

    assert [geo_precision(s) for s in (150, 2_000, 2_001, 8_000, 8_001)] == [1, 1, 2, 2, 3]
    noon = datetime(2023, 4, 2, 12, tzinfo=UTC)
    late = datetime(2023, 4, 2, 23, 50, tzinfo=UTC)
    assert [time_precision(s, noon) for s in (0, 60, 43_200, 43_201, 302_400, 302_401)] == [1, 1, 1, 2, 2, 3]
    assert time_precision(3_600, late) == 2  # the hour around 23:50 crosses midnight: the day is not certain
