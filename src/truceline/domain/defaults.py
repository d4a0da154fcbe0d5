"""What truceline assumes for an uncertainty a sender did not state: one table per rules version.

Unknown is not zero. A timestamp without ``time_uncertainty_s`` or a point without ``cep_m`` is not exact;
reading it as exact splits one explosion into as many incidents as there were reporting nations, and makes
a position near the contact line look certain enough to name a party. So every uncertainty that fusion or
attribution relies on gets a documented default when it is missing, chosen per source type (and, where the
kind changes what a time means, per kind). The reasoning for each value is in ``docs/observations.md``.

The values assumed for an observation are recorded on it (``Observation.assumed``) with the version of the
rules that produced them, and they are part of its ledger commitment: the evidence shows what the sender
claimed (the field stays absent) and what was assumed. A new table is a new version; old versions stay here
so that documents committed under them still validate to the same bytes.

Keys are the plain string values of ``SourceType`` and ``ObservationKind`` (pass ``.value``: an enum member
hashes by its name); this module imports nothing from truceline, the domain model imports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

CEP_PER_SIGMA: Final = math.sqrt(2.0 * math.log(2.0))
"""CEP (50% radius) of a circular normal with one-axis σ = 1: ``sqrt(2 ln 2) ≈ 1.1774``."""

#: Allowance for the clock and meaning of a timestamp from another organisation when the sender says
#: nothing about it: an undisciplined clock drifts 1–4 s a day and is often weeks from its last sync, and a
#: feed may stamp the time it wrote or relayed a record rather than the time of the event. Partner clocks
#: disagreed by 2–45 s in the case that showed the defect (issue 16); uniform over a minute is σ ≈ 17 s.
CLOCK_ALLOWANCE_S: Final = 20.0


def _rss(*parts: float) -> float:
    """Independent errors add in quadrature; rounded to whole seconds so the record reads plainly."""
    return float(round(math.sqrt(sum(p * p for p in parts))))


def _frozen(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class DefaultTable:
    """One version of the defaults: 1-σ values per source type, time overrides per kind.

    ``time_sd_s`` is the time σ by source type; ``time_sd_by_kind_s`` replaces it for kinds whose time means
    something else (a fire seen burning). ``point_sigma_m`` is the position σ of a point given without
    ``cep_m``/``cov_m2``; ``sensor_sigma_m`` the σ of a bearing sensor's own position without
    ``sensor_cep_m``; ``origin_sigma_m`` the σ of ``attributes.origin`` given without ``cep_m``/``cov_m2``.
    """

    version: str
    time_sd_s: Mapping[str, float]
    time_sd_by_kind_s: Mapping[str, float]
    point_sigma_m: Mapping[str, float]
    sensor_sigma_m: Mapping[str, float]
    origin_sigma_m: Mapping[str, float]

    def time_sd(self, source_type: str, kind: str) -> float:
        """Time σ in seconds assumed for an observation of this source type and kind."""
        return self.time_sd_by_kind_s.get(kind, self.time_sd_s[source_type])

    def point_cep(self, source_type: str) -> float:
        """CEP in metres assumed for a point of this source type (σ × 1.1774, to 0.1 m)."""
        return round(self.point_sigma_m[source_type] * CEP_PER_SIGMA, 1)

    def sensor_cep(self, source_type: str) -> float:
        """CEP in metres assumed for a bearing sensor's own position."""
        return round(self.sensor_sigma_m[source_type] * CEP_PER_SIGMA, 1)

    def origin_cep(self, source_type: str) -> float:
        """CEP in metres assumed for an estimated origin (firing point) given without its uncertainty."""
        return round(self.origin_sigma_m[source_type] * CEP_PER_SIGMA, 1)


TABLE_1 = DefaultTable(
    version="1",
    time_sd_s=_frozen(
        {
            # the sensor's own timing, then the clock allowance (see docs/observations.md for each)
            "acoustic": _rss(13.0, CLOCK_ALLOWANCE_S),  # arrival at the array vs origin: 0–45 s of sound travel
            "seismic": _rss(13.0, CLOCK_ALLOWANCE_S),  # ground and air-coupled waves: delays like sound's
            "radar": _rss(1.0, CLOCK_ALLOWANCE_S),  # a projectile track is timed to about a second
            "uav": _rss(5.0, CLOCK_ALLOWANCE_S),  # video frame time, plus the operator's marking delay
            "satellite": _rss(87.0, CLOCK_ALLOWANCE_S),  # scene/granule time for any pixel: 5 min uniform
            "monitor": 600.0,  # a patrol's note: to 5–15 min, often written after the fact
            "osint": 1800.0,  # a post's time is when it was posted; captions say "this morning"
            "official": 3600.0,  # statements summarise hours: "overnight", "at about 04:00"
        }
    ),
    time_sd_by_kind_s=_frozen({"thermal": 5400.0}),  # a fire burns for hours before and after it is seen
    point_sigma_m=_frozen(
        {
            "acoustic": 500.0,  # TDOA fixes at 5–15 km: errors grow with range and temperature
            "seismic": 1000.0,  # few-station seismic fixes are coarse
            "radar": 200.0,  # counter-battery impact points: CEP 0.3–0.5% of a 20–30 km range
            "uav": 200.0,  # target location from platform metadata: pointing error × slant range
            "satellite": 500.0,  # a thermal pixel is 375 m (VIIRS) to 1 km (MODIS)
            "monitor": 500.0,  # a patrol placing a blast it saw or heard at a distance
            "osint": 1000.0,  # a point without uncertainty is usually a settlement or district centre
            "official": 2000.0,  # statements name settlements: as a place of exact precision
        }
    ),
    sensor_sigma_m=_frozen(
        {
            "acoustic": 10.0,  # fielded arrays are surveyed with GPS
            "seismic": 10.0,
            "radar": 10.0,
            "uav": 30.0,  # the platform's navigation solution
            "satellite": 10.0,
            "monitor": 30.0,  # a handheld GPS, and the observer not quite where it was read
            "osint": 100.0,  # the filming position is itself geolocated
            "official": 100.0,
        }
    ),
    origin_sigma_m=_frozen(
        {
            "acoustic": 500.0,  # a launch located like any sound, at longer range
            "seismic": 1000.0,
            "radar": 100.0,  # counter-battery radar back-tracks a trajectory: CEP ~ 0.3% of range
            "uav": 200.0,
            "satellite": 500.0,
            "monitor": 1000.0,
            "osint": 2000.0,
            "official": 2000.0,
        }
    ),
)

TABLES: Final[Mapping[str, DefaultTable]] = MappingProxyType({TABLE_1.version: TABLE_1})
CURRENT: Final = TABLE_1
"""The table applied to observations that arrive without an ``assumed`` record."""


def rules_name(table: DefaultTable) -> str:
    """The ``assumed.rules`` value naming a table: ``truceline-defaults/<version>``."""
    return f"truceline-defaults/{table.version}"


_BY_NAME: Final[Mapping[str, DefaultTable]] = MappingProxyType({rules_name(t): t for t in TABLES.values()})


def table_named(name: str) -> DefaultTable | None:
    """The table an ``assumed.rules`` value names, or None if this version of truceline does not know it."""
    return _BY_NAME.get(name)


def known_rules() -> list[str]:
    """Every rules name this version can validate, oldest first."""
    return list(_BY_NAME)


def assume(
    table: DefaultTable,
    source_type: str,
    kind: str,
    *,
    time_stated: bool,
    point_unstated: bool,
    sensor_unstated: bool,
    origin_unstated: bool,
) -> dict[str, float]:
    """The values ``table`` assumes for the uncertainties that are missing; empty when all were stated.

    Keys are the names of the fields they stand in for: ``time_uncertainty_s``, ``cep_m`` (of a point
    location), ``sensor_cep_m`` (of a bearing location), ``origin_cep_m`` (of ``attributes.origin``).
    """
    out: dict[str, float] = {}
    if not time_stated:
        out["time_uncertainty_s"] = table.time_sd(source_type, kind)
    if point_unstated:
        out["cep_m"] = table.point_cep(source_type)
    if sensor_unstated:
        out["sensor_cep_m"] = table.sensor_cep(source_type)
    if origin_unstated:
        out["origin_cep_m"] = table.origin_cep(source_type)
    return out
