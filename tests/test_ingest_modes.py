"""Mode S / ADS-B decoding (ingest/modes.py): real messages with their published decoded values.

Sources of every sample: tests/data/modes/SOURCES.md (pyModeS sample recordings and tests, *The 1090
Megahertz Riddle*). Known positions are checked to 10 m; the recorded flight is checked message by message
against pyModeS's own single-message decoding with a reference (unambiguous within 180 NM).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pyModeS
import pytest

from truceline.ingest.modes import ModeSDecoder, decode_modes_csv, distance_m
from truceline.track.model import DecodeReport

DATA = Path(__file__).parent / "data" / "modes"
FLIGHT = DATA / "pymodes_sample_adsb_406b90.csv"
T0 = 1457996400.0


def feed(dec: ModeSDecoder, *msgs: tuple[str, float]) -> DecodeReport:
    report = DecodeReport()
    for i, (msg, ts) in enumerate(msgs, 1):
        dec.decode(msg, ts, number=i, report=report)
    return report


def near(point, lat: float, lon: float, metres: float = 10.0) -> bool:
    return point.lat is not None and distance_m(point.lat, point.lon, lat, lon) <= metres


# -- single documented messages ------------------------------------------------------------------------

def test_identification_callsign_klm1023() -> None:
    report = feed(ModeSDecoder(), ("8D4840D6202CC371C32CE0576098", T0))
    (p,) = report.points
    assert (p.ident, p.callsign, p.lat, p.extra["tc"]) == ("4840d6", "KLM1023", None, 4)
    assert p.time == datetime.fromtimestamp(T0, UTC) and p.raw == "8D4840D6202CC371C32CE0576098"


def test_global_cpr_pair_1090_riddle() -> None:
    # odd first, even newer: the book's answer 52.2572, 3.9194 (the even frame's zone)
    report = feed(ModeSDecoder(), ("8D40621D58C386435CC412692AD6", T0), ("8D40621D58C382D690C8AC2863A7", T0 + 1))
    first, second = report.points
    assert first.lat is None and first.extra["cpr"] == "pending"
    assert first.alt_m == pytest.approx(38000 * 0.3048) and first.alt_ref == "baro"
    assert second.extra["cpr"] == "global" and near(second, 52.2572, 3.9194, metres=10)
    assert near(second, *_pymodes(second.raw, (52.0, 4.0)), metres=0.01)


@pytest.mark.parametrize(
    ("order", "expected"),
    [(("8D40058B58C901375147EFD09357", "8D40058B58C904A87F402D3B8C59"), (49.81755, 6.08442)),
     (("8D40058B58C904A87F402D3B8C59", "8D40058B58C901375147EFD09357"), (49.82410, 6.06785))],
)
def test_global_pair_uses_the_newer_frame(order: tuple[str, str], expected: tuple[float, float]) -> None:
    report = feed(ModeSDecoder(), (order[0], T0), (order[1], T0 + 2))
    assert near(report.points[1], *expected, metres=10)


def test_pair_older_than_ten_seconds_is_not_paired() -> None:
    report = feed(ModeSDecoder(), ("8D40621D58C386435CC412692AD6", T0), ("8D40621D58C382D690C8AC2863A7", T0 + 10.5))
    assert [p.lat for p in report.points] == [None, None]
    assert [p.extra["cpr"] for p in report.points] == ["pending", "pending"]


def test_airborne_and_surface_frames_never_pair() -> None:
    # a real OpenSky pair that naive pairing turns into 113° N (pyModeS tests/test_cpr.py)
    report = feed(ModeSDecoder(), ("8f485a33397c737a27d1b18072cd", T0), ("8d485a33581d663872e86a3bbfff", T0 + 1))
    assert all(p.lat is None for p in report.points)
    assert report.points[0].extra["on_ground"] is True and report.points[1].extra["on_ground"] is False


def test_velocity_over_ground_and_air_data() -> None:
    report = feed(ModeSDecoder(), ("8D485020994409940838175B284F", T0), ("8DA05F219B06B6AF189400CBC33F", T0))
    gs, air = report.points
    assert gs.speed_mps == pytest.approx(159 * 1852 / 3600) and gs.course_deg == pytest.approx(182.88, abs=0.01)
    assert gs.extra["vertical_rate_mps"] == pytest.approx(-832 * 0.3048 / 60)
    assert air.speed_mps is None and air.course_deg is None  # heading and TAS are not the motion over ground
    assert air.extra["airspeed_mps"] == pytest.approx(375 * 1852 / 3600)
    assert air.extra["heading_deg"] == pytest.approx(243.98, abs=0.01)


def test_surface_pair_needs_a_reference_and_uses_it() -> None:
    pair = (("903a23ff426a38565950432ebf95", T0), ("903a23ff426a4e65f7487a775d17", T0 + 1))
    unplaced = feed(ModeSDecoder(), *pair)
    assert [p.lat for p in unplaced.points] == [None, None] and not unplaced.rejected
    placed = feed(ModeSDecoder(receiver=(43.63, 1.37)), *pair)
    last = placed.points[1]
    assert last.extra["on_ground"] is True and near(last, 43.62646, 1.37476, metres=10)
    assert last.speed_mps == pytest.approx(14.5 * 1852 / 3600) and last.course_deg == pytest.approx(101.25)


def test_receiver_range_refuses_a_far_position() -> None:
    dec = ModeSDecoder(receiver=(43.63, 1.37), max_range_km=400)
    report = feed(dec, ("8D40621D58C386435CC412692AD6", T0), ("8D40621D58C382D690C8AC2863A7", T0 + 1))
    assert all(p.lat is None for p in report.points)
    assert len(report.rejected) == 1 and "beyond its 400 km range" in report.rejected[0][1]


# -- CRC, truncation, address/parity ---------------------------------------------------------------------

def test_corrupted_and_truncated_messages_are_counted_and_reported() -> None:
    good = "8D40621D58C382D690C8AC2863A7"
    flipped = good[:10] + ("0" if good[10] != "0" else "1") + good[11:]  # one bit error in the ME field
    report = feed(ModeSDecoder(), (flipped, T0), (good[:24], T0), ("8D40621DZZC382D690C8AC2863A7", T0), ("", T0))
    assert report.messages == 4 and report.points == []
    reasons = dict(report.rejected)
    assert reasons[1].startswith("CRC: checksum mismatch")
    assert reasons[2].startswith("truncated or overlong: 24 hex digits")
    assert reasons[3].startswith("not a Mode S message")
    assert reasons[4].startswith("truncated or overlong: 0 hex digits")


def test_df17_cut_to_56_bits_is_truncated() -> None:
    report = feed(ModeSDecoder(), ("8D4840D6202CC3", T0))
    assert report.rejected == [(1, "truncated: DF17 is 112 bits, got 56")]


def test_df4_df5_believed_only_for_an_address_seen_with_checked_parity() -> None:
    # 20001718029FCD (DF4, 36000 ft) and 2A00516D492B80 (DF5, squawk 0356) recover addresses 4891A6, 510AF9
    alone = feed(ModeSDecoder(), ("20001718029FCD", T0), ("2A00516D492B80", T0))
    assert alone.points == [] and all(r.startswith("address/parity: DF") for _, r in alone.rejected)
    dec = ModeSDecoder()
    feed(dec, (_df17_ident("4891A6"), T0), (_df17_ident("510AF9"), T0))
    report = feed(dec, ("20001718029FCD", T0 + 5), ("2A00516D492B80", T0 + 5), ("20001718029FCD", T0 + 70))
    alt, sq = report.points
    assert (alt.ident, alt.alt_m, alt.alt_ref, alt.extra["df"]) == ("4891a6", pytest.approx(36000 * 0.3048), "baro", 4)
    assert (sq.ident, sq.squawk, sq.extra["df"]) == ("510af9", "0356", 5)
    assert report.rejected and report.rejected[0][0] == 3  # 65 s after the address was last checked


@pytest.mark.parametrize(("name", "field"), [("pymodes_sample_commb_df20.csv", "altitude"), ("pymodes_sample_commb_df21.csv", "squawk")])
def test_comm_b_replies_of_the_recording(name: str, field: str) -> None:
    rows = [r for r in csv.reader((DATA / name).read_text("utf-8-sig").splitlines()) if r]
    dec = ModeSDecoder()
    unknown = decode_modes_csv((DATA / name).read_bytes(), name)
    assert unknown.points == [] and len(unknown.rejected) == len(rows)  # no address checked yet
    report = DecodeReport()
    for i, (ts, icao, msg) in enumerate(rows, 1):
        feed(dec, (_df17_ident(icao), float(ts)))  # the recording's own ICAO column, as a checked squitter
        dec.decode(msg, float(ts), number=i, report=report)
    assert len(report.points) == len(rows)
    for p, (_, icao, msg) in zip(report.points, rows):
        assert p.ident == icao.lower()  # the address recovered from the parity is the recorded one
        expected = pyModeS.decode(msg)[field]
        got = p.squawk if field == "squawk" else p.alt_m
        assert got == (expected if field == "squawk" else (None if expected is None else pytest.approx(expected * 0.3048)))


# -- a recorded flight ----------------------------------------------------------------------------------

def test_recorded_flight_positions_match_pymodes_within_10_m() -> None:
    report = decode_modes_csv(FLIGHT.read_bytes(), FLIGHT.name)
    rows = list(csv.reader(FLIGHT.read_text().splitlines()))
    assert report.messages == len(rows) == 600 and report.rejected == []
    placed = [(p, row) for p, row in zip(report.points, rows) if p.lat is not None]
    assert len(placed) > 250
    for p, row in placed:
        assert p.ident == "406b90" and p.time == datetime.fromtimestamp(int(row[0]), UTC)
        assert near(p, *_pymodes(row[1], (51.4, 6.0)), metres=10), row
    kinds = {p.extra["cpr"] for p, _ in placed}
    assert kinds == {"global", "local"}
    assert {p.callsign for p in report.points} == {"EZY85MH", None}
    assert all(p.speed_mps is not None for p in report.points if p.extra["tc"] == 19)


def test_local_decoding_from_the_tracks_last_position() -> None:
    rows = list(csv.reader(FLIGHT.read_text().splitlines()))
    positions = [r for r in rows if r[3] == "11"]
    even = [r for r in positions if int(r[1][13], 16) & 0x4 == 0]  # CPR F bit: ME bit 22
    odd = [r for r in positions if int(r[1][13], 16) & 0x4]
    dec = ModeSDecoder()
    feed(dec, (odd[0][1], float(odd[0][0])), (even[0][1], float(even[0][0]) + 0.5))
    later = next(r for r in even if float(r[0]) > float(even[0][0]) + 12)
    (p,) = feed(dec, (later[1], float(later[0]))).points  # no odd frame within 10 s: only local decoding
    assert p.extra["cpr"] == "local" and near(p, *_pymodes(later[1], (51.4, 6.0)), metres=10)


def test_impossible_jump_is_refused_not_published() -> None:
    rows = [r for r in csv.reader(FLIGHT.read_text().splitlines()) if r[3] == "11"]
    early, late = rows[:6], rows[-6:]  # minutes apart: more than 30 km along the route
    assert distance_m(*_pymodes(early[0][1], (51.4, 6.0)), *_pymodes(late[-1][1], (51.4, 6.0))) > 30_000
    dec = ModeSDecoder()
    feed(dec, *[(r[1], T0 + i) for i, r in enumerate(early)])
    report = feed(dec, *[(r[1], T0 + 6 + i) for i, r in enumerate(late)])  # real frames, times 6 s later
    reasons = [r for _, r in report.rejected]
    assert any("frames of two places or wrong times" in r for r in reasons)  # the mixed even/odd pair
    assert any("faster than 1500 kt" in r for r in reasons)  # local decoding against the stale anchor
    for p in report.points:  # whatever is placed after the refusal comes from the late frames alone
        if p.lat is not None:
            assert near(p, *_pymodes(p.raw, (51.4, 6.0)), metres=10)


def test_modes_csv_with_an_opensky_header_and_bad_rows() -> None:
    text = ("mintime,rawmsg,icao24\n"
            f"{T0},8D40621D58C386435CC412692AD6,40621d\n"
            f"{T0 + 1},8D40621D58C382D690C8AC2863A7,40621d\n"
            "yesterday,8D40621D58C382D690C8AC2863A7,40621d\n"
            f"{T0 * 1000},8D40621D58C382D690C8AC2863A7,40621d\n"
            f"{T0 + 2},,40621d\n")
    report = decode_modes_csv(text.encode(), "opensky.csv")
    assert near(report.points[1], 52.2572, 3.9194)
    assert [n for n, _ in report.rejected] == [4, 5, 6]
    assert "not a UNIX time" in report.rejected[0][1] and "1990-2100" in report.rejected[1][1]
    assert report.messages == 5


def _pymodes(msg: str, reference: tuple[float, float]) -> tuple[float, float]:
    d = pyModeS.decode(msg, reference=reference)
    return d["latitude"], d["longitude"]


def _df17_ident(icao: str) -> str:
    """A DF17 identification squitter from ``icao`` with valid parity (to mark the address as checked)."""
    body = f"8D{icao.upper()}202CC371C32CE0"
    return body + f"{pyModeS.util.crc(body + '000000'):06X}"


def test_forgetting_silent_aircraft_drops_their_cpr_state() -> None:
    dec = ModeSDecoder()
    feed(dec, ("8D40621D58C386435CC412692AD6", T0), ("8D40621D58C382D690C8AC2863A7", T0 + 1))
    assert dec.last_position("40621D") is not None
    assert dec.forget_before(T0 + 0.5) == 0  # heard since
    assert dec.forget_before(T0 + 2) == 1 and dec.last_position("40621d") is None
    (p,) = feed(dec, ("8D40621D58C386435CC412692AD6", T0 + 3)).points
    assert p.lat is None and p.extra["cpr"] == "pending"


def test_emergency_status_squawk() -> None:
    # 8DA2C1B6E112B600000000760759: TC 28 subtype 1, no emergency, squawk 6513 (pyModeS tests/test_bds61.py)
    (p,) = feed(ModeSDecoder(), ("8DA2C1B6E112B600000000760759", T0)).points
    assert (p.ident, p.squawk, p.extra["tc"], p.extra["emergency_state"]) == ("a2c1b6", "6513", 28, 0)


def test_df18_with_a_non_icao_address_is_not_a_track() -> None:
    # the LFBO surface frame with CF=1 (non-ICAO address) instead of 0, parity recomputed
    body = "91" + "903a23ff426a4e65f7487a775d17"[2:22]
    msg = body + f"{pyModeS.util.crc(body + '000000'):06X}"
    report = feed(ModeSDecoder(), (msg, T0))
    assert report.points == [] and report.rejected == [(1, "DF18 CF=1: address is not an ICAO 24-bit address (TIS-B/ADS-R or non-ICAO)")]
