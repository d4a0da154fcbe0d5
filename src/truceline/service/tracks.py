"""Track views shared by the API, the page and the report: GeoJSON features and track detail.

The ``/tracks`` contract (DESIGN): one Feature per track, its geometry the latest position, properties
``id``, ``kind``, ``icao24`` (lower-case hex) or ``mmsi`` (int), ``callsign``/``name``, ``state`` (ISO 3166
alpha-2), ``last_time``, ``positions``; ``/tracks/{id}`` adds ``points``. Broadcast identities are what the
transponder says: ``state_basis`` names where the state comes from.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from truceline.store.ports import BBox
from truceline.store.tracks import TrackSummary, get_track, list_tracks, track_points
from truceline.track.identity import identity

MAX_TRACK_POINTS = 100_000
_ICAO = re.compile(r"^[0-9a-fA-F]{6}$")
_MMSI = re.compile(r"^[0-9]{9}$")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def normalise_track_id(text: str) -> str | None:
    """``vessel:<mmsi>`` / ``aircraft:<icao24>``, also from a bare MMSI or ICAO address; None if neither."""
    kind, sep, ident = text.partition(":")
    if not sep:
        kind, ident = ("vessel", text) if _MMSI.match(text) else ("aircraft", text)
    if kind == "vessel" and _MMSI.match(ident):
        return f"vessel:{ident}"
    if kind == "aircraft" and _ICAO.match(ident):
        return f"aircraft:{ident.lower()}"
    return None


def track_properties(t: TrackSummary) -> dict[str, Any]:
    """The properties of a track's Feature."""
    props: dict[str, Any] = {"id": t.track_id, "kind": t.kind}
    if t.kind == "aircraft":
        props["icao24"] = t.ident
        props["callsign"] = t.callsign
        if "squawk" in t.info:
            props["squawk"] = t.info["squawk"]
        if "on_ground" in t.info:
            props["on_ground"] = t.info["on_ground"]
    else:
        props["mmsi"] = int(t.ident)
        props["name"] = t.callsign
        props["callsign"] = t.info.get("callsign")
        for key in ("imo", "ship_type", "destination", "class"):
            if key in t.info:
                props[key] = t.info[key]
    props.update(identity(t.kind, t.ident))
    if "station" in t.info and t.kind == "vessel":
        props["station"] = t.info["station"]
    props.update(
        first_time=_iso(t.first_time), last_time=_iso(t.last_time), position_time=_iso(t.position_time),
        messages=t.messages, positions=t.positions,
    )
    if t.alt_m is not None:
        props["alt_m"] = t.alt_m
    if t.speed_mps is not None:
        props["speed_mps"] = round(t.speed_mps, 3)
    if t.course_deg is not None:
        props["course_deg"] = t.course_deg
    return props


def track_feature(t: TrackSummary) -> dict[str, Any]:
    """One GeoJSON Feature: geometry the latest position (null when the track never gave one)."""
    geometry = {"type": "Point", "coordinates": [t.lon, t.lat]} if t.lat is not None and t.lon is not None else None
    return {"type": "Feature", "id": t.track_id, "geometry": geometry, "properties": track_properties(t)}


def tracks_collection(store: Any, *, kind: str | None = None, since: datetime | None = None, bbox: BBox | None = None,
                      limit: int = 1000) -> dict[str, Any]:
    """``GET /tracks`` as a GeoJSON FeatureCollection."""
    tracks = list_tracks(store, kind=kind, since=since, bbox=bbox, limit=limit)
    return {"type": "FeatureCollection", "features": [track_feature(t) for t in tracks]}


def track_detail(store: Any, track_id: str, *, since: datetime | None = None, until: datetime | None = None,
                 limit: int = MAX_TRACK_POINTS) -> dict[str, Any] | None:
    """``GET /tracks/{id}``: the Feature plus ``points`` (time, lat, lon, and altitude/speed/course when known)."""
    t = get_track(store, track_id)
    if t is None:
        return None
    feature = track_feature(t)
    points = []
    for p in track_points(store, track_id, since=since, until=until, positions_only=True, limit=limit):
        point: dict[str, Any] = {"time": _iso(p.time), "lat": p.lat, "lon": p.lon}
        if p.alt_m is not None:
            point["alt_m"] = p.alt_m
            point["alt_ref"] = p.alt_ref
        if p.speed_mps is not None:
            point["speed_mps"] = round(p.speed_mps, 3)
        if p.course_deg is not None:
            point["course_deg"] = p.course_deg
        points.append(point)
    feature["properties"]["points"] = points
    return feature


def track_violation_features(store: Any, agreement_digest: str, *, since: datetime | None = None,
                             until: datetime | None = None, bbox: BBox | None = None, party: str | None = None,
                             rule: str | None = None) -> list[dict[str, Any]]:
    """Violations found on tracks under this agreement version, as ``GET /violations`` Features."""
    from truceline.store.tracks import list_findings

    features = []
    for finding in list_findings(store, category="violation", agreement_digest=agreement_digest, since=since,
                                 until=until, bbox=bbox, party=party, rule=rule):
        v = finding["violation"]
        props = {k: val for k, val in v.items() if k not in ("lat", "lon")}
        props["track"] = finding["track"]
        props["review"] = {"status": "pending", "note": "found on a track; not fused or reviewed"}
        features.append({"type": "Feature", "id": v["id"], "geometry": {"type": "Point", "coordinates": [v["lon"], v["lat"]]},
                         "properties": props})
    return features
