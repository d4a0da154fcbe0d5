"""Which waiting bearing crosses a new one: the pair of lines that founds an incident when no incident fits.

A lone bearing fixes no position; two from different sensors do, if they cross in front of both sensors,
within both ranges, at an angle wide enough to be a fix, and agree in time. Pure geometry over measurements,
kept apart from the fuser's bookkeeping.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

from truceline.fuse.measurement import Measurement

#: Lines closer to parallel than this cross too far along them to fix a point.
MIN_CROSSING_SIN: Final = math.sin(math.radians(3.0))


def best_crossing(m: Measurement, waiting: Iterable[Measurement], gate1: float) -> tuple[Measurement, tuple[float, float]] | None:
    """The waiting bearing (another sensor's) that crosses ``m`` in front of both, closest in time within
    the time gate ``gate1`` (χ², 1 degree of freedom), and the crossing point; None if there is none."""
    best: tuple[Measurement, tuple[float, float]] | None = None
    best_d2 = gate1
    nmx, nmy = m.buy, -m.bux
    cm = nmx * m.x + nmy * m.y
    for p in waiting:
        if p.source == m.source or not (p.mask & m.mask):
            continue
        dt = p.t - m.t
        d2 = dt * dt / (p.vt + m.vt)
        if d2 > best_d2:
            continue
        npx, npy = p.buy, -p.bux
        det = nmx * npy - nmy * npx
        if abs(det) < MIN_CROSSING_SIN:
            continue
        cp = npx * p.x + npy * p.y
        ix = (cm * npy - nmy * cp) / det
        iy = (nmx * cp - cm * npx) / det
        am = (ix - m.x) * m.bux + (iy - m.y) * m.buy
        ap = (ix - p.x) * p.bux + (iy - p.y) * p.buy
        if am <= 0 or ap <= 0 or am > m.brange or ap > p.brange:
            continue
        best, best_d2 = (p, (ix, iy)), d2
    return best
