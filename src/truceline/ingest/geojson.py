"""GeoJSON (RFC 7946) FeatureCollections of Point features whose properties are observation fields.

GeoJSON orders coordinates longitude first; getting that wrong moves an explosion to another continent,
so the mapping is done here once. ``properties.cep_m`` (or ``cov_m2``) carries the uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import UNSET, Meta, Struct, UnsetType

from truceline.domain.grading import Credibility, Reliability
from truceline.domain.observation import DEFAULT_CLOCK_SKEW, MAX_TIME_UNCERTAINTY_S, MAX_UNCERTAINTY_M, ObservationKind
from truceline.domain.observation_fast import Checked, PointIn, RecordIn, SourceIn, checked_parts, collector_paused
from truceline.ingest.records import FormatError, Record, Rejection, Validated
from truceline.ingest.validated_json import as_items, validated_items

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


class _Properties(Struct, forbid_unknown_fields=True, gc=False):
    time: str
    kind: ObservationKind
    source: SourceIn
    id: str | UnsetType = UNSET
    time_uncertainty_s: Annotated[float, Meta(ge=0.0, le=MAX_TIME_UNCERTAINTY_S)] | UnsetType = UNSET
    reliability: Reliability | UnsetType = UNSET
    credibility: Credibility | UnsetType = UNSET
    releasable_to: Annotated[list[str], Meta(max_length=64)] | UnsetType = UNSET
    attributes: Annotated[dict[str, Any], Meta(max_length=64)] | UnsetType = UNSET
    evidence_hash: str | UnsetType = UNSET
    cep_m: Annotated[float, Meta(gt=0.0, le=MAX_UNCERTAINTY_M)] | UnsetType = UNSET
    cov_m2: list[list[float]] | UnsetType = UNSET
    alt_m: Annotated[float, Meta(ge=-500.0, le=100_000.0)] | UnsetType = UNSET


class _Point(Struct, gc=False):  # other members (bbox, crs) are ignored, as _feature_record ignores them
    type: Literal["Point"]
    coordinates: list[float]


class _Feature(Struct, gc=False):  # in a collection: "type" must be there and be "Feature"
    type: Literal["Feature"]
    geometry: _Point
    properties: _Properties
    id: str | int | None | UnsetType = UNSET


class _SingleFeature(Struct, gc=False, tag_field="type", tag="Feature"):  # a whole document (tag required in a union)
    geometry: _Point
    properties: _Properties
    id: str | int | None | UnsetType = UNSET


class _Collection(Struct, gc=False, tag_field="type", tag="FeatureCollection"):
    features: list[_Feature]


_decode_document = msgspec.json.Decoder(_Collection | _SingleFeature).decode
_isfinite = math.isfinite


def _record_of(feature: _Feature | _SingleFeature) -> RecordIn | None:
    """What :func:`_feature_record` makes of a feature, as a record for :func:`checked_parts`; None if a
    value is out of the ranges the record's schema declares (then the document goes the ordinary way)."""
    coords = feature.geometry.coordinates
    if len(coords) not in (2, 3):
        return None
    lon, lat = coords[0], coords[1]
    if not (_isfinite(lat) and _isfinite(lon) and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    p = feature.properties
    alt = p.alt_m
    if alt is UNSET and len(coords) == 3:
        alt = coords[2]
        if not (_isfinite(alt) and -500.0 <= alt <= 100_000.0):
            return None
    oid = p.id
    if oid is UNSET and feature.id is not UNSET and feature.id is not None:
        oid = str(feature.id)
    location = PointIn(lat=lat, lon=lon, type="point", cep_m=p.cep_m, cov_m2=p.cov_m2, alt_m=alt)
    return RecordIn(
        time=p.time, kind=p.kind, location=location, source=p.source, id=oid, time_uncertainty_s=p.time_uncertainty_s,
        reliability=p.reliability, credibility=p.credibility, releasable_to=p.releasable_to, attributes=p.attributes,
        evidence_hash=p.evidence_hash,
    )  # fmt: skip


def _features(data: bytes) -> list[_Feature] | list[_SingleFeature] | None:
    try:
        doc = _decode_document(data)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        # msgspec raises RecursionError on nesting past its depth limit (a "type": [[[[...]]]]); the ordinary
        # way's orjson refuses such nesting as malformed JSON with its line and column (a FormatError).
        return None
    return doc.features if isinstance(doc, _Collection) else [doc]


def _checked_features(data: bytes) -> list[Checked] | None:
    """Every feature of a document decoded and checked in one pass when all are plainly valid, else None."""
    with collector_paused():
        features = _features(data)
        if features is None:
            return None
        out: list[Checked] = []
        for feature in features:
            record = _record_of(feature)
            checked = checked_parts(record) if record is not None else None
            if checked is None:
                return None
            out.append(checked)
        return out


def _validated_features(data: bytes, latest: datetime) -> list[Record | Validated] | None:
    """:func:`_checked_features` as file ingest takes them (:func:`~truceline.ingest.validated_json.validated_items`)."""
    with collector_paused():
        features = _features(data)
        if features is None:
            return None
        items = validated_items("feature", map(_record_of, features), latest)
        del features  # freed while paused: the collector's next pass would walk its lists for nothing
        return items


def decode_geojson(data: bytes, validate_at: datetime | None = None) -> Iterator[Record | Rejection | Validated]:
    """Records of a FeatureCollection (or a single Feature).

    A document whose every feature is plainly valid is decoded and checked in one pass by msgspec (the
    same mapping as below, see :mod:`truceline.domain.observation_fast`); any other is read by orjson.
    With ``validate_at`` (file ingest: a time no later than validation's ``now``), such a document's
    features come out as :class:`Validated`, ready for the store (:mod:`truceline.ingest.validated_json`).
    """
    if validate_at is not None:
        validated = _validated_features(data, validate_at + DEFAULT_CLOCK_SKEW)
        if validated is not None:
            yield from validated
            return
    checked = _checked_features(data) if validate_at is None else None  # (the same checks said no just now)
    if checked is not None:
        yield from as_items("feature", checked)
        return
    try:
        with collector_paused():
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
