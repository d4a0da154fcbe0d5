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
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timezone
from typing import Any

from truceline.ingest.records import FormatError, Record, Rejection

REQUIRED_COLUMNS = ("latitude", "longitude", "acq_date")
SOURCE = {"id": "nasa-firms", "type": "satellite", "org": "NASA"}
_DEFAULT_PIXEL_KM = 1.0
_SQRT12 = 12**0.5
_VIIRS_CONFIDENCE = {"l": "low", "n": "nominal", "h": "high"}
_OPTIONAL_FLOATS = ("bright_ti4", "bright_ti5", "brightness", "bright_t31", "frp")


def looks_like_firms(header_line: str) -> bool:
    """True if a CSV header line has the FIRMS columns (case-insensitive)."""
    columns = {c.strip().lower() for c in header_line.split(",")}
    return all(c in columns for c in REQUIRED_COLUMNS)


def _float(row: dict[str, str], column: str) -> float:
    raw = row[column].strip()
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None


def _acq_time(raw: str) -> time:
    digits = raw.strip()
    if not digits.isdigit() or len(digits) > 4:
        raise ValueError(f"{raw!r} is not an HHMM time")
    digits = digits.zfill(4)
    return time(int(digits[:2]), int(digits[2:]), tzinfo=timezone.utc)


def _record(row: dict[str, str]) -> dict[str, Any]:
    """Map one CSV row to native observation shape; raises ValueError(field, message) on bad cells."""
    try:
        lat, lon = _float(row, "latitude"), _float(row, "longitude")
    except ValueError as exc:
        raise _CellError("latitude/longitude", str(exc)) from None
    try:
        day = date.fromisoformat(row["acq_date"].strip())
    except ValueError:
        raise _CellError("acq_date", f"{row['acq_date']!r} is not a valid YYYY-MM-DD date") from None
    attributes: dict[str, Any] = {}
    if row.get("acq_time", "").strip():
        try:
            when = datetime.combine(day, _acq_time(row["acq_time"]))
        except ValueError as exc:
            raise _CellError("acq_time", str(exc)) from None
        uncertainty_s = 60.0
    else:
        when = datetime.combine(day, time(12, tzinfo=timezone.utc))
        uncertainty_s = 43_200.0
    try:
        scan = _float(row, "scan") if row.get("scan", "").strip() else _DEFAULT_PIXEL_KM
        track = _float(row, "track") if row.get("track", "").strip() else _DEFAULT_PIXEL_KM
    except ValueError as exc:
        raise _CellError("scan/track", str(exc)) from None
    if not (0 < scan <= 10 and 0 < track <= 10):
        raise _CellError("scan/track", f"pixel footprint {scan} × {track} km is outside (0, 10] km")
    # A detection lies somewhere in its pixel: uniform over scan × track gives σ = side / √12 on each axis.
    sigma_e, sigma_n = scan * 1000 / _SQRT12, track * 1000 / _SQRT12
    for column in _OPTIONAL_FLOATS:
        if row.get(column, "").strip():
            try:
                attributes[column] = _float(row, column)
            except ValueError as exc:
                raise _CellError(column, str(exc)) from None
    for column in ("satellite", "instrument", "version", "daynight"):
        if row.get(column, "").strip():
            attributes[column] = row[column].strip()
    confidence = row.get("confidence", "").strip().lower()
    if confidence:
        attributes["confidence"] = _VIIRS_CONFIDENCE.get(confidence, confidence)
    key = "|".join(
        [f"{lat:.6f}", f"{lon:.6f}", when.isoformat(), str(attributes.get("satellite", "")), str(attributes.get("instrument", ""))]
    )
    return {
        "id": "firms-" + hashlib.sha256(key.encode()).hexdigest()[:24],
        "time": when.isoformat().replace("+00:00", "Z"),
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
    return [c.strip().lower() for c in next(csv.reader([header_line]))]


def decode_firms(lines: Iterable[str]) -> Iterator[Record | Rejection]:
    """Records of a FIRMS CSV; rows with bad cells are rejected with their line number, the rest kept."""
    iterator = iter(lines)
    header = _header(next(iterator, ""))
    for number, line in enumerate(iterator, start=2):
        if not line.strip():
            continue
        cells = next(csv.reader([line]))
        where = f"line {number}"
        if len(cells) != len(header):
            yield Rejection(where, "(row)", f"expected {len(header)} columns, got {len(cells)}")
            continue
        try:
            yield Record(where, _record(dict(zip(header, cells))))
        except _CellError as exc:
            yield Rejection(where, exc.field, str(exc))


def read_positions(lines: Iterable[str]) -> Iterator[tuple[str, float, float, str]]:
    """``(where, lat, lon, acq_date)`` of every row whose three required cells are sane, nothing else.

    The cheap first look that analytics over a whole file need; ``where`` matches :func:`decode_firms`.
    Rows it skips are the ones :func:`decode_firms` rejects or validation refuses.
    """
    iterator = iter(lines)
    header = _header(next(iterator, ""))
    i_lat, i_lon, i_date = (header.index(c) for c in REQUIRED_COLUMNS)
    width = len(header)
    for number, line in enumerate(iterator, start=2):  # line by line, exactly as decode_firms numbers them
        cells = next(csv.reader([line]), [])
        if len(cells) != width:
            continue
        try:
            lat, lon = float(cells[i_lat]), float(cells[i_lon])
            day = cells[i_date].strip()
            date.fromisoformat(day)
        except ValueError:
            continue
        if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
            yield f"line {number}", lat, lon, day


def decode_firms_bytes(data: bytes) -> Iterator[Record | Rejection]:
    """:func:`decode_firms` over an in-memory file (UTF-8, BOM tolerated)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"FIRMS CSV is not UTF-8: byte {exc.start} is {data[exc.start]:#04x}") from exc
    return decode_firms(io.StringIO(text))
