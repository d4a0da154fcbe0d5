"""The bus across processes: NATS JetStream carries live events between replicas and the intake announcements.

Why: with several API replicas and workers, an incident fused by a worker or an observation posted to one
replica must reach the ``/stream`` readers of every replica, and an intake must not be acknowledged before
its announcement is durable. NATS is the project's engine for that (DESIGN: no home-made broker).

How: nats-py is asyncio, the store and the routes' intake are synchronous; the client runs on an event loop
of its own in a daemon thread, and synchronous callers bridge with ``run_coroutine_threadsafe`` and a
timeout. Live events fan out locally at once (an :class:`InProcessBus`) and travel, many to a message, on
the core subject ``truceline_live.events`` (not stored: live news) with this bus's origin in a header, so a
replica skips its own echo. Every
field of :class:`Event` travels, so the releasability rules apply unchanged at the receiving replica.
Announcements go to ``truceline.observations.stored`` through JetStream (stream ``TRUCELINE``, subjects
``truceline.>``, created if missing) with a ``Nats-Msg-Id`` derived from the ids, and the caller waits for
the PubAck: a re-announcement of the same ids is deduplicated by the server. NATS unreachable, slow or
without the stream → :class:`BusUnavailable`, and nothing may be acknowledged to a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import orjson

from truceline.bus.codec import decode_events, encode_event
from truceline.bus.inproc import DEFAULT_QUEUE_SIZE, InProcessBus, InProcessSubscription
from truceline.bus.ports import Event

__all__ = ["BusUnavailable", "NatsBus"]

log = logging.getLogger(__name__)
T = TypeVar("T")

STREAM = "TRUCELINE"
STREAM_SUBJECTS = ["truceline.>"]
#: Live events: core NATS, deliberately outside the stream's ``truceline.>`` (news for connected readers, not
#: a record: storing every event would double the broker's disk writes per observation for nothing read later).
EVENTS_SUBJECT = "truceline_live.events"  # a JSON array of events per message
STORED_SUBJECT = "truceline.observations.stored"
ORIGIN_HEADER = "Truceline-Origin"
STREAM_MAX_AGE_S = 7 * 24 * 3600.0  # the stream is a log of wake-ups, not the store of record (PostgreSQL is)
STREAM_MAX_BYTES = 8 * 1024**3  # and bounded: the oldest announcements go first
ANNOUNCE_CHUNK = 2000  # ids per announcement message: stays far below NATS's 1 MB default payload limit
PACK_BYTES = 256 * 1024  # events per message, well below NATS's 1 MB default payload limit
OUTBOX_LIMIT = 100_000  # events queued for NATS at most; beyond, the oldest are dropped and counted


class BusUnavailable(RuntimeError):
    """NATS could not be reached or did not confirm in time; whatever waited for it must not be acknowledged."""


def announcement_id(pairs: Sequence[tuple[str, str]]) -> str:
    """The ``Nats-Msg-Id`` of an announcement: the same (org, id) set always gives the same id."""
    digest = hashlib.sha256()
    for org, observation_id in sorted(set(pairs)):
        digest.update(f"{org}\x1f{observation_id}\x1e".encode())
    return "stored-" + digest.hexdigest()[:40]


class NatsBus:
    """A :class:`~truceline.bus.ports.Bus` shared by every process connected to one NATS server.

    ``publish`` never blocks (events are live news; a reader that is not connected misses them, as with the
    in-process bus). ``announce_stored`` blocks until JetStream confirms, or raises :class:`BusUnavailable`.
    """

    def __init__(self, url: str, *, timeout_s: float = 5.0, name: str = "truceline", queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.origin = uuid.uuid4().hex
        self.events_lost = 0  # events that could not be handed to NATS (disconnected with a full buffer)
        self._name = name
        self._local = InProcessBus(queue_size)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="truceline-nats", daemon=True)
        self._nc: Any = None
        self._js: Any = None
        self._connected = threading.Event()
        self._stream_ready = False
        self._connecting: Future[None] | None = None
        self._closed = False
        self._outbox: deque[Event] = deque()
        self._outbox_lock = threading.Lock()
        self._drain_scheduled = False

    # -- life cycle -------------------------------------------------------------------------------
    def start(self, wait_s: float | None = None) -> bool:
        """Start the client thread and connect (retrying for ever in the background).

        Waits up to ``wait_s`` (default: the bus timeout) for the first connection and returns whether it
        came; a process may start while NATS is down and serves 503 until it is back.
        """
        if not self._thread.is_alive():
            self._thread.start()
            self._connecting = asyncio.run_coroutine_threadsafe(self._connect(), self._loop)
        return self._connected.wait(self.timeout_s if wait_s is None else wait_s)

    @property
    def connected(self) -> bool:
        """Whether the client is connected right now."""
        return self._connected.is_set()

    async def _connect(self) -> None:
        import nats

        async def disconnected() -> None:
            self._connected.clear()
            if not self._closed:
                log.warning("lost the connection to NATS at %s; retrying", self.url)

        async def reconnected() -> None:
            self._connected.set()
            log.warning("reconnected to NATS at %s", self.url)

        async def error(exc: Exception) -> None:
            log.debug("NATS client error: %s", exc)

        self._nc = await nats.connect(
            self.url,
            name=self._name,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
            ping_interval=5,
            max_outstanding_pings=2,
            no_echo=True,  # our own events come back otherwise, only to be skipped
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        self._js = self._nc.jetstream(timeout=self.timeout_s)
        await self._nc.subscribe(EVENTS_SUBJECT, cb=self._received)
        with contextlib.suppress(Exception):  # a slow first PONG: the subscription still stands, it is resent on reconnect
            await self._nc.flush(timeout=self.timeout_s)
        self._connected.set()
        try:
            await self._ensure_stream()
        except Exception as exc:  # noqa: BLE001 - retried at the first announcement
            log.warning("could not create the JetStream stream %s yet: %s", STREAM, exc)

    async def _ensure_stream(self) -> None:
        """Create the stream if it is missing; an existing one is used as it is (another process made it)."""
        from nats.js.errors import NotFoundError

        try:
            await self._js.stream_info(STREAM)
        except NotFoundError:
            from nats.js.api import StorageType, StreamConfig

            config = StreamConfig(
                name=STREAM, subjects=STREAM_SUBJECTS, storage=StorageType.FILE, max_age=STREAM_MAX_AGE_S,
                max_bytes=STREAM_MAX_BYTES, duplicate_window=120.0,
            )
            try:
                await self._js.add_stream(config)
            except Exception:  # another process created it between our look and our add
                await self._js.stream_info(STREAM)
        self._stream_ready = True

    def close(self) -> None:
        """End every local subscription and the connection (flushing what is buffered, briefly)."""
        if self._closed:
            return
        self._closed = True
        self._local.close()
        if self._thread.is_alive():
            if self._nc is not None:
                try:
                    asyncio.run_coroutine_threadsafe(self._nc.close(), self._loop).result(timeout=self.timeout_s)
                except Exception as exc:  # noqa: BLE001 - closing: nothing left to protect
                    log.debug("closing the NATS connection: %s", exc)
            elif self._connecting is not None:  # still trying to connect: end that attempt before the loop
                self._connecting.cancel()
                with contextlib.suppress(BaseException):
                    self._connecting.result(timeout=self.timeout_s)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self.timeout_s)

    # -- the Bus port ----------------------------------------------------------------------------
    @property
    def has_subscribers(self) -> bool:
        """Always true: readers on other replicas cannot be counted from here."""
        return True

    def subscribe(self) -> InProcessSubscription:
        """A reader of every event, from this process and from every other on the same NATS."""
        return self._local.subscribe()

    def publish(self, event: Event) -> None:
        """Deliver to this process's readers at once and queue the event for NATS (never blocks).

        The queue is drained on the client's loop into messages of many events each: one NATS message per
        event would cap an intake of thousands of observations per batch at the client's per-message cost.
        """
        self.publish_many((event,))

    def publish_many(self, events: Sequence[Event]) -> None:
        """:meth:`publish` each, in order: delivered locally together, queued for NATS together."""
        self._local.publish_many(events)
        if not events or self._closed or not self._thread.is_alive():
            return
        with self._outbox_lock:
            for event in events:
                if len(self._outbox) >= OUTBOX_LIMIT:
                    self._outbox.popleft()
                    self.events_lost += 1
                self._outbox.append(event)
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self._loop.call_soon_threadsafe(self._drain_events)

    def _drain_events(self) -> None:
        """On the loop: send every queued event, packed into messages of at most :data:`PACK_BYTES`."""
        with self._outbox_lock:
            events = list(self._outbox)
            self._outbox.clear()
            self._drain_scheduled = False
        if self._nc is None:
            self.events_lost += len(events)
            return
        pack: list[bytes] = []
        size = 0
        for event in events:
            encoded = encode_event(event)
            if pack and size + len(encoded) > PACK_BYTES:
                self._send_pack(pack)
                pack, size = [], 0
            pack.append(encoded)
            size += len(encoded) + 1
        if pack:
            self._send_pack(pack)

    def _send_pack(self, pack: list[bytes]) -> None:
        payload = b"[" + b",".join(pack) + b"]"
        task = self._loop.create_task(self._nc.publish(EVENTS_SUBJECT, payload, headers={ORIGIN_HEADER: self.origin}))
        task.add_done_callback(lambda done: self._count_failure(done, len(pack)))

    def _count_failure(self, task: asyncio.Task[None], events: int) -> None:
        if task.cancelled() or task.exception() is not None:
            self.events_lost += events

    async def _received(self, msg: Any) -> None:
        headers = msg.headers or {}
        if headers.get(ORIGIN_HEADER) == self.origin:
            return  # our own events, already delivered locally
        try:
            events = decode_events(msg.data)
        except ValueError as exc:
            log.warning("dropped a malformed event message on %s: %s", msg.subject, exc)
            return
        self._local.publish_many(events)

    # -- announcements (what an acknowledgement waits for) --------------------------------------
    def announce_stored(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Announce stored observations (organisation, id) and wait for JetStream's PubAck.

        Raises :class:`BusUnavailable` if NATS is unreachable or does not confirm within the timeout.
        """
        if not pairs:
            return
        chunks = [list(pairs[i : i + ANNOUNCE_CHUNK]) for i in range(0, len(pairs), ANNOUNCE_CHUNK)]
        self._call(self._announce(chunks), what="announce stored observations")

    async def _announce(self, chunks: list[list[tuple[str, str]]]) -> None:
        if self._js is None or not self._connected.is_set():
            raise BusUnavailable(f"not connected to NATS at {self.url}")
        if not self._stream_ready:
            await self._ensure_stream()
        await asyncio.gather(*(self._publish_chunk(chunk) for chunk in chunks))

    async def _publish_chunk(self, chunk: list[tuple[str, str]]) -> None:
        from nats.js.errors import NoStreamResponseError

        payload = orjson.dumps({"observations": chunk, "origin": self.origin})
        headers = {"Nats-Msg-Id": announcement_id(chunk)}
        try:
            await self._js.publish(STORED_SUBJECT, payload, timeout=self.timeout_s, headers=headers)
        except NoStreamResponseError:  # the server lost its stream (a new store directory): make it again
            self._stream_ready = False
            await self._ensure_stream()
            await self._js.publish(STORED_SUBJECT, payload, timeout=self.timeout_s, headers=dict(headers))

    def on_stored(self, callback: Callable[[list[tuple[str, str]]], None]) -> None:
        """Call ``callback`` (on the client's thread; keep it short, e.g. set an Event) with the (org, id)
        pairs of every announcement from now on: a wake-up for workers, who read the store for the data."""

        async def received(msg: Any) -> None:
            try:
                pairs = [(str(org), str(observation_id)) for org, observation_id in orjson.loads(msg.data)["observations"]]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                log.warning("dropped a malformed announcement: %s", exc)
                return
            callback(pairs)

        async def subscribe() -> None:
            if self._nc is None:
                raise BusUnavailable(f"not connected to NATS at {self.url}")
            await self._nc.subscribe(STORED_SUBJECT, cb=received)
            await self._nc.flush(timeout=self.timeout_s)  # the server has the subscription when this returns

        self._call(subscribe(), what="subscribe to announcements")

    def _call(self, coroutine: Coroutine[Any, Any, T], what: str) -> T:
        """Run ``coroutine`` on the client's loop and wait for it; any failure becomes :class:`BusUnavailable`."""
        if self._closed or not self._thread.is_alive():
            coroutine.close()
            raise BusUnavailable(f"the bus is not running; cannot {what}")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout=self.timeout_s * 2)
        except BusUnavailable:
            raise
        except Exception as exc:
            future.cancel()
            raise BusUnavailable(f"NATS at {self.url} did not confirm in time; cannot {what}: {type(exc).__name__} {exc}".rstrip()) from exc
