"""Sector-partitioned fusion: each worker fuses the sectors it holds a lease on, as one node would fuse them.

Why: fusion is the heaviest background role and it is local, so it scales by cutting the plane into sectors
(:mod:`truceline.cluster.sectors`) and sharing them between live workers. A worker holds lease
``fusion:<sector>`` for each sector it fuses and ``worker:<id>`` to be counted; it takes a fair share
(⌈sectors with data / live workers⌉), releases the excess when another worker joins, and takes over the
sectors of a worker whose leases expired (killed: within ~10 s of its last renewal).

Each held sector runs the embedded server's own fusion loop (:class:`truceline.service.fusion.FusionWorker`)
on a :class:`SectorScope`: the observations of the sector and its halo in ledger order (the order that only
grows at commit), the incidents founded in the sector's core, and the sector's cursor, all written in one
transaction fenced by the lease. A new holder recovers exactly as a restarted server does: it drops the
sector's open incidents and replays the fusion window before the committed cursor.

The ledger is read once per worker per batch and handed to every sector it holds (:class:`LedgerFeed`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg

from truceline.bus.ports import Bus
from truceline.cluster.lease import Fence, LeaseKeeper, LeaseTable
from truceline.cluster.sectors import Sector, SectorGrid
from truceline.domain.documents import parse_documents
from truceline.domain.identity import observation_ref
from truceline.domain.observation import Observation
from truceline.fuse.batch import FUSION_BATCH
from truceline.fuse.updates import FuserConfig
from truceline.service.fusion import FusionWorker
from truceline.store.incident_rows import IncidentItem
from truceline.store.ports import StoreUnavailable
from truceline.store.postgres_incidents import LeaseLost

if TYPE_CHECKING:
    from truceline.store.postgres import PostgresStore

__all__ = ["LedgerFeed", "SectorFusion", "SectorScope"]

log = logging.getLogger(__name__)
IDLE_S = 1.0
_PAGE = 5000
_RECENT_PAGE = 500  # newest-first candidates per read while looking for a sector's latest observation

#: One read of the ledger: (ledger index, observation, sectors whose halo holds it).
FeedRow = tuple[int, Observation, frozenset[Sector]]


class LedgerFeed:
    """Observations in ledger order, parsed and routed to sectors once per batch for all of a worker's sectors.

    Cursors count ledger positions: ``cursor`` is the index of the next leaf to read (0 before the first).
    """

    def __init__(self, store: PostgresStore, grid: SectorGrid) -> None:
        self._store = store
        self._grid = grid
        self._cache: dict[tuple[int, int], list[FeedRow]] = {}

    def read(self, cursor: int, limit: int) -> list[FeedRow]:
        """Up to ``limit`` observations at ledger index ≥ ``cursor`` (cached until :meth:`clear`)."""
        key = (cursor, limit)
        rows = self._cache.get(key)
        if rows is None:
            raw = self._store.observations_in_ledger_order(cursor - 1, None, limit)
            observations = parse_documents([doc for _, doc in raw])
            rows = [(index, obs, frozenset(self._grid.halo_sectors(obs))) for (index, _), obs in zip(raw, observations, strict=True)]
            if len(self._cache) >= 8:
                self._cache.clear()
            self._cache[key] = rows
        return rows

    def clear(self) -> None:
        """Forget cached batches (at the start of every round, so new commits are seen)."""
        self._cache.clear()


def founder_digest(observation: Observation) -> str:
    """The part of an incident id that names its founding observation (see ``Fuser._create``)."""
    return hashlib.blake2b(observation_ref(observation.source.org, str(observation.id)).encode(), digest_size=8).hexdigest()


class SectorScope:
    """One sector as a fusion scope (:class:`truceline.service.fusion.FusionScope`), fenced by its lease."""

    def __init__(
        self, store: PostgresStore, feed: LedgerFeed, grid: SectorGrid, sector: Sector, fence: Fence, id_prefix: str,
        forget_after_s: float = 2 * 6 * 3600.0,
    ) -> None:
        self._store = store
        self._feed = feed
        self._grid = grid
        self.sector = sector
        self.fence = fence
        self._prefix = id_prefix
        # founder digest → (founded in this sector's core, event time); pruned once older than the window
        self._founders: dict[str, tuple[bool, float]] = {}
        self._owned: dict[str, bool] = {}  # incident ids that are ours, decided at first sight, forgotten when final
        self._reach = grid.point_reach(sector)
        self._latest = -math.inf
        self._since_prune = 0
        self.forget_after_s = forget_after_s

    def _mine(self, rows: Sequence[FeedRow]) -> list[Observation]:
        mine = [obs for _, obs, sectors in rows if self.sector in sectors]
        for obs in mine:
            t = obs.time.timestamp()
            self._founders[founder_digest(obs)] = (self._grid.owner(obs) == self.sector, t)
            self._latest = max(self._latest, t)
        self._since_prune += len(mine)
        if self._since_prune >= 10_000:
            self._since_prune = 0
            horizon = self._latest - self.forget_after_s
            self._founders = {d: v for d, v in self._founders.items() if v[1] >= horizon}
        return mine

    def cursor(self) -> int:
        """The sector's committed cursor (next ledger index to read)."""
        return self._store.fusion_cursor(self.sector.name)

    def _in_halo(self, rows: Sequence[tuple[int, int, int, str]]) -> list[FeedRow]:
        """The store's candidate rows that this sector's halo holds, as feed rows."""
        observations = parse_documents([doc for *_, doc in rows])
        routed = [(row[0], obs, frozenset(self._grid.halo_sectors(obs))) for row, obs in zip(rows, observations, strict=True)]
        return [row for row in routed if self.sector in row[2]]

    def latest_time(self, cursor: int) -> datetime | None:
        """The latest event time among the sector's observations before ``cursor``: read newest first from
        the store's spatial and time indexes (bearings by their sensor), so start-up does not read the ledger."""
        older_than: tuple[int, int] | None = None
        while True:
            rows = self._store.observations_in_reach(
                cursor, self._reach, newest_first=True, older_than=older_than, limit=_RECENT_PAGE
            )
            if not rows:
                return None
            mine = self._in_halo(rows)
            if mine:
                return mine[0][1].time
            older_than = (rows[-1][1], rows[-1][2])

    def since_time(self, since: datetime, cursor: int) -> list[Observation]:
        """The replay window: the sector's observations before ``cursor`` with event time ≥ ``since``, in
        ledger order (their founders are registered as they would have been when first read)."""
        return self._mine(self._in_halo(self._store.observations_in_reach(cursor, self._reach, since=since)))

    def after(self, cursor: int, limit: int) -> tuple[int, list[Observation]]:
        """The next batch of the ledger; the cursor passes observations outside the halo too."""
        rows = self._feed.read(cursor, limit)
        if not rows:
            return cursor, []
        return rows[-1][0] + 1, self._mine(rows)

    def drop_open(self) -> None:
        """The sector's open incidents (fenced)."""
        self._store.drop_open_incidents(self.sector.name, self.fence)

    def keeps(self, incident_id: str) -> bool:
        """Incidents founded in the core; the neighbour that owns a halo founder keeps the others."""
        if incident_id in self._owned:
            return True
        founder = self._founders.get(incident_id.removeprefix(self._prefix)[:16])
        if founder is None or not founder[0]:
            return False  # a neighbour's (not cached: those updates never reach apply, which forgets ours)
        self._owned[incident_id] = True
        return True

    def apply(self, upserts: Sequence[tuple[IncidentItem, bool]], removed: Sequence[str], cursor: int | None) -> None:
        """One transaction, fenced by the sector's lease; final and removed incidents leave the ownership cache."""
        self._store.apply_incident_changes(upserts, removed, cursor, sector=self.sector.name, fence=self.fence)
        for incident_id in removed:
            self._owned.pop(incident_id, None)
        for incident, final in upserts:
            if final:
                self._owned.pop(incident.id, None)

    def settle(self) -> None:
        """Nothing: :meth:`apply` has stored its batch when it returns."""

    def reset(self) -> None:
        """Nothing: no batch is ever left being stored."""


class SectorFusion:
    """The fusion role of one worker process: its share of the sectors, each fused by a FusionWorker."""

    def __init__(
        self,
        store: PostgresStore,
        leases: LeaseTable,
        keeper: LeaseKeeper,
        holder: str,
        grid: SectorGrid,
        bus: Bus | None = None,
        config: FuserConfig | None = None,
        batch: int = FUSION_BATCH,
    ) -> None:
        self._store = store
        self._leases = leases
        self._keeper = keeper
        self.holder = holder
        self.grid = grid
        self._bus = bus
        self._config = config or FuserConfig()
        self.batch = batch
        self.feed = LedgerFeed(store, grid)
        self.known: set[Sector] = set()
        self._discovered = 0
        self.held: dict[Sector, tuple[Fence, FusionWorker]] = {}
        self.errors = 0

    # -- sharing the sectors -----------------------------------------------------------------------
    def discover(self) -> None:
        """Add the sectors that own observations committed since the last look (at the first look, the
        database lists the cells of everything sequenced so far: start-up does not parse the ledger)."""
        if self._discovered == 0:
            size = self._store.ledger_size()
            cells = self._store.sector_cells(self.grid.deg, size)
            self.known.update(Sector(self.grid.deg, row, col) for row, col in cells)
            self._discovered = size
        while rows := self.feed.read(self._discovered, self.batch):  # the sectors' batch size: one read serves both
            for _, obs, _ in rows:
                owner = self.grid.owner(obs)
                if owner is not None:
                    self.known.add(owner)
            self._discovered = rows[-1][0] + 1

    def balance(self) -> None:
        """Count live workers, drop lost sectors, release the excess, acquire free ones up to the fair share."""
        me = f"worker:{self.holder}"
        member = self._leases.acquire(me, self.holder)
        if member is not None:
            self._keeper.keep(member)
        for sector in [s for s in self.held if self._keeper.lost(_lease(s))]:
            log.warning("fusion: lost %s", sector.name)
            del self.held[sector]
        workers = max(1, len(self._leases.holders("worker:")))
        target = math.ceil(len(self.known) / workers)
        for sector in sorted(self.held, key=self._preference, reverse=True)[: max(0, len(self.held) - target)]:
            self._let_go(sector)
        if len(self.held) >= target:
            return
        taken = self._leases.holders("fusion:")
        for sector in sorted(self.known - set(self.held), key=self._preference):
            if len(self.held) >= target:
                break
            if taken.get(_lease(sector), (self.holder, 0))[0] != self.holder:
                continue
            fence = self._leases.acquire(_lease(sector), self.holder)
            if fence is not None:
                self._take(sector, fence)

    def _preference(self, sector: Sector) -> str:
        """A per-worker order of sectors, so that workers starting together reach for different ones."""
        return hashlib.blake2b(f"{self.holder}|{sector.name}".encode(), digest_size=8).hexdigest()

    def _take(self, sector: Sector, fence: Fence) -> None:
        self._keeper.keep(fence)
        lat, lon = sector.core.min_lat + sector.deg / 2, sector.core.min_lon + sector.deg / 2
        config = replace(self._config, origin=(lat, lon))
        scope = SectorScope(self._store, self.feed, self.grid, sector, fence, config.id_prefix, 2 * config.window_s)
        self.held[sector] = (fence, FusionWorker(self._store, self._bus, config, scope=scope))  # type: ignore[arg-type]
        log.info("fusion: %s holds %s (term %d)", self.holder, sector.name, fence.term)

    def _let_go(self, sector: Sector) -> None:
        fence, _ = self.held.pop(sector)
        self._keeper.forget(fence.name)
        with contextlib.suppress(psycopg.Error):  # it expires on its own
            self._leases.release(fence)

    def _restart_all(self) -> None:
        """Fresh fusers for the held sectors: the old ones may hold a batch that was never committed."""
        for sector, (fence, _) in list(self.held.items()):
            self._take(sector, fence)

    def release_all(self) -> None:
        """Give every lease up (clean shutdown), so other workers take the sectors over at once."""
        for sector in list(self.held):
            self._let_go(sector)
        member = self._leases.acquire(f"worker:{self.holder}", self.holder)
        if member is not None:
            self._keeper.forget(member.name)
            self._leases.release(member)

    # -- fusing ------------------------------------------------------------------------------------
    def step(self) -> int:
        """One round: look for new sectors, rebalance, fuse one batch in each held sector; how much was read."""
        self.feed.clear()
        self.discover()
        self.balance()
        work = 0
        for sector, (_, worker) in list(self.held.items()):
            try:
                work += worker.step(self.batch)
            except LeaseLost:
                log.warning("fusion: %s was taken over; dropping it", sector.name)
                self._keeper.forget(_lease(sector))
                self.held.pop(sector, None)
        return work

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Fuse until ``stop``: again at once while there is work, else after a wake-up or :data:`IDLE_S`."""
        while not stop.is_set():
            try:
                work = self.step()
            except (StoreUnavailable, psycopg.Error) as exc:
                self.errors += 1
                self._restart_all()  # recover every sector from its committed cursor when the store is back
                log.warning("fusion: store unavailable (%s); retrying", exc)
                work = 0
            except Exception:  # keep the role alive; what was not committed is fused again after recovery
                self.errors += 1
                self._restart_all()
                log.exception("fusion: a round failed; recovering the sectors from their committed cursors")
                work = 0
            if not work:
                wake.wait(IDLE_S)
                wake.clear()
        with contextlib.suppress(StoreUnavailable, psycopg.Error):  # the leases expire on their own
            self.release_all()


def _lease(sector: Sector) -> str:
    return f"fusion:{sector.name}"
