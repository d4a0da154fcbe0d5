"""Produce the MISB ST 0601 KLV test vectors with pymisb's own encoder, and pymisb's decoding of them.

pymisb needs Python ≥ 3.12, so this runs outside the project's venv:

    python3.12 -m venv /tmp/misb && /tmp/misb/bin/pip install pymisb==2.0.2
    /tmp/misb/bin/python tests/vectors/klv/make_vectors.py

Writes, beside this script:

- ``flight.klv``: 20 packets from ``pymisb.common.build_st0601_packet`` (tags 2, 5–7, 13–25, 65 and the
  checksum), a drone flying east over Donetsk oblast on 2023-04-02.
- ``marked.klv``: 4 packets that also carry the offset corners (tags 26–33), full corners (82–89) and, in
  packets 1 and 3, a target location (tags 40–42); packet 1 also its CE90/LE90 (45, 46), packet 3 not.
  pymisb's encoder does not emit these tags, so they are encoded with pymisb's fixed-point helper
  (``pymisb.klvdata.common.float_to_bytes``) using its element classes' mappings where pymisb has them
  (26–33, 82–89) and ST 0601's mappings where it has none (40–42 as 23–25; 45/46: 0..4095 m on uint16);
  the checksum is pymisb's ``bcc_16``.
- ``expected.json``: for every packet its byte offset and length, and pymisb's decoded values
  (``StreamParser``) by tag; for tags pymisb cannot decode (40–46) the value given to the encoder and the
  raw bytes, so tests can check the project's decoder against pymisb wherever pymisb has an opinion.

pymisb 2.0.2's wheel ships no sample KLV files, so there is nothing of that kind to add.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from pathlib import Path

from pymisb.common.encoder import (
    bcc_16,
    ber_encode_length,
    build_st0601_packet,
    build_tlv,
)
from pymisb.constants import UAS_LS_KEY
from pymisb.klvdata import StreamParser, misb0601
from pymisb.klvdata.common import float_to_bytes
from pymisb.klvdata.klvparser import KLVParser

HERE = Path(__file__).resolve().parent
START_US = int(datetime(2023, 4, 2, 3, 15, tzinfo=UTC).timestamp() * 1_000_000)

# ST 0601 mappings pymisb has no element class for (same integer domains as its classes for 23–25).
_TARGET_LAT = ((-(2**31 - 1), 2**31 - 1), (-90, 90), -(2**31))
_TARGET_LON = ((-(2**31 - 1), 2**31 - 1), (-180, 180), -(2**31))
_TARGET_ELEV = ((0, 2**16 - 1), (-900, 19000), None)
_ERROR_ESTIMATE = ((0, 2**16 - 1), (0, 4095), None)


def flight_values(i: int) -> dict[str, float]:
    """Quantities of packet ``i`` of the flight: 0.5 s apart, 2 km above ground, camera looking ahead-down."""
    lon = 37.60 + 0.0015 * i
    return {
        "timestamp_us": START_US + 500_000 * i,
        "platform_heading": 88.5 + 0.1 * i,
        "platform_pitch": -2.5,
        "platform_roll": 1.25 * (i % 3 - 1),
        "sensor_lat": 48.0512 + 0.00005 * i,
        "sensor_lon": lon,
        "sensor_alt": 2150.0 + i,
        "sensor_rel_az": 2.0,
        "sensor_rel_el": -35.0,
        "sensor_rel_roll": 0.0,
        "slant_range": 3650.0,
        "target_width": 900.0,
        "fc_lat": 48.0498 + 0.00005 * i,
        "fc_lon": lon + 0.0410,
        "fc_elev": 180.0,
    }


def _mapped(cls: type, value: float) -> bytes:
    return float_to_bytes(value, cls._domain, cls._range, cls._error)


def _spec(mapping: tuple, value: float) -> bytes:
    domain, rng, error = mapping
    return float_to_bytes(value, domain, rng, error)


def marked_packet(i: int, target: bool, error_estimate: bool) -> tuple[bytes, dict[int, float]]:
    """A flight packet extended with corners and (if ``target``) a target location; re-checksummed."""
    values = flight_values(100 + i)
    base = build_st0601_packet(values)
    # Strip key, BER length and the checksum element (tag 1, length 2, 2 bytes) to get the payload back.
    length_bytes = 1 if base[16] < 128 else 1 + (base[16] & 0x7F)
    payload = base[16 + length_bytes : -4]
    fc_lat, fc_lon = values["fc_lat"], values["fc_lon"]
    # A footprint about 1.9 km across and 1.1 km deep (trapezoid: farther edge wider), as offsets from the centre.
    corners = [(+0.0060, -0.0135), (+0.0060, +0.0135), (-0.0040, +0.0090), (-0.0040, -0.0090)]
    extra = bytearray()
    offset_classes = [
        (misb0601.OffsetCornerLatitudePoint1, misb0601.OffsetCornerLongitudePoint1),
        (misb0601.OffsetCornerLatitudePoint2, misb0601.OffsetCornerLongitudePoint2),
        (misb0601.OffsetCornerLatitudePoint3, misb0601.OffsetCornerLongitudePoint3),
        (misb0601.OffsetCornerLatitudePoint4, misb0601.OffsetCornerLongitudePoint4),
    ]
    full_classes = [
        (misb0601.CornerLatitudePoint1Full, misb0601.CornerLongitudePoint1Full),
        (misb0601.CornerLatitudePoint2Full, misb0601.CornerLongitudePoint2Full),
        (misb0601.CornerLatitudePoint3Full, misb0601.CornerLongitudePoint3Full),
        (misb0601.CornerLatitudePoint4Full, misb0601.CornerLongitudePoint4Full),
    ]
    for (dlat, dlon), (lat_cls, lon_cls) in zip(corners, offset_classes, strict=True):
        extra += build_tlv(lat_cls.TAG, _mapped(lat_cls, dlat)) + build_tlv(lon_cls.TAG, _mapped(lon_cls, dlon))
    for (dlat, dlon), (lat_cls, lon_cls) in zip(corners, full_classes, strict=True):
        extra += build_tlv(lat_cls.TAG, _mapped(lat_cls, fc_lat + dlat)) + build_tlv(lon_cls.TAG, _mapped(lon_cls, fc_lon + dlon))
    given: dict[int, float] = {}
    if target:
        given = {40: fc_lat + 0.0011, 41: fc_lon - 0.0023, 42: 176.0}
        extra += build_tlv(40, _spec(_TARGET_LAT, given[40])) + build_tlv(41, _spec(_TARGET_LON, given[41]))
        extra += build_tlv(42, _spec(_TARGET_ELEV, given[42]))
        if error_estimate:
            given |= {45: 35.0, 46: 20.0}
            extra += build_tlv(45, _spec(_ERROR_ESTIMATE, given[45])) + build_tlv(46, _spec(_ERROR_ESTIMATE, given[46]))
    body = payload + bytes(extra)
    head = UAS_LS_KEY + ber_encode_length(len(body) + 4) + body + b"\x01\x02"
    return head + struct.pack(">H", bcc_16(head)), given


def _decoded(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def describe(stream: bytes, packets: list[bytes], given: list[dict[int, float]]) -> list[dict[str, object]]:
    """pymisb's decoding of each packet of ``stream`` with its offset, length and the raw bytes of every tag."""
    out: list[dict[str, object]] = []
    offset = 0
    for packet, local_set, extra in zip(packets, StreamParser(stream), given, strict=True):
        tags: dict[str, object] = {}
        raw = {str(key[0]): value.hex() for key, value in KLVParser(local_set.value, 1)}
        for key, element in local_set.items.items():
            tag = key[0]
            inner = getattr(element.value, "value", element.value)
            if not isinstance(element, misb0601.UnknownElement):
                tags[str(tag)] = _decoded(inner)
        out.append(
            {
                "offset": offset,
                "length": len(packet),
                "pymisb": tags,
                "encoded_but_unknown_to_pymisb": {str(k): v for k, v in extra.items()},
                "raw": raw,
                "checksum_ok": bcc_16(packet[:-2]) == struct.unpack(">H", packet[-2:])[0],
            }
        )
        offset += len(packet)
    return out


def main() -> None:
    flight = [build_st0601_packet(flight_values(i)) for i in range(20)]
    marked_pairs = [marked_packet(i, target=i % 2 == 1, error_estimate=i == 1) for i in range(4)]
    marked = [p for p, _ in marked_pairs]
    (HERE / "flight.klv").write_bytes(b"".join(flight))
    (HERE / "marked.klv").write_bytes(b"".join(marked))
    expected = {
        "generator": "pymisb 2.0.2 (build_st0601_packet, float_to_bytes, bcc_16; decoded with StreamParser)",
        "flight.klv": describe(b"".join(flight), flight, [{}] * len(flight)),
        "marked.klv": describe(b"".join(marked), marked, [g for _, g in marked_pairs]),
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(flight)} + {len(marked)} packets to {HERE}")


if __name__ == "__main__":
    main()
