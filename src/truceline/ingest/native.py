"""Native observation JSON: one object, an array of objects, or JSON Lines (one object per line).

Parsed with orjson, which refuses NaN and Infinity (not JSON) and reports line and column of a syntax error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from truceline.ingest.records import FormatError, Record, Rejection


def decode_json(data: bytes) -> Iterator[Record | Rejection]:
    """Records of a JSON document holding one observation object or an array of them."""
    try:
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


def decode_json_lines(lines: Iterable[bytes]) -> Iterator[Record | Rejection]:
    """Records of JSON Lines; a bad line is a rejection of that line only. Blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Record(f"line {number}", orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            yield Rejection(f"line {number}", "(record)", f"malformed JSON at column {exc.colno}: {exc.msg}")
