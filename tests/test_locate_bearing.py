"""Bearing triangulation: exact crossing, degenerate geometry, covariance against the bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from truceline.locate import bearing_crlb, triangulate

SENSORS = np.array([[0.0, 0.0], [6000.0, 0.0], [3000.0, -2000.0]])


def bearings_to(source: tuple[float, float], sensors: np.ndarray = SENSORS) -> np.ndarray:
    return np.arctan2(source[0] - sensors[:, 0], source[1] - sensors[:, 1])


def test_exact_bearings_cross_at_the_source() -> None:
    source = (2500.0, 7000.0)
    fix = triangulate(SENSORS, bearings_to(source), math.radians(1.0))
    assert fix.converged
    assert math.hypot(fix.x - source[0], fix.y - source[1]) < 1e-3


def test_covariance_equals_the_bound_at_the_source() -> None:
    source = (2500.0, 7000.0)
    fix = triangulate(SENSORS, bearings_to(source), math.radians(1.0))
    np.testing.assert_allclose(fix.cov, bearing_crlb(SENSORS, *source, math.radians(1.0)), rtol=1e-6)


def test_parallel_lines_are_refused() -> None:
    with pytest.raises(ArithmeticError, match="parallel"):
        triangulate(SENSORS[:2], np.array([0.0, 0.0]), math.radians(1.0))


def test_crossing_behind_a_sensor_is_refused() -> None:
    b = bearings_to((3000.0, 5000.0), SENSORS[:2])
    with pytest.raises(ArithmeticError, match="behind"):
        triangulate(SENSORS[:2], b + math.pi, math.radians(1.0))


def test_monte_carlo_error_matches_the_bound() -> None:
    rng = np.random.default_rng(3)
    source = (3000.0, 6000.0)
    sd = math.radians(1.0)
    bound = np.trace(bearing_crlb(SENSORS, *source, sd))
    errors = []
    for _ in range(400):
        fix = triangulate(SENSORS, bearings_to(source) + rng.normal(0, sd, 3), sd)
        errors.append((fix.x - source[0]) ** 2 + (fix.y - source[1]) ** 2)
    assert 0.85 < math.sqrt(np.mean(errors) / bound) < 1.2


def test_needs_two_bearings() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        triangulate(SENSORS[:1], np.array([0.3]), 0.01)
