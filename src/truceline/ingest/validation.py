"""Turning decoded records into observations, with one precise error per bad field.

Shared by the HTTP API (a batch is atomic: any error rejects all) and by file ingest (each record stands
alone: bad ones are reported, good ones kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from truceline.domain.observation import DEFAULT_CLOCK_SKEW, Observation
from truceline.domain.observation_dict_fast import fast_observations
from truceline.domain.observation_fast import collector_paused

_BATCH = TypeAdapter(list[Observation])
_LOCATION_TAGS = frozenset({"point", "bearing", "place"})
_MAX_VALUE_CHARS = 120


@dataclass(frozen=True)
class FieldError:
    """One rule one record broke: which record, which field (dotted path), what value, and why."""

    index: int
    field: str
    message: str
    rule: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form used by the API and the CLI's ``--json`` summary."""
        out: dict[str, Any] = {"index": self.index, "field": self.field, "message": self.message, "rule": self.rule}
        if self.value is not None:
            out["value"] = self.value
        return out


def _field_path(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        # Drop the tag pydantic inserts for the location union ("location.point.lat" → "location.lat").
        if i > 0 and loc[i - 1] == "location" and part in _LOCATION_TAGS:
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else part)
    return ".".join(parts).replace(".[", "[")


def _short(value: Any) -> str | None:
    if isinstance(value, dict | list):
        return None  # the whole sub-document is not helpful in an error; the path says where
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _message(err: Any) -> str:
    """pydantic's message, made precise where strict numbers refuse a string or a boolean (issue 20)."""
    if err["type"] == "float_type" and isinstance(err.get("input"), str | bool):
        got = "a boolean" if isinstance(err["input"], bool) else "a string"
        return f"expected a JSON number, got {got}: numbers are never read from strings or booleans"
    return str(err["msg"])


def _errors(exc: ValidationError, offset: int = 0) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        index = loc[0] if loc and isinstance(loc[0], int) else 0
        out.append(
            FieldError(
                index=offset + index,
                field=_field_path(loc[1:]) or "(record)",
                message=_message(err),
                rule=err["type"],
                value=_short(err.get("input")),
            )
        )
    return out


def validation_context(now: datetime | None = None, clock_skew: timedelta = DEFAULT_CLOCK_SKEW) -> dict[str, Any]:
    """The context the domain validators read: one ``now`` for the whole batch, and the skew allowance."""
    return {"now": now or datetime.now(UTC), "clock_skew": clock_skew}


def _validate(records: Sequence[Any], context: dict[str, Any]) -> tuple[list[Observation | None], list[int], list[FieldError]]:
    """Every record through the fast path; those it leaves to pydantic validated together there.

    Returns one slot per record (None where the record was refused), the positions pydantic validated,
    and pydantic's errors with indices into ``records``: the same errors as validating everything through
    pydantic, since the fast path only ever accepts what pydantic accepts, in the same form.
    """
    now = context.get("now") or datetime.now(UTC)
    skew = context.get("clock_skew", DEFAULT_CLOCK_SKEW)
    records = list(records)  # checked records refused for their time are replaced by documents
    with collector_paused():
        built = fast_observations(records, now, skew)
    slow = [i for i, observation in enumerate(built) if observation is None]
    if not slow:
        return built, slow, []
    try:
        for i, observation in zip(slow, _BATCH.validate_python([records[i] for i in slow], context=context), strict=True):
            built[i] = observation
        return built, slow, []
    except ValidationError as exc:
        errors = [
            FieldError(slow[e.index], e.field, e.message, e.rule, e.value) for e in _errors(exc)
        ]
    bad = {error.index for error in errors}
    good_slow = [i for i in slow if i not in bad]
    try:
        validated = _BATCH.validate_python([records[i] for i in good_slow], context=context)
    except ValidationError as exc:  # pragma: no cover - a record valid alone is valid in a list
        raise RuntimeError("record validity depended on its neighbours") from exc
    for i, observation in zip(good_slow, validated, strict=True):
        built[i] = observation
    return built, slow, errors


def validate_batch(records: Sequence[Any], context: dict[str, Any]) -> tuple[list[Observation], list[FieldError]]:
    """Validate all records; return the good observations (in input order) and every error (indices into ``records``).

    Plainly valid records take the fast path (:mod:`truceline.domain.observation_fast`); the rest are
    validated by pydantic as a list, and only when something is wrong are its good records validated again
    on their own so that file ingest can keep them.
    """
    built, _, errors = _validate(records, context)
    return [observation for observation in built if observation is not None], errors


def validate_all_or_nothing(records: Sequence[Any], context: dict[str, Any]) -> tuple[list[Observation], list[FieldError]]:
    """Atomic variant for the API: either every record is valid, or no observation is returned."""
    built, _, errors = _validate(records, context)
    if errors:
        return [], errors
    return [observation for observation in built if observation is not None], []
