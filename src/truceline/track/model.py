"""The shared interface between the Mode S/ADS-B and AIS decoders and the track layer.

Interface (issue 18), followed by ``ingest/ais.py`` and ``ingest/modes.py``:

- ``TrackPoint``: one decoded message of one aircraft (ICAO 24-bit address) or vessel (MMSI).
- ``DecodeReport``: what a decoder made of a file or a chunk of a stream.
- File decoders ``decode_ais / decode_sbs / decode_avr / decode_beast / decode_modes_csv(data: bytes,
  source: str) -> DecodeReport``; for live feeds each format also has a stateful class with
  ``feed(chunk: bytes) -> DecodeReport`` (keeps partial lines, multi-sentence AIS, CPR even/odd pairs).
- Refinements, compatible with the brief: ``TrackPoint.track_id`` (``"vessel:<mmsi>"`` /
  ``"aircraft:<icao24>"``), ``DecodeReport.merge``, and the ``StreamDecoder`` protocol naming the live
  decoder's shape. Line numbers in ``rejected`` are 1-based and count from the start of the stream.

Pure: no I/O, no imports from other layers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

Kind = Literal["aircraft", "vessel"]

_ICAO_RE = re.compile(r"^[0-9a-f]{6}$")
_MMSI_RE = re.compile(r"^[0-9]{9}$")
_VALID_IDS: set[tuple[str, str]] = set()  # (kind, ident) pairs already found valid (bounded)


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One decoded message: who (ident), when, and where/how fast when the message says so."""

    kind: Kind
    ident: str  # icao24 lower-case 6-hex, or MMSI as 9-digit decimal string
    time: datetime  # UTC, aware
    lat: float | None = None  # None for a message without position (identification, velocity only)
    lon: float | None = None
    alt_m: float | None = None  # aircraft altitude in metres (alt_ref says baro or gnss); None for vessels
    alt_ref: str | None = None  # "baro" | "gnss"
    speed_mps: float | None = None
    course_deg: float | None = None
    callsign: str | None = None  # aircraft callsign or vessel name
    squawk: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # on_ground, ship_type, imo, nav_status, msg_type
    raw: str = ""  # raw message text (hex for Mode S, NMEA sentence(s) with tag block for AIS)

    def __post_init__(self) -> None:
        if (self.kind, self.ident) not in _VALID_IDS:  # a feed repeats its addresses: each is checked once
            if self.kind == "aircraft" and not _ICAO_RE.match(self.ident):
                raise ValueError(f"aircraft ident must be 6 lower-case hex digits, got {self.ident!r}")
            if self.kind == "vessel" and not _MMSI_RE.match(self.ident):
                raise ValueError(f"vessel ident must be a 9-digit MMSI, got {self.ident!r}")
            if self.kind not in ("aircraft", "vessel"):
                raise ValueError(f"kind must be aircraft or vessel, got {self.kind!r}")
            if len(_VALID_IDS) > 65536:
                _VALID_IDS.clear()
            _VALID_IDS.add((self.kind, self.ident))
        tz = self.time.tzinfo
        if tz is not UTC and (tz is None or self.time.utcoffset() is None):
            raise ValueError("TrackPoint.time must be timezone-aware (UTC)")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon are both given or both None")
        if self.lat is not None and not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):  # type: ignore[operator]
            raise ValueError(f"position out of range: {self.lat}, {self.lon}")

    @property
    def track_id(self) -> str:
        """The track this point belongs to: ``vessel:<mmsi>`` or ``aircraft:<icao24>``."""
        return f"{self.kind}:{self.ident}"

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass
class DecodeReport:
    """Decoded points, and every message that was not decoded with its 1-based number and the reason."""

    points: list[TrackPoint] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (1-based line or message number, reason)
    messages: int = 0  # messages read

    def merge(self, other: DecodeReport) -> DecodeReport:
        """Append another report's points, rejections and count to this one (returns self)."""
        self.points.extend(other.points)
        self.rejected.extend(other.rejected)
        self.messages += other.messages
        return self


class StreamDecoder(Protocol):
    """A stateful decoder for a live feed: bytes in as they arrive, points out as messages complete."""

    def feed(self, chunk: bytes) -> DecodeReport: ...


def track_id(kind: Kind, ident: str) -> str:
    """The track id for a kind and ident (``vessel:<mmsi>`` / ``aircraft:<icao24>``)."""
    return f"{kind}:{ident}"
