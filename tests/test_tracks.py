"""Tracks end to end: AIS in, ledger coverage, GET /tracks and /tracks/{id}, air and sea violations and incidents.

Vessel samples: GPSD's test/sample.aivdm (real traffic, see tests/data/ais/SOURCES.md) with GPSD's own decoding
as the expected values; zone scenarios are encoded with pyais's encoder (tests/airsea_fixtures.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from tests.airsea_fixtures import T0, position, static

from truceline.ledger.canonical import canonical_json, leaf_bytes, parse_leaf
from truceline.service.airsea import TrackChecker
from truceline.service.track_intake import TrackOptions, ingest_track_file
from truceline.store.tracks import add_track_points, list_findings
from truceline.track.model import TrackPoint
from truceline.verify.agreement_loader import load_demo_agreement

DATA = Path(__file__).parent / "data" / "ais"


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    return load_demo_agreement()


def _put_demo(store, agreement) -> None:  # type: ignore[no-untyped-def]
    store.save_agreement(agreement.canonical_document(), agreement.digest(), "test")


def test_gpsd_sample_tracks_over_http(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = api.store.ledger_size()
    corrupted = b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CR,0*4A\n"  # last payload character changed
    truncated = b"!AIVDM,1,1,,A,16SteH0P00Jt63hHaa6SagvJ087r,0\n"
    path = tmp_path / "sample.aivdm"
    path.write_bytes((DATA / "gpsd_sample.aivdm").read_bytes() + corrupted + truncated)
    summary = ingest_track_file(api.store, path, "ais", TrackOptions())
    assert summary.checksum_errors == 1 and summary.rejected_count == 6  # 4 odd lines of the sample + ours
    assert api.store.ledger_size() - before == summary.leaves > 0

    body = api.client.get("/api/v1/tracks", params={"kind": "vessel", "limit": 1000}, headers=api.auth).json()
    by_id = {f["id"]: f for f in body["features"]}
    assert len(by_id) == len(summary.tracks)
    expected = json.loads((DATA / "gpsd_sample.aivdm.js.chk").read_text().splitlines()[0])  # type 1, MMSI 371798000
    f = by_id["vessel:371798000"]
    assert f["properties"]["mmsi"] == 371798000 and f["properties"]["state"] == "PA"  # MID 371: Panama
    assert f["geometry"]["coordinates"] == pytest.approx([expected["lon"], expected["lat"]], abs=1e-6)
    ever = by_id["vessel:351759000"]["properties"]  # the type 5 of GPSD's sample
    assert ever["name"] == "EVER DIADEM" and ever["callsign"] == "3FOF8" and ever["imo"] == 9134270
    assert ever["state"] == "PA" and ever["positions"] == 0 and by_id["vessel:351759000"]["geometry"] is None

    detail = api.client.get("/api/v1/tracks/vessel:371798000", headers=api.auth).json()
    assert detail["properties"]["points"][0]["lat"] == pytest.approx(expected["lat"], abs=1e-6)
    assert detail["properties"]["points"][0]["speed_mps"] == pytest.approx(expected["speed"] * 1852 / 3600, abs=1e-3)
    assert api.client.get("/api/v1/tracks/371798000", headers=api.auth).json()["id"] == "vessel:371798000"
    assert api.client.get("/api/v1/tracks/vessel:12", headers=api.auth).status_code == 422
    assert api.client.get("/api/v1/tracks/vessel:999999999", headers=api.auth).status_code == 404
    assert api.client.get("/api/v1/tracks", params={"kind": "aircraft"}, headers=api.auth).json()["features"] == []
    box = api.client.get("/api/v1/tracks", params={"bbox": "-124,48,-123,49"}, headers=api.auth).json()
    assert "vessel:371798000" in {x["id"] for x in box["features"]} and len(box["features"]) < len(by_id)
    assert api.client.get("/api/v1/tracks", headers={}).status_code == 401

    again = ingest_track_file(api.store, path, "ais", TrackOptions())  # idempotent: nothing new, no new leaf
    assert again.stored == 0 and again.leaves == 0


def test_track_minute_leaf_commits_to_raw_messages(store) -> None:  # type: ignore[no-untyped-def]
    data = position(272000001, 45.5, 31.5, T0) + position(272000001, 45.5, 31.52, T0 + timedelta(seconds=20))
    path_points = __import__("truceline.ingest.ais", fromlist=["decode_ais"]).decode_ais(data, "t").points
    result = add_track_points(store, path_points, "test")
    assert result.leaves == 1 and result.stored == 2  # same track, same minute: one leaf
    index, salt, doc = store._reader().execute("SELECT ledger_index, salt, doc FROM track_minutes").fetchone()
    leaf = parse_leaf(store.ledger_leaf(index))
    assert leaf.type == "track" and leaf.body["messages"] == 2
    assert leaf.body["commitment"] == "sha256:" + hashlib.sha256(bytes(salt) + doc.encode()).hexdigest()
    assert [m["raw"] for m in orjson.loads(doc)["messages"]] == [p.raw for p in path_points]
    # written with orjson for speed: byte for byte the RFC 8785 form (tag blocks carry backslashes)
    assert doc.encode() == canonical_json(orjson.loads(doc)) and "\\" in doc
    assert store.ledger_leaf(index) == leaf_bytes("track", leaf.body)


def test_vessels_in_exclusion_zone_and_track_incidents(api, tmp_path: Path, demo) -> None:  # type: ignore[no-untyped-def]
    _put_demo(api.store, demo)
    t = T0
    feed = b"".join([
        static(272000001, "KYIV STAR", "UXAB", t),
        position(272000001, 45.95, 31.5, t),                      # UA flag, outside the zone (north of 45.9) ...
        position(272000001, 45.88, 31.5, t + timedelta(minutes=15)),  # ... then inside: one violation (UA)
        position(272000001, 45.87, 31.51, t + timedelta(minutes=16)),  # still inside: no second violation
        position(273000002, 45.3, 31.2, t),                       # RU flag inside: violation (RU)
        position(271000003, 45.4, 31.3, t),                       # TR flag inside: not a party, no violation
        position(200123456, 45.6, 31.4, t),                       # MID 200 unallocated: no valid flag, undetermined
        position(272000009, 44.0, 36.0, t),                       # UA flag far away: nothing
        position(273000002, 45.3, 31.3, t + timedelta(minutes=40)),  # RU vessel silent 40 min inside: AIS gap
        position(272000010, 48.5, 32.0, t),                       # a "vessel" in central Ukraine: position on land
        position(272000011, 45.0, 30.0, t),                       # jumps 150 km in 10 s: two places
        position(272000011, 44.0, 31.5, t + timedelta(seconds=10)),
    ])
    path = tmp_path / "zone.nmea"
    path.write_bytes(feed)
    checker = TrackChecker(api.store)
    summary = ingest_track_file(api.store, path, "ais", TrackOptions(), on_stored=checker.check)
    assert summary.rejected_count == 0

    body = api.client.get("/api/v1/violations", headers=api.auth).json()
    track_v = [f["properties"] for f in body["features"] if f["properties"].get("track")]
    got = sorted((v["track"], v["party"], v["rule_id"]) for v in track_v)
    assert got == [("vessel:200123456", "undetermined", "maritime-exclusion"),
                   ("vessel:272000001", "UA", "maritime-exclusion"),
                   ("vessel:273000002", "RU", "maritime-exclusion")]
    ua = next(v for v in track_v if v["party"] == "UA")
    assert ua["confidence"] == 0.7 and "spoofed" in ua["basis"] and ua["attribution_method"] == "registry"
    assert "black-sea-exclusion" in ua["zones"] and "illustrative" in ua["basis"]
    assert "KYIV STAR" in ua["basis"]
    assert api.client.get("/api/v1/violations", params={"party": "RU"}, headers=api.auth).json()["features"][0]["properties"]["track"] == "vessel:273000002"

    incidents = api.client.get("/api/v1/tracks/findings", params={"category": "incident"}, headers=api.auth).json()["findings"]
    kinds = sorted((f["type"], f["track"]) for f in incidents)
    assert kinds == [("ais-gap", "vessel:273000002"), ("position-on-land", "vessel:272000010"),
                     ("two-places", "vessel:272000011")]

    ingest_track_file(api.store, path, "ais", TrackOptions(), on_stored=checker.check)  # again: no new findings
    assert len(list_findings(api.store)) == 6


def test_aircraft_in_no_fly_zone_below_ceiling(store, demo) -> None:  # type: ignore[no-untyped-def]
    _put_demo(store, demo)

    def flight(icao: str, lat: float, lon: float, alt: float, minute: int) -> TrackPoint:
        return TrackPoint("aircraft", icao, T0 + timedelta(minutes=minute), lat, lon, alt_m=alt, alt_ref="baro",
                          callsign="TEST" + icao[:3], raw="8d" + icao + "0" * 22, extra={"time_source": "message"})

    points = [
        flight("508001", 47.9, 34.6, 3000, 0), flight("508001", 47.52, 34.59, 3000, 5),   # UA registry, enters low
        flight("150001", 47.45, 34.55, 1500, 0),                                         # RU registry, inside low
        flight("508002", 47.50, 34.58, 12000, 0),                                        # UA above the 10 km ceiling
        flight("508003", 50.45, 30.52, 3000, 0),                                         # UA far away (Kyiv)
    ]
    add_track_points(store, points, "test")
    checker = TrackChecker(store)
    checker.check(points)
    v = sorted((f["track"], f["violation"]["party"]) for f in list_findings(store, category="violation"))
    assert v == [("aircraft:150001", "RU"), ("aircraft:508001", "UA")]
    basis = list_findings(store, category="violation", party="UA")[0]["basis"]
    assert "no-fly-znpp" in basis and "3,000 m" in basis and "state of registry" in basis


def test_cli_ingest_ais_counts_checksum_and_truncated(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from truceline.cli import app

    path = tmp_path / "feed.nmea"
    path.write_bytes(position(272000001, 45.5, 31.5, T0) + b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CR,0*4A\n"
                     + b"!AIVDM,1,1,,A,16SteH0P00Jt63hHaa6SagvJ08\n" + position(273000002, 45.3, 31.2, T0))
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "--data-dir", str(tmp_path / "d"), "--format", "ais", "--json", str(path)])
    assert result.exit_code == 1, result.output  # some messages rejected
    summary = json.loads(result.stdout)["files"][0]
    assert (summary["messages"], summary["points"], summary["rejected_count"], summary["checksum_errors"]) == (4, 2, 2, 1)
    assert [r["message"] for r in summary["rejected"]] == [2, 3] and "truncated" in summary["rejected"][1]["reason"]
    bad = runner.invoke(app, ["ingest", "--data-dir", str(tmp_path / "d"), "--format", "beast", str(path)])
    assert bad.exit_code == 2 and "--start-time" in bad.output


def test_daily_report_section_airspace_and_sea_lanes(tmp_path: Path, demo) -> None:  # type: ignore[no-untyped-def]
    from truceline.ledger.checkpoint import ensure_ledger_key
    from truceline.report.build import daily_report
    from truceline.store.sqlite import open_store

    store = open_store(tmp_path / "d")
    try:
        _put_demo(store, demo)
        path = tmp_path / "day.nmea"
        path.write_bytes(static(272000001, "KYIV STAR", "UXAB", T0) + position(272000001, 45.5, 31.5, T0)
                         + position(271000003, 45.4, 31.3, T0) + position(272000010, 48.5, 32.0, T0))
        ingest_track_file(store, path, "ais", TrackOptions(), on_stored=TrackChecker(store).check)
        key = ensure_ledger_key(tmp_path / "d")
        text = daily_report(store, key, T0.date(), "public", "md").content.decode()
        section = text[text.index("## 8. Airspace and sea lanes"):]
        assert "0 aircraft (ADS-B/Mode S) and 3 vessels (AIS)" in section
        assert "1 violation;" in section and "| vessel:272000001 | UA | 70" in section
        assert "KYIV STAR" in section and "spoofed" in section and "position-on-land" not in section  # basis text, not type
        assert "more than 2 km inside land" in section
        other_day = daily_report(store, key, (T0 + timedelta(days=1)).date(), "public", "md").content.decode()
        assert "0 aircraft (ADS-B/Mode S) and 0 vessels" in other_day and "No aircraft or vessel entered" in other_day
    finally:
        store.close()


def test_cli_ingest_auto_recognises_ais(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from truceline.cli import app
    from truceline.cli_airsea import sniff_track_format

    assert sniff_track_format(DATA / "gpsd_sample.aivdm") == "ais"  # comment lines first, then !AIVDM
    tagged = tmp_path / "tagged.txt"
    tagged.write_bytes(position(272000001, 45.5, 31.5, T0))
    assert sniff_track_format(tagged) == "ais"
    other = tmp_path / "obs.json"
    other.write_text('{"id": "x"}')
    assert sniff_track_format(other) is None
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path / "d"), "--json", str(tagged)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["format"] == "ais"
