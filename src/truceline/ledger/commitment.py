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

from truceline.ledger.canonical import canonical_json, leaf_bytes

SALT_BYTES = 16


def new_salt() -> bytes:
    """Fresh randomness for one commitment."""
    return os.urandom(SALT_BYTES)


def commitment(salt: bytes, document: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the salt followed by the document's RFC 8785 canonical bytes."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes, got {len(salt)}")
    return "sha256:" + hashlib.sha256(salt + canonical_json(document)).hexdigest()


def observation_leaf(commitment_value: str, received_at: str) -> bytes:
    """The leaf recording that an observation with this commitment was accepted at ``received_at``."""
    return leaf_bytes("observation", {"commitment": commitment_value, "received_at": received_at})
