"""Corroboration counts independent groups and weighs them by their Admiralty grades."""

from __future__ import annotations

import pytest

from truceline.domain.grading import Credibility, Reliability, evidence_weight
from truceline.fuse.corroboration import corroboration_score, group_weights


def test_groups_keep_their_best_graded_member() -> None:
    assert group_weights([("UA/acoustic", 0.3), ("UA/acoustic", 0.64), ("US/uav", 0.8)]) == {"UA/acoustic": 0.64, "US/uav": 0.8}


def test_a_single_group_corroborates_nothing_however_good() -> None:
    assert corroboration_score({"US/uav": 1.0}) == 0.0
    assert corroboration_score({}) == 0.0


def test_score_is_noisy_or_of_all_but_the_strongest() -> None:
    b2 = evidence_weight(Reliability.B, Credibility.PROBABLY_TRUE)
    e5 = evidence_weight(Reliability.E, Credibility.IMPROBABLE)
    assert corroboration_score({"a": 1.0, "b": b2}) == pytest.approx(b2)
    assert corroboration_score({"a": 1.0, "b": b2, "c": e5}) == pytest.approx(1 - (1 - b2) * (1 - e5))
    assert corroboration_score({"a": b2, "b": e5}) == pytest.approx(e5)


def test_more_independent_support_never_lowers_the_score() -> None:
    groups = {"a": 0.64}
    last = 0.0
    for k, w in enumerate([0.1, 0.3, 0.05, 0.9]):
        groups[f"g{k}"] = w
        score = corroboration_score(groups)
        assert last <= score <= 1.0
        last = score
