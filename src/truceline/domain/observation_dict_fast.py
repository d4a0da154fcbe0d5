"""The dict-based fast path: records already decoded to Python values (orjson, a format decoder) checked by
the model's own rules and built as pydantic builds them, without pydantic's per-field machinery.

:func:`fast_observation` takes plainly valid records only (exact builtin types, every value in range,
nothing to strip or coerce) and builds the same :class:`Observation` (same field values and types, same
fields set, same ``assumed``, same normalised labels); for anything else it returns ``None`` and the caller
validates the record through pydantic, which alone words errors. Points, bearings and named places are all
taken. Shared pieces (patterns, sources, labels, the compiled path's :class:`Checked`) live in
:mod:`truceline.domain.observation_fast`; tests/test_observation_fast.py compares both with pydantic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import PydanticCustomError

from truceline.domain.grading import Credibility, Reliability
from truceline.domain.observation import (
    DEFAULT_CLOCK_SKEW,
    MAX_TIME_UNCERTAINTY_S,
    MAX_UNCERTAINTY_M,
    BearingLocation,
    Observation,
    ObservationKind,
    PlaceLocation,
    PlacePrecision,
    PointLocation,
    check_time_plausible,
)
from truceline.domain.observation_fast import (
    _MAX_ATTRIBUTES,
    Checked,
    _hash_ok,
    _id_ok,
    _label_tuple,
    _plain,
    _source,
    _time_ok,
    as_document,
    assumed_as_given,
)

_isfinite = math.isfinite
_new = object.__new__
_set = object.__setattr__
_fromiso = datetime.fromisoformat
#: The models' own after-validators, as plain functions (pydantic keeps them so in the class dict).
_normalise: Callable[[Observation], Observation] = Observation.__dict__["_normalise"]
_check_uncertainty: Callable[[PointLocation], PointLocation] = PointLocation.__dict__["_check_uncertainty"]

_OBSERVATION_KEYS = frozenset(Observation.model_fields)  # ``assumed`` taken when it is what its rules give
_POINT_KEYS = frozenset(PointLocation.model_fields)
_BEARING_KEYS = frozenset(BearingLocation.model_fields)
_PLACE_KEYS = frozenset(PlaceLocation.model_fields)
_PRECISION = {int(p): p for p in PlacePrecision}
_KINDS = {k.value: k for k in ObservationKind}
_RELIABILITY = {r.value: r for r in Reliability}
_CREDIBILITY = {int(c): c for c in Credibility}


def _number(value: Any, low: float, high: float) -> float | None:
    """A JSON number (int or float, not bool) as pydantic's strict float gives it, if finite and in [low, high]."""
    t = type(value)
    if t is float:
        number = value
    elif t is int:
        try:
            number = float(value)
        except OverflowError:
            return None
    else:
        return None
    if not _isfinite(number) or not low <= number <= high:
        return None
    return number


def _location(value: Any) -> PointLocation | BearingLocation | PlaceLocation | None:
    """A point, a bearing or a place, told apart by the tag rule of :func:`truceline.domain.observation.
    _location_tag`: the explicit ``type`` wins, else ``bearing_deg`` makes a bearing and ``name`` a place."""
    if type(value) is not dict:
        return None
    if "type" in value:
        tag = value["type"]
        if type(tag) is not str:
            return None  # not a tag pydantic reads (None), or a str subclass: pydantic decides
        if tag == "point":
            return _point(value)
        if tag == "bearing":
            return _bearing(value)
        return _place(value) if tag == "place" else None
    if "bearing_deg" in value:
        return _bearing(value)
    return _place(value) if "name" in value else _point(value)


def _bearing(value: dict[str, Any]) -> BearingLocation | None:
    """:class:`BearingLocation`'s fields: strict finite numbers in the model's ranges; an explicit null for an
    optional field, like anything else unusual, is left to pydantic."""
    if not value.keys() <= _BEARING_KEYS:
        return None
    lat = _number(value.get("sensor_lat"), -90.0, 90.0)
    lon = _number(value.get("sensor_lon"), -180.0, 180.0)
    bearing = _number(value.get("bearing_deg"), 0.0, 360.0)
    sd = _number(value.get("bearing_sd_deg"), 0.0, 180.0)
    if lat is None or lon is None or bearing is None or bearing == 360.0 or sd is None or sd == 0.0:
        return None  # bearing_deg < 360, bearing_sd_deg > 0
    cep: float | None = None
    max_range: float | None = None
    if "sensor_cep_m" in value:
        cep = _number(value["sensor_cep_m"], 0.0, MAX_UNCERTAINTY_M)
        if cep is None or cep == 0.0:
            return None
    if "max_range_m" in value:
        max_range = _number(value["max_range_m"], 0.0, MAX_UNCERTAINTY_M)
        if max_range is None or max_range == 0.0:
            return None
    location = _new(BearingLocation)
    _set(
        location,
        "__dict__",
        {"type": "bearing", "sensor_lat": lat, "sensor_lon": lon, "sensor_cep_m": cep, "bearing_deg": bearing, "bearing_sd_deg": sd,
         "max_range_m": max_range},
    )  # fmt: skip
    _set(location, "__pydantic_fields_set__", set(value))
    _set(location, "__pydantic_extra__", None)
    _set(location, "__pydantic_private__", None)
    return location


def _place(value: dict[str, Any]) -> PlaceLocation | None:
    if not value.keys() <= _PLACE_KEYS:
        return None
    name: Any = value.get("name")
    precision: Any = value.get("precision")
    admin: Any = value.get("admin")
    if not (_plain(name) and 1 <= len(name) <= 200) or type(precision) is not int or precision not in _PRECISION:
        return None
    if "admin" in value and not (_plain(admin) and len(admin) <= 200):
        return None
    lat = lon = None
    if "lat" in value or "lon" in value:
        lat = _number(value.get("lat"), -90.0, 90.0)
        lon = _number(value.get("lon"), -180.0, 180.0)
        if lat is None or lon is None:
            return None
    place = _new(PlaceLocation)
    _set(place, "__dict__", {"type": "place", "name": name, "precision": _PRECISION[precision], "lat": lat, "lon": lon, "admin": admin})
    _set(place, "__pydantic_fields_set__", set(value))
    _set(place, "__pydantic_extra__", None)
    _set(place, "__pydantic_private__", None)
    return place


def _point(value: Any) -> PointLocation | None:
    if type(value) is not dict or not value.keys() <= _POINT_KEYS or value.get("type", "point") != "point":
        return None
    lat = _number(value.get("lat"), -90.0, 90.0)
    lon = _number(value.get("lon"), -180.0, 180.0)
    if lat is None or lon is None:
        return None
    cep: float | None = None
    cov: tuple[tuple[float, float], tuple[float, float]] | None = None
    alt: float | None = None
    if "cep_m" in value:
        cep = _number(value["cep_m"], 0.0, MAX_UNCERTAINTY_M)
        if cep is None or cep == 0.0:
            return None
    if "cov_m2" in value:
        rows = value["cov_m2"]
        if type(rows) is not list or len(rows) != 2 or type(rows[0]) is not list or type(rows[1]) is not list:
            return None
        if len(rows[0]) != 2 or len(rows[1]) != 2:
            return None
        a, b = _number(rows[0][0], -math.inf, math.inf), _number(rows[0][1], -math.inf, math.inf)
        c, d = _number(rows[1][0], -math.inf, math.inf), _number(rows[1][1], -math.inf, math.inf)
        if a is None or b is None or c is None or d is None:
            return None
        cov = ((a, b), (c, d))
    if "alt_m" in value:
        alt = _number(value["alt_m"], -500.0, 100_000.0)
        if alt is None:
            return None
    point = _new(PointLocation)
    _set(point, "__dict__", {"type": "point", "lat": lat, "lon": lon, "cep_m": cep, "cov_m2": cov, "alt_m": alt})
    _set(point, "__pydantic_fields_set__", set(value))
    _set(point, "__pydantic_extra__", None)
    _set(point, "__pydantic_private__", None)
    if cov is not None:  # the rest of the model's rule is about cov_m2 alone
        try:
            _check_uncertainty(point)
        except PydanticCustomError:
            return None
    return point


def _labels(value: Any, org: str) -> list[str] | None:
    """``releasable_to`` as :meth:`Observation._normalise` leaves it (sorted, deduplicated, else the owner)."""
    labels = _label_tuple(value, org)
    return None if labels is None else list(labels)


def _time(value: Any, now: datetime, skew: timedelta) -> datetime | None:
    if type(value) is not str or _time_ok(value) is None:
        return None
    try:
        return check_time_plausible(_fromiso(value).astimezone(UTC), now, skew)
    except (ValueError, OverflowError, PydanticCustomError):
        return None


def fast_observation(record: Any, now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW) -> Observation | None:
    """The :class:`Observation` pydantic would build from ``record``, or None to let pydantic decide.

    ``now`` and ``skew`` are the validation context's (:func:`truceline.ingest.validation.validation_context`).
    """
    if type(record) is not dict or not record.keys() <= _OBSERVATION_KEYS:
        return None
    get = record.get
    oid = get("id")
    if oid is not None and not (_plain(oid) and _id_ok(oid)):
        return None
    if "id" in record and oid is None:
        return None  # an explicit null id: leave the wording of whatever follows to pydantic
    when = _time(get("time"), now, skew)
    raw_kind = get("kind")
    kind = _KINDS.get(raw_kind) if type(raw_kind) is str else None
    location = _location(get("location"))
    source = _source(get("source"))
    if when is None or kind is None or location is None or source is None:
        return None
    time_sd: float | None = None
    if "time_uncertainty_s" in record:
        time_sd = _number(record["time_uncertainty_s"], 0.0, MAX_TIME_UNCERTAINTY_S)
        if time_sd is None:
            return None
    reliability = Reliability.F
    if "reliability" in record:
        raw_reliability = record["reliability"]
        reliability = _RELIABILITY.get(raw_reliability) if type(raw_reliability) is str else None  # type: ignore[assignment]
        if reliability is None:
            return None
    credibility = Credibility.CANNOT_BE_JUDGED
    if "credibility" in record:
        raw_credibility = record["credibility"]
        credibility = _CREDIBILITY.get(raw_credibility) if type(raw_credibility) is int else None  # type: ignore[assignment]
        if credibility is None:
            return None
    labels = _labels(record["releasable_to"], source.org) if "releasable_to" in record else [source.org]
    if labels is None:
        return None
    attributes: dict[str, Any] = {}
    if "attributes" in record:
        raw_attributes = record["attributes"]
        if type(raw_attributes) is not dict or len(raw_attributes) > _MAX_ATTRIBUTES:
            return None
        for key in raw_attributes:
            if not _plain(key):
                return None
        try:
            attributes = Observation._attributes_portable(dict(raw_attributes))
        except PydanticCustomError:
            return None
    evidence = get("evidence_hash")
    if evidence is not None and not (_plain(evidence) and _hash_ok(evidence)):
        return None
    if "evidence_hash" in record and evidence is None:
        return None
    obs = _new(Observation)
    _set(
        obs,
        "__dict__",
        {
            "id": oid,
            "time": when,
            "time_uncertainty_s": time_sd,
            "kind": kind,
            "location": location,
            "source": source,
            "reliability": reliability,
            "credibility": credibility,
            "releasable_to": labels,
            "attributes": attributes,
            "evidence_hash": evidence,
            "assumed": None,
        },
    )
    _set(obs, "__pydantic_fields_set__", set(record))
    _set(obs, "__pydantic_extra__", None)
    _set(obs, "__pydantic_private__", None)
    if (
        oid is None
        or time_sd is None
        or (type(location) is PointLocation and location.cep_m is None and location.cov_m2 is None)
        or (type(location) is BearingLocation and location.sensor_cep_m is None)
        or "origin" in attributes
    ):
        try:
            _normalise(obs)  # content id and assumed uncertainties: the model's own code
        except PydanticCustomError:
            return None
    if "assumed" in record:  # a stored document's (or a sender's copy of it): kept only when exactly the rules'
        assumed = assumed_as_given(obs, record["assumed"])
        if assumed is None:
            return None
        obs.__dict__["assumed"] = assumed
    return obs


def fast_observations(records: list[Any], now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW) -> list[Observation | None]:
    """:func:`fast_observation` of every record (the observations of :func:`checked_records` taken as
    built); a None leaves that record to pydantic. A checked record whose time is after ``now + skew`` is
    replaced in ``records`` by its :func:`as_document` so that pydantic can word the refusal."""
    out: list[Observation | None] = []
    latest = now + skew
    for i, record in enumerate(records):
        if type(record) is Checked:
            built: Observation | None = record.observation
            if built.__dict__["time"] > latest:  # type: ignore[union-attr]
                records[i] = as_document(record)
                built = None
            out.append(built)
        else:
            out.append(fast_observation(record, now, skew))
    return out
