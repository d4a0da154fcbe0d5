"""Observations as real clients post them, and scenarios of several nations' sensors with unsynchronised clocks.

The simulator's sensor models state every uncertainty they know. Real senders mostly do not: a patrol note
says "03:15", a partner's feed sends a timestamp and a point. :func:`as_posted` drops from simulated records
what real senders drop, so fusion can be measured on the defaults it then has to assume.

:func:`nations_scenario` builds the case that showed the defect (issue 16): explosions each reported by 2–4
sources of different nations, each source with its own position error (σ 40–450 m, stated as ``cep_m``) and
its own clock error (2–45 s either way, which no sender states). ``sparse`` is a quiet day of isolated
explosions; ``salvos`` puts 3–10 impacts within ~600 m and ~3 minutes, where time barely separates them.
Records come in arrival order with ground truth in the format of :func:`truceline.sim.truth_records`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from truceline.locate.enu import LocalFrame

#: Stated uncertainties that real clients leave out, by where they sit in a native record.
DROPPED_BY_REAL_SENDERS = ("time_uncertainty_s", "location.sensor_cep_m")

_CEP_PER_SIGMA = math.sqrt(2.0 * math.log(2.0))
_SOURCE_TYPES = ("acoustic", "radar", "uav")
_NATIONS = ("UA", "PL", "FR", "US", "GB", "DE", "NL", "CA")


def as_posted(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of native records without what real senders leave out (:data:`DROPPED_BY_REAL_SENDERS`).

    Time uncertainty goes everywhere (almost no client sends it); a bearing's sensor CEP goes too (an
    array's surveyed position is taken as given). Point CEPs and covariances stay: the formats sensors
    speak carry them (CoT ``ce``, KLV CE90, ACLED and FIRMS precision), and a human report names a place.
    """
    out = []
    for record in records:
        doc = copy.deepcopy(dict(record))
        doc.pop("time_uncertainty_s", None)
        location = doc.get("location")
        if isinstance(location, dict):
            location.pop("sensor_cep_m", None)
        out.append(doc)
    return out


@dataclass(frozen=True)
class NationsScenario:
    """Parameters of one multi-nation scenario; the defaults follow issue 16's description."""

    name: str
    pattern: Literal["sparse", "salvos"]
    seed: int
    events: int = 300  # explosions (sparse) or salvos
    hours: float = 24.0
    sector_km: tuple[float, float] = (60.0, 30.0)
    nations: int = 6
    sources_per_nation: int = 3
    reports_per_event: tuple[int, int] = (2, 4)
    sigma_m: tuple[float, float] = (40.0, 450.0)
    clock_error_s: tuple[float, float] = (2.0, 45.0)
    jitter_s: float = 0.5
    impacts: tuple[int, int] = (3, 10)
    spread_m: float = 600.0
    duration_s: float = 180.0
    start: datetime = datetime(2023, 4, 2, tzinfo=UTC)
    lat: float = 48.0
    lon: float = 37.8

    def __post_init__(self) -> None:
        lo, hi = self.reports_per_event
        if not (2 <= lo <= hi <= self.nations <= len(_NATIONS)):
            raise ValueError(f"reports per event {self.reports_per_event} must lie in 2..nations ({self.nations} ≤ {len(_NATIONS)})")
        if self.events < 1 or self.hours <= 0 or self.sources_per_nation < 1:
            raise ValueError("need at least one event, a positive duration and one source per nation")


NATIONS_PRESETS: Mapping[str, NationsScenario] = {
    "nations-sparse-day": NationsScenario("nations-sparse-day", "sparse", seed=160402),
    "nations-salvos": NationsScenario("nations-salvos", "salvos", seed=160403, events=60, sector_km=(12.0, 10.0)),
}


@dataclass(frozen=True)
class _Source:
    id: str
    type: str
    org: str
    sigma_m: float
    clock_s: float


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _sources(spec: NationsScenario, rng: np.random.Generator) -> list[list[_Source]]:
    out = []
    for org in _NATIONS[: spec.nations]:
        row = []
        for k in range(spec.sources_per_nation):
            clock = rng.uniform(*spec.clock_error_s) * rng.choice((-1.0, 1.0))
            kind = _SOURCE_TYPES[int(rng.integers(len(_SOURCE_TYPES)))]
            row.append(_Source(f"{org.lower()}-{kind}-{k + 1}", kind, org, float(rng.uniform(*spec.sigma_m)), float(clock)))
        out.append(row)
    return out


def _impacts(spec: NationsScenario, rng: np.random.Generator) -> list[tuple[str, str, float, float, float]]:
    """(event id, salvo id, east m, north m, seconds from start) of every impact, in time order."""
    width, depth = (1000.0 * s for s in spec.sector_km)
    span = spec.hours * 3600.0
    out = []
    for i in range(spec.events):
        t0 = float(rng.uniform(0.0, span))
        x0, y0 = float(rng.uniform(-width / 2, width / 2)), float(rng.uniform(-depth / 2, depth / 2))
        if spec.pattern == "sparse":
            out.append((f"e{i:05d}", f"e{i:05d}", x0, y0, t0))
            continue
        for j in range(int(rng.integers(spec.impacts[0], spec.impacts[1] + 1))):
            dx, dy = rng.normal(0.0, spec.spread_m / 4.0, 2)
            out.append((f"s{i:04d}-{j:02d}", f"s{i:04d}", x0 + float(dx), y0 + float(dy), t0 + float(rng.uniform(0.0, spec.duration_s))))
    out.sort(key=lambda e: e[4])
    return out


def nations_scenario(spec: NationsScenario, honest: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(native observation records in arrival order, truth records) of one multi-nation scenario.

    ``honest`` states each source's clock error as its ``time_uncertainty_s``; otherwise, as real clients
    post, the field is left out. Each report of an impact comes from a different nation.
    """
    rng = np.random.default_rng(spec.seed)
    sources = _sources(spec, rng)
    impacts = _impacts(spec, rng)
    frame = LocalFrame(spec.lat, spec.lon)
    t0 = spec.start.timestamp()
    drafts: list[tuple[float, str, _Source, float, float, str]] = []  # (time, id, source, x, y, event)
    for event, _, x, y, t in impacts:
        k = int(rng.integers(spec.reports_per_event[0], spec.reports_per_event[1] + 1))
        for n in rng.choice(len(sources), size=k, replace=False).tolist():
            src = sources[n][int(rng.integers(len(sources[n])))]
            ex, ey = rng.normal(0.0, src.sigma_m, 2)
            when = t0 + t + src.clock_s + float(rng.normal(0.0, spec.jitter_s))
            drafts.append((when, f"{src.id}-{len(drafts):06d}", src, x + float(ex), y + float(ey), event))
    drafts.sort(key=lambda d: d[0])
    lat, lon = frame.to_geodetic([d[3] for d in drafts], [d[4] for d in drafts])
    records = []
    for (when, oid, src, _, _, _), a, b in zip(drafts, lat.tolist(), lon.tolist(), strict=True):
        record: dict[str, Any] = {
            "id": oid,
            "time": _iso(when),
            "kind": "explosion",
            "location": {"lat": round(a, 7), "lon": round(b, 7), "cep_m": round(src.sigma_m * _CEP_PER_SIGMA, 1)},
            "source": {"id": src.id, "type": src.type, "org": src.org},
            "reliability": "B",
            "credibility": 2,
            "releasable_to": ["COALITION"],
        }
        if honest:
            record["time_uncertainty_s"] = round(max(abs(src.clock_s), spec.jitter_s), 3)
        records.append(record)
    return records, _truth(spec, frame, impacts, drafts)


def _truth(
    spec: NationsScenario,
    frame: LocalFrame,
    impacts: list[tuple[str, str, float, float, float]],
    drafts: list[tuple[float, str, _Source, float, float, str]],
) -> list[dict[str, Any]]:
    """Truth records: each impact, with a launch end placed 15 km away (no sensor here reports launches)."""
    t0 = spec.start.timestamp()
    ilat, ilon = frame.to_geodetic([e[2] for e in impacts], [e[3] for e in impacts])
    olat, olon = frame.to_geodetic([e[2] for e in impacts], [e[3] + 15_000.0 for e in impacts])
    out: list[dict[str, Any]] = [
        {"type": "scenario", "name": spec.name, "seed": spec.seed, "start": _iso(t0), "duration_h": spec.hours, "frame": {"lat": spec.lat, "lon": spec.lon}}
    ]
    for (event, salvo, _, _, t), a, b, c, d in zip(impacts, ilat.tolist(), ilon.tolist(), olat.tolist(), olon.tolist(), strict=True):
        out.append(
            {
                "type": "event",
                "id": event,
                "weapon": "artillery",
                "party": None,
                "salvo": salvo,
                "impact": {"time": _iso(t0 + t), "lat": round(a, 7), "lon": round(b, 7)},
                "launch": {"time": _iso(t0 + t - 40.0), "lat": round(c, 7), "lon": round(d, 7)},
            }
        )
    for when, oid, _, _, _, event in drafts:
        out.append({"type": "label", "observation": oid, "event": event, "phase": "impact", "tag": "signal", "arrival": _iso(when)})
    return out
