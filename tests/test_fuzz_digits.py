"""Regression tests for the second audit: every place that turns sender text into a number takes ASCII digits.

Python's ``int("٣")`` is 3, ``float("１２")`` 12.0, ``"²".isdigit()`` true (and ``int("²")`` raises), ``float``
also reads ``"nan"``, ``"1_0"`` and ``" 4 "``, and a regular expression's ``\\d`` matches any script's digits.
Each test below fed such text to a place that read it as a number (or crashed on it) before its fix; each now
refuses it with the field and reason, or treats it as unreadable where the value is optional evidence.
docs/formats.md#bad-input-and-fuzzing lists them.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from importlib import resources

import orjson
import pytest
from starlette.requests import Request
from tests.conftest import ApiClient

from truceline.api.routes_observations import read_body
from truceline.domain.observation import Observation
from truceline.domain.violation import JudgedEvent
from truceline.ingest.modes import decode_modes_csv, decode_sbs
from truceline.service.feeds import parse_feed_address
from truceline.store.sqlite import StoreError
from truceline.store.sqlite_observations import _decode_cursor
from truceline.text.timex import find_times
from truceline.verify.agreement_loader import AgreementError, load_agreement_files, load_demo_agreement
from truceline.verify.engagement import FIRE_AZIMUTH, _bearing_factor
from truceline.verify.geometry import geometry_for
from truceline.verify.rules import judge

ARABIC_INDIC = "٥٠"  # 50 in Arabic-Indic digits: int() and float() read it
OTHER_NUMBERS = [ARABIC_INDIC, "５０", "nan", "inf", "5_0", " 50"]


@pytest.mark.parametrize("bbox", ["١,٢,٣,٤", "３０,４４,４０,５２", "3_0,44,40,52"])
def test_observations_bbox_in_other_digits_is_a_422(api: ApiClient, bbox: str) -> None:
    # float() read each of these as a box (Arabic-Indic 1,2,3,4 became a real query).
    response = api.client.get("/api/v1/observations", params={"bbox": bbox}, headers=api.auth)
    assert response.status_code == 422 and "is not a decimal number" in response.json()["detail"]


def test_observations_bbox_with_spaces_after_its_commas_is_read(api: ApiClient) -> None:
    response = api.client.get("/api/v1/observations", params={"bbox": "30, 44, 40, 52"}, headers=api.auth)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("declared", [b"\xb2", b"\xb9\xb2"])
def test_body_with_a_superscript_content_length_is_read_not_crashed(declared: bytes) -> None:
    # Header bytes are latin-1: b"\xb2" is "²", whose isdigit() is true and int() raises ValueError (a 500).
    # (httpx re-encodes such a header, so the request is built at the ASGI level.)
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"[]", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", declared)]}
    assert asyncio.run(read_body(Request(scope, receive), 10)) == b"[]"


@pytest.mark.parametrize("raw", ["١٢:٣", "12: 3", "+12:3", "1_2:3"])
def test_observation_cursor_forged_with_other_digits_is_refused(raw: str) -> None:
    # int() read "١٢:٣" as position (12, 3): a cursor this server never issued was taken.
    with pytest.raises(StoreError, match="is not one this server issued"):
        _decode_cursor(base64.urlsafe_b64encode(raw.encode()).decode())


def test_violations_cursor_with_a_string_position_is_refused(api: ApiClient) -> None:
    # int("١٢") read the forged position; a cursor's numbers are JSON integers (the digest check came after).
    cursor = base64.urlsafe_b64encode(orjson.dumps(["١٢", "x", "٠", "0" * 16])).decode().rstrip("=")
    files = {p.name: p.read_text() for p in resources.files("truceline.data.agreements").joinpath("isw-2023-03-04").iterdir()
             if p.name.endswith((".yaml", ".geojson"))}
    assert api.client.put("/api/v1/agreement", json={"files": files}, headers=api.auth).status_code == 201
    response = api.client.get("/api/v1/violations", params={"cursor": cursor}, headers=api.auth)
    assert response.status_code == 422 and "not a next_cursor this server issued" in response.json()["detail"]


@pytest.mark.parametrize("port", ["٣٠٠٣", "３００３", "+3003", "3_003", " 3003"])
def test_feed_port_in_other_digits_is_refused(port: str) -> None:
    # int() read each as port 3003: `truceline listen --feed host:٣٠٠٣` connected to 3003.
    with pytest.raises(ValueError, match="is not a number"):
        parse_feed_address(f"127.0.0.1:{port}")


@pytest.mark.parametrize("value", ["٥٠ km", "５０ km"])
def test_agreement_distance_in_other_digits_is_refused_with_its_place(value: str) -> None:
    # The quantity grammar used \d, which matches any script's digits; float() then read "٥٠ km" as 50 km.
    files = {p.name: p.read_bytes() for p in resources.files("truceline.data.agreements").joinpath("isw-2023-03-04").iterdir()
             if p.name.endswith((".yaml", ".geojson"))}
    files["agreement.yaml"] = files["agreement.yaml"].replace(b"distance: 15 km", f"distance: {value}".encode(), 1)
    with pytest.raises(AgreementError) as caught:
        load_agreement_files(files)
    (problem,) = caught.value.as_dicts()
    assert problem["file"] == "agreement.yaml" and repr(value) in problem["reason"]


@pytest.mark.parametrize("text", ["Shelling on ٣.٤.2023 near the village", "Shelling on ٣ April"])
def test_text_report_dates_in_other_digits_are_not_read(text: str) -> None:
    # The date patterns used \d: "٣.٤.2023" became 3 April 2023 (the day before publication) and "٢٠٢٣" a year.
    published = datetime(2023, 4, 5, 9, 0, tzinfo=UTC)
    assert all(t.start.year != 2023 or t.start.day not in (2, 3) or t.start.month != 4 for t in find_times(text, published))
    assert find_times("Shelling on 3.4.2023 near the village", published)[0].start == datetime(2023, 4, 2, 21, 0, tzinfo=UTC)


def test_leap_second_in_other_digits_is_a_validation_error_about_the_time() -> None:
    doc = {"id": "o1", "source": {"type": "human_report", "org": "org-a"}, "kind": "explosion", "time": "٢٠١٦-12-31T23:59:60Z",
           "location": {"type": "Point", "coordinates": [35.0, 48.0]}, "credibility": 3}
    with pytest.raises(ValueError) as caught:
        Observation.model_validate(doc)
    assert "time" in str(caught.value) and "Invalid isoformat" not in str(caught.value)


@pytest.mark.parametrize("lat", ["4_7.5", "4_7.5_0"])
def test_sbs_position_with_digit_separators_is_refused_naming_the_field(lat: str) -> None:
    # float() reads "4_7.5" as 47.5 (SBS lines are checked to be ASCII first, so other scripts' digits never got here).
    row = f"MSG,3,1,1,508035,1,2024/06/01,15:30:00.000,2024/06/01,15:30:00.000,,2500,,,{lat},34.6,,,0,,0,0"
    report = decode_sbs(row.encode(), "x", tz="UTC")
    assert report.points == [] and "field 15 (latitude)" in report.rejected[0][1]


def test_modes_csv_time_with_digit_separators_is_refused() -> None:
    # float() read "1_680_405_301" as a time (the line is ASCII, so the earlier ASCII check let it through).
    good = "1680405300.5,8D4840D6202CC371C32CE0576098"
    report = decode_modes_csv(f"{good}\n1_680_405_301,8D4840D6202CC371C32CE0576098\n".encode(), "x")
    assert len(report.points) == 1 and report.rejected == [(2, "time: column 1 is not a UNIX time")]


@pytest.mark.parametrize("alt", OTHER_NUMBERS)
def test_no_fly_altitude_in_other_digits_or_nan_is_unknown_not_a_number(alt: str) -> None:
    # float("nan") put the flight outside every band (no violation); float("٥٠") read 50 m (inside the band).
    agreement = load_demo_agreement()
    event = JudgedEvent(id="f1", time="2023-04-02T03:15:00Z", kind="flight", lat=47.5119, lon=34.5857, attributes={"alt_m": alt})
    (violation,) = judge(agreement, geometry_for(agreement), [event])
    assert f"altitude {alt!r} unreadable, treated as unknown" in violation.basis


@pytest.mark.parametrize("azimuth", OTHER_NUMBERS)
def test_direction_of_fire_in_other_digits_or_nan_is_not_used(azimuth: str) -> None:
    # float("nan") made the likelihood NaN; float("٥٠") read 50°.
    launch = JudgedEvent(id="l1", time="2023-04-02T03:15:00Z", kind="launch", lat=47.5, lon=35.0, attributes={FIRE_AZIMUTH: azimuth})
    assert _bearing_factor(launch, 50.0, 10_000.0, 100.0) == (1.0, f"direction of fire {azimuth!r} unreadable, not used")
