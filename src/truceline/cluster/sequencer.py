"""The ledger sequencer: the one process that appends to the Merkle log in cluster mode.

Why: API replicas store observations with no ledger index (several replicas appending at once would race
for the next index); the leaves wait in the store's queue. Exactly one worker holds the lease ``sequencer``
and moves them into the log in queue order, one transaction per batch, fenced by its lease term
(``PostgresStore.sequence_pending``), signing a checkpoint when the queue is drained. If it is killed, its
lease expires (10 s) and another worker's sequencer, which keeps trying to acquire it, takes over; a
transaction of the old holder that was still open is rolled back by PostgreSQL, so the log stays one
append-only sequence.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Protocol

import psycopg

from truceline.cluster.lease import Fence, LeaseKeeper, LeaseTable
from truceline.store.ports import StoreUnavailable
from truceline.store.postgres_incidents import LeaseLost

__all__ = ["LEASE", "Sequencer"]

log = logging.getLogger(__name__)
LEASE = "sequencer"
#: How often a worker that does not hold the lease tries to take it, and an idle holder looks for work
#: when no announcement woke it (a replica may have died between its commit and its announcement).
IDLE_S = 1.0


class SequencingStore(Protocol):
    """What the sequencer needs of the store (``PostgresStore``)."""

    def sequence_pending(self, limit: int = ..., fence: Fence | None = ...) -> int:
        """Append up to ``limit`` queued leaves under ``fence``; how many."""
        ...


class Sequencer:
    """Acquires the ``sequencer`` lease when it is free and sequences queued leaves while it holds it."""

    def __init__(self, store: SequencingStore, leases: LeaseTable, keeper: LeaseKeeper, holder: str, batch: int = 5000) -> None:
        self._store = store
        self._leases = leases
        self._keeper = keeper
        self.holder = holder
        self.batch = batch
        self.fence: Fence | None = None
        self.sequenced = 0
        self.errors = 0

    @property
    def holding(self) -> bool:
        """Whether this process holds the lease (as far as it knows; the fence decides)."""
        return self.fence is not None and not self._keeper.lost(LEASE)

    def step(self) -> int:
        """Acquire the lease if free, then sequence one batch; returns how many leaves were appended."""
        if not self.holding:
            self.fence = self._leases.acquire(LEASE, self.holder)
            if self.fence is None:
                return 0
            self._keeper.keep(self.fence)
            log.info("sequencer: %s holds the ledger (term %d)", self.holder, self.fence.term)
        assert self.fence is not None
        try:
            done = self._store.sequence_pending(self.batch, self.fence)
        except LeaseLost:
            log.warning("sequencer: lease term %d lost; another worker sequences", self.fence.term)
            self._keeper.forget(LEASE)
            self.fence = None
            return 0
        self.sequenced += done
        return done

    def release(self) -> None:
        """Give the lease up (clean shutdown), so another worker takes over at once."""
        if self.fence is not None:
            self._keeper.forget(LEASE)
            with contextlib.suppress(psycopg.Error):  # it expires on its own
                self._leases.release(self.fence)
            self.fence = None

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Sequence until ``stop``: at once after a wake-up, else every :data:`IDLE_S`."""
        while not stop.is_set():
            try:
                done = self.step()
            except (StoreUnavailable, psycopg.Error) as exc:
                self.errors += 1
                log.warning("sequencer: store unavailable (%s); retrying", exc)
                done = 0
            except Exception:  # keep the role alive: the failed transaction changed nothing, the batch is retried
                self.errors += 1
                log.exception("sequencer: a batch failed; retrying")
                done = 0
            if done < self.batch:
                wake.wait(IDLE_S)
                wake.clear()
        self.release()
