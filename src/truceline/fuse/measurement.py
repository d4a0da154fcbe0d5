"""Observation → measurement in a local metric frame: position or bearing line, time, and their variances.

Fusion gates and weighs by each observation's *own* uncertainty, so this is where the forms of uncertainty a
sender can give (CEP, covariance, place precision, bearing deviation, time uncertainty) become variances in
metres and seconds. Batches are projected in one vectorised call, which keeps the streaming path fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from truceline.domain.grading import evidence_weight
from truceline.domain.identity import observation_ref
from truceline.domain.observation import (
    BearingLocation,
    Observation,
    ObservationKind,
    PlaceLocation,
    PointLocation,
    SourceType,
)
from truceline.fuse.kinds import KIND_MASK
from truceline.locate.enu import LocalFrame

if TYPE_CHECKING:  # state.py imports this module; the type alone is needed here (and by mypyc, to compile access to it)
    from truceline.fuse.state import IncidentState

_CEP_TO_SIGMA = 1.0 / 1.1774  # CEP = sqrt(2 ln 2) σ for a circular normal


@dataclass(frozen=True)
class MeasurementModel:
    """How stated uncertainties become variances, and the floors that keep them honest.

    ``min_time_sd_s`` reflects clock agreement between independent organisations: no two sensors' clocks are
    trusted to agree better than this, whatever a sender claims. A sender who claims nothing is not read as
    exact: validation records a default per source type and kind (``Observation.assumed``, from
    :mod:`truceline.domain.defaults`), and that is what is used here. ``default_sigma_m`` is only the last
    resort for an observation built without validation. ``thermal_min_time_sd_s`` is the same floor
    for ``thermal`` detections: a fire seen from orbit was lit some hours before the overpass and burns on
    for hours, so its time says when it burned, not when the shell landed.
    """

    min_sigma_m: float = 1.0
    default_sigma_m: float = 500.0
    min_time_sd_s: float = 1.0
    thermal_min_time_sd_s: float = 3 * 3600.0
    default_bearing_range_m: float = 30_000.0
    exclusive_source_types: frozenset[SourceType] = field(
        default_factory=lambda: frozenset({SourceType.ACOUSTIC, SourceType.SEISMIC, SourceType.RADAR, SourceType.UAV})
    )

    def __post_init__(self) -> None:
        for name in ("min_sigma_m", "default_sigma_m", "min_time_sd_s", "thermal_min_time_sd_s", "default_bearing_range_m"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"MeasurementModel.{name} must be a positive number, got {value!r}")


class Measurement:
    """One observation as fusion sees it (frame metres, seconds since the fuser's epoch).

    Point measurements carry a covariance and its inverse; bearing measurements carry the sensor position,
    unit direction and angular variance. ``lxx..ey`` hold the information the measurement currently adds to
    its incident, so that removing it subtracts exactly what adding it added.
    """

    __slots__ = (
        "id", "t", "t0", "vt", "x", "y", "cxx", "cxy", "cyy", "ixx", "ixy", "iyy", "radius",
        "bearing", "bux", "buy", "bvar", "bsvar", "brange",
        "mask", "kind", "source", "group", "exclusive", "weight", "origin", "facts",
        "incident", "lxx", "lxy", "lyy", "ex", "ey", "founded",
    )  # fmt: skip

    id: str
    t: float  # on the common clock: t0 minus the sensor's estimated offset (fuse/clock.py)
    t0: float  # as reported
    vt: float
    x: float
    y: float
    cxx: float
    cxy: float
    cyy: float
    ixx: float
    ixy: float
    iyy: float
    radius: float
    bearing: bool
    bux: float
    buy: float
    bvar: float
    bsvar: float
    brange: float
    mask: int
    kind: ObservationKind
    source: str
    group: str
    exclusive: bool
    weight: float
    origin: tuple[float, float, float, float, float] | None
    facts: dict[str, str] | None
    incident: IncidentState | None  # the incident holding it, None while unassigned or waiting (a bearing)
    lxx: float
    lxy: float
    lyy: float
    ex: float
    ey: float
    founded: int

    def set_point_contribution(self) -> None:
        """Information added by a point measurement: its inverse covariance."""
        self.lxx, self.lxy, self.lyy = self.ixx, self.ixy, self.iyy
        self.ex = self.ixx * self.x + self.ixy * self.y
        self.ey = self.ixy * self.x + self.iyy * self.y

    def set_bearing_contribution(self, at_x: float, at_y: float) -> None:
        """Information of a bearing line: exact line constraint, cross-range variance at the current range."""
        rng = max(math.hypot(at_x - self.x, at_y - self.y), 1.0)
        w = 1.0 / (rng * rng * self.bvar + self.bsvar)
        nx, ny = self.buy, -self.bux  # normal to the line
        self.lxx, self.lxy, self.lyy = w * nx * nx, w * nx * ny, w * ny * ny
        d = nx * self.x + ny * self.y
        self.ex, self.ey = w * nx * d, w * ny * d


def observation_facts(obs: Observation) -> dict[str, str] | None:
    """The facts an incident inherits from this observation, as strings; None when it states none.

    Rules key on them (``verify.rules``: the weapon class of sighted equipment for withdrawal zones, the
    altitude for no-fly zones) and readers must see what is simulated, so they cannot stay on the members.

    ``alt_m`` comes from a point location (no-fly zones have an altitude band); ``simulated`` is kept only
    when true, so real evidence carries no such fact at all.
    """
    facts: dict[str, str] = {}
    attributes = obs.attributes
    if attributes:
        weapon = attributes.get("weapon_class")
        if isinstance(weapon, str) and weapon.strip():
            facts["weapon_class"] = weapon.strip().lower()
        if attributes.get("simulated") is True:
            facts["simulated"] = "true"
    loc = obs.location
    alt = loc.alt_m if isinstance(loc, PointLocation) else None  # only a point has an altitude
    if alt is not None:
        facts["alt_m"] = f"{float(alt):g}"
    return facts or None


@dataclass(frozen=True)
class Unlocated:
    """An observation fusion cannot place (a place name without coordinates)."""

    id: str
    reason: str


def _parse_origin(
    value: Any, assumed_cep_m: float | None = None
) -> tuple[float, float, tuple[tuple[float, float], tuple[float, float]]] | None:
    """``attributes["origin"] = {"lat", "lon", "cov_m2" | "cep_m"}`` as documented in docs/fusion.md.

    ``assumed_cep_m`` (the observation's ``assumed.origin_cep_m``) stands in for an unstated uncertainty.
    """
    if not isinstance(value, dict):
        return None
    try:
        lat = float(value["lat"])
        lon = float(value["lon"])
        if "cov_m2" in value:
            (a, b), (c, d) = value["cov_m2"]
            cov = ((float(a), float(b)), (float(c), float(d)))
        else:
            s = float(value["cep_m"] if "cep_m" in value or assumed_cep_m is None else assumed_cep_m) * _CEP_TO_SIGMA
            cov = ((s * s, 0.0), (0.0, s * s))
    except (KeyError, TypeError, ValueError):
        return None
    (a, b), (_, d) = cov
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and a > 0 and d > 0 and a * d - b * b > 0):
        return None
    return lat, lon, cov


def rotate_cov2(cxx: float, cxy: float, cyy: float, angle: float) -> tuple[float, float, float]:
    """Covariance (xx, xy, yy) turned counter-clockwise by ``angle`` radians: ``R C Rᵀ``."""
    c, s = math.cos(angle), math.sin(angle)
    rxx = c * c * cxx - 2 * c * s * cxy + s * s * cyy
    rxy = c * s * (cxx - cyy) + (c * c - s * s) * cxy
    ryy = s * s * cxx + 2 * c * s * cxy + c * c * cyy
    return rxx, rxy, ryy


def canonical(m: Measurement) -> tuple[bool, float, str]:
    """The order a batch is associated in, whatever order it arrived in: exclusive sensors' reports (one per
    event, precise) before the reports that may repeat themselves (people, satellites), each in reported
    time, then id. Greedy association depends on order at the margins; within one ``add`` call it now does
    not, and the precise reports found the incidents that coarse ones then join (docs/fusion.md#arrival-order)."""
    return (not m.exclusive, m.t0, m.id)


def earliest_after(measurements: list[Measurement]) -> list[float]:
    """For each position in a sorted call, the earliest reported time among the measurements after it (infinity after
    the last). Eviction part way through a call stops short of it: canonical order places the call's sensor reports
    first, and they move the watermark on by as much as the call spans, so the incidents its later reports belong
    to were finalised before those reports were placed (docs/fusion.md, "A call does not finalise what its own later
    reports need"). Reported, not corrected, times: a clock's correction is seconds, the window hours."""
    out = [math.inf] * len(measurements)
    earliest = math.inf
    for i in range(len(measurements) - 1, 0, -1):
        t0 = measurements[i].t0
        if t0 < earliest:
            earliest = t0
        out[i - 1] = earliest
    return out


def measure(
    observations: Sequence[Observation], frame: LocalFrame, epoch: float, model: MeasurementModel
) -> tuple[list[Measurement], list[Unlocated], int]:
    """Measurements of a batch (same order, unlocated ones left out) and the count of malformed origins."""
    lats: list[float] = []
    lons: list[float] = []
    rotate: list[int] = []  # indices into lats/lons whose local north must be turned into the frame
    plan: list[tuple[Observation, int, int]] = []  # (observation, position index, origin index or -1)
    origins: list[tuple[tuple[float, float], tuple[float, float]]] = []
    unlocated: list[Unlocated] = []
    bad_origins = 0
    for obs in observations:
        loc = obs.location
        if isinstance(loc, PlaceLocation) and loc.lat is None:
            unlocated.append(Unlocated(str(obs.id), "place without coordinates"))
            continue
        pos = len(lats)
        if isinstance(loc, BearingLocation):
            lats.append(loc.sensor_lat)
            lons.append(loc.sensor_lon)
            rotate.append(pos)
        else:
            assert loc.lat is not None and loc.lon is not None
            lats.append(loc.lat)
            lons.append(loc.lon)
            if isinstance(loc, PointLocation) and loc.cov_m2 is not None:
                rotate.append(pos)
        origin_at = -1
        raw_origin = obs.attributes.get("origin") if obs.attributes else None
        if raw_origin is not None:
            parsed = _parse_origin(raw_origin, obs.assumed.origin_cep_m if obs.assumed is not None else None)
            if parsed is None:
                bad_origins += 1
            else:
                origin_at = len(lats)
                lats.append(parsed[0])
                lons.append(parsed[1])
                rotate.append(origin_at)
                origins.append(parsed[2])
        plan.append((obs, pos, origin_at))
    if not plan:
        return [], unlocated, bad_origins
    east, north = frame.to_enu(lats, lons)
    xs = east.tolist()
    ys = north.tolist()
    angles: dict[int, float] = {}
    if rotate:
        turned = frame.north_angle([lats[i] for i in rotate], [lons[i] for i in rotate]).tolist()
        angles = dict(zip(rotate, turned, strict=True))
    out: list[Measurement] = []
    min_var = model.min_sigma_m**2
    min_vt = model.min_time_sd_s**2
    min_vt_thermal = max(model.thermal_min_time_sd_s, model.min_time_sd_s) ** 2
    exclusive_types = model.exclusive_source_types
    origin_iter = iter(origins)
    for obs, pos, origin_at in plan:
        m = Measurement()
        m.id = observation_ref(obs.source.org, str(obs.id))  # "ORG/id": ids are per organisation
        m.t = m.t0 = obs.time.timestamp() - epoch
        sd_t = obs.time_sd_s  # as stated, or the default assumed for its source type and kind
        m.vt = max(sd_t * sd_t, min_vt_thermal if obs.kind is ObservationKind.THERMAL else min_vt)
        m.x = xs[pos]
        m.y = ys[pos]
        loc = obs.location
        if isinstance(loc, BearingLocation):
            m.bearing = True
            theta = math.radians(loc.bearing_deg) - angles[pos]
            m.bux, m.buy = math.sin(theta), math.cos(theta)
            m.bvar = math.radians(loc.bearing_sd_deg) ** 2
            sensor_sd = obs.sensor_sigma_m or 0.0
            m.bsvar = max(sensor_sd * sensor_sd, min_var)
            m.brange = loc.max_range_m or model.default_bearing_range_m
            m.cxx = m.cxy = m.cyy = m.ixx = m.ixy = m.iyy = 0.0
            m.radius = m.brange
        else:
            m.bearing = False
            m.bux = m.buy = m.bvar = m.bsvar = m.brange = 0.0
            if isinstance(loc, PointLocation) and loc.cov_m2 is not None:
                (a, b), (_, d) = loc.cov_m2
                cxx, cxy, cyy = rotate_cov2(a, b, d, angles[pos])
                cxx = max(cxx, min_var)
                cyy = max(cyy, min_var)
            else:
                sigma = obs.sigma_m  # given, implied by a place's precision, or assumed (domain/defaults.py)
                var = max((sigma if sigma is not None else model.default_sigma_m) ** 2, min_var)
                cxx, cxy, cyy = var, 0.0, var
            det = cxx * cyy - cxy * cxy
            m.cxx, m.cxy, m.cyy = cxx, cxy, cyy
            m.ixx, m.ixy, m.iyy = cyy / det, -cxy / det, cxx / det
            m.radius = math.sqrt(max(cxx, cyy) + abs(cxy))  # ≥ the largest principal σ
        m.kind = obs.kind
        m.mask = KIND_MASK[obs.kind]
        src = obs.source
        m.source = src.id
        m.group = f"{src.org}/{src.type.value}"
        m.exclusive = src.type in exclusive_types
        m.weight = evidence_weight(obs.reliability, obs.credibility)
        if origin_at >= 0:
            (a, b), (_, d) = next(origin_iter)
            oxx, oxy, oyy = rotate_cov2(a, b, d, angles[origin_at])
            m.origin = (xs[origin_at], ys[origin_at], oxx, oxy, oyy)
        else:
            m.origin = None
        m.facts = observation_facts(obs)
        m.incident = None
        m.lxx = m.lxy = m.lyy = m.ex = m.ey = 0.0
        m.founded = 0
        out.append(m)
    return out, unlocated, bad_origins
