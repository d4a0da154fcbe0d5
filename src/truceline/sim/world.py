"""Ground truth: the line's geometry and the events (strikes) the scenario's fires produce.

Every event has both ends of the shot: the launch (time and origin, the firing party's side) and the impact
(time and point, the other side). Sensors observe either end; the truth keeps both, so evaluation can judge
an incident against the end it describes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from truceline.locate.enu import LocalFrame
from truceline.sim.scenario import Fire, Scenario


class LineGeometry:
    """Line coordinates (u along, v across, metres) ↔ the local east/north frame ↔ latitude/longitude."""

    def __init__(self, scenario: Scenario) -> None:
        self.frame = LocalFrame(scenario.frame.lat, scenario.frame.lon)
        az = math.radians(scenario.frame.line_azimuth_deg)
        self._along = (math.sin(az), math.cos(az))  # unit vector of +u in east/north
        self._across = (-math.cos(az), math.sin(az))  # +v: 90° to the left of the line's direction
        self.half_length_m = scenario.line_length_km * 500.0
        self.depth_m = scenario.depth_km * 1000.0
        self.parties = scenario.parties

    def to_en(self, u: float, v: float) -> tuple[float, float]:
        """East/north metres of a point in line coordinates."""
        return (u * self._along[0] + v * self._across[0], u * self._along[1] + v * self._across[1])

    def side(self, party: str) -> float:
        """-1 for the first party's side (v < 0), +1 for the second's."""
        return -1.0 if party == self.parties[0] else 1.0

    def other(self, party: str) -> str:
        return self.parties[1] if party == self.parties[0] else self.parties[0]

    def contains(self, e: float, n: float) -> bool:
        """Whether a frame point lies in the scenario's area (the band along the line)."""
        u = e * self._along[0] + n * self._along[1]
        v = e * self._across[0] + n * self._across[1]
        return abs(u) <= self.half_length_m and abs(v) <= self.depth_m

    def random_point(self, rng: np.random.Generator) -> tuple[float, float]:
        """A uniform random point of the area, in the frame."""
        return self.to_en(float(rng.uniform(-self.half_length_m, self.half_length_m)), float(rng.uniform(-self.depth_m, self.depth_m)))


@dataclass(frozen=True)
class TruthEvent:
    """One shot: who fired what, from where and when, and where and when it landed (frame metres, epoch s)."""

    id: str
    weapon: str
    party: str
    salvo: str | None
    impact_time: float
    impact_x: float
    impact_y: float
    launch_time: float
    origin_x: float
    origin_y: float

    def phase(self, phase: str) -> tuple[float, float, float]:
        """(time, x, y) of the ``"impact"`` or ``"launch"`` end."""
        if phase == "impact":
            return self.impact_time, self.impact_x, self.impact_y
        return self.launch_time, self.origin_x, self.origin_y


def generate_events(scenario: Scenario, geometry: LineGeometry, rng: np.random.Generator) -> list[TruthEvent]:
    """All events of all fires over the scenario's duration, sorted by impact time, ids ``E000001``…"""
    start = scenario.start.timestamp()
    duration = scenario.duration_h * 3600.0
    weapons = scenario.weapon_table()
    drafts: list[tuple[float, str, str, str | None, float, float, float, float, float]] = []
    salvo_count = 0
    for fire in scenario.fires:
        weapon = weapons[fire.weapon]
        count = int(rng.poisson(fire.rate_per_h * scenario.duration_h))
        for t in np.sort(rng.uniform(0.0, duration, count)):
            aim_u, aim_v = _aim(fire, geometry, rng)
            rng_m, bearing = _range_and_heading(weapon.range_km, aim_v, rng)
            side = geometry.side(fire.party)
            origin_u = aim_u + rng_m * math.sin(bearing)
            origin_v = aim_v + side * rng_m * math.cos(bearing)
            if fire.pattern == "single":
                ix, iy = geometry.to_en(aim_u, aim_v)
                ox, oy = geometry.to_en(origin_u, origin_v)
                flight = rng_m / weapon.speed_mps
                drafts.append((start + t, fire.weapon, fire.party, None, ix, iy, start + t - flight, ox, oy))
                continue
            salvo_count += 1
            salvo = f"S{salvo_count:05d}"
            lo, hi = sorted(fire.impacts)
            n = int(rng.integers(lo, hi + 1))
            times = np.sort(rng.uniform(0.0, fire.duration_s, n))
            radius = fire.spread_m / 2.0 * np.sqrt(rng.uniform(0.0, 1.0, n))
            angle = rng.uniform(0.0, 2 * math.pi, n)
            for k in range(n):
                iu = aim_u + radius[k] * math.cos(angle[k])
                iv = aim_v + radius[k] * math.sin(angle[k])
                gu = origin_u + rng.normal(0.0, fire.gun_spread_m)
                gv = origin_v + rng.normal(0.0, fire.gun_spread_m)
                ix, iy = geometry.to_en(iu, iv)
                ox, oy = geometry.to_en(gu, gv)
                flight = math.hypot(gu - iu, gv - iv) / weapon.speed_mps
                t_impact = start + t + float(times[k])
                drafts.append((t_impact, fire.weapon, fire.party, salvo, ix, iy, t_impact - flight, ox, oy))
    drafts.sort(key=lambda d: d[0])
    return [
        TruthEvent(f"E{i:06d}", w, p, s, ti, ix, iy, tl, ox, oy) for i, (ti, w, p, s, ix, iy, tl, ox, oy) in enumerate(drafts, start=1)
    ]


def _aim(fire: Fire, geometry: LineGeometry, rng: np.random.Generator) -> tuple[float, float]:
    lo_u, hi_u = fire.along_km if fire.along_km is not None else (-geometry.half_length_m / 1000, geometry.half_length_m / 1000)
    u = float(rng.uniform(lo_u, hi_u)) * 1000.0
    depth = float(rng.uniform(fire.depth_km[0], fire.depth_km[1])) * 1000.0
    target_side = geometry.side(geometry.other(fire.party))
    return u, target_side * depth


def _range_and_heading(range_km: tuple[float, float], aim_v: float, rng: np.random.Generator) -> tuple[float, float]:
    """Range of the shot and its heading off the line's normal; the gun ends ≥ 500 m inside its own side."""
    heading = float(rng.uniform(-math.radians(25), math.radians(25)))
    lo = max(range_km[0] * 1000.0, (abs(aim_v) + 500.0) / math.cos(heading))
    hi = max(range_km[1] * 1000.0, lo + 100.0)
    return float(rng.uniform(lo, hi)), heading
