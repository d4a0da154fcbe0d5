"""Observations back from their stored canonical documents, for every layer that reads the store.

Fusion (the live runner and each reader's partial view) re-reads what the store holds; the documents were
validated when they arrived, so the clock-skew check is not applied again (a document stored yesterday is
not "from the future" today).

Each document goes through the compiled fast path (:func:`truceline.domain.observation_fast.checked_stored`:
msgspec and the model's own rules, ~4× cheaper than pydantic, ~2× for a document with an ``assumed`` record); one
it does not take (a place, a bearing) is read by orjson and built by the dict fast path
(:func:`truceline.domain.observation_dict_fast.fast_observation`, ~2× cheaper than pydantic); an ``assumed``
record is taken by both when it is exactly what its rules give. What neither takes as plainly valid (an unusual
shape, an ``assumed`` record that does not match) is parsed by pydantic as before, so all give the same
observations (tests/test_documents_fast.py compares them field for field on stored rows and on generated
documents).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from pydantic import TypeAdapter

from truceline.domain.observation import Observation
from truceline.domain.observation_dict_fast import fast_observation
from truceline.domain.observation_fast import checked_stored, collector_paused

_OBSERVATIONS = TypeAdapter(list[Observation])
_NOW = datetime(9999, 1, 1, tzinfo=UTC)
_FAR_FUTURE = {"now": _NOW}  # stored observations were checked on arrival
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def parse_documents(documents: list[str]) -> list[Observation]:
    """Observations back from stored canonical documents (validated when they arrived), in the same order."""
    out: list[Observation | None] = []
    slow: list[int] = []
    with collector_paused():  # a few containers per record, no cycles (see collector_paused)
        for i, doc in enumerate(documents):
            checked = checked_stored(doc)
            if checked is not None:
                out.append(checked.observation)
                continue
            try:  # orjson refuses what it reads differently from pydantic (NaN, a lone surrogate, a huge integer)
                built = fast_observation(_loads(doc), _NOW)
            except _JSONDecodeError:
                built = None
            if built is None:
                slow.append(i)
            out.append(built)
    if slow:
        parsed = _OBSERVATIONS.validate_json("[" + ",".join(documents[i] for i in slow) + "]", context=_FAR_FUTURE)
        for i, obs in zip(slow, parsed, strict=True):
            out[i] = obs
    return out  # type: ignore[return-value]  # every None was replaced just above
