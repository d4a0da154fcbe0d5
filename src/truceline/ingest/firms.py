"""NASA FIRMS active-fire CSV: archive/minimal, VIIRS 375 m and MODIS layouts, found by their headers.

Every detection becomes a ``thermal`` observation from a ``satellite`` source. What the row does not say
is stated as uncertainty rather than invented: a row with only ``ACQ_DATE`` is timed at noon UTC ± 12 h,
and the location error comes from the pixel footprint (``scan`` × ``track`` km) or, when absent, from
the coarsest footprint of the instruments (MODIS, 1 km).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

from truceline.domain.strict import is_ascii_digits, parse_decimal
from truceline.ingest.records import FormatError, Record, Rejection

REQUIRED_COLUMNS = ("latitude", "longitude", "acq_date")
SOURCE = {"id": "nasa-firms", "type": "satellite", "org": "NASA"}
_DEFAULT_PIXEL_KM = 1.0
_SQRT12 = 12**0.5
_VIIRS_CONFIDENCE = {"l": "low", "n": "nominal", "h": "high"}
_OPTIONAL_FLOATS = ("bright_ti4", "bright_ti5", "brightness", "bright_t31", "frp")
_NOON = time(12, tzinfo=UTC)
_MAX_STAMPS = 100_000  # distinct (acq_date, acq_time) pairs remembered: a file holds few
_SPECIAL = re.compile('["\r\n\x00]')
_ACQ_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _cells(line: str, limit: int) -> list[str]:
    """The cells of one CSV line, as ``next(csv.reader([line]), [])`` gives them (``limit``: the csv module's
    field size limit). A line without quotes or stray line breaks is split directly, several times faster.

    A line the csv module cannot read (a carriage return inside an unquoted cell, an unterminated quote)
    raises :class:`_CellError` for the row: the row is rejected with the reason, not the whole file.
    """
    body = line[:-1] if line.endswith("\n") else line
    if body.endswith("\r"):
        body = body[:-1]
    if not body or len(body) > limit or _SPECIAL.search(body):
        try:
            return next(csv.reader([line]), [])
        except csv.Error as exc:
            reason = "a carriage return or line break inside an unquoted cell" if "new-line" in str(exc) else str(exc)
            raise _CellError("(row)", f"not a readable CSV line: {reason}") from None
    return body.split(",")


def looks_like_firms(header_line: str) -> bool:
    """True if a CSV header line has the FIRMS columns (case-insensitive)."""
    columns = {c.strip().lower() for c in header_line.split(",")}
    return all(c in columns for c in REQUIRED_COLUMNS)


def _acq_time(raw: str) -> time:
    digits = raw.strip()
    if not is_ascii_digits(digits) or len(digits) > 4:
        raise ValueError(f"{raw!r} is not an HHMM time")
    digits = digits.zfill(4)
    return time(int(digits[:2]), int(digits[2:]), tzinfo=UTC)


class _Layout:
    """Where each column of one FIRMS header is (the last one wins for a repeated name, as in a dict)."""

    def __init__(self, header: list[str]) -> None:
        index = {name: i for i, name in enumerate(header)}
        self.lat, self.lon, self.date = (index[c] for c in REQUIRED_COLUMNS)
        self.time, self.scan, self.track = index.get("acq_time"), index.get("scan"), index.get("track")
        self.floats = [(c, index[c]) for c in _OPTIONAL_FLOATS if c in index]
        self.strings = [(c, index[c]) for c in ("satellite", "instrument", "version", "daynight") if c in index]
        self.confidence = index.get("confidence")
        self.stamps: dict[tuple[str, str], tuple[str, str, float]] = {}  # (acq_date, acq_time) cells -> _stamp


def _cell_float(raw: str) -> float:
    """A number cell: surrounding spaces allowed, then a finite plain decimal (no nan, inf, 1_000 or ٤٨)."""
    return parse_decimal(raw.strip())


def _acq_date(raw: str) -> date:
    """An ``acq_date`` cell (spaces around allowed) as FIRMS writes it: YYYY-MM-DD, nothing else.

    ``date.fromisoformat`` also takes ISO 8601's basic and week forms (``20230401``, ``2023-W13-6``) since
    Python 3.11; numpy reads ``20230401`` as the year 20,230,401. Neither is FIRMS, so both are refused.
    """
    text = raw.strip()
    try:
        if not _ACQ_DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _CellError("acq_date", f"{raw!r} is not a valid YYYY-MM-DD date") from None


def _stamp(raw_day: str, raw_time: str) -> tuple[str, str, float]:
    """(ISO time, the same with ``Z``, uncertainty in s) of an ``acq_date`` and ``acq_time`` cell (or "")."""
    day = _acq_date(raw_day)
    if raw_time.strip():
        try:
            when = datetime.combine(day, _acq_time(raw_time))
        except ValueError as exc:
            raise _CellError("acq_time", str(exc)) from None
        uncertainty_s = 60.0
    else:
        when = datetime.combine(day, _NOON)
        uncertainty_s = 43_200.0
    iso = when.isoformat()
    return iso, iso.replace("+00:00", "Z"), uncertainty_s


def _record(cells: list[str], layout: _Layout) -> dict[str, Any]:
    """Map one CSV row to native observation shape; raises _CellError(field, message) on bad cells."""
    try:
        lat = _cell_float(cells[layout.lat])
    except ValueError as exc:
        raise _CellError("latitude", str(exc)) from None
    try:
        lon = _cell_float(cells[layout.lon])
    except ValueError as exc:
        raise _CellError("longitude", str(exc)) from None
    stamp_key = (cells[layout.date], cells[layout.time] if layout.time is not None else "")
    stamp = layout.stamps.get(stamp_key)
    if stamp is None:
        stamp = layout.stamps[stamp_key] = _stamp(*stamp_key)
        if len(layout.stamps) > _MAX_STAMPS:
            layout.stamps.clear()
    iso, time_text, uncertainty_s = stamp
    attributes: dict[str, Any] = {}
    try:
        scan = _cell_float(cells[layout.scan]) if layout.scan is not None and cells[layout.scan].strip() else _DEFAULT_PIXEL_KM
        track = _cell_float(cells[layout.track]) if layout.track is not None and cells[layout.track].strip() else _DEFAULT_PIXEL_KM
    except ValueError as exc:
        raise _CellError("scan/track", str(exc)) from None
    if not (0 < scan <= 10 and 0 < track <= 10):
        raise _CellError("scan/track", f"pixel footprint {scan} × {track} km is outside (0, 10] km")
    # A detection lies somewhere in its pixel: uniform over scan × track gives σ = side / √12 on each axis.
    sigma_e, sigma_n = scan * 1000 / _SQRT12, track * 1000 / _SQRT12
    for column, i in layout.floats:
        if cells[i].strip():
            try:
                attributes[column] = _cell_float(cells[i])
            except ValueError as exc:
                raise _CellError(column, str(exc)) from None
    for column, i in layout.strings:
        if cells[i].strip():
            attributes[column] = cells[i].strip()
    confidence = cells[layout.confidence].strip().lower() if layout.confidence is not None else ""
    if confidence:
        attributes["confidence"] = _VIIRS_CONFIDENCE.get(confidence, confidence)
    key = f"{lat:.6f}|{lon:.6f}|{iso}|{attributes.get('satellite', '')}|{attributes.get('instrument', '')}"
    return {
        "id": "firms-" + hashlib.sha256(key.encode()).hexdigest()[:24],
        "time": time_text,
        "time_uncertainty_s": uncertainty_s,
        "kind": "thermal",
        "location": {"type": "point", "lat": lat, "lon": lon, "cov_m2": [[sigma_e**2, 0.0], [0.0, sigma_n**2]]},
        "source": SOURCE,
        "reliability": "B",
        "credibility": 2,
        "releasable_to": ["PUBLIC"],
        "attributes": attributes,
    }


class _CellError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _header(header_line: str) -> list[str]:
    """The lower-cased column names of a FIRMS header line; FormatError if it is not one."""
    if not looks_like_firms(header_line):
        raise FormatError(
            f"not a FIRMS CSV: the header must contain {', '.join(REQUIRED_COLUMNS)} (got {header_line.strip()[:120]!r})"
        )
    try:
        names = [c.strip().lower() for c in next(csv.reader([header_line]))]
    except csv.Error as exc:
        raise FormatError(f"FIRMS CSV header is not a readable CSV line: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:  # a quote in the header hides the names after it from a CSV reader, not from a plain split
        raise FormatError(f"FIRMS CSV header read as CSV has no {', '.join(missing)} column (a stray quote?): {header_line.strip()[:120]!r}")
    return names


def _width_checked(cells: list[str], width: int) -> list[str]:
    """A data row's cells, or :class:`_CellError` for the row when it has not the header's ``width``."""
    if len(cells) != width:
        raise _CellError("(row)", f"expected {width} columns, got {len(cells)}")
    return cells


def decode_firms(lines: Iterable[str]) -> Iterator[Record | Rejection]:
    """Records of a FIRMS CSV; rows with bad cells are rejected with their line number, the rest kept."""
    iterator = iter(lines)
    header = _header(next(iterator, ""))
    layout, width, limit = _Layout(header), len(header), csv.field_size_limit()
    for number, line in enumerate(iterator, start=2):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            yield Record(where, _record(_width_checked(_cells(line, limit), width), layout))
        except _CellError as exc:
            yield Rejection(where, exc.field, str(exc))


def _position(cells: list[str], i_lat: int, i_lon: int, i_date: int) -> tuple[float, float, str] | None:
    """``(lat, lon, acq_date)`` of one row's cells when the three are sane, else None."""
    try:
        lat, lon = _cell_float(cells[i_lat]), _cell_float(cells[i_lon])
        day = _acq_date(cells[i_date]).isoformat()
    except ValueError:
        return None
    if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
        return lat, lon, day
    return None


def read_positions(lines: Iterable[str]) -> Iterator[tuple[str, float, float, str]]:
    """``(where, lat, lon, acq_date)`` of every row whose three required cells are sane, nothing else.

    The cheap first look that analytics over a whole file need; ``where`` matches :func:`decode_firms`.
    Rows it skips are the ones :func:`decode_firms` rejects or validation refuses.
    """
    iterator = iter(lines)
    header = _header(next(iterator, ""))
    i_lat, i_lon, i_date = (header.index(c) for c in REQUIRED_COLUMNS)
    width, limit = len(header), csv.field_size_limit()
    for number, line in enumerate(iterator, start=2):  # line by line, exactly as decode_firms numbers them
        try:
            cells = _cells(line, limit)
        except _CellError:
            continue  # decode_firms rejects the row
        if len(cells) != width:
            continue
        found = _position(cells, i_lat, i_lon, i_date)
        if found is not None:
            yield f"line {number}", *found


def decode_firms_bytes(data: bytes) -> Iterator[Record | Rejection]:
    """:func:`decode_firms` over an in-memory file (UTF-8, BOM tolerated)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"FIRMS CSV is not UTF-8: byte {exc.start} is {data[exc.start]:#04x}") from exc
    return decode_firms(io.StringIO(text))
