"""ACLED CSV rows checked, serialised and identified in compiled code; Python only splits rows and wraps results.

The row path (:func:`truceline.ingest.acled.decode_acled`, then the model) costs ~33 µs per row against
``csv.reader``'s ~2 (docs/performance.md). Here ``csv.reader`` still splits the rows (quoting, cells across
lines: it is the floor the bench compares with), and the C extension ``_acled_rows`` pulls them from it in
blocks: a row whose cells it can vouch for under the row decoder's rules and the model's becomes a
:class:`~truceline.ingest.records.Validated` with its RFC 8785 document written in C; every other row comes
back and is decoded here by the row decoder, so every rejection is the row path's. The event type pair is
mapped by :data:`~truceline.ingest.acled.EVENT_KINDS` here (remembered per distinct pair of cells), and the
document's constant pieces come from :func:`~truceline.ledger.canonical.canonical_json`.
When the extension is not built, :data:`BACKEND` is ``"python"`` and :func:`decode_acled_validated` is
:func:`~truceline.ingest.acled.decode_acled`.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from truceline.domain.observation import DEFAULT_CLOCK_SKEW, EARLIEST_TIME, MAX_ATTRIBUTES_BYTES, PLACE_PRECISION_SIGMA_M
from truceline.domain.observation_fast import collector_paused
from truceline.domain.validated import ValidatedObservation
from truceline.ingest.acled import (
    DEFAULT_CREDIBILITY,
    DEFAULT_RELEASABLE_TO,
    DEFAULT_RELIABILITY,
    EVENT_KINDS,
    GEO_PRECISION,
    REQUIRED_COLUMNS,
    SOURCE,
    TIME_PRECISION_S,
    _CellError,
    _record,
    decode_acled,
    read_header,
)
from truceline.ingest.records import FormatError, Record, Rejection, Validated
from truceline.ledger.canonical import canonical_json

__all__ = ["BACKEND", "decode_acled_validated", "decode_acled_validated_bytes", "document_pieces"]

_BLOCK = 1024
#: What str.splitlines ends a line at besides \n (decode_acled_bytes splits so).
_OTHER_BREAKS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_MAX_KINDS = 4096
_EPOCH = date(1970, 1, 1)
_NOON = time(12, tzinfo=UTC)

_rows: Any
try:
    _rows = importlib.import_module("truceline.ingest._acled_rows")  # built from _acled_rows.c; no type stub
    BACKEND = "c"
except ImportError:  # not built here: the row path decodes every row
    _rows, BACKEND = None, "python"
if MAX_ATTRIBUTES_BYTES != 56 * 1024:  # the C code holds the model's limit as a constant
    _rows, BACKEND = None, "python"


def document_pieces() -> tuple[bytes, bytes, bytes, bytes]:
    """The constant pieces of an ACLED row's canonical document, in the order the C code writes them:
    before the event id, between the attributes and the id's tail, after the place's precision up to the time,
    and before the time uncertainty. ValueError if the serialiser ever orders the members otherwise."""
    text = canonical_json(
        {
            "attributes": {"acled_event_id": "@E@"},
            "credibility": DEFAULT_CREDIBILITY,
            "id": "acled-@I@",
            "kind": "@K@",
            "location": {"type": "place", "name": "@N@", "precision": 1, "lat": 1, "lon": 1},
            "source": SOURCE,
            "reliability": DEFAULT_RELIABILITY,
            "releasable_to": list(DEFAULT_RELEASABLE_TO),
            "time": "@T@",
            "time_uncertainty_s": 1,
        }
    )
    expected = b'{"attributes":{"acled_event_id":"@E@"},"credibility":'
    first, rest = b'{"attributes":{"acled_event_id":', text[len(b'{"attributes":{"acled_event_id":"@E@"') :]
    between, found, rest = rest.partition(b'@I@","kind":"@K@","location":{"lat":1,"lon":1,"name":"@N@","precision":1')
    tail, found2, last = rest.partition(b'@T@"')
    if not (text.startswith(expected) and found and found2 and last == b',"time_uncertainty_s":1}'):
        raise ValueError(f"the ACLED document template is not in the order the C code writes: {text!r}")
    return first, between, tail, b',"time_uncertainty_s":'


def _kinds() -> tuple[dict[str, dict[str, str | None]], Any]:
    """The cache of event type pairs the C code reads, and the callback that fills it (the row decoder's rule)."""
    kinds: dict[str, dict[str, str | None]] = {}

    def kind_of(event_type: str, sub_event_type: str) -> str | None:
        if sum(len(v) for v in kinds.values()) >= _MAX_KINDS:
            kinds.clear()
        kind = EVENT_KINDS.get((event_type.strip().lower(), sub_event_type.strip().lower()))
        kinds.setdefault(event_type, {})[sub_event_type] = kind
        return kind

    return kinds, kind_of


def _day(when: datetime) -> int:
    return (when.date() - _EPOCH).days


def _spec(names: list[str], now: datetime, skew: timedelta) -> tuple[Any, ...]:
    first = EARLIEST_TIME - timedelta(hours=12)  # the first day whose noon UTC is not before the earliest time
    first_day = _day(first) + (datetime.combine(first.date(), _NOON) < EARLIEST_TIME)
    last_day = _day(now + skew - timedelta(hours=12))  # the last day whose noon UTC is not after now + skew
    columns = tuple(names.index(c) for c in REQUIRED_COLUMNS) + (names.index("country") if "country" in names else -1,)
    kinds, kind_of = _kinds()
    codes = ("1", "2", "3")
    return (
        len(names), columns, first_day, last_day, kinds, kind_of, Validated, ValidatedObservation, csv.Error,
        tuple(TIME_PRECISION_S[c] for c in codes), tuple(PLACE_PRECISION_SIGMA_M[GEO_PRECISION[c]] for c in codes),
        ("acled-", "place", SOURCE["id"], SOURCE["type"], SOURCE["org"], DEFAULT_RELIABILITY, DEFAULT_CREDIBILITY,
         tuple(DEFAULT_RELEASABLE_TO)),
        _PIECES, tuple(canonical_json(TIME_PRECISION_S[c]) for c in codes),
    )  # fmt: skip


_PIECES = document_pieces()


def decode_acled_validated(lines: Iterable[str], now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW) -> Iterator[Record | Rejection | Validated]:
    """:func:`~truceline.ingest.acled.decode_acled` with the rows the compiled checks accept already validated.

    ``now``: times after ``now + skew`` are left to the model (give a ``now`` no later than validation's).
    Every row the C code leaves is the row decoder's: the same Record or Rejection at the same line.
    """
    if _rows is None:
        yield from decode_acled(lines)
        return
    reader = csv.reader(lines)
    names = read_header(reader)
    spec = _spec(names, now, skew)
    finished = False
    while not finished:
        with collector_paused():  # small objects without cycles, handed out after the block
            items, finished, left = _rows.scan(reader, _BLOCK, spec)
            if left:
                items = [item for item in (i if type(i) is not tuple else _row_way(i, names) for i in items) if item is not None]
        yield from items


def _row_way(left: tuple[int, int, Any], names: list[str]) -> Record | Rejection | None:
    """A row the C code left, as :func:`~truceline.ingest.acled.decode_acled` decodes it (None: a blank row)."""
    what, start, cells = left
    where = f"line {start}"
    if what == 0:
        return Rejection(where, "(row)", f"not valid CSV: {cells}")
    if not any(c.strip() for c in cells):
        return None
    if len(cells) != len(names):
        return Rejection(where, "(row)", f"expected {len(names)} columns, got {len(cells)}")
    try:
        return Record(where, _record(dict(zip(names, cells, strict=True))))
    except _CellError as exc:
        return Rejection(where, exc.field, str(exc))


def decode_acled_validated_bytes(data: bytes, now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW) -> Iterator[Record | Rejection | Validated]:
    """:func:`decode_acled_validated` over an in-memory file, read as
    :func:`~truceline.ingest.acled.decode_acled_bytes` reads it (UTF-8, BOM tolerated; anything else refused)."""
    text = _text(data)
    # Without a line boundary other than \n, StringIO's lines are splitlines' (and cost less than the list);
    # `in` per character, as a regular expression's class scans 40 times slower (0.9 µs per ACLED row).
    lines: Iterable[str] = text.splitlines(keepends=True) if any(c in text for c in _OTHER_BREAKS) else io.StringIO(text)
    return decode_acled_validated(lines, now, skew)


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError("ACLED CSV is UTF-16 (byte-order mark at byte 0); save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"ACLED CSV is not UTF-8: line {line}, byte {exc.start} is {data[exc.start]:#04x}") from exc
