"""``truceline ingest --format ais|sbs|avr|beast|modes-csv``: messages into tracks, with a summary per file."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console
from rich.table import Table

from truceline.ingest.format_names import TRACK_FORMATS
from truceline.ingest.records import FormatError

if TYPE_CHECKING:
    from truceline.service.track_intake import TrackIngestSummary, TrackOptions

__all__ = ["TRACK_FORMATS", "feed_options", "sniff_track_format", "ingest_track_files", "parse_start_time", "run_track_ingest"]


_AIS_LINE = re.compile(r"^(\\[^\\]*\\)?[!$][A-Z]{2}VD[MO],")


def sniff_track_format(path: Path) -> str | None:
    """``ais`` or a Mode S framing when a file's first bytes look like one (for ``--format auto``), else None."""
    from truceline.ingest.modes_formats import sniff_modes_format

    with path.open("rb") as handle:
        head = handle.read(8192)
    text = head.decode("ascii", errors="replace")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    if _AIS_LINE.match(line):
        return "ais"
    return sniff_modes_format(head)


def feed_options(ais: list[str], adsb: list[str], console: Console) -> dict[str, Any]:
    """Check ``serve --ais/--adsb`` addresses before anything starts; the Settings fields, or exit 2."""
    import typer

    from truceline.service.adsb_feed import parse_adsb_address
    from truceline.service.feeds import parse_feed_address

    try:
        for text in ais:
            parse_feed_address(text)
        for text in adsb:
            parse_adsb_address(text)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    return {"ais_feeds": tuple(ais), "adsb_feeds": tuple(adsb)}


def parse_start_time(text: str | None) -> datetime | None:
    """``--start-time`` as an aware UTC datetime; raises ValueError saying what is wrong."""
    if text is None:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"--start-time {text!r} needs a UTC offset, e.g. 2024-05-01T12:00:00Z")
    return value


def run_track_ingest(open_store: Callable[[], Any], files: list[Path], fmt: str, as_json: bool, tz: str | None,
                     start: str | None, console: Console) -> int:
    """The ``ingest`` command for message formats: check options, store tracks, then run the air and sea checks."""
    from truceline.service.airsea import TrackChecker
    from truceline.service.track_intake import TrackOptions

    try:
        options = TrackOptions(sbs_timezone=tz, start_time=parse_start_time(start))
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    store = open_store()
    try:
        checker = TrackChecker(store)
        code = ingest_track_files(store, files, fmt, options, as_json=as_json, console=console, on_stored=checker.check)
        if not as_json and checker.agreement is not None:
            console.print(f"air/sea checks against {checker.agreement.id} v{checker.agreement.version}: "
                          f"{checker.found.get('violation', 0):,} violations, {checker.found.get('incident', 0):,} track incidents")
        return code
    finally:
        store.close()


def ingest_track_files(store: Any, files: list[Path], fmt: str, options: TrackOptions, *, as_json: bool,
                       console: Console, on_stored: Any = None) -> int:
    """Ingest each file; exit status 0 all messages decoded, 1 some rejected, 2 a file could not be read."""
    from truceline.service.track_intake import ingest_track_file

    results: list[dict[str, Any]] = []
    exit_code = 0
    for path in files:
        try:
            summary = ingest_track_file(store, path, fmt, options, on_stored=on_stored)
        except FormatError as exc:
            console.print(f"[red]error:[/] {path}: {exc}")
            results.append({"file": str(path), "error": str(exc)})
            exit_code = 2
            continue
        results.append(summary.as_dict())
        if summary.rejected_count:
            exit_code = max(exit_code, 1)
        if not as_json:
            _print(summary, console)
    if as_json:
        sys.stdout.write(orjson.dumps({"files": results}, option=orjson.OPT_INDENT_2).decode() + "\n")
    return exit_code


def _print(summary: TrackIngestSummary, console: Console) -> None:
    console.print(
        f"[bold]{summary.source}[/] ({summary.format}): {summary.messages:,} messages, {summary.points:,} decoded "
        f"into {len(summary.tracks):,} tracks ([green]{summary.stored:,} new[/], {summary.duplicates:,} duplicates, "
        f"{summary.leaves:,} ledger leaves), [red]{summary.rejected_count:,} rejected[/]"
        + (f" ({summary.checksum_errors:,} checksum mismatches)" if summary.checksum_errors else "")
    )
    if summary.rejected:
        table = Table("message", "reason", show_edge=False)
        for n, reason in summary.rejected[:20]:
            table.add_row(str(n), reason)
        console.print(table)
        if summary.rejected_count > 20:
            console.print(f"  … and {summary.rejected_count - 20:,} more (--json lists up to 1,000)")


