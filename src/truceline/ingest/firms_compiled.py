"""A FIRMS CSV split, checked, serialised and identified in compiled code; Python only wraps the results.

The columnar path in Python (:mod:`truceline.ingest.firms_columns`) cannot reach half of ``csv.reader``'s
speed: splitting, the row id (SHA-256) and orjson of the canonical document alone cost 5.4 µs per row against
``csv.reader``'s 0.7–1.3 (docs/performance.md). The C extension ``_firms_rows`` runs that loop over the
whole text in one call per block of rows, under the same rules as the Python path and never looser: a line
it cannot vouch for (anything but printable ASCII, a quote, a wrong cell count, a cell that is not a plain
decimal, a bad date, time, footprint or time bound) comes back as ``(k, number, start, end)`` and is decoded
by the row decoder here, so every rejection is the row path's. The document's constant pieces come from
:func:`~truceline.ledger.canonical.canonical_json` of a template (:func:`document_pieces`), and footprints
from :func:`footprint` (once per distinct pixel), so the C code writes only the numbers, strings and id.
When the extension is not built, :data:`BACKEND` is ``"python"`` and :func:`compiled_columns` gives None.
"""

from __future__ import annotations

import csv
import importlib
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import numpy as np

from truceline.domain.observation import EARLIEST_TIME, MAX_UNCERTAINTY_M
from truceline.domain.observation_fast import collector_paused
from truceline.domain.validated import ValidatedObservation
from truceline.ingest.firms import (
    _DEFAULT_PIXEL_KM,
    _SQRT12,
    REQUIRED_COLUMNS,
    SOURCE,
    _CellError,
    _cells,
    _header,
    _Layout,
    _position,
    _record,
    _stamp,
    _width_checked,
)
from truceline.ingest.records import Record, Rejection, Validated
from truceline.ledger.canonical import canonical_json

__all__ = ["BACKEND", "CompiledColumns", "Extra", "Row", "compiled_columns", "document", "document_pieces", "footprint"]

#: Longer lines go the row way: this bounds a validated row's attributes far below the model's 56 KiB.
MAX_PLAIN_LINE = 4096
_SPECIAL = re.compile('["\r\x00]')
_MAX_VARIANCE = MAX_UNCERTAINTY_M**2
_BLOCK = 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PUBLIC = ("PUBLIC",)
_FLOAT, _STRING, _CONFIDENCE, _EXTRA = 0, 1, 2, 3
#: Uncertainty of a timed row and of a row with only a date, as the row decoder's ``_stamp`` gives them.
_TIMED_S, _NOON_S = _stamp("2000-01-01", "0000")[2], _stamp("2000-01-01", "")[2]

_rows: Any
try:
    _rows = importlib.import_module("truceline.ingest._firms_rows")  # built from _firms_rows.c; no type stub
    BACKEND = "c"
except ImportError:  # not built here: firms_columns reads the file in Python, as before
    _rows, BACKEND = None, "python"


class Row(NamedTuple):
    """One non-blank data line: its number, and its cells when it is plain (no quotes, no stray line breaks)."""

    number: int
    line: str
    cells: list[str] | None


def piece_row(number: int, piece: str, last: bool, limit: int) -> Row:
    """A non-blank piece of the text between newlines as :func:`~truceline.ingest.firms_columns.split_rows`
    reads it (``last``: no newline follows it; ``limit``: the longest plain line)."""
    body = piece[:-1] if piece[-1:] == "\r" else piece
    if 0 < len(body) <= limit and _SPECIAL.search(body) is None:
        return Row(number, piece, body.split(","))
    return Row(number, piece if last else piece + "\n", None)


class Extra(Protocol):
    """Attributes added to some rows (the analytic's verdict): the value, and its RFC 8785 bytes."""

    name: str

    def value(self, k: int) -> dict[str, Any] | None:
        """The attribute of row ``k``, or None for none."""

    def canonical(self, k: int) -> bytes | None:
        """``canonical_json(self.value(k))``, or None."""


def footprint(scan: float, track: float) -> tuple[bytes, float] | None:
    """Covariance (as canonical JSON) and σ of a pixel footprint, as the row decoder and the model compute
    them; None if the row decoder or the model would refuse it."""
    if not (0 < scan <= 10 and 0 < track <= 10):
        return None
    sigma_e, sigma_n = scan * 1000 / _SQRT12, track * 1000 / _SQRT12
    a, d = sigma_e**2, sigma_n**2
    if not (a > 0 and d > 0 and a * d - 0.0 * 0.0 > 0) or max(a, d) > _MAX_VARIANCE:
        return None
    return canonical_json([[a, 0.0], [0.0, d]]), math.sqrt((a + d) / 2.0)


def document(attributes: Any, oid: str, cov: Any, lat: Any, lon: Any, time_text: str, uncertainty_s: Any) -> dict[str, Any]:
    """The canonical document of a validated FIRMS row (what the row decoder's record dumps to), its values
    already in the form orjson writes canonically."""
    return {
        "attributes": attributes,
        "credibility": 2,
        "id": oid,
        "kind": "thermal",
        "location": {"cov_m2": cov, "lat": lat, "lon": lon, "type": "point"},
        "releasable_to": list(_PUBLIC),
        "reliability": "B",
        "source": SOURCE,
        "time": time_text,
        "time_uncertainty_s": uncertainty_s,
    }


_SLOTS = ("@attributes@", "@id@", "@cov@", "@lat@", "@lon@", "@time@", "@uncertainty@")


def document_pieces() -> tuple[bytes, ...]:
    """The 8 constant byte pieces of :func:`document`'s canonical JSON around its 7 variable values, in the
    order the C code writes them; ValueError if the serialiser's key order ever puts them otherwise."""
    text = canonical_json(document(*_SLOTS[:2], *_SLOTS[2:5], *_SLOTS[5:]))
    pieces, rest = [], text
    for slot in _SLOTS:
        quoted = slot in ("@id@", "@time@")  # strings: the C code writes inside the quotes
        mark = slot.encode() if quoted else b'"' + slot.encode() + b'"'
        before, found, rest = rest.partition(mark)
        if not found:
            raise ValueError(f"the document template has {slot} out of order: {text!r}")
        pieces.append(before)
    pieces.append(rest)
    pieces[0] += b"{"  # the attributes object's braces, its members written by the C code
    pieces[1] = b"}" + pieces[1]
    return tuple(pieces)


_PIECES = document_pieces()
_CONSTANTS = ("thermal", "point", SOURCE["id"], SOURCE["type"], SOURCE["org"], "B", 2, _PUBLIC)


def _us(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


@dataclass
class CompiledColumns:
    """A FIRMS text for the compiled scanner: its layout, and its rows once :meth:`positions` counted them."""

    text: str
    layout: _Layout
    width: int
    first_positions: tuple[int, int, int]
    start: int  # offset of the first data line
    earliest_us: int
    latest_us: int
    rows: int | None = None  # non-blank data lines, known after positions()
    _cache: dict[bytes, Any] = field(default_factory=dict)

    def _spec(self, extra_name: str) -> tuple[Any, ...]:
        layout = self.layout
        names: list[tuple[str, int, int]] = [(name, i, _FLOAT) for name, i in layout.floats]
        names += [(name, i, _STRING) for name, i in layout.strings]
        if layout.confidence is not None:
            names.append(("confidence", layout.confidence, _CONFIDENCE))
        if extra_name:
            if any(n[0] == extra_name for n in names):  # the Python path lets the verdict replace it on some rows only
                raise ValueError(f"the added attribute {extra_name!r} is also a FIRMS column")
            names.append((extra_name, -1, _EXTRA))
        names.sort(key=lambda n: n[0].encode("utf-16-be", "surrogatepass"))  # RFC 8785 member order
        attributes = tuple((canonical_json(name) + b":", i, kind) for name, i, kind in names)
        strings = dict(layout.strings)
        limit = min(MAX_PLAIN_LINE, csv.field_size_limit())
        return (
            self.width, limit, layout.lat, layout.lon, layout.date, _or(layout.time), _or(layout.scan), _or(layout.track),
            _or(strings.get("satellite")), _or(strings.get("instrument")), attributes, self.earliest_us, self.latest_us,
            _TIMED_S, _NOON_S, _DEFAULT_PIXEL_KM, footprint, self._cache, Validated, ValidatedObservation, _CONSTANTS, _PIECES,
        )  # fmt: skip

    def _row(self, number: int, start: int, end: int) -> Row:
        return piece_row(number, self.text[start:end], end == len(self.text), min(MAX_PLAIN_LINE, csv.field_size_limit()))

    def positions(self) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """Rows the analytic uses (those :func:`~truceline.ingest.firms.read_positions` yields), in order:
        row indices, lat, lon, date."""
        with collector_paused():
            left, ks, lats, lons, days, _, _, count = _rows.scan(self.text, self.start, 2, 0, sys.maxsize, self._spec(""), 0, None)
        self.rows = count
        keep = np.frombuffer(ks, dtype=np.int64)
        lat, lon = np.frombuffer(lats, dtype=np.float64), np.frombuffer(lons, dtype=np.float64)
        day = np.frombuffer(days, dtype=np.int64).astype("datetime64[D]")
        found = []
        limit = csv.field_size_limit()
        i_lat, i_lon, i_date = self.first_positions
        for k, number, start, end in left:
            row = self._row(number, start, end)
            try:
                cells = row.cells if row.cells is not None else _cells(row.line, limit)
            except _CellError:
                continue  # rejected by the row decoder
            if len(cells) == self.width and (position := _position(cells, i_lat, i_lon, i_date)) is not None:
                found.append((k, *position))
        if found:
            order = np.argsort(np.concatenate([keep, np.array([f[0] for f in found], dtype=np.int64)]), kind="stable")
            keep = np.concatenate([keep, np.array([f[0] for f in found], dtype=np.int64)])[order]
            lat = np.concatenate([lat, np.array([f[1] for f in found], dtype=np.float64)])[order]
            lon = np.concatenate([lon, np.array([f[2] for f in found], dtype=np.float64)])[order]
            day = np.concatenate([day, np.array([f[3] for f in found], dtype="datetime64[D]")])[order]
        return keep.tolist(), lat, lon, day

    def decode(self, extra: Extra) -> Iterator[Record | Rejection | Validated]:
        """Every row in file order: the rows the scanner vouches for as :class:`Validated`, the rest as the
        row decoder gives them; ``extra`` adds its attribute to the rows that have one (a Record's too)."""
        extras = None
        if extra.name:
            if self.rows is None:
                self.positions()
            assert self.rows is not None
            canonical = extra.canonical
            extras = [canonical(k) for k in range(self.rows)]
        spec = self._spec(extra.name)
        offset, number, k, size = self.start, 2, 0, len(self.text)
        while offset < size:
            with collector_paused():  # a block's items are built with the collector off (no cycles), then handed out
                items, offset, number, k = _rows.scan(self.text, offset, number, k, _BLOCK, spec, 1, extras)
                block = [item if type(item) is not tuple else self._decoded(item, extra) for item in items]
            yield from block

    def _decoded(self, left: tuple[int, int, int, int], extra: Extra) -> Record | Rejection:
        """A row the scanner left, ``(k, number, start, end)``, through the row decoder."""
        k, number, start, end = left
        row, where = self._row(number, start, end), f"line {number}"
        try:
            cells = row.cells if row.cells is not None else _cells(row.line, csv.field_size_limit())
            value = _record(_width_checked(cells, self.width), self.layout)
        except _CellError as exc:
            return Rejection(where, exc.field, str(exc))
        added = extra.value(k)
        if added is not None:
            value["attributes"] = {**value.get("attributes", {}), extra.name: added}
        return Record(where, value)


def _or(index: int | None) -> int:
    return -1 if index is None else index


def compiled_columns(text: str, now: datetime, skew: timedelta) -> CompiledColumns | None:
    """``text`` (a whole FIRMS CSV) for the compiled scanner; None when the extension is not built, the text
    is not ASCII, or its header repeats a name (then the Python ways decide).

    ``now``: times after ``now + skew`` are left to the model (give a ``now`` no later than validation's).
    Raises :class:`~truceline.ingest.records.FormatError` for a header that is not FIRMS, as the row decoder does.
    """
    if _rows is None or not text.isascii():
        return None
    newline = text.find("\n")
    header = _header(text if newline < 0 else text[: newline + 1])
    if len(set(header)) != len(header) or len(header) > 256:
        return None
    first = tuple(header.index(c) for c in REQUIRED_COLUMNS)
    start = len(text) if newline < 0 else newline + 1
    return CompiledColumns(text, _Layout(header), len(header), (first[0], first[1], first[2]), start, _us(EARLIEST_TIME), _us(now + skew))

