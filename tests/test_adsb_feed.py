"""The ADS-B live feed role (service/adsb_feed.py) against real TCP and UDP servers on loopback.

The messages are the documented ones of tests/data/modes/SOURCES.md; the servers write them the way
dump1090 serves SBS (30003), AVR (30002) and Beast (30005), and drop the connection once.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from truceline.ingest.modes import distance_m
from truceline.service.adsb_feed import AdsbFeed, parse_adsb_address
from truceline.service.feeds import Backoff
from truceline.track.model import DecodeReport

FAST = Backoff(initial_s=0.05, maximum_s=0.2)
SBS = ("MSG,3,1,1,508035,1,2024/06/01,15:30:00.500,2024/06/01,15:30:00.500,,2500,,,47.5,34.6,,,0,,0,0\r\n"
       "MSG,1,1,1,508035,1,2024/06/01,15:30:00.600,2024/06/01,15:30:00.600,UKR123,,,,,,,,,,,0\r\n")


def test_address_formats_default_from_dump1090_ports() -> None:
    assert parse_adsb_address("radar.local:30003").format == "sbs"
    assert parse_adsb_address("10.0.0.2:30005").format == "beast"
    assert parse_adsb_address("10.0.0.2:30002").format == "avr"
    assert parse_adsb_address("udp://0.0.0.0:5555/avr").protocol == "udp"
    with pytest.raises(ValueError, match="say which framing"):
        parse_adsb_address("10.0.0.2:40000")
    with pytest.raises(ValueError, match="format must be one of"):
        parse_adsb_address("10.0.0.2:30003/json")


async def _serve(payloads: list[bytes]) -> tuple[asyncio.AbstractServer, int, list[int]]:
    """A TCP server writing one payload per connection, then closing it (the connection drop)."""
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        i = len(served)
        served.append(i)
        if i < len(payloads):
            writer.write(payloads[i])
            await writer.drain()
        if i + 1 < len(payloads):
            writer.close()  # drop: the client must reconnect
        else:
            await asyncio.sleep(5)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], served


async def _collect(feed_address: str, payloads: list[bytes], want: int) -> tuple[list[DecodeReport], AdsbFeed]:
    server, port, _ = await _serve(payloads)
    reports: list[DecodeReport] = []

    async def sink(report: DecodeReport) -> None:
        reports.append(report)

    feed = AdsbFeed(feed_address.replace("PORT", str(port)), sink, backoff=FAST)
    await feed.start()
    try:
        for _ in range(200):
            if sum(len(r.points) for r in reports) >= want:
                break
            await asyncio.sleep(0.02)
    finally:
        await feed.stop()
        server.close()
        await server.wait_closed()
    return reports, feed


def test_sbs_feed_survives_a_dropped_connection() -> None:
    half = len(SBS) // 2 + 7  # the drop cuts the second row: it must not be glued to the next connection
    reports, feed = asyncio.run(_collect("127.0.0.1:PORT/sbs", [SBS[:half].encode(), SBS.encode()], 3))
    points = [p for r in reports for p in r.points]
    assert [p.ident for p in points] == ["508035"] * 3
    assert (points[0].lat, points[0].lon) == (47.5, 34.6) and points[2].callsign == "UKR123"
    assert all(p.extra["time_basis"] == "receive" for p in points)
    assert feed.state.connects == 2 and feed.state.disconnects == 2 and feed.state.status == "stopped"


def test_cpr_pair_split_across_a_reconnection_still_places_the_aircraft() -> None:
    odd, even = b"*8D40621D58C386435CC412692AD6;\n", b"*8D40621D58C382D690C8AC2863A7;\n"
    reports, feed = asyncio.run(_collect("127.0.0.1:PORT/avr", [odd, even], 2))
    first, second = [p for r in reports for p in r.points]
    assert first.lat is None and second.extra["cpr"] == "global"
    assert distance_m(second.lat, second.lon, 52.2572, 3.9194) < 10
    assert feed.state.connects == 2


def test_beast_over_tcp_with_a_corrupted_frame_counted() -> None:
    def frame(msg: str) -> bytes:
        return b"\x1a3" + (1).to_bytes(6, "big") + b"\x50" + bytes.fromhex(msg).replace(b"\x1a", b"\x1a\x1a")

    good = frame("8D4840D6202CC371C32CE0576098")
    bad = frame("8D4840D6202CC371C32CE0576099")
    reports, feed = asyncio.run(_collect("127.0.0.1:PORT/beast", [good + bad + good], 2))
    assert [p.callsign for r in reports for p in r.points] == ["KLM1023", "KLM1023"]
    assert feed.state.rejected == 1 and "checksum" in feed.state.rejected_examples[0]


def test_avr_over_udp() -> None:
    async def run() -> list[DecodeReport]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        reports: list[DecodeReport] = []

        async def sink(report: DecodeReport) -> None:
            reports.append(report)

        feed = AdsbFeed(f"udp://127.0.0.1:{port}/avr", sink, backoff=FAST)
        await feed.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(100):
                if reports:
                    break
                tx.sendto(b"*8D4840D6202CC371C32CE0576098;", ("127.0.0.1", port))  # no newline: one datagram
                await asyncio.sleep(0.02)
        await feed.stop()
        return reports

    reports = asyncio.run(run())
    assert reports and reports[0].points[0].callsign == "KLM1023"
