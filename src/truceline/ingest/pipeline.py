"""File ingest: detect the format, decode records as a stream, validate and store them in chunks.

Records are independent here (unlike an API batch): a bad record is reported with its place in the file
and the rest is kept. Each stored chunk is one transaction, so a killed ingest keeps every chunk that was
committed and re-running it is harmless (ids are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from truceline.ingest.firms import decode_firms, looks_like_firms
from truceline.ingest.geojson import decode_geojson
from truceline.ingest.native import decode_json, decode_json_lines
from truceline.ingest.records import FormatError, Record, Rejection
from truceline.ingest.text import decode_text
from truceline.ingest.validation import validate_batch, validation_context
from truceline.store.ports import ObservationStore

FORMATS = ("auto", "json", "jsonl", "geojson", "firms", "text")
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
        }


def detect_format(path: Path, head: bytes) -> str:
    """Guess the format from the extension, then from the first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".geojson":
        return "geojson"
    if suffix == ".txt":
        return "text"
    if suffix == ".csv":
        if looks_like_firms(head.decode("utf-8-sig", errors="replace").splitlines()[0] if head else ""):
            return "firms"
        raise FormatError(f"{path.name}: CSV header is not a known layout (FIRMS needs latitude, longitude, acq_date)")
    text = head.lstrip()
    if text.startswith(b"{"):
        first_line = text.split(b"\n", 1)[0]
        if b'"FeatureCollection"' in head[:4096] or b'"Feature"' in head[:4096]:
            return "geojson"
        if first_line.rstrip().endswith(b"}") and b"\n{" in text:
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


def open_records(path: Path, fmt: str = "auto") -> tuple[str, Iterator[Record | Rejection], Callable[[], int], IO[bytes]]:
    """Open a file for ingest: (format, record stream, byte position, handle to close)."""
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    handle = path.open("rb")
    try:
        if fmt == "auto":
            fmt = detect_format(path, handle.read(65536))
            handle.seek(0)
        if fmt == "jsonl":
            records: Iterator[Record | Rejection] = decode_json_lines(handle)
        elif fmt == "firms":
            records = decode_firms(_utf8_lines(handle))
        elif fmt == "text":
            records = decode_text(handle.read())
        elif fmt == "json":
            records = decode_json(handle.read())
        else:
            records = decode_geojson(handle.read())
    except BaseException:
        handle.close()
        raise
    return fmt, records, _Position(handle), handle


def _utf8_lines(handle: IO[bytes]) -> Iterator[str]:
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"line {number} is not UTF-8 (byte {exc.start} is {raw[exc.start]:#04x})") from exc


def ingest_records(
    store: ObservationStore,
    records: Iterable[Record | Rejection],
    summary: IngestSummary,
    *,
    chunk_size: int = CHUNK_SIZE,
    on_chunk: Callable[[IngestSummary], None] | None = None,
) -> IngestSummary:
    """Validate and store records chunk by chunk, filling ``summary``."""
    context = validation_context()
    pending: list[Record] = []

    def reject(rejection: Rejection, new_record: bool = True) -> None:
        summary.rejected_count += new_record
        if len(summary.rejected) < _MAX_REJECTIONS_KEPT:
            summary.rejected.append(rejection)

    def flush() -> None:
        good, errors = validate_batch([r.value for r in pending], context)
        seen: set[int] = set()
        for error in errors:
            reject(Rejection(pending[error.index].where, error.field, error.message, error.value), error.index not in seen)
            seen.add(error.index)
        if good:
            result = store.add_observations(good)
            summary.stored += len(result.stored)
            summary.duplicates += len(result.duplicates)
            summary.conflicts.extend(result.conflicts)
        pending.clear()
        if on_chunk is not None:
            on_chunk(summary)

    for item in records:
        summary.records += 1
        if isinstance(item, Rejection):
            reject(item)
            continue
        pending.append(item)
        if len(pending) >= chunk_size:
            flush()
    if pending or on_chunk is not None:
        flush()
    return summary
