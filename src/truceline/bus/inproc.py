"""In-process bus for the embedded server: asyncio queues, fed safely from worker threads.

Each subscriber has a bounded queue. A reader that falls behind loses the oldest events and is told how
many (``lost``), rather than slowing ingest or growing memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence

from truceline.bus.ports import Event

DEFAULT_QUEUE_SIZE = 10_000


class InProcessSubscription:
    """One subscriber's bounded queue on the event loop that created it."""

    def __init__(self, bus: InProcessBus, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self._bus = bus
        self._loop = loop
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self._ended = False  # :meth:`queued` took the end-of-stream mark off the queue
        self.lost = 0

    def _offer(self, event: Event | None) -> None:
        """Runs on the loop: enqueue, dropping the oldest event when full."""
        if self._queue.full():
            self._queue.get_nowait()
            self.lost += 1
        self._queue.put_nowait(event)

    def _offer_many(self, events: Sequence[Event]) -> None:
        """Runs on the loop: :meth:`_offer` each, in order."""
        for event in events:
            self._offer(event)

    async def __anext__(self) -> Event:
        if self._ended:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def queued(self, limit: int) -> list[Event]:
        """Up to ``limit`` events already in the queue, without waiting; the end of the stream stops it (the next
        ``__anext__`` then ends). Runs on the loop, as ``__anext__`` does."""
        out: list[Event] = []
        queue = self._queue
        while len(out) < limit and not self._ended and not queue.empty():
            event = queue.get_nowait()
            if event is None:
                self._ended = True
            else:
                out.append(event)
        return out

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    def close(self) -> None:
        """Stop receiving; pending events are discarded."""
        self._bus._remove(self)


class InProcessBus:
    """The default :class:`~truceline.bus.ports.Bus`; ``publish`` may be called from any thread."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: set[InProcessSubscription] = set()
        self._lock = threading.Lock()

    @property
    def has_subscribers(self) -> bool:
        """Whether anyone listens; lets publishers skip building events nobody reads."""
        return bool(self._subscribers)

    def subscribe(self) -> InProcessSubscription:
        """A new subscription bound to the running event loop."""
        subscription = InProcessSubscription(self, asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def _remove(self, subscription: InProcessSubscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def publish(self, event: Event) -> None:
        """Deliver to every subscriber (thread-safe, never blocks)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            try:
                subscription._loop.call_soon_threadsafe(subscription._offer, event)
            except RuntimeError:  # the subscriber's loop is closed: it is gone
                self._remove(subscription)

    def publish_many(self, events: Sequence[Event]) -> None:
        """:meth:`publish` each, in order, with one call onto each subscriber's loop: a fusing server hands over
        the events of a batch together, and one wake-up of the loop per event was most of delivering them."""
        if not events:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        batch = tuple(events)
        for subscription in subscribers:
            try:
                subscription._loop.call_soon_threadsafe(subscription._offer_many, batch)
            except RuntimeError:  # the subscriber's loop is closed: it is gone
                self._remove(subscription)

    def announce_stored(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Nothing to do: in the embedded server the store's commit is the acknowledgement."""

    def close(self) -> None:
        """End every subscription (server shutdown)."""
        with self._lock:
            subscribers = list(self._subscribers)
            self._subscribers.clear()
        for subscription in subscribers:
            with contextlib.suppress(RuntimeError):  # that reader's event loop is already closed: nothing to wake
                subscription._loop.call_soon_threadsafe(subscription._offer, None)
