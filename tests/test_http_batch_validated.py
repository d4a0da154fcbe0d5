"""The HTTP parser's hot path: a plain batch of point records is prepared from the checked values, without a
model object per record, into the very rows, labels, keys and leaves the model's route gives; every other body
takes the model's route and gets its answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from tests.conftest import native

from truceline.ingest import validated_json
from truceline.ledger.commitment import commit_canonical, observation_leaf, observation_leaf_parts
from truceline.ledger.merkle import leaf_hash
from truceline.service import batch_parser
from truceline.store.prepared import PreparedColumns

RECEIVED = datetime(2023, 4, 2, 4, 0, 0, 250_000, tzinfo=UTC)
RECEIVED_ISO = "2023-04-02T04:00:00.250000Z"


def _point(i: int, **overrides: Any) -> dict[str, Any]:
    doc = native(id=f"p-{i}", time=f"2023-04-02T03:{i % 60:02d}:07.{i:06d}Z", location={"lat": 48.1 + i / 997, "lon": 37.7 - i / 991, "cep_m": 150 + i})
    doc.update(overrides)
    return doc


PLAIN = [
    _point(0),
    _point(1, time="2023-04-02T03:15:00Z", releasable_to=["COALITION", "OSCE"]),
    _point(2, location={"lat": 48, "lon": 37.5}),  # CEP unstated: the model's assumption
    _point(3, time_uncertainty_s=2.5, attributes={"calibre_mm": 152, "note": "é\u2028"}),
    _point(4, location={"lat": -1e-7, "lon": 179.99999, "cep_m": 1e6, "alt_m": 250.5}, reliability="A", credibility=1),
    _point(5, source={"id": "fr-radar-2", "type": "radar", "org": "FR"}),
    {k: v for k, v in _point(6).items() if k != "id"},  # content id: the model's code, still no model route per batch
    _point(7),  # the same id as another organisation's below: keys differ
    _point(7, source={"id": "fr-radar-2", "type": "radar", "org": "FR"}),
]


def _columns(parsed: batch_parser.ParsedBatch) -> PreparedColumns:
    assert parsed.status == 0, parsed.payload
    assert isinstance(parsed.items, PreparedColumns)
    return parsed.items


def _ordinary(records: Any) -> PreparedColumns:
    return _columns(batch_parser._parsed(records, RECEIVED, 300.0, 100))


def test_a_plain_batch_is_prepared_without_the_models_route(monkeypatch: pytest.MonkeyPatch) -> None:
    body = orjson.dumps(PLAIN)
    ordinary = _ordinary(orjson.loads(body))
    monkeypatch.setattr(batch_parser, "checked_records", lambda _: pytest.fail("a plain batch took the model's route"))
    monkeypatch.setattr(batch_parser.orjson, "loads", lambda _: pytest.fail("a plain batch was parsed twice"))
    fast = _columns(batch_parser.parse_batch(body, RECEIVED, 300.0, 100))
    assert fast.ids == ordinary.ids and fast.owner_orgs == ordinary.owner_orgs
    assert [list(c) for c in fast.columns] == [list(c) for c in ordinary.columns]
    assert [[type(v) for v in c] for c in fast.columns] == [[type(v) for v in c] for c in ordinary.columns]
    assert fast.doc_sha256s == ordinary.doc_sha256s
    assert (fast.label_values, fast.label_rows, fast.keys_json, fast.unique) == (
        ordinary.label_values, ordinary.label_rows, ordinary.keys_json, ordinary.unique
    )  # fmt: skip
    # Salts are fresh per call; each leaf opens with its own salt, and its hash is the leaf's.
    assert len(set(fast.salts)) == len(PLAIN) and all(len(s) == 16 for s in fast.salts)
    for salt, canonical, leaf, hashed in zip(fast.salts, fast.columns[-1], fast.leaves, fast.leaf_hashes, strict=True):
        assert leaf == observation_leaf(commit_canonical(salt, str(canonical).encode()), RECEIVED_ISO)
        assert hashed == leaf_hash(leaf)
    assert list(fast) == [p._replace(salt=s, leaf=lf, leaf_hash=h) for p, s, lf, h in zip(ordinary, fast.salts, fast.leaves, fast.leaf_hashes, strict=True)]


BEARING = native(id="b-1", location={"type": "bearing", "sensor_lat": 48.0, "sensor_lon": 37.0, "bearing_deg": 90.0, "bearing_sd_deg": 2.0})
FUTURE = _point(30, time="2023-04-02T04:06:00Z")


@pytest.mark.parametrize(
    ("records", "max_items"),
    [
        ([PLAIN[0], BEARING], 10),  # a bearing: the model's object
        ([PLAIN[0], FUTURE], 10),  # a future time: validation words the refusal
        (FUTURE, 10),
        (PLAIN[:3], 2),  # too many
        ([], 10),  # empty
        ([PLAIN[0], {**PLAIN[1], "kind": "rumour"}], 10),  # not plainly valid
    ],
)
def test_bodies_the_hot_path_leaves_get_the_models_answer(monkeypatch: pytest.MonkeyPatch, records: Any, max_items: int) -> None:
    tried: list[object] = []
    plain = validated_json.validated_batch
    monkeypatch.setattr(batch_parser, "validated_batch", lambda body, latest: tried.append(r := plain(body, latest)) or r)
    body = orjson.dumps(records)
    got = batch_parser.parse_batch(body, RECEIVED, 300.0, max_items)
    expected = batch_parser._parsed(orjson.loads(body), RECEIVED, 300.0, max_items)
    assert len(tried) == 1 and not (tried[0] and len(tried[0]) <= max_items)  # tried first, and left
    assert (got.status, got.payload, got.reason) == (expected.status, expected.payload, expected.reason)
    if not got.status:
        assert [(p.id, p.columns, p.labels) for p in got.items] == [(p.id, p.columns, p.labels) for p in expected.items]


def test_a_batch_of_ragged_columns_is_refused() -> None:
    batch = _ordinary(PLAIN)
    args = (batch.ids, batch.owner_orgs, [p.labels for p in batch], batch.columns, batch.doc_sha256s, batch.salts, batch.leaves, batch.leaf_hashes)
    assert list(PreparedColumns.from_columns(*args)) == list(batch)
    with pytest.raises(ValueError, match="every list of the same length"):
        PreparedColumns.from_columns(*args[:-1], batch.leaf_hashes[:-1])
    with pytest.raises(ValueError, match="17 row columns"):
        PreparedColumns.from_columns(*args[:3], batch.columns[:-1], *args[4:])


@pytest.mark.parametrize("received_at", [RECEIVED_ISO, "2026-12-06T16:30:00Z", 'odd "time" \\ é \u2028'])
def test_a_leaf_is_its_envelope_around_the_commitment(received_at: str) -> None:
    head, tail = observation_leaf_parts(received_at)
    for salt, canonical in ((b"\x00" * 16, b"{}"), (bytes(range(16)), b'{"id":"x"}')):
        commitment = commit_canonical(salt, canonical)
        assert head + commitment.removeprefix("sha256:").encode() + tail == observation_leaf(commitment, received_at)


def test_times_given_as_orjson_writes_them_are_copied_into_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole seconds or six digits of microseconds (not all zero), then ``Z``: written as given; any other spelling
    of the same moment is written by orjson, and every document is the model's."""
    as_written = ["2023-04-02T03:15:00Z", "2023-04-02T03:15:00.000001Z", "2023-04-02T03:15:00.999999Z", "2023-04-02T03:15:00.120000Z"]
    rewritten = ["2023-04-02T03:15:00.000000Z", "2023-04-02T03:15:00.12Z", "2023-04-02T05:15:00.5+02:00", "2023-04-02T03:15:00+00:00"]
    body = orjson.dumps([_point(i, time=t) for i, t in enumerate(as_written + rewritten)])
    ordinary = _ordinary(orjson.loads(body))
    plain = validated_json._dumps
    encoded: list[object] = []

    def dumps(value: Any, *args: Any, **kwargs: Any) -> bytes:
        if isinstance(value, datetime):
            encoded.append(value)
        return plain(value, *args, **kwargs)

    monkeypatch.setattr(validated_json, "_dumps", dumps)
    fast = _columns(batch_parser.parse_batch(body, RECEIVED, 300.0, 100))
    assert list(fast.columns[-1]) == list(ordinary.columns[-1])  # the canonical documents
    assert len(encoded) == len(rewritten)
