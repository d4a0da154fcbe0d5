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

from truceline.domain.observation import Observation
from truceline.ledger.canonical import LEAF_VERSION, _Fallback, _float_for_orjson, _for_orjson, canonical_json

SALT_BYTES = 16
_SORTED = orjson.OPT_SORT_KEYS


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


def observation_leaf(commitment_value: str, received_at: str) -> bytes:
    """The leaf recording that an observation with this commitment was accepted at ``received_at``.

    Both values are ASCII strings, so orjson with sorted keys writes the canonical envelope directly.
    """
    envelope = {"body": {"commitment": commitment_value, "received_at": received_at}, "type": "observation", "v": LEAF_VERSION}
    return orjson.dumps(envelope, option=_SORTED)


def commit_canonical(salt: bytes, canonical: bytes) -> str:
    """:func:`commitment` for a document already in canonical bytes."""
    return "sha256:" + hashlib.sha256(salt + canonical).hexdigest()
