"""File ingest's validated JSON path against the model's: the same stored rows, byte for byte, and the same rejections.

Old path: a decoder as before (records), validated by the model, prepared by the store from each
``Observation``. New path: the decoder with ``validate_at`` (what ``truceline ingest`` does), whose plainly
valid records come out as :class:`Validated` and are prepared from their canonical bytes. For generated
files (the formats benchmark's generators), edge values and mutated documents, every record's stored row
(canonical document, its hash, every query column, labels) and every rejection (where, field, message,
value) must be the same.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bench.formats import gen_geojson, gen_json_lines, gen_native_json, gen_sensorthings
from tests.conftest import native
from typer.testing import CliRunner

from truceline.cli import app
from truceline.ingest.cot import CotOptions, decode_cot
from truceline.ingest.geojson import decode_geojson
from truceline.ingest.native import decode_json, decode_json_lines
from truceline.ingest.pipeline import IngestSummary, ingest_records, open_records
from truceline.ingest.records import FormatError, Record, Rejection, Validated
from truceline.ingest.sensorthings import Owner, decode_sensorthings
from truceline.ingest.validation import validate_batch, validation_context
from truceline.store.prepared import prepare_batch, prepare_validated_batch
from truceline.store.sqlite import open_store

NOW = datetime.now(UTC)  # validation compares times with now: the generators write 2023, edge cases 2099
RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
Decoder = Callable[[bytes, datetime | None], Iterable[Record | Rejection | Validated]]
DECODERS: dict[str, Decoder] = {
    "json": lambda data, at: decode_json(data, at),
    "jsonl": lambda data, at: decode_json_lines(data.splitlines(), at),
    "geojson": lambda data, at: decode_geojson(data, at),
    "sensorthings": lambda data, at: decode_sensorthings(data, Owner("UA"), at),
    "cot": lambda data, at: decode_cot(data, CotOptions(org="UA", releasable_to=("COALITION",)), at),
}


def _row(prepared: Any) -> tuple[Any, ...]:
    """What the store keeps of a prepared observation, but the salt and what depends on it (and each column's type)."""
    return prepared.id, prepared.owner_org, prepared.labels, prepared.columns, prepared.doc_sha256, [type(c) for c in prepared.columns]


def outcome(items: Iterable[Record | Rejection | Validated]) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """(stored row per place, rejections, how many came validated) as file ingest would store and report them."""
    stored: dict[str, tuple[Any, ...]] = {}
    rejected: list[tuple[Any, ...]] = []
    pending: list[Record] = []
    validated = 0
    for item in items:
        if isinstance(item, Rejection):
            rejected.append((item.where, item.field, item.message, item.value))
        elif isinstance(item, Validated):
            validated += 1
            assert item.where not in stored
            stored[item.where] = _row(prepare_validated_batch([item.observation], RECEIVED)[0])
        else:
            pending.append(item)
    good, errors = validate_batch([r.value for r in pending], validation_context(NOW))
    bad = {e.index for e in errors}
    for record, observation in zip([r for i, r in enumerate(pending) if i not in bad], good, strict=True):
        stored[record.where] = _row(prepare_batch([observation], RECEIVED)[0])
    rejected += [(pending[e.index].where, e.field, e.message, e.value) for e in errors]
    return stored, sorted(rejected, key=repr), validated


def both(fmt: str, data: bytes) -> tuple[Any, Any]:
    """The old path's and the new path's outcome of one input (or the FormatError text of each)."""

    def run(at: datetime | None) -> Any:
        try:
            return outcome(DECODERS[fmt](data, at))
        except FormatError as exc:
            return f"FormatError: {exc}"

    return run(None), run(NOW)


def assert_same(fmt: str, data: bytes, *, validated: bool | None = None) -> None:
    old, new = both(fmt, data)
    if isinstance(old, str) or isinstance(new, str):
        assert old == new
        return
    assert old[2] == 0  # the old path never validates while decoding
    assert new[0] == old[0]
    assert new[1] == old[1]
    if validated is not None:
        assert (new[2] > 0) is validated


def _native(i: int, **change: Any) -> dict[str, Any]:
    doc = native(id=f"edge-{i:04d}", time_uncertainty_s=2.0)
    for key, value in change.items():
        if value is _DROP:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


_DROP = object()
_ODD_FLOATS = [0.0, -0.0, 1.0, 150.0, 1e-7, 1.5e-5, 0.0001, 0.00012345, 1e15, 1e16 + 2, 1e21, 1.2345e22, 5e-324, 1 / 3, 9007199254740993.0]

EDGES: list[dict[str, Any]] = [
    _native(0),
    _native(1, id=_DROP),  # content id
    _native(2, time_uncertainty_s=_DROP),  # assumed time uncertainty
    _native(3, location={"lat": 48.0, "lon": 37.0}),  # assumed CEP
    _native(4, location={"lat": 48.1, "lon": 37.7, "cov_m2": [[400.0, 10.0], [10.0, 900]]}),
    _native(5, location={"type": "point", "lat": -0.0, "lon": 0.0, "cep_m": 1e-5, "alt_m": 120}),
    _native(6, location={"lat": 90, "lon": -180, "cep_m": 1_000_000, "alt_m": -500.0}),
    _native(7, reliability=_DROP, credibility=_DROP, releasable_to=_DROP),
    _native(8, releasable_to=["PUBLIC", "COALITION", "PUBLIC"]),
    _native(9, releasable_to=[]),
    _native(10, time="2023-04-02T05:15:00+02:00"),
    _native(11, time="2023-04-02T03:15:00.123Z"),
    _native(12, time="2023-04-02T03:15:00.000000Z"),
    _native(13, time="2023-04-02T03:15:00-00:30"),
    _native(14, time="2099-01-01T00:00:00Z"),  # in the future: refused by validation, in its words
    _native(15, time="1999-12-31T23:59:59Z"),
    _native(16, evidence_hash="sha256:" + "ab" * 32),
    _native(17, attributes={"origin": {"lat": 48.2, "lon": 37.9}}),  # assumed origin CEP
    _native(18, attributes={"origin": {"lat": 48.2, "lon": 37.9, "cep_m": 500}}),
    _native(19, attributes={"note": "line\u2028sep \"quoted\" \\ \x7f é", "n": 2**53 - 1, "f": _ODD_FLOATS, "nested": {"b": [1, {"a": None}]}}),
    _native(20, attributes={"\U0001f600": 1, "\ue000": 2, "z": 3}),  # keys whose UTF-16 order differs
    _native(21, attributes={"big": 2**53 + 1}),
    _native(22, source={"id": "ua-radar-1", "type": "RADAR", "org": "UA"}),
    _native(23, source={"id": "osint-1", "type": "open-source", "org": "UA"}),
    _native(24, time_uncertainty_s=0),
    _native(25, time_uncertainty_s=30 * 86400),
    _native(26, kind="thermal", location={"lat": 48.123456789012345, "lon": 37.1, "cep_m": 150.5}),
    _native(27, time="2023-04-02T03:15:00+00:00"),
    _native(28, credibility=6, reliability="F"),
    _native(29, location={"lat": 48.1, "lon": 37.7, "cep_m": 10, "cov_m2": [[1, 0], [0, 1]]}),  # both: refused
]
EDGES += [_native(100 + i, location={"lat": 48.0, "lon": 37.0, "cep_m": abs(x) + 1e-9 if x == 0 else min(abs(x), 1e6)}) for i, x in enumerate(_ODD_FLOATS)]
EDGES += [_native(200 + i, time_uncertainty_s=min(abs(x), 86400.0)) for i, x in enumerate(_ODD_FLOATS)]


def _as_feature(doc: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in doc.items() if k != "location"}
    loc = doc["location"]
    coords = [loc["lon"], loc["lat"]] + ([loc["alt_m"]] if "alt_m" in loc else [])
    properties.update({k: loc[k] for k in ("cep_m", "cov_m2") if k in loc})
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": coords}, "properties": properties}


@pytest.mark.parametrize(
    ("fmt", "generate"), [("json", gen_native_json), ("jsonl", gen_json_lines), ("geojson", gen_geojson), ("sensorthings", gen_sensorthings)]
)
def test_generated_files_store_the_same_rows(fmt: str, generate: Callable[[int, random.Random], bytes]) -> None:
    data = generate(500, random.Random(11))
    old, new = both(fmt, data)
    assert len(new[0]) == 500 and new[2] == 500  # every record came validated
    assert new[0] == old[0] and new[1] == old[1] == []


@pytest.mark.parametrize("edge", range(len(EDGES)))
def test_edge_values_store_the_same_rows(edge: int) -> None:
    doc = EDGES[edge]
    assert_same("json", json.dumps(doc).encode())
    assert_same("json", json.dumps([_native(999), doc, _native(998)]).encode())
    assert_same("jsonl", (json.dumps(doc) + "\n" + json.dumps(_native(997)) + "\n").encode())
    if "location" in doc and "lat" in doc["location"]:
        feature = _as_feature(doc)
        assert_same("geojson", json.dumps({"type": "FeatureCollection", "features": [feature, _as_feature(_native(996))]}).encode())
        assert_same("geojson", json.dumps(feature).encode())


def test_plain_records_come_validated_and_others_as_before() -> None:
    assert_same("json", json.dumps([_native(1), _native(2)]).encode(), validated=True)
    assert_same("json", json.dumps([_native(1), _native(2, kind="nonsense")]).encode(), validated=False)
    _, new = both("json", json.dumps([_native(14, time="2099-01-01T00:00:00Z")]).encode())
    assert new[2] == 0 and new[1] and new[1][0][1] == "time"  # a future time stays a record: validation words it


def test_a_time_bound_is_never_looser_than_validation() -> None:
    soon = (NOW + timedelta(minutes=4)).isoformat().replace("+00:00", "Z")
    data = json.dumps([_native(1, time=soon)]).encode()
    items = list(decode_json(data, NOW - timedelta(minutes=2)))  # decoded with an earlier now: left to validation
    assert [type(item) for item in items] == [Record]
    assert [type(item) for item in decode_json(data, NOW)] == [Validated]


_POOL: list[Any] = [
    None, "", " x", "x ", "X", 0, -1, 1, 1.5, -91.0, 181, 1e300, True, False, [], {}, [1, 2], {"a": 1}, "NaN", "1e999",
    "a" * 300, "2023-04-02T03:15:00", "2099-01-01T00:00:00Z", "2023-02-30T00:00:00Z", "2023-04-02 03:15:00Z",
    "2023-04-02T03:15:00.1234567Z", "2023-04-02T03:15:60Z", "2023-04-02t03:15:00z", "explosion", "acoustic", "UA",
    "COALITION", ["COALITION", " PUBLIC"], ["lower"], 2**64, -(2**63) - 1, 7, 6, "B", "Z", "sha256:" + "0" * 64,
    "sha256:" + "G" * 64, "\ud800", "é", {"lat": 48.1, "lon": 37.7}, [[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [0.0, 1.0]],
]
_PATHS = [
    ("id",), ("time",), ("time_uncertainty_s",), ("kind",), ("location",), ("location", "lat"), ("location", "lon"),
    ("location", "cep_m"), ("location", "cov_m2"), ("location", "alt_m"), ("location", "type"), ("location", "name"),
    ("source",), ("source", "id"), ("source", "type"), ("source", "org"), ("source", "extra"), ("reliability",),
    ("credibility",), ("releasable_to",), ("attributes",), ("attributes", "origin"), ("attributes", "x"),
    ("evidence_hash",), ("assumed",), ("unknown",),
]


def _set_at(doc: dict[str, Any], path: tuple[str, ...], pool: list[Any], rng: random.Random) -> None:
    """Drop the member at ``path`` (one time in five) or set it to a value of ``pool``, making parents as needed."""
    parent = doc
    for key in path[:-1]:
        if not isinstance(parent.get(key), dict):
            parent[key] = {}
        parent = parent[key]
    if rng.random() < 0.2:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = copy.deepcopy(rng.choice(pool))


def _mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 2))):
        _set_at(doc, rng.choice(_PATHS), _POOL, rng)
    return doc


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("seed", range(300))
def test_mutated_documents_store_and_refuse_the_same(seed: int) -> None:
    rng = random.Random(seed)
    docs = [_native(i, time_uncertainty_s=rng.choice([2.0, _DROP]), id=rng.choice([f"m-{seed}-{i}", _DROP])) for i in range(3)]
    docs[rng.randrange(3)] = _mutate(docs[rng.randrange(3)], rng)
    assert_same("json", _dumps(docs))
    assert_same("jsonl", b"\n".join(_dumps(d) for d in docs) + b"\n")
    features = []
    for d in docs:
        try:
            features.append(_as_feature(d))
        except (KeyError, TypeError):
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.0, 48.0]}, "properties": d})
    if rng.random() < 0.3:
        feature = features[rng.randrange(3)]
        feature["geometry"]["coordinates"] = copy.deepcopy(rng.choice([[37.0], [37.0, 48.0, 100.0], [37.0, "48"], [200.0, 48.0], [37.0, 48.0, 1e6]]))
    assert_same("geojson", _dumps({"type": "FeatureCollection", "features": features}))


_STA_POOL: list[Any] = [
    None, "", "UA", " UA", "ua", 2, 7, 0, "B", "b", "Z", ["COALITION"], ["PUBLIC", "COALITION"], ["bad label"], [], "radar",
    "not-a-type", "2023-04-05T04:35:30Z", "2023-04-05T04:35:30Z/2023-04-05T04:36:30Z", "2023-04-05T04:36:30Z/2023-04-05T04:35:30Z",
    "2023-04-05T04:35:30", "2099-01-01T00:00:00Z", "1999-01-01T00:00:00Z", "2023-04-05T04:35:30.5+02:00", 1.5, 150, -1, 1e7,
    True, "explosion", "impact", "temperature", {"type": "Point", "coordinates": [36.9, 46.6, 120.0]},
    {"type": "Point", "coordinates": [36.9]}, {"type": "Polygon", "coordinates": []}, {"type": "Point", "coordinates": [200.0, 46.6]},
    {"a": {"b": [1, 2.5e-7]}}, "a" * 300, 2**60,
]
_STA_PATHS = [
    ("phenomenonTime",), ("result",), ("resultTime",), ("@iot.id",), ("@iot.selfLink",), ("parameters", "kind"),
    ("parameters", "cep_m"), ("parameters", "time_uncertainty_s"), ("FeatureOfInterest", "feature"), ("FeatureOfInterest",),
    ("Datastream", "properties", "org"), ("Datastream", "properties", "reliability"), ("Datastream", "properties", "credibility"),
    ("Datastream", "properties", "releasable_to"), ("Datastream", "properties", "source_type"), ("Datastream", "properties", "source_id"),
    ("Datastream", "name"), ("Datastream", "unitOfMeasurement", "symbol"), ("Datastream", "Sensor", "name"),
    ("Datastream", "ObservedProperty", "name"), ("Datastream", "Thing", "@iot.id"), ("Datastream", "Thing", "properties"),
    ("FeatureOfInterest", "properties", "cep_m"),
]


@pytest.mark.parametrize("seed", range(200))
def test_mutated_sensorthings_store_and_refuse_the_same(seed: int) -> None:
    rng = random.Random(seed)
    doc = json.loads(gen_sensorthings(4, rng))
    for _ in range(rng.choice((1, 2, 3))):
        _set_at(doc["value"][rng.randrange(4)], rng.choice(_STA_PATHS), _STA_POOL, rng)
    assert_same("sensorthings", _dumps(doc))


def test_a_chunk_is_stored_in_file_order_whatever_path_each_record_took(tmp_path: Path) -> None:
    """Of two records with one id and other content, the first in the file is stored and the second is the
    conflict, also when the second is left to the model (a space in its time) and the first came validated."""
    first = _native(1)
    second = _native(1, time="2023-04-02 03:16:00Z")
    path = tmp_path / "two.jsonl"
    path.write_bytes((json.dumps(first) + "\n" + json.dumps(second) + "\n").encode())
    fmt, records, _, handle = open_records(path)
    items = list(records)
    assert [type(item) for item in items] == [Validated, Record]
    store = open_store(tmp_path / "data")
    try:
        summary = ingest_records(store, items, IngestSummary(str(path), fmt))
        assert (summary.stored, summary.conflicts) == (1, ["edge-0001"])
        (kept,) = store.find_observations("edge-0001")
        assert kept.document["time"] == "2023-04-02T03:15:00Z"
    finally:
        handle.close()
        store.close()


@pytest.mark.parametrize(
    ("name", "generate"),
    [("a.json", gen_native_json), ("a.jsonl", gen_json_lines), ("a.geojson", gen_geojson), ("a.sta.json", gen_sensorthings)],
)
def test_truceline_ingest_stores_validated_records_that_the_ledger_audit_accepts(tmp_path: Path, name: str, generate: Any) -> None:
    path = tmp_path / name
    path.write_bytes(generate(300, random.Random(3)))
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(data_dir), "--org", "UA", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["stored"] == 300
    audit = CliRunner().invoke(app, ["ledger", "audit", "--data-dir", str(data_dir)])
    assert audit.exit_code == 0, audit.output
    assert "300 observations" in audit.output


# SensorThings' fast path (ingest/sensorthings_fast.py) maps each distinct expanded Datastream once and reuses it
# for every Observation that repeats its bytes. These documents share Datastreams between Observations that
# differ in everything of their own, repeat an @iot.id (or none) with other content, and differ only deep
# inside a nested entity: a cache that let one Observation's or Datastream's data reach another would show
# as a different stored row or refusal.


def _stream(k: int, **change: Any) -> dict[str, Any]:
    ds = json.loads(gen_sensorthings(4, random.Random(5)))["value"][k % 4]["Datastream"]
    for path, value in change.items():
        *parents, last = path.split("__")
        parent = ds
        for key in parents:
            parent = parent.setdefault(key, {})
        parent[last] = value
    return ds


def _obs(i: int, ds: dict[str, Any], **fields: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {"@iot.id": i, "phenomenonTime": "2023-04-05T04:35:30Z", "result": 12.5, "Datastream": ds}
    obs.update({k.replace("__", "."): v for k, v in fields.items() if v is not _DROP})
    for k, v in fields.items():
        if v is _DROP:
            obs.pop(k, None)
    return obs


def _foi(lon: float, lat: float, *rest: float, **properties: Any) -> dict[str, Any]:
    return {"name": "event", "feature": {"type": "Point", "coordinates": [lon, lat, *rest]}, "properties": properties}


def _fast_items(data: bytes) -> list[Any] | None:
    from truceline.ingest.sensorthings_fast import decode_fast

    return decode_fast(data, Owner("UA"), NOW + timedelta(minutes=5))


def _sta(*observations: dict[str, Any]) -> bytes:
    return _dumps({"@iot.count": len(observations), "value": list(observations)})


def test_sensorthings_observations_sharing_a_datastream_keep_their_own_values() -> None:
    ds = _stream(0)
    observations = [
        _obs(1, ds, FeatureOfInterest=_foi(36.9, 46.6)),
        _obs(2, ds, phenomenonTime="2023-05-01T10:00:00.250+02:00", result="impact", resultTime="2023-05-01T10:00:05Z",
             FeatureOfInterest=_foi(37.5, 47.9, 120.0, cep_m=35)),  # fmt: skip
        _obs(3, ds, phenomenonTime="2023-06-02T00:00:00Z", result=7, **{"@iot.selfLink": "https://sta.example/v1.1/Observations(3)"}),
        _obs(4, ds, result=None, resultTime=1680669330, FeatureOfInterest=_foi(30.5, 50.45, cep_m=2.5)),
        _obs("obs-5", ds, result=True, FeatureOfInterest={}),  # the Thing's location
        _obs(6, ds, result="launch", FeatureOfInterest=_foi(36.0, 46.0, -20)),
        _obs(7, ds, result=1e-7, FeatureOfInterest=_foi(36.123456789, 46.0000001)),
        _obs(8, ds, result=_DROP, FeatureOfInterest=_foi(36.9, 46.6, cep_m=None)),
    ]
    data = _sta(*observations)
    items = _fast_items(data)
    assert items is not None and all(isinstance(item, Validated) for item in items)  # all on the fast path
    old, new = both("sensorthings", data)
    assert new[0] == old[0] and new[1] == old[1] == [] and new[2] == len(observations)
    assert len({row[4] for row in new[0].values()}) == len(observations)  # every stored document differs
    kinds = [json.loads(item.observation.canonical)["kind"] for item in items]
    assert kinds == ["explosion", "impact", "explosion", "explosion", "explosion", "launch", "explosion", "explosion"]


@pytest.mark.parametrize("same_id", ["@iot.id", "none"])
def test_sensorthings_datastreams_with_one_id_and_other_content_are_not_confused(same_id: str) -> None:
    variants = [
        _stream(0),
        _stream(0, properties__org="PL"),
        _stream(0, properties__reliability="D", properties__credibility=5),
        _stream(0, properties__releasable_to=["PUBLIC"]),
        _stream(0, unitOfMeasurement__symbol="dB"),
        _stream(0, name="array 0 renamed"),
        _stream(0, Sensor__name="Seismic array", Sensor__description="geophone"),
        _stream(0, ObservedProperty__name="Impact"),
        _stream(0, Thing__properties={"source_id": "post-zero"}),
        _stream(0, properties__source_type="radar"),
        _stream(0, Thing__Locations=[{"location": {"type": "Point", "coordinates": [30.1, 50.2]}, "properties": {"cep_m": 12}}]),
    ]
    for ds in variants:
        if same_id == "none":
            ds.pop("@iot.id")
            ds["Thing"].pop("@iot.id")
    n = len(variants)
    observations = [_obs(i, ds, FeatureOfInterest=({} if i % n % 2 else _foi(36.9, 46.6))) for i, ds in enumerate(variants * 2)]
    data = _sta(*observations)
    items = _fast_items(data)
    assert items is not None and all(isinstance(item, Validated) for item in items)
    old, new = both("sensorthings", data)
    assert new[0] == old[0] and new[1] == old[1] == []
    documents = [json.loads(item.observation.canonical) for item in items]
    for i in range(n):  # the same Datastream twice: the same all but the Observation's own id
        assert {k: v for k, v in documents[i].items() if k not in ("id", "attributes", "location")} == {
            k: v for k, v in documents[i + n].items() if k not in ("id", "attributes", "location")
        }
    assert len({json.dumps({k: v for k, v in d.items() if k not in ("id", "attributes")}, sort_keys=True) for d in documents[:n]}) > 1


@pytest.mark.parametrize(
    "nested",
    [
        {"Thing__Locations": [{"location": {"type": "Point", "coordinates": [36.0, 47.0, 210.0]}}]},
        {"Thing__Locations": [{"location": {"type": "Polygon", "coordinates": []}}]},  # refused where no feature
        {"Thing__properties": {"org": "PL"}},
        {"Thing__properties": {"org": "bad org"}},
        {"Sensor__description": "weather station"},  # no source type: refused
        {"Sensor__properties": {"source_id": "s-1", "source_type": "seismic"}},
        {"ObservedProperty__definition": "https://example.org/def/impact"},
        {"ObservedProperty__name": "Air temperature"},  # no event kind: refused unless the result names one
        {"ObservedProperty": {}},
        {"unitOfMeasurement__symbol": {"deep": [1, 2.5, None]}},
        {"unitOfMeasurement__symbol": 2**53},  # not portable: refused
        {"properties__releasable_to": ["bad label"]},
        {"properties__credibility": True},
        {"Thing__@iot.id": 2**60},
    ],
)
def test_sensorthings_datastreams_differing_only_in_a_nested_entity(nested: dict[str, Any]) -> None:
    plain, changed = _stream(1), _stream(1, **nested)
    observations = []
    for i in range(6):
        ds = changed if i % 3 == 1 else plain
        observations.append(_obs(i, ds, result=("impact" if i == 4 else 3.5), FeatureOfInterest=({} if i % 2 else _foi(36.5, 47.5))))
    assert_same("sensorthings", _sta(*observations))


_STA_OWN = [("phenomenonTime",), ("result",), ("resultTime",), ("@iot.id",), ("@iot.selfLink",), ("FeatureOfInterest", "feature"),
            ("FeatureOfInterest",), ("FeatureOfInterest", "properties", "cep_m"), ("parameters", "kind"), ("Datastreams",),
            ("Observations",)]  # fmt: skip


@pytest.mark.parametrize("seed", range(150))
def test_mutated_sensorthings_with_shared_datastreams_store_and_refuse_the_same(seed: int) -> None:
    """Eight Observations over two Datastreams (each repeated byte for byte), then mutations of one
    Observation's own members or of one Observation's copy of its Datastream."""
    rng = random.Random(1000 + seed)
    doc = json.loads(gen_sensorthings(8, rng))
    for i, obs in enumerate(doc["value"]):
        obs["Datastream"] = copy.deepcopy(doc["value"][i % 2]["Datastream"])
        if rng.random() < 0.3:
            obs["FeatureOfInterest"] = {}
    for _ in range(rng.choice((1, 2, 3))):
        paths = _STA_OWN if rng.random() < 0.5 else _STA_PATHS
        _set_at(doc["value"][rng.randrange(8)], rng.choice(paths), _STA_POOL, rng)
    assert_same("sensorthings", _dumps(doc))


@pytest.mark.parametrize(
    "text",
    [
        '{"value": [OBS], "@iot.nextLink": 1e400}',  # a number orjson refuses, where msgspec skips
        '{"value": [OBS], "x": 1' + "0" * 400 + "}",
        '{"value": [OBS], "x": "\xff"}',  # not UTF-8 where msgspec skips (bytes below)
        '{"value": [OBS], "x": "\\ud800"}',
        '{"value": [OBS], "x": ' + "[" * 990 + "]" * 990 + "}",  # deeper than msgspec reads
        '{"value": [OBS], "x": 1E+308}',
        '{"value": [OBS, {"Datastream": {"n": 1e999}, "phenomenonTime": "2023-04-05T04:35:30Z"}]}',
        '{"value": [OBS], "value": [OBS, OBS]}',
        '{"value": [{"phenomenonTime": "2023-04-05T04:35:30Z", "phenomenonTime": "2023-04-05T04:36:30Z", "Datastream": DS, "@iot.id": 9}]}',
        '{"value": [{"Datastream": {"name": "x"}, "Datastream": DS, "@iot.id": 9, "phenomenonTime": "2023-04-05T04:35:30Z"}]}',
        '{"value": [OBS, 5, OBS]}',
        '{"value": [OBS, {"@iot.id": 9, "phenomenonTime": "2023-04-05T04:35:30Z/2023-04-05T04:37:30Z", "Datastream": DS}]}',
        '{"value": [OBS, {"@iot.id": 9, "result": 3, "Datastream": DS}]}',
        '{"value": [OBS, {"@iot.id": 9, "phenomenonTime": " 2023-04-05T04:35:30Z", "result": "a\\u2028b", "Datastream": DS}]}',
        '{"value": [OBS, {"@iot.id": 18446744073709551616, "phenomenonTime": "2023-04-05T04:35:30Z", "Datastream": DS}]}',
        '{"value": [OBS, {"@iot.id": 9, "phenomenonTime": "2023-04-05T04:35:30Z", "result": {"a": 1}, "Datastream": DS}]}',
        '{"value": [OBS, {"phenomenonTime": "2023-04-05T04:35:30Z", "result": 2, "Datastream": DS}]}',  # no id: content hash
        '{"value": [OBS, {"@iot.id": 9, "phenomenonTime": "2099-04-05T04:35:30Z", "Datastream": DS}]}',  # future
        '{"value": [OBS, {"@iot.id": 9, "phenomenonTime": "2023-04-05T04:35:30Z", "result": "' + "x" * 1200 + '", "Datastream": DS}]}',
        '{"value": [OBS, {"@iot.id": 9, "phenomenonTime": "2023-04-05T04:35:30Z", "result": "q\\"uo\\\\te", "Datastream": DS}]}',
        '{"value": [OBS, {"Datastream": DS, "Observations": []}]}',
        '{"value": []}',
        '{"value": {}}',
        "[OBS]",
        "OBS",
    ],
)
def test_sensorthings_documents_the_two_parsers_might_read_differently(text: str) -> None:
    ds = json.dumps(_stream(2))
    obs = json.dumps(_obs(1, _stream(2), FeatureOfInterest=_foi(36.9, 46.6)))
    data = text.replace("OBS", obs).replace("DS", ds).encode("utf-8", "surrogateescape")
    if "\xff" in text:
        data = data.replace("\xff".encode(), b"\xff")
    assert_same("sensorthings", data)


def test_a_repeated_datastream_is_mapped_once() -> None:
    """The point of the fast path: 40 Observations over 2 Datastreams map 2 Datastreams, not 40."""
    from truceline.ingest import sensorthings_fast

    seen: list[Any] = []
    original = sensorthings_fast._stream
    data = _sta(*[_obs(i, _stream(i % 2), FeatureOfInterest=_foi(36.9, 46.6)) for i in range(40)])
    try:
        sensorthings_fast._stream = lambda ds, owner: seen.append(ds) or original(ds, owner)  # type: ignore[assignment]
        items = _fast_items(data)
    finally:
        sensorthings_fast._stream = original
    assert items is not None and len(items) == 40 and all(isinstance(item, Validated) for item in items)
    assert len(seen) == 2


def test_sensorthings_owner_labels_reach_only_datastreams_without_their_own() -> None:
    """``ingest --org UA --releasable-to ...``: Datastreams without ``properties.org`` take the owner and its
    labels (unless they name labels), whichever Observation maps the Datastream first."""
    owner = Owner("UA", ("PUBLIC", "COALITION"))
    bare = _stream(3)
    bare["properties"] = {}
    labelled = _stream(3, properties={"releasable_to": ["NATO"]})
    own_org = _stream(3, properties={"org": "PL"})
    observations = [_obs(i, ds, FeatureOfInterest=_foi(36.9, 46.6)) for i, ds in enumerate([bare, labelled, own_org] * 3)]
    data = _sta(*observations)
    old = outcome(decode_sensorthings(data, owner, None))
    new = outcome(decode_sensorthings(data, owner, NOW))
    assert new[0] == old[0] and new[1] == old[1] == [] and new[2] == len(observations)
    labels = [row[2] for row in new[0].values()]
    assert {tuple(sorted(label)) for label in map(tuple, labels)} == {("COALITION", "PUBLIC"), ("NATO",), ("PL",)}
