"""ACLED CSV (Armed Conflict Location & Event Data, codebook columns) → observations.

ACLED is a secondary source: coders read media and partner reports and publish one row per event. Each
row becomes one observation from the source ``acled`` (type ``osint``, organisation ``ACLED``), graded
C3 by default (fairly reliable aggregator; possibly true, since truceline has not confirmed it) and
releasable to ``PUBLIC``. Nothing is invented: the place keeps ACLED's own precision, the time its own
precision, and the actors are recorded as *claims* (``attributes.claims``), never as attribution.

Tables (also in docs/formats.md): :data:`EVENT_KINDS` (event_type/sub_event_type → kind),
:data:`GEO_PRECISION` (geo_precision → place precision) and :data:`TIME_PRECISION_S` (time_precision →
time uncertainty, half-width around noon UTC of ``event_date``).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

from truceline.domain.observation import PlacePrecision
from truceline.domain.strict import is_ascii_digits, parse_decimal
from truceline.ingest.records import FormatError, Record, Rejection

REQUIRED_COLUMNS = (
    "event_id_cnty",
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "actor2",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "time_precision",
    "source",
    "notes",
    "fatalities",
)
#: Further columns of the ACLED codebook (exports carry some of them); accepted and ignored unless used.
OPTIONAL_COLUMNS = frozenset(
    {
        "data_id", "iso", "event_id_no_cnty", "year", "disorder_type", "assoc_actor_1", "inter1", "assoc_actor_2",
        "inter2", "interaction", "civilian_targeting", "region", "country", "iso3", "source_scale", "timestamp",
        "tags", "population_1km", "population_2km", "population_5km", "population_best", "actor1_type",
        "actor2_type", "subregion", "event_id",
    }
)
SOURCE = {"id": "acled", "type": "osint", "org": "ACLED"}
DEFAULT_RELIABILITY = "C"
DEFAULT_CREDIBILITY = 3
DEFAULT_RELEASABLE_TO = ("PUBLIC",)

#: ACLED geo_precision → place precision (1 the town itself, 2 near it / part of it, 3 a larger region,
#: coded at its centroid or capital: as coarse as a province, so the region's uncertainty is stated).
GEO_PRECISION: dict[str, PlacePrecision] = {"1": PlacePrecision.EXACT, "2": PlacePrecision.NEAR, "3": PlacePrecision.REGION}
#: ACLED time_precision → half-width in seconds around noon UTC of event_date (day, week, month).
TIME_PRECISION_S: dict[str, float] = {"1": 12 * 3600.0, "2": 3.5 * 86400.0, "3": 15.5 * 86400.0}

#: (event_type, sub_event_type) → observation kind; a pair not listed is refused, not guessed.
EVENT_KINDS: dict[tuple[str, str], str] = {
    ("battles", "armed clash"): "small-arms-fire",
    ("battles", "government regains territory"): "troop-movement",
    ("battles", "non-state actor overtakes territory"): "troop-movement",
    ("explosions/remote violence", "shelling/artillery/missile attack"): "impact",
    ("explosions/remote violence", "air/drone strike"): "impact",
    ("explosions/remote violence", "remote explosive/landmine/ied"): "mine",
    ("explosions/remote violence", "grenade"): "explosion",
    ("explosions/remote violence", "suicide bomb"): "explosion",
    ("explosions/remote violence", "chemical weapon"): "impact",
    ("violence against civilians", "attack"): "casualty-report",
    ("violence against civilians", "abduction/forced disappearance"): "other",
    ("violence against civilians", "sexual violence"): "other",
    ("strategic developments", "looting/property destruction"): "damage",
    ("strategic developments", "disrupted weapons use"): "other",
    ("strategic developments", "headquarters or base established"): "troop-movement",
    ("strategic developments", "non-violent transfer of territory"): "troop-movement",
    ("strategic developments", "agreement"): "other",
    ("strategic developments", "arrests"): "other",
    ("strategic developments", "change to group/activity"): "other",
    ("strategic developments", "other"): "other",
    ("protests", "peaceful protest"): "other",
    ("protests", "protest with intervention"): "other",
    ("protests", "excessive force against protesters"): "other",
    ("riots", "violent demonstration"): "other",
    ("riots", "mob violence"): "other",
}
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%B-%Y", "%m/%d/%Y")


class _CellError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_header(reader: Iterator[list[str]]) -> list[str]:
    """The checked column names of the CSV rows ``reader`` yields first, or FormatError (line 1, or empty file)."""
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FormatError(f"line 1: header is not valid CSV: {exc}") from exc
    if header is None:
        raise FormatError("empty file: no ACLED header")
    return check_header(header)


def check_header(header: list[str]) -> list[str]:
    """Normalised column names, or :class:`FormatError` naming every missing and unknown column."""
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    known = set(REQUIRED_COLUMNS) | OPTIONAL_COLUMNS
    unknown = [c for c in names if c not in known]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unknown:
        problems.append("unknown " + ", ".join(repr(c) for c in unknown[:20]))
    if duplicated:
        problems.append("repeated " + ", ".join(duplicated))
    if problems:
        raise FormatError("not an ACLED codebook header: " + "; ".join(problems))
    return names


def looks_like_acled(header_line: str) -> bool:
    """True if a CSV header line has the ACLED identity columns (case-insensitive)."""
    columns = {c.strip().strip('"').lower() for c in header_line.split(",")}
    return {"event_id_cnty", "event_date", "event_type"} <= columns


@functools.lru_cache(maxsize=4096)
def _event_date(raw: str) -> date:
    """The date of an ``event_date`` cell; remembered, since a file holds few distinct dates and
    ``strptime`` costs more than the rest of a row (docs/performance.md)."""
    text = raw.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise _CellError("event_date", f"{raw!r} is not a date (YYYY-MM-DD or '02 April 2023')")


def _float(row: dict[str, str], column: str) -> float:
    """A number cell: surrounding spaces allowed, then a finite plain decimal (no nan, inf, 1_000 or ٤٨)."""
    try:
        return parse_decimal(row[column].strip())
    except ValueError as exc:
        raise _CellError(column, str(exc)) from None


def _record(row: dict[str, str]) -> dict[str, Any]:
    """One ACLED row in native observation shape; raises :class:`_CellError` naming the bad cell."""
    event_id = row["event_id_cnty"].strip()
    if not event_id:
        raise _CellError("event_id_cnty", "empty event id")
    day = _event_date(row["event_date"])
    time_precision = row["time_precision"].strip()
    if time_precision not in TIME_PRECISION_S:
        raise _CellError("time_precision", f"{time_precision!r} is not 1 (day), 2 (week) or 3 (month)")
    geo_precision = row["geo_precision"].strip()
    if geo_precision not in GEO_PRECISION:
        raise _CellError("geo_precision", f"{geo_precision!r} is not 1, 2 or 3")
    pair = (row["event_type"].strip().lower(), row["sub_event_type"].strip().lower())
    kind = EVENT_KINDS.get(pair)
    if kind is None:
        raise _CellError("event_type/sub_event_type", f"{row['event_type']!r} / {row['sub_event_type']!r} is not in the ACLED codebook")
    fatalities_raw = row["fatalities"].strip() or "0"
    if not is_ascii_digits(fatalities_raw):
        raise _CellError("fatalities", f"{row['fatalities']!r} is not a non-negative whole number")
    name = row["location"].strip()
    if not name:
        raise _CellError("location", "empty location name")
    admin = ", ".join(a for a in (row["admin3"].strip(), row["admin2"].strip(), row["admin1"].strip()) if a)
    location: dict[str, Any] = {
        "type": "place",
        "name": name,
        "precision": int(GEO_PRECISION[geo_precision]),
        "lat": _float(row, "latitude"),
        "lon": _float(row, "longitude"),
    }
    if admin:
        location["admin"] = admin
    claims = {k: row[k].strip() for k in ("actor1", "actor2") if row[k].strip()}
    attributes: dict[str, Any] = {
        "acled_event_id": event_id,
        "event_type": row["event_type"].strip(),
        "sub_event_type": row["sub_event_type"].strip(),
        "fatalities_reported": int(fatalities_raw),
        "geo_precision": int(geo_precision),
        "time_precision": int(time_precision),
    }
    if claims:
        attributes["claims"] = claims  # who ACLED's sources say acted: a claim, not an attribution
    for column in ("source", "notes", "admin1", "admin2", "admin3", "country"):
        value = row.get(column, "").strip()
        if value:
            attributes["acled_source" if column == "source" else column] = value[:2000]
    return {
        "id": "acled-" + event_id,
        "time": datetime.combine(day, time(12, tzinfo=UTC)).isoformat().replace("+00:00", "Z"),
        "time_uncertainty_s": TIME_PRECISION_S[time_precision],
        "kind": kind,
        "location": location,
        "source": SOURCE,
        "reliability": DEFAULT_RELIABILITY,
        "credibility": DEFAULT_CREDIBILITY,
        "releasable_to": list(DEFAULT_RELEASABLE_TO),
        "attributes": attributes,
    }


def decode_acled(lines: Iterable[str]) -> Iterator[Record | Rejection]:
    """Records of an ACLED CSV (text lines); a bad row is rejected with its line, the rest kept.

    Quoted cells may span lines (ACLED notes do); ``where`` names the line the row starts on.
    """
    numbered = _LineCounter(lines)
    reader = csv.reader(numbered)
    names = read_header(reader)
    while True:
        start = numbered.count + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over the csv module's size limit; the reader goes on after it
            yield Rejection(f"line {start}", "(row)", f"not valid CSV: {exc}")
            continue
        where = f"line {start}"
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            yield Rejection(where, "(row)", f"expected {len(names)} columns, got {len(cells)}")
            continue
        try:
            yield Record(where, _record(dict(zip(names, cells, strict=True))))
        except _CellError as exc:
            yield Rejection(where, exc.field, str(exc))


class _LineCounter:
    """Iterates lines and counts them, so a row's starting line is known even when cells span lines."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def decode_acled_bytes(data: bytes) -> Iterator[Record | Rejection]:
    """:func:`decode_acled` over an in-memory file (UTF-8, BOM tolerated; anything else refused)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError("ACLED CSV is UTF-16 (byte-order mark at byte 0); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"ACLED CSV is not UTF-8: line {line}, byte {exc.start} is {data[exc.start]:#04x}") from exc
    return decode_acled(text.splitlines(keepends=True))
