"""MISB ST 0601 (STANAG 4609) UAS Datalink Local Set KLV: drone video metadata → platform track and marked targets.

A KLV stream (as extracted from a video's data channel, e.g. ``ffmpeg -map 0:d -c copy -f data``) is a
sequence of packets: the 16-byte universal key of the local set, a BER length, then tag–length–value
elements whose last one is the checksum (tag 1). Each packet is one unit: its structure, every element's
length and the checksum are checked before anything is taken from it, and a refusal names its byte offset.

Mapping (see docs/formats.md):

- every packet with a time (tag 2) and a sensor position (tags 13/14) is a ``flight`` observation of the
  platform from a ``uav`` source (the sensor position is the platform's, ST 0601 has no other);
- a packet that carries a target location (tags 40/41, ST 0601's "crosshair location if different from
  frame centre", set when the operator designates something) is also an ``other`` observation of what was
  marked, located there. Its uncertainty is the target error estimate CE90 (tag 45) when given, else the
  frame footprint (corners, tags 82–89 or 26–33 around the frame centre) taken as a uniform region.

Only the tags above and the ones recorded as attributes are decoded; other tags are checked for structure
and skipped. Values use ST 0601's fixed-point mappings; the "error" code of a signed field reads as absent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from truceline.ingest.records import Record, Rejection

#: Universal key of the UAS Datalink Local Set (SMPTE ST 336 / MISB ST 0601).
UAS_LOCAL_SET_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")
#: SMPTE universal labels all start with these four bytes; used to tell KLV files apart.
SMPTE_UL_PREFIX = bytes.fromhex("060E2B34")
#: ST 0601 packets are a few hundred bytes; anything declaring more than this is corrupt, not big.
MAX_PACKET_BYTES = 64 * 1024
CHECKSUM_TAG = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: CE90 → CEP for a circular normal error: CE90 = σ√(2 ln 10) = 2.1460 σ and CEP = σ√(2 ln 2) = 1.1774 σ.
CE90_TO_CEP = math.sqrt(2 * math.log(2)) / math.sqrt(2 * math.log(10))
_WGS84_A = 6_378_137.0
_WGS84_E2 = 6.694379990141e-3
_SOURCE_ID_BAD = re.compile(r"[^A-Za-z0-9._:@/+-]+")


class KlvError(ValueError):
    """A packet (or the bytes where one should be) cannot be read; ``offset`` is the byte in the input."""

    def __init__(self, offset: int, message: str, tag: int | None = None) -> None:
        super().__init__(f"byte {offset}: {message}")
        self.offset = offset
        self.message = message
        self.tag = tag


@dataclass(frozen=True)
class _Signed:
    """Signed two's-complement integer mapped linearly onto ±``limit``; the most negative value means error."""

    size: int
    limit: float

    def decode(self, raw: bytes) -> float | None:
        value = int.from_bytes(raw, "big", signed=True)
        if value == -(1 << (8 * self.size - 1)):
            return None
        return value * self.limit / ((1 << (8 * self.size - 1)) - 1)


@dataclass(frozen=True)
class _Unsigned:
    """Unsigned integer mapped linearly onto [``low``, ``high``]."""

    size: int
    low: float
    high: float

    def decode(self, raw: bytes) -> float:
        return self.low + int.from_bytes(raw, "big") * (self.high - self.low) / ((1 << (8 * self.size)) - 1)


@dataclass(frozen=True)
class _Text:
    """UTF-8 text of at most ``max_size`` bytes."""

    max_size: int = 127

    def decode(self, raw: bytes) -> str:
        return raw.decode("utf-8")


@dataclass(frozen=True)
class _Integer:
    size: int

    def decode(self, raw: bytes) -> int:
        return int.from_bytes(raw, "big")


_Field = _Signed | _Unsigned | _Text | _Integer
_ALTITUDE = _Unsigned(2, -900.0, 19_000.0)
_LAT32, _LON32 = _Signed(4, 90.0), _Signed(4, 180.0)
_CORNER_OFFSET = _Signed(2, 0.075)

#: tag → (name, mapping) for the ST 0601 elements truceline reads.
TAGS: dict[int, tuple[str, _Field]] = {
    2: ("precision_time_stamp", _Integer(8)),
    3: ("mission_id", _Text()),
    4: ("platform_tail_number", _Text()),
    5: ("platform_heading_deg", _Unsigned(2, 0.0, 360.0)),
    6: ("platform_pitch_deg", _Signed(2, 20.0)),
    7: ("platform_roll_deg", _Signed(2, 50.0)),
    10: ("platform_designation", _Text()),
    11: ("image_source_sensor", _Text()),
    13: ("sensor_lat", _LAT32),
    14: ("sensor_lon", _LON32),
    15: ("sensor_alt_m", _ALTITUDE),
    16: ("sensor_hfov_deg", _Unsigned(2, 0.0, 180.0)),
    17: ("sensor_vfov_deg", _Unsigned(2, 0.0, 180.0)),
    18: ("sensor_relative_azimuth_deg", _Unsigned(4, 0.0, 360.0)),
    19: ("sensor_relative_elevation_deg", _Signed(4, 180.0)),
    20: ("sensor_relative_roll_deg", _Unsigned(4, 0.0, 360.0)),
    21: ("slant_range_m", _Unsigned(4, 0.0, 5_000_000.0)),
    22: ("target_width_m", _Unsigned(2, 0.0, 10_000.0)),
    23: ("frame_center_lat", _LAT32),
    24: ("frame_center_lon", _LON32),
    25: ("frame_center_elevation_m", _ALTITUDE),
    **{tag: (f"offset_corner_{'lat' if tag % 2 == 0 else 'lon'}_{(tag - 24) // 2}", _CORNER_OFFSET) for tag in range(26, 34)},
    40: ("target_lat", _LAT32),
    41: ("target_lon", _LON32),
    42: ("target_elevation_m", _ALTITUDE),
    45: ("target_ce90_m", _Unsigned(2, 0.0, 4095.0)),
    46: ("target_le90_m", _Unsigned(2, 0.0, 4095.0)),
    65: ("ls_version", _Integer(1)),
    **{tag: (f"corner_{'lat' if tag % 2 == 0 else 'lon'}_{(tag - 80) // 2}", _LAT32 if tag % 2 == 0 else _LON32) for tag in range(82, 90)},
}
_SIZES = {tag: getattr(field, "size", None) for tag, (_, field) in TAGS.items()}


@dataclass(frozen=True)
class UasPacket:
    """One checked local set: where it starts, its total length, and the decoded values by tag."""

    offset: int
    length: int
    values: dict[int, Any]

    def get(self, tag: int) -> Any:
        """The decoded value of ``tag``, or None when absent or an error code."""
        return self.values.get(tag)


def checksum(data: bytes | memoryview) -> int:
    """ST 0601 checksum: 16-bit running sum of big-endian byte pairs, from the key through the checksum's length byte."""
    even = sum(data[0::2])
    odd = sum(data[1::2])
    return ((even << 8) + odd) & 0xFFFF


def _ber_length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(length, position after it) of a BER length at ``pos``; raises KlvError."""
    if pos >= end:
        raise KlvError(pos, "input ends where a BER length should be")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4:
        raise KlvError(pos, f"BER length byte {first:#04x} is not a definite length of 1–4 bytes")
    if pos + 1 + count > end:
        raise KlvError(pos, f"BER length needs {count} more bytes, {end - pos - 1} remain")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def _ber_oid(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(tag, position after it) of a BER-OID encoded tag (7 bits per byte, high bit = more follow)."""
    tag = 0
    for i in range(4):
        if pos + i >= end:
            raise KlvError(pos, "element tag runs past the end of the packet")
        byte = data[pos + i]
        tag = (tag << 7) | (byte & 0x7F)
        if byte < 0x80:
            return tag, pos + i + 1
    raise KlvError(pos, "element tag is longer than 4 bytes")


def decode_packet(data: bytes, offset: int = 0) -> UasPacket:
    """Check and decode the packet starting at ``offset`` of ``data``; raises KlvError naming the byte."""
    if data[offset : offset + 16] != UAS_LOCAL_SET_KEY:
        raise KlvError(offset, "not the ST 0601 UAS Datalink Local Set key (06 0E 2B 34 02 0B 01 01 0E 01 03 01 01 00 00 00)")
    length, start = _ber_length(data, offset + 16, len(data))
    if length > MAX_PACKET_BYTES:
        raise KlvError(offset + 16, f"packet declares {length} bytes, more than the {MAX_PACKET_BYTES} any ST 0601 packet needs")
    end = start + length
    if end > len(data):
        raise KlvError(offset, f"truncated packet: declares {length} bytes of value, only {len(data) - start} remain")
    if length < 4 or data[end - 4] != CHECKSUM_TAG or data[end - 3] != 2:
        raise KlvError(end - 4 if length >= 4 else start, "the last element is not the checksum (tag 1, length 2)")
    stated = (data[end - 2] << 8) | data[end - 1]
    computed = checksum(memoryview(data)[offset : end - 2])
    if stated != computed:
        raise KlvError(end - 2, f"checksum mismatch: packet says {stated:#06x}, bytes sum to {computed:#06x}", CHECKSUM_TAG)
    values: dict[int, Any] = {}
    pos = start
    while pos < end - 4:
        tag_at = pos
        tag, pos = _ber_oid(data, pos, end - 4)
        size, pos = _ber_length(data, pos, end - 4)
        if pos + size > end - 4:
            raise KlvError(tag_at, f"tag {tag} declares {size} bytes, only {end - 4 - pos} remain before the checksum", tag)
        spec = TAGS.get(tag)
        if spec is not None:
            name, field = spec
            expected = _SIZES[tag]
            if expected is not None and size != expected:
                raise KlvError(tag_at, f"tag {tag} ({name}) has length {size}, ST 0601 defines {expected}", tag)
            if isinstance(field, _Text) and size > field.max_size:
                raise KlvError(tag_at, f"tag {tag} ({name}) has length {size}, ST 0601 allows at most {field.max_size}", tag)
            raw = data[pos : pos + size]
            try:
                values[tag] = field.decode(raw)
            except UnicodeDecodeError:
                raise KlvError(tag_at, f"tag {tag} ({name}) is not UTF-8 text", tag) from None
        elif tag == CHECKSUM_TAG:
            raise KlvError(tag_at, "checksum (tag 1) appears before the end of the packet", tag)
        pos += size
    return UasPacket(offset, end - offset, values)


def iter_packets(data: bytes) -> Iterator[UasPacket | KlvError]:
    """Every packet of a KLV stream, or the error at its place; after an error, resynchronise on the next key."""
    pos = 0
    size = len(data)
    while pos < size:
        if data.startswith(UAS_LOCAL_SET_KEY, pos):
            try:
                packet = decode_packet(data, pos)
            except KlvError as exc:
                yield exc
                following = data.find(UAS_LOCAL_SET_KEY, pos + 1)
                pos = following if following >= 0 else size
                continue
            yield packet
            pos += packet.length
            continue
        following = data.find(UAS_LOCAL_SET_KEY, pos + 1)
        stop = following if following >= 0 else size
        if data[pos:stop].strip(b"\x00"):  # zero padding between packets is harmless
            head = data[pos : pos + 16].hex(" ")
            yield KlvError(pos, f"{stop - pos} bytes that are not an ST 0601 packet (start: {head})")
        pos = stop


def _clean_id(text: str) -> str:
    cleaned = _SOURCE_ID_BAD.sub("-", text.strip()).strip("-._:@/+")[:96]
    return cleaned


def _source_id(packet: UasPacket, default: str) -> str:
    """Platform tail number (tag 4), else designation (10), else mission id (3), else ``default``."""
    for tag in (4, 10, 3):
        text = packet.get(tag)
        if isinstance(text, str):
            cleaned = _clean_id(text)
            if cleaned:
                return cleaned
    return _clean_id(default) or "klv"


def _metres_per_degree(lat: float) -> tuple[float, float]:
    """(east, north) metres per degree of longitude/latitude at ``lat`` on WGS 84 (radii of curvature)."""
    s = math.sin(math.radians(lat))
    w = math.sqrt(1.0 - _WGS84_E2 * s * s)
    prime_vertical = _WGS84_A / w
    meridional = _WGS84_A * (1.0 - _WGS84_E2) / (w * w * w)
    return math.radians(1.0) * prime_vertical * math.cos(math.radians(lat)), math.radians(1.0) * meridional


def footprint_covariance(packet: UasPacket) -> list[list[float]] | None:
    """East/north covariance (m²) of a point uniform over the frame footprint, or None without corners.

    For a parallelogram centred on the frame centre, the uniform distribution's covariance is one third of
    the corners' mean outer product; ST 0601 footprints are near enough to that for an uncertainty bound.
    """
    centre_lat, centre_lon = packet.get(23), packet.get(24)
    offsets: list[tuple[float, float]] = []
    full = [(packet.get(82 + 2 * i), packet.get(83 + 2 * i)) for i in range(4)]
    if centre_lat is not None and centre_lon is not None and all(a is not None and b is not None for a, b in full):
        offsets = [(lat - centre_lat, lon - centre_lon) for lat, lon in full]
    else:
        relative = [(packet.get(26 + 2 * i), packet.get(27 + 2 * i)) for i in range(4)]
        if centre_lat is None or not all(a is not None and b is not None for a, b in relative):
            return None
        offsets = relative
    east_per_deg, north_per_deg = _metres_per_degree(centre_lat)
    ee = en = nn = 0.0
    for dlat, dlon in offsets:
        e, n = dlon * east_per_deg, dlat * north_per_deg
        ee, en, nn = ee + e * e, en + e * n, nn + n * n
    ee, en, nn = ee / 12.0, en / 12.0, nn / 12.0  # mean over 4 corners, then / 3
    if ee <= 0 or nn <= 0 or ee * nn - en * en <= 0:
        return None
    return [[ee, en], [en, nn]]


def packet_records(
    packet: UasPacket, where: str, *, org: str, releasable_to: Sequence[str] = (), default_source_id: str = "klv"
) -> list[Record | Rejection]:
    """The platform-track record of a packet and, when it carries a target location, the sighting record."""
    stamp = packet.get(2)
    if stamp is None:
        return [Rejection(where, "tag 2", "no Precision Time Stamp (tag 2): the packet cannot be placed in time")]
    lat, lon = packet.get(13), packet.get(14)
    if lat is None or lon is None:
        return [Rejection(where, "tag 13/14", "no usable Sensor Latitude/Longitude (tags 13/14): absent or the error code")]
    try:
        when = _EPOCH + timedelta(microseconds=stamp)
    except OverflowError:
        return [Rejection(where, "tag 2", f"Precision Time Stamp {stamp} µs is beyond any representable date", str(stamp))]
    time_text = when.isoformat().replace("+00:00", "Z")
    source_id = _source_id(packet, default_source_id)
    source = {"id": source_id, "type": "uav", "org": org}
    labels = list(releasable_to)
    attributes: dict[str, Any] = {"klv_offset": packet.offset}
    for tag in (3, 4, 5, 6, 7, 10, 11, 16, 17, 21, 23, 24, 25, 65):
        value = packet.get(tag)
        if value is not None:
            attributes[TAGS[tag][0]] = round(value, 7) if isinstance(value, float) else value
    location: dict[str, Any] = {"lat": lat, "lon": lon}
    altitude = packet.get(15)
    if altitude is not None:
        location["alt_m"] = round(altitude, 2)
    records: list[Record | Rejection] = [
        Record(
            where,
            {
                "id": f"klv-{source_id}-{stamp}",
                "time": time_text,
                "kind": "flight",
                "location": location,
                "source": source,
                "releasable_to": labels,
                "attributes": attributes,
            },
        )
    ]
    target_lat, target_lon = packet.get(40), packet.get(41)
    if target_lat is None or target_lon is None:
        return records
    target: dict[str, Any] = {"lat": target_lat, "lon": target_lon}
    elevation = packet.get(42)
    if elevation is not None:
        target["alt_m"] = round(elevation, 2)
    mark_attributes: dict[str, Any] = {"klv_offset": packet.offset, "platform": {"lat": lat, "lon": lon}, "mark": "st0601-target-location"}
    ce90 = packet.get(45)
    if ce90 is not None and ce90 > 0:
        target["cep_m"] = ce90 * CE90_TO_CEP
        mark_attributes["uncertainty_from"] = "ce90"
        mark_attributes["target_ce90_m"] = round(ce90, 3)
    else:
        cov = footprint_covariance(packet)
        if cov is not None:
            target["cov_m2"] = cov
            mark_attributes["uncertainty_from"] = "frame-footprint"
        else:
            mark_attributes["uncertainty_from"] = "none-given"
    le90 = packet.get(46)
    if le90 is not None:
        mark_attributes["target_le90_m"] = round(le90, 3)
    records.append(
        Record(
            where,
            {
                "id": f"klv-{source_id}-{stamp}-target",
                "time": time_text,
                "kind": "other",
                "location": target,
                "source": source,
                "releasable_to": labels,
                "attributes": mark_attributes,
            },
        )
    )
    return records


def looks_like_klv(head: bytes) -> bool:
    """True if the input starts with a SMPTE universal label (KLV), as ST 0601 streams do."""
    return head.startswith(SMPTE_UL_PREFIX)


def decode_klv(
    data: bytes, *, org: str, releasable_to: Sequence[str] = (), default_source_id: str = "klv"
) -> Iterator[Record | Rejection]:
    """Records of an ST 0601 KLV stream; a bad packet is one rejection (``packet N (byte B)``) and nothing else of it."""
    for number, item in enumerate(iter_packets(data), start=1):
        if isinstance(item, KlvError):
            field = f"tag {item.tag}" if item.tag is not None else "(packet)"
            yield Rejection(f"packet {number} (byte {item.offset})", field, item.message)
            continue
        yield from packet_records(
            item, f"packet {number} (byte {item.offset})", org=org, releasable_to=releasable_to, default_source_id=default_source_id
        )
