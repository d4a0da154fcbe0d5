"""Cursor-on-Target listeners: a TCP stream server and a UDP datagram endpoint for TAK clients.

TAK clients carry no API key, so a listener writes for one organisation named by the operator
(``serve --cot-org``) with the releasability the operator chose (default: that organisation only), and
only binds where it is told (loopback by default). Every event is its own unit: a bad one is counted,
logged with its place (``tcp 10.0.0.5:40122 event[7] (byte 5120)``) and dropped, and the listener keeps
serving. Good events go through a queue to one writer, which validates them and stores them through
:func:`truceline.service.intake.accept_observations` off the event loop, the same path as HTTP batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from truceline.access.policy import Principal, Role, reader_labels
from truceline.domain.observation import DEFAULT_CLOCK_SKEW
from truceline.ingest.cot import CotOptions, EventSplitter, Stray, Unit, parse_event
from truceline.ingest.records import Record, Rejection
from truceline.ingest.validation import validate_batch, validation_context
from truceline.service.intake import accept_observations
from truceline.service.settings import Settings

logger = logging.getLogger("truceline.cot")

READ_CHUNK = 64 * 1024
MAX_DATAGRAM_BYTES = 65_507  # the largest UDP payload over IPv4


@dataclass(frozen=True)
class ListenerLimits:
    """Bounds that keep a flood of TAK traffic from exhausting the server."""

    max_connections: int = 256
    queue_size: int = 10_000  # events waiting for the writer; TCP readers wait, UDP datagrams are dropped
    batch_size: int = 1_000  # events stored per transaction


class CotListener:
    """TCP and/or UDP Cursor-on-Target intake bound to one app's state; start and stop from the lifespan."""

    def __init__(
        self,
        state: Any,
        options: CotOptions,
        *,
        host: str = "127.0.0.1",
        tcp_port: int | None = None,
        udp_port: int | None = None,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
        limits: ListenerLimits = ListenerLimits(),
    ) -> None:
        if tcp_port is None and udp_port is None:
            raise ValueError("a CoT listener needs a TCP or a UDP port")
        self.state = state
        self.options = options
        self.host = host
        self.tcp_port = tcp_port
        self.udp_port = udp_port
        self.clock_skew = clock_skew
        self.limits = limits
        self.principal = Principal(key_id="cot-listener", org=options.org, role=Role.CONTRIBUTOR, labels=reader_labels(options.org, ()))
        self.tcp_address: tuple[str, int] | None = None
        self.udp_address: tuple[str, int] | None = None
        self._queue: asyncio.Queue[tuple[str, Record]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._datagrams = 0

    async def start(self) -> None:
        """Bind the configured ports and start the writer; raises OSError if a port cannot be bound."""
        self._queue = asyncio.Queue(self.limits.queue_size)
        self._writer = asyncio.create_task(self._write_loop(), name="cot-writer")
        loop = asyncio.get_running_loop()
        try:
            if self.tcp_port is not None:
                self._server = await asyncio.start_server(self._serve_connection, self.host, self.tcp_port, limit=READ_CHUNK)
                self.tcp_address = self._server.sockets[0].getsockname()[:2]
            if self.udp_port is not None:
                transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=(self.host, self.udp_port))
                self._transport = transport
                self.udp_address = transport.get_extra_info("sockname")[:2]
        except BaseException:
            await self.stop()
            raise
        logger.info("CoT listeners for %s: tcp %s, udp %s", self.options.org, self.tcp_address, self.udp_address)

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop accepting, close connections, store what is queued (up to ``drain_seconds``), stop the writer."""
        if self._server is not None:
            self._server.close()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for writer in list(self._connections):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), drain_seconds)
            self._server = None
        if self._queue is not None and self._writer is not None and not self._writer.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_seconds)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    def _count(self, transport: str, outcome: str, n: int = 1) -> None:
        metrics = getattr(self.state, "metrics", None)
        if metrics is not None and n:
            metrics.cot_events.labels(transport, outcome).inc(n)

    def _refuse(self, transport: str, rejection: Rejection) -> None:
        unmapped = rejection.field == "@type"
        self._count(transport, "not-an-observation" if unmapped else "malformed")
        log = logger.debug if unmapped else logger.warning
        log("CoT %s refused: %s %s", rejection.where, rejection.field, rejection.message)

    def _parse(self, items: list[Unit | Stray], prefix: str, transport: str) -> list[Record]:
        records: list[Record] = []
        for item in items:
            if isinstance(item, Stray):
                place = f"event[{item.number}] (byte {item.offset})" if item.number is not None else f"byte {item.offset}"
                self._refuse(transport, Rejection(prefix + place, "(document)", item.message))
                continue
            result = parse_event(item.data, f"{prefix}event[{item.number}] (byte {item.offset})", self.options)
            if isinstance(result, Rejection):
                self._refuse(transport, result)
            else:
                records.append(result)
        return records

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        prefix = f"tcp {peer[0]}:{peer[1]} " if isinstance(peer, tuple) else "tcp "
        if len(self._connections) >= self.limits.max_connections:
            self._count("tcp", "connection-refused")
            logger.warning("CoT %srefused: already %d connections", prefix, len(self._connections))
            writer.close()
            return
        self._connections.add(writer)
        splitter = EventSplitter(self.options.max_event_bytes)
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                for record in self._parse(splitter.feed(data), prefix, "tcp"):
                    assert self._queue is not None
                    await self._queue.put(("tcp", record))  # a full queue slows the sender down (TCP backpressure)
            for record in self._parse(splitter.close(), prefix, "tcp"):
                assert self._queue is not None
                await self._queue.put(("tcp", record))
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            logger.info("CoT %sconnection ended: %s", prefix, exc)
        except Exception:  # a bug in one connection must not take the listener down
            logger.exception("CoT %sconnection failed", prefix)
        finally:
            self._connections.discard(writer)
            writer.close()

    def datagram(self, data: bytes, addr: Any) -> None:
        """One UDP datagram: its events are parsed and queued; when the queue is full they are dropped and counted."""
        self._datagrams += 1
        prefix = f"udp {addr[0]}:{addr[1]} datagram {self._datagrams} " if isinstance(addr, tuple) else "udp "
        try:
            splitter = EventSplitter(self.options.max_event_bytes)
            records = self._parse(splitter.feed(data) + splitter.close(), prefix, "udp")
        except Exception:
            logger.exception("CoT %sfailed", prefix)
            return
        assert self._queue is not None
        for record in records:
            try:
                self._queue.put_nowait(("udp", record))
            except asyncio.QueueFull:
                self._count("udp", "dropped-queue-full")
                logger.warning("CoT %s dropped: %d events already wait to be stored", record.where, self.limits.queue_size)

    async def _write_loop(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self.limits.batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await asyncio.to_thread(self._store, batch)
            except Exception:
                logger.exception("CoT: storing %d events failed; they were not stored", len(batch))
                for transport, _ in batch:
                    self._count(transport, "store-error")
            finally:
                for _ in batch:
                    queue.task_done()

    def _store(self, batch: list[tuple[str, Record]]) -> None:
        """Validate and store one batch (in a worker thread: validation and SQLite block)."""
        context = validation_context(clock_skew=self.clock_skew)
        good, errors = validate_batch([record.value for _, record in batch], context)
        bad: set[int] = set()
        for error in errors:
            if error.index not in bad:
                bad.add(error.index)
                self._count(batch[error.index][0], "invalid")
            logger.warning("CoT %s refused: %s %s", batch[error.index][1].where, error.field, error.message)
        if not good:
            return
        result = accept_observations(self.state, self.principal, good)
        metrics = getattr(self.state, "metrics", None)
        if metrics is not None:
            metrics.observations_stored.inc(len(result.stored))
            metrics.observations_duplicate.inc(len(result.duplicates))
            metrics.observations_conflicting.inc(len(result.conflicts))
        good_transports = [transport for i, (transport, _) in enumerate(batch) if i not in bad]
        transports = {obs.id: transport for obs, transport in zip(good, good_transports, strict=True)}
        for outcome, ids in (("stored", result.stored), ("duplicate", result.duplicates), ("conflict", result.conflicts)):
            for obs_id in ids:
                self._count(transports.get(obs_id, "tcp"), outcome)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, listener: CotListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.listener.datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        logger.warning("CoT udp: %s", exc)


def cot_listener_for(state: Any, settings: Settings) -> CotListener | None:
    """The listener ``settings`` ask for (not yet started), or None when no CoT port is configured."""
    if settings.cot_tcp_port is None and settings.cot_udp_port is None:
        return None
    if not settings.cot_org:
        raise ValueError("a CoT listener needs the organisation it writes for (cot_org): TAK clients carry no key")
    options = CotOptions(org=settings.cot_org, releasable_to=tuple(settings.cot_releasable_to))
    return CotListener(
        state,
        options,
        host=settings.cot_host,
        tcp_port=settings.cot_tcp_port,
        udp_port=settings.cot_udp_port,
        clock_skew=settings.clock_skew,
    )
