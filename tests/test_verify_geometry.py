"""Geometry on the real ISW 2023-03-04 line: sides of named cities, distances against independent geodesics."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from truceline.domain.geo import GEOD
from truceline.verify.agreement_loader import load_demo_agreement
from truceline.verify.geometry import BATCH_REL_TOL, AgreementGeometry, geometry_for

# (lat, lon) of city centres
UA_SIDE = {"Kyiv": (50.4501, 30.5234), "Zaporizhzhia": (47.8388, 35.1396), "Kramatorsk": (48.7389, 37.5844), "Kherson": (46.6354, 32.6169)}
RU_SIDE = {"Donetsk": (48.0159, 37.8029), "Melitopol": (46.8489, 35.3675), "Luhansk": (48.5740, 39.3078), "Nova Kakhovka": (46.7546, 33.3487)}


@pytest.fixture(scope="module")
def geometry() -> AgreementGeometry:
    return geometry_for(load_demo_agreement())


@pytest.fixture(scope="module")
def dense_line_lonlat(geometry: AgreementGeometry) -> np.ndarray:
    """The contact line in lon/lat densified to ≤ 0.0005° (≈ 40–55 m) steps: the independent reference."""
    return shapely.get_coordinates(shapely.segmentize(geometry.contact_line, 0.0005))


def _reference_distance(dense: np.ndarray, lat: float, lon: float) -> float:
    """Least WGS84 geodesic (pyproj.Geod inverse) from the point to any vertex of the densified line."""
    n = len(dense)
    _, _, dist = GEOD.inv(np.full(n, lon), np.full(n, lat), dense[:, 0], dense[:, 1])
    return float(np.min(dist))


@pytest.mark.parametrize(("name", "party"), [(n, "UA") for n in UA_SIDE] + [(n, "RU") for n in RU_SIDE])
def test_cities_are_on_the_expected_side(geometry: AgreementGeometry, name: str, party: str) -> None:
    lat, lon = {**UA_SIDE, **RU_SIDE}[name]
    assert geometry.locate(lat, lon)["controlled_by"] == party


def test_batch_agrees_with_single_points_on_sides(geometry: AgreementGeometry) -> None:
    names = list(UA_SIDE) + list(RU_SIDE)
    coords = np.array([{**UA_SIDE, **RU_SIDE}[n] for n in names])
    located = geometry.locate_many(coords[:, 0], coords[:, 1])
    assert [located.controlled_by(i) for i in range(len(names))] == ["UA"] * 4 + ["RU"] * 4


def test_city_distances_agree_with_independent_geodesics(geometry: AgreementGeometry, dense_line_lonlat: np.ndarray) -> None:
    coords = {**UA_SIDE, **RU_SIDE}
    lats = np.array([c[0] for c in coords.values()])
    lons = np.array([c[1] for c in coords.values()])
    batch = geometry.distance_index().distance(*geometry.projection.forward(lons, lats))
    for i, (name, (lat, lon)) in enumerate(coords.items()):
        reference = _reference_distance(dense_line_lonlat, lat, lon)
        single = geometry.locate(lat, lon)["distance_to_contact_line_m"]
        assert single == pytest.approx(reference, rel=0.01), name
        assert batch[i] == pytest.approx(reference, rel=0.01), name
        assert single == pytest.approx(reference, rel=1e-3), f"{name}: the exact path is far better than 1%"
    # sanity of the scale: Kyiv is some 400 km from the front, Nova Kakhovka sits on the Dnipro next to it
    assert 350e3 < geometry.locate(*UA_SIDE["Kyiv"])["distance_to_contact_line_m"] < 500e3
    assert geometry.locate(*RU_SIDE["Nova Kakhovka"])["distance_to_contact_line_m"] < 5e3


def test_random_points_distances_agree_with_independent_geodesics(geometry: AgreementGeometry, dense_line_lonlat: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = geometry.country_xy.bounds
    x = rng.uniform(minx, maxx, 400)
    y = rng.uniform(miny, maxy, 400)
    inside = shapely.contains_xy(geometry.country_xy, x, y)
    lon, lat = geometry.projection.inverse(x[inside][:60], y[inside][:60])
    located = geometry.locate_many(lat, lon)
    for i in range(len(lat)):
        reference = _reference_distance(dense_line_lonlat, lat[i], lon[i])
        assert located.distance_m[i] == pytest.approx(reference, rel=0.01)


def test_batch_index_stays_within_its_bound_of_the_exact_distance(geometry: AgreementGeometry) -> None:
    index = geometry.distance_index()
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = geometry.country_xy.bounds
    x = rng.uniform(minx - 20e3, maxx + 20e3, 30_000)
    y = rng.uniform(miny - 20e3, maxy + 20e3, 30_000)
    # and points crowding the line, where the exact cells work
    seg = geometry.segments[rng.integers(0, len(geometry.segments), 10_000)]
    t = rng.uniform(0, 1, 10_000)
    x = np.concatenate([x, seg[:, 0] + t * (seg[:, 2] - seg[:, 0]) + rng.normal(0, 3_000, 10_000)])
    y = np.concatenate([y, seg[:, 1] + t * (seg[:, 3] - seg[:, 1]) + rng.normal(0, 3_000, 10_000)])
    fast = index.distance(x, y)
    exact = index.nearest_exact(x, y)[0]
    assert np.all(np.abs(fast - exact) <= BATCH_REL_TOL * exact + 1e-6)
    assert np.abs(fast - exact).max() > 0, "interpolated cells are in use (otherwise the test proves nothing)"


def test_zone_membership_follows_side_and_distance(geometry: AgreementGeometry) -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(45.5, 50.5, 5_000)
    lon = rng.uniform(31.0, 40.0, 5_000)
    located = geometry.locate_many(lat, lon)
    agreement = geometry.agreement
    for j, zone in enumerate(agreement.zones):
        if zone.distance_m is None:
            continue
        sides = [geometry.party_codes.index(c) for c in (zone.sides or geometry.party_codes)]
        expected = np.isin(located.side, sides) & (located.distance_m <= zone.distance_m)
        assert np.array_equal(located.in_zone[:, j], expected), zone.id
    strip = located.in_zone[:, list(located.zone_ids).index("security-strip")]
    assert 0 < strip.sum() < len(strip)


def test_outside_and_exterior_points(geometry: AgreementGeometry) -> None:
    belgorod = geometry.locate(50.5955, 36.5873)
    assert belgorod["controlled_by"] == "RU" and belgorod["zones"] == []
    sea = geometry.locate(44.0, 32.0)
    assert sea["controlled_by"] is None and sea["distance_to_contact_line_m"] > 200e3
    assert geometry.locate(44.9521, 34.1024)["controlled_by"] == "RU"  # Simferopol, Crimea


def test_partition_areas_and_line_length_are_plausible(geometry: AgreementGeometry) -> None:
    areas = {code: geometry.partition.areas[code].area / 1e6 for code in geometry.party_codes}
    assert areas["UA"] + areas["RU"] == pytest.approx(603_600, rel=0.01)  # Ukraine incl. Crimea: 603,550 km²
    assert 100_000 < areas["RU"] < 112_000
    assert 850e3 < geometry.contact_line_length_m < 1_000e3
    assert geometry.contact_line.geom_type == "MultiLineString" and len(geometry.contact_line.geoms) == 1


def test_geojson_export_carries_line_areas_zones_and_terms(geometry: AgreementGeometry) -> None:
    doc = geometry.to_geojson(simplify_m=200)
    assert doc["type"] == "FeatureCollection"
    ids = [f["id"] for f in doc["features"]]
    assert ids[0] == "contact-line" and "party-UA" in ids and "party-RU" in ids
    assert {f"zone-{z.id}" for z in geometry.agreement.zones} <= set(ids)
    line = doc["features"][0]["geometry"]
    assert line["type"] in ("LineString", "MultiLineString")
    assert doc["agreement"]["digest"] == geometry.agreement.digest()
    assert doc["agreement"]["effective_from"] == "2023-04-01T00:00:00Z"
    znpp = next(f for f in doc["features"] if f["id"] == "zone-no-fly-znpp")
    assert znpp["properties"]["altitude_m"] == [0.0, 10_000.0]
    assert shapely.geometry.shape(znpp["geometry"]).contains(shapely.Point(34.5857, 47.5119))


def test_tangent_frame_maps_ground_offsets_like_geodesics(geometry: AgreementGeometry) -> None:
    """Offsets through the Jacobian land where the projected geodesics end, up to a second-order ~1e-8 m⁻¹ × d²."""
    lat = np.array([46.6, 48.0, 49.9, 45.3])  # south, centre, north of the front; Crimea far from the frame centre
    lon = np.array([33.2, 37.8, 38.3, 34.0])
    x, y, jac = geometry.tangent_frames(lat, lon)
    x_ref, y_ref = geometry.projection.forward(lon, lat)
    assert np.allclose(x, x_ref) and np.allclose(y, y_ref)
    rotation = np.degrees(np.arctan2(jac[:, 0, 1], jac[:, 1, 1]))
    assert np.abs(rotation).max() > 0.5, "grid north differs from true north away from the centre (else the test is weak)"
    for azimuth in (0.0, 37.0, 90.0, 200.0):
        for dist in (500.0, 5_000.0):
            lon_e, lat_e, _ = GEOD.fwd(lon, lat, np.full(4, azimuth), np.full(4, dist))
            xe, ye = geometry.projection.forward(lon_e, lat_e)
            east_north = dist * np.array([np.sin(np.radians(azimuth)), np.cos(np.radians(azimuth))])
            predicted = np.column_stack([x, y]) + jac @ east_north
            miss = np.hypot(predicted[:, 0] - xe, predicted[:, 1] - ye)
            assert miss.max() < 1e-8 * dist**2 + 1e-3  # 3 mm at 500 m, 0.25 m at 5 km


def test_batched_edge_distances_equal_single_queries(geometry: AgreementGeometry) -> None:
    rng = np.random.default_rng(21)
    lat = rng.uniform(45.0, 50.5, 200)
    lon = rng.uniform(31.0, 40.0, 200)
    batch = geometry.distances_to_territory_edge(lat, lon)
    single = [geometry.distance_to_territory_edge(float(a), float(o)) for a, o in zip(lat, lon, strict=True)]
    assert batch.tolist() == single
    assert batch.min() < 5_000 < batch.max()
