"""Validation of observations at the edge: every refusal names the field, and good edge cases pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import native

from truceline.domain.observation import BearingLocation, Observation, PlaceLocation, PointLocation
from truceline.ingest.validation import FieldError, validate_all_or_nothing, validate_batch, validation_context

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CTX = validation_context(NOW)


def one(doc: dict[str, Any]) -> Observation:
    good, errors = validate_all_or_nothing([doc], CTX)
    assert errors == [], errors
    return good[0]


def errors_of(doc: Any) -> list[FieldError]:
    good, errors = validate_all_or_nothing([doc], CTX)
    assert good == [] and errors, f"expected refusal of {doc!r}"
    return errors


def fields(doc: Any) -> set[str]:
    return {e.field for e in errors_of(doc)}


def test_minimal_design_example_is_accepted_as_is() -> None:
    obs = one(native())
    assert obs.id == "ua-ac17-000123"
    assert obs.time == datetime(2023, 4, 2, 3, 15, tzinfo=UTC)
    assert isinstance(obs.location, PointLocation) and obs.location.cep_m == 150
    assert obs.releasable_to == ["COALITION"]


@pytest.mark.parametrize("lon", [180.0, -180.0, 179.999999, -179.999999])
def test_antimeridian_longitudes_are_valid(lon: float) -> None:
    assert one(native(location={"lat": 65.0, "lon": lon})).point == (65.0, lon)


@pytest.mark.parametrize("lon", [180.000001, -180.5, 360.0])
def test_longitude_beyond_antimeridian_is_refused(lon: float) -> None:
    errors = errors_of(native(location={"lat": 65.0, "lon": lon}))
    assert [e.field for e in errors] == ["location.lon"]
    assert errors[0].value == repr(lon)


@pytest.mark.parametrize("lat", [90.0, -90.0])
def test_poles_are_valid(lat: float) -> None:
    assert one(native(location={"lat": lat, "lon": 0.0})).point == (lat, 0.0)


@pytest.mark.parametrize("lat", [90.0001, -91.0, 95.0])
def test_latitude_beyond_poles_is_refused(lat: float) -> None:
    assert fields(native(location={"lat": lat, "lon": 0.0})) == {"location.lat"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused_everywhere(value: float) -> None:
    assert fields(native(location={"lat": value, "lon": 30.0})) == {"location.lat"}
    assert fields(native(time_uncertainty_s=value)) == {"time_uncertainty_s"}
    assert fields(native(location={"lat": 48.0, "lon": 30.0, "cep_m": value})) == {"location.cep_m"}


def test_naive_time_is_refused_with_reason() -> None:
    errors = errors_of(native(time="2023-04-02T03:15:00"))
    assert [(e.field, e.rule) for e in errors] == [("time", "timezone_aware")]
    assert "offset" in errors[0].message


def test_time_with_offset_is_converted_to_utc() -> None:
    assert one(native(time="2023-04-02T06:15:00+03:00")).time == datetime(2023, 4, 2, 3, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2015-06-30T23:59:60Z", datetime(2015, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2017-01-01T02:59:60+03:00", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2016-12-31T23:59:60.5Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_real_leap_seconds_are_accepted_and_keep_date_and_order(text: str, expected: datetime) -> None:
    obs = one(native(time=text))
    assert obs.time == expected
    assert obs.time < datetime(2017, 1, 1, tzinfo=UTC) or expected.month == 6


@pytest.mark.parametrize("text", ["2016-12-30T23:59:60Z", "2016-12-31T12:59:60Z", "2016-12-31T23:60:00Z"])
def test_second_60_outside_a_leap_second_is_refused(text: str) -> None:
    assert fields(native(time=text)) == {"time"}


def test_time_in_future_beyond_skew_is_refused_but_within_skew_accepted() -> None:
    within = (NOW + timedelta(minutes=4)).isoformat()
    beyond = (NOW + timedelta(minutes=6)).isoformat()
    assert one(native(time=within)).time == NOW + timedelta(minutes=4)
    errors = errors_of(native(time=beyond))
    assert errors[0].rule == "time_in_future" and "clock skew" in errors[0].message


@pytest.mark.parametrize("text", ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z"])
def test_absurdly_old_times_are_refused(text: str) -> None:
    assert [e.rule for e in errors_of(native(time=text))] == ["time_too_early"]


@pytest.mark.parametrize("text", ["2023-02-30T00:00:00Z", "yesterday", "", "2023-13-01T00:00:00Z"])
def test_impossible_dates_are_refused(text: str) -> None:
    assert fields(native(time=text)) == {"time"}


def test_unknown_kind_source_type_and_grades_are_refused() -> None:
    assert fields(native(kind="boom")) == {"kind"}
    assert fields(native(source={"id": "x", "type": "psychic", "org": "UA"})) == {"source.type"}
    assert fields(native(reliability="G")) == {"reliability"}
    assert fields(native(credibility=7)) == {"credibility"}


def test_unknown_fields_are_refused_so_typos_surface() -> None:
    assert fields(native(relability="A")) == {"relability"}


def test_several_bad_fields_are_all_named() -> None:
    assert fields(native(kind="boom", time="2023-04-02T03:15:00", location={"lat": 91, "lon": 0})) == {
        "kind",
        "time",
        "location.lat",
    }


def test_uncertainty_forms() -> None:
    cov = one(native(location={"lat": 48.0, "lon": 37.0, "cov_m2": [[400.0, 50.0], [50.0, 900.0]]}))
    assert cov.sigma_m == pytest.approx((650.0) ** 0.5)
    assert fields(native(location={"lat": 48.0, "lon": 37.0, "cep_m": 10, "cov_m2": [[1, 0], [0, 1]]})) == {"location"}
    assert [e.rule for e in errors_of(native(location={"lat": 48.0, "lon": 37.0, "cov_m2": [[1, 2], [3, 1]]}))] == ["cov_symmetric"]
    assert [e.rule for e in errors_of(native(location={"lat": 48.0, "lon": 37.0, "cov_m2": [[1, 2], [2, 1]]}))] == ["cov_positive"]
    assert fields(native(location={"lat": 48.0, "lon": 37.0, "cep_m": -5})) == {"location.cep_m"}


def test_bearing_and_place_locations() -> None:
    bearing = one(native(location={"sensor_lat": 48.0, "sensor_lon": 37.0, "bearing_deg": 359.9, "bearing_sd_deg": 2.0}))
    assert isinstance(bearing.location, BearingLocation) and bearing.point is None
    assert fields(native(location={"sensor_lat": 48.0, "sensor_lon": 37.0, "bearing_deg": 360.0, "bearing_sd_deg": 2.0})) == {
        "location.bearing_deg"
    }
    place = one(native(location={"name": "Huliaipole", "precision": 2, "lat": 47.66, "lon": 36.26}))
    assert isinstance(place.location, PlaceLocation) and place.sigma_m == 8000.0
    unresolved = one(native(location={"name": "somewhere", "precision": 4}))
    assert unresolved.point is None
    assert fields(native(location={"name": "x", "precision": 1, "lat": 47.0})) == {"location"}
    assert fields(native(location={"name": "x", "precision": 5})) == {"location.precision"}
    assert fields(native(location={"type": "polygon"})) == {"location"}


def test_missing_id_gets_a_stable_content_id() -> None:
    doc = native()
    del doc["id"]
    first, second = one(doc), one(dict(doc))
    assert first.id == second.id and first.id.startswith("h-")
    assert one(dict(doc, kind="impact")).id != first.id


def test_releasable_to_defaults_to_owner_and_is_normalised() -> None:
    doc = native()
    del doc["releasable_to"]
    assert one(doc).releasable_to == ["UA"]
    assert one(native(releasable_to=["US", "COALITION", "US"])).releasable_to == ["COALITION", "US"]
    assert fields(native(releasable_to=["coalition"])) == {"releasable_to[0]"}


def test_non_object_items_are_refused_by_index() -> None:
    good, errors = validate_batch([native(), 42, native(id="b"), "x"], CTX)
    assert [o.id for o in good] == ["ua-ac17-000123", "b"]
    assert sorted(e.index for e in errors) == [1, 3]


@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180))
def test_any_coordinate_in_range_is_accepted(lat: float, lon: float) -> None:
    assert one(native(location={"lat": lat, "lon": lon})).point == (lat, lon)


@given(lat=st.one_of(st.floats(min_value=90, exclude_min=True), st.floats(max_value=-90, exclude_max=True)))
def test_any_latitude_out_of_range_is_refused(lat: float) -> None:
    assert fields(native(location={"lat": lat, "lon": 0.0})) == {"location.lat"}


def test_attributes_must_survive_any_json_reader() -> None:
    assert one(native(attributes={"frp": 12.5, "ids": [1, 2], "nested": {"ok": True}})).attributes["frp"] == 12.5
    errors = errors_of(native(attributes={"counter": 2**60}))
    assert errors[0].field == "attributes" and "attributes.counter" in errors[0].message and "string" in errors[0].message
    deep: dict[str, object] = {}
    cursor = deep
    for _ in range(10):
        cursor["x"] = {}
        cursor = cursor["x"]  # type: ignore[assignment]
    assert [e.rule for e in errors_of(native(attributes=deep))] == ["attribute_depth"]
