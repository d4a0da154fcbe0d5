"""TDOA multilateration: exact recovery, closed form, covariance against the Cramér–Rao bound, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from truceline.locate import chan_tdoa, locate_tdoa, sound_speed, tdoa_crlb

C = sound_speed(15.0)
SQUARE = np.array([[0.0, 0.0], [4000.0, 0.0], [4000.0, 3000.0], [0.0, 3000.0], [2000.0, 5000.0], [-1500.0, 1500.0]])


def arrivals(sensors: np.ndarray, source: tuple[float, float], t0: float = 1.68e9) -> np.ndarray:
    return t0 + np.hypot(sensors[:, 0] - source[0], sensors[:, 1] - source[1]) / C


def test_sound_speed_follows_temperature() -> None:
    assert sound_speed(0.0) == pytest.approx(331.3)
    assert sound_speed(20.0) == pytest.approx(343.2, abs=0.1)
    with pytest.raises(ValueError, match="absolute zero"):
        sound_speed(-300.0)


@pytest.mark.parametrize("n", [3, 4, 6])
def test_noiseless_arrivals_give_the_source_and_emission_time(n: int) -> None:
    source = (1234.0, 2100.0)
    fix = locate_tdoa(SQUARE[:n], arrivals(SQUARE[:n], source), C, 0.001)
    assert fix.converged
    assert math.hypot(fix.x - source[0], fix.y - source[1]) < 0.01
    assert fix.t0 == pytest.approx(1.68e9, abs=1e-6)


def test_chan_closed_form_is_exact_without_noise() -> None:
    source = (2500.0, 800.0)
    (x, y), *rest = chan_tdoa(SQUARE, arrivals(SQUARE, source), C)
    assert not rest
    assert math.hypot(x - source[0], y - source[1]) < 1e-3


def test_three_sensors_return_both_roots_when_ambiguous() -> None:
    sensors = SQUARE[:3]
    source = (1000.0, 1000.0)
    candidates = chan_tdoa(sensors, arrivals(sensors, source), C)
    assert any(math.hypot(x - source[0], y - source[1]) < 1e-3 for x, y in candidates)


def test_covariance_is_the_crlb_at_the_solution() -> None:
    source = (1500.0, 1200.0)
    fix = locate_tdoa(SQUARE, arrivals(SQUARE, source), C, 0.01)
    np.testing.assert_allclose(fix.position_cov, tdoa_crlb(SQUARE, *source, C, 0.01), rtol=1e-3)


def test_monte_carlo_error_matches_the_bound_with_five_sensors() -> None:
    rng = np.random.default_rng(7)
    sd = 0.01
    normalised = []
    for _ in range(400):
        sensors = rng.uniform(-3000, 3000, (5, 2))
        source = tuple(rng.uniform(-3000, 3000, 2))
        t = arrivals(sensors, source) + rng.normal(0, sd, 5)
        fix = locate_tdoa(sensors, t, C, sd)
        bound = np.trace(tdoa_crlb(sensors, *source, C, sd))
        normalised.append(((fix.x - source[0]) ** 2 + (fix.y - source[1]) ** 2) / bound)
    ratio = math.sqrt(float(np.mean(normalised)))
    assert 0.85 < ratio < 1.15


def test_reported_covariance_is_consistent_with_errors() -> None:
    """Squared Mahalanobis errors of the returned covariance average 2 (two dimensions)."""
    rng = np.random.default_rng(11)
    source = (1800.0, 1500.0)
    d2 = []
    for _ in range(300):
        fix = locate_tdoa(SQUARE, arrivals(SQUARE, source) + rng.normal(0, 0.01, len(SQUARE)), C, 0.01)
        e = np.array([fix.x - source[0], fix.y - source[1]])
        d2.append(float(e @ np.linalg.solve(fix.position_cov, e)))
    assert 1.6 < np.mean(d2) < 2.4


def test_mirror_start_is_escaped() -> None:
    """A source well outside the array, where the closed form may pick the wrong root, is still found."""
    source = (-5133.0, -5255.0)
    sensors = SQUARE[:4]
    fix = locate_tdoa(sensors, arrivals(sensors, source), C, 0.001)
    assert math.hypot(fix.x - source[0], fix.y - source[1]) < 1.0


@pytest.mark.parametrize(
    ("sensors", "times", "message"),
    [
        (np.zeros((2, 2)), np.zeros(2), "at least 3 sensors"),
        (np.zeros((4, 3)), np.zeros(4), "shape"),
        (SQUARE[:4], np.zeros(3), "one arrival time per sensor"),
        (SQUARE[:4], np.array([0.0, np.nan, 0.0, 0.0]), "finite"),
    ],
)
def test_bad_input_is_refused_precisely(sensors: np.ndarray, times: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        locate_tdoa(sensors, times, C, 0.01)


def test_a_rival_minimum_flags_the_fix_ambiguous() -> None:
    """Four sensors leave one redundant measurement: some geometries fit a distant second point as well."""
    sensors = np.array([[-1562.0, 1462.0], [2496.0, -1019.0], [-1431.0, -1133.0], [39.0, 2318.0]])
    source = (-997.0, 2742.0)
    fix = locate_tdoa(sensors, arrivals(sensors, source), C, 0.01)
    assert fix.ambiguous
    assert not locate_tdoa(SQUARE, arrivals(SQUARE, source), C, 0.01).ambiguous
