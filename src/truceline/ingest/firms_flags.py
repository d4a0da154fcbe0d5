"""FIRMS detections as evidence: run the conflict-fire analytic over a file and put its verdict on each record.

The analytic (:mod:`truceline.fuse.conflict_fire`) needs the whole period at once: a cell is war-affected
only after two anomalous days a week apart, and detections are flagged up to ten days after one. So a
file is read twice: once for positions and dates alone (a few arrays, whatever the file's size), then
again, fully decoded, to yield each record with ``attributes.conflict_fire`` set. Fusion turns flagged detections into
evidence and leaves the rest (fields and forests burning in season) out (see
:func:`truceline.fuse.conflict_fire.is_background_fire`).

The baseline is NASA FIRMS 2021 over Ukraine, bundled (``data/firms_baseline``), unless the caller gives
FIRMS files of whole pre-war years.
"""

from __future__ import annotations

import functools
import gzip
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from truceline.fuse.conflict_fire import (
    CONFLICT_FIRE_ATTRIBUTE,
    REASONS,
    FireBaseline,
    detect_conflict_fires,
)
from truceline.ingest.firms import read_positions
from truceline.ingest.firms_columns import FirmsColumns, decode_columns
from truceline.ingest.firms_compiled import CompiledColumns
from truceline.ingest.records import FormatError, Record, Rejection, Validated
from truceline.ledger.canonical import canonical_json

BUNDLED_BASELINE = "firms-ukraine-2021.csv.gz"


@dataclass(frozen=True)
class LabelledBaseline:
    """A baseline and the words that say what it is built from (kept on every verdict)."""

    baseline: FireBaseline
    label: str


@dataclass
class FireAnalysis:
    """What the analytic did to one input: detections analysed and flagged, against which baseline."""

    analysed: int = 0
    flagged: int = 0
    baseline: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ingest summaries."""
        return {"analysed": self.analysed, "flagged": self.flagged, "baseline": self.baseline}


def _columns(rows: Iterable[tuple[str, float, float, str]]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Places (``line N``), lat, lon and date of every row the analytic can use, as arrays."""
    wheres: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    days: list[str] = []
    for where, lat, lon, day in rows:
        wheres.append(where)
        lats.append(lat)
        lons.append(lon)
        days.append(day)
    return wheres, np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64), np.asarray(days, dtype="datetime64[D]")


def load_baseline(paths: Iterable[Path] = ()) -> LabelledBaseline:
    """The baseline from FIRMS CSV files of whole pre-war years, or the bundled 2021 one when none are given."""
    files = list(paths)
    return _baseline([(p.name, _file_decoder(p)) for p in files]) if files else _bundled_baseline()


@functools.cache
def _bundled_baseline() -> LabelledBaseline:
    """The bundled baseline, built once per process: it takes most of a second (0.84 s), which every FIRMS file of
    an ingest paid again, and it never changes. Its arrays are made read-only, so that no caller can change it
    for the next (22 MB, held for the process's life)."""
    raw = resources.files("truceline.data.firms_baseline").joinpath(BUNDLED_BASELINE).read_bytes()
    labelled = _baseline([("NASA FIRMS 2021, Ukraine (bundled)", lambda: read_positions(io.StringIO(gzip.decompress(raw).decode("utf-8"))))])
    for array in (labelled.baseline.score, labelled.baseline.block_activity, labelled.baseline.persistent_cells):
        array.flags.writeable = False
    return labelled


def _baseline(sources: list[tuple[str, Callable[[], Iterator[tuple[str, float, float, str]]]]]) -> LabelledBaseline:
    lat_parts, lon_parts, day_parts = [], [], []
    for name, decode in sources:
        try:
            _, lat, lon, day = _columns(decode())
        except FormatError as exc:
            raise FormatError(f"fire baseline {name}: {exc}") from exc
        lat_parts.append(lat)
        lon_parts.append(lon)
        day_parts.append(day)
    lat_all, lon_all, day_all = np.concatenate(lat_parts), np.concatenate(lon_parts), np.concatenate(day_parts)
    if len(lat_all) == 0:
        raise FormatError("fire baseline: no usable detections")
    baseline = FireBaseline.from_detections(lat_all, lon_all, day_all)
    years = sorted({int(y) + 1970 for y in np.unique(day_all.astype("datetime64[Y]").astype(np.int64))})
    label = f"{' + '.join(name for name, _ in sources)}; {baseline.years} year{'s' if baseline.years != 1 else ''} ({', '.join(map(str, years))})"
    return LabelledBaseline(baseline, label)


def _file_decoder(path: Path) -> Callable[[], Iterator[tuple[str, float, float, str]]]:
    def decode() -> Iterator[tuple[str, float, float, str]]:
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:  # type: ignore[operator]
                yield from read_positions(handle)
        except (UnicodeDecodeError, OSError) as exc:
            raise FormatError(f"cannot read it as a UTF-8 FIRMS CSV: {exc}") from exc

    return decode


def _values(array: np.ndarray) -> memoryview:
    """A 1-D array as a memoryview: indexing it gives Python bools, ints and floats, equal to the array's values."""
    return memoryview(np.ascontiguousarray(array))  # type: ignore[arg-type]  # numpy's stubs do not declare ndarray a Buffer


def _verdicts(result: Any, label: str) -> Callable[[int], dict[str, Any]]:
    """The verdict on detection ``k`` of ``result`` as the attribute's value (plain Python values)."""
    # Memoryviews give plain Python values per record (indexing numpy arrays costs more than all the rest),
    # without a list of a file's length for the collector to walk; reasons go by their code.
    flagged, codes, active_days = _values(result.flagged), _values(result.reason_code), _values(result.active_days)
    probability, expected, season = _values(result.probability), _values(result.expected_active_days), _values(result.season_factor)
    war_affected = _values(result.war_affected_cell)

    def verdict(k: int) -> dict[str, Any]:
        return {
            "flagged": bool(flagged[k]),
            "reason": REASONS[codes[k]],
            "probability": float(f"{probability[k]:.4g}"),
            "active_days": int(active_days[k]),
            "expected_active_days": round(float(expected[k]), 3),
            "season_factor": round(float(season[k]), 3),
            "war_affected_cell": bool(war_affected[k]),
            "baseline": label,
        }

    return verdict


def annotate_conflict_fires(
    positions: Callable[[], Iterable[tuple[str, float, float, str]]],
    decode: Callable[[], Iterable[Record | Rejection]],
    baseline: LabelledBaseline,
    analysis: FireAnalysis,
) -> Iterator[Record | Rejection]:
    """Records of ``decode()`` with the analytic's verdict on each, judged over all of ``positions()``.

    ``positions`` is the cheap first pass over the same input (:func:`truceline.ingest.firms.read_positions`),
    matched to records by their place (``line N``). ``analysis`` is filled in before the first record is yielded.
    """
    wheres, lat, lon, day = _columns(positions())
    result = detect_conflict_fires(lat, lon, day, baseline.baseline)
    analysis.analysed = len(wheres)
    analysis.flagged = int(result.flagged.sum())
    analysis.baseline = baseline.label
    verdict = _verdicts(result, baseline.label)
    verdicts = dict(zip(wheres, range(len(wheres)), strict=True))
    del wheres  # a long list the garbage collector would walk again and again while the file is ingested
    for item in decode():
        k = verdicts.get(item.where)
        if k is None or isinstance(item, Rejection):
            yield item
            continue
        value = dict(item.value)
        value["attributes"] = {**value.get("attributes", {}), CONFLICT_FIRE_ATTRIBUTE: verdict(k)}
        yield Record(item.where, value)


class _ColumnVerdicts:
    """The analytic's verdicts by row of a columnar file, each distinct verdict built and serialised once."""

    name = CONFLICT_FIRE_ATTRIBUTE

    def __init__(self, rows: list[int], result: Any, label: str) -> None:
        self._position = dict(zip(rows, range(len(rows)), strict=True))
        self._verdict = verdict = _verdicts(result, label)
        columns = (
            result.flagged,
            result.reason_code,
            result.probability,
            result.active_days,
            result.expected_active_days,
            result.season_factor,
            result.war_affected_cell,
        )
        # Detections with the same raw values get the same verdict (NaN never equals: such rows stay apart).
        distinct: dict[tuple[Any, ...], int] = {}
        first: list[int] = []
        which: list[int] = []
        for i, key in enumerate(zip(*(column.tolist() for column in columns), strict=True)):
            j = distinct.setdefault(key, len(first))
            if j == len(first):
                first.append(i)
            which.append(j)
        self._canonical = [canonical_json(verdict(i)) for i in first]
        self._which = which

    def value(self, k: int) -> dict[str, Any] | None:
        """The verdict on row ``k``, or None when the analytic did not use that row."""
        i = self._position.get(k)
        return None if i is None else self._verdict(i)

    def canonical(self, k: int) -> bytes | None:
        """The RFC 8785 bytes of :meth:`value`."""
        i = self._position.get(k)
        return None if i is None else self._canonical[self._which[i]]


def annotate_columns(table: FirmsColumns | CompiledColumns, baseline: LabelledBaseline, analysis: FireAnalysis) -> Iterator[Record | Rejection | Validated]:
    """:func:`annotate_conflict_fires` for a file read as columns (:mod:`truceline.ingest.firms_columns`):
    the same positions, verdicts and records, from one parse of the file."""
    rows, lat, lon, day = table.positions()
    result = detect_conflict_fires(lat, lon, day, baseline.baseline)
    analysis.analysed = len(rows)
    analysis.flagged = int(result.flagged.sum())
    analysis.baseline = baseline.label
    return decode_columns(table, _ColumnVerdicts(rows, result, baseline.label))
