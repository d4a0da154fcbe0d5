"""AIS decoding (ingest/ais.py) against real sentences with known decoded values.

Sources: pyais's documented examples, github.com/M0r13n/pyais tests/test_decode.py and tests/test_tag_block.py
(commit 38afd748), and GPSD's test/sample.aivdm with GPSD's JSON decoding test/sample.aivdm.js.chk (real
traffic from Kurt Schwehr, AISHub and others; see tests/data/ais/SOURCES.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from truceline.ingest.ais import DECODED_TYPES, KNOT_MPS, AisDecoder, decode_ais
from truceline.track.flags import mmsi_info

DATA = Path(__file__).parent / "data" / "ais"
T0 = datetime(2024, 1, 1, tzinfo=UTC)

# pyais tests/test_decode.py: sentence -> (mmsi, msg_type, lat, lon, extra expectations)
TYPE_1 = b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
TYPE_4 = b"!AIVDM,1,1,,B,403OtVAv>lba;o?Ia`E`4G?02H6k,0*44"
TYPE_5 = (b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n"
          b"!AIVDM,2,2,1,A,88888888880,2*25")
TYPE_18 = b"!AIVDM,1,1,,A,B5NJ;PP005l4ot5Isbl03wsUkP06,0*76"
TYPE_19 = b"!AIVDM,1,1,,B,C5N3SRgPEnJGEBT>NhWAwwo862PaLELTBJ:V00000000S0D:R220,0*0B"
TYPE_21 = b"!AIVDM,2,1,7,B,E4eHJhPR37q0000000000000000KUOSc=rq4h00000a,0*4A\n!AIVDM,2,2,7,B,@20,4*54"
TYPE_24B = b"!AIVDM,1,1,,A,H52KMeDU653hhhi0000000000000,0*1A"
TYPE_27 = b"!AIVDM,1,1,,B,KC5E2b@U19PFdLbMuc5=ROv62<7m,0*16"
# pyais tests/test_tag_block.py test_multiple_messages (a real station's tag block, checksum valid) ...
TAGGED = b"\\s:2573535,c:1671533231*08\\!BSVDM,1,1,,A,13nN34?000QFpgRWnQLLSPpF00SO,0*06"
# ... and test_put_single_w_group, whose hand-written tag block says *50 where its content gives 53.
BAD_TAG = b"\\g:1-1-4512,s:FooBar,c:1428451253*50\\!AIVDM,1,1,,A,13nN34?000QFpgRWnQLLSPpF00SO,0*1C"


def one(data: bytes):
    rep = decode_ais(data, "test", received_at=T0)
    assert rep.rejected == [], rep.rejected
    assert len(rep.points) == 1
    return rep.points[0]


def test_type_1_position_report() -> None:
    p = one(TYPE_1)
    assert (p.kind, p.ident, p.lat, p.lon) == ("vessel", "366053209", 37.802118, -122.341618)
    assert p.course_deg == 219.3 and p.speed_mps == 0.0
    assert p.extra["nav_status"] == 3 and p.extra["msg_type"] == 1
    assert p.time == T0 and p.extra["time_source"] == "ingest"  # no tag block: ingest time, marked as such
    assert p.raw == TYPE_1.decode()


def test_type_4_base_station_with_its_clock() -> None:
    p = one(TYPE_4)
    assert p.ident == "003669145" and round(p.lat, 4) == 37.7943 and round(p.lon, 4) == -122.4648
    assert p.extra["station"] == "base-station" and p.extra["station_utc"] == "2019-11-09T10:41:11+00:00"


def test_type_5_two_sentences_reassembled() -> None:
    p = one(TYPE_5)
    assert p.ident == "351759000" and p.callsign == "EVER DIADEM" and not p.has_position
    assert p.extra["callsign"] == "3FOF8" and p.extra["imo"] == 9134270 and p.extra["ship_type"] == 70
    assert p.extra["destination"] == "NEW YORK"
    assert p.raw == TYPE_5.decode()  # both sentences are kept as the raw evidence
    assert mmsi_info(p.ident).state == "PA"


def test_class_b_types_18_19_24() -> None:
    p18 = one(TYPE_18)
    assert p18.ident == "367430530" and round(p18.lat, 2) == 37.79 and round(p18.lon, 2) == -122.27
    assert p18.extra["class"] == "B" and "heading" not in p18.extra  # 511 = not available
    p19 = one(TYPE_19)
    assert p19.ident == "367059850" and p19.lat == 29.543695 and p19.callsign == "CAPT.J.RIMES"
    assert p19.speed_mps == pytest.approx(8.7 * KNOT_MPS) and p19.course_deg == pytest.approx(335.9)
    p24 = one(TYPE_24B)
    assert p24.ident == "338091445" and p24.extra["part"] == 1 and p24.extra["ship_type"] == 37


def test_type_21_aid_to_navigation_and_27_long_range() -> None:
    p21 = one(TYPE_21)
    assert p21.ident == "316021442" and p21.callsign == "DFO2" and (p21.lat, p21.lon) == (48.65457, -123.429155)
    assert p21.extra["station"] == "aid-to-navigation"
    p27 = one(TYPE_27)
    assert p27.ident == "206914217" and (p27.lat, p27.lon) == (4.84, 137.023333)
    assert p27.speed_mps == pytest.approx(57 * KNOT_MPS) and p27.course_deg == 167


def test_tag_block_time() -> None:
    p = one(TAGGED)
    assert p.time == datetime.fromtimestamp(1671533231, UTC) and p.extra["time_source"] == "tag-block"
    assert p.raw == TAGGED.decode()  # the tag block is part of the evidence
    millis = b"\\c:1671533231000*" + b"%02X" % _xor(b"c:1671533231000") + b"\\" + TAGGED.split(b"\\")[2]
    assert one(millis).time == datetime.fromtimestamp(1671533231, UTC)


def _xor(data: bytes) -> int:
    v = 0
    for b in data:
        v ^= b
    return v


def test_corrupted_and_truncated_lines_are_counted_never_positions() -> None:
    corrupted = TYPE_1.replace(b"FepT", b"FepU")  # one payload character changed, checksum kept
    truncated = TYPE_1[:30]
    cut_payload = b"!AIVDM,1,1,,B,15M67FC000G?ufbE,0*" + b"%02X" % _xor(b"AIVDM,1,1,,B,15M67FC000G?ufbE,0")
    bad_tag = BAD_TAG
    data = b"\n".join([TYPE_18, corrupted, truncated, cut_payload, bad_tag, TYPE_27]) + b"\n"
    rep = decode_ais(data, "t", received_at=T0)
    assert [p.ident for p in rep.points] == ["367430530", "206914217"]
    assert rep.messages == 6
    reasons = dict(rep.rejected)
    assert set(reasons) == {2, 3, 4, 5}
    assert "checksum" in reasons[2] and "truncated" in reasons[3]
    assert "truncated" in reasons[4] and "168 bits" in reasons[4]  # pyais alone would give latitude 0.00003 here
    assert "checksum" in reasons[5] and "tag block" in reasons[5]


def test_multisentence_with_missing_part_is_rejected() -> None:
    first, second = TYPE_5.split(b"\n")
    rep = decode_ais(first + b"\n" + TYPE_1 + b"\n", "t", received_at=T0)
    assert [p.ident for p in rep.points] == ["366053209"]
    assert rep.rejected == [(1, "incomplete multi-sentence message: 1 of 2 sentences")]
    rep = decode_ais(second + b"\n", "t", received_at=T0)
    assert rep.points == [] and "without the sentences before it" in rep.rejected[0][1]


def test_stream_decoder_any_chunking_matches_file() -> None:
    data = (DATA / "gpsd_sample.aivdm").read_bytes()
    whole = decode_ais(data, "t", received_at=T0)
    dec = AisDecoder("t", received_at=T0)
    pts, rej = [], []
    for i in range(0, len(data), 7):  # 7-byte chunks split lines and multi-sentence messages everywhere
        r = dec.feed(data[i : i + 7])
        pts += r.points
        rej += r.rejected
    r = dec.flush()
    pts += r.points
    rej += r.rejected
    assert [(p.ident, p.lat, p.lon) for p in pts] == [(p.ident, p.lat, p.lon) for p in whole.points]
    assert sorted(rej) == sorted(whole.rejected)


def test_gpsd_sample_matches_gpsd_decoding() -> None:
    """Every message of GPSD's real sample that both decode agrees with GPSD's JSON (positions, names)."""
    rep = decode_ais((DATA / "gpsd_sample.aivdm").read_bytes(), "gpsd", received_at=T0)
    expected = [json.loads(line) for line in (DATA / "gpsd_sample.aivdm.js.chk").read_text().splitlines()]
    expected = [e for e in expected if e["type"] in DECODED_TYPES]
    # The sample's deliberately odd lines: a sentence without '!' (978), a message whose sentences carry a
    # literal "\x0d\x0a" text (1080-1081, GPSD tolerates it), a type 1 with 5 fill bits (163 of 168 bits).
    assert dict(rep.rejected).keys() == {978, 1080, 1081, 1098}
    assert "168 bits" in dict(rep.rejected)[1098]
    by_key: dict[tuple[str, int], list] = {}
    for p in rep.points:
        by_key.setdefault((p.ident, p.extra["msg_type"]), []).append(p)
    compared = 0
    for e in expected:
        key = (f"{e['mmsi']:09d}", e["type"])
        if key in (("004000003", 21),):
            continue  # the "\x0d\x0a" message above
        candidates = by_key.get(key)
        assert candidates, f"GPSD decoded {key}, truceline did not"
        if "lat" in e and e["type"] != 24 and abs(e["lat"]) <= 90 and abs(e["lon"]) <= 180:
            tol = 1e-4 if e["type"] == 27 else 1e-6  # GPSD prints type 27 (1/10 minute resolution) to 4 places
            assert any(p.lat is not None and abs(p.lat - e["lat"]) < tol and abs(p.lon - e["lon"]) < tol
                       for p in candidates), (key, e["lat"], e["lon"], [(p.lat, p.lon) for p in candidates])
            compared += 1
        if "shipname" in e:
            assert any(p.callsign == (e["shipname"].strip() or None) for p in candidates), (key, e["shipname"])
        if e.get("callsign"):
            assert any(p.extra.get("callsign") == e["callsign"] for p in candidates), (key, e["callsign"])
    assert compared >= 12
