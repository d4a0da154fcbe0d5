"""Framings of Mode S (ingest/modes_formats.py): SBS-1, AVR, Beast, modes-csv; times and chunking.

Messages are the real ones of tests/data/modes (SOURCES.md); they are framed the way dump1090-fa's
net_io.c writes AVR and Beast, and SBS rows are dump1090-fa's and mlat-client's layouts.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from truceline.ingest.modes import ModeSDecoder, decode_avr, decode_beast, decode_modes_csv, decode_sbs, distance_m
from truceline.ingest.modes_formats import TICKS_HZ, AvrStream, BeastStream, SbsStream
from truceline.ingest.records import FormatError

DATA = Path(__file__).parent / "data" / "modes"
ROWS = list(csv.reader((DATA / "pymodes_sample_adsb_406b90.csv").read_text().splitlines()))[:120]
START = datetime(2016, 3, 14, 23, 0, tzinfo=UTC)
T0 = int(ROWS[0][0])


def beast_frame(msg: str, ticks: int, signal: int = 0x80) -> bytes:
    """dump1090-fa's modesSendBeastOutput: 0x1a, '3' (long) or '2' (short), 6-byte clock, signal, message."""
    body = ticks.to_bytes(6, "big") + bytes([signal]) + bytes.fromhex(msg)
    kind = b"3" if len(msg) == 28 else b"2"
    return b"\x1a" + kind + body.replace(b"\x1a", b"\x1a\x1a")


def positions(report) -> list[tuple[float, float]]:
    return [(p.lat, p.lon) for p in report.points if p.lat is not None]


def test_modes_csv_reference_positions() -> None:
    text = "\n".join(",".join([r[0], f'"{r[1]}"', f'"{r[2]}"', r[3]]) for r in ROWS).encode()
    ref = decode_modes_csv(text, "flight.csv")
    assert len(positions(ref)) > 40 and ref.rejected == []


def test_avr_with_12mhz_timestamps_and_a_start_time() -> None:
    lines = [f"@{(int(r[0]) - T0) * TICKS_HZ + 5:012X}{r[1]};" for r in ROWS]
    report = decode_avr("\n".join(lines).encode(), "flight.avr", start_time=START)
    ref = decode_modes_csv("\n".join(f"{r[0]},{r[1]}" for r in ROWS).encode(), "ref")
    assert positions(report) == positions(ref)
    assert [p.time for p in report.points] == [datetime.fromtimestamp(int(r[0]), UTC) for r in ROWS]
    assert report.points[0].extra["time_basis"] == "start_time+ticks" and report.points[0].extra["ticks"] == 5


def test_avr_files_are_not_timed_by_invention() -> None:
    with pytest.raises(FormatError, match="carry no time"):
        decode_avr(b"*8D4840D6202CC371C32CE0576098;\n", "plain.avr")
    with pytest.raises(FormatError, match="--start-time"):
        decode_avr(b"@00000000000A8D4840D6202CC371C32CE0576098;\n", "mlat.avr")


def test_avr_live_is_timed_by_receipt_and_reports_bad_lines() -> None:
    stream = AvrStream(ModeSDecoder(), clock=lambda: 1700000000.25)
    report = stream.feed(b"*8D4840D6202CC371C32CE0576098;\r\n*8D4840D6202CC371C32CE05760;\n"
                         b"8D4840D6202CC371C32CE0576098\n*8D4840D6202CC371C32CE0576099;\n#abc;\n*8D4840")
    (p,) = report.points
    assert p.callsign == "KLM1023" and p.time == datetime.fromtimestamp(1700000000.25, UTC)
    assert p.extra["time_basis"] == "receive"
    assert [n for n, _ in report.rejected] == [2, 3, 4, 5] and report.messages == 5
    assert "truncated" in dict(report.rejected)[2] and "CRC" in dict(report.rejected)[4]
    later = stream.feed(b"D6202CC371C32CE0576098;\n")  # the line split across two chunks
    assert later.points[0].callsign == "KLM1023" and later.rejected == []


def test_beast_frames_with_escapes_chunked_byte_by_byte() -> None:
    frames = b"".join(beast_frame(r[1], (int(r[0]) - T0) * TICKS_HZ + 0x1A) for r in ROWS)  # 0x1a in the clock
    assert b"\x1a\x1a" in frames
    whole = decode_beast(frames, "flight.beast", start_time=START)
    ref = decode_modes_csv("\n".join(f"{r[0]},{r[1]}" for r in ROWS).encode(), "ref")
    assert positions(whole) == positions(ref) and whole.rejected == [] and whole.messages == len(ROWS)
    stream = BeastStream(ModeSDecoder(), start_time=START)
    pieces = [stream.feed(frames[i:i + 1]) for i in range(len(frames))]
    assert [pt for rep in pieces for pt in rep.points] == whole.points
    assert whole.points[0].extra["signal"] == 0x80


def test_beast_truncated_garbage_and_mode_ac() -> None:
    good = beast_frame("8D4840D6202CC371C32CE0576098", 12_000_000)
    cut = beast_frame("8D40621D58C382D690C8AC2863A7", 24_000_000)[:12]
    mode_ac = b"\x1a1" + (36_000_000).to_bytes(6, "big") + b"\x40\x12\x34"
    again = beast_frame("8D4840D6202CC371C32CE0576098", 36_000_000)
    data = b"junk" + good + cut + again + mode_ac + beast_frame("8D4840D6202CC371C32CE0576098", 48_000_000)[:-3]
    report = decode_beast(data, "x.beast", start_time=START)
    assert [p.callsign for p in report.points] == ["KLM1023", "KLM1023"]
    assert [p.time for p in report.points] == [START, START + timedelta(seconds=2)]  # 24e6 ticks after the first
    assert report.points[0].raw == "8D4840D6202CC371C32CE0576098"
    reasons = [r for _, r in report.rejected]
    assert reasons[0] == "4 bytes outside any Beast frame skipped"
    assert "a new frame starts inside it" in reasons[1]
    assert "Mode A/C" in reasons[2] and reasons[3].startswith("truncated Beast frame at the end")
    with pytest.raises(FormatError, match="--start-time"):
        decode_beast(good, "x.beast")


def sbs_row(kind: int, icao: str, local: datetime, rest: str) -> str:
    d, t = local.strftime("%Y/%m/%d"), local.strftime("%H:%M:%S.%f")[:-3]
    return f"MSG,{kind},1,1,{icao},1,{d},{t},{d},{t},{rest}"


def test_sbs_file_needs_the_feeders_zone_and_converts_it() -> None:
    kyiv = datetime(2024, 6, 1, 15, 30, 0, 500000)  # local summer time, UTC+3
    text = "\n".join([
        sbs_row(1, "508035", kyiv, "UKR123,,,,,,,,,,,0"),
        sbs_row(3, "508035", kyiv, ",36000,,,48.50000,35.00000,,,0,,0,0"),
        sbs_row(4, "508035", kyiv, ",,450,90,,,-1216,,,,,0"),
        sbs_row(3, "4AC8B3", kyiv, ",36017H,,,51.1001,10.1915,,,,,,"),
        sbs_row(6, "508035", kyiv, ",,,,,,,7700,0,1,0,0"),
        "MSG,3,1,1,508035,1,2024/06/01,15:30:00.500",
        sbs_row(3, "508035", kyiv, ",36000,,,91.0,35.0,,,0,,0,0"),
        sbs_row(3, "~50803", kyiv, ",36000,,,48.5,35.0,,,0,,0,0"),
        sbs_row(6, "508035", kyiv, ",,,,,,,7799,0,1,0,0"),
        "STA,,1,1,508035,1,2024/06/01,15:30:00.500,2024/06/01,15:30:00.500,RM",
    ]).encode()
    with pytest.raises(FormatError, match="feeder's local clock"):
        decode_sbs(text, "feed.sbs")
    report = decode_sbs(text, "feed.sbs", tz="Europe/Kyiv")
    ident, pos, vel, mlat, sq = report.points
    assert ident.callsign == "UKR123" and ident.time == datetime(2024, 6, 1, 12, 30, 0, 500000, tzinfo=UTC)
    assert (pos.lat, pos.lon, pos.alt_m, pos.alt_ref) == (48.5, 35.0, pytest.approx(36000 * 0.3048), "baro")
    assert pos.extra["on_ground"] is False and pos.extra["time_basis"] == "sbs-generated Europe/Kyiv"
    assert vel.speed_mps == pytest.approx(450 * 1852 / 3600) and vel.course_deg == 90
    assert vel.extra["vertical_rate_mps"] == pytest.approx(-1216 * 0.3048 / 60)
    assert (mlat.ident, mlat.alt_ref, mlat.lat) == ("4ac8b3", "gnss", 51.1001)
    assert sq.squawk == "7700" and report.messages == 9
    reasons = dict(report.rejected)
    assert reasons[6].startswith("truncated: 8 fields") and "out of range" in reasons[7]
    assert "field 5 (hex ident)" in reasons[8] and "field 18 (squawk)" in reasons[9]


def test_sbs_live_without_zone_is_timed_by_receipt() -> None:
    stream = SbsStream(clock=lambda: 1717245000.0)
    row = sbs_row(3, "508035", datetime(2024, 6, 1, 15, 30), ",36000,,,48.5,35.0,,,0,,0,0")
    report = stream.feed(row[:40].encode())
    assert report.points == [] and report.messages == 0
    report = stream.feed((row[40:] + "\r\n").encode())
    (p,) = report.points
    assert p.time == datetime.fromtimestamp(1717245000.0, UTC) and p.extra["time_basis"] == "receive"
    assert p.extra["sbs_time"] == "2024/06/01 15:30:00.000"


def test_chunked_modes_csv_equals_whole() -> None:
    text = "\n".join(f"{r[0]},{r[1]}" for r in ROWS).encode()
    from truceline.ingest.modes_formats import ModesCsvStream

    stream = ModesCsvStream(ModeSDecoder())
    parts = [stream.feed(text[i:i + 7]) for i in range(0, len(text), 7)] + [stream.feed(b"", final=True)]
    whole = decode_modes_csv(text, "x")
    assert [p for r in parts for p in r.points] == whole.points
    assert all(distance_m(a.lat, a.lon, b.lat, b.lon) == 0 for a, b in zip(
        [p for p in whole.points if p.lat is not None], [p for r in parts for p in r.points if p.lat is not None]))


@pytest.mark.parametrize("stamp", ["2024/06/01,15:30:00", "2024/06/01,15:30:00.1", "2024/06/01,15:30:00.123456"])
def test_sbs_time_fractions(stamp: str) -> None:
    row = f"MSG,3,1,1,508035,1,{stamp},{stamp},,2500,,,47.5,34.6,,,0,,0,0"
    (p,) = decode_sbs(row.encode(), "x", tz="UTC").points
    assert p.time == datetime.strptime(stamp.replace(",", " ") + ("" if "." in stamp else ".0"), "%Y/%m/%d %H:%M:%S.%f").replace(tzinfo=UTC)


@pytest.mark.parametrize("stamp", ["2024-06-01,15:30:00.000", "2024/06/01,25:30:00.000", "2024/02/30,15:30:00.000",
                                   "2024/06/01,15:30:00x5", "2024/06/01,15:30", "2024/06/01,15:30:00.1234567"])
def test_sbs_bad_times_name_the_fields(stamp: str) -> None:
    row = f"MSG,3,1,1,508035,1,{stamp},{stamp},,2500,,,47.5,34.6,,,0,,0,0"
    report = decode_sbs(row.encode(), "x", tz="UTC")
    assert report.points == [] and "fields 7-8" in report.rejected[0][1]


def test_avr_bad_time_stamps_are_reported() -> None:
    data = b"@0000_0000000\x38D4840D6202CC371C32CE0576098;\n@00000000zz008D4840D6202CC371C32CE0576098;\n@0012;\n"
    report = decode_avr(data, "x.avr", start_time=START)
    assert report.points == [] and [n for n, _ in report.rejected] == [1, 2, 3]
    assert all("12 hex digits" in r for _, r in report.rejected)


def test_sniffing_the_framing_from_the_first_bytes() -> None:
    from truceline.ingest.modes_formats import sniff_modes_format

    flight = (DATA / "pymodes_sample_adsb_406b90.csv").read_bytes()
    assert sniff_modes_format(flight[:4096]) == "modes-csv"
    assert sniff_modes_format((DATA / "pymodes_sample_commb_df20.csv").read_bytes()) == "modes-csv"  # BOM, ICAO first
    assert sniff_modes_format(b"mintime,rawmsg\n1457996400,8D4840D6202CC371C32CE0576098\n") == "modes-csv"
    assert sniff_modes_format(b"\n*8D4840D6202CC371C32CE0576098;\n") == "avr"
    assert sniff_modes_format(b"@0000000000128D4840D6202CC371C32CE0576098;\n") == "avr"
    assert sniff_modes_format(beast_frame("8D4840D6202CC371C32CE0576098", 1)) == "beast"
    assert sniff_modes_format(sbs_row(3, "508035", datetime(2024, 6, 1), ",2500,,,47.5,34.6,,,0,,0,0").encode()) == "sbs"
    for other in (b'{"id": 1}', b"latitude,longitude,acq_date\n", b"1457996400,406B90,19\n", b"", b"\x1a\x1a"):
        assert sniff_modes_format(other) is None


def test_dump1090_heartbeats_are_neither_messages_nor_rejections() -> None:
    # net_io.c send_raw_heartbeat "*0000;\n", send_beast_heartbeat {0x1a, '1', 0 × 9}, send_sbs_heartbeat "\r\n"
    avr = AvrStream(ModeSDecoder(), clock=lambda: 1700000000.0).feed(b"*0000;\n*1234;\n*8D4840D6202CC371C32CE0576098;\n")
    assert avr.messages == 2 and avr.rejected == [(2, "Mode A/C reply: it carries no aircraft address")]
    beat = b"\x1a1" + bytes(9)
    beast = BeastStream(ModeSDecoder(), clock=lambda: 1700000000.0).feed(beat + beast_frame("8D4840D6202CC371C32CE0576098", 5) + beat)
    assert beast.messages == 1 and beast.rejected == [] and beast.points[0].callsign == "KLM1023"
    sbs = SbsStream(clock=lambda: 1700000000.0).feed(b"\r\n\r\n")
    assert sbs.messages == 0 and sbs.rejected == [] and sbs.points == []
