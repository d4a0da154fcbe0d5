"""Country and first-level area (oblast) of a point, for the ACLED export's ``country`` and ``admin1``.

ACLED rows name both; an analyst who sets truceline's export beside ACLED's data filters on them first.
The country comes from the bundled Natural Earth outlines (Ukraine within its internationally recognised
borders, Crimea included; Russia near the border, lon 30–42.5° E, lat 43–54.5° N): a point in neither is
left without a country rather than guessed. The oblast is that of the nearest settlement the bundled
gazetteer knows in the same country (GeoNames ``admin1``, named as in :mod:`truceline.text.regions`); no
oblast outlines are bundled, so within a few kilometres of an oblast border it can name the neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import orjson
import shapely
from scipy.spatial import cKDTree

from truceline.text.gazetteer import default_gazetteer
from truceline.verify.agreement_loader import DEMO_AGREEMENT

_OUTLINES = (
    ("UA", "Ukraine", "ukraine-natural-earth-10m.geojson"),
    ("RU", "Russia", "russia-near-border-natural-earth-10m.geojson"),
)
#: No settlement within this distance: the point is not near any place the gazetteer knows; no oblast named.
MAX_SETTLEMENT_KM = 60.0
_EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class AcledPlace:
    """What the export says about where a point is: ACLED's ``country`` and ``admin1`` (empty = unknown)."""

    country: str
    admin1: str


@dataclass(frozen=True)
class _Index:
    countries: tuple[tuple[str, str, shapely.Geometry], ...]
    trees: dict[str, cKDTree]
    regions: dict[str, list[str]]  # country code → region name of each tree point


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return _EARTH_RADIUS_KM * np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


@lru_cache(maxsize=1)
def _index() -> _Index:
    folder = resources.files("truceline").joinpath("data", "agreements", DEMO_AGREEMENT)
    countries = []
    for code, name, file in _OUTLINES:
        doc = orjson.loads(folder.joinpath(file).read_bytes())
        geometry = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in doc["features"]])
        shapely.prepare(geometry)
        countries.append((code, name, geometry))
    gazetteer = default_gazetteer()
    trees, regions = {}, {}
    for code, _, _ in _OUTLINES:
        places = [
            p for p in gazetteer.places
            if p.country == code and p.precision == 1 and p.lat is not None and p.lon is not None and p.region_key in gazetteer.regions
        ]
        trees[code] = cKDTree(_unit(np.array([p.lat for p in places]), np.array([p.lon for p in places])))
        regions[code] = [gazetteer.regions[p.region_key].name for p in places]
    return _Index(tuple(countries), trees, regions)


def acled_place(lat: float, lon: float) -> AcledPlace:
    """Country and oblast of a point, each empty when the bundled data cannot say."""
    index = _index()
    point = shapely.Point(lon, lat)
    for code, name, geometry in index.countries:
        if geometry.covers(point):
            distance, i = index.trees[code].query(_unit(np.array([lat]), np.array([lon]))[0])
            admin1 = index.regions[code][int(i)] if distance <= MAX_SETTLEMENT_KM else ""
            return AcledPlace(name, admin1)
    return AcledPlace("", "")


__all__ = ["MAX_SETTLEMENT_KM", "AcledPlace", "acled_place"]
