"""OGC SensorThings API (1.0/1.1) JSON: Observations, and Datastreams or Things with expanded Observations.

SensorThings describes measurements, not events, and has no notion of an owning organisation, so the
mapping is explicit and refuses what it cannot state honestly (docs/formats.md has the full table):

* **where**: the Observation's ``FeatureOfInterest`` if it has one, else the Thing of its Datastream
  (first GeoJSON Point of ``Thing.Locations``), else the Datastream's ``observedArea``. The most specific
  one given must be a Point: an area is not replaced by the sensor's position. None: refused (``location``).
* **when**: ``phenomenonTime``; an interval ``start/end`` becomes its midpoint with half its width as time
  uncertainty. ``resultTime`` is kept as an attribute.
* **what**: ``parameters.kind`` of the Observation, else a ``result`` string that names a kind (a
  classifier's output), else the ObservedProperty's name or definition through :data:`PROPERTY_KINDS`.
  A measurement that is no event (air temperature) is refused (``kind``).
* **who**: ``properties.org`` of the Datastream, Thing or Sensor, else the operator's ``--org`` (refused if neither); the source type from
  ``properties.source_type`` or keywords of the Sensor's name and description (:data:`SENSOR_KEYWORDS`).
  Reliability, credibility and releasability come from ``properties`` if given, else the model's defaults.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from truceline.domain.observation import DEFAULT_CLOCK_SKEW, ObservationKind, SourceType
from truceline.domain.observation_fast import RecordIn, collector_paused
from truceline.domain.validated import ValidatedObservation
from truceline.ingest.records import FormatError, Record, Rejection, Validated
from truceline.ingest.validated_json import validated_or_checked

#: ObservedProperty names (normalised: lower case, ``_``/``-`` as spaces) that denote an event kind.
PROPERTY_KINDS: dict[str, str] = {
    **{kind.value.replace("-", " "): kind.value for kind in ObservationKind},
    "detonation": "explosion",
    "blast": "explosion",
    "explosion event": "explosion",
    "shell impact": "impact",
    "artillery impact": "impact",
    "rocket launch": "launch",
    "missile launch": "launch",
    "gunfire": "small-arms-fire",
    "active fire": "thermal",
    "thermal anomaly": "thermal",
    "hotspot": "thermal",
    "fire radiative power": "thermal",
    "aircraft": "flight",
    "drone flight": "flight",
}
#: Keywords in a Sensor's name or description and the source type they imply, tried in this order.
SENSOR_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("infrasound", "acoustic"),
    ("acoustic", "acoustic"),
    ("microphone", "acoustic"),
    ("seismo", "seismic"),
    ("seismic", "seismic"),
    ("geophone", "seismic"),
    ("radar", "radar"),
    ("drone", "uav"),
    ("uav", "uav"),
    ("uas", "uav"),
    ("satellite", "satellite"),
    ("viirs", "satellite"),
    ("modis", "satellite"),
    ("sentinel", "satellite"),
)
_SOURCE_TYPES = frozenset(t.value for t in SourceType)
_KINDS = frozenset(k.value for k in ObservationKind)
_WORD = re.compile(r"[a-z0-9]+")
_SLUG = re.compile(r"[^A-Za-z0-9._:@/+-]+")


class _Refused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def load_json(data: bytes) -> Any:
    """Parse JSON (orjson: NaN refused, nesting deeper than 1024 refused) or raise :class:`FormatError`."""
    try:
        with collector_paused():  # a whole document of small objects: no cycles, nothing to collect (docs/performance.md)
            return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON at line {exc.lineno} column {exc.colno} (byte {exc.pos}): {exc.msg}") from exc


def looks_like_sensorthings(doc: Any) -> bool:
    """True for a document with SensorThings entities (``phenomenonTime``, ``Observations``, ``@iot.*``)."""
    probe = doc
    if isinstance(doc, dict) and isinstance(doc.get("value"), list) and doc["value"]:
        probe = doc["value"][0]
    if not isinstance(probe, dict):
        return False
    return "phenomenonTime" in probe or "Observations" in probe or "Datastreams" in probe or "@iot.id" in probe


@dataclass(frozen=True)
class Owner:
    """Whose observations a SensorThings file holds when its entities do not say (``ingest --org``).

    A national server rarely sets ``properties.org``; the operator importing its export knows whose it is.
    ``properties`` of the entities still win: the file's own statement is the more specific one.
    """

    org: str
    releasable_to: tuple[str, ...] = ()


def decode_sensorthings(data: bytes, owner: Owner | None = None, validate_at: datetime | None = None) -> Iterator[Record | Rejection | Validated]:
    """Records of a SensorThings response; each Observation stands alone, its place is a JSON path.

    With ``validate_at``, a ``{"value": [...]}`` response is first tried by
    :func:`~truceline.ingest.sensorthings_fast.decode_fast` (each distinct expanded Datastream mapped once),
    which gives the same items or leaves the document to the code here."""
    if validate_at is not None:
        from truceline.ingest.sensorthings_fast import decode_fast  # it builds on this module's rules

        items = decode_fast(data, owner, validate_at + DEFAULT_CLOCK_SKEW)
        if items is not None:
            return iter(items)
    return decode_sensorthings_document(load_json(data), owner, validate_at)


def decode_sensorthings_document(doc: Any, owner: Owner | None = None, validate_at: datetime | None = None) -> Iterator[Record | Rejection | Validated]:
    """Records of an already parsed SensorThings document; ``owner`` for entities without ``properties.org``.

    The whole document is mapped with the cyclic collector paused: a parsed document is hundreds of
    thousands of small containers, and each collection the mapping's allocations triggered walked them all
    again (40% of the time, docs/performance.md). Mapping makes no cycles, so there is nothing to collect;
    the document is let go before the records are handed out, for the same reason.

    With ``validate_at`` (file ingest: a time no later than validation's ``now``), a mapped record that is
    plainly valid comes out as :class:`Validated`, ready for the store (:func:`_validated`); any other stays
    a record for the model, which words its refusal.
    """
    latest = None if validate_at is None else validate_at + DEFAULT_CLOCK_SKEW
    with collector_paused():
        items = list(_document(doc, owner, latest))
        del doc
    yield from items


def _document(doc: Any, owner: Owner | None, latest: datetime | None) -> Iterator[Record | Rejection | Validated]:
    if not isinstance(doc, dict):
        raise FormatError(f"expected a SensorThings JSON object, got {type(doc).__name__}")
    if isinstance(doc.get("value"), list):
        for i, entity in enumerate(doc["value"]):
            yield from _entity(f"$.value[{i}]", entity, None, None, owner, latest)
        return
    if not looks_like_sensorthings(doc):
        raise FormatError("not a SensorThings document: expected {'value': [...]}, a Datastream with Observations, or an Observation")
    yield from _entity("$", doc, None, None, owner, latest)


_convert = msgspec.convert


def _validated(record: dict[str, Any], latest: datetime) -> ValidatedObservation | None:
    """A mapped record as the store takes it when it is plainly valid and not after ``latest``: converted to
    the native schema by msgspec (types, ranges, enumerations, unknown fields, in C), then checked and
    written as native JSON is (:func:`~truceline.ingest.validated_json.validated_or_checked`); else None."""
    try:
        item = validated_or_checked(_convert(record, RecordIn), latest)
    except msgspec.ValidationError:
        return None
    return item if type(item) is ValidatedObservation else None


def _entity(
    where: str, entity: Any, datastream: dict[str, Any] | None, thing: dict[str, Any] | None, owner: Owner | None,
    latest: datetime | None = None,
) -> Iterator[Record | Rejection | Validated]:
    """Observations of an Observation, Datastream or Thing entity (with what they inherit)."""
    if not isinstance(entity, dict):
        yield Rejection(where, "(entity)", f"expected a SensorThings entity object, got {type(entity).__name__}")
        return
    if isinstance(entity.get("Datastreams"), list):  # a Thing with expanded Datastreams
        for i, child in enumerate(entity["Datastreams"]):
            yield from _entity(f"{where}.Datastreams[{i}]", child, None, entity, owner, latest)
        return
    if "Observations" in entity:  # a Datastream with expanded Observations
        observations = entity["Observations"]
        if not isinstance(observations, list):
            yield Rejection(f"{where}.Observations", "Observations", "expected an array of Observations")
            return
        for i, child in enumerate(observations):
            yield from _entity(f"{where}.Observations[{i}]", child, entity, thing, owner, latest)
        return
    if "phenomenonTime" in entity or "result" in entity:
        try:
            record = _observation(entity, datastream, thing, owner)
        except _Refused as exc:
            yield Rejection(where, exc.field, str(exc))
            return
        validated = None if latest is None else _validated(record, latest)
        yield Record(where, record) if validated is None else Validated(where, validated)
        return
    if "Observations@iot.navigationLink" in entity:
        yield Rejection(where, "Observations", "Datastream without expanded Observations; request it with $expand=Observations")
        return
    yield Rejection(where, "(entity)", "neither an Observation (phenomenonTime, result) nor a Datastream or Thing with Observations")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _observation(
    obs: dict[str, Any], parent_ds: dict[str, Any] | None, parent_thing: dict[str, Any] | None, owner: Owner | None = None
) -> dict[str, Any]:
    """Map one SensorThings Observation to native observation shape or raise :class:`_Refused`."""
    datastream = _dict(obs.get("Datastream")) or parent_ds or {}
    thing = _dict(datastream.get("Thing")) or parent_thing or {}
    sensor = _dict(datastream.get("Sensor"))
    prop = _dict(datastream.get("ObservedProperty"))
    parameters = _dict(obs.get("parameters"))
    # properties of the more specific entity win
    settings = {**_dict(sensor.get("properties")), **_dict(thing.get("properties")), **_dict(datastream.get("properties"))}

    when, uncertainty = _phenomenon_time(obs.get("phenomenonTime"))
    if "time_uncertainty_s" in parameters:
        stated = _number(parameters["time_uncertainty_s"], "parameters.time_uncertainty_s")
        uncertainty = stated if uncertainty is None else max(uncertainty, stated)
    org = settings.get("org")
    if org is None and owner is not None:
        org = owner.org
        if owner.releasable_to and "releasable_to" not in settings:
            settings["releasable_to"] = list(owner.releasable_to)
    if not isinstance(org, str) or not org:
        raise _Refused(
            "source.org", "SensorThings has no owning organisation: set properties.org on the Datastream, Thing or Sensor, or pass --org"
        )
    location = _location(obs, datastream, thing, parameters)
    record: dict[str, Any] = {
        "time": when,
        "kind": _kind(obs, parameters, prop),
        "location": location,
        "source": {"id": _source_id(settings, thing, sensor, datastream), "type": _source_type(settings, sensor), "org": org},
        "attributes": _attributes(obs, datastream, prop, sensor),
    }
    if uncertainty is not None:
        record["time_uncertainty_s"] = uncertainty
    for key in ("reliability", "credibility", "releasable_to"):
        if key in settings:
            record[key] = settings[key]
    record["id"] = _observation_id(org, obs, datastream)
    if record["id"] is None:
        del record["id"]  # the model derives a content hash
    return record


def _phenomenon_time(value: Any) -> tuple[str, float | None]:
    """The time and, for an interval, its half-width; an instant states no uncertainty (None: assumed later)."""
    if not isinstance(value, str) or not value.strip():
        raise _Refused("phenomenonTime", "an Observation needs phenomenonTime (an ISO 8601 instant or start/end interval)")
    if "/" not in value:
        return value.strip(), None
    start_text, _, end_text = value.partition("/")
    start, end = _instant(start_text, "phenomenonTime"), _instant(end_text, "phenomenonTime")
    if end < start:
        raise _Refused("phenomenonTime", f"interval {value!r} ends before it starts")
    middle = start + (end - start) / 2
    return middle.isoformat().replace("+00:00", "Z"), (end - start).total_seconds() / 2


def _instant(text: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _Refused(field, f"{text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise _Refused(field, f"{text!r} has no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _Refused(field, f"{text!r} lies outside the years 1-9999 once converted to UTC") from None


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise _Refused(field, f"expected a number, got {value!r}")
    return float(value)


_NUMBER = (int, float)  # a tuple: isinstance with one is faster than with ``int | float``, the same answer


def _is_number(value: Any) -> bool:
    """A JSON number (int or float, not bool)."""
    t = type(value)
    return t is float or t is int or (isinstance(value, _NUMBER) and not isinstance(value, bool))


def _point(geometry: Any) -> tuple[float, float, float | None] | str:
    """(lon, lat, alt) of a GeoJSON Point (bare or in a Feature), or the reason it is not one."""
    geometry = _dict(geometry)
    if geometry.get("type") == "Feature":
        geometry = _dict(geometry.get("geometry"))
    if geometry.get("type") != "Point":
        return f"a {geometry.get('type') or 'missing'} geometry, not a Point"
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3) or not all(_is_number(c) for c in coords):
        return "Point coordinates must be [longitude, latitude] or [longitude, latitude, altitude]"
    return float(coords[0]), float(coords[1]), (float(coords[2]) if len(coords) == 3 else None)


def _location(obs: dict[str, Any], datastream: dict[str, Any], thing: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The most specific location given decides: a FeatureOfInterest that is an area is not the Thing's spot."""
    candidates: list[tuple[str, Any, dict[str, Any]]] = []
    foi = _dict(obs.get("FeatureOfInterest"))
    locations = thing.get("Locations")
    if foi:
        candidates.append(("FeatureOfInterest.feature", foi.get("feature"), _dict(foi.get("properties"))))
    elif isinstance(locations, list) and locations:
        candidates.extend(
            (f"Thing.Locations[{i}].location", _dict(loc).get("location"), _dict(_dict(loc).get("properties")))
            for i, loc in enumerate(locations)
        )
    elif "observedArea" in datastream:
        candidates.append(("Datastream.observedArea", datastream["observedArea"], {}))
    reasons = []
    for path, geometry, props in candidates:
        point = _point(geometry)
        if isinstance(point, str):
            reasons.append(f"{path} is {point}")
            continue
        lon, lat, alt = point
        out: dict[str, Any] = {"type": "point", "lat": lat, "lon": lon}
        if alt is not None:
            out["alt_m"] = alt
        cep = parameters.get("cep_m", props.get("cep_m"))
        if cep is not None:
            out["cep_m"] = cep
        return out
    if not reasons:
        raise _Refused("location", "no location: give a FeatureOfInterest Point, or expand Datastream/Thing/Locations")
    raise _Refused("location", "no Point to locate the observation: " + "; ".join(reasons))


def _normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _kind(obs: dict[str, Any], parameters: dict[str, Any], prop: dict[str, Any]) -> str:
    if "kind" in parameters:
        return str(parameters["kind"])  # validated against the kinds by the model
    result = obs.get("result")
    if isinstance(result, str) and result.strip().lower() in _KINDS:
        return result.strip().lower()
    name = prop.get("name")
    found = _property_kind(name if isinstance(name, str) else None, str(prop.get("definition") or ""))
    if found is not None:
        return found
    label = prop.get("name") or prop.get("definition")
    if label:
        raise _Refused("kind", f"ObservedProperty {label!r} is not an event truceline records; set parameters.kind on the Observation")
    raise _Refused("kind", "cannot tell what was observed: no parameters.kind, no kind as result, no expanded ObservedProperty")


@functools.lru_cache(maxsize=1024)
def _property_kind(name: str | None, definition: str) -> str | None:
    """The kind an ObservedProperty's name, else the last part of its definition URI, names; remembered
    per distinct property (a file repeats a few)."""
    for text in (name, definition.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]):
        if text is not None and _normalise(text) in PROPERTY_KINDS:
            return PROPERTY_KINDS[_normalise(text)]
    return None


def _source_type(settings: dict[str, Any], sensor: dict[str, Any]) -> str:
    declared = settings.get("source_type")
    if isinstance(declared, str):
        return declared  # validated by the model
    found = _keyword_type(str(sensor.get("name") or ""), str(sensor.get("description") or ""), str(sensor.get("metadata") or ""))
    if found is not None:
        return found
    raise _Refused(
        "source.type",
        f"cannot tell the source type from Sensor {sensor.get('name')!r}; set properties.source_type to one of {', '.join(sorted(_SOURCE_TYPES))}",
    )


@functools.lru_cache(maxsize=1024)
def _keyword_type(name: str, description: str, metadata: str) -> str | None:
    """The source type :data:`SENSOR_KEYWORDS` give a Sensor's texts, or None; remembered, since a file's
    Observations repeat the same few expanded Sensors (the scan was a fifth of the mapping's time)."""
    text = f"{name} {description} {metadata}".lower()
    words = set(_WORD.findall(text))
    for keyword, source_type in SENSOR_KEYWORDS:
        if keyword in words or (len(keyword) > 4 and keyword in text):
            return source_type
    return None


def _slug(value: Any) -> str:
    return _slug_text(str(value))


@functools.lru_cache(maxsize=4096)
def _slug_text(text: str) -> str:
    return _SLUG.sub("-", text).strip("-")[:100]


def _source_id(settings: dict[str, Any], thing: dict[str, Any], sensor: dict[str, Any], datastream: dict[str, Any]) -> str:
    if isinstance(settings.get("source_id"), str):
        return settings["source_id"]
    for prefix, entity in (("thing", thing), ("sensor", sensor), ("datastream", datastream)):
        for key in ("@iot.id", "name"):
            if entity.get(key) not in (None, "") and _slug(entity[key]):
                return f"sta-{prefix}-{_slug(entity[key])}"
    raise _Refused("source.id", "no Thing, Sensor or Datastream with an @iot.id or name to name the source")


def _observation_id(org: str, obs: dict[str, Any], datastream: dict[str, Any]) -> str | None:
    """Stable id from the server's own identity of the Observation, so re-imports are idempotent."""
    if obs.get("@iot.selfLink"):
        key = f"{org}|{obs['@iot.selfLink']}"
    elif obs.get("@iot.id") is not None:
        key = f"{org}|{datastream.get('@iot.id', datastream.get('name', ''))}|{obs['@iot.id']}"
    else:
        return None
    return "sta-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _attributes(obs: dict[str, Any], datastream: dict[str, Any], prop: dict[str, Any], sensor: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "result" in obs and not isinstance(obs["result"], (dict, list)):
        out["result"] = obs["result"]
    unit = _dict(datastream.get("unitOfMeasurement")).get("symbol")
    if unit:
        out["unit"] = unit
    for key, value in (
        ("result_time", obs.get("resultTime")),
        ("observed_property", prop.get("name")),
        ("sensor", sensor.get("name")),
        ("datastream", datastream.get("name")),
        ("sta_id", obs.get("@iot.id")),
    ):
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            out[key] = value
    return out
