"""Native observation JSON: one object, an array of objects, or JSON Lines (one object per line).

Parsed with orjson, which refuses NaN and Infinity (not JSON) and reports line and column of a syntax error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson

from truceline.domain.observation import DEFAULT_CLOCK_SKEW
from truceline.domain.observation_fast import checked_record, checked_records, collector_paused
from truceline.domain.validated import ValidatedObservation
from truceline.ingest.records import FormatError, Record, Rejection, Validated
from truceline.ingest.validated_json import as_items, validated_document, validated_line


def _non_finite(token: str) -> float:
    return float(token.replace("Infinity", "inf"))


def loads_non_finite(data: bytes) -> Any:
    """A body orjson refused, read again with NaN, Infinity, -Infinity and overflowing numbers (1e999) as
    non-finite floats, so that validation names the field that holds one (a 422, not a bare 400).

    Only for the error path of intake: it raises ValueError when the body is not JSON even so, and whatever
    it returns must still be refused, since orjson refused it (callers check; see api/batch_parser.py).
    """
    try:
        doc = json.loads(data, parse_constant=_non_finite)
    except (ValueError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    _refuse_lone_surrogates(doc)
    return doc


def _refuse_lone_surrogates(doc: Any) -> None:
    """ValueError if a string or key holds half of a UTF-16 pair (``"\\ud800"``): orjson refuses it, Python's
    json does not, and such a string is not text (it cannot even be encoded to answer the sender)."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and not node.isascii():
            try:
                node.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"string with a lone surrogate (U+{ord(node[exc.start]):04X}) is not text") from None


def decode_json(data: bytes, validate_at: datetime | None = None) -> Iterator[Record | Rejection | Validated]:
    """Records of a JSON document holding one observation object or an array of them.

    A document whose every record is plainly valid is decoded and checked in one pass by msgspec
    (:func:`truceline.domain.observation_fast.checked_records`); any other is read by orjson as before.
    With ``validate_at`` (file ingest: a time no later than validation's ``now``), such a document's records
    come out as :class:`Validated`, ready for the store (:mod:`truceline.ingest.validated_json`).
    """
    if validate_at is not None:
        validated = validated_document(data, validate_at)
        if validated is not None:
            yield from validated
            return
    checked = checked_records(data) if validate_at is None else None  # (the same checks said no just now)
    if checked is not None:
        yield from as_items("item", checked)
        return
    try:
        with collector_paused():
            doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if isinstance(doc, dict):
        yield Record("item 1", doc)
    elif isinstance(doc, list):
        for i, item in enumerate(doc, start=1):
            yield Record(f"item {i}", item)
    else:
        raise FormatError(f"expected a JSON object or array of objects, got {type(doc).__name__}")


def decode_json_lines(lines: Iterable[bytes], validate_at: datetime | None = None) -> Iterator[Record | Rejection | Validated]:
    """Records of JSON Lines; a bad line is a rejection of that line only. Blank lines are skipped.

    ``validate_at`` as for :func:`decode_json`: plainly valid lines come out as :class:`Validated`."""
    latest = None if validate_at is None else validate_at + DEFAULT_CLOCK_SKEW
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        checked = checked_record(line) if latest is None else validated_line(line, latest)
        if checked is not None:
            where = f"line {number}"
            yield Validated(where, checked) if type(checked) is ValidatedObservation else Record(where, checked)
            continue
        try:
            yield Record(f"line {number}", orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            yield Rejection(f"line {number}", "(record)", f"malformed JSON at column {exc.colno}: {exc.msg}")
