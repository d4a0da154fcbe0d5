"""Mode S / ADS-B messages → :class:`~truceline.track.model.TrackPoint`, decoded with pyModeS 3.

:class:`ModeSDecoder` holds what a stream needs across messages, per aircraft: the latest even and odd
CPR frame (global decoding from a pair), the last accepted position (local decoding against it), and the
addresses seen in messages whose parity could be checked (so a DF4/5/20/21 reply, whose address *is* its
parity, is believed only for an aircraft already seen). Framings (SBS, AVR, Beast, modes-csv) are in
:mod:`truceline.ingest.modes_formats`; they feed hex messages with a time to :meth:`ModeSDecoder.decode`.

Never a wrong position: a message whose CRC fails, a truncated one, a CPR pair older than its window, or a
position the aircraft could not have reached from its last one is reported in ``rejected`` with the reason,
never turned into a point. A position frame that cannot be placed yet (its pair has not arrived) gives a
point with altitude and no position. pyModeS does the bit work (its ME-field decoders, ``position.*``; the
header fields and CRC-24 remainder its ``Message`` would compute are computed here without building one, the
CRC with a table per byte position checked equal to pyModeS's); this module owns the per-aircraft state, the
checks and the units (metres, m/s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from math import asin, cos, radians, sin, sqrt
from typing import Any

from pyModeS import Message
from pyModeS._bits import crc_remainder  # the CRC-24 remainder pyModeS's Message computes
from pyModeS.decoder.bds.bds05 import decode_bds05
from pyModeS.decoder.bds.bds06 import decode_bds06
from pyModeS.decoder.bds.bds08 import decode_bds08
from pyModeS.decoder.bds.bds09 import decode_bds09
from pyModeS.decoder.bds.bds61 import decode_bds61
from pyModeS.errors import DecodeError
from pyModeS.position import (
    airborne_position_pair,
    airborne_position_with_ref,
    surface_position_pair,
    surface_position_with_ref,
)
from pyModeS.util import altcode, idcode

from truceline.track.model import DecodeReport, TrackPoint

FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0
FPM_MPS = FT_M / 60.0

#: Even/odd airborne frames further apart than this are not paired (DO-260B A.1.7.3: 10 s).
AIRBORNE_PAIR_WINDOW_S = 10.0
#: Surface frames move slower; DO-260B allows 25 s (50 s below 25 kt, not used here).
SURFACE_PAIR_WINDOW_S = 25.0
#: A last position at most this old is a local-decoding reference (1500 kt × 30 s = 12.5 NM ≪ 180 NM).
LOCAL_REF_WINDOW_S = 30.0
#: A surface frame is placed against a track position at most this old (250 kt × 300 s ≈ 21 NM < 45 NM).
SURFACE_REF_WINDOW_S = 300.0
#: An address seen in a checked message stays trusted for DF4/5/20/21 this long (dump1090 uses 60 s).
TRUST_WINDOW_S = 60.0
#: Fastest plausible aircraft, and a margin for CPR quantisation and time stamps of whole seconds.
MAX_SPEED_MPS = 1500 * KT_MPS
MOTION_MARGIN_M = 3000.0

_ME_MASK = (1 << 56) - 1
_LONG_DFS = frozenset((16, 17, 18, 19, 20, 21, 24))
_SHORT_DFS = frozenset((0, 4, 5, 11))


@dataclass(slots=True)
class _Aircraft:
    """Per-address CPR state: pending frames ``(t, lat_cpr, lon_cpr)`` and the last accepted position."""

    even: tuple[float, int, int] | None = None
    odd: tuple[float, int, int] | None = None
    surf_even: tuple[float, int, int] | None = None
    surf_odd: tuple[float, int, int] | None = None
    lat: float | None = None
    lon: float | None = None
    pos_t: float = float("-inf")
    airborne_ref: bool = False  # the last position came from an airborne frame


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (spherical Earth, 6371.0088 km): enough to bound an aircraft's motion."""
    p1, p2 = radians(lat1), radians(lat2)
    a = sin((p2 - p1) / 2) ** 2 + cos(p1) * cos(p2) * sin(radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * asin(min(1.0, sqrt(a)))


def _near(lat1: float, lon1: float, lat2: float, lon2: float, limit_m: float) -> tuple[bool, float]:
    """Whether two points are within ``limit_m``, and their distance; cheap for the usual short hop."""
    dy = (lat2 - lat1) * 111_195.0  # metres per degree of latitude on the 6371.0088 km sphere
    dx = ((lon2 - lon1 + 180.0) % 360.0 - 180.0) * 111_195.0 * cos(radians((lat1 + lat2) / 2))
    if dx * dx + dy * dy < 0.98 * limit_m * limit_m:  # equirectangular is within 1 % below 100 km
        return True, sqrt(dx * dx + dy * dy)
    d = distance_m(lat1, lon1, lat2, lon2)
    return d <= limit_m, d


class ModeSDecoder:
    """Stateful Mode S decoder for one stream (a file or a live feed); not thread-safe.

    ``receiver`` (lat, lon), when known, places surface frames of aircraft without a track position and,
    with ``max_range_km``, refuses a global position farther than the receiver can hear.
    """

    def __init__(self, *, receiver: tuple[float, float] | None = None, max_range_km: float | None = None) -> None:
        if receiver is not None and not (-90 <= receiver[0] <= 90 and -180 <= receiver[1] <= 180):
            raise ValueError(f"receiver position out of range: {receiver}")
        self.receiver = receiver
        self.max_range_m = None if max_range_km is None else max_range_km * 1000.0
        self._aircraft: dict[str, _Aircraft] = {}
        self._trusted: dict[str, float] = {}
        self.ignored = 0  # valid messages a track does not need (DF11, ACAS, status): counted, no point
        self._last_ts, self._last_dt = float("nan"), datetime.fromtimestamp(0, UTC)

    # -- public -----------------------------------------------------------------------------------------

    def decode(
        self,
        msg: str,
        ts: float,
        *,
        number: int,
        report: DecodeReport,
        extra: Mapping[str, Any] | None = None,
    ) -> TrackPoint | None:
        """Decode one hex message received at ``ts`` (UNIX seconds, UTC); add its point or rejection to ``report``.

        ``number`` is the 1-based line or frame number used in the rejection; ``extra`` (framing details:
        time basis, signal, receiver ticks) is copied into the point's ``extra``.
        """
        report.messages += 1
        try:
            point = self._decode(msg.strip(), ts, extra)
        except _Reject as why:
            report.rejected.append((number, str(why)))
            return None
        if point is None:
            self.ignored += 1
            return None
        report.points.append(point)
        return point

    def last_position(self, icao24: str) -> tuple[float, float, float] | None:
        """``(lat, lon, t)`` of the last accepted position of an aircraft (lower-case hex), if any."""
        state = self._aircraft.get(icao24.lower())
        if state is None or state.lat is None or state.lon is None:
            return None
        return state.lat, state.lon, state.pos_t

    def forget_before(self, ts: float) -> int:
        """Drop the state of aircraft with no CPR frame or position since ``ts``, and addresses checked before it
        (a live feed calls this now and then, so months of traffic do not accumulate)."""
        old = [k for k, a in self._aircraft.items() if max(a.pos_t, *(f[0] for f in _frames(a))) < ts]
        for key in old:
            del self._aircraft[key]
        for key in [k for k, t in self._trusted.items() if t < ts]:
            del self._trusted[key]
        return len(old)

    # -- internals --------------------------------------------------------------------------------------

    def _decode(self, msg: str, ts: float, extra: Mapping[str, Any] | None) -> TrackPoint | None:
        n = len(msg)
        if n not in (14, 28):
            raise _Reject(f"truncated or overlong: {n} hex digits, a Mode S message has 14 or 28")
        try:
            value = int(msg, 16)  # what pyModeS's Message parses the hex with; the length is checked above
        except ValueError:
            try:
                Message(msg)  # for pyModeS's own words
            except DecodeError as exc:
                raise _Reject(f"not a Mode S message: {exc}") from None
            raise _Reject(f"not a Mode S message: {msg!r} is not hexadecimal") from None
        length = n * 4
        df = (value >> (length - 5)) & 0x1F
        if n == 28 and df not in _LONG_DFS or n == 14 and df not in _SHORT_DFS:
            if df in _LONG_DFS or df in _SHORT_DFS:
                raise _Reject(f"truncated: DF{df} is {'112' if df in _LONG_DFS else '56'} bits, got {n * 4}")
            raise _Reject(f"DF{df} is not a decodable downlink format (noise or a corrupted first byte)")
        # pyModeS's Message header fields, computed as it computes them (the same CRC-24 remainder function)
        # without building a Message: the address field for DF11/17/18, the parity remainder for the others.
        crc = _crc(value, length)
        if df in (17, 18):
            icao = f"{(value >> (length - 32)) & 0xFFFFFF:06x}"
            if crc != 0:
                raise _Reject(f"CRC: checksum mismatch (parity remainder {crc:06X}), DF{df} from {icao.upper()}")
            if df == 18 and (cf := (int(msg[:2], 16) & 0x7)) != 0:
                raise _Reject(f"DF18 CF={cf}: address is not an ICAO 24-bit address (TIS-B/ADS-R or non-ICAO)")
            self._trusted[icao] = ts
            return self._extended_squitter(df, value, msg, icao, ts, extra)
        if df == 11:
            if crc == 0:  # acquisition squitter: PI is plain parity over the address
                self._trusted[f"{(value >> (length - 32)) & 0xFFFFFF:06x}"] = ts
            return None
        if df in (4, 5, 20, 21):
            return self._surveillance(df, f"{crc:06x}", msg, ts, extra)
        return None  # DF0/16 (ACAS), DF19, DF24: valid, but nothing a track needs

    def _surveillance(self, df: int, icao: str, msg: str, ts: float, extra: Mapping[str, Any] | None) -> TrackPoint:
        """DF4/20 altitude, DF5/21 squawk: the address is recovered from the parity, so check it was seen."""
        seen = self._trusted.get(icao)
        if seen is None or not (0.0 <= ts - seen <= TRUST_WINDOW_S):
            raise _Reject(
                f"address/parity: DF{df} recovers address {icao}, not seen in a CRC-checked DF11/17/18 "
                f"message in the last {TRUST_WINDOW_S:.0f} s, so its parity cannot be checked"
            )
        info: dict[str, Any] = {"df": df, **(extra or {})}
        if df in (4, 20):
            alt_ft = altcode(msg)
            return TrackPoint(
                kind="aircraft", ident=icao, time=self._utc(ts), alt_m=None if alt_ft is None else alt_ft * FT_M,
                alt_ref=None if alt_ft is None else "baro", extra=info, raw=msg,
            )
        return TrackPoint(kind="aircraft", ident=icao, time=self._utc(ts), squawk=idcode(msg), extra=info, raw=msg)

    def _extended_squitter(
        self, df: int, value: int, msg: str, icao: str, ts: float, extra: Mapping[str, Any] | None
    ) -> TrackPoint | None:
        # pyModeS's own ME-field decoders, called on the 56-bit payload directly (what ``Message.decode`` does
        # after a generic dispatch that costs as much again): the hex was parsed and checked above.
        payload = (value >> 24) & _ME_MASK
        tc = payload >> 51
        if 9 <= tc <= 18 or 20 <= tc <= 22:
            return self._airborne(decode_bds05(payload, tc=tc), msg, icao, ts, tc, _info(df, tc, extra))
        if tc == 19:
            return self._velocity(decode_bds09(payload), msg, icao, ts, _info(df, tc, extra))
        if 1 <= tc <= 4:
            d = decode_bds08(payload)
            callsign = (d.get("callsign") or "").strip("_ ").strip() or None
            info = _info(df, tc, extra)
            info["category"] = d.get("wake_vortex")
            return TrackPoint(kind="aircraft", ident=icao, time=self._utc(ts), callsign=callsign, extra=info, raw=msg)
        if 5 <= tc <= 8:
            return self._surface(decode_bds06(payload), msg, icao, ts, _info(df, tc, extra))
        if tc == 28:
            d = decode_bds61(payload)
            if d.get("squawk"):
                info = _info(df, tc, extra)
                info["emergency_state"] = d.get("emergency_state")
                return TrackPoint(kind="aircraft", ident=icao, time=self._utc(ts), squawk=d["squawk"], extra=info, raw=msg)
        return None  # TC 0 (no position), 23-27, 29 (target state), 31 (operational status)

    def _airborne(self, d: Mapping[str, Any], msg: str, icao: str, ts: float, tc: int, info: dict[str, Any]) -> TrackPoint:
        alt_ft = d.get("altitude")
        alt_m = None if alt_ft is None else alt_ft * FT_M
        alt_ref = None if alt_ft is None else ("baro" if tc <= 18 else "gnss")
        info["on_ground"] = False
        info["nuc_p"] = d.get("nuc_p")
        state = self._aircraft.get(icao) or self._aircraft.setdefault(icao, _Aircraft())
        fmt, lat_cpr, lon_cpr = d["cpr_format"], d["cpr_lat"], d["cpr_lon"]
        frame = (ts, lat_cpr, lon_cpr)
        other = state.odd if fmt == 0 else state.even
        if fmt == 0:
            state.even = frame
        else:
            state.odd = frame
        pos: tuple[float, float] | None = None
        if other is not None and 0.0 <= ts - other[0] <= AIRBORNE_PAIR_WINDOW_S:
            even, odd = (frame, other) if fmt == 0 else (other, frame)
            pos = airborne_position_pair(even[1], even[2], odd[1], odd[2], even_is_newer=fmt == 0)
            if pos is not None:
                info["cpr"] = "global"
                # The older frame, placed against the pair's answer, must be where the aircraft could have
                # been: frames of two different places (a phantom, wrong times) give a garbage pair otherwise.
                older = airborne_position_with_ref(1 - fmt, other[1], other[2], pos[0], pos[1])
                self._check_pair(state, pos, older, ts - other[0], icao)
        if pos is None and state.lat is not None and state.airborne_ref and 0.0 <= ts - state.pos_t <= LOCAL_REF_WINDOW_S:
            pos = airborne_position_with_ref(fmt, lat_cpr, lon_cpr, state.lat, state.lon)  # type: ignore[arg-type]
            info["cpr"] = "local"
        if pos is not None:
            self._check_motion(state, pos, ts, icao, info["cpr"])
            self._accept(state, pos, ts, airborne=True)
        else:
            info["cpr"] = "pending"  # placed once the other parity arrives; altitude stands on its own
        lat, lon = pos if pos is not None else (None, None)
        return TrackPoint(
            kind="aircraft", ident=icao, time=self._utc(ts), lat=lat, lon=lon, alt_m=alt_m, alt_ref=alt_ref,
            extra=info, raw=msg,
        )

    def _surface(self, d: Mapping[str, Any], msg: str, icao: str, ts: float, info: dict[str, Any]) -> TrackPoint:
        info["on_ground"] = True
        state = self._aircraft.get(icao) or self._aircraft.setdefault(icao, _Aircraft())
        fmt, lat_cpr, lon_cpr = d["cpr_format"], d["cpr_lat"], d["cpr_lon"]
        frame = (ts, lat_cpr, lon_cpr)
        other = state.surf_odd if fmt == 0 else state.surf_even
        if fmt == 0:
            state.surf_even = frame
        else:
            state.surf_odd = frame
        ref: tuple[float, float] | None = None
        if state.lat is not None and 0.0 <= ts - state.pos_t <= SURFACE_REF_WINDOW_S:
            ref = (state.lat, state.lon)  # type: ignore[assignment]
        elif self.receiver is not None:
            ref = self.receiver
        pos: tuple[float, float] | None = None
        if ref is not None:
            if other is not None and 0.0 <= ts - other[0] <= SURFACE_PAIR_WINDOW_S:
                even, odd = (frame, other) if fmt == 0 else (other, frame)
                pos = surface_position_pair(
                    even[1], even[2], odd[1], odd[2], lat_ref=ref[0], lon_ref=ref[1], even_is_newer=fmt == 0
                )
                if pos is not None:
                    info["cpr"] = "global"
                    older = surface_position_with_ref(1 - fmt, other[1], other[2], pos[0], pos[1])
                    self._check_pair(state, pos, older, ts - other[0], icao)
            if pos is None:
                pos = surface_position_with_ref(fmt, lat_cpr, lon_cpr, ref[0], ref[1])
                info["cpr"] = "local"
            self._check_motion(state, pos, ts, icao, info["cpr"])
            self._accept(state, pos, ts, airborne=False)
        else:
            info["cpr"] = "pending"  # surface CPR needs a reference within 45 NM: none yet
        speed = d.get("groundspeed")
        lat, lon = pos if pos is not None else (None, None)
        return TrackPoint(
            kind="aircraft", ident=icao, time=self._utc(ts), lat=lat, lon=lon,
            speed_mps=None if speed is None else speed * KT_MPS,
            course_deg=d.get("track") if d.get("track_status") else None, extra=info, raw=msg,
        )

    def _velocity(self, d: Mapping[str, Any], msg: str, icao: str, ts: float, info: dict[str, Any]) -> TrackPoint:
        info["subtype"] = d.get("subtype")
        vr = d.get("vertical_rate")
        if vr is not None:
            info["vertical_rate_mps"] = vr * FPM_MPS
            info["vertical_rate_source"] = d.get("vr_source")
        speed = course = None
        if d.get("groundspeed") is not None:  # subtypes 1/2: over ground
            speed, course = d["groundspeed"] * KT_MPS, d.get("track")
        elif d.get("airspeed") is not None:  # subtypes 3/4: air data; heading is not the course over ground
            info["airspeed_mps"] = d["airspeed"] * KT_MPS
            info["airspeed_type"] = d.get("airspeed_type")
            info["heading_deg"] = d.get("heading")
        return TrackPoint(
            kind="aircraft", ident=icao, time=self._utc(ts), speed_mps=speed, course_deg=course, extra=info, raw=msg
        )

    @staticmethod
    def _check_pair(state: _Aircraft, pos: tuple[float, float], older: tuple[float, float], dt: float, icao: str) -> None:
        ok, gap = _near(pos[0], pos[1], older[0], older[1], MAX_SPEED_MPS * abs(dt) + MOTION_MARGIN_M)
        if not ok:
            state.even = state.odd = state.surf_even = state.surf_odd = None
            raise _Reject(f"CPR pair of {icao}: its even and odd frames lie {gap / 1000:.1f} km apart, more than the "
                          f"aircraft can fly in {dt:.0f} s (frames of two places or wrong times): not used")

    def _check_motion(self, state: _Aircraft, pos: tuple[float, float], ts: float, icao: str, how: str) -> None:
        """Refuse a position the aircraft could not have reached, or one beyond the receiver's range."""
        lat, lon = pos
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise _Reject(f"CPR ({how}) gives an impossible position {lat:.5f}, {lon:.5f}")
        if self.receiver is not None and self.max_range_m is not None:
            rng = distance_m(self.receiver[0], self.receiver[1], lat, lon)
            if rng > self.max_range_m:
                raise _Reject(f"CPR ({how}) gives {lat:.5f}, {lon:.5f}, {rng / 1000:.0f} km from the receiver "
                              f"(beyond its {self.max_range_m / 1000:.0f} km range)")
        if state.lat is not None and ts - state.pos_t <= 600.0:
            dt = abs(ts - state.pos_t)
            ok, dist = _near(state.lat, state.lon, lat, lon, MAX_SPEED_MPS * dt + MOTION_MARGIN_M)  # type: ignore[arg-type]
            if not ok:
                # Either side may be the wrong one: forget the anchor and the pending frames, so that two fresh
                # frames re-anchor the track.
                state.lat = state.lon = None
                state.pos_t = float("-inf")
                state.even = state.odd = state.surf_even = state.surf_odd = None
                raise _Reject(f"CPR ({how}) gives {lat:.5f}, {lon:.5f}, {dist / 1000:.1f} km from {icao}'s "
                              f"position {dt:.0f} s earlier (faster than 1500 kt): not used")

    def _utc(self, ts: float) -> datetime:
        """The message time as an aware datetime (the last one reused: a chunk or second shares it)."""
        if ts != self._last_ts:
            self._last_ts, self._last_dt = ts, datetime.fromtimestamp(ts, UTC)
        return self._last_dt

    @staticmethod
    def _accept(state: _Aircraft, pos: tuple[float, float], ts: float, *, airborne: bool) -> None:
        state.lat, state.lon = pos
        state.pos_t = ts
        state.airborne_ref = airborne


def _info(df: int, tc: int, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    info = {"df": df, "tc": tc}
    if extra:
        info.update(extra)
    return info


def _crc_tables(length: int) -> tuple[tuple[int, ...], ...]:
    """Per data byte position, the CRC-24 remainder each byte value contributes (the remainder is linear)."""
    return tuple(tuple(crc_remainder(v << (length - 8 - 8 * k), length) for v in range(256))
                 for k in range((length - 24) // 8))


_CRC_LONG = _crc_tables(112)
_CRC_SHORT = _crc_tables(56)


def _crc(value: int, length: int) -> int:
    """``pyModeS._bits.crc_remainder(value, length)`` with one table look-up per byte and no running state:
    the remainder of a sum is the sum of the remainders over GF(2). tests/test_modes_crc.py checks equality."""
    b = value.to_bytes(length // 8, "big")
    if length == 112:
        t = _CRC_LONG
        r = (t[0][b[0]] ^ t[1][b[1]] ^ t[2][b[2]] ^ t[3][b[3]] ^ t[4][b[4]] ^ t[5][b[5]] ^ t[6][b[6]] ^ t[7][b[7]]
             ^ t[8][b[8]] ^ t[9][b[9]] ^ t[10][b[10]])
    else:
        s = _CRC_SHORT
        r = s[0][b[0]] ^ s[1][b[1]] ^ s[2][b[2]] ^ s[3][b[3]]
    return r ^ (value & 0xFFFFFF)


class _Reject(Exception):
    """A message that gives no point, with the reason reported to the user."""


def _frames(a: _Aircraft) -> list[tuple[float, int, int]]:
    return [f for f in (a.even, a.odd, a.surf_even, a.surf_odd) if f is not None] or [(float("-inf"), 0, 0)]


def decode_sbs(data: bytes, source: str, *, tz: str | None = None) -> DecodeReport:
    """Decode an SBS-1 BaseStation file (dump1090 port 30003); ``tz`` names the feeder's clock zone."""
    from truceline.ingest.modes_formats import SbsStream

    return SbsStream(source=source, tz=tz).feed(data, final=True)


def decode_avr(data: bytes, source: str, *, start_time: datetime | None = None) -> DecodeReport:
    """Decode AVR raw lines (``*HEX;`` or ``@TICKSHEX;``); times from ``start_time`` (see modes_formats)."""
    from truceline.ingest.modes_formats import AvrStream

    return AvrStream(ModeSDecoder(), source=source, start_time=start_time).feed(data, final=True)


def decode_beast(data: bytes, source: str, *, start_time: datetime | None = None) -> DecodeReport:
    """Decode Beast binary frames (dump1090 port 30005); ``start_time`` is the UTC time of the first frame."""
    from truceline.ingest.modes_formats import BeastStream

    return BeastStream(ModeSDecoder(), source=source, start_time=start_time).feed(data, final=True)


def decode_modes_csv(data: bytes, source: str) -> DecodeReport:
    """Decode rows of UNIX time and hex message (OpenSky raw data, pyModeS sample files)."""
    from truceline.ingest.modes_formats import ModesCsvStream

    return ModesCsvStream(ModeSDecoder(), source=source).feed(data, final=True)
