"""Cluster fusion in one process against a real PostgreSQL: sequencer + sector workers give one node's incidents.

The sparse simulated day is stored as API replicas store it (no ledger index), sequenced under the lease,
then fused by two sector workers on a fine grid (0.25°: many sector borders through the scene). The result
is compared with the simulator's truth (pairwise F1, the issue's goal ≥ 0.97) and with a single node fusing
the same observations (pairwise agreement): sectors partition the work, they must not change the outcome.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from truceline.cluster.fusion_worker import SectorFusion
from truceline.cluster.lease import LeaseKeeper, LeaseTable
from truceline.cluster.sectors import SectorGrid
from truceline.cluster.sequencer import Sequencer
from truceline.domain.observation import Observation
from truceline.eval.data import parse_truth
from truceline.eval.metrics import pairwise, truth_clusters
from truceline.fuse import fuse_all
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim import load_scenario, observation_records, simulate, truth_records
from truceline.store.ports import IncidentQuery
from truceline.store.postgres_incidents import LeaseLost

GRID = SectorGrid(0.25)


@pytest.fixture(scope="module")
def day() -> tuple[list[Observation], dict[str, str], dict[str, str]]:
    """The sparse day's observations, truth clusters and one node's clusters (observation id → cluster)."""
    sim = simulate(load_scenario("sparse-day"))
    observations, errors = validate_batch(observation_records(sim), validation_context())
    assert not errors
    truth = truth_clusters(parse_truth(("truth", r) for r in truth_records(sim)).labels)
    single = {oid: incident.id for incident in fuse_all(observations) for oid in incident.observation_ids}
    return observations, truth, single


def _clusters(store) -> dict[str, str]:
    incidents = store.list_incidents(IncidentQuery(limit=1_000_000))
    members = Counter(oid for incident in incidents for oid in incident.observation_ids)
    assert not [oid for oid, n in members.items() if n > 1], "an observation in two incidents"
    return {oid: incident.id for incident in incidents for oid in incident.observation_ids}


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
def test_two_sector_workers_give_one_nodes_incidents(pg_dsn: str, tmp_path: Path, day) -> None:
    observations, truth, single = day
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
    cluster = _clusters(store)
    vs_truth = pairwise(cluster, truth)
    assert vs_truth.f1 >= 0.97
    agreement = pairwise(cluster, {oid: single.get(oid, f"alone/{oid}") for oid in truth})
    assert agreement.f1 >= 0.99, agreement


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_nothing_changes(pg_dsn: str, tmp_path: Path, day) -> None:
    observations, truth, single = day
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
    cluster = _clusters(store)
    assert pairwise(cluster, truth).f1 >= 0.97
    agreement = pairwise(cluster, {oid: single.get(oid, f"alone/{oid}") for oid in truth})
    assert agreement.f1 >= 0.99, agreement
