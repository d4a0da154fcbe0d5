"""Evaluation metrics on hand-made cases, and the oracle on the simulator's truth."""

from __future__ import annotations

import math

import pytest

from truceline.eval import FusedIncident, Label, Target, evaluate, oracle_clusters, pairwise, parse_truth, truth_clusters
from truceline.eval.data import EvalInputError, Truth
from truceline.eval.metrics import duplicate_rate, match
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim import load_scenario, observation_records, simulate, truth_records

T = 1.68e9


def test_pairwise_counts_pairs() -> None:
    truth = {"a": "E1", "b": "E1", "c": "E1", "d": "E2", "e": "noise/e"}
    assert pairwise({"a": "1", "b": "1", "c": "1", "d": "2", "e": "3"}, truth).f1 == 1.0
    merged = pairwise({k: "1" for k in truth}, truth)  # 10 predicted pairs, 3 true
    assert (merged.precision, merged.recall) == (pytest.approx(0.3), 1.0)
    split = pairwise({"a": "1", "b": "2", "c": "2", "d": "3"}, truth)  # unassigned e stands alone
    assert (split.precision, split.recall) == (1.0, pytest.approx(1 / 3))


def test_truth_clusters_keep_noise_alone() -> None:
    labels = {"a": Label("E1", "impact", "signal"), "b": Label(None, None, "clutter"), "c": Label(None, None, "clutter")}
    clusters = truth_clusters(labels)
    assert clusters["a"] == "E1/impact" and len({clusters["b"], clusters["c"]}) == 2


def _incident(iid: str, lat: float, lon: float, t: float, kind: str = "impact", ids: tuple[str, ...] = ()) -> FusedIncident:
    return FusedIncident(iid, t, lat, lon, kind, ids)


def test_matching_is_one_to_one_within_gates_and_compatible_ends() -> None:
    targets = {
        ("E1", "impact"): Target("E1", "impact", T, 48.0, 37.8),
        ("E2", "impact"): Target("E2", "impact", T + 30, 48.0, 37.805),  # ~372 m east
        ("E1", "launch"): Target("E1", "launch", T - 40, 48.1, 37.8),
    }
    incidents = [
        _incident("i1", 48.0, 37.8001, T + 1),  # near E1
        _incident("i2", 48.0, 37.8002, T + 2),  # also near E1: one-to-one leaves it the E2 match if in gates
        _incident("i3", 48.1, 37.8, T - 40, kind="launch"),
        _incident("i4", 48.1, 37.8, T - 40, kind="impact"),  # right place, wrong end: no launch match for it
        _incident("i5", 48.3, 37.8, T),  # 33 km away
    ]
    pairs = {incidents[i].id: key for i, key, _, _ in match(incidents, targets, 1000.0, 600.0).pairs}
    assert pairs["i3"] == ("E1", "launch")
    assert {pairs["i1"], pairs["i2"]} == {("E1", "impact"), ("E2", "impact")}
    assert "i4" not in pairs and "i5" not in pairs
    tight = match(incidents, targets, 100.0, 600.0).pairs
    assert {incidents[i].id for i, *_ in tight} == {"i1", "i3"} or {incidents[i].id for i, *_ in tight} == {"i2", "i3"}


def test_duplicate_rate_counts_extra_incidents_per_event() -> None:
    labels = {k: Label("E1", "impact", "signal") for k in "abc"} | {"d": Label("E2", "impact", "signal")}
    incidents = [_incident("1", 0, 0, 0, ids=("a",)), _incident("2", 0, 0, 0, ids=("b", "c")), _incident("3", 0, 0, 0, ids=("d",))]
    assert duplicate_rate(incidents, labels) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def sparse():
    sim = simulate(load_scenario("sparse-day"))
    observations, _ = validate_batch(observation_records(sim), validation_context())
    return observations, parse_truth(("truth", r) for r in truth_records(sim))


def test_oracle_assigns_sensor_observations_to_their_events(sparse) -> None:
    observations, truth = sparse
    clusters = oracle_clusters(observations, truth.targets)
    truth_of = truth_clusters(truth.labels)
    sensors = [o.id for o in observations if o.source.type.value in ("radar", "uav") and truth.labels[o.id].event]
    assert sensors and all(clusters[o] == truth_of[o] for o in sensors)


def test_perfect_incidents_score_perfectly(sparse) -> None:
    observations, truth = sparse
    by_target: dict[tuple[str, str], list[str]] = {}
    for oid, lab in truth.labels.items():
        if lab.event is not None:
            by_target.setdefault((lab.event, lab.phase or "impact"), []).append(oid)
    incidents = []
    for (e, p), ids in by_target.items():
        target = truth.targets[(e, p)]
        incidents.append(FusedIncident(f"{e}/{p}", target.time, target.lat, target.lon, p, tuple(ids)))
    report = evaluate(truth, incidents, observations)
    assert report.pairwise.f1 == 1.0 and report.detection.f1 == 1.0 and report.duplicate_rate == 0.0
    assert report.location_error_m["p95"] < 0.5
    assert report.oracle_pairwise is not None and report.oracle_pairwise.f1 <= 1.0
    assert math.isfinite(report.time_error_s["p50"])


def test_truth_without_labels_or_with_dangling_labels_is_refused() -> None:
    with pytest.raises(EvalInputError, match="no label records"):
        parse_truth([("x:1", {"type": "scenario"})])
    with pytest.raises(EvalInputError, match="names event 'E9'"):
        parse_truth([("x:1", {"type": "label", "observation": "o", "event": "E9", "phase": "impact"})])
    with pytest.raises(EvalInputError, match="x:1: unknown record type"):
        parse_truth([("x:1", {"type": "banana"})])


def test_gates_must_be_positive() -> None:
    truth = Truth({}, {}, {"a": Label(None, None, "clutter")})
    with pytest.raises(ValueError, match="gates must be positive"):
        evaluate(truth, [], distance_gate_m=0.0)
