"""Geodesy and the geometry of a ceasefire: local metric frame, partition of the country, line of contact.

Computations run in a Lambert azimuthal equal-area projection of the WGS84 ellipsoid centred on the
country: areas are exact there and distances within about 0.1% of geodesic over a country the size of
Ukraine (measured in tests against ``pyproj.Geod``), so "50 km" means 50 km, never 0.45 degrees.
Pure functions: no file or network access.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

#: The WGS84 ellipsoid for every geodesic computation in the project.
GEOD = pyproj.Geod(ellps="WGS84")

FloatArray = NDArray[np.float64]


class LocalProjection:
    """Lambert azimuthal equal-area (LAEA) on WGS84 around (lon0, lat0): the project's metric frame."""

    def __init__(self, lon0: float, lat0: float) -> None:
        if not (-180.0 <= lon0 <= 180.0 and -90.0 <= lat0 <= 90.0):
            raise ValueError(f"projection centre out of range: lon {lon0}, lat {lat0}")
        self.lon0 = float(lon0)
        self.lat0 = float(lat0)
        self.crs = pyproj.CRS.from_proj4(f"+proj=laea +lat_0={self.lat0} +lon_0={self.lon0} +ellps=WGS84 +units=m +no_defs")
        self._fwd = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._inv = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)

    @classmethod
    def around(cls, geometry: Any) -> LocalProjection:
        """Centre on the bounding box of a lon/lat geometry, rounded to 0.1° so the frame is reproducible."""
        minx, miny, maxx, maxy = shapely.bounds(geometry)
        return cls(round((minx + maxx) / 2.0, 1), round((miny + maxy) / 2.0, 1))

    def forward(self, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Projected metres (x east, y north) of lon/lat arrays."""
        x, y = self._fwd.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def inverse(self, x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Lon/lat of projected metres."""
        lon, lat = self._inv.transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def to_local(self, geometry: Any, max_segment_deg: float = 0.01) -> Any:
        """A lon/lat shapely geometry in the local frame.

        GeoJSON edges are straight in longitude/latitude (RFC 7946), so long edges are first split into pieces
        of at most ``max_segment_deg`` (≈1 km) — otherwise a 6° edge along a parallel would turn into a chord
        kilometres away from it.
        """
        dense = shapely.segmentize(geometry, max_segment_deg) if max_segment_deg > 0 else geometry
        return shapely.transform(dense, lambda xy: np.column_stack(self.forward(xy[:, 0], xy[:, 1])))

    def to_wgs84(self, geometry: Any) -> Any:
        """A local-frame shapely geometry back in lon/lat."""
        return shapely.transform(geometry, lambda xy: np.column_stack(self.inverse(xy[:, 0], xy[:, 1])))


def geodesic_distance(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> FloatArray:
    """Geodesic distance on WGS84 in metres (Karney's algorithm via pyproj)."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, dtype=np.float64)


def polygonal(geometry: Any) -> Any:
    """Only the polygonal part of an overlay result, as a (possibly empty) MultiPolygon."""
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    flat: list[Any] = []
    for p in parts:
        flat.extend(shapely.get_parts(p))
    return shapely.MultiPolygon(flat) if flat else shapely.MultiPolygon()


def lineal(geometry: Any) -> Any:
    """Only the lines of an overlay result, merged into as few LineStrings as possible."""
    lines = [p for p in shapely.get_parts(geometry) if p.geom_type in ("LineString", "MultiLineString") and not p.is_empty]
    if not lines:
        return shapely.MultiLineString()
    merged = shapely.line_merge(shapely.union_all(lines))
    parts = [p for p in shapely.get_parts(merged) if p.geom_type == "LineString" and p.length > 0]
    return shapely.MultiLineString(parts) if parts else shapely.MultiLineString()


@dataclass(frozen=True)
class Partition:
    """Who controls which part of the country, in the local frame; the areas do not overlap.

    ``reassigned_m2`` reports, per receiving party, the slivers of the remainder taken away from it
    (digitising artefacts between two independently drawn outlines); ``unassigned`` is country territory of
    no party (only possible when no party holds the remainder).
    """

    areas: dict[str, Any]
    reassigned_m2: dict[str, float] = field(default_factory=dict)
    unassigned: Any = None


def partition_country(country: Any, explicit: dict[str, Any], remainder: str | None, min_enclave_area_m2: float) -> Partition:
    """Split the country among the parties (all geometries in the local frame).

    Explicit areas are clipped to the country; the remainder party gets what is left, except isolated pieces
    smaller than ``min_enclave_area_m2``, which go to the explicit party they share most boundary with —
    where two outlines disagree along a coast or border, such pieces are artefacts, not enclaves.
    """
    areas = {code: polygonal(shapely.intersection(geom, country)) for code, geom in explicit.items()}
    reassigned = {code: 0.0 for code in explicit}
    taken = shapely.union_all(list(areas.values())) if areas else shapely.MultiPolygon()
    rest = polygonal(shapely.difference(country, taken))
    if remainder is None:
        return Partition(areas=areas, reassigned_m2=reassigned, unassigned=rest)
    keep = []
    gifts: dict[str, list[Any]] = {code: [] for code in areas}
    boundaries = {code: area.boundary for code, area in areas.items()}
    for piece in shapely.get_parts(rest):
        if piece.area >= min_enclave_area_m2 or not areas:
            keep.append(piece)
            continue
        shared = {code: shapely.intersection(piece.boundary, line).length for code, line in boundaries.items()}
        best = max(shared, key=lambda c: shared[c])
        if shared[best] == 0.0:
            best = min(areas, key=lambda c: shapely.distance(piece, areas[c]))
        gifts[best].append(piece)
        reassigned[best] += piece.area
    for code, pieces in gifts.items():
        if pieces:
            areas[code] = polygonal(shapely.union_all([areas[code], *pieces]))
    areas[remainder] = shapely.MultiPolygon(keep) if keep else shapely.MultiPolygon()
    return Partition(areas=areas, reassigned_m2=reassigned, unassigned=shapely.MultiPolygon())


def derive_contact_line(partition: Partition, country: Any, tolerance_m: float) -> Any:
    """The line of contact: the boundaries between parties' areas, minus the country's border and coast.

    Each area's boundary is taken, and what lies within ``tolerance_m`` of the country outline is dropped
    (the outline and the control map are digitised differently, so their shared stretches never coincide
    exactly). The line therefore stops ``tolerance_m`` short of the border at its ends.
    """
    if tolerance_m <= 0:
        raise ValueError("tolerance_m must be positive")
    boundaries = [area.boundary for area in partition.areas.values() if not area.is_empty]
    if not boundaries:
        return shapely.MultiLineString()
    lines = lineal(shapely.union_all(boundaries))
    near_outline = shapely.buffer(country.boundary, tolerance_m, quad_segs=4)
    return lineal(shapely.difference(lines, near_outline))


def band_polygon(line: Any, distance_m: float, side: Any) -> Any:
    """Area within ``distance_m`` of the line (planar, local frame) inside ``side``: a zone on one side."""
    if line.is_empty or side.is_empty:
        return shapely.MultiPolygon()
    return polygonal(shapely.intersection(shapely.buffer(line, distance_m, quad_segs=16), side))


def segments_of(line: Any) -> FloatArray:
    """(M, 4) array [ax, ay, bx, by] of the straight segments of a (Multi)LineString."""
    chunks = []
    for part in shapely.get_parts(line):
        coords = shapely.get_coordinates(part)
        if len(coords) >= 2:
            chunks.append(np.hstack([coords[:-1], coords[1:]]))
    if not chunks:
        return np.zeros((0, 4))
    segs = np.vstack(chunks)
    return segs[np.any(segs[:, :2] != segs[:, 2:], axis=1)]


def normal_cdf(z: float) -> float:
    """Φ(z) of the standard normal distribution."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))
