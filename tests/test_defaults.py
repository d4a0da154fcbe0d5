"""Defaults for what a sender does not state: the table, the `assumed` record, and what fusion makes of it."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from tests.conftest import ApiClient, native

from truceline.domain import defaults
from truceline.domain.observation import Observation, ObservationKind, SourceType
from truceline.fuse import fuse_all
from truceline.fuse.measurement import MeasurementModel, measure
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.ledger.canonical import canonical_json
from truceline.ledger.commitment import canonical_observation
from truceline.locate.enu import LocalFrame

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def unstated(**overrides: Any) -> dict[str, Any]:
    """DESIGN's minimal observation, as most clients post it: no time uncertainty."""
    return native(**overrides)


def validate(doc: dict[str, Any]) -> Observation:
    return Observation.model_validate(doc, context={"now": NOW})


# -- the table ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", list(defaults.TABLES.values()), ids=lambda t: t.version)
def test_every_source_type_and_kind_has_a_default(table: defaults.DefaultTable) -> None:
    for source_type in SourceType:
        for kind in ObservationKind:
            assert table.time_sd(source_type.value, kind.value) > 0
        assert table.point_cep(source_type.value) > 0
        assert table.sensor_cep(source_type.value) > 0
        assert table.origin_cep(source_type.value) > 0


def test_time_defaults_follow_the_reasoning_of_the_docs() -> None:
    t = defaults.CURRENT
    sd = {s.value: t.time_sd(s.value, "explosion") for s in SourceType}
    # a timestamp from another organisation is never better than the clock allowance
    assert min(sd.values()) >= defaults.CLOCK_ALLOWANCE_S
    # a person writing "03:15" rounds to the minute at best: uniform ±30 s is σ ≈ 17 s; patrols do far worse
    assert sd["monitor"] >= 30 / math.sqrt(3) * 10
    assert sd["radar"] <= sd["acoustic"] < sd["satellite"] < sd["monitor"] < sd["osint"] < sd["official"]
    assert t.time_sd("satellite", "thermal") == t.time_sd("uav", "thermal") == 5400.0  # a fire burns for hours
    assert defaults.table_named(defaults.rules_name(t)) is t and defaults.rules_name(t) in defaults.known_rules()
    assert defaults.table_named("truceline-defaults/0") is None


def test_assume_names_only_what_is_missing() -> None:
    t = defaults.CURRENT
    none = defaults.assume(t, "radar", "impact", time_stated=True, point_unstated=False, sensor_unstated=False, origin_unstated=False)
    assert none == {}
    every = defaults.assume(t, "radar", "impact", time_stated=False, point_unstated=True, sensor_unstated=True, origin_unstated=True)
    assert set(every) == {"time_uncertainty_s", "cep_m", "sensor_cep_m", "origin_cep_m"}
    assert every["cep_m"] == pytest.approx(t.point_sigma_m["radar"] * defaults.CEP_PER_SIGMA, abs=0.05)


# -- the `assumed` record on an observation ------------------------------------------------------------------
def test_unstated_time_is_assumed_and_recorded_not_zero() -> None:
    obs = validate(unstated(source={"id": "pl-patrol-3", "type": "monitor", "org": "PL"}))
    assert obs.time_uncertainty_s is None  # what the sender claimed: nothing
    assert obs.assumed is not None and obs.assumed.rules == "truceline-defaults/1"
    assert obs.assumed.time_uncertainty_s == obs.time_sd_s == defaults.CURRENT.time_sd("monitor", "explosion")
    doc = orjson.loads(canonical_observation(obs))
    assert "time_uncertainty_s" not in doc
    assert doc["assumed"] == {"rules": "truceline-defaults/1", "time_uncertainty_s": 600}


def test_stated_uncertainties_assume_nothing_and_keep_their_bytes() -> None:
    doc = native(time_uncertainty_s=2.5)
    obs = validate(doc)
    assert obs.assumed is None and obs.time_sd_s == 2.5
    expected = {**doc, "location": {"type": "point", **doc["location"]}, "attributes": {}}
    assert canonical_observation(obs) == canonical_json(expected)
    zero = validate(native(time_uncertainty_s=0))  # a stated zero is a claim (fusion floors it), not a gap
    assert zero.assumed is None and zero.time_sd_s == 0.0


def test_each_unstated_location_uncertainty_is_assumed() -> None:
    point = validate(native(time_uncertainty_s=1, location={"lat": 48.1, "lon": 37.7}, source={"id": "o1", "type": "official", "org": "UA"}))
    assert point.assumed is not None and point.assumed.cep_m == defaults.CURRENT.point_cep("official")
    assert point.sigma_m == pytest.approx(2000.0, rel=1e-4)
    bearing = validate(native(time_uncertainty_s=1, location={"sensor_lat": 48.0, "sensor_lon": 37.6, "bearing_deg": 45.0, "bearing_sd_deg": 2.0}))
    assert bearing.assumed is not None and bearing.assumed.sensor_cep_m == defaults.CURRENT.sensor_cep("acoustic")
    assert bearing.sensor_sigma_m == pytest.approx(10.0, abs=0.05)
    origin = validate(native(time_uncertainty_s=1, kind="impact", attributes={"origin": {"lat": 48.2, "lon": 37.9}},
                             source={"id": "r1", "type": "radar", "org": "FR"}))  # fmt: skip
    assert origin.assumed is not None and origin.assumed.origin_cep_m == defaults.CURRENT.origin_cep("radar")
    stated = validate(native(time_uncertainty_s=1, attributes={"origin": {"lat": 48.2, "lon": 37.9, "cep_m": 80}}))
    assert stated.assumed is None
    malformed = validate(native(time_uncertainty_s=1, attributes={"origin": {"lat": "north", "lon": 37.9}}))
    assert malformed.assumed is None  # nothing usable to assume about; fusion counts it as malformed


def test_explicit_null_is_refused_not_read_as_unknown() -> None:
    good, errors = validate_all_or_nothing([native(time_uncertainty_s=None)], validation_context(now=NOW))
    assert not good and [(e.field, e.rule) for e in errors] == [("time_uncertainty_s", "time_uncertainty_null")]


def test_a_sender_cannot_pass_its_own_values_off_as_assumed() -> None:
    stored = orjson.loads(canonical_observation(validate(unstated())))
    assert validate(stored) == validate(unstated())  # a stored document validates to itself
    forged = {**stored, "assumed": {**stored["assumed"], "time_uncertainty_s": 0.5}}
    with pytest.raises(ValidationError, match="assumed is set by truceline"):
        validate(forged)
    with pytest.raises(ValidationError, match="assumed is set by truceline"):
        validate(native(time_uncertainty_s=3, assumed={"rules": "truceline-defaults/1", "time_uncertainty_s": 3}))
    with pytest.raises(ValidationError, match="is not one of truceline-defaults/1"):
        validate({**stored, "assumed": {**stored["assumed"], "rules": "my-own-rules"}})


def test_content_hash_id_names_the_claim_not_the_assumption() -> None:
    doc = unstated()
    del doc["id"]
    obs = validate(doc)
    again = validate(orjson.loads(canonical_observation(obs)))
    assert obs.id == again.id and str(obs.id).startswith("h-")


# -- what fusion makes of it ---------------------------------------------------------------------------------
def test_fusion_uses_the_assumed_time_and_position() -> None:
    obs = validate(unstated(location={"lat": 48.1, "lon": 37.7}, source={"id": "u1", "type": "uav", "org": "US"}))
    (m,), _, _ = measure([obs], LocalFrame(48.1, 37.7), obs.time.timestamp(), MeasurementModel())
    assert m.vt == pytest.approx(defaults.CURRENT.time_sd("uav", "explosion") ** 2)
    assert m.cxx == pytest.approx(defaults.CURRENT.point_sigma_m["uav"] ** 2, rel=1e-3)
    (incident,) = fuse_all([obs])
    assert incident.time_uncertainty_s == pytest.approx(defaults.CURRENT.time_sd("uav", "explosion"))


def test_an_origin_without_uncertainty_is_used_with_its_assumed_cep() -> None:
    obs = validate(native(time_uncertainty_s=1, kind="impact", attributes={"origin": {"lat": 48.2, "lon": 37.9}},
                          source={"id": "r1", "type": "radar", "org": "FR"}))  # fmt: skip
    (m,), _, bad = measure([obs], LocalFrame(48.1, 37.7), obs.time.timestamp(), MeasurementModel())
    assert bad == 0 and m.origin is not None
    assert m.origin[2] == pytest.approx(defaults.CURRENT.origin_sigma_m["radar"] ** 2, rel=1e-3)


# -- over HTTP -------------------------------------------------------------------------------------------------
def test_assumed_shows_in_the_api_and_in_what_the_ledger_commits_to(api: ApiClient) -> None:
    doc = unstated(id="pl-note-1", source={"id": "pl-patrol-3", "type": "monitor", "org": "PL"})
    first = api.client.post("/api/v1/observations", content=orjson.dumps(doc), headers={**api.auth, "Content-Type": "application/json"})
    assert first.status_code == 201 and first.json()["stored"] == 1
    served = api.client.get("/api/v1/observations/pl-note-1", headers=api.auth).json()
    assert "time_uncertainty_s" not in served
    assert served["assumed"] == {"rules": "truceline-defaults/1", "time_uncertainty_s": 600}
    ledger = served.pop("ledger")
    served.pop("received_at")
    leaf = api.client.get(f"/api/v1/ledger/leaves/{ledger['index']}", headers=api.auth).json()
    import base64

    salt = base64.b64decode(ledger["salt"])
    assert leaf["body"]["commitment"] == "sha256:" + hashlib.sha256(salt + canonical_json(served)).hexdigest()
    # idempotent: the sender's document again, or the served one, is a duplicate, not a conflict
    for again in (doc, served):
        response = api.client.post("/api/v1/observations", content=orjson.dumps(again), headers={**api.auth, "Content-Type": "application/json"})
        assert response.status_code == 201 and response.json()["duplicates"] == ["pl-note-1"], response.text
    forged = {**served, "assumed": {"rules": "truceline-defaults/1", "time_uncertainty_s": 1}}
    refused = api.client.post("/api/v1/observations", content=orjson.dumps(forged), headers={**api.auth, "Content-Type": "application/json"})
    assert refused.status_code == 422 and "assumed is set by truceline" in refused.text


def test_acled_time_precision_widens_for_an_unstated_note_near_midnight() -> None:
    from truceline.report.acled_export import time_precision

    note = validate(unstated(time="2023-04-02T23:58:00Z", location={"name": "Avdiivka", "precision": 1, "lat": 48.14, "lon": 37.75},
                             source={"id": "pl-patrol-3", "type": "monitor", "org": "PL"}))  # fmt: skip
    (incident,) = fuse_all([note])
    assert incident.time_uncertainty_s == pytest.approx(600.0)  # was 1 s: the floor for "exact"
    assert time_precision(incident.time_uncertainty_s, incident.time) == 2  # may be the next day: not a known date
