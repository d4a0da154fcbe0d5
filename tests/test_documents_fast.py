"""Stored documents read back through the compiled fast path give the observations pydantic gives.

The fusion runner re-reads every stored observation (:func:`truceline.domain.documents.parse_documents`);
this compares the new reading with the old one (pydantic alone) field for field, types and fields set
included, on rows really stored from real files and from records of every shape the store accepts.
"""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from tests.conftest import native
from tests.test_observation_fast import _BEARING_EDGES, _BEARING_FIELDS, BEARING, DATA, PLACE, _edge_records, hostile_locations, same_model

from truceline.domain import documents
from truceline.domain.documents import _FAR_FUTURE, _NOW, parse_documents
from truceline.domain.observation import Observation
from truceline.domain.observation_dict_fast import fast_observation
from truceline.ingest.firms import decode_firms
from truceline.ingest.records import Record
from truceline.ingest.validation import validate_batch, validation_context
from truceline.store.sqlite import SqliteStore

_LIST = TypeAdapter(list[Observation])


def _stored(store: SqliteStore, records: list[Any]) -> list[str]:
    observations, errors = validate_batch(records, validation_context())
    assert not errors, errors[:3]
    store.add_observations(observations)
    return [doc for _, doc in store.observations_after(0, 1_000_000)]


def _shapes() -> list[dict[str, Any]]:
    """Records of the shapes the fast path takes and of those it leaves to pydantic."""
    return [
        native(id="plain"),
        native(id="int-figures", time_uncertainty_s=2, location={"lat": 48, "lon": 37, "cep_m": 150}),
        native(id="no-uncertainty", location={"lat": 48.1, "lon": 37.7}),  # assumed uncertainties
        native(id="cov", location={"lat": 48.1, "lon": 37.7, "cov_m2": [[400.0, 10.0], [10.0, 900.0]], "alt_m": 120.5}),
        native(id="place", location={"type": "place", "name": "Avdiivka", "precision": 2, "lat": 48.139, "lon": 37.742}),
        native(id="bearing", location={"sensor_lat": 48.1, "sensor_lon": 37.7, "bearing_deg": 45.0, "bearing_sd_deg": 3.0}),
        native(id="stated-place", time_uncertainty_s=600, location={"name": "Avdiivka", "precision": 3}),
        native(id="stated-bearing", time_uncertainty_s=0.5, location={"type": "bearing", "sensor_lat": 48, "sensor_lon": 37.7,
                                                                       "sensor_cep_m": 5, "bearing_deg": 0, "bearing_sd_deg": 180}),
        native(id="attrs", attributes={"origin": {"lat": 48.0, "lon": 37.5, "cep_m": 2000}, "note": "x"}),
        native(id="labels", releasable_to=["OSCE", "COALITION", "OSCE"], evidence_hash="sha256:" + "ab" * 32),
        native(id="offset", time="2023-04-02T05:15:00.123+02:00", reliability="A", credibility=1),
        {k: v for k, v in native().items() if k != "id"},  # content id
    ]


def _firms() -> list[Any]:
    text = gzip.decompress((DATA / "firms" / "firms-ukraine-2023.csv.gz").read_bytes()).decode()
    return [r.value for r in decode_firms(io.StringIO(text)) if isinstance(r, Record)][:2000]


@pytest.mark.parametrize("source", ["shapes", "firms"])
def test_stored_documents_read_back_as_pydantic_reads_them(store: SqliteStore, source: str) -> None:
    docs = _stored(store, _shapes() if source == "shapes" else _firms())
    got = parse_documents(docs)
    want = _LIST.validate_json("[" + ",".join(docs) + "]", context=_FAR_FUTURE)
    assert len(got) == len(want) == len(docs)
    for a, b in zip(got, want, strict=True):
        same_model(a, b)


def test_pydantic_reads_only_what_the_fast_path_leaves(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _stored(store, _shapes() + _firms()[:200])
    seen: list[int] = []

    class Counting:
        def validate_json(self, data: str, context: Any) -> list[Observation]:
            parsed = _LIST.validate_json(data, context=context)
            seen.append(len(parsed))
            return parsed

    monkeypatch.setattr(documents, "_OBSERVATIONS", Counting())
    assert len(parse_documents(docs)) == len(docs)
    assumed = sum('"assumed"' in doc for doc in docs)
    assert 0 < assumed < 20 and sum(seen) == 0, "stored documents skip pydantic, places, bearings and assumed records too"


def _with_assumed(doc: str, assumed: Any) -> str:
    loaded = json.loads(doc)
    loaded["assumed"] = assumed
    return json.dumps(loaded)


def test_assumed_records_are_taken_only_when_exactly_what_their_rules_give(store: SqliteStore) -> None:
    """What real senders post leaves uncertainties out, so their stored documents carry the ``assumed`` record
    truceline wrote: read back without pydantic (about twice as costly) when it is exactly the rules' record, and by
    pydantic, which keeps or refuses it, when it is anything else."""
    docs = [doc for doc in _stored(store, _shapes()) if '"assumed"' in doc]
    assert {json.loads(doc)["location"].get("type", "point") for doc in docs} == {"point", "place", "bearing"}
    variants: list[str] = []
    for doc in docs:
        given = json.loads(doc)["assumed"]
        number = next(name for name in given if name != "rules")
        variants += [
            doc,
            _with_assumed(doc, {**given, number: float(given[number])}),  # 24.0 as well as 24
            _with_assumed(doc, {**given, number: given[number] * 2}),  # not what the rules give
            _with_assumed(doc, {**given, number: True}),
            _with_assumed(doc, {**given, number: str(given[number])}),
            _with_assumed(doc, {**given, "origin_cep_m": None}),  # an explicit null: kept in pydantic's fields set
            _with_assumed(doc, {**given, "origin_cep_m": 5.0}),  # assumes what is not unstated
            _with_assumed(doc, {**given, "note": 1}),
            _with_assumed(doc, {**given, "rules": "truceline-defaults/0"}),
            _with_assumed(doc, {k: v for k, v in given.items() if k != number}),
            _with_assumed(doc, {k: v for k, v in given.items() if k != "rules"}),
            _with_assumed(doc, [given]),
            _with_assumed(doc, None),
        ]
    stated = next(doc for doc in _stored(store, [native(id="stated")]) if '"assumed"' not in doc)
    variants.append(_with_assumed(stated, {"rules": "truceline-defaults/1", "time_uncertainty_s": 24}))  # nothing unstated
    assert check_documents(variants) >= len(docs)  # the dict path takes at least the documents as stored


_ONE = TypeAdapter(Observation)


def check_documents(docs: list[str]) -> int:
    """Each document read back by parse_documents as pydantic reads it (values, types, fields set, model_dump), or
    refused by both; the number the dict fast path took."""
    taken = 0
    for doc in docs:
        try:
            loaded = orjson.loads(doc)
        except orjson.JSONDecodeError:
            loaded = None
        fast = None if loaded is None else fast_observation(loaded, _NOW)
        try:
            want = _ONE.validate_json(doc, context=_FAR_FUTURE)
        except ValidationError:
            assert fast is None, f"the fast path took what pydantic refuses: {doc}"
            with pytest.raises(ValidationError):
                parse_documents([doc])
            continue
        got = parse_documents([doc])[0]
        for built in (got, fast) if fast is not None else (got,):
            same_model(built, want)
            assert built.model_dump() == want.model_dump() and built.model_fields_set == want.model_fields_set
            assert built.location.model_fields_set == want.location.model_fields_set
            assert built.model_dump_json() == want.model_dump_json()
        taken += fast is not None
    return taken


def _json(record: Any) -> str | None:
    try:
        return json.dumps(record, allow_nan=True)
    except (ValueError, TypeError):
        return None


def _rewritten(doc: str) -> list[str]:
    """The document as written, and in forms JSON readers might read differently: a repeated key (the last wins
    for both), floats written as integers, spaces."""
    loaded = json.loads(doc)
    location = json.dumps(loaded["location"])
    first_key = next(iter(loaded["location"]), None)
    out = [doc, doc.replace(": ", ":").replace(", ", ","), doc.replace(".0,", ",").replace(".0}", "}")]
    if first_key is not None:
        out.append(doc.replace(location, location[:-1] + f', "{first_key}": 1e400}}'))
        out.append(doc.replace(location, "{" + f'"{first_key}": "x", ' + location[1:]))
    out.append(doc.replace('"credibility": 2', '"credibility": 5, "credibility": 2'))
    return out


@pytest.mark.parametrize("path", _BEARING_FIELDS, ids=".".join)
def test_bearing_and_place_documents_at_every_edge(store: SqliteStore, path: tuple[str, ...]) -> None:
    """Documents of bearings and places with each field at every edge (JSON as senders write it and as stored):
    parse_documents reads them as pydantic does, and the dict fast path takes the plain ones."""
    docs: list[str] = []
    for base in (BEARING, PLACE):
        for record in _edge_records(base, path, _BEARING_EDGES):
            doc = _json(record)
            if doc is not None:
                docs.extend(_rewritten(doc) if "NaN" not in doc and "Infinity" not in doc else [doc])
    assert check_documents(docs) > 0
    stored = _stored(store, [native(id=f"s{i}", location=loc, time_uncertainty_s=2.0) for i, loc in enumerate((BEARING, PLACE, {**BEARING, "bearing_deg": 0}))])
    assert check_documents(stored) == len(stored), "stored bearings and places take the dict fast path"


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_locations())
def test_hostile_bearing_and_place_documents_read_back_as_pydantic_reads_them(record: dict[str, Any]) -> None:
    doc = _json(record)
    if doc is not None:
        check_documents([doc])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_locations(), min_size=1, max_size=8))
def test_stored_bearings_and_places_read_back_as_pydantic_reads_them(store: SqliteStore, records: list[dict[str, Any]]) -> None:
    """Whatever validation accepted, stored and read back: the same observations as pydantic reads."""
    good = [r for r in records if _accepted(r)]
    for i, r in enumerate(good):
        r["id"] = f"h{i}-{len(good)}-{abs(hash(json.dumps(r, allow_nan=True, default=str))) % 10**9}"
    if good:
        docs = _stored(store, good)[-len(good):]
        check_documents(docs)
        got = parse_documents(docs)
        want = _LIST.validate_json("[" + ",".join(docs) + "]", context=_FAR_FUTURE)
        for a, b in zip(got, want, strict=True):
            same_model(a, b)


def _accepted(record: dict[str, Any]) -> bool:
    try:
        _ONE.validate_python(record, context=validation_context())
    except ValidationError:
        return False
    return True
