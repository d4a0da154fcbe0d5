"""Fusion sectors: a latitude/longitude grid that splits fusion between workers, with a halo around each cell.

Why: one fuser for a 1,000 km front is one machine's ceiling. Fusion is local (an observation can only join an
incident within its association reach), so the plane is cut into cells of ``deg``×``deg`` degrees and each cell
(a *sector*) is fused by one worker at a time. A worker fuses its sector's *core* plus a *halo* around it, and
keeps only the incidents whose founding observation lies in the core. An event on a border is then fused by
both neighbours from the same observations in the same (ledger) order, and kept by exactly one of them: the
owner of its founder, which never changes as the incident grows (incident ids derive from the founder).

The halo must be at least the association reach: a point's gate (≈4 σ of the two positions combined) and a
bearing's line (its sensor's ``bearing_range_km``). ``halo_km`` defaults to 50 km, which covers CEPs up to
~8 km; coarser reports (district-level places) near a border may be fused differently than by one node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from truceline.domain.observation import BearingLocation, Observation
from truceline.store.ports import BBox

__all__ = ["DEFAULT_BEARING_RANGE_KM", "DEFAULT_HALO_KM", "DEFAULT_SECTOR_DEG", "Sector", "SectorGrid"]

DEFAULT_SECTOR_DEG = 1.0
DEFAULT_HALO_KM = 50.0
DEFAULT_BEARING_RANGE_KM = 30.0
_KM_PER_DEG_LAT = 111.32
#: Near the poles a kilometre is many degrees of longitude; beyond this latitude the halo spans all of them.
_POLAR_LAT = 89.0
#: Slack on a reach box's edges, so that floating-point rounding at a cell boundary never leaves a point out.
_EDGE_DEG = 1e-6


@dataclass(frozen=True, slots=True, order=True)
class Sector:
    """One grid cell: ``row`` counts ``deg`` steps from 90°S, ``col`` from 180°W."""

    deg: float
    row: int
    col: int

    @property
    def name(self) -> str:
        """Stable text id (lease ``fusion:<name>``, the store's per-sector cursor and incident tag)."""
        return f"{self.deg:g}d/{self.row}/{self.col}"

    @property
    def core(self) -> BBox:
        """The cell itself, [min, max) in both axes (the last row and column include 90°N / 180°E)."""
        min_lat = -90.0 + self.row * self.deg
        min_lon = -180.0 + self.col * self.deg
        return BBox(min_lon, min_lat, min(min_lon + self.deg, 180.0), min(min_lat + self.deg, 90.0))


class SectorGrid:
    """The grid of one deployment: which sector owns a point, and which sectors' halos see an observation."""

    def __init__(
        self,
        deg: float = DEFAULT_SECTOR_DEG,
        halo_km: float = DEFAULT_HALO_KM,
        bearing_range_km: float = DEFAULT_BEARING_RANGE_KM,
    ) -> None:
        if not (math.isfinite(deg) and 0 < deg <= 90 and abs(180 / deg - round(180 / deg)) < 1e-9):
            raise ValueError(f"sector size must divide 180° evenly (e.g. 0.5, 1, 2), got {deg!r}")
        for label, value in (("halo_km", halo_km), ("bearing_range_km", bearing_range_km)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{label} must be a non-negative number of km, got {value!r}")
        self.deg = deg
        self.halo_km = halo_km
        self.bearing_range_km = bearing_range_km
        self.rows = int(round(180 / deg))
        self.cols = int(round(360 / deg))

    def sector_of(self, lat: float, lon: float) -> Sector:
        """The sector whose core holds the point (90°N in the top row, 180°E in the last column)."""
        row = min(int(math.floor((lat + 90.0) / self.deg)), self.rows - 1)
        col = min(int(math.floor((lon + 180.0) / self.deg)), self.cols - 1)
        return Sector(self.deg, row, col)

    def parse(self, name: str) -> Sector:
        """The sector of a :attr:`Sector.name` on this grid; ValueError for any other text."""
        deg, _, rest = name.partition("d/")
        row, _, col = rest.partition("/")
        try:
            sector = Sector(float(deg), int(row), int(col))
        except ValueError:
            raise ValueError(f"not a sector name: {name!r}") from None
        if sector.deg != self.deg or not (0 <= sector.row < self.rows and 0 <= sector.col < self.cols):
            raise ValueError(f"sector {name!r} is not on this {self.deg:g}° grid")
        return sector

    def owner(self, observation: Observation) -> Sector | None:
        """The sector an incident founded by ``observation`` belongs to: its point, or a bearing's sensor."""
        anchor = _anchor(observation)
        return None if anchor is None else self.sector_of(*anchor)

    def halo_sectors(self, observation: Observation) -> set[Sector]:
        """Every sector whose core-plus-halo holds the observation, i.e. whose fuser must see it.

        A bearing reaches ``bearing_range_km`` from its sensor, so it is seen by the sectors within that
        distance plus the halo. An observation without a position (an unresolved place) is seen by none.
        """
        anchor = _anchor(observation)
        if anchor is None:
            return set()
        reach = self.halo_km + (self.bearing_range_km if isinstance(observation.location, BearingLocation) else 0.0)
        return self.sectors_near(anchor[0], anchor[1], reach)

    def sectors_near(self, lat: float, lon: float, reach_km: float) -> set[Sector]:
        """Sectors whose core comes within ``reach_km`` of the point (by a box of that half-size, generous)."""
        dlat = reach_km / _KM_PER_DEG_LAT
        lo_lat, hi_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
        widest = max(abs(lo_lat), abs(hi_lat))
        if widest >= _POLAR_LAT:
            cols = range(self.cols)
        else:
            dlon = reach_km / (_KM_PER_DEG_LAT * math.cos(math.radians(widest)))
            if 2 * dlon >= 360.0:
                cols = range(self.cols)
            else:
                first = int(math.floor((lon - dlon + 180.0) / self.deg))
                last = int(math.floor((lon + dlon + 180.0) / self.deg))
                cols = range(first, last + 1)  # may run past either edge: wrapped below
        row0 = self.sector_of(lo_lat, lon).row
        row1 = self.sector_of(hi_lat, lon).row
        return {Sector(self.deg, row, col % self.cols) for row in range(row0, row1 + 1) for col in cols}

    def point_reach(self, sector: Sector) -> BBox:
        """A box holding every point whose :meth:`halo_sectors` include ``sector`` (a generous superset: the
        exact test stays :meth:`halo_sectors`); bearings are placed by their sensor and need their own test.

        Lets a sector read its recovery window from the store's spatial index instead of the whole ledger.
        """
        core = sector.core
        dlat = self.halo_km / _KM_PER_DEG_LAT
        lo_lat = max(-90.0, core.min_lat - dlat - _EDGE_DEG)
        hi_lat = min(90.0, core.max_lat + dlat + _EDGE_DEG)
        widest = min(90.0, max(abs(lo_lat), abs(hi_lat)) + dlat)  # a point's own box reaches dlat further
        if widest >= _POLAR_LAT:
            return BBox(-180.0, lo_lat, 180.0, hi_lat)
        dlon = self.halo_km / (_KM_PER_DEG_LAT * math.cos(math.radians(widest))) + _EDGE_DEG
        if 2 * dlon + self.deg >= 360.0:
            return BBox(-180.0, lo_lat, 180.0, hi_lat)
        west, east = core.min_lon - dlon, core.max_lon + dlon
        return BBox(west + 360.0 if west < -180.0 else west, lo_lat, east - 360.0 if east > 180.0 else east, hi_lat)


def _anchor(observation: Observation) -> tuple[float, float] | None:
    """Where an observation is, for sector purposes: its point, or a bearing's sensor position."""
    location = observation.location
    if isinstance(location, BearingLocation):
        return (location.sensor_lat, location.sensor_lon)
    return observation.point
