"""Stored documents read back through the compiled fast path give the observations pydantic gives.

The fusion runner re-reads every stored observation (:func:`truceline.domain.documents.parse_documents`);
this compares the new reading with the old one (pydantic alone) field for field, types and fields set
included, on rows really stored from real files and from records of every shape the store accepts.
"""

from __future__ import annotations

import gzip
import io
from typing import Any

import pytest
from pydantic import TypeAdapter
from tests.conftest import native
from tests.test_observation_fast import DATA, same_model

from truceline.domain import documents
from truceline.domain.documents import _FAR_FUTURE, parse_documents
from truceline.domain.observation import Observation
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
    assert 0 < sum(seen) < 10, "plainly valid stored documents skip pydantic; places and bearings do not"
