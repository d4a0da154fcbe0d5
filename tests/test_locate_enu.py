"""Local east/north frame: round trips, distances against geodesics, meridian convergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from truceline.locate import LocalFrame

GEOD = Geod(ellps="WGS84")


def test_origin_maps_to_zero_and_back() -> None:
    frame = LocalFrame(48.0, 37.8)
    e, n = frame.to_enu(48.0, 37.8)
    assert abs(float(e)) < 1e-6 and abs(float(n)) < 1e-6
    lat, lon = frame.to_geodetic(e, n)
    assert float(lat) == pytest.approx(48.0, abs=1e-9) and float(lon) == pytest.approx(37.8, abs=1e-9)


def test_round_trip_is_centimetre_exact_within_300_km() -> None:
    frame = LocalFrame(48.0, 37.8)
    rng = np.random.default_rng(1)
    e = rng.uniform(-300_000, 300_000, 200)
    n = rng.uniform(-300_000, 300_000, 200)
    lat, lon = frame.to_geodetic(e, n)
    e2, n2 = frame.to_enu(lat, lon)
    assert np.max(np.hypot(e2 - e, n2 - n)) < 0.05


def test_distances_agree_with_geodesics_to_a_thousandth() -> None:
    frame = LocalFrame(48.0, 37.8)
    lat = np.array([48.2, 47.5, 48.9])
    lon = np.array([38.1, 36.0, 40.5])
    e, n = frame.to_enu(lat, lon)
    _, _, dist = GEOD.inv(np.full(3, 37.8), np.full(3, 48.0), lon, lat)
    np.testing.assert_allclose(np.hypot(e, n), dist, rtol=1e-3)


def test_local_north_turns_with_longitude() -> None:
    frame = LocalFrame(48.0, 37.8)
    angle = frame.north_angle([48.0, 48.0, 48.0], [37.8, 39.8, 35.8])
    expected = math.radians(2.0) * math.sin(math.radians(48.0))
    assert angle[0] == pytest.approx(0.0, abs=1e-6)
    assert angle[1] == pytest.approx(expected, rel=0.02)  # east of the origin, north turns counter-clockwise
    assert angle[2] == pytest.approx(-expected, rel=0.02)


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 0.0), (float("nan"), 0.0), (0.0, 181.0)])
def test_bad_origin_is_refused(lat: float, lon: float) -> None:
    with pytest.raises(ValueError, match="frame origin"):
        LocalFrame(lat, lon)
