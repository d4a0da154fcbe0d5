"""State of registry of an aircraft from its ICAO 24-bit address (ICAO Annex 10 Vol III, Part I, Chapter 9).

ICAO allocates blocks of 24-bit addresses to States, which assign them to the aircraft on their register;
the block an address falls in therefore names the State of registry. The table
(``data/registry/icao24_blocks.csv``, see ATTRIBUTION.md there) has the States' blocks and, for the rest of
the space, the regional reserves and ICAO's own blocks, which name no State. An address is only what the
transponder sends: it can be set to anything, so every use downstream carries that caveat.
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

#: Where the table comes from, quoted wherever a state of registry is published.
ICAO24_SOURCE = (
    "ICAO Annex 10 Vol III, Part I, Chapter 9, Appendix: allocation of aircraft addresses to States "
    "(2nd ed. 2007, amendments to 88-A, 2013), as transcribed in dump1090 public_html/flags.js"
)


@dataclass(frozen=True, slots=True)
class Icao24Block:
    """One allocation: ``kind`` ``state`` (``state`` is ISO 3166-1 alpha-2), ``icao`` or ``unassigned``."""

    start: int
    end: int
    kind: Literal["state", "icao", "unassigned"]
    state: str | None
    name: str

    @property
    def size(self) -> int:
        return self.end - self.start + 1


@cache
def _table() -> tuple[tuple[int, ...], tuple[Icao24Block, ...], tuple[Icao24Block, ...]]:
    """State blocks sorted by start (they never overlap) and the other blocks, smallest first."""
    text = resources.files("truceline.data.registry").joinpath("icao24_blocks.csv").read_text("utf-8")
    states: list[Icao24Block] = []
    others: list[Icao24Block] = []
    for row in csv.DictReader(text.splitlines()):
        kind = row["kind"]
        if kind not in ("state", "icao", "unassigned"):
            raise ValueError(f"icao24_blocks.csv: unknown kind {kind!r}")
        block = Icao24Block(int(row["start"], 16), int(row["end"], 16), kind, row["state"] or None, row["name"])  # type: ignore[arg-type]
        (states if kind == "state" else others).append(block)
    states.sort(key=lambda b: b.start)
    for a, b in zip(states, states[1:]):
        if b.start <= a.end:
            raise ValueError(f"icao24_blocks.csv: {a.name} and {b.name} overlap")
    others.sort(key=lambda b: b.size)
    return tuple(b.start for b in states), tuple(states), tuple(others)


def icao24_block(icao24: str | int) -> Icao24Block | None:
    """The allocation an address falls in (a State's block first, else the smallest other); None if none.

    Raises ValueError for something that is not a 24-bit address.
    """
    if isinstance(icao24, str):
        text = icao24.strip()
        if len(text) != 6:
            raise ValueError(f"an ICAO 24-bit address is 6 hex digits, got {icao24!r}")
        try:
            value = int(text, 16)
        except ValueError:
            raise ValueError(f"an ICAO 24-bit address is 6 hex digits, got {icao24!r}") from None
    else:
        value = icao24
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(f"not a 24-bit address: {icao24!r}")
    starts, states, others = _table()
    i = bisect_right(starts, value) - 1
    if i >= 0 and states[i].start <= value <= states[i].end:
        return states[i]
    return next((b for b in others if b.start <= value <= b.end), None)


def registry_state(icao24: str | int) -> str | None:
    """ISO 3166-1 alpha-2 of the State of registry the address is allocated to; None when it names no State."""
    block = icao24_block(icao24)
    return block.state if block is not None and block.kind == "state" else None
