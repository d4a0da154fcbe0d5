"""Local east/north frame around a reference point, through PROJ's topocentric conversion.

Localization and association work in metres, not degrees. A topocentric frame is exact at its origin; the
horizontal plane departs from the surface by under 0.1 % of distance within 500 km, far below any sensor's
error, and local north turns by the meridian convergence, which :meth:`LocalFrame.north_angle` returns so that
bearings and covariance ellipses given relative to local north can be turned into the frame.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from pyproj.enums import TransformDirection

_EARTH_RADIUS_M = 6_371_008.8
_NORTH_STEP_DEG = 1e-4

Array = NDArray[np.float64]


class LocalFrame:
    """East/north metres relative to ``(lat0, lon0)`` on the WGS 84 ellipsoid (heights taken as zero)."""

    __slots__ = ("lat0", "lon0", "_transformer")

    def __init__(self, lat0: float, lon0: float) -> None:
        if not (math.isfinite(lat0) and -90.0 < lat0 < 90.0):
            raise ValueError(f"frame origin latitude must be in (-90, 90), got {lat0!r}")
        if not (math.isfinite(lon0) and -180.0 <= lon0 <= 180.0):
            raise ValueError(f"frame origin longitude must be in [-180, 180], got {lon0!r}")
        self.lat0 = float(lat0)
        self.lon0 = float(lon0)
        self._transformer = Transformer.from_pipeline(
            "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=cart +ellps=WGS84 "
            f"+step +proj=topocentric +ellps=WGS84 +lat_0={self.lat0!r} +lon_0={self.lon0!r} +h_0=0"
        )

    def to_enu(self, lat: ArrayLike, lon: ArrayLike) -> tuple[Array, Array]:
        """East and north metres of surface points (arrays in, arrays out; the up component is dropped)."""
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_a = np.asarray(lon, dtype=np.float64)
        e, n, _ = self._transformer.transform(lon_a, lat_a, np.zeros_like(lat_a))
        return np.asarray(e, dtype=np.float64), np.asarray(n, dtype=np.float64)

    def to_geodetic(self, east: ArrayLike, north: ArrayLike) -> tuple[Array, Array]:
        """Latitude and longitude of frame points, put back on the surface (inverse of :meth:`to_enu`)."""
        e = np.asarray(east, dtype=np.float64)
        n = np.asarray(north, dtype=np.float64)
        up = -(e * e + n * n) / (2.0 * _EARTH_RADIUS_M)  # the surface drops below the tangent plane
        inverse = TransformDirection.INVERSE
        lon, lat, _ = self._transformer.transform(e, n, up, direction=inverse)
        # One refinement: the ellipsoid's own drop at that point instead of the sphere's (mm within 500 km).
        _, _, up = self._transformer.transform(lon, lat, np.zeros_like(e))
        lon, lat, _ = self._transformer.transform(e, n, up, direction=inverse)
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)

    def north_angle(self, lat: ArrayLike, lon: ArrayLike) -> Array:
        """Angle (radians, counter-clockwise) from the frame's north axis to local north at each point.

        A local east/north vector ``v`` is ``R(angle) @ v`` in the frame; zero at the origin.
        """
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_a = np.asarray(lon, dtype=np.float64)
        e0, n0 = self.to_enu(lat_a, lon_a)
        e1, n1 = self.to_enu(np.minimum(lat_a + _NORTH_STEP_DEG, 89.9999), lon_a)
        return np.asarray(np.arctan2(-(e1 - e0), n1 - n0), dtype=np.float64)

    def __repr__(self) -> str:
        return f"LocalFrame(lat0={self.lat0}, lon0={self.lon0})"


def rotate_cov(cov: ArrayLike, angle_rad: float) -> Array:
    """Covariance ``R C Rᵀ`` for a counter-clockwise rotation by ``angle_rad`` (e.g. local → frame axes)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    rot = np.array([[c, -s], [s, c]])
    return np.asarray(rot @ np.asarray(cov, dtype=np.float64) @ rot.T, dtype=np.float64)
