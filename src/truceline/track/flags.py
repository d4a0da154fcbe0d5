"""Flag state of a vessel from its MMSI: station type and Maritime Identification Digits (ITU-R M.585).

The table (``data/registry/itu_mid.tsv``) is ITU's list of MIDs allocated to administrations, with the
ISO 3166-1 alpha-2 code of the area and of the administration. An MMSI's flag is only what the transponder
says: anyone can program any MMSI, so every use of it downstream carries that caveat.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

#: Where the MID table comes from, quoted wherever a flag state is published.
MID_SOURCE = "ITU-R Table of Maritime Identification Digits (itu.int/en/ITU-R/terrestrial/fmd/Pages/mid.aspx), ITU-R M.585"


@dataclass(frozen=True, slots=True)
class MmsiInfo:
    """What an MMSI says about its station: type, MID, and the flag state when the MID is allocated."""

    mmsi: str
    station: str  # ship, group, coast, sar-aircraft, handheld, craft-of-parent-ship, aid-to-navigation, sart, mob, epirb, invalid
    mid: str | None
    state: str | None  # ISO 3166-1 alpha-2 of the MID's area (236 -> GI); None when no valid flag
    administration: str | None  # ISO alpha-2 of the administration the MID is allocated to (236 -> GB)
    country: str | None  # ITU's name

    @property
    def has_valid_flag(self) -> bool:
        return self.state is not None


@cache
def mid_table() -> dict[str, tuple[str, str, str]]:
    """MID -> (area alpha-2, administration alpha-2, ITU name), loaded once from the bundled table."""
    text = resources.files("truceline.data").joinpath("registry/itu_mid.tsv").read_text(encoding="utf-8")
    table: dict[str, tuple[str, str, str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("mid\t"):
            continue
        mid, area, admin, name = line.split("\t")
        table[mid] = (area, admin, name)
    return table


def _split(mmsi: str) -> tuple[str, str | None]:
    if mmsi.startswith("111"):
        return "sar-aircraft", mmsi[3:6]
    if mmsi.startswith("970"):
        return "sart", None
    if mmsi.startswith("972"):
        return "mob", None
    if mmsi.startswith("974"):
        return "epirb", None
    if mmsi.startswith("98"):
        return "craft-of-parent-ship", mmsi[2:5]
    if mmsi.startswith("99"):
        return "aid-to-navigation", mmsi[2:5]
    if mmsi.startswith("00"):
        return "coast", mmsi[2:5]
    if mmsi.startswith("0"):
        return "group", mmsi[1:4]
    if mmsi.startswith("8"):
        return "handheld", mmsi[1:4]
    if mmsi[0] in "234567":
        return "ship", mmsi[:3]
    return "invalid", None


def mmsi_info(mmsi: str | int) -> MmsiInfo:
    """Classify an MMSI (9-digit string or int) and look up its flag state; never raises for a bad MMSI."""
    text = str(mmsi).strip()
    if text.isdigit() and len(text) < 9:
        text = text.zfill(9)
    if not (text.isdigit() and len(text) == 9):
        return MmsiInfo(text, "invalid", None, None, None, None)
    station, mid = _split(text)
    row = mid_table().get(mid) if mid else None
    if row is None:
        return MmsiInfo(text, station, mid, None, None, None)
    return MmsiInfo(text, station, mid, row[0], row[1], row[2])
