"""``truceline geoparse``: places named in a text, with honest precision.

``geoparse TEXT`` prints a table on a terminal (cells wrap, nothing is cut) and tab-separated rows
otherwise, so a pipe or a file gets every row whole whatever the width (``--json``: one JSON object). ``geoparse -`` reads one text per line
from standard input and writes exactly one JSON object per line, so thousands of texts run in one process
with the gazetteer loaded once.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from truceline.text.gazetteer import GazetteerError
from truceline.text.geoparse import Geoparser, ResolvedPlace

app = typer.Typer(add_completion=False)
_stderr = Console(stderr=True, soft_wrap=True)


def places_json(places: list[ResolvedPlace]) -> dict[str, Any]:
    """The JSON object for one text: ``{"places": [{"name", "lat", "lon", "precision", "admin1", ...}]}``."""
    return {"places": [p.as_dict() for p in places]}


@app.command()
def geoparse(
    text: Annotated[str, typer.Argument(help="The text, or '-' to read one text per line from standard input.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Find the places a text names: name, lat, lon, precision (1 exact … 4 region), admin area.

    A name that cannot be resolved is listed without coordinates and with the reason.
    """
    try:
        parser = Geoparser()
    except GazetteerError as exc:
        _stderr.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if text == "-":
        out = sys.stdout.buffer
        for number, raw in enumerate(sys.stdin.buffer, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:  # stop: the output stays one line per input line
                out.flush()
                _stderr.print(f"[red]error:[/] line {number} of standard input is not UTF-8 (byte {exc.start} is {raw[exc.start]:#04x})")
                raise typer.Exit(2) from None
            out.write(orjson.dumps(places_json(parser.geoparse(line.rstrip("\r\n")))) + b"\n")
        out.flush()
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # an argument's bytes that are not UTF-8 arrive as lone surrogates
        code = ord(text[exc.start])
        what = f"stands for byte {code - 0xDC00:#04x}" if 0xDC80 <= code <= 0xDCFF else f"is a lone surrogate U+{code:04X}"
        _stderr.print(f"[red]error:[/] the text is not UTF-8 (character {exc.start} {what})")
        raise typer.Exit(2) from None
    places = parser.geoparse(text)
    if as_json:
        sys.stdout.write(orjson.dumps(places_json(places)).decode() + "\n")
        return
    if not places:
        Console().print("no place names found")
        return
    header = ("mention", "place", "lat", "lon", "precision", "admin1", "note")
    rows = [
        (p.mention, p.name, "" if p.lat is None else f"{p.lat:.5f}", "" if p.lon is None else f"{p.lon:.5f}",
         "" if p.precision is None else str(p.precision), p.admin1 or "", p.note or "")
        for p in places
    ]
    if not sys.stdout.isatty():
        sys.stdout.write("".join("\t".join(row) + "\n" for row in (header, *rows)))
        return
    table = Table(*header)
    for column in table.columns:
        column.overflow = "fold"  # wrap long cells instead of cutting them with an ellipsis
    for row in rows:
        table.add_row(*row)
    Console().print(table)
