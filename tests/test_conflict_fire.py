"""Conflict-fire analytic: the flag rules on small synthetic arrays, and a check against reality.

The reality check runs 2022 and 2023 FIRMS detections against the 2021 baseline and compares what was
flagged with the ISW line of contact (2023-03-04), which the analytic never sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench.firms import load_minimal_firms, numpy_flags, pandas_flags
from numpy.typing import NDArray

from truceline.fuse.conflict_fire import REASONS, FireBaseline, detect_conflict_fires
from truceline.verify.agreement_loader import load_demo_agreement
from truceline.verify.geometry import geometry_for

QUIET = (47.05, 30.05)  # cell (470, 300): no baseline fire anywhere near
BUSY = (46.05, 25.05)  # cell (460, 250): burns every day of the baseline year (a persistent heat source)
SEASONAL = (45.05, 28.05)  # cell (450, 280): burns every day from mid-May to mid-July of the baseline year only


def _baseline() -> FireBaseline:
    year = np.arange(np.datetime64("2021-01-01"), np.datetime64("2022-01-01"))
    season = np.arange(np.datetime64("2021-05-15"), np.datetime64("2021-07-15"))
    lat = np.concatenate([np.full(len(year), BUSY[0]), np.full(len(season), SEASONAL[0])])
    lon = np.concatenate([np.full(len(year), BUSY[1]), np.full(len(season), SEASONAL[1])])
    return FireBaseline.from_detections(lat, lon, np.concatenate([year, season]))


def _run(cell: tuple[float, float], offsets: list[int]) -> tuple[NDArray[np.bool_], NDArray[np.str_]]:
    dates = np.datetime64("2022-06-01") + np.asarray(offsets, dtype="timedelta64[D]")
    result = detect_conflict_fires(np.full(len(offsets), cell[0]), np.full(len(offsets), cell[1]), dates, _baseline())
    return result.flagged, result.reason


def test_two_anomalous_days_seven_or_more_apart_make_a_war_affected_cell() -> None:
    flagged, reason = _run(QUIET, [0, 1, 2, 10, 11, 12])
    assert flagged.all()
    assert set(reason) == {REASONS[2]}


def test_anomalous_days_less_than_seven_apart_are_not_enough() -> None:
    flagged, reason = _run(QUIET, [0, 1, 2, 3, 4])
    assert not flagged.any()
    assert set(reason) == {REASONS[1]}


def test_lone_fires_in_a_quiet_cell_are_not_anomalous() -> None:
    # one active day a week for weeks: 1 active day in 7 has P = 52% at the floor
    flagged, reason = _run(QUIET, [0, 8, 16, 24, 32])
    assert not flagged.any()
    assert set(reason) == {REASONS[0]}


def test_detections_up_to_ten_days_after_an_anomalous_day_are_flagged() -> None:
    flagged, reason = _run(QUIET, [0, 1, 2, 10, 11, 12, 22, 23])
    assert flagged[:6].all() and list(reason[6:]) == [REASONS[3], REASONS[0]]


def test_the_same_activity_where_the_baseline_burns_in_season_is_expected() -> None:
    flagged, reason = _run(SEASONAL, [0, 1, 2, 10, 11, 12])
    assert not flagged.any()
    assert set(reason) == {REASONS[0]}


def test_a_persistent_heat_source_in_the_baseline_is_never_flagged() -> None:
    # BUSY burns every day of the baseline year; give it a war-like pattern and it still is not flagged,
    # while the same pattern in a quiet cell is.
    offsets = [0, 1, 2, 10, 11, 12]
    assert not _run(BUSY, offsets)[0].any()
    assert set(_run(BUSY, offsets)[1]) == {REASONS[4]}
    assert _run(QUIET, offsets)[0].all()


def test_results_follow_input_order() -> None:
    rng = np.random.default_rng(3)
    offsets = [0, 1, 2, 10, 11, 12, 22, 23, 0, 1]
    cells = [QUIET] * 8 + [BUSY] * 2
    lat = np.array([c[0] for c in cells])
    lon = np.array([c[1] for c in cells])
    dates = np.datetime64("2022-06-01") + np.asarray(offsets, dtype="timedelta64[D]")
    ordered = detect_conflict_fires(lat, lon, dates, _baseline())
    perm = rng.permutation(len(offsets))
    shuffled = detect_conflict_fires(lat[perm], lon[perm], dates[perm], _baseline())
    assert np.array_equal(shuffled.flagged, ordered.flagged[perm])
    assert np.array_equal(shuffled.reason_code, ordered.reason_code[perm])
    assert np.array_equal(shuffled.probability, ordered.probability[perm])


def test_mismatched_or_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        detect_conflict_fires([47.0], [30.0, 31.0], ["2022-01-01"], _baseline())
    with pytest.raises(ValueError):
        detect_conflict_fires([95.0], [30.0], ["2022-01-01"], _baseline())


# ---------------------------------------------------------------------------------------- reality


@pytest.fixture(scope="module")
def real(datasets: Path) -> dict[int, tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]]:
    """Per year: flags, distance to the ISW line (m) and longitude."""
    base = load_minimal_firms(datasets / "firms-ukraine-2021.csv")
    baseline = FireBaseline.from_detections(*base)
    geometry = geometry_for(load_demo_agreement())
    out = {}
    for year in (2021, 2022, 2023):
        lat, lon, date = base if year == 2021 else load_minimal_firms(datasets / f"firms-ukraine-{year}.csv")
        flagged = detect_conflict_fires(lat, lon, date, baseline).flagged
        out[year] = (flagged, geometry.locate_many(lat, lon).distance_m, lon)
    return out


@pytest.mark.parametrize("year", [2022, 2023])
def test_flagged_detections_are_much_closer_to_the_line_of_contact(real: dict, year: int) -> None:
    flagged, distance, _ = real[year]
    near = distance < 20_000
    assert 0.05 < flagged.mean() < 0.5
    assert near[flagged].mean() > 2 * near[~flagged].mean()
    assert np.median(distance[flagged]) < 0.6 * np.median(distance[~flagged])


def test_western_oblasts_are_hardly_flagged(real: dict) -> None:
    # far from any fighting in 2022-23 (west of 27° E): near zero, each year on its own
    for year in (2022, 2023):
        flagged, _, lon = real[year]
        assert flagged[lon < 27.0].mean() < 0.03
        assert flagged[lon < 27.0].mean() < 0.15 * flagged.mean()


def test_baseline_year_against_itself_is_rarely_flagged(real: dict) -> None:
    assert real[2021][0].mean() < 0.05


def test_numpy_and_plain_pandas_implementations_agree(datasets: Path) -> None:
    base = load_minimal_firms(datasets / "firms-ukraine-2021.csv")
    year = load_minimal_firms(datasets / "firms-ukraine-2023.csv")
    flags = numpy_flags(base, year)
    assert flags.any() and not flags.all()
    assert np.array_equal(flags, pandas_flags(base, year))


def test_bellingcat_incidents_meet_flagged_fires_far_more_often_than_by_chance(datasets: Path) -> None:
    from truceline.eval.conflict_fires import FireIndex, compare_with_chance, load_located_incidents

    baseline = FireBaseline.from_detections(*load_minimal_firms(datasets / "firms-ukraine-2021.csv"))
    parts = []
    for year in (2022, 2023):
        lat, lon, date = load_minimal_firms(datasets / f"firms-ukraine-{year}.csv")
        flagged = detect_conflict_fires(lat, lon, date, baseline).flagged
        parts.append((lat[flagged], lon[flagged], date[flagged]))
    index = FireIndex.build(*(np.concatenate(column) for column in zip(*parts, strict=True)))
    lat, lon, day = load_located_incidents(datasets / "bellingcat-civilian-harm-2022-2023.json")
    result = compare_with_chance(index, lat, lon, day, start=np.datetime64("2022-01-01"), end=np.datetime64("2023-12-31"))
    assert result.incidents > 1000
    assert result.matched > result.shifted_max
    assert result.ratio > 1.25
