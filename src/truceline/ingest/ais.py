"""AIS NMEA (AIVDM/AIVDO) → TrackPoints with pyais, checksums verified, multi-sentence messages reassembled.

Reads NMEA 0183 lines with or without an NMEA 4.0 tag block (``\\c:1700000000,s:station*hh\\!AIVDM,...``),
the way AIS-catcher, gpsd, rtl-ais and national AIS networks write them. pyais decodes a sentence whose
checksum is wrong and a payload cut short without complaint (a truncated type 1 gives latitude 0.00003),
so each sentence is checked here first: structure, NMEA checksum (and tag block checksum), payload length
for its message type. A line that fails is counted in ``rejected`` with its line number and why (the
word "checksum" for a checksum mismatch), never turned into a position.

Time: the tag block's ``c:`` (UNIX seconds, or milliseconds as some networks send) when there is one;
otherwise the time the bytes were received (live) or the time the caller gives for a file (``received_at``:
the file's modification time in ``ingest``), marked in ``extra["time_source"]`` (``tag-block``,
``received``, ``ingest``) so checks that need real timing (kinematics, gaps) leave ``ingest`` times alone.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

from pyais.bit_vector import bit_vector
from pyais.exceptions import InvalidNMEAMessageException, UnknownMessageException
from pyais.messages import MAX_PAYLOAD_LEN, MSG_CLASS, NMEASentenceFactory

from truceline.track.model import DecodeReport, TrackPoint

#: Message types turned into points (ITU-R M.1371): positions, static and voyage data, AtoN, long range.
DECODED_TYPES = frozenset({1, 2, 3, 4, 5, 18, 19, 21, 24, 27})
#: The fewest payload bits a message of each type needs for the fields used here (ITU-R M.1371-5).
MIN_BITS = {1: 168, 2: 168, 3: 168, 4: 168, 5: 420, 18: 168, 19: 312, 21: 272, 24: 160, 27: 96}
KNOT_MPS = 1852.0 / 3600.0
MAX_PENDING = 1024  # unfinished multi-sentence messages kept at once (a live feed must not grow without bound)

_SENTENCE = re.compile(rb"^[!$][A-Z]{2}VD[MO],[1-9],[1-9],[0-9]?,[A-Za-z0-9]?,[0-9:;<=>?@A-Wa-w`]*,[0-5]\*[0-9A-Fa-f]{2}$")
_TRAILER = re.compile(rb"\*[0-9A-Fa-f]{2},")
_ANY_VDM = re.compile(rb"[!$][A-Z]{2}VD[MO],")


def _payload_type(first: int) -> int:
    """The message type: the first 6-bit character of the armoured payload (ITU-R M.1371 / IEC 61162)."""
    value = first - 48
    return value - 8 if value > 40 else value


def _nmea_checksum(body: bytes) -> int:
    """XOR of the bytes between ``!``/``$`` and ``*`` (NMEA 0183)."""
    value = 0
    for b in body:
        value ^= b
    return value


class _Pending:
    __slots__ = ("line", "parts", "raws", "tag_time")

    def __init__(self, line: int, count: int) -> None:
        self.line = line
        self.parts: list[tuple[bytes, int] | None] = [None] * count  # (payload, fill bits) of each sentence
        self.raws: list[str] = []
        self.tag_time: datetime | None = None


class AisDecoder:
    """Stateful AIS decoder: bytes in (any chunking), TrackPoints out as messages complete."""

    def __init__(self, source: str = "", *, received_at: datetime | None = None, live: bool = False) -> None:
        self.source = source
        self.received_at = received_at
        self.live = live
        self._buf = b""
        self._line = 0
        self._pending: dict[tuple[Any, ...], _Pending] = {}
        self._tags: dict[bytes, tuple[str | None, datetime | None]] = {}

    def feed(self, chunk: bytes, *, final: bool = False) -> DecodeReport:
        """Decode every complete line in ``chunk`` (plus what was buffered); keep the partial tail.

        ``final=True`` ends the input (see :meth:`flush`), like the Mode S stream decoders."""
        data = self._buf + chunk
        lines = data.split(b"\n")
        self._buf = lines.pop()
        report = DecodeReport(points=[], rejected=[], messages=0)
        now = datetime.now(UTC) if self.live else (self.received_at or datetime.now(UTC))
        for raw in lines:
            self._line += 1
            self._one(raw, now, report)
        return report.merge(self.flush()) if final else report

    def flush(self) -> DecodeReport:
        """End of input: decode a last line without newline, reject multi-sentence messages left incomplete."""
        report = DecodeReport(points=[], rejected=[], messages=0)
        if self._buf.strip():
            self._line += 1
            tail, self._buf = self._buf, b""
            self._one(tail, self.received_at or datetime.now(UTC), report)
        for pending in self._pending.values():
            have = sum(p is not None for p in pending.parts)
            report.rejected.append((pending.line, f"incomplete multi-sentence message: {have} of {len(pending.parts)} sentences"))
        self._pending.clear()
        return report

    # -- one line ---------------------------------------------------------------------------------------

    def _one(self, raw: bytes, now: datetime, report: DecodeReport) -> None:
        line = raw.strip()
        if not line or line.startswith(b"#"):
            return
        lineno = self._line
        tag_time: datetime | None = None
        sentence = line
        if line.startswith(b"\\"):
            end = line.find(b"\\", 1)
            if end < 0:
                report.messages += 1
                report.rejected.append((lineno, "truncated tag block (no closing backslash)"))
                return
            tag, sentence = line[1:end], line[end + 1 :]
            cached = self._tags.get(tag)
            if cached is None:
                if len(self._tags) > 4096:
                    self._tags.clear()
                cached = self._tags[tag] = _parse_tag_block(tag)  # a receiver's lines of one second share it
            err, tag_time = cached
            if err:
                report.messages += 1
                report.rejected.append((lineno, err))
                return
        else:
            m = _ANY_VDM.search(line)
            if m is None:
                if line[:1] in (b"!", b"$"):
                    return  # another NMEA sentence (GPS fix, heading): not AIS, not an error
                report.messages += 1
                report.rejected.append((lineno, "not an AIS sentence (no !xxVDM/!xxVDO)"))
                return
            sentence = line[m.start() :]  # a receiver's own prefix (timestamp, station) is skipped
        report.messages += 1
        if not line.isascii():  # NMEA 0183 is ASCII: a receiver's prefix or tag block with other bytes is refused
            at = next(i for i, byte in enumerate(line) if byte > 0x7F)
            report.rejected.append((lineno, f"not ASCII: byte {at} of the line is {line[at]:#04x} (NMEA 0183 is ASCII)"))
            return
        tail = _TRAILER.search(sentence)
        if tail is not None:  # receiver metadata after the checksum (AISHub, ORBCOMM: ",s36310,d-081,T59.0")
            sentence = sentence[: tail.start() + 3]
        if not _SENTENCE.match(sentence):
            star = sentence.rfind(b"*")
            if star < 0 or len(sentence) - star != 3:
                report.rejected.append((lineno, "truncated or malformed sentence (no *hh checksum at the end)"))
            else:
                report.rejected.append((lineno, "malformed AIS sentence (fields do not match !xxVDM,n,n,id,ch,payload,fill*hh)"))
            return
        star = sentence.rfind(b"*")
        expected = int(sentence[star + 1 :], 16)
        actual = _nmea_checksum(sentence[1:star])
        if actual != expected:
            report.rejected.append((lineno, f"checksum mismatch: sentence says {expected:02X}, content gives {actual:02X}"))
            return
        fields = sentence.split(b",", 6)
        payload = fields[5]
        count, number = fields[1][0] - 48, fields[2][0] - 48  # one digit each, 1-9 (the pattern)
        if count == 1 and payload[:1] and _payload_type(payload[0]) not in DECODED_TYPES:
            return  # a valid single-sentence message of a type without track data: counted, not decoded
        if number > count or len(payload) > MAX_PAYLOAD_LEN:
            try:  # pyais refuses these; its words are the reason given
                NMEASentenceFactory.produce(sentence)
            except (InvalidNMEAMessageException, UnknownMessageException, ValueError) as exc:
                report.rejected.append((lineno, f"invalid AIS sentence: {exc}"))
                return
            report.rejected.append((lineno, "invalid AIS sentence: fragment number above the count, or payload too long"))
            return
        # Everything else pyais's sentence parser checks is checked above (the pattern: ASCII, one-digit
        # fragment count and number, fill 0-5; the payload length): the payload's bits are made once, here,
        # instead of by an AISSentence per line that is thrown away after decoding.
        fill = fields[6][0] - 48
        raw_text = line.decode("ascii")
        if count == 1:
            bv = bit_vector(payload, fill)
            self._decode(payload, bv, bv.get(0, 6), lineno, raw_text, tag_time or None, now, report)
            return
        key = (fields[3], fields[4], fields[0][1:], count)  # sequence id, channel, talker and type, count
        pending = self._pending.get(key)
        if number == 1:
            if pending is not None:
                have = sum(p is not None for p in pending.parts)
                report.rejected.append((pending.line, f"incomplete multi-sentence message: {have} of {len(pending.parts)} sentences"))
            if len(self._pending) >= MAX_PENDING:
                old_key = next(iter(self._pending))
                old = self._pending.pop(old_key)
                report.rejected.append((old.line, "incomplete multi-sentence message: dropped, too many pending"))
            pending = self._pending[key] = _Pending(lineno, count)
        elif pending is None or pending.parts[number - 2] is None or pending.parts[number - 1] is not None:
            report.rejected.append((lineno, f"sentence {number} of {count} without the sentences before it"))
            return
        pending.parts[number - 1] = (payload, fill)
        pending.raws.append(raw_text)
        pending.tag_time = pending.tag_time or tag_time
        if number == count:
            del self._pending[key]
            parts = [part for part in pending.parts if part is not None]
            # As pyais's AISSentence.assemble_from_iterable: the payloads joined, the last part's fill bits,
            # and the message type read from the first part's own bits.
            whole = b"".join(part[0] for part in parts)
            first, first_fill = parts[0]
            msg_type = bit_vector(first, first_fill).get(0, 6)
            self._decode(whole, bit_vector(whole, parts[-1][1]), msg_type, pending.line, "\n".join(pending.raws),
                         pending.tag_time, now, report)

    def _decode(self, payload: bytes, bv: Any, msg_type: int, lineno: int, raw_text: str, tag_time: datetime | None,
                now: datetime, report: DecodeReport) -> None:
        if not payload:
            report.rejected.append((lineno, "empty AIS payload"))
            return
        if msg_type not in DECODED_TYPES:
            return  # a valid message of a type without position or identity (binary, safety text): counted only
        bits = len(bv)
        need = MIN_BITS[msg_type]
        if bits < need:
            report.rejected.append((lineno, f"payload truncated: type {msg_type} needs {need} bits, got {bits}"))
            return
        try:
            d = MSG_CLASS[msg_type].from_vector(bv)  # what AISSentence.decode() does, for the types decoded here
        except Exception as exc:  # pyais raises assorted errors for impossible field values
            report.rejected.append((lineno, f"AIS type {msg_type} not decodable: {exc}"))
            return
        mmsi = int(getattr(d, "mmsi", None) or 0)
        if not 0 < mmsi <= 999_999_999:
            report.rejected.append((lineno, f"invalid MMSI {mmsi} (must be 1..999999999)"))
            return
        time = tag_time or now
        try:
            point = _point(msg_type, d, mmsi, time, raw_text, "tag-block" if tag_time else ("received" if self.live else "ingest"))
        except ValueError as exc:
            report.rejected.append((lineno, f"AIS type {msg_type}: {exc}"))
            return
        report.points.append(point)


def _parse_tag_block(tag: bytes) -> tuple[str | None, datetime | None]:
    star = tag.rfind(b"*")
    if star < 0 or len(tag) - star != 3:
        return "truncated tag block (no *hh checksum)", None
    try:
        expected = int(tag[star + 1 :], 16)
    except ValueError:
        return "tag block checksum is not hex", None
    actual = _nmea_checksum(tag[:star])
    if actual != expected:
        return f"tag block checksum mismatch: block says {expected:02X}, content gives {actual:02X}", None
    for field in tag[:star].split(b","):
        if field.startswith(b"c:"):
            try:
                value = int(field[2:])
            except ValueError:
                return f"tag block c: is not a UNIX time: {field[2:].decode('ascii', 'replace')!r}", None
            seconds = value / 1000.0 if value > 100_000_000_000 else float(value)  # some networks send ms
            try:
                return None, datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                return f"tag block c: out of range: {value}", None
    return None, None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.replace("@", " ").strip()
    return cleaned or None


def _enum(value: Any) -> Any:
    return int(value) if value is not None else None


def _point(msg_type: int, d: Any, mmsi: int, time: datetime, raw: str, time_source: str) -> TrackPoint:
    lat = getattr(d, "lat", None)
    lon = getattr(d, "lon", None)
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:  # 91 / 181: not available
        lat = lon = None
    speed = getattr(d, "speed", None)
    course = getattr(d, "course", None)
    extra: dict[str, Any] = {"msg_type": msg_type, "time_source": time_source}
    speed_na = 63 if msg_type == 27 else 102.3
    course_na = 511 if msg_type == 27 else 360
    speed_mps = float(speed) * KNOT_MPS if speed is not None and speed < speed_na else None
    course_deg = float(course) if course is not None and course < course_na and course < 360 else None
    name: str | None = None
    heading = getattr(d, "heading", None)
    if heading is not None and heading < 360:
        extra["heading"] = int(heading)
    if msg_type in (1, 2, 3, 27):
        extra["nav_status"] = _enum(getattr(d, "status", None))
    if msg_type in (1, 2, 3, 18, 19):
        extra["position_accuracy"] = bool(getattr(d, "accuracy", None))
    if msg_type == 4:
        extra["station"] = "base-station"
        with contextlib.suppress(TypeError, ValueError, KeyError):  # "not available" date fields (0): the station's clock says nothing
            extra["station_utc"] = datetime(d.year, d.month, d.day, d.hour, d.minute, d.second, tzinfo=UTC).isoformat()
    if msg_type == 5:
        name = _text(getattr(d, "shipname", None))
        extra.update(callsign=_text(getattr(d, "callsign", None)), ship_type=_enum(getattr(d, "ship_type", None)),
                     imo=getattr(d, "imo", None) or None, destination=_text(getattr(d, "destination", None)))
    if msg_type == 19:
        name = _text(getattr(d, "shipname", None))
        extra["ship_type"] = _enum(getattr(d, "ship_type", None))
    if msg_type == 21:
        name = _text(getattr(d, "name", None))
        extra.update(station="aid-to-navigation", aid_type=_enum(getattr(d, "aid_type", None)))
    if msg_type == 24:
        extra["part"] = getattr(d, "partno", None)
        if getattr(d, "partno", None) == 0:
            name = _text(getattr(d, "shipname", None))
        else:
            extra.update(callsign=_text(getattr(d, "callsign", None)), ship_type=_enum(getattr(d, "ship_type", None)))
    if msg_type in (18, 19, 24):
        extra["class"] = "B"
    elif msg_type in (1, 2, 3, 5, 27):
        extra["class"] = "A"
    return TrackPoint(
        kind="vessel", ident=f"{mmsi:09d}", time=time, lat=lat, lon=lon,
        speed_mps=speed_mps, course_deg=course_deg, callsign=name,
        extra={k: v for k, v in extra.items() if v is not None}, raw=raw,
    )


def decode_ais(data: bytes, source: str, *, received_at: datetime | None = None) -> DecodeReport:
    """Decode a whole AIS NMEA file; lines without a tag block get ``received_at`` (default: now)."""
    return AisDecoder(source, received_at=received_at or datetime.now(UTC)).feed(data, final=True)
