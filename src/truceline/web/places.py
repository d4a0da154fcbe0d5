"""The bundled places layer of the page's offline basemap, derived from the project's gazetteer.

Why from the gazetteer: the same names and points the geoparser uses, so a place an analyst reads on the
map is the place a text report was located at. Generated once by ``scripts/vendor_web.py`` and kept as a
static file (loading the whole gazetteer in a request would cost about a second).
"""

from __future__ import annotations

from typing import Any

from truceline.text.gazetteer import Gazetteer, Place, default_gazetteer, distance_km

#: Ukrainian settlements of at least this many people are drawn.
MIN_POPULATION_UA = 50_000
#: Larger cities of the neighbours give orientation at the map's edges.
MIN_POPULATION_ABROAD = 500_000
#: A place this close to a more populous one is taken for a district of it.
MIN_SEPARATION_KM = 12.0
#: Area the page shows (min_lon, min_lat, max_lon, max_lat): Ukraine and its surroundings.
EXTENT = (20.0, 43.0, 45.0, 56.0)


def places_geojson(gazetteer: Gazetteer | None = None) -> dict[str, Any]:
    """Major places as a GeoJSON FeatureCollection, most populous first (labels are drawn in that order)."""
    gaz = gazetteer or default_gazetteer()
    regions = {key: area.name for key, area in gaz.regions.items()}
    min_lon, min_lat, max_lon, max_lat = EXTENT
    chosen = []
    for place in gaz.places:
        if place.lat is None or place.lon is None or place.codifier_only:
            continue
        if not (min_lat <= place.lat <= max_lat and min_lon <= place.lon <= max_lon):
            continue
        threshold = MIN_POPULATION_UA if place.country == "UA" else MIN_POPULATION_ABROAD
        if place.population >= threshold:
            chosen.append(place)
    chosen.sort(key=lambda p: (-p.population, p.name))
    # GeoNames lists city districts (Saltivka, Obolon, …) as places of their own; Ukraine's codifier does
    # not, so a Ukrainian place it lacks is dropped, unless it is its oblast's largest (the codifier link
    # of a few big cities is missing in the gazetteer).
    largest: dict[str, int] = {}
    for place in chosen:
        largest.setdefault(place.region_key, place.index)
    chosen = [p for p in chosen if p.country != "UA" or p.uk_name is not None or largest[p.region_key] == p.index]
    # A district placed apart from its city's point but within a few km of it: keep only the city.
    kept: list[Place] = []
    for place in chosen:
        if all(distance_km(place.lat, place.lon, k.lat, k.lon) >= MIN_SEPARATION_KM for k in kept):  # type: ignore[arg-type]
            kept.append(place)
    chosen = kept
    largest_of_region: set[str] = set()
    features = []
    for place in chosen:
        assert place.lat is not None and place.lon is not None  # only placed ones were chosen
        region = place.region_key
        first_in_region = place.country == "UA" and region not in largest_of_region
        largest_of_region.add(region)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(place.lon, 5), round(place.lat, 5)]},
                "properties": {
                    "name": place.name,
                    "name_uk": place.uk_name,
                    "country": place.country,
                    "region": regions.get(region, region),
                    "population": place.population,
                    "largest_in_region": first_in_region,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "attribution": "GeoNames (CC BY 4.0) via truceline's gazetteer",
        "features": features,
    }
