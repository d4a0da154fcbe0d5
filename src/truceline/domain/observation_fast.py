"""Fast paths for plainly valid observation records: the model's own checks, without pydantic's per-field machinery.

Validating one record through pydantic costs ~25 µs (a dozen Python validators called from Rust, nested
models, a discriminated union); bulk ingest spends most of its time there. Most records in bulk are plainly
valid: exact builtin types, every value in range, nothing to strip or coerce. The fast paths check exactly
that, build the same :class:`Observation` (same field values and types, same fields set, same ``assumed``,
same normalised labels) and return it; for anything else they return ``None`` and the caller validates the
record through pydantic, which alone words errors. So a refusal's index, field and message never come from
here; these paths can only accept what pydantic accepts, never refuse.

This module holds the compiled path (msgspec decodes and checks whole documents of point records) and what
both paths share (patterns, sources, labels); the path for records already decoded to Python values, which
also takes bearings and places, is :mod:`truceline.domain.observation_dict_fast`. Model-level rules are the
model's own methods (:meth:`Observation._normalise`, :meth:`PointLocation._check_uncertainty`,
:meth:`Observation._attributes_portable`), called on the built instance; tests/test_observation_fast.py
compares both paths with pydantic on real files and hostile inputs.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType
from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from truceline.domain import defaults as _defaults
from truceline.domain.grading import Credibility, Reliability
from truceline.domain.observation import (
    _ID_PATTERN,
    _LABEL_PATTERN,
    EARLIEST_TIME,
    MAX_TIME_UNCERTAINTY_S,
    MAX_UNCERTAINTY_M,
    SOURCE_TYPE_SYNONYMS,
    Assumed,
    Observation,
    ObservationKind,
    PointLocation,
    Source,
    SourceType,
)

_id_ok = re.compile(_ID_PATTERN.strip("^$"), re.ASCII).fullmatch
_label_ok = re.compile(_LABEL_PATTERN.strip("^$"), re.ASCII).fullmatch
_hash_ok = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII).fullmatch
#: The one time shape taken here: what every format decoder writes and what speedate and
#: ``datetime.fromisoformat`` read alike. Anything else (space separator, lower-case t/z, second 60, seven
#: fraction digits, offsets without a colon) goes to pydantic.
_time_ok = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII).fullmatch
_isfinite = math.isfinite
_new = object.__new__
_set = object.__setattr__
# The same four stores as ``_set(obj, name, value)``, through BaseModel's slot descriptors directly (what
# ``object.__setattr__`` looks up and calls): the compiled path builds two models per record this way, and
# skipping the name lookup is 40% of each store.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_fromiso = datetime.fromisoformat
#: The models' own after-validators, as plain functions (pydantic keeps them so in the class dict).
_normalise: Callable[[Observation], Observation] = Observation.__dict__["_normalise"]
_check_uncertainty: Callable[[PointLocation], PointLocation] = PointLocation.__dict__["_check_uncertainty"]

_SOURCE_KEYS = frozenset(Source.model_fields)
_SOURCE_TYPES = {t.value: t for t in SourceType} | SOURCE_TYPE_SYNONYMS
_MAX_LABELS = 64
_MAX_CACHED = 4096
_sources: dict[tuple[str, str, str], Source] = {}
_label_sets: dict[tuple[Any, ...], tuple[str, ...]] = {}
_MAX_ATTRIBUTES = 64


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while records are decoded or observations built (then as it was).

    Both allocate a handful of container objects per record and no reference cycles; with the collector
    on, every ~100 records it walks the young objects and every few thousand the whole heap (all of
    pydantic, numpy, the records themselves): a third of the time (docs/performance.md). Reference counting
    still frees everything at once; the collector runs again afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _plain(text: Any) -> bool:
    """An exact str with nothing for ``str_strip_whitespace`` to remove (Python's strip removes a superset)."""
    return type(text) is str and text == text.strip()


def _source(value: Any) -> Source | None:
    """The :class:`Source` of a plainly valid source object; one shared instance per distinct value (it is
    frozen, and a file holds few sources), so a repeated source costs one dict lookup."""
    if type(value) is not dict or value.keys() != _SOURCE_KEYS:
        return None
    sid, stype, org = value["id"], value["type"], value["org"]
    if type(sid) is not str or type(stype) is not str or type(org) is not str:
        return None
    key = (sid, stype, org)
    source = _sources.get(key)
    if source is not None:
        return source
    if not (_plain(sid) and _id_ok(sid) and _plain(org) and _label_ok(org)):
        return None
    source_type = _SOURCE_TYPES.get(stype)
    if source_type is None:
        return None
    source = _new(Source)
    _set(source, "__dict__", {"id": sid, "type": source_type, "org": org})
    _set(source, "__pydantic_fields_set__", {"id", "type", "org"})
    _set(source, "__pydantic_extra__", None)
    _set(source, "__pydantic_private__", None)
    if len(_sources) >= _MAX_CACHED:
        _sources.clear()
    _sources[key] = source
    return source


def _label_tuple(value: Any, org: str) -> tuple[str, ...] | None:
    """:func:`_labels` as the shared tuple it remembers."""
    if type(value) is not list or len(value) > _MAX_LABELS:
        return None
    key = (org, *value)
    try:
        labels = _label_sets.get(key)
    except TypeError:  # unhashable items: not labels
        return None
    if labels is None:
        for label in value:
            if not (_plain(label) and _label_ok(label)):
                return None
        labels = tuple(sorted(set(value))) or (org,)
        if len(_label_sets) >= _MAX_CACHED:
            _label_sets.clear()
        _label_sets[key] = labels
    return labels


# The same acceptance, compiled: msgspec decodes a JSON document and checks its records in C (types,
# ranges, enumerations, unknown fields, nulls); the string patterns are checked in Python (the same
# fullmatch as above; they admit no whitespace, so what they accept ``str_strip_whitespace`` leaves alone).
# A document msgspec refuses is read the ordinary way: orjson, then the dict path
# (:func:`~truceline.domain.observation_dict_fast.fast_observation`) or pydantic per record.


class SourceIn(Struct, forbid_unknown_fields=True, gc=False):
    id: str  # patterns checked once per distinct source (see _source)
    type: str  # a word of _SOURCE_TYPES, checked with the patterns
    org: str


class PointIn(Struct, forbid_unknown_fields=True, gc=False):
    lat: Annotated[float, Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, Meta(ge=-180.0, le=180.0)]
    type: Literal["point"] | UnsetType = UNSET
    cep_m: Annotated[float, Meta(gt=0.0, le=MAX_UNCERTAINTY_M)] | UnsetType = UNSET
    cov_m2: list[list[float]] | UnsetType = UNSET
    alt_m: Annotated[float, Meta(ge=-500.0, le=100_000.0)] | UnsetType = UNSET


class RecordIn(Struct, forbid_unknown_fields=True, gc=False):
    """A native observation record as msgspec decodes it (decoders of other layouts build it, then
    :func:`checked_parts`)."""

    time: str  # pattern checked in _checked
    kind: ObservationKind
    location: PointIn
    source: SourceIn
    id: str | UnsetType = UNSET  # pattern checked in _checked
    time_uncertainty_s: Annotated[float, Meta(ge=0.0, le=MAX_TIME_UNCERTAINTY_S)] | UnsetType = UNSET
    reliability: Reliability | UnsetType = UNSET
    credibility: Credibility | UnsetType = UNSET
    releasable_to: Annotated[list[str], Meta(max_length=_MAX_LABELS)] | UnsetType = UNSET  # patterns checked in _labels
    attributes: Annotated[dict[str, Any], Meta(max_length=_MAX_ATTRIBUTES)] | UnsetType = UNSET
    evidence_hash: str | UnsetType = UNSET  # pattern checked in _checked


decode_records = msgspec.json.Decoder(list[RecordIn] | RecordIn).decode  # a document: records or one
decode_record = msgspec.json.Decoder(RecordIn).decode  # a JSON Lines line
_RECORD_OPTIONAL = ("id", "time_uncertainty_s", "reliability", "credibility", "releasable_to", "attributes", "evidence_hash")
_MsgspecError = msgspec.ValidationError


def _point_of(loc: PointIn) -> PointLocation | None:
    cep = None if loc.cep_m is UNSET else loc.cep_m
    alt = None if loc.alt_m is UNSET else loc.alt_m
    cov: tuple[tuple[float, float], tuple[float, float]] | None = None
    if loc.cov_m2 is not UNSET:
        rows = loc.cov_m2
        if len(rows) != 2 or len(rows[0]) != 2 or len(rows[1]) != 2:
            return None
        (a, b), (c, d) = rows
        if not (_isfinite(a) and _isfinite(b) and _isfinite(c) and _isfinite(d)):
            return None
        cov = ((a, b), (c, d))
    key = (loc.type is UNSET, cep is None, cov is None, alt is None)
    fields = _point_shapes.get(key)
    if fields is None:
        fields = _point_shapes[key] = frozenset(
            ["lat", "lon", *(name for name, unset in zip(("type", "cep_m", "cov_m2", "alt_m"), key, strict=True) if not unset)]
        )
    point = _new(PointLocation)
    _set_dict(point, {"type": "point", "lat": loc.lat, "lon": loc.lon, "cep_m": cep, "cov_m2": cov, "alt_m": alt})
    _set_fields(point, set(fields))
    _set_extra(point, None)
    _set_private(point, None)
    if cov is not None:
        try:
            _check_uncertainty(point)
        except PydanticCustomError:
            return None
    return point


_point_shapes: dict[tuple[bool, ...], frozenset[str]] = {}
_shapes: dict[tuple[bool, ...], frozenset[str]] = {}
_EARLIEST = EARLIEST_TIME


class Checked(Struct, gc=False):
    """A record msgspec decoded and the observation built from it (:func:`checked_records`): everything
    that does not depend on the time of validation is checked; validation adds the future-time check."""

    record: RecordIn
    observation: Observation


#: What :func:`record_parts` gives: id, evidence hash, source, labels, time (UTC) and attributes.
Parts = tuple[str | None, str | None, Source, tuple[str, ...], datetime, dict[str, Any]]


def _checked(r: RecordIn) -> Checked | None:
    """The rules msgspec does not know that do not depend on ``now`` (patterns, a real date not before
    2000, a usable covariance, portable attributes), and the observation built; None if one says no."""
    parts = record_parts(r)
    return None if parts is None else checked_from_parts(r, parts)


def record_parts(r: RecordIn) -> Parts | None:
    """:func:`_checked`'s rules but the location's, and the values they give; None if one says no. Shared
    with file ingest, which writes a plainly valid record's canonical document from them without a model
    object (:mod:`truceline.ingest.validated_json`)."""
    oid = r.id if type(r.id) is str else None  # else UNSET
    if oid is not None and _id_ok(oid) is None:
        return None
    evidence = r.evidence_hash if type(r.evidence_hash) is str else None
    if evidence is not None and _hash_ok(evidence) is None:
        return None
    s = r.source
    source = _sources.get((s.id, s.type, s.org))
    if source is None:
        source = _source({"id": s.id, "type": s.type, "org": s.org})
        if source is None:
            return None
    labels = (s.org,) if r.releasable_to is UNSET else _label_tuple(r.releasable_to, s.org)
    if labels is None or _time_ok(r.time) is None:
        return None
    try:
        when = _fromiso(r.time).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if when < _EARLIEST:
        return None
    attributes: dict[str, Any] = {}
    if r.attributes is not UNSET and r.attributes:
        for name in r.attributes:
            if not _plain(name):
                return None
        try:
            attributes = Observation._attributes_portable(r.attributes)
        except PydanticCustomError:
            return None
    return oid, evidence, source, labels, when, attributes


def checked_from_parts(r: RecordIn, parts: Parts) -> Checked | None:
    """The observation of a record whose :func:`record_parts` passed, as pydantic builds it; None if its
    location or what the model assumes says no."""
    oid, evidence, source, labels, when, attributes = parts
    location = _point_of(r.location)
    if location is None:
        return None
    time_sd = r.time_uncertainty_s
    reliability = r.reliability
    credibility = r.credibility
    key = (oid is None, time_sd is UNSET, reliability is UNSET, credibility is UNSET, r.releasable_to is UNSET, r.attributes is UNSET,
           evidence is None)  # fmt: skip
    fields = _shapes.get(key)
    if fields is None:
        fields = _shapes[key] = frozenset(["time", "kind", "location", "source", *(n for n, u in zip(_RECORD_OPTIONAL, key, strict=True) if not u)])
    obs = _new(Observation)
    _set_dict(
        obs,
        {
            "id": oid,
            "time": when,
            "time_uncertainty_s": None if time_sd is UNSET else time_sd,
            "kind": r.kind,
            "location": location,
            "source": source,
            "reliability": Reliability.F if reliability is UNSET else reliability,
            "credibility": Credibility.CANNOT_BE_JUDGED if credibility is UNSET else credibility,
            "releasable_to": list(labels),
            "attributes": attributes,
            "evidence_hash": evidence,
            "assumed": None,
        },
    )
    _set_fields(obs, set(fields))
    _set_extra(obs, None)
    _set_private(obs, None)
    if oid is None or time_sd is UNSET or (location.cep_m is None and location.cov_m2 is None) or "origin" in attributes:
        try:
            _normalise(obs)  # content id and assumed uncertainties: the model's own code
        except PydanticCustomError:
            return None
    return Checked(r, obs)


def checked_records(data: bytes) -> list[Checked] | None:
    """A JSON document (one record or an array of them) decoded and checked by msgspec in one pass, when every
    record in it is plainly valid whatever the time of validation; None sends the document the ordinary way
    (orjson, then :func:`~truceline.domain.observation_dict_fast.fast_observation` or pydantic per record), which alone reports problems.

    A lone surrogate escape or an integer beyond 64 bits reads differently in msgspec and orjson; both make a
    record not plainly valid here (the first fails to decode, the second fails the attribute check)."""
    with collector_paused():
        try:
            decoded = decode_records(data)
        except (_MsgspecError, msgspec.DecodeError):
            return None
        out: list[Checked] = []
        for r in decoded if isinstance(decoded, list) else [decoded]:
            c = _checked(r)
            if c is None:
                return None
            out.append(c)
        return out


def checked_parts(r: RecordIn) -> Checked | None:
    """:func:`checked_records`' checks of a record built in Python (by a decoder of another layout).

    Struct constructors check no constraints: the caller has checked what :class:`PointIn` and
    :class:`RecordIn` declare with ``Meta`` (ranges, lengths) for the values it put there itself."""
    return _checked(r)


def checked_record(line: bytes | str) -> Checked | None:
    """One JSON Lines record through :func:`checked_records`' checks; None sends it the ordinary way."""
    try:
        return _checked(decode_record(line))
    except (_MsgspecError, msgspec.DecodeError):
        return None


class StoredRecordIn(RecordIn, forbid_unknown_fields=True, gc=False):
    """A stored canonical document: a native record and the ``assumed`` record truceline wrote when the sender left
    an uncertainty unstated (what real senders post, so most stored documents of some sources carry one)."""

    assumed: dict[str, Any] | UnsetType = UNSET  # checked against the rules in checked_stored


decode_stored = msgspec.json.Decoder(StoredRecordIn).decode
_CURRENT_RULES = _defaults.rules_name(_defaults.CURRENT)


def checked_stored(doc: bytes | str) -> Checked | None:
    """:func:`checked_record` for a stored document, ``assumed`` record included when it is exactly what its rules
    give the record (:func:`assumed_as_given`, the model's own check); None sends it the ordinary way. Without
    this, every stored document with an ``assumed`` record went to pydantic, at about twice the cost (docs/performance.md,
    "Twelfth round")."""
    try:
        r = decode_stored(doc)
    except (_MsgspecError, msgspec.DecodeError):
        return None
    c = _checked(r)
    if c is None or r.assumed is UNSET:
        return c
    obs = c.observation
    assumed = assumed_as_given(obs, r.assumed)
    if assumed is None:
        return None
    obs.__dict__["assumed"] = assumed
    obs.__pydantic_fields_set__.add("assumed")  # a set of this observation's own (checked_from_parts)
    return c


def assumed_as_given(observation: Observation, given: Any) -> Assumed | None:
    """The ``assumed`` record pydantic keeps when an observation's input carried ``given`` (a stored document
    carries the one truceline wrote): the rules' own shared record when ``given`` is exactly it (a known rules
    name, the same keys, numbers equal to the rules' values: an integer too, as the store writes 24.0 and pydantic
    reads it), else None, and pydantic decides (it words any mismatch).

    For the fast paths that build an observation without pydantic (:func:`checked_stored`,
    :func:`~truceline.domain.observation_dict_fast.fast_observation`): ``observation`` is as they built it, its
    ``assumed`` what the current rules give it (the model's ``_normalise`` set it), so only older rules are
    worked out again."""
    if type(given) is not dict:
        return None
    rules = given.get("rules")
    if type(rules) is not str:
        return None
    if rules == _CURRENT_RULES:
        expected = observation.assumed
    elif _defaults.table_named(rules) is not None:
        expected = observation._assumed_under(rules)
    else:
        return None
    if expected is None or given.keys() != expected.__pydantic_fields_set__:
        return None  # also an explicit null, which pydantic would keep in the record's fields set
    for name, value in given.items():
        if name != "rules" and (type(value) not in (float, int) or value != expected.__dict__[name]):  # bool is neither
            return None
    return expected


def as_document(c: Checked) -> dict[str, Any]:
    """A checked record as the JSON object it was, for pydantic to word the refusal of a future time.

    Integers in number fields come back as floats (msgspec stored them so); every field but ``time`` is
    valid either way, so pydantic's errors for it are the same as for the original object."""
    return msgspec.to_builtins(c.record)  # type: ignore[no-any-return]


