"""Sensors' clock offsets, learned across incidents, keep the impacts of one salvo apart (issue 16).

In a salvo of 3–10 impacts within ~600 m and 3 minutes, each reported by 2–4 nations' sensors whose clocks
are 2–45 s off (unstated), time barely separates impacts unless the offsets are known. A sensor's offset is
the same in all its reports, so incidents it shares with other sensors reveal it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from truceline.eval import evaluate, fused, parse_truth
from truceline.fuse import Fuser, fuse_all
from truceline.fuse.clock import MIN_RESIDUALS, SourceClocks
from truceline.fuse.measurement import Measurement
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim.senders import NATIONS_PRESETS, nations_scenario

SMALL_SALVOS = replace(NATIONS_PRESETS["nations-salvos"], events=20, hours=8.0)


def _m(source: str, t: float, exclusive: bool = True, bearing: bool = False, sd: float = 20.0) -> Measurement:
    m = Measurement()
    m.id, m.source, m.exclusive, m.bearing = f"{source}@{t}", source, exclusive, bearing
    m.t = m.t0 = t
    m.vt = sd * sd
    return m


def test_offsets_are_recovered_from_shared_incidents_and_only_for_clocked_sensors() -> None:
    truth = {"a": 30.0, "b": -20.0, "c": 5.0}
    events = [100.0 * k for k in range(12)]
    incidents = []
    for k, t in enumerate(events):
        members = [_m(s, t + off + (0.5 if k % 2 else -0.5)) for s, off in truth.items()]
        members.append(_m("patrol", t + 200.0, exclusive=False, sd=600.0))  # a person's note: no clock to fit
        members.append(_m("df", t - 40.0, bearing=True))  # a bearing: time error depends on range
        incidents.append(members)
    clocks = SourceClocks()
    assert clocks.refit(incidents)  # live times must move
    off = clocks.offsets
    assert set(off) == set(truth)
    assert off["a"] - off["b"] == pytest.approx(50.0, abs=2.0)
    assert off["c"] - off["b"] == pytest.approx(25.0, abs=2.0)
    for members in incidents:  # re-timed as the fuser does: the next refit moves nothing that matters
        for m in members:
            m.t = clocks.corrected(m)
    assert not clocks.refit(incidents)


def test_a_refit_that_changes_no_offset_moves_nothing_and_one_that_does_is_still_checked() -> None:
    """Reports of sensors that never share an incident (a year of history, each report its own event) give no
    offsets; the refit says nothing moved without walking the members. Once shared incidents give offsets, the
    members are checked against them as before."""
    clocks = SourceClocks()
    lone = [[_m("a", 3600.0 * k)] for k in range(400)]
    assert not clocks.refit(lone)
    assert not clocks.refit(lone)
    assert clocks.offsets == {}
    shared = [[_m("a", 100.0 * k + 30.0), _m("b", 100.0 * k - 20.0), _m("c", 100.0 * k)] for k in range(12)]
    assert clocks.refit(lone + shared)  # the shared incidents' times move by tens of seconds
    assert set(clocks.offsets) == {"a", "b", "c"}


def test_a_sensor_seen_too_rarely_gets_no_offset() -> None:
    incidents = [[_m("a", 100.0 * k + 30.0), _m(f"other{k}", 100.0 * k)] for k in range(MIN_RESIDUALS - 1)]
    clocks = SourceClocks()
    clocks.refit(incidents)
    assert "a" not in clocks.offsets


def _salvos(seed: int) -> tuple[list, object]:
    records, truth = nations_scenario(replace(SMALL_SALVOS, seed=seed))
    observations, errors = validate_batch(records, validation_context())
    assert not errors and all("time_uncertainty_s" not in r for r in records)
    return observations, parse_truth((("truth", r) for r in truth), "nations-salvos")


@pytest.mark.parametrize("seed", [1, 2])
def test_salvos_posted_without_time_uncertainty_reach_090_of_the_oracle(seed: int) -> None:
    observations, truth = _salvos(seed)
    report = evaluate(truth, [fused(i) for i in fuse_all(observations)], observations)  # type: ignore[arg-type]
    assert report.oracle_ratio is not None and report.oracle_ratio >= 0.90, (
        f"pairwise F1 {report.pairwise.f1:.3f} vs oracle {report.oracle_pairwise.f1 if report.oracle_pairwise else 0:.3f}"
    )


def test_re_association_keeps_the_update_protocol_consistent() -> None:
    """Upserting and deleting what one-by-one streaming publishes ends with exactly fuse_all's incidents."""
    observations, _ = _salvos(1)
    fuser = Fuser()
    held: dict[str, frozenset[str]] = {}
    removed_into = 0
    for obs in observations:
        for u in fuser.add([obs]):
            if u.incident is None:
                held.pop(u.incident_id, None)
                removed_into += u.merged_into is not None
            else:
                held[u.incident_id] = frozenset(u.incident.observation_ids)
    for u in fuser.flush():
        if u.incident is None:
            held.pop(u.incident_id, None)
        else:
            held[u.incident_id] = frozenset(u.incident.observation_ids)
    assert sorted(held.values(), key=sorted) == sorted((frozenset(i.observation_ids) for i in fuse_all(observations)), key=sorted)
    assert sum(len(v) for v in held.values()) == len(observations)
    assert removed_into > 0
