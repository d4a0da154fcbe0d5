"""From request body to prepared rows: the CPU-bound half of ``POST /observations``.

It is a plain function of plain values so that the server can run it in a pool of processes (Python runs
one thread at a time; parsing, validation, canonical JSON and hashing take most of an ingest's time) while
the main process only writes to SQLite. Errors come back as values, never as exceptions across processes.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from truceline.domain.observation_fast import checked_records
from truceline.ingest.native import loads_non_finite
from truceline.ingest.validated_json import validated_batch
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.service.procs import orphan_free_pool, start_workers
from truceline.service.settings import GC_FIRST_THRESHOLD
from truceline.store.prepared import PreparedColumns, PreparedObservation, prepare_batch, prepare_validated_columns

MAX_ERRORS_LISTED = 1000


@dataclass(frozen=True)
class ParsedBatch:
    """Either prepared observations (``status`` 0) or an HTTP status with its JSON payload.

    A parsed batch's ``items`` are :class:`~truceline.store.prepared.PreparedColumns`: one list per field,
    which crosses back to the server with C-level pickling and lets the store insert without Python code per
    row."""

    status: int = 0
    payload: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # metric label of a refusal
    items: Sequence[PreparedObservation] = field(default_factory=list)


def parse_batch(body: bytes, received_at: datetime, clock_skew_s: float, max_items: int) -> ParsedBatch:
    """Parse, validate and prepare one batch; all or nothing, like the API promises.

    A body whose every record is plainly valid is decoded and checked in one pass by msgspec's compiled
    schema; when every record is also located at a point and not in the future, its rows are written from
    the checked values without a model object per record (:func:`truceline.ingest.validated_json.validated_batch`,
    what file ingest does), else from the model's objects
    (:func:`truceline.domain.observation_fast.checked_records`). Any other body is read by orjson and
    validated record by record, which alone words refusals, so the answer to a bad body is unchanged.
    """
    valid = validated_batch(body, received_at + timedelta(seconds=clock_skew_s))
    if valid and len(valid) <= max_items:
        return ParsedBatch(items=prepare_validated_columns(valid, received_at))
    checked = checked_records(body)
    if checked and len(checked) <= max_items:
        return _parsed(checked, received_at, clock_skew_s, max_items)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        detail = f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        return _not_json(body, detail, received_at, clock_skew_s, max_items)
    return _parsed(doc, received_at, clock_skew_s, max_items)


def _not_json(body: bytes, detail: str, received_at: datetime, clock_skew_s: float, max_items: int) -> ParsedBatch:
    """A body orjson refused: 422 naming the field if NaN, Infinity or 1e999 made it so, else 400.

    A sender who writes ``"lat": NaN`` learns which field of which item is wrong, like for any bad value;
    nothing orjson refused is ever stored, whatever the second reading finds.
    """
    try:
        doc = loads_non_finite(body)
    except ValueError:
        return ParsedBatch(400, {"detail": detail}, "malformed_json")
    parsed = _parsed(doc, received_at, clock_skew_s, max_items)
    return parsed if parsed.status else ParsedBatch(400, {"detail": detail}, "malformed_json")


def _parsed(doc: Any, received_at: datetime, clock_skew_s: float, max_items: int) -> ParsedBatch:
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        return ParsedBatch(422, {"detail": "the batch is empty"}, "empty")
    if len(items) > max_items:
        return ParsedBatch(413, {"detail": f"batch has {len(items)} items; the limit is {max_items}"}, "too_many_items")
    context = validation_context(received_at, timedelta(seconds=clock_skew_s))
    observations, errors = validate_all_or_nothing(items, context)
    if errors:
        bad_items = len({e.index for e in errors})
        payload = {
            "detail": f"{bad_items} of {len(items)} observations are invalid; nothing was stored",
            "errors": [e.as_dict() for e in errors[:MAX_ERRORS_LISTED]],
            "errors_total": len(errors),
        }
        return ParsedBatch(422, payload, "invalid")
    return ParsedBatch(items=PreparedColumns(prepare_batch(observations, received_at)))


def now() -> datetime:
    """The reception time stamped on a batch."""
    return datetime.now(UTC)


_WARM_UP_BODY = orjson.dumps(
    {
        "id": "warm-up",
        "time": "2023-04-02T03:15:00Z",
        "kind": "explosion",
        "location": {"lat": 48.105, "lon": 37.712, "cep_m": 150},
        "source": {"id": "warm-up", "type": "acoustic", "org": "UA"},
        "reliability": "B",
        "credibility": 2,
    }
)


def warm_up() -> int:
    """Parse one observation (imports, schema and first-call caches), then tune the collector for batches.

    ``gc.freeze`` moves the imported modules' objects out of the collector's view: a full collection,
    which the many objects of a batch trigger, then scans only what the batches made. A batch makes tens of
    thousands of short-lived objects that reference counting frees; a higher first threshold stops the
    collector from scanning them again and again while they are still alive.
    """
    parsed = parse_batch(_WARM_UP_BODY, now(), 300.0, 1)
    if parsed.status:
        raise RuntimeError(f"the parser refused its own warm-up observation: {parsed.payload}")
    gc.freeze()
    gc.set_threshold(GC_FIRST_THRESHOLD, 10, 10)
    return len(parsed.items)


async def start_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` parser processes, started and warmed up before the first request arrives.

    Must be awaited on the event loop's thread (the thread that spawns the workers must outlive them, see
    :mod:`truceline.service.procs`).
    """
    pool = orphan_free_pool(workers)
    futures = start_workers(pool, workers, warm_up)
    await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
    return pool
