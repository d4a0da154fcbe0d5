"""Salted commitments: how a leaf can prove an observation without revealing it to everyone.

The ledger is public (anyone may hold a bundle), but an observation is releasable only to some readers.
So an observation's leaf holds ``sha256(salt || canonical_json(document))`` rather than the document. A
reader who may see the observation gets the document and its salt and can recompute the commitment; for
anyone else, the random 16-byte salt makes the commitment reveal nothing, not even for guessable documents.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import orjson

from truceline.domain.observation import Assumed, Observation, PlaceLocation, PointLocation
from truceline.ledger.canonical import LEAF_VERSION, _Fallback, _float_for_orjson, _for_orjson, canonical_json

SALT_BYTES = 16
_SORTED = orjson.OPT_SORT_KEYS
_SORTED_UTC = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z


def new_salt() -> bytes:
    """Fresh randomness for one commitment."""
    return os.urandom(SALT_BYTES)


def commitment(salt: bytes, document: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the salt followed by the document's RFC 8785 canonical bytes."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes, got {len(salt)}")
    return "sha256:" + hashlib.sha256(salt + canonical_json(document)).hexdigest()


def canonical_observation(observation: Observation) -> bytes:
    """RFC 8785 bytes of an observation's document: what is stored, served, hashed and committed to.

    Equal to ``canonical_json(observation.model_dump(mode="json", exclude_none=True))``, computed faster:
    only the few number fields and the free-form attributes need attention before orjson writes sorted keys
    (the rest are strings, so already canonical). Runs once per ingested observation.
    """
    fast = canonical_from_fields(observation)
    if fast is not None:
        return fast
    doc = observation.model_dump(mode="json", exclude_none=True)
    try:
        if "time_uncertainty_s" in doc:  # absent when the sender did not state it (then ``assumed`` has it)
            doc["time_uncertainty_s"] = _float_for_orjson(doc["time_uncertainty_s"])
        if "assumed" in doc:
            doc["assumed"] = _for_orjson(doc["assumed"])
        location = doc["location"]
        for key, value in location.items():
            if type(value) is float:
                location[key] = _float_for_orjson(value)
        if "cov_m2" in location:
            location["cov_m2"] = _for_orjson(location["cov_m2"])
        if doc["attributes"]:
            doc["attributes"] = _for_orjson(doc["attributes"])
        return orjson.dumps(doc, option=_SORTED)
    except _Fallback:  # the reference route, from a fresh dump (``doc`` may hold fragments by now)
        return canonical_json(observation.model_dump(mode="json", exclude_none=True))


#: The fields :func:`canonical_from_fields` writes; a model with any other field is dumped by pydantic.
_KNOWN_FIELDS = (
    set(Observation.model_fields)
    == {"id", "time", "time_uncertainty_s", "kind", "location", "source", "reliability", "credibility", "releasable_to",
        "attributes", "evidence_hash", "assumed"}
    and set(PointLocation.model_fields) == {"type", "lat", "lon", "cep_m", "cov_m2", "alt_m"}
    and set(PlaceLocation.model_fields) == {"type", "name", "precision", "lat", "lon", "admin"}
)
_assumed_docs: dict[int, tuple[Assumed, dict[str, Any]]] = {}


def _assumed_doc(assumed: Assumed) -> dict[str, Any]:
    """``assumed`` as orjson must write it; remembered per instance (they are shared, one per combination)."""
    entry = _assumed_docs.get(id(assumed))
    if entry is not None and entry[0] is assumed:  # the entry holds the instance, so its id is not reused
        return entry[1]
    doc = _for_orjson(assumed.model_dump(mode="json", exclude_none=True))
    if len(_assumed_docs) >= 4096:
        _assumed_docs.clear()
    _assumed_docs[id(assumed)] = (assumed, doc)
    return doc  # type: ignore[no-any-return]


def canonical_from_fields(observation: Observation) -> bytes | None:
    """:func:`canonical_observation` written from the model's fields instead of ``model_dump`` (a third of
    the cost), for point and place locations; None for anything else (bearings, subclasses, a model whose
    fields changed), which goes through ``model_dump``. tests/test_canonical_fields.py checks the bytes
    are those of the ``model_dump`` route."""
    if type(observation) is not Observation or not _KNOWN_FIELDS:
        return None
    fields = observation.__dict__
    loc = fields["location"]
    try:
        if type(loc) is PointLocation:
            where: dict[str, Any] = {"type": "point", "lat": _float_for_orjson(loc.lat), "lon": _float_for_orjson(loc.lon)}
            if loc.cep_m is not None:
                where["cep_m"] = _float_for_orjson(loc.cep_m)
            if loc.cov_m2 is not None:
                (a, b), (c, d) = loc.cov_m2
                where["cov_m2"] = [[_float_for_orjson(a), _float_for_orjson(b)], [_float_for_orjson(c), _float_for_orjson(d)]]
            if loc.alt_m is not None:
                where["alt_m"] = _float_for_orjson(loc.alt_m)
        elif type(loc) is PlaceLocation:
            where = {"type": "place", "name": loc.name, "precision": loc.precision._value_}
            if loc.lat is not None:
                where["lat"] = _float_for_orjson(loc.lat)
            if loc.lon is not None:
                where["lon"] = _float_for_orjson(loc.lon)
            if loc.admin is not None:
                where["admin"] = loc.admin
        else:
            return None
        source = fields["source"]
        attributes = fields["attributes"]
        doc: dict[str, Any] = {
            "id": fields["id"],
            "time": fields["time"],  # orjson writes a UTC datetime as pydantic does (OPT_UTC_Z: ``Z``)
            "kind": fields["kind"]._value_,
            "location": where,
            "source": {"id": source.id, "type": source.type._value_, "org": source.org},
            "reliability": fields["reliability"]._value_,
            "credibility": fields["credibility"]._value_,
            "releasable_to": fields["releasable_to"],
            "attributes": _for_orjson(attributes) if attributes else {},
        }
        if fields["time_uncertainty_s"] is not None:
            doc["time_uncertainty_s"] = _float_for_orjson(fields["time_uncertainty_s"])
        if fields["evidence_hash"] is not None:
            doc["evidence_hash"] = fields["evidence_hash"]
        if fields["assumed"] is not None:
            doc["assumed"] = _assumed_doc(fields["assumed"])
        if doc["id"] is None:
            return None
        return orjson.dumps(doc, option=_SORTED_UTC)
    except (_Fallback, orjson.JSONEncodeError):
        return None


def observation_leaf(commitment_value: str, received_at: str) -> bytes:
    """The leaf recording that an observation with this commitment was accepted at ``received_at``.

    Both values are ASCII strings, so orjson with sorted keys writes the canonical envelope directly.
    """
    envelope = {"body": {"commitment": commitment_value, "received_at": received_at}, "type": "observation", "v": LEAF_VERSION}
    return orjson.dumps(envelope, option=_SORTED)


def observation_leaf_parts(received_at: str) -> tuple[bytes, bytes]:
    """The bytes of :func:`observation_leaf` before and after the commitment's 64 hex digits, for a batch received
    at one moment: each leaf is then ``head + hexdigest + tail``, one concatenation instead of a dict and an
    orjson call per observation (hex digits are written as they are, so the bytes are the same)."""
    marker = "0" * 64
    head, found, tail = observation_leaf("sha256:" + marker, received_at).partition(marker.encode())
    if not found or marker.encode() in tail:  # pragma: no cover - a received_at of 64 zeros is no time
        raise ValueError(f"cannot split the leaf envelope around the commitment for received_at {received_at!r}")
    return head, tail


def commit_canonical(salt: bytes, canonical: bytes) -> str:
    """:func:`commitment` for a document already in canonical bytes."""
    return "sha256:" + hashlib.sha256(salt + canonical).hexdigest()
