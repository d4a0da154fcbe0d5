"""Cluster faults with real processes: ``truceline worker`` killed with -9, NATS restarted, connections cut.

The test process plays the API replicas' part on the store (observations committed with no ledger index,
as ``serve --store --bus`` does) while two real ``truceline worker`` processes sequence and fuse. Faults,
in order, each during ingest: kill -9 the worker holding the sequencer lease (another takes over within
the lease TTL), restart NATS (wake-ups stop; the workers poll), terminate every PostgreSQL connection
(``pg_terminate_backend``), kill -9 the other worker. After the faults: every observation stored exactly
once and sequenced exactly once (gap-free ledger indexes), checkpoints that verify and are consistent with
one taken before the faults, no child of a killed worker alive 10 s later, and incidents whose pairwise F1
against the simulator's truth is ≥ 0.97 and whose agreement with one node fusing the same day is ≥ 0.99.
Agreement is asserted rather than identity: sector workers fuse in ledger order, one node in arrival order,
and the fuser's association is order-dependent at the margins (a late report may join a different incident).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cluster_day import Day, sparse_day, stored_clusters
from tests.services import terminate_connections
from tests.test_no_orphans import alive, descendants

from conftest import eventually
from truceline.cluster.lease import LeaseTable
from truceline.cluster.sectors import SectorGrid
from truceline.ledger.checkpoint import load_key, verify_checkpoint
from truceline.ledger.merkle import verify_consistency
from truceline.store.ports import StoreUnavailable

pytestmark = pytest.mark.slow
SECTOR_DEG = 0.25


class Worker:
    """One ``truceline worker`` process, its log in a file (a pipe nobody reads could fill and block it)."""

    def __init__(self, data_dir: Path, dsn: str, bus: str, log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "truceline.cli", "worker", "--data-dir", str(data_dir), "--store", dsn,
                 "--bus", bus, "--sector-deg", str(SECTOR_DEG)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill9(self) -> dict[int, str]:
        """kill -9; returns the children it had (to check they die too)."""
        children = descendants(self.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        return children

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture
def cluster(pg_dsn: str, nats, tmp_path: Path) -> Iterator[tuple[object, list[Worker], Path]]:
    from truceline.store.postgres import open_postgres

    data = tmp_path / "data"
    store = open_postgres(pg_dsn, data)
    workers = [Worker(data, pg_dsn, nats.url, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        yield store, workers, data
    finally:
        for worker in workers:
            worker.stop()
        store.close()


def _add(store, observations) -> None:
    """Store a batch as a replica does; a cut connection is retried (the client's re-post, idempotent)."""
    for _ in range(20):
        try:
            store.add_observations(observations)
            return
        except StoreUnavailable:
            time.sleep(0.5)
    raise AssertionError("the store did not come back")


def _holder_pid(dsn: str, lease: str) -> int | None:
    held = LeaseTable(dsn).holders(lease).get(lease)
    return None if held is None else int(held[0].split(":")[1])


def _settled(store, day: Day, count: int) -> bool:
    """Everything stored is sequenced and every sector with data has fused up to the ledger's end."""
    try:
        if store.pending_leaves() or store.ledger_size() < count:
            return False
        size = store.ledger_size()
        grid = SectorGrid(SECTOR_DEG)
        owners = {grid.owner(obs).name for obs in day.observations[:count]}  # type: ignore[union-attr]
        cursors = store.sector_cursors()
        return all(cursors.get(name) == size for name in owners)
    except StoreUnavailable:
        return False


def test_workers_survive_kill_9_nats_restart_and_cut_connections(cluster, pg_dsn: str, nats) -> None:
    store, workers, data = cluster
    day = sparse_day()
    quarter = -(-len(day.observations) // 4)
    parts = [day.observations[i : i + quarter] for i in range(0, len(day.observations), quarter)]  # arrival order
    done = 0

    _add(store, parts[0])
    done += len(parts[0])
    eventually("the first part sequenced and fused", lambda: _settled(store, day, done))
    key = load_key(data)
    before = verify_checkpoint(store.ledger_checkpoint(key).note, key.verifier)

    # 1. kill -9 the sequencer's worker during ingest: the other takes the lease over
    pid = eventually("a sequencer holder", lambda: _holder_pid(pg_dsn, "sequencer"))
    victim = next(w for w in workers if w.pid == pid)
    orphans = victim.kill9()
    _add(store, parts[1])
    done += len(parts[1])
    eventually("sequencing taken over", lambda: store.pending_leaves() == 0 and store.ledger_size() == done, 60)
    assert _holder_pid(pg_dsn, "sequencer") != pid
    assert not [p for p, s in orphans.items() if alive(p, s)]
    workers.append(Worker(data, pg_dsn, nats.url, victim.log))  # restarted, as a supervisor would

    # 2. NATS restarts during ingest
    nats.restart()
    _add(store, parts[2])
    done += len(parts[2])

    # 3. every PostgreSQL connection is terminated during ingest
    terminate_connections(pg_dsn)
    _add(store, parts[3])
    done += len(parts[3])

    # 4. kill -9 a worker that holds sectors; the others take them over
    survivor_pids = {w.pid for w in workers if w.process.poll() is None}
    sectors = LeaseTable(pg_dsn).holders("fusion:")
    target = next(w for w in workers if w.process.poll() is None and any(h.split(":")[1] == str(w.pid) for h, _ in sectors.values()))
    target.kill9()
    eventually("everything fused after the faults", lambda: _settled(store, day, done), 120)
    assert len(survivor_pids) == 2

    # every observation exactly once, every leaf exactly once
    assert store.count_observations() == len(day.observations)
    assert store.ledger_size() == len(day.observations)
    after = verify_checkpoint(store.ledger_checkpoint(key).note, key.verifier)
    assert after.size == len(day.observations)
    verify_consistency(before.size, after.size, store.ledger_consistency(before.size, after.size), before.root, after.root)

    vs_truth, agreement = day.scores(stored_clusters(store))
    assert vs_truth.f1 >= 0.97, vs_truth
    assert agreement.f1 >= 0.99, agreement
