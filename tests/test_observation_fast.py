"""The fast validation path against pydantic: it accepts only what pydantic accepts, and builds the same observation.

Old path (pydantic alone) vs new path (fast path, pydantic for the rest) on real files and on hostile
records: the same accepted observations (values, types, fields set, canonical bytes) and the same errors.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from tests.conftest import native

from truceline.domain.observation import Observation
from truceline.domain.observation_dict_fast import fast_observation
from truceline.ingest.acled import decode_acled
from truceline.ingest.cot import CotOptions, decode_cot
from truceline.ingest.firms import decode_firms
from truceline.ingest.geojson import _feature_record, decode_geojson
from truceline.ingest.native import decode_json, decode_json_lines
from truceline.ingest.records import FormatError, Record, Rejection
from truceline.ingest.validation import FieldError, _errors, validate_all_or_nothing, validate_batch, validation_context
from truceline.ledger.commitment import canonical_observation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CTX = validation_context(NOW)
_ONE = TypeAdapter(Observation)
_LIST = TypeAdapter(list[Observation])
DATA = Path(__file__).parent / "data"


def same_model(a: Any, b: Any, path: str = "") -> None:
    """Equal values of the same types all the way down, and the same fields set on every model."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert a.model_fields_set == b.model_fields_set, f"{path}: fields set {a.model_fields_set} != {b.model_fields_set}"
        assert a.__pydantic_extra__ == b.__pydantic_extra__ and a.__pydantic_private__ == b.__pydantic_private__
        assert list(a.__dict__) == list(b.__dict__), path
        for key in a.__dict__:
            same_model(a.__dict__[key], b.__dict__[key], f"{path}.{key}")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            same_model(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_model(x, y, f"{path}[{i}]")
    elif isinstance(a, datetime):
        assert a == b and a.tzinfo == b.tzinfo and a.utcoffset() == b.utcoffset(), path
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} != {b!r}"


def check_one(record: Any) -> None:
    """The fast path either declines or builds exactly what pydantic builds."""
    fast = fast_observation(copy.deepcopy(record), NOW)
    try:
        reference = _ONE.validate_python(copy.deepcopy(record), context=CTX)
    except ValidationError:
        assert fast is None, f"fast path accepted what pydantic refuses: {record!r}"
        return
    if fast is not None:
        same_model(fast, reference)
        assert canonical_observation(fast) == canonical_observation(reference)
        assert fast.model_dump_json() == reference.model_dump_json()


def old_path(records: list[Any]) -> tuple[list[Observation], list[FieldError]]:
    """validate_batch as it was: pydantic alone."""
    try:
        return _LIST.validate_python(records, context=CTX), []
    except ValidationError as exc:
        errors = _errors(exc)
    bad = {e.index for e in errors}
    return _LIST.validate_python([r for i, r in enumerate(records) if i not in bad], context=CTX), errors


def check_batch(records: list[Any]) -> None:
    good, errors = validate_batch(copy.deepcopy(records), CTX)
    want_good, want_errors = old_path(copy.deepcopy(records))
    assert errors == want_errors
    assert len(good) == len(want_good)
    for a, b in zip(good, want_good, strict=True):
        same_model(a, b)
    atomic, atomic_errors = validate_all_or_nothing(copy.deepcopy(records), CTX)
    assert atomic_errors == want_errors and (atomic == [] if want_errors else len(atomic) == len(records))


def check_document(records: list[Any]) -> None:
    """A JSON array and the same records as JSON Lines: decoded and validated now as before (orjson + pydantic)."""
    try:
        data = json.dumps(records, allow_nan=True).encode()
    except (ValueError, TypeError):
        return
    try:
        before = orjson.loads(data)
    except orjson.JSONDecodeError:
        return  # not JSON for orjson either (NaN): decode_json raises FormatError on both paths
    want_good, want_errors = old_path(before)
    for items in (list(decode_json(data)), list(decode_json_lines(json.dumps(r, allow_nan=True).encode() for r in records))):
        values = [item.value for item in items if isinstance(item, Record)]
        if len(values) != len(records):
            continue  # a line orjson refused (NaN): a rejection on both paths
        good, errors = validate_batch(values, CTX)
        assert errors == want_errors
        assert len(good) == len(want_good)
        for a, b in zip(good, want_good, strict=True):
            same_model(a, b)


def test_fast_path_takes_the_common_record() -> None:
    assert fast_observation(native(), NOW) is not None
    check_one(native())


def test_fast_path_declines_what_it_must_leave_to_pydantic() -> None:
    for record in (
        native(id=None),  # explicit null id
        native(time="2023-04-02 03:15:00Z"),
        native(time="2023-04-02T03:15:00"),  # naive
        native(time="2016-12-31T23:59:60Z"),  # leap second
        native(credibility=True),
        native(credibility="2"),
        native(reliability=" B"),
        native(releasable_to=["COALITION "]),
        native(location={"lat": "48.1", "lon": 37.0}),
        native(location={"lat": 48.1, "lon": 37.0, "cep_m": None}),
        native(source={"id": "x", "type": "acoustic", "org": "UA", "extra": 1}),
        native(assumed={"rules": "truceline-defaults/1"}),
        native(time_uncertainty_s=None),
        native(attributes={"n": 2**60}),
    ):
        assert fast_observation(copy.deepcopy(record), NOW) is None, record
        check_one(record)


def test_defaults_are_assumed_as_the_model_assumes_them() -> None:
    for record in (
        {k: v for k, v in native().items() if k not in ("reliability", "credibility", "releasable_to")},
        native(location={"lat": 48.1, "lon": 37.0}),
        native(location={"type": "point", "lat": 48, "lon": 37}, time_uncertainty_s=0),
        native(attributes={"origin": {"lat": 48.0, "lon": 37.0}}),
        native(source={"id": "drone-1", "type": "drone", "org": "UA"}, releasable_to=["UA", "PUBLIC", "UA"]),
        native(location={"lat": 48.1, "lon": 37.0, "cov_m2": [[100, 5], [5, 100]], "alt_m": -10}),
        native(time="2023-04-02T05:15:00.5+02:00", evidence_hash="sha256:" + "a" * 64, releasable_to=[]),
    ):
        assert fast_observation(copy.deepcopy(record), NOW) is not None, record
        check_one(record)


#: Numbers at and just beyond every bound the model sets, and anything else.
_EDGES = [0, -0.0, 5e-324, 1, 2, 6, 7, 48, 90, 90.0000001, 91, -90.0, -90.0000001, 180, 180.0000001, -180.5, 1e6, 1e6 + 0.001,
          2592000, 2592000.5, -500, -500.1, 100000.0, 100000.1, 1e12, 1e12 + 1e-3, 2**53, 2**53 + 1, 10**400, True, False, None]
_NUMBERS = st.one_of(st.sampled_from(_EDGES), st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.floats(-200, 200))
_TEXTS = st.one_of(
    st.sampled_from(["", " ", "UA", " UA", "UA ", "ua", "U", "COALITION", "\u00a0UA", "UA\x1c", "B", "F", "G", "explosion",
                     "thermal", "acoustic", "drone", "uas", "2", "sha256:" + "0" * 64, "x" * 129]),
    st.text(max_size=12),
)
_VALUES = st.one_of(_NUMBERS, _TEXTS, st.lists(_TEXTS, max_size=3), st.dictionaries(_TEXTS, _NUMBERS, max_size=3))


@st.composite
def times(draw: st.DrawFn) -> str:
    year = draw(st.sampled_from([1999, 2000, 2016, 2023, 2026, 2027, 10000]))
    parts = [draw(st.integers(0, 13)), draw(st.integers(0, 32)), draw(st.integers(0, 25)), draw(st.integers(0, 61)), draw(st.integers(0, 61))]
    fraction = draw(st.sampled_from(["", ".5", ".123456", ".1234567", "."]))
    offset = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+02:00", "-13:30", "+23:59", "+24:00", "+0200", "+02", ""]))
    sep = draw(st.sampled_from(["T", "t", " "]))
    return f"{year:04d}-{parts[0]:02d}-{parts[1]:02d}{sep}{parts[2]:02d}:{parts[3]:02d}:{parts[4]:02d}{fraction}{offset}"


@st.composite
def hostile_records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record with a few of its fields (top-level or nested) replaced by awkward values."""
    record = native(time_uncertainty_s=2.0, attributes={"n": 1})
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "location", "location", "source", "time", "drop"]))
        if where == "time":
            record["time"] = draw(times())
        elif where == "drop":
            key = draw(st.sampled_from(sorted(record)))
            record.pop(key)
        elif where == "top":
            key = draw(st.sampled_from(["id", "kind", "time_uncertainty_s", "reliability", "credibility", "releasable_to",
                                        "attributes", "evidence_hash", "assumed", "other"]))
            record[key] = draw(_NUMBERS if key in ("time_uncertainty_s", "credibility") and draw(st.booleans()) else _VALUES)
        else:
            keys = ["lat", "lon", "cep_m", "cov_m2", "alt_m", "type"] if where == "location" else ["id", "type", "org", "x"]
            target = record[where] if isinstance(record.get(where), dict) else {}
            record[where] = {**target, draw(st.sampled_from(keys)): draw(st.one_of(_NUMBERS, _NUMBERS, _VALUES))}
            if where == "location" and draw(st.booleans()):
                record[where].pop("cep_m", None)
                record[where]["cov_m2"] = draw(st.lists(st.lists(_NUMBERS, max_size=3), max_size=3))
    return record


_FIELDS = [("id",), ("time",), ("time_uncertainty_s",), ("kind",), ("reliability",), ("credibility",), ("releasable_to",),
           ("attributes",), ("evidence_hash",), ("location", "lat"), ("location", "lon"), ("location", "cep_m"),
           ("location", "alt_m"), ("location", "type"), ("location", "cov_m2"), ("source", "id"), ("source", "type"),
           ("source", "org")]
_TIMES = ["2023-04-02T03:15:00Z", "2023-04-02T03:15:00.000001+00:00", "2023-04-02T03:15:00.5-13:30", "2023-04-02T03:15:00+23:59",
          "2023-04-02T03:15:00+24:00", "2023-02-29T03:15:00Z", "2023-04-02T24:00:00Z", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
          "2026-11-22T12:04:59Z", "2026-11-22T12:05:01Z", "2016-12-31T23:59:60Z", "2023-04-02T03:15Z", "2023-W13-7T03:15:00Z"]


@pytest.mark.parametrize("path", _FIELDS, ids=".".join)
def test_every_field_at_every_edge(path: tuple[str, ...]) -> None:
    """Each field replaced, in turn, by every edge value (and removed): the fast path never differs."""
    values: list[Any] = [*_EDGES, "", " ", "UA", "ua", "B", "G", "thermal", "drone", "point", "bearing", ["UA"], ["UA", "A"], [],
                         {}, {"origin": {"lat": 1, "lon": 2}}, [[1, 0], [0, 1]], [[1, 2], [3, 4]], [[1, 0], [0, -1]],
                         [[1e13, 0], [0, 1]], [[1, 0], [0]], "sha256:" + "f" * 64, "sha256:" + "F" * 64, *_TIMES]
    for value in [*values, _MISSING]:
        record = native(time_uncertainty_s=2.0, attributes={"n": 1})
        target = record if len(path) == 1 else record[path[0]]
        if path[-1] == "cov_m2":
            target.pop("cep_m")
        if value is _MISSING:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        check_one(record)
        check_document([native(id="first"), record, native(id="last")])


_MISSING = object()


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_records())
def test_fast_path_agrees_with_pydantic_on_hostile_records(record: dict[str, Any]) -> None:
    check_one(record)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_records(), min_size=1, max_size=6))
def test_batches_give_the_same_observations_and_errors(records: list[dict[str, Any]]) -> None:
    check_batch(records)
    check_document(records)


def _real_records() -> list[tuple[str, list[Any]]]:
    firms = gzip.decompress((DATA / "firms" / "firms-ukraine-2023.csv.gz").read_bytes()).decode()
    firms_records = [r.value for r in decode_firms(io.StringIO(firms)) if isinstance(r, Record)][:3000]
    demo = Path(__file__).parents[1] / "src" / "truceline" / "data" / "demo" / "firms-ukraine-2023-04-06.csv.gz"
    demo_records = [r.value for r in decode_firms(io.StringIO(gzip.decompress(demo.read_bytes()).decode())) if isinstance(r, Record)]
    return [("firms 2023", firms_records), ("demo firms", demo_records)]


@pytest.mark.parametrize(("name", "records"), _real_records())
def test_real_files_give_the_same_observations(name: str, records: list[Any]) -> None:
    assert records, name
    assert all(fast_observation(r, NOW) is not None for r in records[:100]), "the fast path should take real FIRMS rows"
    check_batch(records)


def test_other_formats_give_the_same_observations() -> None:
    cot = (
        b'<event version="2.0" uid="u-1" type="a-h-G-E-W-A" how="h-e" time="2023-04-02T03:15:00Z" start="2023-04-02T03:15:00Z" '
        b'stale="2023-04-02T03:20:00Z"><point lat="48.1" lon="37.7" hae="150" ce="25" le="9999999"/></event>\n'
    )
    acled = (
        "event_id_cnty,event_date,event_type,sub_event_type,actor1,actor2,admin1,admin2,admin3,location,latitude,longitude,"
        "geo_precision,time_precision,source,notes,fatalities\n"
        'UKR1,2023-04-02,Explosions/Remote violence,Shelling/artillery/missile attack,A,B,Donetsk,P,Av,Avdiivka,48.139,37.742,1,1,S,"n",0\n'
    )
    records = [r.value for r in decode_cot(cot, CotOptions(org="UA")) if isinstance(r, Record)]
    records += [r.value for r in decode_acled(io.StringIO(acled)) if isinstance(r, Record)]
    assert len(records) == 2
    assert all(fast_observation(r, NOW) is not None for r in records), "CoT points and ACLED places take the fast path"
    check_batch(records)


def _old_geojson(data: bytes) -> list[Any]:
    """decode_geojson as it was: orjson, then _feature_record per feature."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON at line {exc.lineno} column {exc.colno} (byte {exc.pos}): {exc.msg}") from exc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        return [_feature_record("feature 1", doc)]
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise FormatError("expected a GeoJSON FeatureCollection with a 'features' array")
    return [_feature_record(f"feature {i}", f) for i, f in enumerate(doc["features"], start=1)]


def check_geojson(doc: Any) -> None:
    """A GeoJSON document decoded and validated now as before: same rejections, observations and errors."""
    try:
        data = json.dumps(doc).encode()
    except (ValueError, TypeError):
        return
    try:
        old_items = _old_geojson(data)
    except FormatError as exc:
        with pytest.raises(FormatError) as new:
            list(decode_geojson(data))
        assert str(new.value) == str(exc)
        return
    new_items = list(decode_geojson(data))
    assert [i for i in new_items if isinstance(i, Rejection)] == [i for i in old_items if isinstance(i, Rejection)]
    assert [i.where for i in new_items] == [i.where for i in old_items]
    want_good, want_errors = old_path([i.value for i in old_items if isinstance(i, Record)])
    good, errors = validate_batch([i.value for i in new_items if isinstance(i, Record)], CTX)
    assert errors == want_errors
    assert len(good) == len(want_good)
    for a, b in zip(good, want_good, strict=True):
        same_model(a, b)


def as_feature(record: dict[str, Any]) -> dict[str, Any]:
    """A native record as a GeoJSON Feature (what bench/formats.py and senders write)."""
    properties = {k: v for k, v in record.items() if k != "location"}
    location = record.get("location")
    coordinates: Any = [37.0, 48.0]
    if isinstance(location, dict):
        coordinates = [location.get("lon"), location.get("lat")] + ([location["alt_m"]] if "alt_m" in location else [])
        properties |= {k: location[k] for k in ("cep_m", "cov_m2") if k in location}
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": coordinates}, "properties": properties}


_PLACE_FIELDS = [("location", "name"), ("location", "precision"), ("location", "admin"), ("location", "lat"), ("location", "lon"),
                 ("location", "type"), ("location", "bearing_deg"), ("time_uncertainty_s",), ("attributes",)]


@pytest.mark.parametrize("path", _PLACE_FIELDS, ids=".".join)
def test_places_at_every_edge(path: tuple[str, ...]) -> None:
    """Place locations (ACLED, free text): each field at every edge, alone and in documents."""
    values: list[Any] = [*_EDGES, 3, 4, 5, "", " ", "Avdiivka", " Avdiivka", "x" * 200, "x" * 201, "place", "point", "bearing",
                         ["a"], {}, {"origin": {"lat": 1, "lon": 2}}]
    for value in [*values, _MISSING]:
        record = native(time_uncertainty_s=86400.0, attributes={"n": 1},
                        location={"type": "place", "name": "Avdiivka", "precision": 1, "lat": 48.139, "lon": 37.742, "admin": "Donetsk"})
        target = record if len(path) == 1 else record[path[0]]
        if value is _MISSING:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        check_one(record)
        untyped = copy.deepcopy(record)
        if isinstance(untyped.get("location"), dict):
            untyped["location"].pop("type", None)
        check_one(untyped)
        check_batch([native(id="first"), record, untyped])


#: A bearing with every field stated, and the values each of its numbers is tried at: both sides of every
#: bound the model sets (0 <= bearing_deg < 360, 0 < bearing_sd_deg <= 180, 0 < metres <= 1e6), ints, bools,
#: NaN and infinities, strings for numbers, nulls.
BEARING = {"type": "bearing", "sensor_lat": 48.1, "sensor_lon": 37.7, "sensor_cep_m": 5.0, "bearing_deg": 45.0, "bearing_sd_deg": 3.0,
           "max_range_m": 20000}
PLACE = {"type": "place", "name": "Avdiivka", "precision": 1, "lat": 48.139, "lon": 37.742, "admin": "Donetsk"}
_BEARING_EDGES = [*_EDGES, 359, 359.99999999999994, 360, 360.0, 360.0000001, 179.9999999, 180.0, 180.0000001, 0.0, -5e-324, -1,
                  1e6, 1e6 + 0.001, 999999, 1000001, math.nan, math.inf, -math.inf, "45", "45.0", " 45", "bearing", "point", "place",
                  "Avdiivka", [], {}, [45.0]]
_BEARING_FIELDS = [("location", k) for k in (*BEARING, "name", "precision", "lat", "x")] + [("time_uncertainty_s",), ("attributes",)]


def _edge_records(base_location: dict[str, Any], path: tuple[str, ...], values: list[Any]) -> Iterator[dict[str, Any]]:
    """The record with ``path`` set to each value in turn (and removed), each tagged and untagged."""
    for value in [*values, _MISSING]:
        record = native(time_uncertainty_s=86400.0, attributes={"n": 1}, location=dict(base_location))
        target = record if len(path) == 1 else record[path[0]]
        if value is _MISSING:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        yield record
        if isinstance(record.get("location"), dict) and "type" in record["location"]:
            untyped = copy.deepcopy(record)
            untyped["location"].pop("type")
            yield untyped


@pytest.mark.parametrize("path", _BEARING_FIELDS, ids=".".join)
def test_bearings_at_every_edge(path: tuple[str, ...]) -> None:
    """Bearing locations: each field at every edge, alone, in batches and in JSON documents (ingest's shapes)."""
    records = list(_edge_records(BEARING, path, _BEARING_EDGES))
    taken = 0
    for record in records:
        check_one(record)
        taken += fast_observation(copy.deepcopy(record), NOW) is not None
    check_batch([native(id="first"), *records[:40]])
    check_document([native(id="first"), *records[:40]])
    assert taken > 0, "some bearings take the fast path"


def test_plain_bearings_take_the_fast_path() -> None:
    no_cep = {k: v for k, v in BEARING.items() if k not in ("sensor_cep_m", "max_range_m", "type")}
    for location in (BEARING, no_cep, {**BEARING, "bearing_deg": 0, "bearing_sd_deg": 180}, {**no_cep, "bearing_deg": -0.0}):
        content_id = {k: v for k, v in native(location=location).items() if k != "id"}
        for record in (native(location=location), native(location=location, time_uncertainty_s=3), content_id):
            assert fast_observation(copy.deepcopy(record), NOW) is not None, record
            check_one(record)
    assert fast_observation(native(location=no_cep), NOW).assumed is not None  # type: ignore[union-attr]  # sensor_cep_m assumed


@st.composite
def hostile_locations(draw: st.DrawFn) -> dict[str, Any]:
    """A valid bearing or place record with a few location fields replaced, added or removed, tagged or not."""
    location = dict(draw(st.sampled_from([BEARING, PLACE])))
    keys = [*BEARING, *PLACE, "cep_m", "x"]
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        if draw(st.integers(0, 3)) == 0:
            location.pop(key, None)
        else:
            location[key] = draw(st.one_of(st.sampled_from(_BEARING_EDGES), _NUMBERS, _VALUES))
    if draw(st.booleans()):
        location.pop("type", None)
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["time_uncertainty_s"] = draw(st.sampled_from([0, 2, 2.5, 86400.0]))
    record = native(location=location, **extra)
    if draw(st.booleans()):
        record.pop("id")  # a content id
    return record


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_locations())
def test_fast_path_agrees_with_pydantic_on_hostile_bearings_and_places(record: dict[str, Any]) -> None:
    check_one(record)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_locations(), min_size=1, max_size=6))
def test_bearing_and_place_batches_give_the_same_observations_and_errors(records: list[dict[str, Any]]) -> None:
    check_batch(records)
    check_document(records)


@pytest.mark.parametrize("path", _FIELDS, ids=".".join)
def test_geojson_every_field_at_every_edge(path: tuple[str, ...]) -> None:
    values: list[Any] = [*_EDGES, "", " ", "UA", "B", "thermal", "drone", "point", ["UA"], [], {}, [[1, 0], [0, 1]],
                         [[1, 2], [3, 4]], "sha256:" + "f" * 64, *_TIMES]
    for value in [*values, _MISSING]:
        record = native(time_uncertainty_s=2.0, attributes={"n": 1})
        target = record if len(path) == 1 else record[path[0]]
        if path[-1] == "cov_m2":
            target.pop("cep_m")
        if value is _MISSING:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        check_geojson({"type": "FeatureCollection", "features": [as_feature(native(id="first")), as_feature(record)]})


def test_geojson_feature_shapes() -> None:
    good = as_feature(native())
    variants: list[Any] = [
        {k: v for k, v in good.items() if k != "type"},
        {**good, "type": "feature"},
        {**good, "id": 7},
        {**good, "id": "f-7", "properties": {k: v for k, v in good["properties"].items() if k != "id"}},
        {**good, "id": 7.5, "properties": {k: v for k, v in good["properties"].items() if k != "id"}},
        {**good, "id": True, "properties": {k: v for k, v in good["properties"].items() if k != "id"}},
        {**good, "id": None, "properties": {k: v for k, v in good["properties"].items() if k != "id"}},
        {**good, "geometry": {"type": "Point", "coordinates": [37.0, 48.0, 150.0]}},
        {**good, "geometry": {"type": "Point", "coordinates": [37.0, 48.0, -600.0]}},
        {**good, "geometry": {"type": "Point", "coordinates": [37.0, 48.0, 150.0]}, "properties": {**good["properties"], "alt_m": 20}},
        {**good, "geometry": {"type": "Point", "coordinates": [37.0]}},
        {**good, "geometry": {"type": "Point", "coordinates": [True, 48.0]}},
        {**good, "geometry": {"type": "Point", "coordinates": [200.0, 48.0]}},
        {**good, "geometry": {"type": "Point", "coordinates": [37.0, 48.0], "bbox": [0, 0, 1, 1]}, "bbox": [0, 0, 1, 1]},
        {**good, "geometry": {"type": "LineString", "coordinates": [[37.0, 48.0], [37.1, 48.1]]}},
        {**good, "geometry": None},
        {**good, "properties": {**good["properties"], "location": {"lat": 1, "lon": 2}}},
        {**good, "properties": {**good["properties"], "type": "x"}},
        {**good, "properties": None},
        "not a feature",
    ]
    for variant in variants:
        check_geojson({"type": "FeatureCollection", "features": [good, variant]})
        check_geojson(variant)
    check_geojson({"type": "FeatureCollection", "features": []})
    check_geojson({"features": [good]})
    check_geojson([good])


def test_collector_pause_restores_the_collector_as_it_was() -> None:
    import gc

    from truceline.domain.observation_fast import collector_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "a collector the caller turned off stays off"
    finally:
        gc.enable()
