"""Observations back from their stored canonical documents, for every layer that reads the store.

Fusion (the live runner and each reader's partial view) re-reads what the store holds; the documents were
validated when they arrived, so the clock-skew check is not applied again (a document stored yesterday is
not "from the future" today).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import TypeAdapter

from truceline.domain.observation import Observation

_OBSERVATIONS = TypeAdapter(list[Observation])
_FAR_FUTURE = {"now": datetime(9999, 1, 1, tzinfo=UTC)}  # stored observations were checked on arrival


def parse_documents(documents: list[str]) -> list[Observation]:
    """Observations back from stored canonical documents (validated when they arrived)."""
    return _OBSERVATIONS.validate_json("[" + ",".join(documents) + "]", context=_FAR_FUTURE)
