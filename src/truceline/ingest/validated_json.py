"""Plainly valid native records as the store takes them: file ingest's hot path for JSON documents.

:mod:`truceline.domain.observation_fast` checks records msgspec decoded with a compiled schema (types,
ranges, enumerations, unknown fields in C; patterns, time and attributes in Python) and builds the model's
object, which the store then writes as canonical JSON. File ingest needs only that canonical document and
the few columns the store indexes, as for FIRMS (:mod:`truceline.ingest.firms_columns`). A point record with
an id, no covariance and no ``attributes.origin`` has them written straight from the checked values (what
:func:`~truceline.ledger.commitment.canonical_from_fields` writes of its observation), an unstated time
uncertainty or CEP with the model's own ``assumed`` record. Any other checked record has its observation
built by the model's code as before and turned into the same item. A record whose time is after ``now + skew`` stays
a :class:`~truceline.domain.observation_fast.Checked` record, so that validation words its refusal; a record
the checks do not accept sends its whole document the ordinary way, so every rejection is pydantic's.
tests/test_validated_json.py compares the stored bytes with the model's on generated, edge and mutated input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
import orjson
from msgspec import UNSET, Struct

from truceline.domain.defaults import CEP_PER_SIGMA
from truceline.domain.observation import DEFAULT_CLOCK_SKEW, POINT_CEP_PER_SIGMA, Assumed, Observation, Source, assumed_for_point
from truceline.domain.observation_fast import (
    Checked,
    RecordIn,
    checked_from_parts,
    collector_paused,
    decode_record,
    decode_records,
    record_parts,
)
from truceline.domain.validated import ValidatedObservation
from truceline.ingest.records import Record, Validated
from truceline.ledger.canonical import (
    _SIMPLE_FLOAT_MAX,
    _SIMPLE_FLOAT_MIN,
    MAX_SAFE_INTEGER,
    _Fallback,
    _float_for_orjson,
    _for_orjson,
    canonical_json,
)
from truceline.ledger.commitment import _assumed_doc, canonical_observation

_SORTED_UTC = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z
_MAX_CACHED = 4096
_source_docs: dict[int, tuple[Source, msgspec.Raw]] = {}
_label_docs: dict[tuple[str, ...], msgspec.Raw] = {}
_MsgspecErrors = (msgspec.ValidationError, msgspec.DecodeError)
_dumps = orjson.dumps
_Raw = msgspec.Raw
#: Writes a document whose keys are already in RFC 8785 order (ASCII, sorted) and whose numbers went through
#: :func:`_number`: its bytes are then ``canonical_json``'s. A third of orjson's time for these small
#: documents (orjson starts every output in a fresh 1 KiB buffer).
_encode = msgspec.json.Encoder().encode
_SORTED = orjson.OPT_SORT_KEYS
_SAFE = float(MAX_SAFE_INTEGER)
_LOW, _HIGH = _SIMPLE_FLOAT_MIN, _SIMPLE_FLOAT_MAX  # non-integral doubles here: their shortest repr, in both encoders


class _Where(Struct, gc=False):
    """A point's canonical members, in RFC 8785 order (UNSET members are left out)."""

    alt_m: Any = UNSET
    cep_m: Any = UNSET
    lat: Any = UNSET
    lon: Any = UNSET
    type: str = "point"


class _Document(Struct, gc=False):
    """An observation's canonical members, in RFC 8785 order (UNSET members are left out): a Struct is built
    and written faster than a dict."""

    assumed: Any = UNSET
    attributes: Any = UNSET
    credibility: Any = UNSET
    evidence_hash: Any = UNSET
    id: Any = UNSET
    kind: Any = UNSET
    location: Any = UNSET
    releasable_to: Any = UNSET
    reliability: Any = UNSET
    source: Any = UNSET
    time: Any = UNSET
    time_uncertainty_s: Any = UNSET


_NO_ATTRIBUTES = _Raw(b"{}")
_assumed_docs: dict[int, tuple[Assumed, msgspec.Raw]] = {}


def _assumed_raw(assumed: Assumed) -> msgspec.Raw:
    """An ``assumed`` record's canonical JSON, once per instance (the model shares one per combination; the
    entry holds the instance, so its id is not reused)."""
    entry = _assumed_docs.get(id(assumed))
    if entry is not None and entry[0] is assumed:
        return entry[1]
    raw = _Raw(_dumps(_assumed_doc(assumed), option=_SORTED))
    if len(_assumed_docs) >= _MAX_CACHED:
        _assumed_docs.clear()
    _assumed_docs[id(assumed)] = (assumed, raw)
    return raw


def _number(value: float) -> Any:
    """A finite double as msgspec must be given it to write it as RFC 8785 does: msgspec writes a
    non-integral double from 1e-4 to 1e16 as its shortest repr, as orjson does, and everything
    :func:`~truceline.ledger.canonical._float_for_orjson` turns into an int or a fragment comes as such."""
    if value.is_integer():  # _float_for_orjson's cases, inline (this runs for most numbers of most records)
        if -_SAFE <= value <= _SAFE:
            return int(value)
    elif _LOW <= abs(value) < _HIGH:
        return value
    return _Raw(_dumps(_float_for_orjson(value)))  # beyond: the reference spelling, as a fragment


#: The model's defaults for an unstated reliability and credibility (F, 6), as they are stored.
_RELIABILITY_DEFAULT: str = Observation.model_fields["reliability"].default._value_
_CREDIBILITY_DEFAULT: int = Observation.model_fields["credibility"].default._value_


def _source_doc(source: Source) -> msgspec.Raw:
    """A source's canonical JSON, once per instance (:mod:`~truceline.domain.observation_fast` shares one
    per distinct source; the entry holds the instance, so its id is not reused)."""
    entry = _source_docs.get(id(source))
    if entry is not None and entry[0] is source:
        return entry[1]
    fragment = msgspec.Raw(canonical_json({"id": source.id, "type": source.type._value_, "org": source.org}))
    if len(_source_docs) >= _MAX_CACHED:
        _source_docs.clear()
    _source_docs[id(source)] = (source, fragment)
    return fragment


def _labels_doc(labels: tuple[str, ...]) -> msgspec.Raw:
    fragment = _label_docs.get(labels)
    if fragment is None:
        fragment = msgspec.Raw(canonical_json(list(labels)))
        if len(_label_docs) >= _MAX_CACHED:
            _label_docs.clear()
        _label_docs[labels] = fragment
    return fragment


def validated_of(observation: Observation) -> ValidatedObservation | None:
    """The stored form of a validated observation located at a point (None for a bearing or an unresolved
    place): the values :func:`~truceline.store.prepared.prepare_observation` takes from it."""
    point = observation.point
    sigma = observation.sigma_m
    if point is None or sigma is None:
        return None
    source = observation.source
    return ValidatedObservation(
        canonical_observation(observation),
        str(observation.id),
        observation.time,
        observation.time_sd_s,
        observation.kind._value_,
        observation.location.type,
        point[0],
        point[1],
        sigma,
        source.id,
        source.type._value_,
        source.org,
        observation.reliability._value_,
        int(observation.credibility),
        tuple(observation.releasable_to),
    )


def _as_written(text: str) -> bool:
    """Whether a time that passed :func:`record_parts` is exactly what orjson writes for it with ``OPT_UTC_Z``: UTC
    (``Z``) with whole seconds, or with six digits of microseconds that are not all zero (orjson leaves zero
    microseconds out). The pattern record_parts checks leaves no other text of these lengths ending in ``Z``."""
    n = len(text)
    return text[-1] == "Z" and (n == 20 or (n == 27 and text[20:26] != "000000"))


def validated_or_checked(r: RecordIn, latest: datetime) -> ValidatedObservation | Checked | None:
    """A checked record as the store takes it, or as a :class:`Checked` record when its time is after
    ``latest`` (validation refuses it, in its words); None when the checks do not accept it."""
    parts = record_parts(r)
    if parts is None:
        return None
    oid, evidence, source, labels, when, attributes = parts
    loc = r.location
    cep, time_sd = loc.cep_m, r.time_uncertainty_s
    direct = oid is not None and loc.cov_m2 is UNSET and "origin" not in attributes and when <= latest
    assumed: Assumed | None = None
    if direct and (time_sd is UNSET or cep is UNSET):  # unknown is not zero: the model's assumptions, its shared record
        assumed = assumed_for_point(source.type._value_, r.kind._value_, time_sd is not UNSET, cep is UNSET)
        direct = assumed is not None and (time_sd is not UNSET or assumed.time_uncertainty_s is not None) and (
            cep is not UNSET or assumed.cep_m is not None
        )  # else not what these rules say: the model's object and its route decide
    if direct:
        reliability = _RELIABILITY_DEFAULT if r.reliability is UNSET else r.reliability._value_
        credibility = _CREDIBILITY_DEFAULT if r.credibility is UNSET else r.credibility._value_
        kind = r.kind._value_
        text = r.time
        lat, lon = loc.lat, loc.lon
        labels_doc = _label_docs.get(labels) or _labels_doc(labels)
        source_entry = _source_docs.get(id(source))
        source_doc = source_entry[1] if source_entry is not None and source_entry[0] is source else _source_doc(source)
        try:
            # Numbers inline where msgspec writes them as RFC 8785 does (see _number): one call fewer per value.
            document = _Document(
                UNSET if assumed is None else _assumed_raw(assumed),
                _Raw(_dumps(_for_orjson(attributes), option=_SORTED)) if attributes else _NO_ATTRIBUTES,
                credibility,
                UNSET if evidence is None else evidence,
                oid,
                kind,
                _Where(
                    UNSET if loc.alt_m is UNSET else _number(loc.alt_m),
                    UNSET if cep is UNSET else cep if _LOW <= cep < _HIGH and not cep.is_integer() else _number(cep),
                    lat if _LOW <= abs(lat) < _HIGH and not lat.is_integer() else _number(lat),
                    lon if _LOW <= abs(lon) < _HIGH and not lon.is_integer() else _number(lon),
                ),
                labels_doc,
                reliability,
                source_doc,
                # A UTC time as the model's dump and orjson write it (OPT_UTC_Z); given as exactly that (seconds, or
                # six digits of microseconds not all zero, then ``Z``; record_parts read it), it is written as given.
                text if _as_written(text) else _Raw(_dumps(when, option=_SORTED_UTC)),
                UNSET if time_sd is UNSET else time_sd if _LOW <= time_sd < _HIGH and not time_sd.is_integer() else _number(time_sd),
            )
            canonical = _encode(document)
        except (_Fallback, orjson.JSONEncodeError):
            pass  # an unusual attribute value: the model's object and its canonical route
        else:
            return ValidatedObservation(
                canonical, oid, when, assumed.time_uncertainty_s if time_sd is UNSET else time_sd, kind, "point", lat, lon,  # type: ignore[union-attr,arg-type]
                assumed.cep_m / CEP_PER_SIGMA if cep is UNSET else cep / POINT_CEP_PER_SIGMA,  # type: ignore[union-attr,operator]
                source.id, source.type._value_, source.org, reliability, credibility, labels,
            )  # fmt: skip
    checked = checked_from_parts(r, parts)
    if checked is None or checked.observation.time > latest:
        return checked
    return validated_of(checked.observation) or checked


def as_items(prefix: str, items: Sequence[ValidatedObservation | Checked]) -> list[Validated | Record]:
    """``items`` numbered from 1 as ``{prefix} {n}``: :class:`Validated`, or :class:`Record` for a checked record.

    Built with the cyclic collector paused (small objects, no cycles), as the decoders of whole documents
    build everything else."""
    with collector_paused():
        return [
            Validated(f"{prefix} {i}", item) if type(item) is ValidatedObservation else Record(f"{prefix} {i}", item)
            for i, item in enumerate(items, start=1)
        ]


def validated_items(prefix: str, records: Iterable[RecordIn | None], latest: datetime) -> list[Validated | Record] | None:
    """Every record as file ingest takes it (:func:`validated_or_checked`), numbered from 1 as ``{prefix} {n}``:
    :class:`Validated`, or :class:`Record` for a future time; None as soon as one is not accepted (or is None:
    the decoder could not map it). Call with the cyclic collector paused."""
    out: list[Validated | Record] = []
    append = out.append
    for number, r in enumerate(records, start=1):
        item = None if r is None else validated_or_checked(r, latest)
        if item is None:
            return None
        where = f"{prefix} {number}"
        append(Validated(where, item) if type(item) is ValidatedObservation else Record(where, item))
    return out


def validated_document(data: bytes, now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW) -> list[Validated | Record] | None:
    """A native JSON document (one record or an array) decoded by msgspec and checked in one pass, when every
    record in it is plainly valid: ``item 1``, ``item 2``...; None sends it the ordinary way (orjson, then
    validation per record).

    ``now``: give one no later than validation's, so that nothing is accepted here that validation refuses."""
    with collector_paused():
        try:
            decoded = decode_records(data)
        except _MsgspecErrors:
            return None
        items = validated_items("item", decoded if isinstance(decoded, list) else [decoded], now + skew)
        del decoded  # freed while paused: the collector's first pass afterwards would walk its lists for nothing
        return items


def validated_batch(data: bytes, latest: datetime) -> list[ValidatedObservation] | None:
    """A native JSON body (one record or an array) as the store takes it, when every record in it is plainly
    valid, located at a point and not after ``latest``: the HTTP batch's hot path, without a model object per
    record (a third of the parser's time). None sends the body the ordinary way (the model's objects, then
    validation, which alone words refusals); a batch is atomic, so one such record is enough."""
    with collector_paused():
        try:
            decoded = decode_records(data)
        except _MsgspecErrors:
            return None
        out: list[ValidatedObservation] = []
        append = out.append
        for r in decoded if isinstance(decoded, list) else [decoded]:
            item = validated_or_checked(r, latest)
            if type(item) is not ValidatedObservation:
                return None
            append(item)
        del decoded  # freed while paused, as in validated_document
        return out


def validated_line(line: bytes | str, latest: datetime) -> ValidatedObservation | Checked | None:
    """One JSON Lines record through :func:`validated_or_checked`; None sends it the ordinary way."""
    try:
        return validated_or_checked(decode_record(line), latest)
    except _MsgspecErrors:
        return None

