"""ADS-B/Mode S and AIS into the store: file ingest in chunks, and the sink of live feeds.

Both paths decode with the same stream decoders (``feed(chunk, final=...)``), store points with one ledger
leaf per track-minute (store/tracks.py), then hand the new points to the air and sea checks. A file is read
in 1 MiB chunks, each stored in its own transaction: a killed ingest keeps what was committed and a rerun
adds nothing twice. A live feed's points are written at most every ``flush_s`` seconds, off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from truceline.ingest.ais import AisDecoder
from truceline.ingest.format_names import TRACK_FORMATS
from truceline.ingest.records import FormatError
from truceline.store.tracks import add_track_points
from truceline.track.model import DecodeReport, TrackPoint

READ_BYTES = 1 << 20
MAX_REJECTIONS_KEPT = 1000


@dataclass(frozen=True)
class TrackOptions:
    """What some framings need to time messages (see ingest/modes_formats.py) and where the receiver is."""

    sbs_timezone: str | None = None
    start_time: datetime | None = None
    receiver: tuple[float, float] | None = None


def stream_decoder(fmt: str, source: str, options: TrackOptions = TrackOptions(), *, live: bool = False,
                   file_time: datetime | None = None) -> Any:
    """A fresh stateful decoder for one file or one connection; raises FormatError for missing options.

    AIS lines without a tag block in a file get ``file_time`` (the file's modification time: when it was
    last written, an upper bound of receipt, and the same on every rerun, so a rerun adds nothing twice)."""
    if fmt == "ais":
        return AisDecoder(source, received_at=file_time or datetime.now(UTC), live=live)
    from truceline.ingest.modes import ModeSDecoder
    from truceline.ingest.modes_formats import AvrStream, BeastStream, ModesCsvStream, SbsStream

    clock = time.time if live else None
    if fmt == "sbs":
        return SbsStream(source=source, tz=options.sbs_timezone, clock=clock if options.sbs_timezone is None else None)
    if fmt == "modes-csv":
        return ModesCsvStream(ModeSDecoder(receiver=options.receiver), source=source)
    if fmt in ("avr", "beast"):
        cls = AvrStream if fmt == "avr" else BeastStream
        return cls(ModeSDecoder(receiver=options.receiver), source=source, start_time=None if live else options.start_time,
                   clock=clock)
    raise FormatError(f"unknown track format {fmt!r}; choose one of {', '.join(TRACK_FORMATS)}")


@dataclass
class TrackIngestSummary:
    """What happened to one input of messages."""

    source: str
    format: str
    messages: int = 0
    points: int = 0
    stored: int = 0
    duplicates: int = 0
    leaves: int = 0
    rejected_count: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    checksum_errors: int = 0
    tracks: set[str] = field(default_factory=set)

    def add(self, report: DecodeReport) -> None:
        self.messages += report.messages
        self.points += len(report.points)
        self.rejected_count += len(report.rejected)
        self.checksum_errors += sum("checksum mismatch" in reason for _, reason in report.rejected)
        room = MAX_REJECTIONS_KEPT - len(self.rejected)
        if room > 0:
            self.rejected.extend(report.rejected[:room])
        self.tracks.update(p.track_id for p in report.points)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``truceline ingest --json``."""
        return {
            "file": self.source, "format": self.format, "messages": self.messages, "points": self.points,
            "stored": self.stored, "duplicates": self.duplicates, "ledger_leaves": self.leaves, "tracks": len(self.tracks),
            "rejected_count": self.rejected_count, "checksum_errors": self.checksum_errors,
            "rejected": [{"message": n, "reason": reason} for n, reason in self.rejected],
        }


OnStored = Callable[[list[TrackPoint]], None]


def ingest_track_file(store: Any, path: Path, fmt: str, options: TrackOptions = TrackOptions(),
                      on_stored: OnStored | None = None, on_progress: Callable[[int], None] | None = None) -> TrackIngestSummary:
    """Decode and store one file chunk by chunk; raises FormatError when the file cannot be read as ``fmt``."""
    summary = TrackIngestSummary(source=str(path), format=fmt)
    decoder = stream_decoder(fmt, path.name, options, file_time=datetime.fromtimestamp(path.stat().st_mtime, UTC))
    with path.open("rb") as handle:
        done = 0
        while True:
            chunk = handle.read(READ_BYTES)
            final = len(chunk) < READ_BYTES
            report = decoder.feed(chunk, final=final)
            _store(store, report, summary, path.name, on_stored)
            done += len(chunk)
            if on_progress is not None:
                on_progress(done)
            if final:
                break
    return summary


def _store(store: Any, report: DecodeReport, summary: TrackIngestSummary, source: str, on_stored: OnStored | None) -> None:
    summary.add(report)
    if report.points:
        result = add_track_points(store, report.points, source)
        summary.stored += result.stored
        summary.duplicates += result.duplicates
        summary.leaves += result.leaves
        if on_stored is not None:
            on_stored(report.points)


class TrackIntake:
    """The sink of one live feed: buffers decoded points and stores them in batches off the event loop."""

    def __init__(self, store: Any, source: str, *, flush_s: float = 1.0, max_points: int = 5000,
                 on_stored: OnStored | None = None) -> None:
        self.store = store
        self.source = source
        self.flush_s = flush_s
        self.max_points = max_points
        self.on_stored = on_stored
        self.summary = TrackIngestSummary(source=source, format="live")
        self._pending: list[TrackPoint] = []
        self._last_flush = time.monotonic()
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def __call__(self, report: DecodeReport) -> None:
        self.summary.add(report)
        self._pending.extend(report.points)
        if len(self._pending) >= self.max_points or time.monotonic() - self._last_flush >= self.flush_s:
            await self.flush()
        elif self._pending and self._timer is None:
            self._timer = asyncio.create_task(self._later())

    async def _later(self) -> None:
        try:
            await asyncio.sleep(self.flush_s)
            await self.flush()
        finally:
            self._timer = None

    async def flush(self) -> None:
        """Store what is buffered (never loses it: on a store error the points stay buffered and it raises)."""
        async with self._lock:
            points, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            if not points:
                return
            try:
                result = await run_in_threadpool(add_track_points, self.store, points, self.source)
            except BaseException:
                self._pending = points + self._pending
                raise
            self.summary.stored += result.stored
            self.summary.duplicates += result.duplicates
            self.summary.leaves += result.leaves
            if self.on_stored is not None:
                await run_in_threadpool(self.on_stored, points)
