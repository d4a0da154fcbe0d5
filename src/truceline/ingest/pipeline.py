"""File ingest: detect the format, decode records as a stream, validate and store them in chunks.

Records are independent here (unlike an API batch): a bad record is reported with its place in the file
and the rest is kept. Each stored chunk is one transaction, so a killed ingest keeps every chunk that was
committed and re-running it is harmless (ids are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from truceline.domain.observation_fast import collector_paused
from truceline.ingest.acled import looks_like_acled
from truceline.ingest.acled_compiled import decode_acled_validated
from truceline.ingest.cot import CotOptions, decode_cot, looks_like_cot
from truceline.ingest.firms import decode_firms, looks_like_firms, read_positions
from truceline.ingest.firms_columns import MAX_COLUMNAR_BYTES, read_columns
from truceline.ingest.firms_flags import FireAnalysis, LabelledBaseline, annotate_columns, annotate_conflict_fires, load_baseline
from truceline.ingest.format_names import FORMATS
from truceline.ingest.geojson import decode_geojson
from truceline.ingest.klv import decode_klv, looks_like_klv
from truceline.ingest.native import decode_json, decode_json_lines
from truceline.ingest.records import FormatError, Record, Rejection, Validated
from truceline.ingest.sensorthings import Owner, decode_sensorthings, load_json, looks_like_sensorthings
from truceline.ingest.text import decode_text
from truceline.ingest.validation import validate_batch, validation_context
from truceline.store.ports import AddResult, ObservationStore

#: Whole-document formats are parsed in memory; beyond this, JSON Lines is the way (one record per line).
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
CHUNK_SIZE = 1000
_MAX_REJECTIONS_KEPT = 10_000


@dataclass
class IngestSummary:
    """What happened to one input: counts, and every rejection with where and why (capped).

    ``rejected_count`` counts records; ``rejected`` has one entry per broken rule, so a record with two bad
    fields appears twice there.
    """

    source: str
    format: str
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0
    fires: FireAnalysis | None = None  # FIRMS input: what the conflict-fire analytic flagged

    @property
    def accepted(self) -> int:
        """Records accepted: newly stored or already present."""
        return self.stored + self.duplicates + len(self.conflicts)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``truceline ingest --json``."""
        return {
            "file": self.source,
            "format": self.format,
            "records": self.records,
            "accepted": self.accepted,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "rejected_count": self.rejected_count,
            "rejected": [r.as_dict() for r in self.rejected],
        } | ({"conflict_fires": self.fires.as_dict()} if self.fires is not None else {})


def detect_format(path: Path, head: bytes) -> str:
    """Guess the format from the extension, then from the first bytes."""
    suffix = path.suffix.lower()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError(f"{path.name} is UTF-16 (byte-order mark at byte 0); truceline reads UTF-8")
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".geojson":
        return "geojson"
    if suffix == ".txt":
        return "text"
    if looks_like_klv(head):  # SMPTE universal label: binary KLV, whatever the extension
        return "klv"
    if suffix in (".cot", ".xml") or head.lstrip()[:1] == b"<":
        if looks_like_cot(head):
            return "cot"
        raise FormatError(f"{path.name}: XML without a Cursor-on-Target <event> in its first 4 KiB")
    first_line = head.decode("utf-8-sig", errors="replace").splitlines()[0] if head.strip() else ""
    if looks_like_acled(first_line):
        return "acled"
    if looks_like_firms(first_line):
        return "firms"
    if suffix == ".csv":
        raise FormatError(
            f"{path.name}: CSV header is not a known layout (ACLED needs event_id_cnty, event_date, event_type; "
            "FIRMS needs latitude, longitude, acq_date)"
        )
    text = head.lstrip()
    if text.startswith(b"{"):
        json_line = text.split(b"\n", 1)[0]
        if b'"FeatureCollection"' in head[:4096] or b'"Feature"' in head[:4096]:
            return "geojson"
        if json_line.rstrip().endswith(b"}") and b"\n{" in text:
            return "jsonl"
        return "json"
    if text.startswith(b"["):
        return "json"
    raise FormatError(f"{path.name}: cannot tell the format; pass --format")


class _Position:
    """Bytes consumed so far from an open file, for progress bars."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def __call__(self) -> int:
        return self._handle.tell()


def classify_json(doc: object) -> str:
    """The format of a parsed JSON document by its structure: GeoJSON, SensorThings or native."""
    if isinstance(doc, dict) and doc.get("type") in ("FeatureCollection", "Feature"):
        return "geojson"
    if looks_like_sensorthings(doc):
        return "sensorthings"
    return "json"


def _read_document(path: Path, handle: IO[bytes]) -> bytes:
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise FormatError(
            f"{path.name} is {size:,} bytes; whole-document formats are limited to {MAX_DOCUMENT_BYTES:,} bytes (use JSON Lines)"
        )
    return handle.read()


def open_records(
    path: Path,
    fmt: str = "auto",
    *,
    fires: FireAnalysis | None = None,
    fire_baseline: Sequence[Path] = (),
    org: str | None = None,
    releasable_to: Sequence[str] = (),
) -> tuple[str, Iterator[Record | Rejection | Validated], Callable[[], int], IO[bytes]]:
    """Open a file for ingest: (format, record stream, byte position, handle to close).

    CoT and KLV carry no organisation: ``org`` (and ``releasable_to``, default the owner only) say whose
    observations they are; without ``org`` such a file is refused. SensorThings entities without
    ``properties.org`` take ``org`` too (their own ``properties`` win).

    FIRMS files get the conflict-fire analytic's verdict on every detection (against ``fire_baseline``
    files, or the bundled 2021 baseline); ``fires``, when given, receives its figures.
    """
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    handle = path.open("rb")
    # Records validated while decoded are held to a time bound taken now, before validation's own ``now``: never looser.
    decoded_at = datetime.now(UTC)
    try:
        if fmt == "auto":
            fmt = detect_format(path, handle.read(65536))
            handle.seek(0)
            if fmt in ("json", "geojson"):  # the parsed structure decides, not a substring of the first bytes
                data = _read_document(path, handle)
                doc = load_json(data)
                fmt = classify_json(doc)
                if fmt == "sensorthings":
                    del doc  # decoded again from the bytes: the fast path maps each expanded Datastream once
                    return fmt, decode_sensorthings(data, _owner(org, releasable_to), decoded_at), _Position(handle), handle
                handle.seek(0)
        if fmt == "jsonl":
            records: Iterator[Record | Rejection | Validated] = decode_json_lines(handle, decoded_at)
        elif fmt == "firms":
            records = _firms_records(path, handle, load_baseline(fire_baseline), fires or FireAnalysis(), decoded_at)
        elif fmt == "text":
            records = decode_text(handle.read())
        elif fmt == "json":
            records = decode_json(_read_document(path, handle), decoded_at)
        elif fmt == "sensorthings":
            records = decode_sensorthings(_read_document(path, handle), _owner(org, releasable_to), decoded_at)
        elif fmt == "cot":
            options = CotOptions(org=_org_for(fmt, org), releasable_to=tuple(releasable_to))
            records = decode_cot(_read_document(path, handle), options, decoded_at)
        elif fmt == "klv":
            owner = _org_for(fmt, org)
            records = decode_klv(_read_document(path, handle), org=owner, releasable_to=releasable_to, default_source_id=path.stem)
        elif fmt == "acled":
            _check_utf8(handle)  # a wrong encoding refuses the whole file before anything is stored
            records = decode_acled_validated(_utf8_lines(handle), decoded_at)  # checked rows validated in C when built
        else:
            records = decode_geojson(_read_document(path, handle), decoded_at)
    except BaseException:
        handle.close()
        raise
    return fmt, records, _Position(handle), handle


def _firms_records(
    path: Path, handle: IO[bytes], baseline: LabelledBaseline, analysis: FireAnalysis, now: datetime
) -> Iterator[Record | Rejection | Validated]:
    """A FIRMS file with the analytic's verdicts: read once as columns when it can be, else row by row, twice.

    Both ways give the same records, rejections and verdicts (:mod:`truceline.ingest.firms_columns`); a file
    that is not UTF-8 goes the row way, which names the line.
    """
    if path.stat().st_size <= MAX_COLUMNAR_BYTES:
        handle.seek(0)
        try:
            text = handle.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
        table = read_columns(text, now) if text is not None else None
        if table is not None:
            yield from annotate_columns(table, baseline, analysis)
            return

    def positions() -> Iterator[tuple[str, float, float, str]]:
        handle.seek(0)
        return read_positions(_utf8_lines(handle))

    def decode_from_start() -> Iterator[Record | Rejection]:
        handle.seek(0)
        return decode_firms(_utf8_lines(handle))

    yield from annotate_conflict_fires(positions, decode_from_start, baseline, analysis)


def _owner(org: str | None, releasable_to: Sequence[str]) -> Owner | None:
    """The operator's ``--org`` as the owner of SensorThings entities that name none."""
    return Owner(org, tuple(releasable_to)) if org else None


def _org_for(fmt: str, org: str | None) -> str:
    if not org:
        raise FormatError(f"{fmt} records carry no organisation; pass --org ORG (whose observations they are)")
    return org


def _check_utf8(handle: IO[bytes]) -> None:
    """Read the whole file once as UTF-8 (BOM tolerated), then rewind; FormatError names the line and byte."""
    head = handle.read(2)
    if head in (b"\xff\xfe", b"\xfe\xff"):
        raise FormatError("the file is UTF-16 (byte-order mark at byte 0); save it as UTF-8")
    handle.seek(0)
    offset = 0
    for number, raw in enumerate(handle, start=1):
        try:
            raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"line {number} is not UTF-8 (byte offset {offset + exc.start} is {raw[exc.start]:#04x}); nothing was stored") from exc
        offset += len(raw)
    handle.seek(0)


def _utf8_lines(handle: IO[bytes]) -> Iterator[str]:
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"line {number} is not UTF-8 (byte {exc.start} is {raw[exc.start]:#04x})") from exc


def _runs(chunk: Sequence[Record | Validated], good: Sequence[Any], bad: set[int]) -> list[tuple[bool, list[Any]]]:
    """The chunk's valid items in order, as runs of (validated?, items): ``good`` holds the observations of its
    records in order but those at the ``bad`` record positions."""
    built = iter(good)
    runs: list[tuple[bool, list[Any]]] = []
    position = 0
    for item in chunk:
        if isinstance(item, Validated):
            value: Any = item.observation
            validated = True
        else:
            position += 1
            if position - 1 in bad:
                continue
            value, validated = next(built), False
        if runs and runs[-1][0] is validated:
            runs[-1][1].append(value)
        else:
            runs.append((validated, [value]))
    return runs


def ingest_records(
    store: ObservationStore,
    records: Iterable[Record | Rejection | Validated],
    summary: IngestSummary,
    *,
    chunk_size: int = CHUNK_SIZE,
    on_chunk: Callable[[IngestSummary], None] | None = None,
) -> IngestSummary:
    """Validate and store records chunk by chunk, filling ``summary``.

    :class:`Validated` items (records a decoder validated) are stored as they are; the rest are validated here.
    A chunk is stored in file order, one call per run of either kind (one run in a file of one kind), so that
    the ledger follows the file and, of two records with one id, the first is stored whatever path each took.
    """
    context = validation_context()
    chunk: list[Record | Validated] = []

    def reject(rejection: Rejection, new_record: bool = True) -> None:
        summary.rejected_count += new_record
        if len(summary.rejected) < _MAX_REJECTIONS_KEPT:
            summary.rejected.append(rejection)

    def count(result: AddResult) -> None:
        summary.stored += len(result.stored)
        summary.duplicates += len(result.duplicates)
        summary.conflicts.extend(result.conflicts)

    def flush() -> None:
        pending = [item for item in chunk if not isinstance(item, Validated)]
        good, errors = validate_batch([r.value for r in pending], context)
        seen: set[int] = set()
        for error in errors:
            reject(Rejection(pending[error.index].where, error.field, error.message, error.value), error.index not in seen)
            seen.add(error.index)
        for validated, run in _runs(chunk, good, seen):
            if validated:
                # Rows, leaves and their tuples, no cycles: a full pass of the collector here would walk every
                # object of a file read as columns (its rows wait in memory) for nothing.
                with collector_paused():
                    count(store.add_validated(run))
            else:
                count(store.add_observations(run))
        chunk.clear()
        if on_chunk is not None:
            on_chunk(summary)

    for item in records:
        summary.records += 1
        if isinstance(item, Rejection):
            reject(item)
            continue
        chunk.append(item)
        if len(chunk) >= chunk_size:
            flush()
    if chunk or on_chunk is not None:
        flush()
    return summary
