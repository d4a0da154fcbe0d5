"""Fusion sectors: which cell owns a point, which sectors' halos see an observation, names that round-trip."""

from __future__ import annotations

import json

import pytest

from truceline.cluster.sectors import Sector, SectorGrid
from truceline.domain.documents import parse_documents
from truceline.domain.observation import Observation


def _point(lat: float, lon: float) -> Observation:
    doc = {"id": "o1", "time": "2023-04-02T03:15:00Z", "kind": "explosion", "location": {"lat": lat, "lon": lon, "cep_m": 150},
           "source": {"id": "s", "type": "acoustic", "org": "UA"}, "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"]}
    return parse_documents([json.dumps(doc)])[0]


def _bearing(lat: float, lon: float) -> Observation:
    doc = {"id": "b1", "time": "2023-04-02T03:15:00Z", "kind": "explosion",
           "location": {"sensor_lat": lat, "sensor_lon": lon, "bearing_deg": 90, "bearing_sd_deg": 2},
           "source": {"id": "s", "type": "acoustic", "org": "UA"}, "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"]}
    return parse_documents([json.dumps(doc)])[0]


def test_owner_is_the_cell_of_the_point() -> None:
    grid = SectorGrid(1.0)
    assert grid.sector_of(48.5, 37.5) == Sector(1.0, 138, 217)
    assert grid.sector_of(48.0, 37.0) == Sector(1.0, 138, 217)  # lower/left edges belong to the cell
    assert grid.sector_of(90.0, 180.0) == Sector(1.0, 179, 359)  # the top row and last column are closed
    assert grid.sector_of(-90.0, -180.0) == Sector(1.0, 0, 0)
    core = Sector(1.0, 138, 217).core
    assert (core.min_lat, core.max_lat, core.min_lon, core.max_lon) == (48.0, 49.0, 37.0, 38.0)
    assert grid.owner(_point(48.5, 37.5)) == Sector(1.0, 138, 217)
    assert grid.owner(_bearing(48.5, 37.99)) == Sector(1.0, 138, 217)  # a bearing belongs where its sensor is


def test_names_round_trip_and_bad_names_are_refused() -> None:
    grid = SectorGrid(0.5)
    sector = grid.sector_of(48.2, 37.7)
    assert grid.parse(sector.name) == sector
    for bad in ("x", "0.5d/a/b", "1d/1/1", "0.5d/999/1"):
        with pytest.raises(ValueError):
            grid.parse(bad)
    for deg in (0, 0.7, -1, float("nan")):
        with pytest.raises(ValueError, match="divide 180"):
            SectorGrid(deg)


def test_halo_reaches_the_neighbours_within_its_distance() -> None:
    grid = SectorGrid(1.0, halo_km=30.0)
    home = grid.sector_of(48.5, 37.5)
    assert grid.halo_sectors(_point(48.5, 37.5)) == {home}  # 30 km: ±0.27° lat, ±0.41° lon
    assert len(SectorGrid(1.0, halo_km=50.0).halo_sectors(_point(48.5, 37.5))) == 3  # ±0.68° lon: east and west
    near_east = grid.halo_sectors(_point(48.5, 37.9))  # ~7 km from the eastern edge
    assert near_east == {home, Sector(1.0, 138, 218)}
    corner = grid.halo_sectors(_point(48.02, 37.02))  # near the south-west corner: four cells
    assert corner == {home, Sector(1.0, 137, 216), Sector(1.0, 137, 217), Sector(1.0, 138, 216)}
    # a bearing reaches further: its line runs bearing_range_km from the sensor
    assert len(grid.halo_sectors(_bearing(48.5, 37.5))) > 1


def test_halo_wraps_the_antimeridian_and_covers_the_pole() -> None:
    grid = SectorGrid(1.0, halo_km=50.0)
    seen = grid.halo_sectors(_point(10.5, 179.9))
    assert Sector(1.0, 100, 0) in seen and Sector(1.0, 100, 359) in seen
    assert len(grid.halo_sectors(_point(89.9, 0.0))) >= 360  # every column near the pole


def test_every_point_is_seen_by_its_owner() -> None:
    grid = SectorGrid(1.0, halo_km=0.0)
    for lat, lon in ((48.999, 37.999), (0.0, 0.0), (-33.5, -70.5), (89.5, 179.5)):
        obs = _point(lat, lon)
        assert grid.owner(obs) in grid.halo_sectors(obs)


def test_a_sector_forgets_founders_older_than_its_horizon() -> None:
    """Ownership memory stays bounded in a long run: founders older than the horizon are dropped."""
    from datetime import UTC, datetime, timedelta

    from truceline.cluster.fusion_worker import SectorScope, founder_digest
    from truceline.cluster.lease import Fence

    grid = SectorGrid(1.0)
    start = datetime(2023, 4, 2, tzinfo=UTC)
    docs = []
    for i in range(12_000):
        doc = {"id": f"o{i}", "time": (start + timedelta(seconds=10 * i)).isoformat().replace("+00:00", "Z"), "kind": "explosion",
               "location": {"lat": 48.5, "lon": 37.5, "cep_m": 150}, "source": {"id": "s", "type": "acoustic", "org": "UA"},
               "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"]}
        docs.append(json.dumps(doc))
    observations = parse_documents(docs)
    sector = grid.sector_of(48.5, 37.5)
    scope = SectorScope(None, None, grid, sector, Fence("fusion:x", "w", 1), "inc-", forget_after_s=3600.0)  # type: ignore[arg-type]
    mine = scope._mine([(i, obs, frozenset({sector})) for i, obs in enumerate(observations)])
    assert len(mine) == 12_000
    assert len(scope._founders) <= 361  # the last hour at one observation per 10 s, plus the newest
    newest, oldest = observations[-1], observations[0]
    assert scope.keeps("inc-" + founder_digest(newest))
    assert not scope.keeps("inc-" + founder_digest(oldest))  # forgotten: no longer decides anything


@pytest.mark.parametrize("deg", [0.25, 1.0, 5.0])
def test_a_sectors_point_reach_holds_every_point_whose_halo_reaches_it(deg: float) -> None:
    """The box a recovering sector reads from the store must miss no point its halo holds: at the equator,
    in mid latitudes, near the poles and across the antimeridian (points on and beside cell edges)."""
    import random

    from truceline.store.ports import BBox

    grid = SectorGrid(deg)
    rng = random.Random(7)

    def inside(box: BBox, lat: float, lon: float) -> bool:
        return box.min_lat <= lat <= box.max_lat and any(lo <= lon <= hi for lo, hi in box.lon_ranges())

    centres = [(0.0, 0.0), (48.3, 37.9), (-33.9, 151.2), (0.5, 179.9), (10.0, -179.9), (88.7, 20.0), (-89.5, -70.0)]
    checked = 0
    for lat0, lon0 in centres:
        for _ in range(40 if abs(lat0) > 80 else 400):  # near a pole a halo holds every column: fewer points
            lat = max(-90.0, min(90.0, lat0 + rng.uniform(-3, 3)))
            lon = (lon0 + rng.uniform(-3, 3) + 180.0) % 360.0 - 180.0
            if rng.random() < 0.3:  # exactly on a cell edge
                lat = max(-90.0, min(90.0, round(lat / deg) * deg))
            for sector in grid.halo_sectors(_point(lat, lon)):
                assert inside(grid.point_reach(sector), lat, lon), (sector, lat, lon)
                checked += 1
    assert checked > 2000
    mid = grid.point_reach(grid.sector_of(48.3, 37.9))  # and it is a box around the cell, not the world
    assert mid.max_lat - mid.min_lat < deg + 1.0 and mid.min_lon < mid.max_lon and mid.max_lon - mid.min_lon < deg + 2.0
