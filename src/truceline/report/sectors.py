"""Sectors of the daily report: the first-level administrative area (oblast) an incident lies in.

The agreement defines no sectors, and monitoring missions report by region ("Donetsk region", "Kherson
region"), so a sector is the oblast — or, across the border, the Russian region — of the nearest populated
place in the bundled gazetteer (GeoNames settlements and KATOTTG hromada points, each carrying its admin
code). Nearest-place assignment is a Voronoi partition of the settlements: it is exact inside an oblast and
can only err within a few kilometres of an oblast boundary, where the nearest settlement may lie across it.
A point farther than :data:`MAX_DISTANCE_KM` from every place (the sea, a third country) has no oblast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from truceline.text.gazetteer import Gazetteer, default_gazetteer

if TYPE_CHECKING:  # scipy.spatial is imported when an index is built: it costs 0.4 s, and every server imported it at start
    from scipy.spatial import cKDTree

#: Beyond this distance from the nearest place, a point is in no oblast (sea, third country).
MAX_DISTANCE_KM = 40.0
#: Sector name for points that belong to no oblast or Russian border region of the gazetteer.
NO_SECTOR = "outside the oblasts (sea or third country)"
#: Places precise to the settlement (1) or to the hromada (3); oblast-level points (4) would blur borders.
_MAX_PRECISION = 3
_EARTH_RADIUS_KM = 6371.0088


def _unit_vectors(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the unit sphere, so that Euclidean nearest neighbours are great-circle nearest neighbours."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


@dataclass(frozen=True)
class SectorIndex:
    """Nearest-settlement lookup of the oblast (or Russian border region) of any point."""

    names: tuple[str, ...]  # sector name per place
    tree: cKDTree

    @classmethod
    def from_gazetteer(cls, gazetteer: Gazetteer) -> SectorIndex:
        """Index the Ukrainian places and those of the Russian regions the gazetteer names."""
        lat: list[float] = []
        lon: list[float] = []
        names: list[str] = []
        for place in gazetteer.places:
            if place.lat is None or place.lon is None or place.precision > _MAX_PRECISION:
                continue
            region = gazetteer.regions.get(place.region_key)
            if region is None or place.country not in ("UA", "RU"):
                continue
            lat.append(place.lat)
            lon.append(place.lon)
            names.append(region.name)
        if not names:
            raise ValueError("the gazetteer holds no located places in Ukraine or the Russian border regions")
        from scipy.spatial import cKDTree

        return cls(tuple(names), cKDTree(_unit_vectors(np.asarray(lat), np.asarray(lon))))

    def sectors_of(self, lat: Sequence[float], lon: Sequence[float]) -> list[str]:
        """The sector of each point (:data:`NO_SECTOR` when no place lies within :data:`MAX_DISTANCE_KM`)."""
        if len(lat) == 0:
            return []
        chord, nearest = self.tree.query(_unit_vectors(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)))
        distance_km = 2.0 * _EARTH_RADIUS_KM * np.arcsin(np.minimum(np.asarray(chord) / 2.0, 1.0))
        return [self.names[int(i)] if d <= MAX_DISTANCE_KM else NO_SECTOR for i, d in zip(nearest, distance_km, strict=True)]


@lru_cache(maxsize=1)
def default_sectors() -> SectorIndex:
    """The sector index of the bundled gazetteer, built once per process."""
    return SectorIndex.from_gazetteer(default_gazetteer())
