"""The generic live-feed client (service/feeds.py): address parsing, TCP reconnect after a drop, UDP."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import pytest

from truceline.service.feeds import Backoff, FeedClient, parse_feed_address
from truceline.track.model import DecodeReport, TrackPoint


class LineDecoder:
    """A minimal stateful decoder: each complete line ``MMSI`` is one vessel point; other lines rejected."""

    def __init__(self) -> None:
        self.buf = b""
        self.n = 0

    def feed(self, chunk: bytes) -> DecodeReport:
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        rep = DecodeReport(points=[], rejected=[], messages=0)
        for line in lines:
            self.n += 1
            rep.messages += 1
            text = line.decode().strip()
            if text.isdigit() and len(text) == 9:
                rep.points.append(TrackPoint("vessel", text, datetime.now(UTC)))
            else:
                rep.rejected.append((self.n, f"not an MMSI: {text!r}"))
        return rep


def test_parse_feed_address() -> None:
    a = parse_feed_address("127.0.0.1:30005/beast", formats=("sbs", "beast", "avr"))
    assert (a.protocol, a.host, a.port, a.format) == ("tcp", "127.0.0.1", 30005, "beast")
    u = parse_feed_address("udp://0.0.0.0:10110")
    assert (u.protocol, u.port, u.format) == ("udp", 10110, None)
    assert parse_feed_address("[::1]:10110").host == "::1"
    for bad, word in [("localhost", "HOST:PORT"), ("h:99999", "range"), ("h:x", "number"),
                      ("ftp://h:1", "protocol"), ("h:1/sbs", "format")]:
        with pytest.raises(ValueError, match=word):
            parse_feed_address(bad)


def test_backoff_grows_and_caps() -> None:
    b = Backoff(initial_s=1, maximum_s=8, factor=2, jitter=0)
    assert [b.delay(i) for i in range(6)] == [1, 2, 4, 8, 8, 8]


async def _serve_twice(lines_first: bytes, lines_second: bytes) -> tuple[asyncio.Server, int]:
    sessions = [lines_first, lines_second]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        payload = sessions.pop(0) if sessions else b""
        writer.write(payload)
        await writer.drain()
        writer.close()  # drop the connection: the client must reconnect for the rest

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_tcp_feed_reconnects_after_drop_and_counts() -> None:
    async def run() -> None:
        server, port = await _serve_twice(b"366053209\ngarbage\n2470", b"05000\n")
        got: list[str] = []

        async def sink(rep: DecodeReport) -> None:
            got.extend(p.ident for p in rep.points)

        client = FeedClient("ais", parse_feed_address(f"127.0.0.1:{port}"), LineDecoder, sink,
                            backoff=Backoff(initial_s=0.05, maximum_s=0.2))
        await client.start()
        for _ in range(100):
            if client.state.connects >= 2 and client.state.status == "backoff" and got == ["366053209"]:
                break
            await asyncio.sleep(0.02)
        await client.stop()
        server.close()
        # the partial line "2470" of the dropped connection is not glued to the next connection's "05000"
        assert got == ["366053209"]
        assert client.state.connects >= 2 and client.state.disconnects >= 2
        assert client.state.rejected >= 2  # "garbage" and the orphan "05000"
        assert client.state.status == "stopped"

    asyncio.run(run())


def test_tcp_feed_refused_backs_off_without_raising() -> None:
    async def run() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nobody listens there

        async def sink(rep: DecodeReport) -> None:  # pragma: no cover - never called
            raise AssertionError

        client = FeedClient("ais", parse_feed_address(f"127.0.0.1:{port}"), LineDecoder, sink,
                            backoff=Backoff(initial_s=0.01, maximum_s=0.05))
        await client.start()
        await asyncio.sleep(0.3)
        assert client.state.status in ("backoff", "connecting")
        assert client.state.last_error and ("Refused" in client.state.last_error or "Errno" in client.state.last_error)
        assert client.state.connects == 0
        await client.stop()

    asyncio.run(run())


def test_udp_feed_reads_datagrams() -> None:
    async def run() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        got: list[str] = []

        async def sink(rep: DecodeReport) -> None:
            got.extend(p.ident for p in rep.points)

        client = FeedClient("ais", parse_feed_address(f"udp://127.0.0.1:{port}"), LineDecoder, sink)
        await client.start()
        for _ in range(50):
            if client.state.status == "listening":
                break
            await asyncio.sleep(0.01)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"366053209", ("127.0.0.1", port))  # no newline: the datagram ends the line
            tx.sendto(b"247005000\n", ("127.0.0.1", port))
        for _ in range(100):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        await client.stop()
        assert got == ["366053209", "247005000"]

    asyncio.run(run())
