"""Strict input in every format and listener (issue 20): no silent coercion, NaN and Infinity refused, the
field (and row, column or attribute) named, nothing of a refused MQTT message stored.

The HTTP side is in test_api_observations.py; here the text formats (CSV cells, CoT attributes), GeoJSON
properties, SensorThings settings and MQTT payloads, and the shared decimal grammar.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from tests.conftest import ApiClient, native
from tests.test_ingest_acled import ROW, acled
from tests.test_ingest_cot import event, one
from tests.test_ingest_sensorthings import datastream, decode, observation

from truceline.domain.observation import MAX_ATTRIBUTES_BYTES, Observation
from truceline.domain.strict import parse_decimal
from truceline.ingest.acled import decode_acled_bytes
from truceline.ingest.firms import decode_firms_bytes
from truceline.ingest.geojson import decode_geojson
from truceline.ingest.records import Record, Rejection
from truceline.ingest.validation import validate_batch, validation_context
from truceline.ledger.commitment import canonical_observation
from truceline.service.mqtt_intake import MqttConfig, MqttIntake

ARABIC_INDIC_48_1 = "\u0664\u0668.\u0661"  # "٤٨.١": float() reads it as 48.1


@pytest.mark.parametrize("text", ["48", "-48.105", "+0.5", ".5", "5.", "1e3", "1E-7", "-0", "9999999.0"])
def test_plain_decimals_are_numbers(text: str) -> None:
    assert parse_decimal(text) == float(text)


@pytest.mark.parametrize(
    "text", ["nan", "NaN", "inf", "-Infinity", "1e999", "0x1p3", "0x10", "1_000", " 48.1", "48.1\n", "4 8", "", ".", "e5", "1e", ARABIC_INDIC_48_1, "48,1"]
)
def test_everything_else_is_not_a_number(text: str) -> None:
    with pytest.raises(ValueError, match="decimal number|finite number"):
        parse_decimal(text)


# -- FIRMS CSV ---------------------------------------------------------------------------------------
FIRMS_HEADER = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight"


def firms(latitude: str = "48.49505", longitude: str = "38.80682", frp: str = "3.1", scan: str = "0.39") -> bytes:
    row = [latitude, longitude, "330.5", scan, "0.36", "2023-04-01", "0106", "N", "VIIRS", "n", "2.0NRT", "290.1", frp, "N"]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([FIRMS_HEADER.split(","), row])
    return out.getvalue().encode()


def test_the_firms_fixture_row_is_valid() -> None:
    (item,) = decode_firms_bytes(firms())
    assert isinstance(item, Record) and item.value["location"]["lat"] == 48.49505


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        ({"latitude": "nan"}, "latitude"),
        ({"latitude": ARABIC_INDIC_48_1}, "latitude"),
        ({"longitude": "inf"}, "longitude"),
        ({"longitude": "3_8.8"}, "longitude"),
        ({"frp": "NaN"}, "frp"),
        ({"frp": "1e999"}, "frp"),
        ({"scan": "0x1"}, "scan/track"),
    ],
)
def test_a_firms_number_cell_must_be_a_finite_decimal_naming_row_and_column(cells: dict[str, str], column: str) -> None:
    (item,) = decode_firms_bytes(firms(**cells))
    assert isinstance(item, Rejection), item
    assert (item.where, item.field) == ("line 2", column) and "number" in item.message, item


# -- ACLED CSV ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("column", "value"), [("latitude", "nan"), ("longitude", "Infinity"), ("latitude", "4_8.1"), ("latitude", ARABIC_INDIC_48_1)])
def test_an_acled_number_cell_must_be_a_finite_decimal_naming_row_and_column(column: str, value: str) -> None:
    (item,) = decode_acled_bytes(acled({**ROW, column: value}))
    assert isinstance(item, Rejection), item
    assert (item.where, item.field) == ("line 2", column) and "decimal number" in item.message, item


# -- CoT XML -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lat", ["NaN", "1e999", "-inf", " 48.1", "48.1 ", "4_8.1", "0x30", ARABIC_INDIC_48_1, "+48.1e0\t"])
def test_a_cot_point_attribute_follows_the_strict_numeric_grammar(lat: str) -> None:
    rejection = one(event(point=f'lat="{lat}" lon="37.7" hae="0" ce="5" le="5"'))
    assert isinstance(rejection, Rejection), rejection
    assert rejection.field == "point/@lat" and "number" in rejection.message, rejection


def test_a_plain_cot_point_is_still_read() -> None:
    record = one(event(point='lat="48" lon="-37.5e0" hae="+160.5" ce="9999999.0" le="15"'))
    assert isinstance(record, Record) and (record.value["location"]["lat"], record.value["location"]["lon"]) == (48.0, -37.5)


# -- GeoJSON and SensorThings ------------------------------------------------------------------------
def _feature(coordinates: list[Any], **properties: Any) -> bytes:
    props = {k: v for k, v in native(**properties).items() if k != "location"}
    return orjson.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": coordinates}, "properties": props}]})


def test_a_geojson_string_coordinate_is_refused() -> None:
    (item,) = decode_geojson(_feature([37.7, "48.1"]))
    assert isinstance(item, Rejection) and item.field == "geometry.coordinates"


@pytest.mark.parametrize(
    ("properties", "field"),
    [({"credibility": "2"}, "credibility"), ({"credibility": True}, "credibility"), ({"time": 1680405300}, "time"), ({"cep_m": "150"}, "location.cep_m")],
)
def test_geojson_properties_are_read_strictly(properties: dict[str, Any], field: str) -> None:
    (item,) = decode_geojson(_feature([37.7, 48.1], **properties))
    assert isinstance(item, Record)
    good, errors = validate_batch([item.value], validation_context())
    assert good == [] and [e.field for e in errors] == [field]


def test_sensorthings_settings_and_times_are_read_strictly() -> None:
    props = {"org": "UA", "reliability": "B", "credibility": "2"}
    items = decode(datastream(properties=props, Observations=[observation(phenomenonTime="1680405300")]))
    assert all(isinstance(i, Record) for i in items), items
    good, errors = validate_batch([i.value for i in items if isinstance(i, Record)], validation_context())
    assert good == [] and sorted(e.field for e in errors) == ["credibility", "time"]


# -- MQTT (no broker needed: the intake's handle is what the subscription calls) ---------------------
def _intake(api: ApiClient) -> MqttIntake:
    return MqttIntake(api.client.app.state, MqttConfig(url="mqtt://127.0.0.1:1883", org="UA", client_id="strict"))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (orjson.dumps([native(id="m-ok"), native(id="m-str", location={"lat": "48.1", "lon": 37.7})]), "location.lat"),
        (orjson.dumps([native(id="m-ok"), native(id="m-bool", credibility=True)]), "credibility"),
        (orjson.dumps([native(id="m-ok"), native(id="m-time", time=1680405300)]), "time"),
        (orjson.dumps([native(id="m-ok"), native(id="m-nan", location={"lat": 1.5, "lon": 37.7})]).replace(b"1.5", b"NaN"), "location.lat"),
    ],
)
def test_an_mqtt_message_is_read_like_an_http_batch(api: ApiClient, payload: bytes, field: str) -> None:
    outcome = _intake(api).handle("truceline/obs/strict", payload)
    assert (outcome.status, outcome.reason) == ("rejected", "invalid"), outcome
    assert [(e["index"], e["field"]) for e in outcome.errors] == [(1, field)]
    assert api.store.count_observations() == 0 and api.store.ledger_size() == 0


def test_a_good_mqtt_message_is_stored(api: ApiClient) -> None:
    outcome = _intake(api).handle("truceline/obs/strict", orjson.dumps([native(id="m-ok", location={"lat": 48, "lon": 37.7})]))
    assert outcome.status == "stored" and api.store.count_observations() == 1


# -- the size cap ------------------------------------------------------------------------------------
def test_the_largest_observation_within_every_limit_stays_under_64_kib_canonical() -> None:
    """The documented cap: attributes at their limit plus every other field at its own stay under 64 KiB."""
    pad = MAX_ATTRIBUTES_BYTES - len(orjson.dumps({"a": ""}))
    doc = native(
        id="a" * 128,
        location={  # non-BMP characters are four bytes, control characters six once escaped
            "type": "place", "name": "\U0001f600" * 200, "precision": 1, "lat": -89.123456789012345, "lon": -179.12345678901234, "admin": "\x01" * 200
        },
        source={"id": "s" * 128, "type": "acoustic", "org": "A" * 32},
        releasable_to=[f"L{i:02d}" + "X" * 29 for i in range(64)],
        time="2023-04-02T03:15:00.123456+05:30",
        time_uncertainty_s=1.2345678901234567e-7,
        evidence_hash="sha256:" + "0" * 64,
        attributes={"a": "x" * pad},
    )
    good, errors = validate_batch([doc], validation_context())
    assert errors == []
    size = len(canonical_observation(good[0]))
    assert 60 * 1024 < size < 64 * 1024, size
    one_more = {**doc, "attributes": {"a": "x" * (pad + 1)}}
    assert [e.rule for e in validate_batch([one_more], validation_context())[1]] == ["attributes_size"]


def test_a_stored_document_validates_again_to_itself() -> None:
    """Strictness applies to what is stored too: a document read back is valid and unchanged."""
    obs = Observation.model_validate(native(location={"lat": 48, "lon": 37, "cov_m2": [[100, 0], [0, 100]]}, time_uncertainty_s=5))
    document = obs.model_dump(mode="json", exclude_none=True)
    assert Observation.model_validate(document) == obs
