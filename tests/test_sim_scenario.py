"""Scenario files and presets: validation with precise errors, determinism, valid observations, truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim import PRESETS, ScenarioError, load_scenario, observation_records, parse_scenario, simulate, truth_records
from truceline.sim.draft import stream
from truceline.sim.world import LineGeometry, generate_events

MINIMAL = """
name: tiny
seed: 3
start: "2023-05-01T00:00:00Z"
duration_h: 6
frame: {lat: 48.0, lon: 37.8}
parties: [UA, RU]
line_length_km: 20
fires:
  - {party: RU, weapon: artillery, rate_per_h: 2}
sensors:
  - {type: uav, id: us-uav, org: US, at_km: [0, -2], footprint_km: 20, off_min: 0}
"""


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name: str) -> None:
    assert load_scenario(name).name == name


def test_simulation_is_deterministic_for_a_seed() -> None:
    spec = parse_scenario(MINIMAL)
    first = observation_records(simulate(spec))
    assert first == observation_records(simulate(spec))
    other = observation_records(simulate(spec.model_copy(update={"seed": 4})))
    assert other != first


@pytest.mark.parametrize("name", ["sparse-day", "salvo-sector"])
def test_every_simulated_observation_is_valid_and_labelled(name: str) -> None:
    sim = simulate(load_scenario(name))
    records = observation_records(sim)
    good, errors = validate_batch(records, validation_context())
    assert errors == [] and len(good) == len(records) > 100
    truth = list(truth_records(sim))
    labels = {r["observation"]: r for r in truth if r["type"] == "label"}
    events = {r["id"] for r in truth if r["type"] == "event"}
    assert set(labels) == {r["id"] for r in records}
    assert all(lab["event"] in events for lab in labels.values() if lab["event"] is not None)
    tags = Counter(lab["tag"] for lab in labels.values())
    assert tags["signal"] > 0 and tags["clutter"] > 0 and tags["duplicate"] > 0
    types = Counter(r["source"]["type"] for r in records)
    assert {"acoustic", "radar", "uav", "satellite", "monitor", "osint"} <= set(types)


def test_observations_are_written_in_arrival_order_with_late_reports() -> None:
    sim = simulate(load_scenario("sparse-day"))
    arrivals = [d.arrival for d in sim.drafts]
    assert arrivals == sorted(arrivals)
    late = [d for d in sim.drafts if d.arrival - d.time > 3600]
    assert late, "reports and satellite passes arrive hours after the event"
    times = [d.time for d in sim.drafts]
    assert any(b < a for a, b in zip(times, times[1:], strict=False)), "event times are out of order"


def test_salvo_sector_salvos_are_dense() -> None:
    spec = load_scenario("salvo-sector")
    events = generate_events(spec, LineGeometry(spec), stream(spec.seed, "events"))
    salvos: dict[str, list] = {}
    for e in events:
        if e.salvo:
            salvos.setdefault(e.salvo, []).append(e)
    assert len(salvos) > 20
    for members in salvos.values():
        assert 3 <= len(members) <= 10
        xs = np.array([e.impact_x for e in members])
        ys = np.array([e.impact_y for e in members])
        assert np.max(np.hypot(xs - xs.mean(), ys - ys.mean())) < 600.0
        times = [e.impact_time for e in members]
        assert max(times) - min(times) <= 180.0


def test_contact_line_week_has_ten_thousand_events_on_both_sides() -> None:
    spec = load_scenario("contact-line-week")
    geometry = LineGeometry(spec)
    events = generate_events(spec, geometry, stream(spec.seed, "events"))
    assert len(events) >= 10_000
    assert {e.party for e in events} == {"UA", "RU"}
    # every shot lands on the other side of the line and is fired from its own
    for e in events[:500]:
        side = geometry.side(e.party)
        along = geometry.to_en(0.0, 1.0)
        v_impact = e.impact_x * along[0] + e.impact_y * along[1]
        v_origin = e.origin_x * along[0] + e.origin_y * along[1]
        assert v_impact * side < 0 < v_origin * side
        assert e.launch_time < e.impact_time


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("seed: -1", "seed"),
        ("duration_h: 0", "duration_h"),
        ("parties: [UA]", "parties"),
        ("fires:\n  - {party: XX, weapon: artillery, rate_per_h: 1}", "fires[0].party 'XX'"),
        ("fires:\n  - {party: RU, weapon: trebuchet, rate_per_h: 1}", "trebuchet"),
        ("sensors:\n  - {type: sonar, id: a, org: UA}", "sensors.0"),
        ("start: 2023-05-01T00:00:00", "UTC offset"),
    ],
)
def test_bad_scenarios_name_the_field(patch: str, message: str) -> None:
    key = patch.split(":")[0]
    lines = [line for line in MINIMAL.strip().splitlines() if not line.startswith(key)]
    if key in ("fires", "sensors"):
        start = next(i for i, line in enumerate(MINIMAL.strip().splitlines()) if line.startswith(key))
        kept = MINIMAL.strip().splitlines()
        lines = kept[:start] + [ln for ln in kept[start + 2 :]]
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario("\n".join(lines) + "\n" + patch + "\n", "test.yaml")


def test_not_a_mapping_and_missing_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="YAML mapping"):
        parse_scenario("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.yaml")
