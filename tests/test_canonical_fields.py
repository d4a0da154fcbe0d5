"""Canonical JSON written from an observation's fields is byte for byte the ``model_dump`` route's.

The stored document and its ledger commitment are these bytes, so the faster writer
(:func:`truceline.ledger.commitment.canonical_from_fields`) must never differ from the reference:
``canonical_json(observation.model_dump(mode="json", exclude_none=True))``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from tests.conftest import native
from tests.test_observation_fast import _EDGES, _FIELDS, _TIMES, hostile_records

from truceline.domain.observation import Observation
from truceline.ingest.validation import validation_context
from truceline.ledger.canonical import canonical_json
from truceline.ledger.commitment import canonical_from_fields, canonical_observation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CTX = validation_context(NOW)
_ONE = TypeAdapter(Observation)


def reference(obs: Observation) -> bytes:
    return canonical_json(obs.model_dump(mode="json", exclude_none=True))


def check(record: dict[str, Any]) -> bool:
    """True when the record is valid; then both writers give the same bytes."""
    try:
        obs = _ONE.validate_python(record, context=CTX)
    except ValidationError:
        return False
    fast = canonical_from_fields(obs)
    if obs.location.type != "bearing":
        assert fast is not None, record
    if fast is not None:
        assert fast == reference(obs), record
    assert canonical_observation(obs) == reference(obs)
    return True


_AWKWARD = [
    native(),
    native(location={"lat": 48, "lon": 37, "cep_m": 1e6}),
    native(location={"lat": 1e-5, "lon": -5e-324, "cep_m": 1e-7, "alt_m": -0.0}),
    native(location={"type": "point", "lat": 0.00012, "lon": 179.99999999999997, "alt_m": 100000}),
    native(location={"lat": 48.1, "lon": 37.0, "cov_m2": [[1e12, 1e-5], [1e-5, 0.5]]}),
    native(location={"lat": 48.1, "lon": 37.0}),  # cep_m assumed
    {k: v for k, v in native().items() if k not in ("id", "reliability", "credibility", "releasable_to")},
    native(time="2023-04-02T05:15:00.000001+02:00", time_uncertainty_s=0, evidence_hash="sha256:" + "0" * 64),
    native(time="2023-04-02T03:15:00.5Z", time_uncertainty_s=2592000, releasable_to=["UA", "PUBLIC", "UA"]),
    native(time="2016-12-31T23:59:60Z", time_uncertainty_s=1e-5),
    native(attributes={"origin": {"lat": 48.0, "lon": 37.0}, "n": 150.0, "tiny": 1e-7, "big": 1e21, "x": None, "s": "é\n\u2028\"",
                       "deep": {"b": [1.5, None, True, {"z": 2.0}], "a": "\ue000"}, "\u00e9": 1, "A": [], "": {}}),
    native(location={"type": "place", "name": "Avdiivka", "precision": 1}),
    native(location={"type": "place", "name": " Ступове \"ř\"\n\t\u007f\U0001f600", "precision": 4, "lat": 48, "lon": 37.5,
                     "admin": "Donetsk\\Oblast"}),
    native(location={"name": "x", "precision": 2, "admin": ""}),
    native(location={"type": "bearing", "sensor_lat": 48.0, "sensor_lon": 37.0, "bearing_deg": 90.0, "bearing_sd_deg": 2.0}),
    native(source={"id": "drone-1", "type": "drone", "org": "UA"}, kind="muzzle-flash", reliability="A", credibility=6),
]


def test_awkward_observations_are_written_as_model_dump_writes_them() -> None:
    assert all(check(record) for record in _AWKWARD)


@pytest.mark.parametrize("path", _FIELDS, ids=".".join)
def test_every_field_at_every_edge(path: tuple[str, ...]) -> None:
    valid = 0
    for value in [*_EDGES, *_TIMES, "UA", "B", "thermal", "drone", "point", ["UA", "A"], [], {"origin": {"lat": 1, "lon": 2}},
                  [[1, 0], [0, 1]], [[1e-3, 0], [0, 1e13]], "sha256:" + "f" * 64]:
        record = native(time_uncertainty_s=2.0, attributes={"n": 1})
        target = record if len(path) == 1 else record[path[0]]
        if path[-1] == "cov_m2":
            target.pop("cep_m")
        target[path[-1]] = value
        valid += check(record)
    assert valid  # every field has some valid value among these


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_records())
def test_hostile_records_are_written_as_model_dump_writes_them(record: dict[str, Any]) -> None:
    check(record)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-90, max_value=90), st.integers(0, 999_999))
def test_any_latitude_and_microsecond(lat: float, micro: int) -> None:
    assert check(native(location={"lat": lat, "lon": -lat, "alt_m": lat}, time=f"2023-04-02T03:15:00.{micro:06d}Z",
                        time_uncertainty_s=abs(lat)))
