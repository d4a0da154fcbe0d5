"""``truceline report daily``: one day's report for an audience, as HTML, Markdown or PDF.

Kept apart from :mod:`truceline.cli` so the serving CLI does not load Jinja2, matplotlib or WeasyPrint;
``cli.py`` mounts this ``app`` as the ``report`` group.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from truceline.cli_store import BusUrl, StoreUrl, check_urls, open_cli_store
from truceline.cli_words import counted
from truceline.report.audience import Audience, AudienceError
from truceline.report.formats import Format

app = typer.Typer(name="report", help="Reports: the daily report on the ceasefire.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--date {value!r} is not a date in the form YYYY-MM-DD (e.g. 2023-05-10)") from None


def _write_atomically(path: Path, content: bytes) -> None:
    """Write beside the target and rename, so a failed run never leaves half a report."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command("daily")
def daily(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Data directory of a truceline instance (must exist).")],
    day: Annotated[str, typer.Option("--date", metavar="YYYY-MM-DD", help="UTC day to report on.")],
    out: Annotated[Path, typer.Option("--out", help="File to write.", dir_okay=False)],
    fmt: Annotated[Format, typer.Option("--format", help="html, md (Markdown; for --out r.md its images go in r-files/ beside it) or pdf.")] = "html",
    audience: Annotated[Audience, typer.Option("--audience", help="Whose edition: public (PUBLIC observations only) or coalition.")] = "public",
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Write the daily report: violations by party, sector and kind, the week before, a map, notable incidents
    with their ledger references, what could not be verified, and the method.

    The public edition rests only on observations releasable to PUBLIC; the coalition edition on those
    releasable to COALITION or PUBLIC. Exit status: 0 written, 2 bad arguments or no usable data dir.
    """
    when = _parse_day(day)
    from truceline.store.sqlite import DATABASE_FILENAME

    check_urls(store_url, bus_url)
    if store_url is None and not (data_dir / DATABASE_FILENAME).is_file():
        raise _fail(f"{data_dir} is not a truceline data dir (no {DATABASE_FILENAME}); run `truceline serve` or `truceline demo` first")
    if not out.parent.is_dir():
        raise _fail(f"cannot write {out}: directory {out.parent} does not exist")

    from truceline.ledger.checkpoint import ensure_ledger_key, existing_ledger_key
    from truceline.report.build import ReportError, daily_report

    key = ensure_ledger_key(data_dir) if store_url is None else existing_ledger_key(data_dir)
    if key is None:  # a shared store's key is the sequencer's; never make a second one here
        raise _fail(f"no ledger key in {data_dir}: give the data dir the sequencer (`truceline worker`) uses")
    store = open_cli_store(data_dir, store_url)
    try:
        with console.status(f"Gathering and rendering the {audience} report for {when.isoformat()} …"):
            folder = f"{out.stem}-files" if fmt == "md" else None
            built = daily_report(store, key, when, audience, fmt, image_folder=folder)
        for name, data in built.files.items():  # the images first: the Markdown never links a missing file
            (out.parent / name).parent.mkdir(exist_ok=True)
            _write_atomically(out.parent / name, data)
        _write_atomically(out, built.content)
    except (ReportError, AudienceError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc}") from None
    finally:
        store.close()
    r = built.report
    console.print(
        f"Wrote [bold]{escape(str(out))}[/] ({fmt}, {audience} edition, {counted(len(built.content), 'byte')}): "
        f"{counted(r.incidents, 'incident')}, {counted(r.violations, 'violation')}, {len(r.unverified):,} not verified; "
        f"ledger checkpoint {escape(r.ledger.origin)} at size {r.ledger.size:,}."
        + (f" Images: {escape(str(out.parent / f'{out.stem}-files'))}/" if built.files else "")
    )


__all__ = ["app", "daily"]
