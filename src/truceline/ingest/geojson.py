"""GeoJSON (RFC 7946) FeatureCollections of Point features whose properties are observation fields.

GeoJSON orders coordinates longitude first; getting that wrong moves an explosion to another continent,
so the mapping is done here once. ``properties.cep_m`` (or ``cov_m2``) carries the uncertainty.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from truceline.ingest.records import FormatError, Record, Rejection

_LOCATION_KEYS = ("cep_m", "cov_m2", "alt_m")


def _feature_record(where: str, feature: Any) -> Record | Rejection:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return Rejection(where, "type", "expected a GeoJSON Feature object")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        return Rejection(where, "geometry.type", f"an observation needs a Point geometry, got {kind}")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3) or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords):
        return Rejection(where, "geometry.coordinates", "expected [longitude, latitude] or [longitude, latitude, altitude]")
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        return Rejection(where, "properties", "expected an object with the observation's fields")
    record = {k: v for k, v in properties.items() if k not in _LOCATION_KEYS}
    location: dict[str, Any] = {"type": "point", "lon": coords[0], "lat": coords[1]}
    if len(coords) == 3:
        location["alt_m"] = coords[2]
    for key in _LOCATION_KEYS:
        if key in properties:
            location[key] = properties[key]
    record["location"] = location
    if "id" not in record and feature.get("id") is not None:
        record["id"] = str(feature["id"])
    return Record(where, record)


def decode_geojson(data: bytes) -> Iterator[Record | Rejection]:
    """Records of a FeatureCollection (or a single Feature)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON at line {exc.lineno} column {exc.colno} (byte {exc.pos}): {exc.msg}") from exc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        yield _feature_record("feature 1", doc)
        return
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise FormatError("expected a GeoJSON FeatureCollection with a 'features' array")
    for i, feature in enumerate(doc["features"], start=1):
        yield _feature_record(f"feature {i}", feature)
