"""The framings Mode S arrives in: SBS-1 BaseStation, AVR raw, Beast binary, modes-csv.

Each class is a stream decoder (``feed(chunk) -> DecodeReport``, the ``StreamDecoder`` of track/model.py):
it keeps a partial line or frame between chunks and numbers lines/frames from 1 across the stream, so a file
and a live feed go through the same code. ``feed(..., final=True)`` reports what is left as truncated.

Times, and why each is what it is (a time is never invented):

- **modes-csv**: the row's UNIX time (UTC by definition).
- **SBS**: fields 7-8 (dump1090's "message generated/received" date and time; 9-10 are when the row was
  logged). They are the *feeder's local clock* with no zone, so a file needs ``tz`` (``"UTC"``, an IANA
  name). A live feed without ``tz`` is timed by receipt (``clock``), and the row's own time is kept in
  ``extra["sbs_time"]``.
- **AVR** ``*HEX;`` has no time: live feeds are timed by receipt; a file is refused. ``@TICKSHEX;`` and
  **Beast** carry a 48-bit 12 MHz counter of the receiver, not a date: a file needs ``start_time`` (UTC of
  the first message) and each message is ``start_time + (ticks - first ticks) / 12 MHz``; live feeds are
  timed by receipt with ``ticks`` kept in ``extra``. GPS-timestamp receivers (Radarcape) use another
  counter layout and are not supported by this convention.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from truceline.domain.strict import parse_decimal
from truceline.ingest.modes import FPM_MPS, FT_M, KT_MPS, ModeSDecoder
from truceline.ingest.records import FormatError
from truceline.track.model import DecodeReport, TrackPoint

TICKS_HZ = 12_000_000
_TICKS_WRAP = 1 << 48
_BEAST_HEARTBEAT = bytes(9)
_HEX = frozenset("0123456789abcdefABCDEF")
_MIN_UNIX, _MAX_UNIX = 631152000.0, 4102444800.0  # 1990-01-01 .. 2100-01-01: outside is not a UNIX time

Clock = Callable[[], float]


class _Ticks:
    """12 MHz receiver counter → UNIX time, from a start time given for the first counted message."""

    def __init__(self, start_time: datetime) -> None:
        if start_time.tzinfo is None or start_time.utcoffset() is None:
            raise FormatError("start_time must carry a time zone (UTC), e.g. 2024-05-01T12:00:00Z")
        self.start = start_time.timestamp()
        self.first: int | None = None
        self.last = 0
        self.offset = 0

    def time(self, ticks: int) -> float:
        if self.first is None:
            self.first = ticks
        elif ticks < self.last and self.last - ticks > _TICKS_WRAP // 2:
            self.offset += _TICKS_WRAP  # the counter wrapped (every 271 days)
        self.last = ticks
        return self.start + (ticks + self.offset - self.first) / TICKS_HZ


class _Lines:
    """Splits chunks into numbered lines, keeping an unfinished line for the next chunk."""

    def __init__(self) -> None:
        self.tail = b""
        self.number = 0

    def split(self, chunk: bytes, final: bool) -> list[tuple[int, bytes]]:
        data = self.tail + chunk
        lines = data.split(b"\n")
        self.tail = b"" if final else lines.pop()
        out = []
        for line in lines:
            self.number += 1
            out.append((self.number, line.rstrip(b"\r")))
        return out


class AvrStream:
    """AVR raw lines as dump1090 serves them on port 30002: ``*8D4840D6202CC371C32CE0576098;``."""

    def __init__(
        self, decoder: ModeSDecoder, *, source: str = "", start_time: datetime | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.decoder, self.source, self.clock = decoder, source, clock
        self.ticks = _Ticks(start_time) if start_time is not None else None
        self.lines = _Lines()

    def feed(self, chunk: bytes, *, final: bool = False) -> DecodeReport:
        report = DecodeReport()
        now = self.clock() if self.clock is not None else None
        dec = self.decoder.decode
        for number, raw in self.lines.split(chunk, final):
            line = raw.strip()
            if not line:
                continue
            try:
                text = line.decode("ascii")
            except UnicodeDecodeError:
                _reject(report, number, "not ASCII: an AVR line is *HEX; or @TICKSHEX;")
                continue
            if not text.endswith(";"):
                _reject(report, number, "truncated: AVR line does not end with ';'")
                continue
            if len(text) == 6 and text[0] == "*":  # Mode A/C: 4 hex digits
                if text != "*0000;":  # "*0000;" is dump1090's heartbeat on a quiet feed
                    _reject(report, number, "Mode A/C reply: it carries no aircraft address")
                continue
            if text[0] == "*":
                if now is None:
                    raise FormatError(
                        f"{self.source or 'input'} line {number}: AVR '*…;' lines carry no time; a file of them "
                        "cannot be timed (record with '@' time stamps, or use modes-csv with UNIX times)"
                    )
                dec(text[1:-1], now, number=number, report=report, extra={"time_basis": "receive"})
            elif text[0] == "@":
                body = text[1:-1]
                try:
                    if len(body) < 12 or not body[:12].isalnum():
                        raise ValueError
                    ticks = int(body[:12], 16)
                except ValueError:
                    _reject(report, number, "truncated: '@' line needs 12 hex digits of 12 MHz time stamp")
                    continue
                if self.ticks is not None:
                    dec(body[12:], self.ticks.time(ticks), number=number, report=report,
                        extra={"time_basis": "start_time+ticks", "ticks": ticks})
                elif now is not None:
                    dec(body[12:], now, number=number, report=report, extra={"time_basis": "receive", "ticks": ticks})
                else:
                    raise FormatError(
                        f"{self.source or 'input'} line {number}: '@' time stamps count a 12 MHz receiver clock, "
                        "not a date: give the UTC start time of the recording (--start-time)"
                    )
            else:
                _reject(report, number, f"not an AVR line: starts with {text[0]!r}, expected '*' or '@'")
        return report


class BeastStream:
    """Beast binary (port 30005): ``0x1a`` type, 6-byte 12 MHz time stamp, signal, message; 0x1a doubled."""

    _LENGTHS = {0x31: 2, 0x32: 7, 0x33: 14}

    def __init__(
        self, decoder: ModeSDecoder, *, source: str = "", start_time: datetime | None = None,
        clock: Clock | None = None,
    ) -> None:
        if start_time is None and clock is None:
            raise FormatError(
                f"{source or 'input'}: Beast time stamps count a 12 MHz receiver clock, not a date: "
                "give the UTC start time of the recording (--start-time)"
            )
        self.decoder, self.source, self.clock = decoder, source, clock
        self.ticks = _Ticks(start_time) if start_time is not None else None
        self.buf = b""
        self.frames = 0

    def feed(self, chunk: bytes, *, final: bool = False) -> DecodeReport:
        report = DecodeReport()
        now = self.clock() if self.clock is not None and self.ticks is None else None
        buf = self.buf + chunk
        i, n = 0, len(buf)
        while True:
            start = buf.find(b"\x1a", i)
            if start < 0:
                if i < n:
                    self._skip(report, n - i)
                i = n
                break
            if start > i:
                self._skip(report, start - i)
            if start + 1 >= n:
                i = start
                break
            kind = buf[start + 1]
            length = self._LENGTHS.get(kind)
            if length is None:
                if kind != 0x1A:
                    self.frames += 1
                    _reject(report, self.frames, f"Beast frame type 0x{kind:02x} is not a Mode A/C or Mode S frame")
                i = start + 2 if kind != 0x1A else start + 1
                continue
            body, end = _unescape(buf, start + 2, 7 + length)
            if body is None:
                if end < 0:  # ran out of data: wait for the rest of the frame
                    i = start
                    break
                self.frames += 1
                _reject(report, self.frames, "truncated Beast frame: a new frame starts inside it")
                i = end
                continue
            self.frames += 1
            i = end
            if length == 2:
                if body != _BEAST_HEARTBEAT:  # dump1090's heartbeat on a quiet feed is an all-zero Mode A/C frame
                    _reject(report, self.frames, "Mode A/C reply: it carries no aircraft address")
                else:
                    self.frames -= 1
                continue
            ticks = int.from_bytes(body[:6], "big")
            extra: dict[str, Any] = {"ticks": ticks, "signal": body[6]}
            if self.ticks is not None:
                if ticks == 0:
                    _reject(report, self.frames, "Beast frame without time stamp (0): cannot be timed")
                    continue
                ts, extra["time_basis"] = self.ticks.time(ticks), "start_time+ticks"
            else:
                ts, extra["time_basis"] = now, "receive"  # type: ignore[assignment]
            self.decoder.decode(body[7:].hex().upper(), ts, number=self.frames, report=report, extra=extra)
        self.buf = buf[i:]
        if final and self.buf:
            self.frames += 1
            _reject(report, self.frames, f"truncated Beast frame at the end: {len(self.buf)} bytes")
            self.buf = b""
        return report

    def _skip(self, report: DecodeReport, count: int) -> None:
        report.rejected.append((self.frames + 1, f"{count} bytes outside any Beast frame skipped"))


def _unescape(buf: bytes, pos: int, count: int) -> tuple[bytes | None, int]:
    """``count`` frame bytes from ``pos`` with 0x1a 0x1a → 0x1a; ``(None, -1)`` if more data is needed,
    ``(None, p)`` if an unescaped 0x1a (a new frame) at ``p`` cuts it short."""
    plain = buf[pos:pos + count]
    if len(plain) == count and 0x1A not in plain:
        return plain, pos + count
    out = bytearray()
    n = len(buf)
    while len(out) < count:
        if pos >= n:
            return None, -1
        b = buf[pos]
        if b == 0x1A:
            if pos + 1 >= n:
                return None, -1
            if buf[pos + 1] != 0x1A:
                return None, pos
            pos += 1
        out.append(b)
        pos += 1
    return bytes(out), pos


class ModesCsvStream:
    """Rows of UNIX time and hex message: pyModeS's samples (``time,"HEX",icao,tc``; ``time,icao,HEX``)
    and OpenSky raw data (a header naming ``mintime``/``timestamp`` and ``rawmsg``)."""

    _TIME_COLS = ("mintime", "timestamp", "time", "ts", "t")
    _MSG_COLS = ("rawmsg", "msg", "message", "hex", "raw")

    def __init__(self, decoder: ModeSDecoder, *, source: str = "") -> None:
        self.decoder, self.source = decoder, source
        self.lines = _Lines()
        self.cols: tuple[int, int | None] | None = None  # (time column, message column or None: first long hex)

    def feed(self, chunk: bytes, *, final: bool = False) -> DecodeReport:
        report = DecodeReport()
        for number, raw in self.lines.split(chunk, final):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "ascii").strip()
            except UnicodeDecodeError:
                _reject(report, number, "not ASCII text")
                continue
            if not text:
                continue
            fields = text.split(",")
            if self.cols is None:
                self.cols = self._header([f.strip().strip('"').strip() for f in fields])
                if self.cols[0] < 0:  # that was a header
                    self.cols = (-self.cols[0] - 1, self.cols[1])
                    continue
            t_col, m_col = self.cols
            try:
                ts = parse_decimal(fields[t_col].strip('" '))  # not float(): it reads "1_680_405_300", "nan", "inf"
            except (IndexError, ValueError):
                _reject(report, number, f"time: column {t_col + 1} is not a UNIX time")
                continue
            if not (_MIN_UNIX <= ts <= _MAX_UNIX):
                _reject(report, number, f"time: {fields[t_col]} is not a UNIX time in seconds (1990-2100)")
                continue
            if m_col is None:  # headerless: the message column is the first long hex field of the first row
                found = self._message([f.strip().strip('"').strip() for f in fields], t_col)
                if found is not None:
                    m_col = found
                    self.cols = (t_col, m_col)
            msg = fields[m_col].strip('" ').lstrip("*").rstrip(";") if m_col is not None and m_col < len(fields) else ""
            if not msg:
                _reject(report, number, "no hex message in the row")
                continue
            self.decoder.decode(msg, ts, number=number, report=report, extra={"time_basis": "message"})
        return report

    def _header(self, fields: list[str]) -> tuple[int, int | None]:
        """Columns of a header row (time column returned as ``-(i+1)``), or the headerless default."""
        low = [f.lower() for f in fields]
        t = next((low.index(c) for c in self._TIME_COLS if c in low), None)
        if t is None:
            try:
                parse_decimal(fields[0])
            except ValueError:
                raise FormatError(
                    f"{self.source or 'input'}: first row is neither UNIX time and hex message nor a header "
                    f"naming a time column ({', '.join(self._TIME_COLS)}) and a message column"
                ) from None
            return 0, None
        m = next((low.index(c) for c in self._MSG_COLS if c in low), None)
        if m is None:
            raise FormatError(f"{self.source or 'input'}: header has no message column ({', '.join(self._MSG_COLS)})")
        return -(t + 1), m

    @staticmethod
    def _message(fields: list[str], t_col: int) -> int | None:
        """Column of the first hex field longer than an ICAO address (pyModeS samples put the ICAO first)."""
        for i, f in enumerate(fields):
            if i != t_col and len(f) > 6 and _is_hex(f.lstrip("*").rstrip(";")):
                return i
        return None


class SbsStream:
    """SBS-1 BaseStation rows (port 30003), already decoded by dump1090/readsb: ``MSG,3,1,1,4840D6,…``.

    No raw message reaches truceline, so there is no CRC to check here: the feeder checked it. Rows are
    validated field by field and a bad field rejects the row, naming the field.
    """

    def __init__(self, *, source: str = "", tz: str | None = None, clock: Clock | None = None) -> None:
        self.source, self.clock = source, clock
        self.lines = _Lines()
        self.tz: ZoneInfo | None = None
        self._second: tuple[str, str] | None = None
        self._second_utc = datetime.fromtimestamp(0, UTC)
        if tz is not None:
            try:
                self.tz = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise FormatError(f"unknown time zone {tz!r}: give an IANA name such as UTC or Europe/Kyiv") from None
            self.basis = f"sbs-generated {self.tz.key}"
        elif clock is None:
            raise FormatError(
                f"{source or 'input'}: SBS times are the feeder's local clock and name no zone: give the zone "
                "the feeder ran in (--sbs-timezone UTC, Europe/Kyiv, …)"
            )

    def _when(self, date: str, clock: str) -> datetime:
        """Fields 7-8 in the feeder's zone → UTC; a second's worth of rows shares the zone conversion."""
        try:
            if len(date) != 10 or date[4] != "/" or date[7] != "/" or clock[2] != ":" or clock[5] != ":":
                raise ValueError
            second = (date, clock[:8])
            if second != self._second:
                local = datetime(int(date[:4]), int(date[5:7]), int(date[8:]), int(clock[:2]), int(clock[3:5]),
                                 int(clock[6:8]), tzinfo=self.tz)
                self._second, self._second_utc = second, local.astimezone(UTC)
            frac = clock[8:]
            if not frac:
                return self._second_utc
            if frac[0] != "." or not 2 <= len(frac) <= 7 or not frac[1:].isdigit():
                raise ValueError
            return self._second_utc + timedelta(microseconds=int(frac[1:].ljust(6, "0")))
        except (ValueError, IndexError):
            raise ValueError(f"fields 7-8 (date, time generated): {date} {clock!r} is not YYYY/MM/DD HH:MM:SS.fff") from None
        except OverflowError:
            raise ValueError(f"fields 7-8 (date, time generated): {date} {clock!r} lies outside the years 1-9999 in UTC") from None

    def feed(self, chunk: bytes, *, final: bool = False) -> DecodeReport:
        report = DecodeReport()
        now = self.clock() if self.clock is not None else None
        for number, raw in self.lines.split(chunk, final):
            try:
                text = raw.decode("ascii").strip()
            except UnicodeDecodeError:
                _reject(report, number, "not ASCII text")
                continue
            if not text:
                continue
            fields = text.split(",")
            if fields[0] != "MSG":
                if fields[0] not in ("SEL", "ID", "AIR", "STA", "CLK"):
                    _reject(report, number, f"not an SBS row: starts with {fields[0][:10]!r}")
                continue
            try:
                report.points.append(self._row(fields, text, now))
            except ValueError as exc:
                _reject(report, number, str(exc))
                continue
            report.messages += 1
        return report

    def _row(self, f: list[str], text: str, now: float | None) -> TrackPoint:
        if len(f) < 22:
            raise ValueError(f"truncated: {len(f)} fields, an SBS MSG row has 22")
        if f[1] not in ("1", "2", "3", "4", "5", "6", "7", "8"):
            raise ValueError(f"field 2 (transmission type): {f[1]!r} is not 1..8")
        icao = f[4].strip().lower()
        if len(icao) != 6 or not _is_hex(icao):
            raise ValueError(f"field 5 (hex ident): {f[4]!r} is not an ICAO 24-bit address")
        sbs_time = f"{f[6]} {f[7]}"
        extra: dict[str, object] = {"sbs_type": int(f[1]), "sbs_time": sbs_time}
        if self.tz is not None:
            when = self._when(f[6], f[7])
            extra["time_basis"] = self.basis
        else:
            when = datetime.fromtimestamp(now, UTC)  # type: ignore[arg-type]
            extra["time_basis"] = "receive"
        alt_m = alt_ref = None
        if f[11]:
            gnss = f[11].endswith("H")
            alt_m = _num(f[11].rstrip("H"), "field 12 (altitude)") * FT_M
            alt_ref = "gnss" if gnss else "baro"
        speed = _num(f[12], "field 13 (ground speed)") * KT_MPS if f[12] else None
        course = _num(f[13], "field 14 (track)") if f[13] else None
        lat = lon = None
        if f[14] or f[15]:
            lat, lon = _num(f[14], "field 15 (latitude)"), _num(f[15], "field 16 (longitude)")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"fields 15-16 (position): {lat}, {lon} out of range")
        if f[16]:
            extra["vertical_rate_mps"] = _num(f[16].rstrip("H"), "field 17 (vertical rate)") * FPM_MPS
        squawk = f[17].strip() or None
        if squawk is not None and (len(squawk) != 4 or not set(squawk) <= set("01234567")):
            raise ValueError(f"field 18 (squawk): {squawk!r} is not four octal digits")
        if f[21] in ("-1", "1"):
            extra["on_ground"] = True
        elif f[21] == "0":
            extra["on_ground"] = False
        return TrackPoint(
            kind="aircraft", ident=icao, time=when, lat=lat, lon=lon, alt_m=alt_m, alt_ref=alt_ref,
            speed_mps=speed, course_deg=course, callsign=f[10].strip() or None, squawk=squawk, extra=extra,
            raw=text,
        )


def sniff_modes_format(head: bytes) -> str | None:
    """``beast``, ``avr``, ``sbs`` or ``modes-csv`` when the first bytes of a file look like one, else None
    (for ``ingest --format auto``: a guess from the first line, never from the file name)."""
    if len(head) >= 2 and head[0] == 0x1A and head[1] in b"123":
        return "beast"
    try:
        text = head[:4096].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = head[: exc.start].decode("utf-8-sig", errors="ignore")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if len(line) > 2 and line[0] in "*@" and line.endswith(";") and _is_hex(line[1:-1]):
        return "avr"
    fields = line.split(",")
    if fields[0] in ("MSG", "SEL", "ID", "AIR", "STA", "CLK") and len(fields) >= 10:
        return "sbs"
    names = [f.strip().strip('"').lower() for f in fields]
    if any(c in names for c in ModesCsvStream._TIME_COLS) and any(c in names for c in ModesCsvStream._MSG_COLS):
        return "modes-csv"
    try:
        parse_decimal(names[0])
    except ValueError:
        return None
    return "modes-csv" if ModesCsvStream._message(names, 0) is not None else None


def _num(value: str, what: str) -> float:
    try:
        return parse_decimal(value)  # not float(): it reads "4_7.5" (the line is ASCII, checked before)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _is_hex(s: str) -> bool:
    return bool(s) and set(s) <= _HEX


def _reject(report: DecodeReport, number: int, reason: str) -> None:
    """A message refused by its framing (counted as a message read, like every line or frame)."""
    report.messages += 1
    report.rejected.append((number, reason))


def live_clock() -> float:
    """Receive time of a live feed: the host's UTC clock (keep it NTP-synchronised)."""
    return time.time()
