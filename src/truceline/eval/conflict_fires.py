"""How well conflict-fire flags agree with independently verified incidents, and what chance alone gives.

A count of verified incidents "with a flagged fire within 5 km and ±1 day" means nothing on its own: fires
are common where fighting is. So the same count is taken again with every incident's date moved by a
random 15–60 days (within the period the fires cover), many times; the real count should clearly beat
all of those.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

_EARTH_RADIUS_KM = 6371.0088


def load_located_incidents(path: Path) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.datetime64]]:
    """``(lat, lon, day)`` of the records with coordinates in a JSON list of ``{date, latitude, longitude}``
    (the layout of Bellingcat's civilian-harm export)."""
    records = [r for r in json.loads(path.read_text(encoding="utf-8")) if r.get("latitude") is not None]
    lat = np.array([r["latitude"] for r in records], dtype=np.float64)
    lon = np.array([r["longitude"] for r in records], dtype=np.float64)
    return lat, lon, np.array([r["date"] for r in records], dtype="datetime64[D]")


def _unit_km(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on a sphere of the Earth's mean radius (km), so chord length ≈ distance at a few km."""
    la, lo = np.radians(lat), np.radians(lon)
    return _EARTH_RADIUS_KM * np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


@dataclass(frozen=True)
class FireIndex:
    """Flagged detections grouped by day, one k-d tree per day, for repeated incident queries."""

    trees: dict[int, cKDTree]

    @classmethod
    def build(cls, lat: NDArray[np.float64], lon: NDArray[np.float64], day: NDArray[np.datetime64]) -> FireIndex:
        """Index detections (``day`` as ``datetime64[D]``)."""
        days = day.astype("datetime64[D]").astype(np.int64)
        points = _unit_km(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
        order = np.argsort(days, kind="stable")
        values, starts = np.unique(days[order], return_index=True)
        bounds = [*starts.tolist(), len(order)]
        return cls({int(v): cKDTree(points[order[bounds[i] : bounds[i + 1]]]) for i, v in enumerate(values)})

    def matches(
        self,
        lat: NDArray[np.float64],
        lon: NDArray[np.float64],
        day: NDArray[np.datetime64],
        *,
        radius_km: float = 5.0,
        days: int = 1,
    ) -> NDArray[np.bool_]:
        """Per incident: is there an indexed detection within ``radius_km`` and ``±days``?"""
        when = day.astype("datetime64[D]").astype(np.int64)
        points = _unit_km(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
        out = np.zeros(len(when), dtype=bool)
        for d in np.unique(when):
            rows = np.nonzero(when == d)[0]
            for offset in range(-days, days + 1):
                tree = self.trees.get(int(d) + offset)
                if tree is None:
                    continue
                pending = rows[~out[rows]]
                if len(pending) == 0:
                    break
                near = tree.query_ball_point(points[pending], r=radius_km, return_length=True)
                out[pending[np.asarray(near) > 0]] = True
        return out


def shifted_days(
    day: NDArray[np.datetime64], rng: np.random.Generator, *, low: int = 15, high: int = 60,
    start: np.datetime64 | None = None, end: np.datetime64 | None = None,
) -> NDArray[np.datetime64]:
    """Each date moved by ±``low``–``high`` days at random, kept inside [start, end] (flipping the sign if needed)."""
    d = day.astype("datetime64[D]")
    lo = start.astype("datetime64[D]") if start is not None else d.min()
    hi = end.astype("datetime64[D]") if end is not None else d.max()
    magnitude = rng.integers(low, high + 1, size=len(d)).astype("timedelta64[D]")
    sign = rng.choice(np.array([-1, 1]), size=len(d))
    moved = d + sign * magnitude
    outside = (moved < lo) | (moved > hi)
    moved[outside] = d[outside] - sign[outside] * magnitude[outside]
    return np.clip(moved, lo, hi)


@dataclass(frozen=True)
class ChanceComparison:
    """Incidents matched with their real dates, and with shifted dates over ``draws`` draws."""

    incidents: int
    matched: int
    shifted_mean: float
    shifted_min: int
    shifted_max: int
    draws: int

    @property
    def ratio(self) -> float:
        """How many times chance the real figure is."""
        return self.matched / self.shifted_mean if self.shifted_mean else float("inf")


def compare_with_chance(
    index: FireIndex,
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    day: NDArray[np.datetime64],
    *,
    draws: int = 20,
    seed: int = 2023,
    start: np.datetime64 | None = None,
    end: np.datetime64 | None = None,
) -> ChanceComparison:
    """Matched incidents at their real dates against ``draws`` random date shifts (seeded, reproducible)."""
    real = int(index.matches(lat, lon, day).sum())
    rng = np.random.default_rng(seed)
    counts = [int(index.matches(lat, lon, shifted_days(day, rng, start=start, end=end)).sum()) for _ in range(draws)]
    return ChanceComparison(len(lat), real, float(np.mean(counts)), min(counts), max(counts), draws)
