"""A FIRMS CSV read once, in bulk, and checked as columns; rows the column checks cannot vouch for go the row way.

The row path (:func:`truceline.ingest.firms.decode_firms`, then the model) parses every cell with the
strict decimal grammar, twice for the analytic's first pass, and builds a record, an ``Observation`` and
its ``model_dump`` per row. Here the file is split once; each number column is checked as a whole against
:data:`~truceline.domain.strict.DECIMAL` without surrounding whitespace (stricter than the row path, which
strips first), converted by ``float`` as :func:`~truceline.domain.strict.parse_decimal` does, and held to
the model's bounds (latitude, longitude, pixel footprint and covariance, time not before 2000 nor in the
future). A row that passes every check becomes a :class:`~truceline.domain.validated.ValidatedObservation`
(its canonical bytes those of the model's ``model_dump``). Any other row (spaces, quotes, a wrong column count,
a bad cell, an implausible time) is decoded by the row decoder and validated by the model, so every
rejection (line, field, message) is the one the row path gives. A file whose header repeats a name, that
is not UTF-8, or that is larger than :data:`MAX_COLUMNAR_BYTES` is read the row way as a whole.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from truceline.domain.observation import DEFAULT_CLOCK_SKEW, EARLIEST_TIME
from truceline.domain.observation_fast import collector_paused
from truceline.domain.strict import DECIMAL
from truceline.domain.validated import ValidatedObservation
from truceline.ingest.firms import (
    _DEFAULT_PIXEL_KM,
    _VIIRS_CONFIDENCE,
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
    decode_firms_bytes,
)
from truceline.ingest.firms_compiled import MAX_PLAIN_LINE, CompiledColumns, Extra, Row, compiled_columns, footprint
from truceline.ingest.firms_compiled import document as _document
from truceline.ingest.records import Record, Rejection, Validated
from truceline.ledger.canonical import _float_for_orjson

#: Files up to this size are split in memory at once (a year of FIRMS over Ukraine is 4 MB; a split row costs about
#: 1 KB with its cells); larger ones stream row by row, in bounded memory, as before.
MAX_COLUMNAR_BYTES = 32 * 1024 * 1024
_SPECIAL = re.compile('["\r\x00]')
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_HHMM = re.compile(r"[0-9]{1,4}", re.ASCII)
_PUBLIC = ("PUBLIC",)


def split_rows(text: str) -> tuple[str, list[Row]]:
    """The header line and every non-blank data line of ``text``, numbered as the row decoder numbers them
    (lines end at ``\\n`` only, as when a file is read line by line in binary)."""
    pieces = text.split("\n")
    last = len(pieces) - 1  # pieces[last] is what follows the last newline: a line only if not empty
    if last == 0:
        return pieces[0], []
    limit = min(MAX_PLAIN_LINE, csv.field_size_limit())
    search = _SPECIAL.search
    rows: list[Row] = []
    append = rows.append
    end = last + (1 if pieces[last] else 0)
    if search(text) is None:  # the common file: no quotes, carriage returns or NULs anywhere, so every line is plain
        for i in range(1, end):
            piece = pieces[i]
            if 0 < len(piece) <= limit:
                if not piece.isspace():
                    append(Row(i + 1, piece, piece.split(",")))
            elif piece and not piece.isspace():  # longer than a plain line: the row decoder's way
                append(Row(i + 1, piece + "\n" if i < last else piece, None))
        return pieces[0] + "\n", rows
    for i in range(1, end):
        piece = pieces[i]
        body = piece[:-1] if piece[-1:] == "\r" else piece
        if 0 < len(body) <= limit and search(body) is None:
            if body.isspace():
                continue  # a blank line: the row decoder skips it
            append(Row(i + 1, piece, body.split(",")))
        else:
            line = piece + "\n" if i < last else piece
            if line.strip():
                append(Row(i + 1, line, None))
    return pieces[0] + "\n", rows


def _numbers(column: Sequence[str], ok: np.ndarray, *, empty: float | None = None) -> np.ndarray:
    """A number column as float64 (NaN where a cell is not a plain decimal); clears ``ok`` there.

    ``empty``: the value of an empty cell, when the column may be empty (NaN otherwise, and ``ok`` stays).
    """
    if None not in map(DECIMAL.fullmatch, column):
        values = np.fromiter(map(float, column), dtype=np.float64, count=len(column))
    else:
        values = np.full(len(column), np.nan)
        fullmatch = DECIMAL.fullmatch
        for i, cell in enumerate(column):
            if fullmatch(cell) is not None:
                values[i] = float(cell)
            elif cell == "" and empty is not None:
                values[i] = empty
            else:
                ok[i] = False
    ok &= ~np.isinf(values)  # a decimal beyond the double range: parse_decimal refuses it
    return values


class _Stamps:
    """(ISO time, ``Z`` text, uncertainty, datetime) per distinct (acq_date, acq_time) pair; None when the
    pair is not plainly valid (not ``YYYY-MM-DD`` and 1–4 digits, or before 2000, or after ``latest``)."""

    def __init__(self, latest: datetime) -> None:
        self.latest = latest
        self.known: dict[tuple[str, str], tuple[str, str, float, datetime] | None] = {}

    def __call__(self, day: str, hhmm: str) -> tuple[str, str, float, datetime] | None:
        key = (day, hhmm)
        if key in self.known:
            return self.known[key]
        value: tuple[str, str, float, datetime] | None = None
        if _DATE.fullmatch(day) and (hhmm == "" or _HHMM.fullmatch(hhmm)):
            try:
                iso, text, uncertainty_s = _stamp(day, hhmm)
            except _CellError:
                value = None  # not a time the model takes: the row goes the row way, which words the refusal
            else:
                when = datetime.fromisoformat(iso)
                if EARLIEST_TIME <= when <= self.latest:
                    value = (iso, text, uncertainty_s, when)
        self.known[key] = value
        return value


def _footprint(scan: float, track: float) -> tuple[orjson.Fragment, float] | None:
    """:func:`~truceline.ingest.firms_compiled.footprint` with the covariance as an orjson fragment."""
    found = footprint(scan, track)
    return None if found is None else (orjson.Fragment(found[0]), found[1])


@dataclass
class FirmsColumns:
    """A FIRMS file split and checked: rows in file order, which are plainly valid, and their parts."""

    layout: _Layout
    width: int
    first_positions: tuple[int, int, int]  # where read_positions looks (the first column of each name)
    rows: list[Row]
    ok: list[bool]  # per row: every column check passed
    lat: list[float]  # per row: its latitude and longitude when ok (NaN otherwise)
    lon: list[float]
    parts: list[tuple[Any, ...] | None]  # per row: (stamp, footprint, attributes) when ok

    def positions(self) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """Rows the analytic uses (those :func:`~truceline.ingest.firms.read_positions` yields), in order:
        row indices, lat, lon, date."""
        keep: list[int] = []
        lats: list[float] = []
        lons: list[float] = []
        days: list[str] = []
        limit = csv.field_size_limit()
        i_lat, i_lon, i_date = self.first_positions
        for k, row in enumerate(self.rows):
            if self.ok[k]:
                assert row.cells is not None
                keep.append(k)
                lats.append(self.lat[k])
                lons.append(self.lon[k])
                days.append(row.cells[i_date])
                continue
            try:
                cells = row.cells if row.cells is not None else _cells(row.line, limit)
            except _CellError:
                continue  # rejected by the row decoder
            if len(cells) != self.width:
                continue
            found = _position(cells, i_lat, i_lon, i_date)
            if found is not None:
                keep.append(k)
                lats.append(found[0])
                lons.append(found[1])
                days.append(found[2])
        return keep, np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64), np.asarray(days, dtype="datetime64[D]")


def read_columns(text: str, now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW) -> FirmsColumns | CompiledColumns | None:
    """``text`` (a whole FIRMS CSV) split and checked as columns; None when its header repeats a name.

    With the compiled scanner built and an ASCII text, the columns are those of
    :func:`~truceline.ingest.firms_compiled.compiled_columns` (split and checked in C when decoded).

    ``now``: times after ``now + skew`` are left to the model (give a ``now`` no later than validation's).
    Raises :class:`~truceline.ingest.records.FormatError` for a header that is not FIRMS, as the row decoder does.
    The cyclic collector is paused meanwhile: splitting makes a few objects per row and no cycles, and with it
    on, its full passes over the growing lists took a third of the time.
    """
    compiled = compiled_columns(text, now, skew)
    if compiled is not None:
        return compiled
    with collector_paused():
        return _read_columns(text, now, skew)


def _read_columns(text: str, now: datetime, skew: timedelta) -> FirmsColumns | None:
    header_line, rows = split_rows(text)
    header = _header(header_line)
    if len(set(header)) != len(header):
        return None
    layout, width = _Layout(header), len(header)
    plain = [k for k, row in enumerate(rows) if row.cells is not None and len(row.cells) == width]
    ok = [False] * len(rows)
    lat = [math.nan] * len(rows)
    lon = [math.nan] * len(rows)
    parts: list[tuple[Any, ...] | None] = [None] * len(rows)
    first = tuple(header.index(c) for c in REQUIRED_COLUMNS)
    table = FirmsColumns(layout, width, (first[0], first[1], first[2]), rows, ok, lat, lon, parts)
    if not plain:
        return table
    cell_rows = [cells for k in plain if (cells := rows[k].cells) is not None]  # all of them: plain rows have cells
    columns = [list(map(itemgetter(i), cell_rows)) for i in range(width)]  # one pass per column (zip(*rows) is slower)
    good = np.ones(len(plain), dtype=bool)
    lat_p, lon_p = _numbers(columns[layout.lat], good), _numbers(columns[layout.lon], good)
    with np.errstate(invalid="ignore"):
        good &= (lat_p >= -90.0) & (lat_p <= 90.0) & (lon_p >= -180.0) & (lon_p <= 180.0)
    n = len(plain)
    scan = _numbers(columns[layout.scan], good, empty=_DEFAULT_PIXEL_KM).tolist() if layout.scan is not None else [_DEFAULT_PIXEL_KM] * n
    track = _numbers(columns[layout.track], good, empty=_DEFAULT_PIXEL_KM).tolist() if layout.track is not None else [_DEFAULT_PIXEL_KM] * n
    floats = [(name, columns[i], _numbers(columns[i], good, empty=math.nan).tolist()) for name, i in layout.floats]
    stamps = _Stamps(now + skew)
    footprints: dict[tuple[float, float], tuple[orjson.Fragment, float] | None] = {}
    days, times = columns[layout.date], columns[layout.time] if layout.time is not None else [""] * n
    strings = [(name, columns[i]) for name, i in layout.strings]
    confidence = columns[layout.confidence] if layout.confidence is not None else None
    lat_list, lon_list = lat_p.tolist(), lon_p.tolist()
    for j in np.flatnonzero(good).tolist():
        stamp = stamps(days[j], times[j])
        pixel = (scan[j], track[j])
        footprint = footprints.get(pixel, False)
        if footprint is False:
            footprint = footprints[pixel] = _footprint(*pixel)
        if stamp is None or footprint is None:
            continue
        attributes: dict[str, Any] = {}
        for name, cells, values in floats:
            if cells[j] != "":
                attributes[name] = values[j]
        for name, cells in strings:
            if cells[j].strip():
                attributes[name] = cells[j].strip()
        if confidence is not None and (word := confidence[j].strip().lower()):
            attributes["confidence"] = _VIIRS_CONFIDENCE.get(word, word)
        k = plain[j]
        ok[k], lat[k], lon[k] = True, lat_list[j], lon_list[j]
        parts[k] = (stamp, footprint, attributes)
    return table


def _validated(table: FirmsColumns, k: int, extra: Extra) -> ValidatedObservation:
    """The observation of plainly valid row ``k``, with the ``extra`` attribute when it has one.

    Its canonical bytes are ``canonical_json`` of the record the row decoder builds (the document the model
    would dump): the same dict as :func:`~truceline.ledger.canonical._for_orjson` would make of it, with
    pieces shared by many rows (covariance, verdict) serialised once as fragments.
    """
    stamp, footprint, attributes = table.parts[k]  # type: ignore[misc]
    iso, text, uncertainty_s, when = stamp
    cov_fragment, sigma = footprint
    lat, lon = table.lat[k], table.lon[k]
    key = f"{lat:.6f}|{lon:.6f}|{iso}|{attributes.get('satellite', '')}|{attributes.get('instrument', '')}"
    oid = "firms-" + hashlib.sha256(key.encode()).hexdigest()[:24]
    # The attributes hold floats (plain decimals, finite) and strings only: _for_orjson's conversion, inline.
    canonical_attributes = {name: _float_for_orjson(v) if type(v) is float else v for name, v in attributes.items()}
    added = extra.canonical(k)
    if added is not None:
        canonical_attributes[extra.name] = orjson.Fragment(added)
    where = (cov_fragment, _float_for_orjson(lat), _float_for_orjson(lon))
    document = _document(canonical_attributes, oid, *where, text, _float_for_orjson(uncertainty_s))
    return ValidatedObservation(
        orjson.dumps(document, option=orjson.OPT_SORT_KEYS),
        oid,
        when,
        uncertainty_s,
        "thermal",
        "point",
        lat,
        lon,
        sigma,
        SOURCE["id"],
        SOURCE["type"],
        SOURCE["org"],
        "B",
        2,
        _PUBLIC,
    )


def decode_columns(table: FirmsColumns | CompiledColumns, extra: Extra) -> Iterator[Record | Rejection | Validated]:
    """Every row of ``table`` in file order: plainly valid rows as :class:`Validated`, the rest as the row
    decoder gives them; ``extra`` adds its attribute to the rows that have one (a Record's too)."""
    if isinstance(table, CompiledColumns):
        yield from table.decode(extra)
        return
    for start in range(0, len(table.rows), _BLOCK):
        with collector_paused():  # a block's items are built with the collector off (no cycles), then handed out
            block = list(_decode_block(table, extra, start))
        yield from block


_BLOCK = 1024


def _decode_block(table: FirmsColumns, extra: Extra, start: int) -> Iterator[Record | Rejection | Validated]:
    limit = csv.field_size_limit()
    layout, width = table.layout, table.width
    for k in range(start, min(start + _BLOCK, len(table.rows))):
        row = table.rows[k]
        where = f"line {row.number}"
        if table.ok[k]:
            yield Validated(where, _validated(table, k, extra))
            continue
        try:
            value = _record(_width_checked(row.cells if row.cells is not None else _cells(row.line, limit), width), layout)
        except _CellError as exc:
            yield Rejection(where, exc.field, str(exc))
            continue
        added = extra.value(k)
        if added is not None:
            value["attributes"] = {**value.get("attributes", {}), extra.name: added}
        yield Record(where, value)


class _Nothing:
    """No attribute added to any row."""

    name = ""

    def value(self, k: int) -> dict[str, Any] | None:
        return None

    def canonical(self, k: int) -> bytes | None:
        return None


def decode_firms_columns_bytes(data: bytes, now: datetime) -> Iterator[Record | Rejection | Validated]:
    """:func:`~truceline.ingest.firms.decode_firms_bytes` through the columnar path (no analytic): what file
    ingest does with a FIRMS file before its verdicts, for the formats benchmark."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    table = read_columns(text, now) if text is not None else None
    if table is None:
        yield from decode_firms_bytes(data)
        return
    yield from decode_columns(table, _Nothing())
