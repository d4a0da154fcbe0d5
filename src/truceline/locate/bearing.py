"""Bearing-only triangulation: lines of bearing from sensors at known positions to one emitter.

A weighted linear fit of the bearing lines (each weighted by its cross-range variance at the current range)
gives the start; Gauss–Newton on the angles themselves then gives the maximum-likelihood position for
Gaussian bearing noise. Bearings are clockwise from the frame's north axis, as compasses count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

_MIN_CROSSING_RAD = math.radians(2.0)


@dataclass(frozen=True)
class BearingFix:
    """Triangulated position (frame metres) and its 2×2 covariance (m²)."""

    x: float
    y: float
    cov: Array
    iterations: int
    converged: bool


def _check(sensors: ArrayLike, bearings_rad: ArrayLike, sd_rad: ArrayLike) -> tuple[Array, Array, Array]:
    s = np.asarray(sensors, dtype=np.float64)
    b = np.asarray(bearings_rad, dtype=np.float64)
    sd = np.broadcast_to(np.asarray(sd_rad, dtype=np.float64), b.shape).astype(np.float64)
    if s.ndim != 2 or s.shape[1] != 2 or b.shape != (s.shape[0],):
        raise ValueError(f"need (n, 2) sensor positions and n bearings, got {s.shape} and {b.shape}")
    if s.shape[0] < 2:
        raise ValueError(f"triangulation needs at least 2 bearings, got {s.shape[0]}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(b)) and np.all(sd > 0)):
        raise ValueError("sensor positions and bearings must be finite and bearing deviations positive")
    return s, b, sd


def _wrap(angle: Array) -> Array:
    return np.asarray((angle + math.pi) % (2 * math.pi) - math.pi, dtype=np.float64)


def _jacobian(s: Array, x: float, y: float, sd: Array) -> tuple[Array, Array]:
    dx = x - s[:, 0]
    dy = y - s[:, 1]
    r2 = np.maximum(dx * dx + dy * dy, 1e-6)
    predicted = np.arctan2(dx, dy)
    return predicted, np.column_stack([dy / r2 / sd, -dx / r2 / sd])


def triangulate(sensors: ArrayLike, bearings_rad: ArrayLike, sd_rad: ArrayLike, max_iter: int = 30) -> BearingFix:
    """Maximum-likelihood emitter position from ≥2 bearings, with covariance ``(JᵀJ)⁻¹``.

    Raises ``ArithmeticError`` when the lines are (nearly) parallel or meet behind the sensors, where a
    bearing set carries no position.
    """
    s, b, sd = _check(sensors, bearings_rad, sd_rad)
    ux, uy = np.sin(b), np.cos(b)  # unit directions
    nx, ny = np.cos(b), -np.sin(b)  # normals: n·(x - s) = 0 on the line
    weights = 1.0 / sd**2
    estimate = None
    for _ in range(3):  # re-weight by range: cross-range error grows with distance
        a = np.array([[np.sum(weights * nx * nx), np.sum(weights * nx * ny)], [np.sum(weights * nx * ny), np.sum(weights * ny * ny)]])
        rhs_base = nx * s[:, 0] + ny * s[:, 1]
        rhs = np.array([np.sum(weights * nx * rhs_base), np.sum(weights * ny * rhs_base)])
        if abs(np.linalg.det(a)) <= 1e-12 * float(np.trace(a)) ** 2 * math.sin(_MIN_CROSSING_RAD) ** 2:
            raise ArithmeticError("bearing lines are parallel: no crossing to triangulate")
        estimate = np.linalg.solve(a, rhs)
        rng = np.hypot(estimate[0] - s[:, 0], estimate[1] - s[:, 1])
        weights = 1.0 / (np.maximum(rng, 1.0) * sd) ** 2
    assert estimate is not None
    ahead = ux * (estimate[0] - s[:, 0]) + uy * (estimate[1] - s[:, 1])
    if np.any(ahead <= 0):
        raise ArithmeticError("bearing lines cross behind a sensor: inconsistent bearings")
    x, y = float(estimate[0]), float(estimate[1])
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        predicted, jac = _jacobian(s, x, y, sd)
        res = _wrap(b - predicted) / sd
        try:
            step = np.linalg.solve(jac.T @ jac, jac.T @ res)
        except np.linalg.LinAlgError as exc:
            raise ArithmeticError("bearing geometry is degenerate") from exc
        x += float(step[0])
        y += float(step[1])
        if math.hypot(step[0], step[1]) < 1e-4:
            converged = True
            break
    _, jac = _jacobian(s, x, y, sd)
    cov = np.linalg.inv(jac.T @ jac)
    if not np.all(np.isfinite(cov)):
        raise ArithmeticError("bearing geometry is degenerate")
    return BearingFix(x=x, y=y, cov=np.asarray(cov, dtype=np.float64), iterations=iterations, converged=converged)


def bearing_crlb(sensors: ArrayLike, x: float, y: float, sd_rad: ArrayLike) -> Array:
    """Cramér–Rao bound (2×2, m²) on an emitter position from bearings with Gaussian noise."""
    s = np.asarray(sensors, dtype=np.float64)
    sd = np.broadcast_to(np.asarray(sd_rad, dtype=np.float64), (s.shape[0],))
    _, jac = _jacobian(s, x, y, sd)
    return np.asarray(np.linalg.inv(jac.T @ jac), dtype=np.float64)
