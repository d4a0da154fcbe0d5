"""Shots across a real line of contact, with ground truth, as the sensors of several nations would report them.

For ``bench/attribution.py`` and its tests: each shot is fired from one party's ground (at least 2 km from the
line) onto the other's by a real weapon system (its own table here: :data:`GUNS`, independent of the
linker's envelopes in ``verify.engagement``), with a time of flight from drag-free ballistics at the system's
muzzle speed stretched by drag. What is seen of it depends on its *evidence* type:

* ``launch`` — the launch heard by an acoustic array (position σ 80–350 m);
* ``flash`` — the muzzle-flash seen by a drone (σ 15–60 m);
* ``launch+flash`` — both;
* ``radar`` — a counter-battery radar's predicted impact with the estimated origin (``attributes.origin``);
* ``impact-only`` — nothing of the firing point.

Impacts are reported by one to three others (acoustic arrays hear an explosion, drones see the impact,
monitors' patrol notes place it roughly). Senders' clocks are off by a few seconds (minutes for a patrol
note) and, like real senders, most state no ``time_uncertainty_s``. A share of shots are replies: the other
side fires back at the same stretch minutes later, which is what makes linking an impact to its launch hard.

The geometry is passed in (an ``AgreementGeometry``); nothing here reads files or the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely

from truceline.domain.geo import GEOD

G = 9.80665
EVIDENCE = ("launch", "flash", "launch+flash", "radar", "impact-only")
EVIDENCE_SHARE = (0.18, 0.18, 0.14, 0.2, 0.3)


@dataclass(frozen=True)
class Gun:
    """One weapon system: reach, muzzle (or burn-out) speed, steepest elevation it fires at, share of shots."""

    name: str
    min_range_m: float
    max_range_m: float
    speed_mps: float
    high_angle_deg: float | None  # None: fires only at the flat solution
    share: float


#: Public figures: 2B14 82 mm mortar 4.1 km, 211 m/s; 2S12 120 mm 7.1 km, 325 m/s; D-30 122 mm 15.4 km,
#: 690 m/s; 2A65 152 mm 24.7 km, 810 m/s; M777 155 mm 24 km, 827 m/s; BM-21 Grad 20 km, 690 m/s;
#: BM-27 Uragan 35 km, ~900 m/s; M142 HIMARS (GMLRS) 70 km, ~1,100 m/s.
GUNS: tuple[Gun, ...] = (
    Gun("2B14-82mm", 500.0, 4_100.0, 211.0, 85.0, 0.15),
    Gun("2S12-120mm", 500.0, 7_100.0, 325.0, 85.0, 0.15),
    Gun("D-30-122mm", 4_000.0, 15_400.0, 690.0, 70.0, 0.15),
    Gun("2A65-152mm", 6_000.0, 24_700.0, 810.0, 70.0, 0.12),
    Gun("M777-155mm", 4_000.0, 24_000.0, 827.0, 70.0, 0.08),
    Gun("BM-21-Grad", 5_000.0, 20_000.0, 690.0, None, 0.20),
    Gun("BM-27-Uragan", 10_000.0, 35_000.0, 900.0, None, 0.10),
    Gun("HIMARS-GMLRS", 15_000.0, 70_000.0, 1_100.0, None, 0.05),
)
#: Drag lengthens every flight by this factor range over the drag-free one.
DRAG = (1.05, 1.35)
MIN_DISTANCE_FROM_LINE_M = 2_000.0


@dataclass
class Shot:
    """Ground truth of one shot and the ids of what was reported of it."""

    id: str
    party: str  # who fired
    evidence: str
    gun: str
    launch_time: datetime
    impact_time: datetime
    origin: tuple[float, float]
    target: tuple[float, float]
    range_m: float
    line_at_m: float = 0.0  # where along the line (metres) it was fired across
    launch_ids: list[str] = field(default_factory=list)  # launch, muzzle-flash observations
    impact_ids: list[str] = field(default_factory=list)  # impact, explosion observations (radar included)


@dataclass
class Scenario:
    """The observations to post (native JSON) and the truth behind them."""

    observations: list[dict[str, Any]]
    shots: list[Shot]


def time_of_flight(range_m: float, gun: Gun, high: bool, drag: float) -> float:
    """Drag-free flight time at the gun's speed over ``range_m`` (flat or steep solution), times ``drag``."""
    low = 0.5 * math.asin(min(1.0, G * range_m / gun.speed_mps**2))
    theta = math.pi / 2 - low if high else low
    return drag * math.sqrt(2 * range_m * math.tan(theta) / G)


def _steep_allowed(range_m: float, gun: Gun) -> bool:
    if gun.high_angle_deg is None:
        return False
    low = 0.5 * math.asin(min(1.0, G * range_m / gun.speed_mps**2))
    return math.degrees(math.pi / 2 - low) <= gun.high_angle_deg


class _Placer:
    """Points on either side of the real line, in the geometry's metric frame."""

    def __init__(self, geometry: Any) -> None:
        self.g = geometry
        self.line = geometry.contact_line_xy
        self.parties = tuple(geometry.party_codes)

    def frame_at(self, at_m: float) -> tuple[np.ndarray, np.ndarray]:
        a = shapely.line_interpolate_point(self.line, max(at_m - 200.0, 0.0))
        b = shapely.line_interpolate_point(self.line, min(at_m + 200.0, self.line.length))
        p = shapely.line_interpolate_point(self.line, at_m)
        tangent = np.array([shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)])
        tangent /= max(float(np.hypot(*tangent)), 1e-9)
        return np.array([shapely.get_x(p), shapely.get_y(p)]), tangent

    def to_latlon(self, xy: np.ndarray) -> tuple[float, float]:
        lon, lat = self.g.projection.inverse([xy[0]], [xy[1]])
        return float(np.asarray(lat)[0]), float(np.asarray(lon)[0])

    def where(self, lat: float, lon: float) -> tuple[str | None, float]:
        located = self.g.locate_many([lat], [lon], exact=True)
        return located.controlled_by(0), float(located.distance_m[0])


def _offset(lat: float, lon: float, sigma_m: float, rng: np.random.Generator) -> tuple[float, float]:
    north, east = rng.normal(0.0, sigma_m, 2)
    return lat + north / 111_320.0, lon + east / (111_320.0 * math.cos(math.radians(lat)))


def _stamp(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Reporter:
    """Builds the native observations of a shot, with each sensor type's noise and habits."""

    def __init__(self, rng: np.random.Generator, prefix: str, honest: bool = False) -> None:
        self.rng = rng
        self.prefix = prefix
        self.honest = honest  # every sender states its time uncertainty (patrols: a minute)
        self.out: list[dict[str, Any]] = []

    def _doc(self, shot: Shot, role: str, kind: str, t: datetime, at: tuple[float, float], sigma: float,
             source: tuple[str, str, str], stated_tsd: float | None, **extra: Any) -> str:
        oid = f"{self.prefix}-{shot.id}-{role}-{len(self.out)}"
        lat, lon = _offset(at[0], at[1], sigma, self.rng)
        doc: dict[str, Any] = {
            "id": oid, "time": _stamp(t), "kind": kind,
            "location": {"lat": round(float(lat), 6), "lon": round(float(lon), 6), "cep_m": round(1.1774 * sigma, 1)},
            "source": {"id": source[0], "type": source[1], "org": source[2]},
            "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"], **extra,
        }
        if stated_tsd is not None:
            doc["time_uncertainty_s"] = stated_tsd
        self.out.append(doc)
        return oid

    def _clock(self, t: datetime, sd_s: float) -> datetime:
        return t + timedelta(seconds=float(self.rng.normal(0.0, sd_s)))

    def _maybe(self, p: float, value: float) -> float | None:
        stated = self.rng.random() < p
        return value if stated or self.honest else None

    def launch(self, shot: Shot) -> None:
        sigma = float(self.rng.uniform(80, 350))
        org = str(self.rng.choice(["GB", "FR", "PL"]))
        shot.launch_ids.append(self._doc(shot, "launch", "launch", self._clock(shot.launch_time, 1.5), shot.origin, sigma,
                                         (f"{org.lower()}-acoustic-{self.rng.integers(1, 30)}", "acoustic", org),
                                         self._maybe(0.4, 3.0)))

    def flash(self, shot: Shot) -> None:
        sigma = float(self.rng.uniform(15, 60))
        org = str(self.rng.choice(["US", "DE", "FR"]))
        shot.launch_ids.append(self._doc(shot, "flash", "muzzle-flash", self._clock(shot.launch_time, 4.0), shot.origin, sigma,
                                         (f"{org.lower()}-uav-{self.rng.integers(1, 12)}", "uav", org), self._maybe(0.5, 5.0)))

    def radar(self, shot: Shot) -> None:
        sigma, sigma_o = float(self.rng.uniform(50, 150)), float(self.rng.uniform(40, 250))
        olat, olon = _offset(shot.origin[0], shot.origin[1], sigma_o, self.rng)
        origin = {"lat": round(float(olat), 6), "lon": round(float(olon), 6), "cep_m": round(1.1774 * sigma_o, 1)}
        org = str(self.rng.choice(["FR", "US"]))
        shot.impact_ids.append(self._doc(shot, "radar", "impact", self._clock(shot.impact_time, 1.0), shot.target, sigma,
                                         (f"{org.lower()}-radar-{self.rng.integers(1, 6)}", "radar", org),
                                         self._maybe(0.6, 2.0), attributes={"origin": origin}))

    def impact(self, shot: Shot) -> None:
        """One impact report by an acoustic array, a drone or a monitors' patrol (rougher in place and time)."""
        who = self.rng.choice(["acoustic", "uav", "monitor"], p=[0.45, 0.35, 0.2])
        if who == "acoustic":
            org = str(self.rng.choice(["GB", "FR", "PL"]))
            shot.impact_ids.append(self._doc(shot, "impact", "explosion", self._clock(shot.impact_time, 2.0), shot.target,
                                             float(self.rng.uniform(100, 450)), (f"{org.lower()}-acoustic-{self.rng.integers(1, 30)}", "acoustic", org),
                                             self._maybe(0.4, 3.0)))
        elif who == "uav":
            org = str(self.rng.choice(["US", "DE", "FR"]))
            shot.impact_ids.append(self._doc(shot, "impact", "impact", self._clock(shot.impact_time, 4.0), shot.target,
                                             float(self.rng.uniform(20, 80)), (f"{org.lower()}-uav-{self.rng.integers(1, 12)}", "uav", org),
                                             self._maybe(0.5, 5.0)))
        else:  # a patrol notes the minute it heard the impact, and the place roughly
            noted = self._clock(shot.impact_time, 60.0).replace(second=0, microsecond=0)
            shot.impact_ids.append(self._doc(shot, "impact", "impact", noted, shot.target, float(self.rng.uniform(400, 1500)),
                                             (f"osce-patrol-{self.rng.integers(1, 9)}", "monitor", "OSCE"),
                                             60.0 if self.honest else None))


def generate(geometry: Any, shots: int = 200, seed: int = 0, start: datetime | None = None, hours: float = 24.0,
             reply_share: float = 0.3, prefix: str = "atk", honest_time: bool = False) -> Scenario:
    """``shots`` shots over ``hours`` from ``start`` along the whole line, fired from both sides.

    With ``honest_time`` every sender states its time uncertainty (what per-source defaults would assume).
    """
    rng = np.random.default_rng(seed)
    start = start or datetime(2023, 5, 12, tzinfo=UTC)
    placer = _Placer(geometry)
    reporter = _Reporter(rng, prefix, honest_time)
    shares = np.array([g.share for g in GUNS])
    out: list[Shot] = []
    times = np.sort(rng.uniform(0, hours * 3600.0, shots))
    while len(out) < shots:
        k = len(out)
        reply = out and rng.random() < reply_share
        if reply:  # the other side answers at the same stretch, minutes later
            prev = out[-1]
            at = prev.line_at_m + float(rng.normal(0, 3_000))
            party = next(p for p in placer.parties if p != prev.party)
            t_launch = prev.launch_time + timedelta(seconds=float(rng.uniform(60, 600)))
        else:
            at = float(rng.uniform(0, placer.line.length))
            party = str(rng.choice(placer.parties))
            t_launch = start + timedelta(seconds=float(times[k]))
        shot = _place(placer, rng, shares, party, min(max(at, 0.0), placer.line.length), t_launch, f"s{k:04d}")
        if shot is None:
            continue
        shot.evidence = str(rng.choice(EVIDENCE, p=EVIDENCE_SHARE))
        if shot.evidence in ("launch", "launch+flash"):
            reporter.launch(shot)
        if shot.evidence in ("flash", "launch+flash"):
            reporter.flash(shot)
        if shot.evidence == "radar":
            reporter.radar(shot)
        seen = shot.evidence in ("impact-only", "radar") or rng.random() < 0.85
        for _ in range(int(rng.integers(1, 4)) if seen else 0):
            reporter.impact(shot)
        if not shot.impact_ids and shot.evidence == "impact-only":
            reporter.impact(shot)
        out.append(shot)
    return Scenario(reporter.out, out)


def _place(placer: _Placer, rng: np.random.Generator, shares: np.ndarray, party: str, at: float, t_launch: datetime,
           sid: str) -> Shot | None:
    """A shot by ``party`` across the line near ``at`` (metres along it), or None when the ground does not fit."""
    gun = GUNS[int(rng.choice(len(GUNS), p=shares / shares.sum()))]
    lo = max(gun.min_range_m, MIN_DISTANCE_FROM_LINE_M + 600.0)
    if lo >= gun.max_range_m * 0.95:
        return None
    r = float(rng.uniform(lo, gun.max_range_m * 0.95))
    d = float(rng.uniform(MIN_DISTANCE_FROM_LINE_M + 100.0, min(r - 500.0, 25_000.0)))
    depth = float(rng.uniform(300.0, max(r - d, 300.0)))
    lateral = math.sqrt(max(r * r - (d + depth) ** 2, 0.0)) * float(rng.choice([-1.0, 1.0]))
    p, tangent = placer.frame_at(at)
    normal = np.array([-tangent[1], tangent[0]])
    for sign in (1.0, -1.0):
        origin = placer.to_latlon(p + sign * d * normal)
        target = placer.to_latlon(p - sign * depth * normal + lateral * tangent)
        o_party, o_dist = placer.where(*origin)
        t_party, _ = placer.where(*target)
        if o_party == party and o_dist >= MIN_DISTANCE_FROM_LINE_M and t_party not in (None, party):
            r = float(GEOD.inv(origin[1], origin[0], target[1], target[0])[2])
            if not gun.min_range_m <= r <= gun.max_range_m:
                continue
            high = _steep_allowed(r, gun) and rng.random() < (0.6 if gun.high_angle_deg and gun.high_angle_deg > 80 else 0.25)
            tof = time_of_flight(r, gun, high, float(rng.uniform(*DRAG)))
            return Shot(sid, party, "", gun.name, t_launch, t_launch + timedelta(seconds=tof), origin, target, r, at)
    return None
