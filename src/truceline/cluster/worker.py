"""One ``truceline worker`` process: the ledger sequencer and the sector fusion roles, without HTTP.

Why a process of its own: API replicas only accept, store and announce; the background work that must
happen exactly once (ledger order) or once per sector (fusion) runs in workers, any number of them, which
share it through leases in PostgreSQL. Every worker runs both roles; at any moment one of them sequences
and the sectors are spread over all of them.

Wake-ups come from the bus (``observations.stored`` announcements on NATS); the roles also poll every
second, so a replica killed between its commit and its announcement delays nothing by more than that, and
a worker runs on (polling) while NATS is down.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from truceline.cluster.fusion_worker import SectorFusion
from truceline.cluster.lease import LeaseKeeper, LeaseTable
from truceline.cluster.sectors import SectorGrid
from truceline.cluster.sequencer import Sequencer

if TYPE_CHECKING:
    from truceline.bus.nats import NatsBus
    from truceline.store.postgres import PostgresStore

__all__ = ["ClusterWorker", "WorkerStatus", "worker_id"]

log = logging.getLogger(__name__)
SUBSCRIBE_RETRY_S = 5.0


def worker_id() -> str:
    """A holder name that says where the worker runs and stays unique across restarts of the same pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class WorkerStatus:
    """What a worker holds right now (printed on change)."""

    sequencer: bool = False
    sectors: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One human line."""
        held = ", ".join(self.sectors) if self.sectors else "none"
        return f"sequencer: {'held' if self.sequencer else 'standby'}; sectors ({len(self.sectors)}): {held}"


class ClusterWorker:
    """Runs the roles in threads until :meth:`stop`; the store's DSN gives the leases their own connections."""

    def __init__(
        self, store: PostgresStore, dsn: str, grid: SectorGrid, bus: NatsBus | None = None, holder: str | None = None
    ) -> None:
        self.holder = holder or worker_id()
        self._bus = bus
        self._keeper = LeaseKeeper(LeaseTable(dsn))
        self.sequencer = Sequencer(store, LeaseTable(dsn), self._keeper, self.holder)
        self.fusion = SectorFusion(store, LeaseTable(dsn), self._keeper, self.holder, grid, bus=bus)  # type: ignore[arg-type]
        self._stop = threading.Event()
        self._sequence_wake = threading.Event()
        self._fusion_wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._subscribed = False

    def status(self) -> WorkerStatus:
        """Which leases this worker holds."""
        return WorkerStatus(self.sequencer.holding, sorted(sector.name for sector in list(self.fusion.held)))

    def _woken(self, pairs: list[tuple[str, str]]) -> None:
        self._sequence_wake.set()
        self._fusion_wake.set()

    def _subscribe(self) -> None:
        """Ask the bus for wake-ups; a worker without them polls (NATS down at start: retried later)."""
        if self._bus is None or self._subscribed:
            return
        from truceline.bus.nats import BusUnavailable

        try:
            self._bus.on_stored(self._woken)
            self._subscribed = True
        except BusUnavailable as exc:
            log.warning("worker: no wake-ups from the bus yet (%s); polling", exc)

    def start(self) -> None:
        """Start the lease keeper and the two roles."""
        self._keeper.start()
        self._subscribe()
        roles: list[tuple[str, Callable[[threading.Event, threading.Event], None], threading.Event]] = [
            ("truceline-sequencer", self.sequencer.run, self._sequence_wake),
            ("truceline-sector-fusion", self.fusion.run, self._fusion_wake),
        ]
        for name, run, wake in roles:
            thread = threading.Thread(target=run, args=(self._stop, wake), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait(self, on_change: Callable[[WorkerStatus], Any] | None = None, tick_s: float = 1.0) -> None:
        """Block until :meth:`stop`, reporting the status when it changes and retrying the bus subscription."""
        last: WorkerStatus | None = None
        next_subscribe = time.monotonic() + SUBSCRIBE_RETRY_S
        while not self._stop.wait(tick_s):
            now = self.status()
            if now != last and on_change is not None:
                on_change(now)
            last = now
            if not self._subscribed and time.monotonic() >= next_subscribe:
                self._subscribe()
                next_subscribe = time.monotonic() + SUBSCRIBE_RETRY_S

    def request_stop(self) -> None:
        """Ask the roles to finish their batch and end (safe from a signal handler)."""
        self._stop.set()
        self._sequence_wake.set()
        self._fusion_wake.set()

    def stop(self) -> None:
        """End both roles (each releases its leases, so others take over at once) and the keeper."""
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout=30)
        self._keeper.stop()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

