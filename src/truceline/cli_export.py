"""``truceline export acled``: incidents an audience may see, as ACLED-codebook CSV.

The edition is computed for a reader holding only the audience's label (the daily report's rule in
:mod:`truceline.report.audience`), so an organisation's private observations never reach an export.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from truceline.cli_store import BusUrl, StoreUrl, check_urls, open_cli_store
from truceline.cli_words import counted
from truceline.report.audience import Audience, AudienceError, edition_reader

app = typer.Typer(help="Export what an audience may see in other tools' formats.", no_args_is_help=True)
_stderr = Console(stderr=True, soft_wrap=True)


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        _stderr.print(f"[red]error:[/] --{name} must carry a UTC offset, e.g. 2023-04-01T00:00:00Z")
        raise typer.Exit(2)
    return value


def _parse_time(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return _utc(datetime.fromisoformat(text), name)
    except ValueError:
        _stderr.print(f"[red]error:[/] --{name} {text!r} is not an ISO 8601 time")
        raise typer.Exit(2) from None


@app.command("acled")
def export_acled(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Data directory holding truceline.db.", exists=True, file_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write ('-' for standard output).")],
    since: Annotated[str | None, typer.Option(metavar="TIME", help="Inclusive lower bound on incident time (ISO 8601 with offset).")] = None,
    until: Annotated[str | None, typer.Option(metavar="TIME", help="Exclusive upper bound on incident time (ISO 8601 with offset).")] = None,
    audience: Annotated[Audience, typer.Option(help="Whose edition: public (PUBLIC observations only) or coalition.")] = "public",
    violations: Annotated[
        bool, typer.Option("--violations/--no-violations", help="Judge incidents against the agreement in force; responsible party as actor1.")
    ] = False,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Write the incidents the audience may see as ACLED-codebook CSV (one row per incident)."""
    from truceline.report.acled_export import gather_rows, write_acled_csv  # judging and fusion: only when exporting

    start, end = _parse_time(since, "since"), _parse_time(until, "until")
    try:
        reader = edition_reader(audience)
    except AudienceError as exc:
        _stderr.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    check_urls(store_url, bus_url)
    store = open_cli_store(data_dir, store_url)
    try:
        in_force = None
        if violations:
            from truceline.api.routes_agreement import AgreementHolder

            in_force = AgreementHolder(store).get()  # type: ignore[arg-type]
            if in_force is None:
                _stderr.print("[red]error:[/] --violations needs an agreement in force (serve --agreement FILE)")
                raise typer.Exit(2)
        rows = gather_rows(store, reader, start, end, in_force)
    finally:
        store.close()
    if str(out) == "-":
        count = write_acled_csv(rows, sys.stdout)
    else:
        # Written beside the target and renamed, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(prefix=out.name + ".", dir=out.parent if str(out.parent) else ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                count = write_acled_csv(rows, handle)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    _stderr.print(f"{counted(count, 'incident')} written for the {audience} audience" + ("" if str(out) == "-" else f" to {out}"))
