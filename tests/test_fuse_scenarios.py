"""Fusion against simulator ground truth on the presets (fixed seeds), with the issue's quality goals."""

from __future__ import annotations

import pytest

from truceline.eval import evaluate, fused, parse_truth
from truceline.fuse import FuserConfig, fuse_all
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim import load_scenario, observation_records, simulate, truth_records

CONFIG = FuserConfig()  # one configuration for every scenario


def run(name: str):
    sim = simulate(load_scenario(name))
    observations, errors = validate_batch(observation_records(sim), validation_context())
    assert not errors
    truth = parse_truth(("truth", r) for r in truth_records(sim))
    incidents = fuse_all(observations, CONFIG)
    return truth, incidents, evaluate(truth, [fused(i) for i in incidents], observations)


@pytest.fixture(scope="module")
def sparse():
    return run("sparse-day")


@pytest.fixture(scope="module")
def salvo():
    return run("salvo-sector")


def test_sparse_day_pairwise_f1_reaches_the_goal(sparse) -> None:
    _, _, report = sparse
    assert report.pairwise.f1 >= 0.98
    assert report.oracle_ratio is not None and report.oracle_ratio >= 0.98


def test_salvo_sector_pairwise_f1_is_within_ten_percent_of_the_oracle(salvo) -> None:
    _, _, report = salvo
    assert report.oracle_ratio is not None and report.oracle_ratio >= 0.90


def test_salvo_impacts_are_found_and_located(salvo) -> None:
    _, _, report = salvo
    assert report.detection.recall >= 0.9 and report.detection.precision >= 0.9
    assert report.location_error_m["p50"] < 30.0
    assert report.duplicate_rate < 0.05


def test_corroborated_incidents_are_real_events(salvo) -> None:
    truth, incidents, report = salvo
    assert report.corroborated_detection.precision >= 0.97
    for incident in incidents:
        if incident.status.value == "corroborated":
            assert incident.independent_sources >= 2


def test_clutter_rarely_finds_independent_support(sparse, salvo) -> None:
    for truth, incidents, _ in (sparse, salvo):
        clutter = {oid for oid, lab in truth.labels.items() if lab.tag == "clutter"}
        assert clutter
        in_corroborated = {oid for i in incidents if i.status.value == "corroborated" for oid in i.observation_ids}
        assert len(clutter & in_corroborated) <= 0.2 * len(clutter)
