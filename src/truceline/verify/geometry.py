"""The spatial side of one agreement version: who controls a point, how far it is from the line, which zones.

Built from an :class:`~truceline.domain.agreement.Agreement` (pure data) once and cached per agreement
digest: deriving the line of contact takes a fraction of a second, the batch distance index a few seconds,
so the index is built lazily on the first batch query. Single points are answered exactly (GEOS nearest
point, then the geodesic distance on WGS84 to it); batches by the error-bounded index in the local frame.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from numpy.typing import ArrayLike, NDArray

from truceline.domain.agreement import Agreement, Zone, ZoneKind
from truceline.domain.geo import (
    GEOD,
    LocalProjection,
    band_polygon,
    derive_contact_line,
    geodesic_distance,
    lineal,
    partition_country,
    polygonal,
    segments_of,
)
from truceline.verify.distance_index import DistanceIndex

#: Batch distances are within this fraction of the exact planar distance (the projection adds ≤ ~0.1%).
BATCH_REL_TOL = 3e-3
#: Queries are expected up to this far outside the country (sea, neighbouring land) before falling back to GEOS.
INDEX_MARGIN_M = 30_000.0
_SIDE_PIXEL_M = 2_000.0
_MIXED = -2


@dataclass(frozen=True)
class Located:
    """Batch answer: per point, the controlling party, distance to the contact line and zone membership.

    ``side`` indexes ``party_codes`` for points inside the country (−1 outside); ``controller`` also covers
    exterior territory a party controls (its own soil beyond the border).
    """

    party_codes: tuple[str, ...]
    zone_ids: tuple[str, ...]
    side: NDArray[np.int8]
    controller: NDArray[np.int8]
    distance_m: NDArray[np.float64]
    in_zone: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.side)

    def controlled_by(self, i: int) -> str | None:
        """Party controlling point ``i`` or None (sea, third country)."""
        c = int(self.controller[i])
        return self.party_codes[c] if c >= 0 else None

    def zones_of(self, i: int) -> list[str]:
        """Ids of the zones containing point ``i`` (horizontal extent; altitude bands are the rules' business)."""
        return [self.zone_ids[j] for j in np.flatnonzero(self.in_zone[i])]

    def as_dict(self, i: int) -> dict[str, Any]:
        """The ``GET /agreement/locate`` shape for point ``i``."""
        return {
            "controlled_by": self.controlled_by(i),
            "distance_to_contact_line_m": float(self.distance_m[i]),
            "zones": self.zones_of(i),
        }


class AgreementGeometry:
    """Partition, line of contact, zones and locator of one agreement version (see module docstring)."""

    def __init__(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self.party_codes: tuple[str, ...] = tuple(p.code for p in agreement.parties)
        self.zone_ids: tuple[str, ...] = tuple(z.id for z in agreement.zones)
        country = agreement.country.area.shape
        self.projection = LocalProjection.around(country)
        proj = self.projection
        self.country_xy = proj.to_local(country)
        explicit = {p.code: proj.to_local(p.area.shape) for p in agreement.parties if p.area is not None}
        remainder = next((p.code for p in agreement.parties if p.area is None), None)
        self.partition = partition_country(self.country_xy, explicit, remainder, agreement.geometry.min_enclave_area_m2)
        if agreement.contact_line is not None:
            self.contact_line_xy = lineal(proj.to_local(agreement.contact_line.shape))
        else:
            self.contact_line_xy = derive_contact_line(self.partition, self.country_xy, agreement.geometry.border_tolerance_m)
        self.contact_line = proj.to_wgs84(self.contact_line_xy)
        self.segments = segments_of(self.contact_line_xy)
        # territories: (local polygon, side index, controller index)
        terr: list[tuple[Any, int, int]] = []
        for i, code in enumerate(self.party_codes):
            area = self.partition.areas.get(code)
            if area is not None and not area.is_empty:
                terr.append((area, i, i))
        exterior_xy = []
        for ext in agreement.exterior:
            i = self.party_codes.index(ext.party)
            outside = polygonal(shapely.difference(proj.to_local(ext.area.shape), self.country_xy))
            if not outside.is_empty:
                terr.append((outside, -1, i))
                exterior_xy.append(outside)
        # Water or land just outside the outline (a river mouth, a harbour, a border drawn a little off)
        # belongs to the adjacent party up to the border tolerance, the precision the outline is trusted to.
        tol = agreement.geometry.border_tolerance_m
        fringe = shapely.difference(shapely.buffer(self.country_xy, tol, quad_segs=4), self.country_xy)
        if exterior_xy:
            fringe = shapely.difference(fringe, shapely.union_all(exterior_xy))
        for area, i, _ in list(terr):
            if i < 0 or fringe.is_empty:
                continue
            piece = polygonal(shapely.intersection(fringe, shapely.buffer(area, tol, quad_segs=4)))
            if not piece.is_empty:
                terr.append((piece, i, i))
                fringe = shapely.difference(fringe, piece)
        self._territories = terr
        for geom, _, _ in terr:
            shapely.prepare(geom)
        self._terr_side = np.array([t[1] for t in terr] + [-1], dtype=np.int8)
        self._terr_ctrl = np.array([t[2] for t in terr] + [-1], dtype=np.int8)
        self._zone_polys: dict[str, Any] = {}
        for zone in agreement.zones:
            if zone.area is not None:
                poly = proj.to_local(zone.area.shape)
                if zone.kind is ZoneKind.CORRIDOR and zone.width_m is not None:  # the centreline ± half the width
                    poly = shapely.buffer(poly, zone.width_m / 2.0, quad_segs=8)
                shapely.prepare(poly)
                self._zone_polys[zone.id] = poly
        self._lock = threading.Lock()
        self._index: DistanceIndex | None = None
        self._side_raster: tuple[float, float, int, int, NDArray[np.int16]] | None = None
        self._band_cache: dict[str, Any] = {}
        self._tree: shapely.STRtree | None = None
        self._edge_tree: shapely.STRtree | None = None

    # ------------------------------------------------------------------ lookups

    @property
    def contact_line_length_m(self) -> float:
        """Length of the line of contact (local frame, ≈ geodesic)."""
        return float(self.contact_line_xy.length)

    def party_area(self, code: str) -> Any:
        """Lon/lat area a party controls inside the country."""
        return self.projection.to_wgs84(self.partition.areas[code])

    def distance_index(self) -> DistanceIndex:
        """The batch distance index, built on first use (a few seconds for a 1000 km line)."""
        with self._lock:
            if self._index is None:
                if len(self.segments) == 0:
                    raise ValueError("the agreement has no line of contact")
                region = shapely.buffer(self.country_xy, INDEX_MARGIN_M, quad_segs=2)
                self._index = DistanceIndex(self.segments, region, rel_tol=BATCH_REL_TOL)
            return self._index

    def _territory_of(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int16]:
        """Index into the territory list (len = none) for projected points."""
        label = np.full(len(x), len(self._territories), dtype=np.int16)
        todo = np.arange(len(x))
        raster = self._side_raster
        if raster is not None:
            gx0, gy0, nx, ny, grid = raster
            ix = np.floor((x - gx0) / _SIDE_PIXEL_M).astype(np.int64)
            iy = np.floor((y - gy0) / _SIDE_PIXEL_M).astype(np.int64)
            inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
            value = np.full(len(x), _MIXED, dtype=np.int16)
            value[inside] = grid[iy[inside], ix[inside]]
            pure = value != _MIXED
            label[pure] = value[pure]
            todo = np.flatnonzero(~pure)
        for t, (geom, _, _) in enumerate(self._territories):
            if len(todo) == 0:
                break
            hit = shapely.contains_xy(geom, x[todo], y[todo])
            label[todo[hit]] = t
            todo = todo[~hit]
        return label

    def _build_side_raster(self) -> None:
        """Label 2 km pixels that no territory boundary touches with their territory; the rest stay 'mixed'.

        A pixel is left mixed if any boundary sample (every ≤ half a pixel) falls in it or a neighbour, so a
        pure pixel never straddles a boundary and one lookup answers for every point in it.
        """
        minx, miny, maxx, maxy = shapely.bounds(shapely.buffer(self.country_xy, INDEX_MARGIN_M, quad_segs=2))
        nx = math.ceil((maxx - minx) / _SIDE_PIXEL_M)
        ny = math.ceil((maxy - miny) / _SIDE_PIXEL_M)
        grid = np.zeros((ny, nx), dtype=np.int16)
        boundaries = [shapely.segmentize(geom.boundary, _SIDE_PIXEL_M / 2.0) for geom, _, _ in self._territories]
        boundaries.append(shapely.segmentize(self.country_xy.boundary, _SIDE_PIXEL_M / 2.0))
        pts = np.vstack([shapely.get_coordinates(b) for b in boundaries])
        bx = np.floor((pts[:, 0] - minx) / _SIDE_PIXEL_M).astype(np.int64)
        by = np.floor((pts[:, 1] - miny) / _SIDE_PIXEL_M).astype(np.int64)
        mixed = np.zeros((ny + 2, nx + 2), dtype=bool)
        ok = (bx >= -1) & (bx <= nx) & (by >= -1) & (by <= ny)
        for ox in (0, 1, 2):
            for oy in (0, 1, 2):
                mixed[np.clip(by[ok] + oy, 0, ny + 1), np.clip(bx[ok] + ox, 0, nx + 1)] = True
        mixed = mixed[1:-1, 1:-1]
        iy, ix = np.nonzero(~mixed)
        cx = minx + (ix + 0.5) * _SIDE_PIXEL_M
        cy = miny + (iy + 0.5) * _SIDE_PIXEL_M
        labels = np.full(len(cx), len(self._territories), dtype=np.int16)
        todo = np.arange(len(cx))
        for t, (geom, _, _) in enumerate(self._territories):
            hit = shapely.contains_xy(geom, cx[todo], cy[todo])
            labels[todo[hit]] = t
            todo = todo[~hit]
        grid[:] = _MIXED
        grid[iy, ix] = labels
        self._side_raster = (minx, miny, nx, ny, grid)

    # ------------------------------------------------------------------ queries

    def classify(self, lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
        """(side, controller) indices into ``party_codes`` for lat/lon arrays; −1 where none."""
        x, y = self.projection.forward(np.ravel(lon), np.ravel(lat))
        return self._classify_xy(x, y)

    def _classify_xy(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
        if self._side_raster is None and len(x) > 5000:
            with self._lock:
                if self._side_raster is None:
                    self._build_side_raster()
        label = self._territory_of(x, y)
        return self._terr_side[label], self._terr_ctrl[label]

    def classify_xy(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
        """Like :meth:`classify` for points already in the local frame, so batch samplers skip the projection."""
        return self._classify_xy(np.ravel(np.asarray(x, dtype=np.float64)), np.ravel(np.asarray(y, dtype=np.float64)))

    def tangent_frames(self, lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Local-frame position and Jacobian d(x, y)/d(east, north) of the projection at each point.

        Returns ``(x, y, jac)`` with ``jac`` of shape (N, 2, 2). An offset of (e, n) metres on the ground maps to
        ``jac @ (e, n)`` in the local frame up to second order (≈ |offset|² × 1e-8 m⁻¹ in a country-sized
        frame: centimetres for kilometre offsets), which lets samplers draw millions of points without a
        geodesic per point. The Jacobian is a central difference over geodesic offsets of ±10 m, so it carries
        the grid convergence (grid north is not true north away from the centre) and the scale factors.
        """
        lat_a = np.ravel(np.asarray(lat, dtype=np.float64))
        lon_a = np.ravel(np.asarray(lon, dtype=np.float64))
        n = len(lat_a)
        h = 10.0
        azimuth = np.repeat(np.array([[90.0, 270.0, 0.0, 180.0]]), n, axis=0).ravel()
        lon_o, lat_o, _ = GEOD.fwd(np.repeat(lon_a, 4), np.repeat(lat_a, 4), azimuth, np.full(4 * n, h))
        px, py = self.projection.forward(lon_o, lat_o)
        px, py = px.reshape(n, 4), py.reshape(n, 4)
        jac = np.empty((n, 2, 2))
        jac[:, 0, 0] = (px[:, 0] - px[:, 1]) / (2 * h)
        jac[:, 1, 0] = (py[:, 0] - py[:, 1]) / (2 * h)
        jac[:, 0, 1] = (px[:, 2] - px[:, 3]) / (2 * h)
        jac[:, 1, 1] = (py[:, 2] - py[:, 3]) / (2 * h)
        x, y = self.projection.forward(lon_a, lat_a)
        return x, y, jac

    def locate_many(self, lat: ArrayLike, lon: ArrayLike, *, exact: bool = False) -> Located:
        """Locate arrays of points. ``exact`` uses GEOS and WGS84 geodesics (≈10 µs/point) instead of the index."""
        lat_a = np.ravel(np.asarray(lat, dtype=np.float64))
        lon_a = np.ravel(np.asarray(lon, dtype=np.float64))
        if lat_a.shape != lon_a.shape:
            raise ValueError("lat and lon must have the same length")
        if not (np.all(np.isfinite(lat_a)) and np.all(np.abs(lat_a) <= 90) and np.all(np.abs(lon_a) <= 180)):
            raise ValueError("lat must be within ±90 and lon within ±180, all finite")
        x, y = self.projection.forward(lon_a, lat_a)
        side, ctrl = self._classify_xy(x, y)
        if len(self.segments) == 0:
            dist = np.full(len(x), np.inf)
        elif exact or len(x) < 64:
            dist = self._geodesic_distance(lon_a, lat_a, x, y)
        else:
            dist = self.distance_index().distance(x, y)
        in_zone = np.zeros((len(x), len(self.zone_ids)), dtype=bool)
        for j, zone in enumerate(self.agreement.zones):
            in_zone[:, j] = self._zone_mask(zone, x, y, side, dist)
        return Located(self.party_codes, self.zone_ids, side, ctrl, dist, in_zone)

    def locate(self, lat: float, lon: float) -> dict[str, Any]:
        """One point → ``{"controlled_by", "distance_to_contact_line_m", "zones"}`` (geodesic distance)."""
        return self.locate_many([lat], [lon], exact=True).as_dict(0)

    def _geodesic_distance(self, lon: NDArray[np.float64], lat: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Nearest point in the local frame, then the WGS84 geodesic to it (error second-order in the frame's)."""
        tree_idx = self._exact_tree()
        seg_i = tree_idx.query_nearest(shapely.points(x, y), all_matches=False)
        order = np.argsort(seg_i[0], kind="stable")
        s = self.segments[seg_i[1][order]]
        d = s[:, 2:] - s[:, :2]
        l2 = np.einsum("ij,ij->i", d, d)
        t = np.clip(((x - s[:, 0]) * d[:, 0] + (y - s[:, 1]) * d[:, 1]) / np.where(l2 > 0, l2, 1.0), 0.0, 1.0)
        flon, flat = self.projection.inverse(s[:, 0] + t * d[:, 0], s[:, 1] + t * d[:, 1])
        return geodesic_distance(lon, lat, flon, flat)

    def distance_to_territory_edge(self, lat: float, lon: float) -> float:
        """Metres (local frame) from a point to the nearest edge of any territory: line, border or coast."""
        return float(self.distances_to_territory_edge([lat], [lon])[0])

    def distances_to_territory_edge(self, lat: ArrayLike, lon: ArrayLike) -> NDArray[np.float64]:
        """Vectorised :meth:`distance_to_territory_edge`: one STRtree query for the whole batch."""
        x, y = self.projection.forward(np.ravel(lon), np.ravel(lat))
        return self.distances_to_territory_edge_xy(x, y)

    def distances_to_territory_edge_xy(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Distance from local-frame points to the nearest territory edge; no edge lies closer, by construction."""
        with self._lock:
            if self._edge_tree is None:
                edges = [geom.boundary for geom, _, _ in self._territories] + [self.country_xy.boundary]
                segs = segments_of(shapely.union_all([shapely.force_2d(e) for e in edges]))
                self._edge_tree = shapely.STRtree(shapely.linestrings(segs.reshape(-1, 2, 2)))
            tree = self._edge_tree
        if len(x) == 0:
            return np.zeros(0)
        idx, dist = tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
        out = np.empty(len(x))
        out[idx[0]] = dist
        return out

    def _exact_tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(shapely.linestrings(self.segments.reshape(-1, 2, 2)))
        return self._tree

    def _zone_mask(self, zone: Zone, x: NDArray[np.float64], y: NDArray[np.float64], side: NDArray[np.int8], dist: NDArray[np.float64]) -> NDArray[np.bool_]:
        if zone.kind in (ZoneKind.SECURITY_STRIP, ZoneKind.WITHDRAWAL):
            assert zone.distance_m is not None
            allowed = [self.party_codes.index(c) for c in zone.sides] if zone.sides else list(range(len(self.party_codes)))
            inside: NDArray[np.bool_] = np.isin(side, allowed) & (dist <= zone.distance_m)
            return inside
        poly = self._zone_polys[zone.id]
        minx, miny, maxx, maxy = (float(v) for v in poly.bounds)
        mask: NDArray[np.bool_] = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
        idx = np.flatnonzero(mask)
        mask[idx] = shapely.contains_xy(poly, x[idx], y[idx])
        return mask

    # ------------------------------------------------------------------ export

    def zone_polygon_local(self, zone: Zone) -> Any:
        """Local-frame polygon of a zone (bands: buffer of the line inside the listed parties' areas)."""
        with self._lock:
            if zone.id not in self._band_cache:
                if zone.area is not None:
                    geom = self._zone_polys[zone.id]
                else:
                    assert zone.distance_m is not None
                    codes = zone.sides or self.party_codes
                    sides = shapely.union_all([self.partition.areas[c] for c in codes if c in self.partition.areas])
                    geom = band_polygon(self.contact_line_xy, zone.distance_m, sides)
                self._band_cache[zone.id] = geom
            return self._band_cache[zone.id]

    def zone_polygon(self, zone: Zone) -> Any:
        """Lon/lat polygon of a zone."""
        return self.projection.to_wgs84(self.zone_polygon_local(zone))

    def to_geojson(self, *, simplify_m: float = 0.0, precision: int = 6) -> dict[str, Any]:
        """FeatureCollection for ``GET /agreement``: the line of contact, party areas and zones, plus the terms.

        ``simplify_m`` thins geometry for display (0 keeps every vertex); the agreement's terms travel as the
        foreign member ``agreement`` (id, version, effective_from, digest, parties, zones, rules).
        """
        ag = self.agreement

        def out(geom_xy: Any) -> dict[str, Any]:
            geom = geom_xy if simplify_m <= 0 else shapely.simplify(geom_xy, simplify_m, preserve_topology=True)
            geom = shapely.set_precision(self.projection.to_wgs84(geom), 10.0**-precision, mode="pointwise")
            return shapely.geometry.mapping(geom)  # type: ignore[no-any-return]

        features: list[dict[str, Any]] = [
            {"type": "Feature", "id": "contact-line", "geometry": out(self.contact_line_xy),
             "properties": {"layer": "contact-line", "length_m": round(self.contact_line_length_m, 1),
                            "border_tolerance_m": ag.geometry.border_tolerance_m}},
        ]
        for code in self.party_codes:
            area = self.partition.areas.get(code)
            if area is None or area.is_empty:
                continue
            features.append({"type": "Feature", "id": f"party-{code}", "geometry": out(area),
                             "properties": {"layer": "party-area", "party": code, "name": ag.party(code).name,
                                            "area_km2": round(area.area / 1e6, 1)}})
        for zone in ag.zones:
            geom = self.zone_polygon_local(zone)
            props: dict[str, Any] = {"layer": "zone", "zone": zone.id, "kind": zone.kind.value, "description": zone.description}
            if zone.distance_m is not None:
                props["distance_m"] = zone.distance_m
                props["sides"] = list(zone.sides or self.party_codes)
            if zone.weapon_class:
                props["weapon_class"] = zone.weapon_class
            if zone.altitude is not None:
                props["altitude_m"] = [zone.altitude.min_m, zone.altitude.max_m]
            features.append({"type": "Feature", "id": f"zone-{zone.id}", "geometry": out(geom),
                             "properties": props})
        terms = ag.model_dump(mode="json", by_alias=True, exclude={"country", "parties", "exterior", "contact_line", "zones", "provenance"})
        terms["digest"] = ag.digest()
        terms["country"] = ag.country.name
        terms["parties"] = [{"code": p.code, "name": p.name} for p in ag.parties]
        terms["zones"] = [z.model_dump(mode="json", by_alias=True, exclude={"area"}) for z in ag.zones]
        terms["provenance"] = [s.model_dump(mode="json") for s in ag.provenance]
        return {"type": "FeatureCollection", "agreement": terms, "features": features}


_CACHE: OrderedDict[str, AgreementGeometry] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def geometry_for(agreement: Agreement) -> AgreementGeometry:
    """The (cached) geometry of an agreement version; keyed by digest so equal versions share it."""
    key = agreement.digest()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    geometry = AgreementGeometry(agreement)
    with _CACHE_LOCK:
        _CACHE[key] = geometry
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return geometry
