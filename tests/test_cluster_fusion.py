"""Cluster fusion in one process against a real PostgreSQL: sequencer + sector workers give one node's incidents.

The sparse simulated day is stored as API replicas store it (no ledger index), sequenced under the lease,
then fused by two sector workers on a fine grid (0.25°: many sector borders through the scene). The result
is compared with the simulator's truth (pairwise F1, the issue's goal ≥ 0.97) and with a single node fusing
the same observations (pairwise agreement): sectors partition the work, they must not change the outcome.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tests.cluster_day import Day, sparse_day, stored_clusters

from truceline.cluster.fusion_worker import SectorFusion
from truceline.cluster.lease import LeaseKeeper, LeaseTable
from truceline.cluster.sectors import SectorGrid
from truceline.cluster.sequencer import Sequencer
from truceline.store.postgres_incidents import LeaseLost

GRID = SectorGrid(0.25)


@pytest.fixture(scope="module")
def day() -> Day:
    """The sparse simulated day (tests/cluster_day.py)."""
    return sparse_day()


def _sequence(store, leases: LeaseTable, keeper: LeaseKeeper) -> Sequencer:
    sequencer = Sequencer(store, leases, keeper, "seq-1")
    while sequencer.step():
        pass
    assert store.pending_leaves() == 0
    return sequencer


def _fuse(workers: list[SectorFusion], rounds: int = 10_000) -> None:
    """Step every worker until none of them finds anything new (two idle rounds in a row)."""
    idle = 0
    for _ in range(rounds):
        work = sum(worker.step() for worker in workers)
        idle = idle + 1 if work == 0 else 0
        if idle >= 2:
            return
    raise AssertionError("fusion did not settle")


def _open(pg_dsn: str, tmp_path: Path):
    from truceline.store.postgres import open_postgres

    return open_postgres(pg_dsn, tmp_path / "data")


@pytest.mark.slow
def test_two_sector_workers_give_one_nodes_incidents(pg_dsn: str, tmp_path: Path, day: Day) -> None:
    observations = day.observations
    store = _open(pg_dsn, tmp_path)
    store.add_observations(observations)
    leases = LeaseTable(pg_dsn)
    keeper = LeaseKeeper(LeaseTable(pg_dsn))
    _sequence(store, leases, keeper)
    a = SectorFusion(store, LeaseTable(pg_dsn), keeper, "w-a", GRID)
    b = SectorFusion(store, LeaseTable(pg_dsn), keeper, "w-b", GRID)
    _fuse([a, b])
    assert len(a.known) > 4  # the scene spans several sectors of this grid, so borders are crossed
    assert a.held and b.held and not set(a.held) & set(b.held)
    assert abs(len(a.held) - len(b.held)) <= 1
    vs_truth, agreement = day.scores(stored_clusters(store))
    assert vs_truth.f1 >= 0.97, vs_truth
    assert agreement.f1 >= 0.99, agreement


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_nothing_changes(pg_dsn: str, tmp_path: Path, day: Day) -> None:
    observations = day.observations
    store = _open(pg_dsn, tmp_path)
    half = len(observations) // 2
    store.add_observations(observations[:half])
    keeper = LeaseKeeper(LeaseTable(pg_dsn, ttl_s=1.0))
    _sequence(store, LeaseTable(pg_dsn), keeper)
    doomed = SectorFusion(store, LeaseTable(pg_dsn, ttl_s=1.0), keeper, "w-doomed", GRID, batch=300)
    for _ in range(3):
        doomed.step()  # part-way through: some sectors have committed cursors, open incidents are stored
    assert doomed.held and store.sector_cursors()
    for fence, _ in doomed.held.values():  # "kill -9": it stops renewing, nothing is released
        keeper.forget(fence.name)
    keeper.forget("worker:w-doomed")
    store.add_observations(observations[half:])
    _sequence(store, LeaseTable(pg_dsn), LeaseKeeper(LeaseTable(pg_dsn)))
    survivor = SectorFusion(store, LeaseTable(pg_dsn, ttl_s=1.0), LeaseKeeper(LeaseTable(pg_dsn)), "w-survivor", GRID)
    threading.Event().wait(1.5)  # past the TTL on the database clock
    _fuse([survivor])
    assert set(survivor.held) == survivor.known  # it took every sector over
    sector, (stale, _) = next(iter(doomed.held.items()))
    cursor = store.fusion_cursor(sector.name)
    with pytest.raises(LeaseLost, match="no longer held"):  # the killed one's late write is fenced off
        store.apply_incident_changes([], [], 0, sector=sector.name, fence=stale)
    assert store.fusion_cursor(sector.name) == cursor
    vs_truth, agreement = day.scores(stored_clusters(store))
    assert vs_truth.f1 >= 0.97, vs_truth
    assert agreement.f1 >= 0.99, agreement


def test_a_sectors_recovery_window_is_read_from_the_indexes_and_equals_the_ledgers(pg_dsn: str, tmp_path: Path, day: Day) -> None:
    """Recovery reads the window before the cursor through PostGIS and the time index (bearings by their
    sensor), never the ledger from its start; what it reads is exactly what a full read of the ledger
    filtered by the sector's halo gives: the latest time and the window, in ledger order."""
    from datetime import timedelta

    from truceline.cluster.fusion_worker import LedgerFeed, SectorScope
    from truceline.domain.documents import parse_documents
    from truceline.domain.observation import BearingLocation

    store = _open(pg_dsn, tmp_path)
    store.add_observations(day.observations)
    keeper = LeaseKeeper(LeaseTable(pg_dsn))
    _sequence(store, LeaseTable(pg_dsn), keeper)
    everything = store.observations_in_ledger_order(-1, None, 1_000_000)
    parsed = list(zip([i for i, _ in everything], parse_documents([doc for _, doc in everything]), strict=True))
    assert any(isinstance(obs.location, BearingLocation) for _, obs in parsed)
    full_reads: list[int] = []
    real_read = store.observations_in_ledger_order

    def spy(after_index: int, bbox=None, limit: int = 10_000):  # type: ignore[no-untyped-def]
        full_reads.append(after_index)
        return real_read(after_index, bbox, limit)

    store.observations_in_ledger_order = spy  # type: ignore[method-assign]
    sectors = {s for _, obs in parsed for s in GRID.halo_sectors(obs)}
    assert len(sectors) > 4
    for cursor in (len(parsed) // 3, len(parsed)):
        for sector in sorted(sectors):
            scope = SectorScope(store, LedgerFeed(store, GRID), GRID, sector, None, "t-")  # type: ignore[arg-type]
            mine = [(i, obs) for i, obs in parsed if i < cursor and sector in GRID.halo_sectors(obs)]
            latest = scope.latest_time(cursor)
            assert latest == max((obs.time for _, obs in mine), default=None)
            if latest is None:
                continue
            since = latest - timedelta(hours=6)
            window = scope.since_time(since, cursor)
            assert [o.id for o in window] == [obs.id for _, obs in mine if obs.time >= since]
    owners = {GRID.owner(obs) for _, obs in parsed} - {None}
    starting = SectorFusion(store, LeaseTable(pg_dsn), keeper, "w-new", GRID)
    starting.discover()  # which sectors have data: asked of the database, not read from the ledger
    assert starting.known == owners
    assert all(index >= len(parsed) - 1 for index in full_reads)
    full_reads.clear()
    assert store.sector_cells(GRID.deg, len(parsed) // 3) == {
        (s.row, s.col) for s in {GRID.owner(obs) for i, obs in parsed if i < len(parsed) // 3} - {None}
    }
    assert full_reads == []
