"""Sensor models against their own physics: TDOA audit trail, revisit gaps, radar origins, report quality."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from truceline.locate import LocalFrame, locate_tdoa
from truceline.sim import load_scenario, observation_records, simulate
from truceline.sim.draft import stream
from truceline.sim.scenario import Uav
from truceline.sim.sensors import placements


@pytest.fixture(scope="module")
def salvo():
    sim = simulate(load_scenario("salvo-sector"))
    return sim, observation_records(sim)


def test_tdoa_attributes_reproduce_the_reported_fix(salvo) -> None:
    """An auditor can re-solve every acoustic fix from the arrivals it carries."""
    _, records = salvo
    acoustic = [r for r in records if "tdoa" in r.get("attributes", {})][:20]
    assert acoustic
    for r in acoustic:
        tdoa = r["attributes"]["tdoa"]
        frame = LocalFrame(r["location"]["lat"], r["location"]["lon"])
        sensors = np.column_stack(frame.to_enu([s[0] for s in tdoa["sensors"]], [s[1] for s in tdoa["sensors"]]))
        fix = locate_tdoa(sensors, np.array(tdoa["arrivals_s"]), tdoa["sound_speed_mps"], tdoa["timing_sd_s"])
        # The reported point is this frame's origin and arrivals are relative to the reported time; what is
        # left is rounding of the published figures, far inside the fix's own uncertainty.
        e = np.array([fix.x, fix.y, fix.t0])
        assert float(e @ np.linalg.solve(fix.cov, e)) < 1e-2


def test_acoustic_fix_errors_match_their_covariance(salvo) -> None:
    sim, _ = salvo
    events = {e.id: e for e in sim.events}
    d2 = []
    for d in sim.drafts:
        if d.source_type == "acoustic" and d.point and d.event and d.cov:
            end = events[d.event].phase(d.phase or "impact")
            e = np.array([d.point[0] - end[1], d.point[1] - end[2]])
            cov = np.array([[d.cov[0], d.cov[1]], [d.cov[1], d.cov[2]]])
            d2.append(float(e @ np.linalg.solve(cov, e)))
    assert len(d2) > 200
    assert 1.5 < np.mean(d2) < 3.0  # χ² with 2 degrees of freedom has mean 2


def test_uav_sees_only_in_its_footprint_and_while_on_station() -> None:
    spec = load_scenario("sparse-day")
    sim = simulate(spec)
    uav_spec = next(s for s in spec.sensors if isinstance(s, Uav))
    start = spec.start.timestamp()
    period = (uav_spec.on_min + uav_spec.off_min) * 60.0
    events = {e.id: e for e in sim.events}
    checked = 0
    for place in placements(uav_spec, sim.geometry):
        offset = stream(spec.seed, place.id).uniform(0.0, period)  # the model's first draw: its schedule
        for d in sim.drafts:
            if d.source_id != place.id:
                continue
            _, x, y = events[d.event].phase(d.phase)
            t = events[d.event].phase(d.phase)[0]
            assert (t - start + offset) % period < uav_spec.on_min * 60.0
            assert math.hypot(x - place.x, y - place.y) <= uav_spec.footprint_km * 1000.0
            assert math.hypot(d.point[0] - x, d.point[1] - y) < 6 * uav_spec.sigma_m
            checked += 1
    assert checked > 0


def test_radar_reports_the_origin_of_the_shot(salvo) -> None:
    sim, records = salvo
    by_id = {r["id"]: r for r in records}
    events = {e.id: e for e in sim.events}
    radar = [d for d in sim.drafts if d.source_type == "radar"]
    assert radar
    frame = sim.geometry.frame
    for d in radar[:30]:
        origin = by_id[d.id]["attributes"]["origin"]
        x, y = frame.to_enu(origin["lat"], origin["lon"])
        event = events[d.event]
        assert math.hypot(float(x) - event.origin_x, float(y) - event.origin_y) < 6 * origin["cep_m"]
        assert d.arrival < event.impact_time + 60, "radar predicts the impact from the trajectory"


def test_reports_are_coarse_late_and_sometimes_false(salvo) -> None:
    sim, records = salvo
    reports = [r for r in records if r["source"]["type"] in ("monitor", "osint")]
    assert reports and all(r["location"].get("precision") in (1, 2, 3, 4) for r in reports)
    drafts = {d.id: d for d in sim.drafts}
    delays = [drafts[r["id"]].arrival - drafts[r["id"]].time for r in reports]
    assert np.median(delays) > 600
    assert any(drafts[r["id"]].tag == "false-report" for r in reports) or any(
        drafts[r["id"]].tag == "duplicate" for r in reports
    )
    assert all(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).tzinfo for r in reports)
