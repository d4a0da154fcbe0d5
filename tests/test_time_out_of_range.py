"""Times whose UTC offset carries them past year 1 or 9999 are refused with a reason, not a crash.

``datetime.astimezone`` raises OverflowError for 0001-01-01T00:30:00+01:00 (it would be year 0 in UTC) and for
9999-12-31T23:30:00-01:00 (year 10000). Every path that turns a sender's time into UTC must refuse such a time
the way it refuses any other bad field, and keep the good records beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from tests.conftest import ApiClient, native
from typer.testing import CliRunner

from truceline.cli import app
from truceline.ingest.modes import decode_sbs
from truceline.ingest.records import Rejection
from truceline.ingest.sensorthings import decode_sensorthings

OUT_OF_RANGE = ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "9999-12-31T23:59:60-01:00"]
REASON = "outside the years 1-9999"


def _ingest(data_dir: Path, path: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(data_dir), "--json", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("shape", ["json", "jsonl"])
def test_file_ingest_refuses_each_such_time_and_keeps_the_rest(tmp_path: Path, shape: str) -> None:
    records = [native(id="good")] + [native(id=f"far-{n}", time=t) for n, t in enumerate(OUT_OF_RANGE)]
    path = tmp_path / f"batch.{shape}"
    if shape == "json":
        path.write_bytes(orjson.dumps(records))
    else:
        path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    code, summary = _ingest(tmp_path / "d", path)
    (file,) = summary["files"]
    assert code == 1 and file["stored"] == 1 and file["rejected_count"] == 3
    for rejection, given in zip(file["rejected"], OUT_OF_RANGE, strict=True):
        assert rejection["field"] == "time" and REASON in rejection["message"] and given in rejection["message"]


def test_http_batch_with_such_a_time_is_refused_whole_with_its_index(api: ApiClient) -> None:
    batch = [native(id="ok"), native(id="far", time=OUT_OF_RANGE[0])]
    response = api.client.post(
        "/api/v1/observations", content=orjson.dumps(batch), headers={**api.auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["index"] == 1 and error["field"] == "time" and REASON in error["message"]
    assert api.store.count_observations() == 0


def _sensorthings(times: list[str]) -> bytes:
    thing = {"name": "array", "Locations": [{"location": {"type": "Point", "coordinates": [37.7, 48.1]}}]}
    datastream = {
        "name": "blasts", "properties": {"org": "UA", "source_type": "acoustic"},
        "ObservedProperty": {"name": "explosion"}, "Sensor": {"name": "array"}, "Thing": thing,
    }
    return orjson.dumps({"value": [
        {"@iot.id": n, "phenomenonTime": t, "result": 1, "Datastream": datastream} for n, t in enumerate(times)
    ]})


def test_sensorthings_interval_out_of_range_is_a_refusal() -> None:
    intervals = [f"{OUT_OF_RANGE[0]}/2023-04-02T03:15:00Z", f"2023-04-02T03:15:00Z/{OUT_OF_RANGE[1]}"]
    items = list(decode_sensorthings(_sensorthings(intervals)))
    assert len(items) == 2
    for item in items:
        assert isinstance(item, Rejection) and item.field == "phenomenonTime" and REASON in item.message


def test_sensorthings_file_with_such_times_is_ingested_without_them(tmp_path: Path) -> None:
    path = tmp_path / "sta.json"
    path.write_bytes(_sensorthings(["2023-04-02T03:15:00Z", *OUT_OF_RANGE[:2], f"{OUT_OF_RANGE[0]}/2023-04-02T03:15:00Z"]))
    code, summary = _ingest(tmp_path / "d", path)
    (file,) = summary["files"]
    assert code == 1 and file["stored"] == 1 and file["rejected_count"] == 3
    assert all(REASON in rejection["message"] for rejection in file["rejected"])


def test_sbs_time_that_leaves_the_calendar_in_utc_is_a_rejected_line() -> None:
    # New York is UTC-5: the feeder's last second of 9999 is 10000-01-01 in UTC.
    row = "MSG,3,1,1,508035,1,9999/12/31,23:59:59.000,9999/12/31,23:59:59.000,,36000,,,48.5,35.0,,,0,,0,0"
    good = "MSG,3,1,1,508035,1,2024/06/01,15:30:00.500,2024/06/01,15:30:00.500,,36000,,,48.5,35.0,,,0,,0,0"
    report = decode_sbs(f"{row}\n{good}\n".encode(), "feed.sbs", tz="America/New_York")
    assert len(report.points) == 1 and [n for n, _ in report.rejected] == [1]
    assert REASON in report.rejected[0][1]
