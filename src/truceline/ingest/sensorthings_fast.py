"""SensorThings Observations with an expanded Datastream, mapped once per distinct Datastream: file ingest's hot path.

A SensorThings ``$expand=Datastream(...)`` response repeats the same few Datastreams (with their Thing,
Sensor and ObservedProperty) in every Observation; :mod:`truceline.ingest.sensorthings` parses and maps
them again for each one (two thirds of its time, docs/performance.md). Here the document is decoded by
msgspec with a schema of its own, each Observation's ``Datastream`` kept as its raw bytes; the
Datastream is parsed (orjson, as the whole document is there) and everything of the mapping and of the
stored document that depends on it alone is worked out once per distinct byte string (:class:`_Stream`:
organisation, source, labels, grading, the ObservedProperty's kind, the Thing's location, the attributes
it gives with their checks and canonical bytes). Per Observation only its time, result, feature of
interest and id are read, and its canonical document is written as
:func:`~truceline.ingest.validated_json.validated_or_checked` writes one.

Only what this path is sure of is taken here: an Observation with anything else (an interval time,
``parameters``, no id, a value needing an escape, a refusal of any kind) is parsed from its own bytes
by orjson and mapped by the ordinary code (:func:`~truceline.ingest.sensorthings._entity`), and a
document msgspec and orjson might read differently (not UTF-8, a number beyond a double, bytes orjson
refuses inside a Datastream) goes the ordinary way whole. tests/test_validated_json.py checks that the
records and refusals are those of the ordinary path.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from msgspec import UNSET, Struct, UnsetType
from pydantic_core import PydanticCustomError

from truceline.domain.defaults import CEP_PER_SIGMA
from truceline.domain.grading import Credibility, Reliability
from truceline.domain.observation import (
    EARLIEST_TIME,
    MAX_UNCERTAINTY_M,
    POINT_CEP_PER_SIGMA,
    Assumed,
    Observation,
    Source,
    assumed_for_point,
)
from truceline.domain.observation_fast import _label_tuple, _source, _time_ok, collector_paused
from truceline.domain.validated import ValidatedObservation
from truceline.ingest import sensorthings as sta
from truceline.ingest.records import Record, Rejection, Validated
from truceline.ingest.validated_json import (
    _CREDIBILITY_DEFAULT,
    _RELIABILITY_DEFAULT,
    _assumed_raw,
    _Document,
    _encode,
    _labels_doc,
    _number,
    _source_doc,
    _Where,
)
from truceline.ledger.canonical import _SIMPLE_FLOAT_MAX as _HIGH
from truceline.ledger.canonical import _SIMPLE_FLOAT_MIN as _LOW
from truceline.ledger.canonical import canonical_json

_Raw = msgspec.Raw
_SAFE = 2**53 - 1
#: Digits as 0, ``E`` as ``e``, ``-`` as ``+``: after this a number beyond a double (which msgspec skips where
#: orjson refuses it) shows as a three-digit exponent or a run of 200 digits (:func:`_may_overflow`).
_NUMBER_SHAPES = bytes.maketrans(b"0123456789E-", b"0000000000e+")
_LONG_RUN = b"0" * 200
#: Per-Observation strings written here are at most this long and plain ASCII, so that with a Datastream's
#: attributes of at most :data:`_STREAM_ATTRIBUTE_BYTES` the attributes stay under the model's size limit.
_MAX_TEXT = 1000
_STREAM_ATTRIBUTE_BYTES = 30_000
_RELIABILITY = frozenset(r.value for r in Reliability)
_CREDIBILITY = frozenset(int(c) for c in Credibility)
_KINDS = sta._KINDS
_fromiso = datetime.fromisoformat
_dumps = orjson.dumps
_UTC_Z = orjson.OPT_UTC_Z
_sha256 = hashlib.sha256


class _Observation(
    Struct,
    gc=False,
    rename={
        "phenomenon_time": "phenomenonTime",
        "result_time": "resultTime",
        "iot_id": "@iot.id",
        "self_link": "@iot.selfLink",
        "feature": "FeatureOfInterest",
        "datastream": "Datastream",
        "datastreams": "Datastreams",
        "observations": "Observations",
    },
):
    """The members of a ``value`` entity the mapping reads (others are ignored, as there). Present with another
    role (``Datastreams``, ``Observations``, ``parameters``): the entity goes the ordinary way."""

    phenomenon_time: Any = UNSET
    result: Any = UNSET
    result_time: Any = UNSET
    iot_id: Any = UNSET
    self_link: Any = UNSET
    feature: Any = UNSET
    datastream: msgspec.Raw | UnsetType = UNSET
    parameters: msgspec.Raw | UnsetType = UNSET
    datastreams: msgspec.Raw | UnsetType = UNSET
    observations: msgspec.Raw | UnsetType = UNSET


class _Response(Struct, gc=False):
    value: list[_Observation]


class _RawResponse(Struct, gc=False):
    value: list[msgspec.Raw]


class _Attributes(Struct, gc=False):
    """An Observation's attributes in RFC 8785 order (UNSET members are left out); the Datastream's as their
    canonical bytes."""

    datastream: Any = UNSET
    observed_property: Any = UNSET
    result: Any = UNSET
    result_time: Any = UNSET
    sensor: Any = UNSET
    sta_id: Any = UNSET
    unit: Any = UNSET


_decode = msgspec.json.Decoder(_Response).decode
_decode_raw = msgspec.json.Decoder(_RawResponse).decode
_MsgspecErrors = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)  # too deep for msgspec: orjson decides


class _Stream:
    """What one distinct Datastream (its bytes) decides for every Observation under it."""

    __slots__ = (
        "org", "source", "source_doc", "labels", "labels_doc", "reliability", "credibility", "kind", "place", "attributes",
        "id_prefix", "assumed",
    )  # fmt: skip

    def __init__(self, org: str, source: Source, labels: tuple[str, ...], reliability: str, credibility: int) -> None:
        self.org = org
        self.source = source
        self.source_doc = _source_doc(source)
        self.labels = labels
        self.labels_doc = _labels_doc(labels)
        self.reliability = reliability
        self.credibility = credibility
        self.kind: str | None = None  # the ObservedProperty's, if it names one
        self.place: tuple[float, float, Any, Any] | None = None  # lat, lon, alt, CEP (UNSET if unstated) of the Thing
        self.attributes: tuple[Any, Any, Any, Any] = (UNSET, UNSET, UNSET, UNSET)  # datastream, observed_property, sensor, unit
        self.id_prefix = ""
        self.assumed: dict[tuple[str, bool], Assumed | None] = {}


def _stream(ds: Any, owner: sta.Owner | None) -> _Stream | None:
    """The mapping's rules (:func:`~truceline.ingest.sensorthings._observation`) for what depends on the
    Datastream alone, and the native schema's and model's checks of the values they give; None when any is
    not plainly satisfied (its Observations then go the ordinary way, which words any refusal)."""
    if type(ds) is not dict or not ds:
        return None
    thing = sta._dict(ds.get("Thing"))
    sensor = sta._dict(ds.get("Sensor"))
    prop = sta._dict(ds.get("ObservedProperty"))
    settings = {**sta._dict(sensor.get("properties")), **sta._dict(thing.get("properties")), **sta._dict(ds.get("properties"))}
    org = settings.get("org")
    if org is None and owner is not None:
        org = owner.org
        if owner.releasable_to and "releasable_to" not in settings:
            settings["releasable_to"] = list(owner.releasable_to)
    if type(org) is not str or not org:
        return None
    try:
        source_id = sta._source_id(settings, thing, sensor, ds)
        source_type = sta._source_type(settings, sensor)
    except sta._Refused:
        return None
    source = _source({"id": source_id, "type": source_type, "org": org})
    if source is None:
        return None
    reliability, credibility, labels = settings.get("reliability", UNSET), settings.get("credibility", UNSET), (org,)
    if reliability is UNSET:
        reliability = _RELIABILITY_DEFAULT
    elif type(reliability) is not str or reliability not in _RELIABILITY:
        return None
    if credibility is UNSET:
        credibility = _CREDIBILITY_DEFAULT
    elif type(credibility) is not int or credibility not in _CREDIBILITY:
        return None
    if "releasable_to" in settings:
        given = settings["releasable_to"]
        labels = _label_tuple(given, org) if type(given) is list else None  # type: ignore[assignment]
        if labels is None:
            return None
    stream = _Stream(org, source, labels, reliability, credibility)
    name = prop.get("name")
    stream.kind = sta._property_kind(name if isinstance(name, str) else None, str(prop.get("definition") or ""))
    try:
        place = sta._location({}, ds, thing, {})  # what an Observation without a FeatureOfInterest is given
    except sta._Refused:
        place = None
    if place is not None:
        stream.place = _point(place["lat"], place["lon"], place.get("alt_m", UNSET), place.get("cep_m", UNSET))
    if not _stream_attributes(stream, ds, prop, sensor):
        return None
    stream.id_prefix = f"{org}|{ds.get('@iot.id', ds.get('name', ''))}|"
    return stream


def _stream_attributes(stream: _Stream, ds: dict[str, Any], prop: dict[str, Any], sensor: dict[str, Any]) -> bool:
    """The attributes :func:`~truceline.ingest.sensorthings._attributes` takes from the Datastream, checked as
    the model checks attributes (portable values; their size, with room for an Observation's own) and
    written canonically once."""
    given: dict[str, Any] = {}
    unit = sta._dict(ds.get("unitOfMeasurement")).get("symbol")
    if unit:
        given["unit"] = unit
    for key, value in (("observed_property", prop.get("name")), ("sensor", sensor.get("name")), ("datastream", ds.get("name"))):
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            given[key] = value
    written = {key: _attribute(value) for key, value in given.items()}  # short plain text, safe ints: as they are
    if None in written.values():  # anything else: the model's checks, and written canonically
        try:
            Observation._attributes_portable(given)
        except PydanticCustomError:
            return False
        if len(orjson.dumps(given, option=orjson.OPT_NON_STR_KEYS)) > _STREAM_ATTRIBUTE_BYTES:
            return False
        written = {key: _Raw(canonical_json(value)) if written[key] is None else written[key] for key, value in given.items()}
    stream.attributes = tuple(written.get(key, UNSET) for key in ("datastream", "observed_property", "sensor", "unit"))  # type: ignore[assignment]
    return True


def _point(lat: Any, lon: Any, alt: Any, cep: Any) -> tuple[float, float, Any, Any] | None:
    """A mapped point as the native schema (:class:`~truceline.domain.observation_fast.PointIn`) takes it:
    numbers (not booleans) within its ranges; None otherwise."""
    if not (_plain_number(lat) and -90.0 <= lat <= 90.0 and _plain_number(lon) and -180.0 <= lon <= 180.0):
        return None
    if alt is not UNSET and not (_plain_number(alt) and -500.0 <= alt <= 100_000.0):
        return None
    if cep is not UNSET and not (_plain_number(cep) and 0.0 < cep <= MAX_UNCERTAINTY_M):
        return None
    return float(lat), float(lon), alt if alt is UNSET else float(alt), cep if cep is UNSET else float(cep)


def _plain_number(value: Any) -> bool:
    """A float, or an int within ±(2^53−1) (one that msgspec and orjson read alike and a double holds exactly)."""
    t = type(value)
    return t is float or (t is int and -_SAFE <= value <= _SAFE)


def _plain_text(value: str) -> bool:
    """A string every JSON encoder writes alike (printable ASCII: only ``"`` and ``\\`` escaped), short enough
    for :data:`_MAX_TEXT`."""
    return len(value) <= _MAX_TEXT and value.isascii() and value.isprintable()


def _attribute(value: Any) -> Any:
    """An Observation's own attribute value (str or int) as written here, or None when this path does not write it."""
    t = type(value)
    if t is str:
        return value if _plain_text(value) else None
    if t is int:
        return value if -_SAFE <= value <= _SAFE else None
    return None


def _validated(o: _Observation, stream: _Stream, latest: datetime) -> ValidatedObservation | None:
    """One Observation under a mapped Datastream as the store takes it, or None (the ordinary way decides)."""
    text = o.phenomenon_time
    if type(text) is not str or _time_ok(text) is None:  # an interval has a '/': not this pattern
        return None
    try:
        when = _fromiso(text).astimezone(UTC)
    except (ValueError, OverflowError):  # the ordinary way refuses an offset past year 1 or 9999 with its reason
        return None
    if when < EARLIEST_TIME or when > latest:
        return None
    kind = stream.kind
    result = written = o.result
    if result is not UNSET and result is not None:
        t = type(result)
        if t is float:
            written = result if _LOW <= abs(result) < _HIGH and not result.is_integer() else _number(result)
        elif t is str:
            found = result.strip().lower()
            if found in _KINDS:
                kind = found
            if not _plain_text(result):
                return None
        elif t is not bool and _attribute(result) is None:  # an int beyond 2^53, an object or an array: not here
            return None
    if kind is None:
        return None
    result_time, sta_id = o.result_time, o.iot_id
    if result_time is not UNSET and (result_time is None or type(result_time) is bool or type(result_time) is float):
        result_time = UNSET  # not an attribute the mapping writes
    if sta_id is not UNSET and (sta_id is None or type(sta_id) is bool or type(sta_id) is float):
        sta_id = UNSET
    if (result_time is not UNSET and _attribute(result_time) is None) or (sta_id is not UNSET and _attribute(sta_id) is None):
        return None
    place = _place(o.feature, stream)
    if place is None:
        return None
    lat, lon, alt, cep = place
    link = o.self_link
    if link is not UNSET and link is not None and type(link) is not str:
        return None
    if link:
        key = f"{stream.org}|{link}"
    elif sta_id is not UNSET:
        key = f"{stream.id_prefix}{sta_id}"
    else:
        return None  # no id of its own: a content hash, the model's
    oid = "sta-" + _sha256(key.encode()).hexdigest()[:32]
    assumed = stream.assumed.get((kind, cep is UNSET), UNSET)
    if assumed is UNSET:
        assumed = stream.assumed[kind, cep is UNSET] = assumed_for_point(stream.source.type._value_, kind, False, cep is UNSET)
    if assumed is None or assumed.time_uncertainty_s is None or (cep is UNSET and assumed.cep_m is None):
        return None  # not what the rules assume: the model's object and route decide
    datastream, observed_property, sensor, unit = stream.attributes
    document = _Document(
        _assumed_raw(assumed),
        _Attributes(datastream, observed_property, written, result_time, sensor, sta_id, unit),
        stream.credibility,
        UNSET,
        oid,
        kind,
        _Where(
            alt if alt is UNSET else _number(alt),
            UNSET if cep is UNSET else cep if _LOW <= cep < _HIGH and not cep.is_integer() else _number(cep),
            lat if _LOW <= abs(lat) < _HIGH and not lat.is_integer() else _number(lat),
            lon if _LOW <= abs(lon) < _HIGH and not lon.is_integer() else _number(lon),
        ),
        stream.labels_doc,
        stream.reliability,
        stream.source_doc,
        text if len(text) == 20 and text[19] == "Z" else _Raw(_dumps(when, option=_UTC_Z)),
        UNSET,
    )
    source = stream.source
    return ValidatedObservation(
        _encode(document), oid, when, assumed.time_uncertainty_s, kind, "point", lat, lon,
        assumed.cep_m / CEP_PER_SIGMA if cep is UNSET else cep / POINT_CEP_PER_SIGMA,  # type: ignore[operator]
        source.id, source.type._value_, source.org, stream.reliability, stream.credibility, stream.labels,
    )  # fmt: skip


def _place(feature: Any, stream: _Stream) -> tuple[float, float, Any, Any] | None:
    """:func:`~truceline.ingest.sensorthings._location` for an Observation without ``parameters``: a
    FeatureOfInterest that is a plain Point, else (none given) the Datastream's; None for anything else."""
    if type(feature) is not dict or not feature:
        return stream.place
    geometry = feature.get("feature")
    if type(geometry) is not dict or geometry.get("type") != "Point":
        return None
    coordinates = geometry.get("coordinates")
    if type(coordinates) is not list or not 2 <= len(coordinates) <= 3:
        return None
    properties = feature.get("properties")
    cep = properties.get("cep_m", UNSET) if type(properties) is dict else UNSET
    if cep is None:
        cep = UNSET  # as the mapping: a null CEP is left out
    return _point(coordinates[1], coordinates[0], coordinates[2] if len(coordinates) == 3 else UNSET, cep)


def _may_overflow(data: bytes) -> bool:
    """True when ``data`` may hold a number beyond a double (an exponent of three digits or more, or 200
    digits in a row; in a string too: then the document just goes the ordinary way). msgspec reads such a
    number where it skips content and orjson refuses the document, so only the ordinary way can say so.
    A JSON exponent always follows a digit; one with three digits or more is at least 1e100 or at most
    1e-100, and a mantissa below 200 digits with a two-digit exponent stays below 1e300."""
    shapes = data.translate(_NUMBER_SHAPES)
    return b"0e000" in shapes or b"0e+000" in shapes or _LONG_RUN in shapes


def decode_fast(data: bytes, owner: sta.Owner | None, latest: datetime) -> list[Record | Rejection | Validated] | None:
    """The items :func:`~truceline.ingest.sensorthings.decode_sensorthings` gives with ``validate_at`` (records
    not after ``latest``), for a ``{"value": [...]}`` response; None sends the document the ordinary way."""
    if not data.isascii():
        try:
            data.decode()  # strict UTF-8, as orjson reads it; msgspec does not check what it skips
        except UnicodeDecodeError:
            return None
    if _may_overflow(data):
        return None
    with collector_paused():
        try:
            response = _decode(data)
        except _MsgspecErrors:
            return None
        streams: dict[bytes, _Stream | None] = {}
        out: list[Record | Rejection | Validated] = []
        append = out.append
        entities: list[msgspec.Raw] | None = None
        for i, o in enumerate(response.value):
            item = None
            raw = o.datastream
            if raw is not UNSET and o.parameters is UNSET and o.datastreams is UNSET and o.observations is UNSET:
                key = bytes(raw)
                if key in streams:
                    stream = streams[key]
                else:
                    try:
                        ds = orjson.loads(key)
                    except orjson.JSONDecodeError:
                        return None  # the ordinary way refuses the document, in its words
                    stream = streams[key] = _stream(ds, owner)
                if stream is not None:
                    item = _validated(o, stream, latest)
            if item is not None:
                append(Validated(f"$.value[{i}]", item))
                continue
            try:
                if entities is None:
                    entities = _decode_raw(data).value  # each entity's own bytes, for the ordinary mapping
                entity = orjson.loads(entities[i])
            except (*_MsgspecErrors, orjson.JSONDecodeError):
                return None
            out.extend(sta._entity(f"$.value[{i}]", entity, None, None, owner, latest))
        del response, streams, entities
        return out
