"""A fast decoder must agree with the row path item by item: the differential check of FIRMS and ACLED.

The row path (the format's row decoder, then the model) is the reference: it alone words refusals. A fast
path (columns, compiled scanners) may validate a row itself only if the row path accepts it with the same
canonical bytes and stores the same row; every other item must be the row path's own Record or Rejection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from truceline.ingest.records import Record, Validated
from truceline.ingest.validation import validate_batch, validation_context
from truceline.ledger.commitment import canonical_observation
from truceline.store.prepared import prepare_observation, prepare_validated_batch
from truceline.store.timecodes import _from_us, _iso, _us


def with_model_outcomes(items: Sequence[Any], now: datetime) -> list[Any]:
    """The row path's items, each Record replaced by (Record, its Observation or the model's errors)."""
    records = [item for item in items if isinstance(item, Record)]
    good, errors = validate_batch([r.value for r in records], validation_context(now))
    refused: dict[int, list[Any]] = {}
    for error in errors:
        refused.setdefault(error.index, []).append(error)
    accepted = iter(good)
    outcome = {id(r): refused[i] if i in refused else next(accepted) for i, r in enumerate(records)}
    return [(item, outcome[id(item)]) if isinstance(item, Record) else item for item in items]


def assert_items_agree(
    items: Sequence[Any], expected: Sequence[Any], received: datetime, how: str, same: Callable[[Validated, Any], None]
) -> int:
    """Assert ``items`` (a fast path's) agree with ``expected`` (:func:`with_model_outcomes`); how many it validated.

    ``how`` names the fast path in messages; ``same(item, observation)`` asserts what the format's path must
    share with the model's observation beyond the canonical bytes and the stored row.
    """
    assert [i.where for i in items] == [(e[0] if isinstance(e, tuple) else e).where for e in expected]
    validated = [i for i in items if isinstance(i, Validated)]
    prepared = iter(prepare_validated_batch([v.observation for v in validated], received))
    received_us = _us(received)
    received_iso = _iso(_from_us(received_us))
    for item, want in zip(items, expected, strict=True):
        if isinstance(item, Validated):
            assert isinstance(want, tuple), f"{item.where}: validated {how}, but the row path rejects it: {want}"
            _, observation = want
            assert not isinstance(observation, list), f"{item.where}: validated {how}, but the model refuses it: {observation}"
            assert item.observation.canonical == canonical_observation(observation), item.where
            same(item, observation)
            mine = next(prepared)
            theirs = prepare_observation(observation, received_us, received_iso, mine.salt)
            assert mine == theirs, item.where
            assert [type(x) for x in mine.columns] == [type(x) for x in theirs.columns], item.where
        elif isinstance(item, Record):
            assert isinstance(want, tuple) and item == want[0], item.where
        else:
            assert item == want, item.where
    return len(validated)
