"""SensorThings import: the three document shapes, the mapping, what is refused, and a bounded fuzz."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from truceline.ingest.records import FormatError, Record, Rejection
from truceline.ingest.sensorthings import Owner, decode_sensorthings
from truceline.ingest.validation import validate_batch, validation_context


def datastream(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@iot.id": 7,
        "name": "array 17 events",
        "properties": {"org": "UA", "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"]},
        "unitOfMeasurement": {"name": "pascal", "symbol": "Pa"},
        "Sensor": {"name": "Array 17", "description": "infrasound microphone array"},
        "ObservedProperty": {"name": "Explosion", "definition": "https://example.org/def/explosion"},
        "Thing": {"@iot.id": 3, "name": "post 17", "Locations": [{"location": {"type": "Point", "coordinates": [37.712, 48.105]}}]},
    }
    doc.update(overrides)
    return doc


def observation(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"@iot.id": 1, "phenomenonTime": "2023-04-02T03:15:00Z", "resultTime": "2023-04-02T03:15:02Z", "result": 84.5}
    doc.update(overrides)
    return doc


def decode(doc: Any) -> list[Record | Rejection]:
    return list(decode_sensorthings(orjson.dumps(doc)))


def valid(doc: Any) -> list[Any]:
    items = decode(doc)
    assert all(isinstance(i, Record) for i in items), items
    good, errors = validate_batch([i.value for i in items if isinstance(i, Record)], validation_context())
    assert not errors, errors
    return good


def test_datastream_with_expanded_observations_takes_the_thing_location() -> None:
    (obs,) = valid(datastream(Observations=[observation()]))
    assert obs.point == (48.105, 37.712)
    assert obs.kind.value == "explosion"
    assert (obs.source.type.value, obs.source.org, obs.source.id) == ("acoustic", "UA", "sta-thing-3")
    assert (obs.reliability.value, int(obs.credibility)) == ("B", 2)
    assert obs.releasable_to == ["COALITION"]
    assert obs.attributes["result"] == 84.5 and obs.attributes["unit"] == "Pa"
    assert obs.attributes["result_time"] == "2023-04-02T03:15:02Z"


def test_observations_collection_with_feature_of_interest_and_interval() -> None:
    foi = {"feature": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.8, 48.2, 150.0]}}, "properties": {"cep_m": 300}}
    doc = {
        "value": [observation(Datastream=datastream(), FeatureOfInterest=foi, phenomenonTime="2023-04-02T03:00:00Z/2023-04-02T03:10:00+00:00")],
        "@iot.nextLink": "https://sta.example/v1.1/Observations?$skip=1",
    }
    (obs,) = valid(doc)
    assert obs.point == (48.2, 37.8)
    assert obs.location.cep_m == 300 and obs.location.alt_m == 150.0
    assert obs.time.isoformat() == "2023-04-02T03:05:00+00:00"
    assert obs.time_uncertainty_s == 300.0


def test_thing_with_datastreams_and_classifier_results() -> None:
    thing = {"@iot.id": 5, "name": "radar 2", "properties": {"org": "FR", "source_type": "radar"},
             "Locations": [{"location": {"type": "Point", "coordinates": [36.0, 47.5]}}],
             "Datastreams": [{"@iot.id": 1, "name": "classifications", "ObservedProperty": {"name": "Event class"},
                              "Observations": [observation(result="launch"), observation(**{"@iot.id": 2}, result="flight")]}]}
    first, second = valid(thing)
    assert (first.kind.value, second.kind.value) == ("launch", "flight")
    assert first.source.type.value == "radar" and first.source.org == "FR"
    assert first.releasable_to == ["FR"]  # nothing said: the owner only
    assert first.id != second.id


def test_ids_are_stable_across_imports_so_reimport_is_idempotent() -> None:
    doc = datastream(Observations=[observation()])
    assert valid(doc)[0].id == valid(copy.deepcopy(doc))[0].id
    other_org = datastream(Observations=[observation()], properties={"org": "FR", "source_type": "acoustic"})
    assert valid(other_org)[0].id != valid(doc)[0].id


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"Thing": {"name": "x"}}, "location", "no location"),
        ({"Thing": {"name": "x", "Locations": [{"location": {"type": "Polygon", "coordinates": []}}]}}, "location", "Polygon"),
        ({"properties": {}}, "source.org", "properties.org"),
        ({"ObservedProperty": {"name": "Air temperature"}}, "kind", "Air temperature"),
        ({"Sensor": {"name": "Thing-a-ma-jig"}}, "source.type", "properties.source_type"),
    ],
)
def test_refusals_name_the_field_and_reason(change: dict[str, Any], field: str, message: str) -> None:
    (item,) = decode(datastream(Observations=[observation()], **change))
    assert isinstance(item, Rejection)
    assert item.where == "$.Observations[0]"
    assert item.field == field and message in item.message


def test_area_feature_of_interest_is_not_replaced_by_the_sensor_position() -> None:
    area = {"feature": {"type": "Polygon", "coordinates": [[[37, 48], [38, 48], [38, 49], [37, 48]]]}}
    (item,) = decode(datastream(Observations=[observation(FeatureOfInterest=area)]))
    assert isinstance(item, Rejection) and "FeatureOfInterest.feature is a Polygon" in item.message


def test_bad_times_and_whole_document_errors() -> None:
    bad = [observation(phenomenonTime="2023-04-02T03:10:00Z/2023-04-02T03:00:00Z"), observation(phenomenonTime="2023-04-02T03:00:00/2023-04-02T03:10:00Z")]
    first, second = decode(datastream(Observations=bad))
    assert isinstance(first, Rejection) and "ends before it starts" in first.message
    assert isinstance(second, Rejection) and "no UTC offset" in second.message
    (naive,) = decode(datastream(Observations=[observation(phenomenonTime="2023-04-02T03:00:00")]))
    _, errors = validate_batch([naive.value], validation_context())  # type: ignore[union-attr]
    assert errors[0].field == "time" and "UTC offset" in errors[0].message
    with pytest.raises(FormatError, match="line 1 column"):
        list(decode_sensorthings(b'{"value": [{"result": NaN}]}'))
    with pytest.raises(FormatError, match="depth limit"):
        list(decode_sensorthings(b'{"value": ' + b"[" * 3000 + b"]" * 3000 + b"}"))
    with pytest.raises(FormatError, match="not a SensorThings document"):
        list(decode_sensorthings(b'{"hello": 1}'))
    (nav,) = decode({"value": [{"@iot.id": 1, "name": "ds", "Observations@iot.navigationLink": "https://x/Observations"}]})
    assert isinstance(nav, Rejection) and "$expand=Observations" in nav.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20) | st.integers(-(2**63), 2**63 - 1),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["value", "Observations", "phenomenonTime", "result", "Datastream", "Thing", "Locations",
                                         "location", "FeatureOfInterest", "feature", "type", "coordinates", "properties", "org",
                                         "@iot.id", "ObservedProperty", "name", "parameters", "kind"]), inner, max_size=5),
                    max_leaves=30))
def test_fuzz_never_crashes(doc: Any) -> None:
    """Any JSON either is refused as a whole (FormatError) or yields records and rejections that validate cleanly."""
    try:
        items = list(decode_sensorthings(orjson.dumps(doc)))
    except FormatError:
        return
    records = [i.value for i in items if isinstance(i, Record)]
    assert all(isinstance(i, Record | Rejection) for i in items)
    validate_batch(records, validation_context())  # errors are values, never exceptions


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        list(decode_sensorthings(data))


def test_operator_org_owns_entities_that_name_none_and_the_file_wins_where_it_does() -> None:
    unowned = datastream(properties={}, Observations=[observation()])
    (refused,) = decode(unowned)
    assert isinstance(refused, Rejection) and refused.field == "source.org" and "--org" in refused.message
    items = list(decode_sensorthings(orjson.dumps(unowned), Owner("PL", ("COALITION",))))
    good, errors = validate_batch([i.value for i in items if isinstance(i, Record)], validation_context())
    assert not errors and len(good) == 1
    assert (good[0].source.org, good[0].releasable_to) == ("PL", ["COALITION"])
    (own,) = [i for i in decode_sensorthings(orjson.dumps(datastream(Observations=[observation()])), Owner("PL")) if isinstance(i, Record)]
    assert own.value["source"]["org"] == "UA" and own.value["releasable_to"] == ["COALITION"]


def test_the_document_is_mapped_with_the_collector_paused_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mapping a parsed document makes no cycles; collections it triggered walked the whole document again."""
    import gc

    from truceline.ingest import sensorthings

    seen: list[bool] = []
    original = sensorthings._observation

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(sensorthings, "_observation", spy)
    doc = {"value": [observation(Datastream=datastream()), observation(**{"@iot.id": 2}, Datastream=datastream())]}
    assert gc.isenabled()
    stream = decode_sensorthings(orjson.dumps(doc))
    first = next(stream)  # the consumer holds the stream open: the collector is already back on
    assert isinstance(first, Record) and gc.isenabled()
    assert len([first, *stream]) == 2 and seen == [False, False] and gc.isenabled()
