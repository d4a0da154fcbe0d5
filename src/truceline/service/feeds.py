"""Generic live-feed client: TCP (we connect) or UDP (we listen) byte streams with reconnect and backoff.

Tools that receive ADS-B and AIS (dump1090/readsb on 30002/30003/30005, AIS-catcher, gpsd) *serve* their
messages; truceline reads them as a client, the way other consumers of dump1090 do. The client only moves
bytes: a fresh stateful decoder per connection (``StreamDecoder.feed``) turns them into points, and an
async sink stores them. A dropped or refused connection is retried with exponential backoff (reset after a
connection that delivered data), so a restart of the receiver costs seconds, not the feed. The state of
each feed (status, counters, last error) is a plain dataclass the page and ``/metrics`` read.

Addresses: ``HOST:PORT`` or ``tcp://HOST:PORT`` connects over TCP; ``udp://HOST:PORT`` binds a UDP port
and reads datagrams (AIS-catcher ``-u``, gpsd/OpenCPN UDP forwarding). A trailing ``/FORMAT`` is returned
to the caller (``--adsb HOST:PORT/beast``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from truceline.domain.strict import is_ascii_digits
from truceline.track.model import DecodeReport, StreamDecoder

logger = logging.getLogger("truceline.feeds")

READ_CHUNK = 64 * 1024
Status = Literal["idle", "connecting", "connected", "listening", "backoff", "stopped"]


@dataclass(frozen=True)
class FeedAddress:
    """Where a feed is read from: protocol, host, port, and the optional ``/format`` suffix."""

    protocol: Literal["tcp", "udp"]
    host: str
    port: int
    format: str | None = None

    def __str__(self) -> str:
        tail = f"/{self.format}" if self.format else ""
        return f"{self.protocol}://{self.host}:{self.port}{tail}"


def parse_feed_address(text: str, *, formats: tuple[str, ...] = ()) -> FeedAddress:
    """Parse ``[tcp://|udp://]HOST:PORT[/FORMAT]``; raises ValueError saying what is wrong."""
    rest = text.strip()
    protocol: Literal["tcp", "udp"] = "tcp"
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme.lower() not in ("tcp", "udp"):
            raise ValueError(f"feed {text!r}: protocol must be tcp or udp, got {scheme!r}")
        protocol = "udp" if scheme.lower() == "udp" else "tcp"
    fmt: str | None = None
    if "/" in rest:
        rest, fmt = rest.split("/", 1)
        fmt = fmt.lower()
        if not formats or fmt not in formats:
            allowed = "|".join(formats) if formats else "none"
            raise ValueError(f"feed {text!r}: format must be one of {allowed}, got {fmt!r}")
    if rest.startswith("["):  # [IPv6]:port
        host, _, port_text = rest[1:].partition("]:")
    else:
        host, _, port_text = rest.rpartition(":")
    if not host or not port_text:
        raise ValueError(f"feed {text!r}: expected HOST:PORT")
    if not is_ascii_digits(port_text) or len(port_text) > 5:  # int() would also read "+80" and "8_0"
        raise ValueError(f"feed {text!r}: port {port_text!r} is not a number (ASCII digits 1-65535)")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"feed {text!r}: port {port} out of range 1-65535")
    return FeedAddress(protocol, host, port, fmt)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between reconnection attempts."""

    initial_s: float = 0.5
    maximum_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1  # ± fraction of the delay, so many clients do not reconnect in lockstep

    def delay(self, attempt: int) -> float:
        base = min(self.maximum_s, self.initial_s * self.factor ** max(0, attempt))
        return max(0.0, base * (1.0 + random.uniform(-self.jitter, self.jitter)))


@dataclass
class FeedState:
    """What the page and ``/metrics`` show of one feed."""

    name: str
    address: str
    status: Status = "idle"
    connects: int = 0
    disconnects: int = 0
    bytes: int = 0
    messages: int = 0
    points: int = 0
    rejected: int = 0
    last_error: str | None = None
    last_data_at: float | None = None  # UNIX time of the last bytes received
    next_retry_s: float | None = None
    rejected_examples: list[str] = field(default_factory=list)  # the last few rejection reasons

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Sink = Callable[[DecodeReport], Awaitable[None]]


class FeedClient:
    """One live feed: connect (TCP) or bind (UDP), decode with a fresh decoder, hand reports to ``sink``."""

    def __init__(
        self,
        name: str,
        address: FeedAddress,
        decoder_factory: Callable[[], StreamDecoder],
        sink: Sink,
        *,
        backoff: Backoff = Backoff(),
        idle_timeout_s: float | None = None,
        connect_timeout_s: float = 10.0,
        datagram_newline: bool = True,
    ) -> None:
        self.address = address
        self.decoder_factory = decoder_factory
        self.sink = sink
        self.backoff = backoff
        self.idle_timeout_s = idle_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.datagram_newline = datagram_newline  # False for binary streams (Beast) read over UDP
        self.state = FeedState(name=name, address=str(address))
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Start the feed in the background; never raises for an unreachable peer (it retries)."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"feed-{self.state.name}")

    async def stop(self) -> None:
        """Stop reading and wait for the task; whatever was decoded has been handed to the sink."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.state.status = "stopped"

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            delivered = False
            try:
                if self.address.protocol == "tcp":
                    delivered = await self._run_tcp()
                else:
                    delivered = await self._run_udp()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, EOFError) as exc:
                self.state.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                logger.warning("feed %s (%s): %s", self.state.name, self.address, self.state.last_error)
            except Exception as exc:  # a sink failure must not end the feed silently
                self.state.last_error = f"{type(exc).__name__}: {exc}"
                logger.exception("feed %s (%s) failed", self.state.name, self.address)
            if self._stopping.is_set():
                break
            attempt = 0 if delivered else attempt + 1
            delay = self.backoff.delay(attempt)
            self.state.status = "backoff"
            self.state.next_retry_s = round(delay, 3)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            self.state.next_retry_s = None

    async def _consume(self, decoder: StreamDecoder, chunk: bytes) -> None:
        self.state.bytes += len(chunk)
        self.state.last_data_at = time.time()
        report = decoder.feed(chunk)
        self.state.messages += report.messages
        self.state.points += len(report.points)
        if report.rejected:
            self.state.rejected += len(report.rejected)
            self.state.rejected_examples = (self.state.rejected_examples + [r for _, r in report.rejected])[-5:]
        if report.points or report.messages:
            await self.sink(report)

    async def _run_tcp(self) -> bool:
        self.state.status = "connecting"
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.address.host, self.address.port), self.connect_timeout_s
        )
        self.state.status = "connected"
        self.state.connects += 1
        self.state.last_error = None
        decoder = self.decoder_factory()
        delivered = False
        try:
            while not self._stopping.is_set():
                if self.idle_timeout_s is not None:
                    chunk = await asyncio.wait_for(reader.read(READ_CHUNK), self.idle_timeout_s)
                else:
                    chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    self.state.last_error = "connection closed by peer"
                    break
                delivered = True
                await self._consume(decoder, chunk)
        finally:
            self.state.disconnects += 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return delivered

    async def _run_udp(self) -> bool:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue(10_000)
        state = self.state

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                try:
                    queue.put_nowait(data)
                except asyncio.QueueFull:
                    state.rejected += 1
                    state.rejected_examples = (state.rejected_examples + ["datagram dropped: queue full"])[-5:]

        transport, _ = await loop.create_datagram_endpoint(
            _Protocol, local_addr=(self.address.host, self.address.port)
        )
        self.state.status = "listening"
        self.state.connects += 1
        self.state.last_error = None
        decoder = self.decoder_factory()
        delivered = False
        try:
            while not self._stopping.is_set():
                data = await queue.get()
                # a datagram is a whole set of lines; end it with a newline so lines never join across datagrams
                if self.datagram_newline and not data.endswith(b"\n"):
                    data += b"\n"
                delivered = True
                await self._consume(decoder, data)
        finally:
            self.state.disconnects += 1
            transport.close()
        return delivered
