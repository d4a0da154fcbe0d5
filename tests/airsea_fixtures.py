"""AIS sentences for the air and sea tests, encoded with pyais (the decoder's own encoder) with NMEA 4.0 tag blocks."""

from __future__ import annotations

from datetime import UTC, datetime

from pyais.encode import encode_dict

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _xor(data: bytes) -> int:
    v = 0
    for b in data:
        v ^= b
    return v


def tagged(sentences: list[str], when: datetime) -> bytes:
    """Sentences with a ``\\c:<unix>*hh\\`` tag block each, newline-terminated."""
    tag = f"c:{int(when.timestamp())}".encode()
    block = b"\\" + tag + b"*" + b"%02X" % _xor(tag) + b"\\"
    return b"".join(block + s.encode() + b"\n" for s in sentences)


def position(mmsi: int, lat: float, lon: float, when: datetime, *, speed: float = 10.0, course: float = 90.0) -> bytes:
    """A type 1 position report."""
    msg = {"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": speed, "course": course, "heading": int(course)}
    return tagged(encode_dict(msg, radio_channel="A", talker_id="AI"), when)


def static(mmsi: int, name: str, callsign: str, when: datetime) -> bytes:
    """A type 5 static and voyage report (two sentences)."""
    msg = {"type": 5, "mmsi": mmsi, "shipname": name, "callsign": callsign, "ship_type": 70, "imo": 9000001}
    return tagged(encode_dict(msg, radio_channel="A", talker_id="AI", seq_id=1), when)
